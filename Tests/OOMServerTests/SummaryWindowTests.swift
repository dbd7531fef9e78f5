import Foundation
import GRDB
import OOMKit
import OOMServer
import OOMStore
import Testing

/// The summary at any window, read from the per-day rollups, against a plain SQL scan of
/// the events table.
@Suite("Summary at any window equals a plain scan of events")
struct SummaryWindowTests {
    static let day: Int64 = 86_400_000_000
    static let base = t("2026-11-01T00:00:00Z")

    /// A deterministic generator, so a failing window can be replayed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// 40 hosts, 3,000 kills over 20 days, skewed towards a few hosts and names, stored
    /// through the ingest path (rollups written as in production), the first two days
    /// then deleted by retention (rollups counted down by the trigger).
    static func seeded(in dir: TempDir) async throws -> OOMDatabase {
        let db = try Fixture.collector(in: dir).database
        var rng = SplitMix(state: 42)
        let comms = ["java", "python3", "node", "postgres", "redis", "nginx", "worker-1", "worker-2"]
        var n = 0
        for batch in 0..<60 {
            let u = Double.random(in: 0..<1, using: &rng)
            let host = "h\(Int(u * u * 40))"
            var events: [OOMEvent] = []
            for _ in 0..<50 {
                n += 1
                let v = Double.random(in: 0..<1, using: &rng)
                // Half the kills on a whole hour, so window bounds and midnights fall on them.
                let hour = Int64.random(in: 0..<(20 * 24), using: &rng) * 3_600_000_000
                let time = base + hour + (n % 2 == 0 ? 0 : Int64.random(in: 0..<3_600_000_000, using: &rng))
                let source: OOMEvent.Source = n % 11 == 0 ? .systemdOomd : (n % 17 == 0 ? .earlyoom : .kernel)
                let scope: OOMEvent.Scope? = source != .kernel ? nil : (n % 3 == 0 ? .memcg : .global)
                events.append(
                    Fixture.event(
                        "w\(batch)-\(n)", host: host, comm: comms[Int(v * v * Double(comms.count))],
                        time: RFC3339.format(epochMicroseconds: time), rss: Int64(n * 7 + 1),
                        unit: n % 4 == 0 ? "u\(n % 5).service" : nil,
                        container: n % 6 == 0 ? "c\(n % 9)" : nil, scope: scope, source: source))
            }
            _ = try await db.ingest(Fixture.batch(host: host, events: events))
        }
        var policy = RetentionPolicy()
        policy.eventDays = 18
        _ = try await db.applyRetention(policy, now: base + 20 * day)
        return db
    }

