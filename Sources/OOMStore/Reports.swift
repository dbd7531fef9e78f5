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
                var names: [Int64: String] = [:]
                var hostCount = 0
                var stale = 0
                var atRisk: [HostRisk] = []
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT id, name, last_seen, interval_s, snapshot_time, total_kb,
                            available_kb, full_avg60 FROM hosts
                        """)
                {
                    hostCount += 1
                    names[row[0]] = row[1]
                    if Self.isStale(lastSeen: row[2], intervalS: row[3], now: now) { stale += 1 }
                    guard let t: Int64 = row[4] else { continue }
                    let risk = Self.risk(total: row[5], available: row[6], fullAvg60: row[7])
                    if !risk.reasons.isEmpty {
                        atRisk.append(
                            HostRisk(
                                host: row[1], snapshotTime: RFC3339.format(epochMicroseconds: t),
                                availablePct: risk.availablePct, fullAvg60: row[7],
                                reasons: risk.reasons))
                    }
                }
                atRisk.sort { ($0.availablePct ?? 100) < ($1.availablePct ?? 100) }

                var kills = 0
                var bySource: [String: Int] = [:]
                var byScope: [String: Int] = [:]
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT source, scope, count(*) FROM events INDEXED BY events_source
                        WHERE time >= ? AND time < ? GROUP BY source, scope
                        """, arguments: range)
                {
                    let n: Int = row[2]
                    kills += n
                    bySource[row[0], default: 0] += n
                    byScope[(row[1] as String?) ?? "unknown", default: 0] += n
                }

                func ranked(_ sql: String) throws -> (rows: [CountRow], groups: Int) {
                    var all: [(key: String, kills: Int, last: Int64)] = []
                    for row in try Row.fetchAll(db, sql: sql, arguments: range) {
                        all.append((row[0], row[1], row[2]))
                    }
                    all.sort { $0.kills != $1.kills ? $0.kills > $1.kills : $0.key < $1.key }
                    let rows = all.prefix(listLimit).map {
                        CountRow(
                            key: $0.key, kills: $0.kills,
                            lastKill: RFC3339.format(epochMicroseconds: $0.last))
                    }
                    return (rows, all.count)
                }

                var byHostAll: [(key: String, kills: Int, last: Int64)] = []
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT host_id, count(*), max(time) FROM events INDEXED BY events_host_time
                        WHERE time >= ? AND time < ? GROUP BY host_id
                        """, arguments: range)
                {
                    byHostAll.append((names[row[0]] ?? "?", row[1], row[2]))
                }
                byHostAll.sort { $0.kills != $1.kills ? $0.kills > $1.kills : $0.key < $1.key }
                let byHost = byHostAll.prefix(listLimit).map {
                    CountRow(
                        key: $0.key, kills: $0.kills,
                        lastKill: RFC3339.format(epochMicroseconds: $0.last))
                }

                let byComm = try ranked(
                    """
                    SELECT comm, count(*), max(time) FROM events INDEXED BY events_comm
                    WHERE time >= ? AND time < ? GROUP BY comm
                    """)
                let byUnit = try ranked(
                    """
                    SELECT unit, count(*), max(time) FROM events INDEXED BY events_unit
                    WHERE unit IS NOT NULL AND time >= ? AND time < ? GROUP BY unit
                    """)
                let byContainer = try ranked(
                    """
                    SELECT container, count(*), max(time) FROM events INDEXED BY events_container
                    WHERE container IS NOT NULL AND time >= ? AND time < ? GROUP BY container
                    """)

                var offenders: [RepeatOffender] = []
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT comm, host_id, count(*) AS n, min(time), max(time)
                        FROM events INDEXED BY events_comm
                        WHERE time >= ? AND time < ? GROUP BY comm, host_id HAVING n >= 3
                        """, arguments: range)
                {
                    offenders.append(
                        RepeatOffender(
                            host: names[row[1]] ?? "?", comm: row[0], kills: row[2],
                            firstKill: RFC3339.format(epochMicroseconds: row[3]),
                            lastKill: RFC3339.format(epochMicroseconds: row[4])))
                }
                offenders.sort {
                    $0.kills != $1.kills
                        ? $0.kills > $1.kills : ($0.host, $0.comm) < ($1.host, $1.comm)
                }

                // One indexed count per UTC day: a handful of range counts beats grouping
                // a million rows by an expression.
                var byDay: [DayCount] = []
                let day: Int64 = 86_400_000_000
                var start = since - ((since % day) + day) % day
                let dayCount = try db.cachedStatement(
                    sql: "SELECT count(*) FROM events WHERE time >= ? AND time < ?")
                var days = 0
                while start < until, days < 3660 {
                    let n =
                        try Int.fetchOne(
                            dayCount, arguments: [max(start, since), min(start + day, until)]) ?? 0
                    if n > 0 {
                        let date = RFC3339.format(epochMicroseconds: start)
                        byDay.append(DayCount(day: String(date.prefix(10)), kills: n))
                    }
                    start += day
                    days += 1
                }

                var victims: [VictimRow] = []
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT event_id, host_id, time, source, pid, comm, rss_kb, unit, container
                        FROM events WHERE time >= ? AND time < ?
                        ORDER BY rss_kb DESC, time DESC LIMIT 10
                        """, arguments: range)
                {
                    victims.append(
                        VictimRow(
                            id: row[0], host: names[row[1]] ?? "?",
                            time: RFC3339.format(epochMicroseconds: row[2]), source: row[3],
                            pid: row[4], comm: row[5], rssKB: row[6], unit: row[7],
                            containerID: row[8]))
                }

                return SummaryReport(
                    since: RFC3339.format(epochMicroseconds: since),
                    until: RFC3339.format(epochMicroseconds: until),
                    generatedAt: RFC3339.format(epochMicroseconds: now),
                    totals: .init(
                        kills: kills, hosts: hostCount, hostsWithKills: byHostAll.count,
                        staleHosts: stale, bySource: bySource, byScope: byScope),
                    byHost: Array(byHost), byComm: byComm.rows, byUnit: byUnit.rows,
                    byContainer: byContainer.rows, byDay: byDay, largestVictims: victims,
                    repeatOffenders: Array(offenders.prefix(listLimit)),
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
