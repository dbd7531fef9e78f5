import OOMKit
import Testing

/// OOM reports as people paste and store them (issue 12): the classes of damage, each on
/// fixtures written from the kernel's and earlyoom's printk formats.
@Suite struct RealWorldLogTests {
    /// Every fixture with kills; the transforms below must not change their events.
    static let corpus = [
        "oomanalyser-archlinux-6-1-1.log", "oomanalyser-proxmox-cgroup-oom.log", "oomanalyser-rhel7.log",
        "oomanalyser-ubuntu2110.log", "real-6.18-memcg-v1-dmesg.log", "real-6.18-memcg-v1-kmsg.log",
        "rhel6-2.6.32-syslog.log", "vanilla-2.6.32-dmesg.log", "ubuntu-4.4-kernlog-memcg.log",
        "kernel-4.19-journal-short-iso.log", "kernel-5.4-kmsg-split.log", "kernel-6.1-dmesg-caller-ids.log",
        "storm-5.10-syslog.log", "constraints-5.15-dmesg.log", "journal-json.log", "syslog-userspace-killers.log",
        "earlyoom-every-format.log", "late-start-memcg-4.14-dmesg.log", "rhel7-uid-syslog.log",
        "pasted-localized.log",
    ]

    /// What a paste adds in front of every line.
    static let pastes: [(name: String, prefix: @Sendable (Int) -> String)] = [
        ("two spaces", { _ in "  " }), ("a tab", { _ in "\t" }), ("e-mail quote", { _ in "> " }),
        ("line numbers", { "\($0 + 1): " }), ("padded numbers", { String(repeating: " ", count: 3) + "\($0 + 1) " }),
    ]

    /// The fields of an event that must survive a paste (raw keeps the paste).
    static func essence(_ e: OOMEvent) -> String {
        var copy = e
        copy.raw = nil
        return "\(copy)"
    }

    @Test(arguments: corpus)
    func pastedLikePeopleDoParsesAsTheOriginal(_ file: String) throws {
        let original = try scanFixture(file)
        #expect(!original.isEmpty)
        let lines = try Fixture.text(file).split(separator: "\n", omittingEmptySubsequences: false)
        for paste in Self.pastes {
            let text = lines.enumerated().map { $0.element.isEmpty ? "" : paste.prefix($0.offset) + $0.element }
                .joined(separator: "\n")
            let events = scan(text)
            #expect(events.map(Self.essence) == original.map(Self.essence), "\(file), \(paste.name)")
            #expect(scan(text, fastPath: false).map(Self.essence) == original.map(Self.essence), "\(paste.name)")
        }
    }

    /// The fast pre-filter lets through every line the full parser uses.
    @Test(arguments: corpus)
    func fastPathGivesIdenticalEvents(_ file: String) throws {
        let bytes = try Fixture.bytes(file)
        #expect(scan(bytes, fastPath: false) == scan(bytes))
    }

