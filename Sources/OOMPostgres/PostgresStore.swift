public import Logging
import OOMKit
public import OOMStore
import PostgresNIO
public import ServiceLifecycle
import Synchronization

/// The collector's store on PostgreSQL: several collectors share one database.
///
/// A `PostgresClient` pool (its size a setting) behind the same operations as the SQLite
/// store. Events and snapshots are partitioned by UTC day, so retention drops whole
/// partitions; every ingest is one transaction of multi-row inserts with
/// `ON CONFLICT DO NOTHING`, and the kill rollups are upserted from the rows it actually
/// inserted (`RETURNING`), so two collectors sent the same event store it once and count
/// it once. Background work (retention, creating partitions ahead) runs on the one
/// collector holding a session advisory lock; when that collector dies, its connection
/// and lock go with it and another takes over.
///
/// A `Service`: `run()` runs the pool, migrates the schema (under a transaction advisory
/// lock, so collectors starting together are safe) and then keeps the background lease;
/// every operation waits until the migration is done.
public final class PostgresStore: CollectorStore, Service {
    let client: PostgresClient
    /// Queries go here: a streaming replica when configured, else the primary.
    let reader: PostgresClient
    let logger: Logger
    let outboxPlanner: (any OutboxPlanner)?
    let configuration: PostgresStoreConfiguration
    let state = Mutex(State())
    /// Seconds between attempts to take the background lease, and between the lease
    /// holder's checks that its connection is alive.
    let leaseCheckSeconds: Double

    struct State {
        /// Set once the schema is migrated (or migration failed, with why).
        var ready: Result<Void, StoreError>?
        var holdsLease = false
        /// Days (since the epoch) whose partitions exist, per table.
        var partitions: Set<String> = []
        /// Host ids by name: a host is inserted once, then only updated.
        var hostIDs: [String: Int64] = [:]
    }

    /// A store for `configuration`; nothing connects until `run()`.
    public init(
        configuration: PostgresStoreConfiguration, readReplica: PostgresStoreConfiguration? = nil,
        outboxPlanner: (any OutboxPlanner)? = nil, leaseCheckSeconds: Double = 2, logger: Logger
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.outboxPlanner = outboxPlanner
        self.leaseCheckSeconds = leaseCheckSeconds
        client = PostgresClient(configuration: try Self.clientConfiguration(configuration), backgroundLogger: logger)
        reader =
            try readReplica.map {
                PostgresClient(configuration: try Self.clientConfiguration($0), backgroundLogger: logger)
            } ?? client
    }

