import Foundation
import Hummingbird
import HummingbirdTesting
import OOMKit
import OOMServer
import OOMStore
import Testing

/// Advice from a real SQLite file, fed only through ingest: the rollups, process runs and
/// system facts the rules read are all written by the ingest path.
@Suite struct AdviceStoreTests {
    static let hour: Int64 = 3_600_000_000
    /// 2026-11-20T14:30:00Z: mid-day, so windows have partial days at both edges.
    static let now = t("2026-11-20T14:30:00Z")

    static func time(_ us: Int64) -> String { RFC3339.format(epochMicroseconds: us) }

    static func process(_ comm: String, pid: Int, rssKB: Int64, started: Int64) -> ProcessSample {
        var p = ProcessSample(pid: pid, comm: comm, rssKB: rssKB)
        p.startedAt = time(started)
        return p
    }

    /// `runs` lifetimes of `comm`, each sampled every 10 minutes growing `slopeKBh` from
    /// 100 MB until a memcg kill at `limitKB`, the last run ending `endHoursAgo` ago.
    static func memcgRuns(
        host: String, comm: String, cgroup: String, runs: Int, slopeKBh: Double, limitKB: Int64,
        hoursPerRun: Double, endHoursAgo: Double
    ) -> IngestBatch {
        var snaps: [MemorySnapshot] = []
        var events: [OOMEvent] = []
        let start = now - Int64((endHoursAgo + hoursPerRun * Double(runs)) * Double(hour))
        for r in 0..<runs {
            let runStart = start + Int64(Double(r) * hoursPerRun * Double(hour))
            let samples = Int(hoursPerRun * 6)
            var rss: Int64 = 0
            for i in 0..<samples {
                let at = runStart + Int64(i) * hour / 6
                // Flat processes wobble a little; growing ones grow.
                rss = 100_000 + Int64(slopeKBh * Double(i) / 6) + (i % 2 == 0 ? 500 : -500)
                snaps.append(
                    Fixture.snapshot(
                        host: host, time: time(at), total: 8_000_000, available: 4_000_000,
                        processes: [process(comm, pid: 1000 + r, rssKB: rss, started: runStart)]))
            }
            var e = Fixture.event(
                "\(host)-\(comm)-\(r)", host: host, comm: comm, pid: 1000 + r,
                time: time(runStart + Int64(samples) * hour / 6), rss: slopeKBh > 0 ? limitKB - 2000 : rss,
                scope: .memcg)
            var m = OOMEvent.Memcg()
            m.oom = cgroup
            m.task = cgroup
            m.usageKB = limitKB
            m.limitKB = limitKB
            e.memcg = m
            events.append(e)
        }
        return Fixture.batch(host: host, events: events, snapshots: snaps)
    }

    /// A host with one global kill, no swap, sshd unprotected, no userspace killer, and
    /// pressure in the hour before the kill.
    static func exposedHost() -> IngestBatch {
        var snap = Fixture.snapshot(
            host: "exposed", time: time(now - 2 * hour), total: 8_000_000, available: 200_000, fullAvg60: 35)
        snap.memory["swap_total_kb"] = 0
        snap.memory["committed_as_kb"] = 6_000_000
        snap.sysctl = OOMSysctls(overcommitMemory: 0, swappiness: 60)
        snap.swaps = []
        snap.zram = []
        snap.userspaceKillers = UserspaceKillers(systemdOomd: false, earlyoom: false)
        var sshd = CriticalProcess(service: "sshd", pid: 700, comm: "sshd")
        sshd.oomScoreAdj = 0
        sshd.unit = "ssh.service"
        snap.critical = [sshd]
        var kill = Fixture.event(
            "exposed-1", host: "exposed", comm: "cron", pid: 55, time: time(now - hour - hour / 2), rss: 20_000)
        var big = OOMEvent.Candidate(pid: 9, name: "mysqld")
        big.rssPages = 1_500_000
        big.oomScoreAdj = -1000
        var small = OOMEvent.Candidate(pid: 55, name: "cron")
        small.rssPages = 5000
        small.oomScoreAdj = 0
        kill.candidates = [big, small]
        return Fixture.batch(host: "exposed", events: [kill], snapshots: [snap])
    }

    static func healthyHost() -> IngestBatch {
        var snaps: [MemorySnapshot] = []
        for i in 0..<36 {
            var s = Fixture.snapshot(
                host: "healthy", time: time(now - Int64(i) * hour / 3), total: 8_000_000, available: 5_000_000,
                fullAvg60: 0.1, processes: [process("nginx", pid: 10, rssKB: 50_000, started: now - 30 * hour)])
            s.memory["swap_total_kb"] = 0
            snaps.append(s)
        }
        // One kill of a stable process, and a batch job killed at its limit once.
        var once = Fixture.event(
            "healthy-1", host: "healthy", comm: "nginx", pid: 10, time: time(now - 5 * hour), rss: 50_000, scope: .memcg
        )
        var m = OOMEvent.Memcg()
        m.oom = "/batch/nightly"
        m.usageKB = 1_000_000
        m.limitKB = 1_000_000
        once.memcg = m
        return Fixture.batch(host: "healthy", events: [once], snapshots: snaps)
    }

