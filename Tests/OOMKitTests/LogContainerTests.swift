import OOMKit
import Testing

/// Each log container, recognised line by line.
@Suite struct LogContainerTests {
    private func parse(_ line: String, offset: Int = 0, reference: Int64? = 1_767_225_600) -> LogLine? {
        var p = LogLineParser(
            options: .init(localUTCOffset: { _ in offset }, referenceEpochSeconds: reference))
        return p.parse(line)
    }

    @Test func kmsgRecord() throws {
        let r = try #require(KmsgRecord.parse("4,348,105122417,-;python3 invoked oom-killer: order=0"))
        #expect(r.priority == 4 && r.facility == 0 && r.level == 4)
        #expect(r.sequence == 348)
        #expect(r.usec == 105_122_417)
        #expect(r.flags == "-")
        #expect(r.message == "python3 invoked oom-killer: order=0")
        let l = r.logLine(bootID: "b")
        #expect(l.uptimeMicros == 105_122_417 && l.origin == .kernel && l.bootID == "b")
    }

    @Test func kmsgEscapesCallerAndDictionary() throws {
        let r = try #require(KmsgRecord.parse("6,1,2,-,caller=T812;a\\x0ab\\x5c \\xzz"))
        #expect(r.message == "a\nb\\ \\xzz")
        #expect(KmsgRecord.parse(" SUBSYSTEM=net") == nil)
        #expect(KmsgRecord.isDictionaryLine(Array(" DEVICE=+pci:0000:00:1f.6".utf8)))
        #expect(!KmsgRecord.isDictionaryLine(Array(" dump_stack+0x57/0x80".utf8)))
        #expect(parse(" SUBSYSTEM=net") == nil)
        let l = try #require(parse("6,1,2,-,caller=T812;hello"))
        #expect(l.callerID == "T812")
        #expect(l.message == "hello")
        // Userspace writes to /dev/kmsg are not kernel lines.
        #expect(parse("30,2015,88300000,-;systemd[1]: Started x.")?.origin == .userspace("systemd"))
        #expect(KmsgRecord.parse("4,348;x") == nil)
        #expect(KmsgRecord.parse("12:00:01 hello") == nil)
    }

    @Test func dmesgUptimeAndCallerIDs() throws {
        let a = try #require(parse("[  105.122417] python3 invoked oom-killer:"))
        #expect(a.uptimeMicros == 105_122_417 && a.message == "python3 invoked oom-killer:" && a.origin == .kernel)
        let b = try #require(parse("[  105.122417][ T2208] msg"))
        #expect(b.callerID == "T2208" && b.message == "msg" && b.uptimeMicros == 105_122_417)
        let c = try #require(parse("[    0.000000] [    C0] msg two"))
        #expect(c.callerID == "C0" && c.message == "msg two")
        let d = try #require(parse("<4>[  12.5] raw level"))
        #expect(d.uptimeMicros == 12_500_000 && d.message == "raw level")
        let e = try #require(parse("kern  :warn  : [  12.000001] dmesg -x"))
        #expect(e.uptimeMicros == 12_000_001 && e.message == "dmesg -x" && e.origin == .kernel)
        // dmesg escapes bytes like /dev/kmsg does: the comm comes out the same.
        #expect(parse("[  1.0] Killed process 1 (caf\\xc3\\xa9)")?.message == "Killed process 1 (café)")
        // A task table row is a bare line, not a timestamp.
        let row = try #require(parse("[  2208]     0  2208    15166 python3"))
        #expect(row.uptimeMicros == nil && row.message == "[  2208]     0  2208    15166 python3")
    }

    @Test func dmesgHumanTimeLocalized() throws {
        let en = try #require(parse("[Tue Mar  5 10:11:12 2024] msg"))
        #expect(en.epochMicros == 1_709_633_472_000_000)
        #expect(en.message == "msg")
        let de = try #require(parse("[Di Mär  5 10:11:12 2024] msg", offset: 3600))
        #expect(de.epochMicros == Int64(1_709_629_872_000_000))
        let fr = try #require(parse("[mar. déc. 31 23:59:59 2024] msg"))
        #expect(fr.epochMicros == 1_735_689_599_000_000)
        let ja = try #require(parse("[火  8月 12 03:54:03 2025] msg"))
        #expect(ja.epochMicros == 1_754_970_843_000_000)
        // Unknown month names still strip the timestamp.
        let xx = try #require(parse("[Abc Xyz 12 03:54:03 2025] msg"))
        #expect(xx.message == "msg" && xx.epochMicros == nil)
    }

