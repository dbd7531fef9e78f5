import Foundation
import OOMKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// No false "lost data" on real kills: vmstat's `oom_kill` rises with every kill below,
/// the kernel log holds every report, so the agent must count no unattributed kill:
/// with a kill while it runs, one while it is stopped (read from its backlog after the
/// restart), and a memcg storm (several processes killed in one memory cgroup, back to
/// back, their reports rate-limited by the kernel). Other kills on the host are read
/// too, so they need no special care.
@Suite(.serialized)
struct KillLedgerEndToEndTests {
    @Test(.timeLimit(.minutes(3)))
    func realKillsRestartAndStormCountNoUnattributedKill() async throws {
        try await E2EWorld.forRealKills(probe: "ledger").within(run)
    }

    func run(_ world: E2EWorld) async throws {
        let vmstatBefore = try Self.oomKillCounter()
        try await world.startCollector()
        try await world.startAgent()
        try await world.waitForHostRegistered()

        // 1. A kill while the agent runs.
        let first = try await world.makeOOMKill(number: 1)
        _ = try await world.waitForEvent(comm: first.comm, pid: first.pid, within: .seconds(10))

        // 2. A kill while the agent is stopped: read from the backlog after the restart.
        #expect(await world.agent?.stop(signal: SIGTERM, timeout: .seconds(10)) ?? false)
        let second = try await world.makeOOMKill(number: 2)
        try await world.startAgent()
        _ = try await world.waitForEvent(comm: second.comm, pid: second.pid, within: .seconds(20))

        // 3. A memcg storm: four hogs in one cgroup, killed one after another.
        let storm = try await makeStorm(world, hogs: 4)
        for victim in storm {
            _ = try await world.waitForEvent(comm: victim.comm, pid: victim.pid, within: .seconds(20))
        }
        let vmstatAfter = try Self.oomKillCounter()
        #expect(vmstatAfter - vmstatBefore >= 2 + Int64(storm.count), "vmstat oom_kill did not count the kills")

        // The ledger judges a sample once the follower caught up 2 s after it; give it
        // several samples past the last kill, then stop the agent so it saves its counters.
        try await Task.sleep(for: .seconds(5))
        #expect(await world.agent?.stop(signal: SIGTERM, timeout: .seconds(10)) ?? false)
        let countersPath = world.stateDirectory + "/counters.json"
        let counters = try JSONDecoder().decode(
            AgentInfo.self, from: Data(contentsOf: URL(fileURLWithPath: countersPath)))
        let log = world.agentLog()
        #expect(
            (counters.unattributedKills ?? 0) == 0,
            "false unattributed kills: \(counters.unattributedKills ?? -1) (vmstat rose \(vmstatAfter - vmstatBefore))\n\(log)"
        )
        #expect(!log.contains("oom kills the kernel log did not explain"), "\(log)")
        print(
            "e2e ledger: \(vmstatAfter - vmstatBefore) kills counted by vmstat "
                + "(\(2 + storm.count) ours), unattributed \(counters.unattributedKills ?? 0)")
    }

    struct Victim {
        var pid: Int
        var comm: String
    }

    /// Several hogs in one 64 MiB memory cgroup: the kernel kills the largest, the rest
    /// keep growing and are killed in turn, within a second or two.
    func makeStorm(_ world: E2EWorld, hogs: Int) async throws -> [Victim] {
        let cgroup = try MemoryCgroup.create(name: "oomwatch-ledger-\(world.runID)-storm", limitBytes: 64 << 20)
        world.cgroups.append(cgroup)
        var processes: [(ChildProcess, String)] = []
        for i in 1...hogs {
            let comm = "oomw-\(world.runID)-s\(i)"
            let hog = world.directory + "/bin/" + comm
            try FileManager.default.copyItem(atPath: "/usr/bin/tail", toPath: hog)
            let process = try cgroup.startHog(hog: hog, logPath: world.directory + "/storm-\(i).log")
            world.hogs.append(process)
            processes.append((process, comm))
        }
        var victims: [Victim] = []
        for (process, comm) in processes {
            guard await process.waitForExit(timeout: .seconds(20)) else {
                throw E2EError("storm hog \(comm) was not OOM-killed within 20 s")
            }
            // A hog whose allocation was refused ("memory exhausted") ends by itself: no
            // kill, so nothing for the ledger to explain, and no victim to wait for.
            guard process.terminatingSignal == SIGKILL else {
                print("e2e ledger: storm hog \(comm) ended without SIGKILL: \(process.logTail())")
                continue
            }
            victims.append(Victim(pid: Int(process.pid), comm: comm))
        }
        cgroup.remove()
        guard victims.count >= 2 else {
            throw E2EError("the storm killed \(victims.count) of \(hogs) hogs: no storm to count")
        }
        return victims
    }

    /// /proc/vmstat's `oom_kill`: every kernel OOM kill on the host since boot.
    static func oomKillCounter() throws -> Int64 {
        let text = try String(contentsOfFile: "/proc/vmstat", encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("oom_kill ") {
            if let n = Int64(line.dropFirst(9)) { return n }
        }
        throw E2EError("/proc/vmstat has no oom_kill counter")
    }
}
