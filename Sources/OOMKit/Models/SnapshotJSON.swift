import Synchronization

/// The collector's two hottest JSON steps for a snapshot, written for the snapshot's own
/// shape (issue 15, "collector CPU"): reading a posted `MemorySnapshot` from the parsed
/// tree, and writing the stored `CompactSnapshot`. Through `Codable` each went through a
/// container, a coding key and a generic call per field, a fifth of the collector's CPU.
///
/// Neither is a second definition of the format. Each handles the snapshot as agents send
/// it, converts scalars with `JSONValue`'s own accessors (the ones `Decodable` uses), and
/// gives up on anything else (a wrong type, a missing field, a key that needs escapes …);
/// then the `Codable` path runs and its answer, value or error, is the one given. Tests compare both paths on real and mutated snapshots.
/// `OOMEvent(tree:)` (OOMEventJSON.swift) reads events the same way, with `TreeField`.

// MARK: - Reading a posted snapshot

/// Something only the `Decodable` path should judge.
struct UnusualValue: Error {}

extension MemorySnapshot {
    /// The snapshot `value` holds, or nil when the `Decodable` path must decide (the
    /// answer is then the same value, or an error).
    init?(tree value: JSONValue) {
        do {
            self = try Self.read(value)
        } catch {
            return nil
        }
    }

    private static func read(_ value: JSONValue) throws(UnusualValue) -> MemorySnapshot {
        var s = MemorySnapshot(host: "", time: "")
        var host: String?
        var time: String?
        var memory: [String: Int64]?
        var vmstat: [String: Int64]?
        var processes: [ProcessSample]?
        var cgroups: [CgroupSample]?
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "host": host = try TreeField.string(v)
            case "boot_id": s.bootID = try TreeField.optional(v, TreeField.string)
            case "time": time = try TreeField.string(v)
            case "uptime_s": s.uptimeS = try TreeField.optional(v, TreeField.double)
            case "kernel": s.kernel = try TreeField.optional(v, TreeField.string)
            case "memory": memory = try TreeField.integers(v)
            case "vmstat": vmstat = try TreeField.integers(v)
            case "pressure": s.pressure = try TreeField.optional(v, Pressure.read)
            case "processes": processes = try TreeField.array(v, ProcessSample.read)
            case "cgroups": cgroups = try TreeField.array(v, CgroupSample.read)
            case "base": s.base = try TreeField.optional(v, SnapshotBase.read)
            // Small and rarely changed: read by `Decodable`.
            case "sysctl": s.sysctl = try TreeField.decoded(v)
            case "swaps": s.swaps = try TreeField.decoded(v)
            case "zram": s.zram = try TreeField.decoded(v)
            case "userspace_killers": s.userspaceKillers = try TreeField.decoded(v)
            case "critical": s.critical = try TreeField.decoded(v)
            default: break
            }
        }
        guard let host, let time, let memory, let vmstat, let processes, let cgroups else { throw UnusualValue() }
        s.host = host
        s.time = time
        s.memory = memory
        s.vmstat = vmstat
        s.processes = processes
        s.cgroups = cgroups
        return s
    }
}

extension ProcessSample {
    fileprivate static func read(_ value: JSONValue) throws(UnusualValue) -> ProcessSample {
        var p = ProcessSample(pid: 0, comm: "", rssKB: 0)
        var pid: Int?
        var comm: String?
        var rss: Int64?
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "pid": pid = Int(try TreeField.integer(v))
            case "ppid": p.ppid = try TreeField.optional(v, TreeField.int)
            case "comm": comm = try TreeField.string(v)
            case "cmdline": p.cmdline = try TreeField.optional(v, TreeField.string)
            case "uid": p.uid = try TreeField.optional(v, TreeField.int)
            case "started_at": p.startedAt = try TreeField.optional(v, TreeField.string)
            case "vm_size_kb": p.vmSizeKB = try TreeField.optional(v, TreeField.integer)
            case "rss_kb": rss = try TreeField.integer(v)
            case "rss_anon_kb": p.rssAnonKB = try TreeField.optional(v, TreeField.integer)
            case "rss_file_kb": p.rssFileKB = try TreeField.optional(v, TreeField.integer)
            case "rss_shmem_kb": p.rssShmemKB = try TreeField.optional(v, TreeField.integer)
            case "swap_kb": p.swapKB = try TreeField.optional(v, TreeField.integer)
            case "oom_score": p.oomScore = try TreeField.optional(v, TreeField.int)
            case "oom_score_adj": p.oomScoreAdj = try TreeField.optional(v, TreeField.int)
            case "cgroup": p.cgroup = try TreeField.optional(v, TreeField.string)
            case "unit": p.unit = try TreeField.optional(v, TreeField.string)
            case "container_id": p.containerID = try TreeField.optional(v, TreeField.string)
            case "pod_uid": p.podUID = try TreeField.optional(v, TreeField.string)
            case "ref": p.ref = try TreeField.optional(v, TreeField.string)
            default: break
            }
        }
        guard let pid, let comm, let rss else { throw UnusualValue() }
        p.pid = pid
        p.comm = comm
        p.rssKB = rss
        return p
    }
}