    @Test func syslogWithAndWithoutUptime() throws {
        let a = try #require(parse("Mar  3 10:20:30 db1 kernel: java invoked oom-killer: x"))
        #expect(a.host == "db1" && a.origin == .kernel && a.message == "java invoked oom-killer: x")
        #expect(a.epochMicros == Int64(1_740_997_230_000_000))  // 2025-03-03T10:20:30Z
        let b = try #require(parse("Jun 14 09:12:01 node kernel: [81234.567890] msg"))
        #expect(b.uptimeMicros == 81_234_567_890 && b.message == "msg")
        let c = try #require(parse("Jun 14 09:12:01 node kernel: [81234.567890][ T12] msg"))
        #expect(c.callerID == "T12" && c.message == "msg")
        let d = try #require(parse("Aug 12 03:54:03 ws-7 earlyoom[612]: sending SIGTERM"))
        #expect(d.origin == .userspace("earlyoom") && d.message == "sending SIGTERM")
        let busybox = try #require(parse("Mar  3 10:20:30 db1 kern.warn kernel: Killed process 1 (x)"))
        #expect(busybox.origin == .kernel && busybox.host == "db1" && busybox.message == "Killed process 1 (x)")
        // Without a reference instant there is no year, hence no time.
        #expect(parse("Mar  3 10:20:30 db1 kernel: x", reference: nil)?.epochMicros == nil)
        // December lines read in January belong to the previous year.
        #expect(parse("Dec 31 23:00:00 h kernel: x")?.epochMicros == 1_767_222_000_000_000)
    }

    @Test func journalctlShortFormats() throws {
        let precise = try #require(parse("Aug 12 03:54:03.123456 host kernel: msg"))
        #expect(precise.epochMicros == Int64(1_754_970_843_123_456))
        #expect(precise.message == "msg" && precise.host == "host")
        let iso = try #require(parse("2024-03-05T10:11:12+0100 laptop kernel: msg"))
        #expect(iso.epochMicros == 1_709_629_872_000_000 && iso.host == "laptop")
        let isoPrecise = try #require(parse("2024-03-05T10:11:12.250000+01:00 laptop kernel: msg"))
        #expect(isoPrecise.epochMicros == 1_709_629_872_250_000)
        let mono = try #require(parse("[ 4711.000220] laptop kernel: msg"))
        #expect(mono.uptimeMicros == 4_711_000_220 && mono.host == "laptop" && mono.message == "msg")
        let dmesgISO = try #require(parse("2024-03-05T10:11:12,123456+01:00 e1000e 0000:00:19.0: link up"))
        #expect(dmesgISO.message == "e1000e 0000:00:19.0: link up" && dmesgISO.origin == .kernel)
        let unix = try #require(parse("1709629872.250000 laptop kernel: msg"))
        #expect(unix.epochMicros == 1_709_629_872_250_000 && unix.message == "msg" && unix.origin == .kernel)
        let full = try #require(parse("Tue 2024-03-05 10:11:12 CET laptop kernel: msg", offset: 3600))
        #expect(full.epochMicros == 1_709_629_872_000_000 && full.host == "laptop" && full.message == "msg")
        let fullUTC = try #require(parse("Tue 2024-03-05 09:11:12 UTC laptop kernel: msg", offset: 3600))
        #expect(fullUTC.epochMicros == 1_709_629_872_000_000)
        var p = LogLineParser()
        #expect(p.parse("-- Boot 4f5e2d1c0b9a48e7a6f5e4d3c2b1a090 --") == nil)
        #expect(p.parse("Aug 12 03:54:03 host kernel: x")?.bootID == "4f5e2d1c-0b9a-48e7-a6f5-e4d3c2b1a090")
        #expect(p.parse("-- No entries --") == nil)
    }

