import GRDB
import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A row type stored with `INSERT … ON CONFLICT … DO NOTHING`, its values bound by column
/// name from the record's own `encode(to:)`.
///
/// GRDB's `insert(db, onConflict: .ignore)` is `INSERT OR IGNORE`, which would also drop,
/// silently, a row that breaks a CHECK or NOT NULL constraint, and its upserts always
/// update; ingest needs "a re-sent row is stored once, a bad row is an error", so this adds
/// that one statement. It is prepared once per connection (`cachedStatement`).
protocol InsertOnceRecord: EncodableRecord, TableRecord {
    /// The statement, `makeInsertOnceSQL(conflict:)` kept in a `static let`.
    static var insertOnceSQL: String { get }
}

extension InsertOnceRecord where Columns: CaseIterable & RawRepresentable, Columns.RawValue == String {
    /// `INSERT INTO table (every column) VALUES (:column, …) ON CONFLICT (conflict) DO
    /// NOTHING`; an empty `conflict` covers every uniqueness constraint.
    static func makeInsertOnceSQL(conflict: [Columns]) -> String {
        let names = Columns.allCases.map(\.rawValue)
        let target = conflict.isEmpty ? "" : " (" + conflict.map(\.rawValue).joined(separator: ", ") + ")"
        return "INSERT INTO \(databaseTableName) (\(names.joined(separator: ", ")))"
            + " VALUES (\(names.map { ":" + $0 }.joined(separator: ", ")))"
            + " ON CONFLICT\(target) DO NOTHING"
    }

    /// Inserts the row unless one with the same key is stored; `true` when it was inserted
    /// (a re-sent row leaves everything as it was and returns `false`).
    func insertOnce(_ db: Database) throws -> Bool {
        try db.cachedStatement(sql: Self.insertOnceSQL).execute(arguments: StatementArguments(try databaseDictionary))
        return db.changesCount > 0
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

    func encode(to container: inout PersistenceContainer) {
        container[Columns.eventID] = event.eventID
        container[Columns.hostID] = hostID
        container[Columns.time] = event.time
        container[Columns.source] = event.source
        container[Columns.scope] = event.scope
        container[Columns.comm] = event.comm
        container[Columns.pid] = event.pid
        container[Columns.unit] = event.unit
        container[Columns.container] = event.container
        container[Columns.rssKB] = event.rssKB
        container[Columns.received] = received
        container[Columns.json] = event.json
        container[Columns.memcg] = event.advice.memcg
        container[Columns.memcgUsageKB] = event.advice.usageKB
        container[Columns.memcgLimitKB] = event.advice.limitKB
        container[Columns.shieldName] = event.advice.shieldName
        container[Columns.shieldRSSKB] = event.advice.shieldRSSKB
        container[Columns.shieldAdj] = event.advice.shieldAdj
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

    func encode(to container: inout PersistenceContainer) {
        let s = snapshot
        container[Columns.hostID] = hostID
        container[Columns.time] = s.time
        container[Columns.totalKB] = s.total
        container[Columns.availableKB] = s.available
        container[Columns.freeKB] = s.free
        container[Columns.cachedKB] = s.cached
        container[Columns.anonKB] = s.anon
        container[Columns.shmemKB] = s.shmem
        container[Columns.swapTotalKB] = s.swapTotal
        container[Columns.swapFreeKB] = s.swapFree
        container[Columns.someAvg10] = s.someAvg10
        container[Columns.someAvg60] = s.someAvg60
        container[Columns.fullAvg10] = s.fullAvg10
        container[Columns.fullAvg60] = s.fullAvg60
        container[Columns.oomKill] = s.oomKill
        container[Columns.body] = Data(body)
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

    func encode(to container: inout PersistenceContainer) {
        container[Columns.hostID] = hostID
        container[Columns.time] = time
        container[Columns.droppedSnapshots] = agent.droppedSnapshots
        container[Columns.droppedEvents] = agent.droppedEvents
        container[Columns.corruptRecords] = agent.corruptRecords
        container[Columns.kmsgOverruns] = agent.kmsgOverruns
        container[Columns.kmsgMissedRecords] = agent.kmsgMissedRecords
        container[Columns.unattributedKills] = agent.unattributedKills
        container[Columns.sourceErrors] = agent.sourceErrors
    }
}
