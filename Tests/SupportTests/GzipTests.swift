import Gzip
import Testing

@Suite struct GzipTests {
    private func sample(_ count: Int) -> [UInt8] {
        var rng = SplitMix(seed: 7)
        // Compressible but not trivial: words from a small alphabet.
        return (0..<count).map { _ in UInt8(97 + rng.next() % 6) }
    }

    @Test(arguments: [0, 1, 1000, 70_000, 1 << 20])
    func roundTrip(size: Int) throws {
        let data = sample(size)
        let packed = try Gzip.compress(data)
        #expect(Gzip.isGzip(packed))
        #expect(try Gzip.decompress(packed) == data)
    }

    @Test func concatenatedMembersAreOneStream() throws {
        let a = Array("first member\n".utf8)
        let b = Array("second member\n".utf8)
        let joined = try Gzip.compress(a) + Gzip.compress(b)
        #expect(try Gzip.decompress(joined) == a + b)
    }

    @Test func streamingInflaterAcceptsAnyChunking() throws {
        let data = sample(300_000)
        let packed = try Gzip.compress(data)
        var inflater = try GzipInflater()
        var out: [UInt8] = []
        var offset = 0
        var step = 1
        while offset < packed.count {
            let end = min(packed.count, offset + step)
            out += try inflater.inflate(Array(packed[offset..<end]))
            offset = end
            step = step * 3 + 1
        }
        let finished = inflater.finished
        #expect(finished)
        #expect(out == data)
    }

    @Test func truncatedInputIsAnError() throws {
        let packed = try Gzip.compress(sample(10_000))
        #expect(throws: GzipError.self) { try Gzip.decompress(Array(packed.prefix(packed.count / 2))) }
    }

    @Test func garbageIsAnError() {
        #expect(throws: GzipError.self) { try Gzip.decompress(Array("not gzip at all".utf8)) }
        #expect(!Gzip.isGzip(Array("plain".utf8)))
    }

    /// A body's stated size (the trailer's ISIZE) is only a hint: a wrong one, padding
    /// after the member or a bomb that understates itself decompress or fail exactly as
    /// without the one-call path.
    @Test func theTrailersSizeIsOnlyAHint() throws {
        let data = sample(5_000)
        let packed = try Gzip.compress(data)
        #expect(try Gzip.decompress(packed + [0, 0, 0, 0]) == data)
        for size: UInt32 in [0, 4_999, 5_001, 1 << 30] {
            var lying = packed
            withUnsafeBytes(of: size.littleEndian) { lying.replaceSubrange((lying.count - 4)..., with: $0) }
            #expect(throws: GzipError.self) { try Gzip.decompress(lying) }
        }
        var bomb = try Gzip.compress([UInt8](repeating: 0, count: 8 << 20))
        withUnsafeBytes(of: UInt32(100).littleEndian) { bomb.replaceSubrange((bomb.count - 4)..., with: $0) }
        do {
            _ = try Gzip.decompress(bomb, maxOutputBytes: 1 << 20)
            Issue.record("an understated 8 MB expansion passed a 1 MB limit")
        } catch {
            #expect(error.kind == .tooLarge)
        }
    }

    @Test func outputLimitStopsABomb() throws {
        let bomb = try Gzip.compress([UInt8](repeating: 0, count: 8 << 20))
        #expect(bomb.count < 64 * 1024)
        do {
            _ = try Gzip.decompress(bomb, maxOutputBytes: 1 << 20)
            Issue.record("a 8 MB expansion passed a 1 MB limit")
        } catch {
            #expect(error.kind == .tooLarge)
        }
    }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The collector's reused deflate stream (issue 15, collector CPU) gives what a fresh one
/// gives, call after call, with and without a dictionary.
@Suite struct DeflaterTests {
    @Test func aReusedStreamWritesWhatAFreshOneWrites() throws {
        let deflater = try Deflater()
        var rng = SystemRandomNumberGenerator()
        let frame = Array(#"{"memory":{"total_kb":16000000,"free_kb":123456},"vmstat":{"oom_kill":0}}"#.utf8)
        for round in 0..<6 {
            var text = frame
            text += (0..<(round * 700)).map { _ in UInt8.random(in: 48...57, using: &rng) }
            let dictionary = round.isMultiple(of: 2) ? frame : []
            let reused = try deflater.compress(text, dictionary: dictionary)
            #expect(reused == (try Deflate.compress(text, dictionary: dictionary)))
            #expect(try Deflate.decompress(reused, dictionary: dictionary) == text)
        }
    }
}
