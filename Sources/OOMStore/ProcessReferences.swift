import GRDB
public import OOMKit

extension OOMDatabase {
    /// Fills in the details of every process an agent sent by reference (`ref`), from the
    /// details stored for its host. Returns the first process whose details this database
    /// does not hold (`snapshots[i].processes[j]`), or nil when all were found: the agent
    /// must then send the full form (409), nothing is stored.
    public func resolveProcessReferences(_ batch: inout IngestBatch) async throws(StoreError) -> String? {
        guard batch.snapshots.contains(where: { $0.processes.contains { $0.ref != nil } }) else { return nil }
        let host = batch.host
        let wanted = batch.snapshots.flatMap { s in
            s.processes.compactMap { p in p.ref.flatMap { ProcessDetail.digest(reference: $0) }.map { (p.pid, $0) } }
        }
        let found: [Int64: ProcessDetail]
        let cache = snapshotCache
        do {
            found = try await pool.read { db in
                var out: [Int64: ProcessDetail] = [:]
                guard let hostID = try Int64.fetchOne(db, sql: "SELECT id FROM hosts WHERE name = ?", arguments: [host])
                else { return out }
                let statement = try db.cachedStatement(
                    sql: "SELECT detail FROM snapshot_processes WHERE host_id = ? AND pid = ? AND digest = ?")
                for (pid, digest) in wanted where out[digest] == nil {
                    // Details the writer stored or read lately: no SELECT, no decoding.
                    if let known = cache.process(hostID: hostID, pid: pid), known.digest == digest {
                        out[digest] = known.detail
                    } else if let text = try String.fetchOne(statement, arguments: [hostID, pid, digest]) {
                        out[digest] = try JSONReader().decode(ProcessDetail.self, from: Array(text.utf8))
                    }
                }
                return out
            }
        } catch {
            throw Self.map(error)
        }
        return ProcessReferences.fill(&batch, from: found)
    }
}
