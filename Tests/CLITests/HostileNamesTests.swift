import Foundation
import OOMKit
import Testing

@testable import oomwatch

/// Issue 19, point 6: names from hostile hosts reach the terminal and the spreadsheet
/// harmless. The built CLI against a real collector holding a kill whose every name is
/// an attack: an OSC 52 clipboard write, a screen clear, a bell, a bidi override that
/// makes `java\u{202E}gnp.exe` read as "javaexe.png", and spreadsheet formulas.
@Suite(.serialized) struct HostileNamesTests {
    static let comm = "java\u{202E}gnp.exe"
    static let unit = "=HYPERLINK(\"http://evil.example/\",\"click\")"
    static let cmdline = "\u{1B}]52;c;cm0gLXJmIH4=\u{07}\u{1B}[2J@SUM(1+1)"

    static func hostileKill() -> OOMEvent {
        let base = Int64(Date().timeIntervalSince1970 * 1_000_000)
        var e = Fleet.kill(
            host: "web-1", scope: .memcg, pid: 666, comm: comm, time: Fleet.time(base, minus: 60), uptime: 10)
        e.victim.unit = unit
        e.victim.cmdline = cmdline
        e.victim.cgroup = "+cmd|' /C calc'!A0"
        e.victim.oomScoreAdj = -1000
        e.victim.containerID = "\u{2066}isolated\u{2069}"
        return e
    }

    /// No byte a terminal acts on, and no bidi control.
    func expectHarmless(_ text: String, _ what: String) {
        #expect(!text.unicodeScalars.contains { LogText.isBidiControl($0) }, "\(what) has a bidi control")
        #expect(
            !text.unicodeScalars.contains { LogText.isControl($0) && $0 != "\n" }, "\(what) has a control character")
    }

    @Test func tablesAndDetailEscapeEverything() async throws {
        let kill = Self.hostileKill()
        let seed = [IngestBatch(host: "web-1", bootID: "boot-web-1", agent: nil, snapshots: [], events: [kill])]
        try await TestCollector.with(seed: seed) { c in
            for args in [["events"], ["show", kill.id], ["summary"], ["events", "--format", "csv"]] {
                let r = try await c.run(args)
                #expect(r.status == 0, "\(args): \(r.stderr)")
                expectHarmless(r.stdout, args.joined(separator: " "))
            }
            let table = try await c.run(["events"])
            #expect(table.stdout.contains(#"java\u{202E}gnp.exe"#))
            let detail = try await c.run(["show", kill.id])
            #expect(detail.stdout.contains("?]52;c;cm0gLXJmIH4=??[2J@SUM(1+1)"))
        }
    }

    /// OWASP's rule: a cell starting with = + - @ tab or CR gets a leading quote; a plain
    /// negative number stays a number.
    @Test func csvCellsCannotBeFormulas() async throws {
        let kill = Self.hostileKill()
        let seed = [IngestBatch(host: "web-1", bootID: "boot-web-1", agent: nil, snapshots: [], events: [kill])]
        try await TestCollector.with(seed: seed) { c in
            let r = try await c.run(["events", "--format", "csv"])
            let lines = r.stdout.split(separator: "\n")
            let header = lines[0].split(separator: ",").map(String.init)
            let row = try #require(lines.last)
            #expect(row.contains(#""'=HYPERLINK(""http://evil.example/"",""click"")""#))
            #expect(row.contains(",'+cmd|' /C calc'!A0,"))
            #expect(row.contains(",-1000,"))
            #expect(header.contains("oom_score_adj"))
        }
    }

    /// A hostile server in the collector's place (Tests/OOMAgentTests/Fixtures/
    /// hostile_collector.py): its headers and bodies never reach the terminal raw, and a
    /// 60 MB answer is refused at the CLI's cap instead of buffered.
    @Test(arguments: [
        ("retry-escape", "is busy (503): busy"), ("retry-year", "is busy (503): busy"),
        ("huge-body", "larger than 32 MB"), ("escape-body", "answered 400: bad ?[2J??]52;c;cm0gLXJmIH4=? field"),
    ])
    func hostileServerAnswers(mode: String, expected: String) async throws {
        let r = try await Self.againstHostileServer(mode, ["hosts"])
        #expect(r.status == 1)
        #expect(r.stderr.contains(expected), "\(r.stderr)")
        expectHarmless(r.stderr, mode)
        #expect(!r.stderr.contains("retry after"), "a hostile Retry-After was echoed: \(r.stderr)")
    }

    /// A receiver's last error is whatever the receiver answered: `oomwatch alerts` (table
    /// and CSV) and `oomwatch alerts test` show it with its escapes made harmless.
    @Test func alertErrorsFromReceiversAreSanitized() async throws {
        let shown = #"HTTP 500: ?]52;c;cm0gLXJmIH4=??[2J java\u{202E}gnp.exe"#
        let test = try await Self.againstHostileServer("alerts-escape", ["alerts", "test", "hook", "--wait", "0"])
        #expect(test.status == 1)
        #expect(test.stderr.contains("not delivered within 0 s: last error: " + shown), "\(test.stderr)")
        expectHarmless(test.stderr, "alerts test")
        let table = try await Self.againstHostileServer("alerts-escape", ["alerts"])
        #expect(table.status == 0, "\(table.stderr)")
        expectHarmless(table.stdout, "alerts")
        let csv = try await Self.againstHostileServer("alerts-escape", ["alerts", "--format", "csv"])
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(csv.stdout.contains(shown), "\(csv.stdout)")
        expectHarmless(csv.stdout, "alerts --format csv")
    }

    /// Runs the built CLI with `args` against a hostile server in the collector's place
    /// (Tests/OOMAgentTests/Fixtures/hostile_collector.py) playing `mode`.
    static func againstHostileServer(_ mode: String, _ args: [String]) async throws -> CLIRunner.Result {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("OOMAgentTests/Fixtures/hostile_collector.py").path
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = [script]
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            // SIGKILL: a child of a Dispatch thread may have SIGTERM blocked.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let port = try #require(Int(line.filter(\.isNumber)), "the hostile server did not start")
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("oomwatch-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        return try await CLIRunner(home: home.path).run(
            args, environment: ["OOMWATCH_SERVER": "http://127.0.0.1:\(port)/\(mode)", "OOMWATCH_TOKEN": "t"])
    }

    @Test(arguments: [
        ("=1+1", "'=1+1"), ("+1", "+1"), ("-1000", "-1000"), ("-", "'-"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "' x"), ("\rx", "' x"), ("plain", "plain"), ("a,b", "\"a,b\""), ("x\u{1B}[2J", "x?[2J"),
        ("=a,b", "\"'=a,b\""),
    ])
    func csvField(input: String, expected: String) {
        #expect(CSV.field(input) == expected)
    }
}
