/// The fields of /proc/PID/stat the agent uses.
public struct ProcStat: Sendable, Equatable {
    public var pid: Int
    /// The name between the parentheses, which may itself hold spaces and parentheses.
    public var comm: String
    public var state: UInt8
    public var ppid: Int
    /// Start time in clock ticks after boot (field 22).
    public var startTicks: Int64
    /// Virtual size in bytes (field 23).
    public var vsizeBytes: Int64
    /// Resident set in pages (field 24).
    public var rssPages: Int64

    public init(
        pid: Int, comm: String, state: UInt8, ppid: Int, startTicks: Int64, vsizeBytes: Int64,
        rssPages: Int64
    ) {
        self.pid = pid
        self.comm = comm
        self.state = state
        self.ppid = ppid
        self.startTicks = startTicks
        self.vsizeBytes = vsizeBytes
        self.rssPages = rssPages
    }

    /// Parses one stat line; `nil` when it is not one.
    public static func parse(_ bytes: ArraySlice<UInt8>) -> ProcStat? {
        guard let (pid, _) = ProcBytes.integer(in: bytes, from: bytes.startIndex),
            let open = bytes.firstIndex(of: 40),  // (
            let close = bytes.lastIndex(of: 41),  // ) — the last one: comm may contain ")"
            close > open
        else { return nil }
        let comm = ProcBytes.string(bytes[(open + 1)..<close])
        // Fields after the comm, numbered from 3 (state).
        var i = close + 1
        while i < bytes.endIndex, bytes[i] == ASCII.space { i += 1 }
        guard i < bytes.endIndex else { return nil }
        let state = bytes[i]
        i += 1
        var field = 4
        var ppid: Int64 = 0
        var start: Int64 = 0
        var vsize: Int64 = 0
        var rss: Int64 = 0
        while field <= 24 {
            guard let (v, next) = ProcBytes.integer(in: bytes, from: i) else { return nil }
            switch field {
            case 4: ppid = v
            case 22: start = v
            case 23: vsize = v
            case 24: rss = v
            default: break
            }
            i = next
            field += 1
        }
        return ProcStat(
            pid: Int(pid), comm: comm, state: state, ppid: Int(ppid), startTicks: start,
            vsizeBytes: vsize, rssPages: rss)
    }

    /// `parse` of text.
    public static func parse(_ text: String) -> ProcStat? { parse(ArraySlice(text.utf8)) }
}

/// The fields of /proc/PID/status the agent uses (all sizes in kB).
public struct ProcStatus: Sendable, Equatable {
    public var name: String?
    public var ppid: Int?
    /// The real uid (first of the four `Uid:` values).
    public var uid: Int?
    public var vmSizeKB: Int64?
    public var vmRSSKB: Int64?
    public var rssAnonKB: Int64?
    public var rssFileKB: Int64?
    public var rssShmemKB: Int64?
    public var vmSwapKB: Int64?

    public init() {}

    public static func parse(_ bytes: ArraySlice<UInt8>) -> ProcStatus {
        var s = ProcStatus()
        ProcBytes.forEachLine(bytes) { line in
            guard let colon = line.firstIndex(of: ASCII.colon) else { return true }
            let key = line[line.startIndex..<colon]
            guard let first = key.first else { return true }
            // Cheap dispatch on the first byte: most of the ~55 lines are skipped unread.
            switch first {
            case 78:  // N
                if key.elementsEqual("Name".utf8) {
                    // The name is escaped by the kernel (\n → "\\n"); keep it verbatim.
                    var v = line[(colon + 1)...]
                    while let c = v.first, ASCII.isBlank(c) { v = v.dropFirst() }
                    s.name = ProcBytes.string(v)
                }
            case 80:  // P
                if key.elementsEqual("PPid".utf8) { s.ppid = int(line, colon).map(Int.init) }
            case 85:  // U
                if key.elementsEqual("Uid".utf8) { s.uid = int(line, colon).map(Int.init) }
            case 86:  // V
                if key.elementsEqual("VmSize".utf8) {
                    s.vmSizeKB = int(line, colon)
                } else if key.elementsEqual("VmRSS".utf8) {
                    s.vmRSSKB = int(line, colon)
                } else if key.elementsEqual("VmSwap".utf8) {
                    s.vmSwapKB = int(line, colon)
                }
            case 82:  // R
                if key.elementsEqual("RssAnon".utf8) {
                    s.rssAnonKB = int(line, colon)
                } else if key.elementsEqual("RssFile".utf8) {
                    s.rssFileKB = int(line, colon)
                } else if key.elementsEqual("RssShmem".utf8) {
                    s.rssShmemKB = int(line, colon)
                }
            default: break
            }
            return true
        }
        return s
    }

    public static func parse(_ text: String) -> ProcStatus { parse(ArraySlice(text.utf8)) }

    private static func int(_ line: ArraySlice<UInt8>, _ colon: Int) -> Int64? {
        ProcBytes.integer(in: line, from: colon + 1)?.value
    }
}

/// /proc/PID/cmdline: NUL-separated arguments.
public enum ProcCmdline {
    /// Arguments joined by spaces; `nil` for an empty file (kernel threads, zombies).
    public static func parse(_ bytes: ArraySlice<UInt8>, maxBytes: Int = 4096) -> String? {
        var b = bytes.prefix(maxBytes)
        while let last = b.last, last == 0 { b = b.dropLast() }
        guard !b.isEmpty else { return nil }
        var out = Array(b)
        for i in out.indices where out[i] == 0 { out[i] = ASCII.space }
        return String(decoding: out, as: UTF8.self)
    }

    public static func parse(_ text: String) -> String? { parse(ArraySlice(text.utf8)) }
}

/// A single-number /proc file such as oom_score or oom_score_adj.
public enum ProcNumber {
    public static func parse(_ bytes: ArraySlice<UInt8>) -> Int64? {
        ProcBytes.wholeInteger(bytes)
    }

    public static func parse(_ text: String) -> Int64? { parse(ArraySlice(text.utf8)) }
}
