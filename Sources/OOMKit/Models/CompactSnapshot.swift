/// A process's facts that stay put while it lives (command line, cgroup, start time …):
/// the collector stores them once per host and process, not with every snapshot.
public struct ProcessDetail: Codable, Sendable, Equatable {
    public var pid: Int
    public var ppid: Int?
    public var comm: String
    public var cmdline: String?
    public var uid: Int?
    public var startedAt: String?
    public var cgroup: String?
    public var unit: String?
    public var containerID: String?
    public var podUID: String?

    public init(_ p: ProcessSample) {
        pid = p.pid
        ppid = p.ppid
        comm = p.comm
        cmdline = p.cmdline
        uid = p.uid
        startedAt = p.startedAt
        cgroup = p.cgroup
        unit = p.unit
        containerID = p.containerID
        podUID = p.podUID
    }

    enum CodingKeys: String, CodingKey {
        case pid, ppid, comm, cmdline, uid
        case startedAt = "started_at"
        case cgroup, unit
        case containerID = "container_id"
        case podUID = "pod_uid"
    }

    /// 64-bit FNV-1a of the canonical JSON (`json`), the key the collector finds a
    /// process's stored details by (with host and pid).
    public static func digest(_ json: [UInt8]) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in json {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return Int64(bitPattern: h)
    }

    /// The details as stored: sorted keys, so equal details are equal bytes.
    public func canonicalJSON() throws(JSONCodingError) -> [UInt8] {
        try JSONWriter(sortedKeys: true).encode(self)
    }
}

/// A snapshot as the collector stores it: everything but the processes' details, which
/// are references (`ref`) to stored `ProcessDetail`s, plus per process only what moves.
/// `expanded(details:)` gives back exactly the snapshot it was made from.
public struct CompactSnapshot: Codable, Sendable, Equatable {
    /// One process: which details, and its memory numbers of the moment.
    public struct Process: Codable, Sendable, Equatable {
        public var ref: Int64
        public var vmSizeKB: Int64?
        public var rssKB: Int64
        public var rssAnonKB: Int64?
        public var rssFileKB: Int64?
        public var rssShmemKB: Int64?
        public var swapKB: Int64?
        public var oomScore: Int?
        public var oomScoreAdj: Int?

        // Short keys: these repeat in every stored snapshot.
        enum CodingKeys: String, CodingKey {
            case ref = "r"
            case vmSizeKB = "v"
            case rssKB = "k"
            case rssAnonKB = "a"
            case rssFileKB = "f"
            case rssShmemKB = "s"
            case swapKB = "w"
            case oomScore = "o"
            case oomScoreAdj = "j"
        }
    }

    /// The snapshot with `processes` empty.
    public var rest: MemorySnapshot
    /// Its processes, in order.
    public var processes: [Process]

    enum CodingKeys: String, CodingKey {
        case rest = "s"
        case processes = "p"
    }

    /// `snapshot` with each process's details replaced by `ref(details)`.
    public init(_ snapshot: MemorySnapshot, ref: (ProcessDetail) throws -> Int64) rethrows {
        var rest = snapshot
        rest.processes = []
        self.rest = rest
        processes = try snapshot.processes.map { p in
            Process(
                ref: try ref(ProcessDetail(p)), vmSizeKB: p.vmSizeKB, rssKB: p.rssKB, rssAnonKB: p.rssAnonKB,
                rssFileKB: p.rssFileKB, rssShmemKB: p.rssShmemKB, swapKB: p.swapKB, oomScore: p.oomScore,
                oomScoreAdj: p.oomScoreAdj)
        }
    }

    /// The full snapshot again; `nil` when a referenced detail is missing.
    public func expanded(details: [Int64: ProcessDetail]) -> MemorySnapshot? {
        var out = rest
        out.processes.reserveCapacity(processes.count)
        for p in processes {
            guard let d = details[p.ref] else { return nil }
            var s = ProcessSample(pid: d.pid, comm: d.comm, rssKB: p.rssKB)
            s.vmSizeKB = p.vmSizeKB
            s.rssAnonKB = p.rssAnonKB
            s.rssFileKB = p.rssFileKB
            s.rssShmemKB = p.rssShmemKB
            s.swapKB = p.swapKB
            s.oomScore = p.oomScore
            s.oomScoreAdj = p.oomScoreAdj
            out.processes.append(s.filled(d))
        }
        return out
    }
}

extension ProcessDetail {
    /// A digest as it goes on the wire (`ProcessSample.ref`): 16 lowercase hex digits.
    public static func reference(digest: Int64) -> String {
        let hex = String(UInt64(bitPattern: digest), radix: 16)
        return String(repeating: "0", count: 16 - hex.utf8.count) + hex
    }

    /// The digest a wire reference names; nil unless it is exactly 16 hex digits.
    public static func digest(reference: String) -> Int64? {
        guard reference.utf8.count == 16,
            reference.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }),
            let value = UInt64(reference, radix: 16)
        else { return nil }
        return Int64(bitPattern: value)
    }
}

extension ProcessSample {
    /// This process by reference: pid, `ref` and what moves; the details left out.
    public func reference(digest: Int64) -> ProcessSample {
        var r = ProcessSample(pid: pid, comm: "", rssKB: rssKB)
        r.ref = ProcessDetail.reference(digest: digest)
        r.vmSizeKB = vmSizeKB
        r.rssAnonKB = rssAnonKB
        r.rssFileKB = rssFileKB
        r.rssShmemKB = rssShmemKB
        r.swapKB = swapKB
        r.oomScore = oomScore
        r.oomScoreAdj = oomScoreAdj
        return r
    }

    /// A process sent by reference, with the details it named filled in.
    public func filled(_ d: ProcessDetail) -> ProcessSample {
        var s = self
        s.ref = nil
        s.pid = d.pid
        s.ppid = d.ppid
        s.comm = d.comm
        s.cmdline = d.cmdline
        s.uid = d.uid
        s.startedAt = d.startedAt
        s.cgroup = d.cgroup
        s.unit = d.unit
        s.containerID = d.containerID
        s.podUID = d.podUID
        return s
    }
}
