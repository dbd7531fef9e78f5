internal import CZlib
import Synchronization

/// Raw deflate (RFC 1951) with a preset dictionary, for stored data that mostly repeats a
/// reference: the collector keeps each snapshot as its difference from the hour's first
/// one (`dictionary`), which costs a few hundred bytes instead of several kB.
public enum Deflate {
    /// `bytes` compressed against `dictionary` (may be empty). zlib uses at most the last
    /// 32 KB of the dictionary.
    public static func compress(_ bytes: [UInt8], dictionary: [UInt8] = [], level: Int32 = 6)
        throws(GzipError) -> [UInt8]
    {
        try Deflater(level: level).compress(bytes, dictionary: dictionary)
    }

    /// All of `bytes` through an initialized deflate `stream` (gzip or raw), in one call.
    static func finish(_ stream: inout z_stream, _ bytes: [UInt8]) throws(GzipError) -> [UInt8] {
        let bound = Int(deflateBound(&stream, uLong(bytes.count))) + 32
        var finished: Int32 = Z_OK
        // zlib reads the input in place (it never writes through next_in) and writes into
        // uninitialized capacity: no copy of the input, no zeroing of the output.
        let output = bytes.withUnsafeBufferPointer { inBuf in
            [UInt8](unsafeUninitializedCapacity: bound) { outBuf, written in
                stream.next_in = inBuf.baseAddress.map { UnsafeMutablePointer(mutating: $0) }
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                finished = deflate(&stream, Z_FINISH)
                written = outBuf.count - Int(stream.avail_out)
            }
        }
        guard finished == Z_STREAM_END, stream.avail_in == 0 else {
            throw GzipError(.corrupt, "deflate did not finish")
        }
        return output
    }

    /// What `compress(_:dictionary:)` compressed, given the same dictionary. Throws
    /// `.tooLarge` past `maxOutputBytes`, `.corrupt` for anything else that does not
    /// inflate completely.
    public static func decompress(
        _ bytes: [UInt8], dictionary: [UInt8] = [], maxOutputBytes: Int = 64 << 20
    ) throws(GzipError) -> [UInt8] {
        var stream = z_stream()
        let status = inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw GzipError(.noMemory, "inflateInit2 failed (\(status))") }
        defer { inflateEnd(&stream) }
        if !dictionary.isEmpty {
            // Raw inflate takes its dictionary up front (there is no header to ask for it).
            let set = dictionary.withUnsafeBufferPointer {
                inflateSetDictionary(&stream, $0.baseAddress, uInt($0.count))
            }
            guard set == Z_OK else { throw GzipError(.corrupt, "inflateSetDictionary failed (\(set))") }
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(4096, bytes.count * 8))
        var input = bytes
        var offset = 0
        while true {
            var result: Int32 = Z_OK
            var consumed = 0
            var produced = 0
            input.withUnsafeMutableBufferPointer { inBuf in
                chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_in = inBuf.baseAddress.map { $0 + offset }
                    stream.avail_in = uInt(inBuf.count - offset)
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    result = inflate(&stream, Z_NO_FLUSH)
                    consumed = inBuf.count - offset - Int(stream.avail_in)
                    produced = outBuf.count - Int(stream.avail_out)
                }
            }
            offset += consumed
            guard output.count + produced <= maxOutputBytes else {
                throw GzipError(.tooLarge, "decompressed data exceeds \(maxOutputBytes) bytes")
            }
            output.append(contentsOf: chunk[0..<produced])
            switch result {
            case Z_STREAM_END:
                return output
            case Z_OK where consumed > 0 || produced > 0:
                continue
            case Z_MEM_ERROR:
                throw GzipError(.noMemory, "zlib ran out of memory")
            default:
                throw GzipError(.corrupt, "invalid deflate data (zlib status \(result))")
            }
        }
    }
}

/// `Deflate.compress` with one zlib stream kept between calls: a stream costs four 64 kB
/// buffers to set up, and the collector compresses every posted snapshot (issue 15,
/// collector CPU), so it resets the stream instead. The output is byte for byte what
/// `Deflate.compress` gives. Calls are serialized by a lock.
public final class Deflater: Sendable {
    /// The stream, ended when the deflater goes.
    struct Stream: ~Copyable {
        let z: UnsafeMutablePointer<z_stream>

        init(level: Int32) throws(GzipError) {
            z = .allocate(capacity: 1)
            z.initialize(to: z_stream())
            // Negative windowBits: raw deflate, no header, no checksum (the database keeps
            // its own integrity).
            let status = deflateInit2_(
                z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard status == Z_OK else {
                z.deallocate()
                throw GzipError(.noMemory, "deflateInit2 failed (\(status))")
            }
        }

        deinit {
            deflateEnd(z)
            z.deallocate()
        }
    }

    private let stream: Mutex<Stream>

    /// A deflater at `level` (that of `Deflate.compress` by default).
    public init(level: Int32 = 6) throws(GzipError) {
        stream = Mutex(try Stream(level: level))
    }

    /// `bytes` compressed against `dictionary`, as `Deflate.compress(_:dictionary:)`.
    public func compress(_ bytes: [UInt8], dictionary: [UInt8] = []) throws(GzipError) -> [UInt8] {
        try stream.withLock { (s: inout Stream) throws(GzipError) -> [UInt8] in
            guard deflateReset(s.z) == Z_OK else { throw GzipError(.corrupt, "deflateReset failed") }
            if !dictionary.isEmpty {
                let set = dictionary.withUnsafeBufferPointer {
                    deflateSetDictionary(s.z, $0.baseAddress, uInt($0.count))
                }
                guard set == Z_OK else { throw GzipError(.corrupt, "deflateSetDictionary failed (\(set))") }
            }
            return try Deflate.finish(&s.z.pointee, bytes)
        }
    }
}
