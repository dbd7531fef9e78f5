// The kernel-log module: bytes of a kernel or journal log in, OOM events out.
//
// Adding a line format (a new kernel's wording, another userspace killer) touches three
// places, and a test per place:
// 1. Message patterns: KernelOOMMessages.swift reads one message into its fields (add a
//    reader there, or teach an existing one the new wording).
// 2. Assembler: OOMReportAssembler.swift decides what the line means in a report (opens
//    one, fills a field, is the kill) and copies its fields into the event.
// 3. Pre-filter: this file's fast path skips lines without one of its needles
//    (`nextCandidate`/`matchAt`); a line that can open or complete a report needs one,
//    or it is never parsed while no report is open.
// Containers (dmesg, syslog, /dev/kmsg, journald) are LogLineParser.swift's, not a format.
// Tests: a verbatim fixture in Tests/OOMKitTests/Fixtures (RealWorldLogTests), and
// KernelFormatTests for the reader.

/// Finds OOM events in a stream of log bytes: splits lines, recognises each line's
/// container (``LogLineParser``) and assembles reports (``OOMReportAssembler``).
///
/// Feed it chunks of any size in order; lines may straddle chunks. Memory stays bounded:
/// only the current partial line (at most ``maxLineBytes``) and the open report are kept.
///
/// Fast path: while no report is open, a line can only matter if it contains `oom`,
/// `Kill[ed] process`, `Killing process`, `Killed /`, `Task in `, `Tasks st`, `SIG` or `-- B` (every
/// line the assembler can open a report on or complete one with, in any case of its first
/// letter); the scanner skips from one such spot to the next
/// over whole chunks (sixteen bytes at a time) instead of parsing every line. Turning
/// ``fastPath`` off gives the same events, slower.
public struct KernelLogScanner: Sendable {
    public var parser: LogLineParser
    public var assembler: OOMReportAssembler
    /// Lines longer than this are cut (the rest of the line is dropped).
    public var maxLineBytes = 1 << 20
    public var fastPath = true
    /// Lines parsed in full (for benchmarks and tests).
    public private(set) var linesParsed = 0

    private var carry: [UInt8] = []
    private var carryTruncated = false

    public init(parser: LogLineParser = LogLineParser(), assembler: OOMReportAssembler = OOMReportAssembler()) {
        self.parser = parser
        self.assembler = assembler
    }

