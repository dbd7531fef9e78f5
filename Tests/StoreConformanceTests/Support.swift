import Foundation
import Logging
import OOMKit
import OOMPostgres
import OOMStore
import PostgresNIO

/// The stores under test. SQLite always; PostgreSQL when `OOMWATCH_TEST_POSTGRES` names a
/// server (`postgres://USER@HOST:PORT/DB`), each test in a database of its own.
enum Engine: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite, postgres

    var description: String { rawValue }

    static let postgresURL = ProcessInfo.processInfo.environment["OOMWATCH_TEST_POSTGRES"]

    /// False (with a printed reason) for PostgreSQL when no server is configured.
    var isAvailable: Bool {
        guard self == .postgres, Self.postgresURL == nil else { return true }
        print(
            "StoreConformanceTests: PostgreSQL cases skipped: OOMWATCH_TEST_POSTGRES is not set "
                + "(scripts/with-postgres starts a throwaway server and sets it)")
        return false
    }
}

var testLogger: Logger {
    var l = Logger(label: "store-conformance")
    l.logLevel = .warning
    return l
}

/// The test server's settings from `OOMWATCH_TEST_POSTGRES` with another database name.
func postgresConfiguration(database: String? = nil) -> PostgresStoreConfiguration {
    let url = URLComponents(string: Engine.postgresURL ?? "postgres://postgres@127.0.0.1:55432/postgres")!
    // scripts/with-postgres keeps the password out of the URL.
    let env = ProcessInfo.processInfo.environment
    var c = PostgresStoreConfiguration(
        host: url.host ?? "127.0.0.1", port: url.port ?? 5432, user: url.user ?? "postgres",
        database: database ?? String(url.path.dropFirst()),
        password: url.password ?? env["OOMWATCH_TEST_POSTGRES_PASSWORD"] ?? env["PGPASSWORD"])
    c.sslMode = .disable
    c.poolSize = 4
    return c
}

/// Runs `body` with a client to the server's administrative database, or to `database`.
func withAdmin<T>(database: String? = nil, _ body: (PostgresClient) async throws -> T) async throws -> T {
    let c = postgresConfiguration(database: database)
    let client = PostgresClient(
        configuration: .init(
            host: c.host, port: c.port, username: c.user, password: c.password, database: c.database, tls: .disable))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        let (started, signal) = AsyncStream<Void>.makeStream()
        group.addTask {
            signal.finish()
            await client.run()
        }
        for await _ in started {}
        defer { group.cancelAll() }
        return try await body(client)
    }
}

