public import OOMKit

/// A batch as the rows every store writes, shaped once by the SQLite store's own
/// preparation (`OOMDatabase.prepare`): the stored event JSON, the derived columns and
/// the host's fields are the same whichever engine stores them.
package struct StoreRows: Sendable {
    package struct Event: Sendable {
        package var eventID: String
        package var time: Int64
        package var source: String
        package var scope: String?
        package var comm: String
        package var pid: Int
        package var unit: String?
        package var container: String?
        package var rssKB: Int64
        package var json: String
        /// The columns advice aggregates on.
        package var advice: AdviceColumns
    }
    package struct Snapshot: Sendable {
        package var time: Int64
        package var total, available, free, cached, anon, shmem, swapTotal, swapFree: Int64?
        package var someAvg10, someAvg60, fullAvg10, fullAvg60: Double?
        package var oomKill: Int64?
        /// The prepared snapshot: its hosts-row JSON is encoded for the batch's newest only.
        var prepared: PreparedBatch.Snapshot
        package var kernel: String?
        /// The host's system facts, on the batch's newest snapshot that has them.
        package var systemJSON: String?
        /// The snapshot's process samples, for `process_runs`.
        package var runs: [RunSample]
        /// Each process's details as stored for references (`ProcessDetail`, canonical JSON).
        package var details: [Detail]

        /// The snapshot as the agent sent it (processes whole), stored compactly
        /// (`SnapshotStorage`); `details[i]` are its i-th process's.
        package var snapshot: MemorySnapshot { prepared.snapshot }

        /// The hosts row's memory, pressure and processes JSON of this snapshot: the
        /// prepared memory and pressure for the batch's newest, encoded now only when the
        /// newest was a duplicate and an older one is the newest stored; the process list,
        /// which the SQLite store no longer keeps in the row, encoded here.
        package func hostsRowJSON() throws -> (memory: String, pressure: String?, processes: String) {
            let latest = try prepared.latestJSON()
            let processes = String(decoding: ProcessSample.json(snapshot.processes), as: UTF8.self)
            return (latest.memory, latest.pressure, processes)
        }
    }
    /// A process's details, found again by host, pid and digest.
    package struct Detail: Sendable, Hashable {
        package var pid: Int64
        package var digest: Int64
        package var json: String
    }
    package var host: String
    package var bootID: String?
    package var agentVersion: String?
    package var intervalS: Double?
    package var uploadIntervalS: Double?
    package var agentJSON: String?
    package var receivedAt: Int64
    package var events: [Event]
    package var snapshots: [Snapshot]

    /// The rows of a validated batch received at `receivedAt`.
    package init(_ batch: IngestBatch, receivedAt: Int64) throws(StoreError) {
        let p: PreparedBatch
        do {
            p = try OOMDatabase.prepare(batch, receivedAt: receivedAt)
            snapshots = try p.snapshots.map { s in
                Snapshot(
                    time: s.time, total: s.total, available: s.available, free: s.free, cached: s.cached,
                    anon: s.anon, shmem: s.shmem, swapTotal: s.swapTotal, swapFree: s.swapFree,
                    someAvg10: s.someAvg10, someAvg60: s.someAvg60, fullAvg10: s.fullAvg10,
                    fullAvg60: s.fullAvg60, oomKill: s.oomKill,
                    prepared: s, kernel: s.kernel, systemJSON: s.systemJSON, runs: s.runs,
                    details: try s.snapshot.processes.map { p in
                        let json = try ProcessDetail(p).canonicalJSON()
                        return Detail(
                            pid: Int64(p.pid), digest: ProcessDetail.digest(json),
                            json: String(decoding: json, as: UTF8.self))
                    })
            }
        } catch {
            throw .rejected("\(error)")
        }
        host = p.host
        bootID = p.bootID
        agentVersion = p.agentVersion
        intervalS = p.intervalS
        uploadIntervalS = p.agent?.uploadIntervalS
        agentJSON = p.agentJSON
        self.receivedAt = p.receivedAt
        events = p.events.map {
            Event(
                eventID: $0.eventID, time: $0.time, source: $0.source, scope: $0.scope, comm: $0.comm, pid: $0.pid,
                unit: $0.unit, container: $0.container, rssKB: $0.rssKB, json: $0.json,
                advice: $0.advice)
        }
    }
}

/// The summary's ranking, shared so every store orders and cuts its lists the same way:
/// most kills first, ties by key, at most `OOMDatabase.reportListLimit`.
package enum ReportShaping {
    /// A group's kills in the window and its latest kill.
    package typealias Group = (kills: Int, last: Int64)

    /// Kills of one process name on one host in the window that make it a repeat offender.
    package static let repeatOffenderKills = 3

    /// The groups that make a list, ranked.
    package static func ranked(_ groups: [String: Group]) -> [(key: String, kills: Int, last: Int64)] {
        SummaryQuery.ranked(groups.mapValues { KillRollups.Cell(kills: $0.kills, last: $0.last) }).map {
            ($0.key, $0.cell.kills, $0.cell.last)
        }
    }

    /// A ranked list as the report's rows.
    package static func countRows(_ groups: [String: Group]) -> [CountRow] {
        SummaryQuery.countRows(groups.mapValues { KillRollups.Cell(kills: $0.kills, last: $0.last) })
    }

    /// Day `d` (days since the epoch) as the report writes it.
    package static func dayLabel(_ d: Int64) -> String {
        String(RFC3339.format(epochMicroseconds: d * KillRollups.day).prefix(10))
    }
}

/// A report window [since, until) split as the SQLite summary splits it: whole UTC days
/// (`firstDay ..< endDay`, days since the epoch) read from day rollups, and the partial
/// days at its edges read from the events.
package struct ReportWindow: Sendable {
    package let since: Int64
    package let until: Int64
    package let firstDay: Int64
    package let endDay: Int64
    package let edges: [(from: Int64, to: Int64)]

    package init(since: Int64, until: Int64) {
        let q = SummaryQuery.split(since: since, until: until)
        self.since = since
        self.until = until
        firstDay = q.firstDay
        endDay = q.endDay
        edges = q.edges
    }

    package var hasWholeDays: Bool { firstDay < endDay }
}

/// Processes sent by reference, filled in from the details a store found.
package enum ReferencedProcesses {
    /// Fills every referenced process of `batch` from `found` (details by digest); returns
    /// the first one it cannot fill (`snapshots[i].processes[j].ref`), nil when all were.
    package static func fill(_ batch: inout IngestBatch, from found: [Int64: ProcessDetail]) -> String? {
        for i in batch.snapshots.indices {
            for j in batch.snapshots[i].processes.indices {
                let p = batch.snapshots[i].processes[j]
                guard let ref = p.ref else { continue }
                guard let digest = ProcessDetail.digest(reference: ref), let detail = found[digest],
                    detail.pid == p.pid
                else { return "snapshots[\(i)].processes[\(j)].ref" }
                batch.snapshots[i].processes[j] = p.filled(detail)
            }
        }
        return nil
    }
}
