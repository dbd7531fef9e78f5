/// Lets global options come before the command too (`oomwatch --format json events`), as
/// people type them: ArgumentParser only accepts a subcommand's options after its name,
/// so recognised leading global options are moved behind the command name.
enum ArgumentOrder {
    /// Global options that take a value.
    static let valued: Set<String> = [
        "--server", "--token", "--token-file", "--format", "--since", "--host", "--config", "--ca-file", "--now",
    ]
    /// Global flags.
    static let flags: Set<String> = ["--absolute-times", "--no-color"]

    /// `arguments` (without the program name) with leading global options moved after the
    /// first command name; unchanged when anything else comes first.
    static func normalized(_ arguments: [String], commands: Set<String>) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if flags.contains(argument) || (valued.contains(name) && argument.contains("=")) {
                leading.append(argument)
                i += 1
            } else if valued.contains(argument), i + 1 < arguments.count {
                leading += [argument, arguments[i + 1]]
                i += 2
            } else {
                break
            }
        }
        guard !leading.isEmpty, i < arguments.count, commands.contains(arguments[i]) else { return arguments }
        return [arguments[i]] + leading + arguments[(i + 1)...]
    }
}
