import CurlHTTP
import Foundation
import Gzip
import Testing

/// The libcurl client against a real HTTP server on loopback (Python's http.server).
@Suite(.serialized) struct CurlHTTPClientTests {
    /// A throwaway server: echoes method, path, headers and body as JSON; `/status/N`
    /// answers N; `/slow` never answers in time.
    final class EchoServer {
        let process = Process()
        let port: Int

        init() throws {
            let script = """
                import http.server, json, sys, time, socketserver
                class H(http.server.BaseHTTPRequestHandler):
                    protocol_version = "HTTP/1.1"
                    def log_message(self, *a): pass
                    def handle_one(self):
                        n = int(self.headers.get("Content-Length") or 0)
                        body = self.rfile.read(n) if n else b""
                        if self.path == "/slow":
                            time.sleep(30)
                        status = int(self.path.split("/")[2]) if self.path.startswith("/status/") else 200
                        out = json.dumps({"method": self.command, "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body_len": len(body), "body_head": body[:64].hex(),
                            "conn": self.client_address[1]}).encode()
                        self.send_response(status)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Retry-After", "7")
                        self.send_header("Content-Length", str(len(out)))
                        self.end_headers()
                        self.wfile.write(out)
                    do_GET = do_POST = do_PUT = handle_one
                class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
                    daemon_threads = True
                s = S(("127.0.0.1", 0), H)
                with open(sys.argv[1] + ".tmp", "w") as f:
                    f.write(str(s.server_address[1]))
                import os
                os.rename(sys.argv[1] + ".tmp", sys.argv[1])
                s.serve_forever()
                """
            let portFile = FileManager.default.temporaryDirectory
                .appendingPathComponent("oomw-echo-\(UUID().uuidString)").path
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script, portFile]
            try process.run()
            var port: Int? = nil
            // Up to 30 s: python's start-up is slow on a loaded CI machine.
            for _ in 0..<600 where port == nil {
                if let text = try? String(contentsOfFile: portFile, encoding: .utf8) {
                    port = Int(text)
                } else {
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
            try? FileManager.default.removeItem(atPath: portFile)
            guard let port else {
                process.terminate()
                throw CocoaError(.fileReadCorruptFile)
            }
            self.port = port
        }

        deinit {
            // Not waitUntilExit(): it spins a run loop and can hang on a test thread.
            kill(process.processIdentifier, SIGKILL)
        }

        func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
    }

    private func json(_ response: HTTPResponse) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
    }

    @Test func postsBodyAndHeadersAndReadsResponse() async throws {
        let server = try EchoServer()
        let client = CurlHTTPClient()
        let body = try Gzip.compress(Array(String(repeating: "{\"a\":1}", count: 500).utf8))
        let response = try await client.send(
            HTTPRequest(
                method: "POST", url: server.url("/api/v1/ingest"),
                headers: [("Authorization", "Bearer s3cret"), ("Content-Encoding", "gzip")], body: body))
        #expect(response.status == 200)
        #expect(response.header("Retry-After") == "7")
        let echoed = try json(response)
        #expect(echoed["method"] as? String == "POST")
        #expect(echoed["body_len"] as? Int == body.count)
        let headers = echoed["headers"] as? [String: String] ?? [:]
        #expect(headers["authorization"] == "Bearer s3cret")
        #expect(headers["content-encoding"] == "gzip")
        #expect((echoed["body_head"] as? String)?.hasPrefix("1f8b") == true)
    }

    @Test func anyStatusIsAResponse() async throws {
        let server = try EchoServer()
        let client = CurlHTTPClient()
        for status in [201, 400, 429, 500, 503] {
            let response = try await client.send(HTTPRequest(url: server.url("/status/\(status)")))
            #expect(response.status == status)
        }
    }

    @Test func keepsTheConnectionAlive() async throws {
        let server = try EchoServer()
        let client = CurlHTTPClient()
        var ports = Set<Int>()
        for _ in 0..<5 {
            let response = try await client.send(HTTPRequest(url: server.url("/")))
            ports.insert(try json(response)["conn"] as? Int ?? -1)
        }
        #expect(ports.count == 1)
    }

    @Test func refusedConnectionIsATransportError() async throws {
        let client = CurlHTTPClient(options: HTTPClientOptions(connectTimeoutSeconds: 2))
        do {
            _ = try await client.send(HTTPRequest(url: "http://127.0.0.1:9/"))
            Issue.record("connecting to a closed port succeeded")
        } catch {
            #expect(error.kind == .connect)
            #expect(error.message.contains("127.0.0.1"))
        }
    }

    @Test func hangingServerTimesOut() async throws {
        let server = try EchoServer()
        let client = CurlHTTPClient(options: HTTPClientOptions(totalTimeoutSeconds: 0.5))
        let start = ContinuousClock.now
        do {
            _ = try await client.send(HTTPRequest(url: server.url("/slow")))
            Issue.record("a hanging request returned")
        } catch {
            #expect(error.kind == .timeout)
        }
        // The server answers after 30 s; a timeout long before that proves the
        // 0.5 s budget held, with room for a loaded CI machine.
        #expect(ContinuousClock.now - start < .seconds(15))
    }

    @Test func tlsVerificationIsOnByDefault() {
        #expect(HTTPClientOptions().verifyTLS)
    }
}
