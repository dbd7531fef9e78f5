public import OOMKit

/// Everything the collector asks of its database: ingest, the queries and reports of the
/// API, retention and the alert outbox. `OOMDatabase` (one SQLite file) and
/// `PostgresStore` (several collectors on one PostgreSQL database) implement it, and one
/// conformance suite (Tests/StoreConformanceTests) holds both to the same answers.
///
/// Every operation throws only `StoreError`, so the HTTP edge maps failures the same way
/// whichever engine is behind it. Times are microseconds since the Unix epoch.
public protocol CollectorStore: Sendable {
    /// Stores a validated batch and returns only after COMMIT. Re-sending a batch stores
    /// nothing twice: events are unique by id, snapshots by host and time.
    func ingest(_ batch: IngestBatch, receivedAt: Int64) async throws(StoreError) -> IngestOutcome

    /// Fills in processes sent by reference from the details stored for the host; returns
    /// the first one it cannot resolve (the agent must then send the full form).
    func resolveProcessReferences(_ batch: inout IngestBatch) async throws(StoreError) -> String?

    /// Every known host with its latest state; `now` decides staleness and the 24 h window.
    func hosts(now: Int64) async throws(StoreError) -> [HostStatus]

    /// A page of events, newest first, with the cursor of the next page.
    func events(_ filter: EventFilter) async throws(StoreError) -> EventsPage

    /// One event by its id (`StoreError.notFound` when unknown).
    func event(id: String) async throws(StoreError) -> OOMEvent

    /// A host's snapshots in [since, until), averaged into at most `points` buckets.
    func snapshots(host: String, since: Int64, until: Int64, points: Int)
        async throws(StoreError) -> SnapshotsResponse

    /// The largest processes from each host's latest snapshot.
    func top(host: String?, limit: Int) async throws(StoreError) -> TopResponse

    /// The summary report over [since, until).
    func summary(since: Int64, until: Int64, now: Int64) async throws(StoreError) -> SummaryReport

    /// Fleet gauges for `/metrics`.
    func fleetGauges(now: Int64) async throws(StoreError) -> FleetGauges

    /// Stored kills per (host, source, scope), for `/metrics`.
    func killCounters() async throws(StoreError) -> [KillCounter]

    /// Advice findings over [since, until), most severe and most recent first.
    func advice(
        since: Int64, until: Int64, host: String?, settings: AdviceSettings, limit: Int?, now: Int64
    ) async throws(StoreError) -> AdviceReport

    /// Writes hourly rollups copied from another store's history (`oomwatch-collector
    /// migrate`), in one transaction: each row replaces the (host, hour) stored, since the
    /// source counted every sample (its raw snapshots may be gone). Rows of hosts this store
    /// does not know are skipped. Returns the rows written.
    func importHourly(_ rows: [HourlyRollup]) async throws(StoreError) -> Int

    /// Writes agent counter reports copied from another store's history, in one
    /// transaction; a (host, time) stored already is kept. Returns the rows written.
    func importAgentCounters(_ rows: [AgentCountersReport]) async throws(StoreError) -> Int

    /// Deletes what `policy` no longer keeps.
    func applyRetention(_ policy: RetentionPolicy, now: Int64) async throws(StoreError) -> RetentionOutcome

    /// Queues a test notification for `receiver`; returns its outbox row id.
    func enqueueTestAlert(receiver: String, now: Int64) async throws(StoreError) -> Int64

    /// Queues a host condition's start or end, once per (receiver, kind, episode key).
    /// Returns the episode key in effect: `key`, or for a start while the database has
    /// that condition open on the host already, the open episode's (nothing is queued).
    @discardableResult
    func enqueueCondition(
        kind: OutboxRow.Kind, host: String, key: String, since: Int64, detail: String,
        receivers: [String], now: Int64
    ) async throws(StoreError) -> String

    /// Host conditions whose latest queued row is a start: (kind, host, episode key).
    func openConditions() async throws(StoreError) -> [(kind: OutboxRow.Kind, host: String, key: String)]