    @Test func journalJSON() throws {
        let line =
            #"{"MESSAGE":"Killed process 1 (a\"b) x","_TRANSPORT":"kernel","_HOSTNAME":"h","#
            + #""_BOOT_ID":"4F5E2D1C0B9A48E7A6F5E4D3C2B1A090","__REALTIME_TIMESTAMP":"1709630000123456","#
            + #""_SOURCE_MONOTONIC_TIMESTAMP":"4711000220","X":{"nested":[1,"]"]},"Y":null}"#
        let l = try #require(parse(line))
        #expect(l.message == "Killed process 1 (a\"b) x")
        #expect(l.origin == .kernel && l.host == "h" && l.uptimeMicros == 4_711_000_220)
        #expect(l.bootID == "4f5e2d1c-0b9a-48e7-a6f5-e4d3c2b1a090")
        #expect(l.epochMicros == 1_709_630_000_123_456)
        #expect(parse("\u{1E}" + #"{"MESSAGE":"seq","_TRANSPORT":"kernel"}"#)?.message == "seq")
        let bytes = try #require(parse(#"{"MESSAGE":[104,105,10,120],"_TRANSPORT":"kernel"}"#))
        #expect(bytes.message == "hi\nx")
        let u = try #require(
            parse(#"{"MESSAGE":"caf\u00e9 \ud83d\ude00","SYSLOG_IDENTIFIER":"earlyoom","_TRANSPORT":"stdout"}"#))
        #expect(u.message == "café 😀" && u.origin == .userspace("earlyoom"))
        // Broken JSON is a bare line, not a crash.
        #expect(parse(#"{"MESSAGE":"trunc"#)?.message == #"{"MESSAGE":"trunc"#)
    }

    @Test func rfc5424Syslog() throws {
        let l = try #require(parse("<4>1 2024-03-05T09:11:12.5Z host kernel - - - [  12.5] msg"))
        #expect(l.origin == .kernel && l.host == "host" && l.uptimeMicros == 12_500_000 && l.message == "msg")
        #expect(l.epochMicros == 1_709_629_872_500_000)
    }

    @Test func unknownContainerStillGivesTheKill() {
        let events = scan("whatever-prefix 12:00 Killed process 77 (x y) total-vm:10kB, anon-rss:5kB, file-rss:1kB\n")
        #expect(events.map(\.victim.comm) == ["x y"])
        #expect(events.first?.victim.fileRssKB == 1)
    }

    @Test func bareLines() throws {
        let l = try #require(parse("Out of memory: Killed process 1 (x)"))
        #expect(l.origin == .unknown && l.message == "Out of memory: Killed process 1 (x)" && l.uptimeMicros == nil)
        #expect(parse("") == nil)
        #expect(parse("\r") == nil)
    }

    /// One file, every container, each line a piece of the same 6.x report.
    @Test func mixedContainersInOneFile() throws {
        let text = """
            4,10,105122417,-;python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
            [  105.122428] CPU: 1 UID: 0 PID: 2208 Comm: python3 Not tainted 6.18.44 #1
            Aug 12 03:54:03 h kernel: [  105.122580] Tasks state (memory values in pages):
            2025-08-12T03:54:03+0000 h kernel: [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name
            {"MESSAGE":"[   2208]     0  2208    15166    14365   163840        0             0 python3","_TRANSPORT":"kernel"}
            oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/a,task=python3,pid=2208,uid=0
            [Tue Aug 12 03:54:03 2025] Out of memory: Killed process 2208 (python3) total-vm:60664kB, anon-rss:50816kB, file-rss:6644kB, shmem-rss:0kB, UID:0 pgtables:160kB oom_score_adj:0

            """
        let events = scan(text)
        try #require(events.count == 1)
        let e = events[0]
        #expect(e.trigger?.pid == 2208)
        #expect(e.candidates?.count == 1)
        #expect(e.victim.cgroup == "/a")
        #expect(e.time == "2025-08-12T03:54:03Z")
        #expect(e.raw?.split(separator: "\n").count == 7)
    }
}
