import Logging
import OOMKit
import Testing

@testable import OOMAgent

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SourceTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func fixtureConfig(cgroup: String = "cgroup-v1") -> AgentConfig {
        var c = AgentConfig()
        c.roots = FileRoots(
            proc: TestSupport.fixtures + "/proc", cgroup: TestSupport.fixtures + "/" + cgroup,
            kmsg: "/nonexistent")
        return c
    }

    /// Issue 19, point 8: `nan` (or `inf`) in /proc/uptime parses as a Double that JSON
    /// cannot carry; the snapshot must still encode, without the uptime.
    @Test(arguments: ["nan nan\n", "inf 1.0\n", "-5 1\n", "1e400 0\n"])
    func snapshotSurvivesHostileUptime(uptime: String) throws {
        let dir = TestSupport.tempDir("uptime")
        defer { TestSupport.removeTree(dir) }
        #expect(TestSupport.run(["/bin/cp", "-R", TestSupport.fixtures + "/proc", dir + "/proc"]) == 0)
        TestSupport.write(dir + "/proc/uptime", uptime)
        var config = fixtureConfig()
        config.roots.proc = dir + "/proc"
        var collector = SnapshotCollector.make(config: config, counters: AgentCounters(), logger: logger)
        let s = collector.collect(host: "ignored")
        #expect(s.uptimeS == nil)
        #expect(s.host == "fixture-host")
        let json = try JSONWriter().encode(s)
        #expect(try JSONReader().decode(MemorySnapshot.self, from: json).memory == s.memory)
    }

    @Test func fixtureTreeSnapshot() {
        let counters = AgentCounters()
        var collector = SnapshotCollector.make(config: fixtureConfig(), counters: counters, logger: logger)
        let s = collector.collect(host: "ignored")
        #expect(s.host == "fixture-host")
        #expect(s.bootID == "0f0e0d0c-1111-2222-3333-444455556666")
        #expect(s.kernel == "6.1.0-fixture")
        #expect(s.uptimeS == 12345.67)
        #expect((s.memory["total_kb"] ?? 0) > 0)
        #expect(s.memory["available_kb"] != nil)
        #expect(s.vmstat["oom_kill"] == 3)
        #expect(s.pressure?.someAvg10 == 1.5)
        #expect(s.processes.map(\.pid) == [1234, 5678, 42])
        let java = s.processes[0]
        #expect(java.comm == "java")
        #expect(java.cmdline == "/usr/bin/java -Xmx1g -jar app.jar")
        #expect(java.rssKB == 102_400)
        #expect(java.rssAnonKB == 90000)
        #expect(java.swapKB == 1024)
        #expect(java.uid == 1000)
        #expect(java.ppid == 1)
        #expect(java.oomScore == 712)
        #expect(java.unit?.hasPrefix("docker-") == true)
        #expect(java.containerID?.count == 64)
        let evil = s.processes[1]
        #expect(evil.comm == "evil) (name x")
        #expect(evil.oomScoreAdj == 500)
        #expect(evil.podUID == "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d")
        #expect(s.processes[2].cmdline == nil)
        #expect(s.cgroups.map(\.path) == ["/", "/app"])
        #expect(s.cgroups[1].limitKB == 65536)
        #expect(s.cgroups[1].oomKill == 2)
        #expect(s.cgroups[0].limitKB == nil)
        #expect(counters.sourceErrors.load(ordering: .relaxed) == 0)
    }

    @Test func topNLimitsProcesses() {
        var c = fixtureConfig()
        c.topProcesses = 1
        var collector = SnapshotCollector.make(config: c, counters: AgentCounters(), logger: logger)
        #expect(collector.collect(host: "h").processes.map(\.pid) == [1234])
    }

    @Test func cgroupV2Fixture() {
        var collector = SnapshotCollector.make(
            config: fixtureConfig(cgroup: "cgroup-v2"), counters: AgentCounters(), logger: logger)
        let s = collector.collect(host: "h")
        let web = s.cgroups.first { $0.path == "/system.slice/web.service" }
        #expect(web?.limitKB == 262_144)
        #expect(web?.usageKB == 204_800)
        #expect(web?.oomKill == 1)
    }

    @Test func brokenSourceIsCountedNotFatal() {
        var c = fixtureConfig()
        c.roots.proc = "/nonexistent-proc"
        let counters = AgentCounters()
        var collector = SnapshotCollector.make(config: c, counters: counters, logger: logger)
        let s = collector.collect(host: "h")
        #expect(s.memory.isEmpty)
        // host(uptime), meminfo, vmstat, processes fail; pressure is "absent", not broken.
        #expect(counters.sourceErrors.load(ordering: .relaxed) == 4)
        #expect(s.pressure == nil)
    }

    @Test func processTableKeepsVictimsForEnrichment() {
        let table = ProcessTable()
        var source = ProcessSource(procRoot: TestSupport.fixtures + "/proc", topN: 1, table: table)
        var s = MemorySnapshot(host: "h", time: "")
        try? source.collect(into: &s)
        // Every process is remembered, not just the top N.
        let evil = table.lookup(pid: 5678, comm: "evil) (name x")
        #expect(evil?.cmdline == "sh -c echo \"hi there\"")
        #expect(evil?.rssKB == 51200)
        #expect(table.lookup(pid: 5678, comm: "other") == nil)
        var event = OOMEvent(source: .kernel, victim: .init(pid: 5678, comm: "evil) (name x"))
        VictimEnricher.enrich(&event, table: table)
        #expect(event.victim.lastRssKB == 51200)
        #expect(event.victim.podUID == "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d")
        #expect(event.victim.containerID?.hasPrefix("aaaabbbb") == true)
    }

    @Test func realProc() {
        var c = AgentConfig()
        c.topProcesses = 5
        let counters = AgentCounters()
        var collector = SnapshotCollector.make(config: c, counters: counters, logger: logger)
        let s = collector.collect(host: "h")
        #expect((s.memory["total_kb"] ?? 0) > 0)
        #expect(s.memory["available_kb"] != nil)
        #expect(s.vmstat["oom_kill"] != nil)
        #expect(s.processes.count == 5)
        #expect(zip(s.processes, s.processes.dropFirst()).allSatisfy { $0.rssKB >= $1.rssKB })
        #expect(s.bootID?.count == 36)
        #expect(s.uptimeS ?? 0 > 0)
        #expect(counters.sourceErrors.load(ordering: .relaxed) == 0)
        // This test process is in the table with its own cmdline.
        let me = collector.processTable.lookup(pid: Int(getpid()), comm: nil)
        #expect(me != nil)
        #expect(me?.rssKB ?? 0 > 0)
    }
}
