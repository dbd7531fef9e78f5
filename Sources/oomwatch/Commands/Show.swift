import ArgumentParser
import OOMKit

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One OOM kill in full: victim, trigger, cgroups, candidates, raw report.",
        discussion: """
            EVENT_ID is the id column of `oomwatch events`.

            Examples:
              oomwatch show 3f2a9c0d5e6b7a8f9e0d1c2b3a4f5e6d
              oomwatch show 3f2a9c0d5e6b7a8f9e0d1c2b3a4f5e6d --format json
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The event's id.", valueName: "EVENT_ID"))
    var eventID: String

    func validate() throws {
        guard !eventID.isEmpty, eventID.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "/") }) else {
            throw ValidationError("invalid event id '\(eventID)'")
        }
    }

    func run() async throws {
        let settings = try Settings.current(global)
        let client = CollectorClient(settings: settings)
        let event = try await client.get(
            "/api/v1/events/" + CollectorClient.percentEncoded(eventID), as: OOMEvent.self,
            notFound: "no OOM event with id \(eventID) (list ids with `oomwatch events`)")
        switch settings.format {
        case .json:
            Terminal.write(JSONOutput.document(event))
        case .csv:
            var csv = CSV(header: EventsView.csvHeader)
            csv.append(EventsView.csvRow(event))
            Terminal.write(csv.render())
        case .table:
            Terminal.write(
                EventDetailView.render(event, times: settings.times, width: settings.width, style: settings.style))
        }
    }
}
