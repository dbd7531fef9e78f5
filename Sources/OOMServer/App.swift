import Gzip
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOSSL
public import OOMKit
public import OOMStore
public import ServiceLifecycle

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The parts every route shares.
public struct Collector: Sendable {
    public let configuration: CollectorConfiguration
    public let database: OOMDatabase
    public let tokens: TokenStore
    public let metrics: CollectorMetrics
    public let logger: Logger
    let rateLimiter: RateLimiter

    public init(
        configuration: CollectorConfiguration, database: OOMDatabase, tokens: TokenStore,
        metrics: CollectorMetrics = CollectorMetrics(), logger: Logger
    ) {
        self.configuration = configuration
        self.database = database
        self.tokens = tokens
        self.metrics = metrics
        self.logger = logger
        self.rateLimiter = RateLimiter(
            rate: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst)
    }

    /// Opens the database and the tokens file named by `configuration`.
    public static func open(configuration: CollectorConfiguration, logger: Logger) throws -> Collector {
        var store = StoreConfiguration(path: configuration.databasePath)
        store.synchronousFull = configuration.synchronousFull
        store.maxPendingBatches = configuration.maxPendingBatches
        store.outboxPlanner = configuration.outboxPlanner
        let database = try OOMDatabase(configuration: store, logger: logger)
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
    services: (OOMDatabase) -> [any Service] = { _ in [] }
) async throws -> some ApplicationProtocol {
    let collector = try Collector.open(configuration: configuration, logger: logger)
    return try buildApplication(collector: collector, services: services(collector.database))
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
    var services: [any Service] = [
        RetentionService(
            database: collector.database, policy: c.retention, logger: collector.logger)
    ]
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

/// Every route of the collector.
public func buildRouter(_ collector: Collector) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.middlewares.add(ResponseMetricsMiddleware(metrics: collector.metrics))
    let routes = Routes(collector: collector)

    router.get("/healthz") { _, _ in HealthResponse(status: "ok") }
    router.get("/readyz") { _, _ in try await routes.ready() }
    // Fleet gauges name hosts and kills: data, so a read token like any query.
    router.get("/metrics") { request, _ in
        _ = try routes.authorize(request, .read)
        return try await routes.metricsText()
    }
    router.get("/openapi.yaml") { _, _ in
        Response(
            status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
    }

    let api = router.group("api/v1")
    api.post("ingest") { request, context in try await routes.ingest(request, context) }
    // The agent's preflight: the same authorization as an ingest, storing nothing.
    api.get("agent/check") { request, _ in
        let entry = try routes.authorize(request, .agent)
        return AgentCheckResponse(
            role: entry.role.rawValue, name: entry.name,
            serverTime: RFC3339.format(epochMicroseconds: nowMicroseconds()))
    }
    api.get("hosts") { request, _ in
        _ = try routes.authorize(request, .read)
        let hosts = try await routes.store { try await $0.hosts() }
        return HostsResponse(hosts: hosts, missing: routes.missingHosts(reported: hosts))
    }
    api.get("hosts/{host}/snapshots") { request, context in
        try await routes.snapshots(request, context)
    }
    api.get("events") { request, _ in try await routes.events(request) }
    api.get("events/{id}") { request, context in
        _ = try routes.authorize(request, .read)
        let id = try context.parameters.require("id")
        guard id.utf8.count <= 128 else { throw HTTPError(.badRequest, message: "id: too long") }
        return try await routes.store { try await $0.event(id: id) }
    }
    api.get("reports/summary") { request, _ in try await routes.summary(request) }
    api.get("reports/advice") { request, _ in try await routes.advice(request) }
    api.get("top") { request, _ in try await routes.top(request) }
    routes.addAlertRoutes(to: api)

    Dashboard.addRoutes(to: router)
    return router
}

/// The route handlers; errors become HTTP statuses only here.
struct Routes: Sendable {
    let collector: Collector
    var config: CollectorConfiguration { collector.configuration }

    /// The caller's token entry, or 401/403/429.
    func authorize(_ request: Request, _ need: TokenRole) throws -> TokenEntry {
        guard let header = request.headers[.authorization],
            header.utf8.count <= 512,
            header.lowercased().hasPrefix("bearer ")
        else {
            collector.metrics.authFailed()
            throw HTTPError(
                .unauthorized, headers: [.wwwAuthenticate: "Bearer"],
                message: "missing bearer token")
        }
        let token = header.dropFirst(7).drop(while: { $0 == " " })
        guard let entry = collector.tokens.authenticate(token) else {
            collector.metrics.authFailed()
            throw HTTPError(
                .unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "invalid token")
        }
        let allowed = need == .agent ? entry.role.canIngest : entry.role.canQuery
        guard allowed else {
            collector.metrics.authFailed()
            throw HTTPError(
                .forbidden,
                message: "this \(entry.role.rawValue) token may not "
                    + (need == .agent ? "ingest" : "query"))
        }
        if let wait = collector.rateLimiter.take(entry.hash) {
            collector.metrics.rateLimited()
            throw HTTPError(
                .tooManyRequests, headers: [.retryAfter: String(wait)],
                message: "too many requests for this token")
        }
        return entry
    }

    /// Runs a store call, mapping its errors to HTTP.
    func store<T: Sendable>(_ body: (OOMDatabase) async throws -> T) async throws -> T {
        do {
            return try await body(collector.database)
        } catch let error as StoreError {
            throw httpError(error)
        }
    }

    func httpError(_ error: StoreError) -> HTTPError {
        switch error {
        case .overloaded:
            collector.metrics.overloaded()
            return HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "1"],
                message: "collector busy; retry later")
        case .busy:
            collector.metrics.databaseError()
            return HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "1"],
                message: "database busy; retry later")
        case .diskFull:
            // Nothing was committed; the agent keeps the batch spooled and retries.
            collector.metrics.databaseError()
            collector.logger.error("database disk full")
            return HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "5"],
                message: "collector storage full; retry later")
        case .rejected(let m):
            return HTTPError(.badRequest, message: m)
        case .notFound(let m):
            return HTTPError(.notFound, message: "not found: \(m)")
        case .invalidCursor:
            return HTTPError(.badRequest, message: error.description)
        case .cancelled:
            // The client went away; nobody reads this, and a retry is idempotent.
            return HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "1"],
                message: "request cancelled; retry")
        case .failed(let m):
            collector.metrics.databaseError()
            collector.logger.error("database failure", metadata: ["error": "\(m)"])
            return HTTPError(.internalServerError, message: "database error")
        }
    }

    /// The expected hosts that never reported; `nil` without an expected-hosts file. An
    /// unreadable file is logged, not an error: the hosts list still answers.
    func missingHosts(reported: [HostStatus]) -> [String]? {
        guard let path = config.expectedHostsFile else { return nil }
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else {
            collector.logger.warning(
                "expected hosts file unreadable or over 1 MiB; not listing missing hosts",
                metadata: ["expected_hosts.file": "\(path)"])
            return nil
        }
        let expected = ExpectedHosts.parse(String(decoding: data, as: UTF8.self))
        return ExpectedHosts.missing(expected: expected, reported: reported.map(\.host))
    }

    func ready() async throws -> HealthResponse {
        guard await collector.database.isReachable() else {
            throw HTTPError(.serviceUnavailable, message: "database unreachable")
        }
        return HealthResponse(status: "ok")
    }

    func metricsText() async throws -> Response {
        let gauges = try await store { try await $0.fleetGauges() }
        let text =
            collector.metrics.render(
                dbSizeBytes: collector.database.sizeBytes(),
                pendingWrites: collector.database.pendingWrites, hosts: gauges.hosts,
                staleHosts: gauges.staleHosts, events: gauges.events, kills24h: gauges.kills24hByHost)
            + (try await alertMetricsText())
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: ingest

    func ingest(_ request: Request, _ context: BasicRequestContext) async throws -> IngestResult {
        let started = ContinuousClock.now
        let token = try authorize(request, .agent)
        let limit = config.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            collector.metrics.batchFailed("invalid")
            throw HTTPError(.contentTooLarge, message: "body larger than \(limit) bytes")
        }
        var bytes: [UInt8]
        do {
            bytes = try await readBody(request, limit: limit)
        } catch {
            collector.metrics.batchFailed("invalid")
            throw error
        }
        collector.metrics.received(bodyBytes: bytes.count)
        let encoding = request.headers[.contentEncoding]?.lowercased()
        if encoding == "gzip" || encoding == "x-gzip" {
            do {
                bytes = try Gzip.decompress(bytes, maxOutputBytes: limit)
            } catch {
                collector.metrics.batchFailed("invalid")
                if error.kind == .tooLarge {
                    throw HTTPError(
                        .contentTooLarge, message: "body larger than \(limit) bytes after gzip decoding")
                }
                throw HTTPError(.badRequest, message: "body: not valid gzip (\(error.description))")
            }
        } else if let encoding, encoding != "identity" {
            collector.metrics.batchFailed("invalid")
            throw HTTPError(
                .unsupportedMediaType, message: "Content-Encoding: only gzip is accepted")
        }
        var batch: IngestBatch
        do {
            batch = try IngestValidator.decode(bytes, limits: config.limits)
            try IngestValidator.validate(batch, limits: config.limits, nowMicroseconds: nowMicroseconds())
        } catch {
            collector.metrics.batchFailed("invalid")
            throw HTTPError(.badRequest, message: error.message)
        }
        guard token.mayWrite(host: batch.host) else {
            collector.metrics.authFailed()
            collector.metrics.batchFailed("forbidden")
            collector.logger.warning(
                "agent token used for another host",
                metadata: [
                    "host.name": "\(LogText.escaped(batch.host))", "token.name": "\(token.name ?? "-")",
                    "token.hosts": "\(token.hostGlob ?? "*")",
                ])
            throw HTTPError(
                .forbidden,
                message: "host: this agent token may only send for hosts matching \(token.hostGlob ?? "*")")
        }
        let missing: String?
        do {
            missing = try await collector.database.resolveProcessReferences(&batch)
        } catch {
            collector.metrics.batchFailed("error")
            throw httpError(error)
        }
        if let missing {
            collector.metrics.batchFailed("full_form_required")
            throw HTTPError(
                .conflict,
                message: "\(missing).ref: this collector does not hold these process details: send the full form")
        }
        let outcome: IngestOutcome
        do {
            outcome = try await collector.database.ingest(batch)
        } catch {
            collector.metrics.batchFailed(error == .overloaded ? "overloaded" : "error")
            throw httpError(error)
        }
        let elapsed = ContinuousClock.now - started
        collector.metrics.ingested(
            stored: outcome.eventsStored, duplicate: outcome.eventsDuplicate,
            snapshots: outcome.snapshotsStored,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds)
                / 1e18)
        if outcome.eventsStored > 0 {
            collector.logger.info(
                "stored OOM events",
                metadata: [
                    "host.name": "\(LogText.escaped(batch.host))", "events.stored": "\(outcome.eventsStored)",
                ])
        }
        var result = outcome.result
        result.processRefs = true
        return result
    }

    /// The whole body, refusing more than `limit` bytes or a sender too slow to finish
    /// within the body timeout.
    func readBody(_ request: Request, limit: Int) async throws -> [UInt8] {
        let timeout = Duration.milliseconds(Int64(config.bodyTimeoutSeconds * 1000))
        let body = request.body
        let buffer: ByteBuffer? = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: limit) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let buffer else {
            throw HTTPError(.requestTimeout, message: "body not received in time")
        }
        return Array(buffer.readableBytesView)
    }

    // MARK: queries

    func param(_ request: Request, _ name: String, maxLength: Int = 256) throws -> String? {
        guard let value = request.uri.queryParameters[name[...]] else { return nil }
        guard value.utf8.count <= maxLength else {
            throw HTTPError(.badRequest, message: "\(name): longer than \(maxLength) bytes")
        }
        return value.isEmpty ? nil : String(value)
    }

    func intParam(_ request: Request, _ name: String, default d: Int, range: ClosedRange<Int>)
        throws -> Int
    {
        guard let text = try param(request, name, maxLength: 16) else { return d }
        guard let v = Int(text), range.contains(v) else {
            throw HTTPError(
                .badRequest,
                message: "\(name): must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return v
    }

    func timeParam(_ request: Request, _ name: String, now: Int64) throws -> Int64? {
        guard let text = try param(request, name, maxLength: 64) else { return nil }
        guard let t = SinceParser.parse(text, nowMicroseconds: now) else {
            throw HTTPError(
                .badRequest,
                message: "\(name): expected a duration like 30m, 24h, 7d or an RFC 3339 time")
        }
        return t
    }

    func range(_ request: Request, defaultSpan: Int64) throws -> (since: Int64, until: Int64) {
        let now = nowMicroseconds()
        let until = try timeParam(request, "until", now: now) ?? now
        let since = try timeParam(request, "since", now: now) ?? (until - defaultSpan)
        guard since < until else {
            throw HTTPError(.badRequest, message: "since: must be before until")
        }
        return (since, until)
    }

    func events(_ request: Request) async throws -> EventsPage {
        _ = try authorize(request, .read)
        let now = nowMicroseconds()
        var f = EventFilter()
        f.host = try param(request, "host", maxLength: 253)
        f.comm = try param(request, "comm")
        f.source = try param(request, "source", maxLength: 32)
        if let s = f.source, OOMEvent.Source(rawValue: s) == nil {
            throw HTTPError(
                .badRequest, message: "source: must be kernel, systemd-oomd or earlyoom")
        }
        f.scope = try param(request, "scope", maxLength: 32)
        if let s = f.scope, OOMEvent.Scope(rawValue: s) == nil {
            throw HTTPError(
                .badRequest, message: "scope: must be global, memcg, cpuset or mempolicy")
        }
        f.unit = try param(request, "unit")
        f.container = try param(request, "container")
        f.since = try timeParam(request, "since", now: now)
        f.until = try timeParam(request, "until", now: now)
        f.limit = try intParam(request, "limit", default: 100, range: 1...1000)
        f.cursor = try param(request, "cursor", maxLength: 64)
        return try await store { try await $0.events(f) }
    }

    func snapshots(_ request: Request, _ context: BasicRequestContext) async throws
        -> SnapshotsResponse
    {
        _ = try authorize(request, .read)
        // Path parameters arrive as sent: `web%2D1` is the host `web-1`.
        guard let host = try context.parameters.require("host").removingPercentEncoding else {
            throw HTTPError(.badRequest, message: "host: invalid percent-encoding")
        }
        guard host.utf8.count <= 253 else {
            throw HTTPError(.badRequest, message: "host: longer than 253 bytes")
        }
        let r = try range(request, defaultSpan: 86_400_000_000)
        let points = try intParam(request, "points", default: 200, range: 1...5000)
        return try await store {
            try await $0.snapshots(host: host, since: r.since, until: r.until, points: points)
        }
    }

    func summary(_ request: Request) async throws -> SummaryReport {
        _ = try authorize(request, .read)
        let r = try range(request, defaultSpan: 7 * 86_400_000_000)
        return try await store { try await $0.summary(since: r.since, until: r.until) }
    }

    func top(_ request: Request) async throws -> TopResponse {
        _ = try authorize(request, .read)
        let host = try param(request, "host", maxLength: 253)
        let limit = try intParam(request, "limit", default: 20, range: 1...1000)
        return try await store { try await $0.top(host: host, limit: limit) }
    }
}

/// Counts responses by status, errors included.
struct ResponseMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: CollectorMetrics

    func handle(
        _ request: Request, context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            let response = try await next(request, context)
            metrics.response(status: response.status.code)
            return response
        } catch let error as HTTPError {
            metrics.response(status: error.status.code)
            throw error
        } catch {
            metrics.response(status: 500)
            throw error
        }
    }
}
