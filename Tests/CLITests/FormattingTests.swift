import Foundation
import OOMKit
import Testing

@testable import oomwatch

@Suite struct SizesTests {
    @Test(arguments: [
        (Int64(0), "0 KiB"),
        (1023, "1023 KiB"),
        (1024, "1.0 MiB"),
        (3584, "3.5 MiB"),
        (102_400, "100 MiB"),
        (524_288, "512 MiB"),
        (1_048_063, "1.0 GiB"),  // 1023.5 MiB rounds up into the next unit
        (1_572_864, "1.5 GiB"),
        (16_384_000, "15.6 GiB"),
        (134_217_728, "128 GiB"),
        (1_288_490_189, "1.2 TiB"),
        (-2048, "-2.0 MiB"),
    ])
    func formatsKilobytes(kb: Int64, expected: String) {
        #expect(Sizes.format(kb: kb) == expected)
    }

    @Test func unknownIsADash() {
        #expect(Sizes.format(kb: nil as Int64?) == "-")
    }

    @Test func decimals() {
        #expect(Decimal1.format(12.34) == "12.3")
        #expect(Decimal1.format(-0.06) == "-0.1")
        #expect(Decimal1.percent(9.95) == "10.0%")
        #expect(Decimal1.format2(0.5) == "0.50")
        #expect(Decimal1.format2(12.345) == "12.35")
        #expect(Decimal1.format2(nil) == "-")
    }
}

@Suite struct TimesTests {
    static let now = RFC3339.parse("2026-11-28T14:00:00Z")!

    @Test(arguments: [
        ("2026-11-28T14:00:00Z", "now"),
        ("2026-11-28T13:59:15Z", "45s ago"),
        ("2026-11-28T13:56:00Z", "4m ago"),
        ("2026-11-28T11:00:00Z", "3h ago"),
        ("2026-11-26T15:00:00Z", "47h ago"),
        ("2026-11-16T14:00:00Z", "12d ago"),
        ("2025-01-02T03:04:05Z", "2025-01-02"),
        ("2026-11-28T14:05:00Z", "in 5m"),
    ])
    func relative(time: String, expected: String) {
        let times = Times(nowMicroseconds: Self.now, absolute: false)
        #expect(times.format(time) == expected)
    }

    @Test func absoluteDropsFractions() {
        let times = Times(nowMicroseconds: Self.now, absolute: true)
        #expect(times.format("2026-11-28T13:56:00.123456Z") == "2026-11-28T13:56:00Z")
        #expect(times.format("2026-11-28T15:56:00+02:00") == "2026-11-28T13:56:00Z")
        #expect(times.format(nil) == "-")
        #expect(times.format("not a time") == "not a time")
    }
}

@Suite struct CSVTests {
    @Test func quotesAsRFC4180Says() {
        var csv = CSV(header: ["a", "b"])
        csv.append(["plain", "with,comma"])
        csv.append(["say \"hi\"", "two\nlines"])
        csv.append([nil, ""])
        #expect(csv.render() == "a,b\nplain,\"with,comma\"\n\"say \"\"hi\"\"\",\"two\nlines\"\n,\n")
    }
}

@Suite struct TextWidthTests {
    @Test func controlCharactersCannotReachTheTerminal() {
        #expect(TextWidth.sanitized("evil\u{1B}[2Jname") == "evil?[2Jname")
        #expect(TextWidth.sanitized("tab\there") == "tab here")
        #expect(TextWidth.sanitized("c1\u{9B}x") == "c1?x")
        #expect(TextWidth.sanitized("line1\nline2", keepNewlines: true) == "line1\nline2")
    }

    @Test func wideCharactersTakeTwoColumns() {
        #expect(TextWidth.width("abc") == 3)
        #expect(TextWidth.width("日本") == 4)
        #expect(TextWidth.width("e\u{301}") == 1)
        #expect(TextWidth.truncated("日本語テキスト", to: 5) == "日本…")
        #expect(TextWidth.truncated("abcdef", to: 4) == "abc…")
        #expect(TextWidth.truncated("abc", to: 3) == "abc")
    }
}

@Suite struct TableTests {
    func sample() -> Table {
        var table = Table([
            .init("NAME", truncatable: true, minWidth: 4),
            .init("SIZE", alignRight: true),
            .init("PATH", truncatable: true, minWidth: 6),
        ])
        table.append(["postgres", "1.5 GiB", "/system.slice/postgresql.service"])
        table.append(["java", "512 MiB", "/kubepods/burstable/pod1234"])
        return table
    }

