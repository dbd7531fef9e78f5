import ArgumentParser
import OOMKit

struct Hosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every host: status, last seen, memory, pressure, kills in 24 h.",
        discussion: """
            STATUS is "stale" when the agent has been silent for three of its intervals and \
            "at risk" when MemAvailable is under 10% or PSI full avg60 is over 10.

            Examples:
              oomwatch hosts
              oomwatch hosts --host web-1 --absolute-times
              oomwatch hosts --format csv > hosts.csv
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let settings = try Settings.current(global)
        let client = CollectorClient(settings: settings)
        var hosts = try await client.get("/api/v1/hosts", as: HostsResponse.self).hosts
        if let name = global.host { hosts = hosts.filter { $0.host == name } }
        Printer.emit(
            settings,
            table: { HostsView.table(hosts, times: settings.times) },
            csv: { HostsView.csv(hosts) },
            json: { JSONOutput.document(hosts) },
            empty: global.host.map { "No host named \($0) has reported." } ?? "No hosts have reported yet."
        )
    }
}