    /// What the report must say, computed by plain GROUP BYs over `events`.
    static func scan(_ db: OOMDatabase, since: Int64, until: Int64) async throws -> SummaryReport {
        try await db.write { d in
            let w: StatementArguments = [since, until]
            let inWindow = "FROM events WHERE time >= ? AND time < ?"
            func counts(_ expr: String) throws -> [String: Int] {
                var out: [String: Int] = [:]
                for row in try Row.fetchAll(
                    d, sql: "SELECT \(expr) AS k, count(*) AS n \(inWindow) GROUP BY 1", arguments: w)
                {
                    out[row["k"]] = row["n"]
                }
                return out
            }
            func top(_ expr: String, having: Int = 1) throws -> [CountRow] {
                try Row.fetchAll(
                    d,
                    sql: """
                        SELECT \(expr) AS k, count(*) AS n, max(time) AS last \(inWindow) AND \(expr) IS NOT NULL
                        GROUP BY 1 HAVING count(*) >= \(having) ORDER BY n DESC, k LIMIT 20
                        """, arguments: w
                ).map {
                    CountRow(key: $0["k"], kills: $0["n"], lastKill: RFC3339.format(epochMicroseconds: $0["last"]))
                }
            }
            func name(_ id: String) throws -> String {
                try String.fetchOne(d, sql: "SELECT name FROM hosts WHERE id = ?", arguments: [id]) ?? "?"
            }
            let offenders = try top("host_id || char(9) || comm", having: 3).map { row in
                let parts = row.key.split(separator: "\t")
                let first = try Int64.fetchOne(
                    d, sql: "SELECT min(time) \(inWindow) AND host_id = ? AND comm = ?",
                    arguments: [since, until, String(parts[0]), String(parts[1])])!
                return RepeatOffender(
                    host: try name(String(parts[0])), comm: String(parts[1]), kills: row.kills,
                    firstKill: RFC3339.format(epochMicroseconds: first), lastKill: row.lastKill)
            }
            let victims = try Row.fetchAll(
                d,
                sql: """
                    SELECT event_id, host_id, time, source, pid, comm, rss_kb, unit, container \(inWindow)
                    ORDER BY rss_kb DESC, time DESC LIMIT 10
                    """, arguments: w
            ).map {
                VictimRow(
                    id: $0["event_id"], host: try name(String($0["host_id"] as Int64)),
                    time: RFC3339.format(epochMicroseconds: $0["time"]), source: $0["source"], pid: $0["pid"],
                    comm: $0["comm"], rssKB: $0["rss_kb"], unit: $0["unit"], containerID: $0["container"])
            }
            let days = try Row.fetchAll(
                d, sql: "SELECT time / 86400000000 AS day, count(*) AS n \(inWindow) GROUP BY 1 ORDER BY 1",
                arguments: w
            ).map {
                DayCount(
                    day: String(RFC3339.format(epochMicroseconds: ($0["day"] as Int64) * day).prefix(10)),
                    kills: $0["n"])
            }
            return SummaryReport(
                since: "", until: "", generatedAt: "",
                totals: .init(
                    kills: try Int.fetchOne(d, sql: "SELECT count(*) \(inWindow)", arguments: w)!,
                    hosts: try Int.fetchOne(d, sql: "SELECT count(*) FROM hosts")!,
                    hostsWithKills: try Int.fetchOne(
                        d, sql: "SELECT count(DISTINCT host_id) \(inWindow)", arguments: w)!,
                    staleHosts: 0, bySource: try counts("source"),
                    byScope: try counts("coalesce(scope, 'unknown')")),
                byHost: try top("CAST(host_id AS TEXT)").map {
                    CountRow(key: try name($0.key), kills: $0.kills, lastKill: $0.lastKill)
                },
                byComm: try top("comm"), byUnit: try top("unit"), byContainer: try top("container"),
                byDay: days, largestVictims: victims, repeatOffenders: offenders)
        }
    }

    static func expectSame(_ db: OOMDatabase, since: Int64, until: Int64) async throws {
        var got = try await db.summary(since: since, until: until, now: base + 20 * day)
        let want = try await scan(db, since: since, until: until)
        let window = "\(RFC3339.format(epochMicroseconds: since)) – \(RFC3339.format(epochMicroseconds: until))"
        (got.since, got.until, got.generatedAt, got.totals.staleHosts) = ("", "", "", 0)
        got.hostsAtRisk = []
        #expect(got.totals == want.totals, "\(window)")
        #expect(got.byHost == want.byHost, "\(window)")
        #expect(got.byComm == want.byComm, "\(window)")
        #expect(got.byUnit == want.byUnit, "\(window)")
        #expect(got.byContainer == want.byContainer, "\(window)")
        #expect(got.byDay == want.byDay, "\(window)")
        #expect(got.repeatOffenders == want.repeatOffenders, "\(window)")
        #expect(got.largestVictims == want.largestVictims, "\(window)")
    }

    @Test func randomWindowsMatchAPlainScan() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try await Self.seeded(in: dir)
        var rng = SplitMix(state: 7)
        let start = Self.base - 2 * Self.day
        let end = Self.base + 23 * Self.day
        var windows: [(Int64, Int64)] = [
            (start, end),  // everything
            (Self.base + 3 * Self.day, Self.base + 10 * Self.day),  // whole days only
            (Self.base + 5 * Self.day + 1, Self.base + 6 * Self.day - 1),  // inside one day
            (Self.base + 4 * Self.day, Self.base + 4 * Self.day),  // empty
            (start - 10 * Self.day, start),  // before any kill
            (Self.base + 19 * Self.day + 3_600_000_000, Self.base + 20 * Self.day),  // since=Nh
        ]
        for i in 0..<40 {
            var a = Int64.random(in: start..<end, using: &rng)
            var b = Int64.random(in: start..<end, using: &rng)
            if i % 2 == 0 {  // on whole hours, where kills are
                a -= a % 3_600_000_000
                b -= b % 3_600_000_000
            }
            windows.append((min(a, b), max(a, b)))
        }
        for (since, until) in windows {
            try await Self.expectSame(db, since: since, until: until)
        }
    }
}

