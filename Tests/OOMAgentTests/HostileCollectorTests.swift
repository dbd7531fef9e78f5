import CurlHTTP
import HostSupport
import Logging
import OOMKit
import Testing

@testable import OOMAgent

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 19, point 5: whatever answers in the collector's place cannot crash the agent or
/// make it buffer without bound. A real HTTP server on 127.0.0.1 sends each attack to the
/// uploader as the agent builds it (`AgentConfig.httpClientOptions()`).
@Suite(.serialized) final class HostileCollectorTests {
    let server: FixtureServer
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    init() throws {
        server = try FixtureServer("hostile_collector.py")
    }

    func send(_ mode: String) async -> Uploader.Result {
        var config = AgentConfig()
        config.upload.totalTimeoutSeconds = 10
        let uploader = Uploader(
            collector: "http://127.0.0.1:\(server.port)/\(mode)", tokenFile: nil,
            options: config.httpClientOptions(), logger: logger)
        return await uploader.send(json: Array(#"{"host":"h","snapshots":[],"events":[]}"#.utf8))
    }

    /// A year of 99999999999999 or an hour of 9999999999999999 trapped on integer overflow
    /// (SIGILL, a crash loop); 400 digits of seconds must not either.
    @Test(arguments: ["retry-year", "retry-hour", "retry-digits"])
    func craftedRetryAfterIsRetriedNotFatal(mode: String) async {
        guard case .retry(let after, let reason) = await send(mode) else {
            Issue.record("a 503/429 must stay retryable")
            return
        }
        #expect(reason.hasPrefix("HTTP 429") || reason.hasPrefix("HTTP 503"))
        if let after {
            #expect(after.isFinite && after >= 0)
            var backoff = UploadBackoff()
            guard case .retry(let at) = backoff.record(.retryable(retryAfter: after), now: 10, random: 0.5) else {
                Issue.record("a retryable outcome must retry")
                return
            }
            #expect(at <= 10 + backoff.retryAfterCap)
        }
    }

    /// 60 MB took the agent from 23 MB to 150 MB resident: now it stops reading at
    /// `Uploader.maxResponseBytes` and keeps the batch for a retry.
    @Test func hugeAnswerIsCutOffAndRetried() async {
        let start = HostClock.monotonicNanos()
        guard case .retry(nil, let reason) = await send("huge-body") else {
            Issue.record("a too-large answer must be retried, not delivered")
            return
        }
        #expect(reason.contains("larger than \(Uploader.maxResponseBytes) bytes"))
        #expect(HostClock.monotonicNanos() - start < 5_000_000_000)
    }

    @Test func endlessHeadersAreCutOff() async {
        guard case .retry(nil, let reason) = await send("many-headers") else {
            Issue.record("400 kB of headers must be refused")
            return
        }
        #expect(reason.contains("bytes of headers"))
    }

    /// The collector's message goes into the agent's log: no escape sequences.
    @Test func errorMessageLosesControlCharacters() async {
        guard case .rejected(400, let reason) = await send("escape-body") else {
            Issue.record("a 400 is a rejection")
            return
        }
        #expect(!reason.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        #expect(reason.contains("bad ?[2J??]52;c;cm0gLXJmIH4=? field"))
    }

    /// A redirect is not followed: the batch (and the bearer token) go nowhere else.
    @Test func redirectIsNotFollowed() async {
        let result = await send("redirect")
        if case .delivered = result { Issue.record("the uploader followed a redirect") }
    }

    @Test func parserBoundsEveryField() {
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:49:37 GMT", nowEpochSeconds: 784_111_700) == 77)
        #expect(RetryAfter.seconds("Sun, 06 Nov 99999999999999 08:49:37 GMT", nowEpochSeconds: 0) == nil)
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 9999999999999999:49:37 GMT", nowEpochSeconds: 0) == nil)
        #expect(RetryAfter.seconds("Sun, 99 Nov 1994 08:49:37 GMT", nowEpochSeconds: 0) == nil)
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:49:37 GMT", nowEpochSeconds: .nan) == nil)
        #expect(RetryAfter.seconds("nan", nowEpochSeconds: 0) == nil)
        #expect(RetryAfter.seconds("inf", nowEpochSeconds: 0) == nil)
        #expect(RetryAfter.seconds("-5", nowEpochSeconds: 0) == nil)
        #expect(RetryAfter.seconds(" 7 ", nowEpochSeconds: 0) == 7)
    }
}
