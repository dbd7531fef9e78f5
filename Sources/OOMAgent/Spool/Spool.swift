import HostSupport
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The durable, append-only, bounded spool in `<state>/spool/`: every event and snapshot is
/// written here before any upload and removed only after the collector answered 2xx.
///
/// Records go to numbered segment files (`00000000000000000042.seg`). The uploader takes
/// whole sealed segments as one batch and deletes them on a 2xx, so an acknowledgement is
/// one `unlink`. Events are fsynced as they are appended (a kill must survive a crash
/// right after it); snapshots are not (the next one is a second away).
///
/// Over `maxBytes`, the oldest snapshots are dropped first (their segments rewritten
/// without them), then the oldest events; every dropped record is counted.
public final class Spool: Sendable {
    /// One sealed or active segment file.
    struct Segment: Sendable {
        var id: UInt64
        var bytes: Int64
        var events: Int
        var snapshots: Int
    }

    struct State: Sendable {
        var sealed: [Segment] = []
        var active: Segment?
        var activeFD: Int32 = -1
        var nextID: UInt64 = 1
    }

    /// Sealed segments taken for upload, to `acknowledge` after a 2xx.
    public struct Batch: Sendable {
        public var segmentIDs: [UInt64]
        public var records: [SpoolRecord]
    }

    public let directory: String
    public let maxBytes: Int64
    public let segmentBytes: Int
    private let counters: AgentCounters
    private let logger: Logger
    private let state: Mutex<State>

    public init(
        directory: String, maxBytes: Int64 = 64 << 20, segmentBytes: Int = 512 << 10,
        counters: AgentCounters, logger: Logger
    ) throws(FileIOError) {
        self.directory = directory
        self.maxBytes = maxBytes
        self.segmentBytes = segmentBytes
        self.counters = counters
        self.logger = logger
        try FileIO.makeDirectories(directory)
        var s = State()
        var ids: [UInt64] = []
        do {
            try DirectoryList.forEach(directory) { name, _ in
                let n = String(decoding: name, as: UTF8.self)
                if n.hasSuffix(".seg"), let id = UInt64(n.dropLast(4)) { ids.append(id) }
                // A rewrite interrupted by a crash: the original segment is still there.
                if n.hasSuffix(".seg.tmp") { unlink(directory + "/" + n) }
            }
        } catch {
            throw FileIOError(operation: "opendir", path: directory, errno: error.errno)
        }
        ids.sort()
        // Existing segments are all sealed: a crash may have torn the last one's tail, and
        // appending after a torn tail would hide good records behind damage.
        for id in ids {
            let path = Self.path(directory, id)
            let decoded = SpoolRecord.decode((try? FileIO.readAll(path)) ?? [] ?? [])
            let seg = Segment(
                id: id, bytes: FileIO.fileSize(path) ?? 0,
                events: decoded.records.count(where: { $0.kind == .event }),
                snapshots: decoded.records.count(where: { $0.kind == .snapshot }))
            s.sealed.append(seg)
        }
        s.nextID = (ids.last ?? 0) + 1
        state = Mutex(s)
    }

    /// What waits in a spool directory, read without changing anything (the daemon may be
    /// running): for `oomwatch-agent spool status`.
    public struct Summary: Sendable, Equatable {
        public var segments = 0
        public var bytes: Int64 = 0
        public var events = 0
        public var snapshots = 0
        public var corrupt = 0
        /// The oldest segment's id (they are numbered in order).
        public var oldestSegment: String?
    }

    public static func inspect(directory: String) -> Summary {
        var names: [String] = []
        try? DirectoryList.forEach(directory) { name, _ in
            let n = String(decoding: name, as: UTF8.self)
            if n.hasSuffix(".seg") { names.append(n) }
        }
        var summary = Summary()
        for name in names.sorted() {
            guard let bytes = try? FileIO.readAll(directory + "/" + name) else { continue }
            let decoded = SpoolRecord.decode(bytes)
            summary.segments += 1
            summary.bytes += Int64(bytes.count)
            summary.events += decoded.records.count(where: { $0.kind == .event })
            summary.snapshots += decoded.records.count(where: { $0.kind == .snapshot })
            summary.corrupt += decoded.corrupt
            if summary.oldestSegment == nil { summary.oldestSegment = name }
        }
        return summary
    }

    deinit {
        state.withLock { s in
            if s.activeFD >= 0 { close(s.activeFD) }
        }
    }

    static func path(_ directory: String, _ id: UInt64) -> String {
        let digits = String(id)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".seg"
    }

    /// Total bytes on disk.
    public var totalBytes: Int64 {
        state.withLock { s in s.sealed.reduce(0) { $0 + $1.bytes } + (s.active?.bytes ?? 0) }
    }

    /// Records waiting (events, snapshots).
    public var pending: (events: Int, snapshots: Int) {
        state.withLock { s in
            var e = s.active?.events ?? 0
            var n = s.active?.snapshots ?? 0
            for seg in s.sealed {
                e += seg.events
                n += seg.snapshots
            }
            return (e, n)
        }
    }

    /// Appends one record; events are on disk (fsynced) when this returns.
    public func append(_ record: SpoolRecord) throws(FileIOError) {
        let bytes = record.encoded()
        try state.withLock { (s: inout State) throws(FileIOError) in
            // Make room first, so the cap holds on disk at every moment, not only after.
            enforceBound(&s, reserve: Int64(bytes.count))
            if s.active == nil || s.activeFD < 0 {
                let id = s.nextID
                s.nextID += 1
                let path = Self.path(directory, id)
                let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
                if fd < 0 { throw FileIOError(operation: "open", path: path, errno: errno) }
                FileIO.syncDirectory(of: path)
                s.active = Segment(id: id, bytes: 0, events: 0, snapshots: 0)
                s.activeFD = fd
            }
            let path = Self.path(directory, s.active!.id)
            // One write per record: a crash tears at most this record's tail.
            try FileIO.writeAll(s.activeFD, bytes, path: path)
            if record.kind == .event {
                if fdatasync(s.activeFD) != 0 {
                    throw FileIOError(operation: "fdatasync", path: path, errno: errno)
                }
                s.active!.events += 1
            } else {
                s.active!.snapshots += 1
            }
            s.active!.bytes += Int64(bytes.count)
            if s.active!.bytes >= Int64(segmentBytes) { seal(&s) }
            enforceBound(&s)
        }
    }

