import Synchronization

/// Accounts for vmstat's `oom_kill` counter against the kills the log follower parsed, so a
/// kill the log lost (ring-buffer overrun, rate limiting) still shows up as
/// `unattributed_kills`.
///
/// The sampler calls `sample(uptimeMicros:oomKill:)` each cycle. A window between two
/// samples is judged one cycle later, giving the follower time to parse reports printed
/// at the edge of the window.
public final class KillLedger: Sendable {
    private struct State {
        var active = false
        var killUptimes: [Int64] = []
        var samples: [(uptime: Int64, oomKill: Int64)] = []
        /// Kills parsed in the previous window beyond vmstat's count there: the report's
        /// header can fall before a sample and the counter's increment after it.
        var carried: Int64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The kernel follower is running (without it, every kill would be "unattributed").
    public func setActive(_ active: Bool) {
        state.withLock { $0.active = active }
    }

    /// A parsed kernel kill at this kernel time.
    public func recordKill(uptimeMicros: Int64) {
        state.withLock { s in
            s.killUptimes.append(uptimeMicros)
            if s.killUptimes.count > 100_000 { s.killUptimes.removeFirst(s.killUptimes.count - 100_000) }
        }
    }

    /// Records one vmstat sample; returns kills to add to `unattributed_kills`.
    public func sample(uptimeMicros: Int64, oomKill: Int64) -> Int64 {
        state.withLock { s in
            s.samples.append((uptimeMicros, oomKill))
            guard s.samples.count >= 3 else { return 0 }
            let a = s.samples[s.samples.count - 3]
            let b = s.samples[s.samples.count - 2]
            s.samples.removeFirst(s.samples.count - 2)
            guard s.active, b.oomKill >= a.oomKill, b.uptime >= a.uptime else { return 0 }
            let parsed = Int64(s.killUptimes.count(where: { $0 > a.uptime && $0 <= b.uptime }))
            s.killUptimes.removeAll { $0 <= b.uptime }
            let counted = b.oomKill - a.oomKill
            let deficit = counted - parsed - s.carried
            // Credit carries one window only: a stale surplus must not hide a later loss.
            s.carried = max(0, parsed - counted)
            return max(0, deficit)
        }
    }
}
