import GRDB
import OOMKit

/// The event columns advice aggregates on, taken from the event at ingest.
package struct AdviceColumns: Sendable {
    package var memcg: String?
    package var usageKB: Int64?
    package var limitKB: Int64?
    package var shieldName: String?
    package var shieldRSSKB: Int64?
    package var shieldAdj: Int?

    /// oom_score_adj at or below this shields a process (the `wrong-victim` candidates).
    static let shieldAdj = -100
}

// In an extension, so the memberwise initializer (the columns as stored, for the fold)
// stays synthesized.
extension AdviceColumns {
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

    /// Adds the process samples of a batch's newly stored snapshots (in batch order) to
    /// their process runs: one upsert per run, not one per sample (a batch of six
    /// snapshots of 20 processes was 120 statements on the writer, now 20). A run's samples
    /// are summed as a `ProcessRun` starting at the batch's first sample of it, and
    /// `AdviceSchema.runSamplesSQL` shifts the sums to the stored run's `first_time`.
    static func storeRuns(_ snapshots: [PreparedBatch.Snapshot], hostID: Int64, db: Database) throws {
        var runs: [RunKey: ProcessRun] = [:]
        var order: [RunKey] = []
        for s in snapshots {
            for r in s.runs {
                let key = RunKey(comm: r.comm, pid: r.pid, started: r.started)
                if runs[key]?.add(time: s.time, rssKB: r.rssKB) == nil {
                    runs[key] = ProcessRun(pid: r.pid, time: s.time, rssKB: r.rssKB)
                    order.append(key)
                }
            }
        }
        guard !order.isEmpty else { return }
        let statement = try db.cachedStatement(sql: AdviceSchema.runSamplesSQL)
        for key in order {
            let r = runs[key]!
            try statement.execute(
                binding: hostID, key.comm, key.pid, key.started, r.firstTime, r.lastTime, r.firstRSS, r.lastRSS,
                r.samples, r.sumT, r.sumR, r.sumTT, r.sumTR, r.sumRR)
        }
    }

    struct RunKey: Hashable {
        var comm: String
        var pid: Int
        var started: Int64
    }
}

