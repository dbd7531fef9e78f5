/// Recognises the container of each log line on its own, so one file may mix them:
///
/// - raw `/dev/kmsg` records `PRI,SEQ,USEC,FLAGS;text` (their ` KEY=value` dictionary
///   lines are skipped, `\xNN` escapes decoded);
/// - dmesg `[  123.456789] text`, with printk caller ids `[  123.4][ T812]`, `dmesg -r`'s
///   `<4>` and `dmesg -x`'s `kern  :warn  : ` prefixes;
/// - `dmesg -T` `[Tue Aug 12 03:54:03 2025] text`, with localized day and month names;
/// - syslog `Aug 12 03:54:03 host kernel: [ 123.4] text` (uptime optional), with
///   high-precision or ISO timestamps too;
/// - `journalctl -k` short, short-precise, short-iso(-precise), short-monotonic, with
///   its `-- Boot ID --` separators;
/// - `journalctl -o json` lines;
/// - bare message lines.
///
/// It keeps a little state (the boot id from `-- Boot … --` lines), hence `mutating`.
public struct LogLineParser: Sendable {
    /// How to turn the local, year-less timestamps of some containers into UTC.
    public struct Options: Sendable {
        /// Seconds east of UTC that local time had at a given local time (seconds since the
        /// epoch as if local time were UTC). `dmesg -T` and syslog print local time.
        public var localUTCOffset: @Sendable (_ localEpochSeconds: Int64) -> Int
        /// Syslog timestamps carry no year: the year is chosen so that the time is not
        /// more than a day after this instant (typically the file's modification time).
        /// With `nil`, year-less timestamps give no wall time.
        public var referenceEpochSeconds: Int64?

        public init(
            localUTCOffset: @escaping @Sendable (_ localEpochSeconds: Int64) -> Int = { _ in 0 },
            referenceEpochSeconds: Int64? = nil
        ) {
            self.localUTCOffset = localUTCOffset
            self.referenceEpochSeconds = referenceEpochSeconds
        }
    }

    public var options: Options
    /// Boot id announced by the last journalctl `-- Boot … --` line.
    public private(set) var bootID: String?

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Parses one line (without its newline). `nil` for lines that carry no log message:
    /// empty lines, kmsg dictionary lines, journalctl separators.
    public mutating func parse(_ line: some StringProtocol) -> LogLine? {
        parse(bytes: Array(line.utf8)[...])
    }

    /// `parse(_:)` on the line's bytes.
    public mutating func parse(bytes input: ArraySlice<UInt8>) -> LogLine? {
        var b = input
        while let last = b.last, last == ASCII.newline || last == ASCII.carriageReturn { b.removeLast() }
        // journalctl -o json-seq starts each record with an RS byte.
        if b.first == ASCII.recordSeparator { b.removeFirst() }
        if b.first == ASCII.space, KmsgRecord.isDictionaryLine(b) { return nil }
        let raw = String(decoding: b, as: UTF8.self)
        // Indentation (a report quoted in an e-mail or a forum post) is not part of any
        // container: the line parses as it would without it.
        while let f = b.first, f == ASCII.space || f == ASCII.tab { b.removeFirst() }
        guard !b.isEmpty else { return nil }
        // journalctl's separators, also behind a quoting mark or a line number.
        let sep = b.drop {
            $0 == ASCII.greaterThan || $0 == ASCII.space || $0 == ASCII.tab || $0 == ASCII.colon || $0 == ASCII.dot
                || ASCII.isDigit($0)
        }
        if sep.starts(with: Array("-- ".utf8)) {
            let b = sep
            if let id = journalBootSeparator(b) {
                bootID = id
                return nil
            }
            // Other journalctl separators (`-- No entries --`, `-- Logs begin at … --`).
            if b.count >= 6, b.suffix(3).elementsEqual(Array(" --".utf8)) { return nil }
        }
        var line = container(b, raw: raw)
        if line == nil, let anchored = afterUnknownPrefix(b, raw: raw) {
            line = anchored
        }
        var out = line ?? LogLine(message: String(decoding: Self.withoutPastePrefix(b), as: UTF8.self), raw: raw)
        if out.bootID == nil { out.bootID = bootID }
        return out
    }

