import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every fault test runs in this one serialized suite: they kill daemons, fill file
/// systems and measure latency, and would disturb each other running side by side.
@Suite(.serialized) struct Faults {}

/// A failure of the harness itself (not of the code under test).
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The release executables the fault tests drive.
struct Binaries {
    var agent: String
    var collector: String

    /// `OOMWATCH_BIN_DIR` (set by scripts/test after `swift build -c release`), else the
    /// package's `.build/release`; `nil` with a printed reason when they are not built.
    static func locate() -> Binaries? {
        let names = ["oomwatch-agent", "oomwatch-collector"]
        var dir = ProcessInfo.processInfo.environment["OOMWATCH_BIN_DIR"] ?? ""
        if dir.isEmpty {
            // This file is <root>/Tests/FaultTests/Support/Harness.swift.
            dir =
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().path + "/.build/release"
        }
        let missing = names.filter { access(dir + "/" + $0, X_OK) != 0 }
        guard missing.isEmpty else {
            print(
                "SKIP FaultTests: release binaries missing in \(dir) (\(missing.joined(separator: ", "))); "
                    + "run `swift build -c release` and set OOMWATCH_BIN_DIR")
            return nil
        }
        // The database is checked from outside, with the sqlite3 shell (scripts/install-deps).
        guard access("/usr/bin/sqlite3", X_OK) == 0 else {
            print("SKIP FaultTests: /usr/bin/sqlite3 not installed (apt-get install sqlite3)")
            return nil
        }
        return Binaries(agent: dir + "/oomwatch-agent", collector: dir + "/oomwatch-collector")
    }
}

