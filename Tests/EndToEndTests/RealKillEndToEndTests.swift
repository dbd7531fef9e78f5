import Foundation
import OOMKit
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The product's promise, on real kernel OOM kills: a kill shows up centrally within
/// seconds, attributed right, once, even when the collector was down, and an agent
/// restart re-sends nothing.
///
/// Drives the three release binaries as an operator would: a collector on a loopback
/// port with a fresh SQLite file, an agent reading the real /dev/kmsg and /proc, and the
/// CLI for every check.
@Suite(.serialized)
struct RealKillEndToEndTests {
    @Test(.timeLimit(.minutes(3)))
    func killsArriveOnceThroughCollectorAndAgentRestarts() async throws {
        try await E2EWorld.forRealKills(probe: "e2e").within { try await $0.run() }
    }
}

/// Everything one run owns: temp files, processes, cgroups. `cleanup()` undoes all of it.
final class E2EWorld: @unchecked Sendable {
    let binaries: Binaries
    let directory: String
    let port: Int
    let host: String
    let runID: String
    let agentToken: String
    let readToken: String
    let adminToken: String
    var collector: ChildProcess?
    var agent: ChildProcess?
    var hogs: [ChildProcess] = []
    var cgroups: [MemoryCgroup] = []
    /// More collector arguments (the alerts tests add `--config`).
    var collectorArguments: [String] = []

    var serverURL: String { "http://127.0.0.1:\(port)" }
    var databasePath: String { directory + "/collector.sqlite" }
    var tokensPath: String { directory + "/tokens" }
    var agentTokenPath: String { directory + "/agent.token" }
    var stateDirectory: String { directory + "/agent-state" }

    init(binaries: Binaries) throws {
        self.binaries = binaries
        let hex = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        runID = String(hex.prefix(6))
        host = "e2e-" + String(hex.prefix(12))
        agentToken = "agent-" + String(hex.suffix(20))
        readToken = "read-" + UUID().uuidString
        adminToken = "admin-" + UUID().uuidString
        directory = NSTemporaryDirectory() + "oomwatch-e2e-" + runID
        port = try Loopback.freePort()
        try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let tokens = """
            # ROLE SECRET NAME, as operators write it
            agent \(agentToken) e2e-agent
            read \(readToken) e2e-read
            admin sha256:\(SHA256.hex(of: Array(adminToken.utf8))) e2e-admin

            """
        try tokens.write(toFile: tokensPath, atomically: true, encoding: .utf8)
        try (agentToken + "\n").write(toFile: agentTokenPath, atomically: true, encoding: .utf8)
        chmod(agentTokenPath, 0o600)
        chmod(tokensPath, 0o600)
    }

    // MARK: The scenario

