import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import OOMKit
import OOMServer
import OOMStore
import Testing

/// `advice_groups` (whole groups over the retention, `advice_daily` only for the groups
/// straddling the window) against the per-day GROUP BY advice read before it, on a seeded
/// fleet written through ingest and thinned by retention.
@Suite struct AdviceRollupTests {
    static let hour = AdviceStoreTests.hour
    static let day = 24 * hour
    static let now = AdviceStoreTests.now

    /// A small deterministic generator (the fleet is the same on every run).
    struct Seq {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
    }

    /// 24 hosts over 45 days: repeat and one-off kills by process name, memcg kills at
    /// their limits, global kills sparing a larger shielded process, sshd killed now and
    /// then; plus two hosts with leaking, restarted workers.
    static func fleet() -> [IngestBatch] {
        var seq = Seq(state: 18)
        let comms = ["java", "python3", "node", "postgres", "sshd", "worker", "ffmpeg", "redis-server"]
        var batches: [IngestBatch] = []
        for h in 0..<24 {
            let host = "host-\(h)"
            var events: [OOMEvent] = []
            for c in comms where seq.next(3) > 0 {
                let kills = 1 + seq.next(h % 4 == 0 ? 9 : 4)
                let memcg = seq.next(2) == 0
                for k in 0..<kills {
                    let at = now - Int64(seq.next(45 * 24)) * hour - Int64(seq.next(3600)) * 1_000_000
                    var e = Fixture.event(
                        "\(host)-\(c)-\(k)", host: host, comm: c, pid: 1000 + k,
                        time: AdviceStoreTests.time(at), rss: Int64(400_000 + seq.next(4) * 20_000),
                        scope: memcg ? .memcg : .global)
                    if memcg {
                        var m = OOMEvent.Memcg()
                        m.oom = "/system.slice/\(c).service"
                        m.usageKB = 524_288
                        m.limitKB = 524_288
                        e.memcg = m
                    } else if seq.next(3) == 0 {
                        var big = OOMEvent.Candidate(pid: 9, name: "mysqld")
                        big.rssPages = Int64(1_000_000 + seq.next(1_000_000))
                        big.oomScoreAdj = -900
                        e.candidates = [big]
                    }
                    events.append(e)
                }
            }
            var snap = Fixture.snapshot(host: host, time: AdviceStoreTests.time(now - hour), total: 8_000_000)
            snap.memory["swap_total_kb"] = h % 3 == 0 ? 0 : 2_097_152
            snap.userspaceKillers = UserspaceKillers(systemdOomd: false, earlyoom: h % 2 == 0)
            batches.append(Fixture.batch(host: host, events: events, snapshots: [snap]))
        }
        for host in ["leaky-1", "leaky-2"] {
            batches.append(
                AdviceStoreTests.memcgRuns(
                    host: host, comm: "worker", cgroup: "/system.slice/worker.service", runs: 4,
                    slopeKBh: 200_000, limitKB: 512_000, hoursPerRun: 2, endHoursAgo: 1))
        }
        return batches
    }

    func seeded() async throws -> (OOMDatabase, TempDir) {
        let dir = try TempDir()
        let db = try Fixture.collector(in: dir).database
        for b in Self.fleet() { _ = try await db.ingest(b, receivedAt: Self.now) }
        // Retention deletes the oldest kills: the delete triggers must keep both rollups right.
        var policy = RetentionPolicy()
        policy.eventDays = 40
        let outcome = try await db.applyRetention(policy, now: Self.now)
        #expect(outcome.events > 0)
        // Retention refreshed the groups whose kills it deleted: they are read whole again.
        let stale = try await db.write { d in
            try Int.fetchOne(d, sql: "SELECT count(*) FROM advice_groups WHERE stale = 1")
        }
        #expect(stale == 0)
        return (db, dir)
    }

    func both(since: Int64, host: String? = nil, limit: Int? = nil, on db: OOMDatabase) async throws
        -> (groups: AdviceReport, daily: AdviceReport)
    {
        func run(_ source: AdviceReader.Source) async throws -> AdviceReport {
            try await db.advice(
                since: since, until: Self.now, host: host, settings: AdviceSettings(), limit: limit, now: Self.now,
                source: source)
        }
        return (try await run(.groups), try await run(.daily))
    }

