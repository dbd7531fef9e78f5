import Foundation
import HummingbirdTesting
import OOMKit
import OOMServer
import OOMStore
import Testing

/// Processes by reference through the real router: resolved from what the collector
/// stored, a 409 that stores nothing when it holds no such details.
@Suite struct ProcessReferenceRouteTests {
    static func snapshot(time: String, rss: Int64) -> MemorySnapshot {
        var p = ProcessSample(pid: 4242, comm: "java", rssKB: rss)
        p.cmdline = "/usr/bin/java -Xmx4g -jar app.jar"
        p.cgroup = "/system.slice/app.service"
        p.unit = "app.service"
        p.startedAt = "2026-11-20T08:00:00Z"
        p.oomScore = 600
        return Fixture.snapshot(time: time, processes: [p])
    }

    @Test func referencesAreFilledInOrAnswered409() async throws {
        try await withRouter { client, collector in
            let first = Self.snapshot(time: "2026-11-20T10:00:00Z", rss: 1000)
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: Fixture.json(Fixture.batch(snapshots: [first]))
            ) { r in
                #expect(r.status == .ok)
                let result = try Fixture.decode(IngestResult.self, r.body)
                #expect(result.processRefs == true)
            }
            // The same process by reference: stored in full.
            let second = Self.snapshot(time: "2026-11-20T10:00:10Z", rss: 2000)
            let digest = ProcessDetail.digest(try ProcessDetail(second.processes[0]).canonicalJSON())
            var short = second
            short.processes = [second.processes[0].reference(digest: digest)]
            #expect(short.processes[0].cmdline == nil)
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: Fixture.json(Fixture.batch(snapshots: [short]))
            ) { r in #expect(r.status == .ok, "\(Fixture.message(r.body))") }
            let time = RFC3339.parse(second.time)!
            let stored = try await collector.database.snapshots(
                host: "web-1", since: time, until: time + 1, points: 1)
            #expect(stored.latest == second)
            // Details this collector never saw: 409 naming the process, nothing stored.
            var unknown = Self.snapshot(time: "2026-11-20T10:00:20Z", rss: 3000)
            unknown.processes = [unknown.processes[0].reference(digest: digest &+ 1)]
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: Fixture.json(Fixture.batch(snapshots: [unknown]))
            ) { r in
                #expect(r.status == .conflict)
                #expect(Fixture.message(r.body).hasPrefix("snapshots[0].processes[0].ref: "))
                #expect(Fixture.message(r.body).contains("send the full form"))
            }
            let after = try await collector.database.snapshots(
                host: "web-1", since: time + 1, until: time + 60_000_000, points: 1)
            #expect(after.latest == nil)
            // A malformed reference is a 400 naming the field.
            var bad = Self.snapshot(time: "2026-11-20T10:00:30Z", rss: 3000)
            bad.processes[0].ref = "not-hex"
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: Fixture.json(Fixture.batch(snapshots: [bad]))
            ) { r in
                #expect(r.status == .badRequest)
                #expect(Fixture.message(r.body).hasPrefix("snapshots[0].processes[0].ref: "))
            }
        }
    }
}