    /// A line whose start is no known container may still hold one after a prefix that
    /// people and tools add: a line number (`12:`, `0012 `), a quoting mark (`> `), a
    /// `host | ` column. The container is looked for after each space, tab, `:`, `|` or
    /// `>` in the first 160 bytes; the first one found wins. So the prefix never ends up
    /// inside a field.
    private mutating func afterUnknownPrefix(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        var i = b.startIndex
        let limit = min(b.endIndex, b.startIndex + 160)
        while i < limit {
            let c = b[i]
            i += 1
            guard c == ASCII.space || c == ASCII.tab || c == ASCII.colon || c == ASCII.pipe || c == ASCII.greaterThan
            else { continue }
            var j = i
            while j < b.endIndex, b[j] == ASCII.space || b[j] == ASCII.tab { j += 1 }
            guard j < b.endIndex else { return nil }
            if let l = container(b[j...], raw: raw) { return l }
            i = j
        }
        return nil
    }

    /// A bare line without what pasting adds in front: quoting marks (`> `, `>> `) and a
    /// line number (`12 `, `12: `, `0012. `, `12) `). Bare kernel lines that matter start
    /// with a letter or `[`, so nothing of theirs is lost.
    static func withoutPastePrefix(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var b = line
        // `journalctl -o export` / `-o verbose`: one field a line; the message is the text.
        let field = Array("MESSAGE=".utf8)
        if b.starts(with: field) { return b.dropFirst(field.count) }
        while b.first == ASCII.greaterThan {
            b = b.dropFirst()
            while let f = b.first, f == ASCII.space || f == ASCII.tab { b = b.dropFirst() }
        }
        var i = b.startIndex
        while i < b.endIndex, ASCII.isDigit(b[i]), i - b.startIndex < 9 { i += 1 }
        if i > b.startIndex, i < b.endIndex {
            var j = i
            if b[j] == ASCII.colon || b[j] == ASCII.dot || b[j] == ASCII.closeParen { j += 1 }
            if j < b.endIndex, b[j] == ASCII.space || b[j] == ASCII.tab {
                while j < b.endIndex, b[j] == ASCII.space || b[j] == ASCII.tab { j += 1 }
                // `0 pages in swap cache` (Mem-Info) is a kernel line, not a numbered one:
                // only a letter or `[` after the number counts, and the kernel's own
                // numeric lines do not matter to the parser either way.
                if j < b.endIndex, b[j] == ASCII.openBracket || ASCII.isUpper(b[j]) || ASCII.isLower(b[j]) {
                    b = b[j...]
                }
            }
        }
        return b
    }

    /// The line's container, recognised from its first byte, or `nil` for a bare line.
    private mutating func container(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        guard let first = b.first else { return nil }
        var line: LogLine?
        switch first {
        case ASCII.openBrace:  // {
            line = JournalJSON.parse(b, raw: raw)
        case ASCII.zero...ASCII.nine:
            if let rec = KmsgRecord.parse(bytes: b) {
                var l = rec.logLine(raw: raw)
                l.callerID = KmsgRecord.callerField(b)
                line = l
            } else {
                line = isoPrefixed(b, raw: raw) ?? unixPrefixed(b, raw: raw)
            }
        case ASCII.lessThan:  // <
            line = anglePrefixed(b, raw: raw)
        case ASCII.openBracket:  // [
            line = bracketPrefixed(b, raw: raw)
        default:
            line =
                syslogPrefixed(b, raw: raw) ?? dmesgFacilityPrefixed(b, raw: raw)
                ?? shortFullPrefixed(b, raw: raw)
        }
        return line
    }

    // MARK: - containers

    /// `-- Boot 0123…cdef --` (journalctl between boots).
    private func journalBootSeparator(_ b: ArraySlice<UInt8>) -> String? {
        let prefix = Array("-- Boot ".utf8)
        guard b.starts(with: prefix) else { return nil }
        let rest = b.dropFirst(prefix.count).prefix { $0 != ASCII.space }
        return Self.normalizeBootID(String(decoding: rest, as: UTF8.self))
    }

