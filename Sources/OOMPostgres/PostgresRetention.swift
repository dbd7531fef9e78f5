import Logging
public import OOMStore
import PostgresNIO

extension PostgresStore {
    /// Deletes what the policy no longer keeps. Whole days before a cutoff go by dropping
    /// their partitions (no row-by-row delete, no bloat); the few rows of the day that
    /// straddles the cutoff are deleted, and the kill rollups follow both exactly.
    public func applyRetention(_ policy: RetentionPolicy, now: Int64) async throws(StoreError) -> RetentionOutcome {
        func cutoff(_ days: Double) -> Int64 { now - Int64(days * 86_400 * 1_000_000) }
        return try await store {
            var outcome = RetentionOutcome.nothing
            outcome.snapshots = try await prune("snapshots", before: cutoff(policy.snapshotDays))
            // A snapshot's frame and process details outlive it by the hour they may lag (as
            // on SQLite): no kept snapshot names what goes.
            let unnamed = cutoff(policy.snapshotDays) - SnapshotStorage.hour
            _ = try await count(
                "WITH d AS (DELETE FROM snapshot_frames WHERE hour < \(unnamed) RETURNING 1) SELECT count(*) FROM d")
            _ = try await count(
                "WITH d AS (DELETE FROM snapshot_processes WHERE last_seen < \(unnamed) RETURNING 1) SELECT count(*) FROM d"
            )
            // Process runs are samples too: kept as long as raw snapshots.
            _ = try await count(
                """
                WITH d AS (DELETE FROM process_runs WHERE last_time < \(cutoff(policy.snapshotDays)) RETURNING 1)
                SELECT count(*) FROM d
                """)
            outcome.rollups = try await count(
                "WITH d AS (DELETE FROM snapshot_hourly WHERE hour < \(cutoff(policy.rollupDays)) RETURNING 1) SELECT count(*) FROM d"
            )
            outcome.agentCounters = try await count(
                "WITH d AS (DELETE FROM agent_counters WHERE time < \(cutoff(policy.rollupDays)) RETURNING 1) SELECT count(*) FROM d"
            )
            if let days = policy.eventDays {
                outcome.events = try await prune("events", before: cutoff(days))
            }
            outcome.sentAlerts = try await count(
                """
                WITH d AS (DELETE FROM alert_outbox WHERE sent_at IS NOT NULL AND sent_at < \(cutoff(policy.sentAlertDays))
                    RETURNING 1) SELECT count(*) FROM d
                """)
            return outcome
        }
    }

    func count(_ query: PostgresQuery) async throws -> Int {
        Int(try await scalar(Int64.self, query, on: client) ?? 0)
    }

    /// The day partitions of `table`, by day.
    func partitions(of table: String) async throws -> [Int64: String] {
        var out: [Int64: String] = [:]
        for row in try await rows(
            """
            SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass(\(table))
            """, on: client)
        {
            let name: String = try row.get("name")
            if let day = Int64(name.dropFirst(table.count + 2)), name.hasPrefix(table + "_d") { out[day] = name }
        }
        return out
    }

    /// Removes the rows of `table` (events or snapshots) older than `cutoff`; returns how many.
    func prune(_ table: String, before cutoff: Int64) async throws -> Int {
        var deleted = 0
        let cutoffDay = Self.dayOf(cutoff)
        for (day, name) in try await partitions(of: table).sorted(by: { $0.key < $1.key }) where day < cutoffDay {
            deleted += try await client.withTransaction(logger: logger) { c in
                let n =
                    try await scalar(Int64.self, PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(name)"), on: c) ?? 0
                if table == "events" {
                    // The day's rollups and ids go with its partition.
                    try await c.query("DELETE FROM kill_daily WHERE day = \(day)", logger: logger)
                    try await c.query("DELETE FROM advice_daily WHERE day = \(day)", logger: logger)
                    try await c.query(
                        "DELETE FROM event_ids WHERE time >= \(day * Self.day) AND time < \((day + 1) * Self.day)",
                        logger: logger)
                }
                try await c.query(PostgresQuery(unsafeSQL: "DROP TABLE \(name)"), logger: logger)
                return Int(n)
            }
            _ = state.withLock { $0.partitions.remove(name) }
        }
        // What is left before the cutoff: part of one day, and the default partition.
        let rest: PostgresQuery =
            table == "events"
            ? """
            WITH del AS (DELETE FROM events WHERE time < \(cutoff)
                    RETURNING host_id, time, comm, source, scope, unit, container, memcg, rss_kb),
                ids AS (DELETE FROM event_ids WHERE time < \(cutoff)),
                groups AS (SELECT d.dim, d.key, del.time / \(Self.day) AS day, count(*) AS n
                    FROM del CROSS JOIN LATERAL \(unescaped: Self.dimensions(of: "del")) AS d (dim, key)
                    WHERE d.key IS NOT NULL GROUP BY 1, 2, 3),
                dec AS (UPDATE kill_daily k SET kills = k.kills - g.n FROM groups g
                    WHERE k.dim = g.dim AND k.key = g.key AND k.day = g.day),
                advice AS (SELECT del.host_id, a.kind, a.key, del.time / \(Self.day) AS day, count(*) AS n,
                        sum(del.rss_kb)::float8 AS rss, sum(del.rss_kb::float8 * del.rss_kb) AS rss2
                    FROM del CROSS JOIN LATERAL (VALUES ('comm', del.comm), ('memcg', del.memcg),
                        ('global', CASE WHEN del.scope = 'global' THEN '' END)) AS a (kind, key)
                    WHERE a.key IS NOT NULL GROUP BY 1, 2, 3, 4),
                -- As SQLite's delete trigger: counts and sums go down, the day's min, max and
                -- best event stay (the day goes whole with its partition).
                adec AS (UPDATE advice_daily d SET kills = d.kills - a.n, sum_rss = d.sum_rss - a.rss,
                        sum_rss2 = d.sum_rss2 - a.rss2
                    FROM advice a WHERE d.host_id = a.host_id AND d.kind = a.kind AND d.key = a.key AND d.day = a.day)
            SELECT count(*) FROM del
            """
            : "WITH del AS (DELETE FROM snapshots WHERE time < \(cutoff) RETURNING 1) SELECT count(*) FROM del"
        deleted += try await client.withTransaction(logger: logger) { c in
            let n = try await scalar(Int64.self, rest, on: c) ?? 0
            if table == "events" {
                try await c.query("DELETE FROM kill_daily WHERE kills <= 0", logger: logger)
                try await c.query("DELETE FROM advice_daily WHERE kills <= 0", logger: logger)
            }
            return Int(n)
        }
        return deleted
    }
}
