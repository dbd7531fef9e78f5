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

/// The journal follower against a stand-in `journalctl` (a shell script printing
/// `-o json` lines, with journald's trusted fields, and recording its arguments), so the
/// restart logic runs anywhere.
@Suite struct JournalTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static let script = """
        #!/bin/sh
        echo "$@" >> "$(dirname "$0")/args"
        case "$*" in
          *--after-cursor=c2*)
            printf '%s\\n' '{"__CURSOR":"c3","SYSLOG_IDENTIFIER":"systemd-oomd","_UID":"990","_SYSTEMD_UNIT":"systemd-oomd.service","MESSAGE":"Killed /user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope due to memory pressure for /user.slice/user-1000.slice/user@1000.service being 82.34% > 50.00% for > 20s with reclaim activity","__REALTIME_TIMESTAMP":"1764300000000000"}' ;;
          *)
            printf '%s\\n' '{"__CURSOR":"c1","SYSLOG_IDENTIFIER":"earlyoom","_UID":"0","_COMM":"earlyoom","MESSAGE":"low memory! at or below SIGTERM limits: mem 10.00%, swap 10.00%","__REALTIME_TIMESTAMP":"1764299990000000"}'
            printf '%s\\n' '{"__CURSOR":"c2","SYSLOG_IDENTIFIER":"earlyoom","_UID":"0","_COMM":"earlyoom","MESSAGE":"sending SIGTERM to process 4242 uid 1000 \\"firefox\\": badness 900, VmRSS 2000 MiB","__REALTIME_TIMESTAMP":"1764299991000000"}' ;;
        esac
        exec sleep 30
        """

    /// The agent's context over a state directory in `dir`, with `journalctl` (a script's
    /// text) as its journalctl and a journal directory that exists.
    static func context(in dir: String, journalctl: String, hostname: String? = nil) throws -> AgentContext {
        TestSupport.write(dir + "/journalctl", journalctl)
        chmod(dir + "/journalctl", 0o755)
        _ = mkdir(dir + "/journal", 0o755)
        TestSupport.write(dir + "/journal/system.journal", "x")
        var config = AgentConfig()
        config.stateDir = dir + "/state"
        config.journalctlPath = dir + "/journalctl"
        config.hostname = hostname
        return try AgentContext(
            config: config, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// The events of the spool's next batch.
    static func spooledEvents(_ context: AgentContext) throws -> [OOMEvent] {
        let batch = try #require(context.spool.nextBatch(), "nothing was spooled")
        return try batch.records.filter { $0.kind == .event }.map {
            try JSONDecoder().decode(OOMEvent.self, from: Data($0.payload))
        }
    }

    /// Runs the follower until an event is spooled (or `seconds` pass), then stops it.
    func runOnce(_ context: AgentContext, journalDir: String, seconds: UInt64 = 5) async throws {
        let service = JournalService(context: context, journalDirectories: [journalDir])
        let group = ServiceGroup(services: [service], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let deadline = HostClock.monotonicNanos() + seconds * 1_000_000_000
            let before = context.spool.pending.events
            while HostClock.monotonicNanos() < deadline, context.spool.pending.events == before {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(200))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func followsAndResumesAfterCursor() async throws {
        let dir = TestSupport.tempDir("journal")
        defer { TestSupport.removeTree(dir) }
        let context = try Self.context(in: dir, journalctl: Self.script)

        try await runOnce(context, journalDir: dir + "/journal")
        #expect(TestSupport.read(dir + "/state/journal.cursor") == "c2")
        // Restart: journalctl is asked to continue after the cursor.
        try await runOnce(context, journalDir: dir + "/journal")
        let args = TestSupport.read(dir + "/args").split(separator: "\n")
        #expect(args.count == 2)
        #expect(args.first?.contains("-b -n all") == true)
        #expect(args.last?.contains("--after-cursor=c2") == true)
        #expect(TestSupport.read(dir + "/state/journal.cursor") == "c3")

        let events = try Self.spooledEvents(context)
        #expect(events.map(\.source) == [.earlyoom, .systemdOomd])
        #expect(events.first?.victim.pid == 4242)
        #expect(events.first?.victim.comm == "firefox")
        #expect(events.last?.victim.cgroup?.hasSuffix("app-firefox.scope") == true)
        #expect(events.last?.victim.unit == "app-firefox.scope")
        #expect(Set(events.map(\.id)).count == 2)
    }

    /// Issue 19.4, without root: an agent run with `--hostname` reads entries whose
    /// `_HOSTNAME` is the machine's own name; every event it spools carries the agent's
    /// name (the collector refuses a batch whose events name another host), and the
    /// journal's stays in `raw`.
    @Test func eventsCarryTheAgentsHostNameNotTheJournals() async throws {
        let dir = TestSupport.tempDir("journal-host")
        defer { TestSupport.removeTree(dir) }
        let script = Self.script.replacingOccurrences(
            of: #""_UID":"0""#, with: #""_HOSTNAME":"journal-name","_UID":"0""#)
        #expect(script != Self.script)
        let context = try Self.context(in: dir, journalctl: script, hostname: "agent-name")

        try await runOnce(context, journalDir: dir + "/journal")
        let events = try Self.spooledEvents(context)
        #expect(events.map(\.source) == [.earlyoom])
        #expect(events.map(\.host) == ["agent-name"])
        #expect(events.first?.raw?.contains("journal-name") == true, "\(events.first?.raw ?? "-")")
    }

    @Test func noJournalIdlesQuietly() async throws {
        let dir = TestSupport.tempDir("nojournal")
        defer { TestSupport.removeTree(dir) }
        var config = AgentConfig()
        config.stateDir = dir + "/state"
        config.journalctlPath = "/nonexistent/journalctl"
        let context = try AgentContext(config: config, logger: logger)
        let service = JournalService(context: context, journalDirectories: [dir + "/none"])
        let group = ServiceGroup(services: [service], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(200))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(context.spool.pending.events == 0)
    }
}
