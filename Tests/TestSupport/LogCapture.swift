public import Logging
import Synchronization

/// Every line logged, message then metadata, as a text handler would write it (tests that
/// check what reaches the log).
public final class LogLines: Sendable {
    private let stored = Mutex<[String]>([])

    public init() {}

    public func append(_ line: String) { stored.withLock { $0.append(line) } }

    /// The lines so far, in order.
    public var all: [String] { stored.withLock { $0 } }
}

/// A handler that writes each entry to `lines`: the message, then `key=value` metadata
/// sorted by key.
public struct LineLogHandler: LogHandler {
    public let lines: LogLines
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info

    public init(lines: LogLines) { self.lines = lines }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        let fields = (metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        lines.append(([message.description] + fields).joined(separator: " "))
    }
}
