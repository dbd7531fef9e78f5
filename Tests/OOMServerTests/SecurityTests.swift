import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import OOMKit
import OOMServer
import TestSupport
import Testing

/// Issue 19, points 3, 6 and 8 at the collector: each test performs the attack.
@Suite("Collector security")
struct SecurityTests {
    static let boundToken = "bound-agent-token-0123456789"

    /// A collector whose tokens file also holds an agent token bound to `web-*`.
    func withBoundRouter(
        logger: Logger? = nil, _ body: @Sendable (any TestClientProtocol, Collector) async throws -> Void
    ) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try (Fixture.tokensText + "\nagent \(Self.boundToken) web-fleet host=web-*\n")
            .write(toFile: dir.path + "/tokens", atomically: true, encoding: .utf8)
        let opened = try Fixture.collector(in: dir)
        let collector =
            logger.map {
                Collector(
                    configuration: opened.configuration, database: opened.database, tokens: opened.tokens,
                    logger: $0)
            } ?? opened
        let app = Application(router: buildRouter(collector))
        try await app.test(.router) { client in try await body(client, collector) }
    }

    static func now(plus seconds: Int64 = 0) -> String {
        RFC3339.format(epochMicroseconds: Int64(Date().timeIntervalSince1970) * 1_000_000 + seconds * 1_000_000)
    }

    func ingest(_ client: any TestClientProtocol, _ batch: IngestBatch, token: String = Fixture.agentToken)
        async throws -> (HTTPResponse.Status, String)
    {
        try await client.execute(
            uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(token), body: Fixture.json(batch)
        ) { r in (r.status, Fixture.message(r.body)) }
    }

    func expectIngest(
        _ client: any TestClientProtocol, _ batch: IngestBatch, token: String = Fixture.agentToken,
        answers expected: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let (status, message) = try await ingest(client, batch, token: token)
        #expect(status == expected, "\(message)", sourceLocation: sourceLocation)
    }

    func hosts(_ client: any TestClientProtocol) async throws -> [HostStatus] {
        try await client.execute(uri: "/api/v1/hosts", method: .get, headers: Fixture.headers(Fixture.readToken)) {
            try Fixture.decode(HostsResponse.self, $0.body).hosts
        }
    }

    // MARK: point 3

    @Test func tokensFileBindsAgentTokensToHosts() throws {
        let entries = try TokenStore.parse(
            "agent \(Self.boundToken) web-fleet host=web-*\nagent \(Self.boundToken)x host=db-?")
        #expect(entries.map(\.hostGlob) == ["web-*", "db-?"])
        #expect(entries.map(\.name) == ["web-fleet", nil])
        #expect(entries[0].mayWrite(host: "web-12"))
        #expect(!entries[0].mayWrite(host: "db-1"))
        #expect(entries[1].mayWrite(host: "db-1") && !entries[1].mayWrite(host: "db-12"))
        #expect(TokenStore.fileLine(role: .agent, secret: "s", name: "n", hostGlob: "web-*").hasSuffix(" n host=web-*"))
        for bad in [
            "read \(Self.boundToken) r host=web-*", "agent \(Self.boundToken) host=",
            "agent \(Self.boundToken) host=a/b",
        ] {
            #expect(throws: TokensFileError.self) { try TokenStore.parse(bad) }
        }
    }

    /// A token bound to web-* writes web hosts only: db-1's batch is 403 and stores nothing.
    @Test func boundTokenCannotWriteAnotherHost() async throws {
        try await withBoundRouter { client, _ in
            let forged = Fixture.batch(
                host: "db-1", events: [Fixture.event("forged", host: "db-1")],
                snapshots: [Fixture.snapshot(host: "db-1", time: Self.now())])
            let (status, message) = try await ingest(client, forged, token: Self.boundToken)
            #expect(status == .forbidden)
            #expect(message.contains("web-*"))
            let own = Fixture.batch(host: "web-7", snapshots: [Fixture.snapshot(host: "web-7", time: Self.now())])
            try await expectIngest(client, own, token: Self.boundToken, answers: .ok)
            // An unbound agent token still writes any host.
            try await expectIngest(client, forged, answers: .ok)
            let names = try await hosts(client).map(\.host)
            #expect(names == ["db-1", "web-7"])
        }
    }

    /// A time 11 minutes ahead is 400 naming the field and leaves "latest" alone.
    @Test func futureTimesAreRefusedAndNeverPinLatest() async throws {
        try await withRouter { client, _ in
            let good = Fixture.batch(snapshots: [Fixture.snapshot(time: Self.now(), total: 1000)])
            try await expectIngest(client, good, answers: .ok)
            let ahead = Fixture.batch(snapshots: [Fixture.snapshot(time: Self.now(plus: 660), total: 9999)])
            let (status, message) = try await ingest(client, ahead)
            #expect(status == .badRequest)
            #expect(message.hasPrefix("snapshots[0].time: later than"))
            let event = Fixture.batch(events: [Fixture.event("future", time: Self.now(plus: 86_400 * 365))])
            let (eventStatus, eventMessage) = try await ingest(client, event)
            #expect(eventStatus == .badRequest)
            #expect(eventMessage.hasPrefix("events[0].time: later than"))
            let latestTotal = try await hosts(client).first?.memory?["total_kb"]
            #expect(latestTotal == 1000)
        }
    }

    @Test func skewIsConfigurable() async throws {
        try await withRouter(configure: { $0.limits.maxFutureSkewSeconds = 30 }) { client, _ in
            let ahead = Fixture.batch(snapshots: [Fixture.snapshot(time: Self.now(plus: 120))])
            try await expectIngest(client, ahead, answers: .badRequest)
        }
    }

    /// A clock 9 minutes ahead (within the skew) then corrected: the sample received
    /// later becomes "latest", though its own time is earlier.
    @Test func latestFollowsReceiveTimeWhenClocksDisagree() async throws {
        try await withRouter { client, _ in
            let ahead = Fixture.batch(snapshots: [Fixture.snapshot(time: Self.now(plus: 540), total: 1111)])
            try await expectIngest(client, ahead, answers: .ok)
            let corrected = Fixture.batch(snapshots: [Fixture.snapshot(time: Self.now(), total: 2222)])
            try await expectIngest(client, corrected, answers: .ok)
            let latestTotal = try await hosts(client).first?.memory?["total_kb"]
            #expect(latestTotal == 2222)
        }
    }

    // MARK: point 8

    @Test func hostPathParameterIsPercentDecoded() async throws {
        try await withRouter { client, _ in
            let batch = Fixture.batch(snapshots: [Fixture.snapshot(time: Self.now())])
            try await expectIngest(client, batch, answers: .ok)
            try await client.execute(
                uri: "/api/v1/hosts/web%2D1/snapshots?since=1h", method: .get,
                headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .ok)
                let s = try Fixture.decode(SnapshotsResponse.self, r.body)
                #expect(s.host == "web-1")
                #expect(s.points.count == 1)
            }
            try await client.execute(
                uri: "/api/v1/hosts/web%ZZ/snapshots", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in #expect(r.status == .badRequest) }
        }
    }

    /// Every test docs/security.md names (`Suite` or `Suite/test`, the form
    /// `swift test --filter` takes) is a suite declared in Tests/ and, when a test is
    /// named, a test function of that suite: a renamed test must not leave the threat
    /// model pointing at nothing.
    @Test func threatModelNamesRealTests() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: repo.appendingPathComponent("docs/security.md"), encoding: .utf8)
        let tests = repo.appendingPathComponent("Tests")
        let files = try FileManager.default.subpathsOfDirectory(atPath: tests.path).filter { $0.hasSuffix(".swift") }
        let sources = try files.map { try String(contentsOf: tests.appendingPathComponent($0), encoding: .utf8) }
        let named = doc.matches(of: #/`((?:[A-Z][A-Za-z]*Tests|Faults)(?:/[a-z][A-Za-z0-9]*)?)`/#).map { String($0.1) }
        #expect(named.count >= 20)
        for name in Set(named) {
            let parts = name.split(separator: "/").map(String.init)
            let declaration = try Regex("(struct|class|enum|extension) \(parts[0])\\b")
            let declaring = sources.filter { $0.contains(declaration) }
            #expect(!declaring.isEmpty, "docs/security.md names \(name): no suite \(parts[0]) in Tests/")
            if parts.count == 2 {
                #expect(
                    declaring.contains { $0.contains("func \(parts[1])(") },
                    "docs/security.md names \(name): \(parts[0]) has no test \(parts[1])")
            }
        }
    }

    /// Every integer query parameter's `maximum` in docs/openapi.yaml is the server's:
    /// the maximum is accepted, one more is 400.
    @Test func openAPILimitsMatchTheServer() async throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: repo.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        var found: [(path: String, name: String, maximum: Int)] = []
        var path = ""
        for line in source.split(separator: "\n") {
            if line.hasPrefix("  /") && line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()) }
            guard line.contains("{in: query, name: "), line.contains("type: integer"),
                let name = line.firstRange(of: "name: ").map({ line[$0.upperBound...].prefix(while: { $0 != "," }) }),
                let max = line.firstRange(of: "maximum: ").map({ line[$0.upperBound...].prefix(while: \.isNumber) }),
                let maximum = Int(max)
            else { continue }
            found.append((path.replacingOccurrences(of: "{host}", with: "web-1"), String(name), maximum))
        }
        let checks = found
        #expect(checks.contains { $0.name == "points" })
        // docs/api.md says the same (it once said points max 2000).
        let apiDoc = try String(contentsOf: repo.appendingPathComponent("docs/api.md"), encoding: .utf8)
        var documented = 0
        for match in apiDoc.matches(of: /`?(\w+)`? default \d+, max (\d+)/) {
            documented += 1
            let (name, max) = (String(match.1), Int(match.2))
            #expect(checks.contains { $0.name == name && $0.maximum == max }, "docs/api.md: \(name) max \(max ?? 0)")
        }
        #expect(documented >= 2)
        try await withRouter { client, _ in
            for c in checks {
                for (value, ok) in [(c.maximum, true), (c.maximum + 1, false)] {
                    try await client.execute(
                        uri: "\(c.path)?\(c.name)=\(value)", method: .get, headers: Fixture.headers(Fixture.adminToken)
                    ) { r in
                        #expect((r.status != .badRequest) == ok, "\(c.path) \(c.name)=\(value): \(r.status)")
                    }
                }
            }
        }
    }

    // MARK: point 7

    /// Outside systemd (umask 022 here) the data directory is 0700 and the database and
    /// its WAL 0600: they hold every host's command lines.
    @Test func databaseFilesArePrivate() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let old = umask(0o022)
        defer { umask(old) }
        let collector = try Fixture.collector(in: dir) { $0.databasePath = dir.path + "/data/sub/oomwatch.sqlite" }
        _ = try await collector.database.ingest(Fixture.batch(snapshots: [Fixture.snapshot(time: Self.now())]))
        func mode(_ path: String) -> Int? {
            (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int).flatMap { $0 }
        }
        #expect(mode(dir.path + "/data") == 0o700)
        #expect(mode(dir.path + "/data/sub") == 0o700)
        #expect(mode(dir.path + "/data/sub/oomwatch.sqlite") == 0o600)
        #expect(mode(dir.path + "/data/sub/oomwatch.sqlite-wal") == 0o600)
    }

    // MARK: point 6

    /// A host name carrying a terminal escape reaches the collector's log escaped.
    @Test func hostNamesAreEscapedInLogLines() async throws {
        let records = LogLines()
        let logger = Logger(label: "test", factory: { _ in LineLogHandler(lines: records) })
        try await withBoundRouter(logger: logger) { client, _ in
            let host = "web-\u{1B}]52;c;cm0gLXJmIH4=\u{07}\u{202E}1"
            let batch = Fixture.batch(host: host, events: [Fixture.event("esc", host: host)])
            try await expectIngest(client, batch, answers: .ok)
            let other = "db-\u{1B}[2J"
            let forged = Fixture.batch(host: other, events: [Fixture.event("esc2", host: other)])
            try await expectIngest(client, forged, token: Self.boundToken, answers: .forbidden)
        }
        let lines = records.all
        #expect(lines.count >= 2)
        for line in lines {
            #expect(!line.unicodeScalars.contains { LogText.isControl($0) || LogText.isBidiControl($0) }, "\(line)")
        }
        #expect(lines.contains { $0.contains(#"web-\x1B]52;c;cm0gLXJmIH4=\x07\u{202E}1"#) })
        #expect(lines.contains { $0.contains(#"db-\x1B[2J"#) })
    }

    /// Every route the router has, found by walking it (so a route added outside its
    /// token group fails here): only health, the OpenAPI document and the dashboard answer
    /// without a token; every other route is 401 without one and 403 to a token of the
    /// wrong role, each refusal counted in `oomwatch_auth_failures_total`.
    @Test func everyRouteButTheOpenOnesNeedsTheRightToken() async throws {
        let open: Set<String> = ["/healthz", "/readyz", "/openapi.yaml", "/", "/dashboard"]
        try await withRouter { client, collector in
            var refusals = 0
            for route in buildRouter(collector).routes {
                let path =
                    "/"
                    + route.path.description.split(separator: "/").map {
                        $0.hasPrefix(":") || $0.hasPrefix("{") ? "x" : String($0)
                    }.joined(separator: "/")
                if open.contains(path) || path.hasSuffix(".js") || path.hasSuffix(".css") || path.hasSuffix(".html") {
                    continue
                }
                let method = HTTPRequest.Method(rawValue: route.method.rawValue) ?? .get
                try await client.execute(uri: path, method: method) { r in
                    #expect(r.status == .unauthorized, "\(method) \(path) answered \(r.status) without a token")
                    #expect(r.headers[.wwwAuthenticate] == "Bearer", "\(method) \(path)")
                }
                // The wrong role: ingest routes refuse a read token, every other route an
                // agent token.
                let ingest = path.hasPrefix("/api/v1/ingest") || path.hasPrefix("/api/v1/agent/")
                let wrong = ingest ? Fixture.readToken : Fixture.agentToken
                try await client.execute(uri: path, method: method, headers: Fixture.headers(wrong)) { r in
                    #expect(r.status == .forbidden, "\(method) \(path) answered \(r.status) to the wrong role")
                }
                refusals += 2
            }
            #expect(refusals >= 20)
            try await client.execute(uri: "/metrics", method: .get, headers: Fixture.headers(Fixture.readToken)) { r in
                #expect(String(buffer: r.body).contains("oomwatch_auth_failures_total \(refusals)\n"))
            }
        }
    }
}
