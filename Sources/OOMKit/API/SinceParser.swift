/// Parses the `since`/`until` values the API and the CLI take: a duration back from now
/// (`90s`, `30m`, `24h`, `7d`, `2w`) or an RFC 3339 timestamp. Pure: the caller passes
/// the current time.
public enum SinceParser {
    /// The longest duration accepted, so arithmetic on microseconds cannot overflow.
    public static let maxSeconds: Int64 = 100 * 365 * 86_400

    /// Microseconds since the Unix epoch of `text`, or `nil` when it is neither a
    /// duration nor an RFC 3339 timestamp. `now` is microseconds since the epoch too.
    public static func parse(_ text: String, nowMicroseconds now: Int64) -> Int64? {
        let trimmed = text.trimmingASCIISpaces()
        guard !trimmed.isEmpty else { return nil }
        if let seconds = durationSeconds(trimmed) {
            return now - seconds * 1_000_000
        }
        return RFC3339.parse(trimmed)
    }

    /// Seconds of a duration like `30m`, `24h`, `7d`, `1h30m`, or `nil`.
    public static func durationSeconds(_ text: String) -> Int64? {
        var total: Int64 = 0
        var number: Int64? = nil
        var sawUnit = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digit = Int64(byte - UInt8(ascii: "0"))
                let (m, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (v, o2) = m.addingReportingOverflow(digit)
                guard !o1, !o2, v <= maxSeconds else { return nil }
                number = v
            default:
                let unit: Int64
                switch byte {
                case UInt8(ascii: "s"): unit = 1
                case UInt8(ascii: "m"): unit = 60
                case UInt8(ascii: "h"): unit = 3600
                case UInt8(ascii: "d"): unit = 86_400
                case UInt8(ascii: "w"): unit = 7 * 86_400
                default: return nil
                }
                guard let n = number else { return nil }
                total += n * unit
                guard total <= maxSeconds else { return nil }
                number = nil
                sawUnit = true
            }
        }
        // A bare number without a unit is ambiguous (seconds? a year?): refuse it.
        guard sawUnit, number == nil else { return nil }
        return total
    }
}

extension String {
    fileprivate func trimmingASCIISpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
