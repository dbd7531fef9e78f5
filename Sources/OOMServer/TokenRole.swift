// Server-only: which API calls a collector token may make. The agent and the CLI only
// send a token; the collector alone gives it a role (tokens file, auth checks).

/// What a token may do.
public enum TokenRole: String, Codable, Sendable, CaseIterable {
    /// May ingest only.
    case agent
    /// May query only.
    case read
    /// May do both.
    case admin

    /// Whether this role may post `POST /api/v1/ingest`.
    public var canIngest: Bool { self == .agent || self == .admin }
    /// Whether this role may call the query API.
    public var canQuery: Bool { self == .read || self == .admin }
}
