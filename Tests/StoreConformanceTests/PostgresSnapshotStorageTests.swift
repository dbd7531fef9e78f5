import Foundation
import OOMKit
import OOMPostgres
import OOMStore
import PostgresNIO
import Testing

/// Snapshots on PostgreSQL are stored as on SQLite (`SnapshotStorage`): process details
/// once per host, the rest deflated against the hour's first snapshot. Each comes back
/// exactly as sent, the stored bytes are small, two collectors share frames and details,
/// retention keeps what kept snapshots name, and rows of the previous schema still read.
@Suite("PostgreSQL compact snapshots", .enabled(if: Engine.postgres.isAvailable))
struct PostgresSnapshotStorageTests {
    static let host = "build-1"
    static let start = t("2026-11-20T09:50:00Z")

    /// `count` snapshots 10 s apart from three real `oomwatch-agent snapshot` outputs, with
    /// churn: memory and RSS move, vmstat counters grow, every 6th sample a process exits
    /// and another starts, one process changes its command line half way.
    static func sampled(count: Int) throws -> [MemorySnapshot] {
        let dir = #filePath[..<(#filePath.lastIndex(of: "/")!)]
        let text = try String(contentsOfFile: dir + "/../OOMServerTests/Fixtures/real-snapshots.jsonl", encoding: .utf8)
        let real = try text.split(separator: "\n").map {
            try JSONReader().decode(MemorySnapshot.self, from: Array($0.utf8))
        }
        return (0..<count).map { i in
            var s = real[i % real.count]
            s.host = host
            s.time = RFC3339.format(epochMicroseconds: start + Int64(i) * 10_000_000)
            s.uptimeS = 5000 + Double(i) * 10
            s.memory["available_kb", default: 0] -= Int64(i) * 4096
            for key in s.vmstat.keys { s.vmstat[key, default: 0] += Int64(i) * 13 }
            for j in s.processes.indices { s.processes[j].rssKB += Int64((i * 31 + j * 7) % 900) }
            if s.processes.count > 2 {
                s.processes[1].pid = 4_000_000 + i / 6
                s.processes[1].startedAt = RFC3339.format(epochMicroseconds: start + Int64(i / 6) * 60_000_000)
                if i >= count / 2 { s.processes[2].cmdline = (s.processes[2].cmdline ?? "") + " --reloaded" }
            }
            return s
        }
    }

    /// Every snapshot reads back as sent; bodies average well under 1 kB (the whole JSON
    /// was 4.5 kB); no row keeps the whole JSON; one frame per hour, one detail row per
    /// distinct process.
    @Test func compactBodiesAreSmallAndExact() async throws {
        let snapshots = try Self.sampled(count: 120)
        try await withScratchDatabase { name in
            try await withPostgresStore(database: name) { store in
                for chunk in stride(from: 0, to: snapshots.count, by: 6) {
                    let batch = Seed.batch(host: Self.host, snapshots: Array(snapshots[chunk..<chunk + 6]))
                    let r = try await store.ingest(batch, receivedAt: Self.start + 3_600_000_000)
                    #expect(r.snapshotsStored == 6)
                }
                try await Self.expectExact(snapshots, in: store)
            }
            try await withAdmin(database: name) { db in
                let row = try await Self.row(
                    """
                    SELECT avg(pg_column_size(body))::float8 AS body, count(*) AS n, count(json) AS whole,
                        (SELECT count(*) FROM snapshot_frames) AS frames,
                        (SELECT count(*) FROM snapshot_processes) AS details
                    FROM snapshots
                    """, on: db)
                let body: Double = try row["body"].decode(Double.self)
                print("PostgreSQL compact snapshot body: \(Int(body)) B on average over 120 snapshots")
                #expect(body < 700, "average stored body \(body) B")
                #expect(try row["n"].decode(Int64.self) == 120)
                #expect(try row["whole"].decode(Int64.self) == 0)
                #expect(try row["frames"].decode(Int64.self) == 2)
                let distinct = Set(
                    snapshots.flatMap { s in s.processes.map { try! ProcessDetail($0).canonicalJSON() } })
                #expect(try row["details"].decode(Int64.self) == Int64(distinct.count))
            }
        }
    }

