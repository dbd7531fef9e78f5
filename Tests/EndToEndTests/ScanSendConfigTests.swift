import Foundation
import OOMKit
import Testing

/// `scan --send` with the agent's settings from its config file alone (`--config` naming
/// the collector URL, the token file, the host name and the state directory), as a fleet
/// runs it on a host where the agent is already configured.
@Suite(.serialized)
struct ScanSendConfigTests {
    @Test(.timeLimit(.minutes(2)))
    func backfillTakesTheCollectorTokenAndHostFromTheConfigFile() async throws {
        try await E2EWorld(binaries: Binaries.required()).within(Self.fromConfig)
    }

    static func fromConfig(_ world: E2EWorld) async throws {
        let binaries = world.binaries
        try await world.startCollector()
        let fixtures = ScanSendTests.fixtures
        let config = world.directory + "/agent.yaml"
        try """
        # oomwatch-agent settings, as /etc/oomwatch/agent.yaml holds them
        collector: \(world.serverURL)
        token_file: \(world.agentTokenPath)
        hostname: \(world.host)
        state_dir: \(world.directory + "/scan-state")

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let arguments = ["scan", "--send", "--config", config, fixtures + "/rhel7-uid-syslog.log"]
        let first = try await Command.run(binaries.agent, arguments, in: world.directory, timeout: .seconds(60))
        #expect(first.status == 0, "\(first.stderr)")
        let s1 = try #require(CrossContainerIDTests.Summary(first.stderr), "\(first.stderr)")
        #expect((s1.found, s1.sent, s1.alreadyKnown) == (1, 1, 0), "\(s1)")
        // The spool lives in the configured state directory.
        #expect(FileManager.default.fileExists(atPath: world.directory + "/scan-state"))
        let again = try await Command.run(binaries.agent, arguments, in: world.directory, timeout: .seconds(60))
        let s2 = try #require(CrossContainerIDTests.Summary(again.stderr), "\(again.stderr)")
        #expect((s2.found, s2.sent, s2.alreadyKnown) == (1, 0, 1), "\(s2)")
        // Stored under the configured host name (not the kernel's nor the log's).
        let stored = try await ScanSendTests.storedEvents(world)
        #expect(stored.map(\.victim.pid) == [2301])
        #expect(stored.allSatisfy { $0.host == world.host })

        // A systemd-oomd kill names no pid: `oomwatch events --format json` shows none.
        let oomd = world.directory + "/oomd.log"
        try """
        Aug 12 05:00:00 ws-7 systemd-oomd[700]: Killed /system.slice/batch.service due to memory used (15.1G) / total (15.5G) and swap used (3.9G) / total (4.0G) being more than 90.00%

        """.write(toFile: oomd, atomically: true, encoding: .utf8)
        let third = try await Command.run(
            binaries.agent, ["scan", "--send", "--config", config, oomd], in: world.directory, timeout: .seconds(60))
        #expect(third.status == 0, "\(third.stderr)")
        let withOomd = try await ScanSendTests.storedEvents(world)
        let oomdKill = try #require(withOomd.first { $0.source == .systemdOomd }, "\(withOomd)")
        #expect(oomdKill.victim.pid == nil)
        #expect(oomdKill.victim.cgroup == "/system.slice/batch.service")

        // A config file that names no collector: a clear error before anything is read.
        let bare = world.directory + "/bare.yaml"
        try "hostname: \(world.host)\n".write(toFile: bare, atomically: true, encoding: .utf8)
        let missing = try await Command.run(
            binaries.agent, ["scan", "--send", "--config", bare, fixtures + "/rhel7-uid-syslog.log"],
            in: world.directory, timeout: .seconds(30))
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("--send needs the collector"), "\(missing.stderr)")
    }
}
