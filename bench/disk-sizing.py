#!/usr/bin/env python3
"""Collector disk use per host per day, measured (issue 13, "disk sizing").

For each snapshot interval (10, 30, 60 s) a fresh collector (its own SQLite file) takes
one simulated day from HOSTS hosts: real snapshots of this machine, taken with
`oomwatch-agent snapshot` (top 20 processes, every cgroup, as the agent sends them),
re-stamped every INTERVAL seconds over the last 24 h with churn (RSS and available
memory move, vmstat counters grow, a process is replaced about every five minutes) and
posted in batches like the agent's. Then the collector is stopped (SIGTERM: the WAL is checkpointed) and the
database file measured. Also measures bytes per stored OOM event.

    bench/disk-sizing.py [--bin DIR] [--hosts 2] [--intervals 10,30,60] [--cmdline-max N]

A snapshot's size is mostly its process list, and that mostly command lines: on a build
machine (compilers with 4 KB command lines) a snapshot is ~26 KiB, on a typical service
host far less. --cmdline-max N cuts each sampled command line to N characters to show
such a host (the agent itself keeps up to 4096).

DIR holds oomwatch-collector and oomwatch-agent (default: $OOMWATCH_BIN_DIR, else
.build/release, else .build/debug). The bytes do not depend on the build mode.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "disk-sizing-admin-token-0123456789"


def find_bin(arg):
    for d in [arg, os.environ.get("OOMWATCH_BIN_DIR"), os.path.join(ROOT, ".build/release"),
              os.path.join(ROOT, ".build/debug")]:
        if d and all(os.access(os.path.join(d, b), os.X_OK) for b in ("oomwatch-collector", "oomwatch-agent")):
            return d
    sys.exit("disk-sizing: no oomwatch-collector/oomwatch-agent binaries; build them or pass --bin DIR")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "Z"


def post(port, batch):
    body = json.dumps(batch, separators=(",", ":")).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/ingest", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
    for _ in range(50):
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code in (429, 503):
                time.sleep(0.2)
                continue
            raise SystemExit(f"disk-sizing: ingest answered {e.code}: {e.read()[:300]!r}")
    raise SystemExit("disk-sizing: collector stayed busy")


class Collector:
    def __init__(self, bindir, workdir, environment=None):
        self.dir = workdir
        self.db = os.path.join(workdir, "oomwatch.sqlite")
        self.port = free_port()
        with open(os.path.join(workdir, "tokens"), "w") as f:
            f.write(f"admin {TOKEN} sizing\n")
        self.log = open(os.path.join(workdir, "collector.log"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(bindir, "oomwatch-collector"), "serve", "--listen", f"127.0.0.1:{self.port}",
             "--db", self.db, "--tokens-file", os.path.join(workdir, "tokens")],
            stdout=self.log, stderr=self.log, env=dict(os.environ, **(environment or {})))
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("disk-sizing: the collector did not start; see " + self.log.name)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()

    def kill(self):
        """After a failure: never leave a collector behind."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def size(self):
        # What the WAL holds belongs in the database file: a collector that exits without
        # closing its last connection leaves it for the next start to checkpoint, and the
        # measure would then count pages twice (or not yet), by chance.
        if os.path.exists(self.db + "-wal"):
            db = sqlite3.connect(self.db)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
        parts = {s or "db": os.path.getsize(self.db + s) for s in ("", "-wal", "-shm") if os.path.exists(self.db + s)}
        if os.environ.get("DISK_SIZING_VERBOSE"):
            print(f"  files: {parts}", file=sys.stderr)
        return sum(parts.values())


def real_snapshots(bindir, n):
    out = []
    for _ in range(n):
        r = subprocess.run([os.path.join(bindir, "oomwatch-agent"), "snapshot", "--config", "/dev/null"],
                           capture_output=True, text=True, check=True)
        out.append(json.loads(r.stdout))
        time.sleep(0.3)
    return out


