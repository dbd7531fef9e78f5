import ArgumentParser
import OOMKit

struct Top: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The largest processes across the fleet, from each host's latest snapshot.",
        discussion: """
            Examples:
              oomwatch top
              oomwatch top --limit 50 --host db-1
              oomwatch top --format csv
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "How many processes to show.")
    var limit = 20

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
    }

    func run() async throws {
        let settings = try Settings.current(global)
        let client = CollectorClient(settings: settings)
        let top = try await client.get(
            "/api/v1/top", query: [("limit", String(limit)), ("host", global.host)], as: TopResponse.self)
        let rows = Array(top.processes.prefix(limit))
        Printer.emit(
            settings,
            table: { TopView.table(rows, times: settings.times) },
            csv: { TopView.csv(rows) },
            json: { JSONOutput.document(rows) },
            empty: "No process samples yet."
        )
    }
}
