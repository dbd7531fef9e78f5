public import CurlHTTP
public import Logging
import OOMKit
public import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Delivers the spool: the oldest sealed segments as one batch, deleted only after a 2xx;
/// retries with backoff; moves batches the collector rejects to the dead-letter file.
public struct UploaderService: Service {
    private let context: AgentContext
    private let uploader: Uploader
    /// How often to upload when no event asks for it sooner.
    private let uploadInterval: Double
    /// The injected clock and random source (tests make them exact).
    private let now: @Sendable () -> Double
    private let random: @Sendable () -> Double

    public init(
        context: AgentContext, uploader: Uploader? = nil, uploadInterval: Double? = nil,
        now: @escaping @Sendable () -> Double = { Double(Clock.monotonicNanos()) / 1e9 },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.context = context
        let c = context.config
        self.uploader =
            uploader
            ?? Uploader(
                collector: c.collector ?? "http://127.0.0.1:8080", tokenFile: c.tokenFile,
                options: Uploader.clientOptions(c),
                gzipMinBytes: c.upload.gzipMinBytes, logger: context.logger)
        self.uploadInterval = uploadInterval ?? c.upload.intervalSeconds ?? max(c.intervalSeconds, 10)
        self.now = now
        self.random = random
    }

    public func run() async throws {
        let logger = context.logger
        var backoff = UploadBackoff(
            initial: context.config.upload.initialBackoffSeconds,
            maximum: context.config.upload.maxBackoffSeconds)
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                guard let batch = context.spool.nextBatch() else {
                    await context.uploadNow.wait(seconds: uploadInterval)
                    continue
                }
                context.saveCounters()
                let body = BatchBody.make(
                    host: context.identity.host, bootID: context.identity.bootID,
                    agent: context.agentInfo(), records: batch.records)
                let result: Uploader.Result
                if batch.records.isEmpty {
                    result = .delivered(nil)  // only damaged records: nothing to send
                } else {
                    result = await uploader.send(json: body)
                }
                let outcome: UploadBackoff.Outcome
                switch result {
                case .delivered(let r):
                    outcome = .success
                    logger.debug(
                        "batch delivered",
                        metadata: [
                            "upload.records": "\(batch.records.count)",
                            "upload.events_stored": "\(r?.eventsStored ?? -1)",
                        ])
                case .retry(let retryAfter, let reason):
                    outcome = .retryable(retryAfter: retryAfter)
                    logger.warning("upload failed, will retry", metadata: ["upload.reason": "\(reason)"])
                case .rejected(let status, let reason):
                    outcome = .rejected
                    logger.error(
                        "collector rejected a batch; moved to the dead-letter file",
                        metadata: ["upload.status": "\(status)", "upload.reason": "\(reason)"])
                    deadLetter(body: body, status: status, reason: reason)
                }
                switch backoff.record(outcome, now: now(), random: random()) {
                case .sendNext, .deadLetter:
                    context.spool.acknowledge(batch)
                    // More sealed segments wait: send them; else rest until the next interval.
                    if context.spool.pending.events + context.spool.pending.snapshots == 0 {
                        await context.uploadNow.wait(seconds: uploadInterval)
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

    private func deadLetter(body: [UInt8], status: Int, reason: String) {
        var line = Array("{\"status\":\(status),\"reason\":".utf8)
        line += Array(Self.jsonString(reason).utf8)
        line += Array(",\"batch\":".utf8)
        line += body
        line.append(125)
        do {
            try FileIO.appendLine(context.deadLetterPath, line)
        } catch {
            context.logger.error("cannot write the dead-letter file", metadata: ["error": "\(error)"])
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
