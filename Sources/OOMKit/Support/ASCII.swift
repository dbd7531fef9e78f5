/// The ASCII bytes the byte-level parsers look for, by name, and the one decimal digit
/// parser they share.
///
/// The parsers work on raw bytes (kernel log lines, /proc files) so they never build a
/// `String` per line; naming the bytes keeps them readable. Letters are written
/// `UInt8(ascii: "k")` at the use site, which names itself.
public enum ASCII {
    public static let tab: UInt8 = 0x09
    public static let newline: UInt8 = 0x0A
    public static let carriageReturn: UInt8 = 0x0D
    /// The record separator journald and some log shippers put before a line.
    public static let recordSeparator: UInt8 = 0x1E
    public static let space: UInt8 = 0x20
    public static let quote: UInt8 = 0x22
    public static let closeParen: UInt8 = 0x29
    public static let plus: UInt8 = 0x2B
    public static let comma: UInt8 = 0x2C
    public static let minus: UInt8 = 0x2D
    public static let dot: UInt8 = 0x2E
    public static let slash: UInt8 = 0x2F
    public static let zero: UInt8 = 0x30
    public static let nine: UInt8 = 0x39
    public static let colon: UInt8 = 0x3A
    public static let semicolon: UInt8 = 0x3B
    public static let lessThan: UInt8 = 0x3C
    public static let equals: UInt8 = 0x3D
    public static let greaterThan: UInt8 = 0x3E
    public static let at: UInt8 = 0x40
    public static let openBracket: UInt8 = 0x5B
    public static let backslash: UInt8 = 0x5C
    public static let closeBracket: UInt8 = 0x5D
    public static let underscore: UInt8 = 0x5F
    public static let openBrace: UInt8 = 0x7B
    public static let pipe: UInt8 = 0x7C
    public static let closeBrace: UInt8 = 0x7D
    /// DEL, the last control character.
    public static let delete: UInt8 = 0x7F

    @inline(__always)
    public static func isDigit(_ c: UInt8) -> Bool { c >= zero && c <= nine }

    @inline(__always)
    public static func isBlank(_ c: UInt8) -> Bool { c == space || c == tab }

    @inline(__always)
    public static func isLower(_ c: UInt8) -> Bool { c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") }

    @inline(__always)
    public static func isUpper(_ c: UInt8) -> Bool { c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") }

    /// The unsigned decimal number at `index` in `bytes`: at most `maxDigits` digits,
    /// `index` left after the last one read. `nil` (and `index` unchanged) when no digit
    /// is there. A number too big for `T` saturates at `T.max` rather than trapping: some
    /// kernel counters print as huge sentinels, and hostile input must not crash a parser.
    @inline(__always)
    public static func digits<T: FixedWidthInteger, C: Collection<UInt8>>(
        _ bytes: C, _ index: inout C.Index, as type: T.Type = Int64.self, maxDigits: Int = .max
    ) -> T? {
        var value: T = 0
        var count = 0
        var overflowed = false
        while index < bytes.endIndex, count < maxDigits {
            let c = bytes[index]
            guard isDigit(c) else { break }
            if !overflowed {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(T(c &- zero))
                if o1 || o2 {
                    overflowed = true
                    value = T.max
                } else {
                    value = a
                }
            }
            count += 1
            index = bytes.index(after: index)
        }
        return count > 0 ? value : nil
    }

    /// A decimal fraction (the digits after the point) at `index`, in microseconds: the
    /// first six digits count, further ones are read and dropped. `nil` (and `index`
    /// unchanged) when no digit is there.
    public static func fractionMicros<C: Collection<UInt8>>(_ bytes: C, _ index: inout C.Index) -> Int64? {
        let start = index
        guard var micros = digits(bytes, &index, maxDigits: 6) else { return nil }
        var count = bytes.distance(from: start, to: index)
        while count < 6 {
            micros *= 10
            count += 1
        }
        while index < bytes.endIndex, isDigit(bytes[index]) { index = bytes.index(after: index) }
        return micros
    }
}
