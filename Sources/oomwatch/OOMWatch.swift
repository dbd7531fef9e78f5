import ArgumentParser

@main
struct OOMWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "oomwatch")
    func run() async throws {}
}
