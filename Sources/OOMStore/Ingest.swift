import GRDB
import Logging
public import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What one ingested batch did.
public struct IngestOutcome: Sendable, Equatable {
    public var eventsStored: Int
    public var eventsDuplicate: Int
    public var snapshotsStored: Int
    public var snapshotsDuplicate: Int

    /// The API's answer.
    public var result: IngestResult {
        IngestResult(
            eventsStored: eventsStored, eventsDuplicate: eventsDuplicate,
            snapshotsStored: snapshotsStored)
    }
}

/// A batch turned into rows before it reaches the writer, so the one serialized writer
/// spends its time in SQLite only (JSON encoding happens on the caller's task).
struct PreparedBatch: Sendable {
    struct Event: Sendable {
        var eventID: String
        var time: Int64
        var source: String
        var scope: String?
        var comm: String
        var pid: Int
        var unit: String?
        var container: String?
        var rssKB: Int64
        var json: String
        var advice: AdviceColumns
    }
    struct Snapshot: Sendable {
        var time: Int64
        var total, available, free, cached, anon, shmem, swapTotal, swapFree: Int64?
        var someAvg10, someAvg60, fullAvg10, fullAvg60: Double?
        var oomKill: Int64?
        /// Stored compactly by `SnapshotStorage` in the write transaction (it needs the
        /// host's stored process details and the hour's frame).
        var snapshot: MemorySnapshot
        /// The host's latest state, encoded for the batch's newest snapshot only (the
        /// others never reach the hosts row): see `latestJSON()`.
        var latest: LatestJSON?
        var kernel: String?
        /// Only on the newest snapshot with system facts.
        var systemJSON: String?
        var runs: [RunSample]

        /// The hosts row's memory and pressure. Its process list is the newest stored
        /// snapshot's (`top` reads it there): written per batch it was 3–5 kB of JSON to
        /// encode and a row grown past a page, for one rare report.
        struct LatestJSON: Sendable {
            var memory: String
            var pressure: String?
        }

        /// The hosts row's JSON of this snapshot: as prepared for the batch's newest, or
        /// encoded now for another (PostgreSQL's store writes the newest it stored).
        func latestJSON() throws -> LatestJSON {
            if let latest { return latest }
            return try LatestJSON(snapshot, encoder: JSONWriter())
        }
    }
    var host: String
    var bootID: String?
    var agentVersion: String?
    var intervalS: Double?
    var agent: AgentInfo?
    var agentJSON: String?
    var receivedAt: Int64
    var events: [Event]
    var snapshots: [Snapshot]
}

extension OOMDatabase {
    /// Stores a batch: one transaction (shared with other batches committed at the same
    /// moment, each in its own savepoint), returning only after COMMIT. Events whose id is
    /// already stored are counted as duplicates and change nothing.
    ///
    /// The batch must already be validated (times parse, strings bounded).
    public func ingest(_ batch: IngestBatch, receivedAt: Int64 = nowMicroseconds())
        async throws(StoreError) -> IngestOutcome
    {
        let prepared: PreparedBatch
        do {
            prepared = try Self.prepare(batch, receivedAt: receivedAt)
        } catch {
            throw .rejected("\(error)")
        }
        let pool = self.pool
        let logger = self.logger
        let planner = configuration.outboxPlanner
        let cache = snapshotCache
        let fold = rollupFold
        let result = await writer.submit(prepared) { round in
            Self.writeRound(round, pool: pool, logger: logger, planner: planner, cache: cache, fold: fold)
        }
        return try result.get()
    }

