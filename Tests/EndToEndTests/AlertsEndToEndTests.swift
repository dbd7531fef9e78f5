import Foundation
import OOMKit
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Alerts against the real thing: a real kernel OOM kill in a child memory cgroup, read
/// by a running agent, stored by a running collector whose outbox delivers it to Debian's
/// own Alertmanager and to a webhook receiver, both on loopback.
@Suite(.serialized)
struct AlertsEndToEndTests {
    /// The world, or a skip with the reason (binaries not built, no writable memory
    /// cgroup, no Alertmanager installed).
    static func world(needsAlertmanager: Bool) throws -> E2EWorld {
        if needsAlertmanager, !FileManager.default.isExecutableFile(atPath: Alertmanager.executable) {
            try Test.cancel(
                Comment(rawValue: "\(Alertmanager.executable) not installed (scripts/install-deps installs it)"))
        }
        return try E2EWorld.forRealKills(probe: "alerts")
    }

    /// Alerts only for this run's hogs: the agent also reads every older kill on this
    /// machine from /dev/kmsg, and those must not crowd the test's notification.
    static func writeConfig(_ world: E2EWorld, receiver: String) throws {
        let yaml = """
            alerts:
              group_wait: 0s
              retry_initial: 200ms
              retry_max: 1s
              receivers:
                - \(receiver)
              routes:
                - match: {comm: "oomw-\(world.runID)-.*"}
                  receivers: [\(receiver.contains("name: am") ? "am" : "hook")]
            """
        try yaml.write(toFile: world.directory + "/collector.yaml", atomically: true, encoding: .utf8)
        world.collectorArguments = ["--config", world.directory + "/collector.yaml"]
    }

