import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why an ingest body was refused; `message` starts with the offending field's path.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
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

enum IngestValidator {
    /// Nesting deeper than `limit` (outside strings), or an object naming a key twice,
    /// scanned before decoding: a hostile body cannot make the decoder recurse without
    /// bound, and cannot say two things in one object (decoders disagree on which wins).
    static func checkStructure(_ bytes: [UInt8], limit: Int) throws(ValidationError) {
        // One entry per open container: the keys seen so far when it is an object.
        var open: [Set<[UInt8]>?] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\""):
                let start = i + 1
                var escaped = false
                i += 1
                while i < bytes.count {
                    if escaped {
                        escaped = false
                    } else if bytes[i] == UInt8(ascii: "\\") {
                        escaped = true
                    } else if bytes[i] == UInt8(ascii: "\"") {
                        break
                    }
                    i += 1
                }
                // A key is a string followed by a colon, inside an object.
                var j = i + 1
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0A || bytes[j] == 0x0D {
                    j += 1
                }
                if j < bytes.count, bytes[j] == UInt8(ascii: ":"), let last = open.last, var keys = last {
                    let key = unescapedKey(bytes[start..<min(i, bytes.count)])
                    guard keys.insert(key).inserted else {
                        throw ValidationError(
                            "", "duplicate key \"\(String(decoding: key, as: UTF8.self))\" in one object")
                    }
                    open[open.count - 1] = keys
                }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                open.append(b == UInt8(ascii: "{") ? [] : nil)
                if open.count > limit {
                    throw ValidationError("", "JSON nested deeper than \(limit) levels")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if !open.isEmpty { open.removeLast() }
            default: break
            }
            i += 1
        }
    }

    /// A key's bytes with JSON escapes resolved, so `"a"` and `"\u0061"` are one key.
    static func unescapedKey(_ raw: ArraySlice<UInt8>) -> [UInt8] {
        guard raw.contains(UInt8(ascii: "\\")) else { return Array(raw) }
        var quoted = [UInt8(ascii: "\"")] + raw + [UInt8(ascii: "\"")]
        if let s = try? JSONDecoder().decode(String.self, from: Data(quoted)) { return Array(s.utf8) }
        quoted.removeAll()
        return Array(raw)
    }

    /// Decodes an ingest body, naming the field when its type or presence is wrong.
    static func decode(_ bytes: [UInt8], limits: IngestLimits) throws(ValidationError)
        -> IngestBatch
    {
        try checkStructure(bytes, limit: limits.maxDepth)
        do {
            return try JSONDecoder().decode(IngestBatch.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw ValidationError("", "body is not valid JSON")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        var out = ""
        for key in keys {
            if let i = key.intValue {
                out += "[\(i)]"
            } else {
                out += (out.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return out
    }

    static func describe(_ error: DecodingError) -> ValidationError {
        switch error {
        case .typeMismatch(let type, let c):
            return ValidationError(path(c.codingPath), "expected \(typeName(type))")
        case .valueNotFound(let type, let c):
            return ValidationError(path(c.codingPath), "expected \(typeName(type)), got null")
        case .keyNotFound(let key, let c):
            return ValidationError(path(c.codingPath + [key]), "required field is missing")
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty {
                return ValidationError("", "body is not valid JSON")
            }
            return ValidationError(path(c.codingPath), "invalid value")
        @unknown default:
            return ValidationError("", "body is not valid JSON")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default:
            "\(type)".hasPrefix("Array") ? "an array" : "an object"
        }
    }

    /// Checks every field's range and length. Events without a host get the batch's. A
    /// time more than `limits.maxFutureSkewSeconds` after `nowMicroseconds` is refused.
    static func validate(
        _ batch: IngestBatch, limits: IngestLimits,
        nowMicroseconds: Int64 = Int64(Date().timeIntervalSince1970 * 1_000_000)
    ) throws(ValidationError) {
        let notAfter = nowMicroseconds + Int64(max(0, min(limits.maxFutureSkewSeconds, 1e9)) * 1_000_000)
        try text(batch.host, "host", min: 1, max: 253)
        try optionalText(batch.bootID, "boot_id", max: 64)
        if let a = batch.agent {
            try text(a.version, "agent.version", min: 1, max: 64)
            if let i = a.intervalS, !(i >= 0.1 && i <= 86_400) {
                throw ValidationError("agent.interval_s", "must be between 0.1 and 86400 (the agent's own range)")
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
            throw ValidationError("events", "at most \(limits.maxEvents) per batch")
        }
        guard batch.snapshots.count <= limits.maxSnapshots else {
            throw ValidationError("snapshots", "at most \(limits.maxSnapshots) per batch")
        }
        for (i, e) in batch.events.enumerated() {
            try validate(e, "events[\(i)]", host: batch.host, limits: limits, notAfter: notAfter)
        }
        for (i, s) in batch.snapshots.enumerated() {
            try validate(s, "snapshots[\(i)]", host: batch.host, limits: limits, notAfter: notAfter)
        }
    }

    static func validate(_ e: OOMEvent, _ at: String, host: String, limits: IngestLimits, notAfter: Int64)
        throws(ValidationError)
    {
        try text(e.id, "\(at).id", min: 1, max: 128)
        for c in e.id.utf8 {
            let ok =
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: ":")
            guard ok else {
                throw ValidationError("\(at).id", "only letters, digits and - _ . : allowed")
            }
        }
        if let h = e.host, h != host {
            throw ValidationError("\(at).host", "does not match the batch's host")
        }
        try optionalText(e.bootID, "\(at).boot_id", max: 64)
        try time(e.time, "\(at).time", notAfter: notAfter)
        try seconds(e.uptimeS, "\(at).uptime_s")
        let v = e.victim
        if let p = v.pid { try pid(p, "\(at).victim.pid") }
        try text(v.comm, "\(at).victim.comm", min: 0, max: 256)
        try optionalRange(v.uid.map(Int64.init), "\(at).victim.uid", 0...4_294_967_295)
        for (value, name) in [
            (v.totalVmKB, "total_vm_kb"), (v.anonRssKB, "anon_rss_kb"), (v.fileRssKB, "file_rss_kb"),
            (v.shmemRssKB, "shmem_rss_kb"), (v.pgtablesKB, "pgtables_kb"), (v.lastRssKB, "last_rss_kb"),
        ] {
            try kb(value, "\(at).victim.\(name)")
        }
        try optionalRange(v.oomScoreAdj.map(Int64.init), "\(at).victim.oom_score_adj", -1000...1000)
        try optionalRange(v.score.map(Int64.init), "\(at).victim.score", -100_000...100_000)
        try optionalText(v.cgroup, "\(at).victim.cgroup", max: 4096)
        try optionalText(v.unit, "\(at).victim.unit", max: 256)
        try optionalText(v.containerID, "\(at).victim.container_id", max: 256)
        try optionalText(v.podUID, "\(at).victim.pod_uid", max: 64)
        try optionalText(v.cmdline, "\(at).victim.cmdline", max: 4096)
        if let t = e.trigger {
            if let p = t.pid { try pid(p, "\(at).trigger.pid") }
            try optionalText(t.comm, "\(at).trigger.comm", max: 256)
            try optionalText(t.gfpMask, "\(at).trigger.gfp_mask", max: 128)
            try optionalRange(t.order.map(Int64.init), "\(at).trigger.order", -1...64)
            try optionalRange(
                t.oomScoreAdj.map(Int64.init), "\(at).trigger.oom_score_adj", -1000...1000)
            try optionalRange(t.oomAdj.map(Int64.init), "\(at).trigger.oom_adj", -17...15)
        }
        if let m = e.memcg {
            try optionalText(m.oom, "\(at).memcg.oom", max: 4096)
            try optionalText(m.task, "\(at).memcg.task", max: 4096)
            try kb(m.usageKB, "\(at).memcg.usage_kb")
            try kb(m.limitKB, "\(at).memcg.limit_kb")
            try nonNegative(m.failcnt, "\(at).memcg.failcnt")
        }
        if let cs = e.candidates {
            guard cs.count <= limits.maxCandidates else {
                throw ValidationError("\(at).candidates", "at most \(limits.maxCandidates) rows")
            }
            for (j, c) in cs.enumerated() {
                let cat = "\(at).candidates[\(j)]"
                try pid(c.pid, "\(cat).pid")
                try text(c.name, "\(cat).name", min: 0, max: 256)
                for (value, name) in [
                    (c.totalVmPages, "total_vm_pages"), (c.rssPages, "rss_pages"),
                    (c.rssAnonPages, "rss_anon_pages"), (c.rssFilePages, "rss_file_pages"),
                    (c.rssShmemPages, "rss_shmem_pages"), (c.pgtablesBytes, "pgtables_bytes"),
                    (c.swapents, "swapents"),
                ] {
                    try nonNegative(value, "\(cat).\(name)")
                }
            }
        }
        try optionalText(e.constraint, "\(at).constraint", max: 64)
        try optionalText(e.cpuset, "\(at).cpuset", max: 4096)
        try optionalText(e.memsAllowed, "\(at).mems_allowed", max: 4096)
        if let r = e.reaped {
            try kb(r.anonRssKB, "\(at).reaped.anon_rss_kb")
            try kb(r.fileRssKB, "\(at).reaped.file_rss_kb")
            try kb(r.shmemRssKB, "\(at).reaped.shmem_rss_kb")
        }
        try optionalText(e.raw, "\(at).raw", max: limits.maxRawBytes)
    }

    static func validate(_ s: MemorySnapshot, _ at: String, host: String, limits: IngestLimits, notAfter: Int64)
        throws(ValidationError)
    {
        guard s.host == host else {
            throw ValidationError("\(at).host", "does not match the batch's host")
        }
        try optionalText(s.bootID, "\(at).boot_id", max: 64)
        guard s.time.utf8.count <= 64, let t = RFC3339.parse(s.time) else {
            throw ValidationError("\(at).time", "must be an RFC 3339 timestamp")
        }
        try notInFuture(t, "\(at).time", notAfter: notAfter)
        try seconds(s.uptimeS, "\(at).uptime_s")
        try optionalText(s.kernel, "\(at).kernel", max: 256)
        for (map, name) in [(s.memory, "memory"), (s.vmstat, "vmstat")] {
            guard map.count <= limits.maxMapEntries else {
                throw ValidationError("\(at).\(name)", "at most \(limits.maxMapEntries) fields")
            }
            for (key, value) in map {
                try text(key, "\(at).\(name) key", min: 1, max: 64)
                try nonNegative(value, "\(at).\(name).\(key)")
            }
        }
        if let p = s.pressure {
            for (value, name) in [
                (p.someAvg10, "some_avg10"), (p.someAvg60, "some_avg60"),
                (p.someAvg300, "some_avg300"), (p.fullAvg10, "full_avg10"),
                (p.fullAvg60, "full_avg60"), (p.fullAvg300, "full_avg300"),
            ] {
                if let value, !(value >= 0 && value <= 100) {
                    throw ValidationError("\(at).pressure.\(name)", "must be between 0 and 100")
                }
            }
            try nonNegative(p.someTotalUs, "\(at).pressure.some_total_us")
            try nonNegative(p.fullTotalUs, "\(at).pressure.full_total_us")
        }
        guard s.processes.count <= limits.maxProcesses else {
            throw ValidationError("\(at).processes", "at most \(limits.maxProcesses) entries")
        }
        for (j, p) in s.processes.enumerated() {
            let pat = "\(at).processes[\(j)]"
            try pid(p.pid, "\(pat).pid")
            if let pp = p.ppid { try pid(pp, "\(pat).ppid") }
            try text(p.comm, "\(pat).comm", min: 0, max: 256)
            try optionalText(p.cmdline, "\(pat).cmdline", max: 4096)
            try optionalRange(p.uid.map(Int64.init), "\(pat).uid", 0...4_294_967_295)
            try time(p.startedAt, "\(pat).started_at", notAfter: notAfter)
            for (value, name) in [
                (p.vmSizeKB, "vm_size_kb"), (Optional(p.rssKB), "rss_kb"),
                (p.rssAnonKB, "rss_anon_kb"), (p.rssFileKB, "rss_file_kb"),
                (p.rssShmemKB, "rss_shmem_kb"), (p.swapKB, "swap_kb"),
            ] {
                try kb(value, "\(pat).\(name)")
            }
            try optionalRange(p.oomScore.map(Int64.init), "\(pat).oom_score", 0...100_000)
            try optionalRange(p.oomScoreAdj.map(Int64.init), "\(pat).oom_score_adj", -1000...1000)
            try optionalText(p.cgroup, "\(pat).cgroup", max: 4096)
            try optionalText(p.unit, "\(pat).unit", max: 256)
            try optionalText(p.containerID, "\(pat).container_id", max: 256)
            try optionalText(p.podUID, "\(pat).pod_uid", max: 64)
        }
        guard s.cgroups.count <= limits.maxCgroups else {
            throw ValidationError("\(at).cgroups", "at most \(limits.maxCgroups) entries")
        }
        for (j, c) in s.cgroups.enumerated() {
            let cat = "\(at).cgroups[\(j)]"
            try text(c.path, "\(cat).path", min: 1, max: 4096)
            try kb(c.usageKB, "\(cat).usage_kb")
            try kb(c.limitKB, "\(cat).limit_kb")
            try nonNegative(c.oomKill, "\(cat).oom_kill")
        }
        try validateSystem(s, at)
    }

    // MARK: field checks

    static func text(_ s: String, _ field: String, min: Int, max: Int) throws(ValidationError) {
        let n = s.utf8.count
        guard n >= min else { throw ValidationError(field, "must not be empty") }
        guard n <= max else { throw ValidationError(field, "longer than \(max) bytes") }
        if s.utf8.contains(0) { throw ValidationError(field, "contains a NUL byte") }
    }

    static func optionalText(_ s: String?, _ field: String, max: Int) throws(ValidationError) {
        if let s { try text(s, field, min: 0, max: max) }
    }

    static func time(_ s: String?, _ field: String, notAfter: Int64) throws(ValidationError) {
        guard let s else { return }
        guard s.utf8.count <= 64, let t = RFC3339.parse(s) else {
            throw ValidationError(field, "must be an RFC 3339 timestamp")
        }
        // 1990 to 2200: anything else is a broken clock, and sorts badly forever.
        guard t >= 631_152_000_000_000, t <= 7_258_118_400_000_000 else {
            throw ValidationError(field, "out of range")
        }
        try notInFuture(t, field, notAfter: notAfter)
    }

    static func notInFuture(_ t: Int64, _ field: String, notAfter: Int64) throws(ValidationError) {
        guard t <= notAfter else {
            let limit = RFC3339.format(epochMicroseconds: notAfter)
            throw ValidationError(field, "later than the collector's clock allows (\(limit)): check the host's clock")
        }
    }

    static func seconds(_ v: Double?, _ field: String) throws(ValidationError) {
        if let v, !(v >= 0 && v < 1e10) { throw ValidationError(field, "must be 0 or more") }
    }

    static func pid(_ v: Int, _ field: String) throws(ValidationError) {
        guard v >= 0 && v <= 4_194_304 * 16 else {
            throw ValidationError(field, "must be a process id")
        }
    }

    static func kb(_ v: Int64?, _ field: String) throws(ValidationError) {
        if let v, !(v >= 0 && v <= 1 << 50) {
            throw ValidationError(field, "must be between 0 and 2^50 kB")
        }
    }

    static func nonNegative(_ v: Int64?, _ field: String) throws(ValidationError) {
        if let v, v < 0 { throw ValidationError(field, "must be 0 or more") }
    }

    static func optionalRange(_ v: Int64?, _ field: String, _ range: ClosedRange<Int64>)
        throws(ValidationError)
    {
        if let v, !range.contains(v) {
            throw ValidationError(field, "must be between \(range.lowerBound) and \(range.upperBound)")
        }
    }
}