    static func prepare(_ batch: IngestBatch, receivedAt: Int64) throws -> PreparedBatch {
        // The wire's own codec: the stored JSON is what the agent's writer would send.
        let encoder = JSONWriter()
        func json(_ value: some Encodable) throws -> String {
            String(decoding: try encoder.encode(value), as: UTF8.self)
        }
        var events: [PreparedBatch.Event] = []
        events.reserveCapacity(batch.events.count)
        for var event in batch.events {
            if event.host == nil { event.host = batch.host }
            if event.bootID == nil { event.bootID = batch.bootID }
            let v = event.victim
            let rss = max(0, (v.anonRssKB ?? 0) + (v.fileRssKB ?? 0) + (v.shmemRssKB ?? 0))
            events.append(
                .init(
                    eventID: event.id,
                    time: event.time.flatMap { RFC3339.parse($0) } ?? receivedAt,
                    source: event.source.rawValue,
                    scope: event.scope?.rawValue,
                    comm: v.comm,
                    pid: v.pid ?? 0,  // the column predates unknown pids (systemd-oomd); the JSON keeps null
                    unit: v.unit,
                    container: v.containerID,
                    rssKB: rss > 0 ? rss : (v.lastRssKB ?? 0),
                    json: try event.json().map { String(decoding: $0, as: UTF8.self) } ?? json(event),
                    advice: AdviceColumns(event)))
        }
        var snapshots: [PreparedBatch.Snapshot] = []
        snapshots.reserveCapacity(batch.snapshots.count)
        // Per batch, not per snapshot: only the newest reaches the hosts row, and only the
        // newest with system facts its system columns.
        let times = batch.snapshots.map { RFC3339.parse($0.time) }
        let newest = times.indices.filter { times[$0] != nil }.max { times[$0]! < times[$1]! }
        let facts = batch.snapshots.map { HostSystemFacts($0) }
        let newestSystem = times.indices.filter { times[$0] != nil && facts[$0] != nil }
            .max { times[$0]! < times[$1]! }
        for (i, snap) in batch.snapshots.enumerated() {
            guard let time = times[i] else { continue }
            let m = snap.memory
            let p = snap.pressure
            snapshots.append(
                .init(
                    time: time,
                    total: m["total_kb"], available: m["available_kb"], free: m["free_kb"],
                    cached: m["cached_kb"], anon: m["anon_pages_kb"], shmem: m["shmem_kb"],
                    swapTotal: m["swap_total_kb"], swapFree: m["swap_free_kb"],
                    someAvg10: p?.someAvg10, someAvg60: p?.someAvg60,
                    fullAvg10: p?.fullAvg10, fullAvg60: p?.fullAvg60,
                    oomKill: snap.vmstat["oom_kill"],
                    snapshot: snap,
                    latest: i == newest ? try .init(snap, encoder: encoder) : nil,
                    kernel: snap.kernel,
                    systemJSON: i == newestSystem ? facts[i].map { String(decoding: $0.json(), as: UTF8.self) } : nil,
                    runs: RunSample.all(snap)))
        }
        return PreparedBatch(
            host: batch.host, bootID: batch.bootID, agentVersion: batch.agent?.version,
            intervalS: batch.agent?.intervalS, agent: batch.agent,
            agentJSON: try batch.agent.map { try json($0) }, receivedAt: receivedAt,
            events: events, snapshots: snapshots)
    }

    /// One transaction for a round of batches; a batch that fails rolls back only its
    /// own savepoint. When the COMMIT itself fails, every batch of the round fails. The
    /// round's kills reach the rollups later (`RollupFold`), first thing in this
    /// transaction when too many already wait.
    static func writeRound(
        _ round: [PreparedBatch], pool: DatabasePool, logger: Logger,
        planner: (any OutboxPlanner)? = nil, cache: SnapshotCache? = nil, fold: RollupFold
    ) -> [Result<IngestOutcome, StoreError>] {
        let results: [Result<IngestOutcome, StoreError>]
        var folded = 0
        // Only kills delay the fold: a fleet's stream of snapshot rounds never goes quiet.
        let kills = round.contains { !$0.events.isEmpty }
        if kills { fold.writing() }
        do {
            // Synchronous: GRDB runs it on this (the group writer's) thread.
            (results, folded) = try pool.write { db in
                let folded = fold.overBound ? try KillRollups.fold(db) : 0
                var results: [Result<IngestOutcome, StoreError>] = []
                results.reserveCapacity(round.count)
                for batch in round {
                    var outcome = IngestOutcome(
                        eventsStored: 0, eventsDuplicate: 0, snapshotsStored: 0,
                        snapshotsDuplicate: 0)
                    do {
                        try db.inSavepoint {
                            outcome = try writeBatch(batch, db: db, planner: planner, cache: cache)
                            return .commit
                        }
                        results.append(.success(outcome))
                    } catch {
                        let mapped = map(error)
                        // A busy or failed database fails the whole round below.
                        if case .rejected = mapped {
                            results.append(.failure(mapped))
                        } else {
                            throw error
                        }
                    }
                }
                return (results, folded)
            }
        } catch {
            let mapped = map(error)
            logger.error(
                "ingest round failed",
                metadata: ["batches": "\(round.count)", "error": "\(mapped)"])
            if kills { fold.stored(0) }
            return Array(repeating: .failure(mapped), count: round.count)
        }
        fold.folded(folded)
        let stored = results.reduce(0) { $0 + ((try? $1.get())?.eventsStored ?? 0) }
        if kills { fold.stored(stored) }
        return results
    }

