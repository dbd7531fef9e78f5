import GRDB

/// The tables advice reads (migration v4): per-day kill rollups by process name, memory
/// cgroup and global scope, kept by triggers like `kill_days`; one row per process
/// lifetime with running sums of its RSS samples (for leak slopes); and each host's
/// latest system facts.
enum AdviceSchema {
    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE events ADD COLUMN memcg TEXT;
                ALTER TABLE events ADD COLUMN memcg_usage_kb INTEGER;
                ALTER TABLE events ADD COLUMN memcg_limit_kb INTEGER;
                -- The largest process the victim's oom_score_adj ranking spared (adj <= -100).
                ALTER TABLE events ADD COLUMN shield_name TEXT;
                ALTER TABLE events ADD COLUMN shield_rss_kb INTEGER;
                ALTER TABLE events ADD COLUMN shield_adj INTEGER;
                ALTER TABLE hosts ADD COLUMN system_json TEXT;
                ALTER TABLE hosts ADD COLUMN system_time INTEGER;
                UPDATE events SET memcg = json_extract(json, '$.memcg.oom'),
                    memcg_usage_kb = json_extract(json, '$.memcg.usage_kb'),
                    memcg_limit_kb = json_extract(json, '$.memcg.limit_kb')
                    WHERE scope = 'memcg';
                -- Evidence: a group's latest kills, newest first.
                CREATE INDEX events_memcg ON events(host_id, memcg, time) WHERE memcg IS NOT NULL;
                CREATE INDEX events_global ON events(host_id, time) WHERE scope = 'global';

                CREATE TABLE advice_daily (
                    day INTEGER NOT NULL,
                    \(groupColumns)
                    -- Global kills: the one with the largest shielded process per victim RSS.
                    best_ratio REAL,
                    best_event TEXT,
                    -- The day's latest kill of the group: evidence without reading events.
                    last_event TEXT NOT NULL DEFAULT '',
                    last_comm TEXT,
                    -- Group order: a window's GROUP BY streams in key order, no sort.
                    PRIMARY KEY (host_id, kind, key, day)
                ) WITHOUT ROWID;
                -- Retention by age.
                CREATE INDEX advice_daily_day ON advice_daily(day);
                """)
        // One upsert per group a kill belongs to; `g` is the group's (kind, key).
        func upsert(_ kind: String, key: String, when: String) -> String {
            """
            INSERT INTO advice_daily SELECT NEW.time / 86400000000, NEW.host_id, '\(kind)', \(key),
                1, NEW.time, NEW.time, NEW.rss_kb, NEW.rss_kb * 1.0 * NEW.rss_kb, NEW.rss_kb, NEW.rss_kb,
                NEW.memcg_usage_kb, NEW.memcg_limit_kb,
                NEW.shield_rss_kb * 1.0 / max(NEW.rss_kb, 1),
                CASE WHEN NEW.shield_rss_kb IS NULL THEN NULL ELSE NEW.event_id END,
                NEW.event_id, NEW.comm
                WHERE \(when)
                ON CONFLICT DO UPDATE SET \(mergeSQL),
                    limit_kb = coalesce(excluded.limit_kb, limit_kb),
                    last_event = CASE WHEN excluded.last_time >= last_time
                        THEN excluded.last_event ELSE last_event END,
                    last_comm = CASE WHEN excluded.last_time >= last_time
                        THEN excluded.last_comm ELSE last_comm END;
            """
        }
        try db.execute(
            sql: """
                CREATE TRIGGER events_advice_insert AFTER INSERT ON events BEGIN
                \(upsert("comm", key: "NEW.comm", when: "1"))
                \(upsert("memcg", key: "NEW.memcg", when: "NEW.memcg IS NOT NULL"))
                \(upsert("global", key: "''", when: "NEW.scope = 'global'"))
                END;
                -- Deleted kills leave the counts and sums; min, max and the best event of a
                -- day stay as they were (a day is deleted whole by retention in practice).
                CREATE TRIGGER events_advice_delete AFTER DELETE ON events BEGIN
                    UPDATE advice_daily SET kills = kills - 1, sum_rss = sum_rss - OLD.rss_kb,
                        sum_rss2 = sum_rss2 - OLD.rss_kb * 1.0 * OLD.rss_kb
                    WHERE day = OLD.time / 86400000000 AND host_id = OLD.host_id AND (
                        (kind = 'comm' AND key = OLD.comm)
                        OR (kind = 'memcg' AND key = OLD.memcg)
                        OR (kind = 'global' AND key = '' AND OLD.scope = 'global'));
                END;
                INSERT INTO advice_daily
                    SELECT time / 86400000000, host_id, 'comm', comm, count(*), min(time), max(time),
                        sum(rss_kb), sum(rss_kb * 1.0 * rss_kb), min(rss_kb), max(rss_kb),
                        max(memcg_usage_kb), max(memcg_limit_kb), NULL, NULL, '', NULL
                    FROM events GROUP BY 1, 2, 4;
                INSERT INTO advice_daily
                    SELECT time / 86400000000, host_id, 'memcg', memcg, count(*), min(time), max(time),
                        sum(rss_kb), sum(rss_kb * 1.0 * rss_kb), min(rss_kb), max(rss_kb),
                        max(memcg_usage_kb), max(memcg_limit_kb), NULL, NULL, '', NULL
                    FROM events WHERE memcg IS NOT NULL GROUP BY 1, 2, 4;
                INSERT INTO advice_daily
                    SELECT time / 86400000000, host_id, 'global', '', count(*), min(time), max(time),
                        sum(rss_kb), sum(rss_kb * 1.0 * rss_kb), min(rss_kb), max(rss_kb), NULL, NULL,
                        NULL, NULL, '', NULL
                    FROM events WHERE scope = 'global' GROUP BY 1, 2;

