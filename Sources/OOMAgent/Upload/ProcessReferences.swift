public import OOMKit

/// The processes whose details the collector holds (issue 15, "wire"): those of the last
/// batch it acknowledged, by pid and details digest. A snapshot's process whose details
/// are unchanged since then is sent by reference (pid, `ref`, and only what moves), which
/// cuts a batch to a fraction. A value-type state machine: the uploader asks it to shorten
/// a body, and tells it how the collector answered.
///
/// Every process the collector acknowledged is remembered, not only the last batch's: the
/// top N by RSS changes membership from one sample to the next, and a process that drops
/// out and comes back is still held by the collector (it keeps details for an hour after
/// their last use; one it dropped earns a 409 and the full form).
///
/// Snapshots go as deltas (`MemorySnapshot.wireDelta`) against the newest snapshot of the
/// last acknowledged batch, or the one before them in the same batch, once the collector
/// says it takes them (`snapshot_deltas`).
///
/// Bounded: at most `maxEntries` processes are remembered (the oldest acknowledged go
/// first), so it costs the agent a few tens of kB.
public struct ProcessReferences: Sendable {
    public static let maxEntries = 1024

    /// The collector said it takes references (`process_refs` in its 2xx answer).
    public private(set) var enabled = false
    /// The collector said it takes snapshot deltas (`snapshot_deltas` in its 2xx answer).
    public private(set) var deltas = false
    /// pid → details digest of every acknowledged process (the newest per pid).
    private var acknowledged: [Int: Int64] = [:]
    /// The order pids were acknowledged in, oldest first, to forget the oldest when full.
    private var acknowledgedOrder: [Int] = []
    /// The newest snapshot of the last acknowledged batch, in full.
    private var base: MemorySnapshot?
    /// The agent's identity and counters as the collector last acknowledged them.
    private var agent: AgentInfo?

    public init() {}

    /// What a shortened body sent: every process's details digest, to be remembered once
    /// the collector acknowledges the batch.
    public struct Sent: Sendable {
        var digests: [Int: Int64] = [:]
        /// How many processes went by reference.
        public internal(set) var referenced = 0
        /// How many snapshots went as deltas.
        public internal(set) var deltas = 0
        /// The last snapshot shortened, in full: the next one's base.
        var newest: MemorySnapshot?
        /// The agent's identity and counters of the batch.
        var agent: AgentInfo?

        public init() {}
    }

    /// `snapshot` as it goes on the wire: the processes the collector holds replaced by
    /// references, and, when the collector takes deltas, only what changed since the
    /// previous snapshot sent (`sent.newest`, else the acknowledged base). Notes every
    /// process's digest, and the snapshot itself as the next one's base, in `sent`.
    public func shorten(_ snapshot: MemorySnapshot, sent: inout Sent) -> MemorySnapshot {
        var out = snapshot
        for (i, p) in snapshot.processes.enumerated() {
            let detail = ProcessDetail(p)
            guard let json = try? detail.canonicalJSON() else { continue }
            let digest = ProcessDetail.digest(json)
            if sent.digests.count < Self.maxEntries { sent.digests[p.pid] = digest }
            if enabled, acknowledged[p.pid] == digest {
                out.processes[i] = p.reference(digest: digest)
                sent.referenced += 1
            }
        }
        let base = sent.newest ?? self.base
        sent.newest = snapshot
        if deltas, let base, let delta = MemorySnapshot.wireDelta(full: snapshot, short: out, base: base) {
            sent.deltas += 1
            return delta
        }
        return out
    }

    /// The collector stored the batch (2xx): its processes are what it holds now, with
    /// those acknowledged before, and its newest snapshot is the next batch's base.
    public mutating func delivered(
        _ sent: Sent, collectorTakesReferences: Bool, collectorTakesDeltas: Bool = false
    ) {
        enabled = collectorTakesReferences
        deltas = collectorTakesReferences && collectorTakesDeltas
        guard enabled else {
            forget()
            return
        }
        if let newest = sent.newest { base = deltas ? newest : nil }
        agent = deltas ? sent.agent : nil
        for (pid, digest) in sent.digests {
            if acknowledged.updateValue(digest, forKey: pid) == nil { acknowledgedOrder.append(pid) }
        }
        if acknowledged.count > Self.maxEntries {
            // Oldest first; a pid acknowledged again keeps its first place, which at worst
            // forgets a live process early (it then goes in full once).
            let drop = acknowledged.count - Self.maxEntries
            for pid in acknowledgedOrder.prefix(drop) { acknowledged[pid] = nil }
            acknowledgedOrder.removeFirst(drop)
        }
    }

    /// Whether the collector acknowledged exactly `agent` already, and takes deltas: the
    /// batch may then leave it out (the collector keeps the host's version, interval and
    /// counters as they were).
    public func holds(_ agent: AgentInfo) -> Bool {
        deltas && self.agent == agent
    }

    /// The collector does not hold what a reference or a delta named (409: another
    /// collector, or a new database): send the full form until it acknowledges a batch again.
    public mutating func forget() {
        acknowledged = [:]
        acknowledgedOrder = []
        base = nil
        agent = nil
    }
}
