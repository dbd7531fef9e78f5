public import OOMKit
public import OOMStore
import PostgresNIO

extension PostgresStore {
    /// Rows of one multi-row statement: PostgreSQL takes at most 65,535 binds a statement.
    static let importChunk = 1000

    /// See ``CollectorStore/importHourly(_:)``: one transaction, multi-row statements, each
    /// row replacing the stored (host, hour).
    public func importHourly(_ rows: [HourlyRollup]) async throws(StoreError) -> Int {
        try await importRows(
            rows, into: "snapshot_hourly", key: "hour", columns: HourlyRollup.columns, conflict: HourlyRollup.replaceSQL
        ) { row, binds in
            [binds.add(row.host) + "::text", binds.add(row.hour) + "::bigint"]
                + row.integers.map { binds.add($0) + "::bigint" } + row.reals.map { binds.add($0) + "::float8" }
        }
    }

    /// See ``CollectorStore/importAgentCounters(_:)``: the counters as `agent_json` (a
    /// SQLite history keeps no version for them: `""`); a (host, time) stored is kept.
    public func importAgentCounters(_ rows: [AgentCountersReport]) async throws(StoreError) -> Int {
        let writer = JSONWriter()
        let json: [String]
        do {
            json = try rows.map { String(decoding: try writer.encode($0.counters), as: UTF8.self) }
        } catch {
            throw .failed("cannot encode agent counters: \(error)")
        }
        return try await importRows(
            Array(zip(rows, json)), into: "agent_counters", key: "time", columns: ["agent_json"],
            conflict: "DO NOTHING"
        ) { item, binds in
            [binds.add(item.0.host) + "::text", binds.add(item.0.time) + "::bigint", binds.add(item.1) + "::text"]
        }
    }

    /// Up to `limit` hourly rollups after `key` (an hour and this store's host row id), in
    /// that order: the same export as the SQLite store's, read from the primary.
    public func exportHourly(after key: HistoryKey, limit: Int) async throws(StoreError) -> [HourlyRollup] {
        var binds = Binds()
        let sql = """
            SELECT s.host_id, h.name, s.hour, \(HourlyRollup.columnList)
            FROM snapshot_hourly s JOIN hosts h ON h.id = s.host_id
            WHERE (s.hour, s.host_id) > (\(binds.add(key.time)), \(binds.add(key.host)))
            ORDER BY s.hour, s.host_id LIMIT \(binds.add(Int64(limit)))
            """
        let query = binds.query(sql)
        return try await store {
            try await rows(query, on: client).map { r in
                HourlyRollup(
                    host: try r.get("name"), hour: try r.get("hour"),
                    integers: try HourlyRollup.integerColumns.map { try r.get($0, as: Int64?.self) },
                    reals: try HourlyRollup.realColumns.map { try r.get($0, as: Double.self) },
                    key: HistoryKey(host: try r.get("host_id"), time: try r.get("hour")))
            }
        }
    }

    /// Inserts `rows` into `table` (host_id, `key`, `columns`), hosts found by name (rows of
    /// unknown hosts are skipped), in statements of ``importChunk`` rows inside one
    /// transaction. `values` binds one row: host name, key, then `columns`.
    func importRows<Item>(
        _ rows: [Item], into table: String, key: String, columns: [String], conflict: String,
        values: (Item, inout Binds) -> [String]
    ) async throws(StoreError) -> Int {
        guard !rows.isEmpty else { return 0 }
        var statements: [PostgresQuery] = []
        for start in stride(from: 0, to: rows.count, by: Self.importChunk) {
            var binds = Binds()
            let tuples = rows[start..<min(rows.count, start + Self.importChunk)].map {
                "(" + values($0, &binds).joined(separator: ", ") + ")"
            }
            let list = columns.joined(separator: ", ")
            statements.append(
                binds.query(
                    """
                    WITH written AS (
                        INSERT INTO \(table) (host_id, \(key), \(list))
                        SELECT h.id, v.\(key), \(columns.map { "v." + $0 }.joined(separator: ", "))
                        FROM (VALUES \(tuples.joined(separator: ", "))) AS v (host, \(key), \(list))
                        JOIN hosts h ON h.name = v.host
                        ORDER BY 1, 2
                        ON CONFLICT (host_id, \(key)) \(conflict)
                        RETURNING 1)
                    SELECT count(*) FROM written
                    """))
        }
        return try await store {
            try await client.withTransaction(logger: logger) { c in
                var written = 0
                for statement in statements {
                    written += Int(try await self.scalar(Int64.self, statement, on: c) ?? 0)
                }
                return written
            }
        }
    }
}
