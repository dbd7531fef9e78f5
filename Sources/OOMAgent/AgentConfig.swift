public import CurlHTTP
public import OOMKit

/// A setting of the agent that makes no sense.
public typealias AgentConfigError = SettingsError

/// Everything the agent can be told, resolved from agent.yaml, `OOMWATCH_*` variables and
/// flags (in that order of precedence, reversed) by `resolve`. Every key is documented in
/// agent-config/agent.yaml.
public struct AgentConfig: Sendable, Equatable {
    /// Which sources run.
    public struct Sources: Sendable, Equatable {
        public var host = true
        public var meminfo = true
        public var vmstat = true
        public var pressure = true
        public var processes = true
        public var cgroups = true
        /// The /dev/kmsg follower.
        public var kmsg = true
        /// systemd-oomd and earlyoom kills from the journal.
        public var journal = true
        /// OOM sysctls, swap and zram, userspace killers, critical services (for advice).
        public var system = true
        public init() {}
    }

    /// How the agent talks to the collector.
    public struct Upload: Sendable, Equatable {
        public var caFile: String?
        public var clientCertFile: String?
        public var clientKeyFile: String?
        public var verifyTLS = true
        public var connectTimeoutSeconds = 5.0
        public var totalTimeoutSeconds = 30.0
        /// Bodies larger than this are gzip-compressed.
        public var gzipMinBytes = 1024
        public var initialBackoffSeconds = 1.0
        public var maxBackoffSeconds = 300.0
        /// Seconds between uploads when no kill asks for one sooner; `nil`: the snapshot
        /// interval, at least 10 s.
        public var intervalSeconds: Double?
        public init() {}
    }

    public var collector: String?
    public var tokenFile: String?
    public var stateDir = "/var/lib/oomwatch-agent"
    public var intervalSeconds = 10.0
    /// Seconds between uploads when no kill asks for one sooner: `upload.interval`, else
    /// the snapshot interval, at least 10 s. The agent tells the collector, which expects
    /// to hear from it this often.
    public var uploadIntervalSeconds: Double { upload.intervalSeconds ?? max(intervalSeconds, 10) }
    public var hostname: String?
    public var topProcesses = 20
    /// Written to /proc/self/oom_score_adj at start; `nil` leaves it alone.
    public var oomScoreAdj: Int? = -900
    public var roots = FileRoots()
    public var sources = Sources()
    public var vmstatAll = false
    public var cgroupMaxDepth = 3
    public var cgroupMax = 50
    /// Services whose processes' OOM protection is reported (`critical_services`).
    public var criticalServices = CriticalServices.defaults
    /// Snapshots between two reports of unchanged system facts (`system.every`).
    public var systemEvery = 60
    public var spoolMaxBytes: Int64 = 64 << 20
    public var spoolSegmentBytes = 512 << 10
    /// Cap on the batches set aside as malformed (`<state>/dead-letter/`).
    public var deadLetterMaxBytes: Int64 = 16 << 20
    public var upload = Upload()
    public var journalctlPath = "/usr/bin/journalctl"
    public var logLevel = "info"

    /// `log_level`'s values, swift-log's levels.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public init() {}

    /// Flag values (nil = not given) for `resolve`.
    public struct Flags: Sendable {
        public var collector: String?
        public var tokenFile: String?
        public var stateDir: String?
        public var interval: Double?
        public var hostname: String?
        public var topProcesses: Int?
        public var procRoot: String?
        public var cgroupRoot: String?
        public var kmsgPath: String?
        public var logLevel: String?
        public init() {}
    }

