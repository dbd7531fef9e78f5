/// A posted event read straight from the parsed tree, as `MemorySnapshot(tree:)` reads a
/// snapshot (see SnapshotJSON.swift): decoding was the largest part of the collector's
/// CPU per event after SQLite (issue 15, "events"). Anything unusual is left to
/// `Decodable`, whose answer is the one given.
extension OOMEvent {
    /// The event `value` holds, or nil when the `Decodable` path must decide.
    init?(tree value: JSONValue) {
        do {
            self = try Self.read(value)
        } catch {
            return nil
        }
    }

    private static func read(_ value: JSONValue) throws(UnusualValue) -> OOMEvent {
        var e = OOMEvent(source: .kernel, victim: Victim(pid: nil, comm: ""))
        var id: String?
        var source: Source?
        var victim: Victim?
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "id": id = try TreeField.string(v)
            case "host": e.host = try TreeField.optional(v, TreeField.string)
            case "boot_id": e.bootID = try TreeField.optional(v, TreeField.string)
            case "source": source = try TreeField.raw(v)
            case "time": e.time = try TreeField.optional(v, TreeField.string)
            case "uptime_s": e.uptimeS = try TreeField.optional(v, TreeField.double)
            case "scope": e.scope = try TreeField.optional(v, TreeField.raw)
            case "victim": victim = try Victim.read(v)
            case "trigger": e.trigger = try TreeField.optional(v, Trigger.read)
            case "memcg": e.memcg = try TreeField.optional(v, Memcg.read)
            case "candidates":
                e.candidates = try TreeField.optional(v) { (v) throws(UnusualValue) in
                    try TreeField.array(v, Candidate.read)
                }
            case "constraint": e.constraint = try TreeField.optional(v, TreeField.string)
            case "cpuset": e.cpuset = try TreeField.optional(v, TreeField.string)
            case "mems_allowed": e.memsAllowed = try TreeField.optional(v, TreeField.string)
            case "reaped": e.reaped = try TreeField.optional(v, Reaped.read)
            case "raw": e.raw = try TreeField.optional(v, TreeField.string)
            case "partial": e.partial = try TreeField.optional(v, TreeField.bool)
            default: break
            }
        }
        guard let id, let source, let victim else { throw UnusualValue() }
        e.id = id
        e.source = source
        e.victim = victim
        return e
    }
}

extension OOMEvent.Victim {
    fileprivate static func read(_ value: JSONValue) throws(UnusualValue) -> Self {
        var p = Self(pid: nil, comm: "")
        var comm: String?
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "pid": p.pid = try TreeField.optional(v, TreeField.int)
            case "comm": comm = try TreeField.string(v)
            case "uid": p.uid = try TreeField.optional(v, TreeField.int)
            case "total_vm_kb": p.totalVmKB = try TreeField.optional(v, TreeField.integer)
            case "anon_rss_kb": p.anonRssKB = try TreeField.optional(v, TreeField.integer)
            case "file_rss_kb": p.fileRssKB = try TreeField.optional(v, TreeField.integer)
            case "shmem_rss_kb": p.shmemRssKB = try TreeField.optional(v, TreeField.integer)
            case "pgtables_kb": p.pgtablesKB = try TreeField.optional(v, TreeField.integer)
            case "oom_score_adj": p.oomScoreAdj = try TreeField.optional(v, TreeField.int)
            case "score": p.score = try TreeField.optional(v, TreeField.int)
            case "cgroup": p.cgroup = try TreeField.optional(v, TreeField.string)
            case "unit": p.unit = try TreeField.optional(v, TreeField.string)
            case "container_id": p.containerID = try TreeField.optional(v, TreeField.string)
            case "pod_uid": p.podUID = try TreeField.optional(v, TreeField.string)
            case "cmdline": p.cmdline = try TreeField.optional(v, TreeField.string)
            case "last_rss_kb": p.lastRssKB = try TreeField.optional(v, TreeField.integer)
            case "rss_kb": p.rssKB = try TreeField.optional(v, TreeField.integer)
            default: break
            }
        }
        guard let comm else { throw UnusualValue() }
        p.comm = comm
        return p
    }
}

extension OOMEvent.Trigger {
    fileprivate static func read(_ value: JSONValue) throws(UnusualValue) -> Self {
        var t = Self()
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "pid": t.pid = try TreeField.optional(v, TreeField.int)
            case "comm": t.comm = try TreeField.optional(v, TreeField.string)
            case "gfp_mask": t.gfpMask = try TreeField.optional(v, TreeField.string)
            case "order": t.order = try TreeField.optional(v, TreeField.int)
            case "oom_score_adj": t.oomScoreAdj = try TreeField.optional(v, TreeField.int)
            case "oom_adj": t.oomAdj = try TreeField.optional(v, TreeField.int)
            default: break
            }
        }
        return t
    }
}

extension OOMEvent.Memcg {
    fileprivate static func read(_ value: JSONValue) throws(UnusualValue) -> Self {
        var m = Self()
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "oom": m.oom = try TreeField.optional(v, TreeField.string)
            case "task": m.task = try TreeField.optional(v, TreeField.string)
            case "usage_kb": m.usageKB = try TreeField.optional(v, TreeField.integer)
            case "limit_kb": m.limitKB = try TreeField.optional(v, TreeField.integer)
            case "failcnt": m.failcnt = try TreeField.optional(v, TreeField.integer)
            default: break
            }
        }
        return m
    }
}

