import GRDB
import OOMKit

/// The summary report's queries over one window, each a named SQL statement read into a
/// row type by column name.
///
/// A window [since, until) splits into whole UTC days, read from the per-day rollups, and
/// at most two partial days at its edges, read in one pass over the events' covering time
/// index (`events_time_cover` holds every dimension's column) and grouped in Swift with
/// integer and inline-string keys: one pass instead of one GROUP BY per dimension, and
/// none of SQLite's temporary sort trees. Small dimensions (source, scope, comm, unit,
/// container) are summed over their rollup rows; the two large ones (host, host × comm)
/// are read largest running total first and stop once no remaining group can reach the
/// top of the list, since a group's window count never exceeds its total.
struct SummaryQuery {
    let db: Database
    let since: Int64
    let until: Int64
    /// Whole days [firstDay, endDay), in days since the epoch; empty when `firstDay >= endDay`.
    let firstDay: Int64
    let endDay: Int64
    /// The parts of the window outside whole days.
    let edges: [(from: Int64, to: Int64)]

    static let day = KillRollups.day
    static let listLimit = OOMDatabase.reportListLimit

    init(db: Database, since: Int64, until: Int64) {
        self.db = db
        self.since = since
        self.until = until
        (firstDay, endDay, edges) = Self.split(since: since, until: until)
    }

    /// The whole days and edge intervals of a window (every store splits it this way).
    static func split(since: Int64, until: Int64) -> (
        firstDay: Int64, endDay: Int64, edges: [(from: Int64, to: Int64)]
    ) {
        let day = Self.day
        // Rollup days truncate like SQLite's integer division: only days from 1 on are
        // whole days here, anything at or before the epoch is read from events.
        var first = since <= 0 ? 1 : (since + day - 1) / day
        var end = until <= 0 ? 0 : until / day
        var edges: [(Int64, Int64)] = []
        if first >= end || since >= until {
            first = 0
            end = 0
            if since < until { edges.append((since, until)) }
        } else {
            if since < first * day { edges.append((since, first * day)) }
            if end * day < until { edges.append((end * day, until)) }
        }
        return (first, end, edges)
    }

    var hasWholeDays: Bool { firstDay < endDay }

    // MARK: rows

    struct FleetRow: FetchableRecord {
        var hosts: Int
        var stale: Int
        init(row: Row) throws {
            hosts = row["hosts"]
            stale = row["stale"]
        }
    }

    struct RiskRow: FetchableRecord {
        var name: String
        var snapshotTime: Int64
        var totalKB: Int64?
        var availableKB: Int64?
        var fullAvg60: Double?
        init(row: Row) throws {
            name = row["name"]
            snapshotTime = row["snapshot_time"]
            totalKB = row["total_kb"]
            availableKB = row["available_kb"]
            fullAvg60 = row["full_avg60"]
        }
    }

    /// A group's kills over the whole days of the window.
    struct GroupRow: FetchableRecord {
        var key: String
        var kills: Int
        var lastTime: Int64
        init(row: Row) throws {
            key = row["key"]
            kills = row["kills"]
            lastTime = row["last_time"]
        }
    }

    /// A group of a large dimension with its running total, largest first.
    struct RankedRow: FetchableRecord {
        var key: String
        var total: Int
        var kills: Int
        init(row: Row) throws {
            key = row["key"]
            total = row["total"]
            kills = row["kills"] ?? 0
        }
    }

    struct DayRow: FetchableRecord {
        var day: Int64
        var kills: Int
        init(row: Row) throws {
            day = row["day"]
            kills = row["kills"]
        }
    }

    struct VictimRecord: FetchableRecord {
        var eventID: String
        var hostID: Int64
        var time: Int64
        var source: String
        var pid: Int
        var comm: String
        var rssKB: Int64
        var unit: String?
        var container: String?
        init(row: Row) throws {
            eventID = row["event_id"]
            hostID = row["host_id"]
            time = row["time"]
            source = row["source"]
            pid = row["pid"]
            comm = row["comm"]
            rssKB = row["rss_kb"]
            unit = row["unit"]
            container = row["container"]
        }
    }

    // MARK: queries

