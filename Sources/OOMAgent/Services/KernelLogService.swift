import HostSupport
public import Logging
import OOMKit
public import ServiceLifecycle

/// Follows /dev/kmsg by sequence number, turns OOM reports into events, and keeps the
/// cursor in the state directory so a restart resumes exactly where it stopped.
public struct KernelLogService: Service {
    private let context: AgentContext

    public init(context: AgentContext) { self.context = context }

    public func run() async throws {
        let logger = context.logger
        let path = context.config.roots.kmsg
        let reader: KmsgReader
        do {
            reader = try KmsgReader(path: path)
        } catch {
            context.counters.sourceErrors.add(1)
            logger.error(
                "cannot open the kernel log; OOM kills will only be counted from vmstat (the agent needs CAP_SYSLOG)",
                metadata: ["kmsg.path": "\(path)", "error": "\(error)"])
            try? await gracefulShutdown()
            return
        }
        let bootID = context.identity.bootID ?? "unknown"
        let cursorPath = context.kmsgCursorPath
        let saved = KmsgCursor.load(cursorPath)
        if let saved, saved.bootID != bootID {
            logger.info("new boot since the last run: reading the kernel log from its start")
        }
        // Uptime 0 in wall-clock time: kmsg stamps records with the monotonic clock.
        let bootEpoch = HostClock.nowMicros() - Int64(HostClock.monotonicNanos() / 1000)
        var follower = KernelLogFollower(bootID: bootID, cursor: saved, bootEpochMicros: bootEpoch)
        var persisted = saved
        var lastSave = HostClock.monotonicNanos()

        func persist(force: Bool) {
            guard let c = follower.cursor, c != persisted else { return }
            let now = HostClock.monotonicNanos()
            guard force || now &- lastSave > 5_000_000_000 else { return }
            do {
                try c.save(cursorPath)
                persisted = c
                lastSave = now
            } catch {
                logger.error("cannot save the kernel log cursor", metadata: ["error": "\(error)"])
            }
        }
        func handle(_ events: [OOMEvent]) {
            guard !events.isEmpty else { return }
            for e in events {
                context.spoolEvent(e)
                context.ledger.recordKill()
            }
            // Spooled first, cursor second: a crash in between re-reads (same ids), never loses.
            persist(force: true)
        }

        await withGracefulShutdownHandler {
            var batch = 0
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let result: KmsgReader.Result
                let readStarted = Double(HostClock.monotonicNanos()) / 1e9
                do {
                    result = try reader.next()
                } catch {
                    context.counters.sourceErrors.add(1)
                    logger.error("kernel log read failed", metadata: ["error": "\(error)"])
                    await reader.wait(timeoutMs: 1000)
                    continue
                }
                switch result {
                case .record(let bytes):
                    handle(follower.handle(bytes))
                    batch += 1
                    if batch >= 512 {
                        batch = 0
                        await Task.yield()
                    }
                case .overrun:
                    follower.overrun()
                    logger.warning("kernel log ring buffer overran: records were lost before they were read")
                case .empty:
                    handle(follower.idle())
                    // Every record stored before this read began is handled: the kill
                    // ledger may now judge vmstat samples taken before it.
                    context.ledger.caughtUp(readStartedAt: readStarted)
                    let (missed, overruns) = follower.takeCounts()
                    if missed > 0 {
                        context.counters.kmsgMissedRecords.add(missed)
                        logger.warning("kernel log records missed", metadata: ["kmsg.missed": "\(missed)"])
                    }
                    if overruns > 0 { context.counters.kmsgOverruns.add(overruns) }
                    persist(force: false)
                    await reader.wait(timeoutMs: 1000)
                }
            }
        } onGracefulShutdown: {
            reader.wake()
        }
        handle(follower.idle())
        let (missed, overruns) = follower.takeCounts()
        context.counters.kmsgMissedRecords.add(missed)
        context.counters.kmsgOverruns.add(overruns)
        persist(force: true)
    }
}
