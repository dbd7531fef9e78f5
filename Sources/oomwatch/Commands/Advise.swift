import ArgumentParser
import OOMKit

struct Advise: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What to change, host by host: findings from the fleet's OOM history, most severe first.",
        discussion: """
            Each finding names its kind, severity, host and subject, the evidence (numbers,
            times and the ids of the kills behind it; `oomwatch show ID` prints one) and a
            concrete action. The range starts at --since (default 30 days). At most --limit
            findings are shown (default 1000); when there are more, the table says how many
            and JSON has "truncated": true and the "total".

            Examples:
              oomwatch advise
              oomwatch advise --host db-1 --since 7d
              oomwatch advise --limit 5000 --format csv
              oomwatch advise --format json | jq '.findings[] | select(.severity == "critical")'
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Most findings to show (most severe and most recent first; at most 100000).")
    var limit = 1000

    func validate() throws {
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 100000") }
    }

    func run() async throws {
        let settings = try Settings.current(global)
        let client = CollectorClient(settings: settings)
        let until = RFC3339.format(epochMicroseconds: settings.nowMicroseconds)
        let report = try await client.get(
            "/api/v1/reports/advice",
            query: [
                ("since", Events.absolute(global.since ?? "30d", settings: settings)), ("until", until),
                ("host", global.host), ("limit", String(limit)),
            ],
            as: AdviceReport.self)
        switch settings.format {
        case .json:
            Terminal.write(JSONOutput.document(report))
        case .csv:
            Terminal.write(AdviceView.csv(report).render())
            // The rows alone cannot say they were cut; stderr keeps the CSV clean.
            if report.truncated {
                Terminal.writeError(
                    "oomwatch: showing the first \(report.findings.count) of \(report.total) findings (raise --limit for more)"
                )
            }
        case .table:
            Terminal.write(AdviceView.render(report, width: settings.width, style: settings.style))
        }
    }
}
