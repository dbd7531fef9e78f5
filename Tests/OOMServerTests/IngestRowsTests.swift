import GRDB
import OOMKit
import Testing

@testable import OOMStore

/// The ingest record types on a real SQLite file: a re-sent row is a no-op that says so,
/// and a row the schema refuses is still an error (GRDB's `INSERT OR IGNORE` would have
/// dropped it silently and counted it as a duplicate).
@Suite struct IngestRowsTests {
    @Test func insertOnceStoresOnceAndStillRefusesBadRows() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let prepared = try OOMDatabase.prepare(
            Fixture.batch(
                events: [Fixture.event("rec-1")], snapshots: [Fixture.snapshot(time: "2026-11-20T10:00:00Z")]),
            receivedAt: 1_000)
        let event = try #require(prepared.events.first)
        var refused = event
        refused.eventID = "rec-2"
        refused.source = "bogus"
        let bogus = refused
        let (first, again, stored) = try await db.write { db in
            try db.execute(sql: "INSERT INTO hosts (name, first_seen, last_seen) VALUES ('h', 0, 0)")
            let hostID = db.lastInsertedRowID
            let first = try EventRow(event: event, hostID: hostID, received: 1_000).insertOnce(db)
            let again = try EventRow(event: event, hostID: hostID, received: 2_000).insertOnce(db)
            let row = try #require(try Row.fetchOne(db, sql: "SELECT * FROM events WHERE event_id = 'rec-1'"))
            // Row is not Sendable: hand its values out by column name.
            return (first, again, Dictionary(uniqueKeysWithValues: row.map { ($0.0, $0.1) }))
        }
        #expect(first && !again)
        // Every column of the record landed under its own name; the re-send changed nothing.
        #expect(stored["received"] == 1_000.databaseValue)
        #expect(stored["source"] == event.source.databaseValue && stored["comm"] == event.comm.databaseValue)
        #expect(stored["json"] == event.json.databaseValue && stored["rss_kb"] == event.rssKB.databaseValue)
        #expect(stored["pid"] == event.pid.databaseValue && stored["time"] == event.time.databaseValue)
        await #expect(throws: DatabaseError.self) {
            try await db.write { db in
                let hostID = try #require(try Int64.fetchOne(db, sql: "SELECT id FROM hosts WHERE name = 'h'"))
                _ = try EventRow(event: bogus, hostID: hostID, received: 1_000).insertOnce(db)
            }
        }
        #expect(EventRow.insertOnceSQL.hasSuffix("ON CONFLICT (event_id) DO NOTHING"))
        #expect(SnapshotRow.insertOnceSQL.hasSuffix("ON CONFLICT (host_id, time) DO NOTHING"))
    }
}
