import ArgumentParser

@main
struct OOMWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oomwatch",
        abstract: "Ask an oomwatch collector about the fleet's memory and OOM kills.",
        discussion: """
            Settings come from flags, then OOMWATCH_* environment variables, then the config \
            file ($XDG_CONFIG_HOME/oomwatch/config.yaml or ~/.config/oomwatch/config.yaml; \
            keys server, token, token_file, format, ca_file), then defaults. Options may come \
            before or after the command.

            Examples:
              oomwatch hosts --server https://collector:8080 --token-file ~/.oomwatch-token
              oomwatch events --since 24h --host web-1
              oomwatch show 3f2a9c0d5e6b7a8f9e0d1c2b3a4f5e6d
              oomwatch summary --since 7d --format json
              oomwatch watch --interval 2
              oomwatch --generate-completion-script bash > /etc/bash_completion.d/oomwatch

            Exit status: 0 success, 1 failure (collector unreachable, token refused, \
            unknown event), 2 usage error.
            """,
        subcommands: [Hosts.self, Events.self, Show.self, Summary.self, Top.self, Watch.self, Advise.self, Alerts.self]
    )

    /// The same group every command declares: ArgumentParser hands what it parsed before
    /// the command's name to the command (`oomwatch --format json events`).
    @OptionGroup var global: GlobalOptions

    /// Runs the command; CLI failures print one line on stderr and exit 1, usage errors
    /// exit 2 (ArgumentParser's own default would be 64).
    static func main() async {
        do {
            let commands = Set(configuration.subcommands.map { $0._commandName })
            if let unknown = CommandSuggestion.unknown(Array(CommandLine.arguments.dropFirst()), commands: commands) {
                let hint = unknown.suggestion.map { "; did you mean '\($0)'?" } ?? ""
                throw ValidationError(
                    "unknown command '\(unknown.word)'\(hint) (commands: \(commands.sorted().joined(separator: ", ")))")
            }
            var command = try parseAsRoot(Array(CommandLine.arguments.dropFirst()))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            Terminal.writeError("oomwatch: " + error.message)
            Self.exit(withError: ExitCode(error.exitCode))
        } catch {
            if exitCode(for: error) == .validationFailure {
                Terminal.writeError(fullMessage(for: error))
                Self.exit(withError: ExitCode(2))
            }
            Self.exit(withError: error)
        }
    }
}
