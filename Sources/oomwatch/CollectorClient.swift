import CurlHTTP
import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The collector's query API, with every failure turned into a one-line `CLIError` that
/// says what happened and what to do.
struct CollectorClient: Sendable {
    var server: String
    var token: String?
    var http: CurlHTTPClient

    /// The largest answer read: a page of 1,000 events with long raw reports fits many
    /// times over; a hostile server cannot make the CLI buffer more.
    static let maxResponseBytes = 32 << 20

    init(settings: Settings) {
        self.server = settings.server
        self.token = settings.token
        self.http = CurlHTTPClient(
            options: HTTPClientOptions(
                caFile: settings.caFile, connectTimeoutSeconds: min(5, settings.timeoutSeconds),
                totalTimeoutSeconds: settings.timeoutSeconds, maxResponseBytes: Self.maxResponseBytes))
    }

    /// GETs `path` with `query` (nil values left out) and decodes the answer as `T`.
    /// `notFound` is the message for a 404 (an unknown event id).
    func get<T: Decodable>(
        _ path: String, query: [(String, String?)] = [], as type: T.Type, notFound: String? = nil
    ) async throws(CLIError) -> T {
        let url = Self.url(server: server, path: path, query: query)
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(method: "GET", url: url, headers: headers))
        } catch {
            throw Self.transportError(error, server: server)
        }
        guard response.status == 200 else {
            throw Self.error(for: response, server: server, hadToken: token != nil, notFound: notFound)
        }
        do {
            return try JSONReader().decode(T.self, from: response.body)
        } catch {
            throw .failure(
                "the server at \(server) did not answer \(path) like an oomwatch collector: \(Self.decodingSummary(error))"
            )
        }
    }

    /// A decoding failure in a few words: which field, and what was wrong with it.
    static func decodingSummary(_ error: JSONCodingError) -> String {
        let field = error.path.isEmpty ? "the body" : (error.path.hasPrefix("[") ? "" : ".") + error.path
        switch error.kind {
        case .invalidJSON, .duplicateKey:
            return "the body is not JSON"
        case .keyNotFound:
            return "\(field) is missing"
        case .typeMismatch, .valueNotFound:
            return "\(field) has the wrong type"
        case .dataCorrupted, .invalidValue, .other:
            return error.path.isEmpty ? "the body is not JSON" : "\(field) is malformed"
        }
    }

    /// `server` + `path` + the query, values percent-encoded.
    static func url(server: String, path: String, query: [(String, String?)]) -> String {
        var url = server + path
        var separator = "?"
        for (name, value) in query {
            guard let value else { continue }
            url += separator + percentEncoded(name) + "=" + percentEncoded(value)
            separator = "&"
        }
        return url
    }

    /// RFC 3986 unreserved characters kept, everything else `%XX`.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
            }
        }
        return out
    }

    static func transportError(_ error: HTTPClientError, server: String) -> CLIError {
        // libcurl's message starts with the full request URL; the server URL is enough.
        var detail = error.message
        if detail.hasPrefix(server), let colon = detail.firstRange(of: ": ") {
            detail = String(detail[colon.upperBound...])
        }
        let error = HTTPClientError(kind: error.kind, message: detail)
        switch error.kind {
        case .connect:
            return .failure("cannot reach the collector at \(server): \(error.message)", retryable: true)
        case .timeout:
            return .failure(
                "the collector at \(server) did not answer in time (raise --timeout if it is just slow): \(error.message)",
                retryable: true)
        case .tls:
            return .failure("TLS failure talking to \(server) (check --ca-file): \(error.message)")
        case .tooLarge:
            return .failure(
                "the collector at \(server) sent an answer larger than \(maxResponseBytes >> 20) MB; narrow the query (--since, --limit, --host)"
            )
        case .other:
            return .failure("request to the collector at \(server) failed: \(error.message)")
        }
    }

    /// The error for a non-200 answer, worded for the person at the terminal.
    static func error(for response: HTTPResponse, server: String, hadToken: Bool, notFound: String?) -> CLIError {
        let detail = serverMessage(response.body)
        let suffix = detail.map { ": \($0)" } ?? ""
        switch response.status {
        case 401 where !hadToken:
            return .failure(
                "no token: the collector at \(server) needs a read token; pass --token, set OOMWATCH_TOKEN or put token: in the config file"
            )
        case 401:
            return .failure("the collector at \(server) rejected the token (401)\(suffix)")
        case 403:
            return .failure(
                "the token may not read from the collector at \(server) (403): use a token with the read or admin role\(suffix)"
            )
        case 404 where notFound != nil:
            return .failure(notFound!)
        case 429, 503:
            // Parsed, not echoed: the header is the server's text, not the terminal's.
            let now = Date().timeIntervalSince1970
            let retry =
                response.header("retry-after").flatMap { RetryAfter.seconds($0, nowEpochSeconds: now) }
                .map { "; retry after \(Int(min($0, 86_400)))s" } ?? ""
            return .failure("the collector at \(server) is busy (\(response.status))\(suffix)\(retry)", retryable: true)
        default:
            return .failure("the collector at \(server) answered \(response.status)\(suffix)")
        }
    }

    /// `error.message` of an `{"error": {"message": …}}` body, or a short plain-text body.
    static func serverMessage(_ body: [UInt8]) -> String? {
        if let decoded = try? JSONReader().decode(APIErrorBody.self, from: body) {
            return TextWidth.sanitized(decoded.error.message)
        }
        let text = TextWidth.sanitized(String(decoding: body.prefix(200), as: UTF8.self))
        let trimmed = text.drop(while: { $0 == " " })
        return trimmed.isEmpty || trimmed.hasPrefix("<") ? nil : String(trimmed)
    }
}
