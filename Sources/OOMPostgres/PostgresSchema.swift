package import Logging
import OOMStore
package import PostgresNIO

/// The PostgreSQL schema, as named migrations that are only ever appended, each a list of
/// statements run in one transaction. The same data model as the SQLite store; times are
/// integer microseconds since the Unix epoch, sizes kB.
///
/// `events` and `snapshots` are partitioned by range of `time`, one partition a UTC day
/// (`events_d20261120`), created ahead by the lease holder and on demand by ingest, with
/// a default partition for times far from now. An event id is unique across partitions
/// through `event_ids` (a unique constraint on a partitioned table must include the
/// partition key, and an event without a time of its own gets the receiving collector's
/// clock).
package enum PostgresSchema {
    /// Serializes migrations and partition DDL across every collector on the database.
    static let ddlLockKey: Int64 = 0x6f6f_6d77_6464_6c00  // "oomwddl"

    package static let migrations: [(name: String, statements: [String])] = [
        (
            "v1-pg-store",
            [
                """
                CREATE TABLE hosts (
                    id bigserial PRIMARY KEY,
                    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 253),
                    first_seen bigint NOT NULL,
                    last_seen bigint NOT NULL,
                    boot_id text,
                    agent_version text,
                    interval_s double precision NOT NULL DEFAULT 30 CHECK (interval_s > 0),
                    kernel text,
                    agent_json text,
                    snapshot_time bigint,
                    total_kb bigint,
                    available_kb bigint,
                    full_avg60 double precision,
                    memory_json text,
                    pressure_json text,
                    processes_json text
                )
                """,
                """
                CREATE TABLE event_ids (
                    id bigserial PRIMARY KEY,
                    event_id text NOT NULL UNIQUE CHECK (length(event_id) BETWEEN 1 AND 128),
                    time bigint NOT NULL
                )
                """,
                "CREATE INDEX event_ids_time ON event_ids (time)",
                """
                CREATE TABLE events (
                    id bigint NOT NULL,
                    event_id text NOT NULL,
                    host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    time bigint NOT NULL,
                    source text NOT NULL CHECK (source IN ('kernel', 'systemd-oomd', 'earlyoom')),
                    scope text CHECK (scope IN ('global', 'memcg', 'cpuset', 'mempolicy')),
                    comm text NOT NULL,
                    pid bigint NOT NULL,
                    unit text,
                    container text,
                    rss_kb bigint NOT NULL CHECK (rss_kb >= 0),
                    received bigint NOT NULL,
                    json text NOT NULL,
                    PRIMARY KEY (time, id)
                ) PARTITION BY RANGE (time)
                """,
                "CREATE INDEX events_host_time ON events (host_id, time)",
                "CREATE INDEX events_comm ON events (comm, host_id, time)",
                "CREATE INDEX events_unit ON events (unit, time) WHERE unit IS NOT NULL",
                "CREATE INDEX events_container ON events (container, time) WHERE container IS NOT NULL",
                "CREATE INDEX events_source ON events (source, scope, time)",
                "CREATE INDEX events_rss ON events (rss_kb, time)",
                "CREATE TABLE events_default PARTITION OF events DEFAULT",
                """
                CREATE TABLE snapshots (
                    host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    time bigint NOT NULL,
                    total_kb bigint,
                    available_kb bigint,
                    free_kb bigint,
                    cached_kb bigint,
                    anon_kb bigint,
                    shmem_kb bigint,
                    swap_total_kb bigint,
                    swap_free_kb bigint,
                    some_avg10 double precision,
                    some_avg60 double precision,
                    full_avg10 double precision,
                    full_avg60 double precision,
                    oom_kill bigint,
                    json text NOT NULL,
                    PRIMARY KEY (host_id, time)
                ) PARTITION BY RANGE (time)
                """,
                "CREATE TABLE snapshots_default PARTITION OF snapshots DEFAULT",
                """
                CREATE TABLE snapshot_hourly (
                    host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    hour bigint NOT NULL,
                    samples bigint NOT NULL CHECK (samples > 0),
                    pressure_samples bigint NOT NULL DEFAULT 0,
                    sum_total_kb bigint NOT NULL DEFAULT 0,
                    sum_available_kb bigint NOT NULL DEFAULT 0,
                    min_available_kb bigint,
                    sum_free_kb bigint NOT NULL DEFAULT 0,
                    sum_cached_kb bigint NOT NULL DEFAULT 0,
                    sum_anon_kb bigint NOT NULL DEFAULT 0,
                    sum_shmem_kb bigint NOT NULL DEFAULT 0,
                    sum_swap_total_kb bigint NOT NULL DEFAULT 0,
                    sum_swap_free_kb bigint NOT NULL DEFAULT 0,
                    sum_some_avg10 double precision NOT NULL DEFAULT 0,
                    sum_some_avg60 double precision NOT NULL DEFAULT 0,
                    sum_full_avg10 double precision NOT NULL DEFAULT 0,
                    sum_full_avg60 double precision NOT NULL DEFAULT 0,
                    max_oom_kill bigint,
                    PRIMARY KEY (host_id, hour)
                )
                """,
                "CREATE INDEX snapshot_hourly_hour ON snapshot_hourly (hour)",
                // Process details by host, pid and digest: what an agent's references name.
                """
                CREATE TABLE snapshot_processes (
                    host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    pid bigint NOT NULL,
                    digest bigint NOT NULL,
                    last_seen bigint NOT NULL,
                    detail text NOT NULL,
                    PRIMARY KEY (host_id, pid, digest)
                )
                """,
                "CREATE INDEX snapshot_processes_seen ON snapshot_processes (last_seen)",
                """
                CREATE TABLE agent_counters (
                    host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    time bigint NOT NULL,
                    agent_json text NOT NULL,
                    PRIMARY KEY (host_id, time)
                )
                """,
                // Kills per report dimension per UTC day, upserted by ingest from the rows it
                // inserted; whole days of a report read these, not the events.
                """
                CREATE TABLE kill_daily (
                    dim text NOT NULL,
                    key text NOT NULL,
                    day bigint NOT NULL,
                    kills bigint NOT NULL,
                    last_time bigint NOT NULL,
                    PRIMARY KEY (dim, day, key)
                )
                """,
                """
                CREATE TABLE alert_outbox (
                    id bigserial PRIMARY KEY,
                    kind text NOT NULL CHECK (kind IN ('kill', 'test', 'stale',
                        'stale_resolved', 'pressure', 'pressure_resolved')),
                    receiver text NOT NULL,
                    route bigint NOT NULL,
                    event_id text NOT NULL,
                    host text NOT NULL,
                    time bigint NOT NULL,
                    source text NOT NULL,
                    scope text,
                    comm text NOT NULL,
                    pid bigint NOT NULL,
                    unit text,
                    container text,
                    rss_kb bigint NOT NULL,
                    created bigint NOT NULL,
                    due bigint NOT NULL,
                    sent_at bigint,
                    attempts bigint NOT NULL DEFAULT 0,
                    next_attempt bigint NOT NULL,
                    last_error text,
                    idempotency_key text,
                    detail text,
                    claim_until bigint,
                    UNIQUE (receiver, route, event_id)
                )
                """,
                "CREATE INDEX alert_outbox_unsent ON alert_outbox (id) WHERE sent_at IS NULL",
            ]
        ),
        (
            // `/metrics`' `oomwatch_kills_total` from running totals that the ingest adds to
            // and retention never shrinks (the `hss` rollup lost a day's kills with its
            // partition, which Prometheus read as a counter reset). Filled from the events
            // the database still holds.
            "v7-fix17-kill-counters",
            [
                """
                CREATE TABLE kill_counters (
                    host_id bigint NOT NULL,
                    source text NOT NULL,
                    scope text NOT NULL,
                    kills bigint NOT NULL,
                    PRIMARY KEY (host_id, source, scope)
                )
                """,
                """
                INSERT INTO kill_counters (host_id, source, scope, kills)
                SELECT host_id, source, coalesce(scope, 'unknown'), count(*) FROM events GROUP BY 1, 2, 3
                """,
                // A kill's notification looks up the grouping window open for its receiver,
                // route and host: the latest row sent at once (`due = created`).
                """
                CREATE INDEX alert_outbox_windows ON alert_outbox (receiver, route, host, created)
                    WHERE kind = 'kill' AND due = created
                """,
            ]
        ),
        (
            // Advice, as on SQLite (`AdviceSchema`): the event columns advice aggregates on,
            // each host's latest system facts, the per-day kill groups (written by ingest
            // from the kills it inserted, `AdviceRollups`) and the process runs. Filled from
            // the events the database holds, as the SQLite migration does.
            "v8-pg-advice",
            [
                """
                ALTER TABLE events ADD COLUMN memcg text, ADD COLUMN memcg_usage_kb bigint,
                    ADD COLUMN memcg_limit_kb bigint, ADD COLUMN shield_name text, ADD COLUMN shield_rss_kb bigint,
                    ADD COLUMN shield_adj bigint
                """,
                "ALTER TABLE hosts ADD COLUMN system_json text, ADD COLUMN system_time bigint",
                """
                UPDATE events SET memcg = json::jsonb -> 'memcg' ->> 'oom',
                    memcg_usage_kb = (json::jsonb -> 'memcg' ->> 'usage_kb')::bigint,
                    memcg_limit_kb = (json::jsonb -> 'memcg' ->> 'limit_kb')::bigint
                WHERE scope = 'memcg'
                """,
                // Evidence: a group's latest kills, newest first.
                "CREATE INDEX events_memcg ON events (host_id, memcg, time) WHERE memcg IS NOT NULL",
                "CREATE INDEX events_global ON events (host_id, time) WHERE scope = 'global'",
                """
                CREATE TABLE advice_daily (
                    host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    kind text NOT NULL CHECK (kind IN ('comm', 'memcg', 'global')),
                    key text NOT NULL,
                    day bigint NOT NULL,
                    kills bigint NOT NULL,
                    first_time bigint NOT NULL,
                    last_time bigint NOT NULL,
                    sum_rss double precision NOT NULL,
                    sum_rss2 double precision NOT NULL,
                    min_rss bigint NOT NULL,
                    max_rss bigint NOT NULL,
                    max_usage_kb bigint,
                    limit_kb bigint,
                    -- Global kills: the one with the largest shielded process per victim RSS.
                    best_ratio double precision,
                    best_event text,
                    -- The day's latest kill of the group: evidence without reading events.
                    last_event text NOT NULL DEFAULT '',
                    last_comm text,
                    PRIMARY KEY (host_id, kind, key, day)
                )
                """,
                // Retention by age.
                "CREATE INDEX advice_daily_day ON advice_daily (day)",
                """
                INSERT INTO advice_daily
                SELECT e.host_id, g.kind, g.key, e.time / 86400000000, count(*), min(e.time), max(e.time),
                    sum(e.rss_kb)::float8, sum(e.rss_kb::float8 * e.rss_kb), min(e.rss_kb), max(e.rss_kb),
                    max(e.memcg_usage_kb), max(e.memcg_limit_kb), NULL, NULL, '', NULL
                FROM events e CROSS JOIN LATERAL (VALUES ('comm', e.comm), ('memcg', e.memcg),
                    ('global', CASE WHEN e.scope = 'global' THEN '' END)) AS g (kind, key)
                WHERE g.key IS NOT NULL
                GROUP BY 1, 2, 3, 4
                """,
                """
                CREATE TABLE process_runs (
                    host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    comm text NOT NULL,
                    pid bigint NOT NULL,
                    -- The process's start time (µs), so a reused pid is a new run.
                    started bigint NOT NULL,
                    first_time bigint NOT NULL,
                    last_time bigint NOT NULL,
                    first_rss bigint NOT NULL,
                    last_rss bigint NOT NULL,
                    samples bigint NOT NULL,
                    -- Sums over samples of t (s since first_time), r (kB), t², t·r, r².
                    sum_t double precision NOT NULL,
                    sum_r double precision NOT NULL,
                    sum_tt double precision NOT NULL,
                    sum_tr double precision NOT NULL,
                    sum_rr double precision NOT NULL,
                    PRIMARY KEY (host_id, comm, pid, started)
                )
                """,
                "CREATE INDEX process_runs_last ON process_runs (last_time)",
            ]
        ),
        (
            // Snapshots stored as on SQLite (`SnapshotStorage`, issue 15): each process's
            // details once in `snapshot_processes`, named by a new `id`; the rest as compact
            // JSON deflated against the host's first snapshot of the hour (`snapshot_frames`)
            // in `body`. Rows stored before keep their whole `json` and read back as they are;
            // retention drops them with their days.
            "v9-pg-compact-snapshots",
            [
                "ALTER TABLE snapshot_processes ADD COLUMN id bigint GENERATED BY DEFAULT AS IDENTITY",
                "CREATE UNIQUE INDEX snapshot_processes_id ON snapshot_processes (id)",
                """
                CREATE TABLE snapshot_frames (
                    host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    hour bigint NOT NULL,
                    -- The hour's first CompactSnapshot JSON, deflated.
                    body bytea NOT NULL,
                    PRIMARY KEY (host_id, hour)
                )
                """,
                "CREATE INDEX snapshot_frames_hour ON snapshot_frames (hour)",
                "ALTER TABLE snapshots ALTER COLUMN json DROP NOT NULL, ADD COLUMN body bytea",
                // Exactly one form per row. NOT VALID: the rows already there hold their
                // JSON (it was NOT NULL) and no body, so scanning every partition under
                // the migration's lock would only delay the collectors.
                """
                ALTER TABLE snapshots ADD CONSTRAINT snapshots_stored
                    CHECK ((json IS NULL) <> (body IS NULL)) NOT VALID
                """,
            ]
        ),
        (
            // The agent's upload interval (NULL until it says, as older agents never do): a
            // host is stale after three of the longer of the two intervals.
            "v10-pg-upload-interval",
            [
                """
                ALTER TABLE hosts ADD COLUMN upload_interval_s double precision
                    CHECK (upload_interval_s > 0)
                """
            ]
        ),
        (
            // Every sample moves its run's last_time, so this index took a delete and an
            // insert per process per snapshot (and kept PostgreSQL from updating a run in
            // place, HOT); only retention read it, which now scans the table.
            "v11-pg-runs-without-last-index",
            ["DROP INDEX IF EXISTS process_runs_last"]
        ),
    ]

    /// Applies the migrations this database lacks (of `migrations`: all of them but in
    /// tests that make a database of an earlier release). Every collector may call this at
    /// the same moment: the transaction lock makes the others wait, then find nothing to do.
    package static func migrate(
        _ client: PostgresClient, logger: Logger,
        migrations: [(name: String, statements: [String])] = PostgresSchema.migrations
    ) async throws {
        try await client.withTransaction(logger: logger) { c in
            try await c.query("SELECT pg_advisory_xact_lock(\(ddlLockKey))", logger: logger)
            try await c.query(
                """
                CREATE TABLE IF NOT EXISTS oomwatch_migrations (
                    name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied: Set<String> = []
            for try await name in try await c.query("SELECT name FROM oomwatch_migrations", logger: logger)
                .decode(String.self)
            {
                applied.insert(name)
            }
            for m in migrations where !applied.contains(m.name) {
                logger.info("applying migration", metadata: ["migration": "\(m.name)"])
                for sql in m.statements { try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
                try await c.query("INSERT INTO oomwatch_migrations (name) VALUES (\(m.name))", logger: logger)
            }
        }
    }

    /// The migrations this database has applied, in order: by when, and those applied in
    /// one transaction (the same `applied_at`) in their order in `migrations`, not by name
    /// ("v10-…" sorts before "v9-…"). A name this release does not know comes last.
    static func applied(_ client: PostgresClient, logger: Logger) async throws -> [String] {
        var rows: [(name: String, at: Double)] = []
        for try await (name, at) in try await client.query(
            "SELECT name, extract(epoch FROM applied_at)::float8 FROM oomwatch_migrations", logger: logger
        ).decode((String, Double).self) {
            rows.append((name, at))
        }
        let position = Dictionary(uniqueKeysWithValues: migrations.enumerated().map { ($1.name, $0) })
        return rows.sorted {
            ($0.at, position[$0.name] ?? Int.max, $0.name) < ($1.at, position[$1.name] ?? Int.max, $1.name)
        }.map(\.name)
    }
}
