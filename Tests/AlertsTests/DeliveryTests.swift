import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import OOMAlerts
import OOMKit
import OOMServer
import OOMStore
import ServiceLifecycle
import Testing

/// The whole path over real parts: HTTP ingest into a real SQLite file, the outbox rows
/// written in the ingest transaction, the delivery service sending over libcurl to a
/// real HTTP receiver on loopback.
@Suite struct DeliveryTests {
    /// Runs a live collector with alert delivery for `yaml`'s `alerts:` section (where
    /// `RECEIVER` stands for the local receiver's base URL).
    /// `loops` delivery services share the database (as collectors sharing it would);
    /// `conditions` adds the stale/pressure service; `logger` is theirs.
    static func withCollector(
        _ yaml: String, receiver: LocalReceiver, dir: TempDir, loops: Int = 1, conditions: Bool = false,
        logger: Logger = Fixture.logger,
        _ body: @Sendable @escaping (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await receiver.run { url in
            let alerts = try CollectorConfigFile.parse(
                yaml.replacingOccurrences(of: "RECEIVER", with: url)
                    .replacingOccurrences(of: "DIR", with: dir.path)
            ).alerts
            let c = try Fixture.configuration(in: dir, alerts: alerts)
            let app = try await buildApplication(configuration: c, logger: Fixture.logger) { db in
                var services: [any Service] = (0..<loops).map { _ in
                    AlertDeliveryService(database: db, config: alerts, logger: logger, pollSeconds: 0.02)
                }
                if conditions {
                    services.append(
                        HostConditionService(
                            database: db, rules: alerts.conditions, logger: logger, pollSeconds: 0.1))
                }
                return services
            }
            try await app.test(.live) { client in try await body(client) }
        }
    }

    static func ingest(_ client: some TestClientProtocol, _ batch: IngestBatch) async throws {
        try await client.execute(
            uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
            body: Fixture.json(batch)
        ) { response in
            #expect(response.status == .ok)
        }
    }

    static func alerts(_ client: some TestClientProtocol, query: String = "") async throws -> AlertsResponse {
        try await client.execute(
            uri: "/api/v1/alerts" + query, method: .get, headers: Fixture.headers(Fixture.readToken)
        ) { response in
            #expect(response.status == .ok)
            return try JSONDecoder().decode(AlertsResponse.self, from: Data(response.body.readableBytesView))
        }
    }

    /// The storm's first kill goes out at once (a lone kill is not held back) and opens the
    /// window; the rest are one message at the window's end.
    @Test func aStormIsTheFirstKillAloneAndOneSignedSummaryListingTheRest() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("hook.secret", "s3cret-shared\n")
        let receiver = LocalReceiver()
        let yaml = """
            alerts:
              receivers:
                - name: hook
                  webhook: {url: "RECEIVER/hook", secret_file: DIR/hook.secret}
              routes:
                - match: {host: "web-*"}
                  receivers: [hook]
                  group_wait: 10s
            """
        try await Self.withCollector(yaml, receiver: receiver, dir: dir) { client in
            let comms = Array(repeating: "java", count: 9) + Array(repeating: "node", count: 3)
            // Two batches inside the window (wide enough for a loaded CI host): still one message.
            let events = comms.enumerated().map {
                Fixture.event("storm-\($0.offset)", comm: $0.element, pid: 100 + $0.offset)
            }
            try await Self.ingest(client, Fixture.batch(events: Array(events[..<5])))
            try await Self.ingest(client, Fixture.batch(events: Array(events[5...])))
            let opened = ContinuousClock.now
            let firstOnly = try await receiver.wait(for: 1, timeout: 40)
            // Well inside the 10 s window: the first kill did not wait for it.
            #expect(ContinuousClock.now - opened < .seconds(8))
            #expect(receiver.requests.count == 1)
            let first = try #require(firstOnly.first)
            #expect(first.headers["idempotency-key"] == "storm-0")
            #expect((try first.json()["summary"] as? String)?.hasPrefix("OOM kill on web-3: java (pid 100,") == true)
            let got = try await receiver.wait(for: 2, timeout: 40)
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.requests.count == 2)
            let request = try #require(got.last)
            #expect(request.path == "/hook")
            #expect(request.headers["idempotency-key"] == "storm-1")
            let expected = try opensslHMAC(key: "s3cret-shared", body: request.body)
            #expect(request.headers["x-oomwatch-signature"] == "sha256=" + expected)
            let json = try request.json()
            let summary = try #require(json["summary"] as? String)
            #expect(summary.hasPrefix("11 kills on web-3 in "))
            #expect(summary.hasSuffix(" s: java ×8, node ×3"))
            #expect((json["events"] as? [[String: Any]])?.count == 11)
            #expect((json["events"] as? [[String: Any]])?.first?["comm"] as? String == "java")
            #expect(json["idempotency_key"] as? String == "storm-1")

            let state = try await Self.alerts(client)
            #expect(state.receivers.first?.sent == 12)
            #expect(state.receivers.first?.pending == 0)
            #expect(state.notifications.allSatisfy { $0.state == "sent" })
            #expect(Set(state.notifications.compactMap(\.idempotencyKey)) == ["storm-0", "storm-1"])
            try await client.execute(
                uri: "/metrics", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("oomwatch_kills_total{host=\"web-3\",source=\"kernel\",scope=\"memcg\"} 12\n"))
                #expect(text.contains("oomwatch_alert_notifications{receiver=\"hook\",state=\"sent\"} 12\n"))
            }
        }
    }

    @Test func slackAndAlertmanagerBodies() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let receiver = LocalReceiver()
        let yaml = """
            alerts:
              group_wait: 0s
              receivers:
                - {name: chat, slack: {url: "RECEIVER/slack"}}
                - {name: am, alertmanager: {url: "RECEIVER"}}
            """
        try await Self.withCollector(yaml, receiver: receiver, dir: dir) { client in
            try await Self.ingest(
                client,
                Fixture.batch(events: [Fixture.event("one", comm: "<!channel>", unit: "app.service")]))
            let got = try await receiver.wait(for: 2)
            #expect(got.count == 2)
            let slack = try #require(got.first { $0.path == "/slack" })
            let s = try slack.json()
            let text = try #require(s["text"] as? String)
            #expect(text.hasPrefix("OOM kill on web-3: &lt;!channel&gt; (pid 100, 1.0 GB, app.service)"))
            let blocks = try #require(s["blocks"] as? [[String: Any]])
            #expect(blocks.count == 2)
            #expect(blocks.allSatisfy { $0["type"] as? String == "section" })

            let am = try #require(got.first { $0.path == "/api/v2/alerts" })
            let alerts = try #require(try JSONSerialization.jsonObject(with: am.body) as? [[String: Any]])
            let labels = try #require(alerts.first?["labels"] as? [String: String])
            #expect(labels["alertname"] == "OOMKill")
            #expect(labels["host"] == "web-3")
            #expect(labels["comm"] == "<!channel>")
            #expect(labels["unit"] == "app.service")
            #expect(labels["scope"] == "memcg")
            #expect(labels["severity"] == "critical")
            let annotations = try #require(alerts.first?["annotations"] as? [String: String])
            #expect(annotations["summary"]?.hasPrefix("OOM kill on web-3") == true)
            #expect(annotations["description"]?.contains("event one") == true)
            #expect(alerts.first?["startsAt"] is String)
        }
    }

    @Test func aReceiverThatWasDownGetsEverythingInOrderWithTheSameKey() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let receiver = LocalReceiver(failFirst: 3)
        let yaml = """
            alerts:
              group_wait: 0s
              retry_initial: 100ms
              retry_max: 200ms
              receivers:
                - {name: hook, webhook: {url: "RECEIVER/hook"}}
            """
        try await Self.withCollector(yaml, receiver: receiver, dir: dir) { client in
            try await Self.ingest(client, Fixture.batch(events: [Fixture.event("first", comm: "a")]))
            _ = try await receiver.wait(for: 1)
            let failing = try await Self.alerts(client, query: "?state=failing")
            #expect(failing.receivers.first?.lastError?.contains("HTTP 503") == true)
            try await Self.ingest(client, Fixture.batch(events: [Fixture.event("second", comm: "b")]))
            let got = try await receiver.wait(for: 5)
            let keys = got.map { $0.headers["idempotency-key"] ?? "" }
            // Three refusals of the first, then the first, then the second: in order.
            #expect(keys == ["first", "first", "first", "first", "second"])
            let state = try await Self.alerts(client)
            #expect(state.receivers.first?.sent == 2)
            #expect(state.receivers.first?.failing == 0)
        }
    }

    @Test func theRateLimitHoldsTheRestInTheOutbox() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let receiver = LocalReceiver()
        let yaml = """
            alerts:
              group_wait: 0s
              receivers:
                - {name: hook, webhook: {url: "RECEIVER/hook"}, rate_per_minute: 1, burst: 1}
            """
        try await Self.withCollector(yaml, receiver: receiver, dir: dir) { client in
            for host in ["a", "b", "c"] {
                try await Self.ingest(
                    client, Fixture.batch(host: host, events: [Fixture.event("k-" + host, host: host)]))
            }
            _ = try await receiver.wait(for: 1)
            try await Task.sleep(for: .milliseconds(500))
            #expect(receiver.requests.count == 1)
            let state = try await Self.alerts(client)
            #expect(state.receivers.first?.sent == 1)
            #expect(state.receivers.first?.pending == 2)
        }
    }

    @Test func testMessagesNeedAnAdminTokenAndAKnownReceiver() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let receiver = LocalReceiver()
        let yaml = """
            alerts:
              receivers:
                - {name: hook, webhook: {url: "RECEIVER/hook"}}
            """
        try await Self.withCollector(yaml, receiver: receiver, dir: dir) { client in
            let body = Fixture.json(AlertTestRequest(receiver: "hook"))
            try await client.execute(
                uri: "/api/v1/alerts/test", method: .post, headers: Fixture.headers(Fixture.readToken), body: body
            ) { #expect($0.status == .forbidden) }
            try await client.execute(
                uri: "/api/v1/alerts/test", method: .post, headers: Fixture.headers(Fixture.adminToken),
                body: Fixture.json(AlertTestRequest(receiver: "nope"))
            ) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains("configured: hook"))
            }
            try await client.execute(
                uri: "/api/v1/alerts/test", method: .post, headers: Fixture.headers(Fixture.adminToken), body: body
            ) { #expect($0.status == .accepted) }
            let got = try await receiver.wait(for: 1)
            let json = try #require(try got.first?.json())
            #expect(json["kind"] as? String == "test")
            #expect(json["summary"] as? String == "oomwatch test message for receiver hook")
            try await client.execute(uri: "/api/v1/alerts", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(
                uri: "/api/v1/alerts?state=bogus", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { #expect($0.status == .badRequest) }
        }
    }
}

extension DeliveryTests {
    static func snapshot(host: String, fullAvg60: Double) -> MemorySnapshot {
        var s = MemorySnapshot(
            host: host, time: RFC3339.format(epochMicroseconds: nowMicroseconds()),
            memory: ["total_kb": 1_000_000, "available_kb": 500_000], vmstat: ["oom_kill": 0])
        s.pressure = Pressure(
            someAvg10: 1, someAvg60: 1, someAvg300: 1, someTotalUs: 1, fullAvg10: fullAvg60,
            fullAvg60: fullAvg60, fullAvg300: 0, fullTotalUs: 1)
        return s
    }

    /// Stale-host and memory-pressure episodes go through the same outbox, each start
    /// followed by its own resolve message.
    @Test func staleAndPressureAlertsFireAndResolve() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let receiver = LocalReceiver()
        let yaml = """
            alerts:
              receivers:
                - {name: hook, webhook: {url: "RECEIVER/hook"}}
              routes:
                - match: {host: "none"}
                  receivers: [hook]
              stale: {receivers: [hook], after_intervals: 1}
              pressure: {receivers: [hook], full_avg60: 20, for: 0s}
            """
        try await Self.withCollector(yaml, receiver: receiver, dir: dir, conditions: true) { client in
            var batch = Fixture.batch(host: "db-1", events: [])
            batch.agent?.intervalS = 1
            batch.snapshots = [Self.snapshot(host: "db-1", fullAvg60: 45)]
            try await Self.ingest(client, batch)
            // Pressure fires at the first check, stale once the host is silent for more
            // than one interval; on a loaded host both may land in one check, in either order.
            let started = try await receiver.wait(for: 2, timeout: 10)
            let firing = try started.map { try $0.json() }
            #expect(Set(firing.map { $0["kind"] as? String ?? "" }) == ["pressure", "stale"])
            #expect(
                firing.contains {
                    ($0["summary"] as? String)?.hasPrefix("memory pressure on db-1: PSI full avg60 45.0%") == true
                })
            batch.snapshots = [Self.snapshot(host: "db-1", fullAvg60: 1)]
            try await Self.ingest(client, batch)
            // The two resolves, in either order and each in its own check (on a loaded host
            // seconds apart).
            let resolves: Set<String> = ["stale_resolved", "pressure_resolved"]
            var all: [ReceivedRequest] = []
            var kinds = Set<String>()
            let deadline = ContinuousClock.now + .seconds(40)
            var lastPost = ContinuousClock.now
            while !resolves.isSubset(of: kinds), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                // Keep reporting, as an agent does: on a loaded host a check may come only
                // after one interval of silence, which would make the host stale again.
                if ContinuousClock.now - lastPost > .milliseconds(300) {
                    batch.snapshots = [Self.snapshot(host: "db-1", fullAvg60: 1)]
                    try await Self.ingest(client, batch)
                    lastPost = ContinuousClock.now
                }
                all = receiver.requests
                kinds = Set(try all.dropFirst(2).map { try $0.json()["kind"] as? String ?? "" })
            }
            #expect(resolves.isSubset(of: kinds), "received: \(kinds.sorted())")
            let summaries = try all.map { try $0.json()["summary"] as? String ?? "" }
            #expect(summaries.contains { $0.hasPrefix("db-1 reports again after") })
            #expect(summaries.contains { $0.hasPrefix("memory pressure on db-1 ended") })
        }
    }

    /// Two delivery loops over one database (as two collectors sharing it): every
    /// notification goes out once.
    @Test func twoCollectorsSharingTheOutboxSendEachNotificationOnce() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let receiver = LocalReceiver()
        let yaml = """
            alerts:
              group_wait: 0s
              receivers:
                - {name: hook, webhook: {url: "RECEIVER/hook"}, rate_per_minute: 100000, burst: 1000}
            """
        try await Self.withCollector(yaml, receiver: receiver, dir: dir, loops: 2) { client in
            for i in 0..<30 {
                try await Self.ingest(
                    client, Fixture.batch(host: "h\(i)", events: [Fixture.event("two-\(i)", host: "h\(i)")]))
            }
            _ = try await receiver.wait(for: 30)
            try await Task.sleep(for: .milliseconds(500))
            let keys = receiver.requests.map { $0.headers["idempotency-key"] ?? "" }
            #expect(keys.count == 30)
            #expect(Set(keys).count == 30)
        }
    }
}
