import Logging
import Testing

@testable import OOMAgent

#if canImport(Glibc)
    import Glibc
#endif

/// The built `oomwatch-agent` binary as an operator runs it.
@Suite(.serialized) struct AgentProcessTests {
    static let agent = TestSupport.packageRoot + "/.build/debug/oomwatch-agent"

    func requireAgent() -> Bool {
        if access(Self.agent, X_OK) == 0 { return true }
        Issue.record("build the agent first (swift build): \(Self.agent) missing")
        return false
    }

    @Test func badConfigFailsClearly() throws {
        guard requireAgent() else { return }
        let dir = TestSupport.tempDir("badconfig")
        defer { TestSupport.removeTree(dir) }
        TestSupport.write(dir + "/agent.yaml", "interval: often\n")
        let cases: [([String], String)] = [
            (["run", "--config", dir + "/agent.yaml", "--collector", "http://x"], "interval"),
            (["run", "--config", dir + "/missing.yaml"], "does not exist"),
            (["run", "--config", TestSupport.fixtures + "/empty.yaml"], "no collector set"),
            (
                ["run", "--config", TestSupport.fixtures + "/empty.yaml", "--collector", "ftp://x"],
                "http:// or https://"
            ),
            (["snapshot", "--config", TestSupport.fixtures + "/empty.yaml", "--top-processes=-5"], "top_processes"),
            (
                [
                    "run", "--config", TestSupport.fixtures + "/empty.yaml", "--collector", "http://collector.invalid",
                    "--token-file",
                    dir + "/none",
                ], "token_file"
            ),
        ]
        for (args, message) in cases {
            let pid = TestSupport.spawn([Self.agent] + args, stderr: dir + "/err")
            let status = TestSupport.wait(pid)
            #expect((status >> 8) & 0xff != 0, "\(args) should fail")
            let err = TestSupport.read(dir + "/err")
            #expect(err.contains(message), "\(args): \(err)")
        }
    }

    @Test func snapshotPrintsJSON() throws {
        guard requireAgent() else { return }
        let dir = TestSupport.tempDir("snap")
        defer { TestSupport.removeTree(dir) }
        let pid = TestSupport.spawn(
            [
                Self.agent, "snapshot", "--config", TestSupport.fixtures + "/empty.yaml", "--proc-root",
                TestSupport.fixtures + "/proc", "--cgroup-root", TestSupport.fixtures + "/cgroup-v2",
            ], stdout: dir + "/out")
        #expect(TestSupport.wait(pid) == 0)
        let out = TestSupport.read(dir + "/out")
        #expect(out.hasPrefix("{"))
        #expect(out.contains(#""host":"fixture-host""#))
        #expect(out.contains(#""comm":"evil) (name x""#))
        #expect(out.contains(#""path":"/system.slice/web.service""#))
    }

    /// `run` against a collector on loopback: it uploads, and SIGTERM makes it flush its
    /// cursor and counters and exit 0.
    @Test func runUploadsAndStopsCleanlyOnSIGTERM() throws {
        guard requireAgent() else { return }
        let dir = TestSupport.tempDir("run")
        defer { TestSupport.removeTree(dir) }
        let server = TestSupport.spawn(
            ["/usr/bin/python3", TestSupport.fixtures + "/ingest_server.py", dir + "/requests.jsonl"],
            stdout: dir + "/port")
        defer {
            kill(server, SIGTERM)
            TestSupport.wait(server)
        }
        var port = ""
        for _ in 0..<100 where port.isEmpty {
            TestSupport.sleepMillis(50)
            port = TestSupport.read(dir + "/port").filter(\.isNumber)
        }
        try #require(!port.isEmpty)
        TestSupport.write(dir + "/token", "agent-token\n")
        TestSupport.write(dir + "/agent.yaml", "upload:\n  interval: 0.3\n")
        let agent = TestSupport.spawn(
            [
                Self.agent, "run", "--config", dir + "/agent.yaml", "--collector",
                "http://127.0.0.1:\(port)/ok", "--token-file", dir + "/token", "--state-dir", dir + "/state",
                "--interval", "0.2", "--log-level", "error",
            ], stderr: dir + "/agent.log")
        var uploaded = false
        for _ in 0..<60 where !uploaded {
            TestSupport.sleepMillis(250)
            uploaded = !TestSupport.read(dir + "/requests.jsonl").isEmpty
        }
        kill(agent, SIGTERM)
        let status = TestSupport.wait(agent)
        let log = TestSupport.read(dir + "/agent.log")
        #expect(status == 0, "agent exit status \(status), log: \(log)")
        #expect(FileIO.exists(dir + "/state/counters.json"))
        if access("/dev/kmsg", R_OK) == 0 {
            let cursor = KmsgCursor.load(dir + "/state/kmsg.cursor")
            #expect(cursor?.bootID == HostIdentity.read(procRoot: "/proc").bootID)
        }
        // Whatever was not uploaded is still in the spool, flushed.
        let spool = try Spool(
            directory: dir + "/state/spool", counters: AgentCounters(),
            logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        let requests = TestSupport.read(dir + "/requests.jsonl")
        #expect(spool.pending.snapshots > 0 || requests.contains(#""snapshots": "#))
        // Both intervals go up, so the collector calls the host stale only after three
        // upload intervals when they are the longer.
        #expect(
            requests.contains(#""interval_s": 0.2"#) && requests.contains(#""upload_interval_s": 0.3"#), "\(requests)")
    }
}
