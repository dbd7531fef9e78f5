import ArgumentParser
import Gzip
import Logging
import OOMAgent
import OOMKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `oomwatch-agent scan [FILE…]`: every OOM kill in saved kernel logs, one JSON event a line;
/// with `--send`, also delivered to the collector (backfill).
struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find OOM kills in saved kernel logs and print them as JSON, one event per line.",
        discussion: """
            Reads dmesg (plain, -T, with caller ids), raw /dev/kmsg dumps, syslog/kern.log, \
            journalctl -k (short, short-iso, short-precise) and journalctl -o json output, \
            mixed freely, indented or behind line numbers; .gz files are decompressed on the fly. \
            Exits 0 whether or not kills were found.

            dmesg -T, syslog and journalctl's short formats print local time without a zone: \
            they are read in --tz (default: this machine's zone) and converted to UTC. Syslog \
            lines carry no year: it is taken from the file's modification time, or --year, so \
            that no time is in the future.

            With --send, the kills found are also sent to the collector with the agent's \
            settings (--config, --collector, --token-file, --hostname, --state-dir), through a \
            spool in the state directory, and a summary is printed on standard error: found, \
            sent, already known (the collector had them: sending a file twice stores nothing \
            twice).
            """
    )

    @Argument(help: "Log files to scan; '-' or none reads standard input.")
    var files: [String] = []

    @Option(help: "Time zone of local-time timestamps (dmesg -T, syslog), e.g. Europe/Paris.")
    var tz: String?

    @Option(help: "Year of the last line of year-less (syslog) logs; default: from the file's modification time.")
    var year: Int?

    @Flag(help: "Same as --tz UTC.")
    var utc = false

    @Flag(help: "Also send the kills found to the collector, with the agent's settings.")
    var send = false

    @OptionGroup var agent: AgentOptions

    func validate() throws {
        if let tz, !Self.isKnownZone(tz) {
            throw ValidationError(
                "unknown time zone '\(tz)': give a name from /usr/share/zoneinfo, such as Europe/Paris or UTC")
        }
        if let year, !(1970...9999).contains(year) {
            throw ValidationError("--year must be a four-digit year, got \(year)")
        }
        if utc, let tz, tz != "UTC" { throw ValidationError("--utc and --tz \(tz) disagree: give one") }
    }

    func run() async throws {
        let zone = utc ? "UTC" : tz
        if let zone {
            // The C library's conversions below follow TZ.
            setenv("TZ", zone, 1)
        }
        tzset()
        var backfill: Backfill?
        if send {
            let config = try agent.resolve()
            guard config.collector != nil else {
                throw ValidationError(
                    "--send needs the collector: pass --collector URL, set OOMWATCH_COLLECTOR, or add `collector:` to the config file"
                )
            }
            do {
                backfill = try Backfill(config: config, logger: Logger(label: "oomwatch-agent.scan"))
            } catch {
                throw ValidationError("cannot use the state directory for --send: \(error)")
            }
        }
        let paths = files.isEmpty ? ["-"] : files
        var out = OutputBuffer()
        var failed = false
        var sink = EventSink(backfill: backfill)
        for path in paths {
            do {
                try await scan(path: path, into: &out, sink: &sink)
            } catch {
                out.flush()
                FileHandleStderr.write("oomwatch-agent: cannot read \(path): \(error.reason)\n")
                failed = true
            }
        }
        out.flush()
        if let backfill {
            var summary = sink.summary
            do {
                summary = try await sink.deliver(backfill)
            } catch {
                summary = error.summary
                FileHandleStderr.write("oomwatch-agent: \(error.message)\n")
                failed = true
            }
            FileHandleStderr.write(
                "oomwatch-agent: \(out.seenIDs.count) kills found, \(summary.sent) sent, "
                    + "\(summary.alreadyKnown) already known"
                    + (summary.rejected > 0
                        ? ", \(summary.rejected) refused by the collector (\(summary.lastRejection ?? "?"))" : "")
                    + "\n")
            if summary.rejected > 0 { failed = true }
        }
        if failed { throw ExitCode(1) }
    }

    private func scan(path: String, into out: inout OutputBuffer, sink: inout EventSink) async throws(ScanError) {
        let fd: Int32
        let now = Int64(time(nil))
        var reference = now
        var size: Int64 = 0
        if path == "-" {
            fd = 0
        } else {
            fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw ScanError(errno: errno) }
            var st = stat()
            if fstat(fd, &st) == 0 {
                reference = min(now, Int64(st.st_mtim.tv_sec))
                size = Int64(st.st_size)
            }
        }
        defer { if fd != 0 { close(fd) } }
        if let year {
            // The log ends in that year: its last day, or now if that is earlier.
            let endOfYear = RFC3339.days(fromCivil: Int64(year), 12, 31) * 86_400 + 86_399
            reference = min(now, endOfYear - Int64(Self.localUTCOffset(endOfYear)))
        }

        let options = LogLineParser.Options(
            localUTCOffset: { Self.localUTCOffset($0) }, referenceEpochSeconds: reference)
        var scanner = KernelLogScanner(parser: LogLineParser(options: options))
        let writer = JSONWriter(sortedKeys: true)
        // Large files under --send (or on a terminal) get a progress line every 64 MiB.
        let progress = size >= 64 << 20 && (send || isatty(2) != 0)
        var readBytes: Int64 = 0
        var nextProgress: Int64 = 64 << 20

        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var inflater: GzipInflater?
        var first = true
        while true {
            // Compressed input is read in small pieces: each inflates to ~10× its size.
            let want = inflater == nil ? buffer.count : 64 << 10
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ScanError(errno: errno)
            }
            if n == 0 { break }
            readBytes += Int64(n)
            var events: [OOMEvent]
            if first, Gzip.isGzip(buffer[0..<n]) {
                do { inflater = try GzipInflater() } catch { throw ScanError(reason: error.description) }
            }
            first = false
            if inflater != nil {
                do {
                    let plain = try inflater!.inflate(Array(buffer[0..<n]))
                    events = scanner.feed(plain)
                } catch {
                    throw ScanError(reason: "corrupt gzip data (\(error.description))")
                }
            } else {
                events = buffer.withUnsafeBytes { scanner.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            try await emit(events, writer: writer, into: &out, sink: &sink)
            if progress, readBytes >= nextProgress {
                nextProgress += 64 << 20
                FileHandleStderr.write(
                    "oomwatch-agent: \(path): \(readBytes >> 20) of \(size >> 20) MiB read, "
                        + "\(out.seenIDs.count) kills found\n")
            }
        }
        if let inflater, !inflater.finished {
            // A truncated .gz still yields what it held; say so but keep the events.
            try await emit(scanner.finish(), writer: writer, into: &out, sink: &sink)
            throw ScanError(reason: "gzip data is truncated")
        }
        try await emit(scanner.finish(), writer: writer, into: &out, sink: &sink)
    }

    private func emit(
        _ events: [OOMEvent], writer: JSONWriter, into out: inout OutputBuffer, sink: inout EventSink
    ) async throws(ScanError) {
        for event in events {
            // The same kill read twice (kern.log and syslog, overlapping dumps) is one kill.
            guard out.seenIDs.insert(event.id).inserted else { continue }
            do {
                out.append(try writer.encode(event))
                out.append(CollectionOfOne(0x0A))
            } catch {
                throw ScanError(reason: "cannot encode event: \(error)")
            }
            try await sink.add(event)
        }
    }

    /// The UTC offset, in the zone of `TZ` (else this host's), at a (local) instant.
    static func localUTCOffset(_ localEpochSeconds: Int64) -> Int {
        var t = time_t(localEpochSeconds)
        var tm = tm()
        guard localtime_r(&t, &tm) != nil else { return 0 }
        return Int(tm.tm_gmtoff)
    }

    /// A zone name the C library will find: UTC/GMT or a file under the zoneinfo directory.
    static func isKnownZone(_ name: String) -> Bool {
        if name == "UTC" || name == "GMT" { return true }
        guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else { return false }
        let dir = getenv("TZDIR").map { String(cString: $0) } ?? "/usr/share/zoneinfo"
        var st = stat()
        return stat(dir + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
}

/// Where `scan --send` puts the kills it finds: the backfill spool, delivered every few
/// hundred kills so that the spool's bound never drops any.
struct EventSink {
    var backfill: Backfill?
    var summary = Backfill.Summary()
    private var spooled = 0

    init(backfill: Backfill?) { self.backfill = backfill }

    mutating func add(_ event: OOMEvent) async throws(ScanError) {
        guard let backfill else { return }
        do {
            try backfill.add(event)
        } catch {
            throw ScanError(reason: "cannot spool a kill for --send: \(error)")
        }
        spooled += 1
        if spooled % 200 == 0 {
            do {
                summary = try await deliver(backfill)
            } catch {
                throw ScanError(reason: error.message)
            }
        }
    }

    /// Delivers what is spooled; returns the running totals.
    mutating func deliver(_ backfill: Backfill) async throws(BackfillError) -> Backfill.Summary {
        var total = summary
        do {
            let s = try await backfill.deliver()
            total.sent += s.sent
            total.alreadyKnown += s.alreadyKnown
            total.rejected += s.rejected
            total.lastRejection = s.lastRejection ?? total.lastRejection
        } catch {
            var e = error
            e.summary.sent += total.sent
            e.summary.alreadyKnown += total.alreadyKnown
            e.summary.rejected += total.rejected
            throw e
        }
        summary = total
        return total
    }
}

struct ScanError: Error {
    var reason: String

    init(reason: String) { self.reason = reason }

    init(errno code: Int32) {
        reason = String(cString: strerror(code))
    }
}

/// Buffered standard output: events can be many, `write(2)` per event is wasteful.
struct OutputBuffer {
    private var bytes: [UInt8] = []
    /// Ids of the events printed so far.
    var seenIDs: Set<String> = []

    mutating func append(_ data: some Sequence<UInt8>) {
        bytes.append(contentsOf: data)
        if bytes.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            offset += n
        }
        bytes.removeAll(keepingCapacity: true)
    }
}

enum FileHandleStderr {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
