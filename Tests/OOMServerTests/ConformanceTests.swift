import Foundation
import Hummingbird
import HummingbirdTesting
import OOMKit
import OOMServer
import Testing

/// The JSONTestSuite files (Fixtures/json-test-suite), each posted as an ingest body.
enum JSONSuite {
    static var directory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/json-test-suite")
    }

    static func files(prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
    }
}

@Suite("Hostile and odd bodies")
struct ConformanceTests {
    @Test func suiteIsPresent() {
        #expect(JSONSuite.files(prefix: "n_").count > 150)
        #expect(JSONSuite.files(prefix: "y_").count > 80)
    }

    /// Every invalid JSON document is a 400 with an error body, never a 5xx.
    @Test func invalidJSONIsRejected() async throws {
        try await withRouter { client, _ in
            for name in JSONSuite.files(prefix: "n_") {
                let bytes = try Data(contentsOf: JSONSuite.directory.appendingPathComponent(name))
                try await client.execute(
                    uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                    body: ByteBuffer(bytes: bytes)
                ) { r in
                    #expect(r.status == .badRequest, "\(name): \(r.status)")
                    #expect(Fixture.message(r.body) != "<no error body>", "\(name)")
                }
            }
        }
    }

    /// Valid (and implementation-defined) JSON that is not an ingest batch: 400, never 5xx.
    @Test(arguments: ["y_", "i_"])
    func validJSONNeverFails(prefix: String) async throws {
        try await withRouter { client, _ in
            for name in JSONSuite.files(prefix: prefix) {
                let bytes = try Data(contentsOf: JSONSuite.directory.appendingPathComponent(name))
                try await client.execute(
                    uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                    body: ByteBuffer(bytes: bytes)
                ) { r in
                    #expect(r.status == .badRequest || r.status == .ok, "\(name): \(r.status)")
                }
            }
        }
    }

    /// Every route the router answers is in docs/openapi.yaml, and the served copy is
    /// exactly that file.
    @Test func openAPIDocumentsEveryRoute() async throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: repo.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        try await withRouter { client, collector in
            try await client.execute(uri: "/openapi.yaml", method: .get) { r in
                #expect(r.status == .ok)
                #expect(
                    String(buffer: r.body) + "\n" == source || String(buffer: r.body) == source,
                    "the served OpenAPI document differs from docs/openapi.yaml: rebuild the collector")
            }
            let router = buildRouter(collector)
            let documented = Set(
                source.split(separator: "\n").filter { $0.hasPrefix("  /") && $0.hasSuffix(":") }
                    .map { String($0.dropFirst(2).dropLast()) })
            #expect(!documented.isEmpty)
            for route in router.routes {
                let path =
                    "/"
                    + route.path.description.split(separator: "/").map {
                        $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0)
                    }.joined(separator: "/")
                let normalized = path.replacingOccurrences(of: "//", with: "/")
                // Static dashboard files are covered by the "/" and "/dashboard" entries.
                if normalized.hasSuffix(".js") || normalized.hasSuffix(".css") || normalized.hasSuffix(".html") {
                    continue
                }
                #expect(
                    documented.contains(normalized),
                    "route \(route.method) \(normalized) is missing from docs/openapi.yaml")
            }
        }
    }
}

@Suite("Tokens file")
struct TokensTests {
    @Test func parsesRolesHashesAndComments() throws {
        let entries = try TokenStore.parse(Fixture.tokensText)
        #expect(entries.map(\.role) == [.agent, .read, .admin])
        #expect(entries.map(\.name) == ["agent1", "reader", nil])
        let store = TokenStore(entries: entries)
        #expect(store.authenticate(Fixture.readToken)?.role == .read)
        #expect(store.authenticate(Fixture.agentToken)?.name == "agent1")
        #expect(store.authenticate("read-token-0123456789abcdeX") == nil)
        #expect(store.authenticate("") == nil)
    }

    @Test(arguments: [
        "superuser abcdefghijklmnopqrstuvwxyz", "agent", "agent short", "read sha256:abcd",
        "read sha256:" + String(repeating: "z", count: 64), "agent abcdefghijklmnopq name extra",
    ])
    func rejectsBadLines(line: String) {
        #expect(throws: TokensFileError.self) { try TokenStore.parse("# ok\n\(line)\n") }
    }

    @Test func createdLineAuthenticatesTheSecret() throws {
        let secret = TokenStore.generateSecret()
        #expect(secret.count > 40)
        let line = TokenStore.fileLine(role: .admin, secret: secret, name: "ops")
        #expect(!line.contains(secret))
        let store = TokenStore(entries: try TokenStore.parse(line))
        #expect(store.authenticate(secret)?.role == .admin)
    }

    @Test func reloadPicksUpChangesAndKeepsOldTokensOnError() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path + "/tokens"
        try "read \(Fixture.readToken)\n".write(toFile: path, atomically: true, encoding: .utf8)
        let store = try TokenStore(path: path)
        #expect(store.authenticate(Fixture.readToken) != nil)
        try "agent \(Fixture.agentToken)\n".write(toFile: path, atomically: true, encoding: .utf8)
        try store.reload()
        #expect(store.authenticate(Fixture.readToken) == nil)
        #expect(store.authenticate(Fixture.agentToken) != nil)
        try "garbage line here extra words\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TokensFileError.self) { try store.reload() }
        #expect(store.authenticate(Fixture.agentToken) != nil)
    }
}
