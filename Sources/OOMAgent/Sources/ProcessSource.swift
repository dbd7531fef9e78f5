import HostSupport
public import OOMKit
internal import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What the agent remembers about every process from its latest sample, so an OOM event
/// can name its victim after the process is gone.
public struct ProcessEntry: Sendable, Equatable {
    public var pid: Int32
    public var comm: String
    public var startTicks: Int64
    public var rssKB: Int64
    public var cmdline: String?
    public var cgroup: String?
    public var identity: CgroupIdentity
    /// Sampling cycle this process was last seen in.
    var lastSeen: UInt64
}

/// The latest process sample, shared between the sampler (writer) and the log followers
/// (readers enriching victims).
public final class ProcessTable: Sendable {
    let entries = Mutex<[Int32: ProcessEntry]>([:])

    public init() {}

    /// The entry for `pid`, preferring one whose name matches `comm` (the kernel's
    /// 15-byte name; pid reuse would otherwise name the wrong victim).
    public func lookup(pid: Int, comm: String?) -> ProcessEntry? {
        entries.withLock { table in
            guard let entry = table[Int32(truncatingIfNeeded: pid)] else { return nil }
            if let comm, !comm.isEmpty, entry.comm != comm, !entry.comm.hasPrefix(comm),
                !comm.hasPrefix(entry.comm)
            {
                return nil
            }
            return entry
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}

/// /proc/PID/*: one `stat` read per process per cycle ranks every process by RSS; only the
/// top N also get `status`, `oom_score` and `oom_score_adj` read. `cmdline` and `cgroup`
/// are read once per process (again only when its name changes, i.e. after an exec).
public struct ProcessSource: MemorySource {
    public let name = "processes"
    public let topN: Int
    private let procRoot: String
    public let table: ProcessTable
    /// Entries of exited processes are kept this many cycles, for a kill the log reports
    /// after the sampler already saw the process gone.
    private let keepGoneCycles: UInt64 = 5
    private var reader = FileReader(initialCapacity: 4096)
    private var path: [UInt8] = []
    private var cycle: UInt64 = 0
    private let pageKB: Int64
    private let ticksPerSecond: Int64
    private var bootEpochSeconds: Int64?
    private var top: [(rssPages: Int64, stat: ProcStat)] = []

    public init(procRoot: String, topN: Int = 20, table: ProcessTable = ProcessTable()) {
        self.procRoot = procRoot
        self.topN = max(0, topN)
        self.table = table
        pageKB = Int64(max(1, sysconf(Int32(_SC_PAGESIZE)) / 1024))
        ticksPerSecond = Int64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        path.reserveCapacity(procRoot.utf8.count + 40)
        top.reserveCapacity(self.topN + 1)
    }

    public mutating func collect(into snapshot: inout MemorySnapshot) throws {
        cycle &+= 1
        if bootEpochSeconds == nil { bootEpochSeconds = readBootTime() }
        top.removeAll(keepingCapacity: true)
        var pids: [Int32] = []
        pids.reserveCapacity(512)
        try DirectoryList.forEach(procRoot) { name, _ in
            var i = name.startIndex
            guard let pid = ASCII.digits(name, &i, as: Int32.self), i == name.endIndex else { return }
            pids.append(pid)
        }
        let cycle = self.cycle
        // Work on a copy so lookups during the scan still see the previous sample; the
        // copy is published at the end (one storage copy per cycle).
        var entries = table.entries.withLock { $0 }
        defer {
            let keep = keepGoneCycles
            entries = entries.filter { cycle &- $0.value.lastSeen <= keep }
            table.entries.withLock { $0 = entries }
        }
        for pid in pids {
            guard let stat = readStat(pid) else { continue }
            let rssKB = stat.rssPages * pageKB
            if var entry = entries[pid], entry.startTicks == stat.startTicks, entry.comm == stat.comm {
                entry.rssKB = rssKB
                entry.lastSeen = cycle
                entries[pid] = entry
            } else {
                var entry = ProcessEntry(
                    pid: pid, comm: stat.comm, startTicks: stat.startTicks, rssKB: rssKB,
                    cmdline: nil, cgroup: nil, identity: CgroupIdentity(), lastSeen: cycle)
                // Kernel threads (no RSS) are never OOM victims: skip their files.
                if stat.rssPages > 0 {
                    if let bytes = readFile(pid, "cmdline") { entry.cmdline = ProcCmdline.parse(bytes) }
                    if let bytes = readFile(pid, "cgroup"), let path = ProcCgroup.memoryPath(bytes) {
                        entry.cgroup = path
                        entry.identity = CgroupIdentity.parse(path: path)
                    }
                }
                entries[pid] = entry
            }
            insertTop(stat)
        }
        var samples: [ProcessSample] = []
        samples.reserveCapacity(top.count)
        for (_, stat) in top {
            let pid = Int32(stat.pid)
            var s = ProcessSample(pid: stat.pid, comm: stat.comm, rssKB: stat.rssPages * pageKB)
            s.ppid = stat.ppid
            s.vmSizeKB = stat.vsizeBytes / 1024
            if let boot = bootEpochSeconds {
                let micros = boot * 1_000_000 + stat.startTicks * 1_000_000 / ticksPerSecond
                s.startedAt = RFC3339.format(epochMicroseconds: micros)
            }
            if let bytes = readFile(pid, "status") {
                let status = ProcStatus.parse(bytes)
                s.uid = status.uid
                s.rssAnonKB = status.rssAnonKB
                s.rssFileKB = status.rssFileKB
                s.rssShmemKB = status.rssShmemKB
                s.swapKB = status.vmSwapKB
                // rss_kb stays the value the ranking used (stat), so the list is ordered.
            }
            if let bytes = readFile(pid, "oom_score") { s.oomScore = ProcNumber.parse(bytes).map(Int.init) }
            if let bytes = readFile(pid, "oom_score_adj") {
                s.oomScoreAdj = ProcNumber.parse(bytes).map(Int.init)
            }
            if let entry = entries[pid] {
                s.cmdline = entry.cmdline
                s.cgroup = entry.cgroup
                s.unit = entry.identity.unit
                s.containerID = entry.identity.containerID
                s.podUID = entry.identity.podUID
            }
            samples.append(s)
        }
        snapshot.processes = samples
    }

    /// Keeps `top` sorted by RSS, largest first, at most `topN` long.
    private mutating func insertTop(_ stat: ProcStat) {
        guard topN > 0 else { return }
        if top.count == topN, let last = top.last, last.rssPages >= stat.rssPages { return }
        var i = top.count
        while i > 0, top[i - 1].rssPages < stat.rssPages { i -= 1 }
        top.insert((stat.rssPages, stat), at: i)
        if top.count > topN { top.removeLast() }
    }

    private mutating func readStat(_ pid: Int32) -> ProcStat? {
        guard let bytes = readFile(pid, "stat") else { return nil }
        return ProcStat.parse(bytes)
    }

    /// Builds `<procRoot>/<pid>/<file>\0` in the reusable path buffer and reads it.
    private mutating func readFile(_ pid: Int32, _ file: StaticString) -> ArraySlice<UInt8>? {
        path.removeAll(keepingCapacity: true)
        path.append(contentsOf: procRoot.utf8)
        path.append(47)
        appendDecimal(pid)
        path.append(47)
        file.withUTF8Buffer { path.append(contentsOf: $0) }
        path.append(0)
        return reader.read(cPath: path)
    }

    private mutating func appendDecimal(_ value: Int32) {
        var v = value
        let start = path.count
        repeat {
            path.append(UInt8(48 + v % 10))
            v /= 10
        } while v > 0
        path[start...].reverse()
    }

    /// `btime` from /proc/stat: the boot time as seconds since the epoch.
    private mutating func readBootTime() -> Int64? {
        guard let bytes = try? reader.read(procRoot + "/stat") else { return nil }
        var found: Int64?
        var start = bytes.startIndex
        for i in bytes.indices where bytes[i] == ASCII.newline {
            let line = bytes[start..<i]
            if line.starts(with: "btime ".utf8) {
                found = Int64(String(decoding: line.dropFirst(6), as: UTF8.self))
                break
            }
            start = i + 1
        }
        return found
    }
}