    static func clientConfiguration(_ c: PostgresStoreConfiguration) throws -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let socket = c.unixSocketPath {
            config = .init(unixSocketPath: socket, username: c.user, password: c.password, database: c.database)
        } else {
            var tlsConfig = TLSConfiguration.makeClientConfiguration()
            if let ca = c.sslRootCertificate {
                tlsConfig.trustRoots = .file(ca)
            }
            let tls: PostgresClient.Configuration.TLS
            switch c.sslMode {
            case .disable:
                tls = .disable
            case .prefer, .require:
                // libpq's meaning: encrypted, the certificate not checked.
                tlsConfig.certificateVerification = .none
                tls = c.sslMode == .prefer ? .prefer(tlsConfig) : .require(tlsConfig)
            case .verifyCA:
                tlsConfig.certificateVerification = .noHostnameVerification
                tls = .require(tlsConfig)
            case .verifyFull:
                tlsConfig.certificateVerification = .fullVerification
                tls = .require(tlsConfig)
            }
            config = .init(
                host: c.host, port: c.port, username: c.user, password: c.password, database: c.database, tls: tls)
        }
        config.options.maximumConnections = max(2, c.poolSize)
        config.options.connectTimeout = .milliseconds(Int64(c.connectTimeoutSeconds * 1000))
        return config
    }

    /// Runs the pools, migrates, then keeps trying to hold the background lease, until
    /// cancelled or shut down. Throws when the schema cannot be migrated.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for pool in reader === client ? [client] : [client, reader] {
                // Queries wait for the pool; started first, it does not warn that they came early.
                let (started, signal) = AsyncStream<Void>.makeStream()
                group.addTask {
                    signal.finish()
                    await pool.run()
                }
                for await _ in started {}
            }
            do {
                try await withStartupDeadline {
                    try await PostgresSchema.migrate(self.client, logger: self.logger)
                    try await self.ensurePartitions(around: nowMicroseconds())
                }
                finishStartup(.success(()))
            } catch {
                let mapped = Self.map(error)
                logger.error("postgres migration failed", metadata: ["error": "\(mapped)", "db": "\(configuration)"])
                finishStartup(.failure(mapped))
                throw mapped
            }
            await cancelWhenGracefulShutdown {
                await self.keepLease()
            }
            group.cancelAll()
        }
    }

    /// Seconds the first connection and migration may take before the collector gives up
    /// with a message (the pool itself would retry for about a minute).
    var startupSeconds: Double { max(3 * configuration.connectTimeoutSeconds, 3) }

    /// Runs `body`, or fails once `startupSeconds` have passed.
    func withStartupDeadline(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let seconds = startupSeconds
        let description = configuration.description
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                throw StoreError.failed(
                    "no answer from PostgreSQL at \(description) within \(Int(seconds)) s: check that it runs "
                        + "and the host, port, user, password and sslmode")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    func finishStartup(_ result: Result<Void, StoreError>) {
        state.withLock { $0.ready = result }
    }

    /// Waits for the migration; throws what made it fail.
    /// A request while the store is still starting waits for it, at most `startupSeconds`;
    /// then it is told to retry (503), never left hanging.
    func ready() async throws(StoreError) {
        if let r = state.withLock({ $0.ready }) { return try r.get() }
        let deadline = ContinuousClock.now + .milliseconds(Int64(startupSeconds * 1000))
        while ContinuousClock.now < deadline {
            if let r = state.withLock({ $0.ready }) { return try r.get() }
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                throw .cancelled
            }
        }
        throw .busy
    }

    /// The session advisory lock that makes one collector the one doing background work.
    static let leaseLockKey: Int64 = 0x6f6f_6d77_6c65_6173  // "oomwleas"

    /// Holds the lease on one dedicated connection while it lives; retries otherwise.
    func keepLease() async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    let got =
                        try await connection.query(
                            "SELECT pg_try_advisory_lock(\(Self.leaseLockKey))", logger: logger
                        ).decode(Bool.self).first { _ in true } ?? false
                    guard got else { return }
                    state.withLock { $0.holdsLease = true }
                    logger.info("background lease taken: this collector runs retention")
                    defer { state.withLock { $0.holdsLease = false } }
                    // The lock lives as long as this session: check it stays up.
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(Int64(leaseCheckSeconds * 1000)))
                        try await connection.query("SELECT 1", logger: logger)
                        try await ensurePartitions(around: nowMicroseconds())
                    }
                    _ = try? await connection.query(
                        "SELECT pg_advisory_unlock(\(Self.leaseLockKey))", logger: logger)
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("background lease connection lost", metadata: ["error": "\(Self.map(error))"])
            }
            try? await Task.sleep(for: .milliseconds(Int64(leaseCheckSeconds * 1000)))
        }
    }

    public func holdsBackgroundLease() async -> Bool {
        state.withLock { $0.holdsLease }
    }

    public var pendingWrites: Int { 0 }

    public func isReachable() async -> Bool {
        // Not ready yet (or failed to start): not reachable, without waiting.
        guard case .success = state.withLock({ $0.ready }) else { return false }
        return (try? await client.query("SELECT 1", logger: logger)) != nil
    }

    public func sizeBytes() async -> Int64 {
        do {
            try await ready()
            return try await scalar(Int64.self, "SELECT pg_database_size(current_database())", on: client) ?? 0
        } catch {
            return 0
        }
    }

    // MARK: helpers

    /// Runs `body` after the migration, mapping every failure to a `StoreError`.
    @discardableResult
    func store<T>(_ body: () async throws -> T) async throws(StoreError) -> T {
        try await ready()
        do {
            return try await body()
        } catch {
            throw Self.map(error)
        }
    }

    /// The first column of the first row, if any.
    func scalar<T: PostgresDecodable & Sendable>(_ type: T.Type, _ query: PostgresQuery, on c: PostgresClient)
        async throws
        -> T? where T._DecodableType == T
    {
        for try await value in try await c.query(query, logger: logger).decode(T?.self) { return value }
        return nil
    }

    func scalar<T: PostgresDecodable & Sendable>(_ type: T.Type, _ query: PostgresQuery, on c: PostgresConnection)
        async throws -> T? where T._DecodableType == T
    {
        for try await value in try await c.query(query, logger: logger).decode(T?.self) { return value }
        return nil
    }

    static func map(_ error: any Error) -> StoreError {
        if let e = error as? StoreError { return e }
        if error is CancellationError { return .cancelled }
        // A failure inside a transaction: what failed, not the wrapper.
        if let e = error as? PostgresTransactionError {
            if let inner = e.closureError ?? e.commitError ?? e.beginError { return map(inner) }
            return .failed("\(e)")
        }
        if let e = error as? PSQLError {
            if let state = e.serverInfo?[.sqlState] {
                let message = e.serverInfo?[.message] ?? state
                switch state {
                // Serialization failure, deadlock, lock timeout, too many connections.
                case "40001", "40P01", "55P03", "53300": return .busy
                case "53100": return .diskFull
                case "57014": return .cancelled
                default:
                    if state.hasPrefix("23") || state.hasPrefix("22") { return .rejected(message) }
                    return .failed("\(state): \(message)")
                }
            }
            switch e.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed,
                .tooManyParameters:
                return .busy
            default: return .failed("\(e.code)")
            }
        }
        return .failed("\(error)")
    }
}

