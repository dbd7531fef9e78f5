import ArgumentParser

/// `oomwatch-collector`: wiring only. `serve` (the default) runs the HTTP collector;
/// `token create` adds a token to the tokens file.
@main
struct OOMWatchCollector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oomwatch-collector",
        abstract: "Stores a fleet's memory snapshots and OOM kills; serves the query API.",
        subcommands: [Serve.self, TokenCommand.self],
        defaultSubcommand: Serve.self)
}
