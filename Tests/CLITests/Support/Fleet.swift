import OOMKit

/// Known data for the CLI tests: three hosts, six kills, snapshots with processes.
/// Times are offsets back from `base`, so the same fleet works with a fixed "now" and
/// with the real clock (for what the collector computes from its own clock: last seen,
/// kills in 24 h).
enum Fleet {
    static let fixedNow = "2026-11-28T14:00:00Z"
    static let longHost = "batch-worker-with-a-very-long-hostname-01"

    static func time(_ base: Int64, minus seconds: Int64) -> String {
        RFC3339.format(epochMicroseconds: base - seconds * 1_000_000)
    }

    static func kill(
        host: String, source: OOMEvent.Source = .kernel, scope: OOMEvent.Scope?, pid: Int, comm: String,
        time: String, uptime: Double, anonKB: Int64? = nil
    ) -> OOMEvent {
        var e = OOMEvent(source: source, victim: .init(pid: pid, comm: comm))
        e.host = host
        e.bootID = "boot-\(host)"
        e.time = time
        e.uptimeS = uptime
        e.scope = scope
        e.victim.anonRssKB = anonKB
        if anonKB != nil {
            e.victim.fileRssKB = 2048
            e.victim.shmemRssKB = 0
        }
        e.assignStableID()
        return e
    }

    /// The fully described kill `oomwatch show` prints.
    static func javaKill(base: Int64) -> OOMEvent {
        var e = kill(
            host: "web-1", scope: .memcg, pid: 4242, comm: "java", time: time(base, minus: 240), uptime: 1000.5,
            anonKB: 1_572_864)
        e.constraint = "CONSTRAINT_MEMCG"
        e.victim.uid = 1000
        e.victim.totalVmKB = 3_145_728
        e.victim.pgtablesKB = 3200
        e.victim.oomScoreAdj = 0
        e.victim.unit = "app.service"
        e.victim.cgroup = "/system.slice/app.service"
        e.victim.cmdline = "java -Xmx2g -jar app.jar"
        var trigger = OOMEvent.Trigger()
        trigger.pid = 4250
        trigger.comm = "java"
        trigger.gfpMask = "0xcc0(GFP_KERNEL)"
        trigger.order = 0
        trigger.oomScoreAdj = 0
        e.trigger = trigger
        var memcg = OOMEvent.Memcg()
        memcg.oom = "/system.slice/app.service"
        memcg.task = "/system.slice/app.service"
        memcg.usageKB = 2_097_152
        memcg.limitKB = 2_097_152
        e.memcg = memcg
        var c1 = OOMEvent.Candidate(pid: 4242, name: "java")
        c1.uid = 1000
        c1.tgid = 4242
        c1.totalVmPages = 786_432
        c1.rssPages = 393_728
        c1.pgtablesBytes = 3_276_800
        c1.swapents = 0
        c1.oomScoreAdj = 0
        var c2 = OOMEvent.Candidate(pid: 900, name: "sidecar")
        c2.uid = 0
        c2.tgid = 900
        c2.totalVmPages = 25_600
        c2.rssPages = 5120
        c2.pgtablesBytes = 131_072
        c2.swapents = 0
        c2.oomScoreAdj = -500
        e.candidates = [c2, c1]
        e.raw = """
            java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
            memory: usage 2097152kB, limit 2097152kB, failcnt 1
            Memory cgroup out of memory: Killed process 4242 (java) total-vm:3145728kB, anon-rss:1572864kB, file-rss:2048kB, shmem-rss:0kB, UID:1000 pgtables:3200kB oom_score_adj:0
            """
        return e
    }

