import Foundation
import OOMKit
import Testing

/// `oomwatch advise` against a real collector: the three formats and the host filter.
@Suite(.serialized) struct AdviseCommandTests {
    static let now = RFC3339.parse(Fleet.fixedNow)!

    /// sshd killed on web-1 (critical-victim), nothing wrong on db-1.
    static var seed: [IngestBatch] {
        var sshd = OOMEvent(id: "sshd-kill-1", source: .kernel, victim: OOMEvent.Victim(pid: 812, comm: "sshd"))
        sshd.host = "web-1"
        sshd.scope = .memcg
        sshd.time = RFC3339.format(epochMicroseconds: now - 3_600_000_000)
        sshd.victim.anonRssKB = 8192
        let quiet = MemorySnapshot(host: "db-1", time: RFC3339.format(epochMicroseconds: now - 60_000_000))
        return [
            IngestBatch(host: "web-1", events: [sshd]),
            IngestBatch(host: "db-1", snapshots: [quiet]),
        ]
    }

    @Test func tableJSONAndCSV() async throws {
        try await TestCollector.with(seed: Self.seed) { c in
            let table = try await c.run(["advise", "--now", Fleet.fixedNow], environment: ["COLUMNS": "100"])
            #expect(table.status == 0, "\(table.stderr)")
            #expect(
                table.stdout == """
                    OOM advice 2026-10-29T14:00:00Z to 2026-11-28T14:00:00Z
                      1 critical

                    CRITICAL  web-1  critical-victim  sshd
                      evidence: sshd (critical service sshd) was killed once, last at 2026-11-28T13:00:00Z with 8 MiB
                                RSS
                      kills:    sshd-kill-1
                      action:   Protect it: `systemctl edit sshd.service` and add [Service] OOMScoreAdjust=-900, then
                                find what filled the memory (see the host's other findings)

                    """)

            let json = try await c.run(["advise", "--format", "json", "--now", Fleet.fixedNow])
            let report = try JSONDecoder().decode(AdviceReport.self, from: Data(json.stdout.utf8))
            #expect(report.findings.map(\.kind) == [.criticalVictim])
            #expect(report.findings.first?.evidence.eventIDs == ["sshd-kill-1"])

            let csv = try await c.run(["advise", "--format", "csv", "--now", Fleet.fixedNow])
            let lines = csv.stdout.split(separator: "\n")
            #expect(lines.first == "severity,kind,host,subject,evidence,event_ids,values,first,last,action")
            #expect(lines.count == 2)
            #expect(lines.last?.hasPrefix("critical,critical-victim,web-1,sshd,") == true)

            let other = try await c.run(["advise", "--host", "db-1", "--now", Fleet.fixedNow])
            #expect(other.stdout.hasSuffix("  (no findings)\n"))
            let narrow = try await c.run(["advise", "--since", "30m", "--now", Fleet.fixedNow])
            #expect(narrow.stdout.contains("(no findings)"))
        }
    }

    @Test func aCutListSaysSo() async throws {
        var seed = Self.seed
        var journald = OOMEvent(
            id: "journald-kill-1", source: .kernel, victim: OOMEvent.Victim(pid: 300, comm: "systemd-journal"))
        journald.host = "web-2"
        journald.scope = .memcg
        journald.time = RFC3339.format(epochMicroseconds: Self.now - 7_200_000_000)
        seed.append(IngestBatch(host: "web-2", events: [journald]))
        try await TestCollector.with(seed: seed) { c in
            let table = try await c.run(["advise", "--limit", "1", "--now", Fleet.fixedNow])
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.contains("  showing the first 1 of 2 findings (raise --limit for more)\n"))
            // The newest kill's finding is the one kept.
            #expect(table.stdout.contains("CRITICAL  web-1  critical-victim  sshd"))
            #expect(!table.stdout.contains("web-2"))

            let csv = try await c.run(["advise", "--limit", "1", "--format", "csv", "--now", Fleet.fixedNow])
            #expect(csv.stdout.split(separator: "\n").count == 2)
            #expect(csv.stderr.contains("showing the first 1 of 2 findings"))

            let json = try await c.run(["advise", "--limit", "1", "--format", "json", "--now", Fleet.fixedNow])
            let report = try JSONDecoder().decode(AdviceReport.self, from: Data(json.stdout.utf8))
            #expect(report.total == 2 && report.truncated && report.findings.count == 1)

            let all = try await c.run(["advise", "--now", Fleet.fixedNow])
            #expect(!all.stdout.contains("showing the first"))
            #expect(all.stdout.contains("  2 critical\n"))

            let bad = try await c.run(["advise", "--limit", "0"])
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("--limit"))
        }
    }

    @Test func badSinceIsAUsageError() async throws {
        try await TestCollector.with(seed: []) { c in
            let r = try await c.run(["advise", "--since", "last tuesday"])
            #expect(r.status == 2)
            #expect(r.stderr.contains("since"))
        }
    }
}