    static let fleetSQL = """
        SELECT count(*) AS hosts, coalesce(sum(\(OOMDatabase.staleSQL)), 0) AS stale
        FROM hosts
        """
    static let atRiskSQL = """
        SELECT name, snapshot_time, total_kb, available_kb, full_avg60 FROM hosts
        WHERE snapshot_time IS NOT NULL
            AND ((total_kb > 0 AND available_kb * 10 < total_kb) OR full_avg60 > 10)
        """
    static let hostNameSQL = "SELECT name FROM hosts WHERE id = ?"
    /// The kills in one edge interval, every dimension's column at once, read from the
    /// covering time index: one pass for all seven dimensions and the days.
    static let edgeRowsSQL = """
        SELECT time, host_id, comm, source, scope, unit, container
        FROM events INDEXED BY events_time_cover WHERE time >= ? AND time < ?
        """
    /// A small dimension's groups over whole days (`?1` dim, `?2` first day, `?3` end day).
    static let groupsSQL = """
        SELECT key, sum(kills) AS kills, max(last_time) AS last_time FROM kill_daily
        WHERE dim = ?1 AND day >= ?2 AND day < ?3 AND kills > 0 GROUP BY key
        """
    /// A large dimension's groups, largest running total first, each with its kills over
    /// the whole days (`?1` dim, `?2` first day, `?3` end day, `?4` least total).
    static let rankedSQL = """
        SELECT t.key AS key, t.kills AS total,
            (SELECT sum(d.kills) FROM kill_daily d WHERE d.dim = ?1 AND d.key = t.key
                AND d.day >= ?2 AND d.day < ?3 AND d.kills > 0) AS kills
        FROM kill_totals t INDEXED BY kill_totals_rank
        WHERE t.dim = ?1 AND t.kills >= ?4 ORDER BY t.kills DESC
        """
    /// One group's latest kill over whole days (`?1` dim, `?2` key, `?3` first, `?4` end day).
    static let groupLastSQL = """
        SELECT max(last_time) FROM kill_daily
        WHERE dim = ?1 AND key = ?2 AND day >= ?3 AND day < ?4 AND kills > 0
        """
    /// Hosts with a kill in the whole days (`?1` first day, `?2` end day): one statement
    /// probing each host's days inside SQLite, not one statement per host from Swift.
    static let hostsWithKillsSQL = """
        SELECT t.key FROM kill_totals t WHERE t.dim = 'host' AND t.kills > 0
            AND EXISTS (SELECT 1 FROM kill_daily d
                WHERE d.dim = 'host' AND d.key = t.key AND d.day >= ?1 AND d.day < ?2 AND d.kills > 0)
        """
    static let daysSQL = "SELECT day, kills FROM kill_days WHERE day >= ? AND day < ? AND kills > 0"
    static let firstKillSQL = """
        SELECT min(time) FROM events INDEXED BY events_comm
        WHERE comm = ? AND host_id = ? AND time >= ? AND time < ?
        """
    /// The ten largest victims; a wide window walks the RSS index down, a narrow one reads
    /// its few rows by time.
    static func victimsSQL(wide: Bool) -> String {
        """
        SELECT event_id, host_id, time, source, pid, comm, rss_kb, unit, container
        FROM events INDEXED BY \(wide ? "events_rss" : "events_time_cover")
        WHERE time >= ? AND time < ?
        ORDER BY rss_kb DESC, time DESC LIMIT 10
        """
    }

    // MARK: the report

    typealias Cell = KillRollups.Cell

    /// Kills per group of every dimension (by dimension, then key), and per day, in the
    /// edge intervals.
    struct EdgeCounts {
        /// Every dimension but host × process, by rollup key.
        var groups: [String: [String: Cell]] = [:]
        var days: [Int64: Int] = [:]
        /// Host × process groups by number, turned into rollup keys only where a report
        /// needs them: a window's edges hold tens of thousands, most with one kill.
        var hostComms: [HostComm: Cell] = [:]
        var comms = Interned()

        /// A group's edge count by its rollup key.
        func cell(_ dim: String, _ key: String) -> Cell? {
            guard dim == "hostcomm" else { return groups[dim]?[key] }
            guard let (hostID, name) = SummaryQuery.hostComm(key), let comm = comms.numbers[name] else { return nil }
            return hostComms[HostComm(hostID: hostID, comm: comm)]
        }