    /// Writes one batch.
    static func writeBatch(
        _ b: PreparedBatch, db: Database, planner: (any OutboxPlanner)? = nil, cache: SnapshotCache? = nil
    ) throws -> IngestOutcome {
        // The host, its newest snapshot and its newest system facts in one row write (a
        // post rewrote the row three times: the upsert, the newest snapshot, the facts).
        // The newest by time stands for the newest stored: when it is a duplicate, the row
        // already holds it or a newer one, and the conditions below keep that.
        let newest = b.snapshots.max { $0.time < $1.time }
        let latest = try newest?.latestJSON()
        let system = b.snapshots.filter { $0.systemJSON != nil }.max { $0.time < $1.time }
        // Bound by position (?1…?15), as every statement run per batch: no dictionary. A
        // newer sample wins by its own time, unless the stored one claims a time after
        // this batch's arrival (?2): that host's clock was ahead, and the sample received
        // later is the newer one.
        let newer = "(?7 IS NOT NULL AND (snapshot_time IS NULL OR snapshot_time < ?7 OR snapshot_time > ?2))"
        let newerFacts = "(?15 IS NOT NULL AND (system_time IS NULL OR system_time <= ?15))"
        let hostStatement = try db.cachedStatement(
            sql: """
                INSERT INTO hosts (name, first_seen, last_seen, boot_id, agent_version, interval_s,
                    upload_interval_s, snapshot_time, total_kb, available_kb, full_avg60, memory_json,
                    pressure_json, kernel, system_json, system_time)
                VALUES (?1, ?2, ?2, ?3, ?4, coalesce(?5, 30), ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                ON CONFLICT (name) DO UPDATE SET
                    last_seen = max(last_seen, excluded.last_seen),
                    boot_id = coalesce(excluded.boot_id, boot_id),
                    agent_version = coalesce(excluded.agent_version, agent_version),
                    interval_s = coalesce(?5, interval_s),
                    upload_interval_s = coalesce(?6, upload_interval_s),
                    snapshot_time = CASE WHEN \(newer) THEN ?7 ELSE snapshot_time END,
                    total_kb = CASE WHEN \(newer) THEN ?8 ELSE total_kb END,
                    available_kb = CASE WHEN \(newer) THEN ?9 ELSE available_kb END,
                    full_avg60 = CASE WHEN \(newer) THEN ?10 ELSE full_avg60 END,
                    memory_json = CASE WHEN \(newer) THEN ?11 ELSE memory_json END,
                    pressure_json = CASE WHEN \(newer) THEN ?12 ELSE pressure_json END,
                    kernel = CASE WHEN \(newer) THEN coalesce(?13, kernel) ELSE kernel END,
                    system_json = CASE WHEN \(newerFacts) THEN ?14 ELSE system_json END,
                    system_time = CASE WHEN \(newerFacts) THEN ?15 ELSE system_time END
                RETURNING id, agent_json
                """)
        hostStatement.setUncheckedArguments([
            b.host, b.receivedAt, b.bootID, b.agentVersion, b.intervalS, b.agent?.uploadIntervalS,
            newest?.time, newest?.total, newest?.available, newest?.fullAvg60, latest?.memory, latest?.pressure,
            newest?.kernel, system?.systemJSON, system?.time,
        ])
        guard let hostRow = try Row.fetchOne(hostStatement)
        else { throw StoreError.failed("host upsert returned nothing") }
        let hostID: Int64 = hostRow["id"]
        cache?.remember(hostID: hostID, name: b.host, db: db)
        let previousAgentJSON: String? = hostRow["agent_json"]

        var outcome = IngestOutcome(
            eventsStored: 0, eventsDuplicate: 0, snapshotsStored: 0, snapshotsDuplicate: 0)
        if !b.events.isEmpty {
            var stored = try EventRow.insertNew(
                b.events.map { EventRow(event: $0, hostID: hostID, received: b.receivedAt) }, db: db)
            for e in b.events {
                // The first of a repeated id is the one stored.
                guard stored.remove(e.eventID) != nil else {
                    outcome.eventsDuplicate += 1
                    continue
                }
                outcome.eventsStored += 1
                if let planner {
                    try writeOutbox(
                        AlertCandidate(
                            eventID: e.eventID, host: b.host, time: e.time, source: e.source,
                            scope: e.scope, comm: e.comm, pid: e.pid, unit: e.unit,
                            container: e.container, rssKB: e.rssKB),
                        planner: planner, now: b.receivedAt, db: db)
                }
            }
        }
        if !b.snapshots.isEmpty {
            let hourly = try db.cachedStatement(
                sql: """
                    INSERT INTO snapshot_hourly (host_id, hour, samples, pressure_samples,
                        sum_total_kb, sum_available_kb, min_available_kb, sum_free_kb,
                        sum_cached_kb, sum_anon_kb, sum_shmem_kb, sum_swap_total_kb,
                        sum_swap_free_kb, sum_some_avg10, sum_some_avg60, sum_full_avg10,
                        sum_full_avg60, max_oom_kill)
                    VALUES (?1, ?2, 1, ?3, coalesce(?4, 0),
                        coalesce(?5, 0), ?5, coalesce(?6, 0),
                        coalesce(?7, 0), coalesce(?8, 0), coalesce(?9, 0),
                        coalesce(?10, 0), coalesce(?11, 0),
                        coalesce(?12, 0), coalesce(?13, 0), coalesce(?14, 0),
                        coalesce(?15, 0), ?16)
                    ON CONFLICT (host_id, hour) DO UPDATE SET
                        samples = samples + 1,
                        pressure_samples = pressure_samples + excluded.pressure_samples,
                        sum_total_kb = sum_total_kb + excluded.sum_total_kb,
                        sum_available_kb = sum_available_kb + excluded.sum_available_kb,
                        min_available_kb = min(coalesce(min_available_kb, excluded.min_available_kb),
                            coalesce(excluded.min_available_kb, min_available_kb)),
                        sum_free_kb = sum_free_kb + excluded.sum_free_kb,
                        sum_cached_kb = sum_cached_kb + excluded.sum_cached_kb,
                        sum_anon_kb = sum_anon_kb + excluded.sum_anon_kb,
                        sum_shmem_kb = sum_shmem_kb + excluded.sum_shmem_kb,
                        sum_swap_total_kb = sum_swap_total_kb + excluded.sum_swap_total_kb,
                        sum_swap_free_kb = sum_swap_free_kb + excluded.sum_swap_free_kb,
                        sum_some_avg10 = sum_some_avg10 + excluded.sum_some_avg10,
                        sum_some_avg60 = sum_some_avg60 + excluded.sum_some_avg60,
                        sum_full_avg10 = sum_full_avg10 + excluded.sum_full_avg10,
                        sum_full_avg60 = sum_full_avg60 + excluded.sum_full_avg60,
                        max_oom_kill = max(coalesce(max_oom_kill, excluded.max_oom_kill),
                            coalesce(excluded.max_oom_kill, max_oom_kill))
                    """)
            var stored: [PreparedBatch.Snapshot] = []
            for s in b.snapshots {
                let body = try SnapshotStorage.body(for: s.snapshot, hostID: hostID, time: s.time, db: db, cache: cache)
                guard try SnapshotRow(snapshot: s, hostID: hostID, body: body).insertOnce(db) else {
                    outcome.snapshotsDuplicate += 1
                    continue
                }
                outcome.snapshotsStored += 1
                cache?.remember(latest: s.snapshot, time: s.time, hostID: hostID, db: db)
                let hour = s.time - ((s.time % 3_600_000_000) + 3_600_000_000) % 3_600_000_000
                // The same sample in the hour's sums: the row's columns, plus the hour and
                // whether it had pressure.
                // Bound by position, in the statement's ?1…?16 order: no dictionary per snapshot.
                hourly.setUncheckedArguments([
                    hostID, hour, s.someAvg10 == nil ? 0 : 1, s.total, s.available, s.free, s.cached, s.anon,
                    s.shmem, s.swapTotal, s.swapFree, s.someAvg10, s.someAvg60, s.fullAvg10, s.fullAvg60, s.oomKill,
                ])
                try hourly.execute()
                stored.append(s)
            }
            try AdviceColumns.storeRuns(stored, hostID: hostID, db: db)
        }
        if let agentJSON = b.agentJSON, agentJSON != previousAgentJSON {
            try db.cachedStatement(sql: "UPDATE hosts SET agent_json = :agent_json WHERE id = :id")
                .execute(arguments: ["agent_json": agentJSON, "id": hostID])
            if let a = b.agent {
                _ = try AgentCountersRow(agent: a, hostID: hostID, time: b.receivedAt).insertOnce(db)
            }
        }
        return outcome
    }
}

extension PreparedBatch.Snapshot.LatestJSON {
    init(_ snapshot: MemorySnapshot, encoder: JSONWriter) throws {
        func json(_ value: some Encodable) throws -> String {
            String(decoding: try encoder.encode(value), as: UTF8.self)
        }
        memory = String(decoding: MemorySnapshot.json(snapshot.memory), as: UTF8.self)
        pressure = try snapshot.pressure.map { p in
            try p.json().map { String(decoding: $0, as: UTF8.self) } ?? json(p)
        }
    }
}
