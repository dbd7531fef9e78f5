import Foundation
import GRDB
import OOMKit
import OOMServer
import OOMStore
import Testing

@Suite("OOMStore on real SQLite files")
struct StoreTests {
    @Test func ingestIsIdempotentAndCountsDuplicates() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let batch = Fixture.batch(
            events: [Fixture.event("a"), Fixture.event("b")],
            snapshots: [Fixture.snapshot(time: "2026-11-20T10:00:00Z")])
        let first = try await db.ingest(batch)
        #expect(first.eventsStored == 2)
        #expect(first.eventsDuplicate == 0)
        #expect(first.snapshotsStored == 1)
        let again = try await db.ingest(batch)
        #expect(again.eventsStored == 0)
        #expect(again.eventsDuplicate == 2)
        #expect(again.snapshotsStored == 0)
        let page = try await db.events(EventFilter())
        #expect(page.events.map(\.id).sorted() == ["a", "b"])
    }

    /// The hosts row takes a post's host, newest snapshot and newest system facts in one
    /// write: each by its own time, whatever order the posts arrive in, and a post without
    /// them (kills only, or snapshots without facts) leaves them as they are.
    @Test func hostsRowKeepsTheNewestSnapshotAndFactsByTime() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        func snapshot(_ time: String, total: Int64, swappiness: Int?) -> MemorySnapshot {
            var s = Fixture.snapshot(time: time, total: total)
            if let swappiness { s.sysctl = OOMSysctls(overcommitMemory: 0, swappiness: swappiness) }
            return s
        }
        func row() async throws -> (total: Int64?, time: Int64?, swappiness: Int64?, lastSeen: Int64) {
            try await db.write { db in
                let r = try #require(
                    try Row.fetchOne(
                        db,
                        sql: """
                            SELECT total_kb, snapshot_time, system_json ->> '$.sysctl.swappiness' AS swappiness,
                                last_seen FROM hosts WHERE name = 'web-1'
                            """))
                return (r["total_kb"], r["snapshot_time"], r["swappiness"], r["last_seen"])
            }
        }
        let t2 = RFC3339.parse("2026-11-20T10:02:00Z")!
        _ = try await db.ingest(
            Fixture.batch(snapshots: [
                snapshot("2026-11-20T10:01:00Z", total: 1000, swappiness: 10),
                snapshot("2026-11-20T10:02:00Z", total: 2000, swappiness: 60),
            ]))
        var r = try await row()
        #expect(r.total == 2000 && r.time == t2 && r.swappiness == 60)
        // An older sample arriving late changes neither.
        _ = try await db.ingest(
            Fixture.batch(snapshots: [snapshot("2026-11-20T10:00:00Z", total: 500, swappiness: 1)]))
        r = try await row()
        #expect(r.total == 2000 && r.time == t2 && r.swappiness == 60)
        // Kills only: the host is seen again, its newest sample stays.
        let seen = r.lastSeen
        _ = try await db.ingest(Fixture.batch(events: [Fixture.event("k")]))
        r = try await row()
        #expect(r.total == 2000 && r.time == t2 && r.swappiness == 60 && r.lastSeen >= seen)
        // A newer sample without facts moves the sample, not the facts.
        _ = try await db.ingest(
            Fixture.batch(snapshots: [snapshot("2026-11-20T10:03:00Z", total: 3000, swappiness: nil)]))
        r = try await row()
        #expect(r.total == 3000 && r.time == RFC3339.parse("2026-11-20T10:03:00Z") && r.swappiness == 60)
        // The same post again (a retry after a lost answer) changes nothing.
        _ = try await db.ingest(
            Fixture.batch(snapshots: [snapshot("2026-11-20T10:03:00Z", total: 3000, swappiness: nil)]))
        r = try await row()
        #expect(r.total == 3000 && r.swappiness == 60)
    }

    /// 150 processes over two posts (one of two snapshots): every run gets each of its
    /// samples once, summed across the posts.
    @Test func everyProcessRunGetsEachSampleOnce() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let processes = (1...150).map { ProcessSample(pid: $0, comm: "p\($0 % 7)", rssKB: Int64($0) * 100) }
        _ = try await db.ingest(
            Fixture.batch(snapshots: [
                Fixture.snapshot(time: "2026-11-20T10:00:00Z", processes: processes),
                Fixture.snapshot(time: "2026-11-20T10:00:10Z", processes: processes),
            ]))
        _ = try await db.ingest(
            Fixture.batch(snapshots: [Fixture.snapshot(time: "2026-11-20T10:00:20Z", processes: processes)]))
        let (runs, samples, rss): (Int, Int, Int64) = try await db.write { db in
            let r = try #require(
                try Row.fetchOne(db, sql: "SELECT count(*), min(samples), sum(sum_r) FROM process_runs"))
            let mismatched = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM process_runs WHERE samples != 3 OR sum_r != 3 * pid * 100")!
            #expect(mismatched == 0)
            return (r[0], r[1], r[2])
        }
        #expect(runs == 150)
        #expect(samples == 3)
        #expect(rss == 3 * 100 * (150 * 151 / 2))
    }

    @Test func schemaEnforcesConstraints() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        await #expect(throws: (any Error).self) {
            try await db.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO events (event_id, host_id, time, source, comm, pid, rss_kb,
                            received, json) VALUES ('x', 999, 0, 'kernel', 'c', 1, 0, 0, '{}')
                        """)
            }
        }
        await #expect(throws: (any Error).self) {
            try await db.write { db in
                try db.execute(sql: "INSERT INTO hosts (name, first_seen, last_seen) VALUES ('h', 0, 0)")
                try db.execute(
                    sql: """
                        INSERT INTO events (event_id, host_id, time, source, comm, pid, rss_kb,
                            received, json) VALUES ('x', 1, 0, 'bogus', 'c', 1, 0, 0, '{}')
                        """)
            }
        }
        let journal = try await db.write { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
    }

    @Test func concurrentIngestsAreGroupedAndAllCommitted() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let results = try await withThrowingTaskGroup(of: IngestOutcome.self) { group in
            for agent in 0..<64 {
                group.addTask {
                    let events = (0..<20).map { Fixture.event("h\(agent)-e\($0)", host: "host-\(agent)") }
                    return try await db.ingest(Fixture.batch(host: "host-\(agent)", events: events))
                }
            }
            var all: [IngestOutcome] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(results.reduce(0) { $0 + $1.eventsStored } == 64 * 20)
        let hosts = try await db.hosts()
        #expect(hosts.count == 64)
        #expect(hosts.allSatisfy { $0.kills24h == 0 })  // events are dated 2026-11-20
    }

    /// The request driving a group's write may be cancelled (its client disconnected);
    /// the others in the group must still get their results, never an error.
    @Test func cancellingTheDrivingIngestFailsNoOneElse() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        // Hold SQLite's writer so the first ingest is still leading when it is cancelled.
        let blocker = Task { try await db.write { _ in usleep(300_000) } }
        try await Task.sleep(for: .milliseconds(40))
        let lead = Task {
            let events = (0..<50).map { Fixture.event("lead-e\($0)", host: "lead") }
            return try await db.ingest(Fixture.batch(host: "lead", events: events))
        }
        try await Task.sleep(for: .milliseconds(40))
        let others = (0..<4).map { agent in
            Task {
                let events = (0..<20).map { Fixture.event("o\(agent)-e\($0)", host: "o\(agent)") }
                return try await db.ingest(Fixture.batch(host: "o\(agent)", events: events))
            }
        }
        try await Task.sleep(for: .milliseconds(40))
        lead.cancel()
        for other in others {
            let outcome = try await other.value
            #expect(outcome.eventsStored == 20)
        }
        // Stored, or told it stopped waiting: never a database error.
        switch await lead.result {
        case .success(let outcome): #expect(outcome.eventsStored == 50)
        case .failure(let error): #expect(error as? StoreError == .cancelled)
        }
        try await blocker.value
        // Queued before this one, the lead's batch has been written (or dropped) by now.
        let barrier = try await db.ingest(
            Fixture.batch(host: "barrier", events: [Fixture.event("b-1", host: "barrier")]))
        #expect(barrier.eventsStored == 1)
        // The rollups count every stored kill once folded (as before any report reads them).
        try await db.settleRollups()
        let (leadCount, total, check, hostTotal) = try await db.write { d in
            (
                try Int.fetchOne(
                    d,
                    sql: "SELECT count(*) FROM events JOIN hosts ON hosts.id = events.host_id "
                        + "WHERE hosts.name = 'lead'")!,
                try Int.fetchOne(d, sql: "SELECT count(*) FROM events")!,
                try String.fetchOne(d, sql: "PRAGMA integrity_check")!,
                // The trigger-kept totals agree with the rows.
                try Int.fetchOne(d, sql: "SELECT sum(kills) FROM kill_totals WHERE dim = 'host'")!
            )
        }
        #expect(leadCount == 0 || leadCount == 50)
        #expect(total == leadCount + 4 * 20 + 1)
        #expect(check == "ok")
        #expect(hostTotal == total)
    }

    @Test func overloadedQueueAnswersOverloaded() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir) { $0.maxPendingBatches = 1 }.database
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<50 {
                group.addTask {
                    do {
                        _ = try await db.ingest(
                            Fixture.batch(host: "h\(i)", events: [Fixture.event("e\(i)", host: "h\(i)")]))
                        return true
                    } catch let error as StoreError {
                        return error != .overloaded
                    } catch {
                        return true
                    }
                }
            }
            var ok = 0
            for await r in group where r { ok += 1 }
            return ok
        }
        // At least one got through; everything not overloaded was stored.
        #expect(outcomes >= 1)
        let stored = try await db.events(EventFilter()).events.count
        #expect(stored == outcomes)
    }

    @Test func eventsFilterAndPaginateWithCursor() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        var events: [OOMEvent] = []
        for i in 0..<25 {
            events.append(
                Fixture.event(
                    "e\(i)", comm: i % 2 == 0 ? "java" : "python",
                    time: RFC3339.format(epochMicroseconds: t("2026-11-20T10:00:00Z") + Int64(i / 3) * 1_000_000),
                    unit: i % 5 == 0 ? "app.service" : nil, container: i == 7 ? "abc123" : nil,
                    scope: i % 3 == 0 ? .memcg : .global))
        }
        _ = try await db.ingest(Fixture.batch(events: events))
        var seen: [String] = []
        var f = EventFilter()
        f.limit = 4
        while true {
            let page = try await db.events(f)
            seen += page.events.map(\.id)
            guard let next = page.nextCursor else { break }
            f.cursor = next
        }
        #expect(seen.count == 25)
        #expect(Set(seen).count == 25)
        var filter = EventFilter()
        filter.comm = "java"
        #expect(try await db.events(filter).events.count == 13)
        filter = EventFilter()
        filter.unit = "app.service"
        #expect(try await db.events(filter).events.count == 5)
        filter = EventFilter()
        filter.container = "abc123"
        #expect(try await db.events(filter).events.map(\.id) == ["e7"])
        filter = EventFilter()
        filter.scope = "memcg"
        filter.host = "web-1"
        #expect(try await db.events(filter).events.count == 9)
        filter = EventFilter()
        filter.since = t("2026-11-20T10:00:07Z")
        #expect(try await db.events(filter).events.count == 4)  // e21...e24
        filter = EventFilter()
        filter.cursor = "garbage"
        await #expect(throws: StoreError.invalidCursor) { try await db.events(filter) }
    }

    @Test func summaryReport() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        var events: [OOMEvent] = []
        for i in 0..<4 {
            events.append(Fixture.event("j\(i)", comm: "java", time: "2026-11-2\(i)T10:00:00Z", rss: 100))
        }
        events.append(Fixture.event("big", comm: "chrome", rss: 9_000_000, unit: "user@1000.service"))
        events.append(Fixture.event("c1", comm: "redis", container: "deadbeef", source: .systemdOomd))
        _ = try await db.ingest(
            Fixture.batch(
                events: events,
                snapshots: [Fixture.snapshot(time: "2026-11-23T10:00:00Z", available: 50_000)]))
        _ = try await db.ingest(
            Fixture.batch(
                host: "db-1", events: [Fixture.event("d1", host: "db-1", comm: "java")],
                snapshots: [Fixture.snapshot(host: "db-1", time: "2026-11-23T10:00:00Z", fullAvg60: 25)]))
        _ = try await db.ingest(
            Fixture.batch(
                host: "ok-1", snapshots: [Fixture.snapshot(host: "ok-1", time: "2026-11-23T10:00:00Z")]))
        let r = try await db.summary(
            since: t("2026-11-01T00:00:00Z"), until: t("2026-12-01T00:00:00Z"),
            now: t("2026-11-23T10:00:10Z"))
        #expect(r.totals.kills == 7)
        #expect(r.totals.hosts == 3)
        #expect(r.totals.hostsWithKills == 2)
        #expect(r.totals.bySource == ["kernel": 6, "systemd-oomd": 1])
        #expect(r.byHost.first == CountRow(key: "web-1", kills: 6, lastKill: "2026-11-23T10:00:00Z"))
        #expect(r.byComm.first?.key == "java")
        #expect(r.byComm.first?.kills == 5)
        #expect(r.byUnit.map(\.key) == ["user@1000.service"])
        #expect(r.byContainer.map(\.key) == ["deadbeef"])
        #expect(r.byDay.map(\.day) == ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"])
        #expect(r.byDay.map(\.kills) == [4, 1, 1, 1])
        #expect(r.largestVictims.first?.id == "big")
        #expect(r.largestVictims.first?.rssKB == 9_000_000)
        #expect(
            r.repeatOffenders == [
                RepeatOffender(
                    host: "web-1", comm: "java", kills: 4, firstKill: "2026-11-20T10:00:00Z",
                    lastKill: "2026-11-23T10:00:00Z")
            ])
        #expect(Set(r.hostsAtRisk.map(\.host)) == ["web-1", "db-1"])
        #expect(r.hostsAtRisk.first { $0.host == "db-1" }?.reasons == ["psi_full"])
        #expect(r.hostsAtRisk.first { $0.host == "web-1" }?.reasons == ["memory_available"])

        // A narrower window counts only what is inside it.
        let narrow = try await db.summary(since: t("2026-11-21T00:00:00Z"), until: t("2026-11-22T00:00:00Z"))
        #expect(narrow.totals.kills == 1)
        #expect(narrow.repeatOffenders.isEmpty)
    }

    /// `--since 1d`/`24h` crosses one midnight: each kill goes under its own date (they
    /// all landed on the first day), as with 2d and 7d.
    @Test(arguments: [1, 2, 7])
    func summaryDaysAcrossMidnight(days: Int) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let events = [
            Fixture.event("y", comm: "java", time: "2026-11-22T23:00:00Z", rss: 100),
            Fixture.event("t1", comm: "java", time: "2026-11-23T00:30:00Z", rss: 100),
            Fixture.event("t2", comm: "java", time: "2026-11-23T09:59:00Z", rss: 100),
        ]
        _ = try await db.ingest(Fixture.batch(events: events))
        let until = t("2026-11-23T10:00:00Z")
        let r = try await db.summary(since: until - Int64(days) * 86_400_000_000, until: until, now: until)
        #expect(r.byDay.map(\.day) == ["2026-11-22", "2026-11-23"])
        #expect(r.byDay.map(\.kills) == [1, 2])
    }

    /// A host that started five minutes ago, asked for 24 h: every sample at its own time,
    /// none before the agent started.
    @Test func newHostChartsShowSamplesAtTheirOwnTimes() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let start = t("2026-11-23T09:55:00Z")
        let times = (0..<30).map { RFC3339.format(epochMicroseconds: start + Int64($0) * 10_000_000) }
        _ = try await db.ingest(Fixture.batch(snapshots: times.map { Fixture.snapshot(time: $0) }))
        let until = t("2026-11-23T10:00:00Z")
        let r = try await db.snapshots(host: "web-1", since: until - 86_400_000_000, until: until, points: 200)
        #expect(r.points.map(\.time) == times)
        #expect(r.points.allSatisfy { $0.samples == 1 })
    }

    /// Downsampled points lie between the first and last sample they average.
    @Test func downsampledPointsStayInsideTheirSamples() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let start = t("2026-11-23T08:00:00Z")
        let all = (0..<120).map { start + Int64($0) * 60_000_000 + 7_000_000 }
        _ = try await db.ingest(
            Fixture.batch(snapshots: all.map { Fixture.snapshot(time: RFC3339.format(epochMicroseconds: $0)) }))
        let since = t("2026-11-23T00:00:00Z")
        let until = t("2026-11-23T12:00:00Z")
        let r = try await db.snapshots(host: "web-1", since: since, until: until, points: 7)
        #expect(r.points.count <= 7)
        #expect(r.points.reduce(0) { $0 + $1.samples } == all.count)
        var next = 0
        for p in r.points {
            let members = all[next..<(next + p.samples)]
            next += p.samples
            let time = try #require(RFC3339.parse(p.time))
            #expect(time >= members.first! && time <= members.last!, "\(p.time) outside its samples")
        }
    }

    /// Report queries must read only covering indexes or the rollups' primary keys, never
    /// the events table rows, and must not sort a temporary b-tree for their GROUP BY.
    @Test func reportQueriesUseCoveringIndexes() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let queries = [
            // The window's partial days, every dimension at once.
            "SELECT host_id, time, comm, source, scope, unit, container FROM events INDEXED BY events_time_cover WHERE time >= 0 AND time < 1",
            // A small dimension over whole days, streamed in key order.
            "SELECT key, sum(kills), max(last_time) FROM kill_daily WHERE dim = 'comm' AND day >= 0 AND day < 1 AND kills > 0 GROUP BY key",
            // A large dimension, largest total first, one range per group.
            """
            SELECT t.key, t.kills, (SELECT sum(d.kills) FROM kill_daily d WHERE d.dim = 'host' AND d.key = t.key
                AND d.day >= 0 AND d.day < 1 AND d.kills > 0)
            FROM kill_totals t INDEXED BY kill_totals_rank WHERE t.dim = 'host' AND t.kills >= 1 ORDER BY t.kills DESC
            """,
            "SELECT min(time) FROM events INDEXED BY events_comm WHERE comm = 'a' AND host_id = 1 AND time >= 0 AND time < 1",
            "SELECT count(*) FROM events WHERE time >= 0 AND time < 1",
        ]
        for q in queries {
            let plan = try db.explain(q).joined(separator: "; ")
            #expect(plan.contains("COVERING INDEX") || plan.contains("PRIMARY KEY"), "\(q): \(plan)")
            #expect(!plan.contains("TEMP B-TREE"), "\(q): \(plan)")
            #expect(!plan.contains("SCAN events"), "\(q): \(plan)")
        }
        // The events list's filters find their page without sorting the table (source and
        // scope walk events_time_cover backwards; a comm filter reads events_comm and sorts
        // that comm's rows, as before).
        for filter in [
            "host_id = 1", "source = 'kernel'", "scope = 'memcg'", "unit = 'a.service'", "container = 'abc'",
        ] {
            let listing = try db.explain(
                "SELECT id, time, json FROM events WHERE \(filter) AND time < 5 ORDER BY time DESC, id DESC LIMIT 10"
            ).joined(separator: "; ")
            #expect(!listing.contains("TEMP B-TREE FOR ORDER BY"), "\(filter): \(listing)")
        }
        let listing = try db.explain(
            "SELECT id, time, json FROM events WHERE host_id = 1 AND time < 5 ORDER BY time DESC, id DESC LIMIT 10"
        ).joined(separator: "; ")
        #expect(listing.contains("events_host_time"), "\(listing)")
    }

    @Test func snapshotsDownsampleAndFallBackToHourlyRollups() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let start = t("2026-11-20T00:00:00Z")
        // 4 hours of 30 s snapshots, available falling linearly.
        var snaps: [MemorySnapshot] = []
        for i in 0..<480 {
            snaps.append(
                Fixture.snapshot(
                    time: RFC3339.format(epochMicroseconds: start + Int64(i) * 30_000_000),
                    available: 500_000 - Int64(i) * 100))
        }
        let out = try await db.ingest(Fixture.batch(snapshots: snaps))
        #expect(out.snapshotsStored == 480)
        let r = try await db.snapshots(
            host: "web-1", since: start, until: start + 4 * 3_600_000_000, points: 4)
        #expect(r.points.count == 4)
        #expect(r.points.map(\.samples) == [120, 120, 120, 120])
        #expect(r.points[0].minAvailableKB == Int64(488_100))
        #expect(r.stepS == 3600)
        #expect(r.latest?.time == "2026-11-20T03:59:30Z")

        // Raw snapshots expire; the hourly rollups still answer.
        var policy = RetentionPolicy()
        policy.snapshotDays = 1
        let deleted = try await db.applyRetention(policy, now: start + 3 * 86_400_000_000)
        #expect(deleted.snapshots == 480)
        let old = try await db.snapshots(
            host: "web-1", since: start, until: start + 4 * 3_600_000_000, points: 4)
        #expect(old.points.map(\.samples) == [120, 120, 120, 120])
        var sum: Int64 = 0
        for i in 0..<120 { sum += 500_000 - Int64(i) * 100 }
        #expect(old.points[0].availableKB == sum / 120)
        #expect(old.latest == nil)
        await #expect(throws: StoreError.notFound("host nope")) {
            try await db.snapshots(host: "nope", since: 0, until: 1, points: 1)
        }
    }

    @Test func hostsShowLatestStateStalenessAndRisk() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let now = nowMicroseconds()
        _ = try await db.ingest(
            Fixture.batch(
                events: [Fixture.event("recent", time: RFC3339.format(epochMicroseconds: now - 3_600_000_000))],
                snapshots: [
                    Fixture.snapshot(time: RFC3339.format(epochMicroseconds: now - 60_000_000), available: 900_000),
                    Fixture.snapshot(time: RFC3339.format(epochMicroseconds: now - 1_000_000), available: 50_000),
                ]), receivedAt: now)
        let fresh = try await db.hosts(now: now)
        #expect(fresh.count == 1)
        let h = try #require(fresh.first)
        #expect(h.stale == false)
        #expect(h.kills24h == 1)
        #expect(h.memory?["available_kb"] == 50_000)
        #expect(h.availablePct == 5)
        #expect(h.atRisk == true)
        #expect(h.agent?.version == "test")
        // 30 s interval: silent for more than 90 s is stale.
        #expect(try await db.hosts(now: now + 91_000_000).first?.stale == true)
        #expect(try await db.hosts(now: now + 89_000_000).first?.stale == false)
    }

    @Test func retentionKeepsEventsUnlessConfigured() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        _ = try await db.ingest(Fixture.batch(events: [Fixture.event("old", time: "2025-01-01T00:00:00Z")]))
        var policy = RetentionPolicy()
        #expect(try await db.applyRetention(policy).events == 0)
        #expect(try await db.events(EventFilter()).events.count == 1)
        policy.eventDays = 30
        #expect(try await db.applyRetention(policy).events == 1)
        #expect(try await db.events(EventFilter()).events.isEmpty)
    }

    @Test func topListsLargestProcessesAcrossHosts() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        for (host, rss) in [("a", Int64(10)), ("b", 30), ("c", 20)] {
            _ = try await db.ingest(
                Fixture.batch(
                    host: host,
                    snapshots: [
                        Fixture.snapshot(
                            host: host, time: "2026-11-20T00:00:00Z",
                            processes: [ProcessSample(pid: 1, comm: "p-\(host)", rssKB: rss)])
                    ]))
        }
        let top = try await db.top(limit: 2)
        #expect(top.processes.map(\.host) == ["b", "c"])
        #expect(try await db.top(host: "a").processes.map(\.process.comm) == ["p-a"])
    }
}

@Suite("SinceParser")
struct SinceParserTests {
    @Test(arguments: [
        ("30m", Int64(1800)), ("24h", 86_400), ("7d", 604_800), ("2w", 1_209_600), ("90s", 90),
        ("1h30m", 5400),
    ])
    func durations(text: String, seconds: Int64) {
        #expect(
            SinceParser.parse(text, nowMicroseconds: 10_000_000_000_000) == 10_000_000_000_000 - seconds * 1_000_000)
    }

    @Test func rfc3339() {
        #expect(SinceParser.parse("2026-11-20T10:00:00Z", nowMicroseconds: 0) == t("2026-11-20T10:00:00Z"))
    }

    @Test(arguments: ["", "30", "m", "5x", "-5m", "99999999999999999999d", "2026-13-01T00:00:00Z", "1d2"])
    func rejects(text: String) {
        #expect(SinceParser.parse(text, nowMicroseconds: 0) == nil)
    }
}
