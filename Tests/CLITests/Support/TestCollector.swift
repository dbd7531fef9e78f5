import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import OOMKit
import OOMServer
import OOMStore

/// A real collector on a loopback port with a temporary database and tokens file, for
/// the CLI to talk to.
enum TestCollector {
    static let agentToken = "agent-secret-0123456789"
    static let readToken = "read-secret-0123456789"
    static let adminToken = "admin-secret-0123456789"

    struct Context: Sendable {
        /// `http://127.0.0.1:PORT`.
        var server: String
        var cli: CLIRunner
        /// Posts a batch with the agent token; returns the HTTP status.
        var ingest: @Sendable (IngestBatch) async throws -> Int

        /// Runs `oomwatch` against this collector with the read token.
        func run(
            _ arguments: [String], environment: [String: String] = [:], interruptAfter: Double? = nil
        ) async throws -> CLIRunner.Result {
            let env = ["OOMWATCH_SERVER": server, "OOMWATCH_TOKEN": TestCollector.readToken]
            return try await cli.run(
                arguments, environment: env.merging(environment) { $1 }, interruptAfter: interruptAfter)
        }
    }

    /// Starts a collector, seeds it with `batches`, runs `body`, stops the collector.
    static func with<T: Sendable>(
        seed batches: [IngestBatch], _ body: @Sendable (Context) async throws -> T
    ) async throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oomwatch-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokens = "agent \(agentToken) test-agent\nread \(readToken) reader\nadmin \(adminToken) admin\n"
        try tokens.write(to: dir.appendingPathComponent("tokens"), atomically: true, encoding: .utf8)
        let home = dir.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)

        var config = CollectorConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        config.databasePath = dir.appendingPathComponent("oomwatch.sqlite").path
        config.tokensFile = dir.appendingPathComponent("tokens").path
        // The seeded data has fixed dates; keep it whatever today's date is.
        config.retention.snapshotDays = 1_000_000
        config.retention.eventDays = nil
        var logger = Logger(label: "cli-tests.collector")
        logger.logLevel = .error
        let app = try await buildApplication(configuration: config, logger: logger)
        return try await app.test(.live) { client in
            guard let port = client.port else { throw SeedError(status: 0, host: "no port") }
            let ingest: @Sendable (IngestBatch) async throws -> Int = { batch in
                let encoder = JSONEncoder()
                let body = try encoder.encode(batch)
                let response = try await client.execute(
                    uri: "/api/v1/ingest", method: .post,
                    headers: [.authorization: "Bearer \(agentToken)", .contentType: "application/json"],
                    body: ByteBuffer(bytes: body))
                return Int(response.status.code)
            }
            for batch in batches {
                let status = try await ingest(batch)
                guard status == 200 else { throw SeedError(status: status, host: batch.host) }
            }
            let context = Context(server: "http://127.0.0.1:\(port)", cli: CLIRunner(home: home.path), ingest: ingest)
            return try await body(context)
        }
    }

    struct SeedError: Error, CustomStringConvertible {
        var status: Int
        var host: String
        var description: String { "seeding \(host) answered \(status)" }
    }
}