    /// Resolves every setting: flag > `OOMWATCH_*` variable > config file > default.
    public static func resolve(layers: ConfigLayers, flags: Flags = Flags()) throws(AgentConfigError) -> AgentConfig {
        var c = AgentConfig()
        do {
            c.collector = layers.string("collector", flag: flags.collector)
            c.tokenFile = layers.string("token_file", flag: flags.tokenFile)
            c.stateDir = layers.string("state_dir", flag: flags.stateDir) ?? c.stateDir
            c.intervalSeconds = try layers.double("interval", flag: flags.interval, default: c.intervalSeconds)
            c.hostname = layers.string("hostname", flag: flags.hostname)
            c.topProcesses = try layers.int("top_processes", flag: flags.topProcesses, default: c.topProcesses)
            if let (value, origin) = layers.raw("oom_score_adj") {
                let word = value.lowercased()
                if word == "off" || word == "none" {
                    c.oomScoreAdj = nil
                } else if let adj = Int(value) {
                    c.oomScoreAdj = adj
                } else {
                    throw ConfigValueError(
                        key: "oom_score_adj", value: value, expected: "a whole number from -1000 to 1000, or off",
                        origin: origin)
                }
            }
            c.roots.proc = layers.string("paths.proc", flag: flags.procRoot) ?? c.roots.proc
            c.roots.cgroup = layers.string("paths.cgroup", flag: flags.cgroupRoot) ?? c.roots.cgroup
            c.roots.kmsg = layers.string("paths.kmsg", flag: flags.kmsgPath) ?? c.roots.kmsg
            c.roots.sys = layers.string("paths.sys") ?? c.roots.sys
            c.sources.host = try layers.bool("sources.host", default: true)
            c.sources.meminfo = try layers.bool("sources.meminfo", default: true)
            c.sources.vmstat = try layers.bool("sources.vmstat", default: true)
            c.sources.pressure = try layers.bool("sources.pressure", default: true)
            c.sources.processes = try layers.bool("sources.processes", default: true)
            c.sources.cgroups = try layers.bool("sources.cgroups", default: true)
            c.sources.kmsg = try layers.bool("sources.kmsg", default: true)
            c.sources.journal = try layers.bool("sources.journal", default: true)
            c.sources.system = try layers.bool("sources.system", default: true)
            c.criticalServices = layers.list("critical_services", default: c.criticalServices)
            c.systemEvery = try layers.int("system.every", default: c.systemEvery)
            c.vmstatAll = try layers.bool("vmstat.all", default: false)
            c.cgroupMaxDepth = try layers.int("cgroups.max_depth", default: c.cgroupMaxDepth)
            c.cgroupMax = try layers.int("cgroups.max", default: c.cgroupMax)
            c.spoolMaxBytes = Int64(try layers.double("spool.max_mb", default: 64) * 1024 * 1024)
            c.spoolSegmentBytes = try layers.int("spool.segment_kb", default: 512) * 1024
            c.deadLetterMaxBytes = Int64(try layers.double("spool.dead_letter_max_mb", default: 16) * 1024 * 1024)
            c.upload.caFile = layers.string("upload.ca_file")
            c.upload.clientCertFile = layers.string("upload.client_cert")
            c.upload.clientKeyFile = layers.string("upload.client_key")
            c.upload.verifyTLS = try layers.bool("upload.verify_tls", default: true)
            c.upload.connectTimeoutSeconds = try layers.double("upload.connect_timeout", default: 5)
            c.upload.totalTimeoutSeconds = try layers.double("upload.timeout", default: 30)
            c.upload.gzipMinBytes = try layers.int("upload.gzip_min_bytes", default: 1024)
            c.upload.initialBackoffSeconds = try layers.double("upload.initial_backoff", default: 1)
            c.upload.maxBackoffSeconds = try layers.double("upload.max_backoff", default: 300)
            if layers.string("upload.interval") != nil {
                c.upload.intervalSeconds = try layers.double("upload.interval", default: 10)
            }
            c.journalctlPath = layers.string("journal.journalctl") ?? c.journalctlPath
            c.logLevel = try layers.choice(
                "log_level", flag: flags.logLevel, flagName: "--log-level", allowed: Self.logLevels,
                default: c.logLevel)
            try layers.checkUnknownKeys()
        } catch {
            throw AgentConfigError("\(error)")
        }
        try c.validate()
        return c
    }

