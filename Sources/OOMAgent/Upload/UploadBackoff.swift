import OOMKit

/// When to try the next upload: a value-type state machine over an injected clock.
///
/// A 2xx resets it. A network error, a 5xx or a 429 doubles the delay from `initial` up to
/// `maximum`, with ±`jitter` so a fleet that lost its collector does not come back in
/// lockstep; a `Retry-After` from the server wins (capped at `retryAfterCap`). A refused
/// token (401, 403) is retried the same way by the uploader service; only a batch the
/// collector calls malformed (400, 413, 422) is `rejected` and set aside.
public struct UploadBackoff: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case success
        /// Network error, timeout, 5xx or 429; `retryAfter` in seconds when the server said.
        case retryable(retryAfter: Double?)
        /// 400, 413 or 422: the batch itself is malformed.
        case rejected
    }

    public enum Action: Sendable, Equatable {
        /// Send the next batch now.
        case sendNext
        /// Send the same batch again at this time (clock seconds).
        case retry(at: Double)
        /// Set the batch aside (the dead-letter directory), then go on.
        case deadLetter
    }

    public var initial: Double
    public var maximum: Double
    public var jitter: Double
    public var retryAfterCap: Double
    /// Consecutive retryable failures.
    public private(set) var failures = 0

    public init(initial: Double = 1, maximum: Double = 300, jitter: Double = 0.2, retryAfterCap: Double = 3600) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.retryAfterCap = retryAfterCap
    }

    /// - Parameters:
    ///   - now: the injected clock's current time, seconds.
    ///   - random: a value in 0..<1 (injected so tests are exact).
    public mutating func record(_ outcome: Outcome, now: Double, random: Double) -> Action {
        switch outcome {
        case .success:
            failures = 0
            return .sendNext
        case .rejected:
            failures = 0
            return .deadLetter
        case .retryable(let retryAfter):
            failures += 1
            if let retryAfter, retryAfter >= 0 {
                return .retry(at: now + min(retryAfter, retryAfterCap))
            }
            return .retry(at: now + delay(random: random))
        }
    }

    /// The delay after the current number of failures: initial × 2^(failures−1), capped,
    /// then scaled by 1 ± jitter.
    public func delay(random: Double) -> Double {
        let exponent = Double(min(max(failures - 1, 0), 62))
        var base = initial
        var i = 0.0
        while i < exponent, base < maximum {
            base *= 2
            i += 1
        }
        base = min(base, maximum)
        let factor = 1 + jitter * (2 * random - 1)
        return min(maximum, max(0, base * factor))
    }

    /// Seconds from a `Retry-After` header: delta-seconds or an HTTP date
    /// (`Wed, 21 Oct 2015 07:28:00 GMT`), relative to `nowEpochSeconds`; never traps on a
    /// hostile value (see ``RetryAfter``).
    public static func parseRetryAfter(_ value: String, nowEpochSeconds: Double) -> Double? {
        RetryAfter.seconds(value, nowEpochSeconds: nowEpochSeconds)
    }
}
