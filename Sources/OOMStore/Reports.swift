import GRDB
public import OOMKit

/// Fleet figures for `/metrics`.
public struct FleetGauges: Sendable, Equatable {
    public var hosts: Int
    public var staleHosts: Int
    public var events: Int
    /// Kills stored per host name in the last 24 hours.
    public var kills24hByHost: [String: Int]
}

extension OOMDatabase {
    /// How many rows each ranked list of the summary holds at most.
    public static let reportListLimit = 20

    /// The summary report over [since, until): every figure comes from an index that
    /// covers its query, so no report step reads the events table itself (checked with
    /// EXPLAIN QUERY PLAN in the tests).
    public func summary(since: Int64, until: Int64, now: Int64 = nowMicroseconds())
        async throws(StoreError) -> SummaryReport
    {
        let listLimit = Self.reportListLimit
        do {
            return try await pool.read { db in
                let range: StatementArguments = [since, until]
                // Counted and filtered in SQL: a fleet of 10,000 hosts stays off the Swift side.
                let fleet = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT count(*), coalesce(sum(? - last_seen > 3 * interval_s * 1000000), 0)
                        FROM hosts
                        """, arguments: [now])
                let hostCount: Int = fleet?[0] ?? 0
                let stale: Int = fleet?[1] ?? 0
                var atRisk: [HostRisk] = []
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT name, snapshot_time, total_kb, available_kb, full_avg60 FROM hosts
                        WHERE snapshot_time IS NOT NULL
                            AND ((total_kb > 0 AND available_kb * 10 < total_kb) OR full_avg60 > 10)
                        """)
                {
                    let risk = Self.risk(total: row[2], available: row[3], fullAvg60: row[4])
                    guard !risk.reasons.isEmpty else { continue }
                    atRisk.append(
                        HostRisk(
                            host: row[0], snapshotTime: RFC3339.format(epochMicroseconds: row[1]),
                            availablePct: risk.availablePct, fullAvg60: row[4],
                            reasons: risk.reasons))
                }
                let nameStatement = try db.cachedStatement(sql: "SELECT name FROM hosts WHERE id = ?")
                var nameCache: [Int64: String] = [:]
                func hostName(_ id: Int64) throws -> String {
                    if let n = nameCache[id] { return n }
                    let n = try String.fetchOne(nameStatement, arguments: [id]) ?? "?"
                    nameCache[id] = n
                    return n
                }
                atRisk.sort { ($0.availablePct ?? 100) < ($1.availablePct ?? 100) }

                let bounds = try Row.fetchOne(
                    db, sql: "SELECT min(time), max(time) FROM events")
                let minTime: Int64? = bounds?[0]
                let maxTime: Int64? = bounds?[1]
                var counts = DimensionCounts()
                if let minTime, let maxTime {
                    // Most of the history inside the window, up to now: subtract what lies
                    // before `since` from the running totals. Otherwise count the window.
                    let span = max(maxTime - minTime, 1)
                    let outside = Double(max(0, since - minTime)) / Double(span)
                    if until > maxTime && outside <= 0.5 {
                        counts = try Self.countsBySubtraction(db, before: since)
                    } else {
                        counts = try Self.countsInWindow(db, since: since, until: until)
                    }
                }
                let kills = counts.source.values.reduce(0) { $0 + $1.kills }
                var bySource: [String: Int] = [:]
                for (k, v) in counts.source where v.kills > 0 { bySource[k] = v.kills }
                var byScope: [String: Int] = [:]
                for (k, v) in counts.scope where v.kills > 0 { byScope[k] = v.kills }

                func ranked(_ groups: [String: DimensionCounts.Cell]) -> [CountRow] {
                    groups.filter { $0.value.kills > 0 }
                        .map { (key: $0.key, cell: $0.value) }
                        .sorted {
                            $0.cell.kills != $1.cell.kills
                                ? $0.cell.kills > $1.cell.kills : $0.key < $1.key
                        }
                        .prefix(listLimit)
                        .map {
                            CountRow(
                                key: $0.key, kills: $0.cell.kills,
                                lastKill: RFC3339.format(epochMicroseconds: $0.cell.last))
                        }
                }
                let byHost = try ranked(counts.host).map { row in
                    var row = row
                    row.key = try hostName(Int64(row.key) ?? -1)
                    return row
                }
                let hostsWithKills =
                    counts.hostsWithKills ?? counts.host.values.filter { $0.kills > 0 }.count
                let byComm = ranked(counts.comm)
                let byUnit = ranked(counts.unit)
                let byContainer = ranked(counts.container)

                var offenders: [RepeatOffender] = []
                let firstKill = try db.cachedStatement(
                    sql: """
                        SELECT min(time) FROM events INDEXED BY events_comm
                        WHERE comm = ? AND host_id = ? AND time >= ? AND time < ?
                        """)
                let topPairs = counts.hostComm.filter { $0.value.kills >= 3 }
                    .sorted {
                        $0.value.kills != $1.value.kills
                            ? $0.value.kills > $1.value.kills : $0.key < $1.key
                    }
                    .prefix(listLimit)
                for (key, cell) in topPairs {
                    guard let tab = key.firstIndex(of: "\t"),
                        let hostID = Int64(key[..<tab])
                    else { continue }
                    let comm = String(key[key.index(after: tab)...])
                    let first = try Int64.fetchOne(
                        firstKill, arguments: [comm, hostID, since, until])
                    offenders.append(
                        RepeatOffender(
                            host: try hostName(hostID), comm: comm, kills: cell.kills,
                            firstKill: first.map { RFC3339.format(epochMicroseconds: $0) },
                            lastKill: RFC3339.format(epochMicroseconds: cell.last)))
                }

                // Whole days from the per-day totals; the two partial days at the edges
                // are counted from the time index.
                var byDay: [DayCount] = []
                let day: Int64 = 86_400_000_000
                var dayKills: [Int64: Int] = [:]
                let firstFull = (since + day - 1) / day
                let lastFull = until / day  // exclusive
                if firstFull < lastFull {
                    for row in try Row.fetchAll(
                        db, sql: "SELECT day, kills FROM kill_days WHERE day >= ? AND day < ?",
                        arguments: [firstFull, lastFull])
                    {
                        dayKills[row[0]] = row[1]
                    }
                }
                let countRange = try db.cachedStatement(
                    sql: "SELECT count(*) FROM events WHERE time >= ? AND time < ?")
                var edges: [(Int64, Int64)] = []
                if firstFull > lastFull {
                    edges.append((since, until))  // within one day
                } else {
                    // firstFull == lastFull: the range crosses one midnight (24 h back from
                    // now), so each side goes to its own date.
                    if since < firstFull * day { edges.append((since, firstFull * day)) }
                    if lastFull * day < until { edges.append((lastFull * day, until)) }
                }
                for (from, to) in edges where from < to {
                    let n = try Int.fetchOne(countRange, arguments: [from, to]) ?? 0
                    dayKills[from / day, default: 0] += n
                }
                for d in dayKills.keys.sorted() where dayKills[d]! > 0 {
                    let date = RFC3339.format(epochMicroseconds: d * day)
                    byDay.append(DayCount(day: String(date.prefix(10)), kills: dayKills[d]!))
                }

                var victims: [VictimRow] = []
                // A wide window finds its ten largest quickly walking the RSS index down;
                // a narrow one reads its few rows by time instead.
                let wide = (until - since) >= 86_400_000_000
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT event_id, host_id, time, source, pid, comm, rss_kb, unit, container
                        FROM events INDEXED BY \(wide ? "events_rss" : "events_time_cover")
                        WHERE time >= ? AND time < ?
                        ORDER BY rss_kb DESC, time DESC LIMIT 10
                        """, arguments: range)
                {
                    victims.append(
                        VictimRow(
                            id: row[0], host: try hostName(row[1]),
                            time: RFC3339.format(epochMicroseconds: row[2]), source: row[3],
                            pid: row[4], comm: row[5], rssKB: row[6], unit: row[7],
                            containerID: row[8]))
                }

                return SummaryReport(
                    since: RFC3339.format(epochMicroseconds: since),
                    until: RFC3339.format(epochMicroseconds: until),
                    generatedAt: RFC3339.format(epochMicroseconds: now),
                    totals: .init(
                        kills: kills, hosts: hostCount, hostsWithKills: hostsWithKills,
                        staleHosts: stale, bySource: bySource, byScope: byScope),
                    byHost: byHost, byComm: byComm, byUnit: byUnit,
                    byContainer: byContainer, byDay: byDay, largestVictims: victims,
                    repeatOffenders: offenders,
                    hostsAtRisk: atRisk)
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Fleet gauges for `/metrics`.
    public func fleetGauges(now: Int64 = nowMicroseconds()) async throws(StoreError) -> FleetGauges {
        do {
            return try await pool.read { db in
                var hosts = 0
                var stale = 0
                var names: [Int64: String] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT id, name, last_seen, interval_s FROM hosts") {
                    hosts += 1
                    names[row[0]] = row[1]
                    if Self.isStale(lastSeen: row[2], intervalS: row[3], now: now) { stale += 1 }
                }
                var kills: [String: Int] = [:]
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT host_id, count(*) FROM events INDEXED BY events_host_time
                        WHERE time >= ? GROUP BY host_id
                        """, arguments: [now - 86_400_000_000])
                {
                    kills[names[row[0]] ?? "?"] = row[1]
                }
                let events = try Int.fetchOne(db, sql: "SELECT max(id) FROM events") ?? 0
                return FleetGauges(
                    hosts: hosts, staleHosts: stale, events: events, kills24hByHost: kills)
            }
        } catch {
            throw Self.map(error)
        }
    }
}

