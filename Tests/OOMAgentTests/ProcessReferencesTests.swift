import OOMAgent
import OOMKit
import Testing

/// The agent's side of processes by reference, without I/O: what it may shorten, when.
@Suite struct ProcessReferencesTests {
    static func snapshot(rss: Int64, cmdline: String = "/usr/bin/app --serve") -> MemorySnapshot {
        var p = ProcessSample(pid: 42, comm: "app", rssKB: rss)
        p.cmdline = cmdline
        p.cgroup = "/system.slice/app.service"
        p.startedAt = "2026-11-20T08:00:00Z"
        p.oomScore = 12
        var q = ProcessSample(pid: 43, comm: "db", rssKB: 1000)
        q.cmdline = "/usr/bin/db"
        var s = MemorySnapshot(host: "h", time: "2026-11-20T10:00:00Z", memory: ["total_kb": 1], vmstat: [:])
        s.processes = [p, q]
        return s
    }

    @Test func fullUntilTheCollectorSaysItTakesReferences() {
        var refs = ProcessReferences()
        var sent = ProcessReferences.Sent()
        #expect(refs.shorten(Self.snapshot(rss: 100), sent: &sent) == Self.snapshot(rss: 100))
        // An old collector (no process_refs): still full.
        refs.delivered(sent, collectorTakesReferences: false)
        sent = .init()
        #expect(refs.shorten(Self.snapshot(rss: 100), sent: &sent) == Self.snapshot(rss: 100))
        refs.delivered(sent, collectorTakesReferences: true)
        sent = .init()
        let short = refs.shorten(Self.snapshot(rss: 200), sent: &sent)
        #expect(sent.referenced == 2)
        #expect(short.processes[0].ref != nil && short.processes[0].cmdline == nil && short.processes[0].comm.isEmpty)
        #expect(short.processes[0].rssKB == 200 && short.processes[0].oomScore == 12)
        // What the collector does with it gives back the snapshot as sampled.
        let filled = short.processes.enumerated().map { i, p in
            p.filled(ProcessDetail(Self.snapshot(rss: 200).processes[i]))
        }
        #expect(filled == Self.snapshot(rss: 200).processes)
    }

    @Test func changedDetailsGoInFullAndAForgottenCollectorGetsEverything() {
        var refs = ProcessReferences()
        var sent = ProcessReferences.Sent()
        _ = refs.shorten(Self.snapshot(rss: 100), sent: &sent)
        refs.delivered(sent, collectorTakesReferences: true)
        sent = .init()
        let changed = refs.shorten(Self.snapshot(rss: 100, cmdline: "/usr/bin/app --other"), sent: &sent)
        #expect(changed.processes[0].ref == nil && changed.processes[0].cmdline == "/usr/bin/app --other")
        #expect(changed.processes[1].ref != nil)
        refs.forget()
        sent = .init()
        #expect(refs.shorten(Self.snapshot(rss: 100), sent: &sent) == Self.snapshot(rss: 100))
        #expect(sent.referenced == 0)
    }

    @Test func deltasOnlyOnceTheCollectorSaysItTakesThem() throws {
        var refs = ProcessReferences()
        var sent = ProcessReferences.Sent()
        _ = refs.shorten(Self.snapshot(rss: 100), sent: &sent)
        // A collector of the previous release: references, never deltas.
        refs.delivered(sent, collectorTakesReferences: true)
        sent = .init()
        var next = Self.snapshot(rss: 200)
        next.time = "2026-11-20T10:00:10Z"
        #expect(refs.shorten(next, sent: &sent).base == nil)
        refs.delivered(sent, collectorTakesReferences: true, collectorTakesDeltas: true)
        sent = .init()
        var third = Self.snapshot(rss: 300)
        third.time = "2026-11-20T10:00:20Z"
        third.memory["total_kb"] = 1
        let delta = refs.shorten(third, sent: &sent)
        #expect(sent.deltas == 1)
        #expect(delta.base == SnapshotBase(time: "2026-11-20T10:00:10Z"))
        #expect(delta.memory.isEmpty)
        #expect(delta.processes[0] == ProcessSample(pid: 42, comm: "", rssKB: 300))
        #expect(delta.expanded(base: next)?.processes == third.processes)
        // The next one in the same batch names this one.
        var fourth = third
        fourth.time = "2026-11-20T10:00:30Z"
        #expect(refs.shorten(fourth, sent: &sent).base?.time == third.time)
        // Forgotten (409): whole again, until the next acknowledged batch.
        refs.forget()
        sent = .init()
        #expect(refs.shorten(third, sent: &sent) == third)
    }

    @Test func processesAcknowledgedEarlierStayReferenced() {
        var refs = ProcessReferences()
        var sent = ProcessReferences.Sent()
        _ = refs.shorten(Self.snapshot(rss: 100), sent: &sent)
        refs.delivered(sent, collectorTakesReferences: true)
        // A batch without pid 43 (it left the top N for a while) ...
        var without = Self.snapshot(rss: 100)
        without.processes.removeLast()
        sent = .init()
        _ = refs.shorten(without, sent: &sent)
        refs.delivered(sent, collectorTakesReferences: true)
        // ... and when it is back, the collector still holds its details.
        sent = .init()
        let back = refs.shorten(Self.snapshot(rss: 100), sent: &sent)
        #expect(sent.referenced == 2)
        #expect(back.processes[1].ref != nil)
    }

    @Test func theAcknowledgedSetIsBounded() {
        var refs = ProcessReferences()
        for round in 0..<3 {
            var s = Self.snapshot(rss: 1)
            s.processes = (0..<1000).map { ProcessSample(pid: round * 1000 + $0, comm: "p", rssKB: 1) }
            var sent = ProcessReferences.Sent()
            _ = refs.shorten(s, sent: &sent)
            refs.delivered(sent, collectorTakesReferences: true)
        }
        // The newest 1,024 are kept: the last round whole, the first one gone.
        var sent = ProcessReferences.Sent()
        var s = Self.snapshot(rss: 1)
        s.processes = [ProcessSample(pid: 2999, comm: "p", rssKB: 1), ProcessSample(pid: 5, comm: "p", rssKB: 1)]
        let short = refs.shorten(s, sent: &sent)
        #expect(short.processes[0].ref != nil)
        #expect(short.processes[1].ref == nil)
    }

    @Test func referencesRoundTripAsHex() {
        for digest: Int64 in [0, 1, -1, .max, .min, 0x0123_4567_89ab_cdef] {
            let r = ProcessDetail.reference(digest: digest)
            #expect(r.utf8.count == 16)
            #expect(ProcessDetail.digest(reference: r) == digest)
        }
        #expect(ProcessDetail.digest(reference: "xyz") == nil)
        #expect(ProcessDetail.digest(reference: "+123456789abcdef") == nil)
    }
}
