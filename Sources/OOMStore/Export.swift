import GRDB
public import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How many rows a store holds, for `oomwatch-collector migrate`'s count check.
public struct StoreCounts: Sendable, Equatable, CustomStringConvertible {
    public var hosts: Int
    public var events: Int
    public var snapshots: Int
    /// `snapshot_hourly` rows: one per host and hour.
    public var hourly: Int
    /// `agent_counters` rows: one per change of an agent's loss counters.
    public var agentCounters: Int

    public init(hosts: Int, events: Int, snapshots: Int, hourly: Int = 0, agentCounters: Int = 0) {
        self.hosts = hosts
        self.events = events
        self.snapshots = snapshots
        self.hourly = hourly
        self.agentCounters = agentCounters
    }

    public var description: String {
        "\(hosts) hosts, \(events) events, \(snapshots) snapshots, \(hourly) hourly rollups, "
            + "\(agentCounters) agent counter reports"
    }
}

/// A store that can count what it holds (both stores; `migrate` checks its copy with it).
public protocol StoreCounting: Sendable {
    func counts() async throws(StoreError) -> StoreCounts
}

/// One stored event as the SQLite store keeps it: its row, host and arrival time.
/// A row of a SQLite history as the migration pages through it.
public protocol ExportedRow: Sendable {
    /// The row id: pages are read in this order and the migration's checkpoint names it.
    var row: Int64 { get }
    var host: String { get }
}

public struct ExportedEvent: ExportedRow {
    /// The row id: pages are read in this order and the migration's checkpoint names it.
    public var row: Int64
    public var host: String
    /// When the collector received it, microseconds since the epoch.
    public var received: Int64
    public var event: OOMEvent
}

/// One stored snapshot, expanded back to what the agent sent.
public struct ExportedSnapshot: ExportedRow {
    public var row: Int64
    public var host: String
    public var time: Int64
    public var snapshot: MemorySnapshot
}

/// A host's own state: what replaying its events and snapshots does not carry.
public struct ExportedHost: Sendable {
    public var name: String
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var bootID: String?
    /// The agent's last report (version, interval, counters).
    public var agent: AgentInfo?
    /// When that report was stored (its newest `agent_counters` row); nil when retention
    /// deleted it.
    public var agentTime: Int64?
}

/// Reading a whole history back out, page by page in row order (`migrate` copies it into
/// another store through ``CollectorStore/ingest(_:receivedAt:)``).
extension OOMDatabase: StoreCounting {
    public func counts() async throws(StoreError) -> StoreCounts {
        do {
            return try await pool.read { db in
                StoreCounts(
                    hosts: try Int.fetchOne(db, sql: "SELECT count(*) FROM hosts") ?? 0,
                    events: try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0,
                    snapshots: try Int.fetchOne(db, sql: "SELECT count(*) FROM snapshots") ?? 0,
                    hourly: try Int.fetchOne(db, sql: "SELECT count(*) FROM snapshot_hourly") ?? 0,
                    agentCounters: try Int.fetchOne(db, sql: "SELECT count(*) FROM agent_counters") ?? 0)
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// How many events and snapshots have row ids up to these (a resumed copy's progress).
    public func rowsUpTo(eventRow: Int64, snapshotRow: Int64) async throws(StoreError) -> (events: Int, snapshots: Int)
    {
        do {
            return try await pool.read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE id <= ?", arguments: [eventRow]) ?? 0,
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM snapshots WHERE id <= ?", arguments: [snapshotRow])
                        ?? 0
                )
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Up to `limit` events with a row id above `row`, in row order.
    public func exportEvents(after row: Int64, limit: Int) async throws(StoreError) -> [ExportedEvent] {
        try await exportPage(
            """
            SELECT e.id, h.name, e.received, e.json FROM events e JOIN hosts h ON h.id = e.host_id
            WHERE e.id > ? ORDER BY e.id LIMIT ?
            """, arguments: [row, limit]
        ) { r, _ in
            let json: String = r["json"]
            return ExportedEvent(
                row: r["id"], host: r["name"], received: r["received"],
                event: try JSONReader().decode(OOMEvent.self, from: Array(json.utf8)))
        }
    }

    /// Up to `limit` snapshots with a row id above `row`, in row order, each expanded to
    /// exactly what its agent sent.
    public func exportSnapshots(after row: Int64, limit: Int) async throws(StoreError) -> [ExportedSnapshot] {
        try await exportPage(
            """
            SELECT s.id, s.host_id, h.name, s.time, s.body FROM snapshots s JOIN hosts h ON h.id = s.host_id
            WHERE s.id > ? ORDER BY s.id LIMIT ?
            """, arguments: [row, limit]
        ) { r, db in
            let body: Data = r["body"]
            return ExportedSnapshot(
                row: r["id"], host: r["name"], time: r["time"],
                snapshot: try SnapshotStorage.snapshot(hostID: r["host_id"], time: r["time"], body: Array(body), db: db)
            )
        }
    }

    /// One page of an export: the rows of `sql` (whose `?` are the key to start after and
    /// the limit), each made into a value inside the read, as the copy side's `copyPages`
    /// takes them.
    func exportPage<T: Sendable>(
        _ sql: String, arguments: StatementArguments, _ make: @escaping @Sendable (Row, Database) throws -> T
    ) async throws(StoreError) -> [T] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: arguments).map { try make($0, db) }
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Every host's own state.
    public func exportHosts() async throws(StoreError) -> [ExportedHost] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT name, first_seen, last_seen, boot_id, agent_json,
                            (SELECT max(time) FROM agent_counters c WHERE c.host_id = hosts.id) AS agent_time
                        FROM hosts ORDER BY id
                        """
                ).map { r in
                    let agentJSON: String? = r["agent_json"]
                    return ExportedHost(
                        name: r["name"], firstSeen: r["first_seen"], lastSeen: r["last_seen"], bootID: r["boot_id"],
                        agent: try agentJSON.map { try JSONReader().decode(AgentInfo.self, from: Array($0.utf8)) },
                        agentTime: r["agent_time"])
                }
            }
        } catch {
            throw Self.map(error)
        }
    }
}
