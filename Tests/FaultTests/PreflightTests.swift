import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `oomwatch-agent ARGS` to completion with extra environment; (status, output).
func runAgent(_ agent: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: agent)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OOMWATCH_") }
    env.merge(environment) { $1 }
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

extension Faults {
    /// `oomwatch-agent check` against a real TLS collector: each misconfiguration a first
    /// deployment hits is one FAIL line with its fix and a non-zero exit; a good setup
    /// passes. `run` logs the same checks, and a refused token keeps the data spooled.
    @Test func preflightNamesEachProblemWithItsFix() async throws {
        guard let bin = Binaries.locate() else { return }
        let dir = TempDir("preflight")
        defer { dir.remove() }
        guard let pki = try TestPKI.make(in: dir.path) else { return }
        let collector = try CollectorProcess(
            binary: bin.collector, dir: dir.path, arguments: ["--tls-cert", pki.good.cert, "--tls-key", pki.good.key])
        try await collector.start()
        defer { collector.stop() }
        dir.write("agent.token", CollectorProcess.agentToken + "\n")
        dir.write("read.token", CollectorProcess.readToken + "\n")
        dir.write("wrong.token", "not-a-token-anyone-knows\n")
        dir.write(
            "agent.yaml",
            agentConfig(collector: collector.url, state: dir.path + "/state", tokenFile: dir.path + "/agent.token"))
        let config = ["--config", dir.path + "/agent.yaml"]
        let trusted = ["OOMWATCH_UPLOAD_CA_FILE": pki.ca]

        @Sendable func check(_ extra: [String], _ env: [String: String] = trusted) async throws -> (Int32, String) {
            try await offload { try runAgent(bin.agent, ["check"] + config + extra, environment: env) }
        }

        var (status, out) = try await check([])
        #expect(status == 0, "\(out)")
        for line in [
            "OK    config:", "OK    token file:", "OK    collector reachable:", "OK    TLS verified:",
            "OK    token accepted:", "OK    state directory:", "OK    cgroups:",
        ] {
            #expect(out.contains(line), "missing \(line)\n\(out)")
        }
        #expect(out.contains("WARN  kernel log: sources.kmsg is off"), "\(out)")

        (status, out) = try await check([], [:])
        #expect(status == 1 && out.contains("FAIL  TLS verified:") && out.contains("upload.ca_file"), "\(out)")

        (status, out) = try await check(["--token-file", dir.path + "/read.token"])
        #expect(status == 1 && out.contains("FAIL  token accepted: HTTP 403"), "\(out)")
        #expect(out.contains("may not ingest"), "\(out)")

        (status, out) = try await check(["--token-file", dir.path + "/wrong.token"])
        #expect(status == 1 && out.contains("FAIL  token accepted: HTTP 401"), "\(out)")
        #expect(out.contains("-> put a token the collector accepts in \(dir.path)/wrong.token"), "\(out)")

        (status, out) = try await check(["--token-file", dir.path + "/missing.token"])
        #expect(status == 1 && out.contains("FAIL  token file: \(dir.path)/missing.token does not exist"), "\(out)")

        (status, out) = try await check(["--collector", "https://127.0.0.1:\(try Loopback.freePort())"])
        #expect(status == 1 && out.contains("FAIL  collector reachable:"), "\(out)")

        (status, out) = try await check(["--state-dir", "/proc/oomwatch-state"])
        #expect(status == 1 && out.contains("FAIL  state directory: /proc/oomwatch-state not writable"), "\(out)")

        // The state directory rule `run` enforces: one others can write is refused.
        let shared = dir.path + "/open-state"
        #expect(mkdir(shared, 0o700) == 0 && chmod(shared, 0o777) == 0)
        (status, out) = try await check(["--state-dir", shared])
        #expect(status == 1 && out.contains("FAIL  state directory: refusing state directory \(shared)"), "\(out)")
        #expect(out.contains("writable by its group or others"), "\(out)")

        (status, out) = try await check(["--interval", "0"])
        #expect(status == 1 && out.contains("FAIL  config:") && out.contains("interval"), "\(out)")

        // `run` logs the same checks; with a read token the collector refuses every
        // upload: the records stay spooled, and the error is logged once, not per try.
        let agent = try Child(
            bin.agent, ["run"] + config + ["--token-file", dir.path + "/read.token"], log: dir.path + "/agent.log",
            environment: trusted)
        try await Task.sleep(for: .seconds(4))
        agent.stop()
        let log = agent.logTail(20000)
        #expect(log.contains("preflight failed: HTTP 403"), "\(log)")
        #expect(log.contains("preflight ok: valid (state_dir \(dir.path)/state)"), "the config check:\n\(log)")
        #expect(log.components(separatedBy: "collector refused the upload").count - 1 == 1, "\(log)")
        #expect(spoolSegments(dir.path + "/state") > 0, "refused data must stay spooled")
        let setAside = (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/state/dead-letter")) ?? []
        #expect(setAside.isEmpty, "a refused token must not set batches aside: \(setAside)")
        (status, out) = try await offload { try runAgent(bin.agent, ["spool", "status"] + config) }
        #expect(
            status == 0 && out.contains("failed: HTTP 403: this read token may not ingest") && out.contains("fix:"),
            "\(out)")
    }

