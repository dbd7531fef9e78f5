import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A private CA, a server certificate for 127.0.0.1 signed by it, one for another host
/// name signed by it, and a self-signed one for 127.0.0.1, made with openssl.
struct TestPKI {
    var ca: String
    var good: (cert: String, key: String)
    var wrongHost: (cert: String, key: String)
    var selfSigned: (cert: String, key: String)

    static func make(in dir: String) throws -> TestPKI? {
        guard access("/usr/bin/openssl", X_OK) == 0 else {
            print("SKIP: /usr/bin/openssl not installed")
            return nil
        }
        func ssl(_ args: [String]) throws {
            let (status, out) = try run("/usr/bin/openssl", args)
            guard status == 0 else { throw HarnessError("openssl \(args.joined(separator: " ")): \(out)") }
        }
        let d = dir + "/pki"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try ssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(d)/ca.key", "-out", "\(d)/ca.pem",
            "-days", "2", "-subj", "/CN=oomwatch fault CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        func leaf(_ name: String, san: String) throws -> (String, String) {
            try ssl([
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(d)/\(name).key", "-out", "\(d)/\(name).csr",
                "-subj", "/CN=\(name)",
            ])
            FileManager.default.createFile(
                atPath: "\(d)/\(name).ext",
                contents: Data("subjectAltName=\(san)\nextendedKeyUsage=serverAuth\n".utf8))
            try ssl([
                "x509", "-req", "-in", "\(d)/\(name).csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca.key",
                "-CAcreateserial", "-out", "\(d)/\(name).pem", "-days", "2", "-extfile", "\(d)/\(name).ext",
            ])
            return ("\(d)/\(name).pem", "\(d)/\(name).key")
        }
        let good = try leaf("good", san: "IP:127.0.0.1,DNS:localhost")
        let wrong = try leaf("wrong", san: "DNS:wrong.example")
        try ssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(d)/self.key", "-out", "\(d)/self.pem",
            "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        return TestPKI(
            ca: "\(d)/ca.pem", good: good, wrongHost: wrong, selfSigned: ("\(d)/self.pem", "\(d)/self.key"))
    }
}

/// An agent run by a test: real /proc snapshots, no kernel log or journal (so only the
/// test's own records flow), fast uploads and retries.
func agentConfig(
    collector: String, state: String, tokenFile: String, caFile: String? = nil, spoolMB: Int? = nil,
    kmsg: Bool = false, interval: Double = 0.5
) -> String {
    var text = """
        collector: \(collector)
        token_file: \(tokenFile)
        state_dir: \(state)
        interval: \(interval)
        hostname: fault-agent
        oom_score_adj: off
        top_processes: 5
        sources:
          kmsg: \(kmsg)
          journal: false
          cgroups: false
        upload:
          interval: 0.5
          initial_backoff: 0.2
          max_backoff: 1
          connect_timeout: 2
          timeout: 5

        """
    if let caFile { text += "  ca_file: \(caFile)\n" }
    if let spoolMB { text += "spool:\n  max_mb: \(spoolMB)\n  segment_kb: 64\n" }
    return text
}

/// Rows of `SELECT count(*) …` on the collector's database (readable while it runs: WAL).
func count(_ db: String, _ sql: String) -> Int {
    Int((try? sqlite(db, sql))?.first ?? "") ?? -1
}

/// Polls `condition` every 200 ms for up to `seconds`.
func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(200_000)
    }
    return condition()
}

func spoolSegments(_ state: String) -> Int {
    ((try? FileManager.default.contentsOfDirectory(atPath: state + "/spool")) ?? []).filter { $0.hasSuffix(".seg") }
        .count
}

