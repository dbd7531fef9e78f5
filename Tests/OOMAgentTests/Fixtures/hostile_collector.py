"""A hostile stand-in collector (127.0.0.1 only) for the agent's response handling.

The first path segment picks the attack:
  /retry-year   503 with Retry-After: an HTTP date in the year 99999999999999
  /retry-hour   503 with Retry-After: an HTTP date at hour 9999999999999999
  /retry-digits 429 with Retry-After: 400 digits of delta-seconds
  /huge-body    200 with a 60 MB body (sent in 1 MB writes)
  /many-headers 200 with 4,000 headers of 100 bytes
  /escape-body  400 whose error message holds ESC, BEL and an OSC 52 clipboard write
  /retry-escape 503 whose Retry-After holds an OSC 52 clipboard write
  /redirect     307 to /steal, which would answer 200 (a client following it sends the
                batch and its token elsewhere)
  /alerts-escape  the alert endpoints, with a receiver's last error (the text a receiver
                answered) holding an OSC 52 clipboard write, a screen clear and a bidi override
(The CLI tests use it too: a stand-in collector answering the CLI's queries.)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer()

    def do_GET(self):
        self.answer()

    def answer(self):
        mode = self.path.strip("/").split("/")[0]
        body = b'{"error":{"message":"busy"}}'
        headers = []
        status = 503
        if mode == "retry-year":
            headers.append(("Retry-After", "Sun, 06 Nov 99999999999999 08:49:37 GMT"))
        elif mode == "retry-hour":
            headers.append(("Retry-After", "Sun, 06 Nov 1994 9999999999999999:49:37 GMT"))
        elif mode == "retry-escape":
            headers.append(("Retry-After", "\x1b]52;c;cm0gLXJmIH4=\x07 5"))
        elif mode == "redirect":
            status = 307
            headers.append(("Location", "/steal/api/v1/ingest"))
        elif mode == "steal":
            status = 200
            body = b'{"events_stored":0,"events_duplicate":0,"snapshots_stored":0}'
        elif mode == "retry-digits":
            status = 429
            headers.append(("Retry-After", "9" * 400))
        elif mode == "huge-body":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(60 << 20))
            self.end_headers()
            chunk = b" " * (1 << 20)
            try:
                for _ in range(60):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        elif mode == "many-headers":
            status = 200
            body = b'{"events_stored":1,"events_duplicate":0,"snapshots_stored":0}'
            headers += [("X-Pad-%d" % i, "p" * 90) for i in range(4000)]
        elif mode == "alerts-escape":
            status = 200
            error = "HTTP 500: \x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J java\u202egnp.exe"
            if self.command == "POST":
                body = json.dumps({"id": 7, "receiver": "hook"}).encode()
            else:
                body = json.dumps({
                    "receivers": [{"receiver": "hook", "sent": 0, "pending": 0, "failing": 1,
                                   "last_error": error}],
                    "notifications": [{"id": 7, "kind": "test", "receiver": "hook", "state": "failing",
                                       "host": "web-1", "event_id": "test-7", "comm": "-",
                                       "created": "2026-01-01T00:00:00Z", "attempts": 1,
                                       "last_error": error}],
                }).encode()
        elif mode == "escape-body":
            status = 400
            body = b'{"error":{"message":"bad \\u001b[2J\\u0007\\u001b]52;c;cm0gLXJmIH4=\\u0007 field"}}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
