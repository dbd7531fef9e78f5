import ArgumentParser
import Dispatch
import OOMKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each new OOM kill as one line as it arrives, until interrupted (Ctrl-C).",
        discussion: """
            Polls the collector every --interval seconds. Starts with kills from now on, or \
            from --since. With --format json each kill is one JSON object on its own line \
            (JSON Lines); with --format csv the header comes first.

            Examples:
              oomwatch watch
              oomwatch watch --host web-1 --interval 2
              oomwatch watch --since 1h --format json | jq -c .victim
            """
    )

    /// How far behind the newest kill seen each poll reaches back, so kills an agent
    /// delivers a little late (a retry, a slow upload) are still shown. Ids already shown
    /// are skipped.
    static let overlapMicroseconds: Int64 = 10 * 60 * 1_000_000

    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: EventFilters

    @Option(name: .long, help: ArgumentHelp("Seconds between polls.", valueName: "SECONDS"))
    var interval: Double = 5

    func validate() throws {
        guard interval.isFinite, interval >= 0.1, interval <= 3600 else {
            throw ValidationError("--interval must be between 0.1 and 3600 seconds")
        }
    }

    func run() async throws {
        let settings = try Settings.current(global)
        let client = CollectorClient(settings: settings)
        let interrupt = Self.exitOnInterrupt()
        defer { interrupt.cancel() }

        var tracker = WatchTracker(
            startMicroseconds: SinceParser.parse(global.since ?? "0s", nowMicroseconds: settings.nowMicroseconds)
                ?? settings.nowMicroseconds,
            overlapMicroseconds: Self.overlapMicroseconds)
        var query = filters.query
        query.append(("host", global.host))
        if settings.format == .csv { Terminal.write(CSV.line(EventsView.csvHeader)) }
        // Tell a person at a terminal that silence is expected; scripts get only the data.
        if isatty(2) == 1 {
            Terminal.writeError("oomwatch: watching \(settings.server) for OOM kills; Ctrl-C to stop")
        }
        var poll = 0
        var failing = false
        while true {
            if poll > 0 { try await Task.sleep(for: .milliseconds(Int64(interval * 1000))) }
            poll += 1
            let events: [OOMEvent]
            do {
                events = try await Events.fetch(
                    client: client, query: query + [("since", RFC3339.format(epochMicroseconds: tracker.since))],
                    limit: 10_000)
                if failing { Terminal.writeError("oomwatch: the collector at \(settings.server) answers again") }
                failing = false
            } catch {
                // The first poll fails loudly; later ones ride out a collector restart.
                guard poll > 1, error.retryable else {
                    throw error
                }
                if !failing {
                    Terminal.writeError("oomwatch: \(error.message); retrying every \(Decimal1.format(interval))s")
                }
                failing = true
                continue
            }
            for event in tracker.newEvents(events) {
                switch settings.format {
                case .json: Terminal.write(JSONOutput.document(event, pretty: false))
                case .csv: Terminal.write(CSV.line(EventsView.csvRow(event).map { $0 ?? "" }))
                case .table: Terminal.write(EventsView.line(event, style: settings.style))
                }
            }
        }
    }

    /// Ctrl-C ends `watch` with status 0: stopping it is how it is meant to end.
    static func exitOnInterrupt() -> any DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "oomwatch.sigint"))
        source.setEventHandler {
            _exit(0)
        }
        source.resume()
        return source
    }
}

/// Which kills `watch` has not shown yet, and where the next poll starts. Pure, so the
/// de-duplication and the window are tested without a collector.
struct WatchTracker: Sendable {
    private(set) var since: Int64
    private let start: Int64
    private let overlap: Int64
    /// Ids shown, with their time, forgotten once they fall out of the window.
    private var shown: [String: Int64] = [:]
    private var newest: Int64

    init(startMicroseconds: Int64, overlapMicroseconds: Int64) {
        self.start = startMicroseconds
        self.since = startMicroseconds
        self.newest = startMicroseconds
        self.overlap = overlapMicroseconds
    }

    /// The events (newest first, as the collector sends them) not shown before, oldest
    /// first; moves the window on.
    mutating func newEvents(_ events: [OOMEvent]) -> [OOMEvent] {
        var fresh: [OOMEvent] = []
        for event in events.reversed() where shown[event.id] == nil {
            let time = event.time.flatMap(RFC3339.parse) ?? newest
            shown[event.id] = time
            newest = max(newest, time)
            fresh.append(event)
        }
        since = max(start, newest - overlap)
        shown = shown.filter { $0.value >= since }
        return fresh
    }
}
