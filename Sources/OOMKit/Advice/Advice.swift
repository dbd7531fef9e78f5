// `GET /api/v1/reports/advice` and `oomwatch advise`: what to change, host by host.

/// What a finding is about (see docs/interfaces.md, "Advice").
public enum AdviceKind: String, Codable, Sendable, CaseIterable {
    case criticalVictim = "critical-victim"
    case criticalUnprotected = "critical-unprotected"
    case leakSuspect = "leak-suspect"
    case memcgLimitTight = "memcg-limit-tight"
    case noSwap = "no-swap"
    case overcommitRisk = "overcommit-risk"
    case exhaustionPredicted = "exhaustion-predicted"
    case wrongVictim = "wrong-victim"
    case noUserspaceKiller = "no-userspace-killer"
}

/// How urgent a finding is; findings are listed most severe first.
public enum AdviceSeverity: String, Codable, Sendable, CaseIterable, Comparable {
    case info, warning, critical

    var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .critical: 2
        }
    }

    public static func < (a: AdviceSeverity, b: AdviceSeverity) -> Bool { a.rank < b.rank }
}

/// The numbers behind a finding: a sentence a person reads, the same numbers by name
/// for scripts, and the kills they come from.
public struct AdviceEvidence: Codable, Sendable, Equatable {
    /// The numbers with their times, as a sentence.
    public var text: String
    /// Ids of the OOM events the finding is based on (most recent first, at most a few).
    public var eventIDs: [String]
    /// Named figures (`kills`, `slope_mb_per_hour`, `limit_kb`, …).
    public var values: [String: Double]
    /// First and last time the evidence covers (RFC 3339).
    public var first: String?
    public var last: String?

    public init(
        text: String, eventIDs: [String] = [], values: [String: Double] = [:],
        first: String? = nil, last: String? = nil
    ) {
        self.text = text
        self.eventIDs = eventIDs
        self.values = values
        self.first = first
        self.last = last
    }

    enum CodingKeys: String, CodingKey {
        case text
        case eventIDs = "event_ids"
        case values, first, last
    }
}

/// One piece of advice.
public struct AdviceFinding: Codable, Sendable, Equatable {
    public var kind: AdviceKind
    public var severity: AdviceSeverity
    public var host: String
    /// The process, unit, container or cgroup it is about (the host itself for host-wide
    /// findings).
    public var subject: String
    public var evidence: AdviceEvidence
    /// The concrete change to make.
    public var action: String

    public init(
        kind: AdviceKind, severity: AdviceSeverity, host: String, subject: String,
        evidence: AdviceEvidence, action: String
    ) {
        self.kind = kind
        self.severity = severity
        self.host = host
        self.subject = subject
        self.evidence = evidence
        self.action = action
    }
}

/// `GET /api/v1/reports/advice`.
public struct AdviceReport: Codable, Sendable, Equatable {
    public var since: String
    public var until: String
    public var generatedAt: String
    /// Most severe first, then the most recent evidence first, then by host, kind and
    /// subject; at most the `limit` asked for.
    public var findings: [AdviceFinding]
    /// How many findings the window has in all (more than `findings` holds when it was cut).
    public var total: Int
    /// `true` when `findings` holds only the first `limit` of `total`.
    public var truncated: Bool { total > findings.count }

    /// `total` defaults to the findings given (nothing cut).
    public init(
        since: String, until: String, generatedAt: String, findings: [AdviceFinding], total: Int? = nil
    ) {
        self.since = since
        self.until = until
        self.generatedAt = generatedAt
        self.findings = findings
        self.total = max(total ?? findings.count, findings.count)
    }

    enum CodingKeys: String, CodingKey {
        case since, until
        case generatedAt = "generated_at"
        case findings, total, truncated
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            since: try c.decode(String.self, forKey: .since), until: try c.decode(String.self, forKey: .until),
            generatedAt: try c.decode(String.self, forKey: .generatedAt),
            findings: try c.decode([AdviceFinding].self, forKey: .findings),
            // Collectors before the limit send every finding and no total.
            total: try c.decodeIfPresent(Int.self, forKey: .total))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(since, forKey: .since)
        try c.encode(until, forKey: .until)
        try c.encode(generatedAt, forKey: .generatedAt)
        try c.encode(findings, forKey: .findings)
        try c.encode(total, forKey: .total)
        try c.encode(truncated, forKey: .truncated)
    }
}

/// The thresholds of the advice rules. Every one is a collector setting (`advice.*` in
/// the config file); the defaults are documented in README.md.
public struct AdviceSettings: Sendable, Equatable {
    /// Critical services by process name (`dbus` also matches `dbus-daemon`, `dbus-broker`).
    public var criticalServices = CriticalServices.defaults
    /// A critical service with an oom_score_adj above this is unprotected.
    public var protectAdj = -500
    /// What `critical-unprotected` and `critical-victim` recommend.
    public var recommendedAdj = -900
    /// Kills in the window before a process or cgroup counts as "killed again and again".
    public var minRepeatKills = 3
    /// RSS growth below this is not a leak.
    public var leakMinSlopeMBPerHour = 1.0
    /// Samples a run needs before its slope counts.
    public var leakMinSamples = 4
    /// How straight the growth must be (median R² of the runs' fits).
    public var leakMinR2 = 0.8
    /// Kills "at a similar size": their sizes' standard deviation over their mean at most.
    public var killSizeSpread = 0.25
    /// A suggested memory limit is the observed peak times this.
    public var limitHeadroom = 1.5
    /// Committed_AS above this many times (RAM + swap) is overcommit risk.
    public var commitRatio = 1.5
    /// MemAvailable reaching zero within this many hours is predicted exhaustion.
    public var exhaustionHorizonHours = 24.0
    /// Hourly points the MemAvailable trend is fitted over (the latest ones).
    public var trendHours = 12
    /// PSI memory `full` avg60 (%) that counts as a stall.
    public var psiFullThreshold = 10.0
    /// Hours of stall (in the trend window) that predict exhaustion.
    public var psiFullHours = 3
    /// `wrong-victim`: a shielded process at least this many times the victim's RSS.
    public var wrongVictimRatio = 4.0
    /// `wrong-victim`: an oom_score_adj at or below this shields a process.
    public var shieldAdj = -100
    /// How many reads of a fleet's advice (SQLite) run side by side, each over a range of
    /// hosts; 0 is one per core, at most four; 1 reads the fleet in one.
    public var parallelism = 0

