/// Byte-level helpers shared by the /proc parsers.
///
/// The agent reads /proc files into reusable byte buffers and hands slices of them to
/// these parsers, so nothing here builds intermediate `String`s per line.
enum ProcBytes {
    /// Calls `body` with each line of `bytes` (without its newline), stopping early when
    /// `body` returns false.
    @inline(__always)
    static func forEachLine(
        _ bytes: ArraySlice<UInt8>, _ body: (ArraySlice<UInt8>) -> Bool
    ) {
        var start = bytes.startIndex
        var i = start
        let end = bytes.endIndex
        while i < end {
            if bytes[i] == ASCII.newline {
                if !body(bytes[start..<i]) { return }
                start = i + 1
            }
            i += 1
        }
        if start < end { _ = body(bytes[start..<end]) }
    }

    /// The first unsigned or negative decimal integer at or after `index` (skipping blanks),
    /// and the index after it.
    @inline(__always)
    static func integer(
        in bytes: ArraySlice<UInt8>, from index: Int
    ) -> (value: Int64, next: Int)? {
        var i = index
        let end = bytes.endIndex
        while i < end, ASCII.isBlank(bytes[i]) { i += 1 }
        var negative = false
        if i < end, bytes[i] == ASCII.minus {
            negative = true
            i += 1
        }
        // Saturates rather than traps: some kernel counters print as huge sentinels.
        guard let v = ASCII.digits(bytes, &i) else { return nil }
        return (negative ? -v : v, i)
    }

    /// An unsigned decimal parsed from the whole of `bytes` (surrounding blanks and a
    /// trailing newline allowed).
    static func wholeInteger(_ bytes: ArraySlice<UInt8>) -> Int64? {
        guard let (v, next) = integer(in: bytes, from: bytes.startIndex) else { return nil }
        var i = next
        while i < bytes.endIndex, ASCII.isBlank(bytes[i]) || bytes[i] == ASCII.newline { i += 1 }
        return i == bytes.endIndex ? v : nil
    }

    /// A decimal with an optional fraction (`12.34`), for PSI averages.
    static func decimal(in bytes: ArraySlice<UInt8>, from index: Int) -> (value: Double, next: Int)? {
        guard let (whole, afterWhole) = integer(in: bytes, from: index) else { return nil }
        var i = afterWhole
        var value = Double(whole)
        if i < bytes.endIndex, bytes[i] == ASCII.dot {
            i += 1
            var scale = 0.1
            while i < bytes.endIndex, ASCII.isDigit(bytes[i]) {
                value += Double(bytes[i] - ASCII.zero) * scale * (whole < 0 ? -1 : 1)
                scale /= 10
                i += 1
            }
        }
        return (value, i)
    }

    static func string(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// `bytes` without leading and trailing blanks and newlines.
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = bytes.startIndex
        var e = bytes.endIndex
        while s < e, ASCII.isBlank(bytes[s]) || bytes[s] == ASCII.newline { s += 1 }
        while e > s, ASCII.isBlank(bytes[e - 1]) || bytes[e - 1] == ASCII.newline { e -= 1 }
        return bytes[s..<e]
    }
}
