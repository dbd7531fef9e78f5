import Foundation
import GRDB
import OOMKit
import OOMServer
import OOMStore
import Testing

/// `oomwatch_kills_total` on a database from before `v7-fix17-kill-counters`: the
/// migration fills the counters from the events it holds, and ingest adds to them after.
@Suite struct KillCounterMigrationTests {
    @Test func theMigrationFillsTheCountersFromTheEvents() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        _ = try await db.ingest(
            Fixture.batch(events: [
                Fixture.event("a"), Fixture.event("b", comm: "node"), Fixture.event("c", scope: nil),
                Fixture.event("d", source: .systemdOomd),
            ]))
        let before = try await db.killCounters()
        try await db.write { d in
            try d.execute(
                sql: """
                    DROP TABLE kill_counters;
                    DELETE FROM grdb_migrations WHERE identifier = 'v7-fix17-kill-counters';
                    """)
        }
        let upgraded = try Fixture.collector(in: dir).database
        let after = try await upgraded.killCounters()
        #expect(after == before)
        #expect(
            after.map { "\($0.host) \($0.source) \($0.scope) \($0.kills)" } == [
                "web-1 kernel global 2", "web-1 kernel unknown 1", "web-1 systemd-oomd global 1",
            ])
        _ = try await upgraded.ingest(Fixture.batch(events: [Fixture.event("e")]))
        #expect(try await upgraded.killCounters().reduce(0) { $0 + $1.kills } == 5)
    }
}