        /// The groups with at least `minimum` kills, by rollup key.
        func groups(_ dim: String, minimum: Int) -> [String: Cell] {
            guard dim == "hostcomm" else { return (groups[dim] ?? [:]).filter { $0.value.kills >= minimum } }
            var found: [String: Cell] = [:]
            for (g, c) in hostComms where c.kills >= minimum { found["\(g.hostID)\t\(comms.keys[g.comm])"] = c }
            return found
        }
    }

    /// The host id and process name of a `hostcomm` rollup key (`HOSTID` tab `COMM`).
    static func hostComm(_ key: String) -> (hostID: Int64, comm: String)? {
        guard let tab = key.firstIndex(of: "\t"), let hostID = Int64(key[..<tab]) else { return nil }
        return (hostID, String(key[key.index(after: tab)...]))
    }

    /// A host × process group, kept as integers while counting (the comm by its number in
    /// `Interned`): no string hashed per group.
    struct HostComm: Hashable {
        var hostID: Int64
        var comm: Int
    }

    /// Counts for keys met in the order of first use: a key is hashed once per kill to find
    /// its number, its cell is then an array slot.
    struct Interned {
        var numbers: [String: Int] = [:]
        var keys: [String] = []
        var cells: [Cell] = []

        /// The key's number, counting the kill at `time` in its cell.
        mutating func add(_ key: String, _ time: Int64) -> Int {
            if let n = numbers[key] {
                cells[n].add(time)
                return n
            }
            numbers[key] = keys.count
            keys.append(key)
            cells.append(Cell(kills: 1, last: time))
            return keys.count - 1
        }

        var groups: [String: Cell] { Dictionary(uniqueKeysWithValues: zip(keys, cells)) }
    }

    /// Counts for a dimension with a handful of keys (source, scope): a linear search is
    /// cheaper than a hash.
    struct FewKeys {
        var keys: [String] = []
        var cells: [Cell] = []

        mutating func add(_ key: String, _ time: Int64) {
            if let i = keys.firstIndex(of: key) {
                cells[i].add(time)
            } else {
                keys.append(key)
                cells.append(Cell(kills: 1, last: time))
            }
        }

        var groups: [String: Cell] { Dictionary(uniqueKeysWithValues: zip(keys, cells)) }
    }

    /// Groups the edge intervals' kills in one pass over the covering index (rows in time
    /// order). Process names are hashed once per kill and then counted by number; host ×
    /// process groups are integer pairs; source and scope are searched among their few
    /// values; the day changes only between runs of rows. A group becomes the rollups' text
    /// key once, not once per kill (host × process groups only when a report asks).
    func edgeCounts() throws -> EdgeCounts {
        var counts = EdgeCounts()
        var hosts: [Int64: Cell] = [:]
        var sources = FewKeys()
        var scopes = FewKeys()
        var units: [String: Cell] = [:]
        var containers: [String: Cell] = [:]
        let statement = try db.cachedStatement(sql: Self.edgeRowsSQL)
        for edge in edges {
            var day = Int64.min
            var dayKills = 0
            let rows = try Row.fetchCursor(statement, arguments: [edge.from, edge.to])
            while let row = try rows.next() {
                let time: Int64 = row[0]
                let hostID: Int64 = row[1]
                if time / Self.day != day {
                    if dayKills > 0 { counts.days[day, default: 0] += dayKills }
                    (day, dayKills) = (time / Self.day, 0)
                }
                dayKills += 1
                hosts[hostID, default: Cell()].add(time)
                let comm = counts.comms.add(row[2], time)
                counts.hostComms[HostComm(hostID: hostID, comm: comm), default: Cell()].add(time)
                sources.add(row[3], time)
                scopes.add(row[4] as String? ?? "unknown", time)
                if let unit: String = row[5] { units[unit, default: Cell()].add(time) }
                if let container: String = row[6] { containers[container, default: Cell()].add(time) }
            }
            if dayKills > 0 { counts.days[day, default: 0] += dayKills }
        }
        counts.groups = [
            "host": Dictionary(uniqueKeysWithValues: hosts.map { (String($0.key), $0.value) }),
            "comm": counts.comms.groups, "source": sources.groups, "scope": scopes.groups, "unit": units,
            "container": containers,
        ]
        return counts
    }

