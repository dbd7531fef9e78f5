import GRDB
import OOMKit

/// The event columns advice aggregates on, taken from the event at ingest.
struct AdviceColumns: Sendable {
    var memcg: String?
    var usageKB: Int64?
    var limitKB: Int64?
    var shieldName: String?
    var shieldRSSKB: Int64?
    var shieldAdj: Int?

    /// oom_score_adj at or below this shields a process (the `wrong-victim` candidates).
    static let shieldAdj = -100

    init(_ e: OOMEvent) {
        if e.scope == .memcg, let m = e.memcg {
            memcg = m.oom ?? m.task
            usageKB = m.usageKB
            limitKB = m.limitKB
        }
        // The kernel's task table is in pages; 4 kB pages on the hosts this runs on
        // (x86-64 and most arm64).
        if e.scope == .global, let candidates = e.candidates {
            let best = candidates.filter {
                $0.pid != e.victim.pid && ($0.oomScoreAdj ?? 0) <= Self.shieldAdj
            }.max { ($0.rssPages ?? 0) < ($1.rssPages ?? 0) }
            if let best, let pages = best.rssPages, pages > 0 {
                shieldName = best.name
                shieldRSSKB = pages * 4
                shieldAdj = best.oomScoreAdj
            }
        }
    }

    /// Adds each process sample of a newly stored snapshot to its process run.
    static func storeRuns(_ s: PreparedBatch.Snapshot, hostID: Int64, db: Database) throws {
        guard !s.runs.isEmpty else { return }
        let statement = try db.cachedStatement(sql: AdviceSchema.runSampleSQL)
        for r in s.runs {
            try statement.execute(arguments: [
                "host_id": hostID, "comm": r.comm, "pid": r.pid, "started": r.started, "time": s.time, "rss": r.rssKB,
            ])
        }
    }

    /// Keeps the host's newest system facts.
    static func storeSystem(_ s: PreparedBatch.Snapshot, hostID: Int64, db: Database) throws {
        try db.cachedStatement(
            sql: """
                UPDATE hosts SET system_json = ?1, system_time = ?2
                WHERE id = ?3 AND (system_time IS NULL OR system_time <= ?2)
                """
        ).execute(arguments: [s.systemJSON, s.time, hostID])
    }
}

/// One process sample for `process_runs`.
struct RunSample: Sendable {
    var comm: String
    var pid: Int
    var started: Int64
    var rssKB: Int64

    /// The snapshot's processes with memory: a process caught exiting (an OOM victim
    /// being reaped) reads 0 kB, which is not where its growth went.
    static func all(_ snap: MemorySnapshot) -> [RunSample] {
        snap.processes.filter { $0.rssKB > 0 }.map {
            RunSample(
                comm: $0.comm, pid: $0.pid, started: $0.startedAt.flatMap { RFC3339.parse($0) } ?? 0,
                rssKB: $0.rssKB)
        }
    }
}
