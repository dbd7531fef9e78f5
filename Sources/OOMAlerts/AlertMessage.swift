import OOMKit
public import OOMStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One message to one receiver: the kills of one route on one host that fell into one
/// grouping window (or a single test message). Pure: no I/O.
public struct AlertMessage: Sendable, Equatable {
    public var receiver: String
    public var host: String
    public var kind: OutboxRow.Kind
    /// Oldest first.
    public var victims: [AlertCandidate]
    /// The outbox rows this message settles.
    public var rowIDs: [Int64]
    /// The first event's id: the receiver's idempotency key, the same on every retry.
    public var idempotencyKey: String
    /// A host condition's words (stale, pressure and their ends); nil for kills.
    public var condition: String?
    /// Microseconds: when the first row was queued.
    public var created: Int64

    public init(rows: [OutboxRow]) {
        precondition(!rows.isEmpty, "a message needs at least one outbox row")
        let first = rows[0]
        receiver = first.receiver
        host = first.candidate.host
        kind = first.kind
        victims = rows.map(\.candidate)
        rowIDs = rows.map(\.id)
        idempotencyKey = first.idempotencyKey ?? first.candidate.eventID
        condition = first.detail
        created = first.created
    }

    /// One line: "OOM kill on web-3: java (pid 4242, 1.5 GB)" or
    /// "12 kills on web-3 in 30 s: java ×9, node ×3".
    public var summary: String {
        if kind == .test { return "oomwatch test message for receiver \(receiver)" }
        if let condition { return condition }
        if victims.count == 1 { return "OOM kill on \(host): \(Self.describe(victims[0]))" }
        var counts: [(comm: String, n: Int)] = []
        for v in victims {
            if let i = counts.firstIndex(where: { $0.comm == v.comm }) {
                counts[i].n += 1
            } else {
                counts.append((v.comm, 1))
            }
        }
        // Most frequent first; ties keep the order of first appearance.
        let ordered = counts.enumerated().sorted {
            $0.element.n != $1.element.n ? $0.element.n > $1.element.n : $0.offset < $1.offset
        }
        let span = Self.spanSeconds(victims)
        return "\(victims.count) kills on \(host) in \(span) s: "
            + ordered.map { "\($0.element.comm) ×\($0.element.n)" }.joined(separator: ", ")
    }

    /// One line per victim with every detail the collector knows.
    public var details: [String] {
        if let condition { return [condition] }
        return victims.map { v in
            var parts = [
                RFC3339.format(epochMicroseconds: v.time), "\(v.comm) pid \(v.pid)",
                "rss \(Self.size(v.rssKB))", "source \(v.source)", "scope \(v.scope ?? "unknown")",
            ]
            if let unit = v.unit { parts.append("unit \(unit)") }
            if let container = v.container { parts.append("container \(container.prefix(12))") }
            parts.append("event \(v.eventID)")
            return parts.joined(separator: ", ")
        }
    }

    static func describe(_ v: AlertCandidate) -> String {
        var text = "\(v.comm) (pid \(v.pid), \(size(v.rssKB))"
        if let unit = v.unit { text += ", \(unit)" }
        return text + ")"
    }

    static func spanSeconds(_ victims: [AlertCandidate]) -> Int64 {
        let times = victims.map(\.time)
        let span = (times.max() ?? 0) - (times.min() ?? 0)
        return max(1, (span + 999_999) / 1_000_000)
    }

    /// 1536 kB → "1.5 MB".
    static func size(_ kb: Int64) -> String {
        let units = ["kB", "MB", "GB", "TB"]
        var value = Double(kb)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(kb) kB" }
        return "\((value * 10).rounded() / 10) \(units[unit])"
    }
}

