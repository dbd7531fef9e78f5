import HummingbirdTesting
import OOMKit
import OOMServer
import Testing

/// The collector's pace (`ingest.pace_posts_per_second`) through the real router: a
/// fleet that fits is not asked for anything; past it, every ingest answer asks for
/// hosts / posts-a-second seconds, capped, and /metrics says what it asks.
@Suite struct PacingRouteTests {
    /// The ingest answer's pace after a post for `host`.
    static func post(_ client: some TestClientProtocol, host: String) async throws -> Double? {
        try await client.execute(
            uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.adminToken),
            body: Fixture.json(Fixture.batch(host: host))
        ) { r in
            #expect(r.status == .ok)
            return try Fixture.decode(IngestResult.self, r.body).uploadIntervalS
        }
    }

    @Test func aFleetPastThePaceIsAskedToUploadLessOften() async throws {
        try await withRouter(configure: {
            $0.pacePostsPerSecond = 0.5
            $0.maxUploadIntervalSeconds = 8
        }) { client, _ in
            // One host at half a post a second: 2 s.
            #expect(try await Self.post(client, host: "h-0") == 2)
            // The same host again is still one host.
            #expect(try await Self.post(client, host: "h-0") == 2)
            #expect(try await Self.post(client, host: "h-1") == 4)
            #expect(try await Self.post(client, host: "h-2") == 6)
            // Ten hosts would need 20 s: capped at 8.
            for i in 3..<10 { _ = try await Self.post(client, host: "h-\(i)") }
            #expect(try await Self.post(client, host: "h-0") == 8)
            try await client.execute(uri: "/metrics", method: .get, headers: Fixture.headers(Fixture.adminToken)) { r in
                let text = String(buffer: r.body)
                #expect(text.contains("\noomwatch_ingest_active_hosts 10\n"), "\(text)")
                #expect(text.contains("\noomwatch_ingest_upload_interval_seconds 8.0\n"), "\(text)")
                // The writer's cache beside the pace: these posts carried no snapshots.
                #expect(text.contains("\noomwatch_writer_cache_hosts 0\n"), "\(text)")
                #expect(text.contains("\noomwatch_writer_cache_hosts_limit 100000\n"), "\(text)")
                #expect(text.contains("\noomwatch_writer_cache_reads_total{kind=\"process\"} 0\n"), "\(text)")
            }
        }
    }

    /// The pace asked is stored as the host's upload interval with the same batch, so
    /// the host is not stale while its agent waits the longer interval; an agent that
    /// reports a longer one of its own keeps it.
    @Test func theAskedPaceIsTheHostsUploadIntervalAtOnce() async throws {
        try await withRouter(configure: { $0.pacePostsPerSecond = 0.05 }) { client, _ in
            // The first post of "fast" counts one host (20 s); its second counts two.
            for (host, own) in [("fast", 10.0), ("slow", 90.0), ("fast", 10.0)] {
                var batch = Fixture.batch(host: host)
                batch.agent?.uploadIntervalS = own
                try await client.execute(
                    uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                    body: Fixture.json(batch)
                ) { r in
                    let answer = try Fixture.decode(IngestResult.self, r.body)
                    #expect(answer.uploadIntervalS != nil)
                }
            }
            try await client.execute(uri: "/api/v1/hosts", method: .get, headers: Fixture.headers(Fixture.readToken)) {
                r in
                let hosts = try Fixture.decode(HostsResponse.self, r.body).hosts
                // Two hosts at 0.05 posts a second: 40 s.
                #expect(hosts.first { $0.host == "fast" }?.uploadIntervalS == 40)
                #expect(hosts.first { $0.host == "slow" }?.uploadIntervalS == 90)
                #expect(hosts.allSatisfy { !$0.stale })
            }
        }
    }

    @Test func aFleetThatFitsOrPacingOffIsAskedForNothing() async throws {
        // The default, 1,000 posts a second: three hosts are far from it.
        try await withRouter { client, _ in
            for i in 0..<3 {
                let pace = try await Self.post(client, host: "h-\(i)")
                #expect(pace == nil)
            }
        }
        try await withRouter(configure: { $0.pacePostsPerSecond = 0 }) { client, _ in
            for i in 0..<3 {
                let pace = try await Self.post(client, host: "h-\(i)")
                #expect(pace == nil)
            }
        }
    }
}