    static func events(base: Int64) -> [String: [OOMEvent]] {
        var container = kill(
            host: longHost, source: .systemdOomd, scope: nil, pid: 31337, comm: "worker,1",
            time: time(base, minus: 45 * 60), uptime: 5000)
        container.victim.containerID = "0123456789abcdef0123456789abcdef"
        container.victim.lastRssKB = 1_048_576
        container.assignStableID()
        var postgres = kill(
            host: "db-1", scope: .global, pid: 777, comm: "postgres", time: time(base, minus: 3 * 86_400),
            uptime: 3000, anonKB: 50_331_648)
        postgres.victim.unit = "postgresql.service"
        var hostile = kill(
            host: "db-1", source: .earlyoom, scope: nil, pid: 666, comm: "evil\u{1B}[2Jname",
            time: time(base, minus: 10 * 3600), uptime: 3100)
        hostile.victim.lastRssKB = 10240
        return [
            "web-1": [
                javaKill(base: base),
                kill(
                    host: "web-1", scope: .memcg, pid: 4300, comm: "java", time: time(base, minus: 2 * 3600),
                    uptime: 900, anonKB: 1_400_000),
                kill(
                    host: "web-1", scope: .memcg, pid: 4100, comm: "java", time: time(base, minus: 27 * 3600),
                    uptime: 500, anonKB: 1_300_000),
            ],
            "db-1": [postgres, hostile],
            longHost: [container],
        ]
    }

    static func process(_ pid: Int, _ comm: String, rssKB: Int64, cmdline: String, unit: String? = nil) -> ProcessSample
    {
        var p = ProcessSample(pid: pid, comm: comm, rssKB: rssKB)
        p.ppid = 1
        p.cmdline = cmdline
        p.rssAnonKB = rssKB - 1024
        p.swapKB = 0
        p.oomScore = Int(rssKB / 100_000)
        p.oomScoreAdj = 0
        p.unit = unit
        return p
    }

    static func snapshot(host: String, time: String) -> MemorySnapshot {
        var s = MemorySnapshot(host: host, bootID: "boot-\(host)", time: time, uptimeS: 6000, kernel: "6.1.0-28-amd64")
        switch host {
        case "web-1":
            s.memory = ["total_kb": 16_777_216, "available_kb": 4_194_304, "free_kb": 1_048_576]
            s.pressure = Pressure(
                someAvg10: 0.5, someAvg60: 0.25, someAvg300: 0.1, someTotalUs: 1000, fullAvg10: 0.2, fullAvg60: 0.1,
                fullAvg300: 0.05, fullTotalUs: 500)
            s.processes = [
                process(4500, "java", rssKB: 1_258_291, cmdline: "java -Xmx2g -jar app.jar", unit: "app.service"),
                process(812, "nginx", rssKB: 102_400, cmdline: "nginx: worker process", unit: "nginx.service"),
            ]
        case "db-1":
            s.memory = ["total_kb": 67_108_864, "available_kb": 3_145_728, "free_kb": 524_288]
            s.pressure = Pressure(
                someAvg10: 20, someAvg60: 18.5, someAvg300: 10, someTotalUs: 99_000, fullAvg10: 14, fullAvg60: 12.5,
                fullAvg300: 8, fullTotalUs: 50_000)
            s.processes = [
                process(
                    778, "postgres", rssKB: 52_428_800, cmdline: "postgres: main: checkpointer",
                    unit: "postgresql.service")
            ]
        default:
            s.memory = ["total_kb": 8_388_608, "available_kb": 6_291_456, "free_kb": 4_194_304]
            s.processes = [
                process(
                    2001, "python3", rssKB: 1_048_576,
                    cmdline: "python3 /opt/jobs/nightly_rollup.py --input s3://bucket/very/long/path --workers 16")
            ]
        }
        return s
    }

    /// One batch per host: its latest snapshot and its kills.
    static func batches(eventBase: Int64, snapshotTime: String) -> [IngestBatch] {
        let events = events(base: eventBase)
        return ["web-1", "db-1", longHost].map { host in
            var agent = AgentInfo(version: "1.0.0")
            agent.intervalS = 30
            return IngestBatch(
                host: host, bootID: "boot-\(host)", agent: agent,
                snapshots: [snapshot(host: host, time: snapshotTime)], events: events[host] ?? [])
        }
    }

    /// The fleet at the fixed "now" (2026-11-28T14:00:00Z).
    static var fixed: [IngestBatch] {
        let now = RFC3339.parse(fixedNow)!
        return batches(eventBase: now, snapshotTime: time(now, minus: 30))
    }
}
