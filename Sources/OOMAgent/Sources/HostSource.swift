import HostSupport
public import OOMKit

/// Host identity and clocks: host name, boot_id, kernel release, uptime.
public struct HostSource: MemorySource {
    public let name = "host"
    private let procRoot: String
    /// A configured name wins over the kernel's.
    private let hostnameOverride: String?
    private var reader = FileReader(initialCapacity: 256)
    /// These do not change while the agent runs (a reboot restarts it).
    private var cached: (host: String, bootID: String?, kernel: String?)?

    public init(procRoot: String, hostname: String? = nil) {
        self.procRoot = procRoot
        self.hostnameOverride = hostname
    }

    public mutating func collect(into snapshot: inout MemorySnapshot) throws {
        if cached == nil {
            let host =
                hostnameOverride ?? (try? text(procRoot + "/sys/kernel/hostname")) ?? "localhost"
            cached = (
                host, try? text(procRoot + "/sys/kernel/random/boot_id"),
                try? text(procRoot + "/sys/kernel/osrelease")
            )
        }
        snapshot.host = cached!.host
        snapshot.bootID = cached!.bootID
        snapshot.kernel = cached!.kernel
        let uptime = try reader.read(procRoot + "/uptime")
        snapshot.uptimeS = Self.firstDouble(uptime)
    }

    private mutating func text(_ path: String) throws -> String {
        var t = try reader.read(path)
        while let last = t.last, last == ASCII.newline || last == ASCII.space { t = t.dropLast() }
        return String(decoding: t, as: UTF8.self)
    }

    /// The first field as seconds: finite, 0 or more and below 10^10 (the collector's
    /// range), else `nil`. `Double` also parses `nan` and `inf`, which JSON cannot carry: a
    /// hostile or broken /proc (a container's FUSE-backed one) must cost one field, not
    /// the whole snapshot.
    static func firstDouble(_ bytes: ArraySlice<UInt8>) -> Double? {
        let end = bytes.firstIndex(where: { $0 == ASCII.space || $0 == ASCII.newline }) ?? bytes.endIndex
        guard let v = Double(String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)),
            v.isFinite, v >= 0, v < 1e10
        else { return nil }
        return v
    }
}

/// The host facts the rest of the agent needs outside snapshots (events, batches).
public struct HostIdentity: Sendable, Equatable {
    public var host: String
    public var bootID: String?
    public var kernel: String?

    public init(host: String, bootID: String?, kernel: String?) {
        self.host = host
        self.bootID = bootID
        self.kernel = kernel
    }

    /// Reads them once from `procRoot`.
    public static func read(procRoot: String, hostname: String? = nil) -> HostIdentity {
        var source = HostSource(procRoot: procRoot, hostname: hostname)
        var s = MemorySnapshot(host: "", time: "")
        try? source.collect(into: &s)
        return HostIdentity(
            host: s.host.isEmpty ? (hostname ?? "localhost") : s.host, bootID: s.bootID, kernel: s.kernel)
    }
}
