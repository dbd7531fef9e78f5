import ArgumentParser
import Logging
import OOMAgent

/// `oomwatch-agent check`: the preflight, one line per check with its fix.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check this host's setup: config, token, collector, TLS, kernel log, journal, cgroups, state.",
        discussion: """
            Prints one line per check: OK, INFO, WARN or FAIL, with the fix after `->`. \
            Exits 1 when a check that would lose data fails.
            """)

    @OptionGroup var options: AgentOptions

    func run() async throws {
        let config: AgentConfig
        do {
            config = try options.resolve()
        } catch {
            print(PreflightCheck("config", .fail, "\(error)", fix: "fix the setting named").line)
            throw ExitCode(1)
        }
        // The first line is the config's validation, as `run` logs it at start.
        let logger = Logger(label: "oomwatch-agent", factory: { _ in SwiftLogNoOpLogHandler() })
        let checks = await Preflight.run(config: config, logger: logger)
        for c in checks { print(c.line) }
        let status = Preflight.exitStatus(checks)
        if status != 0 { throw ExitCode(status) }
    }
}