extension OOMEvent.Candidate {
    fileprivate static func read(_ value: JSONValue) throws(UnusualValue) -> Self {
        var c = Self(pid: 0, name: "")
        var pid: Int?
        var name: String?
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "pid": pid = try TreeField.int(v)
            case "uid": c.uid = try TreeField.optional(v, TreeField.int)
            case "tgid": c.tgid = try TreeField.optional(v, TreeField.int)
            case "total_vm_pages": c.totalVmPages = try TreeField.optional(v, TreeField.integer)
            case "rss_pages": c.rssPages = try TreeField.optional(v, TreeField.integer)
            case "rss_anon_pages": c.rssAnonPages = try TreeField.optional(v, TreeField.integer)
            case "rss_file_pages": c.rssFilePages = try TreeField.optional(v, TreeField.integer)
            case "rss_shmem_pages": c.rssShmemPages = try TreeField.optional(v, TreeField.integer)
            case "pgtables_bytes": c.pgtablesBytes = try TreeField.optional(v, TreeField.integer)
            case "swapents": c.swapents = try TreeField.optional(v, TreeField.integer)
            case "oom_score_adj": c.oomScoreAdj = try TreeField.optional(v, TreeField.int)
            case "name": name = try TreeField.string(v)
            default: break
            }
        }
        guard let pid, let name else { throw UnusualValue() }
        c.pid = pid
        c.name = name
        return c
    }
}

extension OOMEvent.Reaped {
    fileprivate static func read(_ value: JSONValue) throws(UnusualValue) -> Self {
        var r = Self()
        try TreeField.members(value) { (key, v) throws(UnusualValue) in
            switch key {
            case "anon_rss_kb": r.anonRssKB = try TreeField.optional(v, TreeField.integer)
            case "file_rss_kb": r.fileRssKB = try TreeField.optional(v, TreeField.integer)
            case "shmem_rss_kb": r.shmemRssKB = try TreeField.optional(v, TreeField.integer)
            default: break
            }
        }
        return r
    }
}

// MARK: - The stored event

extension OOMEvent {
    /// `JSONWriter().encode(self)`, byte for byte: the events row's `json`, written for
    /// every stored kill (a tenth of the collector's CPU per event through `JSONWriter`).
    /// Nil when only that writer should encode it (an uptime that is not finite).
    public func json() -> [UInt8]? {
        DirectJSON.bytes { w throws(UnusualValue) in try w.write(self) }
    }
}

/// Members in each type's `CodingKeys` order, as the synthesized `encode(to:)` writes them.
extension DirectJSON {
    fileprivate mutating func write(_ e: OOMEvent) throws(UnusualValue) {
        open(0x7B)
        string("id", e.id)
        string("host", e.host)
        string("boot_id", e.bootID)
        string("source", e.source.rawValue)
        string("time", e.time)
        try double("uptime_s", e.uptimeS)
        string("scope", e.scope?.rawValue)
        key("victim")
        write(e.victim)
        if let t = e.trigger {
            key("trigger")
            open(0x7B)
            int("pid", t.pid)
            string("comm", t.comm)
            string("gfp_mask", t.gfpMask)
            int("order", t.order)
            int("oom_score_adj", t.oomScoreAdj)
            int("oom_adj", t.oomAdj)
            close(0x7D)
        }
        if let m = e.memcg {
            key("memcg")
            open(0x7B)
            string("oom", m.oom)
            string("task", m.task)
            int("usage_kb", m.usageKB)
            int("limit_kb", m.limitKB)
            int("failcnt", m.failcnt)
            close(0x7D)
        }
        if let candidates = e.candidates {
            key("candidates")
            open(0x5B)
            for c in candidates {
                element()
                write(c)
            }
            close(0x5D)
        }
        string("constraint", e.constraint)
        string("cpuset", e.cpuset)
        string("mems_allowed", e.memsAllowed)
        if let r = e.reaped {
            key("reaped")
            open(0x7B)
            int("anon_rss_kb", r.anonRssKB)
            int("file_rss_kb", r.fileRssKB)
            int("shmem_rss_kb", r.shmemRssKB)
            close(0x7D)
        }
        string("raw", e.raw)
        bool("partial", e.partial)
        close(0x7D)
    }

    private mutating func write(_ v: OOMEvent.Victim) {
        open(0x7B)
        int("pid", v.pid)
        string("comm", v.comm)
        int("uid", v.uid)
        int("total_vm_kb", v.totalVmKB)
        int("anon_rss_kb", v.anonRssKB)
        int("file_rss_kb", v.fileRssKB)
        int("shmem_rss_kb", v.shmemRssKB)
        int("pgtables_kb", v.pgtablesKB)
        int("oom_score_adj", v.oomScoreAdj)
        int("score", v.score)
        string("cgroup", v.cgroup)
        string("unit", v.unit)
        string("container_id", v.containerID)
        string("pod_uid", v.podUID)
        string("cmdline", v.cmdline)
        int("last_rss_kb", v.lastRssKB)
        int("rss_kb", v.rssKB)
        close(0x7D)
    }

    private mutating func write(_ c: OOMEvent.Candidate) {
        open(0x7B)
        int("pid", c.pid)
        int("uid", c.uid)
        int("tgid", c.tgid)
        int("total_vm_pages", c.totalVmPages)
        int("rss_pages", c.rssPages)
        int("rss_anon_pages", c.rssAnonPages)
        int("rss_file_pages", c.rssFilePages)
        int("rss_shmem_pages", c.rssShmemPages)
        int("pgtables_bytes", c.pgtablesBytes)
        int("swapents", c.swapents)
        int("oom_score_adj", c.oomScoreAdj)
        string("name", c.name)
        close(0x7D)
    }
}