    /// Unsent outbox rows, oldest first.
    func unsentOutbox(limit: Int) async throws(StoreError) -> [OutboxRow]

    /// Claims rows for one send attempt until `until`: true only when every row was free.
    func claimOutbox(ids: [Int64], until: Int64, now: Int64) async throws(StoreError) -> Bool

    /// Records a delivery accepted under `key`.
    func markOutboxSent(ids: [Int64], key: String, now: Int64) async throws(StoreError)

    /// Records a failed attempt and when to try again.
    func markOutboxFailed(ids: [Int64], key: String, error: String, retryAt: Int64) async throws(StoreError)

    /// The newest notifications (optionally one state) and per-receiver totals.
    func alertOverview(state: String?, limit: Int)
        async throws(StoreError) -> (rows: [OutboxRow], receivers: [ReceiverDeliveryState])

    /// Whether the database answers a trivial query (`/readyz`).
    func isReachable() async -> Bool

    /// The database's size on disk, bytes.
    func sizeBytes() async -> Int64

    /// Ingest batches waiting for the writer right now (0 where the engine queues itself).
    var pendingWrites: Int { get }

    /// The writer's cache (SQLite); nil where the engine keeps none.
    var writerCache: WriterCacheStats? { get }

    /// Whether this collector should run the background work the collectors of one
    /// database share (retention, partition maintenance) now. A single-process store
    /// always does; a shared one lets exactly one collector at a time do it.
    func holdsBackgroundLease() async -> Bool

    /// Whether the store expands snapshots sent as deltas against a `base` (processes by
    /// `ref` every store takes). The ingest answer advertises it, so an agent only sends
    /// deltas to a store that takes them (and never pays a 409 and a resend on every batch).
    var acceptsSnapshotDeltas: Bool { get }
}

extension CollectorStore {
    /// `ingest` received now.
    public func ingest(_ batch: IngestBatch) async throws(StoreError) -> IngestOutcome {
        try await ingest(batch, receivedAt: nowMicroseconds())
    }

    /// `hosts` as of now.
    public func hosts() async throws(StoreError) -> [HostStatus] {
        try await hosts(now: nowMicroseconds())
    }

    /// The 20 largest processes, fleet-wide or of one host.
    public func top(host: String? = nil, limit: Int = 20) async throws(StoreError) -> TopResponse {
        try await top(host: host, limit: limit)
    }

    /// `summary` generated now.
    public func summary(since: Int64, until: Int64) async throws(StoreError) -> SummaryReport {
        try await summary(since: since, until: until, now: nowMicroseconds())
    }

    /// `fleetGauges` as of now.
    public func fleetGauges() async throws(StoreError) -> FleetGauges {
        try await fleetGauges(now: nowMicroseconds())
    }

    /// `advice` with the default settings, every finding, as of now.
    public func advice(
        since: Int64, until: Int64, host: String? = nil, settings: AdviceSettings = AdviceSettings(),
        limit: Int? = nil
    ) async throws(StoreError) -> AdviceReport {
        try await advice(
            since: since, until: until, host: host, settings: settings, limit: limit, now: nowMicroseconds())
    }

    /// `applyRetention` as of now.
    public func applyRetention(_ policy: RetentionPolicy) async throws(StoreError) -> RetentionOutcome {
        try await applyRetention(policy, now: nowMicroseconds())
    }

    /// `enqueueTestAlert` now.
    public func enqueueTestAlert(receiver: String) async throws(StoreError) -> Int64 {
        try await enqueueTestAlert(receiver: receiver, now: nowMicroseconds())
    }

    /// `enqueueCondition` now.
    @discardableResult
    public func enqueueCondition(
        kind: OutboxRow.Kind, host: String, key: String, since: Int64, detail: String, receivers: [String]
    ) async throws(StoreError) -> String {
        try await enqueueCondition(
            kind: kind, host: host, key: key, since: since, detail: detail, receivers: receivers,
            now: nowMicroseconds())
    }

