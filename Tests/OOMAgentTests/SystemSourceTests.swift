import OOMKit
import Testing

@testable import OOMAgent

/// The system source on a fixture tree (Fixtures/system): sysctls, swaps, zram,
/// userspace killers and the critical services' protection and limits.
@Suite struct SystemSourceTests {
    static let root = TestSupport.fixtures + "/system"
    static let roots = FileRoots(
        proc: root + "/proc", cgroup: root + "/cgroup", kmsg: "/nonexistent", sys: root + "/sys")

    func sources(every: Int = 60) -> (ProcessSource, SystemSource) {
        let table = ProcessTable()
        return (
            ProcessSource(procRoot: Self.roots.proc, topN: 5, table: table),
            SystemSource(roots: Self.roots, criticalServices: CriticalServices.defaults, every: every, table: table)
        )
    }

    @Test func readsEverythingAdviceNeeds() throws {
        var (processes, system) = sources()
        var s = MemorySnapshot(host: "h", time: "2026-11-20T10:00:00Z")
        try processes.collect(into: &s)
        try system.collect(into: &s)
        #expect(
            s.sysctl
                == OOMSysctls(
                    overcommitMemory: 1, overcommitRatio: 50, panicOnOOM: 0, oomKillAllocatingTask: 0,
                    swappiness: 60, minFreeKbytes: 67584))
        #expect(s.swaps?.map(\.device) == ["/swapfile", "/dev/zram0"])
        #expect(s.swaps?.first?.sizeKB == 2_097_148)
        #expect(s.swaps?.first?.priority == -2)
        // zram1 has no size: no buffer, not listed.
        #expect(s.zram == [ZramDevice(device: "zram0", disksizeKB: 1_048_576, memUsedKB: 72)])
        #expect(s.userspaceKillers == UserspaceKillers(systemdOomd: true, earlyoom: false))
        let sshd = try #require(s.critical?.first)
        #expect(s.critical?.count == 1)
        #expect(sshd.service == "sshd" && sshd.pid == 777 && sshd.oomScoreAdj == 0)
        #expect(sshd.unit == "ssh.service")
        #expect(sshd.memoryMaxKB == 524_288)
        #expect(sshd.memoryHighKB == nil)
    }

    @Test func unchangedFactsAreSentOnlyEveryNthSnapshot() throws {
        var (processes, system) = sources(every: 3)
        var sent: [Bool] = []
        for _ in 0..<6 {
            var s = MemorySnapshot(host: "h", time: "2026-11-20T10:00:00Z")
            try processes.collect(into: &s)
            try system.collect(into: &s)
            sent.append(s.sysctl != nil)
        }
        #expect(sent == [true, false, false, true, false, false])
    }

    @Test func missingFilesMeanUnknownNotBroken() throws {
        let table = ProcessTable()
        var system = SystemSource(
            roots: FileRoots(proc: "/nonexistent", cgroup: "/nonexistent", kmsg: "/nonexistent", sys: "/nonexistent"),
            criticalServices: ["sshd"], table: table)
        var s = MemorySnapshot(host: "h", time: "2026-11-20T10:00:00Z")
        try system.collect(into: &s)
        #expect(s.sysctl == OOMSysctls())
        #expect(s.swaps == [] && s.zram == [] && s.critical == [])
    }

    @Test func swapsParserKeepsEscapedNames() {
        let text = "Filename Type Size Used Priority\n/swap\\040file file 100 5 -2\nbroken line\n"
        #expect(
            ProcSwaps.parse(text) == [
                SwapDevice(device: "/swap\\040file", type: "file", sizeKB: 100, usedKB: 5, priority: -2)
            ])
    }

    @Test func configSwitchesAndCriticalList() throws {
        let file = try ConfigFile.parse("critical_services:\n  - sshd\n  - postgres\nsystem:\n  every: 10\n")
        let c = try AgentConfig.resolve(layers: ConfigLayers(file: file, filePath: nil, environment: [:]))
        #expect(c.criticalServices == ["sshd", "postgres"])
        #expect(c.systemEvery == 10)
        #expect(c.sources.system)
        let bad = try ConfigFile.parse("system:\n  every: 0\n")
        #expect(throws: AgentConfigError.self) {
            try AgentConfig.resolve(layers: ConfigLayers(file: bad, filePath: nil, environment: [:]))
        }
    }
}
