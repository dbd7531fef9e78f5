public import OOMKit

/// One thing the agent samples into a snapshot: /proc/meminfo, /proc/vmstat, PSI, the
/// process table, memory cgroups, host identity. Each is a value with its own read buffer,
/// switched on or off in the config, timed and counted by `SnapshotCollector`.
public protocol MemorySource: Sendable {
    /// The config name (`meminfo`, `vmstat`, `pressure`, `processes`, `cgroups`, `host`).
    var name: String { get }

    /// Fills this source's part of `snapshot`. Throwing means "broken" (counted and
    /// logged); leaving the snapshot untouched means "nothing to report".
    mutating func collect(into snapshot: inout MemorySnapshot) throws
}

/// Where the files live, so tests can use a fixture tree and containers `/host/proc`.
public struct FileRoots: Sendable, Equatable {
    public var proc: String
    public var cgroup: String
    public var kmsg: String
    /// sysfs, for zram devices (`block/zramN`).
    public var sys: String

    public init(
        proc: String = "/proc", cgroup: String = "/sys/fs/cgroup", kmsg: String = "/dev/kmsg",
        sys: String = "/sys"
    ) {
        self.proc = proc
        self.cgroup = cgroup
        self.kmsg = kmsg
        self.sys = sys
    }
}
