import Foundation
import Gzip
import Hummingbird
import HummingbirdTesting
import OOMKit
import OOMServer
import OOMStore
import Testing

/// Runs `body` against the collector's router (no sockets).
func withRouter(
    configure: (inout CollectorConfiguration) -> Void = { _ in },
    _ body: @Sendable (any TestClientProtocol, Collector) async throws -> Void
) async throws {
    let dir = try TempDir()
    defer { dir.cleanup() }
    let collector = try Fixture.collector(in: dir, configure: configure)
    let app = Application(router: buildRouter(collector))
    try await app.test(.router) { client in try await body(client, collector) }
}

@Suite("Collector HTTP routes")
struct RouterTests {
    @Test func healthAndReadinessNeedNoToken() async throws {
        try await withRouter { client, _ in
            try await client.execute(uri: "/healthz", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("ok"))
            }
            try await client.execute(uri: "/readyz", method: .get) { r in #expect(r.status == .ok) }
        }
    }

    /// The agent's preflight probe: 200 to a token that may ingest, the same 401/403 an
    /// ingest would get otherwise, and nothing stored.
    @Test func agentCheckAnswersOnlyIngestTokens() async throws {
        try await withRouter { client, collector in
            for token in [Fixture.agentToken, Fixture.adminToken] {
                try await client.execute(
                    uri: "/api/v1/agent/check", method: .get, headers: Fixture.headers(token)
                ) { r in
                    #expect(r.status == .ok)
                    let answer = try Fixture.decode(AgentCheckResponse.self, r.body)
                    #expect(answer.status == "ok")
                    #expect(["agent", "admin"].contains(answer.role))
                    #expect(RFC3339.parse(answer.serverTime) != nil)
                }
            }
            try await client.execute(
                uri: "/api/v1/agent/check", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in #expect(r.status == .forbidden) }
            try await client.execute(
                uri: "/api/v1/agent/check", method: .get, headers: Fixture.headers("wrong-token")
            ) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/api/v1/agent/check", method: .get) { r in
                #expect(r.status == .unauthorized)
            }
            #expect(try await collector.database.hosts().isEmpty)
        }
    }

