public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOSSL
public import OOMKit
public import OOMStore
public import ServiceLifecycle

/// The parts every route shares.
public struct Collector: Sendable {
    public let configuration: CollectorConfiguration
    /// The store every route reads and writes: SQLite or PostgreSQL.
    public let store: any CollectorStore
    public let tokens: TokenStore
    public let metrics: CollectorMetrics
    public let logger: Logger
    let rateLimiter: RateLimiter
    let pacer: UploadPacer

    public init(
        configuration: CollectorConfiguration, database: any CollectorStore, tokens: TokenStore,
        metrics: CollectorMetrics = CollectorMetrics(), logger: Logger
    ) {
        self.configuration = configuration
        self.store = database
        self.tokens = tokens
        self.metrics = metrics
        self.logger = logger
        self.rateLimiter = RateLimiter(
            rate: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst)
        self.pacer = UploadPacer(
            postsPerSecond: configuration.pacePostsPerSecond, maxInterval: configuration.maxUploadIntervalSeconds)
    }

    /// Opens the store and the tokens file named by `configuration`.
    public static func open(configuration: CollectorConfiguration, logger: Logger) throws -> Collector {
        let database = try openStore(configuration.storeLocation, configuration: configuration, logger: logger)
        let tokens =
            try configuration.tokensFile.map { try TokenStore(path: $0) } ?? TokenStore(entries: [])
        if tokens.count == 0 {
            logger.warning(
                "no tokens configured: every API request will be refused",
                metadata: ["tokens.file": "\(configuration.tokensFile ?? "none")"])
        }
        return Collector(
            configuration: configuration, database: database, tokens: tokens, logger: logger)
    }
}

/// The collector as a runnable application: HTTP(S) server, retention and the tokens
/// file watcher, all in one service group. The executable and the tests both call this.
/// `services` adds more services over the opened database (alert delivery).
public func buildApplication(
    configuration: CollectorConfiguration, logger: Logger,
    services: (any CollectorStore) -> [any Service] = { _ in [] }
) async throws -> some ApplicationProtocol {
    let collector = try Collector.open(configuration: configuration, logger: logger)
    return try buildApplication(collector: collector, services: services(collector.store))
}

/// The application for an already opened collector (tests reach into its database).
public func buildApplication(collector: Collector, services extra: [any Service] = []) throws
    -> some ApplicationProtocol
{
    let c = collector.configuration
    let router = buildRouter(collector)
    let http1 = HTTP1Channel.Configuration(
        idleTimeout: .milliseconds(Int64(c.idleTimeoutSeconds * 1000)))
    let server: HTTPServerBuilder
    if let cert = c.tlsCertificate, let key = c.tlsKey {
        let chain = try NIOSSLCertificate.fromPEMFile(cert).map { NIOSSLCertificateSource.certificate($0) }
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain,
            privateKey: NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        server = try .tls(.http1(configuration: http1), tlsConfiguration: tls)
    } else {
        server = .http1(configuration: http1)
    }
    // A store with a connection pool runs it as a service, first in, last out; so does
    // the SQLite store's checkpoint at the stop, after the server and every other service.
    var services: [any Service] =
        (collector.store as? any Service).map { [$0] }
        ?? (collector.store as? OOMDatabase).map { [CheckpointAtStop(database: $0, logger: collector.logger)] } ?? []
    services.append(RetentionService(database: collector.store, policy: c.retention, logger: collector.logger))
    services += extra
    if collector.tokens.path != nil {
        services.append(
            TokensFileWatcher(
                tokens: collector.tokens, pollSeconds: c.tokensPollSeconds,
                logger: collector.logger))
    }
    return Application(
        router: router,
        server: server,
        configuration: .init(
            address: .hostname(c.host, port: c.port), serverName: "oomwatch-collector",
            backlog: c.backlog),
        services: services,
        logger: collector.logger)
}

/// Waits for the collector's stop, then checkpoints the SQLite store (`OOMDatabase.checkpoint`).
/// First in the service list, it is the last to hear the stop: the server has answered its
/// last ingest by then.
struct CheckpointAtStop: Service {
    let database: OOMDatabase
    let logger: Logger

    func run() async throws {
        // Returns at the graceful stop; throws when cancelled instead, which checkpoints too.
        try? await gracefulShutdown()
        // Detached: a cancelled task's write would be refused before it starts.
        let database = self.database
        do {
            try await Task.detached { try await database.checkpoint() }.value
            logger.debug("database checkpointed at stop")
        } catch {
            // The WAL is still there and still read at the next start: nothing is lost.
            logger.warning("database not checkpointed at stop", metadata: ["error": "\(error)"])
        }
    }
}

extension HostsResponse: ResponseEncodable {}
extension EventsPage: ResponseEncodable {}
extension SnapshotsResponse: ResponseEncodable {}
extension SummaryReport: ResponseEncodable {}
extension TopResponse: ResponseEncodable {}
extension AdviceReport: ResponseEncodable {}
extension HealthResponse: ResponseEncodable {}
extension AgentCheckResponse: ResponseEncodable {}
extension IngestResult: ResponseEncodable {}
extension OOMEvent: ResponseEncodable {}

/// Every route of the collector. Each group declares once the token its routes need
/// (``Access``); the handlers live in one controller per area.
public func buildRouter(_ collector: Collector) -> Router<CollectorRequestContext> {
    let router = Router(context: CollectorRequestContext.self)
    router.add(middleware: ResponseMetricsMiddleware(metrics: collector.metrics))

    OperationsController(collector: collector)
        .addRoutes(open: router, read: router.authenticated(.query, collector))
    Dashboard.addRoutes(to: router)

    let api = router.group("api/v1")
    IngestController(collector: collector).addRoutes(to: api.authenticated(.ingest, collector))
    let read = api.authenticated(.query, collector)
    QueryController(collector: collector).addRoutes(to: read)
    AdviceController(collector: collector).addRoutes(to: read)
    AlertController(collector: collector)
        .addRoutes(read: read, admin: api.authenticated(.admin, collector))
    return router
}
