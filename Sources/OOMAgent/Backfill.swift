public import CurlHTTP
import HostSupport
public import Logging
public import OOMKit

#if canImport(Glibc)
    import Glibc
#endif

/// `oomwatch-agent scan --send`: kills found in old logs go to the collector with the
/// agent's settings (collector URL, token file, TLS, host name), through a ``Spool`` and
/// the agent's ``Uploader``, so a fleet's OOM history starts before oomwatch was installed.
///
/// The spool is `<state>/backfill`, not the running agent's own: two processes must not
/// number segments in one directory. A record leaves it only after a 2xx, so kills found
/// but not yet delivered (collector down) are sent by the next `scan --send`.
///
/// Nothing is stored twice: event ids do not depend on the container the kill was read
/// from (see docs/event-ids.md), and the collector keeps one event per id. Its answer
/// (`events_stored`, `events_duplicate`) gives the summary's sent and already-known counts.
public struct Backfill: Sendable {
    /// What a run did.
    public struct Summary: Sendable, Equatable {
        /// Events the collector stored.
        public var sent = 0
        /// Events the collector already had (sent before by this command or by the agent).
        public var alreadyKnown = 0
        /// Events in batches the collector refused (4xx other than 429); `lastRejection` says why.
        public var rejected = 0
        public var lastRejection: String?

        public init() {}
    }

    public let spool: Spool
    public let host: String
    private let uploader: Uploader
    private let agent: AgentInfo
    private let logger: Logger

    public init(config: AgentConfig, logger: Logger) throws(FileIOError) {
        let counters = AgentCounters()
        spool = try Spool(
            directory: config.stateDir + "/backfill", maxBytes: config.spoolMaxBytes,
            segmentBytes: config.spoolSegmentBytes, counters: counters, logger: logger)
        host = HostIdentity.read(procRoot: config.roots.proc, hostname: config.hostname).host
        uploader = Uploader(config: config, logger: logger)
        agent = counters.agentInfo(
            version: AgentContext.version, intervalS: config.intervalSeconds,
            uploadIntervalS: config.uploadIntervalSeconds)
        self.logger = logger
    }

    /// Spools one event (fsynced), stamped with this host's name: the collector takes a
    /// batch's events only for the batch's host (a syslog line's own host name stays in
    /// `raw`).
    public func add(_ event: OOMEvent) throws(FileIOError) {
        var e = event
        e.host = host
        let json: [UInt8]
        do {
            json = try JSONWriter().encode(e)
        } catch {
            throw FileIOError(operation: "encode event \(e.id)", path: spool.directory, errno: EINVAL)
        }
        try spool.append(SpoolRecord(kind: .event, payload: json))
    }

    /// Delivers everything spooled. A network error, a 5xx or a 429 is retried with the
    /// agent's backoff up to `attempts` times in a row, then `BackfillError` says so (the
    /// events stay spooled). A batch the collector refuses is dropped and counted.
    public func deliver(
        attempts: Int = 3, backoff initial: Double = 1, maximum: Double = 30
    ) async throws(BackfillError) -> Summary {
        var summary = Summary()
        var failures = 0
        var backoff = UploadBackoff(initial: initial, maximum: maximum)
        while let batch = spool.nextBatch() {
            let events = batch.records.count(where: { $0.kind == .event })
            if events == 0 {
                spool.acknowledge(batch)
                continue
            }
            // No boot id: these kills may come from earlier boots, and the batch's boot id
            // would be stamped on them and replace the host's current one.
            let body = BatchBody.make(host: host, bootID: nil, agent: agent, records: batch.records)
            let now = Double(HostClock.monotonicNanos()) / 1e9
            let result = await uploader.send(json: body)
            switch result {
            case .delivered(let result):
                _ = backoff.record(.success, now: now, random: 0.5)
                failures = 0
                summary.sent += result?.eventsStored ?? events
                summary.alreadyKnown += result?.eventsDuplicate ?? 0
                spool.acknowledge(batch)
            case .rejected(let status, let reason):
                _ = backoff.record(.rejected, now: now, random: 0.5)
                logger.error("collector rejected a backfill batch", metadata: ["upload.status": "\(status)"])
                summary.rejected += events
                summary.lastRejection = reason
                spool.acknowledge(batch)
            case .refused(_, let reason):
                // A token or URL problem: nothing is wrong with the kills, keep them.
                throw BackfillError(
                    message: "the collector refused this agent (\(reason)); fix its token or collector "
                        + "URL (`oomwatch-agent check`); \(spool.pending.events) kills stay in "
                        + "\(spool.directory) and are sent by the next `scan --send`",
                    summary: summary)
            case .fullFormRequired, .retry:
                // The body is full (no references), so a 409 is the collector's trouble: retry.
                let (retryAfter, reason): (Double?, String) =
                    switch result {
                    case .retry(let a, let r): (a, r)
                    case .fullFormRequired(let r): (nil, r)
                    default: (nil, "")
                    }
                failures += 1
                let pending = spool.pending.events
                guard failures < attempts else {
                    throw BackfillError(
                        message: "cannot deliver to the collector (\(reason)); \(pending) kills stay in "
                            + "\(spool.directory) and are sent by the next `scan --send`",
                        summary: summary)
                }
                if case .retry(let at) = backoff.record(.retryable(retryAfter: retryAfter), now: now, random: 0.5) {
                    let delay = max(0, min(at - now, maximum))
                    try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                }
            }
        }
        return summary
    }
}

/// `scan --send` could not deliver everything; what was delivered is in `summary`.
public struct BackfillError: Error, Sendable {
    public var message: String
    public var summary: Backfill.Summary
}

extension Uploader {
    /// The uploader as the agent's settings configure it (collector URL, token file, TLS,
    /// timeouts).
    public init(config c: AgentConfig, logger: Logger) {
        self.init(
            collector: c.collector ?? "http://127.0.0.1:8080", tokenFile: c.tokenFile,
            options: c.httpClientOptions(),
            gzipMinBytes: c.upload.gzipMinBytes, logger: logger)
    }
}
