/// `journalctl -o json` lines: one flat JSON object per entry.
///
/// A small dedicated reader rather than `JSONDecoder`: entries are flat string maps,
/// `MESSAGE` may be an array of bytes (non-UTF-8 text), and the scanner must never throw
/// or crash on a truncated line.
enum JournalJSON {
    /// The entry as a ``LogLine``, or `nil` when the line is not a JSON object with a
    /// `MESSAGE`.
    static func parse(_ b: ArraySlice<UInt8>, raw: String) -> LogLine? {
        guard let fields = object(b) else { return nil }
        guard let message = fields["MESSAGE"] else { return nil }
        let transport = fields["_TRANSPORT"]
        let origin: LogLine.Origin
        if transport == "kernel" {
            origin = .kernel
        } else if let transport, !transport.isEmpty {
            origin = .userspace(fields["SYSLOG_IDENTIFIER"] ?? fields["_COMM"] ?? "")
        } else if let ident = fields["SYSLOG_IDENTIFIER"], ident != "kernel" {
            origin = .userspace(ident)
        } else {
            origin = .kernel
        }
        var uptime: Int64?
        if origin == .kernel, let s = fields["_SOURCE_MONOTONIC_TIMESTAMP"] { uptime = Int64(s) }
        let realtime = fields["_SOURCE_REALTIME_TIMESTAMP"].flatMap { Int64($0) }
        let received = fields["__REALTIME_TIMESTAMP"].flatMap { Int64($0) }
        return LogLine(
            message: message,
            uptimeMicros: uptime,
            epochMicros: origin == .kernel ? (received ?? realtime) : (realtime ?? received),
            host: fields["_HOSTNAME"],
            bootID: fields["_BOOT_ID"].flatMap { LogLineParser.normalizeBootID($0) },
            origin: origin,
            raw: raw)
    }

    /// Top-level members whose values are strings, numbers or byte arrays, as strings.
    static func object(_ b: ArraySlice<UInt8>) -> [String: String]? {
        var r = Reader(b: b, i: b.startIndex)
        r.skipSpace()
        guard r.eat(ASCII.openBrace) else { return nil }
        var out: [String: String] = [:]
        r.skipSpace()
        if r.eat(ASCII.closeBrace) { return out }
        while true {
            r.skipSpace()
            guard let key = r.string() else { return nil }
            r.skipSpace()
            guard r.eat(ASCII.colon) else { return nil }
            r.skipSpace()
            guard let value = r.value() else { return nil }
            if let value { out[key] = value }
            r.skipSpace()
            if r.eat(ASCII.comma) { continue }
            if r.eat(ASCII.closeBrace) { return out }
            return nil
        }
    }

    struct Reader {
        let b: ArraySlice<UInt8>
        var i: Int

        mutating func skipSpace() {
            while i < b.endIndex,
                b[i] == ASCII.space || b[i] == ASCII.tab || b[i] == ASCII.newline || b[i] == ASCII.carriageReturn
            { i += 1 }
        }

        mutating func eat(_ c: UInt8) -> Bool {
            guard i < b.endIndex, b[i] == c else { return false }
            i += 1
            return true
        }

        /// A value: `.some(nil)` for values we do not keep (objects, booleans, null,
        /// arrays that are not bytes), `nil` for malformed JSON.
        mutating func value() -> String?? {
            guard i < b.endIndex else { return nil }
            switch b[i] {
            case ASCII.quote:
                guard let s = string() else { return nil }
                return .some(s)
            case ASCII.openBracket:
                return byteArray()
            case ASCII.openBrace:
                return skipNested() ? .some(nil) : nil
            default:
                let s = i
                while i < b.endIndex, b[i] != ASCII.comma, b[i] != ASCII.closeBrace, b[i] != ASCII.space { i += 1 }
                guard i > s else { return nil }
                let token = b[s..<i]
                if token.first == ASCII.minus || (token.first.map { $0 >= ASCII.zero && $0 <= ASCII.nine } ?? false) {
                    return .some(String(decoding: token, as: UTF8.self))
                }
                return .some(nil)
            }
        }

        /// `[104, 105]` → the UTF-8 decoding of those bytes; other arrays are skipped.
        mutating func byteArray() -> String?? {
            let start = i
            guard eat(ASCII.openBracket) else { return nil }
            var bytes: [UInt8] = []
            var ok = true
            while true {
                skipSpace()
                if eat(ASCII.closeBracket) { break }
                let s = i
                var v = 0
                while i < b.endIndex, b[i] >= ASCII.zero, b[i] <= ASCII.nine, i - s < 4 {
                    v = v * 10 + Int(b[i] - ASCII.zero)
                    i += 1
                }
                if i == s || v > 255 {
                    ok = false
                    i = start
                    return skipNested() ? .some(nil) : nil
                }
                bytes.append(UInt8(v))
                skipSpace()
                if eat(ASCII.comma) { continue }
                if eat(ASCII.closeBracket) { break }
                return nil
            }
            return ok ? .some(String(decoding: bytes, as: UTF8.self)) : .some(nil)
        }

        /// Skips a nested object or array, strings included.
        mutating func skipNested() -> Bool {
            var depth = 0
            while i < b.endIndex {
                switch b[i] {
                case ASCII.quote:
                    guard string() != nil else { return false }
                    continue
                case ASCII.openBrace, ASCII.openBracket:
                    depth += 1
                case ASCII.closeBrace, ASCII.closeBracket:
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return true
                    }
                default: break
                }
                i += 1
            }
            return false
        }

        mutating func string() -> String? {
            guard eat(ASCII.quote) else { return nil }
            var out: [UInt8] = []
            while i < b.endIndex {
                let c = b[i]
                i += 1
                if c == ASCII.quote { return String(decoding: out, as: UTF8.self) }
                if c != ASCII.backslash {
                    out.append(c)
                    continue
                }
                guard i < b.endIndex else { return nil }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if scalar >= 0xD800, scalar < 0xDC00, i + 1 < b.endIndex, b[i] == ASCII.backslash,
                        b[i + 1] == UInt8(ascii: "u")
                    {
                        i += 2
                        guard let low = hex4() else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low &- 0xDC00) & 0x3FF
                    }
                    let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: out.append(JSONEscape.simple(e) ?? e)
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard i + 4 <= b.endIndex else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let h = KmsgRecord.hexValue(b[i]) else { return nil }
                v = v << 4 | UInt32(h)
                i += 1
            }
            return v
        }
    }
}
