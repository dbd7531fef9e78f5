import Hummingbird
import OOMKit
import OOMStore

/// Typed query parameters with 400 answers that name the parameter. Absent and empty
/// parameters are the same (`?host=` filters nothing); every value is length-checked
/// before it is read.
extension Request {
    /// `name` as text, `nil` when absent or empty.
    func query(_ name: String, maxLength: Int = 256) throws -> String? {
        guard let value = uri.queryParameters.get(name) else { return nil }
        guard value.utf8.count <= maxLength else {
            throw HTTPError(.badRequest, message: "\(name): longer than \(maxLength) bytes")
        }
        return value.isEmpty ? nil : value
    }

    /// `name` as a whole number in `range`, `defaultValue` when absent.
    func query(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard try query(name, maxLength: 16) != nil else { return defaultValue }
        guard let value = uri.queryParameters.get(name, as: Int.self), range.contains(value) else {
            throw HTTPError(
                .badRequest,
                message: "\(name): must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// `name` as one of `T`'s raw values, `nil` when absent; `expected` lists them for
    /// the 400.
    func query<T: RawRepresentable>(_ name: String, as type: T.Type, expected: String) throws -> T?
    where T.RawValue == String {
        guard try query(name, maxLength: 32) != nil else { return nil }
        guard let value = uri.queryParameters.get(name, as: T.self) else {
            throw HTTPError(.badRequest, message: "\(name): must be \(expected)")
        }
        return value
    }

    /// `name` as a time (a duration back from `now`, or RFC 3339) in microseconds since
    /// the epoch, `nil` when absent.
    func queryTime(_ name: String, now: Int64) throws -> Int64? {
        guard let text = try query(name, maxLength: 64) else { return nil }
        guard let time = SinceParser.parse(text, nowMicroseconds: now) else {
            throw HTTPError(
                .badRequest, message: "\(name): expected a duration like 30m, 24h, 7d or an RFC 3339 time")
        }
        return time
    }

    /// `since`/`until`: `until` defaults to now, `since` to `defaultSpan` before `until`.
    func queryRange(defaultSpan: Int64) throws -> (since: Int64, until: Int64) {
        let now = nowMicroseconds()
        let until = try queryTime("until", now: now) ?? now
        let since = try queryTime("since", now: now) ?? (until - defaultSpan)
        guard since < until else {
            throw HTTPError(.badRequest, message: "since: must be before until")
        }
        return (since, until)
    }
}
