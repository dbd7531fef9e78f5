import Foundation
import OOMKit
import OOMStore
import Testing

/// A fleet on which several advice rules fire, fed only through ingest (the seeding of
/// Tests/OOMServerTests/AdviceStoreTests): a leaking worker killed at its cgroup limit, a
/// flat service at a tight limit, a host exposed to global kills, and a healthy one.
enum AdviceSeed {
    static let hour: Int64 = 3_600_000_000
    /// Mid-day, so windows have partial days at both edges.
    static let now = t("2026-11-20T14:30:00Z")

    static func process(_ comm: String, pid: Int, rssKB: Int64, started: Int64) -> ProcessSample {
        var p = ProcessSample(pid: pid, comm: comm, rssKB: rssKB)
        p.startedAt = RFC3339.format(epochMicroseconds: started)
        return p
    }

    /// `runs` lifetimes of `comm`, sampled every 10 minutes growing `slopeKBh` from 100 MB
    /// until a memcg kill at `limitKB`, the last run ending `endHoursAgo` ago; runs (event
    /// ids and pids) are numbered from `first`.
    static func memcgRuns(
        host: String, comm: String, cgroup: String, runs: Int, slopeKBh: Double, limitKB: Int64,
        hoursPerRun: Double, endHoursAgo: Double, first: Int = 0
    ) -> IngestBatch {
        var snaps: [MemorySnapshot] = []
        var events: [OOMEvent] = []
        let start = now - Int64((endHoursAgo + hoursPerRun * Double(runs)) * Double(hour))
        for r in first..<first + runs {
            let runStart = start + Int64(Double(r - first) * hoursPerRun * Double(hour))
            let samples = Int(hoursPerRun * 6)
            var rss: Int64 = 0
            for i in 0..<samples {
                rss = 100_000 + Int64(slopeKBh * Double(i) / 6) + (i % 2 == 0 ? 500 : -500)
                snaps.append(
                    Seed.snapshot(
                        host: host, time: runStart + Int64(i) * hour / 6, total: 8_000_000, available: 4_000_000,
                        processes: [process(comm, pid: 1000 + r, rssKB: rss, started: runStart)]))
            }
            var e = Seed.event(
                "\(host)-\(comm)-\(r)", host: host, comm: comm, pid: 1000 + r,
                time: runStart + Int64(samples) * hour / 6, rss: slopeKBh > 0 ? limitKB - 2000 : rss, scope: .memcg)
            var m = OOMEvent.Memcg()
            m.oom = cgroup
            m.task = cgroup
            m.usageKB = limitKB
            m.limitKB = limitKB
            e.memcg = m
            events.append(e)
        }
        return Seed.batch(host: host, events: events, snapshots: snaps)
    }

    /// One global kill sparing a shielded mysqld, no swap, sshd unprotected, no userspace
    /// killer, pressure before the kill.
    static func exposedHost() -> IngestBatch {
        var snap = Seed.snapshot(
            host: "exposed", time: now - 2 * hour, total: 8_000_000, available: 200_000, fullAvg60: 35)
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
        var kill = Seed.event(
            "exposed-1", host: "exposed", comm: "cron", pid: 55, time: now - hour - hour / 2, rss: 20_000)
        var big = OOMEvent.Candidate(pid: 9, name: "mysqld")
        big.rssPages = 1_500_000
        big.oomScoreAdj = -1000
        var small = OOMEvent.Candidate(pid: 55, name: "cron")
        small.rssPages = 5000
        small.oomScoreAdj = 0
        kill.candidates = [big, small]
        return Seed.batch(host: "exposed", events: [kill], snapshots: [snap])
    }

    static func healthyHost() -> IngestBatch {
        var snaps: [MemorySnapshot] = []
        for i in 0..<36 {
            var s = Seed.snapshot(
                host: "healthy", time: now - Int64(i) * hour / 3, total: 8_000_000, available: 5_000_000,
                fullAvg60: 0.1, processes: [process("nginx", pid: 10, rssKB: 50_000, started: now - 30 * hour)])
            s.memory["swap_total_kb"] = 0
            snaps.append(s)
        }
        var once = Seed.event(
            "healthy-1", host: "healthy", comm: "nginx", pid: 10, time: now - 5 * hour, rss: 50_000, scope: .memcg)
        var m = OOMEvent.Memcg()
        m.oom = "/batch/nightly"
        m.usageKB = 1_000_000
        m.limitKB = 1_000_000
        once.memcg = m
        return Seed.batch(host: "healthy", events: [once], snapshots: snaps)
    }

    /// The whole fleet, in ingest order; plus, with `history`, kills of the tight service
    /// on earlier days (so a long window sums several days of the rollup).
    static func fleet(history: Bool = true) -> [IngestBatch] {
        var batches = [
            memcgRuns(
                host: "leaky", comm: "worker", cgroup: "/system.slice/worker.service", runs: 4, slopeKBh: 200_000,
                limitKB: 512_000, hoursPerRun: 2, endHoursAgo: 1),
            memcgRuns(
                host: "tight", comm: "postgres", cgroup: "/system.slice/postgres.service", runs: 3, slopeKBh: 0,
                limitKB: 1_048_576, hoursPerRun: 3, endHoursAgo: 2),
            exposedHost(), healthyHost(),
        ]
        if history {
            batches.append(
                memcgRuns(
                    host: "tight", comm: "postgres", cgroup: "/system.slice/postgres.service", runs: 4, slopeKBh: 0,
                    limitKB: 1_048_576, hoursPerRun: 3, endHoursAgo: 60, first: 10))
        }
        return batches
    }