    /// Up to 1000 unsent rows.
    public func unsentOutbox() async throws(StoreError) -> [OutboxRow] {
        try await unsentOutbox(limit: 1000)
    }

    /// `claimOutbox` now.
    public func claimOutbox(ids: [Int64], until: Int64) async throws(StoreError) -> Bool {
        try await claimOutbox(ids: ids, until: until, now: nowMicroseconds())
    }

    /// `markOutboxSent` now.
    public func markOutboxSent(ids: [Int64], key: String) async throws(StoreError) {
        try await markOutboxSent(ids: ids, key: key, now: nowMicroseconds())
    }

    /// The newest 100 notifications of any state.
    public func alertOverview(state: String? = nil, limit: Int = 100)
        async throws(StoreError) -> (rows: [OutboxRow], receivers: [ReceiverDeliveryState])
    {
        try await alertOverview(state: state, limit: limit)
    }
}

extension OOMDatabase: CollectorStore {
    /// One SQLite file has one collector: it always does the background work.
    public func holdsBackgroundLease() async -> Bool { true }

    /// Expanded from the writer's memory or the file: see `resolveProcessReferences`.
    public var acceptsSnapshotDeltas: Bool { true }
}

extension IngestOutcome {
    /// The counts of one stored batch (for other stores).
    public init(stored: Int, duplicate: Int, snapshotsStored: Int, snapshotsDuplicate: Int) {
        self.init(
            eventsStored: stored, eventsDuplicate: duplicate, snapshotsStored: snapshotsStored,
            snapshotsDuplicate: snapshotsDuplicate)
    }
}

extension RetentionOutcome {
    /// A pass that deleted nothing yet (for other stores to count into).
    public static var nothing: RetentionOutcome { RetentionOutcome() }
}

extension FleetGauges {
    /// Fleet gauges (for other stores).
    public init(hosts: Int, staleHosts: Int, events: Int, kills24h: [String: Int]) {
        self.init(hosts: hosts, staleHosts: staleHosts, events: events, kills24hByHost: kills24h)
    }
}

extension KillCounter {
    /// One (host, source, scope) counter (for other stores).
    public init(host: String, source: String, scope: String, count: Int) {
        self.init(host: host, source: source, scope: scope, kills: count)
    }
}

extension ReceiverDeliveryState {
    /// One receiver's delivery totals (for other stores).
    public init(
        receiver: String, sent: Int, pending: Int, failing: Int, lastError: String?, lastSentAt: Int64?
    ) {
        self.init(
            receiver: receiver, sent: sent, pending: pending, failing: failing, lastError: lastError,
            lastSent: lastSentAt)
    }
}

/// The events listing's opaque cursor, shared by every store so a cursor means the same
/// (time, row id) whichever engine handed it out.
public enum StoreCursor {
    /// The cursor after the row at (`time`, `id`).
    public static func encode(time: Int64, id: Int64) -> String { EventCursor.encode(time: time, id: id) }
    /// The (time, id) a cursor stands for; nil for anything this collector did not hand out.
    public static func decode(_ text: String) -> (time: Int64, id: Int64)? { EventCursor.decode(text) }
}

/// Host state rules every store applies the same way.
public enum HostRules {
    /// Silent for three of its intervals (the longer of its snapshot and upload intervals).
    public static func isStale(lastSeen: Int64, intervalS: Double, uploadIntervalS: Double?, now: Int64) -> Bool {
        OOMDatabase.isStale(lastSeen: lastSeen, intervalS: intervalS, uploadIntervalS: uploadIntervalS, now: now)
    }

    /// Available memory in percent and the reasons a host is at risk (none: it is not).
    public static func risk(total: Int64?, available: Int64?, fullAvg60: Double?) -> (
        availablePct: Double?, reasons: [String]
    ) {
        OOMDatabase.risk(total: total, available: available, fullAvg60: fullAvg60)
    }
}
