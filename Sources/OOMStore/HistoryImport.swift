import GRDB
public import OOMKit

/// Where a copy of rows keyed by (host, time) got to: the time (or hour) and the source's
/// host row id of the last row copied. Pages are read in (time, host) order, so rows the
/// source stores after a finished copy (later times) come after its checkpoint and a
/// re-run copies them.
public struct HistoryKey: Sendable, Equatable, Comparable {
    public var time: Int64
    public var host: Int64

    public init(host: Int64, time: Int64) {
        self.host = host
        self.time = time
    }

    /// Before every row.
    public static let start = HistoryKey(host: 0, time: .min)

    public static func < (a: HistoryKey, b: HistoryKey) -> Bool { (a.time, a.host) < (b.time, b.host) }
}

/// One `snapshot_hourly` row of a history: a host's sums over one hour, as the store that
/// received the samples counted them. Kept long after the raw snapshots expire, so a copy
/// takes these from the source rather than re-deriving them from the snapshots left.
public struct HourlyRollup: Sendable, Equatable {
    /// The integer columns, in the order of ``integers`` (`min_available_kb` and
    /// `max_oom_kill` may be NULL; the others are NOT NULL).
    public static let integerColumns = [
        "samples", "pressure_samples", "sum_total_kb", "sum_available_kb", "min_available_kb", "sum_free_kb",
        "sum_cached_kb", "sum_anon_kb", "sum_shmem_kb", "sum_swap_total_kb", "sum_swap_free_kb", "max_oom_kill",
    ]
    /// The floating-point columns, in the order of ``reals``.
    public static let realColumns = ["sum_some_avg10", "sum_some_avg60", "sum_full_avg10", "sum_full_avg60"]
    /// Both, in the order a row's values are bound.
    public static let columns = integerColumns + realColumns
    /// Both, as an SQL column list.
    public static let columnList = columns.joined(separator: ", ")
    /// The upsert clause that replaces every rollup column of a stored (host, hour).
    public static let replaceSQL = "DO UPDATE SET " + columns.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")

    public var host: String
    /// The hour's start, microseconds since the epoch.
    public var hour: Int64
    public var integers: [Int64?]
    public var reals: [Double]
    /// The source's key of this row (where a resumed copy continues).
    public var key: HistoryKey

    public init(host: String, hour: Int64, integers: [Int64?], reals: [Double], key: HistoryKey) {
        self.host = host
        self.hour = hour
        self.integers = integers
        self.reals = reals
        self.key = key
    }
}

/// One `agent_counters` row of a history: an agent's loss counters when a report that
/// changed them arrived.
public struct AgentCountersReport: Sendable, Equatable {
    public var host: String
    /// When the report arrived, microseconds since the epoch.
    public var time: Int64
    /// The counters (SQLite keeps only these of the report, not its version).
    public var counters: AgentInfo
    public var key: HistoryKey

    public init(host: String, time: Int64, counters: AgentInfo, key: HistoryKey) {
        self.host = host
        self.time = time
        self.counters = counters
        self.key = key
    }
}

extension OOMDatabase {
    /// Up to `limit` hourly rollups after `key`, in (hour, host row) order (the hour index).
    public func exportHourly(after key: HistoryKey, limit: Int) async throws(StoreError) -> [HourlyRollup] {
        try await exportPage(
            """
            SELECT s.host_id, h.name, s.hour, \(HourlyRollup.columnList)
            FROM snapshot_hourly s JOIN hosts h ON h.id = s.host_id
            WHERE (s.hour, s.host_id) > (?, ?) ORDER BY s.hour, s.host_id LIMIT ?
            """, arguments: [key.time, key.host, limit]
        ) { r, _ in
            HourlyRollup(
                host: r["name"], hour: r["hour"], integers: HourlyRollup.integerColumns.map { r[$0] },
                reals: HourlyRollup.realColumns.map { r[$0] }, key: HistoryKey(host: r["host_id"], time: r["hour"]))
        }
    }

