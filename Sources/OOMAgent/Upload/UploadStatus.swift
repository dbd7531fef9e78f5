public import OOMKit

/// The last upload's outcome, kept in `<state>/upload-status.json` so `oomwatch-agent
/// spool status` can say why records are waiting.
public struct UploadStatus: Codable, Sendable, Equatable {
    public var time: String
    public var collector: String
    public var ok: Bool
    /// The HTTP status, 0 when no answer came (network, TLS, token file).
    public var status: Int
    public var reason: String
    /// What the operator should do, when the agent knows.
    public var fix: String?

    public init(time: String, collector: String, ok: Bool, status: Int, reason: String, fix: String? = nil) {
        self.time = time
        self.collector = collector
        self.ok = ok
        self.status = status
        self.reason = reason
        self.fix = fix
    }

    /// The operator's next step for an answer that means the agent is misconfigured.
    public static func fix(status: Int, tokenFile: String?) -> String {
        let file = tokenFile ?? "token_file"
        switch status {
        case 401:
            return
                "put a token the collector accepts in \(file) (one listed in its tokens file with role agent or admin); "
                + "the agent re-reads the file before every try"
        case 403:
            return "the token in \(file) is valid but may not ingest for this host: use an agent or admin token "
                + "(bound to this host name, if bound)"
        case 404, 405:
            return "set collector to the collector's base URL, e.g. https://oomwatch.example:8443 (no path)"
        default:
            return "check the collector URL and the collector's log"
        }
    }

    /// Reads `path`; `nil` when absent or unreadable.
    public static func load(_ path: String) -> UploadStatus? {
        guard let bytes = try? FileIO.readAll(path) else { return nil }
        return try? JSONReader().decode(UploadStatus.self, from: bytes)
    }
}

/// Lets a repeated error through once per `interval` seconds (an unfixed token would
/// otherwise log on every backoff step, or not at all after the first).
public struct LogThrottle: Sendable {
    public var interval: Double
    private var last: Double?

    public init(interval: Double = 60) { self.interval = interval }

    public mutating func due(now: Double) -> Bool {
        if let last, now - last < interval { return false }
        last = now
        return true
    }
}
