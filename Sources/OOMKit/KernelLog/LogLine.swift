/// One line of a kernel log, with what its container (kmsg record, dmesg, syslog, journal)
/// said about it. This is what ``OOMReportAssembler`` consumes.
///
/// The live agent builds these straight from `/dev/kmsg` records
/// (``KmsgRecord/logLine()``); `scan` builds them with ``LogLineParser``.
public struct LogLine: Sendable, Equatable {
    /// Who wrote the line, as far as the container tells.
    public enum Origin: Sendable, Equatable {
        /// The kernel (kmsg facility 0, syslog tag `kernel`, journal transport `kernel`).
        case kernel
        /// A userspace program (its syslog identifier), e.g. `earlyoom`, `systemd-oomd`.
        case userspace(String)
        /// A bare line: could be either.
        case unknown
    }

    /// The message text without the container's prefix (`\xNN` escapes already decoded).
    /// It may hold a newline (an escaped `\x0a` in a kmsg record, a journal MESSAGE): the
    /// record is still one line, and ``OOMReportAssembler`` reads only what comes before it.
    public var message: String
    /// Kernel timestamp in microseconds since boot, when the container carries it.
    public var uptimeMicros: Int64?
    /// Wall-clock time in microseconds since the Unix epoch, when the container carries it.
    public var epochMicros: Int64?
    /// Host name, when the container carries it (syslog, journal).
    public var host: String?
    /// Boot id in `/proc/sys/kernel/random/boot_id` form (dashed, lowercase), when known.
    public var bootID: String?
    public var origin: Origin
    /// printk caller id (`T812` for a task, `C3` for a CPU), when the log has them.
    public var callerID: String?
    /// True when the container marked this line as continuing the previous record
    /// (kmsg `+` flag).
    public var continuesPrevious: Bool
    /// The line exactly as read, container prefix included (what goes into `raw`).
    public var raw: String

    public init(
        message: String,
        uptimeMicros: Int64? = nil,
        epochMicros: Int64? = nil,
        host: String? = nil,
        bootID: String? = nil,
        origin: Origin = .unknown,
        callerID: String? = nil,
        continuesPrevious: Bool = false,
        raw: String? = nil
    ) {
        self.message = message
        self.uptimeMicros = uptimeMicros
        self.epochMicros = epochMicros
        self.host = host
        self.bootID = bootID
        self.origin = origin
        self.callerID = callerID
        self.continuesPrevious = continuesPrevious
        self.raw = raw ?? message
    }
}

/// One record read from `/dev/kmsg`: `PRI,SEQ,USEC,FLAGS[,…];message`.
///
/// The kernel escapes non-printable bytes in the message as `\xNN` (a newline inside a
/// record is `\x0a`); ``message`` has them decoded. Dictionary lines that follow a record
/// (` SUBSYSTEM=…`, starting with a space) are not records: ``parse(_:)`` returns `nil`
/// for them, and ``isDictionaryLine(_:)`` recognises them.
public struct KmsgRecord: Sendable, Equatable {
    /// Syslog priority: facility × 8 + level. Facility 0 is the kernel itself.
    public var priority: Int
    public var sequence: UInt64
    /// Microseconds since boot.
    public var usec: Int64
    /// `-` for a normal record; `c` (fragment, continued) or `+` (continues the previous
    /// fragment) on kernels 3.5 to 4.8.
    public var flags: String
    /// The decoded message.
    public var message: String

    public init(priority: Int, sequence: UInt64, usec: Int64, flags: String, message: String) {
        self.priority = priority
        self.sequence = sequence
        self.usec = usec
        self.flags = flags
        self.message = message
    }

    /// The syslog facility (0 = kernel, 1 = user, 3 = daemon…).
    public var facility: Int { priority >> 3 }
    /// The log level (0 = emerg … 7 = debug).
    public var level: Int { priority & 7 }

    /// Parses one line read from `/dev/kmsg` (without its trailing newline), or `nil`
    /// when it is not a record.
    public static func parse(_ line: some StringProtocol) -> KmsgRecord? {
        var bytes = Array(line.utf8)
        if bytes.last == ASCII.newline { bytes.removeLast() }
        return parse(bytes: bytes[...])
    }

