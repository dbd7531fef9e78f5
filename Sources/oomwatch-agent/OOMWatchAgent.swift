import ArgumentParser

#if canImport(Glibc)
    import CMalloc
    import Glibc
#endif

@main
struct OOMWatchAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oomwatch-agent",
        abstract: "Watches this host's memory and OOM kills and ships them to an oomwatch collector.",
        subcommands: [Run.self, Snapshot.self, Scan.self, Check.self, SpoolCommand.self, WireBytes.self],
        defaultSubcommand: Run.self
    )

    static func main() async {
        #if canImport(Glibc)
            // One malloc arena for every thread, set before any thread allocates: glibc
            // would give each thread its own, whose pages it rarely returns (about 2 MB of
            // RSS for the agent's few, lightly allocating threads). MALLOC_ARENA_MAX
            // in the environment still wins.
            if getenv("MALLOC_ARENA_MAX") == nil { _ = mallopt(M_ARENA_MAX, 1) }
        #endif
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
