import Foundation

/// Runs the built `oomwatch` binary as a user would, with a controlled environment.
struct CLIRunner: Sendable {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `oomwatch` binary: `$OOMWATCH_BIN_DIR/oomwatch`, else next to the test bundle,
    /// else `.build/debug/oomwatch` of this package.
    static let binary: String = {
        let fm = FileManager.default
        var candidates: [String] = []
        if let dir = ProcessInfo.processInfo.environment["OOMWATCH_BIN_DIR"] {
            candidates.append(dir + "/oomwatch")
        }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        candidates.append(bundle.appendingPathComponent("oomwatch").path)
        candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("oomwatch").path)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/oomwatch").path)
        return candidates.first { fm.isExecutableFile(atPath: $0) } ?? candidates.last!
    }()

    /// A home directory with no config file, so the developer's own settings never leak in.
    let home: String
    var baseEnvironment: [String: String]

    init(home: String) {
        self.home = home
        baseEnvironment = ["PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "COLUMNS": "200"]
    }

    /// Runs `oomwatch arguments…` and waits for it, at most `timeout` seconds; sends it
    /// SIGINT after `interruptAfter` seconds when given. `executable` runs something else
    /// (script(1), to give the CLI a terminal).
    func run(
        _ arguments: [String], environment: [String: String] = [:], timeout: Double = 30,
        interruptAfter: Double? = nil, executable: String = CLIRunner.binary
    ) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = baseEnvironment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        // Read both pipes off the cooperative pool, so a chatty child cannot fill a pipe
        // and stall while nobody reads.
        let stdoutData = Self.readAll(out.fileHandleForReading)
        let stderrData = Self.readAll(err.fileHandleForReading)
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                try? out.fileHandleForWriting.close()
                try? err.fileHandleForWriting.close()
                continuation.resume(throwing: error)
                return
            }
            if let interruptAfter {
                DispatchQueue.global().asyncAfter(deadline: .now() + interruptAfter) {
                    if process.isRunning { process.interrupt() }
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if process.isRunning { process.terminate() }
            }
        }
        return Result(
            status: status,
            stdout: String(decoding: await stdoutData.value, as: UTF8.self),
            stderr: String(decoding: await stderrData.value, as: UTF8.self))
    }

    private static func readAll(_ handle: FileHandle) -> Task<Data, Never> {
        Task.detached {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(returning: handle.readDataToEndOfFile())
                }
            }
        }
    }
}
