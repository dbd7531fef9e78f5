import Foundation
import GRDB
import OOMKit
import OOMServer
import OOMStore
import Testing

/// The event write path of v7-ingest-fast: advice rollups written once per group and
/// round by the ingest writer, events inserted many rows per statement, and only the
/// indexes some query reads.
@Suite struct IngestFastTests {
    /// 16 hosts posting at once (so rounds hold several batches), with kills on shared
    /// days, equal times, equal shield ratios, memcg limits that change, ids repeated in a
    /// batch and across batches: every way the one-kill-at-a-time fold could differ from
    /// the per-round one.
    static func post(to db: OOMDatabase) async throws -> Int {
        let base = t("2026-11-10T00:00:00Z")
        let comms = ["java", "node", "sshd"]
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for h in 0..<16 {
                group.addTask {
                    var stored = 0
                    for b in 0..<6 {
                        var events: [OOMEvent] = []
                        for k in 0..<12 {
                            let n = b * 12 + k
                            // Two kills share every time: the later one stored must win the tie.
                            let at = base + Int64((n / 2) % 20) * 7_200_000_000
                            var e = Fixture.event(
                                "h\(h)-\(n % 50)", host: "host-\(h % 8)", comm: comms[n % 3], pid: n,
                                time: RFC3339.format(epochMicroseconds: at), rss: Int64(1_000 * (1 + n % 4)),
                                scope: n % 2 == 0 ? .memcg : .global)
                            if n % 2 == 0 {
                                var m = OOMEvent.Memcg()
                                m.oom = "/app-\(n % 3)"
                                m.usageKB = Int64(500 + n)
                                m.limitKB = n % 5 == 0 ? nil : Int64(1_000 + n % 7)
                                e.memcg = m
                            } else if n % 3 != 0 {
                                var big = OOMEvent.Candidate(pid: 9, name: "mysqld")
                                big.rssPages = Int64(250 * (1 + n % 2))
                                big.oomScoreAdj = -900
                                e.candidates = [big]
                            }
                            events.append(e)
                        }
                        events.append(events[0])  // the same id twice in one batch
                        let r = try await db.ingest(Fixture.batch(host: "host-\(h % 8)", events: events))
                        stored += r.eventsStored
                    }
                    return stored
                }
            }
            var total = 0
            for try await n in group { total += n }
            return total
        }
    }

    /// What the per-kill triggers made of the stored kills, computed from `events` in the
    /// order they were stored (`id`): sums and extremes, the latest limit of a day and the
    /// largest of a group, the first kill with the best ratio, the last stored latest kill.
    static func expected(daily: Bool) -> String {
        let day = daily ? ", day" : ""
        // The rows of one output row's group, in the order they were stored.
        let same = "x.host_id = g.host_id AND x.kind = g.kind AND x.key = g.key" + (daily ? " AND x.day = g.day" : "")
        let limit =
            daily
            ? "(SELECT memcg_limit_kb FROM g x WHERE \(same) AND memcg_limit_kb IS NOT NULL ORDER BY id DESC LIMIT 1)"
            : "max(memcg_limit_kb)"
        let latest = "FROM g x WHERE \(same) ORDER BY time DESC, id DESC LIMIT 1"
        let last = daily ? ", (SELECT event_id \(latest)), (SELECT comm \(latest))" : ""
        let columns = "id, host_id, time, rss_kb, memcg_usage_kb, memcg_limit_kb, shield_rss_kb, event_id, comm"
        return """
            WITH g AS (
                SELECT 'comm' AS kind, comm AS key, time / 86400000000 AS day, \(columns) FROM events
                UNION ALL SELECT 'memcg', memcg, time / 86400000000, \(columns) FROM events WHERE memcg IS NOT NULL
                UNION ALL SELECT 'global', '', time / 86400000000, \(columns) FROM events WHERE scope = 'global')
            SELECT host_id, kind, key\(day), count(*), min(time), max(time), sum(rss_kb) * 1.0,
                sum(rss_kb * 1.0 * rss_kb), min(rss_kb), max(rss_kb), max(memcg_usage_kb), \(limit),
                max(shield_rss_kb * 1.0 / max(rss_kb, 1)),
                (SELECT event_id FROM g x WHERE \(same) AND x.shield_rss_kb IS NOT NULL
                    ORDER BY x.shield_rss_kb * 1.0 / max(x.rss_kb, 1) DESC, id LIMIT 1)\(last)
            FROM g GROUP BY host_id, kind, key\(day) ORDER BY host_id, kind, key\(day)
            """
    }

    static let storedDaily = """
        SELECT host_id, kind, key, day, kills, first_time, last_time, sum_rss, sum_rss2, min_rss, max_rss,
            max_usage_kb, limit_kb, best_ratio, best_event, last_event, last_comm
        FROM advice_daily ORDER BY host_id, kind, key, day
        """
    static let storedGroups = """
        SELECT host_id, kind, key, kills, first_time, last_time, sum_rss, sum_rss2, min_rss, max_rss,
            max_usage_kb, limit_kb, best_ratio, best_event
        FROM advice_groups ORDER BY host_id, kind, key
        """

    static func rows(_ db: OOMDatabase, _ sql: String) async throws -> [[DatabaseValue]] {
        try await db.write { d in try Row.fetchAll(d, sql: sql).map { Array($0.databaseValues) } }
    }

    @Test func adviceRollupsPerRoundEqualTheOldPerKillTriggers() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let stored = try await Self.post(to: db)
        let events = try await db.write { d in try Int.fetchOne(d, sql: "SELECT count(*) FROM events")! }
        #expect(stored == events && events == 16 * 50)
        // Folded in the order stored, however the batches were grouped into rounds.
        try await db.settleRollups()
        let daily = try await Self.rows(db, Self.storedDaily)
        let groups = try await Self.rows(db, Self.storedGroups)
        #expect(daily.count > 100 && groups.count > 20)
        #expect(daily == (try await Self.rows(db, Self.expected(daily: true))))
        #expect(groups == (try await Self.rows(db, Self.expected(daily: false))))
    }

    @Test func theInsertTriggersAreGoneAndEveryEventsIndexIsRead() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let (triggers, indexes) = try await db.write { d in
            (
                try String.fetchAll(
                    d, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events' ORDER BY 1"),
                try String.fetchAll(
                    d,
                    sql: """
                        SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'
                            AND sql IS NOT NULL ORDER BY 1
                        """)
            )
        }
        // Insert triggers would do per kill what the writer does per round; deletes
        // (retention) still count down through triggers.
        #expect(triggers.allSatisfy { $0.hasSuffix("_delete") }, "\(triggers)")
        // Each index on events with a query that reads it (the query the code runs, or
        // its shape): an index no query reads only slows every insert.
        let readers = [
            "events_comm": "SELECT min(time) FROM events WHERE comm = 'a' AND host_id = 1 AND time >= 0 AND time < 1",
            "events_host_time":
                "SELECT id, time, json FROM events WHERE host_id = 1 AND time < 5 ORDER BY time DESC, id DESC LIMIT 10",
            "events_rss":
                "SELECT event_id FROM events INDEXED BY events_rss WHERE time >= 0 AND time < 9 ORDER BY rss_kb DESC, time DESC LIMIT 10",
            "events_time_cover":
                "SELECT time, host_id, comm, source, scope, unit, container FROM events WHERE time >= 0 AND time < 1",
        ]
        #expect(indexes == readers.keys.sorted())
        for (index, query) in readers {
            let plan = try db.explain(query).joined(separator: "; ")
            let words = plan.split { $0 == " " || $0 == ";" }
            #expect(words.contains(Substring(index)), "\(index): \(plan)")
        }
        // The rare filters with no index of their own (v11) read the covering time index,
        // newest first, never the whole table and never a whole sort (only ties in time are
        // ordered by id).
        for query in [
            "SELECT id FROM events WHERE unit = 'a.service' AND time < 5 ORDER BY time DESC, id DESC LIMIT 10",
            "SELECT id FROM events WHERE container = 'abc' AND time < 5 ORDER BY time DESC, id DESC LIMIT 10",
            "SELECT event_id FROM events INDEXED BY events_host_time WHERE host_id = 1 AND memcg = 'a' AND time >= 0 AND time < 1 ORDER BY time DESC LIMIT 5",
        ] {
            let plan = try db.explain(query).joined(separator: "; ")
            #expect(plan.hasPrefix("SEARCH events USING"), "\(query): \(plan)")
            #expect(!plan.contains("TEMP B-TREE FOR ORDER BY"), "\(query): \(plan)")
        }
    }
}