extension CgroupSample {
    fileprivate static func read(_ value: JSONValue) throws(UnusualValue) -> CgroupSample {
        var c = CgroupSample(path: "")
        var path: String?
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "path": path = try TreeField.string(v)
            case "usage_kb": c.usageKB = try TreeField.optional(v, TreeField.integer)
            case "limit_kb": c.limitKB = try TreeField.optional(v, TreeField.integer)
            case "oom_kill": c.oomKill = try TreeField.optional(v, TreeField.integer)
            default: break
            }
        }
        guard let path else { throw UnusualValue() }
        c.path = path
        return c
    }
}

extension Pressure {
    fileprivate static func read(_ value: JSONValue) throws(UnusualValue) -> Pressure {
        var p = Pressure(someAvg10: 0, someAvg60: 0, someAvg300: 0, someTotalUs: 0)
        var some10: Double?
        var some60: Double?
        var some300: Double?
        var someTotal: Int64?
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "some_avg10": some10 = try TreeField.double(v)
            case "some_avg60": some60 = try TreeField.double(v)
            case "some_avg300": some300 = try TreeField.double(v)
            case "some_total_us": someTotal = try TreeField.integer(v)
            case "full_avg10": p.fullAvg10 = try TreeField.optional(v, TreeField.double)
            case "full_avg60": p.fullAvg60 = try TreeField.optional(v, TreeField.double)
            case "full_avg300": p.fullAvg300 = try TreeField.optional(v, TreeField.double)
            case "full_total_us": p.fullTotalUs = try TreeField.optional(v, TreeField.integer)
            default: break
            }
        }
        guard let some10, let some60, let some300, let someTotal else { throw UnusualValue() }
        p.someAvg10 = some10
        p.someAvg60 = some60
        p.someAvg300 = some300
        p.someTotalUs = someTotal
        return p
    }
}

extension SnapshotBase {
    fileprivate static func read(_ value: JSONValue) throws(UnusualValue) -> SnapshotBase {
        var time: String?
        var removed: [String]?
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "time": time = try TreeField.string(v)
            case "removed":
                removed = try TreeField.optional(v) { (v) throws(UnusualValue) in
                    try TreeField.array(v, TreeField.string)
                }
            default: break
            }
        }
        guard let time else { throw UnusualValue() }
        return SnapshotBase(time: time, removed: removed)
    }
}

/// A field's value as `Decodable` would read it, or `UnusualValue` where that path would
/// answer with an error.
enum TreeField {
    static func object(_ v: JSONValue) throws(UnusualValue) -> JSONObject {
        guard case .object(let o) = v else { throw UnusualValue() }
        return o
    }

    /// An object's members in document order, so a repeated key's last value wins, as
    /// with `Decodable`.
    static func members(_ v: JSONValue, _ body: (String, JSONValue) throws(UnusualValue) -> Void)
        throws(UnusualValue)
    {
        let o = try object(v)
        for i in o.keys.indices { try body(o.keys[i], o.values[i]) }
    }

    /// A scalar by `JSONValue`'s own conversions, the ones `Decodable` makes; where they
    /// fail, the error is the whole value's to tell, through `Decodable`.
    private static func scalar<T>(_ read: () throws -> T) throws(UnusualValue) -> T {
        do {
            return try read()
        } catch {
            throw UnusualValue()
        }
    }

    static func string(_ v: JSONValue) throws(UnusualValue) -> String { try scalar { try v.string(.root) } }

    static func bool(_ v: JSONValue) throws(UnusualValue) -> Bool { try scalar { try v.bool(.root) } }

    static func integer(_ v: JSONValue) throws(UnusualValue) -> Int64 {
        try scalar { try v.integer(Int64.self, .root) }
    }

    static func int(_ v: JSONValue) throws(UnusualValue) -> Int { try scalar { try v.integer(Int.self, .root) } }

    static func double(_ v: JSONValue) throws(UnusualValue) -> Double { try scalar { try v.double(.root) } }

