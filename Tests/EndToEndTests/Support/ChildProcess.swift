import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A subprocess the end-to-end test starts and must always stop, with its output in a log
/// file so a failure can show what the binary said.
final class ChildProcess: @unchecked Sendable {
    let name: String
    let logPath: String
    private let process: Process

    /// Starts `executable` with `arguments`; stdout and stderr go to `logPath` (appended,
    /// so a restarted daemon keeps one log).
    init(name: String, executable: String, arguments: [String], logPath: String) throws {
        self.name = name
        self.logPath = logPath
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try log.seekToEnd()
        log.write(Data("---- \(name): \(executable) \(arguments.joined(separator: " "))\n".utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ChildProcess.hermeticEnvironment()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// How it ended: the signal that killed it, or nil for a normal exit.
    var terminatingSignal: Int32? {
        process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil
    }
    var exitStatus: Int32 { process.terminationStatus }

    /// Sends `signal`, waits up to `timeout` for the process to end, then SIGKILLs it.
    /// Returns true when it ended within `timeout` on its own.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) async -> Bool {
        guard process.isRunning else { return true }
        kill(process.processIdentifier, signal)
        if await waitForExit(timeout: timeout) { return true }
        kill(process.processIdentifier, SIGKILL)
        _ = await waitForExit(timeout: .seconds(5))
        return false
    }

    /// Waits, bounded, for the process to end. Returns whether it did.
    func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        // Reaps the child and fills terminationStatus; it has already ended.
        process.waitUntilExit()
        return true
    }

    /// The last `maxBytes` of the log, for failure messages.
    func logTail(maxBytes: Int = 4000) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "(no log)" }
        return String(decoding: data.suffix(maxBytes), as: UTF8.self)
    }

    /// The test's environment without `OOMWATCH_*` variables, so a developer's shell
    /// settings cannot change what the binaries under test do.
    static func hermeticEnvironment() -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OOMWATCH_") }
    }
}

/// Runs a short command to completion (bounded) and returns its exit status and output.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum Command {
    /// Runs `executable`; output goes through files, not pipes, so a large output cannot
    /// block the child while we wait for it.
    static func run(
        _ executable: String, _ arguments: [String], in directory: String, timeout: Duration = .seconds(15)
    ) async throws -> CommandResult {
        let out = directory + "/cmd-\(UUID().uuidString).out"
        let err = out + ".err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ChildProcess.hermeticEnvironment()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw E2EError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self),
            stderr: String(decoding: FileManager.default.contents(atPath: err) ?? Data(), as: UTF8.self))
    }
}

/// A failure of the test harness itself, with a message that says what went wrong.
struct E2EError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