@Suite("A database written by the previous release")
struct MigrationTests {
    /// `Fixtures/v5-database.sqlite`: made by the collector before v6-event-ingest (60
    /// kills of 4 hosts ingested over HTTP, rollups kept by the old insert trigger).
    @Test func v5DatabaseOpensWithRollupsRebuilt() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let source = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/v5-database.sqlite")
        try FileManager.default.createDirectory(atPath: dir.path + "/db", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source.path, toPath: dir.path + "/db/oomwatch.sqlite")
        let db = try Fixture.collector(in: dir).database
        let (migrations, indexes, events, daily, totals, trigger) = try await db.write { d in
            (
                try String.fetchAll(d, sql: "SELECT identifier FROM grdb_migrations"),
                try String.fetchAll(
                    d,
                    sql: """
                        SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'
                            AND sql IS NOT NULL ORDER BY 1
                        """),
                try Int.fetchOne(d, sql: "SELECT count(*) FROM events")!,
                try Int.fetchOne(d, sql: "SELECT sum(kills) FROM kill_daily WHERE dim = 'comm'")!,
                try Int.fetchOne(d, sql: "SELECT sum(kills) FROM kill_totals WHERE dim = 'hostcomm'")!,
                try Int.fetchOne(
                    d, sql: "SELECT count(*) FROM sqlite_master WHERE name = 'events_rollup_insert'")!
            )
        }
        #expect(migrations.contains("v5-alert-outbox") && migrations.contains("v6-event-ingest"))
        // v11 leaves the indexes a new database has: no unit, container, memcg or global one.
        #expect(indexes == ["events_comm", "events_host_time", "events_rss", "events_time_cover"], "\(indexes)")
        #expect(events == 60)
        #expect(daily == 60)
        #expect(totals == 60)
        #expect(trigger == 0)
        // New kills are counted by the ingest writer, a re-sent one once, in the advice
        // rollups too (v7-ingest-fast dropped the insert triggers that also counted them).
        let adviceKills = "SELECT sum(kills) FROM advice_groups WHERE kind = 'comm'"
        let adviceBefore = try await db.write { d in try Int.fetchOne(d, sql: adviceKills) ?? 0 }
        let kill = Fixture.event("after-migration", host: "old-1", time: "2026-11-12T08:00:00Z")
        _ = try await db.ingest(Fixture.batch(host: "old-1", events: [kill]))
        _ = try await db.ingest(Fixture.batch(host: "old-1", events: [kill]))
        try await db.settleRollups()
        let (adviceAfter, leftovers) = try await db.write { d in
            (
                try Int.fetchOne(d, sql: adviceKills) ?? 0,
                try String.fetchAll(
                    d,
                    sql: """
                        SELECT name FROM sqlite_master
                        WHERE name IN ('events_advice_insert', 'events_advice_groups_insert', 'events_time')
                        """)
            )
        }
        #expect(adviceBefore == 60 && adviceAfter == 61)
        #expect(leftovers.isEmpty, "\(leftovers)")
        let base = t("2026-11-01T00:00:00Z")
        for (since, until) in [
            (base, base + 30 * SummaryWindowTests.day),
            (base + 11 * SummaryWindowTests.day + 5_000_000, base + 13 * SummaryWindowTests.day + 7),
        ] {
            try await SummaryWindowTests.expectSame(db, since: since, until: until)
        }
        let r = try await db.summary(since: base, until: base + 30 * SummaryWindowTests.day)
        #expect(r.totals.kills == 61)
    }
}
