import Foundation
import Hummingbird
import HummingbirdTesting
import OOMKit
import OOMPostgres
import OOMServer
import OOMStore
import Testing

/// The collector application on a PostgreSQL store, over real HTTP: the store runs as a
/// service of the application, ingest answers after COMMIT, and queries and reports
/// (advice included) read it back.
@Suite("Collector on PostgreSQL", .enabled(if: Engine.postgres.isAvailable))
struct PostgresCollectorTests {
    static let agentToken = "agent-pg-token-0123456789abcdef"
    static let readToken = "read-pg-token-0123456789abcdef"

    @Test func ingestAndQueriesOverHTTP() async throws {
        try await withScratchDatabase { name in
            let dir = NSTemporaryDirectory() + "oomwatch-pg-collector-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try "agent \(Self.agentToken) a1\nread \(Self.readToken) r1\n".write(
                toFile: dir + "/tokens", atomically: true, encoding: .utf8)
            var c = CollectorConfiguration()
            c.host = "127.0.0.1"
            c.port = 0
            c.postgres = postgresConfiguration(database: name)
            c.tokensFile = dir + "/tokens"
            let collector = try Collector.open(configuration: c, logger: testLogger)
            #expect(collector.store is PostgresStore)
            let app = try buildApplication(collector: collector)
            try await app.test(.live) { client in
                let now = RFC3339.format(epochMicroseconds: Int64(Date().timeIntervalSince1970 * 1e6))
                let batch = Seed.batch(
                    host: "pg-web", events: [Seed.event("pg-1", host: "pg-web", time: t(now) - 1000)],
                    snapshots: [Seed.snapshot(host: "pg-web", time: t(now))])
                let body = ByteBuffer(bytes: try JSONEncoder().encode(batch))
                let agent: HTTPFields = [.authorization: "Bearer \(Self.agentToken)", .contentType: "application/json"]
                let read: HTTPFields = [.authorization: "Bearer \(Self.readToken)"]
                for expected in [(1, 0), (0, 1)] {
                    try await client.execute(uri: "/api/v1/ingest", method: .post, headers: agent, body: body) { r in
                        #expect(r.status == .ok)
                        let result = try JSONDecoder().decode(IngestResult.self, from: Data(r.body.readableBytesView))
                        #expect(result.eventsStored == expected.0)
                        #expect(result.eventsDuplicate == expected.1)
                    }
                }
                try await client.execute(uri: "/api/v1/events?host=pg-web", method: .get, headers: read) { r in
                    #expect(r.status == .ok)
                    let page = try JSONDecoder().decode(EventsPage.self, from: Data(r.body.readableBytesView))
                    #expect(page.events.map(\.id) == ["pg-1"])
                }
                try await client.execute(uri: "/api/v1/hosts", method: .get, headers: read) { r in
                    #expect(r.status == .ok)
                    #expect(String(buffer: r.body).contains("\"pg-web\""))
                }
                try await client.execute(uri: "/api/v1/reports/summary?since=1h", method: .get, headers: read) { r in
                    #expect(r.status == .ok)
                    let s = try JSONDecoder().decode(SummaryReport.self, from: Data(r.body.readableBytesView))
                    #expect(s.totals.kills == 1)
                }
                try await client.execute(uri: "/api/v1/reports/advice", method: .get, headers: read) { r in
                    #expect(r.status == .ok)
                    let report = try JSONDecoder().decode(AdviceReport.self, from: Data(r.body.readableBytesView))
                    #expect(report.total == report.findings.count)
                }
                try await client.execute(uri: "/readyz", method: .get) { r in #expect(r.status == .ok) }
                try await client.execute(uri: "/metrics", method: .get, headers: read) { r in
                    #expect(r.status == .ok)
                    #expect(String(buffer: r.body).contains("oomwatch_kills_total"))
                }
            }
        }
    }
}
