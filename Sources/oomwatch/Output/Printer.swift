/// Prints one command's result in the chosen format.
enum Printer {
    /// Table, CSV or JSON of the same result; `empty` is what a table prints for no rows.
    static func emit(
        _ settings: Settings,
        table: () -> Table,
        csv: () -> CSV,
        json: () -> String,
        empty: String
    ) {
        switch settings.format {
        case .json:
            Terminal.write(json())
        case .csv:
            Terminal.write(csv().render())
        case .table:
            let table = table()
            Terminal.write(
                table.rows.isEmpty ? empty + "\n" : table.render(maxWidth: settings.width, style: settings.style))
        }
    }
}
