import OOMKit

/// `oomwatch advise`: one block per finding (evidence and action are sentences, too long
/// for table cells), most severe first.
enum AdviceView {
    static func render(_ r: AdviceReport, width: Int?, style: Style) -> String {
        let since = RFC3339.parse(r.since).map(Times.absolute) ?? r.since
        let until = RFC3339.parse(r.until).map(Times.absolute) ?? r.until
        var out = style.apply(.bold, "OOM advice") + " \(since) to \(until)\n"
        guard !r.findings.isEmpty else { return out + "  (no findings)\n" }
        var counts: [AdviceSeverity: Int] = [:]
        for f in r.findings { counts[f.severity, default: 0] += 1 }
        out +=
            "  "
            + AdviceSeverity.allCases.reversed().compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }
            .joined(separator: ", ") + "\n"
        if r.truncated {
            out += "  showing the first \(r.findings.count) of \(r.total) findings (raise --limit for more)\n"
        }
        let textWidth = max(40, (width ?? 100) - 12)
        for f in r.findings {
            let color: Style.Color =
                switch f.severity {
                case .critical: .red
                case .warning: .yellow
                case .info: .cyan
                }
            out += "\n" + style.apply(color, f.severity.rawValue.uppercased()) + "  "
            out += style.apply(.bold, TextWidth.sanitized(f.host)) + "  " + f.kind.rawValue + "  "
            out += TextWidth.sanitized(f.subject) + "\n"
            out += block("evidence", f.evidence.text, width: textWidth)
            if !f.evidence.eventIDs.isEmpty {
                out += block("kills", f.evidence.eventIDs.joined(separator: " "), width: textWidth, style: style)
            }
            out += block("action", f.action, width: textWidth)
        }
        return out
    }

    /// `  label:   text`, wrapped at word boundaries and indented under the text.
    static func block(_ label: String, _ text: String, width: Int, style: Style? = nil) -> String {
        let pad = String(repeating: " ", count: 12)
        var lines: [String] = []
        var line = ""
        for word in TextWidth.sanitized(text).split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        var out = ""
        for (i, l) in lines.enumerated() {
            let head = i == 0 ? "  " + label + ":" + String(repeating: " ", count: max(1, 9 - label.count)) : pad
            out += head + (style.map { $0.apply(.dim, l) } ?? l) + "\n"
        }
        return out
    }

    /// One row per finding; evidence values as `name=value` pairs.
    static func csv(_ r: AdviceReport) -> CSV {
        var csv = CSV(header: [
            "severity", "kind", "host", "subject", "evidence", "event_ids", "values", "first", "last", "action",
        ])
        for f in r.findings {
            let values = f.evidence.values.sorted { $0.key < $1.key }.map { "\($0.key)=\(format($0.value))" }
            csv.append([
                f.severity.rawValue, f.kind.rawValue, f.host, f.subject, f.evidence.text,
                f.evidence.eventIDs.joined(separator: " "), values.joined(separator: " "), f.evidence.first,
                f.evidence.last, f.action,
            ])
        }
        return csv
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
