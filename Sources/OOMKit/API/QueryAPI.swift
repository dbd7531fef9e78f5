// Response shapes of the collector's query API (`/api/v1/...`), shared by the collector,
// the CLI and the dashboard. JSON keys are snake_case; sizes in kB; times RFC 3339 UTC.
// Shapes only grow: new fields are optional so older clients keep decoding.

/// `GET /api/v1/hosts`.
public struct HostsResponse: Codable, Sendable, Equatable {
    public var hosts: [HostStatus]
    /// Hosts named in the collector's expected-hosts file that never reported (absent
    /// when the collector has no such file).
    public var missing: [String]?
    public init(hosts: [HostStatus], missing: [String]? = nil) {
        self.hosts = hosts
        self.missing = missing
    }
}

/// A list of the host names a fleet should have (one a line, `#` comments), and which of
/// them never reported: for `oomwatch hosts --expected FILE` and the collector's
/// `expected_hosts_file`.
public enum ExpectedHosts {
    public static func parse(_ text: String) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let name = content.trimmingCharacters(in: " \t")
            if !name.isEmpty, seen.insert(name.lowercased()).inserted { out.append(name) }
        }
        return out
    }

    /// The expected names no reported host has (host names compare case-insensitively,
    /// as DNS does), in the file's order.
    public static func missing(expected: [String], reported: [String]) -> [String] {
        let have = Set(reported.map { $0.lowercased() })
        return expected.filter { !have.contains($0.lowercased()) }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// One host as the collector last heard from it.
public struct HostStatus: Codable, Sendable, Equatable {
    public var host: String
    /// Time of the last accepted batch (RFC 3339).
    public var lastSeen: String
    /// Silent for more than three of its intervals: the longer of its snapshot interval and
    /// its upload interval.
    public var stale: Bool
    public var bootID: String?
    public var agentVersion: String?
    /// The agent's snapshot interval in seconds (default 30 when the agent did not say).
    public var intervalS: Double?
    /// Seconds between the agent's uploads when no kill is waiting, when it said.
    public var uploadIntervalS: Double?
    /// How often the collector expects to hear from the agent: the longer of its snapshot
    /// and upload intervals. A host is stale after three of these.
    public var contactIntervalS: Double { Self.contactInterval(intervalS: intervalS, uploadIntervalS: uploadIntervalS) }

    /// `contactIntervalS` from a hosts row's columns (30 s when the agent never said).
    public static func contactInterval(intervalS: Double?, uploadIntervalS: Double?) -> Double {
        max(intervalS ?? 30, uploadIntervalS ?? 0)
    }
    public var kernel: String?
    /// Time of the latest snapshot.
    public var snapshotTime: String?
    /// The latest snapshot's `/proc/meminfo` fields (`total_kb`, `available_kb`, …).
    public var memory: [String: Int64]?
    /// The latest snapshot's PSI memory pressure.
    public var pressure: Pressure?
    /// MemAvailable / MemTotal of the latest snapshot, in percent.
    public var availablePct: Double?
    /// OOM kills stored for this host in the last 24 hours.
    public var kills24h: Int
    /// Time of the most recent kill stored for this host.
    public var lastKill: String?
    /// MemAvailable under 10% or PSI full avg60 over 10.
    public var atRisk: Bool?
    /// The agent's own loss counters, as last reported.
    public var agent: AgentInfo?

    public init(host: String, lastSeen: String, stale: Bool, kills24h: Int) {
        self.host = host
        self.lastSeen = lastSeen
        self.stale = stale
        self.kills24h = kills24h
    }

    enum CodingKeys: String, CodingKey {
        case host
        case lastSeen = "last_seen"
        case stale
        case bootID = "boot_id"
        case agentVersion = "agent_version"
        case intervalS = "interval_s"
        case uploadIntervalS = "upload_interval_s"
        case kernel
        case snapshotTime = "snapshot_time"
        case memory, pressure
        case availablePct = "available_pct"
        case kills24h = "kills_24h"
        case lastKill = "last_kill"
        case atRisk = "at_risk"
        case agent
    }
}

/// `GET /api/v1/events`: newest first; pass `next_cursor` back as `cursor` for the next
/// page; `null` when there is none.
public struct EventsPage: Codable, Sendable, Equatable {
    public var events: [OOMEvent]
    public var nextCursor: String?

    public init(events: [OOMEvent], nextCursor: String?) {
        self.events = events
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case events
        case nextCursor = "next_cursor"
    }

    // Written by hand so `next_cursor` is always present (`null` on the last page).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(events, forKey: .events)
        try c.encode(nextCursor, forKey: .nextCursor)
    }
}

/// `GET /api/v1/hosts/{host}/snapshots?since=&until=&points=`: a host's memory over a
/// time range, averaged into at most `points` buckets (oldest first).
public struct SnapshotsResponse: Codable, Sendable, Equatable {
    public var host: String
    public var since: String
    public var until: String
    /// Width of one bucket, seconds.
    public var stepS: Double
    public var points: [SnapshotPoint]
    /// The newest full snapshot in the range (with its processes and cgroups).
    public var latest: MemorySnapshot?

