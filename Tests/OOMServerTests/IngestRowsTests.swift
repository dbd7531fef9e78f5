import GRDB
import OOMKit
import Testing

@testable import OOMStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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

    /// Typed bindings: every value lands in its parameter with its type (NULL for nil, a
    /// statement reused with other values keeps none of the old ones), too few values is
    /// an error rather than NULLs, and a recording gives the same values GRDB would bind.
    @Test func typedBindingsBindEveryParameterOrFail() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let rows = try await db.write { db in
            try db.execute(sql: "CREATE TABLE t (a, b, c, d, e)")
            let insert = try db.cachedStatement(sql: "INSERT INTO t VALUES (?, ?, ?, ?, ?)")
            try insert.execute(binding: Int64.max, "é\"x", 0.5, Data([0, 1, 2]), Int?.some(7))
            try insert.execute(binding: Int64?.none, "", -0.25, Data([9]), String?.none)
            var short = TypedBindings(insert)
            try short.add(1, "only two")
            #expect(throws: DatabaseError.self) { try short.bound() }
            #expect(throws: DatabaseError.self) { try TypedBindings.recording().bound() }
            return try Row.fetchAll(db, sql: "SELECT a, b, c, d, e, typeof(a), typeof(e) FROM t ORDER BY rowid")
                .map { row in (0..<7).map { row[$0] as DatabaseValue } }
        }
        #expect(rows.count == 2)
        #expect(rows[0][0] == Int64.max.databaseValue && rows[0][1] == "é\"x".databaseValue)
        #expect(rows[0][2] == 0.5.databaseValue && rows[0][3] == Data([0, 1, 2]).databaseValue)
        #expect(rows[0][4] == 7.databaseValue)
        #expect(rows[1][5] == "null".databaseValue && rows[1][6] == "null".databaseValue)
        #expect(rows[1][1] == "".databaseValue && rows[1][2] == (-0.25).databaseValue)
        // A record's values, recorded from the same list its insert binds.
        let event = try #require(
            try OOMDatabase.prepare(Fixture.batch(events: [Fixture.event("rec-3")]), receivedAt: 5).events.first)
        let values = EventRow(event: event, hostID: 42, received: 5).values.map { $0?.databaseValue ?? .null }
        #expect(values.count == EventRow.Columns.allCases.count)
        #expect(values[0] == "rec-3".databaseValue && values[1] == 42.databaseValue && values[10] == 5.databaseValue)
    }
}
