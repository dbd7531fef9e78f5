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
