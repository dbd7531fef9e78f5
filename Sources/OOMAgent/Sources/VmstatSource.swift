import HostSupport
public import OOMKit

/// /proc/vmstat: the counters that explain memory trouble (`Vmstat.defaultKeys`), or all.
public struct VmstatSource: MemorySource {
    public let name = "vmstat"
    private let path: String
    private let keys: Set<String>?
    private var reader = FileReader(initialCapacity: 8192)

    /// `keys == nil` keeps every counter.
    public init(procRoot: String, keys: Set<String>? = Vmstat.defaultKeys) {
        path = procRoot + "/vmstat"
        self.keys = keys
    }

    public mutating func collect(into snapshot: inout MemorySnapshot) throws {
        snapshot.vmstat = Vmstat.parse(try reader.read(path), keys: keys)
    }
}
