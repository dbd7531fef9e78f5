import GRDB
import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A row type stored with `INSERT … ON CONFLICT … DO NOTHING`, its values bound by
/// position and by type (`TypedBindings`; a dictionary by column name per row was a few
/// percent of the collector's CPU per snapshot, boxed values another few).
///
/// GRDB's `insert(db, onConflict: .ignore)` is `INSERT OR IGNORE`, which would also drop,
/// silently, a row that breaks a CHECK or NOT NULL constraint, and its upserts always
/// update; ingest needs "a re-sent row is stored once, a bad row is an error", so this adds
/// that one statement. It is prepared once per connection (`cachedStatement`).
protocol InsertOnceRecord: EncodableRecord, TableRecord {
    /// The statement, `makeInsertOnceSQL(conflict:)` kept in a `static let`.
    static var insertOnceSQL: String { get }
    /// Adds the row's values in `Columns` order.
    func bind(into bindings: inout TypedBindings) throws
}

extension InsertOnceRecord where Columns: CaseIterable & RawRepresentable, Columns.RawValue == String {
    /// `INSERT INTO table (every column) VALUES (?, …) ON CONFLICT (conflict) DO NOTHING`;
    /// an empty `conflict` covers every uniqueness constraint.
    static func makeInsertOnceSQL(conflict: [Columns]) -> String {
        let names = Columns.allCases.map(\.rawValue)
        let target = conflict.isEmpty ? "" : " (" + conflict.map(\.rawValue).joined(separator: ", ") + ")"
        return "INSERT INTO \(databaseTableName) (\(names.joined(separator: ", ")))"
            + " VALUES (\(Array(repeating: "?", count: names.count).joined(separator: ", ")))"
            + " ON CONFLICT\(target) DO NOTHING"
    }

    /// Inserts the row unless one with the same key is stored; `true` when it was inserted
    /// (a re-sent row leaves everything as it was and returns `false`).
    func insertOnce(_ db: Database) throws -> Bool {
        var bindings = TypedBindings(try db.cachedStatement(sql: Self.insertOnceSQL))
        try bind(into: &bindings)
        try bindings.bound().execute()
        return db.changesCount > 0
    }

    /// The row's values in `Columns` order, for GRDB's own persistence.
    var values: [(any DatabaseValueConvertible)?] {
        var recording = TypedBindings.recording()
        try? bind(into: &recording)  // recording binds nothing, so nothing throws
        return recording.recorded
    }

    func encode(to container: inout PersistenceContainer) {
        for (column, value) in zip(Columns.allCases, values) { container[column.rawValue] = value }
    }
}

/// One `events` row: the prepared event, its host and when its batch arrived.
struct EventRow: InsertOnceRecord {
    static let databaseTableName = "events"
    static let insertOnceSQL = makeInsertOnceSQL(conflict: [.eventID])

    enum Columns: String, CaseIterable, ColumnExpression {
        case eventID = "event_id", hostID = "host_id", time, source, scope, comm, pid, unit, container
        case rssKB = "rss_kb", received, json, memcg
        case memcgUsageKB = "memcg_usage_kb", memcgLimitKB = "memcg_limit_kb"
        case shieldName = "shield_name", shieldRSSKB = "shield_rss_kb", shieldAdj = "shield_adj"
    }

    var event: PreparedBatch.Event
    var hostID: Int64
    var received: Int64

    func bind(into b: inout TypedBindings) throws {
        let e = event
        let a = e.advice
        try b.add(
            e.eventID, hostID, e.time, e.source, e.scope, e.comm, e.pid, e.unit, e.container, e.rssKB, received,
            e.json, a.memcg, a.usageKB, a.limitKB, a.shieldName, a.shieldRSSKB, a.shieldAdj)
    }

    /// Rows per multi-row INSERT: few distinct statements to cache, few calls into SQLite.
    static let chunk = 50

