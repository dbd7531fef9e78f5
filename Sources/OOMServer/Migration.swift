public import OOMKit
public import OOMPostgres
public import OOMStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where `oomwatch-collector migrate` got to: the last source rows it copied, and to
/// which target. Written after every committed page, so a re-run continues there; the
/// unique event ids and (host, time) of snapshots make a page copied twice store nothing
/// twice, so a crash between a commit and the checkpoint costs only a page of re-reading.
public struct MigrationCheckpoint: Sendable, Equatable {
    /// The target, as ``StoreLocation/description`` (no password): a checkpoint of
    /// another target is not continued.
    public var target: String
    public var hostsStarted = false
    public var eventRow: Int64 = 0
    public var snapshotRow: Int64 = 0
    public var hostsFinished = false

    public init(target: String) {
        self.target = target
    }

    /// The file's text: one `key value` a line.
    public var text: String {
        """
        target \(target)
        hosts_started \(hostsStarted)
        event_row \(eventRow)
        snapshot_row \(snapshotRow)
        hosts_finished \(hostsFinished)

        """
    }

    /// Reads ``text`` back; `nil` for anything else (a damaged file starts over, which
    /// costs time, never data).
    public static func parse(_ text: String) -> MigrationCheckpoint? {
        var fields: [Substring: Substring] = [:]
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { return nil }
            fields[line[..<space]] = line[line.index(after: space)...]
        }
        guard let target = fields["target"], let events = fields["event_row"].flatMap({ Int64($0) }),
            let snapshots = fields["snapshot_row"].flatMap({ Int64($0) }),
            let started = fields["hosts_started"].flatMap({ Bool(String($0)) }),
            let finished = fields["hosts_finished"].flatMap({ Bool(String($0)) })
        else { return nil }
        var checkpoint = MigrationCheckpoint(target: String(target))
        checkpoint.eventRow = events
        checkpoint.snapshotRow = snapshots
        checkpoint.hostsStarted = started
        checkpoint.hostsFinished = finished
        return checkpoint
    }
}

/// How far a migration is, for its progress line.
public struct MigrationProgress: Sendable, Equatable {
    public var phase: String
    public var eventsCopied = 0
    public var eventsTotal = 0
    public var snapshotsCopied = 0
    public var snapshotsTotal = 0

    public init(phase: String) {
        self.phase = phase
    }

    /// `migrate: events 1200/5000 (24%), snapshots 0/90000 (0%)`.
    public var line: String {
        func part(_ name: String, _ done: Int, _ total: Int) -> String {
            let percent = total == 0 ? 100 : min(100, done * 100 / total)
            return "\(name) \(done)/\(total) (\(percent)%)"
        }
        return "migrate: \(phase): " + part("events", eventsCopied, eventsTotal) + ", "
            + part("snapshots", snapshotsCopied, snapshotsTotal)
    }
}

/// What a finished migration found when it compared the two stores.
public struct MigrationReport: Sendable, Equatable {
    public var source: StoreCounts
    public var target: StoreCounts
    /// Rows this run copied (a resumed run counts only its own).
    public var eventsCopied: Int
    public var snapshotsCopied: Int

    /// True when the target holds as many hosts, events and snapshots as the source.
    public var countsMatch: Bool { source == target }
}

/// Copies a SQLite collector's history into another store through the store protocol:
/// host state first and last, events and snapshots in between, in pages of `pageSize`
/// rows, each host's rows of a page in one ingest (one transaction). Rollups, advice
/// tables and the latest host state are re-derived by the target's own ingest, exactly
/// as if the agents had sent the history to it.
public struct StoreMigration: Sendable {
    public var source: OOMDatabase
    public var target: any CollectorStore
    public var targetName: String
    public var checkpointPath: String
    public var pageSize = 500
    /// Batches of one page written at once (a page spans many hosts, one batch each).
    public var concurrency = 8

    public init(source: OOMDatabase, target: any CollectorStore, targetName: String, checkpointPath: String) {
        self.source = source
        self.target = target
        self.targetName = targetName
        self.checkpointPath = checkpointPath
    }