    @Test(arguments: [8, 30, 39, 60])
    func groupRollupGivesTheFindingsOfTheDailyScan(days: Int) async throws {
        let (db, dir) = try await seeded()
        defer { dir.cleanup() }
        let (groups, daily) = try await both(since: Self.now - Int64(days) * Self.day, on: db)
        #expect(groups.findings.count == daily.findings.count)
        for (a, b) in zip(groups.findings, daily.findings) { #expect(a == b) }
        #expect(groups.total == daily.total)
        // The fleet is seeded so that most rules speak: a comparison of empty lists proves nothing.
        let kinds = Set(groups.findings.map(\.kind))
        #expect(kinds.isSuperset(of: [.criticalVictim, .memcgLimitTight, .leakSuspect, .wrongVictim, .noSwap]))
        #expect(groups.findings.allSatisfy { $0.kind == .exhaustionPredicted || !$0.evidence.eventIDs.isEmpty })
    }

    @Test func oneHostAndAStraddlingWindowAgreeToo() async throws {
        let (db, dir) = try await seeded()
        defer { dir.cleanup() }
        for host in ["host-0", "host-4", "leaky-1"] {
            let (groups, daily) = try await both(since: Self.now - 20 * Self.day, host: host, on: db)
            #expect(groups == daily)
            #expect(!groups.findings.isEmpty)
        }
    }

    /// A window that ended in the past: groups with kills after it are read by day.
    @Test func aWindowInThePastCountsOnlyItsDays() async throws {
        let (db, dir) = try await seeded()
        defer { dir.cleanup() }
        let until = Self.now - 12 * Self.day - 5 * Self.hour
        func run(_ source: AdviceReader.Source) async throws -> AdviceReport {
            try await db.advice(
                since: until - 21 * Self.day, until: until, host: nil, settings: AdviceSettings(), limit: nil,
                now: Self.now, source: source)
        }
        let (groups, daily) = (try await run(.groups), try await run(.daily))
        #expect(groups == daily)
        #expect(groups.findings.contains { $0.kind == .memcgLimitTight })
        #expect(groups.findings.allSatisfy { ($0.evidence.last.flatMap { RFC3339.parse($0) } ?? 0) < until + Self.day })
    }

    /// Counted against the events themselves: the kills behind each group finding are
    /// those of the window's days (a plain scan of the events table).
    @Test func killCountsMatchAPlainScanOfTheEvents() async throws {
        let (db, dir) = try await seeded()
        defer { dir.cleanup() }
        let since = Self.now - 30 * Self.day
        let r = try await db.advice(since: since, until: Self.now, now: Self.now)
        let from = since / Self.day * Self.day
        var checked = 0
        for f in r.findings where f.kind == .memcgLimitTight {
            let n = try await db.write { d in
                try Int.fetchOne(
                    d,
                    sql: """
                        SELECT count(*) FROM events NOT INDEXED JOIN hosts ON hosts.id = events.host_id
                        WHERE hosts.name = ? AND memcg = ? AND time >= ? AND time < ?
                        """, arguments: [f.host, f.subject, from, Self.now])
            }
            #expect(f.evidence.values["kills"] == Double(n ?? -1), "\(f.host) \(f.subject)")
            checked += 1
        }
        #expect(checked >= 3)
    }

    /// A fleet advised in parts side by side (each a range of hosts read on its own) says
    /// what it says in one read: the same findings in the same order, the same total, with
    /// or without a limit, from the events, the daily rollup and the group rollup.
    @Test(arguments: [3, 8, 30, 60])
    func aFleetAdvisedInPartsSaysWhatOneReadSays(days: Int) async throws {
        let (db, dir) = try await seeded()
        defer { dir.cleanup() }
        let since = Self.now - Int64(days) * Self.day
        // Parts of 26 hosts: 7 ranges covering every id once; a fleet this small is not cut
        // unless asked, nor any fleet for one worker.
        let ranges = try await db.adviceRanges(7, workers: 2).compactMap { $0 }
        #expect(ranges.count == 7 && ranges.first?.lowerBound == .min && ranges.last?.upperBound == .max)
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound + 1 == $1.lowerBound })
        #expect(try await db.adviceRanges(nil, workers: 4) == [nil])
        #expect(try await db.adviceRanges(nil, workers: 1) == [nil])
        for source in [AdviceReader.Source.groups, .daily] {
            for limit in [nil, 4] as [Int?] {
                // 1, 2 or as many workers as cores (up to 4) for the ranges: fewer workers than
                // ranges take the next range as one finishes.
                func run(_ parts: Int) async throws -> AdviceReport {
                    var settings = AdviceSettings()
                    settings.parallelism = parts % 3
                    return try await db.advice(
                        since: since, until: Self.now, host: nil, settings: settings, limit: limit,
                        now: Self.now, source: source, parts: parts)
                }
                let whole = try await run(1)
                #expect(!whole.findings.isEmpty)
                for parts in [2, 3, 7] {
                    let cut = try await run(parts)
                    #expect(cut == whole, "\(parts) parts, \(days) days, limit \(limit ?? 0), \(source)")
                }
            }
        }
    }

    @Test func aLimitCutsTheListAndKeepsTheTotal() async throws {
        let (db, dir) = try await seeded()
        defer { dir.cleanup() }
        let since = Self.now - 30 * Self.day
        let all = try await db.advice(since: since, until: Self.now, now: Self.now)
        let cut = try await db.advice(since: since, until: Self.now, limit: 5, now: Self.now)
        #expect(all.total == all.findings.count && !all.truncated)
        #expect(cut.findings == Array(all.findings.prefix(5)))
        #expect(cut.total == all.total && cut.truncated)
        // Most severe first, then the most recent evidence first.
        for (a, b) in zip(all.findings, all.findings.dropFirst()) where a.severity == b.severity {
            let (ta, tb) = (
                a.evidence.last.flatMap { RFC3339.parse($0) }, b.evidence.last.flatMap { RFC3339.parse($0) }
            )
            if let ta, let tb { #expect(ta >= tb) }
            if ta == nil { #expect(tb == nil) }
        }
    }

    /// A database from before `v6-advice-speed`: the migration fills `advice_groups` from
    /// the events, and advice from it is the daily scan's.
    @Test func theMigrationBuildsTheGroupsFromTheEvents() async throws {
        let (db, dir) = try await seeded()
        defer { dir.cleanup() }
        try await db.write { d in
            try d.execute(
                sql: """
                    DROP TRIGGER IF EXISTS events_advice_groups_insert;
                    DROP TRIGGER events_advice_groups_delete;
                    DROP TABLE advice_groups;
                    DELETE FROM grdb_migrations
                    WHERE identifier IN ('v6-advice-speed', 'v7-ingest-fast', 'v8-advice-recent');
                    """)
        }
        let upgraded = try Fixture.collector(in: dir).database
        let groups = try await upgraded.write { d in try Int.fetchOne(d, sql: "SELECT count(*) FROM advice_groups") }
        #expect((groups ?? 0) > 50)
        for days in [30, 60] {
            let (a, b) = try await both(since: Self.now - Int64(days) * Self.day, on: upgraded)
            #expect(a == b)
            #expect(a.findings.count > 40)
        }
    }

    /// Groups whose kept evidence days (`advice_groups.recent`) are not those their
    /// `advice_daily` days give: the newest five days' latest kills, newest first (none kept
    /// for global groups).
    static func wrongRecent(_ db: OOMDatabase) async throws -> Int {
        try await db.write { d in
            try Int.fetchOne(
                d,
                sql: """
                    SELECT count(*) FROM advice_groups g WHERE g.recent IS NOT CASE WHEN g.kind <> 'global' THEN (
                        SELECT group_concat(last_event || char(30) || last_comm, char(31)) FROM (
                            SELECT d.last_event, coalesce(d.last_comm, '') AS last_comm FROM advice_daily d
                            WHERE d.host_id = g.host_id AND d.kind = g.kind AND d.key = g.key AND d.kills > 0
                                AND d.last_event <> ''
                            ORDER BY d.day DESC LIMIT 5)) END
                    """) ?? -1
        }
    }

    /// The ingest writer keeps each group's evidence days as its days change: kills arriving
    /// newest first and oldest first, several a day, in batches of their own, then retention
    /// deleting the oldest; and `v8-advice-recent` fills them for a database from before it.
    @Test func theGroupsKeepTheirEvidenceDays() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        var seq = Seq(state: 7)
        // Days 20..1 ago, in an order that sends later days before earlier ones and back.
        let days: [Int64] = (1...20).map { Int64($0) }.sorted { ($0 * 7) % 13 < ($1 * 7) % 13 }
        for (n, day) in days.enumerated() {
            var events: [OOMEvent] = []
            for k in 0..<(1 + seq.next(3)) {
                let at: Int64 = Self.now - day * Self.day + Int64(seq.next(3600)) * 1_000_000
                var e = Fixture.event(
                    "late-\(n)-\(k)", host: "h", comm: k == 0 ? "java" : "python3", pid: 100 + k,
                    time: AdviceStoreTests.time(at), rss: 300_000, scope: .memcg)
                var m = OOMEvent.Memcg()
                m.oom = "/system.slice/app.service"
                m.limitKB = 512_000
                e.memcg = m
                events.append(e)
            }
            _ = try await db.ingest(Fixture.batch(host: "h", events: events), receivedAt: Self.now)
        }
        try await db.settleRollups()
        #expect(try await Self.wrongRecent(db) == 0)
        let filled = try await db.write { d in
            try String.fetchOne(d, sql: "SELECT recent FROM advice_groups WHERE kind = 'memcg'")
        }
        #expect(filled?.split(separator: "\u{1f}").count == 5)
        var policy = RetentionPolicy()
        policy.eventDays = 4
        _ = try await db.applyRetention(policy, now: Self.now)
        #expect(try await Self.wrongRecent(db) == 0)
        // A database from before v8: the column gone, then back and filled by the migration.
        try await db.write { d in
            try d.execute(
                sql: """
                    ALTER TABLE advice_groups DROP COLUMN recent;
                    DELETE FROM grdb_migrations WHERE identifier = 'v8-advice-recent';
                    """)
        }
        let upgraded = try Fixture.collector(in: dir).database
        #expect(try await Self.wrongRecent(upgraded) == 0)
        let kept = try await upgraded.write { d in
            try Int.fetchOne(d, sql: "SELECT count(*) FROM advice_groups WHERE recent IS NOT NULL")
        }
        #expect((kept ?? 0) >= 3)
    }

    @Test func theGroupRollupIsReadByKeyAndIndex() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let straddler = try db.explain(
            "SELECT sum(kills) FROM advice_daily WHERE host_id = 1 AND kind = 'comm' AND key = 'a' AND day >= 1 AND day < 9 AND kills > 0"
        ).joined(separator: "; ")
        #expect(
            straddler.contains(
                "SEARCH advice_daily USING PRIMARY KEY (host_id=? AND kind=? AND key=? AND day>? AND day<?)"),
            "\(straddler)")
        let oneHost = try db.explain(
            "SELECT kills FROM advice_groups WHERE last_time >= 1 AND first_time < 9 AND host_id = 3 AND (kills >= 3 OR kind = 'global')"
        ).joined(separator: "; ")
        #expect(oneHost.contains("SEARCH advice_groups USING PRIMARY KEY (host_id=?)"), "\(oneHost)")
    }
}