    func seeded() async throws -> (OOMDatabase, TempDir) {
        let dir = try TempDir()
        let db = try Fixture.collector(in: dir).database
        for b in [
            Self.memcgRuns(
                host: "leaky", comm: "worker", cgroup: "/system.slice/worker.service", runs: 4,
                slopeKBh: 200_000, limitKB: 512_000, hoursPerRun: 2, endHoursAgo: 1),
            Self.memcgRuns(
                host: "tight", comm: "postgres", cgroup: "/system.slice/postgres.service", runs: 3,
                slopeKBh: 0, limitKB: 1_048_576, hoursPerRun: 3, endHoursAgo: 2),
            Self.exposedHost(), Self.healthyHost(),
        ] {
            _ = try await db.ingest(b, receivedAt: Self.now)
        }
        return (db, dir)
    }

    func findings(_ r: AdviceReport, _ host: String) -> [AdviceKind] {
        r.findings.filter { $0.host == host }.map(\.kind)
    }

    @Test func seededFleetGetsItsAdviceAndNoMore() async throws {
        let (db, dir) = try await seeded()
        defer { dir.cleanup() }
        let r = try await db.advice(since: Self.now - 30 * 24 * Self.hour, until: Self.now, now: Self.now)

        #expect(Set(findings(r, "leaky")) == [.leakSuspect, .memcgLimitTight])
        let leak = try #require(r.findings.first { $0.host == "leaky" && $0.kind == .leakSuspect })
        let slope = try #require(leak.evidence.values["slope_mb_per_hour"])
        #expect(abs(slope - 200_000 / 1024) < 10, "\(leak.evidence.text)")
        // A 30-day window names each day's latest kill (all four fell on one day).
        #expect(leak.evidence.eventIDs == ["leaky-worker-3"])
        let leakyLimit = try #require(r.findings.first { $0.host == "leaky" && $0.kind == .memcgLimitTight })
        #expect(leakyLimit.action.contains("Do not raise the limit"))

        #expect(findings(r, "tight") == [.memcgLimitTight])
        let tight = try #require(r.findings.first { $0.host == "tight" })
        #expect(tight.action.contains("MemoryMax=1536M"), "\(tight.action)")
        #expect(tight.evidence.values["kills"] == 3)

        #expect(
            Set(findings(r, "exposed")) == [.criticalUnprotected, .noSwap, .wrongVictim, .noUserspaceKiller])
        let wrong = try #require(r.findings.first { $0.kind == .wrongVictim })
        #expect(wrong.subject == "mysqld")
        #expect(wrong.evidence.eventIDs == ["exposed-1"])

