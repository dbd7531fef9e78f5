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
        /// Operations waiting for `ready`, resumed by `finishStartup` (or their cancellation).
        var readyWaiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        /// Waiters cancelled before they could register: they must not wait at all.
        var cancelledWaiters: Set<UInt64> = []
        var nextWaiter: UInt64 = 0
        /// Operations using a connection now; the pools stop only once they are done.
        var inFlight = 0
        /// Set when `run()` ends: new operations are refused, in-flight ones finish.
        var stopping = false
        /// `run()` waiting for the last in-flight operation.
        var drained: CheckedContinuation<Void, Never>?
        var drainTimedOut = false
        var holdsLease = false
        /// Days (since the epoch) whose partitions exist, per table.
        var partitions: Set<String> = []
        /// Host ids by name: a host is inserted once, then only updated.
        var hostIDs: [String: Int64] = [:]
        /// Recent hours' snapshot frames (inflated), as committed.
        var frames: [SnapshotStorage.FrameKey: [UInt8]] = [:]
    }

    /// A process's stored details for its host: by pid and digest.
    struct DetailKey: Hashable {
        var pid: Int64
        var digest: Int64
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
    ///
    /// The pools stop only after the store's own work (migration, lease) has ended. As
    /// child tasks of this one they were cancelled together with that work, and a pool
    /// shut down under a query still in flight on one of its connections left the query
    /// waiting forever, with no connection open on the server: this stalled CI runs
    /// (`runEndsWhenCancelledAtAnyMoment` reproduces it).
    public func run() async throws {
        var pools: [Task<Void, Never>] = []
        for pool in reader === client ? [client] : [client, reader] {
            // Queries wait for the pool; started first, it does not warn that they came early.
            let (started, signal) = AsyncStream<Void>.makeStream()
            // Detached: neither this task's cancellation nor a graceful shutdown reaches
            // the pool before the work below has let go of its connections.
            pools.append(
                Task.detached {
                    signal.finish()
                    await pool.run()
                })
            for await _ in started {}
        }
        let result: Result<Void, any Error>
        do {
            try await startUp()
            await cancelWhenGracefulShutdown {
                await self.keepLease()
            }
            result = .success(())
        } catch {
            result = .failure(error)
        }
        // Not cancellable (this task is already cancelled): bounded by `drainSeconds`.
        await Task.detached { await self.drain() }.value
        for pool in pools { pool.cancel() }
        for pool in pools { await pool.value }
        try result.get()
    }

    /// Seconds `run()` lets in-flight operations finish before it stops the pools anyway.
    static let drainSeconds: Double = 10

    /// Refuses new operations and waits (at most `drainSeconds`) for those in flight.
    func drain() async {
        let idle = state.withLock { s in
            s.stopping = true
            return s.inFlight == 0
        }
        if idle { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let done = self.state.withLock { s in
                        if s.inFlight == 0 || s.drainTimedOut { return true }
                        s.drained = c
                        return false
                    }
                    if done { c.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(Self.drainSeconds * 1000)))
                let waiter = self.state.withLock { s in
                    s.drainTimedOut = true
                    return s.drained.take()
                }
                waiter?.resume()
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Counts an operation in; refused with 503 once the store is stopping.
    func beginOperation() throws(StoreError) {
        let refused = state.withLock { s in
            if s.stopping { return true }
            s.inFlight += 1
            return false
        }
        if refused { throw .busy }
    }

    func endOperation() {
        let drained = state.withLock { s in
            s.inFlight -= 1
            return s.inFlight == 0 ? s.drained.take() : nil
        }
        drained?.resume()
    }

    /// Migrates the schema and makes today's partitions, within `startupSeconds`; every
    /// operation waiting in `ready()` learns how it went.
    func startUp() async throws(StoreError) {
        do {
            try await withDeadline(seconds: startupSeconds, else: startupTimeout) {
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
    }

    /// Seconds the first connection and migration may take before the collector gives up
    /// with a message (the pool itself would retry for about a minute).
    var startupSeconds: Double { max(3 * configuration.connectTimeoutSeconds, 3) }

    /// Why start-up gave up: what the operator should check.
    var startupTimeout: StoreError {
        .failed(
            "no answer from PostgreSQL at \(configuration) within \(Int(startupSeconds)) s: check that it runs "
                + "and the host, port, user, password and sslmode")
    }

    /// Runs `body`, or throws `timeout` once `seconds` have passed (cancelling `body`).
    func withDeadline<T: Sendable>(
        seconds: Double, else timeout: StoreError, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                throw timeout
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Records how start-up ended and wakes every operation waiting for it.
    func finishStartup(_ result: Result<Void, StoreError>) {
        let waiters = state.withLock { s in
            s.ready = result
            defer { s.readyWaiters = [:] }
            return s.readyWaiters.values
        }
        for w in waiters { w.resume() }
    }

    /// Waits for the migration; throws what made it fail.
    /// A request while the store is still starting waits for it (woken by
    /// `finishStartup`, not polling), at most `startupSeconds`; then it is told to retry
    /// (503), never left hanging. Cancelling the request ends the wait.
    func ready() async throws(StoreError) {
        if let r = state.withLock({ $0.ready }) { return try r.get() }
        do {
            try await withDeadline(seconds: startupSeconds, else: .busy) { try await self.startupFinished() }
        } catch {
            throw Self.map(error)
        }
        try state.withLock { $0.ready ?? .failure(.busy) }.get()
    }

    /// Returns once `finishStartup` ran; throws `CancellationError` when cancelled first.
    func startupFinished() async throws {
        let id = state.withLock { s in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let resume: Result<Void, any Error>? = state.withLock { s in
                    if s.ready != nil { return .success(()) }
                    if s.cancelledWaiters.remove(id) != nil { return .failure(CancellationError()) }
                    s.readyWaiters[id] = c
                    return nil
                }
                if let resume { c.resume(with: resume) }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                let w = s.readyWaiters.removeValue(forKey: id)
                // Cancelled before it registered: it must not register and wait.
                if w == nil, s.ready == nil { s.cancelledWaiters.insert(id) }
                return w
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// The session advisory lock that makes one collector the one doing background work.
    static let leaseLockKey: Int64 = 0x6f6f_6d77_6c65_6173  // "oomwleas"

    /// Holds the lease on one dedicated connection while it lives; retries otherwise.
    /// Partition upkeep runs on that same connection: holding one pooled connection while
    /// waiting for a second could starve a small pool.
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
                        try await ensurePartitions(around: nowMicroseconds(), on: connection)
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

    public var writerCache: WriterCacheStats? { nil }

    public func isReachable() async -> Bool {
        // Not ready yet (or failed to start): not reachable, without waiting.
        guard case .success = state.withLock({ $0.ready }) else { return false }
        return (try? await store { try await client.query("SELECT 1", logger: logger) }) != nil
    }

    public func sizeBytes() async -> Int64 {
        let size = try? await store {
            try await scalar(Int64.self, "SELECT pg_database_size(current_database())", on: client)
        }
        return size.flatMap { $0 } ?? 0
    }

    // MARK: helpers

    /// Runs `body` after the migration, mapping every failure to a `StoreError`; counted
    /// in flight, so `run()` stops the pools only after it.
    @discardableResult
    func store<T>(_ body: () async throws -> T) async throws(StoreError) -> T {
        try await ready()
        try beginOperation()
        defer { endOperation() }
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
    /// Stored hosts, events, snapshots, hourly rollups and agent counter reports
    /// (`oomwatch-collector migrate`'s count check).
    public func countRows() async throws(StoreError) -> (
        hosts: Int, events: Int, snapshots: Int, hourly: Int, agentCounters: Int
    ) {
        try await store {
            let hosts = try await count("SELECT count(*) FROM hosts")
            let events = try await count("SELECT count(*) FROM events")
            let snapshots = try await count("SELECT count(*) FROM snapshots")
            let hourly = try await count("SELECT count(*) FROM snapshot_hourly")
            let agentCounters = try await count("SELECT count(*) FROM agent_counters")
            return (hosts, events, snapshots, hourly, agentCounters)
        }
    }
}
