public import Logging
import OOMKit
public import OOMStore
public import ServiceLifecycle

/// Alerts on host conditions rather than kills, each with its own resolve message.
public struct ConditionRules: Sendable, Equatable {
    /// A host is stale after this many of its snapshot intervals without a batch
    /// (`alerts.stale.after_intervals`, default 3); no receivers: not alerted.
    public var staleReceivers: [String] = []
    public var staleIntervals: Double = 3
    /// Memory pressure: PSI full avg60 above `pressureThreshold` (percent) for
    /// `pressureForSeconds` (`alerts.pressure.full_avg60`, `alerts.pressure.for`).
    public var pressureReceivers: [String] = []
    public var pressureThreshold: Double = 10
    public var pressureForSeconds: Double = 300

    public init() {}

    public var isEnabled: Bool { !staleReceivers.isEmpty || !pressureReceivers.isEmpty }
}

/// What the tracker sees of one host at one moment.
public struct HostReading: Sendable, Equatable {
    public var host: String
    /// Microseconds.
    public var lastSeen: Int64
    public var intervalSeconds: Double
    public var fullAvg60: Double?

    public init(host: String, lastSeen: Int64, intervalSeconds: Double, fullAvg60: Double?) {
        self.host = host
        self.lastSeen = lastSeen
        self.intervalSeconds = intervalSeconds
        self.fullAvg60 = fullAvg60
    }
}

/// A condition starting or ending on a host.
public struct ConditionChange: Sendable, Equatable {
    public var kind: OutboxRow.Kind
    public var host: String
    /// The episode: host and start time, the same for its start and its end.
    public var key: String
    /// Microseconds: when the condition began.
    public var since: Int64
    public var detail: String
}

/// Stale-host and memory-pressure episodes per host: a value-type state machine fed
/// readings and an injected clock (microseconds), returning the starts and ends to
/// queue. Pure: no I/O.
public struct ConditionTracker: Sendable {
    let rules: ConditionRules
    /// Host → episode start of a firing condition.
    var stale: [String: Int64] = [:]
    var pressureFiring: [String: Int64] = [:]
    /// Host → first reading above the threshold, not yet long enough to fire.
    var pressureAbove: [String: Int64] = [:]

    public init(rules: ConditionRules) {
        self.rules = rules
    }

    /// Restores what was firing when the collector stopped (from the outbox), so its end
    /// is still announced.
    public mutating func restore(kind: OutboxRow.Kind, host: String, key: String) {
        guard let since = key.split(separator: "@").last.flatMap({ Int64($0) }) else { return }
        if kind == .stale { stale[host] = since }
        if kind == .pressure { pressureFiring[host] = since }
    }

    static func key(_ host: String, _ since: Int64) -> String { host + "@" + String(since) }

    public mutating func observe(_ readings: [HostReading], now: Int64) -> [ConditionChange] {
        var out: [ConditionChange] = []
        for r in readings {
            if !rules.staleReceivers.isEmpty { out += observeStale(r, now: now) }
            if !rules.pressureReceivers.isEmpty { out += observePressure(r, now: now) }
        }
        return out
    }

    mutating func observeStale(_ r: HostReading, now: Int64) -> [ConditionChange] {
        let limit = Int64(rules.staleIntervals * max(1, r.intervalSeconds) * 1_000_000)
        let silent = now - r.lastSeen > limit
        if silent, stale[r.host] == nil {
            stale[r.host] = r.lastSeen
            let seconds = (now - r.lastSeen) / 1_000_000
            return [
                ConditionChange(
                    kind: .stale, host: r.host, key: Self.key(r.host, r.lastSeen), since: r.lastSeen,
                    detail: "\(r.host) is stale: nothing received since "
                        + "\(RFC3339.format(epochMicroseconds: r.lastSeen)) (\(seconds) s, "
                        + "more than \(Int(rules.staleIntervals)) intervals of \(Int(r.intervalSeconds)) s)")
            ]
        }
        if !silent, let since = stale.removeValue(forKey: r.host) {
            return [
                ConditionChange(
                    kind: .staleResolved, host: r.host, key: Self.key(r.host, since), since: since,
                    detail: "\(r.host) reports again after \((r.lastSeen - since) / 1_000_000) s of silence")
            ]
        }
        return []
    }

