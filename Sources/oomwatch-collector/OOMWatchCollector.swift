import ArgumentParser

/// `oomwatch-collector`: wiring only. `serve` (the default) runs the HTTP collector;
/// `token create` adds a token to the tokens file; `migrate` copies a SQLite history into PostgreSQL.
@main
struct OOMWatchCollector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oomwatch-collector",
        abstract: "Stores a fleet's memory snapshots and OOM kills; serves the query API.",
        subcommands: [Serve.self, TokenCommand.self, Migrate.self],
        defaultSubcommand: Serve.self)
}