    /// Checks ranges and combinations; the message says which setting and what works.
    public func validate() throws(AgentConfigError) {
        guard intervalSeconds >= 0.1, intervalSeconds <= 86_400 else {
            throw AgentConfigError("interval must be between 0.1 and 86400 seconds, got \(intervalSeconds)")
        }
        guard (0...10_000).contains(topProcesses) else {
            throw AgentConfigError("top_processes must be between 0 and 10000, got \(topProcesses)")
        }
        if let adj = oomScoreAdj, !(-1000...1000).contains(adj) {
            throw AgentConfigError("oom_score_adj must be between -1000 and 1000 (or off), got \(adj)")
        }
        guard (1...100_000).contains(systemEvery) else {
            throw AgentConfigError("system.every must be between 1 and 100000 snapshots, got \(systemEvery)")
        }
        guard criticalServices.count <= 100, criticalServices.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 64 })
        else {
            throw AgentConfigError("critical_services: at most 100 names of 1 to 64 bytes each")
        }
        guard spoolMaxBytes >= 1 << 20 else {
            throw AgentConfigError("spool.max_mb must be at least 1")
        }
        guard deadLetterMaxBytes >= 64 << 10 else {
            throw AgentConfigError("spool.dead_letter_max_mb must be at least 0.0625 (64 kB)")
        }
        guard spoolSegmentBytes >= 4096, Int64(spoolSegmentBytes) * 4 <= spoolMaxBytes else {
            throw AgentConfigError("spool.segment_kb must be at least 4 and at most a quarter of spool.max_mb")
        }
        if let i = upload.intervalSeconds, !(0.1...86_400).contains(i) {
            throw AgentConfigError("upload.interval must be between 0.1 and 86400 seconds, got \(i)")
        }
        guard upload.connectTimeoutSeconds > 0, upload.totalTimeoutSeconds > 0 else {
            throw AgentConfigError("upload.connect_timeout and upload.timeout must be positive")
        }
        guard upload.initialBackoffSeconds > 0, upload.maxBackoffSeconds >= upload.initialBackoffSeconds else {
            throw AgentConfigError("upload.initial_backoff must be positive and at most upload.max_backoff")
        }
        guard Self.logLevels.contains(logLevel) else {
            throw AgentConfigError(
                "log_level must be one of \(Self.logLevels.joined(separator: ", ")); got \(logLevel)")
        }
        if let collector {
            guard collector.hasPrefix("http://") || collector.hasPrefix("https://"), collector.count > 8 else {
                throw AgentConfigError("collector must be an http:// or https:// URL, got \(collector)")
            }
        }
        guard !stateDir.isEmpty else { throw AgentConfigError("state_dir must not be empty") }
    }

    /// The HTTP client settings for uploads (and `check`, `spool replay`).
    public func httpClientOptions() -> HTTPClientOptions {
        HTTPClientOptions(
            caFile: upload.caFile, clientCertFile: upload.clientCertFile, clientKeyFile: upload.clientKeyFile,
            verifyTLS: upload.verifyTLS, connectTimeoutSeconds: upload.connectTimeoutSeconds,
            totalTimeoutSeconds: upload.totalTimeoutSeconds,
            // An ingest answer is ~100 bytes: a larger one is refused (and the batch retried)
            // rather than buffered past the unit's MemoryMax.
            maxResponseBytes: Uploader.maxResponseBytes, userAgent: "oomwatch-agent/\(AgentContext.version)")
    }

    /// For `run`: a collector is required, and the token file must be readable.
    public func validateForRun() throws(AgentConfigError) {
        guard collector != nil else {
            throw AgentConfigError(
                "no collector set: pass --collector URL, set OOMWATCH_COLLECTOR, or add `collector:` to the config file"
            )
        }
        if let tokenFile {
            let token = (try? FileIO.readAll(tokenFile)).flatMap { $0 }
            guard let token, token.contains(where: { $0 > 32 }) else {
                throw AgentConfigError("token_file \(tokenFile) is missing, unreadable or empty")
            }
        }
    }
}
