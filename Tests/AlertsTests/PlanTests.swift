import Foundation
import OOMAlerts
import OOMKit
import OOMStore
import Testing

@Suite struct PlanTests {
    static func row(
        _ id: Int64, host: String = "web-3", comm: String = "java", route: Int = 0,
        receiver: String = "hook", due: Int64 = 0, attempts: Int = 0, next: Int64 = 0, time: Int64 = 0
    ) -> OutboxRow {
        OutboxRow(
            id: id, kind: .kill, receiver: receiver, route: route,
            candidate: AlertCandidate(
                eventID: "e\(id)", host: host, time: time, source: "kernel", scope: "memcg",
                comm: comm, pid: Int(id), unit: nil, container: nil, rssKB: 2048),
            created: 0, due: due, sentAt: nil, attempts: attempts, nextAttempt: next,
            lastError: nil, idempotencyKey: nil)
    }

    static let hook = AlertReceiver(name: "hook", kind: .webhook(url: "http://127.0.0.1:1/", secret: nil))

    @Test func rowsOfOneRouteAndHostBecomeOneMessageOnceTheWindowEnds() {
        var plan = DeliveryPlan(receivers: [Self.hook])
        let rows = [Self.row(1, due: 100), Self.row(2, comm: "node", due: 150), Self.row(3, host: "db-1", due: 500)]
        #expect(plan.messages(from: rows, now: 99).isEmpty)
        let out = plan.messages(from: rows, now: 100)
        #expect(out.map(\.rowIDs) == [[1, 2]])
        #expect(out.first?.idempotencyKey == "e1")
    }

    @Test func aHostWaitsBehindItsFailedMessageButOtherHostsDoNot() {
        var plan = DeliveryPlan(receivers: [Self.hook])
        let rows = [
            Self.row(1, route: 0, attempts: 2, next: 1_000), Self.row(2, route: 1),
            Self.row(3, host: "db-1", route: 0),
        ]
        #expect(plan.messages(from: rows, now: 10).map(\.rowIDs) == [[3]])
        #expect(plan.messages(from: rows, now: 1_000).map(\.rowIDs) == [[1], [2], [3]])
    }

    @Test func theRateLimitLeavesMessagesPendingAndRefillsOverTime() {
        var plan = DeliveryPlan(receivers: [
            AlertReceiver(name: "hook", kind: .slack(url: "http://x/"), ratePerMinute: 60, burst: 2)
        ])
        let rows = (1...4).map { Self.row(Int64($0), host: "h\($0)") }
        #expect(plan.messages(from: rows, now: 0).count == 2)
        #expect(plan.messages(from: Array(rows[2...]), now: 500_000).isEmpty)
        #expect(plan.messages(from: Array(rows[2...]), now: 1_000_000).map(\.rowIDs) == [[3]])
    }

    @Test func backoffDoublesUpToTheCap() {
        let delays = (0..<6).map { DeliveryPlan.retryDelay(attempts: $0, initial: 1, maximum: 10) }
        #expect(delays == [1, 2, 4, 8, 10, 10].map { Int64($0) * 1_000_000 })
    }

    @Test func summaries() {
        let one = AlertMessage(rows: [Self.row(1)])
        #expect(one.summary == "OOM kill on web-3: java (pid 1, 2.0 MB)")
        let storm = AlertMessage(
            rows: [Self.row(1, comm: "node", time: 0)] + (2...10).map { Self.row($0, time: 29_500_000) }
                + [Self.row(11, comm: "node"), Self.row(12, comm: "node")])
        #expect(storm.summary == "12 kills on web-3 in 30 s: java ×9, node ×3")
    }