    /// Every group of a small dimension with its window count.
    func smallDimension(_ dim: String, edges: EdgeCounts) throws -> [String: Cell] {
        var groups: [String: Cell] = [:]
        if hasWholeDays {
            for row in try GroupRow.fetchAll(db, sql: Self.groupsSQL, arguments: [dim, firstDay, endDay]) {
                groups[row.key] = Cell(kills: row.kills, last: row.lastTime)
            }
        }
        for (key, c) in edges.groups[dim] ?? [:] { groups[key, default: Cell()].add(c.last, kills: c.kills) }
        return groups
    }

    /// The top groups of a large dimension with at least `minimum` kills in the window.
    func largeDimension(_ dim: String, minimum: Int, edges: EdgeCounts) throws -> [String: Cell] {
        // Without whole days the edges are the whole window: every group is counted.
        guard hasWholeDays else { return edges.groups(dim, minimum: minimum) }
        var groups: [String: Cell] = [:]
        var top: [Int] = []  // best window counts so far, descending, at most `listLimit`
        let rows = try RankedRow.fetchCursor(
            db, sql: Self.rankedSQL, arguments: [dim, firstDay, endDay, minimum])
        while let row = try rows.next() {
            if top.count >= Self.listLimit, row.total < top[Self.listLimit - 1] { break }
            let edge = edges.cell(dim, row.key)
            let kills = row.kills + (edge?.kills ?? 0)
            guard kills >= minimum else { continue }
            groups[row.key] = Cell(kills: kills, last: edge?.last ?? .min)
            top.insert(kills, at: top.firstIndex { $0 < kills } ?? top.endIndex)
            if top.count > Self.listLimit { top.removeLast() }
        }
        // Latest kills for the groups that can make the list only.
        let last = try db.cachedStatement(sql: Self.groupLastSQL)
        for (key, cell) in Self.ranked(groups) {
            if let t = try Int64.fetchOne(last, arguments: [dim, key, firstDay, endDay]) {
                groups[key] = Cell(kills: cell.kills, last: max(cell.last, t))
            }
        }
        return groups
    }

    /// Hosts with at least one kill in the window.
    func hostsWithKills(edges: EdgeCounts) throws -> Int {
        var hosts = Set((edges.groups["host"] ?? [:]).keys)
        guard hasWholeDays else { return hosts.count }
        let rows = try String.fetchCursor(
            db.cachedStatement(sql: Self.hostsWithKillsSQL), arguments: [firstDay, endDay])
        while let key = try rows.next() { hosts.insert(key) }
        return hosts.count
    }

    /// The largest groups, most kills first (ties by key), at most `listLimit`.
    ///
    /// One pass keeping the best `listLimit` so far: a window without whole days has
    /// thousands of host groups, and sorting them all to keep twenty costs more than the
    /// rest of the report.
    static func ranked(_ groups: [String: Cell]) -> [(key: String, cell: Cell)] {
        func before(_ a: (key: String, cell: Cell), _ b: (key: String, cell: Cell)) -> Bool {
            a.cell.kills != b.cell.kills ? a.cell.kills > b.cell.kills : a.key < b.key
        }
        var top: [(key: String, cell: Cell)] = []
        top.reserveCapacity(listLimit + 1)
        for (key, cell) in groups where cell.kills > 0 {
            let item = (key: key, cell: cell)
            if top.count == listLimit, !before(item, top[listLimit - 1]) { continue }
            top.insert(item, at: top.firstIndex { before(item, $0) } ?? top.endIndex)
            if top.count > listLimit { top.removeLast() }
        }
        return top
    }

    static func countRows(_ groups: [String: Cell]) -> [CountRow] {
        ranked(groups).map {
            CountRow(key: $0.key, kills: $0.cell.kills, lastKill: RFC3339.format(epochMicroseconds: $0.cell.last))
        }
    }