/// The bodies each receiver kind gets. Documented in README.md ("Alerts").
public enum AlertPayload {
    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain strings and numbers: encoding cannot fail.
        return (try? Array(encoder.encode(value))) ?? []
    }

    /// A victim in the webhook body.
    public struct WebhookEvent: Codable, Sendable, Equatable {
        public var id, host, time, source, comm: String
        public var scope, unit, container: String?
        public var pid: Int
        public var rssKB: Int64

        enum CodingKeys: String, CodingKey {
            case id, host, time, source, comm, scope, unit, container, pid
            case rssKB = "rss_kb"
        }
    }

    /// The generic webhook's JSON body (version 1).
    public struct WebhookBody: Codable, Sendable, Equatable {
        public var version = 1
        public var kind: String
        public var receiver: String
        public var host: String
        public var summary: String
        public var details: [String]
        public var idempotencyKey: String
        public var events: [WebhookEvent]

        enum CodingKeys: String, CodingKey {
            case version, kind, receiver, host, summary, details, events
            case idempotencyKey = "idempotency_key"
        }
    }

    public static func webhook(_ m: AlertMessage) -> [UInt8] {
        encode(
            WebhookBody(
                kind: m.kind.rawValue, receiver: m.receiver, host: m.host, summary: m.summary,
                details: m.details, idempotencyKey: m.idempotencyKey,
                events: m.condition != nil
                    ? []
                    : m.victims.map {
                        WebhookEvent(
                            id: $0.eventID, host: $0.host,
                            time: RFC3339.format(epochMicroseconds: $0.time), source: $0.source,
                            comm: $0.comm, scope: $0.scope, unit: $0.unit, container: $0.container,
                            pid: $0.pid, rssKB: $0.rssKB)
                    }))
    }

    struct AlertmanagerAlert: Encodable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: String
        var endsAt: String?
        var generatorURL: String?
    }

    /// Alertmanager v2 `POST /api/v2/alerts`: one alert per victim (Alertmanager does its
    /// own grouping, silences and routing), the group's summary in each.
    public static func alertmanager(_ m: AlertMessage) -> [UInt8] {
        if m.condition != nil { return encode([conditionAlert(m)]) }
        return encode(
            m.victims.enumerated().map { index, v in
                var labels = [
                    "alertname": m.kind == .test ? "OOMWatchTest" : "OOMKill", "host": v.host,
                    "comm": v.comm, "scope": v.scope ?? "unknown", "source": v.source,
                    "severity": m.kind == .test ? "info" : "critical",
                ]
                // An empty label is the same as none to Alertmanager: leave unknowns out.
                if let unit = v.unit { labels["unit"] = unit }
                if let container = v.container { labels["container"] = container }
                return AlertmanagerAlert(
                    labels: labels,
                    annotations: [
                        "summary": m.summary, "description": m.details[index],
                        "event_id": v.eventID,
                    ],
                    startsAt: RFC3339.format(epochMicroseconds: v.time),
                    endsAt: m.kind == .test
                        ? RFC3339.format(epochMicroseconds: v.time + 300_000_000) : nil)
            })
    }

    /// A stale host or memory pressure: resolvable, so the start carries an `endsAt` a
    /// day ahead (Alertmanager must not resolve it on its own after `resolve_timeout`) and
    /// the end carries the moment it ended.
    static func conditionAlert(_ m: AlertMessage) -> AlertmanagerAlert {
        let stale = m.kind == .stale || m.kind == .staleResolved
        let since = m.victims.first?.time ?? m.created
        return AlertmanagerAlert(
            labels: [
                "alertname": stale ? "OOMWatchHostStale" : "OOMWatchMemoryPressure", "host": m.host,
                "severity": "warning",
            ],
            annotations: ["summary": m.summary, "description": m.details.joined(separator: "\n")],
            startsAt: RFC3339.format(epochMicroseconds: since),
            endsAt: RFC3339.format(
                epochMicroseconds: m.kind.isResolve ? m.created : m.created + 86_400_000_000))
    }

    struct SlackText: Encodable {
        var type: String
        var text: String
    }
    struct SlackBlock: Encodable {
        var type: String
        var text: SlackText
    }
    struct SlackBody: Encodable {
        var text: String
        var blocks: [SlackBlock]
    }

    /// A Slack incoming-webhook body: `text` (what Mattermost, Rocket.Chat and
    /// notifications show) plus `blocks` with one line per victim.
    public static func slack(_ m: AlertMessage) -> [UInt8] {
        let lines = m.details.prefix(20).map { "• " + escapeSlack($0) }
        var detail = lines.joined(separator: "\n")
        if m.details.count > 20 { detail += "\n… and \(m.details.count - 20) more" }
        return encode(
            SlackBody(
                text: escapeSlack(m.summary),
                blocks: [
                    SlackBlock(
                        type: "section", text: SlackText(type: "mrkdwn", text: "*" + escapeSlack(m.summary) + "*")),
                    SlackBlock(type: "section", text: SlackText(type: "mrkdwn", text: detail)),
                ]))
    }

    /// Slack's three control characters; a hostile comm cannot ping `<!channel>`.
    static func escapeSlack(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(c)
            }
        }
        return out
    }

    /// The HTTP request for `m` to `receiver`.
    public static func request(_ m: AlertMessage, to receiver: AlertReceiver) -> (
        url: String, headers: [(name: String, value: String)], body: [UInt8]
    ) {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        switch receiver.kind {
        case .alertmanager(let url):
            return (url + "/api/v2/alerts", headers, alertmanager(m))
        case .slack(let url):
            return (url, headers, slack(m))
        case .webhook(let url, let secret):
            let body = webhook(m)
            headers.append(("Idempotency-Key", m.idempotencyKey))
            if let secret {
                headers.append(
                    (
                        "X-OOMWatch-Signature",
                        "sha256=" + SHA256.hexString(SHA256.hmac(key: secret, message: body))
                    ))
            }
            return (url, headers, body)
        }
    }
}
