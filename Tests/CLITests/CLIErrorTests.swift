import Foundation
import OOMKit
import Testing

@testable import oomwatch

/// Every failure a person can hit: one line on stderr, exit 1 for failures, 2 for usage.
@Suite(.serialized) struct CLIErrorTests {
    /// A port nothing listens on: bound, then closed.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func expectOneLine(_ r: CLIRunner.Result, status: Int32, contains text: String) {
        #expect(r.status == status, "stderr: \(r.stderr)")
        #expect(r.stdout == "")
        #expect(r.stderr.hasPrefix("oomwatch: "), "stderr: \(r.stderr)")
        #expect(r.stderr.contains(text), "stderr: \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
    }

    @Test func unreachableServerNamesTheURL() async throws {
        let home = FileManager.default.temporaryDirectory.path
        let url = "http://127.0.0.1:\(try Self.closedPort())"
        let r = try await CLIRunner(home: home).run(["hosts", "--server", url, "--token", "x"])
        expectOneLine(r, status: 1, contains: "cannot reach the collector at \(url)")
    }

    @Test func tokenAndRoleErrors() async throws {
        try await TestCollector.with(seed: []) { c in
            var env = c.cli.baseEnvironment
            env["OOMWATCH_SERVER"] = c.server
            let noToken = try await CLIRunner(home: c.cli.home).run(["hosts"], environment: env)
            expectOneLine(noToken, status: 1, contains: "no token: the collector at \(c.server) needs a read token")

            let bad = try await c.run(["hosts", "--token", "wrong-secret"])
            expectOneLine(bad, status: 1, contains: "the collector at \(c.server) rejected the token (401)")

            let role = try await c.run(["summary", "--token", TestCollector.agentToken])
            expectOneLine(role, status: 1, contains: "(403): use a token with the read or admin role")

            let admin = try await c.run(["hosts", "--token", TestCollector.adminToken])
            #expect(admin.status == 0)
        }
    }

    @Test func unknownEventID() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let r = try await c.run(["show", "0000000000000000deadbeef00000000"])
            expectOneLine(r, status: 1, contains: "no OOM event with id 0000000000000000deadbeef00000000")
        }
    }

    @Test(arguments: [
        ["events", "--since", "yesterday"],
        ["summary", "--since", "24"],
        ["events", "--until", "soon"],
        ["events", "--limit", "0"],
        ["events", "--source", "kswapd"],
        ["hosts", "--format", "xml"],
        ["hosts", "--bogus-flag"],
        ["show"],
        ["watch", "--interval", "0"],
        ["frobnicate"],
    ])
    func usageErrorsExitTwo(arguments: [String]) async throws {
        let home = FileManager.default.temporaryDirectory.path
        // No collector: a usage error must be reported before anything is sent.
        let r = try await CLIRunner(home: home).run(arguments + ["--server", "http://127.0.0.1:1"])
        #expect(r.status == 2, "\(arguments): \(r.stderr)")
        #expect(r.stdout == "")
        #expect(r.stderr.contains("Error: "), "\(r.stderr)")
    }

    /// A mistyped command gets the closest one suggested.
    @Test(arguments: [("hostz", "hosts"), ("sumary", "summary"), ("evnets", "events"), ("wach", "watch")])
    func mistypedCommandSuggestsTheClosest(typed: String, meant: String) async throws {
        let home = FileManager.default.temporaryDirectory.path
        let r = try await CLIRunner(home: home).run(["--format", "json", typed])
        #expect(r.status == 2)
        #expect(r.stderr.contains("unknown command '\(typed)'; did you mean '\(meant)'?"), "\(r.stderr)")
    }

    /// `--server` with the API path says to drop it, from the flag, the variable or the file.
    @Test func serverWithAPIPathSaysDropThePath() async throws {
        let home = FileManager.default.temporaryDirectory.path
        let r = try await CLIRunner(home: home).run(["hosts", "--server", "https://c.example:8443/api/v1/"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("drop the path"), "\(r.stderr)")
        #expect(r.stderr.contains("https://c.example:8443"), "\(r.stderr)")
        let env = try await CLIRunner(home: home).run(
            ["hosts"], environment: ["OOMWATCH_SERVER": "http://c:8080/api/v1"])
        #expect(env.status == 2)
        #expect(env.stderr.contains("OOMWATCH_SERVER") && env.stderr.contains("drop the path"), "\(env.stderr)")
    }

    /// `--timeout` bounds the wait for a collector that accepts but never answers; the
    /// default is 10 s.
    @Test func timeoutBoundsASilentCollector() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) }
        }
        _ = listen(listener, 8)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) }
        }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let home = FileManager.default.temporaryDirectory.path
        let started = Date()
        let r = try await CLIRunner(home: home).run(["hosts", "--server", "http://127.0.0.1:\(port)", "--timeout", "1"])
        let took = Date().timeIntervalSince(started)
        #expect(r.status == 1)
        #expect(r.stderr.contains("did not answer in time"), "\(r.stderr)")
        #expect(r.stderr.contains("--timeout"), "\(r.stderr)")
        #expect(took < 5, "took \(took) s with --timeout 1")
        let bad = try await CLIRunner(home: home).run(["hosts", "--timeout", "0"])
        #expect(bad.status == 2)
        #expect(Settings.defaultTimeoutSeconds == 10)
    }

    @Test func invalidSinceSaysWhatIsAccepted() async throws {
        let home = FileManager.default.temporaryDirectory.path
        let r = try await CLIRunner(home: home).run(["events", "--since", "yesterday"])
        #expect(r.status == 2)
        #expect(
            r.stderr.hasPrefix(
                "Error: invalid --since 'yesterday': use a duration like 30m, 24h, 7d or an RFC 3339 time\n"))
    }

    @Test func badSettingFromTheEnvironmentIsAUsageError() async throws {
        let home = FileManager.default.temporaryDirectory.path
        let r = try await CLIRunner(home: home).run(["hosts"], environment: ["OOMWATCH_FORMAT": "yaml"])
        #expect(r.status == 2)
        #expect(r.stderr == "oomwatch: OOMWATCH_FORMAT: 'yaml' is not an output format: use table, json or csv\n")
    }
}

