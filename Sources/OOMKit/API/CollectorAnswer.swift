/// What an agent takes from a collector's answer to an upload: the status, how long the
/// collector asked it to wait, the error message and the ingest result.
///
/// The collector (or whatever answers in its place) is not trusted: every number is
/// parsed with bounds and checked arithmetic, the message is cut short and stripped of
/// control characters, and nothing here can trap on any input (`Fuzz/UploadResponse`).
public struct CollectorAnswer: Sendable, Equatable {
    /// The longest error message kept, in bytes: it goes into one log line.
    public static let maxMessageBytes = 512

    public var status: Int
    /// Seconds to wait before the next try, from `Retry-After`: finite and 0 or more.
    public var retryAfter: Double?
    /// The collector's `{"error": {"message": …}}`, safe to log.
    public var message: String?
    /// The body of a 2xx answer, when it is an ingest result.
    public var result: IngestResult?

    /// - Parameters:
    ///   - headers: header values by lower-cased name.
    ///   - nowEpochSeconds: the wall clock, for a `Retry-After` given as a date.
    public init(status: Int, headers: [String: String], body: [UInt8], nowEpochSeconds: Double) {
        self.status = status
        retryAfter = headers["retry-after"].flatMap { RetryAfter.seconds($0, nowEpochSeconds: nowEpochSeconds) }
        if (200..<300).contains(status) {
            result = try? JSONReader().decode(IngestResult.self, from: body)
        } else if let decoded = try? JSONReader().decode(APIErrorBody.self, from: body) {
            message = Self.loggable(decoded.error.message)
        }
    }

    /// `text` without control characters (C0, DEL, C1 become `?`) and at most
    /// `maxMessageBytes` bytes long, cut on a character boundary.
    public static func loggable(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars {
            let safe: Unicode.Scalar = LogText.isControl(scalar) ? "?" : scalar
            bytes += UTF8.width(safe)
            if bytes > maxMessageBytes {
                out.append("…")
                break
            }
            out.append(safe)
        }
        return String(out)
    }
}

/// `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP date.
public enum RetryAfter {
    /// Seconds from now, or `nil` when the value is neither form. Field values are
    /// bounded before any arithmetic, so no value (a year of 99999999999999, an hour of
    /// 9999999999999999) can overflow.
    public static func seconds(_ value: String, nowEpochSeconds: Double) -> Double? {
        let v = trimmed(value)
        guard !v.isEmpty, v.utf8.count <= 64 else { return nil }
        if let seconds = Double(v) {
            return seconds.isFinite && seconds >= 0 ? seconds : nil
        }
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
        let parts = v.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT",
            let day = number(parts[1], 1...31), let year = number(parts[3], 1...9999)
        else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let m = months.firstIndex(of: String(parts[2])) else { return nil }
        let hms = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard hms.count == 3, let h = number(hms[0], 0...23), let mi = number(hms[1], 0...59),
            let s = number(hms[2], 0...60)
        else { return nil }
        // Bounded fields: days fit easily in Int, seconds in Double.
        let days = RFC3339.days(fromCivil: Int64(year), m + 1, day)
        let epoch = Double(days) * 86_400 + Double(h * 3600 + mi * 60 + s)
        guard nowEpochSeconds.isFinite else { return nil }
        return max(0, epoch - nowEpochSeconds)
    }

    /// A decimal field of at most 4 digits within `range`.
    static func number(_ text: Substring, _ range: ClosedRange<Int>) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 4, text.utf8.allSatisfy(ASCII.isDigit),
            let n = Int(text), range.contains(n)
        else { return nil }
        return n
    }

    static func trimmed(_ value: String) -> Substring {
        var s = Substring(value)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s = s.dropLast() }
        return s
    }
}
