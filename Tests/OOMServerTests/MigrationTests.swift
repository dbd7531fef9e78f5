import Foundation
import OOMKit
import OOMPostgres
import OOMServer
import OOMStore
import Testing

/// `oomwatch-collector migrate`'s copy (StoreMigration) from a real SQLite file into a
/// second SQLite file and into the throwaway PostgreSQL of scripts/with-postgres: the
/// target answers the same queries with the same figures, a re-run continues from its
/// checkpoint, and rows copied twice are stored once.
@Suite struct StoreMigrationTests {
    static let hosts = ["web-1", "web-2", "db-1"]
    static let now = t("2026-11-21T00:00:00Z")

    /// A SQLite collector's history: three hosts, each with kills and snapshots (with
    /// processes) over two hours, sent in several batches as agents would.
    static func fillSource(_ db: OOMDatabase, round: Int = 0) async throws {
        for (h, host) in hosts.enumerated() {
            for b in 0..<3 {
                let minute = round * 30 + b * 10
                var events: [OOMEvent] = []
                for i in 0..<2 {
                    let comm = ["java", "node", "postgres"][(h + i) % 3]
                    let time = String(format: "2026-11-20T10:%02d:%02dZ", minute, i)
                    let scope: OOMEvent.Scope = i == 0 ? .memcg : .global
                    events.append(
                        Fixture.event(
                            "ev-\(host)-\(round)-\(b)-\(i)", host: host, comm: comm, pid: 100 + i, time: time,
                            rss: 1000 * Int64(i + 1) + Int64(h * 10 + b + round * 100),
                            unit: i == 0 ? "app.service" : nil, scope: scope))
                }
                var process = ProcessSample(pid: 4000 + h, comm: "java", rssKB: 500_000 + Int64(b))
                process.cmdline = "java -jar app.jar"
                let snapshots = (0..<2).map { s in
                    Fixture.snapshot(
                        host: host, time: String(format: "2026-11-20T%02d:%02d:%02dZ", 10 + s, minute, 0),
                        available: 400_000 - Int64(b * 1000), fullAvg60: Double(b), processes: [process])
                }
                var batch = Fixture.batch(host: host, events: events, snapshots: snapshots)
                batch.agent?.droppedEvents = Int64(round)
                _ = try await db.ingest(
                    batch, receivedAt: t("2026-11-20T12:00:00Z") + Int64(round * 60 + b) * 1_000_000)
            }
        }
    }

    /// Every event (all pages), the summary, the hosts and their largest processes: the
    /// same from both stores.
    static func expectSameHistory(_ source: any CollectorStore, _ target: any CollectorStore) async throws {
        func allEvents(_ store: any CollectorStore) async throws -> [OOMEvent] {
            var filter = EventFilter()
            filter.limit = 7
            var events: [OOMEvent] = []
            while true {
                let page = try await store.events(filter)
                events += page.events
                guard let next = page.nextCursor else { return events }
                filter.cursor = next
            }
        }
        let sourceEvents = try await allEvents(source)
        let targetEvents = try await allEvents(target)
        #expect(sourceEvents.count == 18)
        #expect(targetEvents.map(\.id) == sourceEvents.map(\.id))
        #expect(targetEvents == sourceEvents)
        let since = t("2026-11-19T00:00:00Z")
        let sourceSummary = try await source.summary(since: since, until: now, now: now)
        let targetSummary = try await target.summary(since: since, until: now, now: now)
        let writer = JSONWriter(sortedKeys: true)
        let shown = (
            String(decoding: try writer.encode(targetSummary), as: UTF8.self),
            String(decoding: try writer.encode(sourceSummary), as: UTF8.self)
        )
        #expect(targetSummary == sourceSummary, "target \(shown.0)\nsource \(shown.1)")
        let sourceHosts = try await source.hosts(now: now)
        let targetHosts = try await target.hosts(now: now)
        #expect(targetHosts.map(\.host) == sourceHosts.map(\.host))
        #expect(targetHosts.map(\.lastSeen) == sourceHosts.map(\.lastSeen))
        #expect(targetHosts == sourceHosts)
        #expect(try await target.top(host: nil, limit: 20) == source.top(host: nil, limit: 20))
    }

