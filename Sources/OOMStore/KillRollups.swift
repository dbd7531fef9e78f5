import GRDB

/// The kill rollups the summary reads: running totals per report dimension
/// (`kill_totals`), kills per UTC day (`kill_days`), kills per dimension per day
/// (`kill_daily`), and the `/metrics` kill counters per host, source and scope
/// (`kill_counters`), which only ever grow: retention does not touch them.
///
/// The writer folds the kills stored since `rollup_mark` into them in a few upserts (one
/// row per group, not one per event and group as the per-row triggers of v2 did), after
/// the ingest's COMMIT (`RollupFold`); deletions (retention) still go through a trigger.
/// Anything else that inserts events and builds the rollups itself must move the mark.
struct KillRollups {
    /// One report dimension's group: `dim` is `host`, `comm`, `hostcomm`, `source`,
    /// `scope`, `unit` or `container`.
    struct Group: Hashable {
        var dim: String
        var key: String
    }
    /// One `oomwatch_kills_total` series.
    struct Counter: Hashable {
        var hostID: Int64
        var source: String
        var scope: String
    }
    struct DayGroup: Hashable {
        var group: Group
        var day: Int64
    }
    struct Cell {
        var kills = 0
        var last = Int64.min
        mutating func add(_ time: Int64, kills n: Int = 1) {
            kills += n
            last = max(last, time)
        }
    }

    static let day: Int64 = 86_400_000_000

    private(set) var totals: [Group: Cell] = [:]
    private(set) var daily: [DayGroup: Cell] = [:]
    private(set) var days: [Int64: Int] = [:]
    private(set) var counters: [Counter: Int] = [:]

    var isEmpty: Bool { days.isEmpty }

    /// The groups a kill counts in, in the order of `dimensions`.
    static func groups(
        hostID: Int64, comm: String, source: String, scope: String?, unit: String?, container: String?
    ) -> [Group] {
        var g = [
            Group(dim: "host", key: String(hostID)), Group(dim: "comm", key: comm),
            Group(dim: "hostcomm", key: "\(hostID)\t\(comm)"), Group(dim: "source", key: source),
            Group(dim: "scope", key: scope ?? "unknown"),
        ]
        if let unit { g.append(Group(dim: "unit", key: unit)) }
        if let container { g.append(Group(dim: "container", key: container)) }
        return g
    }

    /// Counts one newly stored kill.
    mutating func add(
        hostID: Int64, time: Int64, comm: String, source: String, scope: String?, unit: String?,
        container: String?
    ) {
        // SQLite's integer division truncates like Swift's: the same day as `time / 86400000000`.
        let d = time / Self.day
        days[d, default: 0] += 1
        counters[Counter(hostID: hostID, source: source, scope: scope ?? "unknown"), default: 0] += 1
        for g in Self.groups(
            hostID: hostID, comm: comm, source: source, scope: scope, unit: unit, container: container)
        {
            totals[g, default: Cell()].add(time)
            daily[DayGroup(group: g, day: d), default: Cell()].add(time)
        }
    }

    /// Writes the counts into the rollup tables (inside the caller's transaction).
    func apply(_ db: Database) throws {
        guard !isEmpty else { return }
        let total = try db.cachedStatement(
            sql: """
                INSERT INTO kill_totals (dim, key, kills, last_time) VALUES (?, ?, ?, ?)
                ON CONFLICT DO UPDATE SET kills = kills + excluded.kills,
                    last_time = max(last_time, excluded.last_time)
                """)
        for (g, c) in totals { try total.execute(binding: g.dim, g.key, c.kills, c.last) }
        let daily = try db.cachedStatement(
            sql: """
                INSERT INTO kill_daily (dim, key, day, kills, last_time) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT DO UPDATE SET kills = kills + excluded.kills,
                    last_time = max(last_time, excluded.last_time)
                """)
        for (g, c) in self.daily {
            try daily.execute(binding: g.group.dim, g.group.key, g.day, c.kills, c.last)
        }
        let days = try db.cachedStatement(
            sql: """
                INSERT INTO kill_days (day, kills) VALUES (?, ?)
                ON CONFLICT DO UPDATE SET kills = kills + excluded.kills
                """)
        for (d, n) in self.days { try days.execute(binding: d, n) }
        let counters = try db.cachedStatement(
            sql: """
                INSERT INTO kill_counters (host_id, source, scope, kills) VALUES (?, ?, ?, ?)
                ON CONFLICT DO UPDATE SET kills = kills + excluded.kills
                """)
        for (c, n) in self.counters { try counters.execute(binding: c.hostID, c.source, c.scope, n) }
    }