    func report(now: Int64) throws -> SummaryReport {
        let fleet = try FleetRow.fetchOne(db, sql: Self.fleetSQL, arguments: [now])
        let atRisk = try RiskRow.fetchAll(db, sql: Self.atRiskSQL).compactMap { row -> HostRisk? in
            let risk = OOMDatabase.risk(total: row.totalKB, available: row.availableKB, fullAvg60: row.fullAvg60)
            guard !risk.reasons.isEmpty else { return nil }
            return HostRisk(
                host: row.name, snapshotTime: RFC3339.format(epochMicroseconds: row.snapshotTime),
                availablePct: risk.availablePct, fullAvg60: row.fullAvg60, reasons: risk.reasons)
        }.sorted { ($0.availablePct ?? 100) < ($1.availablePct ?? 100) }
        let nameStatement = try db.cachedStatement(sql: Self.hostNameSQL)
        var names: [Int64: String] = [:]
        func hostName(_ id: Int64) throws -> String {
            if let n = names[id] { return n }
            let n = try String.fetchOne(nameStatement, arguments: [id]) ?? "?"
            names[id] = n
            return n
        }

        let edges = try edgeCounts()
        let source = try smallDimension("source", edges: edges)
        let scope = try smallDimension("scope", edges: edges)
        let byHost = try Self.countRows(try largeDimension("host", minimum: 1, edges: edges)).map {
            var row = $0
            row.key = try hostName(Int64(row.key) ?? -1)
            return row
        }

        var offenders: [RepeatOffender] = []
        let firstKill = try db.cachedStatement(sql: Self.firstKillSQL)
        for (key, cell) in Self.ranked(
            try largeDimension("hostcomm", minimum: ReportShaping.repeatOffenderKills, edges: edges))
        {
            guard let (hostID, comm) = Self.hostComm(key) else { continue }
            let first = try Int64.fetchOne(firstKill, arguments: [comm, hostID, since, until])
            offenders.append(
                RepeatOffender(
                    host: try hostName(hostID), comm: comm, kills: cell.kills,
                    firstKill: first.map { RFC3339.format(epochMicroseconds: $0) },
                    lastKill: RFC3339.format(epochMicroseconds: cell.last)))
        }

        var dayKills = edges.days
        if hasWholeDays {
            for row in try DayRow.fetchAll(db, sql: Self.daysSQL, arguments: [firstDay, endDay]) {
                dayKills[row.day, default: 0] += row.kills
            }
        }
        let byDay = dayKills.keys.sorted().compactMap { d -> DayCount? in
            guard let n = dayKills[d], n > 0 else { return nil }
            return DayCount(day: String(RFC3339.format(epochMicroseconds: d * Self.day).prefix(10)), kills: n)
        }

        let victims = try VictimRecord.fetchAll(
            db, sql: Self.victimsSQL(wide: until - since >= Self.day), arguments: [since, until]
        ).map {
            VictimRow(
                id: $0.eventID, host: try hostName($0.hostID), time: RFC3339.format(epochMicroseconds: $0.time),
                source: $0.source, pid: $0.pid, comm: $0.comm, rssKB: $0.rssKB, unit: $0.unit,
                containerID: $0.container)
        }

        func nonZero(_ groups: [String: Cell]) -> [String: Int] {
            groups.filter { $0.value.kills > 0 }.mapValues(\.kills)
        }
        return SummaryReport(
            since: RFC3339.format(epochMicroseconds: since),
            until: RFC3339.format(epochMicroseconds: until),
            generatedAt: RFC3339.format(epochMicroseconds: now),
            totals: .init(
                kills: source.values.reduce(0) { $0 + $1.kills }, hosts: fleet?.hosts ?? 0,
                hostsWithKills: try hostsWithKills(edges: edges), staleHosts: fleet?.stale ?? 0,
                bySource: nonZero(source), byScope: nonZero(scope)),
            byHost: byHost,
            byComm: Self.countRows(try smallDimension("comm", edges: edges)),
            byUnit: Self.countRows(try smallDimension("unit", edges: edges)),
            byContainer: Self.countRows(try smallDimension("container", edges: edges)),
            byDay: byDay, largestVictims: victims, repeatOffenders: offenders, hostsAtRisk: atRisk)
    }
}
