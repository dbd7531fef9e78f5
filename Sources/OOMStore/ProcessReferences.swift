import GRDB
public import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension OOMDatabase {
    /// Makes the batch's snapshots whole as the agent sampled them: expands every delta
    /// (`base`) against the snapshot it names (earlier in the batch, else stored for its
    /// host), then fills in the details of every process sent by reference (`ref`) from
    /// those stored for its host. Returns the first field naming what this database does
    /// not hold (`snapshots[i].base`, `snapshots[i].processes[j].ref`), or nil when all
    /// were found: the agent must then send the full form (409), nothing is stored.
    ///
    /// What the writer holds in memory (the host's id, its newest snapshot, the details
    /// it stored or read lately) resolves a steady agent's batch without a read
    /// transaction; anything else is read from the database.
    public func resolveProcessReferences(_ batch: inout IngestBatch) async throws(StoreError) -> String? {
        guard batch.snapshots.contains(where: { $0.base != nil || $0.processes.contains { $0.ref != nil } }) else {
            return nil
        }
        let host = batch.host
        let cache = snapshotCache
        let sent = batch.snapshots
        var resolved: Resolved?
        if let hostID = cache.hostID(name: host) {
            resolved = try? Self.resolve(sent, hostID: hostID, cache: cache, db: nil)
        }
        if resolved == nil {
            do {
                resolved = try await pool.read { db in
                    // An unknown host holds nothing stored: only bases in the batch itself
                    // resolve (the full form after a 409 chains its deltas within it).
                    let hostID = try Int64.fetchOne(db, sql: "SELECT id FROM hosts WHERE name = ?", arguments: [host])
                    return try Self.resolve(sent, hostID: hostID, cache: cache, db: db)
                }
            } catch {
                throw Self.map(error)
            }
        }
        guard let resolved else { return nil }
        batch.snapshots = resolved.snapshots
        if let missing = resolved.missing { return missing }
        return ReferencedProcesses.fill(&batch, from: resolved.details)
    }

    struct Resolved: Sendable {
        var snapshots: [MemorySnapshot]
        var details: [Int64: ProcessDetail]
        var missing: String?
    }

    /// Needs the database but was given none (`db` nil: memory only).
    struct NotInMemory: Error {}

    /// The snapshots with deltas expanded, and the details their references name;
    /// `hostID` nil: a host this database does not know.
    static func resolve(_ sent: [MemorySnapshot], hostID: Int64?, cache: SnapshotCache, db: Database?) throws
        -> Resolved
    {
        var snapshots = sent
        var details: [Int64: ProcessDetail] = [:]
        // Oldest first, as the agent made them: a delta's base may be the one just
        // before it in this batch.
        var byTime: [String: MemorySnapshot] = [:]
        for i in snapshots.indices {
            if let base = snapshots[i].base {
                guard
                    let whole = try
                        (byTime[base.time]
                        ?? hostID.flatMap { try storedSnapshot(hostID: $0, time: base.time, db: db, cache: cache) })
                        .flatMap({ snapshots[i].expanded(base: $0) })
                else { return Resolved(snapshots: snapshots, details: details, missing: "snapshots[\(i)].base") }
                snapshots[i] = whole
            }
            if sent.count > 1 { byTime[snapshots[i].time] = snapshots[i] }
        }
        guard let hostID else { return Resolved(snapshots: snapshots, details: details, missing: nil) }
        for s in snapshots {
            for p in s.processes {
                guard let digest = p.ref.flatMap({ ProcessDetail.digest(reference: $0) }), details[digest] == nil
                else { continue }
                // Details the writer stored or read lately: no SELECT, no decoding.
                if let known = cache.process(hostID: hostID, pid: p.pid), known.digest == digest {
                    details[digest] = known.detail
                } else {
                    guard let db else { throw NotInMemory() }
                    let statement = try db.cachedStatement(
                        sql: "SELECT detail FROM snapshot_processes WHERE host_id = ? AND pid = ? AND digest = ?")
                    if let text = try String.fetchOne(statement, arguments: [hostID, p.pid, digest]) {
                        cache.missed(.process)
                        details[digest] = try JSONReader().decode(ProcessDetail.self, from: Array(text.utf8))
                    }
                }
            }
        }
        return Resolved(snapshots: snapshots, details: details, missing: nil)
    }

    /// The stored snapshot of `hostID` taken at `time` (as sent), whole: a delta's base.
    /// The writer's newest per host comes from memory (with `db` nil, only from there); one
    /// read from the file counts as the cache's miss.
    static func storedSnapshot(hostID: Int64, time: String, db: Database?, cache: SnapshotCache) throws
        -> MemorySnapshot?
    {
        guard let t = RFC3339.parse(time) else { return nil }
        return try storedSnapshot(hostID: hostID, time: t, db: db, cache: cache, countsMiss: true)
    }

    /// `storedSnapshot(hostID:time:db:cache:)` at `time` in epoch microseconds; a read
    /// from the file counts as the cache's miss only with `countsMiss` (ingest, not the
    /// queries that read silent hosts' snapshots).
    static func storedSnapshot(
        hostID: Int64, time t: Int64, db: Database?, cache: SnapshotCache, countsMiss: Bool = false
    ) throws -> MemorySnapshot? {
        if let latest = cache.latest(hostID: hostID), latest.time == t { return latest.snapshot }
        guard let db else { throw NotInMemory() }
        guard
            let body = try Data.fetchOne(
                db.cachedStatement(sql: "SELECT body FROM snapshots WHERE host_id = ? AND time = ?"),
                arguments: [hostID, t])
        else { return nil }
        if countsMiss { cache.missed(.snapshot) }
        return try SnapshotStorage.snapshot(hostID: hostID, time: t, body: Array(body), db: db)
    }
}