    @Test func alignsWithoutALimit() {
        let expected = """
            NAME         SIZE  PATH
            postgres  1.5 GiB  /system.slice/postgresql.service
            java      512 MiB  /kubepods/burstable/pod1234

            """
        #expect(sample().render(maxWidth: nil) == expected)
    }

    @Test func widestTruncatableColumnGivesWayFirst() {
        let expected = """
            NAME         SIZE  PATH
            postgres  1.5 GiB  /system.slice/postgr…
            java      512 MiB  /kubepods/burstable/…

            """
        let out = sample().render(maxWidth: 40)
        #expect(out == expected)
        for line in out.split(separator: "\n") { #expect(TextWidth.width(String(line)) <= 40) }
    }

    @Test func narrowTerminalCutsEveryTextColumnToItsMinimum() {
        let out = sample().render(maxWidth: 10)
        #expect(out.split(separator: "\n").first == "NAME     SIZE  PATH")
        #expect(out.contains("pos…  1.5 GiB  /syst…"))
    }

    @Test func droppableColumnsGoWhenCuttingIsNotEnough() {
        var table = Table([
            .init("NAME", truncatable: true, minWidth: 4),
            .init("EXTRA", dropRank: 1),
            .init("SIZE", alignRight: true),
        ])
        table.append(["postgres", "something long", "1.5 GiB"])
        #expect(table.render(maxWidth: 20) == "NAME         SIZE\npostgres  1.5 GiB\n")
        #expect(table.render(maxWidth: 30) == "NAME   EXTRA              SIZE\npost…  something long  1.5 GiB\n")
    }

    @Test func colourDoesNotChangeAlignment() {
        var table = Table([.init("A"), .init("B", alignRight: true)])
        table.append([Table.Cell("x", .red), Table.Cell("1", .green)])
        let plain = table.render(maxWidth: nil)
        let coloured = table.render(maxWidth: nil, style: Style(enabled: true))
        let stripped = coloured.replacing(/\x1B\[[0-9;]*m/, with: "")
        #expect(stripped == plain)
        #expect(coloured.contains("\u{1B}[31mx\u{1B}[0m"))
    }

    @Test func colourOnlyOnATerminalAndNeverWithNO_COLOR() {
        #expect(Style.colorWanted(isTerminal: true, environment: [:], noColorFlag: false))
        #expect(!Style.colorWanted(isTerminal: false, environment: [:], noColorFlag: false))
        #expect(!Style.colorWanted(isTerminal: true, environment: ["NO_COLOR": "1"], noColorFlag: false))
        #expect(Style.colorWanted(isTerminal: true, environment: ["NO_COLOR": ""], noColorFlag: false))
        #expect(!Style.colorWanted(isTerminal: true, environment: ["TERM": "dumb"], noColorFlag: false))
        #expect(!Style.colorWanted(isTerminal: true, environment: [:], noColorFlag: true))
    }
}

@Suite struct CollectorClientTests {
    @Test func urlEncodesQueryValues() {
        let url = CollectorClient.url(
            server: "http://h:1", path: "/api/v1/events",
            query: [("comm", "my app&x=1"), ("host", nil), ("since", "2026-11-28T14:00:00+01:00")])
        #expect(url == "http://h:1/api/v1/events?comm=my%20app%26x%3D1&since=2026-11-28T14%3A00%3A00%2B01%3A00")
    }

    @Test(arguments: [
        (401, false, "no token: the collector at http://c needs a read token"),
        (401, true, "the collector at http://c rejected the token (401): bad token"),
        (403, true, "the token may not read from the collector at http://c (403)"),
        (404, true, "no such event"),
        (500, true, "the collector at http://c answered 500: bad token"),
    ])
    func statusErrors(status: Int, hadToken: Bool, prefix: String) {
        let body = Array(#"{"error":{"message":"bad token"}}"#.utf8)
        let error = CollectorClient.error(
            for: .init(status: status, body: body), server: "http://c", hadToken: hadToken, notFound: "no such event")
        #expect(error.message.hasPrefix(prefix))
        #expect(error.exitCode == 1)
        #expect(!error.retryable)
        #expect(!error.message.contains("\n"))
    }
}

@Suite struct RetryTests {
    @Test func busyAndUnreachableAreRetryable() {
        let busy = CollectorClient.error(
            for: .init(status: 503, headers: ["retry-after": "1"]), server: "http://c", hadToken: true, notFound: nil)
        #expect(busy.retryable)
        #expect(busy.message == "the collector at http://c is busy (503); retry after 1s")
        let down = CollectorClient.transportError(
            .init(kind: .connect, message: "http://c/api/v1/hosts: Couldn't connect to server"), server: "http://c")
        #expect(down.retryable)
        #expect(down.message == "cannot reach the collector at http://c: Couldn't connect to server")
    }
}

@Suite struct DecodingSummaryTests {
    struct Shape: Decodable {
        var hosts: [Int]
    }

    @Test(arguments: [
        ("<html>", "the body is not JSON"),
        ("{}", ".hosts is missing"),
        ("{\"hosts\": [1, \"x\"]}", ".hosts[1] has the wrong type"),
    ])
    func saysWhatIsWrong(body: String, expected: String) throws {
        do {
            _ = try JSONReader().decode(Shape.self, from: Array(body.utf8))
            Issue.record("decoded")
        } catch {
            #expect(CollectorClient.decodingSummary(error) == expected)
        }
    }
}

@Suite struct SettingsTests {
    func resolve(
        _ arguments: [String], environment: [String: String] = [:], files: [String: String] = [:]
    ) throws -> Settings {
        let options = try GlobalOptions.parse(arguments)
        return try Settings.resolve(
            options, environment: environment, isTerminal: false, terminalWidth: nil,
            clockMicroseconds: 0, readFile: { path in files[path] })
    }

    @Test func defaults() throws {
        let s = try resolve([])
        #expect(s.server == "http://127.0.0.1:8080")
        #expect(s.token == nil)
        #expect(s.format == .table)
    }

    @Test func flagBeatsEnvironmentBeatsFile() throws {
        let files = [
            "/home/u/.config/oomwatch/config.yaml": "server: http://file:1\ntoken: filetoken\nformat: csv\n"
        ]
        let env = ["HOME": "/home/u"]
        let fromFile = try resolve([], environment: env, files: files)
        #expect(fromFile.server == "http://file:1")
        #expect(fromFile.token == "filetoken")
        #expect(fromFile.format == .csv)

        let envWins = try resolve(
            [], environment: env.merging(["OOMWATCH_SERVER": "http://env:2/", "OOMWATCH_TOKEN": "envtoken"]) { $1 },
            files: files)
        #expect(envWins.server == "http://env:2")
        #expect(envWins.token == "envtoken")

        let flagWins = try resolve(
            ["--server", "http://flag:3", "--token", "flagtoken", "--format", "json"],
            environment: env.merging(["OOMWATCH_SERVER": "http://env:2"]) { $1 }, files: files)
        #expect(flagWins.server == "http://flag:3")
        #expect(flagWins.token == "flagtoken")
        #expect(flagWins.format == .json)
    }

    @Test func xdgConfigHomeAndTokenFile() throws {
        let files = [
            "/x/oomwatch/config.yaml": "token_file: /secrets/read\n",
            "/secrets/read": "  s3cret \n",
        ]
        let s = try resolve([], environment: ["XDG_CONFIG_HOME": "/x", "HOME": "/home/u"], files: files)
        #expect(s.token == "s3cret")
    }

    @Test func missingTokenFileIsAnError() throws {
        #expect(throws: CLIError.failure("--token-file: token file /nope does not exist")) {
            try resolve(["--token-file", "/nope"])
        }
    }

    @Test func badFormatFromEnvironmentIsAUsageError() throws {
        #expect(throws: CLIError.usage("OOMWATCH_FORMAT: 'xml' is not an output format: use table, json or csv")) {
            try resolve([], environment: ["OOMWATCH_FORMAT": "xml"])
        }
    }

    /// A typo in the config file's enumerated value names the file and key, never falls
    /// back to the default table.
    @Test func badFormatInConfigFileNamesFileAndKey() throws {
        let files = ["/home/u/.config/oomwatch/config.yaml": "format: jsn\n"]
        #expect(
            throws: CLIError.usage(
                "/home/u/.config/oomwatch/config.yaml key format: 'jsn' is not an output format: use table, json or csv"
            )
        ) {
            try resolve([], environment: ["HOME": "/home/u"], files: files)
        }
        #expect(throws: (any Error).self) { try GlobalOptions.parse(["--format", "jsn"]) }
    }

