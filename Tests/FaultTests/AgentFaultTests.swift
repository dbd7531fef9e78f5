import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A memory cgroup (v1) for OOM-killing `dd` on purpose, or nil (printed) when there is none.
struct KillCage {
    let dir: String

    static func make(_ tag: String) -> KillCage? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3, f[1].split(separator: ",").contains("memory") else { continue }
            let parent = "/sys/fs/cgroup/memory" + (f[2] == "/" ? "" : String(f[2]))
            let dir = parent + "/oomwatch-fault-\(getpid())-\(tag)"
            guard mkdir(dir, 0o755) == 0 || errno == EEXIST,
                FileManager.default.createFile(atPath: dir + "/memory.limit_in_bytes", contents: Data("16777216".utf8))
                    || (try? "16777216".write(
                        toFile: dir + "/memory.limit_in_bytes", atomically: false, encoding: .utf8))
                        != nil
            else { break }
            return KillCage(dir: dir)
        }
        print("SKIP: needs a writable cgroup v1 memory hierarchy and /dev/kmsg to make real OOM kills")
        return nil
    }

    /// Runs `dd` with a 48 MB buffer in the 16 MB cgroup; the pid the kernel killed.
    func oomKill() -> Int32? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "echo $$ > \(dir)/cgroup.procs && exec dd if=/dev/zero of=/dev/null bs=48M count=1"]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        p.waitUntilExit()
        return p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL ? p.processIdentifier : nil
    }

    func remove() { rmdir(dir) }
}

extension Faults {
    /// Real OOM kills while the agent is SIGKILLed again and again and the collector is down
    /// for a while: every kill is delivered exactly once after the collector returns, a torn
    /// spool tail is skipped and counted, and the agent never crash-loops.
    /// `FAULT_OUTAGE_SECONDS` (default 20) sets the outage; the minute is a soak.
    @Test func agentKillsAndOutage() async throws {
        guard let bins = Binaries.locate() else { return }
        guard access("/dev/kmsg", R_OK) == 0, let cage = KillCage.make("agent") else { return }
        defer { cage.remove() }
        let outage = Double(ProcessInfo.processInfo.environment["FAULT_OUTAGE_SECONDS"] ?? "") ?? 20
        let tmp = TempDir("agentkill")
        defer { tmp.remove() }
        let collector = try CollectorProcess(binary: bins.collector, dir: tmp.path)
        try await collector.start()
        defer { collector.stop() }
        tmp.write("agent-token", CollectorProcess.agentToken + "\n")
        let state = tmp.path + "/state"
        tmp.write(
            "agent.yaml",
            agentConfig(collector: collector.url, state: state, tokenFile: tmp.path + "/agent-token", kmsg: true))
        let checks = Checks()
        let victims = Shared([Int32]())
        let agentRef = Shared<Child?>(nil)
        @Sendable func startAgent() {
            do {
                let a = try Child(
                    bins.agent, ["run", "--config", tmp.path + "/agent.yaml"], log: tmp.path + "/agent.log")
                agentRef.with { $0 = a }
                usleep(700_000)
                checks.expect(a.isRunning, "agent did not stay up after a restart:\n\(a.logTail())")
            } catch {
                checks.expect(false, "agent did not start: \(error)")
            }
        }
        @Sendable func killAgent() { agentRef.get?.kill9() }
        @Sendable func kill() {
            if let pid = cage.oomKill() {
                victims.with { $0.append(pid) }
            } else {
                checks.expect(false, "dd was not OOM-killed")
            }
        }
        let db = collector.dbPath
        try await offload {
            startAgent()
            // Kills with the agent SIGKILLed right after, at varying moments.
            for round in 0..<4 {
                kill()
                usleep(useconds_t(Int.random(in: 0..<400_000)))
                killAgent()
                startAgent()
            }
            // Outage: collector gone while kills happen and the agent is killed once more.
            collector.kill9()
            kill()
            usleep(300_000)
            killAgent()
            // A torn tail, as a crash mid-append leaves it: a record header promising 100
            // bytes, then 10 of them, at the end of the newest segment.
            let segs = ((try? FileManager.default.contentsOfDirectory(atPath: state + "/spool")) ?? [])
                .filter { $0.hasSuffix(".seg") }.sorted()
            checks.expect(!segs.isEmpty, "nothing spooled during the outage")
            if let last = segs.last, let h = FileHandle(forWritingAtPath: state + "/spool/" + last) {
                h.seekToEndOfFile()
                h.write(Data([0xA5, 0x5A, 0x01, 0x00, 100, 0, 0, 0, 1, 2, 3, 4]) + Data(repeating: 0x7B, count: 10))
                h.closeFile()
            }
            startAgent()
            kill()
            usleep(useconds_t(outage * 1_000_000))
            kill()
            try collector.startBlocking()
            let mine = victims.get
            let list = mine.map(String.init).joined(separator: ",")
            let delivered = eventually(40) {
                count(db, "SELECT count(DISTINCT pid) FROM events WHERE comm = 'dd' AND pid IN (\(list));")
                    == mine.count
            }
            usleep(1_500_000)  // let any duplicate arrive too
            checks.expect(delivered, "not every kill was delivered:\n\(agentRef.get?.logTail() ?? "")")
            let perPid =
                (try? sqlite(
                    db, "SELECT pid || ' ' || count(*) FROM events WHERE comm = 'dd' AND pid IN (\(list)) GROUP BY pid;"
                )) ?? []
            for row in perPid {
                checks.expect(row.hasSuffix(" 1"), "a kill was stored more than once: \(row)")
            }
            let corrupt = (try? sqlite(db, "SELECT max(corrupt_records) FROM agent_counters;"))?.first ?? ""
            checks.expect((Int(corrupt) ?? 0) >= 1, "the torn tail was not counted (corrupt_records \(corrupt))")
            checks.expect(agentRef.get?.isRunning == true, "agent not running at the end")
            print("agentKillsAndOutage: \(mine.count) kills, outage \(outage)s, corrupt_records \(corrupt)")
        }
        agentRef.get?.stop()
        checks.report()
        #expect(victims.get.count >= 7)
    }
}
