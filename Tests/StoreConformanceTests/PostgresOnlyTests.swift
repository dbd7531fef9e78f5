import Foundation
import OOMKit
import OOMPostgres
import OOMStore
import PostgresNIO
import Testing

/// What only a shared PostgreSQL database has to prove: the same answers as SQLite on
/// the same data, several collectors at once, migrations run together, one lease holder,
/// and plans that prune partitions.
@Suite("PostgreSQL store", .enabled(if: Engine.postgres.isAvailable))
struct PostgresOnlyTests {
    static let end = StoreConformanceTests.end
    static let day: Int64 = 86_400_000_000

    /// SQLite and PostgreSQL given the same batches answer every query the same.
    @Test func sameAnswersAsSQLite() async throws {
        // Plus three of the largest victims tied on size and time: ties go newest row first.
        let ties = (0..<3).map {
            Seed.event("tie-\($0)", host: "host-0", time: Self.end - 3_600_000_000, rss: 9_000_000)
        }
        let fleet = Seed.fleet(events: 500, end: Self.end, seed: 99) + [Seed.batch(host: "host-0", events: ties)]
        try await withStore(.sqlite) { sqlite in
            try await withStore(.postgres) { pg in
                for b in fleet {
                    let x = try await sqlite.ingest(b, receivedAt: Self.end)
                    let y = try await pg.ingest(b, receivedAt: Self.end)
                    #expect(x == y)
                }
                #expect(try await sqlite.hosts(now: Self.end) == pg.hosts(now: Self.end))
                #expect(try await sqlite.top(host: nil, limit: 50) == pg.top(host: nil, limit: 50))
                #expect(try await sqlite.killCounters() == pg.killCounters())
                var rng = SplitMix(seed: 3)
                let start = Self.end - 10 * Self.day
                for _ in 0..<30 {
                    let a = start + Int64(rng.next() % UInt64(11 * Self.day))
                    let b = start + Int64(rng.next() % UInt64(11 * Self.day))
                    let (since, until) = (min(a, b), max(a, b) + 1)
                    let x = try await sqlite.summary(since: since, until: until, now: Self.end)
                    let y = try await pg.summary(since: since, until: until, now: Self.end)
                    #expect(x == y, "summary [\(since), \(until))")
                    #expect(x.largestVictims.map(\.id) == y.largestVictims.map(\.id))
                    var f = EventFilter()
                    f.since = since
                    f.until = until
                    f.limit = 1000
                    #expect(try await sqlite.events(f).events == pg.events(f).events)
                }
                for (since, until) in [(Self.end - 2 * 3_600_000_000, Self.end), (start, Self.end + 1)] {
                    let x = try await sqlite.summary(since: since, until: until, now: Self.end)
                    let y = try await pg.summary(since: since, until: until, now: Self.end)
                    #expect(Set(x.largestVictims.prefix(3).map(\.id)) == ["tie-0", "tie-1", "tie-2"])
                    #expect(x.largestVictims.map(\.id) == y.largestVictims.map(\.id))
                }
                for host in Set(fleet.map(\.host)) {
                    let x = try await sqlite.snapshots(host: host, since: start, until: Self.end + 1, points: 50)
                    let y = try await pg.snapshots(host: host, since: start, until: Self.end + 1, points: 50)
                    #expect(x == y, "snapshots of \(host)")
                }
            }
        }
    }

