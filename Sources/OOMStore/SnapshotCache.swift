import GRDB
import OOMKit
import Synchronization

/// What the collector's writer already knows about stored snapshots, so a posted
/// snapshot whose processes did not change costs no SELECT, no canonical JSON and no
/// digest per process, and its hour's frame is not read and inflated again (issue 15,
/// collector CPU per snapshot).
///
/// Only rows read back from the database enter it (a row inserted now may still vanish
/// with its batch's savepoint); a transaction that rolls back empties it, and so does a
/// retention pass that deleted details or frames.
///
/// Its memory follows the hosts that post. What it keeps is per host: the newest snapshot,
/// the details of the processes its snapshots listed in the last two hours or so (an
/// exited process, or one long out of the agent's top list, is read again if it comes
/// back) and the frames of the newest hour and the one before. Every ten minutes a sweep
/// drops the hosts not heard from in an hour, so hosts that come and go (autoscaling,
/// renamed machines) do not pile up; the sweep visits hosts, never their processes.
/// Bounded as well: at `maxHosts` a new host starts it over, so a fleet larger than the
/// bound costs the SELECTs again, never unbounded memory.
public final class SnapshotCache: Sendable {
    /// `db.cache_hosts`' default: a fleet of 100,000 hosts (what one core ingests at 30 s)
    /// without reading back its snapshots; memory grows only with the hosts that post.
    public static let defaultHosts = 100_000

    /// A host silent this long leaves the cache at the next sweep.
    static let idle: Duration = .seconds(3_600)
    /// How often the cache sweeps.
    static let sweepEvery: Duration = .seconds(600)

    /// A process's stored details as last seen for its host and pid.
    struct Process {
        var id: Int64
        var digest: Int64
        var lastSeen: Int64
        var detail: ProcessDetail
    }

    /// What is kept for one host.
    private struct Host {
        /// The newest snapshot stored and its time.
        var latest: (time: Int64, snapshot: MemorySnapshot)?
        /// When the host was last heard from.
        var seen: ContinuousClock.Instant
        /// Stored process details by pid.
        var processes: [Int: Process] = [:]
        /// Inflated frames by hour.
        var frames: [Int64: [UInt8]] = [:]
    }

    private struct State {
        var hosts: [Int64: Host] = [:]
        var hostIDs: [String: Int64] = [:]
        /// Whether the current write transaction already carries the rollback hook.
        var armed = false
        /// When the last sweep ran (or the cache was emptied).
        var swept = ContinuousClock.now
    }

    let maxHosts: Int
    private let state = Mutex(State())
    /// Stored rows read back because the cache did not hold them, by kind.
    private let reads = Mutex(WriterCacheStats.Reads())

    /// What it holds and what it missed, for `/metrics`.
    var stats: WriterCacheStats {
        WriterCacheStats(hosts: state.withLock { $0.hosts.count }, limit: maxHosts, reads: reads.withLock { $0 })
    }

    /// Counts a stored row read back because the cache did not hold it.
    func missed(_ kind: WriterCacheStats.Kind) {
        reads.withLock { $0[kind] += 1 }
    }

    /// For a fleet of `hosts` (~45 kB each, with 20 processes a snapshot).
    init(hosts: Int = defaultHosts) {
        maxHosts = max(hosts, 1)
    }

    /// A host's id, as the writer's upsert returned it.
    func hostID(name: String) -> Int64? {
        state.withLock { $0.hostIDs[name] }
    }

    /// Notes a host's id (bounded like the hosts).
    func remember(hostID: Int64, name: String, db: Database) {
        forgetOnRollback(db)
        let maxHosts = maxHosts
        state.withLock {
            guard $0.hostIDs[name] != hostID else { return }
            $0.hostIDs.makeRoom(for: name, bound: maxHosts)
            $0.hostIDs[name] = hostID
        }
    }

    /// The newest snapshot stored for a host, whole: what its agent's next delta names.
    func latest(hostID: Int64) -> (time: Int64, snapshot: MemorySnapshot)? {
        state.withLock { $0.hosts[hostID]?.latest }
    }

    /// Notes `snapshot`, stored now at `time`, when it is the host's newest. The host was
    /// heard from `now`; the cache sweeps when its time has come.
    func remember(
        latest snapshot: MemorySnapshot, time: Int64, hostID: Int64, db: Database,
        now: ContinuousClock.Instant = .now
    ) {
        update(hostID: hostID, db: db, now: now) { host in
            if let known = host.latest, known.time > time { return }
            host.latest = (time, snapshot)
        }
    }

