import ArgumentParser
import Logging
import OOMAgent
import OOMKit

#if canImport(Glibc)
    import Glibc
#endif

struct Snapshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one memory snapshot of this host as JSON.")

    @OptionGroup var options: AgentOptions

    @Flag(help: "Indent the JSON.")
    var pretty = false

    /// Appends snapshots to a spool directory instead of printing (spool crash tests and
    /// benchmarks).
    @Option(help: .hidden)
    var spoolDir: String?
    @Option(help: .hidden)
    var count = 1

    func run() async throws {
        let config = try options.resolve()
        let logger = Logger(label: "oomwatch-agent", factory: { _ in SwiftLogNoOpLogHandler() })
        let counters = AgentCounters()
        var collector = SnapshotCollector.make(config: config, counters: counters, logger: logger)
        let host = HostIdentity.read(procRoot: config.roots.proc, hostname: config.hostname).host
        let writer = JSONWriter(sortedKeys: true, pretty: pretty)
        if let spoolDir {
            let spool = try Spool(
                directory: spoolDir, maxBytes: config.spoolMaxBytes, segmentBytes: config.spoolSegmentBytes,
                counters: counters, logger: logger)
            for i in 0..<max(1, count) {
                let snapshot = collector.collect(host: host)
                // Alternate kinds so both paths (fsynced events, plain snapshots) are exercised.
                let kind: SpoolRecord.Kind = i % 2 == 0 ? .event : .snapshot
                try spool.append(SpoolRecord(kind: kind, payload: try writer.encode(snapshot)))
            }
            return
        }
        let snapshot = collector.collect(host: host)
        var out = try writer.encode(snapshot)
        out.append(10)
        FileIOStdout.write(out)
    }
}

enum FileIOStdout {
    static func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}
