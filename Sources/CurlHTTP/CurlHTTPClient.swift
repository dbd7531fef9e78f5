internal import CCurl
import Dispatch

/// How a client connects: TLS material and timeouts.
public struct HTTPClientOptions: Sendable {
    /// PEM bundle of CAs to trust instead of the system's (a private CA).
    public var caFile: String?
    /// Client certificate and key (PEM) for mutual TLS.
    public var clientCertFile: String?
    public var clientKeyFile: String?
    /// Certificate and host name verification. On unless explicitly turned off.
    public var verifyTLS: Bool
    public var connectTimeoutSeconds: Double
    /// Upper bound for a whole request, connect included: a call never hangs forever.
    public var totalTimeoutSeconds: Double
    /// Responses larger than this are refused rather than buffered.
    public var maxResponseBytes: Int
    public var userAgent: String

    public init(
        caFile: String? = nil, clientCertFile: String? = nil, clientKeyFile: String? = nil,
        verifyTLS: Bool = true, connectTimeoutSeconds: Double = 5, totalTimeoutSeconds: Double = 30,
        maxResponseBytes: Int = 64 << 20, userAgent: String = "oomwatch"
    ) {
        self.caFile = caFile
        self.clientCertFile = clientCertFile
        self.clientKeyFile = clientKeyFile
        self.verifyTLS = verifyTLS
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.totalTimeoutSeconds = totalTimeoutSeconds
        self.maxResponseBytes = maxResponseBytes
        self.userAgent = userAgent
    }
}

/// One HTTP request.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    /// Header name/value pairs, sent in order.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?

    public init(
        method: String = "GET", url: String, headers: [(name: String, value: String)] = [],
        body: [UInt8]? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// One HTTP response. Any status is a response; only transport failures throw.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header values by lower-cased name (the last one wins when repeated).
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A header's value, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers[name.lowercased()]
    }
}

/// A request that produced no HTTP response: refused, unreachable, timed out, TLS failure.
public struct HTTPClientError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case connect, timeout, tls, tooLarge, other
    }
    public var kind: Kind
    /// libcurl's own words, e.g. "Failed to connect to 127.0.0.1 port 9 …".
    public var message: String
    public var description: String { message }

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
}

/// A small HTTP/1.1 client over libcurl, shared by the agent and the CLI.
///
/// Requests run one at a time on a private serial queue that owns a single curl handle,
/// so the connection is kept alive between requests and the blocking `curl_easy_perform`
/// never runs on Swift's cooperative thread pool.
public final class CurlHTTPClient: Sendable {
    private let options: HTTPClientOptions
    private let queue = DispatchQueue(label: "oomwatch.curl")
    private let handle: Handle

    public init(options: HTTPClientOptions = HTTPClientOptions()) {
        _ = Self.globalInit
        self.options = options
        self.handle = Handle()
    }