def day_of_snapshots(templates, host, interval, now):
    """One host's day with realistic churn: RSS and available memory move every sample,
    vmstat counters grow, and a process is replaced by a new one (new pid, start time)
    about every five minutes, as services restart and batch jobs come and go."""
    start = now - 86400
    count = int(86400 // interval)
    rng = random.Random(host)
    replaced = {}  # (template, slot) -> (pid, started_at) of the process now in that slot
    counters = {}
    for i in range(count):
        k = i % len(templates)
        s = json.loads(json.dumps(templates[k]))
        t = start + i * interval
        s["host"] = host
        s["time"] = rfc3339(t)
        s["uptime_s"] = 1_000_000 + i * interval
        mem = s.get("memory") or {}
        if "available_kb" in mem:
            mem["available_kb"] = int(mem["available_kb"] * rng.uniform(0.9, 1.1))
        for name, value in (s.get("vmstat") or {}).items():
            if name.startswith(("pg", "nr_")):
                counters[name] = counters.get(name, value) + rng.randint(0, 5000) * int(interval)
                s["vmstat"][name] = counters[name]
        procs = s.get("processes") or []
        if procs and rng.random() < interval / 300:
            slot = rng.randrange(len(procs))
            replaced[(k, slot)] = (4_000_000 + i, rfc3339(t))
        for slot, p in enumerate(procs):
            if (k, slot) in replaced:
                p["pid"], p["started_at"] = replaced[(k, slot)]
            if "rss_kb" in p:
                p["rss_kb"] = int(p["rss_kb"] * rng.uniform(0.95, 1.05))
        yield s


def measure(bindir, templates, hosts, interval):
    workdir = tempfile.mkdtemp(prefix=f"oomwatch-disk-{interval}s-")
    c = None
    try:
        c = Collector(bindir, workdir)
        now = time.time()
        for h in range(hosts):
            host = f"sizing-{h:03d}"
            batch, size = [], 0
            for s in day_of_snapshots(templates, host, interval, now):
                batch.append(s)
                size += len(json.dumps(s, separators=(",", ":")))
                # About the agent's batch size (a spool segment: up to 1 MiB).
                if size >= 1 << 20:
                    post(c.port, {"host": host, "agent": {"version": "sizing", "interval_s": interval},
                                  "snapshots": batch, "events": []})
                    batch, size = [], 0
            if batch:
                post(c.port, {"host": host, "agent": {"version": "sizing", "interval_s": interval},
                              "snapshots": batch, "events": []})
        c.stop()
        return c.size(), int(86400 // interval)
    finally:
        if c:
            c.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def empty_size(bindir):
    workdir = tempfile.mkdtemp(prefix="oomwatch-disk-empty-")
    try:
        c = Collector(bindir, workdir)
        c.stop()
        return c.size()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def event_bytes(bindir, n=2000):
    workdir = tempfile.mkdtemp(prefix="oomwatch-disk-events-")
    try:
        c = Collector(bindir, workdir)
        before = None
        c.stop()
        before = c.size()
        c = Collector(bindir, workdir)
        now = time.time()
        events = []
        for i in range(n):
            events.append({
                "id": f"{i:032x}", "source": "kernel", "time": rfc3339(now - 3600 + i), "scope": "memcg",
                "victim": {"pid": 10000 + i, "comm": "java", "uid": 1000, "anon_rss_kb": 3_000_000,
                           "file_rss_kb": 1000, "total_vm_kb": 9_000_000, "oom_score_adj": 0,
                           "cgroup": "/system.slice/app.service", "unit": "app.service",
                           "cmdline": "/usr/bin/java -Xmx4g -jar /srv/app/app.jar --port 8080"},
                "memcg": {"oom": "/system.slice/app.service", "task": "/system.slice/app.service",
                          "usage_kb": 4_194_304, "limit_kb": 4_194_304},
                "raw": "x" * 2500,  # a typical kernel report's head as the agent keeps it
            })
        for k in range(0, n, 500):
            post(c.port, {"host": "sizing-events", "agent": {"version": "sizing"}, "snapshots": [],
                          "events": events[k:k + 500]})
        c.stop()
        return (c.size() - before) / n
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin")
    ap.add_argument("--hosts", type=int, default=2)
    ap.add_argument("--intervals", default="10,30,60")
    ap.add_argument("--cmdline-max", type=int)
    args = ap.parse_args()
    bindir = find_bin(args.bin)
    templates = real_snapshots(bindir, 5)
    if args.cmdline_max is not None:
        for t in templates:
            for p in t.get("processes") or []:
                if p.get("cmdline"):
                    p["cmdline"] = p["cmdline"][:args.cmdline_max]
    snapshot_json = sum(len(json.dumps(t, separators=(",", ":"))) for t in templates) / len(templates)
    print(f"binaries: {bindir}")
    print(f"snapshot as sent (this host, {len(templates[0].get('processes') or [])} processes, "
          f"{len(templates[0].get('cgroups') or [])} cgroups): {snapshot_json / 1024:.1f} KiB of JSON")
    base = empty_size(bindir)
    print(f"empty database: {base / 1024:.0f} KiB")
    print(f"{'interval':>8}  {'snapshots/day':>13}  {'bytes/host/day':>14}  {'MiB/host/day':>12}  "
          f"{'bytes/snapshot':>14}  {'14 d raw, MiB/host':>18}")
    for interval in [float(x) for x in args.intervals.split(",")]:
        size, per_day = measure(bindir, templates, args.hosts, interval)
        per_host = (size - base) / args.hosts
        print(f"{interval:>7.0f}s  {per_day:>13}  {per_host:>14,.0f}  {per_host / 1048576:>12.1f}  "
              f"{per_host / per_day:>14,.0f}  {per_host * 14 / 1048576:>18.0f}")
        if interval == 10:
            # Issue 15 point 1: at most 1 KB per snapshot on average at 10 s.
            print(f"          goal <= 1,024 bytes/snapshot at 10 s: {per_host / per_day / 1024:.2f} of it "
                  f"({'met' if per_host / per_day <= 1024 else 'MISSED'})")
    print(f"per stored OOM event (2.5 KB raw report): {event_bytes(bindir):,.0f} bytes")


if __name__ == "__main__":
    main()
