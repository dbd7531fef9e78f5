/// RFC 3339 timestamps in UTC, formatted and parsed without Foundation's calendar
/// machinery (which would pull ICU into the agent).
public enum RFC3339 {
    /// `2026-11-28T13:58:43.123456Z` from microseconds since the Unix epoch.
    /// Fractional digits are printed only when non-zero (milliseconds or microseconds).
    public static func format(epochMicroseconds: Int64) -> String {
        let seconds = floorDiv(epochMicroseconds, 1_000_000)
        let micros = epochMicroseconds - seconds * 1_000_000
        let days = floorDiv(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        // Digit by digit into one buffer: the API formats timestamps by the ten thousand
        // (every advice finding carries several), and concatenating padded pieces allocated
        // each time. Years outside 0...9999 take the general path below.
        if (0...9999).contains(year) {
            return String(unsafeUninitializedCapacity: 27) { b in
                var i = 0
                func put(_ value: Int64, _ width: Int) {
                    var v = value
                    for k in stride(from: width - 1, through: 0, by: -1) {
                        b[i + k] = UInt8(48 + v % 10)
                        v /= 10
                    }
                    i += width
                }
                func char(_ c: Unicode.Scalar) {
                    b[i] = UInt8(ascii: c)
                    i += 1
                }
                put(year, 4)
                char("-")
                put(Int64(month), 2)
                char("-")
                put(Int64(day), 2)
                char("T")
                put(secondOfDay / 3600, 2)
                char(":")
                put(secondOfDay / 60 % 60, 2)
                char(":")
                put(secondOfDay % 60, 2)
                if micros != 0 {
                    char(".")
                    if micros % 1000 == 0 { put(micros / 1000, 3) } else { put(micros, 6) }
                }
                char("Z")
                return i
            }
        }
        var out = pad(Int(year), 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
        out += "T" + pad(Int(secondOfDay / 3600), 2) + ":" + pad(Int(secondOfDay / 60 % 60), 2)
        out += ":" + pad(Int(secondOfDay % 60), 2)
        if micros != 0 {
            if micros % 1000 == 0 {
                out += "." + pad(Int(micros / 1000), 3)
            } else {
                out += "." + pad(Int(micros), 6)
            }
        }
        return out + "Z"
    }

    /// `format` from seconds since the epoch.
    public static func format(epochSeconds: Double) -> String {
        format(epochMicroseconds: Int64((epochSeconds * 1_000_000).rounded()))
    }

    /// Microseconds since the epoch of an RFC 3339 timestamp (`Z` or `±HH:MM` offset,
    /// any number of fractional digits; `T` or a space between date and time), or `nil`.
    public static func parse(_ text: some StringProtocol) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= b.count else { return nil }
            var j = i
            guard let v = ASCII.digits(b, &j, as: Int.self, maxDigits: width), j == i + width else { return nil }
            i = j
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(ASCII.minus), let month = number(2), expect(ASCII.minus),
            let day = number(2)
        else { return nil }
        guard i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == ASCII.space else {
            return nil
        }
        i += 1
        guard let hour = number(2), expect(ASCII.colon), let minute = number(2), expect(ASCII.colon),
            let second = number(2)
        else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
            second <= 60
        else { return nil }
        var micros: Int64 = 0
        if i < b.count, b[i] == ASCII.dot || b[i] == ASCII.comma {
            i += 1
            guard let fraction = ASCII.fractionMicros(b, &i) else { return nil }
            micros = fraction
        }
        var offsetSeconds = 0
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == ASCII.plus || b[i] == ASCII.minus {
            let sign = b[i] == ASCII.minus ? -1 : 1
            i += 1
            guard let oh = number(2), expect(ASCII.colon), let om = number(2) else { return nil }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = days(fromCivil: Int64(year), month, day)
        let seconds =
            days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return seconds * 1_000_000 + micros
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    public static func days(fromCivil year: Int64, _ month: Int, _ day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day count since 1970-01-01.
    public static func civil(fromDays z0: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
