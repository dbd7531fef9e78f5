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

    /// The summary report over [since, until): whole UTC days from the per-day rollups
    /// (`kill_daily`, `kill_days`), the partial days at the edges from the events' time
    /// index, so the cost follows the number of groups, not of events, at any window.
    public func summary(since: Int64, until: Int64, now: Int64 = nowMicroseconds())
        async throws(StoreError) -> SummaryReport
    {
        do {
            try await rollupFold.settle()
            return try await pool.read { db in
                try SummaryQuery(db: db, since: since, until: until).report(now: now)
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
                for row in try Row.fetchAll(
                    db, sql: "SELECT id, name, last_seen, interval_s, upload_interval_s FROM hosts")
                {
                    hosts += 1
                    names[row["id"]] = row["name"]
                    if Self.isStale(
                        lastSeen: row["last_seen"], intervalS: row["interval_s"],
                        uploadIntervalS: row["upload_interval_s"], now: now)
                    {
                        stale += 1
                    }
                }
                var kills: [String: Int] = [:]
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT host_id, count(*) AS kills FROM events INDEXED BY events_host_time
                        WHERE time >= ? GROUP BY host_id
                        """, arguments: [now - 86_400_000_000])
                {
                    kills[names[row["host_id"]] ?? "?"] = row["kills"]
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