    /// Two collectors store the same host's batches at once (the same batches, and
    /// different ones of the same hours): each snapshot is stored once, every one reads
    /// back exactly, and the hours' frames and the processes' details exist once.
    @Test func twoCollectorsShareFramesAndDetails() async throws {
        let snapshots = try Self.sampled(count: 96)
        let batches = stride(from: 0, to: snapshots.count, by: 4).map {
            Seed.batch(host: Self.host, snapshots: Array(snapshots[$0..<$0 + 4]))
        }
        try await withScratchDatabase { name in
            try await withPostgresStore(database: name) { a in
                try await withPostgresStore(database: name) { b in
                    let stored = try await withThrowingTaskGroup(of: Int.self) { group in
                        for (i, batch) in batches.enumerated() {
                            group.addTask { try await a.ingest(batch, receivedAt: Self.start).snapshotsStored }
                            if i % 2 == 0 {
                                group.addTask { try await b.ingest(batch, receivedAt: Self.start).snapshotsStored }
                            }
                        }
                        return try await group.reduce(0, +)
                    }
                    #expect(stored == snapshots.count)
                    try await Self.expectExact(snapshots, in: b)
                }
            }
            try await withAdmin(database: name) { db in
                let row = try await Self.row(
                    """
                    SELECT (SELECT count(*) FROM snapshot_frames) AS frames,
                        (SELECT count(*) FROM snapshot_processes) AS details,
                        (SELECT count(DISTINCT (host_id, pid, digest)) FROM snapshot_processes) AS distinct_details
                    """, on: db)
                #expect(try row["frames"].decode(Int64.self) == 2)
                #expect(try row["details"].decode(Int64.self) == row["distinct_details"].decode(Int64.self))
            }
        }
    }

    /// A frame and a process detail that another collector inserted while this one's
    /// ingest waited on them: the ingest takes that collector's rows (`ON CONFLICT`, then
    /// the winner is read) and its snapshots read back exactly.
    @Test func aConcurrentWritersFrameAndDetailWin() async throws {
        let snapshots = try Self.sampled(count: 70)
        let (first, frameRace, detailRace) = (snapshots[0..<6], snapshots[64..<66], snapshots[66..<70])
        // The other collector's frame: a different snapshot's compact JSON.
        let theirs = try SnapshotStorage.storedFrame(
            SnapshotStorage.compactJSON(snapshots[30], ids: snapshots[30].processes.map { _ in 1 }))
        var newcomer = detailRace.first!.processes[0]
        newcomer.pid = 5_000_000
        newcomer.startedAt = detailRace.first!.time
        let detailRaceBatch = detailRace.map {
            var s = $0
            s.processes.append(newcomer)
            return s
        }
        let detail = try ProcessDetail(newcomer).canonicalJSON()
        let hour = SnapshotStorage.hourOf(t(frameRace.first!.time))
        try await withScratchDatabase { name in
            try await withPostgresStore(database: name) { store in
                _ = try await store.ingest(Seed.batch(host: Self.host, snapshots: Array(first)), receivedAt: Self.start)
                try await withAdmin(database: name) { db in
                    try await Self.whileHeld(
                        "INSERT INTO snapshot_frames (host_id, hour, body) VALUES (1, \(hour), \(ByteBuffer(bytes: theirs)))",
                        on: db, ingest: Seed.batch(host: Self.host, snapshots: Array(frameRace)), into: store)
                    try await Self.whileHeld(
                        """
                        INSERT INTO snapshot_processes (host_id, pid, digest, last_seen, detail)
                        VALUES (1, \(Int64(newcomer.pid)), \(ProcessDetail.digest(detail)), \(Self.start),
                            \(String(decoding: detail, as: UTF8.self)))
                        """, on: db, ingest: Seed.batch(host: Self.host, snapshots: detailRaceBatch), into: store)
                    let row = try await Self.row(
                        """
                        SELECT (SELECT body FROM snapshot_frames WHERE hour = \(hour)) AS frame,
                            (SELECT count(*) FROM snapshot_processes WHERE pid = \(newcomer.pid)) AS details
                        """, on: db)
                    #expect(Array(buffer: try row["frame"].decode(ByteBuffer.self)) == theirs)
                    #expect(try row["details"].decode(Int64.self) == 1)
                }
                try await Self.expectExact(Array(first) + Array(frameRace) + detailRaceBatch, in: store)
            }
        }
    }

    /// Runs `sql` in a transaction on `db`, ingests `batch` into `store` meanwhile, and
    /// commits once the ingest waits on a lock that transaction holds.
    static func whileHeld(
        _ sql: PostgresQuery, on db: PostgresClient, ingest batch: IngestBatch, into store: PostgresStore
    )
        async throws
    {
        try await db.withConnection { c in
            try await c.query("BEGIN", logger: testLogger)
            try await c.query(sql, logger: testLogger)
            let ingest = Task { try await store.ingest(batch, receivedAt: Self.start) }
            var waited = false
            for _ in 0..<200 where !waited {
                try await Task.sleep(for: .milliseconds(50))
                waited =
                    try await Self.row("SELECT count(*) AS n FROM pg_locks WHERE NOT granted", on: db)["n"]
                    .decode(Int64.self) > 0
            }
            #expect(waited, "the ingest waits on the other transaction's row")
            try await c.query("COMMIT", logger: testLogger)
            #expect(try await ingest.value.snapshotsStored == batch.snapshots.count)
        }
    }

