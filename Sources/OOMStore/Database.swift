import CSQLiteConfig
public import GRDB
public import Logging
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How the store opens its database.
public struct StoreConfiguration: Sendable {
    /// Path of the SQLite file; its directory is created when missing.
    public var path: String
    /// How long a connection waits on a lock before giving up (SQLITE_BUSY).
    public var busyTimeoutSeconds: Double = 10
    /// `PRAGMA synchronous=FULL`: an acknowledged batch survives power loss, not only a
    /// crash. NORMAL is faster and still crash-safe in WAL mode.
    public var synchronousFull: Bool = true
    /// Ingest batches waiting for the writer beyond which new ones get `overloaded`.
    public var maxPendingBatches: Int = 4096
    /// Batches committed together in one write transaction at most.
    public var maxGroupBatches: Int = 512
    /// Concurrent readers.
    public var maxReaders: Int = 8
    /// Stored events waiting to be added to the kill and advice rollups beyond which the
    /// next ingest round adds them first (`RollupFold`); until then they are added once
    /// ingest has been quiet for `rollupQuiet`, or before a report reads the rollups.
    public var maxUnfoldedEvents: Int = 50_000
    public var rollupQuiet: Duration = .milliseconds(200)
    /// Hosts whose newest snapshot, process details and hour frame the writer keeps in
    /// memory (`SnapshotCache`): a fleet larger than this pays reads for them again.
    public var cacheHosts: Int = SnapshotCache.defaultHosts
    /// Alert routing: when set, every newly stored kill gets its outbox rows in the same
    /// transaction.
    public var outboxPlanner: (any OutboxPlanner)?

    public init(path: String) {
        self.path = path
    }
}

/// The collector's database: one SQLite file in WAL mode behind a GRDB `DatabasePool`,
/// with one writer that groups concurrent ingests into shared transactions.
public final class OOMDatabase: Sendable {
    let pool: DatabasePool
    let logger: Logger
    let configuration: StoreConfiguration
    let writer: GroupWriter
    /// Process details and frames the writer has read (SnapshotStorage).
    let snapshotCache: SnapshotCache
    /// Stored kills not yet in the rollups.
    let rollupFold: RollupFold

    /// Opens (creating when needed) and migrates the database.
    public init(configuration: StoreConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        // The database holds every host's process command lines: a directory and file
        // this service creates are its own (0700, 0600), whatever the umask, also when
        // run outside systemd (whose StateDirectoryMode and UMask do the same).
        if let slash = configuration.path.lastIndex(of: "/"),
            case let directory = String(configuration.path[..<slash]), !directory.isEmpty
        {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if !configuration.path.hasPrefix(":"), !FileManager.default.fileExists(atPath: configuration.path) {
            // SQLite gives the -wal and -shm files the database file's mode.
            let fd = open(configuration.path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 {
                fchmod(fd, 0o600)
                close(fd)
            }
        }
        _ = Self.memoryStatisticsOff
        var config = Configuration()
        config.busyMode = .timeout(configuration.busyTimeoutSeconds)
        config.maximumReaderCount = configuration.maxReaders
        config.foreignKeysEnabled = true
        let synchronous = configuration.synchronousFull ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // Sorting large GROUP BYs in memory rather than in temp files.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            try db.execute(sql: "PRAGMA cache_size = -32768")
        }
        pool = try DatabasePool(path: configuration.path, configuration: config)
        try Schema.migrator.migrate(pool)
        rollupFold = RollupFold(
            bound: configuration.maxUnfoldedEvents, quiet: configuration.rollupQuiet, pool: pool, logger: logger)
        // Kills stored before a stop and not folded yet: the first read or quiet moment folds them.
        let waiting = try pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE id > (SELECT folded FROM rollup_mark)") ?? 0
        }
        writer = GroupWriter(
            maxPending: configuration.maxPendingBatches, maxGroup: configuration.maxGroupBatches)
        snapshotCache = SnapshotCache(hosts: configuration.cacheHosts)
        rollupFold.stored(waiting)
    }

    /// SQLite's memory statistics cost a process-wide mutex on each of its allocations,
    /// which the ingest writer makes by the thousand per round, and nothing here reads
    /// them: off before the process's first connection (a no-op after one, as in tests
    /// that opened another database first). Measured: +14–23 % on inserts into the
    /// events table (`bench/collector_load.py raw`'s rows, 64 batches a transaction).
    static let memoryStatisticsOff: Int32 = oomwatch_sqlite3_memstatus_off()

    /// The database file's size plus its WAL, bytes.
    public func sizeBytes() -> Int64 {
        var total: Int64 = 0
        for suffix in ["", "-wal"] {
            var info = stat()
            if stat(configuration.path + suffix, &info) == 0 { total += Int64(info.st_size) }
        }
        return total
    }

    /// Moves everything the WAL holds into the database file and empties the WAL, once the
    /// collector has stopped taking batches: a stopped collector leaves one self-contained
    /// file, so a copy of the database file alone (a backup, a move to a new host) holds
    /// every acknowledged batch. Without it the last transactions would live only in the
    /// `-wal` file next to it until the next start.
    public func checkpoint() async throws {
        try await pool.writeWithoutTransaction { db in
            try db.checkpoint(.truncate)
        }
    }

    /// Whether a read succeeds (for `/readyz`).
    public func isReachable() async -> Bool {
        do {
            _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
            return true
        } catch {
            return false
        }
    }

    /// The query plan SQLite picks for `sql`, one detail per line (for tests and tuning).
    public func explain(_ sql: String, arguments: StatementArguments = []) throws -> [String] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map {
                $0["detail"] as String
            }
        }
    }

    /// Runs `body` inside a write transaction (bench and test set-up).
    public func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws
        -> T
    {
        try await pool.write(body)
    }

    static func map(_ error: any Error) -> StoreError {
        if let e = error as? StoreError { return e }
        // A read or write cut short by shutdown is not a database failure.
        if error is CancellationError { return .cancelled }
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED: return .busy
            case .SQLITE_FULL: return .diskFull
            case .SQLITE_CONSTRAINT: return .rejected(e.message ?? "constraint")
            default: return .failed(e.message ?? "\(e.resultCode)")
            }
        }
        return .failed("\(error)")
    }
}

/// Microseconds since the Unix epoch, now.
public func nowMicroseconds() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
}

extension OOMDatabase {
    /// Ingest batches waiting for the writer right now.
    public var pendingWrites: Int { writer.pendingCount }

    public var writerCache: WriterCacheStats? { snapshotCache.stats }
}
