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
/// retention pass that deleted details or frames. Bounded: when full it starts over, so
/// a fleet larger than the bound costs the SELECTs again, never unbounded memory.
public final class SnapshotCache: Sendable {
    /// `db.cache_hosts`' default.
    public static let defaultHosts = 10_000

    /// A process's stored details as last seen for its host and pid.
    struct Process {
        var id: Int64
        var digest: Int64
        var lastSeen: Int64
        var detail: ProcessDetail
    }

    struct ProcessKey: Hashable {
        var hostID: Int64
        var pid: Int
    }

    typealias FrameKey = SnapshotStorage.FrameKey

    private struct State {
        var processes: [ProcessKey: Process] = [:]
        var frames: [FrameKey: [UInt8]] = [:]
        var latest: [Int64: (time: Int64, snapshot: MemorySnapshot)] = [:]
        var hostIDs: [String: Int64] = [:]
        /// Whether the current write transaction already carries the rollback hook.
        var armed = false
    }

    let maxProcesses: Int
    let maxFrames: Int
    let maxLatest: Int
    private let state = Mutex(State())

    /// 200,000 processes (~100 MB at most), 4,096 frames (a frame is 2–8 kB) and the
    /// newest snapshot of 10,000 hosts (the base of their next delta, 5–50 kB each).
    init(maxProcesses: Int = 200_000, maxFrames: Int = 4_096, maxLatest: Int = 10_000) {
        self.maxProcesses = maxProcesses
        self.maxFrames = maxFrames
        self.maxLatest = maxLatest
    }

    /// Sized for a fleet of `hosts`: their newest snapshots and ids, 20 processes' details
    /// each (an agent's default top 20) and one hour frame each; 10,000 hosts keep the
    /// sizes above, at most ~60 kB a host.
    convenience init(hosts: Int) {
        let hosts = max(hosts, 1)
        self.init(
            maxProcesses: 20 * hosts, maxFrames: max(4_096, hosts), maxLatest: hosts)
    }

    /// A host's id, as the writer's upsert returned it.
    func hostID(name: String) -> Int64? {
        state.withLock { $0.hostIDs[name] }
    }

    /// Notes a host's id (bounded like the newest snapshots).
    func remember(hostID: Int64, name: String, db: Database) {
        forgetOnRollback(db)
        let maxLatest = maxLatest
        state.withLock {
            guard $0.hostIDs[name] != hostID else { return }
            if $0.hostIDs.count >= maxLatest { $0.hostIDs.removeAll() }
            $0.hostIDs[name] = hostID
        }
    }

    /// The newest snapshot stored for a host, whole: what its agent's next delta names.
    func latest(hostID: Int64) -> (time: Int64, snapshot: MemorySnapshot)? {
        state.withLock { $0.latest[hostID] }
    }

    /// Notes `snapshot`, stored now at `time`, when it is the host's newest.
    func remember(latest snapshot: MemorySnapshot, time: Int64, hostID: Int64, db: Database) {
        forgetOnRollback(db)
        let maxLatest = maxLatest
        state.withLock {
            if let known = $0.latest[hostID], known.time > time { return }
            if $0.latest.count >= maxLatest { $0.latest.removeAll() }
            $0.latest[hostID] = (time, snapshot)
        }
    }

    func process(hostID: Int64, pid: Int) -> Process? {
        state.withLock { $0.processes[ProcessKey(hostID: hostID, pid: pid)] }
    }

    func remember(_ process: Process, hostID: Int64, db: Database) {
        forgetOnRollback(db)
        let maxProcesses = maxProcesses
        state.withLock {
            if $0.processes.count >= maxProcesses { $0.processes.removeAll() }
            $0.processes[ProcessKey(hostID: hostID, pid: process.detail.pid)] = process
        }
    }

    func frame(hostID: Int64, hour: Int64) -> [UInt8]? {
        state.withLock { $0.frames[FrameKey(hostID: hostID, hour: hour)] }
    }

    func remember(frame: [UInt8], hostID: Int64, hour: Int64, db: Database) {
        forgetOnRollback(db)
        let maxFrames = maxFrames
        state.withLock {
            if $0.frames.count >= maxFrames { $0.frames.removeAll() }
            $0.frames[FrameKey(hostID: hostID, hour: hour)] = frame
        }
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
