import Logging
public import OOMKit
public import OOMStore
import PostgresNIO

extension PostgresStore {
    /// The kill rollup dimensions and each one's key of an event row aliased `e`: the
    /// groups of the SQLite store's `kill_daily`. (Databases from before
    /// v7-fix17-kill-counters also hold `hss` rows, host/source/scope, no longer written
    /// or read: the `/metrics` counters are `kill_counters`, which retention leaves alone.)
    static func dimensionKeys(of e: String) -> [(dim: String, key: String)] {
        [
            ("host", "\(e).host_id::text"), ("comm", "\(e).comm"),
            ("hostcomm", "\(e).host_id::text || chr(9) || \(e).comm"), ("source", "\(e).source"),
            ("scope", "coalesce(\(e).scope, 'unknown')"), ("unit", "\(e).unit"), ("container", "\(e).container"),
        ]
    }

    /// `dimensionKeys` as a VALUES list of (dim, key) pairs, optionally only `dims`.
    static func dimensions(of e: String, only dims: Set<String>? = nil) -> String {
        let pairs = dimensionKeys(of: e).filter { dims?.contains($0.dim) ?? true }.map { "('\($0.dim)', \($0.key))" }
        return "(VALUES " + pairs.joined(separator: ", ") + ")"
    }

    /// The dimensions with few groups (every group is read); host and host × comm have
    /// one per host and are ranked inside the database (``largeDimension``).
    static let smallDimensions: Set<String> = ["comm", "source", "scope", "unit", "container"]

    /// The summary over [since, until): whole UTC days from `kill_daily`, the partial days
    /// at the edges grouped from the events (partition-pruned by time), ranked and cut by
    /// the same Swift code as the SQLite store's report. The small dimensions come back
    /// whole; the two large ones (host, host × comm) are summed and ranked by the
    /// database, which returns only the groups that can make the list (``largeDimension``),
    /// so a month of 10,000 hosts sends 20 rows, not one per host.
    public func summary(since: Int64, until: Int64, now: Int64) async throws(StoreError) -> SummaryReport {
        let window = ReportWindow(since: since, until: until)
        return try await store {
            var groups: [String: [String: ReportShaping.Group]] = [:]
            func add(_ dim: String, _ key: String, _ kills: Int, _ last: Int64) {
                let old = groups[dim]?[key] ?? (0, .min)
                groups[dim, default: [:]][key] = (old.kills + kills, max(old.last, last))
            }
            let small = Self.smallDimensions.sorted()
            var days: [Int64: Int] = [:]
            if window.hasWholeDays {
                for row in try await rows(
                    """
                    SELECT dim, key, sum(kills)::bigint AS kills, max(last_time) AS last_time FROM kill_daily
                    WHERE dim = ANY(\(small)) AND day >= \(window.firstDay) AND day < \(window.endDay) AND kills > 0
                    GROUP BY dim, key
                    """)
                {
                    add(try row.get("dim"), try row.get("key"), try row.get("kills"), try row.get("last_time"))
                }
                for row in try await rows(
                    """
                    SELECT day, sum(kills)::bigint AS kills FROM kill_daily
                    WHERE dim = 'source' AND day >= \(window.firstDay) AND day < \(window.endDay) AND kills > 0
                    GROUP BY day
                    """)
                {
                    days[try row.get("day"), default: 0] += try row.get("kills", as: Int.self)
                }
            }
            for edge in window.edges {
                for row in try await rows(
                    """
                    SELECT d.dim, d.key, count(*) AS kills, max(e.time) AS last_time
                    FROM events e CROSS JOIN LATERAL \(unescaped: Self.dimensions(of: "e", only: Self.smallDimensions))
                        AS d (dim, key)
                    WHERE e.time >= \(edge.from) AND e.time < \(edge.to) AND d.key IS NOT NULL
                    GROUP BY 1, 2
                    """)
                {
                    add(try row.get("dim"), try row.get("key"), try row.get("kills"), try row.get("last_time"))
                }
                for row in try await rows(
                    """
                    SELECT time / \(Self.day) AS day, count(*) AS kills FROM events
                    WHERE time >= \(edge.from) AND time < \(edge.to) GROUP BY 1
                    """)
                {
                    days[try row.get("day"), default: 0] += try row.get("kills", as: Int.self)
                }
            }
            let hosts = try await largeDimension("host", minimum: 1, window: window, counted: true)
            groups["host"] = hosts.groups
            groups["hostcomm"] = try await largeDimension(
                "hostcomm", minimum: ReportShaping.repeatOffenderKills, window: window, counted: false
            ).groups
            return try await report(
                window: window, groups: groups, hostsWithKills: hosts.count, days: days, now: now)
        }
    }

