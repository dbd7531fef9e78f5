public import Logging
public import OOMKit

/// What the agent's services share: configuration, host identity, the spool, counters,
/// the latest process sample and the wake-up calls between them.
public struct AgentContext: Sendable {
    public static let version = "0.1.0"

    public var config: AgentConfig
    public var identity: HostIdentity
    public var spool: Spool
    public var counters: AgentCounters
    public var processTable: ProcessTable
    public var ledger: KillLedger
    /// Signalled on a kill: take a snapshot now.
    public var snapshotNow: Wakeup
    /// Signalled when an event is spooled: upload now.
    public var uploadNow: Wakeup
    public var logger: Logger

    public var countersPath: String { config.stateDir + "/counters.json" }
    public var kmsgCursorPath: String { config.stateDir + "/kmsg.cursor" }
    public var journalCursorPath: String { config.stateDir + "/journal.cursor" }
    /// Where agents before 0.2 appended rejected batches; imported into `deadLetter`.
    public var legacyDeadLetterPath: String { config.stateDir + "/dead-letter.jsonl" }
    public var uploadStatusPath: String { config.stateDir + "/upload-status.json" }
    public var deadLetter: DeadLetter

    /// Opens the state directory and spool and restores saved counters.
    public init(config: AgentConfig, logger: Logger) throws(FileIOError) {
        self.config = config
        self.logger = logger
        identity = HostIdentity.read(procRoot: config.roots.proc, hostname: config.hostname)
        counters = AgentCounters()
        try FileIO.makeDirectories(config.stateDir)
        try FileIO.checkPrivateDirectory(config.stateDir)
        spool = try Spool(
            directory: config.stateDir + "/spool", maxBytes: config.spoolMaxBytes,
            segmentBytes: config.spoolSegmentBytes, counters: counters, logger: logger)
        deadLetter = DeadLetter(
            directory: config.stateDir + "/dead-letter", maxBytes: config.deadLetterMaxBytes, counters: counters,
            logger: logger)
        processTable = ProcessTable()
        ledger = KillLedger()
        snapshotNow = Wakeup()
        uploadNow = Wakeup()
        if let bytes = try? FileIO.readAll(countersPath),
            let saved = try? JSONReader().decode(AgentInfo.self, from: bytes)
        {
            counters.restore(saved)
        }
        deadLetter.importLegacy(legacyDeadLetterPath)
    }

    public func agentInfo() -> AgentInfo {
        counters.agentInfo(
            version: Self.version, intervalS: config.intervalSeconds, uploadIntervalS: uploadIntervalSeconds)
    }

    /// The upload interval followed now: the configured one, or the collector's pace when
    /// it asked for a longer one. Reported in every batch, so the collector expects to
    /// hear from this host that often.
    public var uploadIntervalSeconds: Double {
        UploadPace.follow(own: config.uploadIntervalSeconds, asked: counters.pacedUploadSeconds)
    }

    /// Saves the counters so they survive restarts.
    public func saveCounters() {
        guard let bytes = try? JSONWriter().encode(agentInfo()) else { return }
        do {
            try FileIO.writeAtomically(countersPath, bytes)
        } catch {
            logger.warning("cannot save counters", metadata: ["error": "\(error)"])
        }
    }

    /// Spools an event (fsynced) and wakes the uploader
    /// and the sampler.
    public func spoolEvent(_ event: OOMEvent) {
        var e = event
        // The agent's own name, always: a journal entry's _HOSTNAME (kept in `raw`) differs
        // under --hostname, and the collector refuses a batch whose events name another host.
        e.host = identity.host
        VictimEnricher.enrich(&e, table: processTable)
        do {
            let json = try JSONWriter().encode(e)
            try spool.append(SpoolRecord(kind: .event, payload: json))
        } catch {
            counters.droppedEvents.add(1)
            logger.error("cannot spool event", metadata: ["oom.id": "\(e.id)", "error": "\(error)"])
        }
        logger.notice(
            "oom kill",
            metadata: [
                "oom.source": "\(e.source.rawValue)", "oom.pid": "\(e.victim.pid)",
                // Names are chosen by whoever runs the process: escaped, they cannot
                // drive the terminal of whoever reads this log.
                "oom.comm": "\(LogText.escaped(e.victim.comm))", "oom.id": "\(e.id)",
                "oom.cgroup": "\(LogText.escaped(e.victim.cgroup ?? "-"))",
            ])
        snapshotNow.signal()
        uploadNow.signal()
    }
}