    func process(hostID: Int64, pid: Int) -> Process? {
        state.withLock { $0.hosts[hostID]?.processes[pid] }
    }

    func remember(_ process: Process, hostID: Int64, db: Database) {
        update(hostID: hostID, db: db) { $0.processes[process.detail.pid] = process }
    }

    func frame(hostID: Int64, hour: Int64) -> [UInt8]? {
        state.withLock { $0.hosts[hostID]?.frames[hour] }
    }

    /// Notes an hour's frame. Once an hour for each host, then, what that host no longer
    /// needs goes: frames of hours before the one before this, and the details of processes
    /// none of its snapshots listed in the two hours before this one (a process listed
    /// moves its `lastSeen` at least hourly; one that comes back later is read again).
    func remember(frame: [UInt8], hostID: Int64, hour: Int64, db: Database) {
        update(hostID: hostID, db: db) { host in
            host.frames[hour] = frame
            let since = hour - 2 * SnapshotStorage.hour
            host.frames = host.frames.filter { $0.key >= hour - SnapshotStorage.hour }
            if host.processes.values.contains(where: { $0.lastSeen < since }) {
                host.processes = host.processes.filter { $0.value.lastSeen >= since }
            }
        }
    }

    /// Changes a host's entry in place (made when new: at `maxHosts` hosts, a new one
    /// starts the cache over), marks it heard from `now`, and sweeps when it is time.
    private func update(
        hostID: Int64, db: Database, now: ContinuousClock.Instant = .now, _ change: (inout Host) -> Void
    ) {
        forgetOnRollback(db)
        let maxHosts = maxHosts
        state.withLock {
            $0.hosts.makeRoom(for: hostID, bound: maxHosts)
            change(&$0.hosts[hostID, default: Host(seen: now)])
            $0.hosts[hostID]?.seen = now
            if now - $0.swept >= Self.sweepEvery { Self.sweep(&$0, now: now) }
        }
    }

    /// Drops the hosts not heard from in `idle` before `now`, and their ids.
    private static func sweep(_ state: inout State, now: ContinuousClock.Instant) {
        state.swept = now
        let idle = state.hosts.filter { now - $0.value.seen >= Self.idle }.keys
        guard !idle.isEmpty else { return }
        for id in idle { state.hosts.removeValue(forKey: id) }
        let hosts = state.hosts
        state.hostIDs = state.hostIDs.filter { hosts.index(forKey: $0.value) != nil }
    }

    /// Empties the cache: after rows it may name were deleted or rolled back.
    func removeAll() {
        state.withLock { $0 = State() }
    }

    /// A row read inside a transaction may have been written by an earlier batch of the
    /// same transaction: if that transaction rolls back, nothing remembered stays.
    ///
    /// One hook per transaction: GRDB visits every registered observer on each statement
    /// that follows, so a hook per remembered row made a round of batches quadratic (6 % of
    /// the collector's CPU on event ingest). The writer runs one transaction at a time.
    private func forgetOnRollback(_ db: Database) {
        guard db.isInsideTransaction else { return }
        let armed = state.withLock { state in
            defer { state.armed = true }
            return state.armed
        }
        guard !armed else { return }
        db.afterNextTransaction(
            onCommit: { [self] _ in state.withLock { $0.armed = false } },
            onRollback: { [self] _ in removeAll() })
    }
}

/// The writer's cache as `/metrics` shows it: how many hosts it holds, its bound
/// (`db.cache_hosts`), and the stored rows read back because it did not hold them (a
/// fleet larger than the bound, a restart, a host back after an hour's silence).
public struct WriterCacheStats: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A delta's base: the host's newest snapshot.
        case snapshot
        /// A process's stored details.
        case process
        /// An hour's deflate frame.
        case frame
    }

    /// Reads by kind.
    public struct Reads: Sendable, Equatable {
        var counts: [Kind: Int] = [:]

        public subscript(kind: Kind) -> Int {
            get { counts[kind, default: 0] }
            set { counts[kind] = newValue }
        }
    }

    public var hosts: Int
    public var limit: Int
    public var reads: Reads
}

extension Dictionary {
    /// Empties it when `key` is new and it already holds `bound` entries: the cache's one
    /// bound, for hosts and their ids alike.
    fileprivate mutating func makeRoom(for key: Key, bound: Int) {
        if count >= bound, index(forKey: key) == nil { removeAll() }
    }
}
