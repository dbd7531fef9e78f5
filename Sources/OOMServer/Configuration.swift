public import OOMKit
public import OOMPostgres
public import OOMStore

/// Everything the collector's HTTP app needs to know, already resolved from flags,
/// environment and config file by the executable.
public struct CollectorConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var databasePath = "oomwatch-data/oomwatch.sqlite"
    /// A PostgreSQL database instead of the SQLite file (`storeLocation`).
    public var postgres: PostgresStoreConfiguration?
    /// A streaming replica of `postgres` that serves the queries.
    public var postgresRead: PostgresStoreConfiguration?
    /// `nil`: no tokens at all (every API request is 401).
    public var tokensFile: String?
    /// Host names the fleet should have, one a line: `/api/v1/hosts` lists those that
    /// never reported as `missing`. Read on each request, so edits need no restart.
    public var expectedHostsFile: String?
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Largest request body, also after gzip decoding.
    public var maxBodyBytes = 8 * 1024 * 1024
    public var limits = IngestLimits()
    /// Requests a second per token (0 disables) and the burst allowed above it.
    public var rateLimitPerSecond: Double = 1000
    public var rateLimitBurst: Double = 2000
    /// Connections idle (no bytes read, e.g. half-sent headers) this long are closed.
    public var idleTimeoutSeconds: Double = 30
    /// A request body must arrive in full within this time.
    public var bodyTimeoutSeconds: Double = 30
    /// The fleet's pace (`UploadPacer`): the posts a second the agents posting here make
    /// together at most, each asked to upload no more often than hosts / this many
    /// seconds (0: never asked), and the longest upload interval asked for.
    public var pacePostsPerSecond: Double = 1000
    public var maxUploadIntervalSeconds: Double = 120
    /// How often the tokens file's modification time is checked.
    public var tokensPollSeconds: Double = 2
    public var retention = RetentionPolicy()
    /// Thresholds of `GET /api/v1/reports/advice`.
    public var advice = AdviceSettings()
    /// `PRAGMA synchronous=FULL` (survives power loss) rather than NORMAL.
    public var synchronousFull = true
    /// Ingest batches allowed to wait for the writer before 503.
    public var maxPendingBatches = 4096
    /// Hosts whose newest snapshot, process details and hour frame the SQLite writer keeps
    /// in memory (about 60 kB a host at most); a larger fleet pays reads for them.
    public var cacheHosts = SnapshotCache.defaultHosts
    public var backlog = 4096
    /// Alert routing (collector.yaml `alerts:`): writes outbox rows with each new kill.
    public var outboxPlanner: (any OutboxPlanner)?
    /// The configured alert receivers' names (`POST /api/v1/alerts/test` checks them).
    public var alertReceivers: [String] = []
    /// `log.level`: one of swift-log's levels.
    public var logLevel = "info"

    public init() {}
}
