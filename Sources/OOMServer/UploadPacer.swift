import Synchronization

/// The collector sets the pace of a fleet larger than it takes at one snapshot a post.
///
/// A post costs the collector about as much as the snapshots in it, and never less than
/// the HTTP framework's own floor (issue 15, docs/capacity.md): a fleet's cost falls by
/// half when each post carries six snapshots instead of one. So the collector counts
/// the hosts that posted to it lately and asks each agent in its ingest answer
/// (`upload_interval_s`) to upload no more often than every hosts / `postsPerSecond`
/// seconds (at most `maxInterval`): all of them together then post at most that many
/// times a second. An agent whose own interval is longer keeps it. The agent batches its
/// snapshots meanwhile and still sends a kill at once; it reports the pace it follows,
/// so the host does not look stale.
///
/// Per collector: behind a load balancer each collector counts the agents it serves.
final class UploadPacer: Sendable {
    /// Posts a second the fleet may make at its own pace; 0 turns pacing off.
    let postsPerSecond: Double
    /// The longest upload interval the collector asks for (seconds).
    let maxInterval: Double
    /// Hosts are counted over the last full window and the current one.
    let window: Duration

    private struct State {
        var current: Set<Int> = []
        var previous: Set<Int> = []
        var started: ContinuousClock.Instant
    }
    private let state: Mutex<State>

    init(postsPerSecond: Double, maxInterval: Double, now: ContinuousClock.Instant = .now) {
        self.postsPerSecond = postsPerSecond
        self.maxInterval = maxInterval
        // An agent paced to `maxInterval` still posts twice in a window: the count holds.
        self.window = .seconds(max(300, 2 * maxInterval))
        self.state = Mutex(State(started: now))
    }

    /// Counts `host` as posting now and returns the interval to ask its agent for: upload
    /// no more often than that. The agent keeps its own interval when that is longer (the
    /// collector cannot tell: the agent reports the interval it follows). Nil while the
    /// fleet takes no more than a second.
    func pace(host: String, now: ContinuousClock.Instant = .now) -> Double? {
        guard postsPerSecond > 0 else { return nil }
        return Self.interval(hosts: count(adding: host, now: now), postsPerSecond: postsPerSecond, max: maxInterval)
    }

    /// Hosts counted and the interval asked for now (the `/metrics` gauges).
    func current(now: ContinuousClock.Instant = .now) -> (hosts: Int, interval: Double?) {
        let hosts = count(adding: nil, now: now)
        return (hosts, Self.interval(hosts: hosts, postsPerSecond: postsPerSecond, max: maxInterval))
    }

    /// The hosts of the last full window and the current one, after counting `host` (if
    /// any); rotates the windows when the current one is over.
    private func count(adding host: String?, now: ContinuousClock.Instant) -> Int {
        state.withLock { s in
            if now - s.started >= window {
                // A whole window later the previous one is empty too.
                s.previous = now - s.started >= window * 2 ? [] : s.current
                s.current = []
                s.started = now
            }
            if let host { s.current.insert(host.hashValue) }
            return max(s.current.count, s.previous.count)
        }
    }

    /// The interval that keeps `hosts` agents at or under `postsPerSecond` posts a second,
    /// in whole seconds, capped at `max`; nil when that is a second or less.
    static func interval(hosts: Int, postsPerSecond: Double, max cap: Double) -> Double? {
        guard postsPerSecond > 0 else { return nil }
        let needed = min((Double(hosts) / postsPerSecond).rounded(.up), cap)
        return needed > 1 ? needed : nil
    }
}
