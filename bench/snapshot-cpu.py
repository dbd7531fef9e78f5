#!/usr/bin/env python3
"""Collector CPU per posted snapshot (issue 15 point 2: <= 0.25 ms).

Real snapshots of this machine (`oomwatch-agent snapshot`, with the churn of
bench/disk-sizing.py: RSS moves, counters grow, processes come and go) from HOSTS hosts,
posted as fast as CLIENTS connections can, in the batches the agents send. By default as
issue 15's fleet: 100,000 hosts at a 30 s interval, paced by the collector's defaults
(each agent asked to upload every 100 s: 3.33 snapshots a post). The collector's CPU is read from /proc/PID/stat (utime + stime) before
and after; the reference is a raw SQLite insert of the same rows (the gauge columns plus
the snapshot's JSON, one transaction per snapshot, WAL, synchronous=NORMAL) by Python's
sqlite3 in this process, its CPU from time.process_time().

With --form wire (the default) each snapshot is posted as the agent sends it to a
collector that acknowledged its previous batch: built by the agent's own body builder
(`oomwatch-agent wire-bytes`: processes by reference, the snapshot as a delta against the
host's previous one). A 409 (the previous one not committed yet: posts overlap) is
answered with the full form, as the agent does, and counted. --form full posts every
snapshot in full (what an agent sends after a restart, or to an older collector).

Bodies above 1 KiB go gzipped, as the agent's uploader sends them. Each client keeps its
connection alive, as the agent's libcurl does (--new-connections
opens one per post, as this bench did before: a TCP accept and close per snapshot).

    bench/snapshot-cpu.py [--bin DIR] [--snapshots 6000] [--hosts 30] [--clients 8] [--form wire|full]
                          [--new-connections] [--batch N | --fleet 100000 --interval 30] [--runs 3]
                          [--perf FILE]

Each of --runs runs starts a fresh collector, posts every body and then makes the raw
insert; the verdict is on the median of the runs (this 2-core box moves about 10 %
between runs of one binary).

--batch N posts N snapshots of a host at a time, unpaced: an agent whose `upload.interval`
is N times its snapshot interval (kills are still sent at once); --batch 1 is every
snapshot its own post, as without the collector's pace. A fraction alternates whole
sizes around it, as `oomwatch-agent wire-bytes` does (3.5: 3, 4, 3, 4...).

--fleet HOSTS --interval S posts as a fleet of HOSTS agents at an S-second snapshot
interval, paced by a collector with the default pace (`ingest.pace_posts_per_second`
1,000, `ingest.max_upload_interval_s` 120; --pace and --max-upload change them): each
agent uploads every max(its own upload interval, the pace asked), so a post carries that
over S snapshots. 100,000 hosts at 30 s are asked for 100 s: 3.33 snapshots a post.

DIR holds oomwatch-collector and oomwatch-agent (default: $OOMWATCH_BIN_DIR, else
.build/release, else .build/debug). Report the build mode with the number: a debug
collector spends several times the CPU of a release one.
"""
import argparse
import gzip
import http.client
import importlib.util
import json
import math
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("disk_sizing", os.path.join(HERE, "disk-sizing.py"))
ds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ds)
spec = importlib.util.spec_from_file_location("wire_bytes", os.path.join(HERE, "wire-bytes.py"))
wb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wb)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """CPU seconds by kind of collector thread: the database writer (GRDB's serial queue,
    a libdispatch overcommit thread), the request handlers (Swift's cooperative pool) and
    the network event loops (SwiftNIO)."""
    kinds = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kind = ("writer" if "overcommit" in name else "event loops" if name.startswith("NIO")
                else "handlers" if "default-qos" in name or "global" in name else "other")
        kinds[kind] = kinds.get(kind, 0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return kinds


def context_switches(pid):
    """Voluntary and involuntary context switches of all the collector's threads: each
    hop of a request between threads that finds the next one asleep costs a wake-up."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                total += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except OSError:
            continue
    return total


def cut(snaps, mean):
    """Each host's snapshots in posts of whole sizes averaging `mean`, as `oomwatch-agent
    wire-bytes` cuts them (WireBytes.BatchSizes): each size the whole part of what is due
    so far; a host's last post may be shorter."""
    groups, current, host, due = [], [], None, 0.0

    def next_size():
        nonlocal due
        due += max(mean, 1)
        size = int(due)
        due -= size
        return size

    size = next_size()
    for s in snaps:
        if s["host"] != host:
            if current:
                groups.append(current)
                current = []
                size = next_size()
            host = s["host"]
        current.append(s)
        if len(current) >= size:
            groups.append(current)
            current = []
            size = next_size()
    if current:
        groups.append(current)
    return groups


def post_all(port, wire, clients, new_connections=False):
    """Posts every (body, full form) of `wire` to 127.0.0.1:port from `clients` threads;
    a 409 is answered with the full form, as the agent does. Returns the 409s."""
    lock = threading.Lock()
    queue = list(reversed(wire))
    fallbacks = [0]
    failures = []
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + ds.TOKEN}

    def send(conn, body):
        h = headers
        # As the agent's uploader: gzip above 1 KiB.
        if len(body) > 1024:
            body = gzip.compress(body, 6)
            h = dict(headers, **{"Content-Encoding": "gzip"})
        if new_connections:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/ingest", data=body, method="POST", headers=h)
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    r.read()
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code
        conn.request("POST", "/api/v1/ingest", body=body, headers=h)
        r = conn.getresponse()
        r.read()
        return r.status

    def worker():
        try:
            work()
        except Exception as e:  # a worker's failure fails the bench, not just its thread
            failures.append(e)

    def work():
        # One kept-alive connection per client, as the agent's libcurl keeps one.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while not failures:
            with lock:
                if not queue:
                    return
                body, full = queue.pop()
            status = send(conn, body)
            if status == 409 and full is not None:
                with lock:
                    fallbacks[0] += 1
                status = send(conn, full)
            assert status == 200, f"ingest answered {status}"

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"snapshot-cpu: a post failed: {failures[0]}")
    return fallbacks[0]


def http_floor(wire, clients, new_connections):
    """CPU milliseconds a post costs bench/http-floor (a bare Hummingbird server that
    checks the token, reads the body and answers a constant: no decoding, no storage)
    for the same bodies, or None when it cannot be built."""
    package = os.path.join(HERE, "http-floor")
    binary = os.path.join(package, ".build", "release", "http-floor")
    if not os.path.exists(binary):
        print("building bench/http-floor (release, a few minutes the first time)...", file=sys.stderr)
        if subprocess.run(["swift", "build", "-c", "release", "--package-path", package],
                          stdout=subprocess.DEVNULL).returncode != 0:
            return None
    port = ds.free_port()
    proc = subprocess.Popen([binary, str(port), ds.TOKEN], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                break
            except OSError:
                time.sleep(0.05)
        cpu0 = cpu_seconds(proc.pid)
        post_all(port, [(body, None) for body, _ in wire], clients, new_connections)
        return (cpu_seconds(proc.pid) - cpu0) / len(wire) * 1000
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin")
    ap.add_argument("--snapshots", type=int, default=6000)
    ap.add_argument("--hosts", type=int, default=30)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--cmdline-max", type=int, default=200)
    ap.add_argument("--form", choices=("wire", "full"), default="wire")
    ap.add_argument("--batch", type=float,
                    help="snapshots per post, unpaced: 1 as an agent at upload.interval = interval; "
                         "6 with upload.interval: 60 at a 10 s interval")
    ap.add_argument("--fleet", type=int,
                    help="the fleet's size: posts as the collector paces it (without --batch: 100,000)")
    ap.add_argument("--interval", type=float, default=30,
                    help="the fleet's snapshot interval, seconds (default 30)")
    ap.add_argument("--pace", type=float, default=1000, help="the collector's ingest.pace_posts_per_second")
    ap.add_argument("--max-upload", type=float, default=120, help="the collector's ingest.max_upload_interval_s")
    ap.add_argument("--cache-hosts", type=int,
                    help="the collector's db.cache_hosts; below --hosts every post reads its host's newest "
                         "snapshot, process details and hour frame back from the database, as a fleet larger "
                         "than the cache does")
    ap.add_argument("--runs", type=int, default=3,
                    help="fresh collectors measured one after another; the verdict is on the median (default 3)")
    ap.add_argument("--perf", metavar="FILE",
                    help="record the collector with `perf record -g` into FILE while the snapshots are posted")
    ap.add_argument("--no-floor", action="store_true",
                    help="skip the plain HTTP floor (bench/http-floor, built on first use)")
    ap.add_argument("--new-connections", action="store_true",
                    help="a new TCP connection per post (the bench before keep-alive)")
    args = ap.parse_args()
    if args.batch is None and args.fleet is None:
        # Issue 15's fleet: 100,000 hosts at 30 s on one core.
        args.fleet = 100_000
    if args.batch is not None and args.fleet is not None:
        ap.error("--batch and --fleet each set the snapshots a post: give one")
    if args.fleet:
        # As UploadPacer and UploadPace: the pace asked, and the agent's own upload
        # interval (its snapshot interval, at least 10 s) when that is longer.
        asked = min(math.ceil(args.fleet / args.pace), args.max_upload) if args.pace > 0 else 0
        upload = max(asked if asked > 1 else 0, args.interval, 10)
        args.batch = upload / args.interval
        print(f"a fleet of {args.fleet} hosts at {args.interval:g} s, paced at {args.pace:g} posts/s "
              f"(at most {args.max_upload:g} s): uploads every {upload:g} s, {args.batch:.2f} snapshots a post")
    bindir = ds.find_bin(args.bin)
    templates = ds.real_snapshots(bindir, 5)
    for t in templates:
        for p in t.get("processes") or []:
            if p.get("cmdline"):
                p["cmdline"] = p["cmdline"][:args.cmdline_max]
    per_host = args.snapshots // args.hosts
    snaps = wb.churned(templates, args.hosts, per_host, 10, "cpu")
    bodies = [(s["host"], s) for s in snaps]
    # The posts: each host's snapshots in order, args.batch at a time (as the agent's
    # body builder cuts them).
    groups = cut(snaps, args.batch)
    if args.form == "wire":
        batches = wb.wire_batches(bindir, [json.dumps(s, separators=(",", ":")) for s in snaps],
                                  ["--bodies", "--batch", repr(float(args.batch))])
        assert len(batches) == len(groups), f"{len(batches)} bodies for {len(groups)} posts"
        wire = [(json.dumps(b["body"], separators=(",", ":")).encode(),
                 json.dumps(b["full_body"], separators=(",", ":")).encode()) for b in batches]
    else:
        wire = [(json.dumps({"host": g[0]["host"], "agent": {"version": "cpu", "interval_s": 10}, "snapshots": g,
                             "events": []}, separators=(",", ":")).encode(), None) for g in groups]
    # Interleave hosts, as a fleet's posts arrive.
    order = sorted(range(len(groups)), key=lambda i: (groups[i][0]["time"], groups[i][0]["host"]))
    wire = [wire[i] for i in order]
    payloads = [w for w, _ in wire]
    runs = [measure(args, bindir, wire, bodies, len(payloads)) for _ in range(args.runs)]
    n = len(snaps)
    floor_ms = None if args.no_floor else http_floor(wire, args.clients, args.new_connections)
    print(f"binaries: {bindir}")
    print(f"{n} snapshots from {args.hosts} hosts in {len(payloads)} posts ({n / len(payloads):.2f} a post), "
          f"{args.clients} clients, {sum(map(len, payloads)) / n / 1024:.1f} KiB JSON a snapshot "
          f"({args.form} form, {'a connection per post' if args.new_connections else 'kept-alive connections'}); "
          f"{args.runs} runs, each on a fresh collector with the raw insert after it")
    for i, r in enumerate(runs, 1):
        # CPU milliseconds per snapshot = CPU seconds per 1,000 snapshots.
        print(f"run {i}: collector {r['collector_ms']:.3f} ms a snapshot ("
              + ", ".join(f"{k} {v:.3f}" for k, v in sorted(r["split"].items(), key=lambda kv: -kv[1]) if v >= 0.0005)
              + f"), raw insert {r['raw_ms']:.3f} ms, ratio {r['collector_ms'] / r['raw_ms']:.1f}x; "
              f"{r['rate']:.0f} snapshots/s, {r['switches']:.1f} context switches a post, RSS {r['rss_kb'] / 1024:.0f} MiB"
              f"{'; ' + str(r['fallbacks']) + ' answered 409 and sent again in full' if r['fallbacks'] else ''}")
    collector_ms = statistics.median(r["collector_ms"] for r in runs)
    raw_ms = statistics.median(r["raw_ms"] for r in runs)
    print(f"collector CPU, median of {args.runs}: {collector_ms:.3f} ms a snapshot "
          f"({collector_ms:.3f} s per 1,000 snapshots; runs {min(r['collector_ms'] for r in runs):.3f}"
          f"-{max(r['collector_ms'] for r in runs):.3f})")
    print(f"raw SQLite insert of the same rows, median: {raw_ms:.3f} ms a snapshot; "
          f"ratio collector/raw {statistics.median(r['collector_ms'] / r['raw_ms'] for r in runs):.1f}x")
    if floor_ms is not None:
        # The plain way to take the same posts over HTTP and store the same rows: a bare
        # server on the same framework reading the same bodies, plus the raw insert.
        plain = floor_ms * len(payloads) / n + raw_ms
        print(f"plain HTTP floor (bench/http-floor: token check, body read, constant answer) "
              f"{floor_ms:.3f} ms a post; with the raw insert {plain:.3f} ms a snapshot; "
              f"ratio collector/plain {collector_ms / plain:.1f}x")
    scenario = (f"a fleet of {args.fleet:,} hosts at {args.interval:g} s, paced" if args.fleet
                else f"{args.batch:g} snapshot{'' if args.batch == 1 else 's'} a post, unpaced")
    print(f"goal <= 0.25 ms a snapshot ({scenario}), on the median: {'met' if collector_ms <= 0.25 else 'MISSED'}")


def measure(args, bindir, wire, bodies, posts):
    """One run: a fresh collector takes every post (its CPU from /proc), then the raw insert
    of the same rows (this process's CPU)."""
    n = len(bodies)
    work = tempfile.mkdtemp(prefix="oomwatch-cpu-")
    # One token posts for the whole simulated fleet: its rate limit (1,000 a second with
    # bursts of 2,000 by default, per agent token) raised out of the way, still checked.
    settings = {"OOMWATCH_LIMITS_RATE_PER_TOKEN": "1e9", "OOMWATCH_LIMITS_RATE_BURST": "1e9"}
    if args.cache_hosts:
        settings["OOMWATCH_DB_CACHE_HOSTS"] = str(args.cache_hosts)
    c = ds.Collector(bindir, work, settings)
    try:
        # Register the hosts first, so the measured part is steady-state ingest.
        for h in range(args.hosts):
            ds.post(c.port, {"host": f"cpu-{h:03d}", "snapshots": [], "events": []})

        perf = None
        if args.perf:
            perf = subprocess.Popen(["perf", "record", "-F", "999", "--call-graph", "dwarf,16384", "-p", str(c.proc.pid), "-o", args.perf],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        cpu0, wall0 = cpu_seconds(c.proc.pid), time.perf_counter()
        split0 = thread_cpu(c.proc.pid)
        switches0 = context_switches(c.proc.pid)
        fallbacks = post_all(c.port, wire, args.clients, args.new_connections)
        cpu1, wall1 = cpu_seconds(c.proc.pid), time.perf_counter()
        split1 = thread_cpu(c.proc.pid)
        switches1 = context_switches(c.proc.pid)
        with open(f"/proc/{c.proc.pid}/status") as f:
            rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        c.stop()
    finally:
        c.kill()
    # The raw reference: the same rows, plainly.
    raw = sqlite3.connect(os.path.join(work, "raw.sqlite"), isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute("""CREATE TABLE snapshots (id INTEGER PRIMARY KEY, host TEXT NOT NULL, time INTEGER NOT NULL,
        total_kb INTEGER, available_kb INTEGER, full_avg60 REAL, oom_kill INTEGER, json TEXT NOT NULL,
        UNIQUE (host, time))""")
    raw.execute("CREATE INDEX snapshots_time ON snapshots(time)")
    p0 = time.process_time()
    for host, s in sorted(bodies, key=lambda b: (b[1]["time"], b[0])):
        mem = s.get("memory") or {}
        raw.execute("BEGIN")
        raw.execute("INSERT INTO snapshots (host, time, total_kb, available_kb, full_avg60, oom_kill, json) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (host, int(time.mktime(time.strptime(s["time"], "%Y-%m-%dT%H:%M:%SZ")) * 1e6),
                     mem.get("total_kb"), mem.get("available_kb"), (s.get("pressure") or {}).get("full_avg60"),
                     (s.get("vmstat") or {}).get("oom_kill"), json.dumps(s, separators=(",", ":"))))
        raw.execute("COMMIT")
    raw_ms = (time.process_time() - p0) / n * 1000
    raw.close()
    shutil.rmtree(work, ignore_errors=True)
    return {"collector_ms": (cpu1 - cpu0) / n * 1000,
            "split": {k: (v - split0.get(k, 0)) / n * 1000 for k, v in split1.items()},
            "switches": (switches1 - switches0) / posts, "rss_kb": rss_kb, "raw_ms": raw_ms,
            "rate": n / (wall1 - wall0), "fallbacks": fallbacks}


if __name__ == "__main__":
    main()
