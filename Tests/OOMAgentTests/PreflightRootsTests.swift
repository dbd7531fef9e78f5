import HostSupport
import Logging
import Testing

@testable import OOMAgent

#if canImport(Glibc)
    import Glibc
#endif

/// The preflight's host checks on fake roots: the kernel log, the journal and the cgroup
/// version, each in the state a real host can be in, and the `config` line first.
@Suite final class PreflightRootsTests {
    let dir = TestSupport.tempDir("preflight-roots")

    deinit { TestSupport.removeTree(dir) }

    func config(_ edit: (inout AgentConfig) -> Void = { _ in }) -> AgentConfig {
        var c = AgentConfig()
        c.collector = "http://127.0.0.1:1"  // refused at once: no network in these tests
        c.stateDir = dir + "/state"
        c.roots.kmsg = dir + "/kmsg"
        c.roots.cgroup = dir + "/cgroup"
        edit(&c)
        return c
    }

    @Test func readableKmsgIsOK() {
        TestSupport.write(dir + "/kmsg", "6,1,0,-;booted\n")
        let check = Preflight.kmsg(config())
        #expect(check.level == .ok && check.detail == "\(dir)/kmsg readable", "\(check.line)")
    }

    /// Configured to follow /dev/kmsg and unable to: FAIL with the fix, and `check`
    /// exits non-zero (kernel OOM kills would be missed).
    @Test func unreadableKmsgFailsTheCheck() {
        let check = Preflight.kmsg(config())
        #expect(check.level == .fail, "\(check.line)")
        #expect(check.line.hasPrefix("FAIL  kernel log: \(dir)/kmsg not readable (No such file or directory)"))
        #expect(check.fix?.contains("CAP_SYSLOG") == true)
        #expect(Preflight.exitStatus([PreflightCheck("config", .ok, "valid"), check]) == 1)
        // Not configured to follow it: a warning, and nothing fails.
        let off = Preflight.kmsg(config { $0.sources.kmsg = false })
        #expect(off.level == .warn && Preflight.exitStatus([off]) == 0, "\(off.line)")
    }

    @Test func journalPresentOrAbsent() throws {
        let journalctl = dir + "/journalctl"
        TestSupport.write(journalctl, "#!/bin/sh\nexit 0\n")
        #expect(chmod(journalctl, 0o755) == 0)
        let journal = dir + "/var-log-journal"
        try FileIO.makeDirectories(journal + "/0123456789abcdef")
        let empty = dir + "/run-log-journal"
        try FileIO.makeDirectories(empty)
        let withJournalctl = config { $0.journalctlPath = journalctl }

        let present = Preflight.journal(withJournalctl, directories: [empty, journal])
        #expect(present.level == .ok && present.detail.hasPrefix("available"), "\(present.line)")
        let noFiles = Preflight.journal(withJournalctl, directories: [empty, dir + "/nowhere"])
        #expect(noFiles.level == .info && noFiles.detail.hasPrefix("no systemd journal"), "\(noFiles.line)")
        let noJournalctl = Preflight.journal(
            config { $0.journalctlPath = dir + "/no-journalctl" }, directories: [journal])
        #expect(noJournalctl.level == .info && noJournalctl.detail.contains("no \(dir)/no-journalctl"))
        let off = Preflight.journal(config { $0.sources.journal = false }, directories: [journal])
        #expect(off.level == .info && off.detail.hasPrefix("sources.journal is off"))
        // No journal never fails the check: nothing is lost without it.
        #expect(Preflight.exitStatus([present, noFiles, noJournalctl, off]) == 0)
    }

    @Test(arguments: ["v1", "v1-flat", "v2", "v2-unified", "none"])
    func cgroupVersionIsDetected(_ layout: String) throws {
        let root = dir + "/cgroup"
        switch layout {
        case "v1":
            try FileIO.makeDirectories(root + "/memory")
            TestSupport.write(root + "/memory/memory.usage_in_bytes", "4096\n")
        case "v1-flat":
            try FileIO.makeDirectories(root)
            TestSupport.write(root + "/memory.usage_in_bytes", "4096\n")
        case "v2":
            try FileIO.makeDirectories(root)
            TestSupport.write(root + "/cgroup.controllers", "cpuset cpu io memory pids\n")
        case "v2-unified":
            try FileIO.makeDirectories(root + "/unified")
            TestSupport.write(root + "/unified/cgroup.controllers", "memory pids\n")
        default:
            try FileIO.makeDirectories(root)
            TestSupport.write(root + "/cgroup.controllers", "cpu io pids\n")  // v2 without memory
        }
        let check = Preflight.cgroup(config())
        switch layout {
        case "v1": #expect(check.line == "OK    cgroups: memory controller on cgroup v1 at \(root)/memory")
        case "v1-flat": #expect(check.line == "OK    cgroups: memory controller on cgroup v1 at \(root)")
        case "v2": #expect(check.line == "OK    cgroups: memory controller on cgroup v2 at \(root)")
        case "v2-unified": #expect(check.line == "OK    cgroups: memory controller on cgroup v2 at \(root)/unified")
        default: #expect(check.level == .info && check.detail.hasPrefix("no memory controller under \(root)"))
        }
    }

    /// The `config` line comes first among the checks `run` logs at start, and an invalid
    /// setting fails it with the setting's name.
    @Test func configIsTheFirstCheck() async throws {
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let checks = await Preflight.run(config: config(), logger: logger, journalDirectories: [dir + "/none"])
        #expect(checks.first?.line == "OK    config: valid (state_dir \(dir)/state)")
        #expect(checks.map(\.name).contains("collector reachable"))
        let invalid = Preflight.configuration(config { $0.intervalSeconds = 0 })
        #expect(invalid.level == .fail && invalid.detail.contains("interval"), "\(invalid.line)")
    }
}
