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
        #expect(report.source == StoreCounts(hosts: 3, events: 18, snapshots: 18, hourly: 6, agentCounters: 3))
        #expect(report.eventsCopied == 18 && report.snapshotsCopied == 18)
        #expect(report.hourlyCopied == 6 && report.agentCountersCopied == 3 && report.agentCountersAdded == 0)
        #expect(
            lines.all.last
                == "migrate: done: events 18/18 (100%), snapshots 18/18 (100%), hourly rollups 6/6 (100%), "
                + "agent counters 3/3 (100%)")
        #expect(
            lines.all.contains(
                "migrate: events: events 5/18 (27%), snapshots 0/18 (0%), hourly rollups 0/6 (0%), "
                    + "agent counters 0/3 (0%)"))
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
        #expect(
            second.countsMatch
                && second.target == StoreCounts(hosts: 3, events: 36, snapshots: 36, hourly: 6, agentCounters: 6))
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
        c.hourly = HistoryKey(host: 3, time: 1_700_000_000_000_000)
        c.agentCounters = HistoryKey(host: 2, time: -5)
        #expect(MigrationCheckpoint.parse(c.text) == c)
        #expect(MigrationCheckpoint.parse("target x\nevent_row twelve\n") == nil)
        #expect(MigrationCheckpoint.parse("") == nil)
        // A checkpoint from before the hourly and counter phases: those start over.
        let old = "target x\nhosts_started true\nevent_row 5\nsnapshot_row 7\nhosts_finished true\n"
        let parsed = MigrationCheckpoint.parse(old)
        #expect(parsed?.eventRow == 5 && parsed?.hourly == .start && parsed?.agentCounters == .start)
        #expect(MigrationCheckpoint.parse(old + "hourly_host 1\nhourly_hour x\n") == nil)
    }

    /// A SQLite collector whose retention deleted old raw snapshots: two hosts sampled
    /// every 10 minutes for a day, the raw samples before 12:05 deleted (hour 12 keeps 5 of
    /// its 6), their hourly rows kept; agents whose loss counters changed every hour; and
    /// db-1, whose one agent report is older than the rollups kept (its counter report is
    /// gone, its host state is not).
    static let retainedNow = t("2026-11-20T00:05:00Z")

    static func fillRetainedSource(_ db: OOMDatabase) async throws {
        let start = t("2026-11-19T00:00:00Z")
        let old = t("2026-11-10T08:00:00Z")
        var agent = AgentInfo(version: "1.0")
        agent.intervalS = 600
        _ = try await db.ingest(IngestBatch(host: "db-1", bootID: "boot-db", agent: agent), receivedAt: old)
        _ = try await db.ingest(IngestBatch(host: "db-1", agent: agent), receivedAt: start)
        for (h, host) in ["web-1", "web-2"].enumerated() {
            for i in 0..<144 {
                let time = start + Int64(i) * 600_000_000
                var snapshot = Fixture.snapshot(
                    host: host, time: RFC3339.format(epochMicroseconds: time),
                    available: 400_000 + Int64(i * 37 + h * 1000), fullAvg60: Double(i % 5) * 0.25)
                snapshot.memory["cached_kb"] = Int64(1000 * h + i)
                var batch = IngestBatch(host: host, bootID: "boot-\(host)", agent: agent, snapshots: [snapshot])
                batch.agent?.droppedSnapshots = Int64(i / 6 + h)
                _ = try await db.ingest(batch, receivedAt: time + 1_000_000)
            }
        }
        var policy = RetentionPolicy()
        policy.snapshotDays = 0.5
        policy.rollupDays = 5
        let deleted = try await db.applyRetention(policy, now: retainedNow)
        #expect(deleted.snapshots == 2 * 73 && deleted.rollups == 0 && deleted.agentCounters == 1)
    }

    /// Every hourly rollup of a store, as (host, hour, figures) without the store's own keys,
    /// by host name and hour.
    static func hourly(_ export: (HistoryKey, Int) async throws -> [HourlyRollup]) async throws -> [HourlyRollup] {
        var rows: [HourlyRollup] = []
        var key = HistoryKey.start
        while true {
            let page = try await export(key, 50)
            guard let last = page.last else { break }
            rows += page
            key = last.key
        }
        return rows.map {
            var r = $0
            r.key = .start
            return r
        }.sorted { ($0.host, $0.hour) < ($1.host, $1.hour) }
    }

    /// A migration of ``fillRetainedSource``'s history: the target's hourly rows equal the
    /// source's, value for value, also for the hours whose raw samples are gone, and a
    /// re-run from a rewound checkpoint stores nothing twice.
    static func expectRetainedHistoryKept(
        target: any CollectorStore, targetName: String, dir: String,
        targetHourly: @escaping (HistoryKey, Int) async throws -> [HourlyRollup]
    ) async throws {
        let source = try OOMDatabase(
            configuration: StoreConfiguration(path: dir + "/retained.sqlite"), logger: Fixture.logger)
        try await fillRetainedSource(source)
        let sourceHourly = try await hourly(source.exportHourly)
        #expect(sourceHourly.count == 48)
        let noon = sourceHourly.first { $0.host == "web-1" && $0.hour == t("2026-11-19T12:00:00Z") }
        #expect(noon?.integers.first == 6, "hour 12 counted 6 samples, 5 of them still stored")

        let checkpoint = dir + "/retained.checkpoint"
        var migration = StoreMigration(
            source: source, target: target, targetName: targetName, checkpointPath: checkpoint)
        migration.pageSize = 7
        let report = try await migration.run { _ in }
        #expect(report.countsMatch, "\(report)")
        #expect(report.source == StoreCounts(hosts: 3, events: 0, snapshots: 142, hourly: 48, agentCounters: 48))
        #expect(report.hourlyCopied == 48 && report.agentCountersCopied == 48 && report.agentCountersAdded == 1)
        #expect(try await hourly(targetHourly) == sourceHourly)

        // The morning as a chart shows it: hourly points (samples, averages, minimum) alike.
        for host in ["web-1", "web-2"] {
            let (since, until) = (t("2026-11-19T00:00:00Z"), t("2026-11-19T12:00:00Z"))
            let sourcePoints = try await source.snapshots(host: host, since: since, until: until, points: 12)
            let targetPoints = try await target.snapshots(host: host, since: since, until: until, points: 12)
            #expect(sourcePoints.points.count == 12 && sourcePoints.points.allSatisfy { $0.samples == 6 })
            #expect(targetPoints == sourcePoints)
        }
        #expect(try await target.hosts(now: retainedNow) == source.hosts(now: retainedNow))

        // Crashes mid-way: the hourly phase again from its start, then everything again.
        var rewound = MigrationCheckpoint.parse(
            String(decoding: FileManager.default.contents(atPath: checkpoint) ?? Data(), as: UTF8.self))
        #expect(rewound?.hostsFinished == true)
        rewound?.hourly = .start
        rewound?.agentCounters = .start
        try Data((rewound?.text ?? "").utf8).write(to: URL(fileURLWithPath: checkpoint))
        let again = try await migration.run { _ in }
        #expect(again.hourlyCopied == 48 && again.agentCountersCopied == 48 && again.snapshotsCopied == 0)
        #expect(again.countsMatch, "\(again)")
        var fromStart = MigrationCheckpoint(target: targetName)
        fromStart.hostsStarted = true
        try Data(fromStart.text.utf8).write(to: URL(fileURLWithPath: checkpoint))
        let third = try await migration.run { _ in }
        #expect(third.snapshotsCopied == 142 && third.countsMatch, "\(third)")
        #expect(try await hourly(targetHourly) == sourceHourly)
    }

    @Test func keepsHourlyRollupsRetentionDeletedIntoSQLite() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let target = try OOMDatabase(
            configuration: StoreConfiguration(path: dir.path + "/target.sqlite"), logger: Fixture.logger)
        try await Self.expectRetainedHistoryKept(
            target: target, targetName: "sqlite:target", dir: dir.path, targetHourly: target.exportHourly)
    }

    @Test func keepsHourlyRollupsRetentionDeletedIntoPostgreSQL() async throws {
        try await Self.withPostgresTarget { target, name, dir in
            try await Self.expectRetainedHistoryKept(
                target: target, targetName: name, dir: dir, targetHourly: target.exportHourly)
        }
    }

    /// A running PostgreSQL store in a database of its own on the throwaway server of
    /// scripts/with-postgres (skipped without one), its name for a checkpoint, and a
    /// temporary directory.
    static func withPostgresTarget(_ body: (PostgresStore, String, String) async throws -> Void) async throws {
        guard let server = TestPostgres.fromEnvironment() else {
            print("SKIP StoreMigrationTests: OOMWATCH_TEST_POSTGRES is not set (run under scripts/with-postgres)")
            return
        }
        let dir = try TempDir()
        defer { dir.cleanup() }
        let database = try server.createDatabase()
        defer { server.dropDatabase(database) }
        var configuration = try server.configuration(database: database)
        configuration.poolSize = 4
        let target = try PostgresStore(configuration: configuration, logger: Fixture.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await target.run() }
            try await body(target, configuration.description, dir.path)
            group.cancelAll()
        }
    }

    /// The real thing: into PostgreSQL 15 (scripts/with-postgres), in a database of its own.
    @Test func copiesIntoPostgreSQLAndAnswersTheSame() async throws {
        try await Self.withPostgresTarget { target, name, dir in
            let source = try OOMDatabase(
                configuration: StoreConfiguration(path: dir + "/source.sqlite"), logger: Fixture.logger)
            try await Self.fillSource(source)
            var migration = StoreMigration(
                source: source, target: target, targetName: name, checkpointPath: dir + "/checkpoint")
            migration.pageSize = 5
            let report = try await migration.run { _ in }
            #expect(report.countsMatch, "\(report)")
            #expect(report.target == StoreCounts(hosts: 3, events: 18, snapshots: 18, hourly: 6, agentCounters: 3))
            try await Self.expectSameHistory(source, target)
            // Again: nothing new to copy, nothing stored twice.
            let again = try await migration.run { _ in }
            #expect(again.eventsCopied == 0 && again.countsMatch)
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