    public init(
        host: String, since: String, until: String, stepS: Double, points: [SnapshotPoint],
        latest: MemorySnapshot? = nil
    ) {
        self.host = host
        self.since = since
        self.until = until
        self.stepS = stepS
        self.points = points
        self.latest = latest
    }

    enum CodingKeys: String, CodingKey {
        case host, since, until
        case stepS = "step_s"
        case points, latest
    }
}

/// One bucket of a host's snapshots: averages of the gauges, the minimum of MemAvailable.
public struct SnapshotPoint: Codable, Sendable, Equatable {
    /// The mean time of the snapshots it averages (a snapshot's own time when alone), so
    /// a point never lies outside what it summarizes.
    public var time: String
    /// How many snapshots were averaged.
    public var samples: Int
    public var totalKB: Int64?
    public var availableKB: Int64?
    public var minAvailableKB: Int64?
    public var freeKB: Int64?
    public var cachedKB: Int64?
    public var anonKB: Int64?
    public var shmemKB: Int64?
    public var swapTotalKB: Int64?
    public var swapFreeKB: Int64?
    public var someAvg10: Double?
    public var someAvg60: Double?
    public var fullAvg10: Double?
    public var fullAvg60: Double?
    /// vmstat `oom_kill` at the end of the bucket (a counter since boot).
    public var oomKill: Int64?

    public init(time: String, samples: Int) {
        self.time = time
        self.samples = samples
    }

    enum CodingKeys: String, CodingKey {
        case time, samples
        case totalKB = "total_kb"
        case availableKB = "available_kb"
        case minAvailableKB = "min_available_kb"
        case freeKB = "free_kb"
        case cachedKB = "cached_kb"
        case anonKB = "anon_kb"
        case shmemKB = "shmem_kb"
        case swapTotalKB = "swap_total_kb"
        case swapFreeKB = "swap_free_kb"
        case someAvg10 = "some_avg10"
        case someAvg60 = "some_avg60"
        case fullAvg10 = "full_avg10"
        case fullAvg60 = "full_avg60"
        case oomKill = "oom_kill"
    }
}

/// `GET /api/v1/reports/summary?since=&until=`.
public struct SummaryReport: Codable, Sendable, Equatable {
    public var since: String
    public var until: String
    public var generatedAt: String
    public var totals: Totals
    public var byHost: [CountRow]
    public var byComm: [CountRow]
    public var byUnit: [CountRow]
    public var byContainer: [CountRow]
    public var byDay: [DayCount]
    public var largestVictims: [VictimRow]
    public var repeatOffenders: [RepeatOffender]
    public var hostsAtRisk: [HostRisk]

    public init(
        since: String, until: String, generatedAt: String, totals: Totals,
        byHost: [CountRow] = [], byComm: [CountRow] = [], byUnit: [CountRow] = [],
        byContainer: [CountRow] = [], byDay: [DayCount] = [], largestVictims: [VictimRow] = [],
        repeatOffenders: [RepeatOffender] = [], hostsAtRisk: [HostRisk] = []
    ) {
        self.since = since
        self.until = until
        self.generatedAt = generatedAt
        self.totals = totals
        self.byHost = byHost
        self.byComm = byComm
        self.byUnit = byUnit
        self.byContainer = byContainer
        self.byDay = byDay
        self.largestVictims = largestVictims
        self.repeatOffenders = repeatOffenders
        self.hostsAtRisk = hostsAtRisk
    }

    enum CodingKeys: String, CodingKey {
        case since, until
        case generatedAt = "generated_at"
        case totals
        case byHost = "by_host"
        case byComm = "by_comm"
        case byUnit = "by_unit"
        case byContainer = "by_container"
        case byDay = "by_day"
        case largestVictims = "largest_victims"
        case repeatOffenders = "repeat_offenders"
        case hostsAtRisk = "hosts_at_risk"
    }

    /// Fleet-wide figures for the range.
    public struct Totals: Codable, Sendable, Equatable {
        public var kills: Int
        /// Hosts known to the collector.
        public var hosts: Int
        public var hostsWithKills: Int
        public var staleHosts: Int
        /// Kills per source (`kernel`, `systemd-oomd`, `earlyoom`).
        public var bySource: [String: Int]
        /// Kills per scope (`global`, `memcg`, …; `unknown` when not known).
        public var byScope: [String: Int]

        public init(
            kills: Int, hosts: Int, hostsWithKills: Int, staleHosts: Int,
            bySource: [String: Int] = [:], byScope: [String: Int] = [:]
        ) {
            self.kills = kills
            self.hosts = hosts
            self.hostsWithKills = hostsWithKills
            self.staleHosts = staleHosts
            self.bySource = bySource
            self.byScope = byScope
        }

