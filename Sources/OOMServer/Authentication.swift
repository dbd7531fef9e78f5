public import Hummingbird
public import OOMKit

/// The request context of every collector route: Hummingbird's core context plus the
/// caller's token, set by ``TokenAuthMiddleware`` on the routes that need one.
public struct CollectorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The accepted token (its role, name and host binding); `nil` on the routes open to
    /// everyone (health, the dashboard, the OpenAPI document).
    public var token: TokenEntry?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.token = nil
    }

    /// Answers in the wire's own codec, as the stored JSON is written.
    public var responseEncoder: JSONWriterResponseEncoder { JSONWriterResponseEncoder() }

    /// The token the authentication middleware accepted. A route reached without one was
    /// registered outside its group: a programming error, answered 401 rather than served.
    func requireToken() throws -> TokenEntry {
        guard let token else {
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "missing bearer token")
        }
        return token
    }
}

/// What a group of routes needs of the caller's token.
public enum Access: Sendable {
    /// An agent or admin token (`POST /api/v1/ingest`, the agent's preflight).
    case ingest
    /// A read or admin token (queries, `/metrics`).
    case query
    /// An admin token (sending a test alert).
    case admin

    func allows(_ role: TokenRole) -> Bool {
        switch self {
        case .ingest: role.canIngest
        case .query: role.canQuery
        case .admin: role == .admin
        }
    }

    func refusal(_ role: TokenRole) -> String {
        switch self {
        case .ingest: "this \(role.rawValue) token may not ingest"
        case .query: "this \(role.rawValue) token may not query"
        case .admin: "this \(role.rawValue) token may not do this: it needs an admin token"
        }
    }
}

/// Bearer-token authentication for a route group: 401 without a known token, 403 when
/// its role lacks `access`, 429 past the token's rate limit. Every refusal but the rate
/// limit counts in `oomwatch_auth_failures_total`. The accepted token goes into the
/// context for the handlers (an agent token's host binding is checked by ingest, which
/// alone knows the batch's host).
struct TokenAuthMiddleware: RouterMiddleware {
    typealias Context = CollectorRequestContext

    let access: Access
    let tokens: TokenStore
    let rateLimiter: RateLimiter
    let metrics: CollectorMetrics

    init(_ access: Access, collector: Collector) {
        self.access = access
        self.tokens = collector.tokens
        self.rateLimiter = collector.rateLimiter
        self.metrics = collector.metrics
    }

    func handle(
        _ request: Request, context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.token = try authenticate(request)
        return try await next(request, context)
    }

    func authenticate(_ request: Request) throws -> TokenEntry {
        guard let header = request.headers[.authorization],
            header.utf8.count <= 512,
            header.lowercased().hasPrefix("bearer ")
        else {
            metrics.authFailed()
            throw HTTPError(
                .unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "missing bearer token")
        }
        let token = header.dropFirst(7).drop(while: { $0 == " " })
        guard let entry = tokens.authenticate(token) else {
            metrics.authFailed()
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "invalid token")
        }
        guard access.allows(entry.role) else {
            metrics.authFailed()
            throw HTTPError(.forbidden, message: access.refusal(entry.role))
        }
        if let wait = rateLimiter.take(entry.hash) {
            metrics.rateLimited()
            throw HTTPError(
                .tooManyRequests, headers: [.retryAfter: String(wait)],
                message: "too many requests for this token")
        }
        return entry
    }
}

extension RouterMethods<CollectorRequestContext> {
    /// A group of routes that all need `access`: the one place a route declares its role.
    func authenticated(_ access: Access, _ collector: Collector) -> RouterGroup<CollectorRequestContext> {
        group().add(middleware: TokenAuthMiddleware(access, collector: collector))
    }
}

/// The collector's answers encoded with `JSONWriter` (keys in encoding order, `/` not
/// escaped), not Foundation's `JSONEncoder`: one codec for the whole wire, and the faster
/// one (`bench/json-codec.sh`).
public struct JSONWriterResponseEncoder: ResponseEncoder {
    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response
    {
        // The ingest answer, the one every post gets, is written directly.
        let bytes = try (value as? IngestResult)?.json() ?? JSONWriter().encode(value)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(bytes.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
