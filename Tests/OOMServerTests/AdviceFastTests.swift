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

    /// One upsert per process sample, as ingest wrote runs until a batch's samples of a run
    /// were summed into one statement (`AdviceSchema.runSamplesSQL`): the definition the
    /// summed rows are held to. Host id, comm, pid, started, time, RSS.
    static let oneSampleSQL = """
        INSERT INTO process_runs (host_id, comm, pid, started, first_time, last_time, first_rss, last_rss,
            samples, sum_t, sum_r, sum_tt, sum_tr, sum_rr)
        VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?6, 1, 0, ?6, 0, 0, ?6 * ?6)
        ON CONFLICT DO UPDATE SET
            samples = samples + 1,
            last_time = max(last_time, excluded.last_time),
            last_rss = CASE WHEN excluded.last_time >= last_time THEN excluded.last_rss ELSE last_rss END,
            sum_t = sum_t + (excluded.last_time - first_time) / 1e6,
            sum_r = sum_r + excluded.last_rss,
            sum_tt = sum_tt + ((excluded.last_time - first_time) / 1e6) * ((excluded.last_time - first_time) / 1e6),
            sum_tr = sum_tr + ((excluded.last_time - first_time) / 1e6) * excluded.last_rss,
            sum_rr = sum_rr + excluded.last_rss * excluded.last_rss
        """

    /// A batch's samples of a run go in as one upsert, and the rows are those of one upsert
    /// per sample in the order ingest took them: to the bit with one snapshot a batch,
    /// within rounding with five (runs that go on from one batch to the next are shifted
    /// to their stored start). Snapshots arrive out of order, a pid is listed twice in a
    /// snapshot (two samples at one time: the later one is the run's last), a pid is reused
    /// by a new run, and a process caught exiting (0 kB) is no sample.
    @Test(arguments: [1, 5])
    func batchedRunSamplesSumAsOneAtATime(perBatch: Int) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let start = Self.now - 10 * Self.hour
        func process(_ comm: String, _ pid: Int, _ rss: Int64, started: Int64) -> ProcessSample {
            var p = ProcessSample(pid: pid, comm: comm, rssKB: rss)
            p.startedAt = AdviceStoreTests.time(started)
            return p
        }
        let snapshots = (0..<60).map { i in
            let n = Int64(i)
            return Fixture.snapshot(
                host: "runs", time: AdviceStoreTests.time(start + n * 10_000_000),
                processes: [
                    process("steady", 100, 50_000 + n * 37 + (n % 3) * 1000, started: start),
                    process("leaky", 200, 10_000 + n * n * 13, started: start - 7_000_000),
                    process("twice", 300, n * 5 + 1, started: start), process("twice", 300, n * 7 + 2, started: start),
                    process("short", 400, 2_000 + n, started: start + (n / 20) * 200_000_000),
                    process("exiting", 500, n % 4 == 0 ? 0 : 3_000_000_000 + n, started: start),
                ])
        }
        // Neighbours swapped: every batch boundary and every batch has a step back in time.
        let posted = (0..<60).map { snapshots[$0 ^ 1] }
        for first in stride(from: 0, to: posted.count, by: perBatch) {
            let batch = Array(posted[first..<min(first + perBatch, posted.count)])
            _ = try await db.ingest(Fixture.batch(host: "runs", snapshots: batch), receivedAt: Self.now)
        }

        let columns = """
            comm, pid, started, first_time, last_time, first_rss, last_rss, samples,
            sum_t, sum_r, sum_tt, sum_tr, sum_rr
            """
        let (schema, stored) = try await db.write { d in
            (
                try String.fetchOne(d, sql: "SELECT sql FROM sqlite_master WHERE name = 'process_runs'")!,
                try Row.fetchAll(d, sql: "SELECT \(columns) FROM process_runs ORDER BY comm, pid, started")
                    .map { Array($0.databaseValues) }
            )
        }
        let reference = try DatabaseQueue()
        let expected = try await reference.write { d in
            try d.execute(sql: "CREATE TABLE hosts (id INTEGER PRIMARY KEY); INSERT INTO hosts VALUES (1)")
            try d.execute(sql: schema)
            for s in posted {
                for p in s.processes where p.rssKB > 0 {
                    try d.execute(
                        sql: Self.oneSampleSQL,
                        arguments: [1, p.comm, p.pid, RFC3339.parse(p.startedAt!)!, RFC3339.parse(s.time)!, p.rssKB])
                }
            }
            return try Row.fetchAll(d, sql: "SELECT \(columns) FROM process_runs ORDER BY comm, pid, started")
                .map { Array($0.databaseValues) }
        }
        #expect(stored.count == 7 && expected.count == 7)
        for (got, want) in zip(stored, expected) {
            for i in 0..<8 { #expect(got[i] == want[i], "\(want)") }
            for i in 8..<13 {
                let (a, b) = (Double.fromDatabaseValue(got[i])!, Double.fromDatabaseValue(want[i])!)
                if perBatch == 1 {
                    #expect(a == b, "\(want): column \(i)")
                } else {
                    #expect(abs(a - b) <= 1e-9 * max(1, abs(b)), "\(want): column \(i): \(a) vs \(b)")
                }
            }
        }
    }
}
