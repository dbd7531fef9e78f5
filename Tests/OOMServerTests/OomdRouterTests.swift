import Foundation
import HummingbirdTesting
import OOMKit
import OOMServer
import Testing

/// A systemd-oomd kill names a cgroup, not a process: its victim pid is unknown and stays
/// `null` from the agent's parser through ingest, the store and the query API (issue 12.5).
@Suite("Collector HTTP routes: systemd-oomd kills")
struct OomdRouterTests {
    /// The event exactly as the agent's scanner reads it from a syslog line.
    static func oomdKill() throws -> OOMEvent {
        let line = Array(
            "Aug 12 05:00:00 ws-7 systemd-oomd[700]: Killed /system.slice/batch.service due to memory used (15.1G) / total (15.5G) and swap used (3.9G) / total (4.0G) being more than 90.00%\n"
                .utf8)
        var scanner = KernelLogScanner(parser: LogLineParser(options: .init(referenceEpochSeconds: 1_767_225_600)))
        let events = scanner.feed(line) + scanner.finish()
        try #require(events.count == 1)
        var e = events[0]
        #expect(e.victim.pid == nil)
        e.host = "web-1"
        return e
    }

    @Test func oomdKillKeepsANullPidThroughTheAPI() async throws {
        let kill = try Self.oomdKill()
        try await withRouter { client, _ in
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: Fixture.json(Fixture.batch(events: [kill]))
            ) { r in
                #expect(r.status == .ok)
                let result = try Fixture.decode(IngestResult.self, r.body)
                #expect(result.eventsStored == 1)
            }
            try await client.execute(
                uri: "/api/v1/events/\(kill.id)", method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .ok)
                let event = try Fixture.decode(OOMEvent.self, r.body)
                #expect(event.id == kill.id)
                #expect(event.source == .systemdOomd)
                #expect(event.victim.pid == nil)
                #expect(event.victim.cgroup == "/system.slice/batch.service")
                #expect(event.victim.unit == "batch.service")
                // Unknown is null (the key left out, as for every unknown field), never a
                // made-up 0.
                let victim = try #require(
                    JSONSerialization.jsonObject(with: Data(String(buffer: r.body).utf8)) as? [String: Any])["victim"]
                #expect((victim as? [String: Any])?["comm"] as? String == "batch.service")
                #expect((victim as? [String: Any])?["pid"].map { $0 is NSNull } ?? true)
            }
            try await client.execute(
                uri: "/api/v1/events?source=systemd-oomd&since=2025-01-01T00:00:00Z&until=2026-12-31T00:00:00Z",
                method: .get, headers: Fixture.headers(Fixture.readToken)
            ) { r in
                #expect(r.status == .ok)
                let page = try Fixture.decode(EventsPage.self, r.body)
                #expect(page.events.map(\.id) == [kill.id])
                #expect(page.events.first?.victim.pid == nil)
                #expect(!String(buffer: r.body).contains("\"pid\":0"))
            }
        }
    }
}