    /// The groups of a large dimension (host, host × comm) with at least `minimum` kills in
    /// the window that can make the list: summed over the whole days' `kill_daily` rows
    /// and the edges' events and ranked inside the database, most kills first and ties by
    /// key (bytewise, as Swift orders the ASCII keys), at most ``OOMDatabase/reportListLimit``;
    /// with `counted`, `groups` is how many groups reached `minimum` (else 0: a top-N sort
    /// is cheaper than numbering every group). Keys are grouped in the "C" collation.
    static func largeDimensionSQL(_ dim: String, minimum: Int, window: ReportWindow, counted: Bool) -> PostgresQuery {
        let key = dimensionKeys(of: "e").first { $0.dim == dim }?.key ?? "NULL"
        var binds = Binds()
        var parts: [String] = []
        if window.hasWholeDays {
            parts.append(
                """
                SELECT key COLLATE "C", kills, last_time FROM kill_daily
                WHERE dim = \(binds.add(dim)) AND day >= \(binds.add(window.firstDay))
                    AND day < \(binds.add(window.endDay)) AND kills > 0
                """)
        }
        for edge in window.edges {
            parts.append(
                """
                SELECT \(key) COLLATE "C", count(*), max(e.time) FROM events e
                WHERE e.time >= \(binds.add(edge.from)) AND e.time < \(binds.add(edge.to)) GROUP BY 1
                """)
        }
        let least = binds.add(Int64(minimum))
        let limit = binds.add(Int64(OOMDatabase.reportListLimit))
        let sql =
            counted
            ? """
            WITH g (key, kills, last_time) AS (\(parts.joined(separator: "\nUNION ALL\n"))),
            w AS (SELECT key, sum(kills)::bigint AS kills, max(last_time) AS last_time FROM g
                GROUP BY key HAVING sum(kills) >= \(least)),
            r AS (SELECT key, kills, last_time, count(*) OVER () AS groups,
                row_number() OVER (ORDER BY kills DESC, key COLLATE "C") AS place FROM w)
            SELECT key, kills, last_time, groups FROM r WHERE place <= \(limit)
            """
            : """
            WITH g (key, kills, last_time) AS (\(parts.joined(separator: "\nUNION ALL\n")))
            SELECT key, sum(kills)::bigint AS kills, max(last_time) AS last_time, 0::bigint AS groups FROM g
            GROUP BY key HAVING sum(kills) >= \(least) ORDER BY kills DESC, key COLLATE "C" LIMIT \(limit)
            """
        return binds.query(sql)
    }

    /// ``largeDimensionSQL``'s rows: the groups that can make the list, and how many
    /// groups reached `minimum`.
    func largeDimension(_ dim: String, minimum: Int, window: ReportWindow, counted: Bool) async throws -> (
        groups: [String: ReportShaping.Group], count: Int
    ) {
        guard window.hasWholeDays || !window.edges.isEmpty else { return ([:], 0) }
        var groups: [String: ReportShaping.Group] = [:]
        var count = 0
        for row in try await rows(Self.largeDimensionSQL(dim, minimum: minimum, window: window, counted: counted)) {
            groups[try row.get("key")] = (try row.get("kills", as: Int.self), try row.get("last_time"))
            count = try row.get("groups", as: Int.self)
        }
        return (groups, count)
    }