/// Binds built one value at a time, for statements whose shape depends on the input
/// (filters, multi-row VALUES). Every value is a bind: nothing is spliced into SQL.
struct Binds {
    var bindings = PostgresBindings()

    /// Appends `value` and returns its placeholder (`$n`).
    mutating func add<T: PostgresNonThrowingEncodable>(_ value: T?) -> String {
        if let value { bindings.append(value) } else { bindings.appendNull() }
        return "$\(bindings.count)"
    }

    func query(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }
}

extension PostgresStore {
    /// The migrations applied to this database, in order.
    public func appliedMigrations() async throws(StoreError) -> [String] {
        try await store { try await PostgresSchema.applied(client, logger: logger) }
    }

    /// The plan PostgreSQL picks for `sql`, one line each (tests and tuning). `sql` is the
    /// caller's own statement: never pass it input from a request. `indexesOnly` plans as
    /// if sequential scans were expensive, showing the plan a table too large to scan
    /// gets (small test tables are read whole because that is cheaper).
    public func explain(_ sql: String, indexesOnly: Bool = false) async throws(StoreError) -> [String] {
        try await store {
            try await client.withTransaction(logger: logger) { c in
                if indexesOnly { try await c.query("SET LOCAL enable_seqscan = off", logger: logger) }
                var lines: [String] = []
                for try await line in try await c.query(PostgresQuery(unsafeSQL: "EXPLAIN " + sql), logger: logger)
                    .decode(String.self)
                {
                    lines.append(line)
                }
                return lines
            }
        }
    }

    /// Refreshes the planner's statistics (after a bulk load).
    public func analyze() async throws(StoreError) {
        try await store { try await client.query("ANALYZE", logger: logger) }
    }
}

extension PostgresStore {
    /// Stored hosts, events and snapshots (`oomwatch-collector migrate`'s count check).
    public func countRows() async throws(StoreError) -> (hosts: Int, events: Int, snapshots: Int) {
        try await store {
            let hosts = try await count("SELECT count(*) FROM hosts")
            let events = try await count("SELECT count(*) FROM events")
            let snapshots = try await count("SELECT count(*) FROM snapshots")
            return (hosts, events, snapshots)
        }
    }
}