    @Test func copiesIntoSQLiteAndAnswersTheSame() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let source = try OOMDatabase(
            configuration: StoreConfiguration(path: dir.path + "/source.sqlite"), logger: Fixture.logger)
        try await Self.fillSource(source)
        let target = try OOMDatabase(
            configuration: StoreConfiguration(path: dir.path + "/target.sqlite"), logger: Fixture.logger)
        var migration = StoreMigration(
            source: source, target: target, targetName: "sqlite:target", checkpointPath: dir.path + "/checkpoint")
        migration.pageSize = 5
        let lines = LineLog()
        let report = try await migration.run { lines.append($0.line) }
        #expect(report.countsMatch, "\(report)")
        #expect(report.source == StoreCounts(hosts: 3, events: 18, snapshots: 18))
        #expect(report.eventsCopied == 18 && report.snapshotsCopied == 18)
        #expect(lines.all.last == "migrate: done: events 18/18 (100%), snapshots 18/18 (100%)")
        #expect(lines.all.contains("migrate: events: events 5/18 (27%), snapshots 0/18 (0%)"))
        try await Self.expectSameHistory(source, target)
    }

    @Test func continuesFromItsCheckpointAndStoresNothingTwice() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let source = try OOMDatabase(
            configuration: StoreConfiguration(path: dir.path + "/source.sqlite"), logger: Fixture.logger)
        let target = try OOMDatabase(
            configuration: StoreConfiguration(path: dir.path + "/target.sqlite"), logger: Fixture.logger)
        let checkpoint = dir.path + "/checkpoint"
        var migration = StoreMigration(
            source: source, target: target, targetName: "sqlite:target", checkpointPath: checkpoint)
        migration.pageSize = 4
        try await Self.fillSource(source, round: 0)
        let first = try await migration.run { _ in }
        #expect(first.countsMatch && first.eventsCopied == 18 && first.snapshotsCopied == 18)

        // More history arrives; the next run copies only what is past its checkpoint.
        try await Self.fillSource(source, round: 1)
        let second = try await migration.run { _ in }
        #expect(second.eventsCopied == 18 && second.snapshotsCopied == 18, "\(second)")
        #expect(second.countsMatch && second.target == StoreCounts(hosts: 3, events: 36, snapshots: 36))
        #expect(
            String(decoding: FileManager.default.contents(atPath: checkpoint) ?? Data(), as: UTF8.self)
                .contains("hosts_finished true"))

        // A crash after a commit but before its checkpoint was written: the rows are
        // copied again, and stored once.
        var rewound = MigrationCheckpoint(target: "sqlite:target")
        rewound.hostsStarted = true
        try Data(rewound.text.utf8).write(to: URL(fileURLWithPath: checkpoint))
        let third = try await migration.run { _ in }
        #expect(third.eventsCopied == 36 && third.snapshotsCopied == 36)
        #expect(third.countsMatch, "\(third)")
        #expect(try await target.summary(since: 0, until: Self.now, now: Self.now).totals.kills == 36)

        // A checkpoint written for another target is not continued.
        let other = try OOMDatabase(
            configuration: StoreConfiguration(path: dir.path + "/other.sqlite"), logger: Fixture.logger)
        let elsewhere = StoreMigration(
            source: source, target: other, targetName: "sqlite:other", checkpointPath: checkpoint)
        let fresh = try await elsewhere.run { _ in }
        #expect(fresh.eventsCopied == 36 && fresh.countsMatch)
    }

    @Test func checkpointText() {
        var c = MigrationCheckpoint(target: "postgres://oomwatch@db:5432/oomwatch?sslmode=verify-full")
        c.eventRow = 1234
        c.snapshotRow = 99
        c.hostsStarted = true
        #expect(MigrationCheckpoint.parse(c.text) == c)
        #expect(MigrationCheckpoint.parse("target x\nevent_row twelve\n") == nil)
        #expect(MigrationCheckpoint.parse("") == nil)
    }

    /// The real thing: into PostgreSQL 15 (scripts/with-postgres), in a database of its own.
    @Test func copiesIntoPostgreSQLAndAnswersTheSame() async throws {
        guard let server = TestPostgres.fromEnvironment() else {
            print("SKIP StoreMigrationTests: OOMWATCH_TEST_POSTGRES is not set (run under scripts/with-postgres)")
            return
        }
        let dir = try TempDir()
        defer { dir.cleanup() }
        let database = try server.createDatabase()
        defer { server.dropDatabase(database) }
        let source = try OOMDatabase(
            configuration: StoreConfiguration(path: dir.path + "/source.sqlite"), logger: Fixture.logger)
        try await Self.fillSource(source)
        var configuration = try server.configuration(database: database)
        configuration.poolSize = 4
        let target = try PostgresStore(configuration: configuration, logger: Fixture.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await target.run() }
            var migration = StoreMigration(
                source: source, target: target, targetName: configuration.description,
                checkpointPath: dir.path + "/checkpoint")
            migration.pageSize = 5
            let report = try await migration.run { _ in }
            #expect(report.countsMatch, "\(report)")
            #expect(report.target == StoreCounts(hosts: 3, events: 18, snapshots: 18))
            try await Self.expectSameHistory(source, target)
            // Again: nothing new to copy, nothing stored twice.
            let again = try await migration.run { _ in }
            #expect(again.eventsCopied == 0 && again.countsMatch)
            group.cancelAll()
        }
    }
}