    func report(
        window: ReportWindow, groups: [String: [String: ReportShaping.Group]], hostsWithKills: Int,
        days: [Int64: Int], now: Int64
    ) async throws -> SummaryReport {
        let (since, until) = (window.since, window.until)
        var hosts = 0
        var stale = 0
        var names: [Int64: String] = [:]
        var atRisk: [HostRisk] = []
        for row in try await rows(
            """
            SELECT id, name, last_seen, interval_s, upload_interval_s, snapshot_time, total_kb, available_kb,
                full_avg60
            FROM hosts ORDER BY id
            """)
        {
            hosts += 1
            let id: Int64 = try row.get("id")
            names[id] = try row.get("name")
            if try row.hostIsStale(now: now) { stale += 1 }
            guard let t = try row.get("snapshot_time", as: Int64?.self) else { continue }
            let full: Double? = try row.get("full_avg60")
            let risk = HostRules.risk(
                total: try row.get("total_kb"), available: try row.get("available_kb"), fullAvg60: full)
            guard !risk.reasons.isEmpty else { continue }
            atRisk.append(
                HostRisk(
                    host: names[id] ?? "?", snapshotTime: RFC3339.format(epochMicroseconds: t),
                    availablePct: risk.availablePct, fullAvg60: full, reasons: risk.reasons))
        }
        atRisk.sort { ($0.availablePct ?? 100) < ($1.availablePct ?? 100) }
        func name(_ key: String) -> String { Int64(key).flatMap { names[$0] } ?? "?" }

        let byHost = ReportShaping.countRows(groups["host"] ?? [:]).map {
            var row = $0
            row.key = name(row.key)
            return row
        }
        var offenders: [RepeatOffender] = []
        for (key, kills, last) in ReportShaping.ranked(
            (groups["hostcomm"] ?? [:]).filter { $0.value.kills >= ReportShaping.repeatOffenderKills })
        {
            guard let tab = key.firstIndex(of: "\t"), let hostID = Int64(key[..<tab]) else { continue }
            let comm = String(key[key.index(after: tab)...])
            let first = try await scalar(
                Int64.self,
                """
                SELECT min(time) FROM events
                WHERE comm = \(comm) AND host_id = \(hostID) AND time >= \(since) AND time < \(until)
                """, on: reader)
            offenders.append(
                RepeatOffender(
                    host: names[hostID] ?? "?", comm: comm, kills: kills,
                    firstKill: first.map { RFC3339.format(epochMicroseconds: $0) },
                    lastKill: RFC3339.format(epochMicroseconds: last)))
        }
        let byDay = days.keys.sorted().compactMap { d -> DayCount? in
            guard let n = days[d], n > 0 else { return nil }
            return DayCount(day: ReportShaping.dayLabel(d), kills: n)
        }
        // Ties (same size, same time) in SQLite's order: newest row first when it walks its
        // size index (a day or more), oldest first when it sorts the window's rows.
        let ties = until - since >= Self.day ? "DESC" : "ASC"
        let victims = try await rows(
            """
            SELECT event_id, host_id, time, source, pid, comm, rss_kb, unit, container FROM events
            WHERE time >= \(since) AND time < \(until) ORDER BY rss_kb DESC, time DESC, id \(unescaped: ties) LIMIT 10
            """
        ).map {
            VictimRow(
                id: try $0.get("event_id"), host: names[try $0.get("host_id")] ?? "?",
                time: RFC3339.format(epochMicroseconds: try $0.get("time")), source: try $0.get("source"),
                pid: Int(try $0.get("pid", as: Int64.self)), comm: try $0.get("comm"), rssKB: try $0.get("rss_kb"),
                unit: try $0.get("unit"), containerID: try $0.get("container"))
        }
        func nonZero(_ dim: String) -> [String: Int] {
            (groups[dim] ?? [:]).filter { $0.value.kills > 0 }.mapValues(\.kills)
        }
        return SummaryReport(
            since: RFC3339.format(epochMicroseconds: since),
            until: RFC3339.format(epochMicroseconds: until),
            generatedAt: RFC3339.format(epochMicroseconds: now),
            totals: .init(
                kills: (groups["source"] ?? [:]).values.reduce(0) { $0 + $1.kills }, hosts: hosts,
                hostsWithKills: hostsWithKills, staleHosts: stale,
                bySource: nonZero("source"), byScope: nonZero("scope")),
            byHost: byHost,
            byComm: ReportShaping.countRows(groups["comm"] ?? [:]),
            byUnit: ReportShaping.countRows(groups["unit"] ?? [:]),
            byContainer: ReportShaping.countRows(groups["container"] ?? [:]),
            byDay: byDay, largestVictims: victims, repeatOffenders: offenders, hostsAtRisk: atRisk)
    }

    public func fleetGauges(now: Int64) async throws(StoreError) -> FleetGauges {
        try await store {
            var hosts = 0
            var stale = 0
            var names: [Int64: String] = [:]
            for row in try await rows("SELECT id, name, last_seen, interval_s, upload_interval_s FROM hosts") {
                hosts += 1
                names[try row.get("id")] = try row.get("name")
                if try row.hostIsStale(now: now) { stale += 1 }
            }
            var kills: [String: Int] = [:]
            for row in try await rows(
                "SELECT host_id, count(*) AS kills FROM events WHERE time >= \(now - 86_400_000_000) GROUP BY host_id")
            {
                kills[names[try row.get("host_id")] ?? "?"] = try row.get("kills")
            }
            let events = try await scalar(Int64.self, "SELECT max(id) FROM event_ids", on: reader) ?? 0
            return FleetGauges(hosts: hosts, staleHosts: stale, events: Int(events), kills24h: kills)
        }
    }

    public func killCounters() async throws(StoreError) -> [KillCounter] {
        try await store {
            try await rows(
                """
                SELECT h.name AS host, k.source, k.scope, k.kills
                FROM kill_counters k JOIN hosts h ON h.id = k.host_id
                WHERE k.kills > 0
                ORDER BY h.name COLLATE "C", k.source COLLATE "C", k.scope COLLATE "C"
                """
            ).map {
                KillCounter(
                    host: try $0.get("host"), source: try $0.get("source"), scope: try $0.get("scope"),
                    count: try $0.get("kills"))
            }
        }
    }
}
