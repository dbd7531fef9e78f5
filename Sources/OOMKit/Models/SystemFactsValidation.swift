extension IngestValidator {
    /// The snapshot's system facts (all optional: older agents send none).
    static func validateSystem(_ s: MemorySnapshot, _ at: @autoclosure () -> String) throws(IngestValidationError) {
        if let c = s.sysctl {
            for (value, name) in [
                (c.overcommitMemory, "overcommit_memory"), (c.overcommitRatio, "overcommit_ratio"),
                (c.panicOnOOM, "panic_on_oom"), (c.oomKillAllocatingTask, "oom_kill_allocating_task"),
                (c.swappiness, "swappiness"),
            ] {
                try optionalRange(value.map(Int64.init), "\(at()).sysctl.\(name)", 0...1_000_000)
            }
            try kb(c.minFreeKbytes, "\(at()).sysctl.min_free_kbytes")
        }
        for (list, name, limit) in [
            (s.swaps?.count, "swaps", 64), (s.zram?.count, "zram", 64), (s.critical?.count, "critical", 100),
        ] {
            if let n = list, n > limit { throw IngestValidationError("\(at()).\(name)", "at most \(limit) entries") }
        }
        for (j, d) in (s.swaps ?? []).enumerated() {
            try text(d.device, "\(at()).swaps[\(j)].device", min: 1, max: 4096)
            try text(d.type, "\(at()).swaps[\(j)].type", min: 1, max: 32)
            try kb(d.sizeKB, "\(at()).swaps[\(j)].size_kb")
            try kb(d.usedKB, "\(at()).swaps[\(j)].used_kb")
        }
        for (j, z) in (s.zram ?? []).enumerated() {
            try text(z.device, "\(at()).zram[\(j)].device", min: 1, max: 64)
            try kb(z.disksizeKB, "\(at()).zram[\(j)].disksize_kb")
            try kb(z.memUsedKB, "\(at()).zram[\(j)].mem_used_kb")
        }
        for (j, p) in (s.critical ?? []).enumerated() {
            func pat() -> String { "\(at()).critical[\(j)]" }
            try text(p.service, "\(pat()).service", min: 1, max: 64)
            try pid(p.pid, "\(pat()).pid")
            try text(p.comm, "\(pat()).comm", min: 0, max: 256)
            try optionalRange(p.oomScoreAdj.map(Int64.init), "\(pat()).oom_score_adj", -1000...1000)
            try optionalText(p.unit, "\(pat()).unit", max: 256)
            try optionalText(p.cgroup, "\(pat()).cgroup", max: 4096)
            try kb(p.memoryMaxKB, "\(pat()).memory_max_kb")
            try kb(p.memoryHighKB, "\(pat()).memory_high_kb")
        }
    }
}
