import Logging
public import OOMKit
public import OOMStore
import PostgresNIO

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PostgresRandomAccessRow {
    /// The column `name` decoded as `T` (an optional type for nullable columns).
    func get<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try self[name].decode(T.self)
    }

    /// Whether the hosts row is stale at `now` (it has `last_seen`, `interval_s` and
    /// `upload_interval_s`).
    func hostIsStale(now: Int64) throws -> Bool {
        HostRules.isStale(
            lastSeen: try get("last_seen"), intervalS: try get("interval_s"),
            uploadIntervalS: try get("upload_interval_s"), now: now)
    }
}

extension PostgresStore {
    /// All rows of a read query, by column name.
    func rows(_ query: PostgresQuery, on c: PostgresClient? = nil) async throws -> [PostgresRandomAccessRow] {
        var out: [PostgresRandomAccessRow] = []
        for try await row in try await (c ?? reader).query(query, logger: logger) {
            out.append(row.makeRandomAccess())
        }
        return out
    }

    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONReader().decode(T.self, from: Array(json.utf8))
    }

    public func hosts(now: Int64) async throws(StoreError) -> [HostStatus] {
        try await store {
            var kills: [Int64: Int] = [:]
            for row in try await rows(
                "SELECT host_id, count(*) AS kills FROM events WHERE time >= \(now - 86_400_000_000) GROUP BY host_id")
            {
                kills[try row.get("host_id")] = try row.get("kills", as: Int.self)
            }
            // A host's latest kill from the day rollups: no scan of its events.
            var lastKill: [Int64: Int64] = [:]
            for row in try await rows(
                "SELECT key, max(last_time) AS last_time FROM kill_daily WHERE dim = 'host' AND kills > 0 GROUP BY key")
            {
                if let id = Int64(try row.get("key", as: String.self)) { lastKill[id] = try row.get("last_time") }
            }
            return try await rows(
                """
                SELECT id, name, last_seen, interval_s, upload_interval_s, boot_id, agent_version, kernel, agent_json,
                    snapshot_time, total_kb, available_kb, full_avg60, memory_json, pressure_json
                FROM hosts ORDER BY name COLLATE "C"
                """
            ).map { row in
                let id: Int64 = try row.get("id")
                let lastSeen: Int64 = try row.get("last_seen")
                var h = HostStatus(
                    host: try row.get("name"), lastSeen: RFC3339.format(epochMicroseconds: lastSeen),
                    stale: try row.hostIsStale(now: now), kills24h: kills[id] ?? 0)
                h.bootID = try row.get("boot_id")
                h.agentVersion = try row.get("agent_version")
                h.intervalS = try row.get("interval_s")
                h.uploadIntervalS = try row.get("upload_interval_s")
                h.kernel = try row.get("kernel")
                if let t = try row.get("snapshot_time", as: Int64?.self) {
                    h.snapshotTime = RFC3339.format(epochMicroseconds: t)
                }
                if let s = try row.get("memory_json", as: String?.self) {
                    h.memory = try? Self.decode([String: Int64].self, s)
                }
                if let s = try row.get("pressure_json", as: String?.self) {
                    h.pressure = try? Self.decode(Pressure.self, s)
                }
                if let s = try row.get("agent_json", as: String?.self) {
                    h.agent = try? Self.decode(AgentInfo.self, s)
                }
                let risk = HostRules.risk(
                    total: try row.get("total_kb"), available: try row.get("available_kb"),
                    fullAvg60: try row.get("full_avg60"))
                h.availablePct = risk.availablePct
                h.atRisk = h.snapshotTime == nil ? nil : !risk.reasons.isEmpty
                if let t = lastKill[id] { h.lastKill = RFC3339.format(epochMicroseconds: t) }
                return h
            }
        }
    }

    /// The events listing: the same filters and keyset pagination as SQLite, with the time
    /// bounds pruning partitions.
    public func events(_ filter: EventFilter) async throws(StoreError) -> EventsPage {
        var after: (time: Int64, id: Int64)?
        if let cursor = filter.cursor {
            guard let decoded = StoreCursor.decode(cursor) else { throw .invalidCursor }
            after = decoded
        }
        let limit = max(1, min(filter.limit, 1000))
        var binds = Binds()
        var clauses: [String] = []
        if let host = filter.host {
            clauses.append("host_id = (SELECT id FROM hosts WHERE name = \(binds.add(host)))")
        }
        let simple: [(String, String?)] = [
            ("comm", filter.comm), ("source", filter.source), ("scope", filter.scope), ("unit", filter.unit),
            ("container", filter.container),
        ]
        for (column, value) in simple {
            if let value { clauses.append("\(column) = \(binds.add(value))") }
        }
        if let since = filter.since { clauses.append("time >= \(binds.add(since))") }
        if let until = filter.until { clauses.append("time < \(binds.add(until))") }
        if let after {
            clauses.append("(time, id) < (\(binds.add(after.time)), \(binds.add(after.id)))")
        }
        var sql = "SELECT id, time, json FROM events"
        if !clauses.isEmpty { sql += " WHERE " + clauses.joined(separator: " AND ") }
        sql += " ORDER BY time DESC, id DESC LIMIT \(binds.add(Int64(limit + 1)))"
        let query = binds.query(sql)
        return try await store {
            let found = try await rows(query)
            var events: [OOMEvent] = []
            for row in found.prefix(limit) {
                events.append(try Self.decode(OOMEvent.self, try row.get("json")))
            }
            var next: String?
            if found.count > limit, let last = found.prefix(limit).last {
                next = StoreCursor.encode(time: try last.get("time"), id: try last.get("id"))
            }
            return EventsPage(events: events, nextCursor: next)
        }
    }

    /// One event: its id's time from `event_ids`, then the one partition that holds it.
    public func event(id: String) async throws(StoreError) -> OOMEvent {
        let found: OOMEvent? = try await store {
            guard let row = try await rows("SELECT id, time FROM event_ids WHERE event_id = \(id)").first else {
                return nil
            }
            let rowID: Int64 = try row.get("id")
            let time: Int64 = try row.get("time")
            guard
                let json = try await scalar(
                    String.self, "SELECT json FROM events WHERE time = \(time) AND id = \(rowID)", on: reader)
            else { return nil }
            return try Self.decode(OOMEvent.self, json)
        }
        guard let found else { throw .notFound("event \(id)") }
        return found
    }

    public func snapshots(host: String, since: Int64, until: Int64, points: Int)
        async throws(StoreError) -> SnapshotsResponse
    {
        let points = max(1, min(points, 5000))
        let result: SnapshotsResponse? = try await store {
            guard let hostID = try await scalar(Int64.self, "SELECT id FROM hosts WHERE name = \(host)", on: reader)
            else { return nil }
            let firstRawInRange = try await scalar(
                Int64.self,
                "SELECT min(time) FROM snapshots WHERE host_id = \(hostID) AND time >= \(since) AND time < \(until)",
                on: reader)
            let firstRaw =
                try await scalar(Int64.self, "SELECT min(time) FROM snapshots WHERE host_id = \(hostID)", on: reader)
                ?? Int64.max
            let hourlyUntil = min(until, firstRaw == Int64.max ? until : firstRaw - 3_600_000_000 + 1)
            let firstHourInRange = try await scalar(
                Int64.self,
                """
                SELECT min(hour) FROM snapshot_hourly
                WHERE host_id = \(hostID) AND hour >= \(since) AND hour < \(hourlyUntil)
                """, on: reader)
            let origin = [firstRawInRange, firstHourInRange].compactMap { $0 }.min() ?? since
            let span = max(until - origin, 1)
            let step = max((span + Int64(points) - 1) / Int64(points), 1_000_000)
            var buckets: [Int64: SnapshotPoint] = [:]
            for row in try await rows(
                """
                SELECT (time - \(origin)) / \(step) AS b, count(*) AS samples,
                    avg(total_kb)::float8 AS total_kb, avg(available_kb)::float8 AS available_kb,
                    min(available_kb) AS min_available_kb, avg(free_kb)::float8 AS free_kb,
                    avg(cached_kb)::float8 AS cached_kb, avg(anon_kb)::float8 AS anon_kb,
                    avg(shmem_kb)::float8 AS shmem_kb, avg(swap_total_kb)::float8 AS swap_total_kb,
                    avg(swap_free_kb)::float8 AS swap_free_kb, avg(some_avg10) AS some_avg10,
                    avg(some_avg60) AS some_avg60, avg(full_avg10) AS full_avg10,
                    avg(full_avg60) AS full_avg60, max(oom_kill) AS oom_kill,
                    trunc(avg(time))::bigint AS mean_time
                FROM snapshots WHERE host_id = \(hostID) AND time >= \(origin) AND time < \(until)
                GROUP BY 1 ORDER BY 1
                """)
            {
                var p = SnapshotPoint(
                    time: RFC3339.format(epochMicroseconds: try row.get("mean_time", as: Int64.self)),
                    samples: try row.get("samples"))
                p.minAvailableKB = try row.get("min_available_kb")
                p.oomKill = try row.get("oom_kill")
                try p.fill { column, isPressure in
                    let v = try row.get(column, as: Double?.self)
                    return isPressure ? v : v.map { $0.rounded() }
                }
                buckets[try row.get("b")] = p
            }
            for row in try await rows(
                """
                SELECT (hour - \(origin)) / \(step) AS b, sum(samples)::bigint AS samples,
                    sum(pressure_samples)::bigint AS pressure_samples,
                    sum(sum_total_kb)::bigint AS total_kb, sum(sum_available_kb)::bigint AS available_kb,
                    min(min_available_kb) AS min_available_kb, sum(sum_free_kb)::bigint AS free_kb,
                    sum(sum_cached_kb)::bigint AS cached_kb, sum(sum_anon_kb)::bigint AS anon_kb,
                    sum(sum_shmem_kb)::bigint AS shmem_kb, sum(sum_swap_total_kb)::bigint AS swap_total_kb,
                    sum(sum_swap_free_kb)::bigint AS swap_free_kb,
                    sum(sum_some_avg10) AS some_avg10, sum(sum_some_avg60) AS some_avg60,
                    sum(sum_full_avg10) AS full_avg10, sum(sum_full_avg60) AS full_avg60,
                    max(max_oom_kill) AS oom_kill, trunc(avg(hour))::bigint AS mean_hour
                FROM snapshot_hourly WHERE host_id = \(hostID) AND hour >= \(origin) AND hour < \(hourlyUntil)
                GROUP BY 1 ORDER BY 1
                """)
            {
                let b: Int64 = try row.get("b")
                // Raw snapshots are the finer truth wherever they still exist.
                if buckets[b] != nil { continue }
                let n: Int64 = try row.get("samples")
                let np: Int64 = try row.get("pressure_samples")
                guard n > 0 else { continue }
                let mid = min(try row.get("mean_hour", as: Int64.self) + 1_800_000_000, until - 1)
                var p = SnapshotPoint(time: RFC3339.format(epochMicroseconds: mid), samples: Int(n))
                p.minAvailableKB = try row.get("min_available_kb")
                p.oomKill = try row.get("oom_kill")
                try p.fill { column, isPressure in
                    isPressure
                        ? (np > 0 ? try row.get(column, as: Double?.self).map { $0 / Double(np) } : nil)
                        : try row.get(column, as: Int64?.self).map { Double($0 / n) }
                }
                buckets[b] = p
            }
            let latest = try? await storedSnapshot(
                """
                SELECT time, json, body FROM snapshots WHERE host_id = \(hostID) AND time >= \(since) AND time < \(until)
                ORDER BY time DESC LIMIT 1
                """, hostID: hostID)
            return SnapshotsResponse(
                host: host, since: RFC3339.format(epochMicroseconds: since),
                until: RFC3339.format(epochMicroseconds: until), stepS: Double(step) / 1e6,
                points: buckets.sorted { $0.key < $1.key }.map(\.value), latest: latest)
        }
        guard let result else { throw .notFound("host \(host)") }
        return result
    }

    /// The snapshot `query` finds (its `time`, `json` and `body`, one row), as the agent
    /// sent it: a row stored before compact storage has its whole JSON; any other is
    /// expanded from its body, its hour's frame and the process details it names.
    func storedSnapshot(_ query: PostgresQuery, hostID: Int64) async throws -> MemorySnapshot? {
        guard let row = try await rows(query, on: reader).first else { return nil }
        if let json = try row.get("json", as: String?.self) { return try Self.decode(MemorySnapshot.self, json) }
        let time: Int64 = try row.get("time")
        guard let body = try row.get("body", as: ByteBuffer?.self),
            let frame = try await scalar(
                ByteBuffer.self,
                """
                SELECT body FROM snapshot_frames WHERE host_id = \(hostID) AND hour = \(SnapshotStorage.hourOf(time))
                """, on: reader)
        else { throw StoreError.failed("snapshot at \(time) of host \(hostID): its hour's frame is missing") }
        let compact = try SnapshotStorage.compact(
            body: Array(buffer: body), frame: try SnapshotStorage.frame(stored: Array(buffer: frame)))
        var details: [Int64: ProcessDetail] = [:]
        let ids = Array(Set(compact.processes.map(\.ref)))
        if !ids.isEmpty {
            for row in try await rows("SELECT id, detail FROM snapshot_processes WHERE id = ANY(\(ids))", on: reader) {
                details[try row.get("id")] = try SnapshotStorage.detail(try row.get("detail"))
            }
        }
        return try SnapshotStorage.expand(compact, details: details, hostID: hostID, time: time)
    }

    public func top(host: String?, limit: Int) async throws(StoreError) -> TopResponse {
        let limit = max(1, min(limit, 1000))
        var binds = Binds()
        var sql = "SELECT name, snapshot_time, processes_json FROM hosts WHERE processes_json IS NOT NULL"
        if let host { sql += " AND name = \(binds.add(host))" }
        // In SQLite's row order, so equal sizes come out the same.
        let query = binds.query(sql + " ORDER BY id")
        return try await store {
            var all: [TopProcess] = []
            for row in try await rows(query) {
                guard let processes = try? Self.decode([ProcessSample].self, try row.get("processes_json")) else {
                    continue
                }
                let time = RFC3339.format(epochMicroseconds: try row.get("snapshot_time"))
                let name: String = try row.get("name")
                for p in processes { all.append(TopProcess(host: name, time: time, process: p)) }
            }
            all.sort { $0.process.rssKB > $1.process.rssKB }
            return TopResponse(processes: Array(all.prefix(limit)))
        }
    }

    /// Fills in processes sent by reference from the details stored for the host; the
    /// first one not found is returned (the agent then sends the full form, 409).
    public func resolveProcessReferences(_ batch: inout IngestBatch) async throws(StoreError) -> String? {
        for (i, s) in batch.snapshots.enumerated() where s.base != nil {
            return "snapshots[\(i)].base"
        }
        let digests = batch.snapshots.flatMap { s in
            s.processes.compactMap { $0.ref.flatMap { ProcessDetail.digest(reference: $0) } }
        }
        guard !digests.isEmpty else { return nil }
        let host = batch.host
        let found: [Int64: ProcessDetail] = try await store {
            var out: [Int64: ProcessDetail] = [:]
            for row in try await rows(
                """
                SELECT digest, detail FROM snapshot_processes
                WHERE host_id = (SELECT id FROM hosts WHERE name = \(host)) AND digest = ANY(\(Array(Set(digests))))
                """, on: client)
            {
                out[try row.get("digest")] = try Self.decode(ProcessDetail.self, try row.get("detail"))
            }
            return out
        }
        return ReferencedProcesses.fill(&batch, from: found)
    }

    /// Not yet: the agent is told to send its snapshots whole (processes may still go by
    /// reference), see `CollectorStore`.
    public var acceptsSnapshotDeltas: Bool { false }
}

extension SnapshotPoint {
    /// The averaged fields from a bucket row whose columns carry the fields' names.
    fileprivate mutating func fill(_ value: (_ column: String, _ isPressure: Bool) throws -> Double?) throws {
        func kb(_ column: String) throws -> Int64? { try value(column, false).map { Int64($0) } }
        totalKB = try kb("total_kb")
        availableKB = try kb("available_kb")
        freeKB = try kb("free_kb")
        cachedKB = try kb("cached_kb")
        anonKB = try kb("anon_kb")
        shmemKB = try kb("shmem_kb")
        swapTotalKB = try kb("swap_total_kb")
        swapFreeKB = try kb("swap_free_kb")
        someAvg10 = try value("some_avg10", true)
        someAvg60 = try value("some_avg60", true)
        fullAvg10 = try value("full_avg10", true)
        fullAvg60 = try value("full_avg60", true)
    }
}
