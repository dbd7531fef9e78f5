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
/// twice, an hourly rollup copied twice replaces itself and an agent counter report is
/// kept once, so a crash between a commit and the checkpoint costs only a page of
/// re-reading.
public struct MigrationCheckpoint: Sendable, Equatable {
    /// The target, as ``StoreLocation/description`` (no password): a checkpoint of
    /// another target is not continued.
    public var target: String
    public var hostsStarted = false
    public var eventRow: Int64 = 0
    public var snapshotRow: Int64 = 0
    /// The last hourly rollup and agent counter report copied (a checkpoint written before
    /// these phases existed starts them from the beginning).
    public var hourly = HistoryKey.start
    public var agentCounters = HistoryKey.start
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
        hourly_hour \(hourly.time)
        hourly_host \(hourly.host)
        hosts_finished \(hostsFinished)
        counters_time \(agentCounters.time)
        counters_host \(agentCounters.host)

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
        func key(_ host: Substring, _ time: Substring) -> HistoryKey? {
            guard let h = fields[host], let t = fields[time] else { return .start }
            guard let host = Int64(h), let time = Int64(t) else { return nil }
            return HistoryKey(host: host, time: time)
        }
        guard let hourly = key("hourly_host", "hourly_hour"), let counters = key("counters_host", "counters_time")
        else { return nil }
        checkpoint.hourly = hourly
        checkpoint.agentCounters = counters
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
    public var hourlyCopied = 0
    public var hourlyTotal = 0
    public var agentCountersCopied = 0
    public var agentCountersTotal = 0

    public init(phase: String) {
        self.phase = phase
    }

    /// `migrate: events: events 1200/5000 (24%), snapshots 0/90000 (0%), hourly rollups
    /// 0/2000 (0%), agent counters 0/40 (0%)`.
    public var line: String {
        func part(_ name: String, _ done: Int, _ total: Int) -> String {
            let percent = total == 0 ? 100 : min(100, done * 100 / total)
            return "\(name) \(done)/\(total) (\(percent)%)"
        }
        return "migrate: \(phase): " + part("events", eventsCopied, eventsTotal) + ", "
            + part("snapshots", snapshotsCopied, snapshotsTotal) + ", "
            + part("hourly rollups", hourlyCopied, hourlyTotal) + ", "
            + part("agent counters", agentCountersCopied, agentCountersTotal)
    }
}

/// What a finished migration found when it compared the two stores.
public struct MigrationReport: Sendable, Equatable {
    public var source: StoreCounts
    public var target: StoreCounts
    /// Rows this run copied (a resumed run counts only its own).
    public var eventsCopied: Int
    public var snapshotsCopied: Int
    public var hourlyCopied = 0
    public var agentCountersCopied = 0
    /// Agent counter reports the target holds beyond the source's: one for each host whose
    /// report the source's retention had deleted from its counters history (the target
    /// stores the host's current report as it takes the host state).
    public var agentCountersAdded = 0

    /// The counts the target should have: the source's, plus ``agentCountersAdded``.
    public var expected: StoreCounts {
        var counts = source
        counts.agentCounters += agentCountersAdded
        return counts
    }

    /// True when the target holds as many hosts, events, snapshots, hourly rollups and
    /// agent counter reports as the source (and the reports added).
    public var countsMatch: Bool { expected == target }
}