    /// Feeds the next bytes of the log.
    public mutating func feed(_ bytes: [UInt8]) -> [OOMEvent] {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Feeds the next bytes of the log.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer) -> [OOMEvent] {
        var out: [OOMEvent] = []
        let n = chunk.count
        guard n > 0, let base = chunk.baseAddress else { return out }
        var pos = 0
        if !carry.isEmpty || carryTruncated {
            guard let nl = Self.indexOfNewline(chunk, from: 0) else {
                appendCarry(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
                return out
            }
            appendCarry(UnsafeRawBufferPointer(rebasing: chunk[0..<nl]))
            let line = carry
            carry = []
            carryTruncated = false
            line.withUnsafeBytes { processLine($0, filtered: true, into: &out) }
            pos = nl + 1
        }
        while pos < n {
            if !fastPath || assembler.isCollecting {
                guard let nl = Self.indexOfNewline(chunk, from: pos) else { break }
                processLine(UnsafeRawBufferPointer(start: base + pos, count: nl - pos), filtered: true, into: &out)
                pos = nl + 1
                continue
            }
            guard let hit = Self.nextCandidate(chunk, from: pos) else { break }
            var start = hit
            while start > pos, chunk[start - 1] != ASCII.newline { start -= 1 }
            guard let nl = Self.indexOfNewline(chunk, from: hit) else {
                pos = start
                break
            }
            processLine(UnsafeRawBufferPointer(start: base + start, count: nl - start), filtered: false, into: &out)
            pos = nl + 1
        }
        if pos < n {
            // The unfinished last line waits for the next chunk.
            var start = n
            while start > pos, chunk[start - 1] != ASCII.newline { start -= 1 }
            appendCarry(UnsafeRawBufferPointer(rebasing: chunk[start..<n]))
        }
        return out
    }

    /// End of input: the last line (even without a newline), then what is held back.
    public mutating func finish() -> [OOMEvent] {
        var out: [OOMEvent] = []
        if !carry.isEmpty {
            let line = carry
            carry = []
            line.withUnsafeBytes { processLine($0, filtered: true, into: &out) }
        }
        carryTruncated = false
        out += assembler.finish()
        return out
    }

    private mutating func appendCarry(_ bytes: UnsafeRawBufferPointer) {
        let room = maxLineBytes - carry.count
        if bytes.count > room {
            carry.append(contentsOf: bytes.prefix(max(room, 0)))
            carryTruncated = true
        } else {
            carry.append(contentsOf: bytes)
        }
    }

    private mutating func processLine(
        _ bytes: UnsafeRawBufferPointer, filtered: Bool, into out: inout [OOMEvent]
    ) {
        let line = bytes.count > maxLineBytes ? UnsafeRawBufferPointer(rebasing: bytes[0..<maxLineBytes]) : bytes
        if fastPath, filtered, !assembler.isCollecting, !Self.lineMayMatter(line) { return }
        linesParsed += 1
        guard let parsed = parser.parse(bytes: Array(line)[...]) else { return }
        out += assembler.feed(parsed)
    }

    // MARK: - byte search

    /// Whether a line could start or complete something while no report is open.
    public static func lineMayMatter(_ line: UnsafeRawBufferPointer) -> Bool {
        nextCandidate(line, from: 0) != nil
    }

    static func indexOfNewline(_ buf: UnsafeRawBufferPointer, from: Int) -> Int? {
        let n = buf.count
        guard from < n, let base = buf.baseAddress else { return nil }
        var i = from
        // Eight bytes at a time: a zero byte in (word ^ 0x0A…) marks a newline.
        while i + 8 <= n {
            let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ 0x0A0A_0A0A_0A0A_0A0A
            if (w &- 0x0101_0101_0101_0101) & ~w & 0x8080_8080_8080_8080 != 0 { break }
            i += 8
        }
        while i < n {
            if buf[i] == ASCII.newline { return i }
            i += 1
        }
        return nil
    }

    /// The offset of the next `oom`, `Kill process`, `kill process`, `Killed process`,
    /// `Killed /`, `SIG` or `-- B` at or after `from`.
    static func nextCandidate(_ buf: UnsafeRawBufferPointer, from: Int) -> Int? {
        let n = buf.count
        guard let base = buf.baseAddress else { return nil }
        // Look for the first two bytes of each needle at once, sixteen positions per step
        // (SSE2 compares): `oo`, `Ki`/`ki`, `SI`, `--`. Pairs straddle into the next byte,
        // hence `i + 17 <= n`. SIMD16 measured ~40% faster here than 8-byte SWAR words.
        let o = SIMD16<UInt8>(repeating: UInt8(ascii: "o"))
        let k = SIMD16<UInt8>(repeating: UInt8(ascii: "k"))
        let lowerI = SIMD16<UInt8>(repeating: UInt8(ascii: "i"))
        let upperS = SIMD16<UInt8>(repeating: UInt8(ascii: "S"))
        let upperI = SIMD16<UInt8>(repeating: UInt8(ascii: "I"))
        let dash = SIMD16<UInt8>(repeating: ASCII.minus)
        let upperT = SIMD16<UInt8>(repeating: UInt8(ascii: "T"))
        let lowerA = SIMD16<UInt8>(repeating: UInt8(ascii: "a"))
        let caseBit = SIMD16<UInt8>(repeating: 0x20)
        var i = from
        while i + 17 <= n {
            let x = base.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
            let y = base.loadUnaligned(fromByteOffset: i + 1, as: SIMD16<UInt8>.self)
            let oo = (x .== o) .& (y .== o)
            let ki = ((x | caseBit) .== k) .& (y .== lowerI)
            let si = (x .== upperS) .& (y .== upperI)
            let dd = (x .== dash) .& (y .== dash)
            let ta = (x .== upperT) .& (y .== lowerA)
            // `any(_:)` compiles to a call to a generic `min()`; two words are much cheaper.
            let words = unsafeBitCast(oo .| ki .| si .| dd .| ta, to: (UInt64, UInt64).self)
            if words.0 | words.1 != 0 {
                for j in i..<(i + 16) where matchAt(buf, j) { return j }
            }
            i += 16
        }
        while i < n {
            if matchAt(buf, i) { return i }
            i += 1
        }
        return nil
    }

    @inline(__always)
    static func matchAt(_ buf: UnsafeRawBufferPointer, _ j: Int) -> Bool {
        let n = buf.count
        guard j + 3 <= n else { return false }
        let a = buf[j]
        let b = buf[j + 1]
        let c = buf[j + 2]
        switch a {
        case UInt8(ascii: "o"): return b == UInt8(ascii: "o") && c == UInt8(ascii: "m")  // oom
        case UInt8(ascii: "K"), UInt8(ascii: "k"):
            // `Kill process`, `kill process`, `Killed process`, `Killed /`, `Killing process`
            // (earlyoom 1.1 to 1.3), not `rfkill:`.
            guard b == UInt8(ascii: "i"), c == UInt8(ascii: "l"), j + 6 <= n, buf[j + 3] == UInt8(ascii: "l") else {
                return false
            }
            let d = buf[j + 4]
            let e = buf[j + 5]
            if d == ASCII.space { return e == UInt8(ascii: "p") }
            if d == UInt8(ascii: "i") {
                return e == UInt8(ascii: "n") && j + 9 <= n && buf[j + 6] == UInt8(ascii: "g")
                    && buf[j + 7] == ASCII.space && buf[j + 8] == UInt8(ascii: "p")
            }
            return d == UInt8(ascii: "e") && e == UInt8(ascii: "d") && j + 8 <= n && buf[j + 6] == ASCII.space
                && (buf[j + 7] == UInt8(ascii: "p") || buf[j + 7] == ASCII.slash)
        case UInt8(ascii: "T"):
            // `Task in /A killed as a result of limit of /B` (a memcg report read from there)
            // or `Tasks state (memory values in pages):` (from the task table on).
            guard b == UInt8(ascii: "a"), j + 8 <= n, c == UInt8(ascii: "s"), buf[j + 3] == UInt8(ascii: "k") else {
                return false
            }
            if buf[j + 4] == ASCII.space {
                return buf[j + 5] == UInt8(ascii: "i") && buf[j + 6] == UInt8(ascii: "n") && buf[j + 7] == ASCII.space
            }
            return buf[j + 4] == UInt8(ascii: "s") && buf[j + 5] == ASCII.space && buf[j + 6] == UInt8(ascii: "s")
                && buf[j + 7] == UInt8(ascii: "t")
        case UInt8(ascii: "S"): return b == UInt8(ascii: "I") && c == UInt8(ascii: "G")
        case ASCII.minus: return b == ASCII.minus && c == ASCII.space && j + 4 <= n && buf[j + 3] == UInt8(ascii: "B")
        default: return false
        }
    }
}
