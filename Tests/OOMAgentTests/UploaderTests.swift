import CurlHTTP
// Tests may use full Foundation (JSONSerialization); the agent itself never does.
import Foundation
import HostSupport
import Logging
import OOMKit
import ServiceLifecycle
import Testing

@testable import OOMAgent

#if canImport(Glibc)
    import Glibc
#endif

/// The uploader against a real HTTP server on 127.0.0.1 (python3's http.server).
@Suite(.serialized) final class UploaderTests {
    let server: FixtureServer
    var dir: String { server.dir }
    var port: Int { server.port }
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    init() throws {
        server = try FixtureServer("ingest_server.py") { [$0 + "/requests.jsonl"] }
        TestSupport.write(server.dir + "/token", "s3cret-token\n")
    }

    func uploader(_ mode: String, timeout: Double = 5) -> Uploader {
        Uploader(
            collector: "http://127.0.0.1:\(port)/\(mode)/", tokenFile: dir + "/token",
            options: HTTPClientOptions(connectTimeoutSeconds: 2, totalTimeoutSeconds: timeout),
            gzipMinBytes: 1024, logger: logger)
    }

    func requests() -> [[String: Any]] {
        guard let b = try? FileIO.readAll(dir + "/requests.jsonl") else { return [] }
        return b.split(separator: 10).compactMap {
            try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any]
        }
    }

    func body(events: Int, snapshots: Int, padding: Int = 0) -> [UInt8] {
        var records: [SpoolRecord] = []
        for i in 0..<events {
            var e = OOMEvent(source: .kernel, victim: .init(pid: 100 + i, comm: "victim"))
            e.assignStableID()
            records.append(SpoolRecord(kind: .event, payload: Array(try! JSONEncoder().encode(e))))
        }
        for _ in 0..<snapshots {
            let s = MemorySnapshot(
                host: "h", time: "2026-11-28T00:00:00Z", memory: ["pad_kb": Int64(padding)], vmstat: [:])
            var payload = Array(try! JSONEncoder().encode(s))
            if padding > 0 {
                payload.removeLast()
                payload += Array(",\"kernel\":\"\(String(repeating: "k", count: padding))\"}".utf8)
            }
            records.append(SpoolRecord(kind: .snapshot, payload: payload))
        }
        return BatchBody.make(host: "web-1", bootID: "b", agent: AgentInfo(version: "t"), records: records)
    }

    @Test func okSmallIsPlainWithBearer() async throws {
        let r = await uploader("ok").send(json: body(events: 1, snapshots: 0))
        #expect(r == .delivered(IngestResult(eventsStored: 1, eventsDuplicate: 0, snapshotsStored: 0)))
        let req = try #require(requests().last)
        #expect(req["auth"] as? String == "Bearer s3cret-token")
        #expect(req["encoding"] is NSNull)
        #expect(req["path"] as? String == "/ok/api/v1/ingest")
        #expect(req["host"] as? String == "web-1")
    }

    @Test func okLargeIsGzipped() async throws {
        let b = body(events: 2, snapshots: 3, padding: 4000)
        #expect(
            await uploader("ok").send(json: b)
                == .delivered(IngestResult(eventsStored: 2, eventsDuplicate: 0, snapshotsStored: 3)))
        let req = try #require(requests().last)
        #expect(req["encoding"] as? String == "gzip")
        #expect((req["raw_len"] as? Int ?? .max) < b.count)
        #expect(req["len"] as? Int == b.count)
    }

    @Test func serverErrorIsRetried() async {
        guard case .retry(let after, let reason) = await uploader("fail").send(json: body(events: 1, snapshots: 0))
        else {
            Issue.record("500 must be retryable")
            return
        }
        #expect(after == nil)
        #expect(reason.contains("500"))
        #expect(reason.contains("database locked"))
    }

    @Test func tooManyRequestsHonoursRetryAfter() async {
        #expect(
            await uploader("busy").send(json: body(events: 1, snapshots: 0))
                == .retry(retryAfter: 2, reason: "HTTP 429: slow down"))
    }

    @Test func badRequestIsRejected() async {
        #expect(
            await uploader("bad").send(json: body(events: 1, snapshots: 0))
                == .rejected(status: 400, reason: "HTTP 400: bad field victim.pid"))
    }

    /// 401, 403 and 404 say the agent is misconfigured, not that the batch is bad.
    @Test(arguments: [("auth", 401), ("forbid", 403), ("nowhere", 404)])
    func misconfigurationIsRefusedNotRejected(mode: String, status: Int) async {
        guard case .refused(let got, let reason) = await uploader(mode).send(json: body(events: 1, snapshots: 0))
        else {
            Issue.record("HTTP \(status) must keep the batch (refused), not set it aside")
            return
        }
        #expect(got == status)
        #expect(reason.hasPrefix("HTTP \(status)"))
    }

    /// Only a batch the collector calls malformed may be set aside.
    @Test(arguments: [("bad", 400), ("toolarge", 413), ("unprocessable", 422)])
    func malformedIsRejected(mode: String, status: Int) async {
        guard case .rejected(let got, _) = await uploader(mode).send(json: body(events: 1, snapshots: 0)) else {
            Issue.record("HTTP \(status) is the collector calling the batch malformed")
            return
        }
        #expect(got == status)
    }

    /// A token file saved with Windows line endings still sends just the token (a CRLF
    /// is one Character in Swift, so it must not be missed as a line end).
    @Test func crlfTokenFileSendsTheTokenAlone() async throws {
        TestSupport.write(dir + "/crlf.token", "good-token\r\n")
        let u = Uploader(
            collector: "http://127.0.0.1:\(port)/auth", tokenFile: dir + "/crlf.token",
            options: HTTPClientOptions(connectTimeoutSeconds: 2, totalTimeoutSeconds: 5), logger: logger)
        guard case .delivered = await u.send(json: body(events: 1, snapshots: 0)) else {
            Issue.record("a CRLF token file must authenticate")
            return
        }
        #expect(requests().last?["auth"] as? String == "Bearer good-token")
    }

    @Test func hangingServerTimesOut() async {
        let start = HostClock.monotonicNanos()
        let r = await uploader("hang", timeout: 1).send(json: body(events: 1, snapshots: 0))
        let seconds = Double(HostClock.monotonicNanos() - start) / 1e9
        guard case .retry(nil, _) = r else {
            Issue.record("a timeout must be retryable, got \(r)")
            return
        }
        #expect(seconds < 5)
    }

    @Test func missingTokenFileIsRetriedNotSent() async {
        let u = Uploader(
            collector: "http://127.0.0.1:\(port)/ok", tokenFile: dir + "/no-token",
            options: HTTPClientOptions(connectTimeoutSeconds: 1, totalTimeoutSeconds: 2), logger: logger)
        let before = requests().count
        guard case .retry = await u.send(json: body(events: 1, snapshots: 0)) else {
            Issue.record("an unreadable token file must not send (a 401 would dead-letter the batch)")
            return
        }
        #expect(requests().count == before)
    }

    @Test func unreachableIsRetried() async {
        let u = Uploader(
            collector: "http://127.0.0.1:1", tokenFile: nil,
            options: HTTPClientOptions(connectTimeoutSeconds: 1, totalTimeoutSeconds: 2),
            logger: logger)
        guard case .retry = await u.send(json: body(events: 1, snapshots: 0)) else {
            Issue.record("connection refused must be retryable")
            return
        }
    }

    /// An agent context on the scripted server's `mode`, with one kill spooled.
    func context(_ mode: String, state: String? = nil) throws -> (AgentContext, OOMEvent) {
        var config = AgentConfig()
        config.collector = "http://127.0.0.1:\(port)/\(mode)"
        config.tokenFile = dir + "/token"
        config.stateDir = dir + "/" + (state ?? "state-\(mode)")
        config.upload.initialBackoffSeconds = 0.1
        config.upload.maxBackoffSeconds = 0.2
        let context = try AgentContext(config: config, logger: logger)
        var e = OOMEvent(source: .kernel, victim: .init(pid: 7, comm: "x"))
        e.assignStableID()
        context.spoolEvent(e)
        #expect(context.spool.pending.events == 1)
        return (context, e)
    }

    /// Runs the uploader service until `done` holds (or 10 s pass), then stops it.
    func runService(_ context: AgentContext, until done: () -> Bool) async throws {
        let service = UploaderService(context: context, uploadInterval: 0.2)
        let group = ServiceGroup(services: [service], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let deadline = HostClock.monotonicNanos() + 10_000_000_000
            while HostClock.monotonicNanos() < deadline, !done() {
                try await Task.sleep(for: .milliseconds(50))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// The service end to end: a flaky collector (500, 500, 200) gets the batch once it
    /// recovers, and the spool is empty only after the 2xx; a collector that calls it
    /// malformed (400) gets it set aside, in a form `spool replay` can send.
    @Test(arguments: ["flaky", "bad"])
    func serviceDeliversOrSetsAside(mode: String) async throws {
        let (context, e) = try context(mode)
        try await runService(context) { context.spool.pending.events == 0 }
        #expect(context.spool.pending.events == 0)
        let sent = requests().filter { $0["mode"] as? String == mode }
        if mode == "flaky" {
            #expect(sent.count == 3)
            #expect(context.deadLetter.list().isEmpty)
        } else {
            #expect(sent.count == 1)
            let entries = context.deadLetter.list()
            try #require(entries.count == 1)
            #expect(entries[0].header.status == 400)
            #expect(entries[0].header.reason.contains("bad field victim.pid"))
            #expect(entries[0].header.events == 1)
            let body = try #require(context.deadLetter.body(of: entries[0]))
            let batch = try JSONReader().decode(IngestBatch.self, from: body)
            #expect(batch.events.map(\.id) == [e.id])
        }
        // Counters travel with every batch.
        #expect((sent.last?["agent"] as? [String: Any])?["version"] as? String == AgentContext.version)
    }

    /// A rejected token loses nothing: the batch stays spooled while the collector says
    /// 401, each try re-reads the token file, the refusals are counted and recorded with
    /// their fix, and the batch goes through once the file holds a good token.
    @Test func refusedTokenKeepsTheBatchUntilTheFileIsFixed() async throws {
        let (context, e) = try context("auth")
        let refusedTwice: () -> Bool = {
            self.requests().filter { $0["mode"] as? String == "auth" }.count >= 3
        }
        try await runService(context, until: refusedTwice)
        #expect(context.spool.pending.events == 1, "a refused token must keep the batch")
        #expect(context.deadLetter.list().isEmpty)
        #expect(context.counters.uploadRefused.load(ordering: .relaxed) >= 3)
        let status = try #require(UploadStatus.load(context.uploadStatusPath))
        #expect(!status.ok && status.status == 401 && status.reason.contains("invalid token"))
        #expect(status.fix?.contains(dir + "/token") == true)

        TestSupport.write(dir + "/token", "good-token\n")
        try await runService(context) { context.spool.pending.events == 0 }
        #expect(context.spool.pending.events == 0)
        let delivered = requests().filter {
            $0["mode"] as? String == "auth" && $0["auth"] as? String == "Bearer good-token"
        }
        #expect(delivered.count == 1)
        #expect(delivered.first?["events"] as? Int == 1)
        #expect(UploadStatus.load(context.uploadStatusPath)?.ok == true)
        // The refusals are reported with the batch once it gets through.
        #expect(((delivered.first?["agent"] as? [String: Any])?["upload_refused"] as? Int ?? 0) >= 3)
        _ = e
    }

    /// A token fixed while one `run` keeps going: the service is never restarted; the
    /// attempt after the file changes reads the new token and delivers the spooled batch.
    @Test func tokenFixedDuringTheSameRunIsReadOnTheNextAttempt() async throws {
        let (context, e) = try context("auth", state: "state-auth-same-run")
        let auth: () -> [[String: Any]] = { self.requests().filter { $0["mode"] as? String == "auth" } }
        var fixedAfter: Int? = nil
        try await runService(context) {
            let sent = auth()
            // After two refusals with the old token, an operator fixes the file.
            if fixedAfter == nil, sent.count >= 2 {
                TestSupport.write(self.dir + "/token", "good-token\n")
                fixedAfter = sent.count
            }
            return context.spool.pending.events == 0
        }
        let refusals = try #require(fixedAfter, "the collector never refused the old token")
        #expect(context.spool.pending.events == 0, "the batch must be delivered in the same run")
        let sent = auth()
        #expect(sent.prefix(refusals).allSatisfy { $0["auth"] as? String == "Bearer s3cret-token" })
        let delivered = sent.filter { $0["auth"] as? String == "Bearer good-token" }
        #expect(delivered.count == 1, "\(sent)")
        #expect(delivered.first?["events"] as? Int == 1)
        #expect(context.deadLetter.list().isEmpty)
        #expect(UploadStatus.load(context.uploadStatusPath)?.ok == true)
        _ = e
    }

    /// The dead-letter directory stays under its bound: the oldest batches go, and their
    /// records are counted as dropped like any other loss.
    @Test func deadLetterIsBoundedAndDropsAreCounted() throws {
        let counters = AgentCounters()
        let dl = DeadLetter(directory: dir + "/dl-bound", maxBytes: 4096, counters: counters, logger: logger)
        let b = body(events: 1, snapshots: 1, padding: 600)
        for i in 0..<8 {
            let header = DeadLetter.Header(status: 400, reason: "r\(i)", time: "t", events: 1, snapshots: 1)
            try dl.add(body: b, header: header)
        }
        let entries = dl.list()
        #expect(entries.reduce(0) { $0 + $1.bytes } <= 4096)
        #expect(entries.last?.header.reason == "r7", "the newest batch is kept")
        let dropped = 8 - entries.count
        #expect(dropped > 0)
        #expect(counters.droppedEvents.load(ordering: .relaxed) == Int64(dropped))
        #expect(counters.droppedSnapshots.load(ordering: .relaxed) == Int64(dropped))
        // A batch larger than the whole bound is dropped (and counted), nothing else.
        try dl.add(
            body: body(events: 2, snapshots: 1, padding: 9000),
            header: .init(status: 413, reason: "big", time: "t", events: 2, snapshots: 1))
        #expect(dl.list().count == entries.count)
        #expect(counters.droppedEvents.load(ordering: .relaxed) == Int64(dropped + 2))
    }

    /// `dead-letter.jsonl` from an older agent is imported, so its batches can be replayed.
    @Test func legacyDeadLetterFileIsImported() throws {
        let state = dir + "/legacy"
        try FileIO.makeDirectories(state)
        let b = body(events: 2, snapshots: 1)
        var line = Array(#"{"status":400,"reason":"bad \"batch\": x","batch":"#.utf8) + b
        line.append(125)
        try FileIO.appendLine(state + "/dead-letter.jsonl", line)
        try FileIO.appendLine(state + "/dead-letter.jsonl", line)
        let counters = AgentCounters()
        let dl = DeadLetter(directory: state + "/dead-letter", maxBytes: 1 << 20, counters: counters, logger: logger)
        #expect(DeadLetter.parseLegacy(line)?.body == b)
        dl.importLegacy(state + "/dead-letter.jsonl")
        let entries = dl.list()
        #expect(entries.count == 2)
        #expect(
            entries.first?.header == .init(status: 400, reason: "bad \"batch\": x", time: "", events: 2, snapshots: 1))
        #expect(entries.first.flatMap(dl.body(of:)) == b)
        #expect(!FileIO.exists(state + "/dead-letter.jsonl"))
    }

    /// The operator's side, with the built binary: `spool status` says what waits and
    /// why, and `spool replay` sends a set-aside batch once the collector takes it.
    @Test func spoolStatusAndReplayCommands() async throws {
        let agent = TestSupport.packageRoot + "/.build/debug/oomwatch-agent"
        try #require(access(agent, X_OK) == 0, "build the agent first (swift build)")
        let (context, e) = try context("bad", state: "state-replay")
        try await runService(context) { context.spool.pending.events == 0 }
        try #require(context.deadLetter.list().count == 1)
        var config = AgentConfig()
        config.stateDir = context.config.stateDir
        context.spool.sync()
        context.saveCounters()

        let common = ["--config", TestSupport.fixtures + "/empty.yaml", "--state-dir", context.config.stateDir]
        var pid = TestSupport.spawn([agent, "spool", "status"] + common, stdout: dir + "/status.out")
        #expect(TestSupport.wait(pid) == 0)
        let status = TestSupport.read(dir + "/status.out")
        #expect(status.contains("set aside as malformed: 1 batch (1 event, 0 snapshots"), "\(status)")
        #expect(status.contains("  HTTP 400: bad field victim.pid  [1 event, 0 snapshots]"), "\(status)")
        #expect(status.contains("oomwatch-agent spool replay"), "\(status)")
        #expect(status.contains("last upload:"), "\(status)")

        // Still rejected: kept, exit 1, the reason printed.
        let to = { (mode: String) in
            ["--collector", "http://127.0.0.1:\(self.port)/\(mode)", "--token-file", self.dir + "/token"]
        }
        pid = TestSupport.spawn(
            [agent, "spool", "replay"] + common + to("bad"), stdout: dir + "/replay.out", stderr: dir + "/replay.err")
        #expect(TestSupport.wait(pid) >> 8 == 1)
        #expect(TestSupport.read(dir + "/replay.out").contains("still rejected"))
        #expect(context.deadLetter.list().count == 1)

        // Fixed: sent, removed, exit 0.
        pid = TestSupport.spawn([agent, "spool", "replay"] + common + to("ok"), stdout: dir + "/replay.out")
        #expect(TestSupport.wait(pid) == 0)
        #expect(context.deadLetter.list().isEmpty)
        let replayed = requests().filter { $0["mode"] as? String == "ok" && $0["events"] as? Int == 1 }
        #expect(!replayed.isEmpty)
        _ = (config, e)
    }
}
