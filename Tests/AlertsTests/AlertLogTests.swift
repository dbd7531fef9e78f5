import Logging
import OOMKit
import TestSupport
import Testing

/// Issue 19.6 in the alert services: a host name is an agent's to choose, so one carrying
/// a terminal escape or a bidi override reaches their log lines escaped, as it does the
/// ingest log.
@Suite struct AlertSecurityTests {
    @Test func hostNamesAreEscapedInAlertLogLines() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let receiver = LocalReceiver()
        let lines = LogLines()
        let logger = Logger(label: "alerts-log-test") { _ in LineLogHandler(lines: lines) }
        let yaml = """
            alerts:
              group_wait: 0s
              receivers:
                - {name: hook, webhook: {url: "RECEIVER/hook"}}
              stale: {receivers: [hook], after_intervals: 1}
            """
        let host = "web-\u{1B}]52;c;cm0gLXJmIH4=\u{07}\u{202E}1"
        try await DeliveryTests.withCollector(yaml, receiver: receiver, dir: dir, conditions: true, logger: logger) {
            client in
            var batch = Fixture.batch(host: host, events: [Fixture.event("esc-1", host: host)])
            batch.agent?.intervalS = 1
            try await DeliveryTests.ingest(client, batch)
            // The kill's message and, a second of silence later, the stale one.
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline,
                !(lines.all.contains { $0.hasPrefix("alert sent") }
                    && lines.all.contains { $0.hasPrefix("host condition") })
            {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let escaped = #"web-\x1B]52;c;cm0gLXJmIH4=\x07\u{202E}1"#
        let all = lines.all
        #expect(all.contains { $0.hasPrefix("alert sent") && $0.contains("host.name=\(escaped)") }, "\(all)")
        #expect(all.contains { $0.hasPrefix("host condition") && $0.contains("host.name=\(escaped)") }, "\(all)")
        for line in all {
            #expect(!line.unicodeScalars.contains { LogText.isControl($0) || LogText.isBidiControl($0) }, "\(line)")
        }
    }
}