/// Kills and the latest kill time per group, for each report dimension.
struct DimensionCounts {
    struct Cell {
        var kills: Int
        var last: Int64
    }
    var host: [String: Cell] = [:]
    var comm: [String: Cell] = [:]
    var hostComm: [String: Cell] = [:]
    var source: [String: Cell] = [:]
    var scope: [String: Cell] = [:]
    var unit: [String: Cell] = [:]
    var container: [String: Cell] = [:]
    /// Set when `host` holds only the top groups.
    var hostsWithKills: Int?

    /// Changes one dimension's groups in place (no copy of the dictionary).
    mutating func update(_ dim: String, _ body: (inout [String: Cell]) -> Void) {
        switch dim {
        case "host": body(&host)
        case "comm": body(&comm)
        case "hostcomm": body(&hostComm)
        case "source": body(&source)
        case "scope": body(&scope)
        case "unit": body(&unit)
        default: body(&container)
        }
    }

    /// Each dimension's grouping expression over `events`.
    static let expressions: [(dim: String, expr: String, index: String, group: String)] = [
        ("host", "CAST(host_id AS TEXT)", "events_host_time", "host_id"),
        ("comm", "comm", "events_comm", "comm"),
        ("hostcomm", "host_id || char(9) || comm", "events_comm", "comm, host_id"),
        ("source", "source", "events_source", "source"),
        ("scope", "coalesce(scope, 'unknown')", "events_source", "source, scope"),
        ("unit", "unit", "events_unit", "unit"),
        ("container", "container", "events_container", "container"),
    ]
}