/// One process sample for `process_runs`.
package struct RunSample: Sendable {
    package var comm: String
    package var pid: Int
    package var started: Int64
    package var rssKB: Int64

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

/// Stored kills folded into the advice rollups (`advice_daily` per day, `advice_groups`
/// over the retention), written in one upsert per group instead of three per kill and
/// table by an insert trigger (v7-ingest-fast): by SQLite's fold after the ingest's COMMIT
/// (`RollupFold`), by PostgreSQL's ingest in its own transaction.
///
/// Kills are added in the order they were stored, and each column folds as the trigger's
/// upsert did one kill at a time (`AdviceSchema.mergeSQL`): counts and sums add, the limit
/// of a day is the last one known, a tie on the latest time goes to the later kill and a
/// tie on the best ratio to the earlier one, so the rows come out the same.
package struct AdviceRollups: Sendable {
    /// One group's kills: `advice_groups`' key, and with `day` `advice_daily`'s.
    package struct Key: Hashable, Sendable {
        package var hostID: Int64
        package var kind: String
        package var key: String
    }
    package struct DayKey: Hashable, Sendable {
        package var group: Key
        package var day: Int64
    }
    package struct Cell: Sendable {
        package var kills = 0
        package var firstTime = Int64.max
        package var lastTime = Int64.min
        package var sumRSS = 0.0
        package var sumRSS2 = 0.0
        package var minRSS = Int64.max
        package var maxRSS = Int64.min
        package var maxUsageKB: Int64?
        /// The last limit known (a day's row keeps the latest; the group row the largest).
        package var limitKB: Int64?
        package var largestLimitKB: Int64?
        package var bestRatio: Double?
        package var bestEvent: String?
        package var lastEvent = ""
        package var lastComm: String?

        mutating func merge(_ o: Cell) {
            kills += o.kills
            firstTime = min(firstTime, o.firstTime)
            if o.lastTime >= lastTime {
                lastEvent = o.lastEvent
                lastComm = o.lastComm
            }
            lastTime = max(lastTime, o.lastTime)
            sumRSS += o.sumRSS
            sumRSS2 += o.sumRSS2
            minRSS = min(minRSS, o.minRSS)
            maxRSS = max(maxRSS, o.maxRSS)
            maxUsageKB = Self.larger(maxUsageKB, o.maxUsageKB)
            limitKB = o.limitKB ?? limitKB
            largestLimitKB = Self.larger(largestLimitKB, o.largestLimitKB)
            if (o.bestRatio ?? -1) > (bestRatio ?? -1) {
                bestRatio = o.bestRatio
                bestEvent = o.bestEvent
            }
        }

        static func larger(_ a: Int64?, _ b: Int64?) -> Int64? {
            guard let a else { return b }
            guard let b else { return a }
            return max(a, b)
        }
    }

    package private(set) var groups: [Key: Cell] = [:]
    package private(set) var daily: [DayKey: Cell] = [:]

    package init() {}

    /// Counts one newly stored kill, given by its columns, in each group it belongs to
    /// (each store folds the kills it actually inserted).
    package mutating func add(
        eventID: String, time: Int64, scope: String?, comm: String, rssKB: Int64, advice a: AdviceColumns,
        hostID: Int64
    ) {
        let rss = Double(rssKB)
        let ratio = a.shieldRSSKB.map { Double($0) / Double(max(rssKB, 1)) }
        let cell = Cell(
            kills: 1, firstTime: time, lastTime: time, sumRSS: rss, sumRSS2: rss * rss, minRSS: rssKB,
            maxRSS: rssKB, maxUsageKB: a.usageKB, limitKB: a.limitKB, largestLimitKB: a.limitKB,
            bestRatio: ratio, bestEvent: ratio == nil ? nil : eventID, lastEvent: eventID, lastComm: comm)
        // SQLite's integer division truncates like Swift's: the trigger's `NEW.time / 86400000000`.
        let day = time / KillRollups.day
        var keys = [Key(hostID: hostID, kind: "comm", key: comm)]
        if let memcg = a.memcg { keys.append(Key(hostID: hostID, kind: "memcg", key: memcg)) }
        if scope == "global" { keys.append(Key(hostID: hostID, kind: "global", key: "")) }
        for k in keys {
            groups[k, default: Cell()].merge(cell)
            daily[DayKey(group: k, day: day), default: Cell()].merge(cell)
        }
    }

    /// Writes the groups into both tables (inside the caller's transaction).
    func apply(_ db: Database) throws {
        guard !groups.isEmpty else { return }
        let day = try db.cachedStatement(sql: Self.dailySQL)
        for (k, c) in daily {
            try day.execute(
                binding: k.day, k.group.hostID, k.group.kind, k.group.key, c.kills, c.firstTime, c.lastTime,
                c.sumRSS, c.sumRSS2, c.minRSS, c.maxRSS, c.maxUsageKB, c.limitKB, c.bestRatio, c.bestEvent,
                c.lastEvent, c.lastComm)
        }
        let group = try db.cachedStatement(sql: Self.groupsSQL)
        let recent = try db.cachedStatement(sql: Self.recentSQL)
        for (k, c) in groups {
            try group.execute(
                binding: k.hostID, k.kind, k.key, c.kills, c.firstTime, c.lastTime, c.sumRSS, c.sumRSS2, c.minRSS,
                c.maxRSS, c.maxUsageKB, c.largestLimitKB, c.bestRatio, c.bestEvent)
            // Its evidence days again, now that its days are written (a late kill can land on
            // any day); advice reads them for cgroups and process names only.
            if k.kind != "global" { try recent.execute(binding: k.hostID, k.kind, k.key) }
        }
    }

    static let recentSQL = """
        UPDATE advice_groups SET recent = \(AdviceSchema.recentSQL) WHERE host_id = ? AND kind = ? AND key = ?
        """

    static let dailySQL = """
        INSERT INTO advice_daily (day, host_id, kind, key, kills, first_time, last_time, sum_rss, sum_rss2,
            min_rss, max_rss, max_usage_kb, limit_kb, best_ratio, best_event, last_event, last_comm)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT DO UPDATE SET \(AdviceSchema.mergeSQL),
            limit_kb = coalesce(excluded.limit_kb, limit_kb),
            last_event = CASE WHEN excluded.last_time >= last_time THEN excluded.last_event ELSE last_event END,
            last_comm = CASE WHEN excluded.last_time >= last_time THEN excluded.last_comm ELSE last_comm END
        """
    static let groupsSQL = """
        INSERT INTO advice_groups (host_id, kind, key, kills, first_time, last_time, sum_rss, sum_rss2,
            min_rss, max_rss, max_usage_kb, limit_kb, best_ratio, best_event, stale)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
        ON CONFLICT DO UPDATE SET \(AdviceSchema.mergeSQL),
            limit_kb = max(coalesce(limit_kb, excluded.limit_kb), coalesce(excluded.limit_kb, limit_kb))
        """
}
