import GRDB
import Gzip
package import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How raw snapshots are kept (issue 15, "disk"): a snapshot's JSON was 8–60 kB, most of
/// it the process list repeating every 10 s. Now
/// - each process's details (command line, cgroup, start time …) are stored once per host,
///   pid and details in `snapshot_processes`, and a snapshot names them by id;
/// - the rest (every meminfo, vmstat and PSI number at full resolution, the processes'
///   memory numbers, cgroups, system facts) is the `CompactSnapshot` JSON, deflated
///   against the host's first snapshot of the same hour (`snapshot_frames`), so what did
///   not change since then costs a few bytes.
/// Every stored snapshot expands back to exactly what the agent sent.
///
/// The format (compact JSON, frames, deflate) is the same on both engines: the
/// PostgreSQL store calls the `package` parts here and keeps only its own SQL.
package enum SnapshotStorage {
    package static let hour: Int64 = 3_600_000_000

    /// A host's hour, whose snapshots share a frame (the key of frames kept in memory).
    package struct FrameKey: Hashable, Sendable {
        package var hostID: Int64
        package var hour: Int64

        package init(hostID: Int64, hour: Int64) {
            self.hostID = hostID
            self.hour = hour
        }
    }

    /// The hour (epoch microseconds, floored) a time falls in.
    package static func hourOf(_ time: Int64) -> Int64 {
        time - ((time % hour) + hour) % hour
    }

    /// The compact JSON of `compact`: sorted keys, so the same snapshot is the same bytes.
    package static func encode(_ compact: CompactSnapshot) throws -> [UInt8] {
        if let bytes = compact.sortedJSON() { return bytes }
        return try JSONWriter(sortedKeys: true).encode(compact)
    }

    /// The compact JSON of `snapshot` whose i-th process's details are stored as `ids[i]`.
    package static func compactJSON(_ snapshot: MemorySnapshot, ids: [Int64]) throws -> [UInt8] {
        guard ids.count == snapshot.processes.count else {
            throw StoreError.failed("\(ids.count) detail ids for \(snapshot.processes.count) processes")
        }
        var next = ids.makeIterator()
        return try encode(CompactSnapshot(snapshot) { _ in next.next()! })
    }

    /// A snapshot's stored body: its compact JSON (`bytes`) deflated against its hour's
    /// frame (the hour's first compact JSON, inflated).
    package static func deflate(_ bytes: [UInt8], frame: [UInt8]) throws -> [UInt8] {
        if let deflater { return try deflater.compress(bytes, dictionary: frame) }
        return try Deflate.compress(bytes, dictionary: frame, level: bodyLevel)
    }

    /// zlib's level for snapshot bodies: 6. Level 3 spends 16 µs of the writer's CPU a
    /// body instead of 26 but stores 10 % more bytes a snapshot (`bench/disk-sizing.py`:
    /// 444–461 B against 394–415 at 10 s); at 1,000 snapshots a second that is 1 % of a
    /// core saved for 4 GB a day more disk, so the body stays at 6.
    package static let bodyLevel: Int32 = 6

    /// A frame as stored: the hour's first compact JSON, deflated on its own.
    package static func storedFrame(_ firstSnapshot: [UInt8]) throws -> [UInt8] {
        try Deflate.compress(firstSnapshot)
    }

    /// A stored frame inflated: the dictionary its hour's bodies were deflated against.
    package static func frame(stored: [UInt8]) throws -> [UInt8] {
        try Deflate.decompress(stored)
    }

    /// The compact snapshot stored as `body`, given its hour's inflated `frame`.
    package static func compact(body: [UInt8], frame: [UInt8]) throws -> CompactSnapshot {
        try JSONReader().decode(CompactSnapshot.self, from: try Deflate.decompress(body, dictionary: frame))
    }

    /// A stored process detail (its canonical JSON text).
    package static func detail(_ text: String) throws -> ProcessDetail {
        try JSONReader().decode(ProcessDetail.self, from: Array(text.utf8))
    }

    /// `compact` made whole with the details its processes name; what is missing is an
    /// error naming the snapshot (`hostID`, `time`).
    package static func expand(_ compact: CompactSnapshot, details: [Int64: ProcessDetail], hostID: Int64, time: Int64)
        throws -> MemorySnapshot
    {
        guard let snapshot = compact.expanded(details: details) else {
            throw StoreError.failed("snapshot at \(time) of host \(hostID): a process's details are missing")
        }
        return snapshot
    }

    /// The stored body of `snapshot`, taken at `time` on `hostID`. Stores the details of
    /// processes not stored yet, and the hour's frame when this is its first snapshot.
    /// With `cache`, what was read before is not read again.
    static func body(
        for snapshot: MemorySnapshot, hostID: Int64, time: Int64, db: Database, cache: SnapshotCache? = nil
    ) throws -> [UInt8] {
        let compact = try CompactSnapshot(snapshot) { detail in
            try processID(detail, hostID: hostID, time: time, db: db, cache: cache)
        }
        let bytes = try encode(compact)
        let frame = try frame(hostID: hostID, hour: hourOf(time), firstSnapshot: bytes, db: db, cache: cache)
        return try deflate(bytes, frame: frame)
    }

    /// One zlib stream for every snapshot body, reset rather than set up again per
    /// snapshot; nil only when zlib could not allocate it (each body then sets up its own).
    static let deflater: Deflater? = try? Deflater(level: bodyLevel)

    /// The id of `detail` for this host, stored now if new. `last_seen` moves at most
    /// hourly (a write per process per hour, not per snapshot); retention keeps a detail
    /// until an hour after it, so every snapshot that names it is gone first.
    static func processID(
        _ detail: ProcessDetail, hostID: Int64, time: Int64, db: Database, cache: SnapshotCache? = nil
    ) throws -> Int64 {
        // The same details as last time for this pid: their id, without encoding them.
        if let known = cache?.process(hostID: hostID, pid: detail.pid), known.detail == detail {
            guard time > known.lastSeen + hour else { return known.id }
            if try touch(id: known.id, time: time, db: db) {
                var seen = known
                seen.lastSeen = time
                cache?.remember(seen, hostID: hostID, db: db)
                return known.id
            }
            // Deleted by retention meanwhile: stored again below.
            cache?.removeAll()
        }
        let json = try detail.canonicalJSON()
        let digest = ProcessDetail.digest(json)
        if let row = try Row.fetchOne(
            db.cachedStatement(
                sql: "SELECT id, last_seen FROM snapshot_processes WHERE host_id = ? AND pid = ? AND digest = ?"),
            arguments: [hostID, detail.pid, digest])
        {
            cache?.missed(.process)
            let id: Int64 = row["id"]
            var lastSeen: Int64 = row["last_seen"]
            if time > lastSeen + hour {
                _ = try touch(id: id, time: time, db: db)
                lastSeen = time
            }
            cache?.remember(
                SnapshotCache.Process(id: id, digest: digest, lastSeen: lastSeen, detail: detail), hostID: hostID,
                db: db)
            return id
        }
        try db.cachedStatement(
            sql: "INSERT INTO snapshot_processes (host_id, pid, digest, last_seen, detail) VALUES (?, ?, ?, ?, ?)"
        ).execute(arguments: [hostID, detail.pid, digest, time, String(decoding: json, as: UTF8.self)])
        return db.lastInsertedRowID
    }

    /// Moves a detail's `last_seen` to `time`; false when the row is gone.
    static func touch(id: Int64, time: Int64, db: Database) throws -> Bool {
        try db.cachedStatement(sql: "UPDATE snapshot_processes SET last_seen = ? WHERE id = ?")
            .execute(arguments: [time, id])
        return db.changesCount > 0
    }

    /// The hour's frame (a compact snapshot's JSON), stored from `firstSnapshot` when the
    /// hour has none yet.
    static func frame(
        hostID: Int64, hour: Int64, firstSnapshot: [UInt8], db: Database, cache: SnapshotCache? = nil
    ) throws -> [UInt8] {
        if let known = cache?.frame(hostID: hostID, hour: hour) { return known }
        if let stored = try Data.fetchOne(
            db.cachedStatement(sql: "SELECT body FROM snapshot_frames WHERE host_id = ? AND hour = ?"),
            arguments: [hostID, hour])
        {
            cache?.missed(.frame)
            let frame = try frame(stored: Array(stored))
            cache?.remember(frame: frame, hostID: hostID, hour: hour, db: db)
            return frame
        }
        try db.cachedStatement(sql: "INSERT INTO snapshot_frames (host_id, hour, body) VALUES (?, ?, ?)")
            .execute(arguments: [hostID, hour, Data(try storedFrame(firstSnapshot))])
        return firstSnapshot
    }

    /// The snapshot stored as `body` at `time` on `hostID`, as the agent sent it.
    static func snapshot(hostID: Int64, time: Int64, body: [UInt8], db: Database) throws -> MemorySnapshot {
        guard
            let frameBody = try Data.fetchOne(
                db, sql: "SELECT body FROM snapshot_frames WHERE host_id = ? AND hour = ?",
                arguments: [hostID, hourOf(time)])
        else { throw StoreError.failed("snapshot at \(time) of host \(hostID): its hour's frame is missing") }
        let compact = try compact(body: body, frame: try frame(stored: Array(frameBody)))
        var details: [Int64: ProcessDetail] = [:]
        let ids = Array(Set(compact.processes.map(\.ref)))
        if !ids.isEmpty {
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
            for row in try Row.fetchAll(
                db, sql: "SELECT id, detail FROM snapshot_processes WHERE id IN (\(marks))",
                arguments: StatementArguments(ids))
            {
                details[row["id"]] = try detail(row["detail"])
            }
        }
        return try expand(compact, details: details, hostID: hostID, time: time)
    }

    /// Schema for the above (migration `v6-snapshot-store`): the two new tables, and the
    /// snapshots table rebuilt with `body` in place of `json`, every existing row converted.
    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE snapshot_processes (
                    id INTEGER PRIMARY KEY,
                    host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    pid INTEGER NOT NULL,
                    -- ProcessDetail.digest of detail: found by host, pid and digest.
                    digest INTEGER NOT NULL,
                    last_seen INTEGER NOT NULL,
                    -- ProcessDetail as JSON with sorted keys.
                    detail TEXT NOT NULL,
                    UNIQUE (host_id, pid, digest)
                );
                CREATE TABLE snapshot_frames (
                    host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    hour INTEGER NOT NULL,
                    -- The hour's first CompactSnapshot JSON, deflated.
                    body BLOB NOT NULL,
                    PRIMARY KEY (host_id, hour)
                ) WITHOUT ROWID;
                CREATE TABLE snapshots_compact (
                    id INTEGER PRIMARY KEY,
                    host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    time INTEGER NOT NULL,
                    total_kb INTEGER,
                    available_kb INTEGER,
                    free_kb INTEGER,
                    cached_kb INTEGER,
                    anon_kb INTEGER,
                    shmem_kb INTEGER,
                    swap_total_kb INTEGER,
                    swap_free_kb INTEGER,
                    some_avg10 REAL,
                    some_avg60 REAL,
                    full_avg10 REAL,
                    full_avg60 REAL,
                    oom_kill INTEGER,
                    -- CompactSnapshot JSON deflated against the hour's frame.
                    body BLOB NOT NULL,
                    UNIQUE (host_id, time)
                );
                """)
        let columns = """
            id, host_id, time, total_kb, available_kb, free_kb, cached_kb, anon_kb, shmem_kb,
            swap_total_kb, swap_free_kb, some_avg10, some_avg60, full_avg10, full_avg60, oom_kill
            """
        let insert = try db.makeStatement(
            sql:
                "INSERT INTO snapshots_compact (\(columns), body) VALUES (\(Array(repeating: "?", count: 17).joined(separator: ",")))"
        )
        // Oldest first per host, so each hour's frame is its first snapshot, as at ingest.
        let rows = try Row.fetchCursor(db, sql: "SELECT \(columns), json FROM snapshots ORDER BY host_id, time")
        while let row = try rows.next() {
            let json: String = row["json"]
            let snapshot = try JSONReader().decode(MemorySnapshot.self, from: Array(json.utf8))
            var values = (0..<16).map { row[$0] as DatabaseValue }
            values.append(
                Data(try body(for: snapshot, hostID: row["host_id"], time: row["time"], db: db)).databaseValue)
            try insert.execute(arguments: StatementArguments(values))
        }
        try db.execute(
            sql: """
                DROP TABLE snapshots;
                ALTER TABLE snapshots_compact RENAME TO snapshots;
                CREATE INDEX snapshots_time ON snapshots(time);
                """)
    }
}