/// Lines a progress callback printed.
final class LineLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

/// The throwaway server of scripts/with-postgres: its URL and password, and databases of
/// a test's own (the role has CREATEDB), made and dropped with psql.
struct TestPostgres {
    var url: String
    var password: String
    var bin: String

    static func fromEnvironment() -> TestPostgres? {
        let env = ProcessInfo.processInfo.environment
        guard let url = env["OOMWATCH_TEST_POSTGRES"], !url.isEmpty else { return nil }
        return TestPostgres(
            url: url, password: env["OOMWATCH_TEST_POSTGRES_PASSWORD"] ?? env["PGPASSWORD"] ?? "",
            bin: env["OOMWATCH_TEST_POSTGRES_BIN"] ?? "/usr/lib/postgresql/15/bin")
    }

    /// The server's URL with another database name.
    func url(database: String) -> String {
        let query = url.firstIndex(of: "?").map { String(url[$0...]) } ?? ""
        let base = url.firstIndex(of: "?").map { String(url[..<$0]) } ?? url
        return base[..<base.lastIndex(of: "/")!] + "/" + database + query
    }

    func configuration(database: String) throws -> PostgresStoreConfiguration {
        guard case .postgres(var c, _) = try StoreLocation.parse(url(database: database), origin: "test") else {
            throw StoreError.failed("not a postgres URL: \(url)")
        }
        c.password = password
        return c
    }

    func psql(_ sql: String) throws {
        let p = Process()
        p.executableURL = URL(
            fileURLWithPath: FileManager.default.isExecutableFile(atPath: bin + "/psql")
                ? bin + "/psql" : "/usr/bin/psql")
        p.arguments = ["-X", "-q", "-v", "ON_ERROR_STOP=1", url(database: "postgres"), "-c", sql]
        p.environment = ["PGPASSWORD": password]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw StoreError.failed("psql failed: \(sql)") }
    }

    func createDatabase() throws -> String {
        let name = "oomwatch_migrate_\(UInt32.random(in: 0...UInt32.max))"
        try psql("CREATE DATABASE \(name)")
        return name
    }

    func dropDatabase(_ name: String) {
        try? psql("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}
