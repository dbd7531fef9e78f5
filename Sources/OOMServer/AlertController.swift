public import Hummingbird
public import OOMKit
import OOMStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension AlertsResponse: ResponseEncodable {}
extension AlertTestResponse: ResponseEncodable {}

/// `GET /api/v1/alerts` (read or admin token) and `POST /api/v1/alerts/test` (admin
/// token), and the alert families of `/metrics`.
struct AlertController {
    let collector: Collector

    func addRoutes(read: RouterGroup<CollectorRequestContext>, admin: RouterGroup<CollectorRequestContext>) {
        read.get("alerts", use: alerts)
        admin.post("alerts/test", use: alertTest)
    }

    /// `/metrics` families of kills by host, source and scope, and of alert delivery.
    func metricsText() async throws -> String {
        let kills = try await collector.store { try await $0.killCounters() }
        let receivers = try await collector.store { try await $0.alertOverview(limit: 1).receivers }
        var out = "# HELP oomwatch_kills_total OOM kills stored, by host, source and scope.\n"
        out += "# TYPE oomwatch_kills_total counter\n"
        for k in kills {
            out +=
                "oomwatch_kills_total{host=\"\(CollectorMetrics.escapeLabel(k.host))\",source=\""
                + "\(CollectorMetrics.escapeLabel(k.source))\",scope=\"\(CollectorMetrics.escapeLabel(k.scope))\"} \(k.kills)\n"
        }
        out += "# HELP oomwatch_alert_notifications Alert notifications by receiver and delivery state.\n"
        out += "# TYPE oomwatch_alert_notifications gauge\n"
        for r in receivers {
            let name = CollectorMetrics.escapeLabel(r.receiver)
            for (state, n) in [("sent", r.sent), ("pending", r.pending), ("failing", r.failing)] {
                out += "oomwatch_alert_notifications{receiver=\"\(name)\",state=\"\(state)\"} \(n)\n"
            }
        }
        return out
    }

    @Sendable func alerts(_ request: Request, context: CollectorRequestContext) async throws -> AlertsResponse {
        let state = try request.query("state", maxLength: 16)
        if let state, !["sent", "pending", "failing"].contains(state) {
            throw HTTPError(.badRequest, message: "state: expected sent, pending or failing")
        }
        let limit = try request.query("limit", default: 100, range: 1...1000)
        let (rows, receivers) = try await collector.store {
            try await $0.alertOverview(state: state, limit: limit)
        }
        let time = { (t: Int64?) in t.map { RFC3339.format(epochMicroseconds: $0) } }
        return AlertsResponse(
            receivers: receivers.map {
                AlertReceiverState(
                    receiver: $0.receiver, sent: $0.sent, pending: $0.pending, failing: $0.failing,
                    lastError: $0.lastError, lastSent: time($0.lastSent))
            },
            notifications: rows.map { r in
                var n = AlertNotification(
                    id: r.id, kind: r.kind.rawValue, receiver: r.receiver, state: r.state,
                    host: r.candidate.host, eventID: r.candidate.eventID, comm: r.candidate.comm,
                    created: RFC3339.format(epochMicroseconds: r.created), attempts: r.attempts)
                n.sentAt = time(r.sentAt)
                n.nextAttempt = r.sentAt == nil ? time(r.nextAttempt) : nil
                n.lastError = r.lastError
                n.idempotencyKey = r.idempotencyKey
                return n
            })
    }

    @Sendable func alertTest(_ request: Request, context: CollectorRequestContext) async throws
        -> EditedResponse<AlertTestResponse>
    {
        let body = try await collector.readBody(request, limit: 4096)
        let test: AlertTestRequest
        do {
            test = try JSONDecoder().decode(AlertTestRequest.self, from: Data(body))
        } catch {
            throw HTTPError(.badRequest, message: "body: expected {\"receiver\": NAME}")
        }
        let receivers = collector.configuration.alertReceivers
        guard receivers.contains(test.receiver) else {
            let known = receivers.joined(separator: ", ")
            throw HTTPError(
                .notFound,
                message: "no alert receiver named \(test.receiver)"
                    + (known.isEmpty ? " (no alerts: section configured)" : " (configured: \(known))"))
        }
        let id = try await collector.store { try await $0.enqueueTestAlert(receiver: test.receiver) }
        // Accepted, not sent: `GET /api/v1/alerts` shows when it went out.
        return EditedResponse(status: .accepted, response: AlertTestResponse(id: id, receiver: test.receiver))
    }
}