extension Faults {
    /// The agent refuses a self-signed and a wrong-host certificate by default, keeping its
    /// data spooled, and delivers it once given the right CA file.
    @Test func agentVerifiesTheCollectorsCertificate() async throws {
        guard let bins = Binaries.locate() else { return }
        let tmp = TempDir("tls")
        defer { tmp.remove() }
        guard let pki = try TestPKI.make(in: tmp.path) else { return }
        let collector = try CollectorProcess(
            binary: bins.collector, dir: tmp.path,
            arguments: ["--tls-cert", pki.selfSigned.cert, "--tls-key", pki.selfSigned.key])
        try await collector.start()
        defer { collector.stop() }
        tmp.write("agent-token", CollectorProcess.agentToken + "\n")
        let state = tmp.path + "/state"
        let db = collector.dbPath
        let snapshots = "SELECT count(*) FROM snapshots;"

        @Sendable func runAgent(_ ca: String?, _ tag: String) throws -> Child {
            tmp.write(
                "agent-\(tag).yaml",
                agentConfig(collector: collector.url, state: state, tokenFile: tmp.path + "/agent-token", caFile: ca))
            return try Child(
                bins.agent, ["run", "--config", tmp.path + "/agent-\(tag).yaml"], log: tmp.path + "/agent.log")
        }

        let checks = Checks()
        /// Runs the agent for 4 s against a certificate it must refuse: it keeps running,
        /// nothing arrives, and its data stays spooled.
        @Sendable func expectRefused(_ ca: String?, _ tag: String, _ certificate: String) throws {
            let agent = try runAgent(ca, tag)
            usleep(4_000_000)
            checks.expect(agent.isRunning, "agent exited: \(agent.logTail())")
            agent.stop()
            checks.expect(count(db, snapshots) == 0, "a snapshot got through a \(certificate) certificate")
            checks.expect(spoolSegments(state) > 0, "refused data should stay spooled (\(certificate))")
        }

        try await offload {
            // 1. Self-signed certificate, default trust store.
            try expectRefused(nil, "selfsigned", "self-signed")

            // 2. Certificate from our CA, but for another host name: refused even with the CA.
            collector.stop()
            collector.extraArguments = ["--tls-cert", pki.wrongHost.cert, "--tls-key", pki.wrongHost.key]
            try collector.startBlocking()
            try expectRefused(pki.ca, "wronghost", "wrong-host")

            // 3. The right certificate and CA file: everything spooled so far is delivered.
            collector.stop()
            collector.extraArguments = ["--tls-cert", pki.good.cert, "--tls-key", pki.good.key]
            try collector.startBlocking()
            let a3 = try runAgent(pki.ca, "good")
            let delivered = eventually(25) { count(db, snapshots) >= 12 }
            a3.stop()
            checks.expect(
                delivered, "snapshots not delivered with the right CA: \(count(db, snapshots))\n\(a3.logTail())")
        }
        checks.report()
    }

