import OOMKit
import Testing

/// Fixtures written from the kernel's printk formats, one per kernel generation and
/// container; each asserts the exact fields of its events.
@Suite struct KernelFormatTests {
    private func reaped(_ anon: Int64, _ file: Int64, _ shmem: Int64) -> OOMEvent.Reaped {
        var r = OOMEvent.Reaped()
        r.anonRssKB = anon
        r.fileRssKB = file
        r.shmemRssKB = shmem
        return r
    }

    @Test func rhel6KilledProcessWithUIDBeforeComm() throws {
        let events = try scanFixture("rhel6-2.6.32-syslog.log")
        try #require(events.count == 1)
        let e = events[0]
        #expect(
            e.victim
                == victim(2592, "java", uid: 500, totalVm: 2_045_436, anon: 1_764_296, file: 112, adj: 0, score: 894))
        #expect(e.trigger == trigger(pid: 2601, comm: "java", gfp: "0x201da", order: 0, adj: 0, oomAdj: 0))
        #expect(e.scope == .global)
        #expect(e.cpuset == "/")
        #expect(e.memsAllowed == "0")
        #expect(e.host == "db1")
        // Year-less syslog time: the year before the reference instant (2026-01-01).
        #expect(e.time == "2025-03-03T10:20:30Z")
        #expect(e.uptimeS == nil)
        #expect(e.candidates?.map(\.name) == ["udevd", "rsyslogd", "java", "java"])
        #expect(e.candidates?.first?.oomScoreAdj == -1000)
        // sshd's lines inside the report are not the kernel's.
        #expect(e.raw?.contains("sshd") == false)
        #expect(e.raw?.hasSuffix("file-rss:112kB") == true)
    }

    @Test func vanilla2632VszAndScoreOfAnotherPid() throws {
        let events = try scanFixture("vanilla-2.6.32-dmesg.log")
        try #require(events.count == 1)
        let e = events[0]
        // `kill process 4311 … or a child` chose the parent; the child 4312 died: the
        // parent's score does not belong to the victim.
        #expect(e.victim == victim(4312, "stress", uid: 1000, totalVm: 2_106_748, anon: 1_985_996, file: 4))
        #expect(e.trigger == trigger(pid: 4312, comm: "stress", gfp: "0x280da", order: 0, adj: nil, oomAdj: 0))
        #expect(e.uptimeS == 3127.124335)
        #expect(e.scope == .global)
        #expect(e.candidates?.count == 3)
    }

    @Test func ubuntu44LegacyMemcgLines() throws {
        let events = try scanFixture("ubuntu-4.4-kernlog-memcg.log")
        try #require(events.count == 1)
        let e = events[0]
        let cg = "/kubepods/burstable/pod8d3a/4f6c1d1e2a3b"
        #expect(
            e.victim
                == victim(
                    24601, "stress", uid: 0, totalVm: 269_608, anon: 260_476, file: 328, shmem: 0, adj: 998,
                    score: 1994,
                    cgroup: cg))
        #expect(e.memcg == memcg(oom: cg, task: cg, usage: 262_144, limit: 262_144, failcnt: 5312))
        #expect(e.scope == .memcg)
        #expect(e.trigger == trigger(pid: 24601, comm: "stress", gfp: "0x24000c0", order: 0, adj: 998))
        #expect(e.cpuset == "4f6c1d1e2a3b")
        #expect(e.host == "k8s-node-3")
        #expect(e.uptimeS == 81234.5681)
        #expect(e.time == "2025-06-14T09:12:01Z")
        let c = try #require(e.candidates?.last)
        #expect(c.pid == 24601 && c.totalVmPages == 67402 && c.rssPages == 65201 && c.swapents == 0)
        #expect(e.raw?.contains("dockerd") == false)
    }

    @Test func kernel419JournalShortISOWithBootID() throws {
        let events = try scanFixture("kernel-4.19-journal-short-iso.log")
        try #require(events.count == 1)
        let e = events[0]
        let cg = "/user.slice/user-1000.slice/session-3.scope"
        #expect(
            e.victim
                == victim(
                    3172, "Web Content", uid: 1000, totalVm: 3_456_000, anon: 1_234_564, file: 0, shmem: 1024, adj: 233,
                    score: 312, cgroup: cg))
        #expect(
            e.trigger
                == trigger(pid: 3180, comm: "Web Content", gfp: "0x6200ca(GFP_HIGHUSER_MOVABLE)", order: 0, adj: 233))
        #expect(e.bootID == "4f5e2d1c-0b9a-48e7-a6f5-e4d3c2b1a090")
        #expect(e.host == "laptop")
        #expect(e.time == "2024-03-05T09:11:12Z")
        #expect(e.constraint == "CONSTRAINT_NONE")
        #expect(e.scope == .global)
        #expect(e.memcg == memcg(task: cg))
        #expect(e.reaped == reaped(0, 0, 1024))
        #expect(e.candidates?.map(\.name) == ["Web Content", "Web Content"])
    }

    @Test func kernel54KmsgSplitSummaryAndEscapes() throws {
        let events = try scanFixture("kernel-5.4-kmsg-split.log")
        try #require(events.count == 1)
        let e = events[0]
        #expect(
            e.victim
                == victim(
                    777, "café", uid: 0, totalVm: 80000, anon: 63000, file: 1000, shmem: 0, pgtables: 176, adj: 999,
                    cgroup: "/kubepods/burstable/pod1/c1"))
        #expect(
            e.memcg
                == memcg(
                    oom: "/kubepods/burstable/pod1", task: "/kubepods/burstable/pod1/c1", usage: 65536, limit: 65536,
                    failcnt: 42))
        #expect(e.constraint == "CONSTRAINT_MEMCG")
        #expect(e.scope == .memcg)
        #expect(e.uptimeS == 88.12351)
        #expect(e.reaped == reaped(0, 0, 0))
        #expect(e.trigger?.comm == "café")
        #expect(e.trigger?.pid == 777)
        #expect(e.candidates?.first?.name == "café")
        // raw keeps the records as read, escapes included.
        #expect(e.raw?.contains("caf\\xc3\\xa9") == true)
    }

    @Test func kernel61CallerIDsKeepOtherTasksOut() throws {
        let events = try scanFixture("kernel-6.1-dmesg-caller-ids.log")
        try #require(events.count == 1)
        let e = events[0]
        #expect(
            e.victim
                == victim(
                    1234, "(sd-pam)", uid: 1000, totalVm: 10_000_000, anon: 9_600_000, file: 0, shmem: 0,
                    pgtables: 19532,
                    adj: 100, cgroup: "/user.slice/user-1000.slice/user@1000.service/init.scope"))
        #expect(e.trigger?.pid == 1234)
        #expect(e.candidates?.map(\.name) == ["systemd", "(sd-pam)"])
        #expect(e.memsAllowed == "0-1")
        #expect(e.raw?.contains("imposter") == false)
        #expect(e.raw?.contains("NIC Link") == false)
    }

    @Test func stormGivesOneEventPerKillWithOnlyItsOwnFields() throws {
        let events = try scanFixture("storm-5.10-syslog.log")
        #expect(events.map(\.victim.pid) == [501, 502, 503, 504])
        #expect(Set(events.map(\.id)).count == 4)
        #expect(events[0].trigger?.pid == 500)
        #expect(events[0].candidates?.count == 2)
        #expect(events[0].victim.cgroup == "/system.slice/stress.service")
        for e in events.dropFirst() {
            #expect(e.trigger == nil)
            #expect(e.candidates == nil)
            #expect(e.constraint == nil)
            #expect(e.memcg == nil)
            #expect(e.victim.cgroup == nil)
            #expect(e.scope == .global)
            #expect(e.host == "batch-1")
        }
        #expect(events.map { $0.reaped != nil } == [true, false, true, false])
        #expect(events[1].raw?.split(separator: "\n").count == 1)
        #expect(events[3].victim.anonRssKB == 1_000_000)
    }

    @Test func journalJSONWithUserspaceKillers() throws {
        let events = try scanFixture("journal-json.log")
        #expect(events.map(\.source) == [.kernel, .earlyoom, .systemdOomd])
        let k = events[0]
        #expect(k.victim.pid == 1234)
        #expect(k.victim.comm == "Web Content")
        #expect(k.trigger?.pid == 1240)
        #expect(k.uptimeS == 4711.00022)
        #expect(k.time == "2024-03-05T09:13:20.123456Z")
        #expect(k.host == "ws-5")
        #expect(k.bootID == "4f5e2d1c-0b9a-48e7-a6f5-e4d3c2b1a090")
        #expect(k.victim.cgroup == "/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope")
        var eo = victim(4242, "firefox", uid: 1000, score: 903)
        eo.rssKB = 6123 * 1024
        eo.cmdline = "/usr/lib/firefox/firefox -contentproc"
        #expect(events[1].victim == eo)
        #expect(events[1].time == "2024-03-05T09:15:00Z")
        let oomd = events[2].victim
        #expect(oomd.cgroup == "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-code-5555.scope")
        #expect(oomd.unit == "app-gnome-code-5555.scope")
        #expect(events[2].time == "2024-03-05T09:16:39.999Z")
    }

    @Test func syslogEarlyoomEscalationIsOneKill() throws {
        let events = try scanFixture("syslog-userspace-killers.log")
        #expect(events.map(\.source) == [.earlyoom, .earlyoom, .systemdOomd])
        var first = victim(4242, "Web Content", uid: 1000, score: 903)
        first.rssKB = 6123 * 1024
        #expect(events[0].victim == first)
        #expect(events[0].host == "ws-7")
        var second = victim(5151, "java", score: 800)
        second.rssKB = 4000 * 1024
        #expect(events[1].victim == second)
        #expect(events[2].victim.cgroup == "/system.slice/batch.service")
        #expect(events[2].victim.unit == "batch.service")
    }

    @Test func linesThatAreNotKills() throws {
        #expect(try scanFixture("negatives.log").isEmpty)
        #expect(scan(try Fixture.bytes("negatives.log"), fastPath: false).isEmpty)
    }

    @Test func constraintsAndAllocatingTask() throws {
        let events = try scanFixture("constraints-5.15-dmesg.log")
        #expect(events.map(\.victim.pid) == [880, 990, 1010, 1020])
        #expect(events.map(\.scope) == [.mempolicy, .cpuset, .global, .global])
        #expect(events[1].cpuset == "pinned")
        #expect(events[2].victim.score == 0)
        #expect(events[2].cpuset == "/")
        #expect(events[3].trigger == nil)
        #expect(events[3].victim.pgtablesKB == 44)
    }

    /// Every fixture, scanned with every line parsed and in tiny chunks, gives the same
    /// events as the fast path.
    @Test(arguments: [
        "rhel6-2.6.32-syslog.log", "vanilla-2.6.32-dmesg.log", "ubuntu-4.4-kernlog-memcg.log",
        "kernel-4.19-journal-short-iso.log", "kernel-5.4-kmsg-split.log", "kernel-6.1-dmesg-caller-ids.log",
        "storm-5.10-syslog.log", "journal-json.log", "syslog-userspace-killers.log", "constraints-5.15-dmesg.log",
    ])
    func fastPathChangesNothing(_ file: String) throws {
        let bytes = try Fixture.bytes(file)
        let fast = scan(bytes)
        #expect(!fast.isEmpty)
        #expect(scan(bytes, fastPath: false) == fast)
        #expect(scan(bytes, chunkSize: 3) == fast)
        // Windows line endings change nothing but raw.
        let crlf = Array(String(decoding: bytes, as: UTF8.self).replacing("\n", with: "\r\n").utf8)
        #expect(scan(crlf).map(\.victim) == fast.map(\.victim))
    }
    /// Found by the fuzzer: a task-table number of 19+ digits overflowed Int64 and trapped.
    @Test(arguments: [String(repeating: "9", count: 19), String(repeating: "9", count: 120)])
    func oversizedTaskTableNumberIsRejectedNotATrap(number: String) throws {
        let text = try Fixture.text("oomanalyser-rhel7.log")
        let row = "[  390]     0   390    39012     6739      78       51             0 systemd-journal"
        #expect(text.contains(row))
        let hostile = text.replacing(
            row, with: "[  390] \(number)   390    39012     6739      78       51             0 systemd-journal")
        let events = scan(hostile)
        #expect(events.map(\.victim.pid) == (try scanFixture("oomanalyser-rhel7.log")).map(\.victim.pid))
        #expect(events.first?.candidates?.contains { $0.pid == 390 } == false)
    }
}
