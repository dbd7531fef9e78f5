/// Human sizes from the kernel's kB (which are KiB): `512 KiB`, `3.5 MiB`, `512 MiB`,
/// `1.5 GiB`, `128 GiB`, `1.2 TiB`.
enum Sizes {
    private static let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]

    /// `kb` in the largest binary unit it reaches; one decimal under 100 of a unit.
    static func format(kb: Int64) -> String {
        if kb < 0 { return "-" + format(kb: kb == Int64.min ? Int64.max : -kb) }
        var unitIndex = 0
        var unit: Int64 = 1
        while unitIndex + 1 < units.count, kb >= unit * 1024 {
            unit *= 1024
            unitIndex += 1
        }
        if unitIndex == 0 { return "\(kb) KiB" }
        // Tenths of the unit, rounded half up, in integers so nothing depends on Double
        // printing.
        let tenths = (kb / unit) * 10 + ((kb % unit) * 10 + unit / 2) / unit
        if tenths < 1000 {
            return Decimal1.format(tenths: tenths) + " " + units[unitIndex]
        }
        let whole = (tenths + 5) / 10
        if whole >= 1024, unitIndex + 1 < units.count {
            // 1023.6 MiB rounds up to the next unit.
            return "1.0 " + units[unitIndex + 1]
        }
        return "\(whole) \(units[unitIndex])"
    }

    /// `format(kb:)`, or `-` when unknown.
    static func format(kb: Int64?) -> String {
        guard let kb else { return "-" }
        return format(kb: kb)
    }
}

/// Fixed one-decimal numbers without Foundation's formatters.
enum Decimal1 {
    /// `12.3` from 123 tenths.
    static func format(tenths: Int64) -> String {
        let sign = tenths < 0 ? "-" : ""
        let magnitude = tenths.magnitude
        return "\(sign)\(magnitude / 10).\(magnitude % 10)"
    }

    /// `value` rounded to one decimal: `12.3`.
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        return format(tenths: Int64((value * 10).rounded()))
    }

    /// `12.3%`, or `-` when unknown.
    static func percent(_ value: Double?) -> String {
        guard let value else { return "-" }
        return format(value) + "%"
    }

    /// `1.25`: two decimals, for PSI averages.
    static func format2(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        let hundredths = Int64((value * 100).rounded())
        let sign = hundredths < 0 ? "-" : ""
        let m = hundredths.magnitude
        let cents = m % 100
        return "\(sign)\(m / 100).\(cents < 10 ? "0" : "")\(cents)"
    }
}