    /// With an expected-hosts file, `/api/v1/hosts` names the ones that never reported.
    @Test func hostsListsExpectedHostsThatNeverReported() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let file = dir.path + "/expected"
        try "# fleet\nweb-1\nWEB-2  # case-insensitive\n\ndb-9\nweb-1\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        try await withRouter(configure: { $0.expectedHostsFile = file }) { client, _ in
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: Fixture.json(
                    Fixture.batch(
                        host: "web-2", snapshots: [Fixture.snapshot(host: "web-2", time: "2026-11-20T10:00:00Z")]))
            ) { r in #expect(r.status == .ok) }
            try await client.execute(
                uri: "/api/v1/hosts", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                let hosts = try Fixture.decode(HostsResponse.self, r.body)
                #expect(hosts.hosts.map(\.host) == ["web-2"])
                #expect(hosts.missing == ["web-1", "db-9"])
            }
        }
        // Without the file the field is absent.
        try await withRouter { client, _ in
            try await client.execute(
                uri: "/api/v1/hosts", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in #expect(!String(buffer: r.body).contains("missing")) }
        }
    }

    @Test func ingestThenQueryRoundTrip() async throws {
        try await withRouter { client, _ in
            let batch = Fixture.batch(
                events: [Fixture.event("e1"), Fixture.event("e2", comm: "python")],
                snapshots: [Fixture.snapshot(time: "2026-11-20T10:00:00Z")])
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: Fixture.json(batch)
            ) { r in
                #expect(r.status == .ok)
                let result = try Fixture.decode(IngestResult.self, r.body)
                #expect(
                    result
                        == IngestResult(
                            eventsStored: 2, eventsDuplicate: 0, snapshotsStored: 1, processRefs: true,
                            snapshotDeltas: true))
            }
            // Re-sent: duplicates counted, nothing stored.
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.adminToken),
                body: Fixture.json(batch)
            ) { r in
                let result = try Fixture.decode(IngestResult.self, r.body)
                #expect(
                    result
                        == IngestResult(
                            eventsStored: 0, eventsDuplicate: 2, snapshotsStored: 0, processRefs: true,
                            snapshotDeltas: true))
            }
            try await client.execute(
                uri: "/api/v1/events?comm=python", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .ok)
                let page = try Fixture.decode(EventsPage.self, r.body)
                #expect(page.events.map(\.id) == ["e2"])
                #expect(page.events.first?.host == "web-1")
                #expect(String(buffer: r.body).contains("\"next_cursor\":null"))
            }
            try await client.execute(
                uri: "/api/v1/events/e1", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .ok)
                let event = try Fixture.decode(OOMEvent.self, r.body)
                #expect(event.victim.comm == "java")
            }
            try await client.execute(
                uri: "/api/v1/events/nope", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in #expect(r.status == .notFound) }
            try await client.execute(
                uri: "/api/v1/hosts", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                let hosts = try Fixture.decode(HostsResponse.self, r.body).hosts
                #expect(hosts.map(\.host) == ["web-1"])
                #expect(String(buffer: r.body).contains("\"kills_24h\""))
            }
            try await client.execute(
                uri: "/api/v1/hosts/web-1/snapshots?since=2026-11-20T09:00:00Z&until=2026-11-20T11:00:00Z&points=10",
                method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .ok)
                let s = try Fixture.decode(SnapshotsResponse.self, r.body)
                #expect(s.points.count == 1)
                // Buckets span only the part of the range with data (from 10:00): 1 h / 10.
                #expect(s.stepS == 360)
            }
            try await client.execute(
                uri: "/api/v1/reports/summary?since=2026-11-01T00:00:00Z&until=2026-12-01T00:00:00Z",
                method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .ok)
                let report = try Fixture.decode(SummaryReport.self, r.body)
                #expect(report.totals.kills == 2)
                for key in [
                    "by_host", "by_comm", "by_unit", "by_container", "by_day", "largest_victims",
                    "repeat_offenders", "hosts_at_risk",
                ] {
                    #expect(String(buffer: r.body).contains("\"\(key)\""))
                }
            }
            try await client.execute(
                uri: "/api/v1/top?limit=5", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in #expect(r.status == .ok) }
        }
    }

    @Test func gzipBodiesAreAccepted() async throws {
        try await withRouter { client, _ in
            let body = try Gzip.compress(Array(try JSONEncoder().encode(Fixture.batch(events: [Fixture.event("gz")]))))
            try await client.execute(
                uri: "/api/v1/ingest", method: .post,
                headers: Fixture.headers(Fixture.agentToken, gzip: true), body: ByteBuffer(bytes: body)
            ) { r in
                #expect(r.status == .ok)
                let result = try Fixture.decode(IngestResult.self, r.body)
                #expect(result.eventsStored == 1)
            }
            try await client.execute(
                uri: "/api/v1/ingest", method: .post,
                headers: Fixture.headers(Fixture.agentToken, gzip: true),
                body: ByteBuffer(string: "not gzip at all")
            ) { r in
                #expect(r.status == .badRequest)
                #expect(Fixture.message(r.body).contains("gzip"))
            }
        }
    }

    @Test func authErrors() async throws {
        try await withRouter { client, collector in
            let body = Fixture.json(Fixture.batch())
            for headers in [
                Fixture.headers(nil), Fixture.headers("wrong-token-0123456789"),
                [.authorization: "Basic dXNlcjpwYXNz"],
            ] as [HTTPFields] {
                try await client.execute(uri: "/api/v1/ingest", method: .post, headers: headers, body: body) { r in
                    #expect(r.status == .unauthorized)
                    #expect(r.headers[.wwwAuthenticate] == "Bearer")
                    #expect(!Fixture.message(r.body).isEmpty)
                }
                try await client.execute(uri: "/api/v1/hosts", method: .get, headers: headers) { r in
                    #expect(r.status == .unauthorized)
                }
            }
            // Wrong role both ways.
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.readToken), body: body
            ) { r in #expect(r.status == .forbidden) }
            for uri in [
                "/api/v1/hosts", "/api/v1/events", "/api/v1/reports/summary", "/api/v1/top",
                "/api/v1/events/x", "/api/v1/hosts/h/snapshots",
            ] {
                try await client.execute(uri: uri, method: .get, headers: Fixture.headers(Fixture.agentToken)) { r in
                    #expect(r.status == .forbidden, "\(uri)")
                }
            }
            // The metrics count them.
            try await client.execute(uri: "/metrics", method: .get, headers: Fixture.headers(Fixture.readToken)) { r in
                let text = String(buffer: r.body)
                #expect(text.contains("oomwatch_auth_failures_total 13"))
                #expect(text.contains("oomwatch_http_responses_total{code=\"401\"} 6"))
            }
            _ = collector
        }
    }

    @Test(arguments: [
        (#"{"host":"","events":[],"snapshots":[]}"#, "host"),
        (
            #"{"host":"h","events":[{"id":"a b","source":"kernel","victim":{"pid":1,"comm":"x"}}],"snapshots":[]}"#,
            "events[0].id"
        ),
        (
            #"{"host":"h","events":[{"id":"a","source":"kernel","victim":{"pid":-1,"comm":"x"}}],"snapshots":[]}"#,
            "events[0].victim.pid"
        ),
        (
            #"{"host":"h","events":[{"id":"a","source":"kernel","victim":{"pid":"1","comm":"x"}}],"snapshots":[]}"#,
            "events[0].victim.pid"
        ),
        (
            #"{"host":"h","events":[{"id":"a","source":"nope","victim":{"pid":1,"comm":"x"}}],"snapshots":[]}"#,
            "events[0].source"
        ),
        (
            #"{"host":"h","events":[{"id":"a","source":"kernel","time":"yesterday","victim":{"pid":1,"comm":"x"}}],"snapshots":[]}"#,
            "events[0].time"
        ),
        (
            #"{"host":"h","events":[{"id":"a","source":"kernel","host":"other","victim":{"pid":1,"comm":"x"}}],"snapshots":[]}"#,
            "events[0].host"
        ),
        (
            #"{"host":"h","events":[{"id":"a","source":"kernel","victim":{"pid":1,"comm":"x","anon_rss_kb":-5}}],"snapshots":[]}"#,
            "events[0].victim.anon_rss_kb"
        ),
        (#"{"host":"h","events":[{"id":"a","source":"kernel"}],"snapshots":[]}"#, "events[0].victim"),
        (
            #"{"host":"h","events":[],"snapshots":[{"host":"h","time":"2026-11-20T10:00:00Z","memory":{"total_kb":-1},"vmstat":{},"processes":[],"cgroups":[]}]}"#,
            "snapshots[0].memory.total_kb"
        ),
        (
            #"{"host":"h","events":[],"snapshots":[{"host":"h","time":"2026-11-20T10:00:00Z","memory":{},"vmstat":{},"pressure":{"some_avg10":101,"some_avg60":0,"some_avg300":0,"some_total_us":0},"processes":[],"cgroups":[]}]}"#,
            "snapshots[0].pressure.some_avg10"
        ),
        (
            #"{"host":"h","events":[],"snapshots":[{"host":"h","time":"2026-11-20","memory":{},"vmstat":{},"processes":[],"cgroups":[]}]}"#,
            "snapshots[0].time"
        ),
        (#"{"host":"h","agent":{"version":"1","interval_s":0},"events":[],"snapshots":[]}"#, "agent.interval_s"),
        (#"{"host":"h","events":[]}"#, "snapshots"),
        (#"{"host":"h","events":[],"snapshots":[],"boot_id":7}"#, "boot_id"),
        (
            #"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#,
            "nested"
        ),
        // Issue 19: which of two equal keys counts depends on the decoder, so neither does.
        (#"{"host":"web-1","host":"db-1","snapshots":[],"events":[]}"#, "duplicate key \"host\""),
        (#"{"host":"web-1","ho\u0073t":"db-1","snapshots":[],"events":[]}"#, "duplicate key \"host\""),
        (
            #"{"host":"h","snapshots":[],"events":[{"id":"a","source":"kernel","victim":{"pid":1,"pid":2,"comm":"x"}}]}"#,
            "duplicate key \"pid\""
        ),
        ("{not json", "JSON"),
        ("", "JSON"),
    ])
    func invalidFieldsAreNamed(body: String, field: String) async throws {
        try await withRouter { client, _ in
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: ByteBuffer(string: body)
            ) { r in
                #expect(r.status == .badRequest)
                #expect(Fixture.message(r.body).contains(field), "\(Fixture.message(r.body))")
            }
        }
    }

    @Test func bodyLimits() async throws {
        try await withRouter(configure: { $0.maxBodyBytes = 64 * 1024 }) { client, _ in
            let big = ByteBuffer(bytes: [UInt8](repeating: 32, count: 100 * 1024))
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken), body: big
            ) { r in #expect(r.status == .contentTooLarge) }
            // A small gzip body that inflates past the limit (a gzip bomb) is refused too.
            var json = Array(#"{"host":"h","events":[],"snapshots":[],"x":""#.utf8)
            json += [UInt8](repeating: 97, count: 1024 * 1024)
            json += Array(#""}"#.utf8)
            let bomb = try Gzip.compress(json)
            #expect(bomb.count < 64 * 1024)
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken, gzip: true),
                body: ByteBuffer(bytes: bomb)
            ) { r in
                #expect(r.status == .contentTooLarge)
                #expect(Fixture.message(r.body).contains("gzip"))
            }
            var brotli = Fixture.headers(Fixture.agentToken)
            brotli[.contentEncoding] = "br"
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: brotli,
                body: Fixture.json(Fixture.batch())
            ) { r in #expect(r.status == .unsupportedMediaType) }
        }
    }

    @Test func queryParametersAreValidated() async throws {
        try await withRouter { client, _ in
            let cases: [(String, String)] = [
                ("/api/v1/events?limit=0", "limit"),
                ("/api/v1/events?limit=abc", "limit"),
                ("/api/v1/events?since=yesterday", "since"),
                ("/api/v1/events?source=oom", "source"),
                ("/api/v1/events?scope=x", "scope"),
                ("/api/v1/events?cursor=zzz", "cursor"),
                ("/api/v1/events?comm=" + String(repeating: "a", count: 300), "comm"),
                ("/api/v1/reports/summary?since=1h&until=2h", "since"),
                ("/api/v1/hosts/web-1/snapshots?points=0", "points"),
                ("/api/v1/top?limit=-1", "limit"),
            ]
            for (uri, field) in cases {
                try await client.execute(uri: uri, method: .get, headers: Fixture.headers(Fixture.readToken)) { r in
                    #expect(r.status == .badRequest, "\(uri)")
                    #expect(Fixture.message(r.body).hasPrefix(field), "\(uri): \(Fixture.message(r.body))")
                }
            }
            // Hostile values are bound, not spliced: they simply match nothing.
            try await client.execute(
                uri: "/api/v1/events?host=x'%20OR%201=1--&comm=%22;DROP%20TABLE%20events;--",
                method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .ok)
                let page = try Fixture.decode(EventsPage.self, r.body)
                #expect(page.events.isEmpty)
            }
        }
    }

    @Test func rateLimitPerToken() async throws {
        try await withRouter(configure: {
            $0.rateLimitPerSecond = 0.01
            $0.rateLimitBurst = 3
        }) { client, _ in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<5 {
                try await client.execute(
                    uri: "/api/v1/hosts", method: .get, headers: Fixture.headers(Fixture.readToken)
                ) { r in
                    statuses.append(r.status)
                    if r.status == .tooManyRequests {
                        #expect(Int(r.headers[.retryAfter] ?? "") ?? 0 >= 1)
                    }
                }
            }
            #expect(statuses == [.ok, .ok, .ok, .tooManyRequests, .tooManyRequests])
            // Another token has its own bucket.
            try await client.execute(uri: "/api/v1/hosts", method: .get, headers: Fixture.headers(Fixture.adminToken)) {
                r in
                #expect(r.status == .ok)
            }
        }
    }

    @Test func metricsExposeIngestAndFleetFigures() async throws {
        try await withRouter { client, _ in
            let now = RFC3339.format(epochMicroseconds: nowMicroseconds())
            let batch = Fixture.batch(events: [Fixture.event("m1", time: now)])
            for _ in 0..<2 {
                try await client.execute(
                    uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                    body: Fixture.json(batch)
                ) { r in #expect(r.status == .ok) }
            }
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: Fixture.headers(Fixture.readToken)) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = String(buffer: r.body)
                for line in [
                    "oomwatch_ingest_batches_total{result=\"ok\"} 2", "oomwatch_ingest_events_total 1",
                    "oomwatch_ingest_duplicate_events_total 1", "oomwatch_hosts 1", "oomwatch_stale_hosts 0",
                    "oomwatch_host_kills_24h{host=\"web-1\"} 1", "oomwatch_ingest_duration_seconds_count 2",
                ] {
                    #expect(text.contains(line), "\(line)")
                }
                #expect(text.contains("oomwatch_database_size_bytes "))
            }
        }
    }

    @Test func dashboardIsServedWithoutToken() async throws {
        try await withRouter { client, _ in
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(String(buffer: r.body).lowercased().contains("<html"))
            }
            try await client.execute(uri: "/dashboard", method: .get) { r in #expect(r.status == .ok) }
            // Every dashboard file carries the page's security headers.
            for path in ["/", "/dashboard", "/app.js", "/dashboard/style.css"] {
                try await client.execute(uri: path, method: .get) { r in
                    #expect(r.status == .ok, "\(path)")
                    #expect(
                        r.headers[.contentSecurityPolicy]
                            == "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'", "\(path)")
                    #expect(r.headers[.xContentTypeOptions] == "nosniff", "\(path)")
                    #expect(
                        r.headers.contains { $0.name.canonicalName == "referrer-policy" && $0.value == "no-referrer" },
                        "\(path)")
                    #expect(r.headers[.cacheControl] == "no-cache", "\(path)")
                }
            }
        }
    }
}
