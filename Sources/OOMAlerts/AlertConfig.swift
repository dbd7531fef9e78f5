public import OOMStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where notifications go.
public struct AlertReceiver: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Alertmanager's v2 API at this base URL (`POST {url}/api/v2/alerts`).
        case alertmanager(url: String)
        /// A generic JSON webhook, HMAC-SHA256 signed when a secret is set.
        case webhook(url: String, secret: [UInt8]?)
        /// A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat).
        case slack(url: String)
    }
    public var name: String
    public var kind: Kind
    /// Messages a minute this receiver gets at most; the rest wait in the outbox.
    public var ratePerMinute: Double
    /// Messages allowed in a burst above the rate.
    public var burst: Double

    public init(name: String, kind: Kind, ratePerMinute: Double = 60, burst: Double = 20) {
        self.name = name
        self.kind = kind
        self.ratePerMinute = ratePerMinute
        self.burst = burst
    }
}

/// What a route matches. Every condition set must hold; an empty match takes every kill.
public struct AlertMatch: Sendable {
    /// Shell glob on the host name (`web-*`).
    public var host: String?
    /// Regular expression the whole victim comm must match (`java|node`).
    public var comm: String?
    public var unit: String?
    public var container: String?
    public var scope: String?
    public var source: String?
    public var minRssKB: Int64 = 0

    public init() {}

    /// Whether `c` passes every condition.
    public func matches(_ c: AlertCandidate) -> Bool {
        if let host, fnmatch(host, c.host, 0) != 0 { return false }
        if let comm {
            // Compiled per call: Regex is not Sendable, and a kill is rare enough.
            guard let regex = try? Regex(comm), (try? regex.wholeMatch(in: c.comm)) != nil else {
                return false
            }
        }
        if let unit, unit != c.unit { return false }
        if let container, c.container.map({ $0 == container || $0.hasPrefix(container) }) != true {
            return false
        }
        if let scope, scope != (c.scope ?? "unknown") { return false }
        if let source, source != c.source { return false }
        return c.rssKB >= minRssKB
    }
}

/// One route: kills it matches go to its receivers, grouped per host over `groupWait`.
public struct AlertRoute: Sendable {
    public var match = AlertMatch()
    public var receivers: [String] = []
    /// Seconds to collect more kills of this route and host into one message.
    public var groupWaitSeconds: Double = 30
    /// Go on to later routes after this one matched (default: first match wins).
    public var `continue` = false

    public init() {}
}

/// The `alerts:` section of collector.yaml.
public struct AlertConfig: Sendable {
    public var receivers: [AlertReceiver] = []
    public var routes: [AlertRoute] = []
    /// Receivers of kills no route matched (the catch-all).
    public var defaultReceivers: [String] = []
    public var defaultGroupWaitSeconds: Double = 30
    /// Backoff of failed deliveries: first wait, and the cap it doubles up to.
    public var retryInitialSeconds: Double = 1
    public var retryMaxSeconds: Double = 300
    /// Stale-host and memory-pressure alerts.
    public var conditions = ConditionRules()
    /// Kills older than this when stored get no notification (0: no limit): a new agent
    /// sends every kill still in the kernel's log, days old perhaps, which is history,
    /// not news. Kills spooled while the collector was down for less than this still
    /// alert.
    public var maxAgeSeconds: Double = 86_400

    public init() {}

    public var isEnabled: Bool { !receivers.isEmpty }

    public func receiver(named name: String) -> AlertReceiver? {
        receivers.first { $0.name == name }
    }

    /// Reads the section; the first problem throws with its key and line.
    static func parse(_ value: YAMLValue) throws(AlertConfigError) -> AlertConfig {
        var config = AlertConfig()
        let top = try value.map(allowed: [
            "receivers", "routes", "default", "group_wait", "retry_initial", "retry_max", "stale",
            "pressure", "max_age",
        ])
        if let v = top["max_age"] { config.maxAgeSeconds = try v.seconds() }
        if let v = top["group_wait"] { config.defaultGroupWaitSeconds = try v.seconds() }
        if let v = top["retry_initial"] { config.retryInitialSeconds = try v.seconds() }
        if let v = top["retry_max"] { config.retryMaxSeconds = try v.seconds() }
        for item in try top["receivers"]?.list() ?? [] {
            let receiver = try parseReceiver(item)
            guard config.receiver(named: receiver.name) == nil else {
                throw item.error("receiver name \(receiver.name) is used twice")
            }
            config.receivers.append(receiver)
        }
        let known = Set(config.receivers.map(\.name))
        func receiverList(_ v: YAMLValue) throws(AlertConfigError) -> [String] {
            var names: [String] = []
            for item in try v.list() {
                let name = try item.string()
                guard known.contains(name) else {
                    throw item.error("no receiver named \(name) (define it under alerts.receivers)")
                }
                names.append(name)
            }
            return names
        }
        for item in try top["routes"]?.list() ?? [] {
            let fields = try item.map(allowed: ["match", "receivers", "group_wait", "continue"])
            var route = AlertRoute()
            route.groupWaitSeconds = config.defaultGroupWaitSeconds
            if let m = fields["match"] { route.match = try parseMatch(m) }
            guard let r = fields["receivers"] else { throw item.error("a route needs receivers") }
            route.receivers = try receiverList(r)
            if let v = fields["group_wait"] { route.groupWaitSeconds = try v.seconds() }
            if let v = fields["continue"] { route.continue = try v.bool() }
            config.routes.append(route)
        }
        if let v = top["stale"] {
            let fields = try v.map(allowed: ["receivers", "after_intervals"])
            guard let r = fields["receivers"] else { throw v.error("stale alerts need receivers") }
            config.conditions.staleReceivers = try receiverList(r)
            if let n = fields["after_intervals"] {
                config.conditions.staleIntervals = Double(try n.int())
                guard config.conditions.staleIntervals >= 1 else { throw n.error("expected at least 1") }
            }
        }
        if let v = top["pressure"] {
            let fields = try v.map(allowed: ["receivers", "full_avg60", "for"])
            guard let r = fields["receivers"] else { throw v.error("pressure alerts need receivers") }
            config.conditions.pressureReceivers = try receiverList(r)
            if let t = fields["full_avg60"] {
                guard let x = Double(try t.string()), x >= 0, x <= 100 else {
                    throw t.error("expected a percentage from 0 to 100")
                }
                config.conditions.pressureThreshold = x
            }
            if let d = fields["for"] { config.conditions.pressureForSeconds = try d.seconds() }
        }
        if let d = top["default"] {
            // `default: [a, b]` or `default: {receivers: [a, b]}`.
            let list = d.node.sequence != nil ? d : try d.map(allowed: ["receivers"])["receivers"]
            guard let list else { throw d.error("expected a list of receivers") }
            config.defaultReceivers = try receiverList(list)
        } else if config.routes.isEmpty {
            // No routes at all: every kill goes to every receiver.
            config.defaultReceivers = config.receivers.map(\.name)
        }
        return config
    }

