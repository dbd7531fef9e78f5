/// Names the snapshot a wire delta is relative to (issue 15, "wire"): a snapshot the
/// collector acknowledged (the newest of the agent's last delivered batch) or the one just
/// before it in the same batch. See ``MemorySnapshot/wireDelta(full:short:base:)``.
public struct SnapshotBase: Codable, Sendable, Equatable {
    /// The base snapshot's `time`, exactly as it was sent.
    public var time: String
    /// meminfo and vmstat fields the base had and this snapshot has not
    /// (`memory.NAME`, `vmstat.NAME`), and system facts likewise (`sysctl`, `swaps`,
    /// `zram`, `userspace_killers`, `critical`).
    public var removed: [String]?

    public init(time: String, removed: [String]? = nil) {
        self.time = time
        self.removed = removed
    }
}

extension MemorySnapshot {
    /// This snapshot as the agent sends it relative to `base` (the full snapshot the
    /// collector holds), or nil when no delta is worth sending or none would expand back
    /// to exactly `full`:
    /// - `memory` and `vmstat` hold only the fields that changed or appeared (`base.removed`
    ///   names those gone); `boot_id`, `kernel` and the system facts (`sysctl`, `swaps`,
    ///   `zram`, `userspace_killers`, `critical`) are left out when unchanged (`removed`
    ///   names a system fact the base had and this snapshot has not);
    /// - a process whose details equal those of the base's process with the same pid goes
    ///   as pid, `rss_kb` and the numbers that moved (`comm` empty, no `ref`); every other
    ///   process as in `short` (by reference, or in full).
    ///
    /// `short` is `full` with processes by reference (same processes, same order).
    /// ``expanded(base:)`` gives back `short`'s snapshot with the unchanged processes'
    /// details filled in; the agent checks that before it sends a delta.
    public static func wireDelta(full: MemorySnapshot, short: MemorySnapshot, base: MemorySnapshot)
        -> MemorySnapshot?
    {
        guard full.processes.count == short.processes.count, full.time != base.time else { return nil }
        var out = short
        var removed: [String] = []
        out.memory = changed(full.memory, from: base.memory, prefix: "memory.", removed: &removed)
        out.vmstat = changed(full.vmstat, from: base.vmstat, prefix: "vmstat.", removed: &removed)
        if full.bootID == base.bootID { out.bootID = nil }
        if full.kernel == base.kernel { out.kernel = nil }
        // The system facts (sent when they change, and now and then): left out when as
        // in the base, named in `removed` when the base had them and this one has not.
        func system<T: Equatable>(_ now: T?, _ then: T?, _ name: String) -> T? {
            if now == nil, then != nil { removed.append(name) }
            return now == then ? nil : now
        }
        out.sysctl = system(full.sysctl, base.sysctl, "sysctl")
        out.swaps = system(full.swaps, base.swaps, "swaps")
        out.zram = system(full.zram, base.zram, "zram")
        out.userspaceKillers = system(full.userspaceKillers, base.userspaceKillers, "userspace_killers")
        out.critical = system(full.critical, base.critical, "critical")
        out.base = SnapshotBase(time: base.time, removed: removed.isEmpty ? nil : removed.sorted())
        var basePIDs: [Int: ProcessSample] = [:]
        for p in base.processes { basePIDs[p.pid] = p }
        for (i, p) in full.processes.enumerated() {
            guard let b = basePIDs[p.pid], ProcessDetail(b) == ProcessDetail(p), let moved = p.moved(from: b)
            else { continue }
            out.processes[i] = moved
        }
        // The collector must rebuild exactly what was sampled: anything the rules above
        // cannot say (a field that vanished, a pid seen twice) sends the snapshot whole.
        guard var back = out.expanded(base: base) else { return nil }
        for i in back.processes.indices where back.processes[i].ref != nil {
            back.processes[i] = back.processes[i].filled(ProcessDetail(full.processes[i]))
        }
        return back == full ? out : nil
    }

