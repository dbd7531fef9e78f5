public import OOMKit
public import Synchronization

/// The agent's own health counters, reported in every batch's `AgentInfo` (loss is data,
/// not silence). Shared by every service; each update is one atomic add.
public final class AgentCounters: Sendable {
    public let droppedSnapshots = Atomic<Int64>(0)
    public let droppedEvents = Atomic<Int64>(0)
    public let corruptRecords = Atomic<Int64>(0)
    public let kmsgOverruns = Atomic<Int64>(0)
    public let kmsgMissedRecords = Atomic<Int64>(0)
    public let unattributedKills = Atomic<Int64>(0)
    public let sourceErrors = Atomic<Int64>(0)
    public let uploadRefused = Atomic<Int64>(0)
    /// Journal entries that claimed a userspace kill without journald's trusted fields.
    public let journalRefused = Atomic<Int64>(0)
    /// The upload interval the collector asked for (`IngestResult.uploadIntervalS`), in
    /// milliseconds; 0 while it asks for none. Not a counter: not saved across restarts.
    public let pacedUploadMillis = Atomic<Int64>(0)

    /// `pacedUploadMillis` in seconds (0: none asked).
    public var pacedUploadSeconds: Double {
        get { Double(pacedUploadMillis.load(ordering: .relaxed)) / 1000 }
        set { pacedUploadMillis.store(Int64((newValue * 1000).rounded()), ordering: .relaxed) }
    }

    public init() {}

    /// The counters as sent to the collector.
    public func agentInfo(version: String, intervalS: Double?, uploadIntervalS: Double?) -> AgentInfo {
        var info = AgentInfo(version: version)
        info.intervalS = intervalS
        info.uploadIntervalS = uploadIntervalS
        info.droppedSnapshots = droppedSnapshots.load(ordering: .relaxed)
        info.droppedEvents = droppedEvents.load(ordering: .relaxed)
        info.corruptRecords = corruptRecords.load(ordering: .relaxed)
        info.kmsgOverruns = kmsgOverruns.load(ordering: .relaxed)
        info.kmsgMissedRecords = kmsgMissedRecords.load(ordering: .relaxed)
        info.unattributedKills = unattributedKills.load(ordering: .relaxed)
        info.sourceErrors = sourceErrors.load(ordering: .relaxed)
        info.uploadRefused = uploadRefused.load(ordering: .relaxed)
        info.journalRefused = journalRefused.load(ordering: .relaxed)
        return info
    }

    /// Restores counters saved by `agentInfo` (the state file), so they count "since the
    /// agent's state was created", across restarts.
    public func restore(_ info: AgentInfo) {
        droppedSnapshots.store(info.droppedSnapshots ?? 0, ordering: .relaxed)
        droppedEvents.store(info.droppedEvents ?? 0, ordering: .relaxed)
        corruptRecords.store(info.corruptRecords ?? 0, ordering: .relaxed)
        kmsgOverruns.store(info.kmsgOverruns ?? 0, ordering: .relaxed)
        kmsgMissedRecords.store(info.kmsgMissedRecords ?? 0, ordering: .relaxed)
        unattributedKills.store(info.unattributedKills ?? 0, ordering: .relaxed)
        sourceErrors.store(info.sourceErrors ?? 0, ordering: .relaxed)
        uploadRefused.store(info.uploadRefused ?? 0, ordering: .relaxed)
        journalRefused.store(info.journalRefused ?? 0, ordering: .relaxed)
    }
}

extension Atomic where Value == Int64 {
    /// Adds `n` (relaxed: these are statistics).
    public func add(_ n: Int64) {
        _ = wrappingAdd(n, ordering: .relaxed)
    }
}
