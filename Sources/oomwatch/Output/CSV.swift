/// CSV for scripts: a header and one row per item, quoted as RFC 4180 says (fields with a
/// comma, quote, CR or LF are wrapped in quotes, quotes doubled). Lines end in `\n`.
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

    static func field(_ text: String) -> String {
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
