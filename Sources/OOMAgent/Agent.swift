public import Logging
public import ServiceLifecycle

/// Builds the agent: its services in one `ServiceGroup`, stopped gracefully by SIGTERM or
/// SIGINT (flushing the kernel-log cursor, the spool and the counters).
public enum Agent {
    /// The services `config` switches on.
    public static func services(context: AgentContext) -> [any Service] {
        var services: [any Service] = [SamplerService(context: context)]
        if context.config.sources.kmsg { services.append(KernelLogService(context: context)) }
        if context.config.sources.journal { services.append(JournalService(context: context)) }
        services.append(UploaderService(context: context))
        services.append(
            TrimService(delaySeconds: max(30, 2 * context.config.intervalSeconds + 5), logger: context.logger))
        return services
    }

    /// Runs until SIGTERM/SIGINT.
    public static func run(config: AgentConfig, logger: Logger) async throws {
        if let adj = config.oomScoreAdj { OOMScoreAdjuster.apply(adj, logger: logger) }
        let context = try AgentContext(config: config, logger: logger)
        logger.info(
            "agent starting",
            metadata: [
                "host.name": "\(context.identity.host)", "host.boot_id": "\(context.identity.bootID ?? "-")",
                "collector": "\(config.collector ?? "-")", "state_dir": "\(config.stateDir)",
            ])
        let group = ServiceGroup(
            configuration: .init(
                services: services(context: context).map {
                    .init(
                        service: $0, successTerminationBehavior: .ignore,
                        failureTerminationBehavior: .gracefullyShutdownGroup)
                },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        context.spool.sync()
        context.saveCounters()
        logger.info("agent stopped")
    }
}
