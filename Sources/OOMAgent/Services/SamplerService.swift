import HostSupport
public import Logging
import OOMKit
public import ServiceLifecycle

/// Takes a snapshot every interval (and at once after a kill) into the spool.
public struct SamplerService: Service {
    private let context: AgentContext

    public init(context: AgentContext) { self.context = context }

    public func run() async throws {
        var collector = SnapshotCollector.make(
            config: context.config, counters: context.counters, logger: context.logger,
            processTable: context.processTable)
        let writer = JSONWriter()
        let interval = context.config.intervalSeconds
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let started = HostClock.monotonicNanos()
                let mark = context.ledger.mark()
                let snapshot = collector.collect(host: context.identity.host)
                if let kills = snapshot.vmstat["oom_kill"] {
                    let at = Double(HostClock.monotonicNanos()) / 1e9
                    let lost = context.ledger.sample(mark: mark, oomKill: kills, at: at)
                    if lost > 0 {
                        context.counters.unattributedKills.add(lost)
                        context.logger.warning(
                            "oom kills the kernel log did not explain", metadata: ["oom.count": "\(lost)"])
                    }
                }
                do {
                    try context.spool.append(SpoolRecord(kind: .snapshot, payload: try writer.encode(snapshot)))
                } catch {
                    // Not kept (state directory full or unwritable): loss is counted, not silent.
                    context.counters.droppedSnapshots.add(1)
                    context.logger.error("cannot spool snapshot", metadata: ["error": "\(error)"])
                }
                CodePageTrimmer.releaseFreeHeap()
                let elapsed = Double(HostClock.monotonicNanos() &- started) / 1e9
                await context.snapshotNow.wait(seconds: max(0.05, interval - elapsed))
            }
        } onGracefulShutdown: {
            context.snapshotNow.signal()
        }
    }
}
