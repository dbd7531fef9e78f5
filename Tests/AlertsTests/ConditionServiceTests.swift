import Foundation
import OOMAlerts
import OOMKit
import OOMStore
import Testing

/// Host conditions checked by two condition services over one real SQLite file (as two
/// collectors sharing a database would, each with its own clock): one start and one end
/// per episode, not one per service.
@Suite struct ConditionServiceTests {
    @Test func twoConditionServicesOnOneDatabaseQueueOnePressureEpisode() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try OutboxStoreTests.database(dir, routes: "")
        let rules = {
            var r = ConditionRules()
            r.pressureReceivers = ["a"]
            r.pressureThreshold = 20
            r.pressureForSeconds = 0.2
            return r
        }()
        func pressureRows() async throws -> [OutboxRow] {
            try await db.unsentOutbox().filter { $0.kind == .pressure || $0.kind == .pressureResolved }
        }
        func waitFor(_ done: @escaping ([OutboxRow]) -> Bool) async throws -> [OutboxRow] {
            // Generous: at the start of the full parallel run, tests that block on real
            // processes hold the two cooperative threads for up to ~45 s, and the services'
            // polls wait with them (the condition itself is met in well under a second).
            let deadline = ContinuousClock.now + .seconds(120)
            var rows = try await pressureRows()
            while !done(rows), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                rows = try await pressureRows()
            }
            return rows
        }
        var batch = Fixture.batch(host: "db-1", events: [])
        batch.snapshots = [DeliveryTests.snapshot(host: "db-1", fullAvg60: 45)]
        _ = try await db.ingest(batch)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The second service starts later, so its clock starts the episode later: a key
            // taken from each service's own first poll would differ.
            for delay in [0, 600] {
                group.addTask {
                    try await Task.sleep(for: .milliseconds(delay))
                    try await HostConditionService(
                        database: db, rules: rules, logger: Fixture.logger, pollSeconds: 0.05
                    ).run()
                }
            }
            var rows = try await waitFor { $0.contains { $0.kind == .pressure } }
            // Both services past their `for:` and several polls each.
            try await Task.sleep(for: .milliseconds(1500))
            rows = try await pressureRows()
            #expect(rows.map(\.kind) == [.pressure], "rows: \(rows.map(\.candidate.eventID))")
            batch.snapshots = [DeliveryTests.snapshot(host: "db-1", fullAvg60: 1)]
            _ = try await db.ingest(batch)
            rows = try await waitFor { $0.contains { $0.kind == .pressureResolved } }
            try await Task.sleep(for: .milliseconds(500))
            rows = try await pressureRows()
            #expect(rows.map(\.kind) == [.pressure, .pressureResolved], "rows: \(rows.map(\.candidate.eventID))")
            // The end names the episode the start did.
            #expect(Set(rows.map { $0.candidate.eventID.split(separator: ":").last ?? "" }).count == 1)
            group.cancelAll()
        }
    }
}
