import Foundation
import OOMAlerts
import OOMKit
import OOMServer
import Testing

/// collector.yaml read the way the collector reads it (full YAML), then resolved: a
/// mistyped key is an error with the file, the key's line and the nearest known key, like
/// the `alerts:` section's own errors; the shipped example sets only keys the table knows.
@Suite struct CollectorFileKeysTests {
    static let path = "/etc/oomwatch/collector.yaml"

    func resolve(_ text: String, environment: [String: String] = [:]) throws -> CollectorConfiguration {
        let file = try CollectorConfigFile.parse(text)
        let layers = ConfigLayers(file: file.settings, filePath: Self.path, environment: environment)
        return try CollectorConfiguration.resolve(layers: layers)
    }

    @Test(arguments: [
        (
            "listen: 127.0.0.1:8080\ndb:\n  synchronus: full\n",
            "\(path) line 3: db.synchronus: unknown setting; did you mean db.synchronous?"
        ),
        ("synchronous: full\n", "\(path) line 1: synchronous: unknown setting; did you mean db.synchronous?"),
        (
            "retention:\n  snapshot_day: 7\n",
            "line 2: retention.snapshot_day: unknown setting; did you mean retention.snapshot_days?"
        ),
        ("colour: blue\n", "\(path) line 1: colour: unknown setting"),
        (
            "advice:\n  critical_service:\n    - sshd\n",
            "line 2: advice.critical_service: unknown setting; did you mean advice.critical_services?"
        ),
    ])
    func unknownKeyNamesFileLineAndNearestKey(text: String, expected: String) {
        do {
            _ = try resolve(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect("\(error)".hasSuffix(expected), "\(error)")
        }
    }

    @Test func shippedExampleSetsOnlyKnownKeys() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: repo.appendingPathComponent("server-config/collector.yaml"), encoding: .utf8)
        let c = try resolve(text)
        #expect(c.synchronousFull)
        // An empty map (`tls:` with its keys commented out) is not an unknown key either.
        _ = try resolve("tls:\nlog:\n  level: info\n")
    }

    @Test func alertsSectionStaysItsOwn() throws {
        // `alerts:` is parsed (and its bad keys named) by AlertConfig, not the settings table.
        let c = try resolve(AlertConfigTests.example)
        #expect(c.limits.maxEvents == 50)
    }
}