    /// The statement for a whole chunk, built once (the statement cache is keyed by its text).
    static let fullChunkSQL = insertManySQL(rows: chunk)

    /// `INSERT … VALUES (…), (…) ON CONFLICT (event_id) DO NOTHING RETURNING event_id` for
    /// `rows` rows.
    static func insertManySQL(rows: Int) -> String {
        let names = Columns.allCases.map(\.rawValue)
        let row = "(" + Array(repeating: "?", count: names.count).joined(separator: ", ") + ")"
        return "INSERT INTO \(databaseTableName) (\(names.joined(separator: ", ")))"
            + " VALUES " + Array(repeating: row, count: rows).joined(separator: ", ")
            + " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
    }

    /// Inserts the rows not stored yet, `chunk` rows per statement, and returns the ids
    /// stored now (a re-sent id, or one repeated in `rows`, is stored once and returned
    /// once); a row the schema refuses fails the statement, as with `insertOnce`.
    static func insertNew(_ rows: [EventRow], db: Database) throws -> Set<String> {
        var stored = Set<String>()
        var start = 0
        while start < rows.count {
            let part = rows[start..<min(start + chunk, rows.count)]
            let sql = part.count == chunk ? fullChunkSQL : insertManySQL(rows: part.count)
            var bindings = TypedBindings(try db.cachedStatement(sql: sql))
            for row in part { try row.bind(into: &bindings) }
            let ids = try String.fetchCursor(try bindings.bound())
            while let id = try ids.next() { stored.insert(id) }
            start += chunk
        }
        return stored
    }
}

/// One `snapshots` row: the summary columns queries filter on, and the compact body.
struct SnapshotRow: InsertOnceRecord {
    static let databaseTableName = "snapshots"
    static let insertOnceSQL = makeInsertOnceSQL(conflict: [.hostID, .time])

    enum Columns: String, CaseIterable, ColumnExpression {
        case hostID = "host_id", time
        case totalKB = "total_kb", availableKB = "available_kb", freeKB = "free_kb", cachedKB = "cached_kb"
        case anonKB = "anon_kb", shmemKB = "shmem_kb", swapTotalKB = "swap_total_kb", swapFreeKB = "swap_free_kb"
        case someAvg10 = "some_avg10", someAvg60 = "some_avg60", fullAvg10 = "full_avg10", fullAvg60 = "full_avg60"
        case oomKill = "oom_kill", body
    }

    var snapshot: PreparedBatch.Snapshot
    var hostID: Int64
    /// `SnapshotStorage.body`, written in the same transaction.
    var body: [UInt8]

    func bind(into b: inout TypedBindings) throws {
        let s = snapshot
        try b.add(
            hostID, s.time, s.total, s.available, s.free, s.cached, s.anon, s.shmem, s.swapTotal, s.swapFree,
            s.someAvg10, s.someAvg60, s.fullAvg10, s.fullAvg60, s.oomKill, Data(body))
    }
}

/// One `agent_counters` row: the agent's own loss counters when its batch arrived.
struct AgentCountersRow: InsertOnceRecord {
    static let databaseTableName = "agent_counters"
    static let insertOnceSQL = makeInsertOnceSQL(conflict: [])

    enum Columns: String, CaseIterable, ColumnExpression {
        case hostID = "host_id", time
        case droppedSnapshots = "dropped_snapshots", droppedEvents = "dropped_events"
        case corruptRecords = "corrupt_records", kmsgOverruns = "kmsg_overruns"
        case kmsgMissedRecords = "kmsg_missed_records", unattributedKills = "unattributed_kills"
        case sourceErrors = "source_errors"
    }

    var agent: AgentInfo
    var hostID: Int64
    var time: Int64

    func bind(into b: inout TypedBindings) throws {
        try b.add(
            hostID, time, agent.droppedSnapshots, agent.droppedEvents, agent.corruptRecords, agent.kmsgOverruns,
            agent.kmsgMissedRecords, agent.unattributedKills, agent.sourceErrors)
    }
}
