#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why an ingest body was refused; `message` starts with the offending field's path
/// (`snapshots[3].memory.total_kb: must be 0 or more`).
public struct IngestValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ field: String, _ problem: String) {
        message = field.isEmpty ? problem : "\(field): \(problem)"
    }
    public var description: String { message }
}

/// Limits on what one ingest batch may hold.
public struct IngestLimits: Sendable, Equatable {
    public var maxDepth = 32
    public var maxEvents = 10_000
    public var maxSnapshots = 2_000
    public var maxProcesses = 1_000
    public var maxCgroups = 1_000
    public var maxCandidates = 10_000
    public var maxMapEntries = 1_000
    public var maxRawBytes = 256 * 1024
    /// How far in the future (by the collector's clock) a time may be: more is a broken or
    /// hostile clock, and would pin a host's "latest" state.
    public var maxFutureSkewSeconds: Double = 600
    public init() {}
}

/// Reads and checks what an agent posts: the one JSON codec (`JSONReader`, strict, no
/// duplicate keys, bounded depth) and every field's range and length, so the collector,
/// the fuzz target and tests refuse a body for the same reason with the same words.
public enum IngestValidator {
    /// Decodes an ingest body, naming the field when its type or presence is wrong.
    public static func decode(_ bytes: [UInt8], limits: IngestLimits) throws(IngestValidationError)
        -> IngestBatch
    {
        do {
            return try JSONReader(maxDepth: limits.maxDepth, rejectsDuplicateKeys: true)
                .decode(IngestBatch.self, from: bytes)
        } catch {
            throw describe(error, maxDepth: limits.maxDepth)
        }
    }

    /// A reader error in the words the ingest API has always used: the field first.
    static func describe(_ error: JSONCodingError, maxDepth: Int) -> IngestValidationError {
        switch error.kind {
        case .invalidJSON:
            if error.message.hasSuffix("nested more than \(maxDepth) deep") {
                return IngestValidationError("", "JSON nested deeper than \(maxDepth) levels")
            }
            return IngestValidationError("", "body is not valid JSON (\(error.description))")
        case .duplicateKey:
            return IngestValidationError("", error.message)
        case .keyNotFound:
            return IngestValidationError(error.path, "required field is missing")
        case .typeMismatch, .valueNotFound:
            // "expected Int64, found a string" → "expected an integer, found a string"
            return IngestValidationError(error.path, readable(error.message))
        case .dataCorrupted, .invalidValue, .other:
            if error.path.isEmpty { return IngestValidationError("", "body is not valid JSON") }
            return IngestValidationError(error.path, "invalid value")
        }
    }

    /// Swift type names in a reader message as the API's readers know them.
    static func readable(_ message: String) -> String {
        var out = message
        for (swift, json) in [
            ("expected String,", "expected a string,"), ("expected Int64,", "expected an integer,"),
            ("expected Int,", "expected an integer,"), ("expected Int32,", "expected an integer,"),
            ("expected UInt32,", "expected an integer,"), ("expected Double,", "expected a number,"),
            ("expected Bool,", "expected true or false,"),
        ] where out.hasPrefix(swift) {
            out = json + out.dropFirst(swift.count)
        }
        return out
    }

    /// Checks every field's range and length. Events without a host get the batch's. A
    /// time more than `limits.maxFutureSkewSeconds` after `nowMicroseconds` (default: the
    /// wall clock) is refused.
    public static func validate(
        _ batch: IngestBatch, limits: IngestLimits,
        nowMicroseconds: Int64? = nil
    ) throws(IngestValidationError) {
        let nowMicroseconds = nowMicroseconds ?? Int64(Date().timeIntervalSince1970 * 1_000_000)
        let notAfter = nowMicroseconds + Int64(max(0, min(limits.maxFutureSkewSeconds, 1e9)) * 1_000_000)
        try text(batch.host, "host", min: 1, max: 253)
        try optionalText(batch.bootID, "boot_id", max: 64)
        if let a = batch.agent {
            try text(a.version, "agent.version", min: 1, max: 64)
            for (value, name) in [(a.intervalS, "interval_s"), (a.uploadIntervalS, "upload_interval_s")] {
                if let i = value, !(i >= 0.1 && i <= 86_400) {
                    throw IngestValidationError(
                        "agent.\(name)", "must be between 0.1 and 86400 (the agent's own range)")
                }
            }
            let counters: [(Int64?, String)] = [
                (a.droppedSnapshots, "dropped_snapshots"), (a.droppedEvents, "dropped_events"),
                (a.corruptRecords, "corrupt_records"), (a.kmsgOverruns, "kmsg_overruns"),
                (a.kmsgMissedRecords, "kmsg_missed_records"),
                (a.unattributedKills, "unattributed_kills"), (a.sourceErrors, "source_errors"),
                (a.journalRefused, "journal_refused"),
            ]
            for (v, name) in counters { try nonNegative(v, "agent.\(name)") }
        }
        guard batch.events.count <= limits.maxEvents else {
            throw IngestValidationError("events", "at most \(limits.maxEvents) per batch")
        }
        guard batch.snapshots.count <= limits.maxSnapshots else {
            throw IngestValidationError("snapshots", "at most \(limits.maxSnapshots) per batch")
        }
        for (i, e) in batch.events.enumerated() {
            try validate(e, "events[\(i)]", host: batch.host, limits: limits, notAfter: notAfter)
        }
        for (i, s) in batch.snapshots.enumerated() {
            try validate(s, "snapshots[\(i)]", host: batch.host, limits: limits, notAfter: notAfter)
        }
    }