/// A scratch directory removed at the end of the test.
final class TempDir: @unchecked Sendable {
    let path: String
    init(_ tag: String) {
        var template = Array("/tmp/oomwatch-fault-\(tag)-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
    func write(_ name: String, _ text: String) {
        FileManager.default.createFile(atPath: path + "/" + name, contents: Data(text.utf8))
    }
}

/// A daemon started by a test, its output appended to a log file.
final class Child: @unchecked Sendable {
    let process = Process()
    let logPath: String

    init(_ executable: String, _ arguments: [String], log: String, environment: [String: String] = [:]) throws {
        logPath = log
        if !FileManager.default.fileExists(atPath: log) {
            FileManager.default.createFile(atPath: log, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        handle.write(Data("---- \(executable) \(arguments.joined(separator: " "))\n".utf8))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OOMWATCH_") }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// SIGKILL, then reap.
    func kill9() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM, up to `seconds` for a clean exit, else SIGKILL.
    func stop(seconds: Double = 10) {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        kill9()
    }

    func logTail(_ n: Int = 3000) -> String {
        String(decoding: (FileManager.default.contents(atPath: logPath) ?? Data()).suffix(n), as: UTF8.self)
    }

    /// A `/proc/PID/status` field in kB (VmRSS, VmHWM).
    func statusKB(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }
}

/// One HTTP response read off a raw socket.
struct RawResponse {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// HTTP/1.1 over plain sockets, so tests can send what no well-behaved client would.
enum RawHTTP {
    /// Posts `body` until the collector answers 200 (at most 2,000 tries, 20 ms apart),
    /// counting every answer's status: a kill mid-request leaves the outcome unknown, and
    /// re-sending the same ids is how agents cope. True when acknowledged.
    static func ingestUntilAcknowledged(_ port: Int, _ body: String, statuses: Shared<[Int: Int]>) -> Bool {
        for _ in 0..<2000 {
            if let r = ingest(port, token: CollectorProcess.agentToken, body) {
                statuses.with { $0[r.status, default: 0] += 1 }
                if r.status == 200 { return true }
            }
            usleep(20_000)
        }
        return false
    }

    /// A connected socket with `timeout` seconds per read/write, or nil.
    static func connect(_ port: Int, timeout: Double = 10) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = Loopback.address(port: port)
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if ok != 0 {
            close(fd)
            return nil
        }
        return fd
    }

    /// Sends as much of `bytes` as the peer takes; false when it stopped taking them.
    @discardableResult
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, min(1 << 20, $0.count - offset), Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Reads one response (Content-Length or until close); nil on timeout or reset
    /// before a status line.
    static func readResponse(_ fd: Int32) -> RawResponse? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Int?
        var response: RawResponse?
        var contentLength: Int?
        while true {
            if let end = headerEnd, let length = contentLength, received.count - end >= length { break }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
            if headerEnd == nil, let r = find(received, [13, 10, 13, 10]) {
                headerEnd = r + 4
                let head = String(decoding: received[0..<r], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                let parts = lines.first?.split(separator: " ") ?? []
                guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                        .trimmingCharacters(in: .whitespaces)
                }
                contentLength = headers["content-length"].flatMap { Int($0) }
                response = RawResponse(status: status, headers: headers, body: [])
            }
        }
        guard var r = response, let end = headerEnd else { return nil }
        r.body = Array(received[end...])
        if let length = contentLength, r.body.count > length { r.body = Array(r.body.prefix(length)) }
        return r
    }

    static func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0] && Array(haystack[i..<i + needle.count]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// One request on its own connection; nil when nothing answered.
    static func request(
        _ port: Int, _ method: String, _ path: String, token: String? = nil,
        headers: [String: String] = [:], body: [UInt8]? = nil, timeout: Double = 10
    ) -> RawResponse? {
        guard let fd = connect(port, timeout: timeout) else { return nil }
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body, headers["Content-Length"] == nil, headers["Transfer-Encoding"] == nil {
            head += "Content-Length: \(body.count)\r\n"
        }
        if body != nil, headers["Content-Type"] == nil { head += "Content-Type: application/json\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        sendAll(fd, bytes)
        return readResponse(fd)
    }

    static func ingest(_ port: Int, token: String, _ json: String) -> RawResponse? {
        request(port, "POST", "/api/v1/ingest", token: token, body: Array(json.utf8))
    }
}

/// The collector as a subprocess on a free port, with agent, read and admin tokens.
final class CollectorProcess: @unchecked Sendable {
    static let agentToken = "agent-fault-token-0123456789"
    static let readToken = "read-fault-token-0123456789"
    static let adminToken = "admin-fault-token-0123456789"

    let binary: String
    let dir: String
    let port: Int
    var dbPath: String
    var tokensPath: String { dir + "/tokens" }
    var extraArguments: [String]
    var environment: [String: String]
    private(set) var child: Child?

    init(
        binary: String, dir: String, dbPath: String? = nil, arguments: [String] = [],
        environment: [String: String] = [:]
    ) throws {
        self.binary = binary
        self.dir = dir
        self.port = try Loopback.freePort()
        self.dbPath = dbPath ?? dir + "/oomwatch.sqlite"
        self.extraArguments = arguments
        self.environment = environment
        if !FileManager.default.fileExists(atPath: dir + "/tokens") {
            FileManager.default.createFile(
                atPath: dir + "/tokens",
                contents: Data(
                    """
                    agent \(Self.agentToken) fault-agent
                    read \(Self.readToken) fault-read
                    admin \(Self.adminToken) fault-admin

                    """.utf8))
        }
    }

    var scheme: String { extraArguments.contains("--tls-cert") ? "https" : "http" }
    var url: String { "\(scheme)://127.0.0.1:\(port)" }

    /// Starts it and waits (up to 20 s) until it accepts connections. Blocking: call
    /// from `offload` or a thread of the test's own.
    func startBlocking() throws {
        let c = try Child(
            binary,
            ["serve", "--listen", "127.0.0.1:\(port)", "--db", dbPath, "--tokens-file", tokensPath] + extraArguments,
            log: dir + "/collector.log", environment: environment)
        child = c
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            guard c.isRunning else { throw HarnessError("collector exited at start:\n\(c.logTail())") }
            if let fd = RawHTTP.connect(port, timeout: 1) {
                close(fd)
                if scheme == "https" { return }
                if RawHTTP.request(port, "GET", "/healthz", timeout: 2)?.status == 200 { return }
            }
            usleep(30_000)
        }
        throw HarnessError("collector did not come up on \(port):\n\(c.logTail())")
    }

    func start() async throws {
        try await offload { try self.startBlocking() }
    }

    func kill9() { child?.kill9() }
    func stop() { child?.stop() }
}

/// Runs `sqlite3 DB SQL` and returns its output lines.
func sqlite(_ db: String, _ sql: String) throws -> [String] {
    try run("/usr/bin/sqlite3", [db, sql]).1.split(separator: "\n").map(String.init)
}

/// Runs a short command to completion; (status, output).
@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A minimal valid OOM event for ingest bodies.
func eventJSON(id: String, pid: Int = 1234, comm: String = "fault") -> String {
    #"{"id":"\#(id)","source":"kernel","time":"2026-01-02T03:04:05Z","victim":{"pid":\#(pid),"comm":"\#(comm)","anon_rss_kb":1024}}"#
}

func batchJSON(host: String, events: [String]) -> String {
    #"{"host":"\#(host)","agent":{"version":"fault"},"snapshots":[],"events":[\#(events.joined(separator: ","))]}"#
}

/// Runs blocking `body` on a thread of its own, so sockets, sleeps and waits never hold
/// a thread of Swift's small cooperative pool.
func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let thread = Thread {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// Runs `body(i)` for i in 0..<n, each on its own thread, and waits for all.
func onThreads(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        for i in 0..<n {
            group.addTask { _ = try? await offload { body(i) } }
        }
    }
}

/// A lock-protected value shared by test threads.
final class Shared<Value: Sendable>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func with<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
    var get: Value { with { $0 } }
}

/// Expectations made on a harness thread (where Swift Testing cannot see which test is
/// running), reported to the test afterwards by `report()`.
final class Checks: @unchecked Sendable {
    private let failures = Shared([String]())
    func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition {
            let m = message()
            failures.with { $0.append(m) }
        }
    }
    func report(sourceLocation: SourceLocation = #_sourceLocation) {
        for m in failures.get { Issue.record(Comment(rawValue: m), sourceLocation: sourceLocation) }
    }
}
