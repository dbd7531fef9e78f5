import Foundation
import OOMKit
import OOMServer
import OOMStore
import Testing

@Suite("Summary report: running totals and window scans agree")
struct ReportPathTests {
    @Test func subtractionAndWindowPathsMatchBruteForce() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        var rng = SystemRandomNumberGenerator()
        let base = t("2026-11-01T00:00:00Z")
        var all: [OOMEvent] = []
        for host in 0..<5 {
            var events: [OOMEvent] = []
            for i in 0..<120 {
                let time = base + Int64.random(in: 0..<(10 * 86_400_000_000), using: &rng)
                events.append(
                    Fixture.event(
                        "r\(host)-\(i)", host: "h\(host)", comm: ["a", "b", "c"].randomElement(using: &rng)!,
                        time: RFC3339.format(epochMicroseconds: time), rss: Int64(i),
                        unit: i % 4 == 0 ? "u\(i % 3).service" : nil, container: i % 7 == 0 ? "k\(i % 2)" : nil))
            }
            _ = try await db.ingest(Fixture.batch(host: "h\(host)", events: events))
            all += events
        }
        // Retention removes some: the totals must follow deletions too.
        var policy = RetentionPolicy()
        policy.eventDays = 1
        _ = try await db.applyRetention(policy, now: base + 2 * 86_400_000_000)
        all.removeAll { t($0.time!) < base + 86_400_000_000 }

        for (since, until) in [
            (base + 3 * 86_400_000_000, base + 100 * 86_400_000_000),  // running totals
            (base + 3 * 86_400_000_000 + 12_345, base + 8 * 86_400_000_000 + 999),  // window scan
            (base, base + 100 * 86_400_000_000),
        ] {
            let r = try await db.summary(since: since, until: until)
            let inside = all.filter { t($0.time!) >= since && t($0.time!) < until }
            #expect(r.totals.kills == inside.count)
            var byHost: [String: Int] = [:]
            var byComm: [String: Int] = [:]
            var byUnit: [String: Int] = [:]
            var pairs: [String: Int] = [:]
            var days: [String: Int] = [:]
            for e in inside {
                byHost[e.host!, default: 0] += 1
                byComm[e.victim.comm, default: 0] += 1
                if let u = e.victim.unit { byUnit[u, default: 0] += 1 }
                pairs[e.host! + "/" + e.victim.comm, default: 0] += 1
                days[String(e.time!.prefix(10)), default: 0] += 1
            }
            #expect(Dictionary(uniqueKeysWithValues: r.byHost.map { ($0.key, $0.kills) }) == byHost)
            #expect(Dictionary(uniqueKeysWithValues: r.byComm.map { ($0.key, $0.kills) }) == byComm)
            #expect(Dictionary(uniqueKeysWithValues: r.byUnit.map { ($0.key, $0.kills) }) == byUnit)
            #expect(
                Dictionary(uniqueKeysWithValues: r.repeatOffenders.map { ($0.host + "/" + $0.comm, $0.kills) })
                    == pairs.filter { $0.value >= 3 })
            #expect(Dictionary(uniqueKeysWithValues: r.byDay.map { ($0.day, $0.kills) }) == days)
            for o in r.repeatOffenders {
                let first = inside.filter { $0.host! + "/" + $0.victim.comm == o.host + "/" + o.comm }
                    .map { t($0.time!) }.min()!
                #expect(o.firstKill.map(t) == first)
            }
            #expect(
                r.largestVictims.map(\.rssKB) == inside.map { $0.victim.anonRssKB! }.sorted(by: >).prefix(10).map { $0 }
            )
        }
    }
}
