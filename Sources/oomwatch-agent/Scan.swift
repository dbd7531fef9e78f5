import ArgumentParser
import Gzip
import OOMKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `oomwatch-agent scan [FILE…]`: every OOM kill in saved kernel logs, one JSON event a line.
struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find OOM kills in saved kernel logs and print them as JSON, one event per line.",
        discussion: """
            Reads dmesg (plain, -T, with caller ids), raw /dev/kmsg dumps, syslog/kern.log, \
            journalctl -k (short, short-iso, short-precise) and journalctl -o json output, \
            mixed freely; .gz files are decompressed on the fly. Exits 0 whether or not kills \
            were found.
            """
    )

    @Argument(help: "Log files to scan; '-' or none reads standard input.")
    var files: [String] = []

    @Flag(help: "Read local-time timestamps (dmesg -T, syslog) as UTC instead of this host's time zone.")
    var utc = false

    func run() async throws {
        let paths = files.isEmpty ? ["-"] : files
        var out = OutputBuffer()
        var failed = false
        for path in paths {
            do {
                try scan(path: path, into: &out)
            } catch {
                out.flush()
                FileHandleStderr.write("oomwatch-agent: cannot read \(path): \(error.reason)\n")
                failed = true
            }
        }
        out.flush()
        if failed { throw ExitCode(1) }
    }

    private func scan(path: String, into out: inout OutputBuffer) throws(ScanError) {
        let fd: Int32
        var reference = Int64(time(nil))
        if path == "-" {
            fd = 0
        } else {
            fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw ScanError(errno: errno) }
            var st = stat()
            if fstat(fd, &st) == 0 { reference = Int64(st.st_mtim.tv_sec) }
        }
        defer { if fd != 0 { close(fd) } }

        var options = LogLineParser.Options(referenceEpochSeconds: reference)
        if !utc { options.localUTCOffset = { Self.localUTCOffset($0) } }
        var scanner = KernelLogScanner(
            parser: LogLineParser(options: options))
        let writer = JSONWriter(sortedKeys: true)

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
            var events: [OOMEvent]
            if first, n >= 2, buffer[0] == 0x1F, buffer[1] == 0x8B {
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
            try emit(events, writer: writer, into: &out)
        }
        if let inflater, !inflater.finished {
            // A truncated .gz still yields what it held; say so but keep the events.
            try emit(scanner.finish(), writer: writer, into: &out)
            throw ScanError(reason: "gzip data is truncated")
        }
        try emit(scanner.finish(), writer: writer, into: &out)
    }

    private func emit(_ events: [OOMEvent], writer: JSONWriter, into out: inout OutputBuffer) throws(ScanError) {
        for event in events {
            // The same kill read twice (kern.log and syslog, overlapping dumps) is one kill.
            guard out.seenIDs.insert(event.id).inserted else { continue }
            do {
                out.append(try writer.encode(event))
                out.append(CollectionOfOne(0x0A))
            } catch {
                throw ScanError(reason: "cannot encode event: \(error)")
            }
        }
    }

    /// This host's UTC offset at a (local) instant, from the C library's time zone data.
    static func localUTCOffset(_ localEpochSeconds: Int64) -> Int {
        var t = time_t(localEpochSeconds)
        var tm = tm()
        guard localtime_r(&t, &tm) != nil else { return 0 }
        return Int(tm.tm_gmtoff)
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
