public import CurlHTTP
import Gzip
import HostSupport
public import Logging
public import OOMKit

/// Posts ingest batches to `{collector}/api/v1/ingest` over libcurl.
public struct Uploader: Sendable {
    public enum Result: Sendable, Equatable {
        case delivered(IngestResult?)
        /// Network error, timeout, 5xx or 429: try the same batch again later.
        case retry(retryAfter: Double?, reason: String)
        /// 400, 413 or 422: the collector calls this batch malformed and will never take it.
        case rejected(status: Int, reason: String)
        /// 401, 403 or another answer that means the agent is misconfigured (wrong token,
        /// wrong URL): nothing is wrong with the batch, keep it and try again later.
        case refused(status: Int, reason: String)
        /// 409: the collector does not hold the process details the batch named by
        /// reference (a new database, another collector): send it again in full.
        case fullFormRequired(reason: String)
    }

    /// Statuses that condemn the batch itself; every other 4xx is about the agent's setup.
    public static let malformedStatuses: Set<Int> = [400, 413, 422]
    /// The largest collector answer the agent reads; the uploader's client is built with it.
    public static let maxResponseBytes = 64 * 1024

    public let url: String
    /// The collector's harmless agent-token probe (`oomwatch-agent check`).
    public let checkURL: String
    public let tokenFile: String?
    public let gzipMinBytes: Int
    private let client: CurlHTTPClient
    private let logger: Logger

    public init(
        collector: String, tokenFile: String?, options: HTTPClientOptions, gzipMinBytes: Int = 1024,
        logger: Logger
    ) {
        var base = collector
        while base.hasSuffix("/") { base.removeLast() }
        url = base + "/api/v1/ingest"
        checkURL = base + "/api/v1/agent/check"
        self.tokenFile = tokenFile
        self.gzipMinBytes = gzipMinBytes
        client = CurlHTTPClient(options: options)
        self.logger = logger
    }

    /// The token, read fresh each time so a rotated file takes effect without a restart.
    func token() -> String? {
        guard let tokenFile, let bytes = try? FileIO.readAll(tokenFile) else { return nil }
        let t = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
            .first.map { String($0.filter { $0 != " " && $0 != "\t" }) }
        return (t?.isEmpty ?? true) ? nil : t
    }

    /// Sends one JSON body (an `IngestBatch`), gzip-compressed above `gzipMinBytes`.
    public func send(json: [UInt8]) async -> Result {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        var body = json
        if json.count > gzipMinBytes, let compressed = try? Gzip.compress(json) {
            body = compressed
            headers.append(("Content-Encoding", "gzip"))
        }
        if let token = token() {
            headers.append(("Authorization", "Bearer " + token))
        } else if let tokenFile {
            // Sending without the token would earn a 401 and dead-letter good data: wait
            // for the operator to fix the file instead.
            return .retry(retryAfter: nil, reason: "cannot read the token file \(tokenFile)")
        }
        let response: HTTPResponse
        do {
            response = try await client.send(HTTPRequest(method: "POST", url: url, headers: headers, body: body))
        } catch {
            return .retry(retryAfter: nil, reason: error.message)
        }
        let answer = CollectorAnswer(
            status: response.status, headers: response.headers, body: response.body,
            nowEpochSeconds: Double(HostClock.nowMicros()) / 1e6)
        switch response.status {
        case 200..<300:
            return .delivered(answer.result)
        case 429, 500..<600:
            return .retry(retryAfter: answer.retryAfter, reason: "HTTP \(response.status)" + Self.message(answer))
        case 409:
            return .fullFormRequired(reason: "HTTP 409" + Self.message(answer))
        case let status where Self.malformedStatuses.contains(status):
            return .rejected(status: status, reason: "HTTP \(status)" + Self.message(answer))
        default:
            return .refused(status: response.status, reason: "HTTP \(response.status)" + Self.message(answer))
        }
    }

    /// `GET /api/v1/agent/check` with the agent's token: the collector answers 200 only to
    /// a token that may ingest. Throws the transport error (unreachable, TLS).
    public func probe() async throws(HTTPClientError) -> HTTPResponse {
        var headers: [(name: String, value: String)] = []
        if let token = token() { headers.append(("Authorization", "Bearer " + token)) }
        return try await client.send(HTTPRequest(method: "GET", url: checkURL, headers: headers))
    }

    /// The collector's `{"error": {"message": …}}`, when there is one.
    static func message(_ answer: CollectorAnswer) -> String {
        answer.message.map { ": " + $0 } ?? ""
    }

    /// The same, for a raw response (the preflight's probe).
    static func message(_ response: HTTPResponse) -> String {
        message(
            CollectorAnswer(
                status: response.status, headers: response.headers, body: response.body,
                nowEpochSeconds: Double(HostClock.nowMicros()) / 1e6))
    }
}

/// Builds an `IngestBatch` JSON body straight from spooled records: they are already JSON,
/// so nothing is decoded and re-encoded (unless processes go by reference).
public enum BatchBody {
    /// The same body with the processes the collector holds sent by reference, snapshots
    /// as deltas, and `agent` left out when the collector acknowledged the same already
    /// (`ProcessReferences`); what went out is noted in `sent`.
    public static func make(
        host: String, bootID: String?, agent: AgentInfo, records: [SpoolRecord],
        references: ProcessReferences, sent: inout ProcessReferences.Sent
    ) -> [UInt8] {
        sent.agent = agent
        let reader = JSONReader()
        let writer = JSONWriter()
        let shortened = records.map { r -> SpoolRecord in
            guard r.kind == .snapshot, let s = try? reader.decode(MemorySnapshot.self, from: r.payload),
                let payload = try? writer.encode(references.shorten(s, sent: &sent))
            else { return r }
            var out = r
            out.payload = payload
            return out
        }
        return make(
            host: host, bootID: bootID, agent: references.holds(agent) ? nil : agent, records: shortened)
    }

    /// The body; `agent` nil leaves it out (the collector keeps what it has).
    public static func make(
        host: String, bootID: String?, agent: AgentInfo?, records: [SpoolRecord]
    ) -> [UInt8] {
        let writer = JSONWriter()
        var out: [UInt8] = []
        out.reserveCapacity(records.reduce(256) { $0 + $1.payload.count + 1 })
        out += Array(#"{"host":"#.utf8)
        // Strings always encode; an AgentInfo only fails on a non-finite interval.
        if (try? writer.encode(host, into: &out)) == nil { out += Array("\"\"".utf8) }
        if let bootID {
            out += Array(#","boot_id":"#.utf8)
            if (try? writer.encode(bootID, into: &out)) == nil { out += Array("null".utf8) }
        }
        if let agent {
            out += Array(#","agent":"#.utf8)
            if (try? writer.encode(agent, into: &out)) == nil { out += Array("null".utf8) }
        }
        for (name, kind) in [("snapshots", SpoolRecord.Kind.snapshot), ("events", .event)] {
            out += Array(",\"\(name)\":[".utf8)
            var first = true
            for r in records where r.kind == kind {
                if !first { out.append(44) }
                out += r.payload
                first = false
            }
            out.append(93)
        }
        out.append(125)
        return out
    }
}