        enum CodingKeys: String, CodingKey {
            case kills, hosts
            case hostsWithKills = "hosts_with_kills"
            case staleHosts = "stale_hosts"
            case bySource = "by_source"
            case byScope = "by_scope"
        }
    }
}

/// A group and its kill count, most kills first.
public struct CountRow: Codable, Sendable, Equatable {
    /// The host name, comm, unit or container id.
    public var key: String
    public var kills: Int
    public var lastKill: String?

    public init(key: String, kills: Int, lastKill: String? = nil) {
        self.key = key
        self.kills = kills
        self.lastKill = lastKill
    }

    enum CodingKeys: String, CodingKey {
        case key, kills
        case lastKill = "last_kill"
    }
}

/// Kills on one UTC day (`YYYY-MM-DD`), oldest first.
public struct DayCount: Codable, Sendable, Equatable {
    public var day: String
    public var kills: Int
    public init(day: String, kills: Int) {
        self.day = day
        self.kills = kills
    }
}

/// A kill with its victim's size: the largest victims by RSS (anon + file + shmem).
public struct VictimRow: Codable, Sendable, Equatable {
    public var id: String
    public var host: String
    public var time: String?
    public var source: String
    public var pid: Int
    public var comm: String
    public var rssKB: Int64
    public var unit: String?
    public var containerID: String?

    public init(
        id: String, host: String, time: String?, source: String, pid: Int, comm: String,
        rssKB: Int64, unit: String? = nil, containerID: String? = nil
    ) {
        self.id = id
        self.host = host
        self.time = time
        self.source = source
        self.pid = pid
        self.comm = comm
        self.rssKB = rssKB
        self.unit = unit
        self.containerID = containerID
    }

    enum CodingKeys: String, CodingKey {
        case id, host, time, source, pid, comm
        case rssKB = "rss_kb"
        case unit
        case containerID = "container_id"
    }
}

/// The same comm killed three or more times on the same host.
public struct RepeatOffender: Codable, Sendable, Equatable {
    public var host: String
    public var comm: String
    public var kills: Int
    public var firstKill: String?
    public var lastKill: String?

    public init(host: String, comm: String, kills: Int, firstKill: String?, lastKill: String?) {
        self.host = host
        self.comm = comm
        self.kills = kills
        self.firstKill = firstKill
        self.lastKill = lastKill
    }

    enum CodingKeys: String, CodingKey {
        case host, comm, kills
        case firstKill = "first_kill"
        case lastKill = "last_kill"
    }
}

/// A host at risk now: MemAvailable under 10% of MemTotal, or PSI full avg60 over 10.
public struct HostRisk: Codable, Sendable, Equatable {
    public var host: String
    public var snapshotTime: String
    public var availablePct: Double?
    public var fullAvg60: Double?
    /// Why: `"memory_available"`, `"psi_full"`.
    public var reasons: [String]

    public init(
        host: String, snapshotTime: String, availablePct: Double?, fullAvg60: Double?,
        reasons: [String]
    ) {
        self.host = host
        self.snapshotTime = snapshotTime
        self.availablePct = availablePct
        self.fullAvg60 = fullAvg60
        self.reasons = reasons
    }

    enum CodingKeys: String, CodingKey {
        case host
        case snapshotTime = "snapshot_time"
        case availablePct = "available_pct"
        case fullAvg60 = "full_avg60"
        case reasons
    }
}

/// `GET /api/v1/top?limit=&host=`: the largest processes across the fleet, from each
/// host's latest snapshot, largest RSS first.
public struct TopResponse: Codable, Sendable, Equatable {
    public var processes: [TopProcess]
    public init(processes: [TopProcess]) { self.processes = processes }
}

/// One process from a host's latest snapshot.
public struct TopProcess: Codable, Sendable, Equatable {
    public var host: String
    /// Time of the snapshot it came from.
    public var time: String
    public var process: ProcessSample

    public init(host: String, time: String, process: ProcessSample) {
        self.host = host
        self.time = time
        self.process = process
    }
}

/// `GET /healthz` and `GET /readyz`.
/// `GET /api/v1/agent/check`: the token may ingest (the preflight's probe).
public struct AgentCheckResponse: Codable, Sendable, Equatable {
    public var status: String
    public var role: String
    public var name: String?
    /// The collector's clock, so an operator can spot a host whose clock is far off.
    public var serverTime: String

    public init(status: String = "ok", role: String, name: String?, serverTime: String) {
        self.status = status
        self.role = role
        self.name = name
        self.serverTime = serverTime
    }

    enum CodingKeys: String, CodingKey {
        case status, role, name
        case serverTime = "server_time"
    }
}

public struct HealthResponse: Codable, Sendable, Equatable {
    /// `"ok"`, or `"unavailable"` from `/readyz` when the database cannot be reached.
    public var status: String
    public init(status: String) { self.status = status }
}