    /// A token removed from the tokens file is refused after SIGHUP, and after a plain file
    /// change too (the collector polls it).
    @Test func revokedTokenIsRefused() async throws {
        guard let bins = Binaries.locate() else { return }
        let tmp = TempDir("revoke")
        defer { tmp.remove() }
        let second = "agent-fault-second-0123456789"
        let collector = try CollectorProcess(binary: bins.collector, dir: tmp.path)
        tmp.write(
            "tokens",
            """
            agent \(CollectorProcess.agentToken) a1
            agent \(second) a2
            read \(CollectorProcess.readToken) r1

            """)
        try await collector.start()
        defer { collector.stop() }
        let port = collector.port
        @Sendable func ingest(_ token: String, _ id: String) -> Int {
            RawHTTP.ingest(port, token: token, batchJSON(host: "revoke", events: [eventJSON(id: id)]))?.status ?? -1
        }
        let checks = Checks()
        try await offload {
            checks.expect(ingest(CollectorProcess.agentToken, "r-1") == 200, "r-1")
            checks.expect(ingest(second, "r-2") == 200, "r-2")
            // Revoke the first; same size and mtime second as possible, so only SIGHUP can tell.
            tmp.write("tokens", "agent \(second) a2\nread \(CollectorProcess.readToken) r1\n")
            kill(collector.child!.pid, SIGHUP)
            checks.expect(
                eventually(3) { ingest(CollectorProcess.agentToken, "r-3") == 401 },
                "revoked token still accepted after SIGHUP")
            checks.expect(ingest(second, "r-4") == 200, "r-4 (unrevoked token) refused")
            // Revoke the second by editing the file only.
            tmp.write("tokens", "read \(CollectorProcess.readToken) r1\n")
            checks.expect(
                eventually(8) { ingest(second, "r-5") == 401 }, "revoked token still accepted after the file changed")
            // From then on, nothing from either revoked token gets in.
            for i in 0..<5 {
                checks.expect(ingest(CollectorProcess.agentToken, "late-a\(i)") == 401, "revoked token 1 accepted")
                checks.expect(ingest(second, "late-b\(i)") == 401, "revoked token 2 accepted")
            }
            checks.expect(
                RawHTTP.request(port, "GET", "/api/v1/hosts", token: CollectorProcess.readToken)?.status == 200,
                "read token refused")
        }
        checks.report()
        collector.stop()
        let stored = try sqlite(collector.dbPath, "SELECT event_id FROM events ORDER BY event_id;")
        #expect(Set(["r-1", "r-2", "r-4"]).isSubset(of: stored))
        #expect(!stored.contains { $0.hasPrefix("late-") }, "\(stored)")
    }

    /// `oomwatch-collector token create --host GLOB`, the built binary: an agent token is
    /// bound (one line `agent sha256:HEX NAME host=GLOB` appended, the secret printed once
    /// and never stored) and the collector then refuses it for other hosts; a non-agent
    /// role or a bad glob is refused with a message and the tokens file is left alone.
    @Test func tokenCreateBindsAgentTokensToHosts() async throws {
        guard let bins = Binaries.locate() else { return }
        let tmp = TempDir("token-create")
        defer { tmp.remove() }
        let collector = try CollectorProcess(binary: bins.collector, dir: tmp.path)
        @Sendable func create(_ args: [String]) throws -> (Int32, String) {
            try run(bins.collector, ["token", "create", "--tokens-file", collector.tokensPath] + args)
        }
        let before = try String(contentsOfFile: collector.tokensPath, encoding: .utf8)
        for (args, message) in [
            (["--role", "read", "--host", "web-*"], "--host binds agent tokens only"),
            (["--role", "admin", "--host", "web-*"], "--host binds agent tokens only"),
            (["--role", "agent", "--host", "web /*"], "--host must be a host name pattern"),
            (["--role", "agent", "--host", ""], "--host must be a host name pattern"),
        ] {
            let (status, out) = try create(args)
            #expect(status != 0 && out.contains(message), "\(args): \(status) \(out)")
        }
        #expect(try String(contentsOfFile: collector.tokensPath, encoding: .utf8) == before)

        let (status, out) = try create(["--role", "agent", "--name", "web-pool", "--host", "web-*"])
        #expect(status == 0, "\(out)")
        let secret = try #require(
            out.split(separator: "\n").map(String.init).first { !$0.isEmpty && !$0.hasPrefix("stored ") })
        let file = try String(contentsOfFile: collector.tokensPath, encoding: .utf8)
        #expect(file.hasPrefix(before))
        let added = file.dropFirst(before.count)
        #expect(added.wholeMatch(of: #/agent sha256:[0-9a-f]{64} web-pool host=web-\*\n/#) != nil, "\(added)")
        #expect(!file.contains(secret))

        try await collector.start()
        defer { collector.stop() }
        let port = collector.port
        let statuses = try await offload {
            ["web-1", "db-1"].map { host in
                RawHTTP.ingest(port, token: secret, batchJSON(host: host, events: [eventJSON(id: "bound-" + host)]))?
                    .status ?? -1
            }
        }
        #expect(statuses == [200, 403])
    }
}