    /// Up to `limit` agent counter reports after `key`, in (time, host row) order. The
    /// table has no time index (it is small: a row per change of an agent's counters), so
    /// each page sorts the rows after `key`.
    public func exportAgentCounters(after key: HistoryKey, limit: Int) async throws(StoreError)
        -> [AgentCountersReport]
    {
        try await exportPage(
            """
            SELECT c.*, h.name FROM agent_counters c JOIN hosts h ON h.id = c.host_id
            WHERE (c.time, c.host_id) > (?, ?) ORDER BY c.time, c.host_id LIMIT ?
            """, arguments: [key.time, key.host, limit]
        ) { r, _ in
            AgentCountersReport(
                host: r["name"], time: r["time"], counters: AgentCountersRow.counters(r),
                key: HistoryKey(host: r["host_id"], time: r["time"]))
        }
    }

    /// How many hourly rollups and agent counter reports are at or before these keys (a
    /// resumed copy's progress).
    public func historyRowsUpTo(hourly: HistoryKey, agentCounters: HistoryKey) async throws(StoreError) -> (
        hourly: Int, agentCounters: Int
    ) {
        do {
            return try await pool.read { db in
                (
                    try Int.fetchOne(
                        db, sql: "SELECT count(*) FROM snapshot_hourly WHERE (hour, host_id) <= (?, ?)",
                        arguments: [hourly.time, hourly.host]) ?? 0,
                    try Int.fetchOne(
                        db, sql: "SELECT count(*) FROM agent_counters WHERE (time, host_id) <= (?, ?)",
                        arguments: [agentCounters.time, agentCounters.host]) ?? 0
                )
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// See ``CollectorStore/importHourly(_:)``: one transaction, each row replacing the
    /// stored (host, hour).
    public func importHourly(_ rows: [HourlyRollup]) async throws(StoreError) -> Int {
        let placeholders = Array(repeating: "?", count: HourlyRollup.columns.count)
        let sql = """
            INSERT INTO snapshot_hourly (host_id, hour, \(HourlyRollup.columnList))
            VALUES (?, ?, \(placeholders.joined(separator: ", ")))
            ON CONFLICT (host_id, hour) \(HourlyRollup.replaceSQL)
            """
        return try await importRows(rows, host: { $0.host }) { row, hostID, db in
            var values: [(any DatabaseValueConvertible)?] = [hostID, row.hour]
            values += row.integers.map { $0 }
            values += row.reals.map { $0 }
            try db.cachedStatement(sql: sql).execute(arguments: StatementArguments(values))
            return db.changesCount > 0
        }
    }

    /// See ``CollectorStore/importAgentCounters(_:)``: one transaction; a (host, time)
    /// stored already is kept.
    public func importAgentCounters(_ rows: [AgentCountersReport]) async throws(StoreError) -> Int {
        try await importRows(rows, host: { $0.host }) { row, hostID, db in
            try AgentCountersRow(agent: row.counters, hostID: hostID, time: row.time).insertOnce(db)
        }
    }

    /// Writes each row with `write` (given its host's row id) inside one write transaction;
    /// rows of hosts this store does not know are skipped. Returns the rows written.
    func importRows<Item: Sendable>(
        _ rows: [Item], host: @escaping @Sendable (Item) -> String,
        write: @escaping @Sendable (Item, Int64, Database) throws -> Bool
    ) async throws(StoreError) -> Int {
        guard !rows.isEmpty else { return 0 }
        do {
            return try await pool.write { db in
                var hostIDs: [String: Int64?] = [:]
                var written = 0
                for row in rows {
                    let name = host(row)
                    if hostIDs[name] == nil {
                        hostIDs[name] = try Int64.fetchOne(
                            db.cachedStatement(sql: "SELECT id FROM hosts WHERE name = ?"), arguments: [name])
                    }
                    guard let hostID = hostIDs[name]! else { continue }
                    if try write(row, hostID, db) { written += 1 }
                }
                return written
            }
        } catch {
            throw Self.map(error)
        }
    }
}

extension AgentCountersRow {
    /// The counters of a stored row (its version is not stored: left empty).
    static func counters(_ r: GRDB.Row) -> AgentInfo {
        var a = AgentInfo(version: "")
        a.droppedSnapshots = r[Columns.droppedSnapshots.rawValue]
        a.droppedEvents = r[Columns.droppedEvents.rawValue]
        a.corruptRecords = r[Columns.corruptRecords.rawValue]
        a.kmsgOverruns = r[Columns.kmsgOverruns.rawValue]
        a.kmsgMissedRecords = r[Columns.kmsgMissedRecords.rawValue]
        a.unattributedKills = r[Columns.unattributedKills.rawValue]
        a.sourceErrors = r[Columns.sourceErrors.rawValue]
        return a
    }
}
