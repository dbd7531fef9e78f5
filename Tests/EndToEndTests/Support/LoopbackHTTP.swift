import Foundation
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Just enough HTTP/1.0 over a plain socket to poll `/healthz` and read `/metrics` on
/// 127.0.0.1 without pulling an HTTP client into the test target.
enum LoopbackHTTP {
    struct Response {
        var status: Int
        var body: String
    }

    /// GET `path` from 127.0.0.1:`port`; nil when nothing answers (refused, reset, timeout).
    static func get(port: Int, path: String, token: String? = nil) -> Response? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // A stuck server must not hang the test: two seconds per read or write.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = Loopback.address(port: port)
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return nil }
        var request = "GET \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else { return nil }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { return nil }
            if n == 0 { break }
            received += buffer[0..<n]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n", maxSplits: 1).first else { return nil }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return Response(status: status, body: body)
    }
}

/// Sums of Prometheus samples by metric name, ignoring labels.
enum PrometheusText {
    static func sums(_ text: String) -> [String: Double] {
        var sums: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            // Label values may hold spaces; the value is the first field after the labels.
            let rest = line.lastIndex(of: "}").map { line[line.index(after: $0)...] } ?? line.dropFirst(name.count)
            guard let field = rest.split(separator: " ").first, let value = Double(field) else { continue }
            sums[name, default: 0] += value
        }
        return sums
    }
}