    /// RFC 4231 test case 2.
    @Test func hmacMatchesRFC4231() {
        let mac = SHA256.hmac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(SHA256.hexString(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}

extension PlanTests {
    /// A lone kill is not held for the grouping window: it goes at once and opens the
    /// window; the kills inside it are one message at its end.
    @Test func theKillThatOpensAWindowGoesAloneAtOnceAndTheRestAtItsEnd() {
        var plan = DeliveryPlan(receivers: [Self.hook])
        let rows =
            [Self.row(1, due: 0)] + (2...4).map { Self.row($0, comm: $0 == 4 ? "node" : "java", due: 30_000_000) }
        #expect(plan.messages(from: rows, now: 0).map(\.rowIDs) == [[1]])
        let rest = Array(rows.dropFirst())
        #expect(plan.messages(from: rest, now: 29_999_999).isEmpty)
        let end = plan.messages(from: rest, now: 30_000_000)
        #expect(end.map(\.rowIDs) == [[2, 3, 4]])
        #expect(end.first?.summary.hasPrefix("3 kills on web-3 in ") == true)
        #expect(end.first?.summary.hasSuffix(" s: java ×2, node ×1") == true)
    }

    @Test func aKillIsDueAtOnceUnlessAWindowIsOpen() {
        let p = PlannedNotification(receiver: "hook", route: 0, groupWaitSeconds: 30)
        #expect(p.due(now: 1_000, openedAt: nil) == 1_000)
        #expect(p.due(now: 5_000_000, openedAt: 1_000) == 30_001_000)
        #expect(p.due(now: 40_000_000, openedAt: 1_000) == 40_000_000)
        let none = PlannedNotification(receiver: "hook", route: 0, groupWaitSeconds: 0)
        #expect(none.due(now: 5_000_000, openedAt: 5_000_000) == 5_000_000)
    }

    @Test func aRetryResendsExactlyTheRowsItTriedAndNewKillsFollowSeparately() {
        var plan = DeliveryPlan(receivers: [Self.hook])
        var tried = [Self.row(1, attempts: 1, next: 50), Self.row(2, attempts: 1, next: 50)]
        for i in tried.indices { tried[i].idempotencyKey = "e1" }
        let rows = tried + [Self.row(3)]
        #expect(plan.messages(from: rows, now: 10).isEmpty)
        let out = plan.messages(from: rows, now: 50)
        #expect(out.map(\.rowIDs) == [[1, 2], [3]])
        #expect(out.map(\.idempotencyKey) == ["e1", "e3"])
    }
}

extension PlanTests {
    static func condition(_ id: Int64, _ kind: OutboxRow.Kind, since: Int64, created: Int64) -> OutboxRow {
        OutboxRow(
            id: id, kind: kind, receiver: "am", route: -2,
            candidate: AlertCandidate(
                eventID: kind.rawValue + ":db-1@\(since)", host: "db-1", time: since, source: "oomwatch",
                scope: nil, comm: "", pid: 0, unit: nil, container: nil, rssKB: 0),
            created: created, due: created, sentAt: nil, attempts: 0, nextAttempt: created,
            lastError: nil, idempotencyKey: nil, detail: "\(kind.rawValue) on db-1")
    }

    /// Stale and pressure alerts are resolvable in Alertmanager: the start carries an
    /// `endsAt` a day ahead (so Alertmanager does not resolve it on its own), the end the
    /// moment it ended; kills carry none.
    @Test(arguments: [
        (OutboxRow.Kind.stale, OutboxRow.Kind.staleResolved, "OOMWatchHostStale"),
        (.pressure, .pressureResolved, "OOMWatchMemoryPressure"),
    ])
    func conditionAlertsCarryEndsAtInTheAlertmanagerBody(start: OutboxRow.Kind, end: OutboxRow.Kind, name: String)
        throws
    {
        let since: Int64 = 1_700_000_000_000_000
        func alerts(_ row: OutboxRow) throws -> [[String: Any]] {
            let body = AlertPayload.alertmanager(AlertMessage(rows: [row]))
            return try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [[String: Any]])
        }
        let firing = try alerts(Self.condition(1, start, since: since, created: since + 60_000_000))
        #expect(firing.count == 1)
        #expect((firing[0]["labels"] as? [String: String])?["alertname"] == name)
        #expect(firing[0]["startsAt"] as? String == RFC3339.format(epochMicroseconds: since))
        #expect(
            firing[0]["endsAt"] as? String == RFC3339.format(epochMicroseconds: since + 60_000_000 + 86_400_000_000))
        let resolved = try alerts(Self.condition(2, end, since: since, created: since + 600_000_000))
        #expect(resolved[0]["startsAt"] as? String == RFC3339.format(epochMicroseconds: since))
        #expect(resolved[0]["endsAt"] as? String == RFC3339.format(epochMicroseconds: since + 600_000_000))
        let kill = try alerts(Self.row(3))
        #expect(kill[0]["endsAt"] == nil)
    }
}