    /// A string enum's case.
    static func raw<T: RawRepresentable<String>>(_ v: JSONValue) throws(UnusualValue) -> T {
        guard let value = T(rawValue: try string(v)) else { throw UnusualValue() }
        return value
    }

    /// `decodeIfPresent`: null is nil.
    static func optional<T>(_ v: JSONValue, _ read: (JSONValue) throws(UnusualValue) -> T)
        throws(UnusualValue) -> T?
    {
        if case .null = v { return nil }
        return try read(v)
    }

    static func array<T>(_ v: JSONValue, _ read: (JSONValue) throws(UnusualValue) -> T)
        throws(UnusualValue) -> [T]
    {
        guard case .array(let items) = v else { throw UnusualValue() }
        var out: [T] = []
        out.reserveCapacity(items.count)
        for item in items { out.append(try read(item)) }
        return out
    }

    /// A small field read by `Decodable` (its errors are the whole snapshot's to tell).
    static func decoded<T: Decodable>(_ v: JSONValue) throws(UnusualValue) -> T? {
        try scalar { try JSONValueDecoder.unbox(T?.self, from: v, path: .root) }
    }

    /// meminfo and vmstat: names to integers.
    static func integers(_ v: JSONValue) throws(UnusualValue) -> [String: Int64] {
        let o = try object(v)
        var out: [String: Int64] = [:]
        out.reserveCapacity(o.keys.count)
        for i in o.keys.indices { out[o.keys[i]] = try integer(o.values[i]) }
        return out
    }
}

// MARK: - Writing a stored snapshot

extension CompactSnapshot {
    /// `JSONWriter(sortedKeys: true).encode(self)`, byte for byte; nil when only that
    /// writer should encode it (a delta's base, a meminfo or vmstat name that needs
    /// escapes, a number that is not finite).
    public func sortedJSON() -> [UInt8]? {
        DirectJSON.bytes { w throws(UnusualValue) in try w.write(self) }
    }
}

// MARK: - The hosts row's latest state

extension ProcessSample {
    /// `JSONWriter().encode(processes)`, byte for byte: the hosts row's latest processes,
    /// written with every post.
    public static func json(_ processes: [ProcessSample]) -> [UInt8] {
        var w = DirectJSON()
        w.write(processes)
        return w.out
    }
}

extension Pressure {
    /// `JSONWriter().encode(self)`, byte for byte (the hosts row's pressure); nil when a
    /// number is not finite (then only that writer should encode it).
    public func json() -> [UInt8]? {
        DirectJSON.bytes { w throws(UnusualValue) in try w.write(self) }
    }
}

extension MemorySnapshot {
    /// `JSONWriter().encode(fields)`, byte for byte (meminfo for the hosts row).
    public static func json(_ fields: [String: Int64]) -> [UInt8] {
        var w = DirectJSON()
        w.write(fields)
        return w.out
    }
}

extension DirectJSON {
    mutating func write(_ c: CompactSnapshot) throws(UnusualValue) {
        let s = c.rest
        guard s.base == nil else { throw UnusualValue() }
        open(0x7B)
        key("p")
        open(0x5B)
        for p in c.processes {
            element()
            open(0x7B)
            int("a", p.rssAnonKB)
            int("f", p.rssFileKB)
            int("j", p.oomScoreAdj)
            int("k", p.rssKB)
            int("o", p.oomScore)
            int("r", p.ref)
            int("s", p.rssShmemKB)
            int("v", p.vmSizeKB)
            int("w", p.swapKB)
            close(0x7D)
        }
        close(0x5D)
        key("s")
        open(0x7B)
        string("boot_id", s.bootID)
        key("cgroups")
        open(0x5B)
        for g in s.cgroups {
            element()
            open(0x7B)
            int("limit_kb", g.limitKB)
            int("oom_kill", g.oomKill)
            string("path", g.path)
            int("usage_kb", g.usageKB)
            close(0x7D)
        }
        close(0x5D)
        write("critical", s.critical, sorted: true)
        string("host", s.host)
        string("kernel", s.kernel)
        key("memory")
        try integers(s.memory)
        if let p = s.pressure {
            key("pressure")
            open(0x7B)
            try double("full_avg10", p.fullAvg10)
            try double("full_avg300", p.fullAvg300)
            try double("full_avg60", p.fullAvg60)
            int("full_total_us", p.fullTotalUs)
            try double("some_avg10", p.someAvg10)
            try double("some_avg300", p.someAvg300)
            try double("some_avg60", p.someAvg60)
            int("some_total_us", p.someTotalUs)
            close(0x7D)
        }
        key("processes")
        guard s.processes.isEmpty else { throw UnusualValue() }
        open(0x5B)
        close(0x5D)
        write("swaps", s.swaps, sorted: true)
        write("sysctl", s.sysctl, sorted: true)
        string("time", s.time)
        try double("uptime_s", s.uptimeS)
        write("userspace_killers", s.userspaceKillers, sorted: true)
        key("vmstat")
        try integers(s.vmstat)
        write("zram", s.zram, sorted: true)
        close(0x7D)
        close(0x7D)
    }

