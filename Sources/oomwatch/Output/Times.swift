import OOMKit

/// Times for people: relative (`4m ago`) by default, absolute (`2026-11-28T14:05:29Z`) on
/// request. Pure: the caller passes "now" (microseconds since the epoch), so tests and
/// `--now` pin it.
struct Times: Sendable {
    var nowMicroseconds: Int64
    var absolute: Bool

    /// An RFC 3339 time as the user asked for it, `-` when unknown, or the text itself
    /// when it does not parse.
    func format(_ rfc3339: String?) -> String {
        guard let rfc3339 else { return "-" }
        guard let micros = RFC3339.parse(rfc3339) else { return rfc3339 }
        return absolute ? Self.absolute(micros) : Self.relative(micros, now: nowMicroseconds)
    }

    /// Whole seconds, UTC: `2026-11-28T14:05:29Z`.
    static func absolute(_ micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / 1_000_000 : -((-micros + 999_999) / 1_000_000)
        return RFC3339.format(epochMicroseconds: seconds * 1_000_000)
    }

    /// `now`, `45s ago`, `4m ago`, `3h ago` (under two days), `12d ago` (under a year),
    /// then the date; `in 5m` for the future (a skewed clock).
    static func relative(_ micros: Int64, now: Int64) -> String {
        let delta = (now - micros) / 1_000_000
        if delta < 0 { return "in " + span(-delta) }
        if delta == 0 { return "now" }
        if delta >= 365 * 86_400 { return String(absolute(micros).prefix(10)) }
        return span(delta) + " ago"
    }

    /// `45s`, `4m`, `3h`, `12d`.
    static func span(_ seconds: Int64) -> String {
        switch seconds {
        case ..<60: return "\(seconds)s"
        case ..<3600: return "\(seconds / 60)m"
        case ..<(2 * 86_400): return "\(seconds / 3600)h"
        default: return "\(seconds / 86_400)d"
        }
    }
}
