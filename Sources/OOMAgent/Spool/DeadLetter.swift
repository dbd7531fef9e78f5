import HostSupport
public import Logging
public import OOMKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Batches the collector called malformed (400, 413, 422), set aside in
/// `<state>/dead-letter/` until `oomwatch-agent spool replay` sends them again.
///
/// One file per batch, named by the time it was set aside so names sort oldest first:
/// the first line is a `Header` (why), the second the ingest body exactly as it was sent,
/// so a replay sends the same bytes. Bounded: over `maxBytes` the oldest batches are
/// deleted and their records counted as dropped, like any other loss.
public struct DeadLetter: Sendable {
    /// Why a batch was set aside (the file's first line).
    public struct Header: Codable, Sendable, Equatable {
        public var status: Int
        public var reason: String
        public var time: String
        public var events: Int
        public var snapshots: Int

        public init(status: Int, reason: String, time: String, events: Int, snapshots: Int) {
            self.status = status
            self.reason = reason
            self.time = time
            self.events = events
            self.snapshots = snapshots
        }
    }

    /// One set-aside batch.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var path: String
        public var bytes: Int64
        public var header: Header
    }

    public static let suffix = ".batch"

    public let directory: String
    public let maxBytes: Int64
    private let counters: AgentCounters
    private let logger: Logger

    public init(directory: String, maxBytes: Int64, counters: AgentCounters, logger: Logger) {
        self.directory = directory
        self.maxBytes = maxBytes
        self.counters = counters
        self.logger = logger
    }

    /// Sets a batch aside; returns the records dropped to keep the directory bounded.
    @discardableResult
    public func add(body: [UInt8], header: Header) throws(FileIOError) -> (events: Int, snapshots: Int) {
        try FileIO.makeDirectories(directory)
        var file = (try? JSONWriter().encode(header)) ?? Array("{}".utf8)
        file.append(10)
        file += body
        file.append(10)
        var dropped = (events: 0, snapshots: 0)
        func drop(_ h: Header, _ why: String) {
            dropped.events += h.events
            dropped.snapshots += h.snapshots
            counters.droppedEvents.add(Int64(h.events))
            counters.droppedSnapshots.add(Int64(h.snapshots))
            logger.error(
                "dead-letter directory full, dropped a set-aside batch",
                metadata: [
                    "dead_letter.why": "\(why)", "dead_letter.events": "\(h.events)",
                    "dead_letter.snapshots": "\(h.snapshots)", "dead_letter.max_bytes": "\(maxBytes)",
                ])
        }
        if Int64(file.count) > maxBytes {
            drop(header, "batch larger than the whole dead-letter limit")
            return dropped
        }
        var entries = list()
        var total = entries.reduce(Int64(0)) { $0 + $1.bytes }
        while total + Int64(file.count) > maxBytes, !entries.isEmpty {
            let oldest = entries.removeFirst()
            unlink(oldest.path)
            total -= oldest.bytes
            drop(oldest.header, "oldest batch removed to make room")
        }
        try FileIO.writeAtomically(directory + "/" + Self.newName(), file)
        return dropped
    }

    /// The set-aside batches, oldest first.
    public func list() -> [Entry] {
        var names: [String] = []
        try? DirectoryList.forEach(directory) { name, _ in
            let n = String(decoding: name, as: UTF8.self)
            if n.hasSuffix(Self.suffix) { names.append(n) }
        }
        return names.sorted().compactMap { name in
            let path = directory + "/" + name
            guard let bytes = try? FileIO.readAll(path) else { return nil }
            let (header, _) = Self.split(bytes)
            return Entry(
                name: name, path: path, bytes: Int64(bytes.count),
                header: header ?? Header(status: 0, reason: "unreadable header", time: "", events: 0, snapshots: 0))
        }
    }

    /// The ingest body of a set-aside batch, as it was sent.
    public func body(of entry: Entry) -> [UInt8]? {
        guard let bytes = try? FileIO.readAll(entry.path) else { return nil }
        return Self.split(bytes).body
    }

    /// Removes a batch the collector has now accepted.
    public func remove(_ entry: Entry) {
        unlink(entry.path)
        FileIO.syncDirectory(of: entry.path)
    }

    /// Moves the single `dead-letter.jsonl` file older agents wrote (one
    /// `{"status":…,"reason":…,"batch":BODY}` per line) into the directory, so those
    /// batches can be replayed too. The rename first makes a concurrent `spool` command
    /// and the daemon agree on who converts it.
    public func importLegacy(_ legacyPath: String) {
        let claimed = legacyPath + ".importing." + String(getpid())
        guard FileIO.exists(legacyPath), rename(legacyPath, claimed) == 0 else { return }
        let bytes = (try? FileIO.readAll(claimed)) ?? [] ?? []
        var failed = false
        for line in bytes.split(separator: 10) {
            guard let parsed = Self.parseLegacy(Array(line)) else { continue }
            do {
                try add(body: parsed.body, header: parsed.header)
            } catch {
                failed = true
                logger.error("cannot import the old dead-letter file", metadata: ["error": "\(error)"])
            }
        }
        if failed { rename(claimed, legacyPath) } else { unlink(claimed) }
    }

    /// A legacy line's header and body; `nil` when it is not one.
    static func parseLegacy(_ line: [UInt8]) -> (header: Header, body: [UInt8])? {
        // The reason is a JSON string, in which `,"batch":` could appear only escaped, so
        // the first unescaped occurrence is the real key.
        let key = Array(#","batch":"#.utf8)
        guard line.count > key.count + 1, line.last == 125,
            let at = (0...(line.count - key.count)).first(where: { line[$0..<($0 + key.count)].elementsEqual(key) })
        else { return nil }
        let body = Array(line[(at + key.count)..<(line.count - 1)])
        struct Legacy: Decodable {
            var status: Int
            var reason: String
        }
        var head = Array(line[..<at])
        head.append(125)
        guard let legacy = try? JSONReader().decode(Legacy.self, from: head) else { return nil }
        let counts = try? JSONReader().decode(IngestBatch.self, from: body)
        let header = Header(
            status: legacy.status, reason: legacy.reason, time: "",
            events: counts?.events.count ?? 0, snapshots: counts?.snapshots.count ?? 0)
        return (header, body)
    }

    private static func split(_ bytes: [UInt8]) -> (header: Header?, body: [UInt8]?) {
        guard let nl = bytes.firstIndex(of: 10) else { return (nil, nil) }
        let header = try? JSONReader().decode(Header.self, from: bytes[..<nl])
        var body = Array(bytes[(nl + 1)...])
        while body.last == ASCII.newline { body.removeLast() }
        return (header, body.isEmpty ? nil : body)
    }

    /// Time-ordered and unique within this process; the pid keeps a concurrent command's
    /// names apart.
    private static func newName() -> String {
        let micros = String(HostClock.nowMicros())
        let n = sequence.wrappingAdd(1, ordering: .relaxed).newValue
        return String(repeating: "0", count: max(0, 20 - micros.count)) + micros + "-" + String(getpid()) + "-"
            + String(n) + suffix
    }
}

private let sequence = Atomic<Int>(0)
