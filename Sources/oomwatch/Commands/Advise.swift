import ArgumentParser
import OOMKit

struct Advise: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What to change, host by host: findings from the fleet's OOM history, most severe first.",
        discussion: """
            Each finding names its kind, severity, host and subject, the evidence (numbers,
            times and the ids of the kills behind it; `oomwatch show ID` prints one) and a
            concrete action. The range starts at --since (default 30 days).

            Examples:
              oomwatch advise
              oomwatch advise --host db-1 --since 7d
              oomwatch advise --format json | jq '.findings[] | select(.severity == "critical")'
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let settings = try Settings.current(global)
        let client = CollectorClient(settings: settings)
        let until = RFC3339.format(epochMicroseconds: settings.nowMicroseconds)
        let report = try await client.get(
            "/api/v1/reports/advice",
            query: [
                ("since", Events.absolute(global.since ?? "30d", settings: settings)), ("until", until),
                ("host", global.host),
            ],
            as: AdviceReport.self)
        switch settings.format {
        case .json:
            Terminal.write(JSONOutput.document(report))
        case .csv:
            Terminal.write(AdviceView.csv(report).render())
        case .table:
            Terminal.write(AdviceView.render(report, width: settings.width, style: settings.style))
        }
    }
}
