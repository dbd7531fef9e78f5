import Gzip
import Hummingbird
import OOMKit
import OOMStore

/// `POST /api/v1/ingest` and the agent's preflight `GET /api/v1/agent/check` (agent or
/// admin token).
///
/// An ingest is one flow, read top to bottom in ``ingest(_:context:)``: body (size,
/// time, gzip), decode and validate, the token's host binding, one store transaction,
/// metrics. Every failure goes through one mapping, ``failed(_:)``, which labels it in
/// `oomwatch_ingest_batches_failed_total` and turns it into the answer.
struct IngestController {
    let collector: Collector

    func addRoutes(to group: RouterGroup<CollectorRequestContext>) {
        group.post("ingest", use: ingest)
            .get("agent/check", use: check)
    }

    /// A batch refused for its host: the token is bound to other hosts.
    struct HostNotAllowed: Error {
        var host: String
        var token: TokenEntry
    }

    /// A batch naming processes by reference, or a base snapshot, that this collector does
    /// not hold (a new database, another collector): the agent sends the full form again.
    struct FullFormRequired: Error {
        /// The first field path whose reference could not be resolved.
        var field: String
    }

    @Sendable func ingest(_ request: Request, context: CollectorRequestContext) async throws -> IngestResult {
        let started = ContinuousClock.now
        let token = try context.requireToken()
        let limits = collector.configuration.limits
        do {
            let bytes = try await body(request)
            var batch: IngestBatch
            do {
                batch = try IngestValidator.decode(bytes, limits: limits)
                try IngestValidator.validate(batch, limits: limits, nowMicroseconds: nowMicroseconds())
            } catch {
                throw HTTPError(.badRequest, message: error.message)
            }
            guard token.mayWrite(host: batch.host) else { throw HostNotAllowed(host: batch.host, token: token) }
            // The pace this answer asks for is the host's upload interval from now on: stored
            // with this batch, so the host is not called stale before its next post says so.
            let pace = collector.pacer.pace(host: batch.host)
            if let pace, let reported = batch.agent?.uploadIntervalS, reported < pace {
                batch.agent?.uploadIntervalS = pace
            }
            if let missing = try await collector.store.resolveProcessReferences(&batch) {
                throw FullFormRequired(field: missing)
            }
            let outcome = try await collector.store.ingest(batch)
            let elapsed = ContinuousClock.now - started
            collector.metrics.ingested(
                stored: outcome.eventsStored, duplicate: outcome.eventsDuplicate,
                snapshots: outcome.snapshotsStored,
                seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            if outcome.eventsStored > 0 {
                collector.logger.info(
                    "stored OOM events",
                    metadata: [
                        "host.name": "\(LogText.escaped(batch.host))",
                        "events.stored": "\(outcome.eventsStored)",
                    ])
            }
            var result = outcome.result
            result.processRefs = true
            result.snapshotDeltas = collector.store.acceptsSnapshotDeltas
            result.uploadIntervalS = pace
            return result
        } catch {
            throw failed(error)
        }
    }

    /// The request body, at most `maxBodyBytes` after gzip decoding.
    func body(_ request: Request) async throws -> [UInt8] {
        let limit = collector.configuration.maxBodyBytes
        let bytes = try await collector.readBody(request, limit: limit)
        collector.metrics.received(bodyBytes: bytes.count)
        switch request.headers[.contentEncoding]?.lowercased() {
        case nil, "identity":
            return bytes
        case "gzip", "x-gzip":
            do {
                return try Gzip.decompress(bytes, maxOutputBytes: limit)
            } catch {
                if error.kind == .tooLarge {
                    throw HTTPError(
                        .contentTooLarge, message: "body larger than \(limit) bytes after gzip decoding")
                }
                throw HTTPError(.badRequest, message: "body: not valid gzip (\(error.description))")
            }
        default:
            throw HTTPError(.unsupportedMediaType, message: "Content-Encoding: only gzip is accepted")
        }
    }

    /// The one error mapping of an ingest: counts the failure by kind and gives the answer.
    func failed(_ error: any Error) -> any Error {
        let metrics = collector.metrics
        switch error {
        case let error as StoreError:
            metrics.batchFailed(error == .overloaded ? "overloaded" : "error")
            return collector.httpError(error)
        case let refused as HostNotAllowed:
            metrics.authFailed()
            metrics.batchFailed("forbidden")
            let hosts = refused.token.hostGlob ?? "*"
            collector.logger.warning(
                "agent token used for another host",
                metadata: [
                    "host.name": "\(LogText.escaped(refused.host))", "token.name": "\(refused.token.name ?? "-")",
                    "token.hosts": "\(hosts)",
                ])
            return HTTPError(
                .forbidden, message: "host: this agent token may only send for hosts matching \(hosts)")
        case let refused as FullFormRequired:
            metrics.batchFailed("full_form_required")
            return HTTPError(
                .conflict,
                message: "\(refused.field): this collector does not hold what it names: send the full form")
        default:
            // Oversized, slow, badly encoded or invalid: the batch itself is wrong.
            metrics.batchFailed("invalid")
            return error
        }
    }

    /// The preflight: the same authorization as an ingest, storing nothing.
    @Sendable func check(_ request: Request, context: CollectorRequestContext) async throws -> AgentCheckResponse {
        let token = try context.requireToken()
        return AgentCheckResponse(
            role: token.role.rawValue, name: token.name,
            serverTime: RFC3339.format(epochMicroseconds: nowMicroseconds()))
    }
}

extension Collector {
    /// The whole body, refusing more than `limit` bytes (at once when Content-Length says
    /// so) or a sender too slow to finish within the body timeout.
    ///
    /// No timer of its own: the deadline is checked as each piece of the body arrives, and
    /// a sender that stops sending altogether is closed by the connection's idle timeout
    /// (`timeouts.idle_seconds`, which also runs while a body is read). A task group
    /// racing the read against a sleeping task cost every request two child tasks, a
    /// dispatch timer and its cancellation (issue 15, collector CPU per post).
    func readBody(_ request: Request, limit: Int) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + .milliseconds(Int64(configuration.bodyTimeoutSeconds * 1000))
        var bytes: [UInt8] = []
        if let length = request.headers[.contentLength].flatMap({ Int($0) }) {
            guard length <= limit else { throw HTTPError(.contentTooLarge, message: "body larger than \(limit) bytes") }
            bytes.reserveCapacity(max(length, 0))
        }
        for try await piece in request.body {
            guard bytes.count + piece.readableBytes <= limit else {
                throw HTTPError(.contentTooLarge, message: "body larger than \(limit) bytes")
            }
            bytes.append(contentsOf: piece.readableBytesView)
            guard ContinuousClock.now < deadline else {
                throw HTTPError(.requestTimeout, message: "body not received in time")
            }
        }
        return bytes
    }
}
