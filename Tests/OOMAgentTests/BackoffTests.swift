import Testing

@testable import OOMAgent

@Suite struct BackoffTests {
    @Test func exponentialCappedWithJitter() {
        var b = UploadBackoff(initial: 1, maximum: 30, jitter: 0.2)
        var now = 1000.0
        var delays: [Double] = []
        for _ in 0..<7 {
            // random 0.5 = no jitter.
            guard case .retry(let at) = b.record(.retryable(retryAfter: nil), now: now, random: 0.5) else {
                Issue.record("expected retry")
                return
            }
            delays.append(at - now)
            now = at
        }
        #expect(delays == [1, 2, 4, 8, 16, 30, 30])
        // Jitter bounds at the extremes.
        #expect(b.delay(random: 0) == 24)
        #expect(b.delay(random: 0.999999) <= 30)
        var c = UploadBackoff(initial: 10, maximum: 100, jitter: 0.2)
        _ = c.record(.retryable(retryAfter: nil), now: 0, random: 0)
        #expect(c.delay(random: 0) == 8)
        #expect(c.delay(random: 1) == 12)
    }

    @Test func successResetsAndRejectDeadLetters() {
        var b = UploadBackoff(initial: 1, maximum: 60)
        _ = b.record(.retryable(retryAfter: nil), now: 0, random: 0.5)
        _ = b.record(.retryable(retryAfter: nil), now: 0, random: 0.5)
        #expect(b.failures == 2)
        #expect(b.record(.success, now: 5, random: 0.5) == .sendNext)
        #expect(b.failures == 0)
        #expect(b.record(.rejected, now: 5, random: 0.5) == .deadLetter)
        #expect(b.record(.retryable(retryAfter: nil), now: 10, random: 0.5) == .retry(at: 11))
    }

    /// The collector's pace: followed when longer than the agent's own interval, never
    /// past `UploadPace.maxAsked`; none, a shorter one or nonsense leaves the own one.
    @Test func theCollectorsPaceOnlySlowsUploadsAndIsBounded() {
        #expect(UploadPace.follow(own: 10, asked: nil) == 10)
        #expect(UploadPace.follow(own: 10, asked: 4) == 10)
        #expect(UploadPace.follow(own: 10, asked: 60) == 60)
        #expect(UploadPace.follow(own: 10, asked: 86_400) == UploadPace.maxAsked)
        #expect(UploadPace.follow(own: 10, asked: .infinity) == 10)
        #expect(UploadPace.follow(own: 10, asked: .nan) == 10)
        // An agent configured slower than the bound keeps its own.
        #expect(UploadPace.follow(own: 900, asked: 1200) == 900)
    }

    @Test func retryAfterWins() {
        var b = UploadBackoff(initial: 1, maximum: 60, retryAfterCap: 3600)
        #expect(b.record(.retryable(retryAfter: 7), now: 100, random: 0.9) == .retry(at: 107))
        #expect(b.record(.retryable(retryAfter: 99999), now: 100, random: 0.9) == .retry(at: 3700))
    }

    @Test func parseRetryAfter() {
        #expect(UploadBackoff.parseRetryAfter("120", nowEpochSeconds: 0) == 120)
        // 1994-11-06 08:49:37 UTC is 784111777.
        #expect(UploadBackoff.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", nowEpochSeconds: 784_111_700) == 77)
        #expect(UploadBackoff.parseRetryAfter("soon", nowEpochSeconds: 0) == nil)
    }
}

@Suite struct LogThrottleTests {
    /// A refused token is logged at the first try, then at most once a minute.
    @Test func letsOneThroughPerInterval() {
        var t = LogThrottle(interval: 60)
        let answers = [100, 101, 159.9, 160, 200].map { t.due(now: $0) }
        #expect(answers == [true, false, false, true, false])
    }
}