    /// Summaries over a fleet larger than the lists: 80 hosts with about 37 kills each
    /// (many tied), 5 with 60 kills of two processes, and 230 with 3 kills of one process
    /// within one hour (230 groups tied for the list's 20 places). PostgreSQL ranks host and
    /// host × comm inside the database and returns only the groups that can make the
    /// lists. The lists, their tie order, the repeat offenders and the count of hosts with
    /// kills are SQLite's on every kind of window: whole days with both edges, whole days
    /// only, edges only, an hour, an empty one.
    @Test func sameSummaryWhenListsAreCut() async throws {
        let flatHour = Self.end - 5 * Self.day
        func kills(_ host: String, _ count: Int, comm: (Int) -> String, time: (Int) -> Int64) -> IngestBatch {
            let events: [OOMEvent] = (0..<count).map { i in
                Seed.event("\(host)-\(i)", host: host, comm: comm(i), time: time(i))
            }
            return Seed.batch(host: host, events: events)
        }
        let skewed: [IngestBatch] = (0..<5).map { h in
            kills("skew-\(h)", 60, comm: { $0 % 2 == 0 ? "java" : "ruby" }) { i in
                Self.end - Int64(i + 1) * 4_000_000_000 - Int64(h)
            }
        }
        let flat: [IngestBatch] = (0..<230).map { h in
            kills("flat-\(h)", 3, comm: { _ in "flat" }) { i in flatHour + Int64(h * 3 + i) * 1_000_000 }
        }
        let fleet = Seed.fleet(hosts: 80, events: 3000, days: 12, end: Self.end, seed: 11) + skewed + flat
        try await withStore(.sqlite) { sqlite in
            try await withStore(.postgres) { pg in
                for b in fleet {
                    _ = try await sqlite.ingest(b, receivedAt: Self.end)
                    _ = try await pg.ingest(b, receivedAt: Self.end)
                }
                let start = Self.end - 12 * Self.day
                let midnight = Self.end / Self.day * Self.day
                var windows: [(Int64, Int64)] = [
                    (start, Self.end + 1), (midnight - 7 * Self.day, midnight), (Self.end - Self.day, Self.end),
                    (Self.end - 7 * Self.day, Self.end), (Self.end - 3_600_000_000, Self.end),
                    (start - 30 * Self.day, start - 1), (flatHour, flatHour + 3_600_000_000),
                ]
                var rng = SplitMix(seed: 5)
                for _ in 0..<16 {
                    let a = start + Int64(rng.next() % UInt64(13 * Self.day))
                    let b = start + Int64(rng.next() % UInt64(13 * Self.day))
                    windows.append((min(a, b), max(a, b) + 1))
                }
                for (since, until) in windows {
                    let x = try await sqlite.summary(since: since, until: until, now: Self.end)
                    let y = try await pg.summary(since: since, until: until, now: Self.end)
                    #expect(x == y, "summary [\(since), \(until))")
                    #expect(x.byHost.map(\.key) == y.byHost.map(\.key))
                    #expect(x.repeatOffenders.map(\.comm) == y.repeatOffenders.map(\.comm))
                }
                // The lists were cut: more groups than make them.
                let all = try await pg.summary(since: start, until: Self.end + 1, now: Self.end)
                #expect(all.totals.hostsWithKills == 315 && all.byHost.count == 20)
                #expect(all.repeatOffenders.count == 20 && all.repeatOffenders.first?.kills == 30)
                #expect(all.totals.kills == 3000 + 300 + 690)
                let hour = try await pg.summary(since: flatHour, until: flatHour + 3_600_000_000, now: Self.end)
                #expect(hour.repeatOffenders.count == 20 && hour.repeatOffenders.allSatisfy { $0.kills == 3 })
            }
        }
    }

    /// Two stores (two collectors) on one database send the same events at once: each is
    /// stored once and counted once in the rollups.
    @Test func twoWritersStoreEachEventOnce() async throws {
        try await withScratchDatabase { name in
            try await withPostgresStore(database: name) { a in
                try await withPostgresStore(database: name) { b in
                    let fleet = Seed.fleet(hosts: 4, events: 600, end: Self.end, seed: 5)
                    // Smaller batches, each sent to both collectors concurrently.
                    let batches = fleet.flatMap { f in
                        stride(from: 0, to: f.events.count, by: 25).map {
                            Seed.batch(host: f.host, events: Array(f.events[$0..<min($0 + 25, f.events.count)]))
                        }
                    }
                    let stored = try await withThrowingTaskGroup(of: Int.self) { group in
                        for batch in batches {
                            group.addTask { try await a.ingest(batch, receivedAt: Self.end).eventsStored }
                            group.addTask { try await b.ingest(batch, receivedAt: Self.end).eventsStored }
                        }
                        return try await group.reduce(0, +)
                    }
                    #expect(stored == 600)
                    let r = try await a.summary(since: Self.end - 20 * Self.day, until: Self.end + 1, now: Self.end)
                    #expect(r.totals.kills == 600)
                    #expect(r.byDay.reduce(0) { $0 + $1.kills } == 600)
                    let hosts = try await b.hosts(now: Self.end)
                    #expect(hosts.map(\.host) == fleet.map(\.host))
                }
            }
        }
    }

