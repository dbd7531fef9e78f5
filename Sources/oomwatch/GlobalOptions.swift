import ArgumentParser
import OOMKit

/// How results are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Aligned columns for people.
    case table
    /// One JSON document: an array for lists, an object for a report.
    case json
    /// A header and one row per item.
    case csv
}

/// The options every command takes. Each has an environment variable and, for the
/// connection and format, a config-file key; the flag wins, then the variable, then the
/// file, then the default.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Collector URL (env OOMWATCH_SERVER; default http://127.0.0.1:8080).", valueName: "URL"))
    var server: String?

    @Option(name: .long, help: ArgumentHelp("Read token (env OOMWATCH_TOKEN).", valueName: "TOKEN"))
    var token: String?

    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp("File holding the read token (env OOMWATCH_TOKEN_FILE).", valueName: "FILE"))
    var tokenFile: String?

    @Option(
        name: .long, help: ArgumentHelp("Output format: table, json or csv (env OOMWATCH_FORMAT).", valueName: "FORMAT")
    )
    var format: OutputFormat?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Start of the time range: a duration back from now (30m, 24h, 7d) or RFC 3339.", valueName: "WHEN"))
    var since: String?

    @Option(name: .long, help: ArgumentHelp("Only this host.", valueName: "NAME"))
    var host: String?

    @Flag(name: .long, help: "Print absolute UTC times instead of \"4m ago\".")
    var absoluteTimes = false

    @Flag(name: .long, help: "No colour, even on a terminal (NO_COLOR does the same).")
    var noColor = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Config file (env OOMWATCH_CONFIG; default $XDG_CONFIG_HOME/oomwatch/config.yaml).", valueName: "FILE"))
    var config: String?

    @Option(
        name: .customLong("ca-file"),
        help: ArgumentHelp("PEM CA bundle to trust for https (env OOMWATCH_CA_FILE).", valueName: "FILE"))
    var caFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds to wait for the collector's answer (env OOMWATCH_TIMEOUT; default 10).", valueName: "SECONDS"))
    var timeout: Double?

    /// Pins "now" for relative times and durations (tests, reproducible output).
    @Option(name: .long, help: .hidden)
    var now: String?

    func validate() throws {
        if let since, SinceParser.parse(since, nowMicroseconds: 0) == nil {
            throw ValidationError("invalid --since '\(since)': use a duration like 30m, 24h, 7d or an RFC 3339 time")
        }
        if let now, RFC3339.parse(now) == nil {
            throw ValidationError("invalid --now '\(now)': use an RFC 3339 time")
        }
        if let server, !(server.hasPrefix("http://") || server.hasPrefix("https://")) {
            throw ValidationError("invalid --server '\(server)': use http://HOST:PORT or https://HOST:PORT")
        }
        if let timeout, !(timeout > 0 && timeout <= 3600) {
            throw ValidationError("invalid --timeout '\(timeout)': use seconds between 0.1 and 3600")
        }
    }
}
