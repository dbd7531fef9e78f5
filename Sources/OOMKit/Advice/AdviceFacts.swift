/// What the rules know about one host: bounded aggregates the store computes from its
/// rollups, never raw history. Times are microseconds since the Unix epoch; sizes kB.
public struct HostAdviceFacts: Sendable, Equatable {
    public var host: String
    /// The latest snapshot's /proc/meminfo fields.
    public var memory: [String: Int64]?
    /// The latest system facts the agent sent (absent from older agents).
    public var system: HostSystemFacts?
    /// All global kills in the window.
    public var globalKills: KillGroup?
    /// Kills per victim process name (every scope).
    public var commGroups: [KillGroup] = []
    /// Memcg kills per cgroup that hit its limit.
    public var memcgGroups: [KillGroup] = []
    /// The global kill with the largest shielded process relative to its victim.
    public var worstShield: ShieldedKill?
    /// Process lifetimes seen in snapshots, per process name (only names with repeated
    /// kills are looked up).
    public var runs: [String: [ProcessRun]] = [:]
    /// Hourly rollups, oldest first (the latest `trendHours`, and the hours before kills).
    public var hourly: [HourPoint] = []

    public init(host: String) { self.host = host }
}

/// The system part of a snapshot, as the collector keeps it per host.
public struct HostSystemFacts: Codable, Sendable, Equatable {
    public var time: String?
    public var sysctl: OOMSysctls?
    public var swaps: [SwapDevice]?
    public var zram: [ZramDevice]?
    public var userspaceKillers: UserspaceKillers?
    public var critical: [CriticalProcess]?

    public init(
        time: String? = nil, sysctl: OOMSysctls? = nil, swaps: [SwapDevice]? = nil,
        zram: [ZramDevice]? = nil, userspaceKillers: UserspaceKillers? = nil,
        critical: [CriticalProcess]? = nil
    ) {
        self.time = time
        self.sysctl = sysctl
        self.swaps = swaps
        self.zram = zram
        self.userspaceKillers = userspaceKillers
        self.critical = critical
    }

    /// The snapshot's system facts, `nil` when it carries none.
    public init?(_ s: MemorySnapshot) {
        guard
            s.sysctl != nil || s.swaps != nil || s.zram != nil || s.userspaceKillers != nil
                || s.critical != nil
        else { return nil }
        self.init(
            time: s.time, sysctl: s.sysctl, swaps: s.swaps, zram: s.zram,
            userspaceKillers: s.userspaceKillers, critical: s.critical)
    }

    enum CodingKeys: String, CodingKey {
        case time, sysctl, swaps, zram
        case userspaceKillers = "userspace_killers"
        case critical
    }
}

/// One kill, as evidence.
public struct KillRef: Sendable, Equatable {
    public var id: String
    public var time: Int64
    public var comm: String
    public var rssKB: Int64

    public init(id: String, time: Int64, comm: String, rssKB: Int64) {
        self.id = id
        self.time = time
        self.comm = comm
        self.rssKB = rssKB
    }
}

/// Kills of one group (a process name, a cgroup, or all global kills of a host).
public struct KillGroup: Sendable, Equatable {
    public var key: String
    public var kills: Int
    public var firstTime: Int64
    public var lastTime: Int64
    /// Victim RSS at the kill: sum, sum of squares (for the spread), min, max.
    public var sumRSS: Double
    public var sumRSS2: Double
    public var minRSS: Int64
    public var maxRSS: Int64
    /// Memcg usage and limit at the kill, largest seen.
    public var maxUsageKB: Int64?
    public var limitKB: Int64?
    /// The most recent kills, newest first (a handful).
    public var recent: [KillRef]

    public init(
        key: String, kills: Int, firstTime: Int64, lastTime: Int64, sumRSS: Double,
        sumRSS2: Double, minRSS: Int64, maxRSS: Int64, maxUsageKB: Int64? = nil,
        limitKB: Int64? = nil, recent: [KillRef] = []
    ) {
        self.key = key
        self.kills = kills
        self.firstTime = firstTime
        self.lastTime = lastTime
        self.sumRSS = sumRSS
        self.sumRSS2 = sumRSS2
        self.minRSS = minRSS
        self.maxRSS = maxRSS
        self.maxUsageKB = maxUsageKB
        self.limitKB = limitKB
        self.recent = recent
    }

    /// Mean victim RSS, kB.
    public var meanRSS: Double { kills > 0 ? sumRSS / Double(kills) : 0 }

    /// Standard deviation of the victim RSS over its mean (0 = all the same size).
    public var rssSpread: Double {
        guard kills > 1, meanRSS > 0 else { return 0 }
        let variance = max(0, sumRSS2 / Double(kills) - meanRSS * meanRSS)
        return variance.squareRoot() / meanRSS
    }

    /// Adds one kill (the store's window edges and the tests build groups this way).
    public mutating func add(_ k: KillRef, usageKB: Int64? = nil, limitKB: Int64? = nil) {
        kills += 1
        firstTime = min(firstTime, k.time)
        lastTime = max(lastTime, k.time)
        sumRSS += Double(k.rssKB)
        sumRSS2 += Double(k.rssKB) * Double(k.rssKB)
        minRSS = min(minRSS, k.rssKB)
        maxRSS = max(maxRSS, k.rssKB)
        if let usageKB { maxUsageKB = max(maxUsageKB ?? 0, usageKB) }
        if let limitKB { self.limitKB = limitKB }
    }