    /// Collectors starting together migrate once; a restart finds nothing to do.
    @Test func migrationsRunOnceFromManyCollectors() async throws {
        try await withScratchDatabase { name in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await withPostgresStore(database: name) { s in
                            _ = try await s.hosts(now: Self.end)
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await withPostgresStore(database: name) { s in
                _ = try await s.ingest(Seed.batch(events: [Seed.event("m", time: Self.end)]), receivedAt: Self.end)
                #expect(
                    try await s.appliedMigrations() == [
                        "v1-pg-store", "v7-fix17-kill-counters", "v8-pg-advice", "v9-pg-compact-snapshots",
                        "v10-pg-upload-interval", "v11-pg-runs-without-last-index",
                    ])
            }
            try await withPostgresStore(database: name) { s in
                let stored = try await s.event(id: "m")
                #expect(stored.id == "m")
            }
        }
    }

    /// Exactly one collector holds the background lease; when it goes, another takes it.
    @Test func backgroundLeaseMovesWhenItsHolderStops() async throws {
        try await withScratchDatabase { name in
            try await withPostgresStore(database: name) { a in
                // Generous bounds: CI runs these beside every other suite on two cores.
                try await Self.waitUntil(seconds: 45) { await a.holdsBackgroundLease() }
                let b = try PostgresStore(
                    configuration: postgresConfiguration(database: name), leaseCheckSeconds: 0.2, logger: testLogger)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await b.run() }
                    _ = try await b.hosts(now: Self.end)
                    try await Task.sleep(for: .seconds(1))
                    #expect(await b.holdsBackgroundLease() == false)
                    group.cancelAll()
                }
            }
            // The first collector is gone (its connections closed): a new one takes over.
            try await withPostgresStore(database: name) { c in
                try await Self.waitUntil(seconds: 45) { await c.holdsBackgroundLease() }
            }
        }
    }

    /// The list and report queries of one host or window read only that window's
    /// partitions, by index, never every day of events.
    @Test func plansPrunePartitions() async throws {
        try await withScratchDatabase { name in
            try await withPostgresStore(database: name) { s in
                for b in Seed.fleet(events: 2000, days: 9, end: Self.end) {
                    _ = try await s.ingest(b, receivedAt: Self.end)
                }
                try await s.analyze()
                let since = Self.end - Self.day
                let plans = [
                    try await s.explain(
                        "SELECT id, time, json FROM events WHERE host_id = 1 AND time >= \(since) AND time < \(Self.end) ORDER BY time DESC, id DESC LIMIT 101"
                    ),
                    try await s.explain(
                        "SELECT id, time, json FROM events WHERE time >= \(since) AND time < \(Self.end) ORDER BY time DESC, id DESC LIMIT 101"
                    ),
                    try await s.explain(
                        "SELECT time / 86400000000 AS day, count(*) FROM events WHERE time >= \(since) AND time < \(Self.end) GROUP BY 1"
                    ),
                    try await s.explain(
                        "SELECT dim, key, sum(kills) FROM kill_daily WHERE day >= 20400 AND day < 20410 AND kills > 0 GROUP BY dim, key"
                    ),
                    // The summary's ranked large dimension: whole days plus an edge of events.
                    try await s.explain(
                        """
                        WITH g (key, kills, last_time) AS (
                            SELECT key COLLATE "C", kills, last_time FROM kill_daily
                            WHERE dim = 'host' AND day >= 20400 AND day < 20410 AND kills > 0
                            UNION ALL
                            SELECT e.host_id::text COLLATE "C", count(*), max(e.time) FROM events e
                            WHERE e.time >= \(since) AND e.time < \(Self.end) GROUP BY 1),
                        w AS (SELECT key, sum(kills)::bigint AS kills, max(last_time) AS last_time FROM g
                            GROUP BY key HAVING sum(kills) >= 1),
                        r AS (SELECT key, kills, last_time, count(*) OVER () AS groups,
                            row_number() OVER (ORDER BY kills DESC, key COLLATE "C") AS place FROM w)
                        SELECT key, kills, last_time, groups FROM r WHERE place <= 20
                        """),
                ]
                for plan in plans {
                    let text = plan.joined(separator: "\n")
                    let days = Set(text.matches(of: /events_d(\d+)/).map { Int64($0.1)! })
                    #expect(days.count <= 2, "one window reads at most two day partitions:\n\(text)")
                    #expect(!text.contains("events_default"), "no default partition scan:\n\(text)")
                }
                // On a fleet's worth of rows: an index read, not a scan of the day.
                let hostWindow = try await s.explain(
                    "SELECT id, time, json FROM events WHERE host_id = 1 AND time >= \(since) AND time < \(Self.end) ORDER BY time DESC, id DESC LIMIT 101",
                    indexesOnly: true
                ).joined(separator: "\n")
                #expect(hostWindow.contains("Index"), "host + window is an index read:\n\(hostWindow)")
                #expect(!hostWindow.contains("Seq Scan"), "no sequential scan:\n\(hostWindow)")
            }
        }
    }

    static func waitUntil(seconds: Double = 10, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("condition not met within \(seconds) s")
    }
}

