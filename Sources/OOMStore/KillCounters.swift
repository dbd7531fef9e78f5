import GRDB

/// Kills ever stored per host, source and scope: `/metrics`' `oomwatch_kills_total`.
public struct KillCounter: Sendable, Equatable {
    public var host: String
    public var source: String
    public var scope: String
    public var kills: Int
}

extension OOMDatabase {
    /// Every (host, source, scope) with the kills stored for it since the database began.
    /// Bounded: hosts × 3 sources × 5 scopes, never a pid or comm. Never goes down: read
    /// from `kill_counters`, which retention leaves alone (a Prometheus counter must not
    /// drop, or `increase()` reads a reset as new kills).
    public func killCounters() async throws(StoreError) -> [KillCounter] {
        do {
            try await rollupFold.settle()
            return try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT hosts.name AS host, k.source AS source, k.scope AS scope, k.kills AS kills
                        FROM kill_counters k JOIN hosts ON hosts.id = k.host_id
                        WHERE k.kills > 0
                        ORDER BY 1, 2, 3
                        """
                ).map { KillCounter(host: $0["host"], source: $0["source"], scope: $0["scope"], kills: $0["kills"]) }
            }
        } catch {
            throw Self.map(error)
        }
    }
}
