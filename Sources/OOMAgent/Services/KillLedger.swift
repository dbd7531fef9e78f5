import Synchronization

/// Reconciles vmstat's `oom_kill` counter with the kills the kernel-log follower actually
/// read, so a kill the log lost (ring-buffer overrun, a record dropped) shows up as
/// `unattributed_kills` and a kill the log holds never does.
///
/// Nothing here compares kernel timestamps with sample times: printk's clock drifts from
/// /proc/uptime, a report's header is stamped before the counter moves, and a backlog or a
/// held report is read seconds after the fact; each made a false "lost kill". Instead the
/// follower says when it has *caught up*: its read found nothing new, so every record the
/// kernel stored before that read began has been handled. The kernel bumps the counter
/// just before it stores the "Killed process" record, so a sample read at time `t` can be
/// judged once the follower caught up after `t + margin`:
///
///     counted = sample.oomKill − base.oomKill
///     read    = kills read by that catch-up − kills read just before the base's vmstat read
///     lost    = max(0, counted − read)
///
/// A kill read before a vmstat read was counted before it (counter first, record
/// second), and a kill counted in `counted` has its record stored before the judging
/// catch-up, so it is in `read` unless the log lost it. Kills before the agent started,
/// or read from its backlog, come before the first base (taken only after the follower's
/// first catch-up) and are on neither side. The error only ever leans towards "read" (a
/// kill counted just before a vmstat read but read just after it is credited twice),
/// which could hide a loss in the next window, never invent one.
public final class KillLedger: Sendable {
    struct Sample {
        /// Monotonic seconds, taken after vmstat was read.
        var at: Double
        var oomKill: Int64
        /// Kills read just before vmstat was read.
        var readBefore: Int64
    }

    private struct State {
        var read: Int64 = 0
        /// The follower has caught up with the log at least once (its backlog is read).
        var caughtUp = false
        var base: Sample?
        var pending: [Sample] = []
        var lost: Int64 = 0
    }

    /// Seconds between the counter's increment and the kill's record being stored, with
    /// room for a preempted killer.
    public let margin: Double
    private let state = Mutex(State())

    public init(margin: Double = 2) { self.margin = margin }

    /// The follower read one kernel OOM kill (whatever its age: backlog kills are never
    /// judged, because no base precedes them).
    public func recordKill() {
        state.withLock { $0.read += 1 }
    }

    /// The follower found nothing new on a read that began at `readStartedAt` (monotonic
    /// seconds), after handing every kill it had read to `recordKill`. Judges the samples
    /// that are now safe to judge.
    public func caughtUp(readStartedAt: Double) {
        state.withLock { s in
            s.caughtUp = true
            while let sample = s.pending.first, sample.at + margin <= readStartedAt {
                s.pending.removeFirst()
                if let base = s.base, sample.oomKill >= base.oomKill {
                    let counted = sample.oomKill - base.oomKill
                    let read = s.read - base.readBefore
                    s.lost += max(0, counted - read)
                }
                s.base = sample
            }
        }
    }

    /// Call just before reading vmstat; pass the result to `sample`. `nil` until the
    /// follower has read its backlog.
    public func mark() -> Int64? {
        state.withLock { $0.caughtUp ? $0.read : nil }
    }

    /// A vmstat `oom_kill` value read after `mark()`, at monotonic time `at` (taken after the
    /// read). Returns the kills found lost since the previous call.
    public func sample(mark: Int64?, oomKill: Int64, at: Double) -> Int64 {
        state.withLock { s in
            // Before the follower's first catch-up there is no exact base: skip.
            if let mark {
                s.pending.append(Sample(at: at, oomKill: oomKill, readBefore: mark))
                if s.pending.count > 10_000 { s.pending.removeFirst() }
            }
            defer { s.lost = 0 }
            return s.lost
        }
    }
}