/// Copies a SQLite collector's history into another store through the store protocol:
/// the hosts, their events and snapshots in pages of `pageSize` rows, each host's rows of
/// a page in one ingest (one transaction), so the target's own ingest derives the kill
/// rollups, advice tables and latest host state exactly as if the agents had sent the
/// history to it. Then the source's hourly rollups replace the ones derived (the source
/// keeps them long after retention deleted the raw snapshots, and counted every sample),
/// the hosts' own state, and the agents' counter reports, each page of those imported in
/// one transaction.
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
        state.hourlyTotal = totals.hourly
        state.agentCountersTotal = totals.agentCounters
        let before = try await source.rowsUpTo(eventRow: checkpoint.eventRow, snapshotRow: checkpoint.snapshotRow)
        state.eventsCopied = before.events
        state.snapshotsCopied = before.snapshots
        let history = try await source.historyRowsUpTo(
            hourly: checkpoint.hourly, agentCounters: checkpoint.agentCounters)
        state.hourlyCopied = history.hourly
        state.agentCountersCopied = history.agentCounters

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

        // After the snapshots, so the source's hourly rows replace those the copy derived.
        state.phase = "hourly rollups"
        let copiedHourly = try await importPages(
            from: \.hourly, checkpoint: &checkpoint, fetch: source.exportHourly, key: \.key,
            write: { _ = try await target.importHourly($0) },
            copied: {
                state.hourlyCopied += $0; progress(state)
            })

        // Each host's boot id, agent report (stored when the source stored it, so the
        // counter report it makes is the source's) and last-seen time.
        if !checkpoint.hostsFinished {
            state.phase = "host state"
            for host in hosts {
                let reported = host.agentTime ?? host.lastSeen
                let batch = IngestBatch(host: host.name, bootID: host.bootID, agent: host.agent)
                _ = try await target.ingest(batch, receivedAt: reported)
                if reported < host.lastSeen {
                    _ = try await target.ingest(IngestBatch(host: host.name), receivedAt: host.lastSeen)
                }
            }
            checkpoint.hostsFinished = true
            try save(checkpoint)
        }

        // Last, so a report the host state stored keeps its full form.
        state.phase = "agent counters"
        let copiedCounters = try await importPages(
            from: \.agentCounters, checkpoint: &checkpoint, fetch: source.exportAgentCounters, key: \.key,
            write: { _ = try await target.importAgentCounters($0) },
            copied: {
                state.agentCountersCopied += $0; progress(state)
            })
        state.phase = "done"
        progress(state)

        let after = try await source.counts()
        let copied: StoreCounts
        if let counting = target as? any StoreCounting {
            copied = try await counting.counts()
        } else {
            throw StoreError.failed("the target store cannot count its rows: the copy cannot be checked")
        }
        var report = MigrationReport(
            source: after, target: copied, eventsCopied: copiedEvents, snapshotsCopied: copiedSnapshots)
        report.hourlyCopied = copiedHourly
        report.agentCountersCopied = copiedCounters
        report.agentCountersAdded = hosts.filter { $0.agent != nil && $0.agentTime == nil }.count
        return report
    }

    /// Copies one kind of row page by page after the checkpoint's `cursor`: each host's
    /// rows of a page in one batch (`batch` makes it and the time it was received), then
    /// the checkpoint moves past the page. Returns the rows copied.
    func copyPages<Row: ExportedRow>(
        from cursor: WritableKeyPath<MigrationCheckpoint, Int64>, checkpoint: inout MigrationCheckpoint,
        fetch: (_ after: Int64, _ limit: Int) async throws -> [Row],
        batch: (_ host: String, _ rows: [Row]) -> (IngestBatch, Int64),
        copied: (Int) -> Void
    ) async throws -> Int {
        try await importPages(
            from: cursor, checkpoint: &checkpoint, fetch: fetch, key: \.row,
            write: { page in try await ingestAll(Self.grouped(page, by: \.host).map { batch($0.key, $0.rows) }) },
            copied: copied)
    }

    /// Copies rows page by page after the checkpoint's `cursor` (`key` is a row's place in
    /// that order): `write` stores a page (committed when it returns), then the checkpoint
    /// moves past it. Returns the rows copied.
    func importPages<Row, Key>(
        from cursor: WritableKeyPath<MigrationCheckpoint, Key>, checkpoint: inout MigrationCheckpoint,
        fetch: (_ after: Key, _ limit: Int) async throws -> [Row], key: (Row) -> Key,
        write: ([Row]) async throws -> Void, copied: (Int) -> Void
    ) async throws -> Int {
        var total = 0
        while true {
            let page = try await fetch(checkpoint[keyPath: cursor], pageSize)
            guard let last = page.last else { return total }
            try await write(page)
            total += page.count
            checkpoint[keyPath: cursor] = key(last)
            try save(checkpoint)
            copied(page.count)
        }
    }

    /// Ingests one page's batches, up to ``concurrency`` at once (each host's rows of the
    /// page are one batch, so a host's own order is kept); returns when all committed.
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
        return StoreCounts(
            hosts: rows.hosts, events: rows.events, snapshots: rows.snapshots, hourly: rows.hourly,
            agentCounters: rows.agentCounters)
    }
}
