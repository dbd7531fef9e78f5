import HostSupport
public import OOMKit

/// Memory cgroups worth watching: those with a limit or with OOM kills, walked from the
/// memory hierarchy's root to a bounded depth. Works on cgroup v1 (`memory/` with
/// `memory.limit_in_bytes`, `memory.oom_control`) and v2 (`memory.max`, `memory.events`).
public struct CgroupSource: MemorySource {
    public let name = "cgroups"
    public enum Version: Sendable, Equatable { case v1, v2 }

    private let cgroupRoot: String
    private let maxDepth: Int
    private let maxCgroups: Int
    private var reader = FileReader(initialCapacity: 1024)
    private var layout: (root: String, version: Version)?

    public init(cgroupRoot: String, maxDepth: Int = 3, maxCgroups: Int = 50) {
        self.cgroupRoot = cgroupRoot
        self.maxDepth = maxDepth
        self.maxCgroups = maxCgroups
    }

    /// Where the memory controller is mounted under `cgroupRoot`: v1's `memory/` (also on
    /// hybrid hosts, where the memory controller stays on v1) or a v2 unified root.
    public static func detect(cgroupRoot: String) -> (root: String, version: Version)? {
        if access(cgroupRoot + "/memory/memory.usage_in_bytes") { return (cgroupRoot + "/memory", .v1) }
        if access(cgroupRoot + "/memory.usage_in_bytes") { return (cgroupRoot, .v1) }
        // A v2 root lists "memory" in cgroup.controllers only if it is enabled there.
        for root in [cgroupRoot, cgroupRoot + "/unified"] where access(root + "/cgroup.controllers") {
            var r = FileReader(initialCapacity: 256)
            if let bytes = try? r.read(root + "/cgroup.controllers"),
                String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
                    .contains("memory")
            {
                return (root, .v2)
            }
        }
        return nil
    }

    private static func access(_ path: String) -> Bool {
        var r = FileReader(initialCapacity: 64)
        return (try? r.read(path, limit: 64)) != nil
    }

    public mutating func collect(into snapshot: inout MemorySnapshot) throws {
        if layout == nil { layout = Self.detect(cgroupRoot: cgroupRoot) }
        guard let layout else {
            throw FileReadError(path: cgroupRoot + " (no memory cgroup controller found)", errno: 2)
        }
        var out: [CgroupSample] = []
        var queue: [(path: String, depth: Int)] = [("", 0)]
        var visited = 0
        while !queue.isEmpty, out.count < maxCgroups, visited < maxCgroups * 20 {
            let (rel, depth) = queue.removeFirst()
            visited += 1
            let dir = layout.root + rel
            if let sample = read(dir: dir, rel: rel.isEmpty ? "/" : rel, version: layout.version),
                rel.isEmpty || sample.limitKB != nil || (sample.oomKill ?? 0) > 0
            {
                out.append(sample)
            }
            guard depth < maxDepth else { continue }
            try? DirectoryList.forEach(dir) { name, isDir in
                guard isDir else { return }
                queue.append((rel + "/" + String(decoding: name, as: UTF8.self), depth + 1))
            }
        }
        snapshot.cgroups = out
    }

    private mutating func read(dir: String, rel: String, version: Version) -> CgroupSample? {
        var s = CgroupSample(path: rel)
        switch version {
        case .v1:
            guard let usage = try? reader.read(dir + "/memory.usage_in_bytes") else { return nil }
            s.usageKB = CgroupMemoryFile.kilobytes(usage) ?? nil
            if let limit = try? reader.read(dir + "/memory.limit_in_bytes") {
                s.limitKB = CgroupMemoryFile.kilobytes(limit) ?? nil
            }
            if let control = try? reader.read(dir + "/memory.oom_control") {
                s.oomKill = CgroupMemoryFile.oomKill(control)
            }
        case .v2:
            // The v2 root has no memory.current; its children do.
            if let usage = try? reader.read(dir + "/memory.current") {
                s.usageKB = CgroupMemoryFile.kilobytes(usage) ?? nil
            } else if rel != "/" {
                return nil
            }
            if let limit = try? reader.read(dir + "/memory.max") {
                s.limitKB = CgroupMemoryFile.kilobytes(limit) ?? nil
            }
            if let events = try? reader.read(dir + "/memory.events") {
                s.oomKill = CgroupMemoryFile.oomKill(events)
            }
        }
        return s
    }
}
