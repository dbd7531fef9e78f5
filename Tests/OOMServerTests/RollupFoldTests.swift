import Foundation
import GRDB
import OOMKit
import OOMStore
import Testing

/// The kill and advice rollups are filled after COMMIT (`RollupFold`): an acknowledged
/// kill waits in `events` past `rollup_mark.folded` until ingest is quiet, too many wait,
/// a report reads the rollups, or retention deletes events.
@Suite("Kill rollups folded after COMMIT, on real SQLite files")
struct RollupFoldTests {
    /// A store whose quiet timer never fires within a test.
    static func open(_ dir: TempDir, bound: Int = 50_000, quiet: Duration = .seconds(3600)) throws -> OOMDatabase {
        var c = StoreConfiguration(path: dir.path + "/fold.sqlite")
        c.synchronousFull = false
        c.maxUnfoldedEvents = bound
        c.rollupQuiet = quiet
        return try OOMDatabase(configuration: c, logger: Fixture.logger)
    }

    struct Counts: Equatable {
        var events: Int
        /// Kills as each rollup counts them.
        var hostTotals: Int
        var commDays: Int
        var days: Int
        var counters: Int
        var adviceDays: Int
        var adviceGroups: Int
        var mark: Int64
        var largestID: Int64

        /// Every rollup counts every stored kill, and the mark is past all of them.
        var settled: Bool {
            [hostTotals, commDays, days, adviceDays, adviceGroups].allSatisfy { $0 == events } && mark == largestID
        }
    }

    static func counts(_ db: OOMDatabase) async throws -> Counts {
        try await db.write { d in
            func int(_ sql: String) throws -> Int64 { try Int64.fetchOne(d, sql: sql) ?? 0 }
            return Counts(
                events: Int(try int("SELECT count(*) FROM events")),
                hostTotals: Int(try int("SELECT coalesce(sum(kills), 0) FROM kill_totals WHERE dim = 'host'")),
                commDays: Int(try int("SELECT coalesce(sum(kills), 0) FROM kill_daily WHERE dim = 'comm'")),
                days: Int(try int("SELECT coalesce(sum(kills), 0) FROM kill_days")),
                counters: Int(try int("SELECT coalesce(sum(kills), 0) FROM kill_counters")),
                adviceDays: Int(try int("SELECT coalesce(sum(kills), 0) FROM advice_daily WHERE kind = 'comm'")),
                adviceGroups: Int(try int("SELECT coalesce(sum(kills), 0) FROM advice_groups WHERE kind = 'comm'")),
                mark: try int("SELECT folded FROM rollup_mark"),
                largestID: try int("SELECT coalesce(max(id), 0) FROM events"))
        }
    }

    static func events(_ prefix: String, _ n: Int, time: String = "2026-11-20T10:00:00Z") -> [OOMEvent] {
        (0..<n).map { Fixture.event("\(prefix)-\($0)", comm: "c\($0 % 4)", pid: 100 + $0, time: time) }
    }

    @Test func acknowledgedKillsWaitAndTheFirstReportAfterARestartCountsThem() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        do {
            let db = try Self.open(dir)
            let outcome = try await db.ingest(Fixture.batch(host: "web-1", events: Self.events("a", 30)))
            #expect(outcome.eventsStored == 30)
            // Committed and acknowledged, not in the rollups yet.
            let c = try await Self.counts(db)
            #expect(c.events == 30 && c.hostTotals == 0 && c.mark == 0)
        }
        // A new process on the same file (as after a crash): the kills still wait.
        let db = try Self.open(dir)
        let report = try await db.summary(since: 0, until: 4_000_000_000_000_000)
        #expect(report.totals.kills == 30)
        #expect(report.byComm.map(\.kills).reduce(0, +) == 30)
        let c = try await Self.counts(db)
        #expect(c.settled, "\(c)")
        #expect(c.counters == 30)
        // A second report folds nothing twice.
        let again = try await db.summary(since: 0, until: 4_000_000_000_000_000)
        #expect(again.totals.kills == 30)
        #expect(try await Self.counts(db) == c)
    }

    @Test func aRoundFoldsFirstOnceTooManyKillsWait() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Self.open(dir, bound: 25)
        for i in 0..<3 {
            _ = try await db.ingest(Fixture.batch(host: "web-1", events: Self.events("r\(i)", 10)))
        }
        // 30 waiting, over the bound of 25 only after the third round.
        #expect(try await Self.counts(db).hostTotals == 0)
        _ = try await db.ingest(Fixture.batch(host: "web-1", events: Self.events("r3", 10)))
        let c = try await Self.counts(db)
        #expect(c.events == 40 && c.hostTotals == 30 && c.adviceDays == 30)
        try await db.settleRollups()
        #expect(try await Self.counts(db).settled)
    }

    /// Quiet means no kills: snapshots keep arriving every 20 ms, more often than the 50 ms
    /// the fold waits for, as they do from a large fleet.
    @Test func aCollectorFoldsOnItsOwnOnceKillsStopWhileSnapshotsGoOn() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Self.open(dir, quiet: .milliseconds(50))
        _ = try await db.ingest(Fixture.batch(host: "web-1", events: Self.events("q", 12)))
        var c = try await Self.counts(db)
        for i in 0..<200 where !c.settled {
            let time = RFC3339.format(epochMicroseconds: 1_795_000_000_000_000 + Int64(i) * 10_000_000)
            _ = try await db.ingest(
                Fixture.batch(host: "web-2", snapshots: [Fixture.snapshot(host: "web-2", time: time)]))
            try await Task.sleep(for: .milliseconds(20))
            c = try await Self.counts(db)
        }
        #expect(c.settled, "\(c)")
    }

    @Test func retentionCountsDownOnlyFoldedKillsAndANewKillAfterTheLargestIDGoesIsFolded() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Self.open(dir)
        let old = "2026-01-01T10:00:00Z"
        _ = try await db.ingest(
            Fixture.batch(host: "web-1", events: Self.events("new", 5) + Self.events("old", 4, time: old)))
        try await db.settleRollups()
        // Waiting when retention runs, and the last one stored holds the largest id.
        _ = try await db.ingest(Fixture.batch(host: "web-2", events: Self.events("late-old", 3, time: old)))
        var policy = RetentionPolicy()
        policy.eventDays = 30
        let outcome = try await db.applyRetention(policy, now: 1_795_000_000_000_000)
        #expect(outcome.events == 7)
        var c = try await Self.counts(db)
        #expect(c.events == 5)
        #expect(c.settled, "\(c)")
        // SQLite gives the next kill the largest id left plus one: at or below the old mark.
        _ = try await db.ingest(Fixture.batch(host: "web-1", events: Self.events("next", 1)))
        try await db.settleRollups()
        c = try await Self.counts(db)
        #expect(c.events == 6)
        #expect(c.settled, "\(c)")
    }
}