@Suite struct AdviceLimitRouteTests {
    @Test func theRouteCutsAtItsLimitAndSaysSo() async throws {
        try await withRouter { client, collector in
            let now = nowMicroseconds()
            var events: [OOMEvent] = []
            for (i, comm) in ["sshd", "systemd-journal"].enumerated() {
                var e = Fixture.event(
                    "crit-\(i)", comm: comm, time: RFC3339.format(epochMicroseconds: now - Int64(i + 1) * 3_600_000_000)
                )
                e.scope = .global
                events.append(e)
            }
            _ = try await collector.database.ingest(Fixture.batch(events: events))
            let read = Fixture.headers(Fixture.readToken)
            try await client.execute(uri: "/api/v1/reports/advice?limit=1", method: .get, headers: read) { r in
                #expect(r.status == .ok)
                let report = try Fixture.decode(AdviceReport.self, r.body)
                #expect(report.findings.count == 1 && report.total == 2 && report.truncated)
                // The newest kill's finding comes first.
                #expect(report.findings.first?.evidence.eventIDs == ["crit-0"])
                #expect(String(buffer: r.body).contains(#""truncated":true"#))
            }
            try await client.execute(uri: "/api/v1/reports/advice", method: .get, headers: read) { r in
                let report = try Fixture.decode(AdviceReport.self, r.body)
                #expect(report.findings.count == 2 && !report.truncated)
            }
            for bad in ["0", "100001", "ten"] {
                try await client.execute(uri: "/api/v1/reports/advice?limit=\(bad)", method: .get, headers: read) { r in
                    #expect(r.status == .badRequest)
                    #expect(Fixture.message(r.body).contains("limit"))
                }
            }
        }
    }
}
