import HostSupport
import Logging
import OOMKit
import ServiceLifecycle
import Testing

@testable import OOMAgent

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

@Suite struct SamplerTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A kill spooled by a follower is enriched from the sampler's process table and
    /// triggers an extra snapshot at once, long before the next interval.
    @Test func killTriggersSnapshotAndIsEnriched() async throws {
        let dir = TestSupport.tempDir("sampler")
        defer { TestSupport.removeTree(dir) }
        var config = AgentConfig()
        config.stateDir = dir + "/state"
        config.intervalSeconds = 60
        config.roots = FileRoots(
            proc: TestSupport.fixtures + "/proc", cgroup: TestSupport.fixtures + "/cgroup-v1", kmsg: "/nonexistent")
        let context = try AgentContext(config: config, logger: logger)
        let group = ServiceGroup(services: [SamplerService(context: context)], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            func waitFor(snapshots n: Int) async throws -> Bool {
                // Generous: under a loaded test run (2 cores, every suite at once) the pool is busy;
                // still far below the 60 s interval the extra snapshot must beat.
                let deadline = HostClock.monotonicNanos() + 40_000_000_000
                while HostClock.monotonicNanos() < deadline {
                    if context.spool.pending.snapshots >= n { return true }
                    try await Task.sleep(for: .milliseconds(20))
                }
                return false
            }
            #expect(try await waitFor(snapshots: 1))
            var event = OOMEvent(source: .kernel, victim: .init(pid: 1234, comm: "java"))
            event.uptimeS = 12345
            event.assignStableID()
            context.spoolEvent(event)
            #expect(try await waitFor(snapshots: 2), "a kill must trigger a snapshot now, not in 60 s")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let batch = try #require(context.spool.nextBatch())
        let stored = try #require(batch.records.first { $0.kind == .event })
        let e = try JSONDecoder().decode(OOMEvent.self, from: Data(stored.payload))
        #expect(e.host == "fixture-host")
        #expect(e.victim.cmdline == "/usr/bin/java -Xmx1g -jar app.jar")
        #expect(e.victim.lastRssKB == 102_400)
        #expect(e.victim.containerID?.count == 64)
        #expect(e.victim.unit?.hasPrefix("docker-") == true)
    }
}
