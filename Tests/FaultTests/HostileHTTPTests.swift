import Foundation
import Gzip
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Hostile bodies: each must be refused with a 4xx, never a 5xx.
let hostileBodies: [(String, [UInt8])] = {
    func b(_ s: String) -> [UInt8] { Array(s.utf8) }
    let deep = 100_000
    let fiveMB = String(repeating: "A", count: 5 << 20)
    return [
        (
            "100,000-deep arrays",
            b(
                #"{"host":"h","snapshots":[],"events":"# + String(repeating: "[", count: deep)
                    + String(repeating: "]", count: deep) + "}")
        ),
        (
            "100,000-deep objects",
            b(String(repeating: #"{"a":"#, count: deep) + "1" + String(repeating: "}", count: deep))
        ),
        ("unclosed 100,000-deep", b(String(repeating: "[", count: deep))),
        (
            "pid 1e999",
            b(batchJSON(host: "h", events: [#"{"id":"a","source":"kernel","victim":{"pid":1e999,"comm":"x"}}"#]))
        ),
        (
            "uptime 1e999",
            b(
                batchJSON(
                    host: "h", events: [#"{"id":"a","source":"kernel","uptime_s":1e999,"victim":{"pid":1,"comm":"x"}}"#]
                ))
        ),
        (
            "rss -1e999",
            b(
                batchJSON(
                    host: "h",
                    events: [#"{"id":"a","source":"kernel","victim":{"pid":1,"comm":"x","anon_rss_kb":-1e999}}"#]))
        ),
        ("5 MB host", b(batchJSON(host: fiveMB, events: []))),
        ("5 MB comm", b(batchJSON(host: "h", events: [eventJSON(id: "a", comm: fiveMB)]))),
        ("5 MB id", b(batchJSON(host: "h", events: [eventJSON(id: fiveMB)]))),
        ("escaped NUL in comm", b(batchJSON(host: "h", events: [eventJSON(id: "a", comm: #"a\u0000b"#)]))),
        ("escaped NUL in host", b(batchJSON(host: #"h\u0000"#, events: []))),
        ("raw NUL byte", b(#"{"host":"h"# + "\u{0}" + #"","snapshots":[],"events":[]}"#)),
        ("raw NUL outside strings", b(#"{"host":"h",  "# + "\u{0}" + #""snapshots":[],"events":[]}"#)),
        ("invalid UTF-8 in host", b(#"{"host":"h"#) + [0xFF, 0xFE, 0xC0, 0x80] + b(#"","snapshots":[],"events":[]}"#)),
        ("lone surrogate", b(batchJSON(host: #"\ud800"#, events: []))),
        ("host is a number", b(#"{"host":5,"snapshots":[],"events":[]}"#)),
        ("events is an object", b(#"{"host":"h","snapshots":[],"events":{}}"#)),
        (
            "pid is a string",
            b(batchJSON(host: "h", events: [#"{"id":"a","source":"kernel","victim":{"pid":"1","comm":"x"}}"#]))
        ),
        (
            "pid is fractional",
            b(batchJSON(host: "h", events: [#"{"id":"a","source":"kernel","victim":{"pid":1.5,"comm":"x"}}"#]))
        ),
        (
            "pid 2^64",
            b(
                batchJSON(
                    host: "h",
                    events: [#"{"id":"a","source":"kernel","victim":{"pid":18446744073709551616,"comm":"x"}}"#]))
        ),
        ("negative pid", b(batchJSON(host: "h", events: [eventJSON(id: "a", pid: -1)]))),
        ("negative pid min", b(batchJSON(host: "h", events: [eventJSON(id: "a", pid: Int.min)]))),
        (
            "negative trigger pid",
            b(
                batchJSON(
                    host: "h",
                    events: [#"{"id":"a","source":"kernel","trigger":{"pid":-5},"victim":{"pid":1,"comm":"x"}}"#]))
        ),
        (
            "negative candidate pid",
            b(
                batchJSON(
                    host: "h",
                    events: [
                        #"{"id":"a","source":"kernel","victim":{"pid":1,"comm":"x"},"candidates":[{"pid":-3,"name":"y"}]}"#
                    ]))
        ),
        (
            "negative snapshot process pid",
            b(
                #"{"host":"h","events":[],"snapshots":[{"host":"h","time":"2026-01-01T00:00:00Z","memory":{},"vmstat":{},"processes":[{"pid":-9,"comm":"x","rss_kb":1}],"cgroups":[]}]}"#
            )
        ),
        (
            "unknown source",
            b(batchJSON(host: "h", events: [#"{"id":"a","source":"nope","victim":{"pid":1,"comm":"x"}}"#]))
        ),
        ("id with SQL", b(batchJSON(host: "h", events: [eventJSON(id: "a'; DROP TABLE events; --")]))),
        (
            "time garbage",
            b(
                batchJSON(
                    host: "h",
                    events: [#"{"id":"a","source":"kernel","time":"yesterday","victim":{"pid":1,"comm":"x"}}"#]))
        ),
        ("top-level array", b("[]")),
        ("top-level null", b("null")),
        ("empty body", []),
        ("truncated", b(#"{"host":"h","snapshots":[],"ev"#)),
        ("not gzip though declared", [0x1F, 0x8B, 0x08, 0x00, 0x01, 0x02]),
    ]
}()

extension Faults {
    @Test func hostileBodiesGet4xxNever5xx() async throws {
        try await withCollector("hostile") { collector in
            let port = collector.port
            let results = try await offload {
                hostileBodies.map { name, body in
                    (
                        name,
                        postIngest(
                            port, headers: name.hasPrefix("not gzip") ? ["Content-Encoding": "gzip"] : [:], body: body)
                    )
                }
            }
            for (name, response) in results {
                let status = response?.status ?? -1
                #expect((400..<500).contains(status), "\(name): got \(status) \(response?.text.prefix(200) ?? "")")
            }
            // Still alive and nothing of it stored.
            #expect(RawHTTP.request(port, "GET", "/healthz")?.status == 200)
            let events = RawHTTP.request(port, "GET", "/api/v1/events", token: CollectorProcess.readToken)
            #expect(events?.status == 200)
            #expect(events?.text.contains(#""events":[]"#) == true, "\(events?.text.prefix(300) ?? "")")
        }
    }

    /// Every JSONTestSuite `n_` file (the copy in OOMServerTests' fixtures) posted to the
    /// real binary gets 400; `y_` and `i_` files get 200 or 400, never 5xx.
    @Test func jsonTestSuiteOverTheWire() async throws {
        try await withCollector("jsonsuite") { collector in
            let port = collector.port
            let suite =
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path
                + "/OOMServerTests/Fixtures/json-test-suite"
            let names = try FileManager.default.contentsOfDirectory(atPath: suite).filter { $0.hasSuffix(".json") }
                .sorted()
            try #require(names.count > 200, "JSONTestSuite fixtures missing in \(suite)")
            let results = try await offload {
                names.map { name -> (String, Int) in
                    let body = [UInt8](FileManager.default.contents(atPath: suite + "/" + name) ?? Data())
                    return (name, postIngest(port, body: body)?.status ?? -1)
                }
            }
            for (name, status) in results {
                if name.hasPrefix("n_") {
                    #expect(status == 400, "\(name): \(status)")
                } else {
                    #expect(status == 200 || status == 400, "\(name): \(status)")
                }
            }
        }
    }

    /// 64 MB bodies (declared, chunked, gzip bomb) get 413 without the collector's memory
    /// growing by anything like that.
    @Test func hugeBodiesAre413WithoutMemoryGrowth() async throws {
        try await withCollector("huge") { collector in
            let port = collector.port
            // Warm up so the baseline includes the normal working set.
            _ = RawHTTP.ingest(
                port, token: CollectorProcess.agentToken, batchJSON(host: "warm", events: [eventJSON(id: "warm")]))
            let before = try #require(collector.child?.statusKB("VmHWM"))
            let huge = 64 << 20
            let filler = [UInt8](repeating: UInt8(ascii: "a"), count: huge)
            let (declared, chunked, bomb) = try await offload {
                () -> (RawResponse?, RawResponse?, RawResponse?) in
                // Declared length: refused from the header, before the body is sent.
                var declared: RawResponse?
                if let fd = RawHTTP.connect(port, timeout: 3) {
                    var head = "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    head += "Authorization: Bearer \(CollectorProcess.agentToken)\r\n"
                    head += "Content-Type: application/json\r\nContent-Length: \(huge)\r\n\r\n"
                    RawHTTP.sendAll(fd, Array(head.utf8) + filler.prefix(1 << 20))
                    declared = RawHTTP.readResponse(fd)
                    close(fd)
                }
                // Chunked, no length: refused while reading.
                var chunked: RawResponse?
                if let fd = RawHTTP.connect(port, timeout: 3) {
                    var head = "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    head += "Authorization: Bearer \(CollectorProcess.agentToken)\r\n"
                    head += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    RawHTTP.sendAll(fd, Array(head.utf8))
                    let chunk =
                        Array((String(1 << 20, radix: 16) + "\r\n").utf8) + [UInt8](filler.prefix(1 << 20)) + [13, 10]
                    var sent = 0
                    while sent < 64, RawHTTP.sendAll(fd, chunk) { sent += 1 }
                    if sent == 64 { RawHTTP.sendAll(fd, Array("0\r\n\r\n".utf8)) }
                    chunked = RawHTTP.readResponse(fd)
                    close(fd)
                }
                // 64 MB of JSON whitespace in 64 kB of gzip.
                let inner =
                    Array(#"{"host":"h","snapshots":[],"events":[]"#.utf8) + [UInt8](repeating: 32, count: huge) + [125]
                let gz = try Gzip.compress(inner)
                let bomb = postIngest(port, headers: ["Content-Encoding": "gzip"], body: gz)
                return (declared, chunked, bomb)
            }
            #expect(declared?.status == 413, "declared: \(declared?.status ?? -1)")
            #expect(chunked?.status == 413, "chunked: \(chunked?.status ?? -1) \(chunked?.text ?? "")")
            #expect(bomb?.status == 413, "gzip bomb: \(bomb?.status ?? -1) \(bomb?.text ?? "")")
            let after = try #require(collector.child?.statusKB("VmHWM"))
            print("hugeBodies: VmHWM before \(before) kB, after \(after) kB")
            // The 8 MB body limit may be buffered once or twice; 64 MB must not be.
            #expect(after - before < 40 * 1024, "peak RSS grew by \(after - before) kB")
            #expect(RawHTTP.request(port, "GET", "/healthz")?.status == 200)
        }
    }

    /// 200 connections that send half a request and stall do not delay a normal request
    /// by more than a second.
    @Test func slowConnectionsDoNotStarveOthers() async throws {
        try await withCollector("slow") { collector in
            let port = collector.port
            let (baseline, loaded, ingestStatus, opened) = try await offload {
                () -> (Double, Double, Int, Int) in
                func timed(_ body: () -> Int?) -> (Double, Int) {
                    let t = Date()
                    let s = body() ?? -1
                    return (Date().timeIntervalSince(t), s)
                }
                let (baseline, _) = timed { RawHTTP.request(port, "GET", "/healthz")?.status }
                var fds: [Int32] = []
                for i in 0..<200 {
                    guard let fd = RawHTTP.connect(port) else { continue }
                    let partial =
                        i % 2 == 0
                        ? "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(CollectorProcess.agentToken)\r\nContent-Length: 100000\r\n\r\n{\"host\":"
                        : "GET /api/v1/hosts HTTP/1.1\r\nHost: x\r\nX-Slow: "
                    RawHTTP.sendAll(fd, Array(partial.utf8))
                    fds.append(fd)
                }
                usleep(200_000)
                let (loaded, _) = timed { RawHTTP.request(port, "GET", "/healthz")?.status }
                let (_, ingest) = timed {
                    RawHTTP.ingest(
                        port, token: CollectorProcess.agentToken,
                        batchJSON(host: "slow", events: [eventJSON(id: "slow-1")])
                    )?.status
                }
                for fd in fds { close(fd) }
                return (baseline, loaded, ingest, fds.count)
            }
            print("slowConnections: opened \(opened), healthz \(baseline)s alone, \(loaded)s with them")
            #expect(opened == 200)
            #expect(loaded < baseline + 1.0)
            #expect(ingestStatus == 200)
        }
    }

    /// A body dribbled a byte at a time is refused with 408 once `timeouts.body_seconds`
    /// have passed, and a sender that stops halfway through its body is closed by
    /// `timeouts.idle_seconds`: neither holds its connection (or a handler) for longer.
    @Test func slowBodiesAre408AndStalledBodiesAreClosed() async throws {
        let timeouts = ["OOMWATCH_TIMEOUTS_BODY_SECONDS": "1", "OOMWATCH_TIMEOUTS_IDLE_SECONDS": "2"]
        try await withCollector("slow-body", environment: timeouts) { collector in
            let port = collector.port
            let head =
                "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(CollectorProcess.agentToken)\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"
            let (dribbled, dribbledAfter, stalledAfter, stalledAnswer) = try await offload {
                () -> (Int?, Double, Double, Int?) in
                // A byte every 200 ms: 400 bytes would take 80 s.
                guard let fd = RawHTTP.connect(port, timeout: 10) else { return (nil, 0, 0, nil) }
                let started = Date()
                RawHTTP.sendAll(fd, Array(head.utf8))
                var status: Int?
                while status == nil, Date().timeIntervalSince(started) < 10 {
                    usleep(200_000)
                    var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    if poll(&ready, 1, 0) > 0 {
                        status = RawHTTP.readResponse(fd)?.status ?? -1
                    } else if !RawHTTP.sendAll(fd, Array(" ".utf8)) {
                        status = -1
                    }
                }
                let dribbledAfter = Date().timeIntervalSince(started)
                close(fd)
                // Half the body, then nothing: read until the collector closes or answers.
                guard let stalled = RawHTTP.connect(port, timeout: 10) else { return (status, dribbledAfter, 0, nil) }
                let stalledStart = Date()
                RawHTTP.sendAll(stalled, Array((head + String(repeating: " ", count: 100)).utf8))
                let answer = RawHTTP.readResponse(stalled)?.status
                let stalledAfter = Date().timeIntervalSince(stalledStart)
                close(stalled)
                return (status, dribbledAfter, stalledAfter, answer)
            }
            print(
                "slowBodies: dribbled body answered \(dribbled ?? -1) after \(dribbledAfter)s; stalled body ended after \(stalledAfter)s (\(stalledAnswer.map(String.init) ?? "closed"))"
            )
            #expect(dribbled == 408)
            #expect(dribbledAfter >= 1 && dribbledAfter < 4)
            // Closed (or answered 408) by the idle timeout, well before the socket's own 10 s.
            #expect(stalledAfter >= 1 && stalledAfter < 6)
            #expect(stalledAnswer == nil || stalledAnswer == 408)
            // The collector still serves.
            let ingest = try await offload {
                RawHTTP.ingest(port, token: CollectorProcess.agentToken, batchJSON(host: "slow-body", events: []))?
                    .status
            }
            #expect(ingest == 200)
        }
    }

    @Test func conflictingLengthAndChunkedIs400() async throws {
        try await withCollector("smuggle") { collector in
            let port = collector.port
            let body = batchJSON(host: "smuggle", events: [eventJSON(id: "smuggle-1")])
            let chunked = String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n"
            let responses = try await offload {
                [
                    postIngest(
                        port, headers: ["Content-Length": "5", "Transfer-Encoding": "chunked"],
                        body: Array(chunked.utf8)),
                    postIngest(
                        port, headers: ["Transfer-Encoding": "chunked", "Content-Length": "\(chunked.utf8.count)"],
                        body: Array(chunked.utf8)),
                    postIngest(
                        port, headers: ["Content-Length": "3", "content-length": "\(body.utf8.count)"],
                        body: Array(body.utf8)),
                ]
            }
            for (i, r) in responses.enumerated() {
                #expect(r?.status == 400, "case \(i): \(r?.status ?? -1) \(r?.text ?? "")")
            }
            let events = RawHTTP.request(port, "GET", "/api/v1/events", token: CollectorProcess.readToken)
            #expect(events?.text.contains("smuggle-1") == false, "a conflicting request was stored")
        }
    }

    /// SQL metacharacters in every query parameter: answered 2xx/4xx, and the data and
    /// schema are unchanged afterwards.
    @Test func sqlMetacharactersChangeNothing() async throws {
        try await withCollector("sql") { collector in
            let port = collector.port
            let seed = RawHTTP.ingest(
                port, token: CollectorProcess.agentToken,
                batchJSON(host: "web-1", events: (0..<5).map { eventJSON(id: "sql-\($0)", comm: "java") }))
            #expect(seed?.status == 200)
            let payloads = [
                "' OR '1'='1", "' OR 1=1 --", "\"; DROP TABLE events; --", "'); DELETE FROM events; --",
                "%", "%' OR '%'='", "_", "\\", "' UNION SELECT * FROM hosts --", "1; UPDATE events SET pid=0",
                "web-1' --", "java%",
            ]
            func q(_ s: String) -> String {
                s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            }
            var paths: [String] = []
            for p in payloads {
                for name in [
                    "host", "comm", "source", "scope", "unit", "container", "since", "until", "limit", "cursor",
                ] {
                    paths.append("/api/v1/events?\(name)=\(q(p))")
                }
                paths.append("/api/v1/hosts/\(q(p))/snapshots?since=\(q(p))")
                paths.append("/api/v1/hosts/web-1/snapshots?until=\(q(p))&points=\(q(p))")
                paths.append("/api/v1/events/\(q(p))")
                paths.append("/api/v1/reports/summary?since=\(q(p))")
                paths.append("/api/v1/top?host=\(q(p))&limit=\(q(p))")
                paths.append("/api/v1/hosts?host=\(q(p))")
            }
            let allPaths = paths
            let answers = try await offload {
                allPaths.map { ($0, RawHTTP.request(port, "GET", $0, token: CollectorProcess.adminToken)) }
            }
            for (path, r) in answers {
                let status = r?.status ?? -1
                #expect((200..<500).contains(status), "\(path): \(status)")
                // A filter made of metacharacters matches nothing (no host or comm has them).
                if status == 200, path.hasPrefix("/api/v1/events?host=") || path.hasPrefix("/api/v1/events?comm=") {
                    let literal = !(path.contains("%25") || path.contains("_"))
                    if literal {
                        #expect(r?.text.contains("sql-") == false, "\(path) matched: \(r?.text.prefix(200) ?? "")")
                    }
                }
            }
            collector.stop()
            #expect(try sqlite(collector.dbPath, "SELECT count(*) FROM events;") == ["5"])
            #expect(try sqlite(collector.dbPath, "SELECT count(*) FROM events WHERE pid = 1234;") == ["5"])
            #expect(try sqlite(collector.dbPath, "SELECT count(*) FROM hosts;") == ["1"])
            #expect(try sqlite(collector.dbPath, "PRAGMA integrity_check;") == ["ok"])
        }
    }

    /// Runs `body` against a fresh collector in its own scratch directory, stopped and
    /// removed afterwards; skipped (with the reason printed) without the release binaries.
    private func withCollector(
        _ tag: String, environment: [String: String] = [:], _ body: (CollectorProcess) async throws -> Void
    ) async throws {
        guard let bins = Binaries.locate() else { return }
        let tmp = TempDir(tag)
        defer { tmp.remove() }
        let collector = try CollectorProcess(binary: bins.collector, dir: tmp.path, environment: environment)
        try await collector.start()
        defer { collector.stop() }
        try await body(collector)
    }
}

/// A raw POST of `body` to the ingest endpoint with the agent token.
private func postIngest(_ port: Int, headers: [String: String] = [:], body: [UInt8]) -> RawResponse? {
    RawHTTP.request(port, "POST", "/api/v1/ingest", token: CollectorProcess.agentToken, headers: headers, body: body)
}