    /// Boot ids as `/proc/sys/kernel/random/boot_id` prints them: dashed lowercase UUID.
    /// The journal prints them as 32 hex digits.
    public static func normalizeBootID(_ id: String) -> String? {
        let hex = id.lowercased().filter { $0 != "-" }
        guard hex.count == 32, hex.allSatisfy({ $0.isHexDigit }) else { return nil }
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-"
            + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    /// `<4>[  12.3] msg` (`dmesg -r`) or RFC 5424 syslog `<34>1 2025-…Z host app pid id - msg`.
    private mutating func anglePrefixed(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        guard let close = b.prefix(6).firstIndex(of: ASCII.greaterThan), close > b.startIndex + 1,
            b[(b.startIndex + 1)..<close].allSatisfy(ASCII.isDigit)
        else { return nil }
        let rest = b[(close + 1)...]
        if rest.starts(with: Array("1 ".utf8)) {
            return rfc5424(rest.dropFirst(2), raw: raw)
        }
        guard rest.first == ASCII.openBracket, var l = bracketPrefixed(rest, raw: raw) else {
            return LogLine(message: String(decoding: rest, as: UTF8.self), origin: .kernel, raw: raw)
        }
        l.origin = .kernel
        return l
    }

    /// RFC 5424: `TIMESTAMP HOST APP PROCID MSGID STRUCTURED-DATA MSG`.
    private func rfc5424(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        var fields: [ArraySlice<UInt8>] = []
        var rest = b
        for _ in 0..<5 {
            guard let sp = rest.firstIndex(of: ASCII.space) else { return nil }
            fields.append(rest[rest.startIndex..<sp])
            rest = rest[(sp + 1)...]
        }
        // Structured data is `-` or one or more `[…]` elements.
        if rest.first == ASCII.minus {
            rest = rest.dropFirst()
        } else {
            while rest.first == ASCII.openBracket, let close = rest.firstIndex(of: ASCII.closeBracket) {
                rest = rest[(close + 1)...]
            }
        }
        if rest.first == ASCII.space { rest = rest.dropFirst() }
        let epoch = isoTimestamp(fields[0])
        let host = fields[1] == [ASCII.minus] ? nil : String(decoding: fields[1], as: UTF8.self)
        let app = String(decoding: fields[2], as: UTF8.self)
        return kernelOrProgram(
            tag: app, message: rest, epochMicros: epoch, host: host, raw: raw)
    }

    /// `dmesg -x`: `kern  :warn  : [  12.3] msg`.
    private mutating func dmesgFacilityPrefixed(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        var i = b.startIndex
        for _ in 0..<2 {
            let start = i
            while i < b.endIndex, ASCII.isLower(b[i]) { i += 1 }
            guard i > start, i - start <= 8 else { return nil }
            while i < b.endIndex, b[i] == ASCII.space { i += 1 }
            guard i < b.endIndex, b[i] == ASCII.colon else { return nil }
            i += 1
        }
        while i < b.endIndex, b[i] == ASCII.space { i += 1 }
        let rest = b[i...]
        let facilityName = b.prefix { ASCII.isLower($0) }
        let kernel = facilityName.elementsEqual(Array("kern".utf8))
        if rest.first == ASCII.openBracket, var l = bracketPrefixed(rest, raw: raw) {
            l.origin = kernel ? .kernel : .unknown
            return l
        }
        return LogLine(
            message: String(decoding: rest, as: UTF8.self), origin: kernel ? .kernel : .unknown,
            raw: raw)
    }

    /// `[  12.345678] msg`, `[  12.3][ T812] msg`, `[Tue Aug 12 03:54:03 2025] msg`, or
    /// journalctl short-monotonic `[  12.345678] host kernel: msg`. Anything else in
    /// brackets (a task table row) is a bare line. dmesg escapes non-printable bytes as
    /// `\xNN` like /dev/kmsg does; they are decoded so both give the same comm (and id).
    private func bracketPrefixed(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        guard let close = b.prefix(64).firstIndex(of: ASCII.closeBracket) else { return nil }
        let inner = b[(b.startIndex + 1)..<close]
        var rest = b[(close + 1)...]
        if let micros = Self.uptimeMicros(inner) {
            let caller = Self.callerBracket(&rest)
            if rest.first == ASCII.space { rest = rest.dropFirst() }
            // journalctl -o short-monotonic: `[  12.3] host kernel: msg`.
            if let (host, tag, msg, pid) = Self.hostTagMessage(rest), tag == "kernel" || pid {
                var l = kernelOrProgram(tag: tag, message: msg, epochMicros: nil, host: host, raw: raw)
                if l.origin == .kernel, l.uptimeMicros == nil { l.uptimeMicros = micros }
                return l
            }
            return LogLine(
                message: KmsgRecord.unescape(rest), uptimeMicros: micros, origin: .kernel,
                callerID: caller, raw: raw)
        }
        if let local = dmesgHumanTime(inner) {
            let caller = Self.callerBracket(&rest)
            if rest.first == ASCII.space { rest = rest.dropFirst() }
            return LogLine(
                message: KmsgRecord.unescape(rest),
                epochMicros: local.map { toUTC(localMicros: $0) },
                origin: .kernel, callerID: caller, raw: raw)
        }
        return nil
    }

    /// `2025-08-12T03:54:03.123+02:00 host kernel: msg` (rsyslog, journalctl short-iso) or
    /// `2025-08-12T03:54:03,123456+02:00 msg` (`dmesg --time-format iso`).
    private func isoPrefixed(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        guard b.count > 19, b[b.startIndex + 4] == ASCII.minus, b[b.startIndex + 7] == ASCII.minus,
            let sp = b.firstIndex(of: ASCII.space)
        else { return nil }
        guard let epoch = isoTimestamp(b[b.startIndex..<sp]) else { return nil }
        let rest = b[(sp + 1)...]
        if let (host, tag, msg, pid) = Self.hostTagMessage(rest), tag == "kernel" || pid || host.contains(".") {
            return kernelOrProgram(tag: tag, message: msg, epochMicros: epoch, host: host, raw: raw)
        }
        // `dmesg --time-format iso`, or a container's own timestamp (`docker logs -t`) in
        // front of a dmesg line that still has its `[ uptime]`.
        var msg = rest
        var uptime: Int64?
        if msg.first == ASCII.openBracket, let close = msg.prefix(32).firstIndex(of: ASCII.closeBracket),
            let micros = Self.uptimeMicros(msg[(msg.startIndex + 1)..<close])
        {
            uptime = micros
            msg = msg[(close + 1)...]
            if msg.first == ASCII.space { msg = msg.dropFirst() }
        }
        let caller = Self.callerBracket(&msg)
        if caller != nil, msg.first == ASCII.space { msg = msg.dropFirst() }
        return LogLine(
            message: String(decoding: msg, as: UTF8.self), uptimeMicros: uptime, epochMicros: epoch, origin: .kernel,
            callerID: caller, raw: raw)
    }

    /// journalctl short-unix: `1709630000.123456 host kernel: msg`.
    private func unixPrefixed(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        guard let sp = b.prefix(24).firstIndex(of: ASCII.space),
            let micros = Self.uptimeMicros(b[b.startIndex..<sp]),
            let (host, tag, msg, _) = Self.hostTagMessage(b[(sp + 1)...])
        else { return nil }
        return kernelOrProgram(tag: tag, message: msg, epochMicros: micros, host: host, raw: raw)
    }

    /// journalctl short-full: `Tue 2024-03-05 10:11:12 CET host kernel: msg` (the zone
    /// abbreviation is taken as local time unless it is UTC/GMT).
    private func shortFullPrefixed(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        guard let sp1 = b.prefix(12).firstIndex(of: ASCII.space) else { return nil }
        let rest = b[(sp1 + 1)...]
        guard rest.count > 20, let sp2 = rest.firstIndex(of: ASCII.space),
            let sp3 = rest[(sp2 + 1)...].firstIndex(of: ASCII.space),
            let sp4 = rest[(sp3 + 1)...].firstIndex(of: ASCII.space)
        else { return nil }
        let stamp = Array(rest[rest.startIndex..<sp3]) + Array("Z".utf8)
        guard let asUTC = RFC3339.parse(String(decoding: stamp, as: UTF8.self)),
            let (host, tag, msg, _) = Self.hostTagMessage(rest[(sp4 + 1)...])
        else { return nil }
        let zone = String(decoding: rest[(sp3 + 1)..<sp4], as: UTF8.self)
        let epoch = zone == "UTC" || zone == "GMT" ? asUTC : toUTC(localMicros: asUTC)
        return kernelOrProgram(tag: tag, message: msg, epochMicros: epoch, host: host, raw: raw)
    }

    /// `Aug 12 03:54:03[.123456] host tag[pid]: msg` (syslog, journalctl short/short-precise).
    private func syslogPrefixed(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        var i = b.startIndex
        let monthStart = i
        while i < b.endIndex, b[i] != ASCII.space, i - monthStart < 12 { i += 1 }
        guard i < b.endIndex, b[i] == ASCII.space, i > monthStart else { return nil }
        let month = Self.monthNumber(b[monthStart..<i])
        while i < b.endIndex, b[i] == ASCII.space { i += 1 }
        guard let day = ASCII.digits(b, &i, as: Int.self, maxDigits: 2), i < b.endIndex, b[i] == ASCII.space else {
            return nil
        }
        i += 1
        guard let clock = Self.clock(b, &i), i < b.endIndex, b[i] == ASCII.space else { return nil }
        i += 1
        // No host name at all (`Apr 18 00:37:34 kernel: …`): the first word is the tag.
        let word = b[i...].prefix { $0 != ASCII.space }
        let noHost = word.last == ASCII.colon && word.count > 1
        guard let (host, tag, msg, _) = Self.hostTagMessage(noHost ? b[(i - 1)...] : b[i...]) else { return nil }
        var epoch: Int64?
        if let month, (1...31).contains(day), let ref = options.referenceEpochSeconds {
            epoch = yearlessToUTC(month: month, day: day, clock: clock, reference: ref)
        }
        return kernelOrProgram(tag: tag, message: msg, epochMicros: epoch, host: host, raw: raw)
    }

    /// Builds the line for a syslog-style `tag: message`; the kernel's lines may start with
    /// `[ uptime]` and a caller id.
    private func kernelOrProgram(
        tag: String, message: ArraySlice<UInt8>, epochMicros: Int64?, host: String?, raw: String
    ) -> LogLine {
        let host = host?.isEmpty == true ? nil : host
        var msg = message
        if tag == "kernel" {
            var uptime: Int64?
            var caller: String?
            // Old klogd kept the printk level: `kernel: <4>[ 12.3] msg`.
            if msg.first == ASCII.lessThan, let close = msg.prefix(4).firstIndex(of: ASCII.greaterThan),
                close > msg.startIndex + 1,
                msg[(msg.startIndex + 1)..<close].allSatisfy(ASCII.isDigit)
            {
                msg = msg[(close + 1)...]
            }
            if msg.first == ASCII.openBracket, let close = msg.prefix(32).firstIndex(of: ASCII.closeBracket),
                let micros = Self.uptimeMicros(msg[(msg.startIndex + 1)..<close])
            {
                uptime = micros
                msg = msg[(close + 1)...]
                caller = Self.callerBracket(&msg)
                if msg.first == ASCII.space { msg = msg.dropFirst() }
            }
            return LogLine(
                message: String(decoding: msg, as: UTF8.self), uptimeMicros: uptime,
                epochMicros: epochMicros, host: host, origin: .kernel, callerID: caller, raw: raw)
        }
        return LogLine(
            message: String(decoding: msg, as: UTF8.self), epochMicros: epochMicros, host: host,
            origin: .userspace(tag), raw: raw)
    }

    // MARK: - pieces

    /// `HOST TAG[PID]: MESSAGE` → (host, tag, message).
    /// An empty host name (`Apr 18 00:37:34   kernel: …`, extra spaces instead of a host)
    /// gives host `""`.
    static func hostTagMessage(_ b: ArraySlice<UInt8>) -> (String, String, ArraySlice<UInt8>, Bool)? {
        guard let sp = b.firstIndex(of: ASCII.space) else { return nil }
        let host = b[b.startIndex..<sp]
        var i = sp + 1
        if host.isEmpty {
            while i < b.endIndex, b[i] == ASCII.space { i += 1 }
        }
        // BusyBox syslogd puts `facility.level` before the tag: `host kern.warn kernel: …`.
        var j = i
        while j < b.endIndex, ASCII.isLower(b[j]) { j += 1 }
        if j > i, j < b.endIndex, b[j] == ASCII.dot {
            j += 1
            let levelStart = j
            while j < b.endIndex, ASCII.isLower(b[j]) { j += 1 }
            if j > levelStart, j < b.endIndex, b[j] == ASCII.space { i = j + 1 }
        }
        let tagStart = i
        while i < b.endIndex, b[i] != ASCII.colon, b[i] != ASCII.openBracket, b[i] != ASCII.space, i - tagStart < 64 {
            i += 1
        }
        guard i < b.endIndex, i > tagStart else { return nil }
        let tagEnd = i
        let hasPID = b[i] == ASCII.openBracket
        if hasPID {
            i += 1
            while i < b.endIndex, ASCII.isDigit(b[i]) { i += 1 }
            guard i < b.endIndex, b[i] == ASCII.closeBracket else { return nil }
            i += 1
        }
        guard i < b.endIndex, b[i] == ASCII.colon else { return nil }
        i += 1
        // A tag is a program name: letters, digits and a little punctuation.
        let tag = b[tagStart..<tagEnd]
        guard
            tag.allSatisfy({
                ASCII.isDigit($0) || ASCII.isLower($0) || ASCII.isUpper($0) || $0 == ASCII.minus
                    || $0 == ASCII.underscore
                    || $0 == ASCII.dot || $0 == ASCII.slash || $0 == ASCII.at
            })
        else { return nil }
        if i < b.endIndex, b[i] == ASCII.space { i += 1 }
        return (
            String(decoding: host, as: UTF8.self), String(decoding: tag, as: UTF8.self), b[i...], hasPID
        )
    }

    /// `[ T812]` / `[C3]` right after the timestamp (optionally after one space).
    static func callerBracket(_ rest: inout ArraySlice<UInt8>) -> String? {
        var r = rest
        if r.first == ASCII.space { r = r.dropFirst() }
        guard r.first == ASCII.openBracket, let close = r.prefix(16).firstIndex(of: ASCII.closeBracket) else {
            return nil
        }
        let inner = r[(r.startIndex + 1)..<close].drop { $0 == ASCII.space }
        guard let kind = inner.first, kind == UInt8(ascii: "T") || kind == UInt8(ascii: "C"), inner.count >= 2,
            inner.dropFirst().allSatisfy(ASCII.isDigit)
        else { return nil }
        rest = r[(close + 1)...]
        return String(decoding: inner, as: UTF8.self)
    }

    /// `   12.345678` → 12345678 µs.
    static func uptimeMicros(_ inner: ArraySlice<UInt8>) -> Int64? {
        var i = inner.startIndex
        while i < inner.endIndex, inner[i] == ASCII.space { i += 1 }
        guard let secs = ASCII.digits(inner, &i, maxDigits: 12), i < inner.endIndex, inner[i] == ASCII.dot else {
            return nil
        }
        i += 1
        guard let frac = ASCII.fractionMicros(inner, &i), i == inner.endIndex else { return nil }
        return secs * 1_000_000 + frac
    }

    /// `Tue Aug 12 03:54:03 2025` with any day/month names, the day before the month too
    /// (`dim. 19 avril 18:03:30 2026`, `Fr 18. Apr …`), the weekday optional → local µs
    /// since the epoch (inner `nil` when the month name is unknown but the shape is right).
    private func dmesgHumanTime(_ inner: ArraySlice<UInt8>) -> Int64?? {
        let words = inner.split(separator: ASCII.space)
        guard words.count >= 4, words.count <= 5, let yearWord = words.last, yearWord.count == 4,
            yearWord.allSatisfy(ASCII.isDigit)
        else { return nil }
        var k = words[words.count - 2].startIndex
        guard let clock = Self.clock(words[words.count - 2], &k), k == words[words.count - 2].endIndex else {
            return nil
        }
        let year = Int(String(decoding: yearWord, as: UTF8.self)) ?? 0
        // The day is the number among the words before the clock; the month is a word next
        // to it (after a leading weekday, or the first word when there is none).
        let front = Array(words[(words.count - 4)..<(words.count - 2)])
        func dayNumber(_ w: ArraySlice<UInt8>) -> Int? {
            var t = w
            if t.last == ASCII.dot { t = t.dropLast() }
            guard !t.isEmpty, t.count <= 2, t.allSatisfy(ASCII.isDigit) else { return nil }
            return Int(String(decoding: t, as: UTF8.self))
        }
        var day: Int?
        var monthWord: ArraySlice<UInt8>?
        if let d = dayNumber(front[1]) {
            day = d
            monthWord = front[0]
        } else if let d = dayNumber(front[0]) {
            day = d
            monthWord = front[1]
        }
        guard let day, let monthWord else { return nil }
        guard let month = Self.monthNumber(monthWord), (1...31).contains(day) else { return .some(nil) }
        return RFC3339.days(fromCivil: Int64(year), month, day) * 86_400_000_000 + clock
    }

    /// Year-less local time → UTC µs, choosing the year from the reference instant.
    private func yearlessToUTC(month: Int, day: Int, clock: Int64, reference: Int64) -> Int64 {
        let refLocal = reference + Int64(options.localUTCOffset(reference))
        let refYear = RFC3339.civil(fromDays: refLocal >= 0 ? refLocal / 86_400 : (refLocal - 86_399) / 86_400)
            .year
        var local = RFC3339.days(fromCivil: refYear, month, day) * 86_400_000_000 + clock
        if local > (refLocal + 86_400) * 1_000_000 {
            local = RFC3339.days(fromCivil: refYear - 1, month, day) * 86_400_000_000 + clock
        }
        return toUTC(localMicros: local)
    }

    private func toUTC(localMicros: Int64) -> Int64 {
        let seconds = localMicros >= 0 ? localMicros / 1_000_000 : (localMicros - 999_999) / 1_000_000
        return localMicros - Int64(options.localUTCOffset(seconds)) * 1_000_000
    }

    /// `HH:MM:SS[.ffffff]` → microseconds of the day.
    static func clock(_ b: ArraySlice<UInt8>, _ i: inout Int) -> Int64? {
        guard let h = ASCII.digits(b, &i, as: Int.self, maxDigits: 2), i < b.endIndex, b[i] == ASCII.colon else {
            return nil
        }
        i += 1
        guard let m = ASCII.digits(b, &i, as: Int.self, maxDigits: 2), i < b.endIndex, b[i] == ASCII.colon else {
            return nil
        }
        i += 1
        guard let s = ASCII.digits(b, &i, as: Int.self, maxDigits: 2), h < 24, m < 60, s <= 60 else { return nil }
        var micros: Int64 = 0
        if i < b.endIndex, b[i] == ASCII.dot || b[i] == ASCII.comma {
            i += 1
            micros = ASCII.fractionMicros(b, &i) ?? 0
        }
        return Int64(h * 3600 + m * 60 + s) * 1_000_000 + micros
    }

    /// An RFC 3339-ish timestamp token: `T` or space, `.`/`,` fraction, `Z`, `+HH:MM` or
    /// `+HHMM` offset (journalctl's short-iso). No offset means local time.
    private func isoTimestamp(_ token: ArraySlice<UInt8>) -> Int64? {
        var t = Array(token)
        // Normalize a `+HHMM` offset to `+HH:MM`.
        if t.count >= 5 {
            let o = t.count - 5
            if t[o] == ASCII.plus || t[o] == ASCII.minus, t[(o + 1)...].allSatisfy(ASCII.isDigit), o >= 19 {
                t.insert(ASCII.colon, at: o + 3)
            }
        }
        if let v = RFC3339.parse(String(decoding: t, as: UTF8.self)) { return v }
        // No zone: local time.
        if let v = RFC3339.parse(String(decoding: t, as: UTF8.self) + "Z") {
            let secs = v >= 0 ? v / 1_000_000 : (v - 999_999) / 1_000_000
            return v - Int64(options.localUTCOffset(secs)) * 1_000_000
        }
        return nil
    }

    /// Abbreviated month names as `strftime("%b")` prints them in common locales
    /// (lower-cased, trailing dot removed), plus `8月`/`8월` forms.
    static let months: [String: Int] = {
        let table: [[String]] = [
            // en, de, fr, es, it, nl, pt, pl, sv/da/no, ru, cs (roman) and full names.
            [
                "jan", "janv", "ene", "gen", "sty", "янв", "led", "january", "januar", "janvier", "enero", "января",
                "январь",
            ],
            [
                "feb", "févr", "fév", "fev", "lut", "фев", "úno", "february", "februar", "février", "febrero",
                "февраля", "февраль",
            ],
            ["mar", "mär", "mrz", "mars", "mrt", "мар", "bře", "march", "märz", "marzo", "марта", "март"],
            ["apr", "avr", "abr", "kwi", "апр", "dub", "april", "avril", "abril", "апреля", "апрель"],
            ["may", "mai", "mag", "mei", "maj", "мая", "май", "kvě", "mayo", "maggio"],
            ["jun", "juin", "giu", "cze", "июн", "čvn", "june", "juni", "junio", "июня", "июнь"],
            ["jul", "juil", "lug", "lip", "июл", "čvc", "july", "juli", "juillet", "julio", "июля", "июль"],
            ["aug", "août", "ago", "sie", "авг", "srp", "august", "agosto", "августа", "август"],
            [
                "sep", "sept", "set", "wrz", "сен", "сент", "zář", "september", "septembre", "septiembre", "сентября",
                "сентябрь",
            ],
            [
                "oct", "okt", "ott", "out", "paź", "окт", "říj", "october", "oktober", "octobre", "octubre", "октября",
                "октябрь",
            ],
            ["nov", "lis", "ноя", "нояб", "november", "novembre", "noviembre", "ноября", "ноябрь"],
            [
                "dec", "dez", "déc", "dic", "gru", "dek", "дек", "pro", "december", "dezember", "décembre", "декабря",
                "декабрь",
            ],
        ]
        var out: [String: Int] = [:]
        for (i, names) in table.enumerated() {
            for n in names where out[n] == nil { out[n] = i + 1 }
        }
        return out
    }()

    static func monthNumber(_ token: ArraySlice<UInt8>) -> Int? {
        guard !token.isEmpty, token.count <= 16 else { return nil }
        // `8月` (ja/zh), `8월` (ko): a number before a CJK month sign.
        if let f = token.first, ASCII.isDigit(f) {
            var i = token.startIndex
            guard let n = ASCII.digits(token, &i, as: Int.self, maxDigits: 2), (1...12).contains(n), i < token.endIndex,
                !ASCII.isDigit(token[i])
            else { return nil }
            return n
        }
        var s = String(decoding: token, as: UTF8.self).lowercased()
        if s.hasSuffix(".") { s.removeLast() }
        return months[s]
    }

    /// The `prog` of a userspace message written to kmsg as `prog[123]: text`.
    static func programTag(of message: String) -> String? {
        guard let colon = message.firstIndex(of: ":") else { return nil }
        var tag = message[..<colon]
        if let bracket = tag.firstIndex(of: "[") { tag = tag[..<bracket] }
        guard !tag.isEmpty, !tag.contains(" ") else { return nil }
        return String(tag)
    }
}