    @Test func earlyoomEveryReleasedFormat() throws {
        let events = try scanFixture("earlyoom-every-format.log")
        #expect(events.allSatisfy { $0.source == .earlyoom })
        // SIGTERM twice then SIGKILL to one pid is one kill, in every format and with
        // another victim's signals in between; systemd's `Killing process` is none, nor is
        // a bare `Killing process N (comm)` that earlyoom did not log.
        #expect(events.map(\.victim.pid) == [4242, 5151, 6161, 7171, 8181, 5252, 6262, 7272, 7373, 8383, 8484, 8686])
        #expect(
            events.map(\.victim.comm) == [
                "firefox", "chromium", "java", "node", "electron app", "gcc", "ld", "rustc", "clang", "make",
                "cc1plus", "Web",
            ])
        #expect(events.map(\.victim.score) == [900, 850, 700, 600, 500, 800, 650, 620, 610, 750, nil, nil])
        #expect(
            events.map(\.victim.rssKB)
                == [2000, 1500, 1200, 800, 640, 900, 700, 600, 590].map { Int64($0) * 1024 } + [nil, nil, nil])
        #expect(events[0].victim.uid == 1000)
        #expect(events[4].victim.cmdline == "/opt/app/electron --x")
        #expect(events.allSatisfy { $0.host == "desk" && $0.time != nil })
    }

    /// A size no machine has (found by the fuzzer: `VmRSS` of 18 digits in MiB overflowed
    /// the KiB conversion and trapped) is dropped; the kill and its other fields stay.
    @Test func earlyoomImpossibleSizeIsDroppedNotATrap() {
        let text =
            "Mar  2 09:00:01 desk earlyoom[611]: sending SIGTERM to process 4242 uid 1000 \"firefox\": "
            + "badness 900, VmRSS 999999999999999999 MiB\n"
        let events = scan(text)
        #expect(events.map(\.victim.pid) == [4242])
        #expect(events.first?.victim.rssKB == nil)
        #expect(events.first?.victim.score == 900)
    }

    /// earlyoom's repeats are matched per victim, not against the last one only, while
    /// its signals keep coming; the same pid signalled again after a quiet minute (pid
    /// reuse, a second episode) is another kill, and the memory of victims is bounded.
    @Test func earlyoomRepeatsArePerVictimAndWithinAMinute() {
        func line(_ time: String, _ pid: Int, _ signal: String = "SIGTERM") -> String {
            "Mar  2 \(time) desk earlyoom[611]: sending \(signal) to process \(pid) uid 1000 \"w\(pid)\": badness 900, VmRSS 100 MiB"
        }
        // A, B, C in turn, each repeated, then SIGKILL in reverse order: three kills.
        var text = [100, 200, 300, 100, 200, 300].map { line("11:00:00", $0) }
        text += [300, 200, 100].map { line("11:00:01", $0, "SIGKILL") }
        // Still signalled every 30 s for two minutes: the same kill.
        text += ["11:00:31", "11:01:01", "11:01:31", "11:02:01"].map { line($0, 100) }
        // Quiet for more than a minute, then the pid again: a new kill.
        text.append(line("11:03:30", 100))
        var events = scan(text.joined(separator: "\n") + "\n")
        #expect(events.map(\.victim.pid) == [100, 200, 300, 100])
        // 40 other victims in between push 100 out of the bounded memory: its repeat is
        // taken as a new kill rather than kept forever.
        text = [line("12:00:00", 100)] + (1...40).map { line("12:00:00", 1000 + $0) } + [line("12:00:01", 100)]
        events = scan(text.joined(separator: "\n") + "\n")
        #expect(events.count == 42)
        #expect(events.first?.victim.pid == 100 && events.last?.victim.pid == 100)
    }

    /// A report whose first line is `Task in … killed as a result of limit of …`.
    @Test func reportStartingLateKeepsItsFields() throws {
        let events = try scanFixture("late-start-memcg-4.14-dmesg.log")
        try #require(events.count == 1)
        let e = events[0]
        #expect(e.scope == .memcg)
        #expect(e.memcg?.task == "/kubepods/burstable/pod1234/abcd")
        #expect(e.memcg?.oom == "/kubepods/burstable/pod1234")
        #expect(e.memcg?.usageKB == 524_288)
        #expect(e.memcg?.limitKB == 524_288)
        #expect(e.victim.score == 1961)
        #expect(e.victim.uid == 1000)
        #expect(e.victim.oomScoreAdj == 968)
        #expect(e.candidates?.count == 2)
        #expect(e.reaped != nil)
        // The same report from its `Task in` line alone, without the fast path, is the same.
        #expect(scan(try Fixture.bytes("late-start-memcg-4.14-dmesg.log"), fastPath: false) == events)
    }

    /// A log cut before the report's task table: the table and the victim line still
    /// give the victim's row, the same with and without the fast path.
    @Test func reportStartingAtTheTaskTable() throws {
        let text = """
            [ 9000.100100] Tasks state (memory values in pages):
            [ 9000.100101] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name
            [ 9000.100102] [    501]  1000   501   300000   290000  2400000        0          1000 stress-ng
            [ 9000.100200] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice,task=stress-ng,pid=501,uid=1000
            [ 9000.100300] Out of memory: Killed process 501 (stress-ng) total-vm:1200000kB, anon-rss:1160000kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:2344kB oom_score_adj:1000

            """
        let events = scan(text)
        #expect(events.map(\.victim.pid) == [501])
        #expect(events.first?.candidates?.count == 1)
        #expect(events.first?.scope == .global)
        #expect(events.first?.memcg?.task == "/user.slice")
        #expect(scan(text, fastPath: false) == events)
    }

    @Test func killedProcessVariants() throws {
        let rhel7 = try scanFixture("rhel7-uid-syslog.log")
        #expect(rhel7.map(\.victim.pid) == [2301])
        #expect(rhel7.first?.victim.uid == 27)
        #expect(rhel7.first?.victim.totalVmKB == 4_800_000)
        #expect(rhel7.first?.victim.anonRssKB == 3_600_000)
        #expect(rhel7.first?.scope == .global)
        let lines: [(String, Int?)] = [
            (
                "Killed process 10 (a) total-vm:5kB, anon-rss:4kB, file-rss:0kB, shmem-rss:0kB, UID:7 pgtables:1kB oom_score_adj:0",
                7
            ),
            ("Killed process 10 (a), UID 7, total-vm:5kB, anon-rss:4kB, file-rss:0kB, shmem-rss:0kB", 7),
            ("Killed process 10, UID 7, (a) total-vm:5kB, anon-rss:4kB, file-rss:0kB", 7),
            ("Killed process 10 (a) vsz:5kB, anon-rss:4kB, file-rss:0kB", nil),
            ("Out of memory: Killed process 10 (a).", nil),
        ]
        for (line, uid) in lines {
            let e = scan(line + "\n")
            #expect(e.map(\.victim.pid) == [10], "\(line)")
            #expect(e.first?.victim.comm == "a", "\(line)")
            #expect(e.first?.victim.uid == uid, "\(line)")
        }
    }

    @Test func honestUnknowns() throws {
        // A lone victim line says nothing of where the limit was.
        let lone = scan("[ 10.000000] Killed process 77 (worker) total-vm:5kB, anon-rss:4kB, file-rss:0kB\n")
        #expect(lone.count == 1)
        #expect(lone.first?.scope == nil)
        #expect(scan("Memory cgroup out of memory: Killed process 77 (w) total-vm:5kB\n").first?.scope == .memcg)

        // systemd-oomd names no process.
        let oomd = scan(
            "Mar  2 09:00:00 h systemd-oomd[400]: Killed /user.slice/user-1000.slice/session-3.scope due to memory pressure for /user.slice being 80.00% > 60.00% for > 30s with reclaim activity\n"
        )
        #expect(oomd.count == 1)
        #expect(oomd.first?.victim.pid == nil)
        #expect(oomd.first?.victim.unit == "session-3.scope")

        // memory.oom.group: the victim named again in the group's kills is one event.
        let group = scan(
            """
            [ 20.000000] stress invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
            [ 20.000100] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/g,task_memcg=/g,task=stress,pid=50,uid=0
            [ 20.000200] Memory cgroup out of memory: Killed process 50 (stress) total-vm:9000kB, anon-rss:8000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:60kB oom_score_adj:0
            [ 20.000300] Tasks in /g are going to be killed due to memory.oom.group set
            [ 20.000400] Memory cgroup out of memory: Killed process 50 (stress) total-vm:9000kB, anon-rss:7000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:60kB oom_score_adj:0
            [ 20.000500] Memory cgroup out of memory: Killed process 51 (helper) total-vm:900kB, anon-rss:800kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:6kB oom_score_adj:0

            """)
        #expect(group.map(\.victim.pid) == [50, 51])
        #expect(group.first?.victim.anonRssKB == 8000)

        // Cut off after the victim was named: a partial event, not nothing.
        let cut = scan(
            """
            [ 30.000000] java invoked oom-killer: gfp_mask=0x24201ca, order=0, oom_score_adj=0
            [ 30.000100] Task in /docker/abc killed as a result of limit of /docker/abc
            [ 30.000200] Memory cgroup out of memory: Kill process 60 (java) score 990 or sacrifice child

            """)
        #expect(cut.map(\.victim.pid) == [60])
        #expect(cut.first?.partial == true)
        #expect(cut.first?.scope == .memcg)
        #expect(cut.first?.victim.score == 990)
        #expect(cut.first?.memcg?.oom == "/docker/abc")
        let summaryOnly = scan(
            "[ 40.0] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice,task=chrome,pid=70,uid=1000\n"
        )
        #expect(summaryOnly.map(\.victim.pid) == [70])
        #expect(summaryOnly.first?.partial == true)
        #expect(summaryOnly.first?.victim.uid == 1000)
        #expect(summaryOnly.first?.scope == .global)
        // A complete report is not partial, and its id differs from the partial one's.
        let whole = scan(
            "[ 40.0] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice,task=chrome,pid=70,uid=1000\n[ 40.1] Out of memory: Killed process 70 (chrome) total-vm:5kB, anon-rss:4kB, file-rss:0kB\n"
        )
        #expect(whole.first?.partial == nil)
        #expect(whole.first?.id != summaryOnly.first?.id)

        // An `oom-kill:` line with fields missing never shifts one into another.
        let noPid = scan(
            "[ 50.0] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/b,task=x\n[ 50.1] Memory cgroup out of memory: Killed process 80 (x) total-vm:5kB\n"
        )
        #expect(noPid.first?.memcg?.task == "/a/b")
        #expect(noPid.first?.memcg?.oom == "/a")
        let noMemcg = scan(
            "[ 51.0] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,task=y,pid=81,uid=0\n[ 51.1] Out of memory: Killed process 81 (y) total-vm:5kB\n"
        )
        #expect(noMemcg.first?.memcg == nil)
        #expect(noMemcg.first?.memsAllowed == "0")
    }

    /// Localized `dmesg -T` and odd syslog prefixes: the right victims and the right times.
    @Test func localizedAndPrefixedTimes() throws {
        let paris: @Sendable (Int64) -> Int = { _ in 7200 }  // CEST
        let events = scan(
            try Fixture.bytes("pasted-localized.log"),
            options: .init(localUTCOffset: paris, referenceEpochSeconds: 1_776_556_800))
        #expect(events.map(\.victim.pid) == [1111, 2222, 3333, 4444, 5555, 6666])
        #expect(events.allSatisfy { $0.victim.comm.utf8.count <= 15 && !$0.victim.comm.contains(":") })
        #expect(
            events.map(\.time) == [
                "2026-04-19T16:03:30Z", "2026-04-17T22:37:34Z", "2026-04-17T22:37:35Z", "2026-04-17T22:37:36Z",
                "2026-04-17T22:37:37Z", "2026-04-17T22:37:38Z",
            ])
        #expect(events[0].scope == .memcg)
        #expect(events[0].trigger?.comm == "stress")
        #expect(events[4].uptimeS == 1404.29)
        #expect(events[4].host == nil)
        #expect(events[5].host == "web1")
    }

    /// Syslog has no year: never a time in the future of the file's modification time.
    @Test func yearlessTimesAreNeverInTheFuture() {
        // The file was last written on 2026-01-05: a December line is from 2025.
        let jan5: Int64 = 1_767_571_200
        let events = scan(
            Array(
                "Dec 30 23:00:00 h kernel: Out of memory: Killed process 5 (a) total-vm:1kB\nJan  4 10:00:00 h kernel: Out of memory: Killed process 6 (b) total-vm:1kB\n"
                    .utf8),
            options: .init(referenceEpochSeconds: jan5))
        #expect(events.map(\.time) == ["2025-12-30T23:00:00Z", "2026-01-04T10:00:00Z"])
    }

    /// This machine's real memcg kill, read as the agent reads /dev/kmsg, with another
    /// CPU's message stamped 50 µs before the line it follows (the previous kill's
    /// `oom_reaper` line in a burst of kills) put after each line of the report in turn:
    /// the event is the one read without it, every time.
    @Test func aSlightlyOlderLineAnywhereInTheRealReportChangesNothing() throws {
        let records = try Fixture.text("real-6.18-memcg-v1-kmsg.log").split(separator: "\n").map {
            try #require(KmsgRecord.parse($0))
        }
        func events(_ records: [KmsgRecord]) -> [OOMEvent] {
            var a = OOMReportAssembler()
            return records.flatMap { a.feed($0.logLine(bootID: "b")) } + a.finish()
        }
        let plain = events(records)
        try #require(plain.count == 1)
        #expect(plain[0].memcg?.oom != nil && plain[0].trigger != nil)
        for i in records.indices.dropLast() {
            let older = try #require(
                KmsgRecord.parse(
                    "6,\(records[i].sequence),\(records[i].usec - 50),-;oom_reaper: reaped process 7 (other), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"
                ))
            var mixed = records
            mixed.insert(older, at: i + 1)
            let got = events(mixed)
            #expect(got.count == 1, "after line \(i)")
            #expect(got.first?.memcg == plain[0].memcg, "after line \(i)")
            #expect(got.first?.trigger == plain[0].trigger, "after line \(i)")
            #expect(got.first?.id == plain[0].id, "after line \(i)")
        }
    }

    /// Issue 19.2: one kmsg record is one record. A file name the kernel prints with an
    /// escaped newline (or with spaces) never becomes a kill or a report header.
    @Test func escapedNewlineInAKmsgRecordForgesNothing() throws {
        let attack = try Fixture.bytes("kmsg-escaped-newline-attack.log")
        #expect(scan(attack).isEmpty)
        #expect(scan(attack, fastPath: false).isEmpty)
        // The same records as the live agent reads them.
        var a = OOMReportAssembler()
        var events: [OOMEvent] = []
        for line in try Fixture.text("kmsg-escaped-newline-attack.log").split(separator: "\n") {
            let record = try #require(KmsgRecord.parse(line))
            #expect(record.message.contains("\n") || record.message.contains("/tmp/a "))
            events += a.feed(record.logLine())
        }
        // A real kill after the forged header keeps its own trigger: no report was opened.
        events += a.feed(
            KmsgRecord.parse(
                "6,904,7000400,-;Killed process 99 (hog) total-vm:5kB, anon-rss:4kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0"
            )!.logLine())
        events += a.finish()
        #expect(events.map(\.victim.pid) == [99])
        #expect(events.first?.trigger == nil)
        // journald keeps one kernel record as one entry, newline included.
        let journal =
            #"{"_TRANSPORT":"kernel","MESSAGE":"process 'sh' launched '/tmp/x\nOut of memory: Killed process 1 (systemd) total-vm:1kB, anon-rss:1kB, file-rss:0kB' with NULL argv","_SOURCE_MONOTONIC_TIMESTAMP":"7000000"}"#
        #expect(scan(journal + "\n").isEmpty)
    }

    /// The same kill in every container people keep: one id.
    @Test func oneKillOneIDInEveryContainer() {
        let msg =
            "Memory cgroup out of memory: Killed process 2208 (python3) total-vm:123456kB, anon-rss:51200kB, file-rss:1234kB, shmem-rss:0kB, UID:0 pgtables:160kB oom_score_adj:0"
        let forms = [
            "4,348,105122417,-;" + msg,
            "[  105.122417] " + msg,
            "[Tue Dec  1 23:01:02 2026] " + msg,
            "Dec  1 23:01:02 box kernel: [  105.122417] " + msg,
            "Dec  1 23:01:02 box kernel: " + msg,
            "2026-12-01T23:01:02.123456+00:00 box kernel: " + msg,
            #"{"_TRANSPORT":"kernel","_BOOT_ID":"0123456789abcdef0123456789abcdef","_HOSTNAME":"box","_SOURCE_MONOTONIC_TIMESTAMP":"105122417","__REALTIME_TIMESTAMP":"1796166062000000","MESSAGE":""#
                + msg + #""}"#,
            "  > 12: [  105.122417] " + msg,
            "2026-12-01T23:01:02.123456789Z [  105.122417] " + msg,
            "Dec  1 23:01:02 kernel: [  105.122417] " + msg,
            "Dec  1 23:01:02   kernel: " + msg,
            "Dec  1 23:01:02 box kernel: <4>[  105.122417] " + msg,
            "[  105.122417]  \t" + msg,
        ]
        let ids = forms.map { scan($0 + "\n").map(\.id) }
        // Syslog without a host name still has its time.
        #expect(scan(forms[8] + "\n").first?.time != nil)
        #expect(scan(forms[8] + "\n").first?.uptimeS == 105.122417)
        #expect(ids.allSatisfy { $0.count == 1 })
        #expect(Set(ids.flatMap { $0 }).count == 1, "\(ids)")
    }

    /// `journalctl -k -o export` (and `-o verbose`, indented): the kill in its MESSAGE field.
    @Test func journalExportAndVerbose() {
        let export = """
            __CURSOR=s=1;i=2
            __REALTIME_TIMESTAMP=1764300000000000
            _BOOT_ID=0123456789abcdef0123456789abcdef
            _TRANSPORT=kernel
            MESSAGE=stress invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
            _SOURCE_MONOTONIC_TIMESTAMP=105122417

            __CURSOR=s=1;i=3
            _TRANSPORT=kernel
            MESSAGE=Memory cgroup out of memory: Killed process 2208 (stress) total-vm:9000kB, anon-rss:8000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:60kB oom_score_adj:0


            """
        for text in [
            export,
            export.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n"),
        ] {
            let events = scan(text)
            #expect(events.map(\.victim.pid) == [2208])
            #expect(events.first?.trigger?.comm == "stress")
            #expect(events.first?.scope == .memcg)
            #expect(
                events.first?.id
                    == scan(
                        "[ 1.0] Memory cgroup out of memory: Killed process 2208 (stress) total-vm:9000kB, anon-rss:8000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:60kB oom_score_adj:0\n"
                    ).first?.id)
        }
    }

    /// Cut at any line, a report gives no more than its kill, and no false one.
    @Test(arguments: ["oomanalyser-proxmox-cgroup-oom.log", "late-start-memcg-4.14-dmesg.log", "rhel7-uid-syslog.log"])
    func truncatedAtEveryLine(_ file: String) throws {
        let lines = try Fixture.text(file).split(separator: "\n")
        let whole = try scanFixture(file)
        for cut in 0...lines.count {
            let events = scan(lines.prefix(cut).joined(separator: "\n") + "\n")
            #expect(events.count <= 1)
            for e in events {
                #expect(e.victim.pid == whole.first?.victim.pid)
                #expect(e.partial == true || e.id == whole.first?.id)
            }
        }
    }
}
