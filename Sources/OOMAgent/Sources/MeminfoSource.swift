import HostSupport
public import OOMKit

/// /proc/meminfo: every field.
public struct MeminfoSource: MemorySource {
    public let name = "meminfo"
    private let path: String
    private var reader = FileReader(initialCapacity: 4096)

    public init(procRoot: String) { path = procRoot + "/meminfo" }

    public mutating func collect(into snapshot: inout MemorySnapshot) throws {
        let bytes = try reader.read(path)
        snapshot.memory.reserveCapacity(64)
        Meminfo.parse(bytes) { key, value in snapshot.memory[key] = value }
    }
}