    /// A delta (`base` set) made whole again against `base`, the snapshot it names; nil
    /// when a process names a pid the base does not hold. A snapshot without `base` is
    /// returned as it is.
    public func expanded(base: MemorySnapshot) -> MemorySnapshot? {
        guard let delta = self.base else { return self }
        var out = self
        out.base = nil
        out.bootID = bootID ?? base.bootID
        out.kernel = kernel ?? base.kernel
        let removed = Set(delta.removed ?? [])
        func system<T>(_ now: T?, _ then: T?, _ name: String) -> T? {
            now ?? (removed.contains(name) ? nil : then)
        }
        out.sysctl = system(sysctl, base.sysctl, "sysctl")
        out.swaps = system(swaps, base.swaps, "swaps")
        out.zram = system(zram, base.zram, "zram")
        out.userspaceKillers = system(userspaceKillers, base.userspaceKillers, "userspace_killers")
        out.critical = system(critical, base.critical, "critical")
        out.memory = Self.merged(memory, into: base.memory, prefix: "memory.", removed: removed)
        out.vmstat = Self.merged(vmstat, into: base.vmstat, prefix: "vmstat.", removed: removed)
        var basePIDs: [Int: ProcessSample] = [:]
        for p in base.processes { basePIDs[p.pid] = p }
        for (i, p) in processes.enumerated() where p.isMovedOnly {
            guard let b = basePIDs[p.pid] else { return nil }
            out.processes[i] = b.moving(to: p)
        }
        return out
    }

    static func changed(
        _ now: [String: Int64], from base: [String: Int64], prefix: String, removed: inout [String]
    ) -> [String: Int64] {
        for key in base.keys where now[key] == nil { removed.append(prefix + key) }
        return now.filter { base[$0.key] != $0.value }
    }

    static func merged(
        _ changes: [String: Int64], into base: [String: Int64], prefix: String, removed: Set<String>
    ) -> [String: Int64] {
        var out = base
        if !removed.isEmpty { out = out.filter { !removed.contains(prefix + $0.key) } }
        out.merge(changes) { _, new in new }
        return out
    }
}

extension ProcessSample {
    /// In a delta: only pid and numbers, its details those of the base's same pid.
    var isMovedOnly: Bool { ref == nil && comm.isEmpty }

    /// This process as pid, `rss_kb` and the numbers that differ from `base` (the same
    /// process in the base snapshot); nil when a number `base` had is gone now, which a
    /// delta cannot say.
    func moved(from base: ProcessSample) -> ProcessSample? {
        var out = ProcessSample(pid: pid, comm: "", rssKB: rssKB)
        func change<T: Equatable>(_ now: T?, _ then: T?, _ set: (T?) -> Void) -> Bool {
            if now == nil && then != nil { return false }
            if now != then { set(now) }
            return true
        }
        guard change(vmSizeKB, base.vmSizeKB, { out.vmSizeKB = $0 }),
            change(rssAnonKB, base.rssAnonKB, { out.rssAnonKB = $0 }),
            change(rssFileKB, base.rssFileKB, { out.rssFileKB = $0 }),
            change(rssShmemKB, base.rssShmemKB, { out.rssShmemKB = $0 }),
            change(swapKB, base.swapKB, { out.swapKB = $0 }),
            change(oomScore, base.oomScore, { out.oomScore = $0 }),
            change(oomScoreAdj, base.oomScoreAdj, { out.oomScoreAdj = $0 })
        else { return nil }
        return out
    }

    /// `base` (the same process in the base snapshot) with the numbers `moved` sent.
    func moving(to moved: ProcessSample) -> ProcessSample {
        var out = self
        out.rssKB = moved.rssKB
        out.vmSizeKB = moved.vmSizeKB ?? vmSizeKB
        out.rssAnonKB = moved.rssAnonKB ?? rssAnonKB
        out.rssFileKB = moved.rssFileKB ?? rssFileKB
        out.rssShmemKB = moved.rssShmemKB ?? rssShmemKB
        out.swapKB = moved.swapKB ?? swapKB
        out.oomScore = moved.oomScore ?? oomScore
        out.oomScoreAdj = moved.oomScoreAdj ?? oomScoreAdj
        return out
    }
}
