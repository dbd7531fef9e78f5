import OOMKit
import Testing

@Suite struct ProcParserTests {
    @Test(arguments: [
        ("MemTotal", true, "total_kb"), ("MemAvailable", true, "available_kb"),
        ("SwapTotal", true, "swap_total_kb"), ("AnonPages", true, "anon_pages_kb"),
        ("Committed_AS", true, "committed_as_kb"), ("SReclaimable", true, "s_reclaimable_kb"),
        ("Active(anon)", true, "active_anon_kb"), ("NFS_Unstable", true, "nfs_unstable_kb"),
        ("HugePages_Total", false, "huge_pages_total"), ("DirectMap2M", true, "direct_map2m_kb"),
        ("Hugepagesize", true, "hugepagesize_kb"), ("ShmemPmdMapped", true, "shmem_pmd_mapped_kb"),
    ])
    func meminfoKeys(name: String, kb: Bool, key: String) {
        #expect(Meminfo.key(for: name, kilobytes: kb) == key)
    }

    @Test func meminfoParsesUnitsAndCounts() {
        let m = Meminfo.parse("MemTotal:       16384 kB\nHugePages_Total:       4\nCommitted_AS:    123 kB\n")
        #expect(m == ["total_kb": 16384, "huge_pages_total": 4, "committed_as_kb": 123])
    }

    @Test func vmstatSelectsKeys() {
        let v = Vmstat.parse("nr_free_pages 10\noom_kill 7\npgmajfault 99\n", keys: ["oom_kill", "pgmajfault"])
        #expect(v == ["oom_kill": 7, "pgmajfault": 99])
        #expect(Vmstat.oomKill(ArraySlice("a 1\noom_kill 12\n".utf8)) == 12)
    }

    @Test func pressureWithAndWithoutFull() {
        let p = PressureParser.parse(
            "some avg10=1.50 avg60=0.25 avg300=0.05 total=123456\nfull avg10=0.75 avg60=0.10 avg300=0.01 total=65432\n")
        #expect(p?.someAvg10 == 1.5)
        #expect(p?.someTotalUs == 123456)
        #expect(p?.fullAvg60 == 0.1)
        let old = PressureParser.parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
        #expect(old != nil && old?.fullAvg10 == nil)
        #expect(PressureParser.parse("") == nil)
    }

    @Test func statWithHostileComm() {
        let s = ProcStat.parse(
            "5678 (evil) (name x) R 1234 5678 5678 0 -1 4194560 100 0 0 0 10 5 0 0 20 0 1 0 9000 104857600 12800 18446744073709551615 1 1\n"
        )
        #expect(s?.comm == "evil) (name x")
        #expect(s?.ppid == 1234)
        #expect(s?.startTicks == 9000)
        #expect(s?.vsizeBytes == 104_857_600)
        #expect(s?.rssPages == 12800)
        #expect(ProcStat.parse("garbage") == nil)
    }

    @Test func statusFields() {
        let s = ProcStatus.parse(
            "Name:\tjava\nPPid:\t1\nUid:\t1000\t1001\t1000\t1000\nVmRSS:\t  102400 kB\nRssAnon:\t 9 kB\nVmSwap:\t 3 kB\n"
        )
        #expect(s.name == "java")
        #expect(s.uid == 1000)
        #expect(s.vmRSSKB == 102_400)
        #expect(s.rssAnonKB == 9)
        #expect(s.vmSwapKB == 3)
    }

    @Test func cmdline() {
        #expect(ProcCmdline.parse("a\0b c\0\0") == "a b c")
        #expect(ProcCmdline.parse("") == nil)
    }

    @Test func cgroupPathPrefersV1Memory() {
        let text = "9:name=systemd:/\n4:memory:/process_api/abc\n0::/user.slice\n"
        #expect(ProcCgroup.memoryPath(text) == "/process_api/abc")
        #expect(ProcCgroup.memoryPath("0::/system.slice/x.service\n") == "/system.slice/x.service")
        #expect(ProcCgroup.parse(text).count == 3)
    }

    static let id64 = "4f3a9b2c1d0e4f3a9b2c1d0e4f3a9b2c1d0e4f3a9b2c1d0e4f3a9b2c1d0e4f3a"

    @Test(
        arguments: [
            ("/system.slice/docker-\(id64).scope", "docker-\(id64).scope", id64, nil),
            ("/docker/\(id64)", nil, id64, nil),
            ("/system.slice/crio-\(id64).scope", "crio-\(id64).scope", id64, nil),
            ("/machine.slice/libpod-\(id64).scope", "libpod-\(id64).scope", id64, nil),
            ("/machine.slice/libpod-conmon-\(id64).scope", "libpod-conmon-\(id64).scope", nil, nil),
            (
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/cri-containerd-\(id64).scope",
                "cri-containerd-\(id64).scope", id64, "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
            ),
            (
                "/kubepods/besteffort/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/\(id64)", nil, id64,
                "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
            ),
            ("/system.slice/nginx.service", "nginx.service", nil, nil),
            ("/", nil, nil, nil),
        ] as [(String, String?, String?, String?)])
    func cgroupIdentity(path: String, unit: String?, container: String?, pod: String?) {
        let id = CgroupIdentity.parse(path: path)
        #expect(id.unit == unit)
        #expect(id.containerID == container)
        #expect(id.podUID == pod)
    }

    @Test func cgroupMemoryFiles() {
        #expect(CgroupMemoryFile.kilobytes(ArraySlice("max\n".utf8)) == .some(nil))
        #expect(CgroupMemoryFile.kilobytes(ArraySlice("9223372036854771712\n".utf8)) == .some(nil))
        #expect(CgroupMemoryFile.kilobytes(ArraySlice("67108864\n".utf8)) == .some(65536))
        #expect(CgroupMemoryFile.kilobytes(ArraySlice("junk".utf8)) == nil)
        #expect(CgroupMemoryFile.oomKill("low 0\noom 1\noom_kill 4\n") == 4)
    }
}
