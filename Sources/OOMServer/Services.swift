public import Logging
public import OOMStore
public import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs retention periodically until shutdown: on one collector at a time when several
/// share a database (the store's background lease).
public struct RetentionService: Service {
    let database: any CollectorStore
    let policy: RetentionPolicy
    let logger: Logger

    public init(database: any CollectorStore, policy: RetentionPolicy, logger: Logger) {
        self.database = database
        self.policy = policy
        self.logger = logger
    }

    /// Seconds between looks at the lease while another collector holds it.
    static let leaseRecheckSeconds: Double = 30

    /// One retention pass; false when shutdown interrupted it.
    func pass() async -> Bool {
        do {
            let o = try await database.applyRetention(policy)
            logger.info(
                "retention pass",
                metadata: [
                    "deleted.snapshots": "\(o.snapshots)", "deleted.rollups": "\(o.rollups)",
                    "deleted.events": "\(o.events)",
                ])
        } catch {
            // Stopping (SIGTERM, or a server that could not bind) cancels a pass in
            // progress: that is not a failure, and nothing was half-deleted.
            if Task.isCancelled || Task.isShuttingDownGracefully || error == .cancelled {
                logger.debug("retention pass interrupted by shutdown")
                return false
            }
            logger.error("retention failed", metadata: ["error": "\(error)"])
        }
        return true
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Collectors sharing one database prune it one at a time: the lease holder.
            // The others look again soon, so one takes over shortly after the holder dies.
            var wait = policy.intervalSeconds
            if await database.holdsBackgroundLease() {
                guard await pass() else { return }
            } else {
                logger.debug("retention pass left to the collector holding the background lease")
                wait = min(wait, Self.leaseRecheckSeconds)
            }
            let pause = Duration.milliseconds(Int64(wait * 1000))
            do {
                try await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: pause)
                }
            } catch {
                return
            }
        }
    }
}

/// Logs the SIGTERM or SIGINT that stops the collector, so an operator reading the
/// journal sees why it stopped and that in-flight requests were let finish. (A stop for
/// another reason, such as a failed bind, is logged by whoever failed.)
public struct ShutdownLogger: Service {
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func run() async throws {
        let logger = logger
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                    logger.notice(
                        "received \(signal): shutting down, finishing in-flight requests",
                        metadata: ["signal": "\(signal)"])
                    return
                }
            }
            try? await gracefulShutdown()
            // The group's own signal handler may start the shutdown a moment before ours
            // hears the same signal: let it log first.
            try? await Task.sleep(for: .milliseconds(200))
            group.cancelAll()
        }
    }
}

/// Reloads the tokens file on SIGHUP and whenever its modification time or size changes
/// (checked every `pollSeconds`), so revoking a token needs no restart.
public struct TokensFileWatcher: Service {
    let tokens: TokenStore
    let pollSeconds: Double
    let logger: Logger

    public init(tokens: TokenStore, pollSeconds: Double, logger: Logger) {
        self.tokens = tokens
        self.pollSeconds = pollSeconds
        self.logger = logger
    }

    static func fingerprint(_ path: String) -> [Int64] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        return [
            Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec), Int64(info.st_size),
            Int64(info.st_ino),
        ]
    }

    func reload(_ why: String) {
        do {
            try tokens.reload()
            logger.info(
                "tokens reloaded", metadata: ["tokens.count": "\(tokens.count)", "reason": "\(why)"])
        } catch {
            logger.error("tokens file rejected; keeping previous tokens", metadata: ["error": "\(error)"])
        }
    }

    public func run() async throws {
        guard let path = tokens.path else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let signals = await UnixSignalsSequence(trapping: .sighup)
                for await _ in signals.cancelOnGracefulShutdown() {
                    reload("SIGHUP")
                }
            }
            group.addTask {
                var last = Self.fingerprint(path)
                while !Task.isCancelled {
                    do {
                        try await Task.sleep(for: .milliseconds(Int64(pollSeconds * 1000)))
                    } catch {
                        return
                    }
                    let now = Self.fingerprint(path)
                    if now != last {
                        last = now
                        reload("file changed")
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}
