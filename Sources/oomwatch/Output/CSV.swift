/// CSV for scripts and spreadsheets: a header and one row per item, quoted as RFC 4180
/// says (fields with a comma, quote, CR or LF are wrapped in quotes, quotes doubled), each
/// cell neutralised by `field`. Lines end in `\n`.
struct CSV: Sendable {
    var header: [String]
    var rows: [[String]] = []

    init(header: [String]) {
        self.header = header
    }

    mutating func append(_ row: [String?]) {
        precondition(row.count == header.count, "a row needs one field per header column")
        rows.append(row.map { $0 ?? "" })
    }

    /// One cell, safe for a spreadsheet and a terminal: control characters become `?`
    /// (tabs and CRs spaces; a newline stays, quoted) and bidi controls `\u{…}`
    /// (`TextWidth.sanitized`), and a cell a spreadsheet would run as a formula (starting
    /// with `=`, `+`, `-`, `@`, tab or CR, OWASP's list) gets a leading `'`, unless it is
    /// just a number like `-1000`.
    static func field(_ raw: String) -> String {
        var text = TextWidth.sanitized(raw, keepNewlines: true)
        if let first = raw.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Double(raw) == nil {
            text = "'" + text
        }
        let needsQuotes = text.utf8.contains { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }
        guard needsQuotes else { return text }
        var out = "\""
        for c in text {
            if c == "\"" { out += "\"\"" } else { out.append(c) }
        }
        return out + "\""
    }

    static func line(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\n"
    }

    func render() -> String {
        var out = Self.line(header)
        for row in rows { out += Self.line(row) }
        return out
    }
}
