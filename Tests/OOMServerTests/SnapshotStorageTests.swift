import Foundation
import GRDB
import OOMKit
import OOMServer
import OOMStore
import Testing

/// Snapshots stored compactly (process details once, the rest deflated against the hour's
/// first snapshot) come back exactly as sent, and a database of the previous release is
/// converted in place.
@Suite("Compact snapshot storage")
struct SnapshotStorageTests {
    /// A host's day in miniature: processes come and go, RSS moves, one is renamed and
    /// one changes cgroup, across an hour boundary.
    static func churn(count: Int) -> [MemorySnapshot] {
        var out: [MemorySnapshot] = []
        for i in 0..<count {
            let time = RFC3339.format(epochMicroseconds: t("2026-11-20T09:55:00Z") + Int64(i) * 10_000_000)
            var processes: [ProcessSample] = []
            for k in 0..<20 {
                let pid = 1000 + k + (k >= 15 ? i / 7 : 0)  // the last five churn
                var p = ProcessSample(
                    pid: pid, comm: k == 3 && i > 20 ? "renamed" : "proc\(k)",
                    rssKB: Int64(50_000 + k * 1000 + i * 37 % 500))
                p.cmdline =
                    "/usr/bin/proc\(k) --config /etc/proc\(k).conf --threads \(k) " + String(repeating: "x", count: 200)
                p.cgroup = k == 4 && i > 30 ? "/system.slice/moved.service" : "/system.slice/proc\(k).service"
                p.unit = "proc\(k).service"
                p.startedAt = "2026-11-20T08:00:\(String(format: "%02d", k))Z"
                p.oomScore = 10 + (i + k) % 7
                p.oomScoreAdj = k == 0 ? -1000 : 0
                p.vmSizeKB = 900_000 + Int64(i)
                p.rssAnonKB = 40_000 + Int64(i)
                p.uid = 1000
                p.ppid = 1
                processes.append(p)
            }
            var s = Fixture.snapshot(
                time: time, total: 16_000_000, available: 8_000_000 - Int64(i * 1000), fullAvg60: 0.5,
                processes: processes)
            s.vmstat = ["oom_kill": 0, "pgfault": 1_000_000 + Int64(i) * 12_345, "pgmajfault": 77]
            s.cgroups = [CgroupSample(path: "/system.slice", usageKB: 1_000_000 + Int64(i), limitKB: nil, oomKill: 0)]
            s.kernel = "6.1.0-test"
            s.uptimeS = 1000 + Double(i) * 10
            out.append(s)
        }
        return out
    }

