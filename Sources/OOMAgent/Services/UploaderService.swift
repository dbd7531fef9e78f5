public import CurlHTTP
public import HostSupport
public import Logging
import OOMKit
public import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Delivers the spool: the oldest sealed segments as one batch, deleted only after a 2xx;
/// retries with backoff (a refused token included); sets aside batches the collector calls
/// malformed in the bounded dead-letter directory.
public struct UploaderService: Service {
    private let context: AgentContext
    private let uploader: Uploader
    /// How often to upload when no event asks for it sooner (unless the collector sets a
    /// slower pace).
    private let uploadInterval: Double
    /// The injected clock and random source (tests make them exact).
    private let now: @Sendable () -> Double
    private let random: @Sendable () -> Double

    public init(
        context: AgentContext, uploader: Uploader? = nil, uploadInterval: Double? = nil,
        now: @escaping @Sendable () -> Double = { Double(HostClock.monotonicNanos()) / 1e9 },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.context = context
        let c = context.config
        self.uploader = uploader ?? Uploader(config: c, logger: context.logger)
        self.uploadInterval = uploadInterval ?? c.uploadIntervalSeconds
        self.now = now
        self.random = random
    }

    public func run() async throws {
        let logger = context.logger
        // The same checks as `oomwatch-agent check`, so the journal shows what is wrong from
        // the first start. Here, not before the group starts: the other services follow the
        // kernel log meanwhile, and the agent runs either way (it spools until fixed).
        Preflight.log(await Preflight.run(config: context.config, logger: logger), logger: logger)
        var backoff = UploadBackoff(
            initial: context.config.upload.initialBackoffSeconds,
            maximum: context.config.upload.maxBackoffSeconds)
        var refusedLog = LogThrottle(interval: 60)
        var references = ProcessReferences()
        var lastStatus: (ok: Bool, reason: String, at: Double)?
        func recordStatus(ok: Bool, status: Int, reason: String, fix: String? = nil) {
            // Written on a change, and once a minute while it lasts (its time says how old).
            if let l = lastStatus, l.ok == ok, l.reason == reason, now() - l.at < 60 { return }
            lastStatus = (ok, reason, now())
            let s = UploadStatus(
                time: RFC3339.format(epochMicroseconds: HostClock.nowMicros()), collector: uploader.url, ok: ok,
                status: status, reason: reason, fix: fix)
            if let bytes = try? JSONWriter().encode(s) { try? FileIO.writeAtomically(context.uploadStatusPath, bytes) }
        }
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                guard let batch = context.spool.nextBatch() else {
                    await context.uploadNow.wait(seconds: interval)
                    continue
                }
                context.saveCounters()
                var sent = ProcessReferences.Sent()
                var body = BatchBody.make(
                    host: context.identity.host, bootID: context.identity.bootID,
                    agent: context.agentInfo(), records: batch.records, references: references, sent: &sent)
                var result: Uploader.Result
                if batch.records.isEmpty {
                    result = .delivered(nil)  // only damaged records: nothing to send
                } else {
                    result = await uploader.send(json: body)
                }
                if case .fullFormRequired(let reason) = result {
                    // The collector lost what the references named: everything in full, now.
                    logger.info(
                        "collector asked for the full form; resending", metadata: ["upload.reason": "\(reason)"])
                    references.forget()
                    sent = ProcessReferences.Sent()
                    body = BatchBody.make(
                        host: context.identity.host, bootID: context.identity.bootID,
                        agent: context.agentInfo(), records: batch.records, references: references, sent: &sent)
                    result = await uploader.send(json: body)
                }
                let outcome: UploadBackoff.Outcome
                switch result {
                case .delivered(let r):
                    outcome = .success
                    follow(pace: r?.uploadIntervalS)
                    references.delivered(
                        sent, collectorTakesReferences: r?.processRefs == true,
                        collectorTakesDeltas: r?.snapshotDeltas == true)
                    if !batch.records.isEmpty { recordStatus(ok: true, status: 200, reason: "delivered") }
                    logger.debug(
                        "batch delivered",
                        metadata: [
                            "upload.records": "\(batch.records.count)",
                            "upload.events_stored": "\(r?.eventsStored ?? -1)",
                        ])
                case .fullFormRequired(let reason):
                    // Even the full form was answered 409: try again later, in full.
                    outcome = .retryable(retryAfter: nil)
                    references.forget()
                    recordStatus(ok: false, status: 409, reason: reason)
                case .retry(let retryAfter, let reason):
                    outcome = .retryable(retryAfter: retryAfter)
                    recordStatus(ok: false, status: 0, reason: reason)
                    logger.warning("upload failed, will retry", metadata: ["upload.reason": "\(reason)"])
                case .refused(let status, let reason):
                    // The agent's setup is wrong, not the data: keep the batch, back off,
                    // re-read the token file on the next try, and say so once a minute.
                    outcome = .retryable(retryAfter: nil)
                    context.counters.uploadRefused.add(1)
                    let fix = UploadStatus.fix(status: status, tokenFile: context.config.tokenFile)
                    recordStatus(ok: false, status: status, reason: reason, fix: fix)
                    if refusedLog.due(now: now()) {
                        logger.error(
                            "collector refused the upload; batches stay in the spool until this is fixed",
                            metadata: [
                                "collector": "\(uploader.url)", "upload.status": "\(status)",
                                "upload.reason": "\(reason)", "upload.fix": "\(fix)",
                                "upload.refused_total": "\(context.counters.uploadRefused.load(ordering: .relaxed))",
                                "spool.events": "\(context.spool.pending.events)",
                            ])
                    }
                case .rejected(let status, let reason):
                    outcome = .rejected
                    recordStatus(ok: false, status: status, reason: reason)
                    logger.error(
                        "collector called a batch malformed; set aside for `oomwatch-agent spool replay`",
                        metadata: [
                            "collector": "\(uploader.url)", "upload.status": "\(status)",
                            "upload.reason": "\(reason)",
                        ])
                    // Set aside in full: a replay may go to a collector that holds nothing.
                    let full = BatchBody.make(
                        host: context.identity.host, bootID: context.identity.bootID,
                        agent: context.agentInfo(), records: batch.records)
                    setAside(body: full, batch: batch, status: status, reason: reason)
                }
                switch backoff.record(outcome, now: now(), random: random()) {
                case .sendNext, .deadLetter:
                    context.spool.acknowledge(batch)
                    // More sealed segments wait: send them; else rest until the next interval.
                    if context.spool.pending.events + context.spool.pending.snapshots == 0 {
                        await context.uploadNow.wait(seconds: interval)
                    }
                case .retry(let at):
                    let delay = at - now()
                    logger.info("next upload attempt", metadata: ["upload.delay_s": "\(Int(delay.rounded()))"])
                    await sleepUnlessShutdown(delay)
                }
            }
        } onGracefulShutdown: {
            context.uploadNow.signal()
        }
        context.spool.sync()
        context.saveCounters()
    }

    /// How often to upload now: `uploadInterval`, or the slower pace the collector's last
    /// 2xx asked for (`IngestResult.uploadIntervalS`, kept in the counters).
    private var interval: Double {
        UploadPace.follow(own: uploadInterval, asked: context.counters.pacedUploadSeconds)
    }

    /// Follows the pace a collector's 2xx asked for (none: the configured interval) and
    /// says so when it changes.
    private func follow(pace asked: Double?) {
        let before = interval
        context.counters.pacedUploadSeconds = asked ?? 0
        if interval != before {
            context.logger.info(
                "upload interval set by the collector's pace",
                metadata: ["upload.interval_s": "\(interval)", "upload.configured_s": "\(uploadInterval)"])
        }
    }

    /// Sleeps for a backoff delay; only shutdown ends it early (a new event does not: the
    /// collector asked us to wait).
    private func sleepUnlessShutdown(_ seconds: Double) async {
        let end = now() + seconds
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let left = end - now()
            if left <= 0 { return }
            await context.uploadNow.wait(seconds: min(left, 1))
        }
    }

    /// Keeps a malformed batch for `spool replay`. Only when even that fails (the state
    /// directory is full or unwritable) are its records lost, and then they are counted.
    private func setAside(body: [UInt8], batch: Spool.Batch, status: Int, reason: String) {
        let events = batch.records.count(where: { $0.kind == .event })
        let header = DeadLetter.Header(
            status: status, reason: reason, time: RFC3339.format(epochMicroseconds: HostClock.nowMicros()),
            events: events, snapshots: batch.records.count - events)
        do {
            try context.deadLetter.add(body: body, header: header)
        } catch {
            context.counters.droppedEvents.add(Int64(header.events))
            context.counters.droppedSnapshots.add(Int64(header.snapshots))
            context.logger.error(
                "cannot set the batch aside; its records are lost", metadata: ["error": "\(error)"])
        }
    }
}