    /// A mistyped key is an error naming the file, line and nearest key, not a silent no-op.
    @Test func unknownKeyInConfigFileNamesFileLineAndNearestKey() throws {
        let files = ["/home/u/.config/oomwatch/config.yaml": "server: http://file:1\ntoken: t\nfromat: json\n"]
        #expect(
            throws: CLIError.usage(
                "/home/u/.config/oomwatch/config.yaml line 3: fromat: unknown setting; did you mean format?")
        ) {
            try resolve([], environment: ["HOME": "/home/u"], files: files)
        }
        // Every documented key, `token` and `token_file` included, is known.
        let known = [
            "/c.yaml":
                "server: http://f:1\ntoken_file: /t\nformat: csv\nnow: 2026-01-01T00:00:00Z\ntimeout: 5\nca_file: /ca\n",
            "/t": "x\n",
        ]
        #expect(
            try resolve(["--token", "flag"], environment: ["OOMWATCH_CONFIG": "/c.yaml"], files: known).format == .csv)
    }

    @Test func invalidSinceFailsValidation() {
        #expect(throws: (any Error).self) { try GlobalOptions.parse(["--since", "yesterday"]) }
        #expect(throws: Never.self) { try GlobalOptions.parse(["--since", "90m"]) }
    }
}

@Suite struct WatchTrackerTests {
    func event(_ id: String, _ time: String) -> OOMEvent {
        var e = OOMEvent(id: id, source: .kernel, victim: .init(pid: 1, comm: "x"))
        e.time = time
        return e
    }