    @Test func everySnapshotExpandsToWhatWasSent() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let snapshots = Self.churn(count: 60)
        for chunk in stride(from: 0, to: snapshots.count, by: 6) {
            _ = try await db.ingest(Fixture.batch(snapshots: Array(snapshots[chunk..<min(chunk + 6, snapshots.count)])))
        }
        for s in snapshots {
            let time = t(s.time)
            let r = try await db.snapshots(host: "web-1", since: time, until: time + 1, points: 1)
            #expect(r.latest == s, "\(s.time)")
        }
        // Details stored once per process and details (the churned, renamed and moved ones
        // count anew), and one frame per hour.
        let (details, frames): (Int, Int) = try await db.write { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM snapshot_processes")!,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM snapshot_frames")!
            )
        }
        let distinct = Set(
            snapshots.flatMap { s in
                s.processes.map { String(decoding: try! ProcessDetail($0).canonicalJSON(), as: UTF8.self) }
            })
        #expect(details == distinct.count)
        #expect(details < 100)
        #expect(frames == 2)
    }

    @Test func aReleaseDatabaseIsConverted() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let source = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/v5-collector.sqlite").path
        try FileManager.default.createDirectory(atPath: dir.path + "/db", withIntermediateDirectories: true)
        let path = dir.path + "/db/oomwatch.sqlite"
        try FileManager.default.copyItem(atPath: source, toPath: path)
        // What the release stored, read before the conversion.
        let before: [(Int64, MemorySnapshot)] = try await DatabaseQueue(path: path).read { db in
            #expect(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations").last == "v5-alert-outbox")
            return try Row.fetchAll(db, sql: "SELECT time, json FROM snapshots ORDER BY time").map { row in
                let json: String = row["json"]
                return (row["time"], try JSONDecoder().decode(MemorySnapshot.self, from: Data(json.utf8)))
            }
        }
        #expect(before.count == 3)
        let db = try Fixture.collector(in: dir).database
        for (time, snapshot) in before {
            let r = try await db.snapshots(host: "fixture-host", since: time, until: time + 1, points: 1)
            #expect(r.latest == snapshot)
            #expect(r.points.count == 1)
        }
        let page = try await db.events(EventFilter())
        #expect(page.events.count == 1)
        // `top` reads the newest stored snapshot once the hosts row's copy is cleared (v12).
        let newest = try #require(before.max { $0.0 < $1.0 })
        #expect(!newest.1.processes.isEmpty)
        let top = try await db.top(host: "fixture-host", limit: 1000).processes
        #expect(top.map(\.process) == newest.1.processes.sorted { $0.rssKB > $1.rssKB })
        #expect(Set(top.map(\.time)) == [RFC3339.format(epochMicroseconds: newest.0)])
        let (migrations, jsonColumn, processesJSON): ([String], Int, Int) = try await db.write { db in
            (
                try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"),
                try Int.fetchOne(db, sql: "SELECT count(*) FROM pragma_table_info('snapshots') WHERE name = 'json'")!,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM hosts WHERE processes_json IS NOT NULL")!
            )
        }
        #expect(migrations.contains("v6-snapshot-store"))
        #expect(migrations.last == "v13-runs-without-last-index")
        #expect(jsonColumn == 0)
        #expect(processesJSON == 0)
    }

    @Test func retentionKeepsWhatRemainingSnapshotsName() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let snapshots = Self.churn(count: 60)
        _ = try await db.ingest(Fixture.batch(snapshots: snapshots))
        // Keep the last 3 minutes (of 10): the earlier hour's frame must stay, as must
        // every detail the remaining snapshots name.
        let now = t(snapshots.last!.time) + 1
        var policy = RetentionPolicy()
        policy.snapshotDays = 180.0 / 86_400
        _ = try await db.applyRetention(policy, now: now)
        for s in snapshots.suffix(17) {
            let time = t(s.time)
            let r = try await db.snapshots(host: "web-1", since: time, until: time + 1, points: 1)
            #expect(r.latest == s, "\(s.time)")
        }
        // Long after: everything goes.
        policy.snapshotDays = 1
        _ = try await db.applyRetention(policy, now: now + 3 * 86_400_000_000)
        let left: Int = try await db.write { db in
            try Int.fetchOne(
                db, sql: "SELECT (SELECT count(*) FROM snapshot_processes) + (SELECT count(*) FROM snapshot_frames)")!
        }
        #expect(left == 0)
    }

    /// The writer remembers the details and frames it has read, so an unchanged process
    /// costs no SELECT: what retention deleted must be stored again, not named from memory.
    @Test func afterRetentionTheSameProcessesAreStoredAgain() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let db = try Fixture.collector(in: dir).database
        let snapshots = Self.churn(count: 40)
        // One snapshot a batch, as agents post: from the second on, the writer's memory answers.
        for s in snapshots.prefix(20) { _ = try await db.ingest(Fixture.batch(snapshots: [s])) }
        var policy = RetentionPolicy()
        policy.snapshotDays = 1
        let later = t(snapshots[19].time) + 3 * 86_400_000_000
        _ = try await db.applyRetention(policy, now: later)
        // The same processes three days on.
        var moved: [MemorySnapshot] = []
        for s in snapshots.suffix(20) {
            var s = s
            s.time = RFC3339.format(epochMicroseconds: t(s.time) + 3 * 86_400_000_000)
            moved.append(s)
            _ = try await db.ingest(Fixture.batch(snapshots: [s]))
        }
        for s in moved {
            let time = t(s.time)
            let r = try await db.snapshots(host: "web-1", since: time, until: time + 1, points: 1)
            #expect(r.latest == s, "\(s.time)")
        }
    }
}