/// Settings from the user's config file, help and completion scripts, `watch`.
@Suite(.serialized) struct CLIUsageTests {
    @Test func configFileInTheUsersConfigDirectory() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let configDir = c.cli.home + "/.config/oomwatch"
            try FileManager.default.createDirectory(atPath: configDir, withIntermediateDirectories: true)
            try "\(TestCollector.readToken)\n".write(
                toFile: c.cli.home + "/read.token", atomically: true, encoding: .utf8)
            try """
            # oomwatch CLI settings
            server: \(c.server)
            token_file: ~/read.token
            format: csv
            """.write(toFile: configDir + "/config.yaml", atomically: true, encoding: .utf8)
            let r = try await c.cli.run(["hosts"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("host,status,"))

            // The flag beats the file.
            let json = try await c.cli.run(["hosts", "--format", "json"])
            #expect(json.stdout.hasPrefix("["))

            // XDG_CONFIG_HOME moves the directory: this one has no file, so no server.
            let xdg = try await c.cli.run(["hosts"], environment: ["XDG_CONFIG_HOME": c.cli.home + "/elsewhere"])
            #expect(xdg.status == 1)
            #expect(
                xdg.stderr.contains("cannot reach the collector at http://127.0.0.1:8080")
                    || xdg.stderr.contains("no token"))
        }
    }

    /// On a real terminal (a pty from script(1)) tables are coloured and fitted to the
    /// terminal's own width; NO_COLOR turns colour off.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func colourOnlyOnATerminal() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let command =
                "stty cols 72; \(CLIRunner.binary) events --server \(c.server) --token \(TestCollector.readToken)"
            var env = c.cli.baseEnvironment
            env["COLUMNS"] = nil
            var runner = CLIRunner(home: c.cli.home)
            runner.baseEnvironment = env
            let tty = try await runner.run(["-qec", command, "/dev/null"], executable: "/usr/bin/script")
            #expect(tty.status == 0, "\(tty.stderr)")
            #expect(tty.stdout.contains("\u{1B}[1mTIME\u{1B}[0m"))
            let plain = tty.stdout.replacing(/\x1B\[[0-9;]*m/, with: "")
            for line in plain.split(separator: "\r\n") {
                #expect(line.count <= 72, "\(line)")
            }
            #expect(!plain.contains("\u{1B}[2J"))

            let noColor = try await runner.run(
                ["-qec", command, "/dev/null"], environment: ["NO_COLOR": "1"], executable: "/usr/bin/script")
            #expect(noColor.status == 0)
            #expect(!noColor.stdout.contains("\u{1B}["))
        }
    }

    @Test(arguments: ["hosts", "events", "show", "summary", "top", "watch"])
    func helpHasExamples(command: String) async throws {
        let r = try await CLIRunner(home: FileManager.default.temporaryDirectory.path).run([command, "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Examples:"))
        #expect(r.stdout.contains("oomwatch \(command)"))
        #expect(r.stdout.contains("--server <URL>"))
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScripts(shell: String) async throws {
        let r = try await CLIRunner(home: FileManager.default.temporaryDirectory.path).run([
            "--generate-completion-script", shell,
        ])
        #expect(r.status == 0)
        #expect(r.stdout.contains("oomwatch"))
        #expect(r.stdout.contains("summary"))
    }

    /// `watch` starts at "now", prints each new kill once as one line, and ends cleanly on
    /// Ctrl-C.
    @Test func watchPrintsNewKillsUntilInterrupted() async throws {
        // `--since 10m`, so a slow start cannot miss the kill posted 1.5 s in.
        try await TestCollector.with(seed: []) { c in
            async let watching = c.run(["watch", "--interval", "0.2", "--since", "10m"], interruptAfter: 5)
            try await Task.sleep(for: .seconds(1.5))
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            var kill = Fleet.kill(
                host: "web-1", scope: .memcg, pid: 5151, comm: "fresh", time: RFC3339.format(epochMicroseconds: now),
                uptime: 7000, anonKB: 204_800)
            kill.victim.unit = "fresh.service"
            #expect(try await c.ingest(IngestBatch(host: "web-1", events: [kill])) == 200)
            // The same kill again (an agent retry) must not print twice.
            #expect(try await c.ingest(IngestBatch(host: "web-1", events: [kill])) == 200)
            let r = try await watching
            #expect(r.status == 0, "\(r.stderr)")
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.count == 1, "\(r.stdout)")
            let expected =
                "\(wholeSeconds(now))  web-1  kernel/memcg  killed fresh (pid 5151)  rss 202 MiB  fresh.service  \(kill.id)"
            #expect(lines.first.map(String.init) == expected)
        }
    }

    @Test func watchAsJSONLines() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let r = try await c.run(
                ["watch", "--since", "1h", "--format", "json", "--interval", "0.2", "--now", Fleet.fixedNow],
                interruptAfter: 3)
            #expect(r.status == 0)
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.count == 2)  // the two kills in the hour before --now, oldest first
            let ids = try lines.map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["id"] as? String
            }
            #expect(ids.last == CLIOutputTests.javaID)
        }
    }
}

/// What `watch` prints for a time: whole seconds, UTC.
func wholeSeconds(_ micros: Int64) -> String {
    RFC3339.format(epochMicroseconds: micros / 1_000_000 * 1_000_000)
}
