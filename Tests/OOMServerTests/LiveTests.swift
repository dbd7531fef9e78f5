import Foundation
import Hummingbird
import HummingbirdTesting
import OOMKit
import OOMServer
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("Collector on a real loopback socket")
struct LiveTests {
    @Test func ingestAndQueryOverTheWire() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let collector = try Fixture.collector(in: dir)
        let app = try buildApplication(collector: collector)
        try await app.test(.live) { client in
            let batch = Fixture.batch(events: (0..<50).map { Fixture.event("live-\($0)") })
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: Fixture.json(batch)
            ) { r in
                #expect(r.status == .ok)
                let result = try Fixture.decode(IngestResult.self, r.body)
                #expect(result.eventsStored == 50)
            }
            try await client.execute(
                uri: "/api/v1/events?limit=1000", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                let page = try Fixture.decode(EventsPage.self, r.body)
                #expect(page.events.count == 50)
            }
            try await client.execute(uri: "/api/v1/ingest", method: .post, body: Fixture.json(batch)) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(uri: "/openapi.yaml", method: .get) { r in #expect(r.status == .ok) }
        }
    }
}

/// The built `oomwatch-collector`, SIGKILLed while agents are posting, then restarted:
/// every batch it acknowledged must still be there.
@Suite("Crash safety", .serialized)
struct CrashTests {
    static var binary: URL {
        Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("oomwatch-collector")
    }

    static func start(_ dir: TempDir, port: Int) throws -> Process {
        let p = Process()
        p.executableURL = binary
        p.arguments = [
            "serve", "--listen", "127.0.0.1:\(port)", "--db", dir.path + "/db.sqlite",
            "--tokens-file", dir.path + "/tokens", "--log-level", "error",
        ]
        p.environment = ["HOME": dir.path]
        p.standardOutput = FileHandle.nullDevice
        FileManager.default.createFile(atPath: dir.path + "/collector.log", contents: nil)
        p.standardError = FileHandle(forWritingAtPath: dir.path + "/collector.log")
        try p.run()
        return p
    }

    static func request(
        _ port: Int, _ path: String, token: String? = nil, body: Data? = nil
    ) async throws -> (Int, Data) {
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        r.timeoutInterval = 5
        if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            r.httpMethod = "POST"
            r.httpBody = body
            r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: r)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// Waits up to 30 s (a debug build next to 500 other tests starts slowly) for `/healthz`;
    /// a collector that exits first fails at once, with what it wrote to stderr.
    static func waitHealthy(_ p: Process, _ port: Int, _ dir: TempDir) async throws {
        for _ in 0..<600 {
            if let (status, _) = try? await request(port, "/healthz"), status == 200 { return }
            guard p.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? String(contentsOfFile: dir.path + "/collector.log", encoding: .utf8)) ?? ""
        Issue.record("collector did not start on port \(port): \(log)")
    }

    @Test(.timeLimit(.minutes(1)))
    func sigkillMidIngestLosesNothingAcknowledged() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            Issue.record("build oomwatch-collector first: \(Self.binary.path) is missing")
            return
        }
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Fixture.tokensText.write(toFile: dir.path + "/tokens", atomically: true, encoding: .utf8)
        let port = try Loopback.freePort()
        let first = try Self.start(dir, port: port)
        try await Self.waitHealthy(first, port, dir)

        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for agent in 0..<8 {
                group.addTask {
                    var acked: [String] = []
                    for n in 0..<1000 {
                        let ids = (0..<20).map { "a\(agent)-b\(n)-e\($0)" }
                        let batch = Fixture.batch(
                            host: "host-\(agent)", events: ids.map { Fixture.event($0, host: "host-\(agent)") })
                        let body = try JSONEncoder().encode(batch)
                        guard
                            let (status, _) = try? await Self.request(
                                port, "/api/v1/ingest", token: Fixture.agentToken, body: body)
                        else { break }  // the server is gone
                        if status == 200 { acked += ids } else { break }
                    }
                    return acked
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(700))
                kill(first.processIdentifier, SIGKILL)
                return []
            }
            var all: [String] = []
            for try await ids in group { all += ids }
            return all
        }
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)
        #expect(acknowledged.count > 0)

        let second = try Self.start(dir, port: port)
        defer {
            second.terminate()
            second.waitUntilExit()
        }
        try await Self.waitHealthy(second, port, dir)
        var stored = Set<String>()
        var cursor: String?
        repeat {
            var path = "/api/v1/events?limit=1000"
            if let cursor { path += "&cursor=\(cursor)" }
            let (status, data) = try await Self.request(port, path, token: Fixture.readToken)
            #expect(status == 200)
            let page = try JSONDecoder().decode(EventsPage.self, from: data)
            stored.formUnion(page.events.map(\.id))
            cursor = page.nextCursor
        } while cursor != nil
        let missing = Set(acknowledged).subtracting(stored)
        #expect(missing.isEmpty, "\(missing.count) acknowledged events lost")
    }

    @Test(.timeLimit(.minutes(1)))
    func sigtermShutsDownGracefully() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else { return }
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Fixture.tokensText.write(toFile: dir.path + "/tokens", atomically: true, encoding: .utf8)
        let port = try Loopback.freePort()
        let p = try Self.start(dir, port: port)
        try await Self.waitHealthy(p, port, dir)
        p.terminate()
        p.waitUntilExit()
        #expect(p.terminationReason == .exit)
        #expect(p.terminationStatus == 0)
    }
}
