import Foundation
import GRDB
import OOMKit
import OOMStore
import Testing

/// The fleet-wide advice read path against plain references: its leak prefilter against
/// the one-host path that gives every name's runs to the rule, and the host facts SQLite
/// picks out of the stored JSON against that JSON decoded whole.
@Suite struct AdviceFastTests {
    static let hour = AdviceStoreTests.hour
    static let now = AdviceStoreTests.now
    static let time = AdviceStoreTests.time

    /// `slopes.count` lifetimes of `comm` (kB/h each; 0 is flat with a wobble), sampled
    /// every 10 minutes for two hours, each ending in a memcg kill at the same size.
    static func runs(host: String, comm: String, slopes: [Double]) -> IngestBatch {
        var snaps: [MemorySnapshot] = []
        var events: [OOMEvent] = []
        let start = now - Int64(slopes.count * 2 + 1) * hour
        for (r, slope) in slopes.enumerated() {
            let runStart = start + Int64(r) * 2 * hour
            for i in 0..<12 {
                let rss = 100_000 + Int64(slope * Double(i) / 6) + (i % 2 == 0 ? 700 : -700)
                snaps.append(
                    Fixture.snapshot(
                        host: host, time: time(runStart + Int64(i) * hour / 6), total: 8_000_000,
                        available: 4_000_000,
                        processes: [AdviceStoreTests.process(comm, pid: 2000 + r, rssKB: rss, started: runStart)]))
            }
            var e = Fixture.event(
                "\(host)-\(r)", host: host, comm: comm, pid: 2000 + r, time: time(runStart + 2 * hour - 60_000_000),
                rss: 500_000, scope: .memcg)
            var m = OOMEvent.Memcg()
            m.oom = "/system.slice/\(comm).service"
            m.usageKB = 512_000
            m.limitKB = 512_000
            e.memcg = m
            events.append(e)
        }
        return Fixture.batch(host: host, events: events, snapshots: snaps)
    }

    /// Hosts whose runs put the leak rule's medians on either side of its thresholds.
    static let mixes: [(host: String, slopes: [Double])] = [
        ("all-leak", [200_000, 200_000, 200_000, 200_000]),
        ("three-of-four", [200_000, 200_000, 200_000, 0]),
        // Median slope passes, median R² (half the runs flat) does not.
        ("two-of-four", [200_000, 200_000, 0, 0]),
        ("one-of-three", [200_000, 0, 0]),
        ("flat", [0, 0, 0]),
        ("slow", [900, 1100, 1000, 950]),
        // Leaking, but killed once: no repeat kills, no leak finding.
        ("one-run", [150_000]),
    ]

    func seeded() async throws -> (OOMDatabase, TempDir) {
        let dir = try TempDir()
        let db = try Fixture.collector(in: dir).database
        for m in Self.mixes {
            _ = try await db.ingest(Self.runs(host: m.host, comm: "worker", slopes: m.slopes), receivedAt: Self.now)
        }
        _ = try await db.ingest(AdviceStoreTests.exposedHost(), receivedAt: Self.now)
        return (db, dir)
    }

    /// The fleet answer, host by host, is each host's own answer (whose runs reach the rule
    /// unfiltered), with the leak threshold at a host's exact median slope too.
    @Test(arguments: [1.0, 0.0])
    func theLeakPrefilterDropsNoLeakTheRuleFinds(slopeAtHost: Double) async throws {
        let (db, dir) = try await seeded()
        defer { dir.cleanup() }
        var settings = AdviceSettings()
        if slopeAtHost > 0 {
            // The slow host's median slope as the rule computes it from the stored runs,
            // exactly: the rule takes it (>=), so must the filter.
            let slopes = try await db.write { d in
                try Row.fetchAll(
                    d,
                    sql: """
                        SELECT samples, sum_t, sum_r, sum_tt, sum_tr, sum_rr FROM process_runs
                        JOIN hosts ON hosts.id = host_id WHERE hosts.name = 'slow'
                        """
                ).map { row in
                    ProcessRun(
                        pid: 0, firstTime: 0, lastTime: 0, firstRSS: 0, lastRSS: 0, samples: row[0], sumT: row[1],
                        sumR: row[2], sumTT: row[3], sumTR: row[4], sumRR: row[5]
                    ).slopeKBPerSecond! * 3600 / 1024
                }.sorted()
            }
            #expect(slopes.count == 4)
            settings.leakMinSlopeMBPerHour = (slopes[1] + slopes[2]) / 2
            settings.leakMinR2 = 0
        }
        let since = Self.now - 7 * 24 * Self.hour
        let fleet = try await db.advice(since: since, until: Self.now, settings: settings, now: Self.now)
        var leaks: Set<String> = []
        for host in Self.mixes.map(\.host) + ["exposed"] {
            let own = try await db.advice(since: since, until: Self.now, host: host, settings: settings, now: Self.now)
            #expect(fleet.findings.filter { $0.host == host } == own.findings, "\(host)")
            if own.findings.contains(where: { $0.kind == .leakSuspect }) { leaks.insert(host) }
        }
        // The comparison is not between empty answers.
        let expected: Set<String> =
            slopeAtHost > 0
            ? ["all-leak", "three-of-four", "two-of-four", "slow"]
            : ["all-leak", "three-of-four"]
        #expect(leaks == expected)
    }