    /// `parse(_:)` on raw bytes.
    public static func parse(bytes: ArraySlice<UInt8>) -> KmsgRecord? {
        var i = bytes.startIndex
        let end = bytes.endIndex
        func number() -> UInt64? {
            ASCII.digits(bytes, &i, as: UInt64.self, maxDigits: 19)
        }
        guard let pri = number(), pri < 1 << 16, i < end, bytes[i] == ASCII.comma else { return nil }
        i += 1
        guard let seq = number(), i < end, bytes[i] == ASCII.comma else { return nil }
        i += 1
        guard let usec = number(), i < end, bytes[i] == ASCII.comma else { return nil }
        i += 1
        let flagsStart = i
        while i < end, bytes[i] != ASCII.semicolon, bytes[i] != ASCII.comma {
            // Flags are a few punctuation characters; anything longer is not a record.
            if i - flagsStart > 4 { return nil }
            i += 1
        }
        let flags = String(decoding: bytes[flagsStart..<i], as: UTF8.self)
        // Newer kernels may add fields (`,caller=T812`) before the `;`.
        while i < end, bytes[i] != ASCII.semicolon { i += 1 }
        guard i < end else { return nil }
        i += 1
        return KmsgRecord(
            priority: Int(pri), sequence: seq, usec: Int64(usec), flags: flags,
            message: unescape(bytes[i..<end]))
    }

    /// The `caller=` field some kernels add to the record prefix, if present.
    static func callerField(_ bytes: ArraySlice<UInt8>) -> String? {
        guard let semi = bytes.firstIndex(of: ASCII.semicolon) else { return nil }
        let prefix = bytes[bytes.startIndex..<semi]
        let key = Array(",caller=".utf8)
        guard var i = prefix.firstIndex(of: ASCII.comma) else { return nil }
        while i < semi, !prefix[i...].starts(with: key) {
            guard let next = prefix[(i + 1)...].firstIndex(of: ASCII.comma) else { return nil }
            i = next
        }
        guard i < semi else { return nil }
        let v = prefix[(i + key.count)...].prefix { $0 != ASCII.comma }
        return v.isEmpty ? nil : String(decoding: v, as: UTF8.self)
    }

    /// True for a kmsg dictionary line (` KEY=value`): a space, then an upper-case key.
    public static func isDictionaryLine(_ bytes: some Collection<UInt8>) -> Bool {
        var it = bytes.makeIterator()
        guard it.next() == ASCII.space, let first = it.next(), ASCII.isUpper(first) else {
            return false
        }
        while let c = it.next() {
            if c == ASCII.equals { return true }
            let ok = ASCII.isUpper(c) || ASCII.isDigit(c) || c == ASCII.underscore
            if !ok { return false }
        }
        return false
    }

    /// Decodes the kernel's `\xNN` escapes (invalid UTF-8 becomes U+FFFD).
    public static func unescape(_ bytes: ArraySlice<UInt8>) -> String {
        guard bytes.contains(ASCII.backslash) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let c = bytes[i]
            if c == ASCII.backslash, i + 3 < bytes.endIndex, bytes[i + 1] == UInt8(ascii: "x"),
                let hi = hexValue(bytes[i + 2]), let lo = hexValue(bytes[i + 3])
            {
                out.append(hi << 4 | lo)
                i += 4
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case ASCII.zero...ASCII.nine: c - ASCII.zero
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// This record as a ``LogLine`` for ``OOMReportAssembler``: kernel origin for facility 0,
    /// the uptime from `usec`. Pass `bootID`/`epochMicros` when the caller knows them
    /// (the agent knows its boot id and boot time).
    public func logLine(bootID: String? = nil, epochMicros: Int64? = nil, raw: String? = nil) -> LogLine {
        LogLine(
            message: message,
            uptimeMicros: usec,
            epochMicros: epochMicros,
            bootID: bootID,
            origin: facility == 0 ? .kernel : .userspace(LogLineParser.programTag(of: message) ?? ""),
            continuesPrevious: flags.contains("+"),
            raw: raw)
    }
}