    @Test(.timeLimit(.minutes(2)))
    func aRealKillReachesAlertmanagerWithTheVictimsComm() async throws {
        let world = try Self.world(needsAlertmanager: true)
        let am = try Alertmanager(directory: world.directory)
        do {
            try await am.waitReady()
            try Self.writeConfig(world, receiver: "{name: am, alertmanager: {url: \"http://127.0.0.1:\(am.port)\"}}")
            try await world.startCollector()
            try await world.startAgent()
            try await world.waitForHostRegistered()
            let kill = try await world.makeOOMKill(number: 1)
            let deadline = ContinuousClock.now + .seconds(20)
            var found: [String: Any]?
            while found == nil, ContinuousClock.now < deadline {
                found = am.alerts().first { ($0["labels"] as? [String: String])?["comm"] == kill.comm }
                if found == nil { try await Task.sleep(for: .milliseconds(200)) }
            }
            print(
                "alerts e2e: kill of \(kill.comm) in Alertmanager \(ContinuousClock.now - kill.hogStarted) after the hog started"
            )
            let alert = try #require(
                found, "no alert with comm \(kill.comm) in Alertmanager\n\(world.collectorLog())\n\(am.log())")
            let labels = alert["labels"] as? [String: String] ?? [:]
            #expect(labels["alertname"] == "OOMKill")
            #expect(labels["host"] == world.host)
            #expect(labels["scope"] == "memcg")
            #expect(labels["severity"] == "critical")
            let annotations = alert["annotations"] as? [String: String] ?? [:]
            #expect(annotations["summary"]?.contains(kill.comm) == true)
            #expect(annotations["description"]?.contains("pid \(kill.pid)") == true)
        } catch {
            await am.process.stop()
            await world.cleanup()
            throw error
        }
        await am.process.stop()
        await world.cleanup()
    }

    @Test(.timeLimit(.minutes(2)))
    func theOutboxSurvivesACollectorSIGKILLBetweenCommitAndDelivery() async throws {
        let world = try Self.world(needsAlertmanager: false)
        let receiverPort = try Loopback.freePort()
        let received = world.directory + "/received.jsonl"
        var receiver: ChildProcess?
        do {
            // The receiver is down while the kill is stored: the notification can only wait.
            try Self.writeConfig(
                world, receiver: "{name: hook, webhook: {url: \"http://127.0.0.1:\(receiverPort)/hook\"}}")
            try await world.startCollector()
            try await world.startAgent()
            try await world.waitForHostRegistered()
            let kill = try await world.makeOOMKill(number: 1)
            let event = try await world.waitForEvent(comm: kill.comm, pid: kill.pid, within: .seconds(10))
            // Committed, and the delivery failed at least once.
            let deadline = ContinuousClock.now + .seconds(10)
            var failing = false
            while !failing, ContinuousClock.now < deadline {
                let body =
                    LoopbackHTTP.get(port: world.port, path: "/api/v1/alerts?state=failing", token: world.readToken)?
                    .body ?? ""
                failing = body.contains(event.id)
                if !failing { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(failing, "the notification never showed as failing\n\(world.collectorLog())")
            await world.collector?.stop(signal: SIGKILL, timeout: .seconds(5))

            receiver = try ChildProcess(
                name: "receiver", executable: "/usr/bin/env",
                arguments: ["python3", "-c", Self.receiverScript, String(receiverPort), received],
                logPath: world.directory + "/receiver.log")
            try await Task.sleep(for: .milliseconds(500))
            try await world.startCollector()
            var lines: [String] = []
            let until = ContinuousClock.now + .seconds(30)
            while lines.isEmpty, ContinuousClock.now < until {
                lines = ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").map(
                    String.init)
                if lines.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            // Give a duplicate every chance to show up.
            try await Task.sleep(for: .seconds(1))
            lines = ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").map(
                String.init)
            let mine = lines.filter { $0.contains(kill.comm) }
            #expect(mine.count == 1, "delivered \(mine.count) times\n\(world.collectorLog())")
            let record = try JSONSerialization.jsonObject(with: Data((mine.first ?? "{}").utf8)) as? [String: Any]
            #expect(record?["key"] as? String == event.id)

            // The CLI tells the same story, and a test message goes through.
            let cli = ["--server", world.serverURL, "--token", world.adminToken]
            let listed = try await Command.run(
                world.binaries.cli, ["alerts", "--format", "json"] + cli, in: world.directory)
            #expect(listed.status == 0, "\(listed.stderr)")
            let state = try JSONDecoder().decode(AlertsResponse.self, from: Data(listed.stdout.utf8))
            #expect(state.receivers.first { $0.receiver == "hook" }?.sent == 1)
            #expect(state.notifications.first { $0.eventID == event.id }?.state == "sent")
            let test = try await Command.run(world.binaries.cli, ["alerts", "test", "hook"] + cli, in: world.directory)
            #expect(test.status == 0, "\(test.stderr)")
            #expect(test.stdout.contains("test message delivered to hook"))
            let unknown = try await Command.run(
                world.binaries.cli, ["alerts", "test", "nope"] + cli, in: world.directory)
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no alert receiver named nope"))
        } catch {
            await receiver?.stop()
            await world.cleanup()
            throw error
        }
        await receiver?.stop()
        await world.cleanup()
    }

    /// A webhook receiver: one JSON line per POST (its Idempotency-Key and body), 200.
    static let receiverScript = """
        import http.server, json, sys
        port, out = int(sys.argv[1]), sys.argv[2]
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                with open(out, 'a') as f:
                    f.write(json.dumps({'key': self.headers.get('Idempotency-Key'), 'body': body.decode()}) + '\\n')
                self.send_response(200); self.end_headers()
            def log_message(self, *a): pass
        http.server.HTTPServer(('127.0.0.1', port), H).serve_forever()
        """
}

/// Debian's prometheus-alertmanager on a loopback port, with its own storage and no
/// clustering, stopped at the end of the test.
final class Alertmanager: @unchecked Sendable {
    static let executable = "/usr/bin/prometheus-alertmanager"
    let port: Int
    let process: ChildProcess

    init(directory: String) throws {
        port = try Loopback.freePort()
        let config = """
            route: {receiver: "null", group_wait: 1s}
            receivers: [{name: "null"}]
            """
        try config.write(toFile: directory + "/alertmanager.yml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: directory + "/am-data", withIntermediateDirectories: true)
        process = try ChildProcess(
            name: "alertmanager", executable: Self.executable,
            arguments: [
                "--config.file=\(directory)/alertmanager.yml", "--storage.path=\(directory)/am-data",
                "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=",
            ],
            logPath: directory + "/alertmanager.log")
    }

    func waitReady() async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if LoopbackHTTP.get(port: port, path: "/-/ready")?.status == 200 { return }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw E2EError("Alertmanager did not get ready on 127.0.0.1:\(port)\n\(log())")
    }

    /// Alertmanager's own view: `GET /api/v2/alerts`.
    func alerts() -> [[String: Any]] {
        guard let body = LoopbackHTTP.get(port: port, path: "/api/v2/alerts")?.body,
            let list = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]]
        else { return [] }
        return list
    }

    func log() -> String { "--- alertmanager log:\n" + process.logTail() }
}