/// A fresh, empty PostgreSQL database for one test; dropped afterwards.
func withScratchDatabase<T>(_ body: (String) async throws -> T) async throws -> T {
    let name = "oomwatch_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
    try await withAdmin { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")) }
    do {
        let result = try await body(String(name))
        try await dropScratchDatabase(String(name))
        return result
    } catch {
        _ = try? await dropScratchDatabase(String(name))
        throw error
    }
}

/// Drops a scratch database. A store's pool cancelled while it was still connecting can
/// reach the database a moment after its `run()` ended, and PostgreSQL refuses to drop a
/// database that a connection is joining (seen once in CI after
/// `runEndsWhenCancelledAtAnyMoment`), so a refused drop is tried again for a few seconds.
private func dropScratchDatabase(_ name: String) async throws {
    var attempt = 0
    while true {
        do {
            try await withAdmin { try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)")) }
            return
        } catch {
            attempt += 1
            guard attempt < 20 else { throw error }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}

/// Runs a PostgreSQL store on database `name` (its pool and lease running) for `body`.
func withPostgresStore<T>(
    database name: String, planner: (any OutboxPlanner)? = nil, _ body: (PostgresStore) async throws -> T
) async throws -> T {
    let store = try PostgresStore(
        configuration: postgresConfiguration(database: name), outboxPlanner: planner, leaseCheckSeconds: 0.2,
        logger: testLogger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await store.run() }
        defer { group.cancelAll() }
        return try await body(store)
    }
}

/// Runs `body` on an empty store of `engine`.
func withStore<T>(
    _ engine: Engine, planner: (any OutboxPlanner)? = nil, _ body: (any CollectorStore) async throws -> T
) async throws -> T {
    switch engine {
    case .sqlite:
        let dir = NSTemporaryDirectory() + "oomwatch-conformance-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = StoreConfiguration(path: dir + "/oomwatch.sqlite")
        c.synchronousFull = false
        c.outboxPlanner = planner
        return try await body(try OOMDatabase(configuration: c, logger: testLogger))
    case .postgres:
        return try await withScratchDatabase { name in
            try await withPostgresStore(database: name, planner: planner) { try await body($0) }
        }
    }
}

/// Microseconds since the epoch of an RFC 3339 literal.
func t(_ text: String) -> Int64 { RFC3339.parse(text)! }

enum Seed {
    static func event(
        _ id: String, host: String = "web-1", comm: String = "java", pid: Int = 100, time: Int64,
        rss: Int64 = 1000, unit: String? = nil, container: String? = nil, scope: OOMEvent.Scope? = .global,
        source: OOMEvent.Source = .kernel
    ) -> OOMEvent {
        var victim = OOMEvent.Victim(pid: pid, comm: comm)
        victim.anonRssKB = rss
        victim.unit = unit
        victim.containerID = container
        var e = OOMEvent(id: id, source: source, victim: victim)
        e.host = host
        e.time = RFC3339.format(epochMicroseconds: time)
        e.scope = scope
        return e
    }

    static func snapshot(
        host: String = "web-1", time: Int64, total: Int64 = 1_000_000, available: Int64 = 500_000,
        fullAvg60: Double? = nil, processes: [ProcessSample] = []
    ) -> MemorySnapshot {
        var s = MemorySnapshot(
            host: host, time: RFC3339.format(epochMicroseconds: time),
            memory: ["total_kb": total, "available_kb": available, "free_kb": available / 2], vmstat: ["oom_kill": 0])
        if let fullAvg60 {
            s.pressure = Pressure(
                someAvg10: 1, someAvg60: 1, someAvg300: 1, someTotalUs: 1, fullAvg10: fullAvg60,
                fullAvg60: fullAvg60, fullAvg300: 0, fullTotalUs: 1)
        }
        s.processes = processes
        return s
    }

    static func batch(host: String = "web-1", events: [OOMEvent] = [], snapshots: [MemorySnapshot] = []) -> IngestBatch
    {
        var agent = AgentInfo(version: "test")
        agent.intervalS = 30
        return IngestBatch(host: host, bootID: "boot-1", agent: agent, snapshots: snapshots, events: events)
    }

    /// A reproducible fleet: `hosts` hosts, `events` kills spread over `days` days before
    /// `end`, every report dimension varied; returned per host, in ingest order.
    static func fleet(hosts: Int = 6, events: Int = 400, days: Int = 9, end: Int64, seed: UInt64 = 42)
        -> [IngestBatch]
    {
        var rng = SplitMix(seed: seed)
        let comms = ["java", "postgres", "python3", "node", "chrome", "redis-server", "nginx"]
        let units = ["app.service", "db.service", nil, nil]
        let containers = ["c0ffee", "beef01", nil, nil, nil]
        let sources: [OOMEvent.Source] = [.kernel, .kernel, .kernel, .systemdOomd, .earlyoom]
        let scopes: [OOMEvent.Scope?] = [.global, .memcg, .memcg, nil]
        var perHost: [String: [OOMEvent]] = [:]
        let span = UInt64(days) * 86_400_000_000
        for i in 0..<events {
            let host = "host-\(rng.next() % UInt64(hosts))"
            let source = sources[Int(rng.next() % UInt64(sources.count))]
            let e = event(
                "ev-\(seed)-\(i)", host: host, comm: comms[Int(rng.next() % UInt64(comms.count))],
                pid: Int(rng.next() % 30000) + 2, time: end - Int64(rng.next() % span) - 1,
                rss: Int64(rng.next() % 4_000_000), unit: units[Int(rng.next() % UInt64(units.count))],
                container: containers[Int(rng.next() % UInt64(containers.count))],
                scope: source == .kernel ? scopes[Int(rng.next() % UInt64(scopes.count))] : nil, source: source)
            perHost[host, default: []].append(e)
        }
        return perHost.keys.sorted().map { host in
            let snaps = (0..<4).map { k in
                snapshot(
                    host: host, time: end - Int64(k) * 600_000_000, total: 8_000_000,
                    available: host == "host-0" ? 300_000 : 4_000_000 - Int64(k) * 1000,
                    fullAvg60: host == "host-1" ? 25 : 0.5,
                    processes: [ProcessSample(pid: 10 + k, comm: "proc-\(host)-\(k)", rssKB: Int64(1000 * (k + 1)))])
            }
            return batch(host: host, events: perHost[host] ?? [], snapshots: snaps)
        }
    }
}

/// A small deterministic generator, so every store gets the same fleet.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
