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
            statement.setUncheckedArguments([hostID, r.comm, r.pid, r.started, s.time, r.rssKB])
            try statement.execute()
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

/// A round's new kills folded into the advice rollups (`advice_daily` per day,
/// `advice_groups` over the retention), written in one upsert per group just before
/// COMMIT instead of three per kill and table by an insert trigger (v7-ingest-fast).
///
/// Kills are added in the order they were stored, and each column folds as the trigger's
/// upsert did one kill at a time (`AdviceSchema.mergeSQL`): counts and sums add, the limit
/// of a day is the last one known, a tie on the latest time goes to the later kill and a
/// tie on the best ratio to the earlier one, so the rows come out the same.
struct AdviceRollups {
    /// One group's kills: `advice_groups`' key, and with `day` `advice_daily`'s.
    struct Key: Hashable {
        var hostID: Int64
        var kind: String
        var key: String
    }
    struct DayKey: Hashable {
        var group: Key
        var day: Int64
    }
    struct Cell {
        var kills = 0
        var firstTime = Int64.max
        var lastTime = Int64.min
        var sumRSS = 0.0
        var sumRSS2 = 0.0
        var minRSS = Int64.max
        var maxRSS = Int64.min
        var maxUsageKB: Int64?
        /// The last limit known (a day's row keeps the latest; the group row the largest).
        var limitKB: Int64?
        var largestLimitKB: Int64?
        var bestRatio: Double?
        var bestEvent: String?
        var lastEvent = ""
        var lastComm: String?

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

    private(set) var groups: [Key: Cell] = [:]
    private(set) var daily: [DayKey: Cell] = [:]

    /// Counts one newly stored kill in each group it belongs to.
    mutating func add(_ e: PreparedBatch.Event, hostID: Int64) {
        let rss = Double(e.rssKB)
        let a = e.advice
        let ratio = a.shieldRSSKB.map { Double($0) / Double(max(e.rssKB, 1)) }
        let cell = Cell(
            kills: 1, firstTime: e.time, lastTime: e.time, sumRSS: rss, sumRSS2: rss * rss, minRSS: e.rssKB,
            maxRSS: e.rssKB, maxUsageKB: a.usageKB, limitKB: a.limitKB, largestLimitKB: a.limitKB,
            bestRatio: ratio, bestEvent: ratio == nil ? nil : e.eventID, lastEvent: e.eventID, lastComm: e.comm)
        // SQLite's integer division truncates like Swift's: the trigger's `NEW.time / 86400000000`.
        let day = e.time / KillRollups.day
        var keys = [Key(hostID: hostID, kind: "comm", key: e.comm)]
        if let memcg = a.memcg { keys.append(Key(hostID: hostID, kind: "memcg", key: memcg)) }
        if e.scope == "global" { keys.append(Key(hostID: hostID, kind: "global", key: "")) }
        for k in keys {
            groups[k, default: Cell()].merge(cell)
            daily[DayKey(group: k, day: day), default: Cell()].merge(cell)
        }
    }

    /// Adds a later batch's kills (its savepoint committed).
    mutating func merge(_ other: AdviceRollups) {
        for (k, c) in other.groups { groups[k, default: Cell()].merge(c) }
        for (k, c) in other.daily { daily[k, default: Cell()].merge(c) }
    }

    /// Writes the groups into both tables (inside the caller's transaction).
    func apply(_ db: Database) throws {
        guard !groups.isEmpty else { return }
        let day = try db.cachedStatement(sql: Self.dailySQL)
        for (k, c) in daily {
            try day.execute(
                arguments: [
                    k.day, k.group.hostID, k.group.kind, k.group.key, c.kills, c.firstTime, c.lastTime, c.sumRSS,
                    c.sumRSS2, c.minRSS, c.maxRSS, c.maxUsageKB, c.limitKB, c.bestRatio, c.bestEvent, c.lastEvent,
                    c.lastComm,
                ])
        }
        let group = try db.cachedStatement(sql: Self.groupsSQL)
        for (k, c) in groups {
            try group.execute(
                arguments: [
                    k.hostID, k.kind, k.key, c.kills, c.firstTime, c.lastTime, c.sumRSS, c.sumRSS2, c.minRSS,
                    c.maxRSS, c.maxUsageKB, c.largestLimitKB, c.bestRatio, c.bestEvent,
                ])
        }
    }

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
