import Testing

@testable import OOMAgent

#if canImport(Glibc)
    import Glibc
#endif

/// Paths and processes for the agent tests.
enum TestSupport {
    /// Tests/OOMAgentTests/Fixtures, found from this file (no bundle resources needed).
    static let fixtures: String = {
        let file = "\(#filePath)"
        return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures"
    }()

    /// The package root (for the built agent binary).
    static let packageRoot: String = {
        var p = fixtures
        for _ in 0..<3 { p = String(p[..<p.lastIndex(of: "/")!]) }
        return p
    }()

    /// A fresh directory under /tmp, removed by the caller with `removeTree`.
    static func tempDir(_ name: String) -> String {
        var template = Array("/tmp/oomwatch-\(name)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: p!)
    }

    static func removeTree(_ path: String) {
        _ = run(["/bin/rm", "-rf", path])
    }

    static func write(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot write \(path)")
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Spawns `args` and returns its pid.
    static func spawn(_ args: [String], stdout: String? = nil, stderr: String? = nil) -> pid_t {
        let pid = ChildSpawn.spawn(args) { actions in
            let flags = O_WRONLY | O_CREAT | O_TRUNC
            posix_spawn_file_actions_addopen(&actions, 1, stdout ?? "/dev/null", flags, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, stderr ?? "/dev/null", flags, 0o644)
        }
        guard let pid else { preconditionFailure("cannot spawn \(args[0])") }
        return pid
    }

    /// Waits for `pid`; the raw wait status.
    @discardableResult
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// Runs to completion; the exit code (or 128 + signal).
    @discardableResult
    static func run(_ args: [String]) -> Int32 {
        let status = wait(spawn(args))
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }

    /// A file's text, or "" when it cannot be read.
    static func read(_ path: String) -> String {
        guard let bytes = try? FileIO.readAll(path) else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The number a child process writes to `path` (a port, a pid), waiting up to 5 s;
    /// "" when none came.
    static func waitForNumber(_ path: String) -> String {
        var text = ""
        for _ in 0..<100 where text.isEmpty {
            text = read(path).filter(\.isNumber)
            if text.isEmpty { sleepMillis(50) }
        }
        return text
    }

    static func sleepMillis(_ ms: Int) {
        usleep(UInt32(ms) * 1000)
    }
}

/// A python3 fixture server (`Fixtures/SCRIPT`) on 127.0.0.1 that prints its port, with a
/// scratch directory; stopped and removed when released.
final class FixtureServer {
    let dir: String
    let pid: pid_t
    let port: Int

    /// `args` get the scratch directory (for a request log).
    init(_ script: String, args: (String) -> [String] = { _ in [] }) throws {
        dir = TestSupport.tempDir(String(script.prefix(while: { $0 != "." })))
        pid = TestSupport.spawn(
            ["/usr/bin/python3", TestSupport.fixtures + "/" + script] + args(dir), stdout: dir + "/port")
        port = Int(TestSupport.waitForNumber(dir + "/port")) ?? 0
        try #require(port > 0, "the test server \(script) did not start")
    }

    deinit {
        kill(pid, SIGTERM)
        TestSupport.wait(pid)
        TestSupport.removeTree(dir)
    }
}
