import Hummingbird
import OOMKit
import OOMStore

/// `GET /api/v1/reports/advice?since=&until=&host=&limit=` (read or admin token); the
/// window defaults to the last 30 days, the answer to the first 1000 findings (`total` and
/// `truncated` say how many there are in all).
struct AdviceController {
    /// Findings returned unless asked for fewer or more.
    static let defaultLimit = 1000
    /// The most one answer holds (the response stays a few tens of MB at most).
    static let maxLimit = 100_000

    let collector: Collector

    func addRoutes(to group: RouterGroup<CollectorRequestContext>) {
        group.get("reports/advice", use: advice)
    }

    @Sendable func advice(_ request: Request, context: CollectorRequestContext) async throws -> AdviceReport {
        let range = try request.queryRange(defaultSpan: 30 * 86_400_000_000)
        let host = try request.query("host", maxLength: 253)
        let limit = try request.query("limit", default: Self.defaultLimit, range: 1...Self.maxLimit)
        let settings = collector.configuration.advice
        return try await collector.store {
            try await $0.advice(
                since: range.since, until: range.until, host: host, settings: settings, limit: limit)
        }
    }
}
