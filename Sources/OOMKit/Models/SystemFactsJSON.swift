/// The system facts written by hand (`DirectJSON`): inside every stored compact snapshot
/// (byte order) and as the hosts row's system facts with every post (declaration order),
/// where `JSONWriter`'s generic encoding of these small types cost more than all the rest
/// of the facts' handling (issue 15, collector CPU). The tests hold both orders to
/// `JSONWriter`'s bytes.
extension HostSystemFacts {
    /// `JSONWriter().encode(self)`, byte for byte.
    public func json() -> [UInt8] {
        var w = DirectJSON()
        w.open(0x7B)
        w.string("time", time)
        w.write("sysctl", sysctl, sorted: false)
        w.write("swaps", swaps, sorted: false)
        w.write("zram", zram, sorted: false)
        w.write("userspace_killers", userspaceKillers, sorted: false)
        w.write("critical", critical, sorted: false)
        w.close(0x7D)
        return w.out
    }
}

extension DirectJSON {
    /// `key` and `value` as an object whose members `members` writes; nothing when nil.
    mutating func object<T>(_ key: StaticString, _ value: T?, _ members: (inout DirectJSON, T) -> Void) {
        guard let value else { return }
        self.key(key)
        open(0x7B)
        members(&self, value)
        close(0x7D)
    }

    /// `key` and `values` as an array of such objects; nothing when nil.
    mutating func objects<T>(_ key: StaticString, _ values: [T]?, _ members: (inout DirectJSON, T) -> Void) {
        guard let values else { return }
        self.key(key)
        open(0x5B)
        for value in values {
            element()
            open(0x7B)
            members(&self, value)
            close(0x7D)
        }
        close(0x5D)
    }

    /// Members in `CodingKeys` order, or in byte order when `sorted`.
    mutating func write(_ key: StaticString, _ sysctl: OOMSysctls?, sorted: Bool) {
        object(key, sysctl) { w, s in
            if sorted {
                w.int("min_free_kbytes", s.minFreeKbytes)
                w.int("oom_kill_allocating_task", s.oomKillAllocatingTask)
            }
            w.int("overcommit_memory", s.overcommitMemory)
            w.int("overcommit_ratio", s.overcommitRatio)
            w.int("panic_on_oom", s.panicOnOOM)
            if !sorted { w.int("oom_kill_allocating_task", s.oomKillAllocatingTask) }
            w.int("swappiness", s.swappiness)
            if !sorted { w.int("min_free_kbytes", s.minFreeKbytes) }
        }
    }

    mutating func write(_ key: StaticString, _ swaps: [SwapDevice]?, sorted: Bool) {
        objects(key, swaps) { w, d in
            w.string("device", d.device)
            if sorted {
                w.int("priority", d.priority)
                w.int("size_kb", d.sizeKB)
                w.string("type", d.type)
            } else {
                w.string("type", d.type)
                w.int("size_kb", d.sizeKB)
            }
            w.int("used_kb", d.usedKB)
            if !sorted { w.int("priority", d.priority) }
        }
    }

    /// The same order either way.
    mutating func write(_ key: StaticString, _ zram: [ZramDevice]?, sorted: Bool) {
        objects(key, zram) { w, d in
            w.string("device", d.device)
            w.int("disksize_kb", d.disksizeKB)
            w.int("mem_used_kb", d.memUsedKB)
        }
    }

    mutating func write(_ key: StaticString, _ killers: UserspaceKillers?, sorted: Bool) {
        object(key, killers) { w, k in
            if sorted { w.bool("earlyoom", k.earlyoom) }
            w.bool("systemd_oomd", k.systemdOomd)
            if !sorted { w.bool("earlyoom", k.earlyoom) }
        }
    }

    mutating func write(_ key: StaticString, _ critical: [CriticalProcess]?, sorted: Bool) {
        objects(key, critical) { w, p in
            if sorted {
                w.string("cgroup", p.cgroup)
                w.string("comm", p.comm)
                w.int("memory_high_kb", p.memoryHighKB)
                w.int("memory_max_kb", p.memoryMaxKB)
                w.int("oom_score_adj", p.oomScoreAdj)
                w.int("pid", p.pid)
                w.string("service", p.service)
                w.string("unit", p.unit)
            } else {
                w.string("service", p.service)
                w.int("pid", p.pid)
                w.string("comm", p.comm)
                w.int("oom_score_adj", p.oomScoreAdj)
                w.string("unit", p.unit)
                w.string("cgroup", p.cgroup)
                w.int("memory_max_kb", p.memoryMaxKB)
                w.int("memory_high_kb", p.memoryHighKB)
            }
        }
    }
}
