import GRDB

/// Kills stored per host, source and scope: `/metrics`' `oomwatch_kills_total`.
public struct KillCounter: Sendable, Equatable {
    public var host: String
    public var source: String
    public var scope: String
    public var kills: Int
}

extension OOMDatabase {
    /// Every (host, source, scope) with its stored kills. Bounded: hosts × 3 sources × 5
    /// scopes, never a pid or comm. Goes down only when retention deletes events.
    public func killCounters() async throws(StoreError) -> [KillCounter] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT hosts.name AS host, events.source AS source,
                            coalesce(events.scope, 'unknown') AS scope, count(*) AS kills
                        FROM events JOIN hosts ON hosts.id = events.host_id
                        GROUP BY events.host_id, events.source, events.scope
                        ORDER BY 1, 2, 3
                        """
                ).map { KillCounter(host: $0["host"], source: $0["source"], scope: $0["scope"], kills: $0["kills"]) }
            }
        } catch {
            throw Self.map(error)
        }
    }
}