    static func validate(
        _ e: OOMEvent, _ at: @autoclosure () -> String, host: String, limits: IngestLimits, notAfter: Int64
    )
        throws(IngestValidationError)
    {
        try text(e.id, "\(at()).id", min: 1, max: 128)
        for c in e.id.utf8 {
            let ok =
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: ":")
            guard ok else {
                throw IngestValidationError("\(at()).id", "only letters, digits and - _ . : allowed")
            }
        }
        if let h = e.host, h != host {
            throw IngestValidationError("\(at()).host", "does not match the batch's host")
        }
        try optionalText(e.bootID, "\(at()).boot_id", max: 64)
        try time(e.time, "\(at()).time", notAfter: notAfter)
        try seconds(e.uptimeS, "\(at()).uptime_s")
        let v = e.victim
        if let p = v.pid { try pid(p, "\(at()).victim.pid") }
        try text(v.comm, "\(at()).victim.comm", min: 0, max: 256)
        try optionalRange(v.uid.map(Int64.init), "\(at()).victim.uid", 0...4_294_967_295)
        for (value, name) in [
            (v.totalVmKB, "total_vm_kb"), (v.anonRssKB, "anon_rss_kb"), (v.fileRssKB, "file_rss_kb"),
            (v.shmemRssKB, "shmem_rss_kb"), (v.pgtablesKB, "pgtables_kb"), (v.lastRssKB, "last_rss_kb"),
        ] {
            try kb(value, "\(at()).victim.\(name)")
        }
        try optionalRange(v.oomScoreAdj.map(Int64.init), "\(at()).victim.oom_score_adj", -1000...1000)
        try optionalRange(v.score.map(Int64.init), "\(at()).victim.score", -100_000...100_000)
        try optionalText(v.cgroup, "\(at()).victim.cgroup", max: 4096)
        try optionalText(v.unit, "\(at()).victim.unit", max: 256)
        try optionalText(v.containerID, "\(at()).victim.container_id", max: 256)
        try optionalText(v.podUID, "\(at()).victim.pod_uid", max: 64)
        try optionalText(v.cmdline, "\(at()).victim.cmdline", max: 4096)
        if let t = e.trigger {
            if let p = t.pid { try pid(p, "\(at()).trigger.pid") }
            try optionalText(t.comm, "\(at()).trigger.comm", max: 256)
            try optionalText(t.gfpMask, "\(at()).trigger.gfp_mask", max: 128)
            try optionalRange(t.order.map(Int64.init), "\(at()).trigger.order", -1...64)
            try optionalRange(
                t.oomScoreAdj.map(Int64.init), "\(at()).trigger.oom_score_adj", -1000...1000)
            try optionalRange(t.oomAdj.map(Int64.init), "\(at()).trigger.oom_adj", -17...15)
        }
        if let m = e.memcg {
            try optionalText(m.oom, "\(at()).memcg.oom", max: 4096)
            try optionalText(m.task, "\(at()).memcg.task", max: 4096)
            try kb(m.usageKB, "\(at()).memcg.usage_kb")
            try kb(m.limitKB, "\(at()).memcg.limit_kb")
            try nonNegative(m.failcnt, "\(at()).memcg.failcnt")
        }
        if let cs = e.candidates {
            guard cs.count <= limits.maxCandidates else {
                throw IngestValidationError("\(at()).candidates", "at most \(limits.maxCandidates) rows")
            }
            for (j, c) in cs.enumerated() {
                func cat() -> String { "\(at()).candidates[\(j)]" }
                try pid(c.pid, "\(cat()).pid")
                try text(c.name, "\(cat()).name", min: 0, max: 256)
                for (value, name) in [
                    (c.totalVmPages, "total_vm_pages"), (c.rssPages, "rss_pages"),
                    (c.rssAnonPages, "rss_anon_pages"), (c.rssFilePages, "rss_file_pages"),
                    (c.rssShmemPages, "rss_shmem_pages"), (c.pgtablesBytes, "pgtables_bytes"),
                    (c.swapents, "swapents"),
                ] {
                    try nonNegative(value, "\(cat()).\(name)")
                }
            }
        }
        try optionalText(e.constraint, "\(at()).constraint", max: 64)
        try optionalText(e.cpuset, "\(at()).cpuset", max: 4096)
        try optionalText(e.memsAllowed, "\(at()).mems_allowed", max: 4096)
        if let r = e.reaped {
            try kb(r.anonRssKB, "\(at()).reaped.anon_rss_kb")
            try kb(r.fileRssKB, "\(at()).reaped.file_rss_kb")
            try kb(r.shmemRssKB, "\(at()).reaped.shmem_rss_kb")
        }
        try optionalText(e.raw, "\(at()).raw", max: limits.maxRawBytes)
    }

    static func validate(
        _ s: MemorySnapshot, _ at: @autoclosure () -> String, host: String, limits: IngestLimits, notAfter: Int64
    )
        throws(IngestValidationError)
    {
        guard s.host == host else {
            throw IngestValidationError("\(at()).host", "does not match the batch's host")
        }
        try optionalText(s.bootID, "\(at()).boot_id", max: 64)
        guard s.time.utf8.count <= 64, let t = RFC3339.parse(s.time) else {
            throw IngestValidationError("\(at()).time", "must be an RFC 3339 timestamp")
        }
        try notInFuture(t, "\(at()).time", notAfter: notAfter)
        try seconds(s.uptimeS, "\(at()).uptime_s")
        if let b = s.base {
            guard b.time.utf8.count <= 64, RFC3339.parse(b.time) != nil else {
                throw IngestValidationError("\(at()).base.time", "must be an RFC 3339 timestamp")
            }
            let removed = b.removed ?? []
            guard removed.count <= 2 * limits.maxMapEntries else {
                throw IngestValidationError("\(at()).base.removed", "at most \(2 * limits.maxMapEntries) entries")
            }
            for name in removed {
                try text(name, "\(at()).base.removed entry", min: 1, max: 80)
            }
        }
        try optionalText(s.kernel, "\(at()).kernel", max: 256)
        for (map, name) in [(s.memory, "memory"), (s.vmstat, "vmstat")] {
            guard map.count <= limits.maxMapEntries else {
                throw IngestValidationError("\(at()).\(name)", "at most \(limits.maxMapEntries) fields")
            }
            for (key, value) in map {
                try text(key, "\(at()).\(name) key", min: 1, max: 64)
                try nonNegative(value, "\(at()).\(name).\(key)")
            }
        }
        if let p = s.pressure {
            for (value, name) in [
                (p.someAvg10, "some_avg10"), (p.someAvg60, "some_avg60"),
                (p.someAvg300, "some_avg300"), (p.fullAvg10, "full_avg10"),
                (p.fullAvg60, "full_avg60"), (p.fullAvg300, "full_avg300"),
            ] {
                if let value, !(value >= 0 && value <= 100) {
                    throw IngestValidationError("\(at()).pressure.\(name)", "must be between 0 and 100")
                }
            }
            try nonNegative(p.someTotalUs, "\(at()).pressure.some_total_us")
            try nonNegative(p.fullTotalUs, "\(at()).pressure.full_total_us")
        }
        guard s.processes.count <= limits.maxProcesses else {
            throw IngestValidationError("\(at()).processes", "at most \(limits.maxProcesses) entries")
        }
        for (j, p) in s.processes.enumerated() {
            func pat() -> String { "\(at()).processes[\(j)]" }
            try pid(p.pid, "\(pat()).pid")
            if let pp = p.ppid { try pid(pp, "\(pat()).ppid") }
            try text(p.comm, "\(pat()).comm", min: 0, max: 256)
            try optionalText(p.cmdline, "\(pat()).cmdline", max: 4096)
            try optionalRange(p.uid.map(Int64.init), "\(pat()).uid", 0...4_294_967_295)
            try time(p.startedAt, "\(pat()).started_at", notAfter: notAfter)
            // One call per field, not a loop over an array: this runs for every process.
            try kb(p.vmSizeKB, "\(pat()).vm_size_kb")
            try kb(p.rssKB, "\(pat()).rss_kb")
            try kb(p.rssAnonKB, "\(pat()).rss_anon_kb")
            try kb(p.rssFileKB, "\(pat()).rss_file_kb")
            try kb(p.rssShmemKB, "\(pat()).rss_shmem_kb")
            try kb(p.swapKB, "\(pat()).swap_kb")
            try optionalRange(p.oomScore.map(Int64.init), "\(pat()).oom_score", 0...100_000)
            try optionalRange(p.oomScoreAdj.map(Int64.init), "\(pat()).oom_score_adj", -1000...1000)
            try optionalText(p.cgroup, "\(pat()).cgroup", max: 4096)
            try optionalText(p.unit, "\(pat()).unit", max: 256)
            try optionalText(p.containerID, "\(pat()).container_id", max: 256)
            try optionalText(p.podUID, "\(pat()).pod_uid", max: 64)
            if let r = p.ref, ProcessDetail.digest(reference: r) == nil {
                throw IngestValidationError("\(pat()).ref", "must be 16 hex digits (a process details digest)")
            }
        }
        guard s.cgroups.count <= limits.maxCgroups else {
            throw IngestValidationError("\(at()).cgroups", "at most \(limits.maxCgroups) entries")
        }
        for (j, c) in s.cgroups.enumerated() {
            func cat() -> String { "\(at()).cgroups[\(j)]" }
            try text(c.path, "\(cat()).path", min: 1, max: 4096)
            try kb(c.usageKB, "\(cat()).usage_kb")
            try kb(c.limitKB, "\(cat()).limit_kb")
            try nonNegative(c.oomKill, "\(cat()).oom_kill")
        }
        try validateSystem(s, at())
    }

    // MARK: field checks

    static func text(_ s: String, _ field: @autoclosure () -> String, min: Int, max: Int) throws(IngestValidationError)
    {
        let n = s.utf8.count
        guard n >= min else { throw IngestValidationError(field(), "must not be empty") }
        guard n <= max else { throw IngestValidationError(field(), "longer than \(max) bytes") }
        if s.utf8.contains(0) { throw IngestValidationError(field(), "contains a NUL byte") }
    }

    static func optionalText(_ s: String?, _ field: @autoclosure () -> String, max: Int) throws(IngestValidationError) {
        if let s { try text(s, field(), min: 0, max: max) }
    }

    static func time(_ s: String?, _ field: @autoclosure () -> String, notAfter: Int64) throws(IngestValidationError) {
        guard let s else { return }
        guard s.utf8.count <= 64, let t = RFC3339.parse(s) else {
            throw IngestValidationError(field(), "must be an RFC 3339 timestamp")
        }
        // 1990 to 2200: anything else is a broken clock, and sorts badly forever.
        guard t >= 631_152_000_000_000, t <= 7_258_118_400_000_000 else {
            throw IngestValidationError(field(), "out of range")
        }
        try notInFuture(t, field(), notAfter: notAfter)
    }

    static func notInFuture(_ t: Int64, _ field: @autoclosure () -> String, notAfter: Int64)
        throws(IngestValidationError)
    {
        guard t <= notAfter else {
            let limit = RFC3339.format(epochMicroseconds: notAfter)
            throw IngestValidationError(
                field(), "later than the collector's clock allows (\(limit)): check the host's clock")
        }
    }

    static func seconds(_ v: Double?, _ field: @autoclosure () -> String) throws(IngestValidationError) {
        if let v, !(v >= 0 && v < 1e10) { throw IngestValidationError(field(), "must be 0 or more") }
    }

    static func pid(_ v: Int, _ field: @autoclosure () -> String) throws(IngestValidationError) {
        guard v >= 0 && v <= 4_194_304 * 16 else {
            throw IngestValidationError(field(), "must be a process id")
        }
    }

    static func kb(_ v: Int64?, _ field: @autoclosure () -> String) throws(IngestValidationError) {
        if let v, !(v >= 0 && v <= 1 << 50) {
            throw IngestValidationError(field(), "must be between 0 and 2^50 kB")
        }
    }

    static func nonNegative(_ v: Int64?, _ field: @autoclosure () -> String) throws(IngestValidationError) {
        if let v, v < 0 { throw IngestValidationError(field(), "must be 0 or more") }
    }

    static func optionalRange(_ v: Int64?, _ field: @autoclosure () -> String, _ range: ClosedRange<Int64>)
        throws(IngestValidationError)
    {
        if let v, !range.contains(v) {
            throw IngestValidationError(field(), "must be between \(range.lowerBound) and \(range.upperBound)")
        }
    }
}
