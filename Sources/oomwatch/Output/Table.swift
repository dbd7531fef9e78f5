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
        /// When cutting text is not enough, columns with a drop rank are left out, lowest
        /// rank first; `nil` columns always stay.
        var dropRank: Int?

        init(
            _ title: String, alignRight: Bool = false, truncatable: Bool = false, minWidth: Int = 8,
            dropRank: Int? = nil
        ) {
            self.title = title
            self.alignRight = alignRight
            self.truncatable = truncatable
            self.minWidth = minWidth
            self.dropRank = dropRank
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

    /// Which columns are shown and how wide each is: each column's widest cell, then the
    /// truncatable ones narrowed, widest first, until the line fits `maxWidth`; if that is
    /// not enough, droppable columns are left out and the fitting starts again.
    func layout(maxWidth: Int?) -> (shown: [Int], widths: [Int]) {
        var natural = columns.map { TextWidth.width($0.title) }
        for row in rows {
            for (i, cell) in row.enumerated() {
                natural[i] = max(natural[i], TextWidth.width(cell.text))
            }
        }
        var shown = Array(columns.indices)
        while true {
            var widths = natural
            guard let maxWidth else { return (shown, widths) }
            if Self.fit(&widths, shown: shown, columns: columns, gap: gap, maxWidth: maxWidth) {
                return (shown, widths)
            }
            let droppable = shown.filter { columns[$0].dropRank != nil }
            guard let drop = droppable.min(by: { columns[$0].dropRank! < columns[$1].dropRank! }) else {
                return (shown, widths)
            }
            shown.removeAll { $0 == drop }
        }
    }

    /// Narrows truncatable columns among `shown` until they fit; whether they do.
    private static func fit(_ widths: inout [Int], shown: [Int], columns: [Column], gap: Int, maxWidth: Int) -> Bool {
        var total = shown.map { widths[$0] }.reduce(0, +) + gap * max(0, shown.count - 1)
        while total > maxWidth {
            var widest: Int? = nil
            for i in shown where columns[i].truncatable && widths[i] > columns[i].minWidth {
                if widest == nil || widths[i] > widths[widest!] { widest = i }
            }
            guard let i = widest else { return false }
            // Narrow to the next widest truncatable column in one step, but no further
            // than needed, so equally wide columns share the cut.
            let others = shown.filter { $0 != i && columns[$0].truncatable }.map { widths[$0] }
            let target = max(
                columns[i].minWidth, others.filter { $0 < widths[i] }.max() ?? 0, widths[i] - (total - maxWidth))
            let step = max(1, widths[i] - target)
            widths[i] -= step
            total -= step
        }
        return true
    }

    /// The table as lines ending in `\n`; no trailing spaces.
    func render(maxWidth: Int?, style: Style = .plain) -> String {
        let (shown, widths) = layout(maxWidth: maxWidth)
        var out = ""
        let header = columns.map { Cell($0.title, .bold) }
        for row in [header] + rows {
            var line = ""
            for (position, i) in shown.enumerated() {
                let cell = row[i]
                let column = columns[i]
                let isLast = position == shown.count - 1
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
