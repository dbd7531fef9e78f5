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

/// Issue 19, point 1: a local user cannot make the agent report a userspace kill.
@Suite struct JournalTrustTests {
    static let message = #"sending SIGTERM to process 1 uid 0 "systemd": badness 900, VmRSS 2000 MiB"#
    static let rootMessage = #"sending SIGTERM to process 4242 uid 1000 "firefox": badness 900, VmRSS 2000 MiB"#

    @Test(arguments: [
        // `logger -t earlyoom` by a user: the identifier is the only thing that matches.
        (["SYSLOG_IDENTIFIER": "earlyoom", "_UID": "1000", "_COMM": "logger", "_EXE": "/usr/bin/logger"], false),
        // A user's own copy named earlyoom: right _COMM, wrong user.
        (["SYSLOG_IDENTIFIER": "earlyoom", "_UID": "1000", "_COMM": "earlyoom", "_EXE": "/tmp/earlyoom"], false),
        // A user unit called earlyoom.service: journald puts it in _SYSTEMD_USER_UNIT.
        (
            [
                "SYSLOG_IDENTIFIER": "earlyoom", "_UID": "1000", "_SYSTEMD_UNIT": "user@1000.service",
                "_SYSTEMD_USER_UNIT": "earlyoom.service",
            ], false
        ),
        // Root's `logger -t systemd-oomd`: root, but not the killer's binary or unit.
        (["SYSLOG_IDENTIFIER": "systemd-oomd", "_UID": "0", "_COMM": "logger"], false),
        // No trusted fields at all (a line someone typed).
        (["SYSLOG_IDENTIFIER": "earlyoom"], false),
        // The real ones.
        (["SYSLOG_IDENTIFIER": "earlyoom", "_UID": "61234", "_SYSTEMD_UNIT": "earlyoom.service"], true),
        (["SYSLOG_IDENTIFIER": "earlyoom", "_UID": "0", "_COMM": "earlyoom", "_EXE": "/usr/bin/earlyoom"], true),
        (["SYSLOG_IDENTIFIER": "systemd-oomd", "_UID": "995", "_COMM": "systemd-oomd"], true),
        (["SYSLOG_IDENTIFIER": "systemd-oomd", "_UID": "0", "_SYSTEMD_UNIT": "systemd-oomd.service"], true),
    ])
    func trustedFieldsDecide(fields: [String: String], trusted: Bool) {
        let trust = JournalTrust(unitUIDs: ["systemd-oomd": ["995"]])
        #expect((trust.verdict(fields) == .trusted) == trusted)
    }

    /// Whether a private journald can be run here: root (mount namespaces, tmpfs) and the
    /// tools. Without them the test is skipped, saying why.
    static let tools: [String] = [
        "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/setpriv", "/usr/bin/logger",
        "/lib/systemd/systemd-journald", "/usr/bin/journalctl",
    ]
    static let privateJournal = getuid() == 0 && tools.allSatisfy { access($0, X_OK) == 0 }

    /// The attack for real: a private systemd-journald in a mount namespace (tmpfs over
    /// /run/systemd, /run/log, /var/log/journal), an unprivileged user (nobody) writing
    /// `logger -t earlyoom` lines, once as logger and once as a copy named earlyoom, and
    /// root's earlyoom-named binary writing a real-looking kill. The agent's follower, with
    /// journalctl entering that namespace, reports only root's kill, counts the two
    /// refusals, and names the agent's host (`--hostname`) rather than the journal's.
    @Test(
        .enabled(
            if: privateJournal,
            "needs root, unshare, nsenter, setpriv, logger and systemd-journald for a private journal"),
        .timeLimit(.minutes(1)))
    func forgedEntryRefusedRootEntryAccepted() async throws {
        let dir = TestSupport.tempDir("journal-trust")
        defer { TestSupport.removeTree(dir) }
        chmod(dir, 0o755)
        #expect(TestSupport.run(["/bin/cp", "/usr/bin/logger", dir + "/earlyoom"]) == 0)
        chmod(dir + "/earlyoom", 0o755)
        let socket = "/run/systemd/journal/dev-log"
        let nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"
        TestSupport.write(
            dir + "/ns.sh",
            """
            set -e
            mount -t tmpfs tmpfs /run/systemd
            mount -t tmpfs tmpfs /run/log
            mkdir -p /var/log/journal
            mount -t tmpfs tmpfs /var/log/journal
            /lib/systemd/systemd-journald >/dev/null 2>&1 &
            J=$!
            trap 'kill $J; exit 0' TERM
            for i in $(seq 100); do [ -S \(socket) ] && break; sleep 0.05; done
            # Each writer stays alive a moment after writing (logger reads its stdin):
            # journald reads _COMM and _EXE from /proc, and a process gone by then has none.
            { echo '\(Self.message)'; sleep 0.5; } | \(nobody) logger -u \(socket) -t earlyoom
            { echo '\(Self.message)'; sleep 0.5; } | \(nobody) \(dir)/earlyoom -u \(socket) -t earlyoom
            { echo '\(Self.rootMessage)'; sleep 0.5; } | \(dir)/earlyoom -u \(socket) -t earlyoom
            echo $$ > \(dir)/nspid
            while :; do sleep 0.2; done
            """)
        let holder = TestSupport.spawn(
            ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", dir + "/ns.sh"],
            stderr: dir + "/ns.err")
        defer {
            kill(holder, SIGTERM)
            TestSupport.wait(holder)
        }
        let nspid = TestSupport.waitForNumber(dir + "/nspid")
        try #require(!nspid.isEmpty, "private journald did not start: \(TestSupport.read(dir + "/ns.err"))")
        let context = try JournalTests.context(
            in: dir,
            journalctl: "#!/bin/sh\nexec /usr/bin/nsenter --mount=/proc/\(nspid)/ns/mnt /usr/bin/journalctl \"$@\"\n",
            hostname: "agent-name")
        // A private journald on a busy machine may take a while to answer the first query.
        try await JournalTests().runOnce(context, journalDir: dir + "/journal", seconds: 30)

        let events = try JournalTests.spooledEvents(context)
        #expect(events.map(\.victim.pid) == [4242])
        #expect(events.first?.source == .earlyoom)
        #expect(!events.contains { $0.victim.pid == 1 })
        #expect(context.counters.journalRefused.load(ordering: .relaxed) == 2)
        // Point 4: the agent's name, not the journal's; the journal's stays in raw.
        #expect(events.first?.host == "agent-name")
        #expect(events.first?.raw?.contains("\"_HOSTNAME\"") == true)
    }
}
