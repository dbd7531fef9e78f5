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
            try config.validate()
        } catch {
            print(PreflightCheck("config", .fail, "\(error)", fix: "fix the setting named").line)
            throw ExitCode(1)
        }
        print(PreflightCheck("config", .ok, "valid (state_dir \(config.stateDir))").line)
        let logger = Logger(label: "oomwatch-agent", factory: { _ in SwiftLogNoOpLogHandler() })
        let checks = await Preflight.run(config: config, logger: logger)
        for c in checks { print(c.line) }
        if checks.contains(where: { $0.level == .fail }) { throw ExitCode(1) }
    }
}
