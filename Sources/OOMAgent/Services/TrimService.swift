public import Logging
public import ServiceLifecycle

/// Trims the agent's resident code once it runs steadily: `delaySeconds` after start (two
/// sampling cycles and the first uploads), then every `everySeconds`, so pages a rare path
/// touched (an upload error, a kill report) do not stay resident for the agent's lifetime.
public struct TrimService: Service {
    private let delaySeconds: Double
    private let everySeconds: Double
    private let logger: Logger

    public init(delaySeconds: Double, everySeconds: Double = 3600, logger: Logger) {
        self.delaySeconds = delaySeconds
        self.everySeconds = everySeconds
        self.logger = logger
    }

    public func run() async throws {
        var wait = delaySeconds
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let seconds = wait
            let slept: Void? = try? await cancelWhenGracefulShutdown {
                try await Task.sleep(for: .seconds(seconds))
            }
            guard slept != nil else { return }
            let bytes = CodePageTrimmer.trim()
            logger.debug("code pages trimmed", metadata: ["memory.advised_bytes": "\(bytes)"])
            wait = everySeconds
        }
    }
}