    /// Members in `ProcessSample.CodingKeys` order.
    mutating func write(_ processes: [ProcessSample]) {
        open(0x5B)
        for p in processes {
            element()
            open(0x7B)
            int("pid", p.pid)
            int("ppid", p.ppid)
            string("comm", p.comm)
            string("cmdline", p.cmdline)
            int("uid", p.uid)
            string("started_at", p.startedAt)
            int("vm_size_kb", p.vmSizeKB)
            int("rss_kb", p.rssKB)
            int("rss_anon_kb", p.rssAnonKB)
            int("rss_file_kb", p.rssFileKB)
            int("rss_shmem_kb", p.rssShmemKB)
            int("swap_kb", p.swapKB)
            int("oom_score", p.oomScore)
            int("oom_score_adj", p.oomScoreAdj)
            string("cgroup", p.cgroup)
            string("unit", p.unit)
            string("container_id", p.containerID)
            string("pod_uid", p.podUID)
            string("ref", p.ref)
            close(0x7D)
        }
        close(0x5D)
    }

    /// Members in `Pressure.CodingKeys` order.
    mutating func write(_ p: Pressure) throws(UnusualValue) {
        open(0x7B)
        try double("some_avg10", p.someAvg10)
        try double("some_avg60", p.someAvg60)
        try double("some_avg300", p.someAvg300)
        int("some_total_us", p.someTotalUs)
        try double("full_avg10", p.fullAvg10)
        try double("full_avg60", p.fullAvg60)
        try double("full_avg300", p.fullAvg300)
        int("full_total_us", p.fullTotalUs)
        close(0x7D)
    }

    /// Members in the dictionary's own order.
    mutating func write(_ fields: [String: Int64]) {
        open(0x7B)
        for (name, value) in fields { member(name, value) }
        close(0x7D)
    }

    /// meminfo or vmstat, by name in byte order.
    fileprivate mutating func integers(_ fields: [String: Int64]) throws(UnusualValue) {
        let start = out.count
        open(0x7B)
        if let known = nameOrders.withLock({ $0[fields.count] }), members(fields, in: known) {
            close(0x7D)
            return
        }
        out.removeSubrange(start...)
        guard let order = NameOrder(fields.keys.sorted { JSONBytes.compare($0, $1) < 0 }) else {
            throw UnusualValue()
        }
        open(0x7B)
        guard members(fields, in: order) else { throw UnusualValue() }
        close(0x7D)
        nameOrders.withLock { orders in
            if orders.count >= 64 { orders.removeAll() }
            orders[order.names.count] = order
        }
    }

    /// Writes `fields`' members in the order of `order`, which has as many names: false
    /// when a name is not in `fields` (then they are another set).
    private mutating func members(_ fields: [String: Int64], in order: NameOrder) -> Bool {
        for i in order.names.indices {
            guard let value = fields[order.names[i]] else { return false }
            element()
            out.append(contentsOf: order.keys[i])
            JSONBytes.int(value, into: &out)
            comma = true
        }
        return true
    }

    /// `"name":value`, the name escaped as it needs.
    private mutating func member(_ name: String, _ value: Int64) {
        element()
        JSONBytes.string(name, into: &out)
        out.append(0x3A)
        JSONBytes.int(value, into: &out)
        comma = true
    }
}

/// A set of meminfo or vmstat names in byte order, each with its `"name":` written once.
private struct NameOrder: Sendable {
    var names: [String]
    var keys: [[UInt8]]

    /// Nil when a name needs escapes (only `JSONWriter` writes those).
    init?(_ names: [String]) {
        var keys: [[UInt8]] = []
        keys.reserveCapacity(names.count)
        for name in names {
            var key: [UInt8] = []
            if JSONBytes.string(name, into: &key) { return nil }
            key.append(0x3A)
            keys.append(key)
        }
        (self.names, self.keys) = (names, keys)
    }
}

/// meminfo and vmstat names in byte order, by how many there are: a host's names rarely
/// change, so most snapshots look them up rather than sort them again. A few sets (kernels
/// differ) are kept; a set that is not the one kept for its count is sorted.
private let nameOrders = Mutex<[Int: NameOrder]>([:])
