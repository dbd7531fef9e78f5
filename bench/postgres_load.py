#!/usr/bin/env python3
"""Load for bench/postgres.sh: the same batches spread over one or more collectors
(round robin by client, as a load balancer would), with the CPU of the collectors and of
the database server read from /proc. Stdlib only; talks to 127.0.0.1 only.

  events    --urls U1[,U2] --token T --batches 300 --batch-size 100 --clients 64 [--hosts 500 --days 1]
  snapshots --urls U1[,U2] --token T --snapshots 2000 --hosts 20 --clients 8 --pids P1[,P2] [--server-pid PM]

`events` posts batches of new events (collector_load.py's generator); `snapshots` posts
one synthetic 20-process snapshot per batch, as an agent does at its interval. Each
prints one JSON line: rows/s, p50/p99 latency, errors, and for snapshots the CPU of the
collectors (and of every process of the PostgreSQL server whose postmaster is PM) per
snapshot.
"""
import argparse
import importlib.util
import json
import os
import random
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("collector_load", os.path.join(HERE, "collector_load.py"))
cl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cl)


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pids(postmaster):
    """The postmaster and its children (backends, WAL writer, checkpointer …)."""
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == postmaster:
            pids.append(int(entry))
    return pids


def server_cpu(postmaster):
    # Backends come and go; their CPU is counted while they live, so the server is read
    # with its children's cumulative times (cutime/cstime of the postmaster) as well.
    if not postmaster:
        return 0.0
    total = sum(cpu_seconds(p) for p in server_pids(postmaster))
    try:
        with open(f"/proc/{postmaster}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    return total


def cmd_events(a):
    urls = a.urls.split(",")
    rng = random.Random(a.seed)
    now = int(time.time() * 1e6)
    bodies = []
    for b in range(a.batches):
        # Hosts skewed like a real fleet (a squared random number): a few have most kills.
        h = "pg-bench-host-%05d" % int(rng.random() ** 2 * a.hosts)
        span = int(a.days * 86400 * 10**6)
        evs = [cl.event(rng, b * a.batch_size + i, h, now - rng.randint(0, span)) for i in range(a.batch_size)]
        for e in evs:
            e["id"] = "%s-%s" % (a.label, e["id"])
        bodies.append(cl.batch_body(h, evs, []))
    seconds, lat, errors = cl.post_all(urls, a.token, bodies, a.clients, lambda r: r["events_stored"] == a.batch_size)
    total = a.batches * a.batch_size
    print(json.dumps({"test": "events", "label": a.label, "collectors": len(urls), "clients": a.clients,
                      "events": total, "seconds": round(seconds, 2), "events_per_s": round(total / seconds),
                      "p50_ms": round(cl.pct(lat, 50) * 1000, 1), "p99_ms": round(cl.pct(lat, 99) * 1000, 1),
                      "errors": errors}))


def snapshot_bodies(a):
    per_host = a.snapshots // a.hosts
    bodies = []
    if a.real:
        # Real snapshots of this machine with a day's churn (bench/disk-sizing.py), as
        # bench/snapshot-cpu.py posts them.
        spec = importlib.util.spec_from_file_location("disk_sizing", os.path.join(HERE, "disk-sizing.py"))
        ds = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ds)
        # The same templates for every store of one bench run: taken once, kept in a file.
        if a.templates and os.path.exists(a.templates):
            with open(a.templates) as f:
                templates = json.load(f)
        else:
            templates = ds.real_snapshots(a.real, 5)
            if a.templates:
                with open(a.templates, "w") as f:
                    json.dump(templates, f)
        random.seed(11)  # day_of_snapshots' churn: the same for every store
        start = time.time() - 86400 + per_host * 10
        gens = [ds.day_of_snapshots(templates, "bench-snap-%03d" % h, 10, start) for h in range(a.hosts)]
        for _ in range(per_host):
            for h, gen in enumerate(gens):
                bodies.append(cl.batch_body("bench-snap-%03d" % h, [], [next(gen)]))
        return bodies
    start = int((time.time() - 86400) * 1e6)
    for i in range(per_host):
        for h in range(a.hosts):
            host = "%s-snap-%03d" % (a.label, h)
            rng = random.Random(h * 100003 + i)
            bodies.append(cl.batch_body(host, [], [cl.snapshot(rng, host, start + i * 10_000_000, nproc=20)]))
    return bodies


def cmd_snapshots(a):
    urls = a.urls.split(",")
    pids = [int(p) for p in a.pids.split(",")]
    bodies = snapshot_bodies(a)
    before = sum(cpu_seconds(p) for p in pids)
    server_before = server_cpu(a.server_pid)
    seconds, lat, errors = cl.post_all(urls, a.token, bodies, a.clients, lambda r: r["snapshots_stored"] == 1)
    collector_cpu = sum(cpu_seconds(p) for p in pids) - before
    database_cpu = server_cpu(a.server_pid) - server_before
    n = len(bodies)
    print(json.dumps({"test": "snapshots", "label": a.label, "real": bool(a.real),
                      "json_kib_each": round(sum(map(len, bodies)) / n / 1024, 1), "collectors": len(urls), "clients": a.clients,
                      "snapshots": n, "seconds": round(seconds, 2), "snapshots_per_s": round(n / seconds),
                      "collector_cpu_ms_per_snapshot": round(collector_cpu * 1000 / n, 2),
                      "database_server_cpu_ms_per_snapshot": round(database_cpu * 1000 / n, 2) if a.server_pid else None,
                      "p50_ms": round(cl.pct(lat, 50) * 1000, 1), "p99_ms": round(cl.pct(lat, 99) * 1000, 1),
                      "errors": errors}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("events")
    s.add_argument("--urls", required=True); s.add_argument("--token", required=True)
    s.add_argument("--batches", type=int, default=300); s.add_argument("--batch-size", type=int, default=100)
    s.add_argument("--clients", type=int, default=64); s.add_argument("--label", default="run")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--hosts", type=int, default=500); s.add_argument("--days", type=float, default=1)
    s = sub.add_parser("snapshots")
    s.add_argument("--urls", required=True); s.add_argument("--token", required=True)
    s.add_argument("--snapshots", type=int, default=2000); s.add_argument("--hosts", type=int, default=20)
    s.add_argument("--clients", type=int, default=8); s.add_argument("--pids", required=True)
    s.add_argument("--server-pid", type=int, default=0); s.add_argument("--label", default="run")
    s.add_argument("--real", metavar="BIN", help="real snapshots from BIN/oomwatch-agent (else synthetic)")
    s.add_argument("--templates", help="file keeping the real snapshots' templates between runs")
    a = p.parse_args()
    {"events": cmd_events, "snapshots": cmd_snapshots}[a.cmd](a)


if __name__ == "__main__":
    main()