    @Test func showsEachKillOnceOldestFirst() {
        let start = RFC3339.parse("2026-11-28T14:00:00Z")!
        var tracker = WatchTracker(startMicroseconds: start, overlapMicroseconds: 60_000_000)
        let first = tracker.newEvents([event("b", "2026-11-28T14:05:00Z"), event("a", "2026-11-28T14:01:00Z")])
        #expect(first.map(\.id) == ["a", "b"])
        #expect(tracker.since == RFC3339.parse("2026-11-28T14:04:00Z")!)
        let second = tracker.newEvents([event("c", "2026-11-28T14:06:00Z"), event("b", "2026-11-28T14:05:00Z")])
        #expect(second.map(\.id) == ["c"])
        // A late arrival inside the overlap window is still shown.
        let third = tracker.newEvents([event("late", "2026-11-28T14:05:30Z")])
        #expect(third.map(\.id) == ["late"])
    }
}

/// Global options before the command are ArgumentParser's own (the root command and
/// every command share GlobalOptions); the suggestion skips their values.
@Suite struct GlobalOptionOrderTests {
    @Test func suggestionKnowsEveryValuedGlobalOption() {
        let help = GlobalOptions.helpMessage(columns: 1000)
        let valued = Set(
            help.split(separator: "\n").compactMap { line -> String? in
                let words = line.split(separator: " ")
                guard let name = words.first, name.hasPrefix("--"), words.count > 1, words[1].hasPrefix("<") else {
                    return nil
                }
                return String(name)
            })
        #expect(!valued.isEmpty)
        // `--now` is hidden from help but takes a value too.
        #expect(CommandSuggestion.valuedOptions == valued.union(["--now"]))
    }

    @Test(arguments: [
        ["--server", "http://x", "hosts"], ["--format=json", "--no-color", "events", "--limit", "3"],
        ["hosts", "--server", "http://x"],
    ])
    func globalOptionsMayComeFirst(arguments: [String]) throws {
        let command = try OOMWatch.parseAsRoot(arguments)
        #expect(command is Hosts || command is Events)
    }

    @Test func leadingOptionsReachTheCommand() throws {
        let command = try #require(
            try OOMWatch.parseAsRoot(["--format", "json", "--host", "web-1", "events"]) as? Events)
        #expect(command.global.format == .json)
        #expect(command.global.host == "web-1")
    }
}

@Suite struct CommandSuggestionTests {
    let commands: Set<String> = ["hosts", "events", "show", "summary", "top", "watch"]

    @Test(arguments: [
        (["hostz"], "hosts"), (["--format", "json", "evnets"], "events"), (["sumary"], "summary"),
        (["sum"], "summary"), (["tpo"], "top"), (["--server=http://x", "shwo"], "show"),
    ])
    func suggestsTheClosest(arguments: [String], meant: String) {
        let unknown = CommandSuggestion.unknown(arguments, commands: commands)
        #expect(unknown?.suggestion == meant)
    }

    @Test func knownCommandsHelpAndFarOffWords() {
        #expect(CommandSuggestion.unknown(["hosts", "--since", "1d"], commands: commands) == nil)
        #expect(CommandSuggestion.unknown(["--format", "json", "events"], commands: commands) == nil)
        #expect(CommandSuggestion.unknown(["--help"], commands: commands) == nil)
        #expect(CommandSuggestion.unknown(["--generate-completion-script", "bash"], commands: commands) == nil)
        #expect(CommandSuggestion.unknown(["xyzzy"], commands: commands)?.suggestion == nil)
        #expect(CommandSuggestion.distance("hosts", "hsots") == 1)
    }
}
