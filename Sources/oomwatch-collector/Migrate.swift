import ArgumentParser
import Logging
import OOMKit
import OOMServer
import OOMStore
import ServiceLifecycle
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `oomwatch-collector migrate --from sqlite:PATH --to postgres://…`: copies a SQLite
/// collector's history into another store, resumably, and checks the counts.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Copy a SQLite collector's history (hosts, events, snapshots, hourly rollups, agent counters) into PostgreSQL.",
        discussion: """
            Resumable: progress is saved after every page in the checkpoint file, and a re-run \
            continues there (rows copied twice are stored once). Ends with a count check: exit \
            status 1 when the target's counts differ from the source's. Stop the SQLite \
            collector first, or rows it stores meanwhile are copied only by a later re-run.
            """)

    @Option(name: .long, help: "The SQLite collector's database: sqlite:PATH or PATH.")
    var from: String

    @Option(name: .long, help: "The target: postgres://USER@HOST:PORT/DB?sslmode=verify-full (or sqlite:PATH).")
    var to: String

    @Option(
        name: .customLong("db-password-file"),
        help: "File whose first line is the target's password (else the URL's, else PGPASSWORD).")
    var passwordFile: String?

    @Option(name: .long, help: "Progress file (default: the source's path + .migrate-checkpoint).")
    var checkpoint: String?

    @Option(name: .customLong("batch-size"), help: "Rows read and written per page (default 500).")
    var batchSize: Int = 500

    func validate() throws {
        guard (1...10000).contains(batchSize) else {
            throw ValidationError("--batch-size: \(batchSize) rows? Use 1 to 10000.")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard case .sqlite(let sourcePath) = try parse(from, origin: "--from") else {
            throw ValidationError("--from: migrate copies from a SQLite collector: sqlite:PATH")
        }
        // Opening a missing file would create an empty database and "copy" nothing.
        guard FileManager.default.fileExists(atPath: sourcePath) else {
            throw ValidationError("--from: \(sourcePath) does not exist: give the SQLite collector's database file")
        }
        // Checked here first so that a bad URL's message names --to.
        _ = try parse(to, origin: "--to")
        var flags = CollectorConfiguration.Flags()
        flags.db = to
        flags.dbPasswordFile = passwordFile
        var target: CollectorConfiguration
        do {
            target = try CollectorConfiguration.resolve(
                layers: ConfigLayers(
                    environment: environment.filter { !$0.key.hasPrefix("OOMWATCH_") }
                ), flags: flags)
        } catch {
            throw ValidationError(error.message)
        }
        let location = target.storeLocation
        if case .sqlite(let path) = location, path == sourcePath {
            throw ValidationError("--to: the target is the source itself")
        }

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let logger = Logger(label: "oomwatch-collector.migrate")
        let source: OOMDatabase
        let store: any CollectorStore
        do {
            source = try OOMDatabase(configuration: StoreConfiguration(path: sourcePath), logger: logger)
            store = try openStore(location, configuration: target, logger: logger)
        } catch {
            throw ValidationError("cannot open the stores: \(DatabaseURL.redacted("\(error)"))")
        }
        let migration = StoreMigration(
            source: source, target: store, targetName: location.description,
            checkpointPath: checkpoint ?? sourcePath + ".migrate-checkpoint")
        var run = migration
        run.pageSize = batchSize
        let copy = CopyService(migration: run)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        // A PostgreSQL store connects, migrates its schema and keeps its pool as a service.
        if let service = store as? any Service {
            services.append(.init(service: service))
        }
        services.append(.init(service: copy, successTerminationBehavior: .gracefullyShutdownGroup))
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        print("migrate: \(sourcePath) -> \(location)")
        do {
            try await group.run()
        } catch {
            let text = DatabaseURL.redacted("\(error)")
            printError("migrate: stopped: \(text)\nmigrate: run the same command again to continue")
            throw ExitCode(1)
        }
        guard let report = copy.report else {
            printError("migrate: interrupted: run the same command again to continue")
            throw ExitCode(1)
        }
        print(
            "migrate: copied \(report.eventsCopied) events, \(report.snapshotsCopied) snapshots, "
                + "\(report.hourlyCopied) hourly rollups and \(report.agentCountersCopied) agent counter reports in this run"
        )
        print("migrate: source \(report.source)")
        if report.agentCountersAdded > 0 {
            print(
                "migrate: the target also holds \(report.agentCountersAdded) current agent reports whose counter "
                    + "history the source's retention had deleted")
        }
        print("migrate: target \(report.target)")
        guard report.countsMatch else {
            printError(
                "migrate: the counts differ: the target is missing rows, or held data before the copy "
                    + "(or the source collector still runs); run again to copy what is missing")
            throw ExitCode(1)
        }
        print("migrate: counts match")
    }

    private func parse(_ text: String, origin: String) throws -> StoreLocation {
        do {
            return try StoreLocation.parse(text, origin: origin)
        } catch {
            throw ValidationError(error.message)
        }
    }
}

/// The copy as a service beside the target store's: ends the group when done.
private final class CopyService: Service, Sendable {
    let migration: StoreMigration
    private let result = Mutex<MigrationReport?>(nil)

    init(migration: StoreMigration) {
        self.migration = migration
    }

    var report: MigrationReport? { result.withLock { $0 } }

    func run() async throws {
        let lastLine = Mutex<Int64>(0)
        let report = try await cancelWhenGracefulShutdown {
            try await self.migration.run { progress in
                // A line a second at most, and the last one.
                let now = nowMicroseconds()
                let due = lastLine.withLock { last in
                    guard now - last >= 1_000_000 || progress.phase == "done" else { return false }
                    last = now
                    return true
                }
                if due { print(progress.line) }
            }
        }
        result.withLock { $0 = report }
    }
}

private func printError(_ text: String) {
    var stderr = StandardError()
    print(text, to: &stderr)
}
