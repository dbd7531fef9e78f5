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

extension Routes {
    /// `GET /api/v1/alerts` (read token) and `POST /api/v1/alerts/test` (admin token).
    func addAlertRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.get("alerts") { request, _ in try await alerts(request) }
        api.post("alerts/test") { request, _ in try await alertTest(request) }
    }

    /// `/metrics` families of kills by host, source and scope, and of alert delivery.
    func alertMetricsText() async throws -> String {
        let kills = try await store { try await $0.killCounters() }
        let receivers = try await store { try await $0.alertOverview(limit: 1).receivers }
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

    func alerts(_ request: Request) async throws -> AlertsResponse {
        _ = try authorize(request, .read)
        let query = request.uri.queryParameters
        let state = query["state"].map(String.init)
        if let state, !["sent", "pending", "failing"].contains(state) {
            throw HTTPError(.badRequest, message: "state: expected sent, pending or failing")
        }
        var limit = 100
        if let text = query["limit"] {
            guard let n = Int(text), (1...1000).contains(n) else {
                throw HTTPError(.badRequest, message: "limit: expected a number from 1 to 1000")
            }
            limit = n
        }
        let (rows, receivers) = try await store { try await $0.alertOverview(state: state, limit: limit) }
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

    func alertTest(_ request: Request) async throws -> EditedResponse<AlertTestResponse> {
        let entry = try authorize(request, .read)
        guard entry.role == .admin else {
            throw HTTPError(.forbidden, message: "sending a test alert needs an admin token")
        }
        let body = try await readBody(request, limit: 4096)
        let test: AlertTestRequest
        do {
            test = try JSONDecoder().decode(AlertTestRequest.self, from: Data(body))
        } catch {
            throw HTTPError(.badRequest, message: "body: expected {\"receiver\": NAME}")
        }
        guard config.alertReceivers.contains(test.receiver) else {
            let known = config.alertReceivers.joined(separator: ", ")
            throw HTTPError(
                .notFound,
                message: "no alert receiver named \(test.receiver)"
                    + (known.isEmpty ? " (no alerts: section configured)" : " (configured: \(known))"))
        }
        let id = try await store { try await $0.enqueueTestAlert(receiver: test.receiver) }
        // Accepted, not sent: `GET /api/v1/alerts` shows when it went out.
        return EditedResponse(status: .accepted, response: AlertTestResponse(id: id, receiver: test.receiver))
    }
}
