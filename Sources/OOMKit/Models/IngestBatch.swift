/// What an agent posts to `POST /api/v1/ingest`.
public struct IngestBatch: Codable, Sendable, Equatable {
    public var host: String
    public var bootID: String?
    public var agent: AgentInfo?
    public var snapshots: [MemorySnapshot]
    public var events: [OOMEvent]

    public init(
        host: String, bootID: String? = nil, agent: AgentInfo? = nil,
        snapshots: [MemorySnapshot] = [], events: [OOMEvent] = []
    ) {
        self.host = host
        self.bootID = bootID
        self.agent = agent
        self.snapshots = snapshots
        self.events = events
    }

    enum CodingKeys: String, CodingKey {
        case host
        case bootID = "boot_id"
        case agent, snapshots, events
    }
}

/// The agent's identity and its own health counters, sent with every batch so the
/// collector can show what a host could not deliver (loss is data, not silence).
public struct AgentInfo: Codable, Sendable, Equatable {
    public var version: String
    /// Interval between snapshots, seconds.
    public var intervalS: Double?
    /// Seconds between uploads when no kill is waiting (`upload.interval`). The collector
    /// calls a host stale after three of the longer of this and `intervalS`, so an agent
    /// that posts six snapshots a minute is not called silent between its posts.
    public var uploadIntervalS: Double?
    /// Records the spool dropped because it was full, since the agent's state was created.
    public var droppedSnapshots: Int64?
    public var droppedEvents: Int64?
    /// Damaged spool records skipped on read.
    public var corruptRecords: Int64?
    /// /dev/kmsg ring-buffer overruns (EPIPE) and sequence gaps seen.
    public var kmsgOverruns: Int64?
    public var kmsgMissedRecords: Int64?
    /// Kills counted by vmstat's oom_kill that no log line explained.
    public var unattributedKills: Int64?
    /// Source read failures.
    public var sourceErrors: Int64?
    /// Uploads the collector refused (401, 403 or another answer that means the agent is
    /// misconfigured); the batches stayed in the spool.
    public var uploadRefused: Int64?
    /// Journal entries claiming a systemd-oomd/earlyoom kill that journald's trusted
    /// fields did not back (a local user's `logger -t earlyoom …`).
    public var journalRefused: Int64?

    public init(version: String) {
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case version
        case intervalS = "interval_s"
        case uploadIntervalS = "upload_interval_s"
        case droppedSnapshots = "dropped_snapshots"
        case droppedEvents = "dropped_events"
        case corruptRecords = "corrupt_records"
        case kmsgOverruns = "kmsg_overruns"
        case kmsgMissedRecords = "kmsg_missed_records"
        case unattributedKills = "unattributed_kills"
        case sourceErrors = "source_errors"
        case uploadRefused = "upload_refused"
        case journalRefused = "journal_refused"
    }
}

/// The collector's answer to an ingest, sent only after the batch is committed.
public struct IngestResult: Codable, Sendable, Equatable {
    public var eventsStored: Int
    public var eventsDuplicate: Int
    public var snapshotsStored: Int
    /// The collector takes processes by reference (`ProcessSample.ref`) from now on;
    /// absent from collectors older than the feature.
    public var processRefs: Bool?
    /// The collector takes snapshots as deltas against an acknowledged one
    /// (`MemorySnapshot.base`) from now on; absent from collectors older than the feature.
    public var snapshotDeltas: Bool?
    /// The collector's pace for this agent: upload no more often than every this many
    /// seconds, its snapshots batched meanwhile; kills still go at once. The hosts posting
    /// to the collector divided by its `ingest.pace_posts_per_second`, when that is more
    /// than a second; absent otherwise and from collectors older than the feature.
    public var uploadIntervalS: Double?

    public init(
        eventsStored: Int, eventsDuplicate: Int, snapshotsStored: Int, processRefs: Bool? = nil,
        snapshotDeltas: Bool? = nil, uploadIntervalS: Double? = nil
    ) {
        self.eventsStored = eventsStored
        self.eventsDuplicate = eventsDuplicate
        self.snapshotsStored = snapshotsStored
        self.processRefs = processRefs
        self.snapshotDeltas = snapshotDeltas
        self.uploadIntervalS = uploadIntervalS
    }

    enum CodingKeys: String, CodingKey {
        case eventsStored = "events_stored"
        case eventsDuplicate = "events_duplicate"
        case snapshotsStored = "snapshots_stored"
        case processRefs = "process_refs"
        case snapshotDeltas = "snapshot_deltas"
        case uploadIntervalS = "upload_interval_s"
    }
}

/// Every 4xx body: `{"error": {"message": "…"}}`.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var message: String
        public init(message: String) { self.message = message }
    }
    public var error: Detail
    public init(message: String) { self.error = Detail(message: message) }
}

extension IngestResult {
    /// The answer as `JSONWriter` writes it (declaration order, nil left out), written
    /// directly: every ingest answers one (issue 15, collector CPU per post).
    public func json() -> [UInt8] {
        DirectJSON.bytes { (w: inout DirectJSON) throws(UnusualValue) in
            w.open(0x7B)
            w.int("events_stored", eventsStored)
            w.int("events_duplicate", eventsDuplicate)
            w.int("snapshots_stored", snapshotsStored)
            w.bool("process_refs", processRefs)
            w.bool("snapshot_deltas", snapshotDeltas)
            try w.double("upload_interval_s", uploadIntervalS)
            w.close(0x7D)
        } ?? (try? JSONWriter().encode(self)) ?? []
    }
}
