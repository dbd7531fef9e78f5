/// /proc/PID/cgroup → the memory cgroup path and what it says about the process.
public enum ProcCgroup {
    /// One `hierarchy-ID:controllers:path` line.
    public struct Entry: Sendable, Equatable {
        public var hierarchyID: Int
        public var controllers: [String]
        public var path: String
    }

    public static func parse(_ bytes: ArraySlice<UInt8>) -> [Entry] {
        var out: [Entry] = []
        ProcBytes.forEachLine(bytes) { line in
            guard let c1 = line.firstIndex(of: ASCII.colon),
                let c2 = line[(c1 + 1)...].firstIndex(of: ASCII.colon),
                let id = ProcBytes.wholeInteger(line[line.startIndex..<c1])
            else { return true }
            let controllers = line[(c1 + 1)..<c2].split(separator: 44).map(ProcBytes.string)
            out.append(
                Entry(
                    hierarchyID: Int(id), controllers: controllers,
                    path: ProcBytes.string(line[(c2 + 1)...])))
            return true
        }
        return out
    }

    public static func parse(_ text: String) -> [Entry] { parse(ArraySlice(text.utf8)) }

    /// The path that decides memory limits: the v1 `memory` controller's line if there is
    /// one, else the v2 unified (`0::`) line.
    public static func memoryPath(_ bytes: ArraySlice<UInt8>) -> String? {
        var unified: String?
        var v1: String?
        ProcBytes.forEachLine(bytes) { line in
            guard let c1 = line.firstIndex(of: ASCII.colon),
                let c2 = line[(c1 + 1)...].firstIndex(of: ASCII.colon)
            else { return true }
            let controllers = line[(c1 + 1)..<c2]
            if controllers.isEmpty {
                if line[line.startIndex..<c1].elementsEqual("0".utf8) {
                    unified = ProcBytes.string(line[(c2 + 1)...])
                }
            } else if controllers.split(separator: 44).contains(where: {
                $0.elementsEqual("memory".utf8)
            }) {
                v1 = ProcBytes.string(line[(c2 + 1)...])
                return false
            }
            return true
        }
        return v1 ?? unified
    }

    public static func memoryPath(_ text: String) -> String? { memoryPath(ArraySlice(text.utf8)) }
}

/// What a cgroup path tells about its processes: the systemd unit, the container and the
/// Kubernetes pod.
public struct CgroupIdentity: Sendable, Equatable {
    /// The innermost systemd unit: `nginx.service`, `docker-<id>.scope`, `session-3.scope`.
    public var unit: String?
    /// The 64-hex container id (docker, containerd, cri-o, podman/libpod).
    public var containerID: String?
    /// The Kubernetes pod UID, dashes restored (`kubepods-…-pod<uid>.slice` or `pod<uid>`).
    public var podUID: String?

    public init(unit: String? = nil, containerID: String? = nil, podUID: String? = nil) {
        self.unit = unit
        self.containerID = containerID
        self.podUID = podUID
    }

    /// Reads the identity from a cgroup path such as
    /// `/system.slice/docker-4f3a….scope`, `/docker/4f3a…`,
    /// `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12ab_cd.slice/cri-containerd-4f3a….scope`,
    /// `/kubepods/besteffort/pod12ab-cd…/4f3a…`, `/machine.slice/libpod-4f3a….scope`.
    public static func parse(path: String) -> CgroupIdentity {
        var id = CgroupIdentity()
        for component in path.split(separator: "/") {
            let c = String(component)
            if c.hasSuffix(".service") || c.hasSuffix(".scope") || c.hasSuffix(".socket")
                || c.hasSuffix(".mount") || c.hasSuffix(".swap")
            {
                id.unit = c
            }
            if let container = containerID(in: c) { id.containerID = container }
            if let pod = podUID(in: c) { id.podUID = pod }
        }
        return id
    }

    /// A 64-hex id in one path component, bare or wrapped as `docker-ID.scope`,
    /// `cri-containerd-ID.scope`, `crio-ID.scope`, `libpod-ID.scope`,
    /// `libpod-conmon-ID.scope` is conmon, not the container, and is ignored.
    static func containerID(in component: String) -> String? {
        var c = Substring(component)
        if c.hasSuffix(".scope") { c = c.dropLast(6) }
        if c.hasPrefix("libpod-conmon-") || c.hasPrefix("crio-conmon-") { return nil }
        if let dash = c.lastIndex(of: "-") { c = c[c.index(after: dash)...] }
        guard c.utf8.count == 64, c.utf8.allSatisfy(isHex) else { return nil }
        return String(c)
    }

    static func podUID(in component: String) -> String? {
        var c = Substring(component)
        if c.hasSuffix(".slice") { c = c.dropLast(6) }
        // The uid follows the last "pod" in the component.
        let u = Array(c.utf8)
        var start: Int?
        var i = u.count - 3
        while i >= 0 {
            if u[i] == 112, u[i + 1] == 111, u[i + 2] == 100 {
                start = i + 3
                break
            }
            i -= 1
        }
        guard let start else { return nil }
        let rest = String(decoding: u[start...], as: UTF8.self)
        // systemd's driver escapes "-" in the uid as "_".
        let uid = String(rest.map { $0 == "_" ? "-" : $0 })
        guard uid.utf8.count == 36,
            uid.utf8.allSatisfy({ isHex($0) || $0 == ASCII.minus }),
            uid.utf8.filter({ $0 == ASCII.minus }).count == 4
        else { return nil }
        return uid
    }

    private static func isHex(_ c: UInt8) -> Bool {
        ASCII.isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
    }
}

/// Files of a memory cgroup, v1 and v2.
public enum CgroupMemoryFile {
    /// Limits at or above this are "no limit" (v1 prints 9223372036854771712, rounded down
    /// to the page size).
    public static let unlimitedThreshold: Int64 = 1 << 62

    /// A byte count file (`memory.usage_in_bytes`, `memory.current`,
    /// `memory.limit_in_bytes`, `memory.max`) in kB; `nil` for `max` and for v1's
    /// "unlimited" sentinel.
    public static func kilobytes(_ bytes: ArraySlice<UInt8>) -> Int64?? {
        let t = ProcBytes.trimmed(bytes)
        if t.elementsEqual("max".utf8) { return .some(nil) }
        guard let v = ProcBytes.wholeInteger(t) else { return nil }
        if v >= unlimitedThreshold { return .some(nil) }
        return .some(v / 1024)
    }

    /// The `oom_kill N` line of v1 `memory.oom_control` or v2 `memory.events`.
    public static func oomKill(_ bytes: ArraySlice<UInt8>) -> Int64? {
        var found: Int64?
        ProcBytes.forEachLine(bytes) { line in
            if line.starts(with: "oom_kill ".utf8) {
                found = ProcBytes.integer(in: line, from: line.startIndex + 9)?.value
                return false
            }
            return true
        }
        return found
    }

    public static func oomKill(_ text: String) -> Int64? { oomKill(ArraySlice(text.utf8)) }
}