    /// Each dimension's key as an SQL expression over `events` (or a trigger's `OLD`
    /// row when `row` is `OLD.`).
    static func keyExpressions(row: String = "") -> [(dim: String, expr: String)] {
        [
            ("host", "CAST(\(row)host_id AS TEXT)"), ("comm", "\(row)comm"),
            ("hostcomm", "\(row)host_id || char(9) || \(row)comm"), ("source", "\(row)source"),
            ("scope", "coalesce(\(row)scope, 'unknown')"), ("unit", "\(row)unit"),
            ("container", "\(row)container"),
        ]
    }

    /// Recomputes every rollup from the events table (migrations, bulk loads).
    static func rebuild(_ db: Database) throws {
        try db.execute(sql: "DELETE FROM kill_totals; DELETE FROM kill_daily; DELETE FROM kill_days")
        for (dim, expr) in keyExpressions() {
            try db.execute(
                sql: """
                    INSERT INTO kill_totals (dim, key, kills, last_time)
                        SELECT ?, \(expr), count(*), max(time) FROM events
                        WHERE \(expr) IS NOT NULL GROUP BY 2;
                    INSERT INTO kill_daily (dim, key, day, kills, last_time)
                        SELECT ?, \(expr), time / 86400000000, count(*), max(time) FROM events
                        WHERE \(expr) IS NOT NULL GROUP BY 2, 3;
                    """, arguments: [dim, dim])
        }
        try db.execute(
            sql: "INSERT INTO kill_days SELECT time / 86400000000, count(*) FROM events GROUP BY 1")
    }

    /// Migration v6-event-ingest: per-day rollups per dimension, rollups written by the
    /// ingest writer instead of a per-row insert trigger, and one index fewer on events.
    static func migrate(_ db: Database) throws {
        let matches = keyExpressions(row: "OLD.").map { "(dim = '\($0.dim)' AND key = \($0.expr))" }
            .joined(separator: "\n        OR ")
        try db.execute(
            sql: """
                CREATE TABLE kill_daily (
                    dim TEXT NOT NULL,
                    key TEXT NOT NULL,
                    day INTEGER NOT NULL,
                    kills INTEGER NOT NULL,
                    last_time INTEGER NOT NULL,
                    -- One group's days are adjacent: a window's count for a group is one
                    -- short range, and a dimension streams in key order for GROUP BY.
                    PRIMARY KEY (dim, key, day)
                ) WITHOUT ROWID;
                DROP TRIGGER events_rollup_insert;
                DROP TRIGGER events_rollup_delete;
                CREATE TRIGGER events_rollup_delete AFTER DELETE ON events BEGIN
                    UPDATE kill_totals SET kills = kills - 1 WHERE \(matches);
                    UPDATE kill_daily SET kills = kills - 1 WHERE day = OLD.time / 86400000000
                        AND (\(matches));
                    UPDATE kill_days SET kills = kills - 1 WHERE day = OLD.time / 86400000000;
                END;
                -- The summary reads source and scope from the rollups; the events list
                -- filters on them walking events_time_cover, which holds both.
                DROP INDEX events_source;
                """)
        try rebuild(db)
    }
}

extension KillRollups {
    /// Migration v7-ingest-fast: the advice rollups are written by the ingest writer, one
    /// upsert per group and round (`AdviceRollups`), instead of by per-row insert triggers
    /// doing three upserts per kill in each table; their delete triggers stay for retention.
    /// `events_time` goes: `events_time_cover` starts with the same column, so every range
    /// on time reads that one, and each kill updates one index fewer.
    ///
    /// Nothing is converted: the rollups the triggers kept are the ones the writer adds to.
    static func migrateIngestFast(_ db: Database) throws {
        try db.execute(
            sql: """
                DROP TRIGGER IF EXISTS events_advice_insert;
                DROP TRIGGER IF EXISTS events_advice_groups_insert;
                DROP INDEX IF EXISTS events_time;
                """)
    }
}

extension KillRollups {
    /// Migration v7-fix17-kill-counters: `/metrics`' `oomwatch_kills_total` from a table
    /// of running totals per (host, source, scope) that the ingest writer adds to and
    /// retention never shrinks (a counter that went down when old events were deleted
    /// read as a reset to Prometheus, and `increase()` fired for kills that never
    /// happened). Filled from the events the database still holds.
    static func migrateKillCounters(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE kill_counters (
                    host_id INTEGER NOT NULL,
                    source TEXT NOT NULL,
                    scope TEXT NOT NULL,
                    kills INTEGER NOT NULL,
                    PRIMARY KEY (host_id, source, scope)
                ) WITHOUT ROWID;
                INSERT INTO kill_counters (host_id, source, scope, kills)
                    SELECT host_id, source, coalesce(scope, 'unknown'), count(*) FROM events
                    GROUP BY 1, 2, 3;
                """)
    }
}
