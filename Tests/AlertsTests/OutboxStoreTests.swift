import Foundation
import OOMAlerts
import OOMKit
import OOMStore
import Testing

/// The outbox in a real SQLite file: rows come with their kill, once, and leave only
/// through delivery (and then retention).
@Suite struct OutboxStoreTests {
    static func database(_ dir: TempDir, routes: String) throws -> OOMDatabase {
        var store = StoreConfiguration(path: dir.path + "/oomwatch.sqlite")
        store.synchronousFull = false
        store.outboxPlanner = try CollectorConfigFile.parse(
            """
            alerts:
              receivers:
                - {name: a, webhook: {url: "http://127.0.0.1:1/"}}
                - {name: b, slack: {url: "http://127.0.0.1:1/"}}
            \(routes)
            """
        ).alerts
        return try OOMDatabase(configuration: store, logger: Fixture.logger)
    }

    @Test func aKillGetsItsRowsOnceAndAReSentEventNone() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Self.database(dir, routes: "")
        let batch = Fixture.batch(events: [Fixture.event("k1"), Fixture.event("k2", comm: "node")])
        let first = try await db.ingest(batch)
        #expect(first.eventsStored == 2)
        var rows = try await db.unsentOutbox()
        #expect(rows.map(\.receiver) == ["a", "b", "a", "b"])
        #expect(rows.map(\.candidate.eventID) == ["k1", "k1", "k2", "k2"])
        // k1 opens the 30 s window of each receiver and goes at once; k2 waits for its end.
        #expect(rows.map { $0.due - $0.created } == [0, 0, 30_000_000, 30_000_000])
        let again = try await db.ingest(batch)
        #expect(again.eventsDuplicate == 2)
        rows = try await db.unsentOutbox()
        #expect(rows.count == 4)
    }

    @Test func deliveredRowsLeaveWithRetentionAndUnsentOnesStay() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Self.database(dir, routes: "  routes:\n    - {match: {comm: java}, receivers: [a]}")
        _ = try await db.ingest(Fixture.batch(events: [Fixture.event("k1"), Fixture.event("k2", comm: "node")]))
        let rows = try await db.unsentOutbox()
        // node matched no route and there is no default: only java's row.
        #expect(rows.map(\.candidate.eventID) == ["k1"])
        _ = try await db.enqueueTestAlert(receiver: "b")
        try await db.markOutboxSent(ids: [rows[0].id], key: "k1")
        var policy = RetentionPolicy()
        policy.sentAlertDays = 1
        let outcome = try await db.applyRetention(policy, now: nowMicroseconds() + 2 * 86_400_000_000)
        #expect(outcome.sentAlerts == 1)
        #expect(try await db.unsentOutbox().map(\.kind) == [.test])
    }

    @Test func openConditionsAreWhatStartedAndHasNotEnded() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Self.database(dir, routes: "")
        try await db.enqueueCondition(
            kind: .stale, host: "web-3", key: "web-3@5", since: 5, detail: "stale", receivers: ["a", "b"])
        try await db.enqueueCondition(
            kind: .pressure, host: "db-1", key: "db-1@7", since: 7, detail: "pressure", receivers: ["a"])
        // The same episode again (a restarted collector): nothing new.
        try await db.enqueueCondition(
            kind: .stale, host: "web-3", key: "web-3@5", since: 5, detail: "stale", receivers: ["a", "b"])
        #expect(try await db.unsentOutbox().count == 3)
        var open = try await db.openConditions().map { "\($0.kind.rawValue) \($0.host) \($0.key)" }.sorted()
        #expect(open == ["pressure db-1 db-1@7", "stale web-3 web-3@5"])
        try await db.enqueueCondition(
            kind: .staleResolved, host: "web-3", key: "web-3@5", since: 5, detail: "back", receivers: ["a", "b"])
        open = try await db.openConditions().map { "\($0.kind.rawValue) \($0.host) \($0.key)" }
        #expect(open == ["pressure db-1 db-1@7"])
    }
}
