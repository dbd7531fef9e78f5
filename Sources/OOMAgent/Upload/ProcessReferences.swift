public import OOMKit

/// The processes whose details the collector holds (issue 15, "wire"): those of the last
/// batch it acknowledged, by pid and details digest. A snapshot's process whose details
/// are unchanged since then is sent by reference (pid, `ref`, and only what moves), which
/// cuts a batch to a fraction. A value-type state machine: the uploader asks it to shorten
/// a body, and tells it how the collector answered.
///
/// Bounded: at most `maxEntries` processes are remembered (the agent sends the top N, 20 by
/// default), so it costs the agent a few kB.
public struct ProcessReferences: Sendable {
    public static let maxEntries = 1024

    /// The collector said it takes references (`process_refs` in its 2xx answer).
    public private(set) var enabled = false
    /// pid → details digest, of the last acknowledged batch.
    private var acknowledged: [Int: Int64] = [:]

    public init() {}

    /// What a shortened body sent: every process's details digest, to be remembered once
    /// the collector acknowledges the batch.
    public struct Sent: Sendable {
        var digests: [Int: Int64] = [:]
        /// How many processes went by reference.
        public internal(set) var referenced = 0

        public init() {}
    }

    /// `snapshot` with the processes the collector holds replaced by references; notes
    /// every process's digest in `sent`.
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
        return out
    }

    /// The collector stored the batch (2xx): its processes are what it holds now.
    public mutating func delivered(_ sent: Sent, collectorTakesReferences: Bool) {
        enabled = collectorTakesReferences
        acknowledged = enabled ? sent.digests : [:]
    }

    /// The collector does not hold what a reference named (409: another collector, or a
    /// new database): send the full form until it acknowledges a batch again.
    public mutating func forget() {
        acknowledged = [:]
    }
}
