import ArgumentParser
import Logging
import OOMAgent
import OOMKit

/// `oomwatch-agent spool status|replay`: what waits in the state directory and why, and
/// sending set-aside batches again once their cause is fixed.
struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Show what waits in the spool and why, or send set-aside batches again.",
        subcommands: [SpoolStatus.self, SpoolReplay.self],
        defaultSubcommand: SpoolStatus.self)
}

struct SpoolStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "What waits for upload, what was set aside and why, and what was lost.")

    @OptionGroup var options: AgentOptions

    func run() async throws {
        let config = try options.resolve()
        print(SpoolReport.text(config: config), terminator: "")
    }
}

struct SpoolReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send the batches set aside as malformed again (after fixing the cause).",
        discussion: """
            Each batch the collector now accepts is removed; one it still rejects stays, \
            with the collector's reason printed. Exits non-zero when any batch remains.
            """)

    @OptionGroup var options: AgentOptions

    func run() async throws {
        let config = try options.resolve()
        do {
            try config.validateForRun()
        } catch {
            throw ValidationError(error.message)
        }
        let logger = Logger(label: "oomwatch-agent", factory: { _ in SwiftLogNoOpLogHandler() })
        let deadLetter = DeadLetter(
            directory: config.stateDir + "/dead-letter", maxBytes: config.deadLetterMaxBytes,
            counters: AgentCounters(), logger: logger)
        deadLetter.importLegacy(config.stateDir + "/dead-letter.jsonl")
        let uploader = Uploader(
            collector: config.collector ?? "", tokenFile: config.tokenFile,
            options: config.httpClientOptions(), gzipMinBytes: config.upload.gzipMinBytes, logger: logger)
        let entries = deadLetter.list()
        if entries.isEmpty {
            print("nothing set aside in \(deadLetter.directory)")
            return
        }
        var left = 0
        for entry in entries {
            guard let body = deadLetter.body(of: entry) else {
                print("\(entry.name): unreadable, left in place")
                left += 1
                continue
            }
            let what = SpoolReport.records(events: entry.header.events, snapshots: entry.header.snapshots)
            switch await uploader.send(json: body) {
            case .delivered:
                deadLetter.remove(entry)
                print("sent \(entry.name) (\(what))")
            case .rejected(_, let reason):
                left += 1
                print("still rejected \(entry.name) (\(what)): \(reason)")
            case .refused(let status, let reason):
                throw ReplayStopped(
                    "collector refused the token (\(reason)); nothing more was sent\n  fix: "
                        + UploadStatus.fix(status: status, tokenFile: config.tokenFile))
            case .retry(_, let reason), .fullFormRequired(let reason):
                // Set-aside bodies are full: a 409 is the collector's trouble, like a 5xx.
                throw ReplayStopped("collector not reachable (\(reason)); nothing more was sent, try again later")
            }
        }
        if left > 0 {
            throw ReplayStopped("\(left) batch\(left == 1 ? "" : "es") still set aside in \(deadLetter.directory)")
        }
    }
}

/// Ends `spool replay` with a message and exit status 1.
struct ReplayStopped: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The text of `spool status`.
enum SpoolReport {
    static func text(config: AgentConfig) -> String {
        let state = config.stateDir
        let spool = Spool.inspect(directory: state + "/spool")
        var out = "spool: \(records(events: spool.events, snapshots: spool.snapshots)) waiting in "
        out += "\(spool.segments) segment\(spool.segments == 1 ? "" : "s") "
        out += "(\(size(spool.bytes)) of \(size(config.spoolMaxBytes))) in \(state)/spool\n"
        if spool.corrupt > 0 { out += "  \(spool.corrupt) damaged stretch(es): skipped and counted at upload\n" }
        if let last = UploadStatus.load(state + "/upload-status.json") {
            if last.ok {
                out += "last upload: \(last.time) to \(last.collector) delivered\n"
            } else {
                out += "last upload: \(last.time) to \(last.collector) failed: \(last.reason)\n"
                if let fix = last.fix { out += "  fix: \(fix)\n" }
            }
        } else {
            out += "last upload: none recorded yet\n"
        }
        let deadLetter = DeadLetter(
            directory: state + "/dead-letter", maxBytes: config.deadLetterMaxBytes, counters: AgentCounters(),
            logger: Logger(label: "oomwatch-agent", factory: { _ in SwiftLogNoOpLogHandler() }))
        let entries = deadLetter.list()
        let legacy = FileIO.exists(state + "/dead-letter.jsonl")
        if entries.isEmpty && !legacy {
            out += "set aside: nothing\n"
        } else {
            let bytes = entries.reduce(Int64(0)) { $0 + $1.bytes }
            let events = entries.reduce(0) { $0 + $1.header.events }
            let snapshots = entries.reduce(0) { $0 + $1.header.snapshots }
            out += "set aside as malformed: \(entries.count) batch\(entries.count == 1 ? "" : "es") "
            out += "(\(records(events: events, snapshots: snapshots)); \(size(bytes)) of "
            out += "\(size(config.deadLetterMaxBytes))) in \(deadLetter.directory)\n"
            for e in entries {
                let time = e.header.time.isEmpty ? "(before 0.2)" : e.header.time
                // The reason already starts with "HTTP 400" when the collector said why.
                let reason =
                    e.header.reason.hasPrefix("HTTP ") ? e.header.reason : "HTTP \(e.header.status): \(e.header.reason)"
                out += "  \(time)  \(reason)  "
                out += "[\(records(events: e.header.events, snapshots: e.header.snapshots))]\n"
            }
            if legacy { out += "  and \(state)/dead-letter.jsonl from an older agent (imported at replay)\n" }
            out += "  fix the cause (see the collector's reason), then run `oomwatch-agent spool replay`\n"
        }
        if let bytes = try? FileIO.readAll(state + "/counters.json"),
            let c = try? JSONReader().decode(AgentInfo.self, from: bytes)
        {
            out += "since the state was created: dropped \(c.droppedEvents ?? 0) events and "
            out += "\(c.droppedSnapshots ?? 0) snapshots, \(c.corruptRecords ?? 0) damaged records, "
            out += "\(c.unattributedKills ?? 0) unattributed kills, \(c.uploadRefused ?? 0) refused uploads\n"
        }
        return out
    }

    static func records(events: Int, snapshots: Int) -> String {
        "\(events) event\(events == 1 ? "" : "s"), \(snapshots) snapshot\(snapshots == 1 ? "" : "s")"
    }

    static func size(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        if bytes < 1 << 20 { return "\((Double(bytes) / 1024 * 10).rounded() / 10) kB" }
        return "\((Double(bytes) / 1_048_576 * 10).rounded() / 10) MB"
    }
}
