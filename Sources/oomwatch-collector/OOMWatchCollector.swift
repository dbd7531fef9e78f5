import ArgumentParser
import OOMServer

@main
struct OOMWatchCollector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "oomwatch-collector")
    func run() async throws {}
}
