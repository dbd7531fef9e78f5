import Hummingbird
import OOMStore

/// Store errors become HTTP statuses here and only here.
extension Collector {
    /// Runs a store call, mapping its errors to HTTP.
    func store<T: Sendable>(_ body: (any CollectorStore) async throws -> T) async throws -> T {
        do {
            return try await body(store)
        } catch let error as StoreError {
            throw httpError(error)
        }
    }

    /// The answer for a store error; counts it in the metrics it belongs to.
    func httpError(_ error: StoreError) -> HTTPError {
        switch error {
        case .overloaded:
            metrics.overloaded()
            return HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "1"],
                message: "collector busy; retry later")
        case .busy:
            metrics.databaseError()
            return HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "1"],
                message: "database busy; retry later")
        case .diskFull:
            // Nothing was committed; the agent keeps the batch spooled and retries.
            metrics.databaseError()
            logger.error("database disk full")
            return HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "5"],
                message: "collector storage full; retry later")
        case .rejected(let m):
            return HTTPError(.badRequest, message: m)
        case .notFound(let m):
            return HTTPError(.notFound, message: "not found: \(m)")
        case .invalidCursor:
            return HTTPError(.badRequest, message: error.description)
        case .cancelled:
            // The client went away; nobody reads this, and a retry is idempotent.
            return HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "1"],
                message: "request cancelled; retry")
        case .unsupported(let m):
            return HTTPError(.notImplemented, message: m)
        case .failed(let m):
            metrics.databaseError()
            logger.error("database failure", metadata: ["error": "\(m)"])
            return HTTPError(.internalServerError, message: "database error")
        }
    }
}
