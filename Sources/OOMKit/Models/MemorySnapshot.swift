/// One sample of a host's memory state (see docs/interfaces.md, "Memory snapshot").
public struct MemorySnapshot: Codable, Sendable, Equatable {
    public var host: String
    public var bootID: String?
    /// RFC 3339 UTC.
    public var time: String
    public var uptimeS: Double?
    public var kernel: String?
    /// Every /proc/meminfo field as `name_kb` in snake_case (`total_kb`, `available_kb`, …).
    public var memory: [String: Int64]
    /// Counters from /proc/vmstat.
    public var vmstat: [String: Int64]
    /// PSI memory pressure; `nil` where the kernel has no PSI.
    public var pressure: Pressure?
    /// The top processes by RSS.
    public var processes: [ProcessSample]
    /// Memory cgroups worth watching.
    public var cgroups: [CgroupSample]
    /// OOM-related sysctls; sent when they change (and now and then), absent otherwise
    /// and from agents older than the field.
    public var sysctl: OOMSysctls?
    /// Active swap devices (/proc/swaps), sent with `sysctl`.
    public var swaps: [SwapDevice]?
    /// zram devices with a size set, sent with `sysctl`.
    public var zram: [ZramDevice]?
    /// Whether a userspace OOM killer runs, sent with `sysctl`.
    public var userspaceKillers: UserspaceKillers?
    /// The configured critical services' processes, sent with `sysctl`.
    public var critical: [CriticalProcess]?
    /// Set only on the wire, in a delta against an earlier snapshot (issue 15, "wire"):
    /// see ``wireDelta(full:short:base:)``. The collector expands a delta before anything
    /// else sees it; stored and served snapshots never carry it.
    public var base: SnapshotBase?

    public init(
        host: String, bootID: String? = nil, time: String, uptimeS: Double? = nil,
        kernel: String? = nil, memory: [String: Int64] = [:], vmstat: [String: Int64] = [:],
        pressure: Pressure? = nil, processes: [ProcessSample] = [], cgroups: [CgroupSample] = []
    ) {
        self.host = host
        self.bootID = bootID
        self.time = time
        self.uptimeS = uptimeS
        self.kernel = kernel
        self.memory = memory
        self.vmstat = vmstat
        self.pressure = pressure
        self.processes = processes
        self.cgroups = cgroups
    }

    enum CodingKeys: String, CodingKey {
        case host
        case bootID = "boot_id"
        case time
        case uptimeS = "uptime_s"
        case kernel, memory, vmstat, pressure, processes, cgroups, sysctl, swaps, zram
        case userspaceKillers = "userspace_killers"
        case critical, base
    }
}

/// /proc/pressure/memory.
public struct Pressure: Codable, Sendable, Equatable {
    public var someAvg10: Double
    public var someAvg60: Double
    public var someAvg300: Double
    public var someTotalUs: Int64
    public var fullAvg10: Double?
    public var fullAvg60: Double?
    public var fullAvg300: Double?
    public var fullTotalUs: Int64?

    public init(
        someAvg10: Double, someAvg60: Double, someAvg300: Double, someTotalUs: Int64,
        fullAvg10: Double? = nil, fullAvg60: Double? = nil, fullAvg300: Double? = nil,
        fullTotalUs: Int64? = nil
    ) {
        self.someAvg10 = someAvg10
        self.someAvg60 = someAvg60
        self.someAvg300 = someAvg300
        self.someTotalUs = someTotalUs
        self.fullAvg10 = fullAvg10
        self.fullAvg60 = fullAvg60
        self.fullAvg300 = fullAvg300
        self.fullTotalUs = fullTotalUs
    }

    enum CodingKeys: String, CodingKey {
        case someAvg10 = "some_avg10"
        case someAvg60 = "some_avg60"
        case someAvg300 = "some_avg300"
        case someTotalUs = "some_total_us"
        case fullAvg10 = "full_avg10"
        case fullAvg60 = "full_avg60"
        case fullAvg300 = "full_avg300"
        case fullTotalUs = "full_total_us"
    }
}

/// One process in a snapshot.
public struct ProcessSample: Codable, Sendable, Equatable {
    public var pid: Int
    public var ppid: Int?
    public var comm: String
    public var cmdline: String?
    public var uid: Int?
    /// RFC 3339 UTC, from the process's start time in /proc/PID/stat.
    public var startedAt: String?
    public var vmSizeKB: Int64?
    public var rssKB: Int64
    public var rssAnonKB: Int64?
    public var rssFileKB: Int64?
    public var rssShmemKB: Int64?
    public var swapKB: Int64?
    public var oomScore: Int?
    public var oomScoreAdj: Int?
    public var cgroup: String?
    public var unit: String?
    public var containerID: String?
    public var podUID: String?
    /// Sent by reference (issue 15, "wire"): the collector holds this process's details
    /// (`ProcessDetail`) from the agent's last acknowledged batch; `ref` is their digest
    /// as 16 hex digits, and only pid and the moving numbers are sent (`comm` empty).
    /// The collector fills the details in before anything else sees the snapshot.
    public var ref: String?

    public init(pid: Int, comm: String, rssKB: Int64) {
        self.pid = pid
        self.comm = comm
        self.rssKB = rssKB
    }

    enum CodingKeys: String, CodingKey {
        case pid, ppid, comm, cmdline, uid
        case startedAt = "started_at"
        case vmSizeKB = "vm_size_kb"
        case rssKB = "rss_kb"
        case rssAnonKB = "rss_anon_kb"
        case rssFileKB = "rss_file_kb"
        case rssShmemKB = "rss_shmem_kb"
        case swapKB = "swap_kb"
        case oomScore = "oom_score"
        case oomScoreAdj = "oom_score_adj"
        case cgroup, unit
        case containerID = "container_id"
        case podUID = "pod_uid"
        case ref
    }
}

/// One memory cgroup in a snapshot.
public struct CgroupSample: Codable, Sendable, Equatable {
    public var path: String
    public var usageKB: Int64?
    /// `nil` when unlimited.
    public var limitKB: Int64?
    public var oomKill: Int64?

    public init(path: String, usageKB: Int64? = nil, limitKB: Int64? = nil, oomKill: Int64? = nil) {
        self.path = path
        self.usageKB = usageKB
        self.limitKB = limitKB
        self.oomKill = oomKill
    }

    enum CodingKeys: String, CodingKey {
        case path
        case usageKB = "usage_kb"
        case limitKB = "limit_kb"
        case oomKill = "oom_kill"
    }
}
