import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import OOMKit
import OOMServer
import OOMStore

/// A fresh directory under the system temp dir, removed by `cleanup()`.
struct TempDir {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "oomwatch-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

enum Fixture {
    static let agentToken = "agent-token-0123456789abcdef"
    static let readToken = "read-token-0123456789abcdef"
    static let adminToken = "admin-token-0123456789abcdef"

    static var tokensText: String {
        """
        # test tokens
        agent \(agentToken) agent1
        read sha256:\(SHA256.hex(of: Array(readToken.utf8))) reader
        admin \(adminToken)
        """
    }

    static var logger: Logger {
        var l = Logger(label: "test")
        l.logLevel = .warning
        return l
    }

    /// A collector over a real SQLite file in `dir`.
    static func collector(
        in dir: TempDir, configure: (inout CollectorConfiguration) -> Void = { _ in }
    ) throws -> Collector {
        let tokensPath = dir.path + "/tokens"
        if !FileManager.default.fileExists(atPath: tokensPath) {
            try tokensText.write(toFile: tokensPath, atomically: true, encoding: .utf8)
        }
        var c = CollectorConfiguration()
        c.host = "127.0.0.1"
        c.port = 0
        c.databasePath = dir.path + "/db/oomwatch.sqlite"
        c.tokensFile = tokensPath
        c.synchronousFull = false
        configure(&c)
        return try Collector.open(configuration: c, logger: logger)
    }

    static func event(
        _ id: String, host: String = "web-1", comm: String = "java", pid: Int = 100,
        time: String? = "2026-11-20T10:00:00Z", rss: Int64 = 1000, unit: String? = nil,
        container: String? = nil, scope: OOMEvent.Scope? = .global,
        source: OOMEvent.Source = .kernel
    ) -> OOMEvent {
        var victim = OOMEvent.Victim(pid: pid, comm: comm)
        victim.anonRssKB = rss
        victim.unit = unit
        victim.containerID = container
        var e = OOMEvent(id: id, source: source, victim: victim)
        e.host = host
        e.time = time
        e.scope = scope
        return e
    }

    static func snapshot(
        host: String = "web-1", time: String, total: Int64 = 1_000_000, available: Int64 = 500_000,
        fullAvg60: Double? = nil, processes: [ProcessSample] = []
    ) -> MemorySnapshot {
        var s = MemorySnapshot(
            host: host, time: time, memory: ["total_kb": total, "available_kb": available],
            vmstat: ["oom_kill": 0])
        if let fullAvg60 {
            s.pressure = Pressure(
                someAvg10: 1, someAvg60: 1, someAvg300: 1, someTotalUs: 1, fullAvg10: fullAvg60,
                fullAvg60: fullAvg60, fullAvg300: 0, fullTotalUs: 1)
        }
        s.processes = processes
        return s
    }

    static func batch(
        host: String = "web-1", events: [OOMEvent] = [], snapshots: [MemorySnapshot] = []
    ) -> IngestBatch {
        var agent = AgentInfo(version: "test")
        agent.intervalS = 30
        return IngestBatch(
            host: host, bootID: "boot-1", agent: agent, snapshots: snapshots, events: events)
    }

    static func json(_ value: some Encodable) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONEncoder().encode(value))
    }

    static func headers(_ token: String?, gzip: Bool = false) -> HTTPFields {
        var h: HTTPFields = [.contentType: "application/json"]
        if let token { h[.authorization] = "Bearer \(token)" }
        if gzip { h[.contentEncoding] = "gzip" }
        return h
    }

    static func decode<T: Decodable>(_ type: T.Type, _ buffer: ByteBuffer) throws -> T {
        try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
    }

    /// The `error.message` of an error response.
    static func message(_ buffer: ByteBuffer) -> String {
        (try? decode(APIErrorBody.self, buffer))?.error.message ?? "<no error body>"
    }
}

/// Microseconds since the epoch of an RFC 3339 literal.
func t(_ text: String) -> Int64 { RFC3339.parse(text)! }

extension Collector {
    /// The SQLite store every fixture collector opens (tests reach into its tables).
    var database: OOMDatabase {
        guard let db = store as? OOMDatabase else { fatalError("the test collector is not on SQLite") }
        return db
    }
}
