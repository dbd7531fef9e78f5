/// An aligned text table fitted to a width: the widest truncatable columns give way
/// first, cut with `…`; numbers are right-aligned.
struct Table: Sendable {
    struct Column: Sendable {
        var title: String
        var alignRight: Bool
        /// Whether this column may be cut to fit the width (free text: names, paths).
        var truncatable: Bool
        /// Narrowest a truncatable column gets.
        var minWidth: Int

        init(_ title: String, alignRight: Bool = false, truncatable: Bool = false, minWidth: Int = 8) {
            self.title = title
            self.alignRight = alignRight
            self.truncatable = truncatable
            self.minWidth = minWidth
        }
    }

    /// One cell: its text and an optional colour.
    struct Cell: Sendable, ExpressibleByStringLiteral {
        var text: String
        var color: Style.Color?

        init(_ text: String, _ color: Style.Color? = nil) {
            self.text = TextWidth.sanitized(text)
            self.color = color
        }

        init(stringLiteral value: String) {
            self.init(value)
        }
    }

    var columns: [Column]
    var rows: [[Cell]] = []
    /// Spaces between columns.
    var gap = 2

    init(_ columns: [Column]) {
        self.columns = columns
    }

    mutating func append(_ row: [Cell]) {
        precondition(row.count == columns.count, "a row needs one cell per column")
        rows.append(row)
    }

    /// Column widths: each column's widest cell, then the truncatable ones narrowed,
    /// widest first, until the line fits `maxWidth` (or nothing more can give way).
    func widths(maxWidth: Int?) -> [Int] {
        var widths = columns.map { TextWidth.width($0.title) }
        for row in rows {
            for (i, cell) in row.enumerated() {
                widths[i] = max(widths[i], TextWidth.width(cell.text))
            }
        }
        guard let maxWidth else { return widths }
        var total = widths.reduce(0, +) + gap * max(0, columns.count - 1)
        while total > maxWidth {
            var widest: Int? = nil
            for (i, column) in columns.enumerated() where column.truncatable && widths[i] > column.minWidth {
                if widest == nil || widths[i] > widths[widest!] { widest = i }
            }
            guard let i = widest else { break }
            // Narrow to the next widest truncatable column in one step, but no further
            // than needed, so equally wide columns share the cut.
            let others = columns.indices.filter { $0 != i && columns[$0].truncatable }.map { widths[$0] }
            let target = max(
                columns[i].minWidth, others.filter { $0 < widths[i] }.max() ?? 0, widths[i] - (total - maxWidth))
            let step = max(1, widths[i] - target)
            widths[i] -= step
            total -= step
        }
        return widths
    }

    /// The table as lines ending in `\n`; no trailing spaces.
    func render(maxWidth: Int?, style: Style = .plain) -> String {
        let widths = widths(maxWidth: maxWidth)
        var out = ""
        let header = columns.map { Cell($0.title, .bold) }
        for row in [header] + rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                let column = columns[i]
                let isLast = i == row.count - 1
                let text = TextWidth.truncated(cell.text, to: widths[i])
                let missing = isLast && !column.alignRight ? 0 : max(0, widths[i] - TextWidth.width(text))
                let pad = String(repeating: " ", count: missing)
                // Colour wraps the text only, so alignment is the same with and without it.
                let shown = style.apply(cell.color, text)
                line += column.alignRight ? pad + shown : shown + pad
                if !isLast { line += String(repeating: " ", count: gap) }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}
