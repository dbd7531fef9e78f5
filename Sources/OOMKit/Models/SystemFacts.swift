/// The OOM-related sysctls under /proc/sys/vm; `nil` where the file is missing.
public struct OOMSysctls: Codable, Sendable, Equatable {
    /// 0 heuristic, 1 always overcommit, 2 strict accounting.
    public var overcommitMemory: Int?
    public var overcommitRatio: Int?
    public var panicOnOOM: Int?
    public var oomKillAllocatingTask: Int?
    public var swappiness: Int?
    public var minFreeKbytes: Int64?

    public init(
        overcommitMemory: Int? = nil, overcommitRatio: Int? = nil, panicOnOOM: Int? = nil,
        oomKillAllocatingTask: Int? = nil, swappiness: Int? = nil, minFreeKbytes: Int64? = nil
    ) {
        self.overcommitMemory = overcommitMemory
        self.overcommitRatio = overcommitRatio
        self.panicOnOOM = panicOnOOM
        self.oomKillAllocatingTask = oomKillAllocatingTask
        self.swappiness = swappiness
        self.minFreeKbytes = minFreeKbytes
    }

    enum CodingKeys: String, CodingKey {
        case overcommitMemory = "overcommit_memory"
        case overcommitRatio = "overcommit_ratio"
        case panicOnOOM = "panic_on_oom"
        case oomKillAllocatingTask = "oom_kill_allocating_task"
        case swappiness
        case minFreeKbytes = "min_free_kbytes"
    }
}

/// One line of /proc/swaps.
public struct SwapDevice: Codable, Sendable, Equatable {
    public var device: String
    /// `partition` or `file`.
    public var type: String
    public var sizeKB: Int64
    public var usedKB: Int64
    public var priority: Int?

    public init(device: String, type: String, sizeKB: Int64, usedKB: Int64, priority: Int? = nil) {
        self.device = device
        self.type = type
        self.sizeKB = sizeKB
        self.usedKB = usedKB
        self.priority = priority
    }

    enum CodingKeys: String, CodingKey {
        case device, type
        case sizeKB = "size_kb"
        case usedKB = "used_kb"
        case priority
    }
}

/// A zram device (/sys/block/zramN) with a size set.
public struct ZramDevice: Codable, Sendable, Equatable {
    public var device: String
    public var disksizeKB: Int64
    /// Compressed memory in use (`mm_stat`'s mem_used_total), when readable.
    public var memUsedKB: Int64?

    public init(device: String, disksizeKB: Int64, memUsedKB: Int64? = nil) {
        self.device = device
        self.disksizeKB = disksizeKB
        self.memUsedKB = memUsedKB
    }

    enum CodingKeys: String, CodingKey {
        case device
        case disksizeKB = "disksize_kb"
        case memUsedKB = "mem_used_kb"
    }
}

/// Whether systemd-oomd and earlyoom run on the host.
public struct UserspaceKillers: Codable, Sendable, Equatable {
    public var systemdOomd: Bool
    public var earlyoom: Bool

    public init(systemdOomd: Bool, earlyoom: Bool) {
        self.systemdOomd = systemdOomd
        self.earlyoom = earlyoom
    }

    /// Either one runs.
    public var any: Bool { systemdOomd || earlyoom }

    enum CodingKeys: String, CodingKey {
        case systemdOomd = "systemd_oomd"
        case earlyoom
    }
}

/// One process of a configured critical service.
public struct CriticalProcess: Codable, Sendable, Equatable {
    /// The configured service name it matched.
    public var service: String
    public var pid: Int
    public var comm: String
    public var oomScoreAdj: Int?
    public var unit: String?
    public var cgroup: String?
    /// The unit's memory limits (cgroup memory.max / memory.high, v1 limit_in_bytes);
    /// `nil` when unlimited or unknown.
    public var memoryMaxKB: Int64?
    public var memoryHighKB: Int64?

    public init(service: String, pid: Int, comm: String) {
        self.service = service
        self.pid = pid
        self.comm = comm
    }

    enum CodingKeys: String, CodingKey {
        case service, pid, comm
        case oomScoreAdj = "oom_score_adj"
        case unit, cgroup
        case memoryMaxKB = "memory_max_kb"
        case memoryHighKB = "memory_high_kb"
    }
}
