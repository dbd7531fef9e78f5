import Hummingbird
import OOMKit
import OOMStore

/// `GET /api/v1/reports/advice?since=&until=&host=` (read or admin token); the window
/// defaults to the last 30 days.
struct AdviceController {
    let collector: Collector

    func addRoutes(to group: RouterGroup<CollectorRequestContext>) {
        group.get("reports/advice", use: advice)
    }

    @Sendable func advice(_ request: Request, context: CollectorRequestContext) async throws -> AdviceReport {
        let range = try request.queryRange(defaultSpan: 30 * 86_400_000_000)
        let host = try request.query("host", maxLength: 253)
        let settings = collector.configuration.advice
        return try await collector.store {
            try await $0.advice(since: range.since, until: range.until, host: host, settings: settings)
        }
    }
}