    /// Retention keeps the frames and details the kept snapshots name, and later drops
    /// every frame and detail once no snapshot names them.
    @Test func retentionKeepsWhatKeptSnapshotsName() async throws {
        let snapshots = try Self.sampled(count: 60)
        try await withScratchDatabase { name in
            try await withPostgresStore(database: name) { store in
                _ = try await store.ingest(Seed.batch(host: Self.host, snapshots: snapshots), receivedAt: Self.start)
                // Keep the last 3 minutes of 10: their frame and details stay.
                let now = t(snapshots.last!.time) + 1
                var policy = RetentionPolicy()
                policy.snapshotDays = 180.0 / 86_400
                let outcome = try await store.applyRetention(policy, now: now)
                #expect(outcome.snapshots == 42)
                try await Self.expectExact(Array(snapshots.suffix(18)), in: store)
                policy.snapshotDays = 1
                _ = try await store.applyRetention(policy, now: now + 3 * 86_400_000_000)
            }
            try await withAdmin(database: name) { db in
                let row = try await Self.row(
                    "SELECT (SELECT count(*) FROM snapshot_frames) + (SELECT count(*) FROM snapshot_processes) AS n",
                    on: db)
                #expect(try row["n"].decode(Int64.self) == 0)
            }
        }
    }

    /// A database of the previous schema (whole JSON per snapshot, details without ids)
    /// migrates forward: its rows read back unchanged, and the host's next snapshots are
    /// stored compactly next to them, naming the details it already had.
    @Test func previousSchemaRowsStillRead() async throws {
        let snapshots = try Self.sampled(count: 12)
        let old = Array(snapshots.prefix(6))
        try await withScratchDatabase { name in
            try await withAdmin(database: name) { db in
                try await PostgresSchema.migrate(
                    db, logger: testLogger,
                    migrations: PostgresSchema.migrations.filter { $0.name != "v9-pg-compact-snapshots" })
                // As the previous release's ingest wrote them.
                try await db.query(
                    "INSERT INTO hosts (name, first_seen, last_seen) VALUES (\(Self.host), \(Self.start), \(Self.start))"
                )
                for s in old {
                    let time = t(s.time)
                    let json = String(decoding: try JSONWriter().encode(s), as: UTF8.self)
                    try await db.query(
                        """
                        INSERT INTO snapshots (host_id, time, total_kb, available_kb, json)
                        VALUES (1, \(time), \(s.memory["total_kb"]), \(s.memory["available_kb"]), \(json))
                        """)
                    for p in s.processes {
                        let detail = try ProcessDetail(p).canonicalJSON()
                        try await db.query(
                            """
                            INSERT INTO snapshot_processes (host_id, pid, digest, last_seen, detail)
                            VALUES (1, \(Int64(p.pid)), \(ProcessDetail.digest(detail)), \(time),
                                \(String(decoding: detail, as: UTF8.self)))
                            ON CONFLICT DO NOTHING
                            """)
                    }
                }
            }
            try await withPostgresStore(database: name) { store in
                #expect(try await store.appliedMigrations().last == "v9-pg-compact-snapshots")
                try await Self.expectExact(old, in: store)
                let r = try await store.ingest(
                    Seed.batch(host: Self.host, snapshots: Array(snapshots.suffix(6))), receivedAt: Self.start)
                #expect(r.snapshotsStored == 6)
                try await Self.expectExact(snapshots, in: store)
            }
            try await withAdmin(database: name) { db in
                let row = try await Self.row(
                    """
                    SELECT count(json) AS whole, count(body) AS compact,
                        avg(pg_column_size(json))::float8 AS json_bytes, avg(pg_column_size(body))::float8 AS body_bytes,
                        (SELECT count(*) FROM snapshot_processes WHERE id IS NULL) AS no_id
                    FROM snapshots
                    """, on: db)
                #expect(try row["whole"].decode(Int64.self) == 6)
                #expect(try row["compact"].decode(Int64.self) == 6)
                #expect(try row["no_id"].decode(Int64.self) == 0)
                // The same kind of snapshot, stored both ways (the JSON TOAST-compressed).
                let (json, body) = (
                    try row["json_bytes"].decode(Double.self), try row["body_bytes"].decode(Double.self)
                )
                print("PostgreSQL snapshot stored: whole JSON \(Int(json)) B, compact body \(Int(body)) B on average")
                #expect(body * 4 < json)
            }
        }
    }

    /// Each snapshot, read alone, is the one sent.
    static func expectExact(_ snapshots: [MemorySnapshot], in store: PostgresStore) async throws {
        for s in snapshots {
            let time = t(s.time)
            let r = try await store.snapshots(host: host, since: time, until: time + 1, points: 1)
            #expect(r.latest == s, "\(s.time)")
        }
    }

    static func row(_ sql: PostgresQuery, on db: PostgresClient) async throws -> PostgresRandomAccessRow {
        for try await row in try await db.query(sql) { return row.makeRandomAccess() }
        throw CancellationError()
    }
}
