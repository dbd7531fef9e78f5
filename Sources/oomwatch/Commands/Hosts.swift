import ArgumentParser
import OOMKit

struct Hosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every host: state, last seen, memory, pressure, kills in 24 h.",
        discussion: """
            STATE uses the dashboard's words: "at risk" when MemAvailable is under 10% or \
            PSI full avg60 is over 10, "stale" when the agent has been silent for three of \
            its intervals, "killing" when it had OOM kills in 24 h, else "ok"; "missing" \
            for an expected host that never reported (--expected FILE, or the collector's \
            expected_hosts_file).

            Examples:
              oomwatch hosts
              oomwatch hosts --expected fleet.txt
              oomwatch hosts --host web-1 --absolute-times
              oomwatch hosts --format csv > hosts.csv
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(
        help: ArgumentHelp(
            "File of the host names that should report, one a line ('#' comments): those that never did are listed as missing.",
            valueName: "FILE"))
    var expected: String?

    func run() async throws {
        let settings = try Settings.current(global)
        var expectedNames: [String] = []
        if let expected {
            guard let text = try Files.readText(expected) else {
                throw CLIError.failure("--expected: \(expected) does not exist")
            }
            expectedNames = ExpectedHosts.parse(text)
        }
        let client = CollectorClient(settings: settings)
        let response = try await client.get("/api/v1/hosts", as: HostsResponse.self)
        var hosts = response.hosts
        var missing = ExpectedHosts.missing(expected: expectedNames, reported: hosts.map(\.host))
        let known = Set(missing.map { $0.lowercased() })
        missing += (response.missing ?? []).filter { !known.contains($0.lowercased()) }
        if let name = global.host {
            hosts = hosts.filter { $0.host == name }
            missing = missing.filter { $0 == name }
        }
        Printer.emit(
            settings,
            table: { HostsView.table(hosts, missing: missing, times: settings.times) },
            csv: { HostsView.csv(hosts, missing: missing) },
            json: { JSONOutput.document(hosts.map(HostRow.reported) + missing.map(HostRow.missing)) },
            empty: global.host.map { "No host named \($0) has reported." } ?? "No hosts have reported yet."
        )
    }
}

/// One element of `hosts --format json`: a host as the collector knows it plus its
/// `state` (the dashboard's words), or an expected one that never reported
/// (`{"host": …, "state": "missing", "last_seen": null}`).
enum HostRow: Encodable {
    case reported(HostStatus)
    case missing(String)

    private enum Keys: String, CodingKey { case host, state, lastSeen = "last_seen" }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .reported(let h):
            try h.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(HostsView.state(h).0, forKey: .state)
        case .missing(let name):
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(name, forKey: .host)
            try c.encode(HostsView.missingState, forKey: .state)
            try c.encodeNil(forKey: .lastSeen)
        }
    }
}