    mutating func observePressure(_ r: HostReading, now: Int64) -> [ConditionChange] {
        let value = r.fullAvg60 ?? 0
        let percent = "\((value * 10).rounded() / 10)%"
        if value > rules.pressureThreshold {
            guard pressureFiring[r.host] == nil else { return [] }
            let since = pressureAbove[r.host] ?? now
            pressureAbove[r.host] = since
            guard now - since >= Int64(rules.pressureForSeconds * 1_000_000) else { return [] }
            pressureAbove[r.host] = nil
            pressureFiring[r.host] = since
            return [
                ConditionChange(
                    kind: .pressure, host: r.host, key: Self.key(r.host, since), since: since,
                    detail: "memory pressure on \(r.host): PSI full avg60 \(percent) above "
                        + "\(rules.pressureThreshold)% for \((now - since) / 1_000_000) s")
            ]
        }
        pressureAbove[r.host] = nil
        guard let since = pressureFiring.removeValue(forKey: r.host) else { return [] }
        return [
            ConditionChange(
                kind: .pressureResolved, host: r.host, key: Self.key(r.host, since), since: since,
                detail: "memory pressure on \(r.host) ended: PSI full avg60 \(percent) after "
                    + "\((now - since) / 1_000_000) s")
        ]
    }
}

/// Polls the hosts' latest state and queues condition starts and ends in the outbox,
/// from where `AlertDeliveryService` sends them like kills.
///
/// Collectors sharing one database each run this service, but only the one holding the
/// background lease checks (like retention); the others wait, and the one that takes the
/// lease over starts from the conditions open in the database. Should two check at once
/// all the same (a lease handed over mid-poll, two services on one SQLite file), the
/// store queues a condition's start once per host and episode and the second adopts the
/// first one's episode key, so there is one start and one end.
public struct HostConditionService: Service {
    let database: any CollectorStore
    let rules: ConditionRules
    let logger: Logger
    let pollSeconds: Double

    public init(database: any CollectorStore, rules: ConditionRules, logger: Logger, pollSeconds: Double = 5) {
        self.database = database
        self.rules = rules
        self.logger = logger
        self.pollSeconds = pollSeconds
    }

    /// A tracker that starts from the conditions open in the database.
    func restoredTracker() async -> ConditionTracker {
        var tracker = ConditionTracker(rules: rules)
        do {
            for open in try await database.openConditions() {
                tracker.restore(kind: open.kind, host: open.host, key: open.key)
            }
        } catch {
            logger.error("alert conditions not restored", metadata: ["error": "\(error)"])
        }
        return tracker
    }

    public func run() async throws {
        // Built when this collector takes the lease, dropped when it loses it: what
        // another collector queued meanwhile is then read back from the database.
        var tracker: ConditionTracker? = nil
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            guard await database.holdsBackgroundLease() else {
                if tracker != nil { logger.debug("host conditions left to the collector holding the background lease") }
                tracker = nil
                guard await pause(pollSeconds) else { return }
                continue
            }
            var current: ConditionTracker
            if let tracker { current = tracker } else { current = await restoredTracker() }
            do {
                let now = nowMicroseconds()
                let readings = try await database.hosts(now: now).map {
                    HostReading(
                        host: $0.host, lastSeen: RFC3339.parse($0.lastSeen) ?? now,
                        intervalSeconds: $0.contactIntervalS,
                        fullAvg60: $0.pressure?.fullAvg60)
                }
                for change in current.observe(readings, now: now) {
                    let stale = change.kind == .stale || change.kind == .staleResolved
                    let key = try await database.enqueueCondition(
                        kind: change.kind, host: change.host, key: change.key, since: change.since,
                        detail: change.detail,
                        receivers: stale ? rules.staleReceivers : rules.pressureReceivers)
                    if key != change.key {
                        // Already open in the database: end that episode, not ours.
                        current.restore(kind: change.kind, host: change.host, key: key)
                        continue
                    }
                    logger.info(
                        "host condition",
                        metadata: ["host.name": "\(LogText.escaped(change.host))", "alert.kind": "\(change.kind)"])
                }
            } catch {
                logger.error("host conditions check failed", metadata: ["error": "\(error)"])
            }
            tracker = current
            guard await pause(pollSeconds) else { return }
        }
    }

    /// Sleeps `seconds`; false when the collector is stopping.
    func pause(_ seconds: Double) async -> Bool {
        do {
            try await cancelWhenGracefulShutdown {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            }
            return true
        } catch {
            return false
        }
    }
}
