import OOMKit
import Testing

/// Snapshots as deltas on the wire (issue 15, "wire"): a delta holds what changed, and
/// expands back to exactly the snapshot sampled, or is not made at all.
@Suite struct SnapshotDeltaTests {
    static func real() throws -> [MemorySnapshot] {
        try Fixture.text("real-snapshots.jsonl").split(separator: "\n").map {
            try JSONReader().decode(MemorySnapshot.self, from: Array($0.utf8))
        }
    }

    /// What the collector does with a delta, then with the references it holds.
    static func whole(_ delta: MemorySnapshot, base: MemorySnapshot, full: MemorySnapshot) -> MemorySnapshot? {
        guard var back = delta.expanded(base: base) else { return nil }
        for i in back.processes.indices where back.processes[i].ref != nil {
            back.processes[i] = back.processes[i].filled(ProcessDetail(full.processes[i]))
        }
        return back
    }

    @Test(arguments: [(0, 1), (1, 2), (0, 2)])
    func realSnapshotsExpandBackExactly(pair: (Int, Int)) throws {
        let snaps = try Self.real()
        let base = snaps[pair.0]
        let full = snaps[pair.1]
        let delta = try #require(MemorySnapshot.wireDelta(full: full, short: full, base: base))
        #expect(delta.base?.time == base.time)
        #expect(Self.whole(delta, base: base, full: full) == full)
        // Smaller: unchanged fields and the details of unchanged processes stay home.
        let writer = JSONWriter()
        #expect(try writer.encode(delta).count * 2 < writer.encode(full).count)
        #expect(delta.memory.count < full.memory.count)
        #expect(delta.processes.contains { $0.comm.isEmpty && $0.ref == nil && $0.cmdline == nil })
        // A delta survives the wire's codec unchanged.
        #expect(try JSONReader().decode(MemorySnapshot.self, from: writer.encode(delta)) == delta)
    }

    @Test func removedFieldsAndNewProcessesAreSaid() throws {
        let snaps = try Self.real()
        let base = snaps[0]
        var full = snaps[1]
        let gone = try #require(full.vmstat.keys.sorted().first)
        full.vmstat[gone] = nil
        full.memory["new_field_kb"] = 7
        var newcomer = ProcessSample(pid: 999_999, comm: "newcomer", rssKB: 123)
        newcomer.cmdline = "/usr/bin/newcomer --once"
        full.processes.append(newcomer)
        let delta = try #require(MemorySnapshot.wireDelta(full: full, short: full, base: base))
        #expect(delta.base?.removed == ["vmstat.\(gone)"])
        #expect(delta.memory["new_field_kb"] == 7)
        #expect(delta.processes.last == newcomer)
        #expect(Self.whole(delta, base: base, full: full) == full)
    }

    @Test func aNumberThatVanishedGoesWithTheProcessWhole() throws {
        let snaps = try Self.real()
        let base = snaps[0]
        var full = snaps[1]
        let i = try #require(full.processes.firstIndex { p in base.processes.contains { $0.pid == p.pid } })
        full.processes[i].swapKB = nil
        full.processes[i].oomScore = nil
        let delta = try #require(MemorySnapshot.wireDelta(full: full, short: full, base: base))
        #expect(delta.processes[i] == full.processes[i])
        #expect(Self.whole(delta, base: base, full: full) == full)
    }

    @Test func whatADeltaCannotSayIsNotADelta() throws {
        let snaps = try Self.real()
        var full = snaps[1]
        // A boot id that vanished: absent means "as the base" in a delta.
        full.bootID = nil
        #expect(snaps[0].bootID != nil)
        #expect(MemorySnapshot.wireDelta(full: full, short: full, base: snaps[0]) == nil)
        // Not against itself (the same time names it).
        #expect(MemorySnapshot.wireDelta(full: snaps[0], short: snaps[0], base: snaps[0]) == nil)
    }

    @Test func aDeltaNamingAPidTheBaseLacksDoesNotExpand() throws {
        let snaps = try Self.real()
        var delta = try #require(MemorySnapshot.wireDelta(full: snaps[1], short: snaps[1], base: snaps[0]))
        let i = try #require(delta.processes.firstIndex { $0.comm.isEmpty && $0.ref == nil })
        delta.processes[i].pid = 1_999_999
        #expect(delta.expanded(base: snaps[0]) == nil)
        // A snapshot without a base is already whole.
        #expect(snaps[1].expanded(base: snaps[0]) == snaps[1])
    }
}
