import Foundation
import Testing

extension Faults {
    /// The real collector refuses a bad `alerts:` rule at start, before it opens the
    /// database or binds, naming the file, the rule's line and its key, with a non-zero exit.
    @Test func badAlertRuleStopsTheCollectorNamingFileLineAndKey() throws {
        guard let bin = Binaries.locate() else { return }
        let dir = TempDir("alert-rules")
        defer { dir.remove() }
        let head =
            "listen: 127.0.0.1:0\nalerts:\n  receivers:\n    - {name: a, slack: {url: \"http://127.0.0.1:1/\"}}\n"
        let cases: [(yaml: String, expected: String)] = [
            (
                head + "  routes:\n    - match: {comm: \"(java\"}\n      receivers: [a]\n",
                "collector.yaml: line 6: alerts.routes[0].match.comm: not a regular expression"
            ),
            (head + "  routes:\n    - receivers: [nobody]\n", "collector.yaml: line 6: alerts.routes[0].receivers[0]"),
            (
                head + "  pressure: {receivers: [a], full_avg60: 150}\n",
                "collector.yaml: line 5: alerts.pressure.full_avg60"
            ),
        ]
        for c in cases {
            dir.write("collector.yaml", c.yaml)
            let (status, output) = try runAgent(
                bin.collector, ["--config", dir.path + "/collector.yaml", "--db", dir.path + "/db.sqlite"],
                environment: [:])
            #expect(status != 0, "\(c.yaml): exit \(status)")
            #expect(output.contains(dir.path + "/" + c.expected), "\(output)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/db.sqlite"))
    }
}
