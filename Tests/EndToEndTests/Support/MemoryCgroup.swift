import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child memory cgroup of the test's own, with a small limit, where a process that
/// allocates without bound is killed by the kernel's real OOM killer.
struct MemoryCgroup {
    /// The directory under /sys/fs/cgroup.
    let directory: String
    /// The path as the kernel prints it in `oom_memcg=` / `task_memcg=` (relative to the
    /// hierarchy's root, as in /proc/self/cgroup).
    let kernelPath: String

    /// Where this process may create memory cgroups, or why it may not.
    enum Parent {
        case available(directory: String, kernelPath: String, version: Int)
        case unavailable(String)
    }

    /// Finds the memory cgroup this process is in: the cgroup v1 `memory` hierarchy when
    /// mounted, else the unified (v2) one.
    static func parent(cgroupRoot: String = "/sys/fs/cgroup") -> Parent {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else {
            return .unavailable("/proc/self/cgroup is not readable")
        }
        var unifiedPath: String?
        for line in text.split(separator: "\n") {
            // hierarchy-ID:controller-list:path
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(fields[2])
            if fields[1].split(separator: ",").contains("memory") {
                let dir = cgroupRoot + "/memory" + (path == "/" ? "" : path)
                guard FileManager.default.fileExists(atPath: dir + "/memory.limit_in_bytes") else {
                    return .unavailable("the cgroup v1 memory hierarchy is not mounted at \(cgroupRoot)/memory")
                }
                return .available(directory: dir, kernelPath: path, version: 1)
            }
            if fields[0] == "0" && fields[1].isEmpty { unifiedPath = path }
        }
        if let path = unifiedPath, FileManager.default.fileExists(atPath: cgroupRoot + "/cgroup.controllers") {
            let dir = cgroupRoot + (path == "/" ? "" : path)
            return .available(directory: dir, kernelPath: path, version: 2)
        }
        return .unavailable("this process is in no memory cgroup (no v1 memory line, no v2 hierarchy)")
    }

    /// Creates `<parent>/<name>` with `limitBytes` as its memory limit. Throws with the
    /// reason when the kernel does not let us (not root, read-only cgroupfs, no memory
    /// controller delegated).
    static func create(name: String, limitBytes: Int) throws -> MemoryCgroup {
        let parent = parent()
        guard case .available(let parentDir, let parentPath, let version) = parent else {
            if case .unavailable(let why) = parent { throw E2EError(why) }
            throw E2EError("no memory cgroup")
        }
        let dir = parentDir + "/" + name
        guard mkdir(dir, 0o755) == 0 else {
            throw E2EError("cannot create \(dir): \(String(cString: strerror(errno)))")
        }
        let cgroup = MemoryCgroup(
            directory: dir, kernelPath: (parentPath == "/" ? "" : parentPath) + "/" + name)
        do {
            if version == 1 {
                try write("\(limitBytes)", to: dir + "/memory.limit_in_bytes")
            } else {
                // v2 needs the memory controller enabled for children; the write fails
                // (EBUSY) where the parent holds processes, and then there is no memory.max.
                try? write("+memory", to: parentDir + "/cgroup.subtree_control")
                guard FileManager.default.fileExists(atPath: dir + "/memory.max") else {
                    throw E2EError("the memory controller is not enabled for children of \(parentDir)")
                }
                try write("\(limitBytes)", to: dir + "/memory.max")
                // Swap would let the hog grow past the limit instead of being killed.
                try? write("0", to: dir + "/memory.swap.max")
            }
        } catch {
            cgroup.remove()
            throw error
        }
        return cgroup
    }

    /// Starts `hog` (a copy of `tail`, reading /dev/zero: one endless line, so it buffers
    /// without bound) inside this cgroup. `sh` moves itself in and then execs, so the
    /// returned process's pid is the victim's.
    func startHog(hog: String, logPath: String) throws -> ChildProcess {
        try ChildProcess(
            name: "hog", executable: "/bin/sh",
            arguments: ["-c", "echo $$ > '\(directory)/cgroup.procs' && exec '\(hog)' /dev/zero"],
            logPath: logPath)
    }

    /// Removes the cgroup. rmdir fails while a task is still inside (a dying victim can
    /// linger a moment), so it retries briefly.
    func remove() {
        for _ in 0..<50 {
            if rmdir(directory) == 0 || errno == ENOENT { return }
            usleep(100_000)
        }
    }

    private static func write(_ value: String, to path: String) throws {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw E2EError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw E2EError("cannot write \(value) to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
