public import OOMStore

/// Which outbox rows go out now, as which messages: a value-type state machine over an
/// injected clock (microseconds), tested without I/O.
///
/// A kill that opened a grouping window (due when queued) is a message of its own, sent
/// at once; the rest of one receiver, route and host form one message once the oldest of
/// them is due (its grouping window has passed). A receiver's messages for one host leave in outbox
/// order: while an earlier one waits (window, backoff or rate limit), later ones for that
/// host wait too. Each receiver has a token bucket; an empty bucket leaves rows in the
/// outbox, nothing is dropped.
public struct DeliveryPlan: Sendable {
    struct Bucket: Sendable {
        var tokens: Double
        var updated: Int64
    }
    var buckets: [String: Bucket] = [:]
    let receivers: [String: AlertReceiver]

    public init(receivers: [AlertReceiver]) {
        self.receivers = Dictionary(receivers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The messages to send now, out of the unsent rows (oldest first; those still in
    /// backoff too, so that they hold back later rows of their host). Rows for receivers no longer configured are skipped (kept in the outbox).
    public mutating func messages(from rows: [OutboxRow], now: Int64) -> [AlertMessage] {
        struct GroupKey: Hashable {
            var receiver: String
            var route: Int
            var host: String
            var kind: OutboxRow.Kind
            /// Rows already tried go out again exactly as tried (same rows, same key): a
            /// receiver that got the first try and deduplicates by key must not lose a
            /// kill that joined later. New rows form the next message.
            var tried: String?
            /// The kill that opened a window (due when queued) goes alone, at once.
            var opener: Int64?
        }
        var groups: [GroupKey: [OutboxRow]] = [:]
        var order: [GroupKey] = []
        for row in rows {
            let key = GroupKey(
                receiver: row.receiver, route: row.route, host: row.candidate.host, kind: row.kind,
                tried: row.attempts > 0 ? row.idempotencyKey : nil,
                opener: row.kind == .kill && row.due == row.created && row.attempts == 0 ? row.id : nil)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(row)
        }
        var blocked: Set<[String]> = []
        var out: [AlertMessage] = []
        for key in order {
            let lane = [key.receiver, key.host]
            guard !blocked.contains(lane), let receiver = receivers[key.receiver],
                let group = groups[key], let first = group.first
            else { continue }
            // A retry goes out as soon as its backoff ends; a new group after its window.
            let ready = first.nextAttempt <= now && (first.attempts > 0 || first.due <= now)
            guard ready, take(receiver, now: now) else {
                blocked.insert(lane)
                continue
            }
            out.append(AlertMessage(rows: group))
        }
        return out
    }

    /// Takes one token from the receiver's bucket, if there is one.
    mutating func take(_ receiver: AlertReceiver, now: Int64) -> Bool {
        var bucket = buckets[receiver.name] ?? Bucket(tokens: receiver.burst, updated: now)
        let elapsed = Double(max(0, now - bucket.updated)) / 1_000_000
        bucket.tokens = min(receiver.burst, bucket.tokens + elapsed * receiver.ratePerMinute / 60)
        bucket.updated = now
        defer { buckets[receiver.name] = bucket }
        guard bucket.tokens >= 1 else { return false }
        bucket.tokens -= 1
        return true
    }

    /// When a message whose rows had `attempts` failures before this one is tried again:
    /// `initial` × 2^attempts, capped at `maximum` (seconds in, microseconds out).
    public static func retryDelay(attempts: Int, initial: Double, maximum: Double) -> Int64 {
        let seconds = min(maximum, initial * Double(1 << min(attempts, 30)))
        return Int64(seconds * 1_000_000)
    }
}
