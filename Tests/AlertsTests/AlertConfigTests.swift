import OOMAlerts
import OOMStore
import Testing

@Suite struct AlertConfigTests {
    static let example = """
        listen: 127.0.0.1:9000
        limits:
          max_events: 50
        alerts:
          group_wait: 10s
          receivers:
            - name: am
              alertmanager: {url: "http://127.0.0.1:9093/"}
            - name: hook
              webhook:
                url: http://127.0.0.1:9999/hook
            - name: chat
              slack: {url: "http://127.0.0.1:9998/slack"}
          routes:
            - match: {host: "web-*", comm: "java|node", scope: memcg, min_rss_kb: 1000}
              receivers: [am, hook]
              group_wait: 0s
              continue: true
            - match: {source: systemd-oomd}
              receivers: [chat]
          default: [hook]
        """

    static func kill(
        host: String = "web-3", comm: String = "java", scope: String? = "memcg",
        source: String = "kernel", rss: Int64 = 5000
    ) -> AlertCandidate {
        AlertCandidate(
            eventID: "e-\(host)-\(comm)", host: host, time: nowMicroseconds(), source: source,
            scope: scope, comm: comm, pid: 42, unit: nil, container: nil, rssKB: rss)
    }

    @Test func plainSettingsAreFlattenedForTheLayers() throws {
        let file = try CollectorConfigFile.parse(Self.example)
        #expect(file.settings.string("listen") == "127.0.0.1:9000")
        #expect(file.settings.string("limits.max_events") == "50")
        #expect(file.alerts.receivers.map(\.name) == ["am", "hook", "chat"])
        #expect(file.alerts.receivers[0].kind == .alertmanager(url: "http://127.0.0.1:9093"))
        #expect(file.alerts.routes.count == 2)
        #expect(file.alerts.routes[0].groupWaitSeconds == 0)
        #expect(file.alerts.routes[1].groupWaitSeconds == 10)
    }

    @Test func continueAddsLaterRoutesFirstMatchStopsAndDefaultCatchesTheRest() throws {
        let config = try CollectorConfigFile.parse(Self.example).alerts
        // Route 0 matches and continues; route 1 does not match a kernel kill.
        #expect(config.plan(Self.kill()).map(\.receiver) == ["am", "hook"])
        // comm must match whole: "javac" is not "java".
        #expect(config.plan(Self.kill(comm: "javac")).map(\.receiver) == ["hook"])
        #expect(config.plan(Self.kill(host: "db-1")).map(\.receiver) == ["hook"])
        #expect(config.plan(Self.kill(rss: 10)).map(\.receiver) == ["hook"])
        #expect(config.plan(Self.kill(scope: "global")).map(\.receiver) == ["hook"])
        let oomd = config.plan(Self.kill(host: "db-1", source: "systemd-oomd"))
        #expect(oomd == [PlannedNotification(receiver: "chat", route: 1, groupWaitSeconds: 10)])
        let catchAll = config.plan(Self.kill(host: "db-1"))
        #expect(catchAll == [PlannedNotification(receiver: "hook", route: 2, groupWaitSeconds: 10)])
    }

    @Test func noRoutesSendsEveryKillToEveryReceiver() throws {
        let config = try CollectorConfigFile.parse(
            """
            alerts:
              receivers:
                - {name: a, webhook: {url: "http://127.0.0.1:1/"}}
                - {name: b, slack: {url: "http://127.0.0.1:1/"}}
            """
        ).alerts
        #expect(config.plan(Self.kill()).map(\.receiver) == ["a", "b"])
        #expect(config.plan(Self.kill()).allSatisfy { $0.groupWaitSeconds == 30 })
    }

    @Test func killsOlderThanMaxAgeAreHistoryNotNews() throws {
        var config = try CollectorConfigFile.parse(Self.example).alerts
        #expect(config.maxAgeSeconds == 86_400)
        var old = Self.kill()
        old.time -= 86_401 * 1_000_000
        #expect(config.plan(old).isEmpty)
        config.maxAgeSeconds = 0
        #expect(config.plan(old).map(\.receiver) == ["am", "hook"])
    }

    @Test func staleAndPressureRules() throws {
        let config = try CollectorConfigFile.parse(
            """
            alerts:
              receivers:
                - {name: am, alertmanager: {url: "http://127.0.0.1:9093"}}
              stale: {receivers: [am], after_intervals: 5}
              pressure: {receivers: [am], full_avg60: 20.5, for: 2m}
            """
        ).alerts
        #expect(config.conditions.staleReceivers == ["am"])
        #expect(config.conditions.staleIntervals == 5)
        #expect(config.conditions.pressureThreshold == 20.5)
        #expect(config.conditions.pressureForSeconds == 120)
    }

    static let badRules: [(String, String, Int)] = [
        (
            "alerts:\n  receivers:\n    - {name: a, slack: {url: \"http://x\"}}\n  pressure: {receivers: [a], full_avg60: 150}\n",
            "alerts.pressure.full_avg60", 4
        ),
        ("alerts:\n  receivers:\n    - name: a\n      pager: {url: x}\n", "alerts.receivers[0].pager", 4),
        ("alerts:\n  receivers:\n    - name: a\n      webhook: {url: ftp://x}\n", "alerts.receivers[0].webhook.url", 4),
        (
            "alerts:\n  receivers:\n    - {name: a, slack: {url: \"http://x\"}}\n  routes:\n    - match: {comm: \"(java\"}\n      receivers: [a]\n",
            "alerts.routes[0].match.comm", 5
        ),
        (
            "alerts:\n  receivers:\n    - {name: a, slack: {url: \"http://x\"}}\n  routes:\n    - receivers: [b]\n",
            "alerts.routes[0].receivers[0]", 5
        ),
        (
            "alerts:\n  receivers:\n    - {name: a, slack: {url: \"http://x\"}}\n  routes:\n    - match: {hots: web}\n      receivers: [a]\n",
            "alerts.routes[0].match.hots", 5
        ),
        (
            "alerts:\n  receivers:\n    - {name: a, slack: {url: \"http://x\"}}\n  routes:\n\n    - receivers: [a]\n      group_wait: soon\n",
            "alerts.routes[0].group_wait", 7
        ),
        (
            "alerts:\n  receivers:\n    - name: a\n      webhook: {url: \"http://x\", secret_file: /nonexistent/secret}\n",
            "alerts.receivers[0].webhook.secret_file", 4
        ),
        ("alerts:\n  receivers: [\n", "(file)", 3),
    ]

    @Test(arguments: badRules)
    func badRulesNameTheKeyAndTheLine(yaml: String, key: String, line: Int) {
        #expect {
            try CollectorConfigFile.parse(yaml)
        } throws: { error in
            guard let e = error as? AlertConfigError else { return false }
            return e.key == key && e.line == line && e.description.hasPrefix("line \(line): \(key)")
        }
    }
}