    /// The windows both engines are asked about: long ones (whole days of the rollup) and
    /// short ones (their own events), for the fleet and for one host, with and without a
    /// limit.
    static let windows: [(since: Int64, host: String?, limit: Int?)] = [
        (now - 30 * 24 * hour, nil, nil), (now - 7 * 24 * hour - 12_345, nil, nil),
        (now - 10 * 24 * hour, "tight", nil),
        (now - 30 * 24 * hour, nil, 2), (now - 3 * 24 * hour, nil, nil), (now - 7 * hour, "tight", nil),
        (now - 12 * hour, "exposed", nil), (now - 24 * hour, nil, 3),
    ]
}

extension StoreConformanceTests {
    /// Advice gives the seeded fleet its findings and no more, over a long window (the
    /// rollup's whole days) and a short one (the window's own events).
    @Test(arguments: Engine.allCases)
    func advice(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            for b in AdviceSeed.fleet() { _ = try await store.ingest(b, receivedAt: AdviceSeed.now) }
            let now = AdviceSeed.now
            func kinds(_ r: AdviceReport, _ host: String) -> Set<AdviceKind> {
                Set(r.findings.filter { $0.host == host }.map(\.kind))
            }
            let long = try await store.advice(
                since: now - 30 * 24 * AdviceSeed.hour, until: now, host: nil, settings: AdviceSettings(), limit: nil,
                now: now)
            #expect(kinds(long, "leaky") == [.leakSuspect, .memcgLimitTight])
            #expect(kinds(long, "tight") == [.memcgLimitTight])
            #expect(kinds(long, "exposed") == [.criticalUnprotected, .noSwap, .wrongVictim, .noUserspaceKiller])
            #expect(kinds(long, "healthy").isEmpty)
            #expect(long.total == long.findings.count)
            let leak = try #require(long.findings.first { $0.host == "leaky" && $0.kind == .leakSuspect })
            let slope = try #require(leak.evidence.values["slope_mb_per_hour"])
            #expect(abs(slope - 200_000 / 1024) < 10, "\(leak.evidence.text)")
            // The history days count in a long window: seven kills of the tight service.
            let tight = try #require(long.findings.first { $0.host == "tight" })
            #expect(tight.evidence.values["kills"] == 7)
            let wrong = try #require(long.findings.first { $0.kind == .wrongVictim })
            #expect(wrong.subject == "mysqld")
            #expect(wrong.evidence.eventIDs == ["exposed-1"])

            // A short window reads its own events: the history falls outside it.
            let short = try await store.advice(
                since: now - 24 * AdviceSeed.hour, until: now, host: "tight", settings: AdviceSettings(), limit: nil,
                now: now)
            #expect(short.findings.map(\.kind) == [.memcgLimitTight])
            #expect(short.findings.first?.evidence.values["kills"] == 3)
            #expect(
                short.findings.first?.evidence.eventIDs == ["tight-postgres-2", "tight-postgres-1", "tight-postgres-0"])
            let limited = try await store.advice(
                since: now - 30 * 24 * AdviceSeed.hour, until: now, host: nil, settings: AdviceSettings(), limit: 2,
                now: now)
            #expect(limited.findings.count == 2)
            #expect(limited.total == long.total)
            let none = try await store.advice(
                since: now - 24 * AdviceSeed.hour, until: now, host: "no-such-host", settings: AdviceSettings(),
                limit: nil, now: now)
            #expect(none.findings.isEmpty)

            // The history's kills expire with their days (a dropped partition and a partly
            // deleted day on PostgreSQL, deleted rows on SQLite): the rollup forgets them.
            var policy = RetentionPolicy()
            policy.eventDays = 2
            _ = try await store.applyRetention(policy, now: now)
            let after = try await store.advice(
                since: now - 30 * 24 * AdviceSeed.hour, until: now, host: "tight", settings: AdviceSettings(),
                limit: nil, now: now)
            #expect(after.findings.map(\.kind) == [.memcgLimitTight])
            #expect(after.findings.first?.evidence.values["kills"] == 3)
        }
    }
}

extension PostgresOnlyTests {
    /// Given the same batches, PostgreSQL's advice is SQLite's, finding for finding, on
    /// long and short windows, for the fleet and for one host.
    @Test func adviceSameAsSQLite() async throws {
        let now = AdviceSeed.now
        try await withStore(.sqlite) { sqlite in
            try await withStore(.postgres) { pg in
                for b in AdviceSeed.fleet() {
                    _ = try await sqlite.ingest(b, receivedAt: now)
                    _ = try await pg.ingest(b, receivedAt: now)
                }
                var policy = RetentionPolicy()
                policy.eventDays = 2
                for expired in [false, true] {
                    if expired {
                        _ = try await sqlite.applyRetention(policy, now: now)
                        _ = try await pg.applyRetention(policy, now: now)
                    }
                    try await Self.compareAdvice(sqlite, pg, now: now)
                }
            }
        }
    }

    /// Both stores' advice on every window of `AdviceSeed.windows`.
    static func compareAdvice(_ sqlite: any CollectorStore, _ pg: any CollectorStore, now: Int64) async throws {
        for w in AdviceSeed.windows {
            let x = try await sqlite.advice(
                since: w.since, until: now, host: w.host, settings: AdviceSettings(), limit: w.limit, now: now)
            let y = try await pg.advice(
                since: w.since, until: now, host: w.host, settings: AdviceSettings(), limit: w.limit, now: now)
            #expect(!x.findings.isEmpty || w.host == "tight")
            #expect(
                x == y, "advice since \(w.since) host \(w.host ?? "*") limit \(w.limit.map(String.init) ?? "-")"
            )
        }
    }
}