/// Reads from a streaming replica (`--db-read`): ingest goes to the primary, queries see
/// it once the replica has replayed it.
@Suite(
    "PostgreSQL read replica",
    .enabled(if: ProcessInfo.processInfo.environment["OOMWATCH_TEST_POSTGRES_REPLICA"] != nil))
struct PostgresReplicaTests {
    @Test func queriesReadTheReplica() async throws {
        let replicaURL = URLComponents(string: ProcessInfo.processInfo.environment["OOMWATCH_TEST_POSTGRES_REPLICA"]!)!
        try await withScratchDatabase { name in
            var replica = postgresConfiguration(database: name)
            replica.host = replicaURL.host ?? replica.host
            replica.port = replicaURL.port ?? replica.port
            let store = try PostgresStore(
                configuration: postgresConfiguration(database: name), readReplica: replica, logger: testLogger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await store.run() }
                defer { group.cancelAll() }
                let end = StoreConformanceTests.end
                let stored = try await store.ingest(
                    Seed.batch(events: [Seed.event("replicated", time: end)]), receivedAt: end)
                #expect(stored.eventsStored == 1)
                var filter = EventFilter()
                filter.limit = 10
                try await PostgresOnlyTests.waitUntil {
                    (try? await store.events(filter).events.map(\.id)) == ["replicated"]
                }
                #expect(try await store.event(id: "replicated").id == "replicated")
            }
        }
    }
}

/// A database that is not there: the store says so within its connect timeout, as a
/// retryable error, rather than hanging a request. It needs no server, but its bound is
/// wall-clock time, so it runs in the serial PostgreSQL pass (scripts/with-postgres):
/// beside every other suite on two cores its answers once took 36 s.
@Suite(
    "PostgreSQL unreachable",
    .enabled(if: ProcessInfo.processInfo.environment["OOMWATCH_TEST_POSTGRES"] != nil))
struct PostgresUnreachableTests {
    @Test func unreachableServerFailsFast() async throws {
        var c = PostgresStoreConfiguration(host: "127.0.0.1", port: 1, user: "nobody", database: "none")
        c.sslMode = .disable
        c.connectTimeoutSeconds = 1
        let store = try PostgresStore(configuration: c, logger: testLogger)
        // The answers are timed, not the teardown after them: with every other suite
        // running beside it on two cores, stopping the pool took 40 s here.
        let answered = await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = try? await store.run() }
            let started = ContinuousClock.now
            #expect(await store.isReachable() == false)
            await #expect(throws: StoreError.self) {
                try await store.ingest(Seed.batch(events: [Seed.event("x", time: 1)]), receivedAt: 1)
            }
            let answered = ContinuousClock.now - started
            group.cancelAll()
            return answered
        }
        #expect(answered < .seconds(30))
    }
}