    /// Sends `request` and returns the response, whatever its status.
    public func send(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse {
        let result: Result<HTTPResponse, HTTPClientError> = await withCheckedContinuation {
            continuation in
            queue.async {
                continuation.resume(returning: self.perform(request))
            }
        }
        return try result.get()
    }

    /// curl_global_init is not thread-safe; a static let runs it exactly once.
    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    private func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPClientError> {
        guard let curl = handle.curl else {
            return .failure(HTTPClientError(kind: .other, message: "libcurl could not create a handle"))
        }
        // Reset keeps the connection cache, so keep-alive survives between requests.
        curl_easy_reset(curl)
        let sink = ResponseSink(limit: options.maxResponseBytes)
        let sinkPointer = Unmanaged.passRetained(sink)
        defer { sinkPointer.release() }

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        for header in request.headers {
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        // An empty Expect stops curl from waiting for `100 Continue` on larger bodies.
        headerList = curl_slist_append(headerList, "Expect:")
        defer { curl_slist_free_all(headerList) }

        oomw_curl_setopt_string(curl, CURLOPT_URL, request.url)
        oomw_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        oomw_curl_setopt_long(curl, CURLOPT_TCP_KEEPALIVE, 1)
        oomw_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(options.connectTimeoutSeconds))
        oomw_curl_setopt_long(curl, CURLOPT_TIMEOUT_MS, milliseconds(options.totalTimeoutSeconds))
        oomw_curl_setopt_string(curl, CURLOPT_USERAGENT, options.userAgent)
        oomw_curl_setopt_long(curl, CURLOPT_SSL_VERIFYPEER, options.verifyTLS ? 1 : 0)
        oomw_curl_setopt_long(curl, CURLOPT_SSL_VERIFYHOST, options.verifyTLS ? 2 : 0)
        if let caFile = options.caFile { oomw_curl_setopt_string(curl, CURLOPT_CAINFO, caFile) }
        if let cert = options.clientCertFile { oomw_curl_setopt_string(curl, CURLOPT_SSLCERT, cert) }
        if let key = options.clientKeyFile { oomw_curl_setopt_string(curl, CURLOPT_SSLKEY, key) }
        oomw_curl_setopt_slist(curl, CURLOPT_HTTPHEADER, headerList)

        switch request.method {
        case "GET":
            oomw_curl_setopt_long(curl, CURLOPT_HTTPGET, 1)
        case "HEAD":
            oomw_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
        case "POST":
            oomw_curl_setopt_long(curl, CURLOPT_POST, 1)
        default:
            oomw_curl_setopt_string(curl, CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            oomw_curl_setopt_off_t(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            // COPYPOSTFIELDS: curl keeps its own copy, so no Swift buffer must outlive this call.
            if body.isEmpty {
                oomw_curl_setopt_string(curl, CURLOPT_COPYPOSTFIELDS, "")
            } else {
                body.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { chars in
                        _ = oomw_curl_setopt_string(curl, CURLOPT_COPYPOSTFIELDS, chars.baseAddress)
                    }
                }
            }
        }
        oomw_curl_setopt_write_callback(curl, CURLOPT_WRITEFUNCTION, writeBody)
        oomw_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, sinkPointer.toOpaque())
        oomw_curl_setopt_write_callback(curl, CURLOPT_HEADERFUNCTION, writeHeader)
        oomw_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, sinkPointer.toOpaque())

        let code = curl_easy_perform(curl)
        guard code == CURLE_OK else {
            if sink.overflowed {
                return .failure(
                    HTTPClientError(
                        kind: .tooLarge,
                        message:
                            "response from \(request.url) is larger than \(options.maxResponseBytes) bytes "
                            + "(or has more than \(ResponseSink.headerLimit) bytes of headers)"))
            }
            return .failure(Self.error(code: code, url: request.url))
        }
        var status = 0
        oomw_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body))
    }

    private static func error(code: CURLcode, url: String) -> HTTPClientError {
        let text = String(cString: curl_easy_strerror(code))
        let kind: HTTPClientError.Kind
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            kind = .connect
        case CURLE_OPERATION_TIMEDOUT:
            kind = .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CERTPROBLEM:
            kind = .tls
        default:
            kind = .other
        }
        return HTTPClientError(kind: kind, message: "\(url): \(text)")
    }

    private func milliseconds(_ seconds: Double) -> Int {
        max(1, Int((seconds * 1000).rounded()))
    }
}

/// Owns the curl easy handle; touched only from the client's serial queue.
private final class Handle: @unchecked Sendable {
    let curl: UnsafeMutableRawPointer?

    init() {
        curl = curl_easy_init()
    }

    deinit {
        if let curl { curl_easy_cleanup(curl) }
    }
}

/// Collects one response's headers and body inside curl's callbacks.
private final class ResponseSink {
    /// Header bytes read across all of a response's header blocks: a server sending
    /// endless headers is cut off like one sending an endless body.
    static let headerLimit = 64 * 1024
    let limit: Int
    var body: [UInt8] = []
    var headers: [String: String] = [:]
    var headerBytes = 0
    var overflowed = false

    init(limit: Int) {
        self.limit = limit
    }
}

private func writeBody(
    _ pointer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?
) -> Int {
    guard let pointer, let userdata else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    let length = size * count
    guard sink.body.count + length <= sink.limit else {
        sink.overflowed = true
        return 0
    }
    pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        sink.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
    }
    return length
}

private func writeHeader(
    _ pointer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?
) -> Int {
    guard let pointer, let userdata else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    let length = size * count
    sink.headerBytes += length
    guard sink.headerBytes <= ResponseSink.headerLimit else {
        sink.overflowed = true
        return 0
    }
    let line = pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }
    if line.hasPrefix("HTTP/") {
        // A new response (after a redirect or `100 Continue`): forget the previous headers.
        sink.headers = [:]
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t\r\n")
        sink.headers[name] = value
    }
    return length
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        let trimmed = drop(while: { characters.contains($0) })
        return String(trimmed.reversed().drop(while: { characters.contains($0) }).reversed())
    }
}