    static func parseReceiver(_ item: YAMLValue) throws(AlertConfigError) -> AlertReceiver {
        let fields = try item.map(allowed: [
            "name", "alertmanager", "webhook", "slack", "rate_per_minute", "burst",
        ])
        guard let name = try fields["name"]?.string(), !name.isEmpty else {
            throw item.error("a receiver needs a name")
        }
        let kinds = ["alertmanager", "webhook", "slack"].filter { fields[$0] != nil }
        guard kinds.count == 1, let kindName = kinds.first, let body = fields[kindName] else {
            throw item.error("receiver \(name) needs exactly one of alertmanager, webhook, slack")
        }
        let settings = try body.map(allowed: kindName == "webhook" ? ["url", "secret_file"] : ["url"])
        guard let urlValue = settings["url"] else { throw body.error("url is required") }
        let url = try urlValue.string()
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw urlValue.error("expected an http:// or https:// URL")
        }
        let kind: AlertReceiver.Kind
        switch kindName {
        case "alertmanager":
            kind = .alertmanager(url: url.hasSuffix("/") ? String(url.dropLast()) : url)
        case "slack":
            kind = .slack(url: url)
        default:
            var secret: [UInt8]?
            if let file = settings["secret_file"] {
                let path = try file.string()
                guard let bytes = readSecret(path), !bytes.isEmpty else {
                    throw file.error("cannot read a secret from \(path)")
                }
                secret = bytes
            }
            kind = .webhook(url: url, secret: secret)
        }
        var receiver = AlertReceiver(name: name, kind: kind)
        if let v = fields["rate_per_minute"] { receiver.ratePerMinute = Double(try v.int()) }
        if let v = fields["burst"] { receiver.burst = Double(try v.int()) }
        guard receiver.ratePerMinute > 0, receiver.burst >= 1 else {
            throw item.error("rate_per_minute must be > 0 and burst ≥ 1")
        }
        return receiver
    }

    static func parseMatch(_ value: YAMLValue) throws(AlertConfigError) -> AlertMatch {
        let fields = try value.map(allowed: [
            "host", "comm", "unit", "container", "scope", "source", "min_rss_kb",
        ])
        var match = AlertMatch()
        match.host = try fields["host"]?.string()
        if let v = fields["comm"] {
            let pattern = try v.string()
            do {
                _ = try Regex(pattern)
            } catch {
                throw v.error("not a regular expression: \(error)")
            }
            match.comm = pattern
        }
        match.unit = try fields["unit"]?.string()
        match.container = try fields["container"]?.string()
        if let v = fields["scope"] {
            let scope = try v.string()
            guard ["global", "memcg", "cpuset", "mempolicy", "unknown"].contains(scope) else {
                throw v.error("expected global, memcg, cpuset, mempolicy or unknown")
            }
            match.scope = scope
        }
        if let v = fields["source"] {
            let source = try v.string()
            guard ["kernel", "systemd-oomd", "earlyoom"].contains(source) else {
                throw v.error("expected kernel, systemd-oomd or earlyoom")
            }
            match.source = source
        }
        if let v = fields["min_rss_kb"] { match.minRssKB = try v.int() }
        return match
    }

    /// The secret's bytes, trailing newline removed.
    static func readSecret(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[..<n]
            if bytes.count > 1 << 16 { return nil }
        }
        while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }
        return bytes
    }
}

/// Routing as the store's outbox planner: first match wins unless a route says
/// `continue: true`; kills no route took go to the default receivers.
extension AlertConfig: OutboxPlanner {
    public func plan(_ candidate: AlertCandidate) -> [PlannedNotification] {
        if maxAgeSeconds > 0, nowMicroseconds() - candidate.time > Int64(maxAgeSeconds * 1_000_000) {
            return []
        }
        var out: [PlannedNotification] = []
        var matched = false
        for (index, route) in routes.enumerated() where route.match.matches(candidate) {
            matched = true
            for name in route.receivers where !out.contains(where: { $0.receiver == name }) {
                out.append(
                    PlannedNotification(
                        receiver: name, route: index, groupWaitSeconds: route.groupWaitSeconds))
            }
            if !route.continue { break }
        }
        if !matched {
            out = defaultReceivers.map {
                PlannedNotification(
                    receiver: $0, route: routes.count, groupWaitSeconds: defaultGroupWaitSeconds)
            }
        }
        return out
    }
}
