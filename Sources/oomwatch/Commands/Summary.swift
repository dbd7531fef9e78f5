import ArgumentParser
import OOMKit

struct Summary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "The collector's report: totals, by host, process, unit, container and day; repeat offenders; hosts at risk.",
        discussion: """
            The range starts at --since (default: the collector's, 7 days).

            Examples:
              oomwatch summary
              oomwatch summary --since 30d
              oomwatch summary --format json | jq .totals
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let settings = try Settings.current(global)
        let client = CollectorClient(settings: settings)
        let until = RFC3339.format(epochMicroseconds: settings.nowMicroseconds)
        let report = try await client.get(
            "/api/v1/reports/summary",
            query: [("since", Events.absolute(global.since ?? "7d", settings: settings)), ("until", until)],
            as: SummaryReport.self)
        switch settings.format {
        case .json:
            Terminal.write(JSONOutput.document(report))
        case .csv:
            Terminal.write(SummaryView.csv(report).render())
        case .table:
            Terminal.write(
                SummaryView.render(report, times: settings.times, width: settings.width, style: settings.style))
        }
    }
}