    func run() async throws {
        try await startCollector()
        try await startAgent()
        try await waitForHostRegistered()

        // 1. A kill while everything runs arrives within 10 s, attributed right.
        let first = try await makeOOMKill(number: 1)
        let event1 = try await waitForEvent(comm: first.comm, pid: first.pid, within: .seconds(10))
        let latency1 = ContinuousClock.now - first.hogStarted
        print("e2e: kill 1 (pid \(first.pid)) visible through the CLI \(latency1) after the hog started")
        check(event1, against: first)

        // 2. A kill while the collector is down arrives after it comes back, and the
        //    restart stores neither kill twice.
        await collector?.stop(signal: SIGKILL, timeout: .seconds(5))
        let second = try await makeOOMKill(number: 2)
        // Long enough for the agent to try, fail and spool at least once.
        try await Task.sleep(for: .seconds(3))
        try await startCollector()
        let started2 = ContinuousClock.now
        let event2 = try await waitForEvent(comm: second.comm, pid: second.pid, within: .seconds(30))
        print("e2e: kill 2 (pid \(second.pid)) visible \(ContinuousClock.now - started2) after the collector restart")
        check(event2, against: second)
        var events = try await queryEvents()
        #expect(events.filter { $0.victim.comm == first.comm }.count == 1, "kill 1 stored more than once")
        #expect(events.filter { $0.victim.comm == second.comm }.count == 1, "kill 2 stored more than once")
        #expect(event1.id != event2.id)

        // 3. An agent restart re-reads /dev/kmsg from the start but re-sends nothing:
        //    its state directory says what the collector already has. Other kills on
        //    this machine may arrive meanwhile, so the proof is the collector's count of
        //    re-sent events, not the number of events.
        let duplicatesBefore = try metrics()[Self.duplicateCounter]
        #expect(duplicatesBefore != nil, "collector /metrics has no \(Self.duplicateCounter)\n\(collectorLog())")
        let idsBefore = Set(events.map(\.id))
        let stoppedCleanly = await agent?.stop(signal: SIGTERM, timeout: .seconds(10)) ?? false
        #expect(stoppedCleanly, "agent did not exit within 10 s of SIGTERM\n\(agentLog())")
        let restartedAt = Date()
        try await startAgent()
        try await waitForAgentUploads(count: 3, within: .seconds(15))
        events = try await queryEvents()
        let duplicatesAfter = try metrics()[Self.duplicateCounter]
        #expect(
            duplicatesAfter == duplicatesBefore,
            """
            \(Self.duplicateCounter) went from \(duplicatesBefore ?? -1) to \(duplicatesAfter ?? -1): \
            the restarted agent re-sent events
            \(agentLog())
            """
        )
        print(
            "e2e: after the agent restart \(Self.duplicateCounter) \(duplicatesBefore ?? -1) -> "
                + "\(duplicatesAfter ?? -1), \(events.count) events for \(host) (\(idsBefore.count) before)")
        #expect(Set(events.map(\.id)).count == events.count, "an event id is listed twice")
        #expect(idsBefore.isSubset(of: Set(events.map(\.id))), "events disappeared across an agent restart")
        for event in events where !idsBefore.contains(event.id) {
            // Only a kill that happened after the restart may be new.
            let time = event.time.flatMap { RFC3339.parse($0) }.map { Double($0) / 1e6 } ?? 0
            #expect(
                time >= restartedAt.timeIntervalSince1970 - 2,
                """
                event \(event.id) (\(event.victim.comm), \(event.time ?? "no time")) is new after the \
                agent restart but older than it
                """
            )
        }
        #expect(events.filter { $0.victim.comm == first.comm }.count == 1)
        #expect(events.filter { $0.victim.comm == second.comm }.count == 1)
    }

    /// The collector's count of events it received again and ignored (OOMServer/Metrics).
    static let duplicateCounter = "oomwatch_ingest_duplicate_events_total"

    // MARK: Daemons

    func startCollector() async throws {
        let process = try ChildProcess(
            name: "collector", executable: binaries.collector,
            arguments: [
                "serve", "--listen", "127.0.0.1:\(port)", "--db", databasePath, "--tokens-file", tokensPath,
            ] + collectorArguments,
            logPath: directory + "/collector.log")
        collector = process
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                _ = await process.waitForExit(timeout: .seconds(1))
                throw E2EError(
                    "collector exited (status \(process.exitStatus)) before /healthz answered\n\(collectorLog())")
            }
            if LoopbackHTTP.get(port: port, path: "/healthz")?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw E2EError("collector did not answer /healthz on \(serverURL) within 20 s\n\(collectorLog())")
    }

    func startAgent(extraArguments: [String] = []) async throws {
        let process = try ChildProcess(
            name: "agent", executable: binaries.agent,
            arguments: [
                "run", "--collector", serverURL, "--token-file", agentTokenPath, "--state-dir", stateDirectory,
                "--interval", "1", "--hostname", host,
            ] + extraArguments,
            logPath: directory + "/agent.log")
        agent = process
        try await Task.sleep(for: .milliseconds(300))
        if !process.isRunning {
            _ = await process.waitForExit(timeout: .seconds(1))
            throw E2EError("agent exited (status \(process.exitStatus)) right after start\n\(agentLog())")
        }
    }

    /// The kill must happen while the agent is known to be connected, so its arrival time
    /// measures the pipeline, not the agent's start-up.
    func waitForHostRegistered() async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let response = LoopbackHTTP.get(port: port, path: "/api/v1/hosts", token: readToken),
                response.status == 200, response.body.contains("\"\(host)\"")
            {
                return
            }
            if agent?.isRunning == false { throw E2EError("agent exited\n\(agentLog())") }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw E2EError("host \(host) did not appear in /api/v1/hosts within 20 s\n\(agentLog())\n\(collectorLog())")
    }

    /// Waits until the collector has received `count` more snapshots from this host:
    /// proof the restarted agent is past its start-up and has had every chance to re-send.
    func waitForAgentUploads(count: Int, within timeout: Duration) async throws {
        func snapshotsSeen() -> Int {
            // Points are time buckets; their `samples` add up to the snapshots stored.
            let path = "/api/v1/hosts/\(host)/snapshots?since=1h"
            guard let response = LoopbackHTTP.get(port: port, path: path, token: readToken),
                response.status == 200,
                let object = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
                let points = object["points"] as? [[String: Any]]
            else { return -1 }
            return points.reduce(0) { $0 + ((($1["samples"] as? NSNumber)?.intValue) ?? 0) }
        }
        let start = snapshotsSeen()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if agent?.isRunning == false { throw E2EError("restarted agent exited\n\(agentLog())") }
            if start >= 0, snapshotsSeen() >= start + count { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        // Without a snapshot count, fall back to having waited the whole bound.
        if start < 0 { return }
        throw E2EError("restarted agent uploaded fewer than \(count) snapshots in \(timeout)\n\(agentLog())")
    }

    // MARK: Kills

    struct Kill {
        var pid: Int
        var comm: String
        var cgroupPath: String
        /// When the hog was started; the kernel kills it within milliseconds.
        var hogStarted: ContinuousClock.Instant
    }

    /// Makes the kernel OOM-kill a process named `oomw-<run>-<n>` (unique per run, within
    /// the 15 characters of a comm) in a fresh 64 MiB memory cgroup.
    func makeOOMKill(number: Int) async throws -> Kill {
        let comm = "oomw-\(runID)-\(number)"
        let hog = directory + "/bin/" + comm
        if !FileManager.default.fileExists(atPath: hog) {
            try FileManager.default.copyItem(atPath: "/usr/bin/tail", toPath: hog)
        }
        let cgroup = try MemoryCgroup.create(name: "oomwatch-e2e-\(runID)-\(number)", limitBytes: 64 << 20)
        cgroups.append(cgroup)
        let hogStarted = ContinuousClock.now
        let process = try cgroup.startHog(hog: hog, logPath: directory + "/hog.log")
        hogs.append(process)
        guard await process.waitForExit(timeout: .seconds(10)) else {
            throw E2EError("the hog in \(cgroup.directory) was not OOM-killed within 10 s")
        }
        guard process.terminatingSignal == SIGKILL else {
            throw E2EError(
                "the hog ended without SIGKILL (signal \(process.terminatingSignal.map(String.init) ?? "none"), "
                    + "status \(process.exitStatus)): \(process.logTail())")
        }
        cgroup.remove()
        return Kill(pid: Int(process.pid), comm: comm, cgroupPath: cgroup.kernelPath, hogStarted: hogStarted)
    }

    func check(_ event: OOMEvent, against kill: Kill) {
        #expect(event.victim.pid == kill.pid)
        #expect(event.victim.comm == kill.comm)
        #expect(event.scope == .memcg)
        #expect(event.source == .kernel)
        #expect(event.host == host)
        // The kernel's report as the agent kept it: what to read when a field is missing.
        let report = "partial: \(event.partial ?? false)\n\(event.raw ?? "(no raw report)")"
        #expect(event.memcg?.oom == kill.cgroupPath, "oom_memcg\n\(report)")
        #expect(event.memcg?.task == kill.cgroupPath, "task_memcg\n\(report)")
        #expect(event.victim.anonRssKB.map { $0 > 32 * 1024 } ?? false, "victim anon RSS near the 64 MiB limit")
        if let time = event.time, let micros = RFC3339.parse(time) {
            let skew = abs(Double(micros) / 1e6 - Date().timeIntervalSince1970)
            #expect(skew < 120, "event time \(time) is \(skew) s off")
        } else {
            Issue.record("event has no parseable time: \(event.time ?? "nil")")
        }
    }

    // MARK: Queries, through the CLI as a user would

    func queryEvents() async throws -> [OOMEvent] {
        let result = try await Command.run(
            binaries.cli,
            [
                "events", "--format", "json", "--server", serverURL, "--token", readToken, "--host", host,
                "--since", "7d", "--limit", "1000",
            ],
            in: directory)
        guard result.status == 0 else {
            throw E2EError("oomwatch events exited \(result.status): \(result.stderr)\(result.stdout)")
        }
        do {
            return try JSONDecoder().decode([OOMEvent].self, from: Data(result.stdout.utf8))
        } catch {
            throw E2EError("oomwatch events --format json printed no event array (\(error)):\n\(result.stdout)")
        }
    }

    func waitForEvent(comm: String, pid: Int, within timeout: Duration) async throws -> OOMEvent {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let event = try await queryEvents().first(where: { $0.victim.comm == comm }) {
                return event
            }
            if ContinuousClock.now >= deadline {
                throw E2EError(
                    "kill of pid \(pid) (\(comm)) not visible through `oomwatch events` within \(timeout)\n"
                        + "\(agentLog())\n\(collectorLog())")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    func metrics() throws -> [String: Double] {
        guard let response = LoopbackHTTP.get(port: port, path: "/metrics", token: adminToken),
            response.status == 200
        else { throw E2EError("GET /metrics failed\n\(collectorLog())") }
        return PrometheusText.sums(response.body)
    }

    func agentLog() -> String { "--- agent log:\n" + (agent?.logTail() ?? "(not started)") }
    func collectorLog() -> String { "--- collector log:\n" + (collector?.logTail() ?? "(not started)") }

    // MARK: Cleanup

    /// Stops every process and removes every cgroup and file, whatever state the run is in.
    func cleanup() async {
        for hog in hogs { await hog.stop(signal: SIGKILL, timeout: .seconds(2)) }
        await agent?.stop(signal: SIGTERM, timeout: .seconds(5))
        await collector?.stop(signal: SIGTERM, timeout: .seconds(5))
        for cgroup in cgroups { cgroup.remove() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