    /// A collector that cannot bind says which address and why in one line, and SIGTERM
    /// is logged without a spurious retention error.
    @Test func collectorBindFailureAndShutdownAreClear() async throws {
        guard let bin = Binaries.locate() else { return }
        let dir = TempDir("bind")
        defer { dir.remove() }
        let collector = try CollectorProcess(binary: bin.collector, dir: dir.path)
        try await collector.start()
        // A second collector on the same address.
        let second = try Child(
            bin.collector,
            [
                "serve", "--listen", "127.0.0.1:\(collector.port)", "--db", dir.path + "/second.sqlite",
                "--tokens-file",
                collector.tokensPath,
            ],
            log: dir.path + "/second.log")
        let exited = try await offload { eventually(10) { !second.isRunning } }
        #expect(exited, "the second collector kept running")
        if !exited { second.kill9() }
        #expect(second.process.terminationStatus != 0)
        let log = second.logTail(20000)
        #expect(log.contains("cannot listen on 127.0.0.1:\(collector.port): the address is already in use"), "\(log)")
        #expect(!log.contains("retention failed"), "\(log)")
        #expect(!log.contains("received SIGTERM"), "\(log)")
        #expect(log.split(separator: "\n").count <= 6, "a bind failure should be a few lines:\n\(log)")
        #expect(!log.contains("bind(descriptor") && !log.contains("ServiceGroup"), "raw error in the log:\n\(log)")

        collector.stop()
        let first = try String(contentsOfFile: dir.path + "/collector.log", encoding: .utf8)
        #expect(first.contains("received SIGTERM: shutting down"), "\(first)")
        #expect(first.contains("collector stopped"), "\(first)")
        #expect(!first.contains("retention failed"), "\(first)")
    }

    /// An address this host does not have (TEST-NET-1, RFC 5737): a real EADDRNOTAVAIL,
    /// said in words, without the internal error. (Binding sends nothing on the network.)
    @Test func collectorOnAnAddressNotOnThisHostSaysSo() async throws {
        guard let bin = Binaries.locate() else { return }
        let dir = TempDir("bind99")
        defer { dir.remove() }
        let tokens = try CollectorProcess(binary: bin.collector, dir: dir.path).tokensPath  // writes it; not started
        let child = try Child(
            bin.collector,
            ["serve", "--listen", "192.0.2.1:8080", "--db", dir.path + "/c.sqlite", "--tokens-file", tokens],
            log: dir.path + "/collector.log")
        let exited = try await offload { eventually(10) { !child.isRunning } }
        #expect(exited, "the collector kept running")
        if !exited { child.kill9() }
        #expect(child.process.terminationStatus != 0)
        let log = child.logTail(20000)
        #expect(log.contains("cannot listen on 192.0.2.1:8080: this host has no such address"), "\(log)")
        #expect(!log.contains("bind(descriptor") && !log.contains("ServiceGroup"), "raw error in the log:\n\(log)")
    }
}

extension Faults {
    /// README's backup recipes, on a collector taking writes: `sqlite3 .backup` and
    /// `VACUUM INTO` give copies that pass `integrity_check` and hold the committed events.
    @Test func liveBackupsAreConsistent() async throws {
        guard let bin = Binaries.locate() else { return }
        let dir = TempDir("backup")
        defer { dir.remove() }
        let collector = try CollectorProcess(binary: bin.collector, dir: dir.path)
        try await collector.start()
        defer { collector.stop() }
        let port = collector.port
        let writing = Shared(true)
        let writer = Task.detached {
            try await offload {
                var i = 0
                while writing.get {
                    let events = (0..<20).map { eventJSON(id: String(format: "%032x", i * 20 + $0)) }
                    _ = RawHTTP.ingest(port, token: CollectorProcess.agentToken, batchJSON(host: "b-1", events: events))
                    i += 1
                }
                return i
            }
        }
        try await Task.sleep(for: .seconds(1))
        let db = collector.dbPath
        let (s1, o1) = try run("/usr/bin/sqlite3", [db, ".backup '\(dir.path)/backup.sqlite'"])
        let (s2, o2) = try run("/usr/bin/sqlite3", [db, "VACUUM INTO '\(dir.path)/vacuum.sqlite'"])
        writing.with { $0 = false }
        let batches = try await writer.value
        #expect(s1 == 0, "\(o1)")
        #expect(s2 == 0, "\(o2)")
        #expect(batches > 0)
        for copy in ["backup", "vacuum"] {
            let path = "\(dir.path)/\(copy).sqlite"
            #expect(try sqlite(path, "PRAGMA integrity_check") == ["ok"], "\(copy)")
            #expect(count(path, "SELECT count(*) FROM events") > 0, "\(copy) holds no events")
        }
    }
}