    public init() {}
}

/// Critical service names and how a process name matches one.
public enum CriticalServices {
    /// sshd, systemd-journald, systemd-logind, dbus and the agent itself.
    public static let defaults = ["sshd", "systemd-journald", "systemd-logind", "dbus", "oomwatch-agent"]

    /// Process names of services whose daemon is not called like the service.
    public static let aliases = ["dbus": ["dbus-daemon", "dbus-broker"]]

    /// The configured name `comm` belongs to: equal to the name cut to the kernel's 15
    /// bytes (`systemd-journald` runs as `systemd-journal`), or a known alias
    /// (`dbus` → `dbus-daemon`, `dbus-broker`).
    public static func match(comm: String, in names: [String]) -> String? {
        for name in names {
            // Compared byte by byte, the aliases by a scan of their short list, not a hashed
            // lookup: advice asks this for every process name killed, fleet-wide.
            if comm.utf8.elementsEqual(name.utf8.prefix(15)) { return name }
            for (service, comms) in aliasList where service == name {
                if comms.contains(comm) { return name }
            }
        }
        return nil
    }

    /// `aliases` as a list.
    static let aliasList = aliases.map { ($0.key, $0.value) }
}

extension AdviceSettings {
    /// The `advice.*` keys of the collector's config file (or `OOMWATCH_ADVICE_*`).
    public static func resolve(_ layers: ConfigLayers) throws(ConfigValueError) -> AdviceSettings {
        var s = AdviceSettings()
        s.criticalServices = layers.list("advice.critical_services", default: s.criticalServices)
        s.protectAdj = try layers.int("advice.protect_adj", default: s.protectAdj)
        s.recommendedAdj = try layers.int("advice.recommended_adj", default: s.recommendedAdj)
        s.minRepeatKills = try layers.int("advice.min_repeat_kills", default: s.minRepeatKills)
        s.leakMinSlopeMBPerHour = try layers.double(
            "advice.leak_min_slope_mb_per_hour", default: s.leakMinSlopeMBPerHour)
        s.leakMinSamples = try layers.int("advice.leak_min_samples", default: s.leakMinSamples)
        s.leakMinR2 = try layers.double("advice.leak_min_r2", default: s.leakMinR2)
        s.killSizeSpread = try layers.double("advice.kill_size_spread", default: s.killSizeSpread)
        s.limitHeadroom = try layers.double("advice.limit_headroom", default: s.limitHeadroom)
        s.commitRatio = try layers.double("advice.commit_ratio", default: s.commitRatio)
        s.exhaustionHorizonHours = try layers.double(
            "advice.exhaustion_horizon_hours", default: s.exhaustionHorizonHours)
        s.trendHours = try layers.int("advice.trend_hours", default: s.trendHours)
        s.psiFullThreshold = try layers.double("advice.psi_full_threshold", default: s.psiFullThreshold)
        s.psiFullHours = try layers.int("advice.psi_full_hours", default: s.psiFullHours)
        s.wrongVictimRatio = try layers.double("advice.wrong_victim_ratio", default: s.wrongVictimRatio)
        s.shieldAdj = try layers.int("advice.shield_adj", default: s.shieldAdj)
        s.parallelism = try layers.int("advice.parallelism", default: s.parallelism)
        return s
    }

    /// Why these settings make no sense, or `nil`.
    public var problem: String? {
        if minRepeatKills < 2 { return "advice.min_repeat_kills must be at least 2" }
        if leakMinSamples < 3 { return "advice.leak_min_samples must be at least 3" }
        if !(1...168).contains(trendHours) { return "advice.trend_hours must be between 1 and 168" }
        if !(0...64).contains(parallelism) { return "advice.parallelism must be between 0 (one per core) and 64" }
        if limitHeadroom < 1 { return "advice.limit_headroom must be at least 1" }
        if !(-1000...1000).contains(protectAdj) || !(-1000...1000).contains(recommendedAdj)
            || !(-1000...1000).contains(shieldAdj)
        {
            return "advice.protect_adj, advice.recommended_adj and advice.shield_adj must be between -1000 and 1000"
        }
        if wrongVictimRatio <= 1 || commitRatio <= 0 || exhaustionHorizonHours <= 0 || psiFullHours < 1 {
            return
                "advice.wrong_victim_ratio must be above 1; advice.commit_ratio, advice.exhaustion_horizon_hours and advice.psi_full_hours must be positive"
        }
        return nil
    }
}
