public import Hummingbird
import OOMKit

extension Routes {
    /// `GET /api/v1/reports/advice?since=&until=&host=` (read token); the window defaults
    /// to the last 30 days.
    func advice(_ request: Request) async throws -> AdviceReport {
        _ = try authorize(request, .read)
        let r = try range(request, defaultSpan: 30 * 86_400_000_000)
        let host = try param(request, "host", maxLength: 253)
        let settings = config.advice
        return try await store {
            try await $0.advice(since: r.since, until: r.until, host: host, settings: settings)
        }
    }
}