                CREATE TABLE process_runs (
                    host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    comm TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    -- The process's start time (µs), so a reused pid is a new run.
                    started INTEGER NOT NULL,
                    first_time INTEGER NOT NULL,
                    last_time INTEGER NOT NULL,
                    first_rss INTEGER NOT NULL,
                    last_rss INTEGER NOT NULL,
                    samples INTEGER NOT NULL,
                    -- Sums over samples of t (s since first_time), r (kB), t², t·r, r².
                    sum_t REAL NOT NULL,
                    sum_r REAL NOT NULL,
                    sum_tt REAL NOT NULL,
                    sum_tr REAL NOT NULL,
                    sum_rr REAL NOT NULL,
                    PRIMARY KEY (host_id, comm, pid, started)
                ) WITHOUT ROWID;
                CREATE INDEX process_runs_last ON process_runs(last_time);
                """)
    }

    /// Migration v6: `advice_groups`, the kill groups of `advice_daily` over the whole
    /// retention (one row per host × kind × key, so far fewer rows than events or days).
    /// Advice takes a group from it whole when all the group's kills fall in the window,
    /// and reads `advice_daily` only for the groups that straddle the window's start.
    static func migrateGroups(_ db: Database) throws {
        func upsert(_ kind: String, key: String, when: String) -> String {
            """
            INSERT INTO advice_groups SELECT NEW.host_id, '\(kind)', \(key), 1, NEW.time, NEW.time,
                NEW.rss_kb, NEW.rss_kb * 1.0 * NEW.rss_kb, NEW.rss_kb, NEW.rss_kb,
                NEW.memcg_usage_kb, NEW.memcg_limit_kb, NEW.shield_rss_kb * 1.0 / max(NEW.rss_kb, 1),
                CASE WHEN NEW.shield_rss_kb IS NULL THEN NULL ELSE NEW.event_id END, 0
                WHERE \(when)
                ON CONFLICT DO UPDATE SET \(mergeSQL),
                    limit_kb = max(coalesce(limit_kb, excluded.limit_kb), coalesce(excluded.limit_kb, limit_kb));
            """
        }
        // A deleted kill leaves the counts and sums and marks its group stale: advice
        // reads a stale group from `advice_daily` until retention has refreshed its first
        // time, min, max and best event from the days left (`refreshStaleGroupsSQL`).
        func remove(_ kind: String, key: String, when: String) -> String {
            """
            UPDATE advice_groups SET kills = kills - 1, sum_rss = sum_rss - OLD.rss_kb,
                sum_rss2 = sum_rss2 - OLD.rss_kb * 1.0 * OLD.rss_kb, stale = 1
            WHERE host_id = OLD.host_id AND kind = '\(kind)' AND key = \(key) AND \(when);
            DELETE FROM advice_groups
            WHERE host_id = OLD.host_id AND kind = '\(kind)' AND key = \(key) AND kills <= 0;
            """
        }
        func rebuild(_ kind: String, key: String, groupBy: String, when: String) -> String {
            """
            INSERT INTO advice_groups
                SELECT host_id, '\(kind)', \(key), count(*), min(time), max(time), sum(rss_kb),
                    sum(rss_kb * 1.0 * rss_kb), min(rss_kb), max(rss_kb), max(memcg_usage_kb), max(memcg_limit_kb),
                    max(shield_rss_kb * 1.0 / max(rss_kb, 1)), NULL, 0
                FROM events WHERE \(when) GROUP BY host_id\(groupBy);
            """
        }
        try db.execute(
            sql: """
                CREATE TABLE advice_groups (
                    \(groupColumns)
                    best_ratio REAL,
                    best_event TEXT,
                    -- 1 once a kill of the group was deleted, until retention refreshes it.
                    stale INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (host_id, kind, key)
                ) WITHOUT ROWID;
                CREATE INDEX advice_groups_stale ON advice_groups(stale) WHERE stale = 1;
                CREATE TRIGGER events_advice_groups_insert AFTER INSERT ON events BEGIN
                \(upsert("comm", key: "NEW.comm", when: "1"))
                \(upsert("memcg", key: "NEW.memcg", when: "NEW.memcg IS NOT NULL"))
                \(upsert("global", key: "''", when: "NEW.scope = 'global'"))
                END;
                CREATE TRIGGER events_advice_groups_delete AFTER DELETE ON events BEGIN
                \(remove("comm", key: "OLD.comm", when: "1"))
                \(remove("memcg", key: "OLD.memcg", when: "OLD.memcg IS NOT NULL"))
                \(remove("global", key: "''", when: "OLD.scope = 'global'"))
                END;
                \(rebuild("comm", key: "comm", groupBy: ", comm", when: "1"))
                \(rebuild("memcg", key: "memcg", groupBy: ", memcg", when: "memcg IS NOT NULL"))
                \(rebuild("global", key: "''", groupBy: "", when: "scope = 'global'"))
                -- The event behind each host's worst shielded kill.
                UPDATE advice_groups SET best_event = (
                    SELECT event_id FROM events INDEXED BY events_host_time
                    WHERE host_id = advice_groups.host_id AND scope = 'global'
                        AND shield_rss_kb * 1.0 / max(rss_kb, 1) >= advice_groups.best_ratio LIMIT 1)
                WHERE kind = 'global' AND best_ratio IS NOT NULL;
                """)
    }

    /// Migration v8: each group's evidence days in `advice_groups.recent`, so advice takes
    /// a whole group's latest kills with its row instead of reading its `advice_daily` days
    /// (a subquery per cgroup and critical service, about a seventh of a fleet's advice).
    static func migrateRecent(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE advice_groups ADD COLUMN recent TEXT;
                UPDATE advice_groups SET recent = \(recentSQL) WHERE kind <> 'global';
                """)
    }

    /// A group's newest `adviceRecentKills` kill days, newest first, each day's latest kill
    /// as `event_id` char(30) `comm`, joined by char(31) (NULL without any): as advice quotes
    /// them, for the `advice_groups` row being written. Kept for cgroups and process names
    /// (a global group's evidence is read for its findings only: `addEvidence`).
    static let recentSQL = """
        (SELECT group_concat(last_event || char(30) || last_comm, char(31)) FROM (
                SELECT d.last_event, coalesce(d.last_comm, '') AS last_comm FROM advice_daily d
                WHERE d.host_id = advice_groups.host_id AND d.kind = advice_groups.kind
                    AND d.key = advice_groups.key AND d.kills > 0 AND d.last_event <> ''
                ORDER BY d.day DESC LIMIT \(OOMDatabase.adviceRecentKills)))
        """

    /// Retention, after deleting kills and the days they left empty: the stale groups'
    /// first time, min, max, limit, best event and evidence days again from the days left,
    /// as advice reads them from `advice_daily`.
    static let refreshStaleGroupsSQL = """
        UPDATE advice_groups SET best_event = (
            SELECT d.best_event FROM advice_daily d
            WHERE d.host_id = advice_groups.host_id AND d.kind = advice_groups.kind AND d.key = advice_groups.key
                AND d.kills > 0
            ORDER BY d.best_ratio DESC LIMIT 1)
        WHERE stale = 1 AND kind = 'global';
        UPDATE advice_groups SET recent = \(recentSQL) WHERE stale = 1 AND kind <> 'global';
        UPDATE advice_groups SET (first_time, min_rss, max_rss, max_usage_kb, limit_kb, best_ratio, stale) = (
            SELECT coalesce(min(d.first_time), advice_groups.first_time),
                coalesce(min(d.min_rss), advice_groups.min_rss), coalesce(max(d.max_rss), advice_groups.max_rss),
                max(d.max_usage_kb), max(d.limit_kb), max(d.best_ratio), 0
            FROM advice_daily d
            WHERE d.host_id = advice_groups.host_id AND d.kind = advice_groups.kind AND d.key = advice_groups.key
                AND d.kills > 0)
        WHERE stale = 1;
        """

    /// The columns of a kill group both rollups keep (`advice_daily` per day,
    /// `advice_groups` over the retention).
    static let groupColumns = """
        host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                            kind TEXT NOT NULL CHECK (kind IN ('comm', 'memcg', 'global')),
                            key TEXT NOT NULL,
                            kills INTEGER NOT NULL,
                            first_time INTEGER NOT NULL,
                            last_time INTEGER NOT NULL,
                            sum_rss REAL NOT NULL,
                            sum_rss2 REAL NOT NULL,
                            min_rss INTEGER NOT NULL,
                            max_rss INTEGER NOT NULL,
                            max_usage_kb INTEGER,
                            limit_kb INTEGER,
        """

    /// How an upsert folds one kill (`excluded`) into a rollup row, for every column
    /// `advice_daily` and `advice_groups` share but the limit.
    static let mergeSQL = """
        kills = kills + excluded.kills,
            first_time = min(first_time, excluded.first_time),
            last_time = max(last_time, excluded.last_time),
            sum_rss = sum_rss + excluded.sum_rss, sum_rss2 = sum_rss2 + excluded.sum_rss2,
            min_rss = min(min_rss, excluded.min_rss), max_rss = max(max_rss, excluded.max_rss),
            max_usage_kb = max(coalesce(max_usage_kb, excluded.max_usage_kb),
                coalesce(excluded.max_usage_kb, max_usage_kb)),
            best_event = CASE WHEN coalesce(excluded.best_ratio, -1) > coalesce(best_ratio, -1)
                THEN excluded.best_event ELSE best_event END,
            best_ratio = max(coalesce(best_ratio, excluded.best_ratio),
                coalesce(excluded.best_ratio, best_ratio))
        """

    /// Adds a batch's samples of one process run, summed (a `ProcessRun` from
    /// `AdviceColumns.storeRuns`: times relative to the batch's first sample `f'`), bound
    /// by position in column order. For a stored run starting at `f`, each sample's t is
    /// its t' + d with d = (f' − f) / 1e6, so Σt = Σt' + n·d, Σt² = Σt'² + 2d·Σt' + n·d²,
    /// Σt·r = Σt'·r + d·Σr. The same rows as one upsert per sample
    /// (`AdviceFastTests.batchedRunSamplesSumAsOneAtATime` keeps that statement as the
    /// definition), to the bit for one sample.
    static let runSamplesSQL = """
        INSERT INTO process_runs (host_id, comm, pid, started, first_time, last_time, first_rss, last_rss,
            samples, sum_t, sum_r, sum_tt, sum_tr, sum_rr)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
        ON CONFLICT DO UPDATE SET
            samples = samples + excluded.samples,
            last_time = max(last_time, excluded.last_time),
            last_rss = CASE WHEN excluded.last_time >= last_time THEN excluded.last_rss ELSE last_rss END,
            sum_t = sum_t + excluded.sum_t + excluded.samples * ((excluded.first_time - first_time) / 1e6),
            sum_r = sum_r + excluded.sum_r,
            sum_tt = sum_tt + excluded.sum_tt + 2 * ((excluded.first_time - first_time) / 1e6) * excluded.sum_t
                + excluded.samples * ((excluded.first_time - first_time) / 1e6)
                    * ((excluded.first_time - first_time) / 1e6),
            sum_tr = sum_tr + excluded.sum_tr + ((excluded.first_time - first_time) / 1e6) * excluded.sum_r,
            sum_rr = sum_rr + excluded.sum_rr
        """
}
