import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import OOMAlerts
import OOMKit
import OOMServer
import OOMStore
import Synchronization

/// A scratch directory, removed by `cleanup()`.
struct TempDir {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "oomwatch-alerts-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// One request a `LocalReceiver` got.
struct ReceivedRequest: Sendable {
    var path: String
    var headers: [String: String]
    var body: Data

    func json() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: body) as? [String: Any] ?? [:]
    }
}

/// A real HTTP receiver on 127.0.0.1 (Hummingbird, live): records every POST and answers
/// 503 to the first `failFirst` of them, 200 after.
final class LocalReceiver: Sendable {
    let received = Mutex<[ReceivedRequest]>([])
    let failures = Mutex(0)

    init(failFirst: Int = 0) {
        failures.withLock { $0 = failFirst }
    }

    var requests: [ReceivedRequest] { received.withLock { $0 } }

    /// Runs the receiver for the duration of `body`, passing its base URL.
    func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("**") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let fail = self.failures.withLock { n in
                defer { n = max(0, n - 1) }
                return n > 0
            }
            self.received.withLock {
                $0.append(
                    ReceivedRequest(
                        path: request.uri.path, headers: headers, body: Data(bytes.readableBytesView)))
            }
            return Response(status: fail ? .serviceUnavailable : .ok)
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: Fixture.logger)
        return try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }

    /// Waits until `count` requests arrived (or the timeout passed).
    func wait(for count: Int, timeout: Double = 10) async throws -> [ReceivedRequest] {
        let deadline = Date().addingTimeInterval(timeout)
        while requests.count < count, Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        return requests
    }
}

enum Fixture {
    static let agentToken = "agent-token-0123456789abcdef"
    static let readToken = "read-token-0123456789abcdef"
    static let adminToken = "admin-token-0123456789abcdef"

    static var logger: Logger {
        var l = Logger(label: "alerts-test")
        l.logLevel = .warning
        return l
    }

    static func event(
        _ id: String, host: String = "web-3", comm: String = "java", pid: Int = 100,
        rss: Int64 = 1_048_576, unit: String? = nil, scope: OOMEvent.Scope? = .memcg
    ) -> OOMEvent {
        var victim = OOMEvent.Victim(pid: pid, comm: comm)
        victim.anonRssKB = rss
        victim.unit = unit
        var e = OOMEvent(id: id, source: .kernel, victim: victim)
        e.host = host
        e.time = RFC3339.format(epochMicroseconds: nowMicroseconds())
        e.scope = scope
        return e
    }

    static func batch(host: String = "web-3", events: [OOMEvent]) -> IngestBatch {
        IngestBatch(host: host, bootID: "boot-1", agent: AgentInfo(version: "test"), snapshots: [], events: events)
    }

    /// A collector configuration over a real SQLite file and tokens file in `dir`, with
    /// the alerts of `yaml`.
    static func configuration(in dir: TempDir, alerts: AlertConfig) throws -> CollectorConfiguration {
        try dir.write(
            "tokens", "agent \(agentToken)\nread \(readToken)\nadmin \(adminToken)\n")
        var c = CollectorConfiguration()
        c.host = "127.0.0.1"
        c.port = 0
        c.databasePath = dir.path + "/oomwatch.sqlite"
        c.tokensFile = dir.path + "/tokens"
        c.synchronousFull = false
        c.outboxPlanner = alerts
        c.alertReceivers = alerts.receivers.map(\.name)
        return c
    }

    static func json(_ value: some Encodable) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONEncoder().encode(value))
    }

    static func headers(_ token: String) -> HTTPFields {
        [.contentType: "application/json", .authorization: "Bearer \(token)"]
    }
}

/// HMAC-SHA256 computed by openssl, not by our code: the independent check.
func opensslHMAC(key: String, body: Data) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    p.arguments = ["dgst", "-sha256", "-hmac", key, "-r"]
    let input = Pipe()
    let output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    try p.run()
    input.fileHandleForWriting.write(body)
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
}
