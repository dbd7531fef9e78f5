import CurlHTTP
// Tests may use full Foundation (JSONSerialization); the agent itself never does.
import Foundation
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

    @Test func hangingServerTimesOut() async {
        let start = Clock.monotonicNanos()
        let r = await uploader("hang", timeout: 1).send(json: body(events: 1, snapshots: 0))
        let seconds = Double(Clock.monotonicNanos() - start) / 1e9
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

    /// The service end to end: a flaky collector (500, 500, 200) gets the batch once it
    /// recovers, and the spool is empty only after the 2xx; a rejecting one (400) sends the
    /// batch to the dead-letter file.
    @Test(arguments: ["flaky", "bad"])
    func serviceDeliversOrDeadLetters(mode: String) async throws {
        var config = AgentConfig()
        config.collector = "http://127.0.0.1:\(port)/\(mode)"
        config.tokenFile = dir + "/token"
        config.stateDir = dir + "/state-\(mode)"
        config.upload.initialBackoffSeconds = 0.1
        config.upload.maxBackoffSeconds = 0.2
        let context = try AgentContext(config: config, logger: logger)
        var e = OOMEvent(source: .kernel, victim: .init(pid: 7, comm: "x"))
        e.assignStableID()
        context.spoolEvent(e)
        #expect(context.spool.pending.events == 1)
        let service = UploaderService(context: context, uploadInterval: 0.2)
        let group = ServiceGroup(services: [service], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let deadline = Clock.monotonicNanos() + 10_000_000_000
            while Clock.monotonicNanos() < deadline, context.spool.pending.events > 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(context.spool.pending.events == 0)
        let sent = requests().filter { $0["mode"] as? String == mode }
        if mode == "flaky" {
            #expect(sent.count == 3)
            #expect(!FileIO.exists(context.deadLetterPath))
        } else {
            #expect(sent.count == 1)
            let dead = try #require(try FileIO.readAll(context.deadLetterPath))
            #expect(String(decoding: dead, as: UTF8.self).contains("bad field victim.pid"))
            #expect(String(decoding: dead, as: UTF8.self).contains(e.id))
        }
        // Counters travel with every batch.
        #expect((sent.last?["agent"] as? [String: Any])?["version"] as? String == AgentContext.version)
    }
}