        #expect(findings(r, "healthy").isEmpty)
        // Most severe first.
        #expect(r.findings.map(\.severity) == r.findings.map(\.severity).sorted(by: >))
    }

    @Test func windowEdgesAndHostFilterCountOnlyTheirKills() async throws {
        let (db, dir) = try await seeded()
        defer { dir.cleanup() }
        // From the middle of the first run of "tight": its first kill falls outside.
        let since = Self.now - 7 * Self.hour
        let r = try await db.advice(since: since, until: Self.now, host: "tight", now: Self.now)
        #expect(r.findings.allSatisfy { $0.host == "tight" })
        // Two kills left in the window: below the three a tight limit needs.
        #expect(r.findings.isEmpty)
        let wide = try await db.advice(
            since: Self.now - 3 * 24 * Self.hour, until: Self.now, host: "tight", now: Self.now)
        #expect(wide.findings.first?.evidence.values["kills"] == 3)
        // A short window reads its events: the three latest kills, newest first.
        #expect(wide.findings.first?.evidence.eventIDs == ["tight-postgres-2", "tight-postgres-1", "tight-postgres-0"])
        let none = try await db.advice(since: since, until: Self.now, host: "no-such-host", now: Self.now)
        #expect(none.findings.isEmpty)
    }

    @Test func adviceQueriesReadRollupsAndIndexes() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        // Long windows: the rollup in key order (a streaming GROUP BY, no sort); one host:
        // a key prefix seek.
        let rollup = try db.explain(
            "SELECT host_id, kind, key, sum(kills) FROM advice_daily WHERE +day >= 1 AND +day < 9 AND kills > 0 GROUP BY host_id, kind, key"
        ).joined(separator: "; ")
        #expect(rollup == "SCAN advice_daily", "\(rollup)")
        let oneHost = try db.explain(
            "SELECT host_id, kind, key, sum(kills) FROM advice_daily WHERE +day >= 1 AND +day < 9 AND kills > 0 AND host_id = 3 GROUP BY host_id, kind, key"
        ).joined(separator: "; ")
        #expect(oneHost.contains("PRIMARY KEY (host_id=?)") && !oneHost.contains("TEMP B-TREE"), "\(oneHost)")
        let edge = try db.explain(
            "SELECT host_id, scope, comm FROM events INDEXED BY events_time_cover WHERE time >= 0 AND time < 1"
        ).joined(separator: "; ")
        #expect(edge.contains("events_time_cover (time>? AND time<?)"), "\(edge)")
        for q in [
            "SELECT event_id FROM events INDEXED BY events_comm WHERE comm = 'a' AND host_id = 1 AND time >= 0 AND time < 1 ORDER BY time DESC LIMIT 5",
            "SELECT event_id FROM events INDEXED BY events_host_time WHERE host_id = 1 AND memcg = 'a' AND time >= 0 AND time < 1 ORDER BY time DESC LIMIT 5",
            "SELECT event_id FROM events INDEXED BY events_host_time WHERE host_id = 1 AND scope = 'global' AND time >= 0 AND time < 1 ORDER BY time DESC LIMIT 5",
            "SELECT pid FROM process_runs WHERE host_id = 1 AND comm = 'a' AND last_time >= 0 AND first_time < 1 ORDER BY last_time DESC LIMIT 50",
        ] {
            let plan = try db.explain(q).joined(separator: "; ")
            #expect(plan.contains("SEARCH"), "\(q): \(plan)")
            #expect(!plan.contains("SCAN"), "\(q): \(plan)")
        }
        // The latest hours: each host's by primary key, never a row lookup per index entry
        // of the hour index.
        let hourly = try db.explain(
            "SELECT s.host_id, s.samples FROM hosts h CROSS JOIN snapshot_hourly s ON s.host_id = h.id AND s.hour > 0 AND s.hour <= 1"
        ).joined(separator: "; ")
        #expect(hourly.contains("SEARCH s USING PRIMARY KEY (host_id=? AND hour>? AND hour<?)"), "\(hourly)")
        #expect(!hourly.contains("snapshot_hourly_hour"), "\(hourly)")
        // The leak candidates' runs: one pass in key order, no sort.
        let runs = try db.explain(
            "SELECT host_id, comm, pid FROM process_runs NOT INDEXED WHERE last_time >= 0 AND first_time < 1 AND samples >= 3 ORDER BY host_id, comm"
        ).joined(separator: "; ")
        #expect(runs == "SCAN process_runs", "\(runs)")
        #expect(!runs.contains("TEMP B-TREE"), "\(runs)")
    }

    @Test func olderAgentsWithoutSystemFactsAreAccepted() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let old =
            #"{"host":"old","time":"2026-11-20T10:00:00Z","memory":{"total_kb":1000,"swap_total_kb":0},"vmstat":{},"processes":[],"cgroups":[]}"#
        let snap = try JSONDecoder().decode(MemorySnapshot.self, from: Data(old.utf8))
        #expect(snap.sysctl == nil && snap.critical == nil)
        let out = try await db.ingest(
            Fixture.batch(
                host: "old", events: [Fixture.event("old-1", host: "old", time: "2026-11-20T11:00:00Z")],
                snapshots: [snap]),
            receivedAt: Self.now)
        #expect(out.snapshotsStored == 1)
        let r = try await db.advice(since: Self.now - 24 * Self.hour, until: Self.now, now: Self.now)
        // Swap is known from meminfo; zram and the rest are unknown, so only no-swap speaks.
        #expect(r.findings.map(\.kind) == [.noSwap])
    }
}

@Suite struct AdviceRouteTests {
    @Test func adviceNeedsAReadTokenAndValidatesItsParameters() async throws {
        try await withRouter { client, _ in
            try await client.execute(uri: "/api/v1/reports/advice", method: .get) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(
                uri: "/api/v1/reports/advice?since=yesterday", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .badRequest)
                #expect(Fixture.message(r.body).contains("since"))
            }
            try await client.execute(
                uri: "/api/v1/reports/advice?since=7d&host=web-1", method: .get,
                headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .ok)
                let report = try Fixture.decode(AdviceReport.self, r.body)
                #expect(report.findings.isEmpty)
            }
        }
    }

    @Test func adviceOverHTTPListsFindings() async throws {
        try await withRouter { client, collector in
            let now = nowMicroseconds()
            var e = Fixture.event(
                "sshd-kill", comm: "sshd", time: RFC3339.format(epochMicroseconds: now - 3_600_000_000))
            e.scope = .global
            _ = try await collector.database.ingest(Fixture.batch(events: [e]))
            try await client.execute(
                uri: "/api/v1/reports/advice", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .ok)
                let report = try Fixture.decode(AdviceReport.self, r.body)
                let first = try #require(report.findings.first)
                #expect(first.kind == .criticalVictim)
                #expect(first.evidence.eventIDs == ["sshd-kill"])
                #expect(String(buffer: r.body).contains(#""event_ids":["sshd-kill"]"#))
            }
        }
    }
}
