import OOMKit
import Testing

/// The assembler as the live `/dev/kmsg` follower uses it: messages with uptimes, a flush
/// when the log goes quiet.
@Suite struct AssemblerTests {
    let report = [
        "stress invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
        "CPU: 0 PID: 42 Comm: stress Not tainted 6.8.0 #1",
        "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/b,task=stress,pid=43,uid=0",
        "Memory cgroup out of memory: Killed process 43 (stress) total-vm:100kB, anon-rss:90kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0",
    ]

    @Test func holdsTheKillForItsReaperLine() {
        var a = OOMReportAssembler()
        var events: [OOMEvent] = []
        for (i, m) in report.enumerated() {
            events += a.feed(uptimeMicros: 1_000_000 + Int64(i), message: m, bootID: "boot-1")
        }
        #expect(events.isEmpty)
        #expect(a.hasPending && !a.isCollecting)
        events += a.feed(
            uptimeMicros: 1_100_000,
            message: "oom_reaper: reaped process 43 (stress), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB")
        #expect(events.count == 1)
        #expect(events.first?.reaped?.anonRssKB == 0)
        #expect(events.first?.bootID == "boot-1")
        #expect(events.first?.scope == .memcg)
        #expect(
            events.first?.id
                == OOMEvent.stableID(
                    source: .kernel,
                    victim: victim(
                        43, "stress", uid: 0, totalVm: 100, anon: 90, file: 0, shmem: 0, pgtables: 4, adj: 0))
        )
        #expect(!a.hasPending)
    }

    @Test func flushEmitsAfterQuiet() {
        var a = OOMReportAssembler()
        for m in report { #expect(a.feed(uptimeMicros: 5, message: m).isEmpty) }
        let flushed = a.flush()
        #expect(flushed.map(\.victim.pid) == [43])
        #expect(a.flush().isEmpty)
        #expect(a.finish().isEmpty)
    }

    @Test func laterLineBeyondTheReaperWindowEmits() {
        var a = OOMReportAssembler()
        for m in report { _ = a.feed(uptimeMicros: 1_000_000, message: m) }
        #expect(a.feed(uptimeMicros: 2_000_000, message: "usb 1-1: new device").isEmpty)
        #expect(a.feed(uptimeMicros: 7_000_001, message: "usb 1-1: new device").map(\.victim.pid) == [43])
    }

    @Test func openReportIsNotFlushedButFinished() {
        var a = OOMReportAssembler()
        _ = a.feed(uptimeMicros: 1, message: report[0])
        #expect(a.isCollecting)
        #expect(a.flush().isEmpty)
        #expect(a.isCollecting)
        #expect(a.finish().isEmpty)
        #expect(!a.isCollecting)
    }

    @Test func reportWithoutKillTimesOut() {
        var a = OOMReportAssembler()
        _ = a.feed(uptimeMicros: 1, message: report[0])
        _ = a.feed(uptimeMicros: 200_000_000, message: "unrelated")
        #expect(!a.isCollecting)
        // A kill long after an abandoned header gets none of its fields.
        let e = a.feed(uptimeMicros: 200_000_001, message: report[3]) + a.flush()
        #expect(e.first?.trigger == nil)
    }

    /// Another CPU's message stamped a moment before the header but logged after it (the
    /// previous kill's reaper line, in a burst of kills) leaves the report open; a step back
    /// of minutes is a new boot's log and closes it.
    @Test func aSlightlyOlderLineFromAnotherCPUKeepsTheReport() {
        var a = OOMReportAssembler()
        _ = a.feed(uptimeMicros: 100_000_000, message: report[0])
        _ = a.feed(
            uptimeMicros: 99_999_950,
            message: "oom_reaper: reaped process 7 (other), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB")
        var events: [OOMEvent] = []
        for m in report.dropFirst() { events += a.feed(uptimeMicros: 100_000_100, message: m) }
        events += a.flush()
        #expect(events.count == 1)
        #expect(events.first?.memcg?.oom == "/a")
        #expect(events.first?.memcg?.task == "/a/b")
        #expect(events.first?.trigger?.comm == "stress")

        var rebooted = OOMReportAssembler()
        _ = rebooted.feed(uptimeMicros: 100_000_000, message: report[0])
        _ = rebooted.feed(uptimeMicros: 2_000_000, message: "Linux version 6.18.0")
        #expect(!rebooted.isCollecting)
    }

    @Test func summaryContinuationFlaggedPlus() throws {
        var a = OOMReportAssembler()
        let lines = [
            "4,1,10,-;x invoked oom-killer: gfp_mask=0x0, order=0, oom_score_adj=0",
            "6,2,11,c;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null)",
            "6,3,12,+;,cpuset=/,mems_allowed=0,global_oom,task_memcg=/z,task=x,pid=9,uid=7",
            "3,4,13,-;Out of memory: Killed process 9 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB",
        ]
        var events: [OOMEvent] = []
        for l in lines {
            let r = try #require(KmsgRecord.parse(l))
            events += a.feed(r.logLine())
        }
        events += a.finish()
        try #require(events.count == 1)
        #expect(events[0].victim.cgroup == "/z")
        #expect(events[0].victim.uid == 7)
        #expect(events[0].cpuset == "/")
        #expect(events[0].constraint == "CONSTRAINT_NONE")
    }

    @Test func hostileCommsComeOutExact() {
        for comm in [
            "a) total-vm:1kB", "x)", "(sd-pam)", "Web Content", "((()))", "a,pid=5", ") score 5", "[", "()",
            "\"with quotes\"", "Plex Media Serv", "python3.4", "a\u{FFFD}b",
        ] {
            let lines = [
                "\(comm) invoked oom-killer: gfp_mask=0x0, order=0, oom_score_adj=0",
                "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/q,task=\(comm),pid=77,uid=1",
                "Out of memory: Kill process 77 (\(comm)) score 5 or sacrifice child",
                "Killed process 77 (\(comm)) total-vm:10kB, anon-rss:5kB, file-rss:0kB, shmem-rss:0kB",
                "oom_reaper: reaped process 77 (\(comm)), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
            ]
            var a = OOMReportAssembler()
            var events: [OOMEvent] = []
            for (i, l) in lines.enumerated() { events += a.feed(uptimeMicros: Int64(i), message: l) }
            events += a.finish()
            #expect(events.count == 1, "\(comm)")
            #expect(events.first?.victim.comm == comm)
            #expect(events.first?.trigger?.comm == comm)
            #expect(events.first?.victim.score == 5)
            #expect(events.first?.victim.totalVmKB == 10)
            #expect(events.first?.victim.uid == 1)
            #expect(events.first?.reaped != nil)
            #expect(events.first?.victim.cgroup == "/q")
        }
    }

    @Test func unrelatedLinesInsideAReportChangeNothing() {
        let noise = [
            "CPU: 3 PID: 999 Comm: other Not tainted 6.8.0 #1",
            "e1000e: eth0 NIC Link is Up",
            "TCP: out of memory -- consider tuning tcp_mem",
        ]
        var clean = OOMReportAssembler()
        var noisy = OOMReportAssembler()
        var a: [OOMEvent] = []
        var b: [OOMEvent] = []
        for m in report {
            a += clean.feed(uptimeMicros: 1, message: m)
            for n in noise { b += noisy.feed(LogLine(message: n, uptimeMicros: 1, raw: "")) }
            b += noisy.feed(LogLine(message: m, uptimeMicros: 1, raw: m))
        }
        a += clean.finish()
        b += noisy.finish()
        #expect(a.count == 1)
        var strippedB = b
        for i in strippedB.indices { strippedB[i].raw = a[i].raw }
        #expect(strippedB == a)
    }

    @Test func hugeReportKeepsItsHeadAndKillLineOnly() throws {
        var options = OOMReportAssembler.Options()
        options.maxRawBytes = 1000
        var a = OOMReportAssembler(options: options)
        _ = a.feed(uptimeMicros: 1, message: report[0])
        _ = a.feed(
            uptimeMicros: 1,
            message: "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name")
        for pid in 1...5000 {
            _ = a.feed(
                uptimeMicros: 2, message: "[\(pid)]     0 \(pid)     100      10    4096        0             0 worker")
        }
        let e = try #require((a.feed(uptimeMicros: 3, message: report[3]) + a.finish()).first)
        #expect(e.candidates?.count == 5000)
        let raw = try #require(e.raw)
        #expect(raw.utf8.count < 1200)
        #expect(raw.hasPrefix("stress invoked oom-killer"))
        #expect(raw.hasSuffix(report[3]))
    }

    @Test func reportWithoutTimestampsEndsAfterMaxLines() {
        var options = OOMReportAssembler.Options()
        options.maxReportLines = 100
        var a = OOMReportAssembler(options: options)
        _ = a.feed(LogLine(message: report[0]))
        for _ in 0..<101 { _ = a.feed(LogLine(message: "noise", origin: .userspace("x"))) }
        _ = a.feed(LogLine(message: "noise"))
        #expect(!a.isCollecting)
    }

    @Test func stormReapersArrivingLateStillAttachInOrder() {
        var a = OOMReportAssembler()
        func killed(_ pid: Int) -> String {
            "Out of memory: Killed process \(pid) (w) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB"
        }
        func reaped(_ pid: Int) -> String {
            "oom_reaper: reaped process \(pid) (w), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"
        }
        var events: [OOMEvent] = []
        events += a.feed(uptimeMicros: 10, message: killed(1))
        events += a.feed(uptimeMicros: 20, message: killed(2))
        events += a.feed(uptimeMicros: 30, message: reaped(2))
        #expect(events.isEmpty)  // 1 is older and still waiting
        events += a.feed(uptimeMicros: 40, message: reaped(1))
        #expect(events.map(\.victim.pid) == [1, 2])
        #expect(events.allSatisfy { $0.reaped != nil })
        // A reaper line long after the kill does not attach.
        events = a.feed(uptimeMicros: 50, message: killed(3))
        events += a.feed(uptimeMicros: 9_000_000, message: reaped(3))
        #expect(events.map(\.victim.pid) == [3])
        #expect(events.first?.reaped == nil)
    }
}
