import HostSupport
public import OOMKit

/// What advice needs to know about the host beyond its memory: the OOM sysctls, swap
/// devices and zram, whether a userspace killer runs, and the OOM protection and memory
/// limits of the critical services. These rarely change, so they go out in a snapshot
/// only when they differ from the last report, and every `every` snapshots regardless
/// (a collector that lost its database learns them again).
///
/// Processes come from the process source's table (this source runs after it), so the
/// agent walks /proc once per cycle.
public struct SystemSource: MemorySource {
    public let name = "system"
    private let roots: FileRoots
    private let criticalServices: [String]
    private let every: Int
    private let table: ProcessTable
    private var reader = FileReader(initialCapacity: 1024)
    private var cycle = 0
    private var lastReported: HostSystemFacts?
    private var cgroupLayout: (root: String, version: CgroupSource.Version)??

    public init(roots: FileRoots, criticalServices: [String], every: Int = 60, table: ProcessTable) {
        self.roots = roots
        self.criticalServices = criticalServices
        self.every = max(1, every)
        self.table = table
    }

    public mutating func collect(into snapshot: inout MemorySnapshot) throws {
        var facts = HostSystemFacts()
        facts.sysctl = readSysctls()
        facts.swaps = (try? reader.read(roots.proc + "/swaps")).map { ProcSwaps.parse($0) } ?? []
        facts.zram = readZram()
        let processes = table.entries.withLock { Array($0.values) }.sorted { $0.pid < $1.pid }
        facts.userspaceKillers = UserspaceKillers(
            systemdOomd: processes.contains { $0.comm == "systemd-oomd" },
            earlyoom: processes.contains { $0.comm == "earlyoom" })
        facts.critical = readCritical(processes)
        defer { cycle += 1 }
        guard facts != lastReported || cycle % every == 0 else { return }
        lastReported = facts
        snapshot.sysctl = facts.sysctl
        snapshot.swaps = facts.swaps
        snapshot.zram = facts.zram
        snapshot.userspaceKillers = facts.userspaceKillers
        snapshot.critical = facts.critical
    }

    private mutating func number(_ path: String) -> Int64? {
        (try? reader.read(path, limit: 256)).flatMap { ProcNumber.parse($0) }
    }

    private mutating func readSysctls() -> OOMSysctls {
        let vm = roots.proc + "/sys/vm/"
        return OOMSysctls(
            overcommitMemory: number(vm + "overcommit_memory").map(Int.init),
            overcommitRatio: number(vm + "overcommit_ratio").map(Int.init),
            panicOnOOM: number(vm + "panic_on_oom").map(Int.init),
            oomKillAllocatingTask: number(vm + "oom_kill_allocating_task").map(Int.init),
            swappiness: number(vm + "swappiness").map(Int.init),
            minFreeKbytes: number(vm + "min_free_kbytes"))
    }

    private mutating func readZram() -> [ZramDevice] {
        var names: [String] = []
        try? DirectoryList.forEach(roots.sys + "/block") { name, _ in
            let n = String(decoding: name, as: UTF8.self)
            if n.hasPrefix("zram") { names.append(n) }
        }
        var out: [ZramDevice] = []
        for n in names.sorted() {
            let dir = roots.sys + "/block/" + n
            // An unconfigured device (disksize 0) is no buffer.
            guard let size = number(dir + "/disksize"), size > 0 else { continue }
            let used = (try? reader.read(dir + "/mm_stat")).flatMap { ZramFiles.memUsedKB(mmStat: $0) }
            out.append(ZramDevice(device: n, disksizeKB: size / 1024, memUsedKB: used))
        }
        return out
    }

    private mutating func readCritical(_ processes: [ProcessEntry]) -> [CriticalProcess] {
        var out: [CriticalProcess] = []
        for e in processes {
            guard let service = CriticalServices.match(comm: e.comm, in: criticalServices) else { continue }
            var p = CriticalProcess(service: service, pid: Int(e.pid), comm: e.comm)
            p.oomScoreAdj = number(roots.proc + "/\(e.pid)/oom_score_adj").map(Int.init)
            // A process that exited since the process scan is left out, not reported wrong.
            guard p.oomScoreAdj != nil else { continue }
            p.unit = e.identity.unit
            p.cgroup = e.cgroup
            if let cgroup = e.cgroup { (p.memoryMaxKB, p.memoryHighKB) = limits(cgroup) }
            out.append(p)
            if out.count >= 100 { break }
        }
        return out
    }

    /// The memory limits of the cgroup at `path` (relative to the memory hierarchy).
    private mutating func limits(_ path: String) -> (max: Int64?, high: Int64?) {
        if cgroupLayout == nil { cgroupLayout = .some(CgroupSource.detect(cgroupRoot: roots.cgroup)) }
        guard let layout = cgroupLayout ?? nil else { return (nil, nil) }
        let dir = layout.root + (path == "/" ? "" : path)
        func kb(_ file: String) -> Int64? {
            (try? reader.read(dir + "/" + file, limit: 256)).flatMap { CgroupMemoryFile.kilobytes($0) } ?? nil
        }
        switch layout.version {
        case .v1: return (kb("memory.limit_in_bytes"), nil)
        case .v2: return (kb("memory.max"), kb("memory.high"))
        }
    }
}
