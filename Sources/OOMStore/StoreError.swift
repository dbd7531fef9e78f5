/// What can go wrong in the store, in terms a caller can act on. The HTTP edge maps
/// these to status codes; nothing here knows about HTTP.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Too many writes are queued: try again after a short pause.
    case overloaded
    /// The database stayed locked past the busy timeout: try again.
    case busy
    /// The data broke a schema constraint (a bug in validation, or hostile input).
    case rejected(String)
    /// No such host or event.
    case notFound(String)
    /// An opaque cursor that this collector did not hand out.
    case invalidCursor
    /// The database's file system is full: nothing was written; retry once space is freed.
    case diskFull
    /// The database failed (I/O error, corruption): see the logs.
    case failed(String)
    /// The caller was cancelled while its write was queued or running; the write goes on
    /// and may or may not be committed (a re-send is idempotent).
    case cancelled
    /// This store does not offer the operation (yet): the message says which store does.
    case unsupported(String)

    public var description: String {
        switch self {
        case .overloaded: "too many writes queued; retry shortly"
        case .busy: "database busy; retry shortly"
        case .rejected(let m): "rejected by the database: \(m)"
        case .notFound(let m): "not found: \(m)"
        case .invalidCursor: "cursor: not a cursor returned by this collector"
        case .diskFull: "database disk full; retry once space is freed"
        case .failed(let m): "database error: \(m)"
        case .cancelled: "cancelled while writing; the batch may have been stored"
        case .unsupported(let m): m
        }
    }
}
