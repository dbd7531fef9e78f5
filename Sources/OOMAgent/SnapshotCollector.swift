import HostSupport
public import Logging
public import OOMKit

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the enabled sources into one snapshot, timing each; a failing source is logged
/// and counted, and the snapshot goes out without its part.
public struct SnapshotCollector: Sendable {
    public private(set) var sources: [any MemorySource]
    public let processTable: ProcessTable
    private let counters: AgentCounters
    private let logger: Logger
    /// Last error per source, to log a broken source once per change instead of every cycle.
    private var lastErrors: [String: String] = [:]
    /// How long each source took last time, nanoseconds.
    public private(set) var lastDurations: [String: UInt64] = [:]

    public init(
        sources: [any MemorySource], processTable: ProcessTable, counters: AgentCounters,
        logger: Logger
    ) {
        self.sources = sources
        self.processTable = processTable
        self.counters = counters
        self.logger = logger
    }

    /// The sources `config` switches on, reading from its roots.
    public static func make(
        config: AgentConfig, counters: AgentCounters, logger: Logger,
        processTable: ProcessTable = ProcessTable()
    ) -> SnapshotCollector {
        var sources: [any MemorySource] = []
        let s = config.sources
        if s.host { sources.append(HostSource(procRoot: config.roots.proc, hostname: config.hostname)) }
        if s.meminfo { sources.append(MeminfoSource(procRoot: config.roots.proc)) }
        if s.vmstat {
            sources.append(
                VmstatSource(
                    procRoot: config.roots.proc,
                    keys: config.vmstatAll ? nil : Vmstat.defaultKeys))
        }
        if s.pressure { sources.append(PressureSource(procRoot: config.roots.proc)) }
        if s.processes {
            sources.append(
                ProcessSource(procRoot: config.roots.proc, topN: config.topProcesses, table: processTable))
        }
        if s.cgroups {
            sources.append(
                CgroupSource(
                    cgroupRoot: config.roots.cgroup, maxDepth: config.cgroupMaxDepth,
                    maxCgroups: config.cgroupMax))
        }
        if s.system {
            // After `processes`: it reads that source's process table, not /proc again.
            sources.append(
                SystemSource(
                    roots: config.roots, criticalServices: config.criticalServices,
                    every: config.systemEvery, table: processTable))
        }
        return SnapshotCollector(
            sources: sources, processTable: processTable, counters: counters, logger: logger)
    }

    /// One snapshot from every enabled source, stamped with the current wall time.
    public mutating func collect(host: String) -> MemorySnapshot {
        var snapshot = MemorySnapshot(host: host, time: RFC3339.format(epochMicroseconds: HostClock.nowMicros()))
        for i in sources.indices {
            let start = HostClock.monotonicNanos()
            let name = sources[i].name
            do {
                try sources[i].collect(into: &snapshot)
                if lastErrors.removeValue(forKey: name) != nil {
                    logger.info("source recovered", metadata: ["source.name": "\(name)"])
                }
            } catch {
                counters.sourceErrors.add(1)
                let text = "\(error)"
                if lastErrors[name] != text {
                    lastErrors[name] = text
                    logger.warning(
                        "source failed", metadata: ["source.name": "\(name)", "error": "\(text)"])
                }
            }
            lastDurations[name] = HostClock.monotonicNanos() &- start
        }
        return snapshot
    }
}
