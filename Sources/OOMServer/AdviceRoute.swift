public import Hummingbird
import OOMKit

extension Routes {
    /// Findings `GET /api/v1/reports/advice` returns unless asked for fewer or more.
    static let adviceDefaultLimit = 1000
    /// The most it returns in one answer (the response stays a few tens of MB at most).
    static let adviceMaxLimit = 100_000

    /// `GET /api/v1/reports/advice?since=&until=&host=&limit=` (read token); the window
    /// defaults to the last 30 days, the answer to the first 1000 findings (`total` and
    /// `truncated` say how many there are in all).
    func advice(_ request: Request) async throws -> AdviceReport {
        _ = try authorize(request, .read)
        let r = try range(request, defaultSpan: 30 * 86_400_000_000)
        let host = try param(request, "host", maxLength: 253)
        let limit = try intParam(
            request, "limit", default: Self.adviceDefaultLimit, range: 1...Self.adviceMaxLimit)
        let settings = config.advice
        return try await store {
            try await $0.advice(since: r.since, until: r.until, host: host, settings: settings, limit: limit)
        }
    }
}