    /// Closes the active segment so it can be uploaded; appends start a new one.
    private func seal(_ s: inout State) {
        guard let active = s.active else { return }
        if s.activeFD >= 0 {
            fdatasync(s.activeFD)
            close(s.activeFD)
        }
        s.activeFD = -1
        s.active = nil
        if active.bytes > 0 { s.sealed.append(active) } else { unlink(Self.path(directory, active.id)) }
    }

    /// Flushes the active segment to disk (at shutdown: snapshots included).
    public func sync() {
        state.withLock { s in
            if s.activeFD >= 0 { fdatasync(s.activeFD) }
        }
    }

    /// The oldest sealed segments, up to about `maxBytes` of them (at least one), sealing
    /// the active segment first when nothing else waits. `nil` when the spool is empty.
    /// Damaged records are counted and the segment rewritten without them, so they are
    /// counted once.
    public func nextBatch(maxBytes: Int64 = 1 << 20) -> Batch? {
        state.withLock { s in
            if s.sealed.isEmpty { seal(&s) }
            guard !s.sealed.isEmpty else { return nil }
            var batch = Batch(segmentIDs: [], records: [])
            var size: Int64 = 0
            var i = 0
            while i < s.sealed.count, batch.segmentIDs.isEmpty || size + s.sealed[i].bytes <= maxBytes {
                let seg = s.sealed[i]
                let path = Self.path(directory, seg.id)
                let bytes: [UInt8]
                do {
                    bytes = try FileIO.readAll(path) ?? []
                } catch {
                    logger.error("spool segment unreadable", metadata: ["spool.path": "\(path)", "error": "\(error)"])
                    bytes = []
                }
                let decoded = SpoolRecord.decode(bytes)
                if decoded.corrupt > 0 {
                    counters.corruptRecords.add(Int64(decoded.corrupt))
                    logger.warning(
                        "spool segment damaged, skipping damaged records",
                        metadata: ["spool.path": "\(path)", "spool.corrupt": "\(decoded.corrupt)"])
                    rewrite(&s, index: i, records: decoded.records)
                }
                batch.segmentIDs.append(seg.id)
                batch.records.append(contentsOf: decoded.records)
                size += seg.bytes
                i += 1
            }
            return batch
        }
    }

    /// Deletes a delivered batch's segments.
    public func acknowledge(_ batch: Batch) {
        state.withLock { s in
            for id in batch.segmentIDs {
                unlink(Self.path(directory, id))
                s.sealed.removeAll { $0.id == id }
            }
            FileIO.syncDirectory(of: Self.path(directory, 0))
        }
    }

    /// Rewrites sealed segment `index` with only `records` (temp file + rename).
    private func rewrite(_ s: inout State, index: Int, records: [SpoolRecord]) {
        let path = Self.path(directory, s.sealed[index].id)
        if records.isEmpty {
            unlink(path)
            s.sealed[index].bytes = 0
            s.sealed[index].events = 0
            s.sealed[index].snapshots = 0
            return
        }
        var bytes: [UInt8] = []
        for r in records { bytes.append(contentsOf: r.encoded()) }
        do {
            try FileIO.writeAtomically(path, bytes)
            s.sealed[index].bytes = Int64(bytes.count)
            s.sealed[index].events = records.count(where: { $0.kind == .event })
            s.sealed[index].snapshots = records.count(where: { $0.kind == .snapshot })
        } catch {
            logger.error("spool rewrite failed", metadata: ["spool.path": "\(path)", "error": "\(error)"])
        }
    }

    /// Drops the oldest snapshots, then the oldest events, until the spool fits.
    private func enforceBound(_ s: inout State, reserve: Int64 = 0) {
        func total() -> Int64 { s.sealed.reduce(0) { $0 + $1.bytes } + (s.active?.bytes ?? 0) }
        while total() + reserve > maxBytes {
            if let i = s.sealed.firstIndex(where: { $0.snapshots > 0 }) {
                let path = Self.path(directory, s.sealed[i].id)
                let decoded = SpoolRecord.decode((try? FileIO.readAll(path)) ?? [] ?? [])
                let dropped = decoded.records.count(where: { $0.kind == .snapshot })
                counters.droppedSnapshots.add(Int64(max(dropped, s.sealed[i].snapshots)))
                rewrite(&s, index: i, records: decoded.records.filter { $0.kind == .event })
                s.sealed[i].snapshots = 0
                if s.sealed[i].bytes == 0 { s.sealed.remove(at: i) }
                logger.warning("spool full, dropped oldest snapshots", metadata: ["spool.dropped": "\(dropped)"])
            } else if let active = s.active, active.snapshots > 0, !s.sealed.isEmpty || active.events > 0 {
                seal(&s)
            } else if let oldest = s.sealed.first, s.sealed.count > 0 {
                unlink(Self.path(directory, oldest.id))
                counters.droppedEvents.add(Int64(oldest.events))
                s.sealed.removeFirst()
                logger.error("spool full, dropped oldest events", metadata: ["spool.dropped": "\(oldest.events)"])
            } else {
                // Only the active segment left: it is what we are writing now.
                break
            }
        }
    }
}