    /// Findings are ordered before their words are written (by the times their evidence
    /// will quote): the answer is in the order of the written findings, and a cut answer is
    /// the head of the whole one.
    @Test func findingsOrderedUnwrittenAreInTheWrittenOrder() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        for b in AdviceRollupTests.fleet() + [AdviceStoreTests.exposedHost(), AdviceStoreTests.healthyHost()] {
            _ = try await db.ingest(b, receivedAt: Self.now)
        }
        let since = Self.now - 30 * 24 * Self.hour
        let all = try await db.advice(since: since, until: Self.now, now: Self.now)
        #expect(all.findings.count > 40)
        #expect(Set(all.findings.map(\.kind)).count >= 7)
        #expect(all.findings == AdviceRules.sorted(all.findings))
        for n in [1, 7, 25] {
            let cut = try await db.advice(since: since, until: Self.now, limit: n, now: Self.now)
            #expect(cut.findings == Array(all.findings.prefix(n)))
        }
    }

    /// The facts the host-wide rules read, as SQLite picks them out of the stored JSON, are
    /// the stored JSON decoded whole.
    @Test func hostFactsFromSQLAreTheDecodedJSON() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        var full = Fixture.snapshot(host: "full", time: Self.time(Self.now - Self.hour))
        full.memory["swap_total_kb"] = 2_097_152
        full.memory["committed_as_kb"] = 9_000_000
        full.sysctl = OOMSysctls(
            overcommitMemory: 2, overcommitRatio: 80, panicOnOOM: 0, oomKillAllocatingTask: 1, swappiness: 10,
            minFreeKbytes: 67_584)
        full.swaps = [
            SwapDevice(device: "/dev/vda2", type: "partition", sizeKB: 2_097_152, usedKB: 1024, priority: -2),
            SwapDevice(device: "/swapfile", type: "file", sizeKB: 1_048_576, usedKB: 0),
        ]
        full.zram = [ZramDevice(device: "zram0", disksizeKB: 4_194_304, memUsedKB: 12_000)]
        full.userspaceKillers = UserspaceKillers(systemdOomd: true, earlyoom: false)
        var sshd = CriticalProcess(service: "sshd", pid: 700, comm: "sshd")
        sshd.oomScoreAdj = -900
        sshd.unit = "ssh.service"
        sshd.cgroup = "/system.slice/ssh.service"
        sshd.memoryMaxKB = 262_144
        sshd.memoryHighKB = 200_000
        let journald = CriticalProcess(service: "systemd-journald", pid: 300, comm: "systemd-journal")
        full.critical = [sshd, journald]
        var sparse = Fixture.snapshot(host: "sparse", time: Self.time(Self.now - Self.hour))
        sparse.swaps = []
        sparse.critical = []
        let older = Fixture.snapshot(host: "older-agent", time: Self.time(Self.now - Self.hour))
        for s in [full, sparse, older] {
            _ = try await db.ingest(Fixture.batch(host: s.host, snapshots: [s]), receivedAt: Self.now)
        }

        let read = try await db.adviceHostStates()
        let stored = try await db.write { d in
            try Row.fetchAll(d, sql: "SELECT id, name, memory_json, system_json FROM hosts").map {
                ($0["id"] as Int64, $0["name"] as String, $0["memory_json"] as String?, $0["system_json"] as String?)
            }
        }
        #expect(stored.count == 3)
        for (id, name, memory, system) in stored {
            let decodedSystem = try system.map { try JSONDecoder().decode(HostSystemFacts.self, from: Data($0.utf8)) }
            #expect(read[id]?.system == decodedSystem, "\(name)")
            let decodedMemory = try memory.map { try JSONDecoder().decode([String: Int64].self, from: Data($0.utf8)) }
            let expectedMemory = decodedMemory?.filter { AdviceReader.memoryKeys.contains($0.key) }
            #expect(read[id]?.memory == expectedMemory, "\(name)")
        }
        #expect(read.values.contains { $0.system?.critical?.count == 2 && $0.system?.zram?.count == 1 })
        #expect(read.values.contains { $0.system == nil })
    }
}