    /// Runs (or continues) the copy; `progress` hears after every page.
    public func run(progress: @Sendable (MigrationProgress) -> Void) async throws -> MigrationReport {
        var checkpoint = loadCheckpoint()
        let totals = try await source.counts()
        let hosts = try await source.exportHosts()
        var state = MigrationProgress(phase: "hosts")
        state.eventsTotal = totals.events
        state.snapshotsTotal = totals.snapshots
        let before = try await source.rowsUpTo(eventRow: checkpoint.eventRow, snapshotRow: checkpoint.snapshotRow)
        state.eventsCopied = before.events
        state.snapshotsCopied = before.snapshots

        // Hosts first, with the time each was first seen, so the target's first_seen is the
        // source's and not the time of the copy.
        if !checkpoint.hostsStarted {
            for host in hosts {
                _ = try await target.ingest(IngestBatch(host: host.name), receivedAt: host.firstSeen)
            }
            checkpoint.hostsStarted = true
            try save(checkpoint)
        }

        state.phase = "events"
        let copiedEvents = try await copyPages(
            from: \.eventRow, checkpoint: &checkpoint, fetch: source.exportEvents,
            batch: { host, rows in
                (IngestBatch(host: host, events: rows.map(\.event)), rows.map(\.received).max() ?? 0)
            },
            copied: {
                state.eventsCopied += $0; progress(state)
            })

        state.phase = "snapshots"
        let copiedSnapshots = try await copyPages(
            from: \.snapshotRow, checkpoint: &checkpoint, fetch: source.exportSnapshots,
            batch: { host, rows in
                (IngestBatch(host: host, snapshots: rows.map(\.snapshot)), rows.map(\.time).max() ?? 0)
            },
            copied: {
                state.snapshotsCopied += $0; progress(state)
            })

        // Last, each host's boot id, agent report and last-seen time.
        if !checkpoint.hostsFinished {
            state.phase = "host state"
            for host in hosts {
                let batch = IngestBatch(host: host.name, bootID: host.bootID, agent: host.agent)
                _ = try await target.ingest(batch, receivedAt: host.lastSeen)
            }
            checkpoint.hostsFinished = true
            try save(checkpoint)
        }
        state.phase = "done"
        progress(state)

        let after = try await source.counts()
        let copied: StoreCounts
        if let counting = target as? any StoreCounting {
            copied = try await counting.counts()
        } else {
            throw StoreError.failed("the target store cannot count its rows: the copy cannot be checked")
        }
        return MigrationReport(
            source: after, target: copied, eventsCopied: copiedEvents, snapshotsCopied: copiedSnapshots)
    }

    /// Ingests one page's batches, up to ``concurrency`` at once (each host's rows of the
    /// page are one batch, so a host's own order is kept); returns when all committed.
    /// Copies one kind of row page by page after the checkpoint's `cursor`: each host's
    /// rows of a page in one batch (`batch` makes it and the time it was received), then
    /// the checkpoint moves past the page. Returns the rows copied.
    func copyPages<Row: ExportedRow>(
        from cursor: WritableKeyPath<MigrationCheckpoint, Int64>, checkpoint: inout MigrationCheckpoint,
        fetch: (_ after: Int64, _ limit: Int) async throws -> [Row],
        batch: (_ host: String, _ rows: [Row]) -> (IngestBatch, Int64),
        copied: (Int) -> Void
    ) async throws -> Int {
        var total = 0
        while true {
            let page = try await fetch(checkpoint[keyPath: cursor], pageSize)
            guard let last = page.last else { return total }
            try await ingestAll(Self.grouped(page, by: \.host).map { batch($0.key, $0.rows) })
            total += page.count
            checkpoint[keyPath: cursor] = last.row
            try save(checkpoint)
            copied(page.count)
        }
    }

    func ingestAll(_ batches: [(IngestBatch, Int64)]) async throws {
        let target = target
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for (batch, received) in batches {
                if inFlight == max(1, concurrency) {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask { _ = try await target.ingest(batch, receivedAt: received) }
                inFlight += 1
            }
            try await group.waitForAll()
        }
    }

    /// `rows` in runs of one key, keeping their order: each run becomes one batch.
    static func grouped<Row>(_ rows: [Row], by key: (Row) -> String) -> [(key: String, rows: [Row])] {
        var groups: [(key: String, rows: [Row])] = []
        var index: [String: Int] = [:]
        for row in rows {
            let k = key(row)
            if let i = index[k] {
                groups[i].rows.append(row)
            } else {
                index[k] = groups.count
                groups.append((k, [row]))
            }
        }
        return groups
    }

    /// The saved checkpoint when it is for this target, else a fresh one.
    func loadCheckpoint() -> MigrationCheckpoint {
        guard let data = FileManager.default.contents(atPath: checkpointPath),
            let saved = MigrationCheckpoint.parse(String(decoding: data, as: UTF8.self)), saved.target == targetName
        else { return MigrationCheckpoint(target: targetName) }
        return saved
    }

    /// Writes the checkpoint beside itself and renames it into place, so a crash leaves
    /// the old one or the new one, never half of one.
    func save(_ checkpoint: MigrationCheckpoint) throws {
        let temporary = checkpointPath + ".tmp"
        do {
            try Data(checkpoint.text.utf8).write(to: URL(fileURLWithPath: temporary))
        } catch {
            throw StoreError.failed("cannot write the checkpoint \(temporary): \(error)")
        }
        guard rename(temporary, checkpointPath) == 0 else {
            throw StoreError.failed("cannot write the checkpoint \(checkpointPath): errno \(errno)")
        }
    }
}

extension PostgresStore: StoreCounting {
    public func counts() async throws(StoreError) -> StoreCounts {
        let rows = try await countRows()
        return StoreCounts(hosts: rows.hosts, events: rows.events, snapshots: rows.snapshots)
    }
}
