import ArgumentParser

@main
struct OOMWatchAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oomwatch-agent",
        abstract: "Watches this host's memory and OOM kills and ships them to an oomwatch collector.",
        subcommands: [Run.self, Snapshot.self, Scan.self],
        defaultSubcommand: Run.self
    )
}
