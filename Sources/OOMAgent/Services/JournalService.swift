import Dispatch
import HostSupport
public import Logging
import OOMKit
public import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Follows systemd-oomd and earlyoom kills in the journal through a `journalctl -f -o json`
/// child process, resuming after the journal cursor saved in the state directory. Where
/// there is no journalctl or no journal, it says so once and idles until shutdown.
public struct JournalService: Service {
    private let context: AgentContext
    private let journalDirectories: [String]

    /// Where systemd keeps the journal: persistent, then volatile.
    public static let defaultDirectories = ["/var/log/journal", "/run/log/journal"]

    public init(context: AgentContext, journalDirectories: [String] = JournalService.defaultDirectories) {
        self.context = context
        self.journalDirectories = journalDirectories
    }

    public func run() async throws {
        let logger = context.logger
        let journalctl = context.config.journalctlPath
        guard access(journalctl, X_OK) == 0 else {
            logger.info(
                "no journalctl: systemd-oomd and earlyoom kills are not followed", metadata: ["path": "\(journalctl)"])
            try? await gracefulShutdown()
            return
        }
        guard journalDirectories.contains(where: { Self.hasJournalFiles($0) }) else {
            logger.info("no systemd journal on this host: systemd-oomd and earlyoom kills are not followed")
            try? await gracefulShutdown()
            return
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await followOnce(journalctl: journalctl)
            if Task.isShuttingDownGracefully { break }
            // journalctl ended on its own: restart it, after the cursor, a little later.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(5)) }
        }
    }

    static func hasJournalFiles(_ dir: String) -> Bool {
        var found = false
        try? DirectoryList.forEach(dir) { _, _ in found = true }
        return found
    }

    /// Runs one journalctl child until it exits or the agent shuts down.
    private func followOnce(journalctl: String) async {
        let logger = context.logger
        let cursorPath = context.journalCursorPath
        var args = [journalctl, "-f", "-o", "json", "--no-pager", "-q"]
        if let bytes = try? FileIO.readAll(cursorPath), !bytes.isEmpty {
            args.append("--after-cursor=" + String(decoding: bytes, as: UTF8.self).filter { $0 != "\n" })
        } else {
            args += ["-b", "-n", "all"]
        }
        args += ["SYSLOG_IDENTIFIER=systemd-oomd", "SYSLOG_IDENTIFIER=earlyoom"]
        guard let child = ChildProcess.spawn(args) else {
            logger.error("cannot start journalctl")
            return
        }
        var parser = LogLineParser()
        var assembler = OOMReportAssembler()
        var pending: [UInt8] = []
        let trust = Self.trust()
        await withGracefulShutdownHandler {
            while true {
                let chunk = await child.read()
                guard let chunk, !chunk.isEmpty else { break }
                pending += chunk
                while let nl = pending.firstIndex(of: 10) {
                    let line = pending[0..<nl]
                    if case .refused(let reason) = trust.verdict(line: line) {
                        refused(line, reason: reason)
                    } else if var logLine = parser.parse(bytes: line) {
                        if logLine.bootID == nil { logLine.bootID = context.identity.bootID }
                        for var e in assembler.feed(logLine) + assembler.flush() {
                            if e.bootID == nil { e.bootID = context.identity.bootID }
                            if e.id.isEmpty { e.assignStableID() }
                            context.spoolEvent(e)
                        }
                    }
                    if let cursor = Self.cursor(in: line) {
                        try? FileIO.writeAtomically(cursorPath, Array(cursor.utf8))
                    }
                    pending.removeSubrange(0...nl)
                }
            }
        } onGracefulShutdown: {
            child.terminate()
        }
        child.terminate()
        child.reap()
    }

    /// Who may report a kill: root, or each killer's unit user as this host resolves it
    /// now (a `DynamicUser=` name resolves only while its unit runs; entries from its unit
    /// are trusted on `_SYSTEMD_UNIT` anyway).
    static func trust() -> JournalTrust {
        var uids: [String: Set<String>] = [:]
        for killer in JournalTrust.killers {
            if let entry = getpwnam(killer.userName) { uids[killer.identifier] = [String(entry.pointee.pw_uid)] }
        }
        return JournalTrust(unitUIDs: uids)
    }

    /// Counts an entry that claims to be a kill but is not journald-attested, and logs the
    /// first and then every power-of-two-th, so a user flooding the journal cannot flood
    /// the agent's log.
    private func refused(_ line: ArraySlice<UInt8>, reason: String) {
        let n = context.counters.journalRefused.wrappingAdd(1, ordering: .relaxed).newValue
        guard n & (n - 1) == 0 else { return }
        let fields = JournalTrust.fields(line)
        context.logger.warning(
            "journal entry claiming an OOM kill refused: not from the killer's unit, binary or user",
            metadata: [
                "journal.refused": "\(n)", "journal.reason": "\(LogText.escaped(reason))",
                "journal.uid": "\(fields["_UID"] ?? "-")", "journal.pid": "\(fields["_PID"] ?? "-")",
                "journal.comm": "\(LogText.escaped(fields["_COMM"] ?? "-"))",
            ])
    }

    /// The `__CURSOR` field of a journal JSON line.
    static func cursor(in line: ArraySlice<UInt8>) -> String? {
        let key = Array("\"__CURSOR\":\"".utf8)
        guard let r = line.firstRange(of: key) else { return nil }
        let rest = line[r.upperBound...]
        guard let end = rest.firstIndex(of: 34) else { return nil }
        return String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
    }
}

/// A child process started with posix_spawn, its stdout read through a pipe.
final class ChildProcess: Sendable {
    let pid: pid_t
    let stdoutFD: Int32
    private static let queue = DispatchQueue(label: "oomwatch.child.read", attributes: .concurrent)

    private init(pid: pid_t, stdoutFD: Int32) {
        self.pid = pid
        self.stdoutFD = stdoutFD
    }

    deinit { close(stdoutFD) }

    static func spawn(_ args: [String]) -> ChildProcess? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        let pid = ChildSpawn.spawn(args) { actions in
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_addclose(&actions, fds[1])
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        close(fds[1])
        guard let pid else {
            close(fds[0])
            return nil
        }
        return ChildProcess(pid: pid, stdoutFD: fds[0])
    }

    /// The next chunk of output; `nil` or empty at end of file. The blocking read runs on
    /// a Dispatch thread.
    func read() async -> [UInt8]? {
        let fd = stdoutFD
        return await withCheckedContinuation { (c: CheckedContinuation<[UInt8]?, Never>) in
            Self.queue.async {
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    c.resume(returning: n > 0 ? Array(buffer[0..<n]) : nil)
                    return
                }
            }
        }
    }

    func terminate() { kill(pid, SIGTERM) }

    func reap() {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}
