import Foundation
import OOMKit
import Testing

@testable import oomwatch

/// The host state has one name: `oomwatch hosts` says the words the dashboard's hosts
/// table shows, checked by running the dashboard's own functions (from
/// Sources/OOMServer/Dashboard/app.js, under node) on the same hosts.
@Suite(.serialized) struct CLIOutputHostStateTests {
    /// Hosts covering every word and combination, including ones from a collector that
    /// sends no `at_risk` (the dashboard then decides from available_pct and PSI).
    static let hosts = """
        [
          {"host": "ok-1", "last_seen": "2026-11-28T13:59:00Z", "stale": false, "kills_24h": 0,
           "at_risk": false, "available_pct": 50},
          {"host": "risk-1", "last_seen": "2026-11-28T13:59:00Z", "stale": false, "kills_24h": 0,
           "at_risk": true, "available_pct": 5},
          {"host": "all-1", "last_seen": "2026-11-28T10:00:00Z", "stale": true, "kills_24h": 3, "at_risk": true},
          {"host": "stale-1", "last_seen": "2026-11-28T10:00:00Z", "stale": true, "kills_24h": 0},
          {"host": "kill-1", "last_seen": "2026-11-28T13:59:00Z", "stale": false, "kills_24h": 1, "at_risk": false},
          {"host": "old-low-mem", "last_seen": "2026-11-28T13:59:00Z", "stale": false, "kills_24h": 0,
           "available_pct": 4.5},
          {"host": "old-psi", "last_seen": "2026-11-28T13:59:00Z", "stale": true, "kills_24h": 2,
           "pressure": {"some_avg10": 1, "some_avg60": 1, "some_avg300": 1, "some_total_us": 0, "full_avg10": 30, "full_avg60": 25,
                        "full_avg300": 5}},
          {"host": "old-fine", "last_seen": "2026-11-28T13:59:00Z", "stale": false, "kills_24h": 0,
           "available_pct": 40}
        ]
        """

    @Test func stateWordsEqualTheDashboards() throws {
        let hosts = try JSONDecoder().decode([HostStatus].self, from: Data(Self.hosts.utf8))
        let cli = hosts.map { HostsView.state($0).0 }
        let dashboard = try Self.dashboardStates(Self.hosts)
        #expect(cli == dashboard)
        // And the words are the ones documented, not merely equal.
        #expect(
            cli == [
                "ok", "at risk", "at risk, stale, killing", "stale", "killing", "at risk", "at risk, stale, killing",
                "ok",
            ])
    }

    /// `hosts --format json` carries `state` on reported hosts too, and it is the
    /// dashboard's words for the very JSON the CLI printed.
    @Test func reportedHostsInJSONCarryTheDashboardsState() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let r = try await c.run(["hosts", "--format", "json"])
            #expect(r.status == 0, "\(r.stderr)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
            let states = rows.map { $0["state"] as? String }
            #expect(!states.contains(nil), "\(r.stdout)")
            #expect(states.compactMap { $0 } == (try Self.dashboardStates(r.stdout)))
        }
    }

    /// Runs the dashboard's `hostRisk`, `hostRow` and `hostStateWords` under node on a
    /// JSON array of hosts; returns each host's words joined as the CLI joins them.
    static func dashboardStates(_ hostsJSON: String) throws -> [String] {
        let appJS = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/OOMServer/Dashboard/app.js").standardized.path
        let source = try String(contentsOfFile: appJS, encoding: .utf8)
        let functions = try ["hostRisk", "hostRow", "hostStateWords"].map { try function($0, in: source) }
        let script =
            functions.joined(separator: "\n")
                + """

                const hosts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
                console.log(JSON.stringify(hosts.map((h) => hostStateWords(hostRow(h)).join(', '))));
                """
        let node = try #require(
            ["/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            }, "node is needed to run the dashboard's code: scripts/install-deps installs nodejs")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: node)
        process.arguments = ["-e", script]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(hostsJSON.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return try JSONDecoder().decode([String].self, from: data)
    }

    /// The source of `function NAME(…) { … }` in app.js, up to its matching brace.
    static func function(_ name: String, in source: String) throws -> String {
        let start = try #require(source.range(of: "function \(name)("), "app.js has no function \(name)")
        var depth = 0
        var index = try #require(source[start.upperBound...].firstIndex(of: "{"))
        while index < source.endIndex {
            if source[index] == "{" { depth += 1 }
            if source[index] == "}" {
                depth -= 1
                if depth == 0 { return String(source[start.lowerBound...index]) }
            }
            index = source.index(after: index)
        }
        throw CLIError.failure("unbalanced braces in app.js's \(name)")
    }
}
