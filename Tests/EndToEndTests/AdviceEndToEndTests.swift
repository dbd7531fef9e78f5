import Foundation
import OOMKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Advice on real kills: a process that leaks steadily until its memory cgroup kills it,
/// restarted three times like a service with `Restart=always`, sampled by a running agent
/// and stored by a running collector, comes out of `oomwatch advise` as `leak-suspect`
/// with a slope near its real growth, and `memcg-limit-tight` does not call a larger
/// limit the cure.
@Suite(.serialized)
struct AdviceEndToEndTests {
    /// The leak: 2 MiB written every 125 ms (16 MiB/s, 57,600 MB/h) under a 64 MiB limit:
    /// about 4 s a lifetime, sampled every 0.5 s.
    static let chunkMiB = 2
    static let intervalSeconds = 0.125
    static let limitBytes = 64 << 20
    static var slopeMBh: Double { Double(chunkMiB) / intervalSeconds * 3600 }

    @Test(.timeLimit(.minutes(3)))
    func leakingServiceIsALeakSuspectNotATightLimit() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            try Test.cancel("python3 runs the leaking process")
        }
        try await E2EWorld.forRealKills(probe: "advice").within(run)
    }

    func run(_ world: E2EWorld) async throws {
        try await world.startCollector()
        // Every process in each snapshot, so the leak is sampled however busy the host is.
        try await world.startAgent(extraArguments: ["--top-processes", "10000", "--interval", "0.5"])
        try await world.waitForHostRegistered()

        let comm = "oomwleak-\(world.runID)"
        let cgroup = try MemoryCgroup.create(name: "oomwatch-advice-\(world.runID)", limitBytes: Self.limitBytes)
        world.cgroups.append(cgroup)
        // The service and its three restarts: four lifetimes, four kills at the limit.
        for run in 0..<4 {
            let process = try ChildProcess(
                name: "leak", executable: "/bin/sh",
                arguments: [
                    "-c", "echo $$ > '\(cgroup.directory)/cgroup.procs' && exec python3 -c '\(Self.leak(comm))'",
                ],
                logPath: world.directory + "/leak.log")
            world.hogs.append(process)
            guard await process.waitForExit(timeout: .seconds(40)) else {
                throw E2EError("run \(run) of the leak was not OOM-killed within 40 s")
            }
            guard process.terminatingSignal == SIGKILL else {
                throw E2EError("the leak ended without SIGKILL: \(process.logTail())")
            }
        }

        // All four kills stored (other kills on the machine are not ours: match our name).
        let deadline = ContinuousClock.now + .seconds(20)
        while try await world.queryEvents().filter({ $0.victim.comm == comm }).count < 4 {
            guard ContinuousClock.now < deadline else {
                throw E2EError("four kills of \(comm) not stored within 20 s\n\(world.agentLog())")
            }
            try await Task.sleep(for: .milliseconds(500))
        }

        let result = try await Command.run(
            world.binaries.cli,
            [
                "advise", "--format", "json", "--server", world.serverURL, "--token", world.readToken, "--host",
                world.host, "--since", "1h",
            ],
            in: world.directory)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONDecoder().decode(AdviceReport.self, from: Data(result.stdout.utf8))
        let debug = try await debugRuns(world)
        let leak = try #require(
            report.findings.first { $0.kind == .leakSuspect && $0.subject == comm },
            "no leak-suspect for \(comm): \(result.stdout)\n\(debug)")
        let slope = try #require(leak.evidence.values["slope_mb_per_hour"])
        print("e2e advice: \(comm) slope \(slope) MB/h (written at \(Self.slopeMBh) MB/h): \(leak.evidence.text)")
        // A loaded machine slows the writer (never speeds it): a sensible slope is near the
        // rate the process writes, not above it.
        #expect(slope > Self.slopeMBh * 0.3 && slope < Self.slopeMBh * 1.3, "\(leak.evidence.text)")
        #expect((leak.evidence.values["kills"] ?? 0) >= 4)
        #expect(leak.evidence.eventIDs.count >= 4)

        let tight = try #require(
            report.findings.first { $0.kind == .memcgLimitTight && $0.subject == cgroup.kernelPath },
            "no memcg-limit-tight for \(cgroup.kernelPath): \(report.findings.map { "\($0.kind.rawValue) \($0.subject)" })"
        )
        #expect(tight.action.contains("Do not raise the limit"), "\(tight.action)")
        #expect(!tight.action.contains("MemoryMax"), "\(tight.action)")
        #expect(tight.evidence.values["suggested_limit_kb"] == nil)
    }

    func debugRuns(_ world: E2EWorld) async throws -> String {
        let r = try await Command.run(
            "/usr/bin/python3",
            [
                "-c",
                "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); print(db.execute('select comm,pid,samples,first_rss,last_rss,(last_time-first_time)/1e6 from process_runs where comm like \\'oomw%\\'').fetchall()); print(db.execute('select comm, rss_kb from events').fetchall())",
                world.databasePath,
            ],
            in: world.directory)
        return r.stdout + r.stderr
    }

    /// A Python process named `comm` that writes `chunkMiB` MiB every `intervalSeconds`
    /// and keeps it (written bytes, so resident), until the cgroup's limit kills it.
    static func leak(_ comm: String) -> String {
        """
        import ctypes, time
        ctypes.CDLL(None).prctl(15, b"\(comm)", 0, 0, 0)
        kept = []
        while True:
            kept.append(b"x" * (\(chunkMiB) << 20))
            time.sleep(\(intervalSeconds))
        """
    }
}
