import Logging
import OOMKit
import Testing

@testable import OOMAgent

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 19, point 7: the state directory and the files in it cannot be turned against
/// the agent by another local user.
@Suite struct StateDirTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func config(_ dir: String) -> AgentConfig {
        var config = AgentConfig()
        config.stateDir = dir + "/state"
        config.journalctlPath = "/nonexistent"
        return config
    }

    /// A symlink planted as counters.json.tmp pointed the root agent at a root-only file,
    /// which it then overwrote. Now the link is replaced, never followed.
    @Test func symlinkedTempFileIsNotFollowed() throws {
        let dir = TestSupport.tempDir("statedir")
        defer { TestSupport.removeTree(dir) }
        let context = try AgentContext(config: config(dir), logger: logger)
        TestSupport.write(dir + "/precious", "root only\n")
        chmod(dir + "/precious", 0o600)
        #expect(symlink(dir + "/precious", context.countersPath + ".tmp") == 0)
        context.counters.droppedEvents.add(3)
        context.saveCounters()
        #expect(TestSupport.read(dir + "/precious") == "root only\n")
        let saved = try #require(try FileIO.readAll(context.countersPath))
        #expect(try JSONReader().decode(AgentInfo.self, from: saved).droppedEvents == 3)
        var st = stat()
        #expect(lstat(context.countersPath, &st) == 0 && st.st_mode & S_IFMT == S_IFREG)
    }

    /// The dead-letter file and cursors are appended/replaced without following links.
    @Test func symlinkedAppendTargetIsRefused() throws {
        let dir = TestSupport.tempDir("statedir")
        defer { TestSupport.removeTree(dir) }
        TestSupport.write(dir + "/precious", "root only\n")
        #expect(symlink(dir + "/precious", dir + "/dead-letter.jsonl") == 0)
        #expect(throws: FileIOError.self) { try FileIO.appendLine(dir + "/dead-letter.jsonl", Array("x".utf8)) }
        #expect(TestSupport.read(dir + "/precious") == "root only\n")
    }

    @Test(arguments: [0o777, 0o770, 0o722])
    func groupOrWorldWritableStateDirIsRefused(mode: Int) throws {
        let dir = TestSupport.tempDir("statedir")
        defer { TestSupport.removeTree(dir) }
        _ = mkdir(dir + "/state", 0o700)
        chmod(dir + "/state", mode_t(mode))
        #expect {
            _ = try AgentContext(config: config(dir), logger: logger)
        } throws: { error in
            "\(error)".contains("writable by its group or others")
        }
    }

    /// `oomwatch-agent check` applies the rule `run` enforces: a state directory `run`
    /// would refuse fails the check, and nothing is written into it.
    @Test(arguments: [0o777, 0o770, 0o722])
    func checkRefusesTheStateDirRunRefuses(mode: Int) throws {
        let dir = TestSupport.tempDir("statedir")
        defer { TestSupport.removeTree(dir) }
        _ = mkdir(dir + "/state", 0o700)
        #expect(Preflight.stateDirectory(config(dir)).level == .ok)
        chmod(dir + "/state", mode_t(mode))
        let check = Preflight.stateDirectory(config(dir))
        #expect(check.level == .fail)
        #expect(check.detail.contains("writable by its group or others"), "\(check.detail)")
        #expect(check.detail.contains("`run` would refuse it"), "\(check.detail)")
        #expect(access(dir + "/state/.preflight", F_OK) != 0)
    }

    @Test(.enabled(if: getuid() == 0, "chown needs root"))
    func stateDirOwnedBySomeoneElseIsRefused() throws {
        let dir = TestSupport.tempDir("statedir")
        defer { TestSupport.removeTree(dir) }
        _ = mkdir(dir + "/state", 0o700)
        #expect(chown(dir + "/state", 65534, 65534) == 0)
        #expect {
            _ = try AgentContext(config: config(dir), logger: logger)
        } throws: { error in
            "\(error)".contains("owned by uid 65534")
        }
    }
}
