import GRDB

/// The schema, as migrations that are only ever appended: a database written by an older
/// collector is upgraded in place, never rebuilt.
///
/// Times are integer microseconds since the Unix epoch (sortable, exact); sizes are kB.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE hosts (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 253),
                        first_seen INTEGER NOT NULL,
                        last_seen INTEGER NOT NULL,
                        boot_id TEXT,
                        agent_version TEXT,
                        interval_s REAL NOT NULL DEFAULT 30 CHECK (interval_s > 0),
                        kernel TEXT,
                        agent_json TEXT,
                        -- The newest snapshot, denormalized so host lists and "at risk"
                        -- never touch the (large) snapshots table.
                        snapshot_time INTEGER,
                        total_kb INTEGER,
                        available_kb INTEGER,
                        full_avg60 REAL,
                        memory_json TEXT,
                        pressure_json TEXT,
                        processes_json TEXT
                    );

                    CREATE TABLE events (
                        id INTEGER PRIMARY KEY,
                        event_id TEXT NOT NULL UNIQUE CHECK (length(event_id) BETWEEN 1 AND 128),
                        host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                        -- The kill's wall-clock time, or when the collector received it.
                        time INTEGER NOT NULL,
                        source TEXT NOT NULL
                            CHECK (source IN ('kernel', 'systemd-oomd', 'earlyoom')),
                        scope TEXT CHECK (scope IN ('global', 'memcg', 'cpuset', 'mempolicy')),
                        comm TEXT NOT NULL,
                        pid INTEGER NOT NULL,
                        unit TEXT,
                        container TEXT,
                        rss_kb INTEGER NOT NULL CHECK (rss_kb >= 0),
                        received INTEGER NOT NULL,
                        json TEXT NOT NULL
                    );
                    -- Listing newest first; keyset pagination on (time, id).
                    CREATE INDEX events_time ON events(time);
                    -- Host filter and kills per host.
                    CREATE INDEX events_host_time ON events(host_id, time);
                    -- Per-comm report and repeat offenders (comm, host) read only this index.
                    CREATE INDEX events_comm ON events(comm, host_id, time);
                    CREATE INDEX events_unit ON events(unit, time) WHERE unit IS NOT NULL;
                    CREATE INDEX events_container ON events(container, time)
                        WHERE container IS NOT NULL;
                    CREATE INDEX events_source ON events(source, scope, time);
                    -- Largest victims: walk backwards, checking time inside the index.
                    CREATE INDEX events_rss ON events(rss_kb, time);

                    CREATE TABLE snapshots (
                        id INTEGER PRIMARY KEY,
                        host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                        time INTEGER NOT NULL,
                        total_kb INTEGER,
                        available_kb INTEGER,
                        free_kb INTEGER,
                        cached_kb INTEGER,
                        anon_kb INTEGER,
                        shmem_kb INTEGER,
                        swap_total_kb INTEGER,
                        swap_free_kb INTEGER,
                        some_avg10 REAL,
                        some_avg60 REAL,
                        full_avg10 REAL,
                        full_avg60 REAL,
                        oom_kill INTEGER,
                        json TEXT NOT NULL,
                        -- A re-sent snapshot is a no-op, like a re-sent event.
                        UNIQUE (host_id, time)
                    );
                    -- Retention deletes by age across all hosts.
                    CREATE INDEX snapshots_time ON snapshots(time);

                    -- One row per host and hour, kept long after raw snapshots expire.
                    CREATE TABLE snapshot_hourly (
                        host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                        hour INTEGER NOT NULL,
                        samples INTEGER NOT NULL CHECK (samples > 0),
                        pressure_samples INTEGER NOT NULL DEFAULT 0,
                        sum_total_kb INTEGER NOT NULL DEFAULT 0,
                        sum_available_kb INTEGER NOT NULL DEFAULT 0,
                        min_available_kb INTEGER,
                        sum_free_kb INTEGER NOT NULL DEFAULT 0,
                        sum_cached_kb INTEGER NOT NULL DEFAULT 0,
                        sum_anon_kb INTEGER NOT NULL DEFAULT 0,
                        sum_shmem_kb INTEGER NOT NULL DEFAULT 0,
                        sum_swap_total_kb INTEGER NOT NULL DEFAULT 0,
                        sum_swap_free_kb INTEGER NOT NULL DEFAULT 0,
                        sum_some_avg10 REAL NOT NULL DEFAULT 0,
                        sum_some_avg60 REAL NOT NULL DEFAULT 0,
                        sum_full_avg10 REAL NOT NULL DEFAULT 0,
                        sum_full_avg60 REAL NOT NULL DEFAULT 0,
                        max_oom_kill INTEGER,
                        PRIMARY KEY (host_id, hour)
                    ) WITHOUT ROWID;
                    CREATE INDEX snapshot_hourly_hour ON snapshot_hourly(hour);

                    -- Every agent counter report, for loss over time (kept like rollups).
                    CREATE TABLE agent_counters (
                        host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                        time INTEGER NOT NULL,
                        dropped_snapshots INTEGER,
                        dropped_events INTEGER,
                        corrupt_records INTEGER,
                        kmsg_overruns INTEGER,
                        kmsg_missed_records INTEGER,
                        unattributed_kills INTEGER,
                        source_errors INTEGER,
                        PRIMARY KEY (host_id, time)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v2-kill-rollups") { db in
            // Running totals per report dimension and per UTC day, kept by triggers so every
            // writer (and every restore or manual insert) keeps them right. A report over
            // most of the history subtracts the few events outside its window instead of
            // scanning a million rows.
            try db.execute(
                sql: """
                    CREATE TABLE kill_totals (
                        dim TEXT NOT NULL,
                        key TEXT NOT NULL,
                        kills INTEGER NOT NULL,
                        last_time INTEGER NOT NULL,
                        PRIMARY KEY (dim, key)
                    ) WITHOUT ROWID;
                    CREATE TABLE kill_days (
                        day INTEGER PRIMARY KEY,
                        kills INTEGER NOT NULL
                    );
                    -- Listing newest first and the few rows outside a report's window.
                    CREATE INDEX events_time_cover
                        ON events(time, host_id, comm, source, scope, unit, container);
                    CREATE TRIGGER events_rollup_insert AFTER INSERT ON events BEGIN
                        INSERT INTO kill_totals VALUES ('host', NEW.host_id, 1, NEW.time)
                            ON CONFLICT DO UPDATE SET kills = kills + 1,
                                last_time = max(last_time, excluded.last_time);
                        INSERT INTO kill_totals VALUES ('comm', NEW.comm, 1, NEW.time)
                            ON CONFLICT DO UPDATE SET kills = kills + 1,
                                last_time = max(last_time, excluded.last_time);
                        INSERT INTO kill_totals
                            VALUES ('hostcomm', NEW.host_id || char(9) || NEW.comm, 1, NEW.time)
                            ON CONFLICT DO UPDATE SET kills = kills + 1,
                                last_time = max(last_time, excluded.last_time);
                        INSERT INTO kill_totals VALUES ('source', NEW.source, 1, NEW.time)
                            ON CONFLICT DO UPDATE SET kills = kills + 1,
                                last_time = max(last_time, excluded.last_time);
                        INSERT INTO kill_totals
                            VALUES ('scope', coalesce(NEW.scope, 'unknown'), 1, NEW.time)
                            ON CONFLICT DO UPDATE SET kills = kills + 1,
                                last_time = max(last_time, excluded.last_time);
                        INSERT INTO kill_totals SELECT 'unit', NEW.unit, 1, NEW.time
                            WHERE NEW.unit IS NOT NULL
                            ON CONFLICT DO UPDATE SET kills = kills + 1,
                                last_time = max(last_time, excluded.last_time);
                        INSERT INTO kill_totals SELECT 'container', NEW.container, 1, NEW.time
                            WHERE NEW.container IS NOT NULL
                            ON CONFLICT DO UPDATE SET kills = kills + 1,
                                last_time = max(last_time, excluded.last_time);
                        INSERT INTO kill_days VALUES (NEW.time / 86400000000, 1)
                            ON CONFLICT DO UPDATE SET kills = kills + 1;
                    END;
                    CREATE TRIGGER events_rollup_delete AFTER DELETE ON events BEGIN
                        UPDATE kill_totals SET kills = kills - 1 WHERE
                            (dim = 'host' AND key = CAST(OLD.host_id AS TEXT))
                            OR (dim = 'comm' AND key = OLD.comm)
                            OR (dim = 'hostcomm' AND key = OLD.host_id || char(9) || OLD.comm)
                            OR (dim = 'source' AND key = OLD.source)
                            OR (dim = 'scope' AND key = coalesce(OLD.scope, 'unknown'))
                            OR (dim = 'unit' AND key = OLD.unit)
                            OR (dim = 'container' AND key = OLD.container);
                        UPDATE kill_days SET kills = kills - 1 WHERE day = OLD.time / 86400000000;
                    END;
                    INSERT INTO kill_totals
                        SELECT 'host', host_id, count(*), max(time) FROM events GROUP BY host_id;
                    INSERT INTO kill_totals
                        SELECT 'comm', comm, count(*), max(time) FROM events GROUP BY comm;
                    INSERT INTO kill_totals
                        SELECT 'hostcomm', host_id || char(9) || comm, count(*), max(time)
                        FROM events GROUP BY host_id, comm;
                    INSERT INTO kill_totals
                        SELECT 'source', source, count(*), max(time) FROM events GROUP BY source;
                    INSERT INTO kill_totals
                        SELECT 'scope', coalesce(scope, 'unknown'), count(*), max(time)
                        FROM events GROUP BY 2;
                    INSERT INTO kill_totals
                        SELECT 'unit', unit, count(*), max(time) FROM events
                        WHERE unit IS NOT NULL GROUP BY unit;
                    INSERT INTO kill_totals
                        SELECT 'container', container, count(*), max(time) FROM events
                        WHERE container IS NOT NULL GROUP BY container;
                    INSERT INTO kill_days
                        SELECT time / 86400000000, count(*) FROM events GROUP BY 1;
                    """)
        }
        migrator.registerMigration("v3-kill-totals-rank") { db in
            // The largest groups of a dimension without reading all of them.
            try db.execute(sql: "CREATE INDEX kill_totals_rank ON kill_totals(dim, kills)")
        }
        migrator.registerMigration("v4-advice", migrate: AdviceSchema.migrate)
        migrator.registerMigration("v5-alert-outbox") { db in
            // Notifications written in the transaction that stores their kill, deleted
            // never (retention aside): the delivery loop reads unsent rows in id order.
            try db.execute(
                sql: """
                    CREATE TABLE alert_outbox (
                        id INTEGER PRIMARY KEY,
                        kind TEXT NOT NULL CHECK (kind IN ('kill', 'test', 'stale',
                            'stale_resolved', 'pressure', 'pressure_resolved')),
                        receiver TEXT NOT NULL,
                        route INTEGER NOT NULL,
                        event_id TEXT NOT NULL,
                        host TEXT NOT NULL,
                        time INTEGER NOT NULL,
                        source TEXT NOT NULL,
                        scope TEXT,
                        comm TEXT NOT NULL,
                        pid INTEGER NOT NULL,
                        unit TEXT,
                        container TEXT,
                        rss_kb INTEGER NOT NULL,
                        created INTEGER NOT NULL,
                        -- The group this row belongs to may go out from here on.
                        due INTEGER NOT NULL,
                        sent_at INTEGER,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt INTEGER NOT NULL,
                        last_error TEXT,
                        idempotency_key TEXT,
                        -- Host conditions (stale, pressure): what the message says.
                        detail TEXT,
                        -- A collector sending this row holds it until then, so that
                        -- collectors sharing the database never send it twice.
                        claim_until INTEGER,
                        UNIQUE (receiver, route, event_id)
                    );
                    CREATE INDEX alert_outbox_unsent ON alert_outbox(id)
                        WHERE sent_at IS NULL;
                    """)
        }
        migrator.registerMigration("v6-snapshot-store", migrate: SnapshotStorage.migrate)
        migrator.registerMigration("v6-event-ingest", migrate: KillRollups.migrate)
        migrator.registerMigration("v6-advice-speed", migrate: AdviceSchema.migrateGroups)
        migrator.registerMigration("v7-ingest-fast", migrate: KillRollups.migrateIngestFast)
        migrator.registerMigration("v7-fix17-kill-counters", migrate: KillRollups.migrateKillCounters)
        migrator.registerMigration("v7-fix17-alert-windows") { db in
            // A kill's notification looks up the grouping window open for its receiver,
            // route and host: the latest row sent at once (`due = created`).
            try db.execute(
                sql: """
                    CREATE INDEX alert_outbox_windows ON alert_outbox(receiver, route, host, created)
                        WHERE kind = 'kill' AND due = created
                    """)
        }
        migrator.registerMigration("v8-advice-recent", migrate: AdviceSchema.migrateRecent)
        migrator.registerMigration("v9-upload-interval") { db in
            // The agent's upload interval (NULL until it says, as older agents never do):
            // a host is stale after three of the longer of the two intervals.
            try db.execute(
                sql: "ALTER TABLE hosts ADD COLUMN upload_interval_s REAL CHECK (upload_interval_s > 0)")
        }
        migrator.registerMigration("v10-deferred-rollups", migrate: KillRollups.migrateDeferred)
        migrator.registerMigration("v11-lean-event-indexes") { db in
            // Every index on events costs each ingested kill a random b-tree insert (together
            // about half the writer's SQLite time). These four serve rare reads that the host
            // and time indexes answer as well: a unit or container filter walks the covering
            // time index (which holds both columns) newest first; advice evidence under a
            // week walks the host's kills newest first (`Advice.recent`).
            try db.execute(
                sql: """
                    DROP INDEX events_unit;
                    DROP INDEX events_container;
                    DROP INDEX events_memcg;
                    DROP INDEX events_global;
                    """)
        }
        migrator.registerMigration("v12-hosts-without-processes") { db in
            // `top` reads a host's processes from its newest stored snapshot; the copy the
            // writer kept in the hosts row (rewritten with every batch) is no longer kept.
            try db.execute(sql: "UPDATE hosts SET processes_json = NULL WHERE processes_json IS NOT NULL")
        }
        migrator.registerMigration("v13-runs-without-last-index") { db in
            // Every sample moves its run's last_time, so this index took a delete and an
            // insert per process per snapshot (20 of each for a host's snapshot); only
            // retention read it, which now scans the table (a few hundred thousand rows).
            try db.execute(sql: "DROP INDEX process_runs_last")
        }
        return migrator
    }
}
