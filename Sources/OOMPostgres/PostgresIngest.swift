import Logging
public import OOMKit
public import OOMStore
import PostgresNIO

extension PostgresStore {
    static let day: Int64 = 86_400_000_000
    /// Days around now that get partitions of their own; times further off (a host with a
    /// wild clock) go to the default partition rather than making thousands of tables.
    static let partitionDaysBack: Int64 = 400
    static let partitionDaysAhead: Int64 = 7
    static let partitionedTables = ["events", "snapshots"]

    /// Stores a batch in one transaction and returns after COMMIT: the host upsert, then
    /// the events (one multi-row statement that claims their ids, inserts the rows it
    /// claimed and adds exactly those to the day rollups), then the snapshots and their
    /// hourly sums, then the host's latest state.
    public func ingest(_ batch: IngestBatch, receivedAt: Int64) async throws(StoreError) -> IngestOutcome {
        let rows = try StoreRows(batch, receivedAt: receivedAt)
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await store {
                    try await ensurePartitions(
                        days: Set(rows.events.map(\.time) + rows.snapshots.map(\.time)).map(Self.dayOf))
                    let known = state.withLock { $0.hostIDs[rows.host] }
                    let (outcome, hostID, frames) = try await client.withTransaction(logger: logger) { c in
                        try await self.write(rows, knownHostID: known, on: c)
                    }
                    state.withLock { $0.hostIDs[rows.host] = hostID }
                    remember(frames: frames, hostID: hostID)
                    return outcome
                }
            } catch .busy where attempt < Self.ingestAttempts {
                // A deadlock or serialization victim was rolled back whole: the same
                // batch again is safe (and idempotent), and usually goes through.
                logger.debug("ingest retried after a lock conflict", metadata: ["attempt": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(Int64(20 * attempt)))
            }
        }
    }

    /// Tries of one batch when it loses a lock conflict, before the agent is told 503.
    static let ingestAttempts = 4

    static func dayOf(_ time: Int64) -> Int64 {
        time >= 0 ? time / day : (time - day + 1) / day
    }

    /// The batch's statements in the caller's transaction; returns the outcome, the host's
    /// id and the frames its snapshots were stored against (by hour), to remember once
    /// committed.
    func write(_ b: StoreRows, knownHostID: Int64?, on c: PostgresConnection) async throws
        -> (IngestOutcome, Int64, [Int64: [UInt8]])
    {
        let (hostID, previousAgent) = try await upsertHost(b, knownID: knownHostID, on: c)
        var outcome = IngestOutcome(stored: 0, duplicate: 0, snapshotsStored: 0, snapshotsDuplicate: 0)
        // One row per event id: a batch that repeats an id stores it once.
        var seen: Set<String> = []
        let events = b.events.filter { seen.insert($0.eventID).inserted }
        if !events.isEmpty {
            let stored = try await insertEvents(events, hostID: hostID, received: b.receivedAt, on: c)
            outcome.eventsStored = stored.count
            try await addAdvice(events.filter { stored.contains($0.eventID) }, hostID: hostID, on: c)
            if let planner = outboxPlanner {
                let candidates = events.filter { stored.contains($0.eventID) }.map {
                    AlertCandidate(
                        eventID: $0.eventID, host: b.host, time: $0.time, source: $0.source, scope: $0.scope,
                        comm: $0.comm, pid: $0.pid, unit: $0.unit, container: $0.container, rssKB: $0.rssKB)
                }
                try await writeOutbox(candidates, planner: planner, now: b.receivedAt, on: c)
            }
        }
        outcome.eventsDuplicate = b.events.count - outcome.eventsStored
        var times: Set<Int64> = []
        let snapshots = b.snapshots.filter { times.insert($0.time).inserted }
        var frames: [Int64: [UInt8]] = [:]
        if !snapshots.isEmpty {
            let ids = try await storeDetails(snapshots, hostID: hostID, on: c)
            let compact = try snapshots.map { s in
                try SnapshotStorage.compactJSON(
                    s.snapshot, ids: s.details.map { ids[DetailKey(pid: $0.pid, digest: $0.digest)] ?? -1 })
            }
            // Each hour's frame: the one stored, else this batch's first snapshot of the hour.
            var firsts: [Int64: [UInt8]] = [:]
            for (s, bytes) in zip(snapshots, compact) where firsts[SnapshotStorage.hourOf(s.time)] == nil {
                firsts[SnapshotStorage.hourOf(s.time)] = bytes
            }
            frames = try await storeFrames(firsts, hostID: hostID, on: c)
            let bodies = try zip(snapshots, compact).map { s, bytes in
                try SnapshotStorage.deflate(bytes, frame: frames[SnapshotStorage.hourOf(s.time)] ?? [])
            }
            let stored = try await insertSnapshots(snapshots, bodies: bodies, hostID: hostID, on: c)
            outcome.snapshotsStored = stored.count
            if let newest = snapshots.filter({ stored.contains($0.time) }).max(by: { $0.time < $1.time }) {
                try await updateLatest(newest, hostID: hostID, received: b.receivedAt, on: c)
            }
            for s in snapshots where stored.contains(s.time) { try await storeRuns(s, hostID: hostID, on: c) }
        }
        if let s = b.snapshots.filter({ $0.systemJSON != nil }).max(by: { $0.time < $1.time }) {
            try await c.query(
                """
                UPDATE hosts SET system_json = \(s.systemJSON), system_time = \(s.time)
                WHERE id = \(hostID) AND (system_time IS NULL OR system_time <= \(s.time))
                """, logger: logger)
        }
        outcome.snapshotsDuplicate = b.snapshots.count - outcome.snapshotsStored
        if let agentJSON = b.agentJSON, agentJSON != previousAgent {
            try await c.query(
                "UPDATE hosts SET agent_json = \(agentJSON) WHERE id = \(hostID)", logger: logger)
            try await c.query(
                """
                INSERT INTO agent_counters (host_id, time, agent_json) VALUES (\(hostID), \(b.receivedAt), \(agentJSON))
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        return (outcome, hostID, frames)
    }

    /// The host's id and stored agent JSON, creating the host on its first batch. A known
    /// host is only updated, so host ids have no gaps from conflicting inserts.
    func upsertHost(_ b: StoreRows, knownID: Int64?, on c: PostgresConnection) async throws -> (Int64, String?) {
        if let id = knownID {
            let rows = try await c.query(
                """
                UPDATE hosts SET last_seen = greatest(last_seen, \(b.receivedAt)),
                    boot_id = coalesce(\(b.bootID), boot_id),
                    agent_version = coalesce(\(b.agentVersion), agent_version),
                    interval_s = coalesce(\(b.intervalS), interval_s),
                    upload_interval_s = coalesce(\(b.uploadIntervalS), upload_interval_s)
                WHERE id = \(id) RETURNING agent_json
                """, logger: logger)
            for try await agent in rows.decode(String?.self) { return (id, agent) }
            // Deleted meanwhile (never by the collector): create it again.
        }
        let rows = try await c.query(
            """
            INSERT INTO hosts (name, first_seen, last_seen, boot_id, agent_version, interval_s, upload_interval_s)
            VALUES (\(b.host), \(b.receivedAt), \(b.receivedAt), \(b.bootID), \(b.agentVersion),
                coalesce(\(b.intervalS), 30), \(b.uploadIntervalS))
            ON CONFLICT (name) DO UPDATE SET
                last_seen = greatest(hosts.last_seen, excluded.last_seen),
                boot_id = coalesce(excluded.boot_id, hosts.boot_id),
                agent_version = coalesce(excluded.agent_version, hosts.agent_version),
                interval_s = coalesce(\(b.intervalS), hosts.interval_s),
                upload_interval_s = coalesce(\(b.uploadIntervalS), hosts.upload_interval_s)
            RETURNING id, agent_json
            """, logger: logger)
        for try await (id, agent) in rows.decode((Int64, String?).self) { return (id, agent) }
        throw StoreError.failed("host upsert returned nothing")
    }

    /// Inserts the events whose ids are new and adds them to the day rollups, in one
    /// statement; returns the ids it stored.
    func insertEvents(
        _ events: [StoreRows.Event], hostID: Int64, received: Int64, on c: PostgresConnection
    ) async throws -> Set<String> {
        var binds = Binds()
        let host = binds.add(hostID)
        var values: [String] = []
        for (i, e) in events.enumerated() {
            let row = [
                "\(i)::int", binds.add(e.eventID) + "::text", binds.add(e.time) + "::bigint",
                binds.add(e.source) + "::text", binds.add(e.scope) + "::text", binds.add(e.comm) + "::text",
                binds.add(Int64(e.pid)) + "::bigint", binds.add(e.unit) + "::text",
                binds.add(e.container) + "::text", binds.add(e.rssKB) + "::bigint", binds.add(e.json) + "::text",
                binds.add(e.advice.memcg) + "::text", binds.add(e.advice.usageKB) + "::bigint",
                binds.add(e.advice.limitKB) + "::bigint", binds.add(e.advice.shieldName) + "::text",
                binds.add(e.advice.shieldRSSKB) + "::bigint",
                binds.add(e.advice.shieldAdj.map(Int64.init)) + "::bigint",
            ]
            values.append("(" + row.joined(separator: ", ") + ")")
        }
        let receivedAt = binds.add(received)
        let sql = """
            WITH input (ord, event_id, time, source, scope, comm, pid, unit, container, rss_kb, json,
                \(Self.adviceColumns)) AS (
                VALUES \(values.joined(separator: ", "))),
            ids AS (
                INSERT INTO event_ids (event_id, time) SELECT event_id, time FROM input ORDER BY ord
                ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id),
            ins AS (
                INSERT INTO events (id, event_id, host_id, time, source, scope, comm, pid, unit, container,
                    rss_kb, received, json, \(Self.adviceColumns))
                SELECT ids.id, i.event_id, \(host)::bigint, i.time, i.source, i.scope, i.comm, i.pid, i.unit,
                    i.container, i.rss_kb, \(receivedAt)::bigint, i.json, \(Self.adviceColumns)
                FROM ids JOIN input i USING (event_id)
                RETURNING host_id, event_id, time, source, scope, comm, unit, container),
            roll AS (
                INSERT INTO kill_daily (dim, key, day, kills, last_time)
                SELECT d.dim, d.key, ins.time / \(Self.day), count(*), max(ins.time)
                FROM ins CROSS JOIN LATERAL \(Self.dimensions(of: "ins")) AS d (dim, key)
                WHERE d.key IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 3, 2
                ON CONFLICT (dim, day, key) DO UPDATE SET kills = kill_daily.kills + excluded.kills,
                    last_time = greatest(kill_daily.last_time, excluded.last_time)),
            counted AS (
                INSERT INTO kill_counters (host_id, source, scope, kills)
                SELECT host_id, source, coalesce(scope, 'unknown'), count(*) FROM ins GROUP BY 1, 2, 3
                ORDER BY 1, 2, 3
                ON CONFLICT (host_id, source, scope) DO UPDATE SET kills = kill_counters.kills + excluded.kills)
            SELECT event_id FROM ins
            """
        var stored: Set<String> = []
        for try await id in try await c.query(binds.query(sql), logger: logger).decode(String.self) {
            stored.insert(id)
        }
        return stored
    }

    /// The event columns advice aggregates on (`AdviceColumns`).
    static let adviceColumns = "memcg, memcg_usage_kb, memcg_limit_kb, shield_name, shield_rss_kb, shield_adj"

    /// Adds the newly stored kills to `advice_daily`: folded in Swift by the SQLite store's
    /// `AdviceRollups`, then one upsert for the batch, its rows in key order (so concurrent
    /// collectors lock them in the same order).
    func addAdvice(_ events: [StoreRows.Event], hostID: Int64, on c: PostgresConnection) async throws {
        var rollups = AdviceRollups()
        for e in events {
            rollups.add(
                eventID: e.eventID, time: e.time, scope: e.scope, comm: e.comm, rssKB: e.rssKB, advice: e.advice,
                hostID: hostID)
        }
        guard !rollups.daily.isEmpty else { return }
        var binds = Binds()
        var values: [String] = []
        let cells = rollups.daily.sorted {
            ($0.key.group.hostID, $0.key.group.kind, $0.key.group.key, $0.key.day)
                < ($1.key.group.hostID, $1.key.group.kind, $1.key.group.key, $1.key.day)
        }
        for (k, c) in cells {
            let ints = [k.group.hostID].map { binds.add($0) + "::bigint" }
            let row =
                ints + [binds.add(k.group.kind) + "::text", binds.add(k.group.key) + "::text"]
                + [k.day, Int64(c.kills), c.firstTime, c.lastTime].map { binds.add($0) + "::bigint" }
                + [c.sumRSS, c.sumRSS2].map { binds.add($0) + "::float8" }
                + [c.minRSS, c.maxRSS].map { binds.add($0) + "::bigint" }
                + [c.maxUsageKB, c.limitKB].map { binds.add($0) + "::bigint" }
                + [binds.add(c.bestRatio) + "::float8", binds.add(c.bestEvent) + "::text"]
                + [binds.add(c.lastEvent) + "::text", binds.add(c.lastComm) + "::text"]
            values.append("(" + row.joined(separator: ", ") + ")")
        }
        // The fold of `AdviceSchema.mergeSQL`: GREATEST and LEAST skip NULLs as its
        // max(coalesce(…), coalesce(…)) does; a day keeps the last limit known.
        let sql = """
            INSERT INTO advice_daily (host_id, kind, key, day, kills, first_time, last_time, sum_rss, sum_rss2,
                min_rss, max_rss, max_usage_kb, limit_kb, best_ratio, best_event, last_event, last_comm)
            VALUES \(values.joined(separator: ", "))
            ON CONFLICT (host_id, kind, key, day) DO UPDATE SET
                kills = advice_daily.kills + excluded.kills,
                first_time = least(advice_daily.first_time, excluded.first_time),
                last_time = greatest(advice_daily.last_time, excluded.last_time),
                sum_rss = advice_daily.sum_rss + excluded.sum_rss,
                sum_rss2 = advice_daily.sum_rss2 + excluded.sum_rss2,
                min_rss = least(advice_daily.min_rss, excluded.min_rss),
                max_rss = greatest(advice_daily.max_rss, excluded.max_rss),
                max_usage_kb = greatest(advice_daily.max_usage_kb, excluded.max_usage_kb),
                limit_kb = coalesce(excluded.limit_kb, advice_daily.limit_kb),
                best_event = CASE WHEN coalesce(excluded.best_ratio, -1) > coalesce(advice_daily.best_ratio, -1)
                    THEN excluded.best_event ELSE advice_daily.best_event END,
                best_ratio = greatest(advice_daily.best_ratio, excluded.best_ratio),
                last_event = CASE WHEN excluded.last_time >= advice_daily.last_time
                    THEN excluded.last_event ELSE advice_daily.last_event END,
                last_comm = CASE WHEN excluded.last_time >= advice_daily.last_time
                    THEN excluded.last_comm ELSE advice_daily.last_comm END
            """
        try await c.query(binds.query(sql), logger: logger)
    }

    /// Adds each process sample of a newly stored snapshot to its process run, as
    /// one upsert per sample did on SQLite (one statement per snapshot: an upsert
    /// touches a run at most once).
    func storeRuns(_ s: StoreRows.Snapshot, hostID: Int64, on c: PostgresConnection) async throws {
        var seen: Set<String> = []
        let runs = s.runs.filter { seen.insert("\($0.comm)\u{0}\($0.pid)\u{0}\($0.started)").inserted }
        guard !runs.isEmpty else { return }
        let t = "((excluded.last_time - process_runs.first_time)::float8 / 1e6::float8)"
        try await c.query(
            """
            INSERT INTO process_runs (host_id, comm, pid, started, first_time, last_time, first_rss, last_rss,
                samples, sum_t, sum_r, sum_tt, sum_tr, sum_rr)
            SELECT \(hostID), comm, pid, started, \(s.time), \(s.time), rss, rss, 1, 0, rss, 0, 0, rss::float8 * rss
            FROM unnest(\(runs.map(\.comm)), \(runs.map { Int64($0.pid) }), \(runs.map(\.started)),
                \(runs.map(\.rssKB))) AS u (comm, pid, started, rss)
            ON CONFLICT (host_id, comm, pid, started) DO UPDATE SET
                samples = process_runs.samples + 1,
                last_time = greatest(process_runs.last_time, excluded.last_time),
                last_rss = CASE WHEN excluded.last_time >= process_runs.last_time
                    THEN excluded.last_rss ELSE process_runs.last_rss END,
                sum_t = process_runs.sum_t + \(unescaped: t),
                sum_r = process_runs.sum_r + excluded.last_rss,
                sum_tt = process_runs.sum_tt + \(unescaped: t) * \(unescaped: t),
                sum_tr = process_runs.sum_tr + \(unescaped: t) * excluded.last_rss,
                sum_rr = process_runs.sum_rr + excluded.last_rss::float8 * excluded.last_rss
            """, logger: logger)
    }

    /// Inserts the snapshots not yet stored, each with its stored body (`bodies[i]`,
    /// `SnapshotStorage`), and adds them to the hourly sums; returns the times it stored.
    func insertSnapshots(
        _ snapshots: [StoreRows.Snapshot], bodies: [[UInt8]], hostID: Int64, on c: PostgresConnection
    ) async throws -> Set<Int64> {
        var binds = Binds()
        let host = binds.add(hostID)
        var values: [String] = []
        for (s, body) in zip(snapshots, bodies) {
            let ints = [s.time, s.total, s.available, s.free, s.cached, s.anon, s.shmem, s.swapTotal, s.swapFree]
            let doubles = [s.someAvg10, s.someAvg60, s.fullAvg10, s.fullAvg60]
            let row =
                ints.map { binds.add($0) + "::bigint" } + doubles.map { binds.add($0) + "::float8" }
                + [binds.add(s.oomKill) + "::bigint", binds.add(ByteBuffer(bytes: body)) + "::bytea"]
            values.append("(" + row.joined(separator: ", ") + ")")
        }
        let columns = """
            time, total_kb, available_kb, free_kb, cached_kb, anon_kb, shmem_kb, swap_total_kb,
            swap_free_kb, some_avg10, some_avg60, full_avg10, full_avg60, oom_kill
            """
        let hour = "(time - (((time % 3600000000) + 3600000000) % 3600000000))"
        let sql = """
            WITH input (\(columns), body) AS (VALUES \(values.joined(separator: ", "))),
            ins AS (
                INSERT INTO snapshots (host_id, \(columns), body)
                SELECT \(host)::bigint, \(columns), body FROM input
                ON CONFLICT (host_id, time) DO NOTHING RETURNING host_id, \(columns)),
            hourly AS (
                INSERT INTO snapshot_hourly (host_id, hour, samples, pressure_samples, sum_total_kb,
                    sum_available_kb, min_available_kb, sum_free_kb, sum_cached_kb, sum_anon_kb,
                    sum_shmem_kb, sum_swap_total_kb, sum_swap_free_kb, sum_some_avg10, sum_some_avg60,
                    sum_full_avg10, sum_full_avg60, max_oom_kill)
                SELECT host_id, \(hour), count(*), count(some_avg10), coalesce(sum(total_kb), 0),
                    coalesce(sum(available_kb), 0), min(available_kb), coalesce(sum(free_kb), 0),
                    coalesce(sum(cached_kb), 0), coalesce(sum(anon_kb), 0), coalesce(sum(shmem_kb), 0),
                    coalesce(sum(swap_total_kb), 0), coalesce(sum(swap_free_kb), 0),
                    coalesce(sum(some_avg10), 0), coalesce(sum(some_avg60), 0),
                    coalesce(sum(full_avg10), 0), coalesce(sum(full_avg60), 0), max(oom_kill)
                FROM ins GROUP BY 1, 2 ORDER BY 1, 2
                ON CONFLICT (host_id, hour) DO UPDATE SET
                    samples = snapshot_hourly.samples + excluded.samples,
                    pressure_samples = snapshot_hourly.pressure_samples + excluded.pressure_samples,
                    sum_total_kb = snapshot_hourly.sum_total_kb + excluded.sum_total_kb,
                    sum_available_kb = snapshot_hourly.sum_available_kb + excluded.sum_available_kb,
                    min_available_kb = least(snapshot_hourly.min_available_kb, excluded.min_available_kb),
                    sum_free_kb = snapshot_hourly.sum_free_kb + excluded.sum_free_kb,
                    sum_cached_kb = snapshot_hourly.sum_cached_kb + excluded.sum_cached_kb,
                    sum_anon_kb = snapshot_hourly.sum_anon_kb + excluded.sum_anon_kb,
                    sum_shmem_kb = snapshot_hourly.sum_shmem_kb + excluded.sum_shmem_kb,
                    sum_swap_total_kb = snapshot_hourly.sum_swap_total_kb + excluded.sum_swap_total_kb,
                    sum_swap_free_kb = snapshot_hourly.sum_swap_free_kb + excluded.sum_swap_free_kb,
                    sum_some_avg10 = snapshot_hourly.sum_some_avg10 + excluded.sum_some_avg10,
                    sum_some_avg60 = snapshot_hourly.sum_some_avg60 + excluded.sum_some_avg60,
                    sum_full_avg10 = snapshot_hourly.sum_full_avg10 + excluded.sum_full_avg10,
                    sum_full_avg60 = snapshot_hourly.sum_full_avg60 + excluded.sum_full_avg60,
                    max_oom_kill = greatest(snapshot_hourly.max_oom_kill, excluded.max_oom_kill))
            SELECT time FROM ins
            """
        var stored: Set<Int64> = []
        for try await t in try await c.query(binds.query(sql), logger: logger).decode(Int64.self) {
            stored.insert(t)
        }
        return stored
    }

    /// The host's newest sample, denormalized for host lists; the newer sample wins by its
    /// own time unless the stored one claims a time after this batch arrived (that host's
    /// clock was ahead).
    func updateLatest(_ s: StoreRows.Snapshot, hostID: Int64, received: Int64, on c: PostgresConnection) async throws {
        let latest = try s.hostsRowJSON()
        try await c.query(
            """
            UPDATE hosts SET snapshot_time = \(s.time), total_kb = \(s.total), available_kb = \(s.available),
                full_avg60 = \(s.fullAvg60), memory_json = \(latest.memory), pressure_json = \(latest.pressure),
                processes_json = \(latest.processes), kernel = coalesce(\(s.kernel), kernel)
            WHERE id = \(hostID)
                AND (snapshot_time IS NULL OR snapshot_time < \(s.time) OR snapshot_time > \(received))
            """, logger: logger)
    }

    /// Stores the batch's process details once per host, pid and digest (what the host's
    /// next references and the snapshots' bodies name) and returns their ids. One statement
    /// inserts the new ones and reads the rest; `last_seen` moves at most hourly (retention
    /// keeps a detail an hour past it). A detail another collector inserted meanwhile is
    /// not in that statement's view: a second read, after its transaction, finds it.
    func storeDetails(_ snapshots: [StoreRows.Snapshot], hostID: Int64, on c: PostgresConnection) async throws
        -> [DetailKey: Int64]
    {
        var seen: Set<DetailKey> = []
        // In key order, so collectors writing the same host lock the same rows in the same order.
        let details = snapshots.flatMap(\.details)
            .filter { seen.insert(DetailKey(pid: $0.pid, digest: $0.digest)).inserted }
            .sorted { ($0.pid, $0.digest) < ($1.pid, $1.digest) }
        guard !details.isEmpty, let newest = snapshots.map(\.time).max() else { return [:] }
        let (pids, digests) = (details.map(\.pid), details.map(\.digest))
        var ids: [DetailKey: Int64] = [:]
        for try await (pid, digest, id) in try await c.query(
            """
            WITH input AS (SELECT * FROM unnest(\(pids), \(digests), \(details.map(\.json))) AS u (pid, digest, detail)),
            ins AS (
                INSERT INTO snapshot_processes (host_id, pid, digest, last_seen, detail)
                SELECT \(hostID), pid, digest, \(newest), detail FROM input ORDER BY pid, digest
                ON CONFLICT (host_id, pid, digest) DO UPDATE SET last_seen = excluded.last_seen
                WHERE snapshot_processes.last_seen < excluded.last_seen - 3600000000
                RETURNING pid, digest, id)
            SELECT pid, digest, id FROM ins
            UNION ALL
            SELECT p.pid, p.digest, p.id FROM snapshot_processes p JOIN input i USING (pid, digest)
            WHERE p.host_id = \(hostID) AND NOT EXISTS (SELECT 1 FROM ins WHERE ins.pid = p.pid AND ins.digest = p.digest)
            """, logger: logger
        ).decode((Int64, Int64, Int64).self) {
            ids[DetailKey(pid: pid, digest: digest)] = id
        }
        if ids.count < details.count {
            for try await (pid, digest, id) in try await c.query(
                """
                SELECT pid, digest, id FROM snapshot_processes
                WHERE host_id = \(hostID) AND (pid, digest) IN (SELECT * FROM unnest(\(pids), \(digests)))
                """, logger: logger
            ).decode((Int64, Int64, Int64).self) {
                ids[DetailKey(pid: pid, digest: digest)] = id
            }
        }
        guard ids.count == details.count else {
            throw StoreError.failed("process details of host \(hostID) not stored")
        }
        return ids
    }

    /// Each hour's frame (inflated): from memory when this collector stored or read it
    /// lately, else read, else stored now from `firsts[hour]` (the batch's first compact
    /// JSON of the hour) with `ON CONFLICT DO NOTHING`; a frame another collector stored
    /// meanwhile wins, and is read. Hours in key order, so collectors lock them alike.
    func storeFrames(_ firsts: [Int64: [UInt8]], hostID: Int64, on c: PostgresConnection) async throws
        -> [Int64: [UInt8]]
    {
        var frames: [Int64: [UInt8]] = [:]
        let recent = SnapshotStorage.hourOf(nowMicroseconds()) - SnapshotStorage.hour
        state.withLock { state in
            for hour in firsts.keys where hour >= recent {
                frames[hour] = state.frames[SnapshotStorage.FrameKey(hostID: hostID, hour: hour)]
            }
        }
        func readStored() async throws {
            let missing = firsts.keys.filter { frames[$0] == nil }.sorted()
            guard !missing.isEmpty else { return }
            for try await (hour, body) in try await c.query(
                "SELECT hour, body FROM snapshot_frames WHERE host_id = \(hostID) AND hour = ANY(\(missing))",
                logger: logger
            ).decode((Int64, ByteBuffer).self) {
                frames[hour] = try SnapshotStorage.frame(stored: Array(buffer: body))
            }
        }
        try await readStored()
        let missing = firsts.keys.filter { frames[$0] == nil }.sorted()
        if !missing.isEmpty {
            let stored = try missing.map { ByteBuffer(bytes: try SnapshotStorage.storedFrame(firsts[$0]!)) }
            for try await hour in try await c.query(
                """
                INSERT INTO snapshot_frames (host_id, hour, body)
                SELECT \(hostID), hour, body FROM unnest(\(missing), \(stored)) AS u (hour, body) ORDER BY hour
                ON CONFLICT (host_id, hour) DO NOTHING RETURNING hour
                """, logger: logger
            ).decode(Int64.self) {
                frames[hour] = firsts[hour]
            }
            try await readStored()
        }
        guard frames.count == firsts.count else {
            throw StoreError.failed("snapshot frames of host \(hostID) not stored")
        }
        return frames
    }

    /// Keeps committed frames of the last two hours for the host's next batches (older
    /// hours may go with retention, so they are always read). Bounded: starts over when full.
    func remember(frames: [Int64: [UInt8]], hostID: Int64) {
        let recent = SnapshotStorage.hourOf(nowMicroseconds()) - SnapshotStorage.hour
        state.withLock { state in
            for (hour, frame) in frames where hour >= recent {
                if state.frames.count >= Self.maxFrames { state.frames.removeAll() }
                state.frames[SnapshotStorage.FrameKey(hostID: hostID, hour: hour)] = frame
            }
        }
    }

    /// Frames kept in memory (2–8 kB each).
    static let maxFrames = 4_096

    // MARK: partitions

    /// Creates the partitions of today and the days ahead (the lease holder's job; any
    /// collector may, they are idempotent).
    func ensurePartitions(around now: Int64, on connection: PostgresConnection? = nil) async throws {
        let today = Self.dayOf(now)
        try await ensurePartitions(days: (today - 1...today + 2).map { $0 }, on: connection)
    }

    /// Makes sure each day near now has its partition in both tables, on `connection`
    /// when given (the lease holder's own), else on a pooled one.
    func ensurePartitions(days: [Int64], on connection: PostgresConnection? = nil) async throws {
        let today = Self.dayOf(nowMicroseconds())
        let wanted = Set(days.filter { $0 >= today - Self.partitionDaysBack && $0 <= today + Self.partitionDaysAhead })
        for day in wanted.sorted() {
            for table in Self.partitionedTables {
                let name = "\(table)_d\(day)"
                if state.withLock({ $0.partitions.contains(name) }) { continue }
                try await createPartition(table: table, name: name, day: day, on: connection)
                _ = state.withLock { $0.partitions.insert(name) }
            }
        }
    }

    /// One day's partition, created once across every collector: rows the default
    /// partition already holds for that day move into it in the same transaction.
    func createPartition(table: String, name: String, day: Int64, on connection: PostgresConnection?) async throws {
        if let connection {
            try await connection.withTransaction(logger: logger) {
                try await createPartition(table: table, name: name, day: day, in: $0)
            }
        } else {
            try await client.withTransaction(logger: logger) {
                try await createPartition(table: table, name: name, day: day, in: $0)
            }
        }
    }

    /// `createPartition`'s statements, inside the caller's transaction on `c`.
    func createPartition(table: String, name: String, day: Int64, in c: PostgresConnection) async throws {
        let from = day * Self.day
        let to = from + Self.day
        try await c.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.ddlLockKey))", logger: logger)
        let exists = try await scalar(Bool.self, "SELECT to_regclass(\(name)) IS NOT NULL", on: c) ?? false
        guard !exists else { return }
        // Names and bounds are built from integers and fixed table names only.
        for sql in [
            "CREATE TEMP TABLE moved (LIKE \(table)) ON COMMIT DROP",
            """
            WITH d AS (DELETE FROM \(table)_default WHERE time >= \(from) AND time < \(to) RETURNING *)
            INSERT INTO moved SELECT * FROM d
            """,
            "CREATE TABLE \(name) PARTITION OF \(table) FOR VALUES FROM (\(from)) TO (\(to))",
            "INSERT INTO \(table) SELECT * FROM moved",
        ] {
            try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }
}
