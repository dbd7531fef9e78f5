import GRDB
public import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Filters of `GET /api/v1/events`. Every value is bound as a statement argument.
public struct EventFilter: Sendable, Equatable {
    public var host: String?
    public var comm: String?
    public var source: String?
    public var scope: String?
    public var unit: String?
    public var container: String?
    /// Microseconds since the epoch, inclusive.
    public var since: Int64?
    /// Microseconds since the epoch, exclusive.
    public var until: Int64?
    public var limit: Int = 100
    public var cursor: String?

    public init() {}
}

/// The opaque cursor of the events listing: the (time, rowid) of the last row returned.
enum EventCursor {
    static func encode(time: Int64, id: Int64) -> String {
        "c" + String(time, radix: 36) + "." + String(id, radix: 36)
    }

    static func decode(_ text: String) -> (time: Int64, id: Int64)? {
        guard text.first == "c", text.utf8.count <= 40 else { return nil }
        let parts = text.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let t = Int64(parts[0], radix: 36),
            let i = Int64(parts[1], radix: 36)
        else { return nil }
        return (t, i)
    }
}

extension OOMDatabase {
    static let decoder = JSONDecoder()

    /// Every known host with its latest state. `now` decides staleness (silent for three
    /// of its intervals) and the 24-hour kill window.
    public func hosts(now: Int64 = nowMicroseconds()) async throws(StoreError) -> [HostStatus] {
        do {
            return try await pool.read { db in
                var kills: [Int64: (Int, Int64)] = [:]
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT host_id, count(*) AS kills, max(time) AS last_time FROM events
                        WHERE time >= ? GROUP BY host_id
                        """, arguments: [now - 86_400_000_000])
                {
                    kills[row["host_id"]] = (row["kills"], row["last_time"])
                }
                var lastKill: [Int64: Int64] = [:]
                for row in try Row.fetchAll(
                    db, sql: "SELECT host_id, max(time) AS last_time FROM events GROUP BY host_id")
                {
                    lastKill[row["host_id"]] = row["last_time"]
                }
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT id, name, last_seen, interval_s, upload_interval_s, boot_id, agent_version, kernel,
                            agent_json, snapshot_time, total_kb, available_kb, full_avg60,
                            memory_json, pressure_json
                        FROM hosts ORDER BY name
                        """)
                return rows.map { row in
                    let id: Int64 = row["id"]
                    let lastSeen: Int64 = row["last_seen"]
                    let interval: Double = row["interval_s"]
                    let upload: Double? = row["upload_interval_s"]
                    var h = HostStatus(
                        host: row["name"], lastSeen: RFC3339.format(epochMicroseconds: lastSeen),
                        stale: Self.isStale(lastSeen: lastSeen, intervalS: interval, uploadIntervalS: upload, now: now),
                        kills24h: kills[id]?.0 ?? 0)
                    h.bootID = row["boot_id"]
                    h.agentVersion = row["agent_version"]
                    h.intervalS = interval
                    h.uploadIntervalS = upload
                    h.kernel = row["kernel"]
                    if let t: Int64 = row["snapshot_time"] {
                        h.snapshotTime = RFC3339.format(epochMicroseconds: t)
                    }
                    if let s: String = row["memory_json"] {
                        h.memory = try? Self.decoder.decode([String: Int64].self, from: Data(s.utf8))
                    }
                    if let s: String = row["pressure_json"] {
                        h.pressure = try? Self.decoder.decode(Pressure.self, from: Data(s.utf8))
                    }
                    if let s: String = row["agent_json"] {
                        h.agent = try? Self.decoder.decode(AgentInfo.self, from: Data(s.utf8))
                    }
                    let risk = Self.risk(
                        total: row["total_kb"], available: row["available_kb"],
                        fullAvg60: row["full_avg60"])
                    h.availablePct = risk.availablePct
                    h.atRisk = h.snapshotTime == nil ? nil : !risk.reasons.isEmpty
                    if let t = lastKill[id] { h.lastKill = RFC3339.format(epochMicroseconds: t) }
                    return h
                }
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Silent for three of its intervals: the longer of its snapshot and upload intervals
    /// (an agent posting six snapshots a minute is heard from once a minute).
    static func isStale(lastSeen: Int64, intervalS: Double, uploadIntervalS: Double?, now: Int64) -> Bool {
        Double(now - lastSeen) > 3 * HostStatus.contactInterval(intervalS: intervalS, uploadIntervalS: uploadIntervalS)
            * 1_000_000
    }

    /// `isStale` in SQL over the hosts table's columns (`?` is now in microseconds; a NULL
    /// upload interval, from an older agent, leaves the snapshot interval).
    static let staleSQL =
        "(? - last_seen > 3 * (CASE WHEN upload_interval_s > interval_s THEN upload_interval_s ELSE interval_s END) * 1000000)"

    static func risk(total: Int64?, available: Int64?, fullAvg60: Double?) -> (
        availablePct: Double?, reasons: [String]
    ) {
        var pct: Double?
        if let total, let available, total > 0 {
            pct = (Double(available) / Double(total) * 1000).rounded() / 10
        }
        var reasons: [String] = []
        if let total, let available, total > 0, available * 10 < total {
            reasons.append("memory_available")
        }
        if let fullAvg60, fullAvg60 > 10 { reasons.append("psi_full") }
        return (pct, reasons)
    }

    /// A page of events, newest first, and the cursor of the next page (`nil` at the end).
    public func events(_ filter: EventFilter) async throws(StoreError) -> EventsPage {
        var after: (time: Int64, id: Int64)?
        if let cursor = filter.cursor {
            guard let decoded = EventCursor.decode(cursor) else { throw .invalidCursor }
            after = decoded
        }
        let limit = max(1, min(filter.limit, 1000))
        var clauses: [String] = []
        var arguments = StatementArguments()
        if let host = filter.host {
            clauses.append("host_id = (SELECT id FROM hosts WHERE name = ?)")
            arguments += [host]
        }
        // Each filter is a fixed SQL fragment with a bound value: nothing user-supplied is
        // ever spliced into the statement.
        let simple: [(String, String?)] = [
            ("comm = ?", filter.comm), ("source = ?", filter.source), ("scope = ?", filter.scope),
            ("unit = ?", filter.unit), ("container = ?", filter.container),
        ]
        for (clause, value) in simple {
            if let value {
                clauses.append(clause)
                arguments += [value]
            }
        }
        if let since = filter.since {
            clauses.append("time >= ?")
            arguments += [since]
        }
        if let until = filter.until {
            clauses.append("time < ?")
            arguments += [until]
        }
        if let after {
            clauses.append("(time < ? OR (time = ? AND id < ?))")
            arguments += [after.time, after.time, after.id]
        }
        var sql = "SELECT id, time, json FROM events"
        if !clauses.isEmpty { sql += " WHERE " + clauses.joined(separator: " AND ") }
        sql += " ORDER BY time DESC, id DESC LIMIT ?"
        arguments += [limit + 1]
        let query = sql
        let args = arguments
        do {
            return try await pool.read { db in
                let rows = try Row.fetchAll(db, sql: query, arguments: args)
                var events: [OOMEvent] = []
                events.reserveCapacity(min(rows.count, limit))
                for row in rows.prefix(limit) {
                    let json: String = row["json"]
                    events.append(try Self.decoder.decode(OOMEvent.self, from: Data(json.utf8)))
                }
                var next: String?
                if rows.count > limit, let last = rows.prefix(limit).last {
                    next = EventCursor.encode(time: last["time"], id: last["id"])
                }
                return EventsPage(events: events, nextCursor: next)
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// One event by its id.
    public func event(id: String) async throws(StoreError) -> OOMEvent {
        let found: OOMEvent?
        do {
            found = try await pool.read { db in
                guard
                    let json = try String.fetchOne(
                        db, sql: "SELECT json FROM events WHERE event_id = ?", arguments: [id])
                else { return nil }
                return try Self.decoder.decode(OOMEvent.self, from: Data(json.utf8))
            }
        } catch {
            throw Self.map(error)
        }
        guard let found else { throw .notFound("event \(id)") }
        return found
    }

    /// A host's snapshots in [since, until), averaged into at most `points` buckets. Where
    /// raw snapshots have expired, the hourly rollups fill in.
    public func snapshots(host: String, since: Int64, until: Int64, points: Int)
        async throws(StoreError) -> SnapshotsResponse
    {
        let points = max(1, min(points, 5000))
        do {
            let result: SnapshotsResponse? = try await pool.read { db in
                guard
                    let hostID = try Int64.fetchOne(
                        db, sql: "SELECT id FROM hosts WHERE name = ?", arguments: [host])
                else { return nil }
                // Buckets cover only the part of the range that has data: a host that
                // started minutes ago gets its samples at their own times, not one point
                // for a whole 24 h bucket.
                let firstRawInRange = try Int64.fetchOne(
                    db, sql: "SELECT min(time) FROM snapshots WHERE host_id = ? AND time >= ? AND time < ?",
                    arguments: [hostID, since, until])
                // Hourly rollups stand in only for hours before the oldest raw snapshot.
                let firstRaw =
                    try Int64.fetchOne(
                        db, sql: "SELECT min(time) FROM snapshots WHERE host_id = ?",
                        arguments: [hostID]) ?? Int64.max
                let hourlyUntil = min(until, firstRaw == Int64.max ? until : firstRaw - 3_600_000_000 + 1)
                let firstHourInRange = try Int64.fetchOne(
                    db, sql: "SELECT min(hour) FROM snapshot_hourly WHERE host_id = ? AND hour >= ? AND hour < ?",
                    arguments: [hostID, since, hourlyUntil])
                let origin = [firstRawInRange, firstHourInRange].compactMap { $0 }.min() ?? since
                let span = max(until - origin, 1)
                let step = max((span + Int64(points) - 1) / Int64(points), 1_000_000)
                var buckets: [Int64: SnapshotPoint] = [:]
                let raw = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT (time - ?1) / ?2 AS b, count(*) AS samples,
                            avg(total_kb) AS total_kb, avg(available_kb) AS available_kb,
                            min(available_kb) AS min_available_kb, avg(free_kb) AS free_kb,
                            avg(cached_kb) AS cached_kb, avg(anon_kb) AS anon_kb,
                            avg(shmem_kb) AS shmem_kb, avg(swap_total_kb) AS swap_total_kb,
                            avg(swap_free_kb) AS swap_free_kb, avg(some_avg10) AS some_avg10,
                            avg(some_avg60) AS some_avg60, avg(full_avg10) AS full_avg10,
                            avg(full_avg60) AS full_avg60, max(oom_kill) AS oom_kill,
                            CAST(avg(time) AS INTEGER) AS mean_time
                        FROM snapshots WHERE host_id = ?3 AND time >= ?1 AND time < ?4
                        GROUP BY b ORDER BY b
                        """, arguments: [origin, step, hostID, until])
                for row in raw {
                    // The mean time of the samples it averages: never outside them.
                    var p = SnapshotPoint(
                        time: RFC3339.format(epochMicroseconds: row["mean_time"] as Int64),
                        samples: row["samples"])
                    p.minAvailableKB = row["min_available_kb"]
                    p.oomKill = row["oom_kill"]
                    p.fill { column, isPressure in
                        isPressure
                            ? row[column] as Double?
                            : (row[column] as Double?).map { $0.rounded() }
                    }
                    buckets[row["b"]] = p
                }
                let hourly = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT (hour - ?1) / ?2 AS b, sum(samples) AS samples,
                            sum(pressure_samples) AS pressure_samples,
                            sum(sum_total_kb) AS total_kb, sum(sum_available_kb) AS available_kb,
                            min(min_available_kb) AS min_available_kb, sum(sum_free_kb) AS free_kb,
                            sum(sum_cached_kb) AS cached_kb, sum(sum_anon_kb) AS anon_kb,
                            sum(sum_shmem_kb) AS shmem_kb, sum(sum_swap_total_kb) AS swap_total_kb,
                            sum(sum_swap_free_kb) AS swap_free_kb,
                            sum(sum_some_avg10) AS some_avg10, sum(sum_some_avg60) AS some_avg60,
                            sum(sum_full_avg10) AS full_avg10, sum(sum_full_avg60) AS full_avg60,
                            max(max_oom_kill) AS oom_kill, CAST(avg(hour) AS INTEGER) AS mean_hour
                        FROM snapshot_hourly WHERE host_id = ?3 AND hour >= ?1 AND hour < ?4
                        GROUP BY b ORDER BY b
                        """, arguments: [origin, step, hostID, hourlyUntil])
                for row in hourly {
                    let b: Int64 = row["b"]
                    // Raw snapshots are the finer truth wherever they still exist.
                    if buckets[b] != nil { continue }
                    let n: Int64 = row["samples"]
                    let np: Int64 = row["pressure_samples"]
                    guard n > 0 else { continue }
                    // Hours it sums are [hour, hour + 1 h): their mean midpoint, kept
                    // inside the requested range.
                    let mid = min((row["mean_hour"] as Int64) + 1_800_000_000, until - 1)
                    var p = SnapshotPoint(time: RFC3339.format(epochMicroseconds: mid), samples: Int(n))
                    p.minAvailableKB = row["min_available_kb"]
                    p.oomKill = row["oom_kill"]
                    p.fill { column, isPressure in
                        // Sizes are summed over samples, pressure over pressure samples.
                        isPressure
                            ? (np > 0 ? (row[column] as Double?).map { $0 / Double(np) } : nil)
                            : (row[column] as Int64?).map { Double($0 / n) }
                    }
                    buckets[b] = p
                }
                var latest: MemorySnapshot?
                if let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT time, body FROM snapshots WHERE host_id = ? AND time >= ? AND time < ?
                        ORDER BY time DESC LIMIT 1
                        """, arguments: [hostID, since, until])
                {
                    let body: Data = row["body"]
                    latest = try? SnapshotStorage.snapshot(
                        hostID: hostID, time: row["time"], body: Array(body), db: db)
                }
                return SnapshotsResponse(
                    host: host, since: RFC3339.format(epochMicroseconds: since),
                    until: RFC3339.format(epochMicroseconds: until), stepS: Double(step) / 1e6,
                    points: buckets.sorted { $0.key < $1.key }.map(\.value), latest: latest)
            }
            guard let result else { throw StoreError.notFound("host \(host)") }
            return result
        } catch {
            throw Self.map(error)
        }
    }

    /// The largest processes across the fleet, from each host's latest snapshot.
    public func top(host: String? = nil, limit: Int = 20) async throws(StoreError) -> TopResponse {
        let limit = max(1, min(limit, 1000))
        let cache = snapshotCache
        do {
            return try await pool.read { db in
                var sql = "SELECT id, name, snapshot_time FROM hosts WHERE snapshot_time IS NOT NULL"
                var args = StatementArguments()
                if let host {
                    sql += " AND name = ?"
                    args += [host]
                }
                var all: [TopProcess] = []
                for row in try Row.fetchAll(db, sql: sql, arguments: args) {
                    let t: Int64 = row["snapshot_time"]
                    // The host's newest snapshot, from the writer's memory or else the file (the
                    // hosts row no longer repeats its process list: issue 15, collector CPU). A
                    // host silent past the raw retention has none left, and no processes here.
                    guard
                        let snapshot = try? Self.storedSnapshot(
                            hostID: row["id"], time: t, db: db, cache: cache)
                    else { continue }
                    let time = RFC3339.format(epochMicroseconds: t)
                    for p in snapshot.processes {
                        all.append(TopProcess(host: row["name"], time: time, process: p))
                    }
                }
                all.sort { $0.process.rssKB > $1.process.rssKB }
                return TopResponse(processes: Array(all.prefix(limit)))
            }
        } catch {
            throw Self.map(error)
        }
    }
}

extension SnapshotPoint {
    /// Sets the averaged fields from a bucket row whose columns carry the fields' names
    /// (`total_kb`, `some_avg10`, ...): `value(column, isPressure)` is the field's value,
    /// a size in kB (already whole) or a pressure average.
    fileprivate mutating func fill(_ value: (_ column: String, _ isPressure: Bool) -> Double?) {
        func kb(_ column: String) -> Int64? { value(column, false).map { Int64($0) } }
        totalKB = kb("total_kb")
        availableKB = kb("available_kb")
        freeKB = kb("free_kb")
        cachedKB = kb("cached_kb")
        anonKB = kb("anon_kb")
        shmemKB = kb("shmem_kb")
        swapTotalKB = kb("swap_total_kb")
        swapFreeKB = kb("swap_free_kb")
        someAvg10 = value("some_avg10", true)
        someAvg60 = value("some_avg60", true)
        fullAvg10 = value("full_avg10", true)
        fullAvg60 = value("full_avg60", true)
    }
}
