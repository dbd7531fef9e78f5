import ArgumentParser
import OOMKit

/// Filters shared by `events` and `watch`.
struct EventFilters: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Only kills of this process name (comm).", valueName: "NAME"))
    var comm: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Only kills by this killer: kernel, systemd-oomd or earlyoom.", valueName: "SOURCE"))
    var source: String?

    @Option(name: .long, help: ArgumentHelp("Only this scope: global, memcg, cpuset or mempolicy.", valueName: "SCOPE"))
    var scope: String?

    @Option(name: .long, help: ArgumentHelp("Only victims in this systemd unit.", valueName: "UNIT"))
    var unit: String?

    @Option(name: .long, help: ArgumentHelp("Only victims in this container (id).", valueName: "ID"))
    var container: String?

    func validate() throws {
        if let source, OOMEvent.Source(rawValue: source) == nil {
            throw ValidationError("invalid --source '\(source)': use kernel, systemd-oomd or earlyoom")
        }
        if let scope, OOMEvent.Scope(rawValue: scope) == nil {
            throw ValidationError("invalid --scope '\(scope)': use global, memcg, cpuset or mempolicy")
        }
    }

    var query: [(String, String?)] {
        [("comm", comm), ("source", source), ("scope", scope), ("unit", unit), ("container", container)]
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "OOM kills, newest first, with filters.",
        discussion: """
            Fetches page after page from the collector until --limit kills are shown or \
            there are no more.

            Examples:
              oomwatch events --since 24h
              oomwatch events --host web-1 --comm java --limit 500
              oomwatch events --scope memcg --unit app.service --since 2026-11-01T00:00:00Z
              oomwatch events --since 7d --format json | jq '.[].victim.comm'
            """
    )

    /// The collector's largest page.
    static let maxPage = 1000

    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: EventFilters

    @Option(
        name: .long,
        help: ArgumentHelp("End of the time range: a duration back from now (1h) or RFC 3339.", valueName: "WHEN"))
    var until: String?

    @Option(name: .long, help: "Most kills to show.")
    var limit = 50

    func validate() throws {
        if let until, SinceParser.parse(until, nowMicroseconds: 0) == nil {
            throw ValidationError("invalid --until '\(until)': use a duration like 30m, 24h, 7d or an RFC 3339 time")
        }
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let settings = try Settings.current(global)
        let client = CollectorClient(settings: settings)
        var query = filters.query
        query.append(("host", global.host))
        query.append(("since", Self.absolute(global.since, settings: settings)))
        query.append(("until", Self.absolute(until, settings: settings)))
        let events = try await Self.fetch(client: client, query: query, limit: limit)
        Printer.emit(
            settings,
            table: { EventsView.table(events, times: settings.times) },
            csv: { EventsView.csv(events) },
            json: { JSONOutput.document(events) },
            empty: "No OOM kills match."
        )
    }

    /// A `--since`/`--until` value as RFC 3339, resolved against the CLI's "now" so a
    /// pinned `--now` and the collector agree on what "24h" means.
    static func absolute(_ value: String?, settings: Settings) -> String? {
        guard let value else { return nil }
        guard let micros = SinceParser.parse(value, nowMicroseconds: settings.nowMicroseconds) else { return value }
        return RFC3339.format(epochMicroseconds: micros)
    }

    /// Follows `next_cursor` until `limit` events are in hand or the collector has no more.
    static func fetch(client: CollectorClient, query: [(String, String?)], limit: Int) async throws(CLIError)
        -> [OOMEvent]
    {
        var events: [OOMEvent] = []
        var cursor: String? = nil
        repeat {
            let pageSize = min(maxPage, limit - events.count)
            let page = try await client.get(
                "/api/v1/events", query: query + [("limit", String(pageSize)), ("cursor", cursor)], as: EventsPage.self)
            events += page.events.prefix(limit - events.count)
            // A page that adds nothing while naming a next cursor would loop forever.
            guard !page.events.isEmpty else { break }
            cursor = page.nextCursor
        } while cursor != nil && events.count < limit
        return events
    }
}
