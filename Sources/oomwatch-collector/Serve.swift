import ArgumentParser
import Hummingbird
import Logging
import OOMAlerts
import OOMKit
import OOMServer
import OOMStore
import ServiceLifecycle

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the collector (the default verb).")

    @OptionGroup var options: ConfigOptions

    @Option(name: .long, help: "Address to listen on, HOST:PORT (default 127.0.0.1:8080).")
    var listen: String?

    @Option(
        name: .customLong("expected-hosts"),
        help: "File of host names the fleet should have, one a line: the hosts list shows those never seen.")
    var expectedHosts: String?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve HTTPS.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("snapshot-retention-days"), help: "Keep raw snapshots (default 14).")
    var snapshotDays: Double?

    @Option(name: .customLong("rollup-retention-days"), help: "Keep hourly rollups (default 365).")
    var rollupDays: Double?

    @Option(
        name: .customLong("event-retention-days"),
        help: "Keep OOM events this many days (default 0: forever).")
    var eventDays: Double?

    @Option(
        name: .customLong("db-read"),
        help:
            "PostgreSQL streaming replica for the queries, postgres://USER@HOST:PORT/DB?sslmode=…; ingest stays on --db."
    )
    var dbRead: String?

    @Option(
        name: .customLong("db-password-file"),
        help: "File whose first line is the PostgreSQL password (else the URL's, else PGPASSWORD).")
    var dbPasswordFile: String?

    @Option(name: .customLong("db-pool-size"), help: "PostgreSQL connections per collector (default 16).")
    var dbPoolSize: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String?

    func run() async throws {
        let (layers, alerts) = try options.load()
        var flags = CollectorConfiguration.Flags()
        flags.listen = listen
        flags.db = options.db
        flags.dbRead = dbRead
        flags.dbPasswordFile = dbPasswordFile
        flags.dbPoolSize = dbPoolSize
        flags.tokensFile = options.tokensFile
        flags.expectedHosts = expectedHosts
        flags.tlsCert = tlsCert
        flags.tlsKey = tlsKey
        flags.snapshotRetentionDays = snapshotDays
        flags.rollupRetentionDays = rollupDays
        flags.eventRetentionDays = eventDays
        flags.logLevel = logLevel
        var c: CollectorConfiguration
        do {
            c = try CollectorConfiguration.resolve(layers: layers, flags: flags)
        } catch {
            throw ValidationError(error.message)
        }
        let level = Logger.Level(rawValue: c.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "oomwatch-collector")
        let address = "\(c.host.contains(":") ? "[\(c.host)]" : c.host):\(c.port)"

        // A misspelt variable is only a warning: other oomwatch binaries share the environment.
        for warning in layers.environmentWarnings(also: ["OOMWATCH_CONFIG"]) {
            logger.warning("unknown environment variable", metadata: ["problem": "\(warning)"])
        }
        logger.info(
            "starting",
            metadata: [
                "listen": "\(address)", "db": "\(c.storeLocation)",
                "tokens.file": "\(c.tokensFile ?? "")",
                "tls": "\(c.tlsCertificate != nil)",
            ])
        if alerts.isEnabled {
            c.outboxPlanner = alerts
            c.alertReceivers = alerts.receivers.map(\.name)
            logger.info(
                "alerts enabled",
                metadata: [
                    "alerts.receivers": "\(c.alertReceivers.joined(separator: ","))",
                    "alerts.routes": "\(alerts.routes.count)",
                ])
        }
        let app = try await buildApplication(configuration: c, logger: logger) { database in
            var services: [any Service] = []
            if alerts.isEnabled {
                services.append(AlertDeliveryService(database: database, config: alerts, logger: logger))
            }
            if alerts.conditions.isEnabled {
                services.append(HostConditionService(database: database, rules: alerts.conditions, logger: logger))
            }
            return services
        }
        // One group that stops gracefully on SIGTERM and SIGINT: in-flight ingests finish
        // and commit first. The shutdown logger is last, so it hears the signal first.
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: app),
                    .init(service: ShutdownLogger(logger: logger), successTerminationBehavior: .ignore),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            if let reason = ListenFailure.reason(error) {
                // One line for the operator; the wrapped NIO error only for whoever debugs.
                logger.debug("bind failed", metadata: ["listen": "\(address)", "error": "\(error)"])
                logger.critical("cannot listen on \(address): \(reason)", metadata: ["listen": "\(address)"])
                throw ExitCode(1)
            }
            throw error
        }
        logger.notice("collector stopped")
    }
}
