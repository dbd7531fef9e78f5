public import Logging
public import OOMKit
import OOMStore

extension CollectorConfiguration {
    /// The command-line flags (`nil` = not given). Each names a config key in
    /// ``resolve(layers:flags:)``, where its variable and default are too.
    public struct Flags: Sendable {
        public var listen: String?
        public var db: String?
        public var dbRead: String?
        public var dbPasswordFile: String?
        public var dbPoolSize: Int?
        public var tokensFile: String?
        public var expectedHosts: String?
        public var tlsCert: String?
        public var tlsKey: String?
        public var snapshotRetentionDays: Double?
        public var rollupRetentionDays: Double?
        public var eventRetentionDays: Double?
        public var logLevel: String?
        public init() {}
    }

    /// The whole settings table of the collector: every key with its flag and default, in
    /// the order flag > `OOMWATCH_*` variable > config file > default
    /// (server-config/collector.yaml documents each key). A value that cannot be read,
    /// an enumerated one included (`db.synchronous: ful`), is an error naming the key and
    /// where it came from, never a silent default.
    public static func resolve(layers: ConfigLayers, flags: Flags = Flags()) throws(SettingsError)
        -> CollectorConfiguration
    {
        var c = CollectorConfiguration()
        do {
            c.logLevel = try layers.choice(
                "log.level", flag: flags.logLevel, flagName: "--log-level",
                allowed: Logger.Level.allCases.map(\.rawValue), default: c.logLevel)
            let address = layers.string("listen", flag: flags.listen) ?? "\(c.host):\(c.port)"
            guard let colon = address.lastIndex(of: ":"),
                let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port)
            else {
                throw SettingsError("listen: expected HOST:PORT, got \(address)")
            }
            c.host = String(address[..<colon].filter { $0 != "[" && $0 != "]" })
            c.port = port
            try c.resolveStore(layers, flags: flags)
            c.tokensFile = tokensPath(layers, flag: flags.tokensFile)
            c.expectedHostsFile = layers.string("expected_hosts_file", flag: flags.expectedHosts)
            c.tlsCertificate = layers.string("tls.cert", flag: flags.tlsCert)
            c.tlsKey = layers.string("tls.key", flag: flags.tlsKey)
            c.maxBodyBytes = try layers.int("limits.max_body_bytes", default: c.maxBodyBytes)
            c.limits.maxDepth = try layers.int("limits.max_json_depth", default: c.limits.maxDepth)
            c.limits.maxEvents = try layers.int("limits.max_events", default: c.limits.maxEvents)
            c.limits.maxSnapshots = try layers.int("limits.max_snapshots", default: c.limits.maxSnapshots)
            c.limits.maxFutureSkewSeconds = try layers.double(
                "limits.max_future_skew_seconds", default: c.limits.maxFutureSkewSeconds)
            c.rateLimitPerSecond = try layers.double("limits.rate_per_token", default: c.rateLimitPerSecond)
            c.rateLimitBurst = try layers.double("limits.rate_burst", default: c.rateLimitBurst)
            c.idleTimeoutSeconds = try layers.double("timeouts.idle_seconds", default: c.idleTimeoutSeconds)
            c.bodyTimeoutSeconds = try layers.double("timeouts.body_seconds", default: c.bodyTimeoutSeconds)
            c.tokensPollSeconds = try layers.double("tokens_poll_seconds", default: c.tokensPollSeconds)
            c.pacePostsPerSecond = try layers.double("ingest.pace_posts_per_second", default: c.pacePostsPerSecond)
            c.maxUploadIntervalSeconds = try layers.double(
                "ingest.max_upload_interval_s", default: c.maxUploadIntervalSeconds)
            c.retention.snapshotDays = try layers.double(
                "retention.snapshot_days", flag: flags.snapshotRetentionDays, default: c.retention.snapshotDays)
            c.retention.rollupDays = try layers.double(
                "retention.rollup_days", flag: flags.rollupRetentionDays, default: c.retention.rollupDays)
            let eventDays = try layers.double("retention.event_days", flag: flags.eventRetentionDays, default: 0)
            c.retention.eventDays = eventDays > 0 ? eventDays : nil
            c.retention.sentAlertDays = try layers.double("retention.alert_days", default: c.retention.sentAlertDays)
            c.retention.intervalSeconds = try layers.double(
                "retention.interval_seconds", default: c.retention.intervalSeconds)
            c.synchronousFull =
                try layers.choice("db.synchronous", allowed: ["full", "normal"], default: "full") == "full"
            c.maxPendingBatches = try layers.int("db.max_pending_batches", default: c.maxPendingBatches)
            c.cacheHosts = try layers.int("db.cache_hosts", default: c.cacheHosts)
            c.advice = try AdviceSettings.resolve(layers)
            try layers.checkUnknownKeys()
        } catch let error as ConfigValueError {
            throw SettingsError(error.description)
        } catch let error as SettingsError {
            throw error
        } catch {
            throw SettingsError("\(error)")
        }
        try c.validate()
        return c
    }

    /// Checks ranges and combinations; the message says which setting and what works.
    public func validate() throws(SettingsError) {
        guard (tlsCertificate == nil) == (tlsKey == nil) else {
            throw SettingsError("tls.cert and tls.key go together")
        }
        if let problem = advice.problem { throw SettingsError(problem) }
        guard pacePostsPerSecond >= 0, (1...600).contains(maxUploadIntervalSeconds) else {
            throw SettingsError(
                "ingest.pace_posts_per_second must be 0 (off) or more, ingest.max_upload_interval_s 1 - 600 (agents follow no longer pace)"
            )
        }
        guard maxBodyBytes > 0, limits.maxDepth > 0, limits.maxFutureSkewSeconds > 0, retention.snapshotDays > 0,
            retention.rollupDays > 0, idleTimeoutSeconds > 0, bodyTimeoutSeconds > 0, cacheHosts > 0
        else {
            throw SettingsError("limits, timeouts, retention and db.cache_hosts must be positive")
        }
    }

    /// The data directory (`data_dir`): systemd's $STATE_DIRECTORY, else
    /// $XDG_DATA_HOME/oomwatch, else ~/.local/share/oomwatch, else ./oomwatch-data.
    public static func dataDirectory(_ layers: ConfigLayers) -> String {
        if let dir = layers.string("data_dir") { return dir }
        let env = layers.environment
        if let dir = env["STATE_DIRECTORY"], !dir.isEmpty {
            // systemd may pass several, colon-separated; the first is ours.
            return String(dir.split(separator: ":").first ?? Substring(dir))
        }
        if let xdg = env["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/oomwatch" }
        if let home = env["HOME"], !home.isEmpty, home != "/" {
            return home + "/.local/share/oomwatch"
        }
        return "oomwatch-data"
    }

    /// `db.path` (`--db`), by default in the data directory.
    public static func databasePath(_ layers: ConfigLayers, flag: String? = nil) -> String {
        layers.string("db.path", flag: flag) ?? dataDirectory(layers) + "/oomwatch.sqlite"
    }

    /// `tokens_file` (`--tokens-file`), by default in the data directory.
    public static func tokensPath(_ layers: ConfigLayers, flag: String? = nil) -> String {
        layers.string("tokens_file", flag: flag) ?? dataDirectory(layers) + "/tokens"
    }
}