    /// A group of one kill.
    public init(key: String, kill k: KillRef, usageKB: Int64? = nil, limitKB: Int64? = nil) {
        self.init(
            key: key, kills: 1, firstTime: k.time, lastTime: k.time, sumRSS: Double(k.rssKB),
            sumRSS2: Double(k.rssKB) * Double(k.rssKB), minRSS: k.rssKB, maxRSS: k.rssKB,
            maxUsageKB: usageKB, limitKB: limitKB, recent: [k])
    }
}

/// A global kill whose victim was small next to a process its oom_score_adj shielded.
public struct ShieldedKill: Sendable, Equatable {
    public var kill: KillRef
    public var shieldName: String
    public var shieldRSSKB: Int64
    public var shieldAdj: Int

    public init(kill: KillRef, shieldName: String, shieldRSSKB: Int64, shieldAdj: Int) {
        self.kill = kill
        self.shieldName = shieldName
        self.shieldRSSKB = shieldRSSKB
        self.shieldAdj = shieldAdj
    }
}

/// One process lifetime (a pid from its first to its last sample), as running sums of
/// its RSS samples so the collector keeps one row per process, not per sample.
public struct ProcessRun: Sendable, Equatable {
    public var pid: Int
    public var firstTime: Int64
    public var lastTime: Int64
    public var firstRSS: Int64
    public var lastRSS: Int64
    public var samples: Int
    /// Sums over samples of t (seconds since `firstTime`), r (RSS kB), t², t·r, r².
    public var sumT, sumR, sumTT, sumTR, sumRR: Double

    public init(
        pid: Int, firstTime: Int64, lastTime: Int64, firstRSS: Int64, lastRSS: Int64,
        samples: Int, sumT: Double, sumR: Double, sumTT: Double, sumTR: Double, sumRR: Double
    ) {
        self.pid = pid
        self.firstTime = firstTime
        self.lastTime = lastTime
        self.firstRSS = firstRSS
        self.lastRSS = lastRSS
        self.samples = samples
        self.sumT = sumT
        self.sumR = sumR
        self.sumTT = sumTT
        self.sumTR = sumTR
        self.sumRR = sumRR
    }

    /// A run from its samples (time µs, RSS kB), for tests and tools.
    public init(pid: Int, samples points: [(time: Int64, rssKB: Int64)]) {
        guard let first = points.first else {
            self.init(
                pid: pid, firstTime: 0, lastTime: 0, firstRSS: 0, lastRSS: 0, samples: 0, sumT: 0, sumR: 0,
                sumTT: 0, sumTR: 0, sumRR: 0)
            return
        }
        self.init(pid: pid, time: first.time, rssKB: first.rssKB)
        for p in points.dropFirst() { add(time: p.time, rssKB: p.rssKB) }
    }

    /// A run of one sample (time µs, RSS kB).
    public init(pid: Int, time: Int64, rssKB: Int64) {
        let r = Double(rssKB)
        self.init(
            pid: pid, firstTime: time, lastTime: time, firstRSS: rssKB, lastRSS: rssKB, samples: 1, sumT: 0,
            sumR: r, sumTT: 0, sumTR: 0, sumRR: r * r)
    }

    /// Adds a sample, t counted from `firstTime`. `lastRSS` is the latest time's (a later
    /// sample at the same time wins), as the collector's upsert of a stored run keeps it.
    public mutating func add(time: Int64, rssKB: Int64) {
        let t = Double(time - firstTime) / 1_000_000
        let r = Double(rssKB)
        samples += 1
        if time >= lastTime { lastRSS = rssKB }
        lastTime = max(lastTime, time)
        sumT += t
        sumR += r
        sumTT += t * t
        sumTR += t * r
        sumRR += r * r
    }

    /// Least-squares slope, kB per second; `nil` without two distinct sample times.
    public var slopeKBPerSecond: Double? {
        let n = Double(samples)
        let d = n * sumTT - sumT * sumT
        guard samples >= 2, d > 1e-9 else { return nil }
        return (n * sumTR - sumT * sumR) / d
    }

    /// R² of that fit: 1 = a straight line, 0 = no trend.
    public var r2: Double {
        let n = Double(samples)
        let st = n * sumTT - sumT * sumT
        let sr = n * sumRR - sumR * sumR
        guard st > 1e-9 else { return 0 }
        guard sr > 1e-9 else { return 0 }
        let cov = n * sumTR - sumT * sumR
        return min(1, max(0, cov * cov / (st * sr)))
    }
}

/// One hour of a host's snapshot rollup.
public struct HourPoint: Sendable, Equatable {
    /// Start of the hour, µs.
    public var hour: Int64
    public var totalKB: Double
    public var availableKB: Double
    /// Mean PSI full avg60 over the hour's samples, `nil` without PSI.
    public var fullAvg60: Double?

    public init(hour: Int64, totalKB: Double, availableKB: Double, fullAvg60: Double?) {
        self.hour = hour
        self.totalKB = totalKB
        self.availableKB = availableKB
        self.fullAvg60 = fullAvg60
    }
}