extension OOMDatabase {
    /// Window counts as running totals minus the events before `before` (only valid when
    /// the window reaches past the newest event). Last-kill times come from the totals.
    ///
    /// Each dimension is read largest total first and stops once no remaining group can
    /// reach the top of the list (a group's window count is at most its total), so a
    /// report touches a few hundred rollup rows, not every host and comm pair.
    static func countsBySubtraction(_ db: Database, before: Int64) throws -> DimensionCounts {
        var counts = DimensionCounts()
        var outside: [String: [String: Int]] = [:]
        for (dim, expr, _, _) in DimensionCounts.expressions {
            let filter = dim == "unit" || dim == "container" ? " AND \(expr) IS NOT NULL" : ""
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT \(expr), count(*) FROM events INDEXED BY events_time_cover
                    WHERE time < ?\(filter) GROUP BY 1
                    """, arguments: [before])
            {
                outside[dim, default: [:]][row[0]] = row[1]
            }
        }
        let limit = reportListLimit
        for (dim, _, _, _) in DimensionCounts.expressions {
            let minimum = dim == "hostcomm" ? 3 : 1
            let out = outside[dim] ?? [:]
            var top: [Int] = []  // best window counts so far, descending, at most `limit`
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT key, kills, last_time FROM kill_totals INDEXED BY kill_totals_rank
                    WHERE dim = ? AND kills >= ? ORDER BY kills DESC
                    """, arguments: [dim, minimum])
            var groups: [String: DimensionCounts.Cell] = [:]
            while let row = try rows.next() {
                let total: Int = row[1]
                // Small dimensions (source, scope) are always read whole.
                if dim != "source" && dim != "scope", top.count >= limit, total < top[limit - 1] {
                    break
                }
                let key: String = row[0]
                let window = total - (out[key] ?? 0)
                guard window >= minimum else { continue }
                groups[key] = .init(kills: window, last: row[2])
                if let at = top.firstIndex(where: { $0 < window }) {
                    top.insert(window, at: at)
                } else {
                    top.append(window)
                }
                if top.count > limit { top.removeLast() }
            }
            counts.update(dim) { $0 = groups }
        }
        // Hosts with kills in the window: hosts with any kill, less those whose every
        // kill lies before the window.
        let withAny =
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM kill_totals WHERE dim = 'host' AND kills > 0") ?? 0
        var emptied = 0
        let total = try db.cachedStatement(
            sql: "SELECT kills FROM kill_totals WHERE dim = 'host' AND key = ?")
        for (key, n) in outside["host"] ?? [:] {
            if try Int.fetchOne(total, arguments: [key]) == n { emptied += 1 }
        }
        counts.hostsWithKills = withAny - emptied
        return counts
    }

    /// Window counts read from each dimension's covering index.
    static func countsInWindow(_ db: Database, since: Int64, until: Int64) throws
        -> DimensionCounts
    {
        var counts = DimensionCounts()
        for (dim, expr, index, group) in DimensionCounts.expressions {
            let filter = dim == "unit" || dim == "container" ? "\(expr) IS NOT NULL AND " : ""
            let having = dim == "hostcomm" ? " HAVING count(*) >= 3" : ""
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT \(expr), count(*), max(time) FROM events INDEXED BY \(index)
                    WHERE \(filter)time >= ? AND time < ? GROUP BY \(group)\(having)
                    """, arguments: [since, until])
            {
                let key: String = row[0]
                let n: Int = row[1]
                let last: Int64 = row[2]
                counts.update(dim) { groups in
                    var cell = groups[key] ?? .init(kills: 0, last: 0)
                    cell.kills += n
                    cell.last = max(cell.last, last)
                    groups[key] = cell
                }
            }
        }
        return counts
    }
}
