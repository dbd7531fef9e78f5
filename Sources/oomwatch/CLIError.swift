/// A failure the CLI reports as one line on stderr, with its exit status: 1 for a failure,
/// 2 for a usage error (a bad setting from the environment or the config file).
struct CLIError: Error, CustomStringConvertible, Sendable, Equatable {
    var message: String
    var exitCode: Int32
    /// A passing condition (collector down or busy) that `watch` rides out.
    var retryable = false

    var description: String { message }

    static func failure(_ message: String, retryable: Bool = false) -> CLIError {
        CLIError(message: message, exitCode: 1, retryable: retryable)
    }

    static func usage(_ message: String) -> CLIError {
        CLIError(message: message, exitCode: 2)
    }
}
