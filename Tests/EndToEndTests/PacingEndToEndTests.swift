import Foundation
import OOMKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 15, collector CPU: the collector sets a large fleet's pace. A collector that
/// takes a quarter of a post a second asks its one agent for an upload every 4 s; the
/// real agent, sampling every 0.5 s and configured to upload as often, follows it: few
/// posts, each with several snapshots, nothing lost, and the host reported at the pace it
/// follows (so it is not stale).
@Suite(.serialized)
struct PacingEndToEndTests {
    @Test(.timeLimit(.minutes(3)))
    func theAgentFollowsTheCollectorsPace() async throws {
        let world = try E2EWorld(binaries: try Binaries.required())
        let collectorConfig = world.directory + "/collector.yaml"
        try "ingest:\n  pace_posts_per_second: 0.25\n  max_upload_interval_s: 4\n"
            .write(toFile: collectorConfig, atomically: true, encoding: .utf8)
        world.collectorArguments = ["--config", collectorConfig]
        try await world.within(run)
    }

    func run(_ world: E2EWorld) async throws {
        let agentConfig = world.directory + "/agent.yaml"
        try "upload:\n  interval: 0.5\n".write(toFile: agentConfig, atomically: true, encoding: .utf8)
        try await world.startCollector()
        try await world.startAgent(extraArguments: ["--interval", "0.5", "--config", agentConfig])
        try await world.waitForHostRegistered()
        // The first answer sets the pace; measure after it.
        try await world.waitForAgentUploads(count: 2, within: .seconds(30))
        try await Task.sleep(for: .seconds(4.5))
        let before = try world.metrics()
        try await Task.sleep(for: .seconds(10))
        let after = try world.metrics()
        func delta(_ name: String) -> Double { (after[name] ?? 0) - (before[name] ?? 0) }
        let posts = delta("oomwatch_ingest_batches_total")
        let snapshots = delta("oomwatch_ingest_snapshots_total")
        // A kill is uploaded at once, whatever the pace; the agent sees every kill on this
        // machine, and other suites kill processes in parallel: those posts are not paced.
        let kills = delta("oomwatch_ingest_events_total") + delta("oomwatch_ingest_duplicate_events_total")
        print(
            "e2e pacing: \(Int(posts)) posts (\(Int(kills)) kills) with \(Int(snapshots)) snapshots in 10 s at a 4 s pace"
        )
        // At its own 0.5 s the agent would post about 20 times; at the pace, 2 or 3.
        #expect(posts >= 1 && posts - kills <= 4, "\(world.agentLog())")
        // Nothing is dropped: the snapshots of the paused 10 s arrive batched (a 0.5 s
        // interval gives ~20; a loaded CI host samples late, never fewer than this).
        #expect(snapshots >= 8, "\(world.agentLog())")
        #expect(snapshots / max(posts - kills, 1) >= 3)
        let host = try Self.host(world)
        #expect(host.uploadIntervalS == 4, "the agent reports the pace it follows")
        #expect(!host.stale)
        let log = try String(contentsOfFile: world.directory + "/agent.log", encoding: .utf8)
        #expect(log.contains("upload interval set by the collector's pace"), "\(world.agentLog())")
        #expect((after["oomwatch_ingest_upload_interval_seconds"] ?? 0) == 4)
        #expect((after["oomwatch_ingest_active_hosts"] ?? 0) == 1)
    }

    /// This world's host as `GET /api/v1/hosts` lists it.
    static func host(_ world: E2EWorld) throws -> HostStatus {
        guard let response = LoopbackHTTP.get(port: world.port, path: "/api/v1/hosts", token: world.readToken),
            response.status == 200
        else { throw E2EError("hosts query failed\n\(world.collectorLog())") }
        let hosts = try JSONReader().decode(HostsResponse.self, from: Array(response.body.utf8)).hosts
        guard let host = hosts.first(where: { $0.host == world.host }) else {
            throw E2EError("host \(world.host) not listed\n\(world.collectorLog())")
        }
        return host
    }
}
