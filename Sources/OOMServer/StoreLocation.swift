public import Logging
public import OOMPostgres
public import OOMStore

/// Which store the collector opens: the `--db` / `OOMWATCH_DB` / `db:` setting, parsed.
public enum StoreLocation: Sendable, Equatable {
    /// One SQLite file (a path, or `sqlite:PATH`): one collector.
    case sqlite(path: String)
    /// A PostgreSQL database shared by several collectors; queries go to `read` (a
    /// streaming replica) when set, ingest always to the primary.
    case postgres(PostgresStoreConfiguration, read: PostgresStoreConfiguration? = nil)
}

extension CollectorConfiguration {
    /// The store named by `postgres` when set, else the SQLite file at `databasePath`.
    public var storeLocation: StoreLocation {
        if let postgres { return .postgres(postgres, read: postgresRead) }
        return .sqlite(path: databasePath)
    }
}

/// Opens the store at `location` with the collector's store settings (SQLite's
/// synchronous mode and writer queue, the alert planner). A PostgreSQL store is returned
/// unconnected: it is a `Service` that connects, migrates and serves once its `run()`
/// starts (`buildApplication` adds it to the service group first).
public func openStore(
    _ location: StoreLocation, configuration: CollectorConfiguration, logger: Logger
) throws -> any CollectorStore {
    switch location {
    case .sqlite(let path):
        var store = StoreConfiguration(path: path)
        store.synchronousFull = configuration.synchronousFull
        store.maxPendingBatches = configuration.maxPendingBatches
        store.cacheHosts = configuration.cacheHosts
        store.outboxPlanner = configuration.outboxPlanner
        return try OOMDatabase(configuration: store, logger: logger)
    case .postgres(let primary, let read):
        return try PostgresStore(
            configuration: primary, readReplica: read, outboxPlanner: configuration.outboxPlanner, logger: logger)
    }
}
