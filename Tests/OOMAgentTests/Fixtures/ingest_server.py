"""A scripted stand-in collector for the uploader tests (127.0.0.1 only).

The first path segment picks the answer: /ok 200, /fail 500, /busy 429 + Retry-After: 2,
/bad 400, /hang never answers in time, /flaky 500 twice then 200, /auth 401 unless the
token is "good-token" (then 200), /forbid 403, /nowhere 404, /unprocessable 422,
/toolarge 413. Every request is logged as one JSON line to the file named on the command
line.
"""
import gzip, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log_path = sys.argv[1]
lock = threading.Lock()
counts = {}

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        mode = self.path.strip("/").split("/")[0]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        raw_len = len(body)
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        batch = json.loads(body)
        with lock:
            counts[mode] = counts.get(mode, 0) + 1
            n = counts[mode]
            with open(log_path, "a") as f:
                f.write(json.dumps({
                    "mode": mode, "path": self.path, "n": n,
                    "encoding": self.headers.get("Content-Encoding"),
                    "auth": self.headers.get("Authorization"),
                    "type": self.headers.get("Content-Type"),
                    "raw_len": raw_len, "len": len(body),
                    "events": len(batch.get("events", [])),
                    "snapshots": len(batch.get("snapshots", [])),
                    "host": batch.get("host"), "agent": batch.get("agent"),
                }) + "\n")
        if mode == "hang":
            time.sleep(30)
            return
        auth_ok = self.headers.get("Authorization") == "Bearer good-token"
        if mode == "auth" and not auth_ok:
            self.answer(401, {"error": {"message": "invalid token"}})
            return
        statuses = {"forbid": (403, "this read token may not ingest"), "nowhere": (404, "not found"),
                    "unprocessable": (422, "events[0].victim.pid: must be positive"),
                    "toolarge": (413, "body larger than 8388608 bytes")}
        if mode in statuses:
            status, message = statuses[mode]
            self.answer(status, {"error": {"message": message}})
            return
        if mode in ("ok", "auth") or (mode == "flaky" and n > 2):
            self.answer(200, {"events_stored": len(batch.get("events", [])), "events_duplicate": 0,
                              "snapshots_stored": len(batch.get("snapshots", []))})
        elif mode == "busy":
            self.answer(429, {"error": {"message": "slow down"}}, {"Retry-After": "2"})
        elif mode == "bad":
            self.answer(400, {"error": {"message": "bad field victim.pid"}})
        else:
            self.answer(500, {"error": {"message": "database locked"}})

    def answer(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
