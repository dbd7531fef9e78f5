#!/usr/bin/env python3
"""Load generator and reference measurements for oomwatch-collector (stdlib only).

Talks only to 127.0.0.1. Sub-commands:
  ingest URL TOKEN  --clients 64 --batches N --batch-size 100   events/s over HTTP
  raw DB            --rows FILE --synchronous NORMAL            plain batched SQLite insert (reference)
  ratio HTTP RAW    (files holding the two JSON lines)          HTTP events/s over the reference's
  gen DB            --events 1000000 --snapshots 10000000 --hosts 10000
  summary URL TOKEN --runs 10 --since 30d [--until 13d]        report latency
  fleet URL TOKEN   --agents 10000 --interval 30 --duration 120 --workers 128
"""
import argparse
import calendar
import http.client
import json
import random
import sqlite3
import statistics
import sys
import threading
import time
import heapq
import queue

COMMS = ["java", "python3", "node", "postgres", "chrome", "mysqld", "redis-server", "ruby",
         "php-fpm", "dotnet", "beam.smp", "clickhouse", "elasticsearch", "mongod", "nginx",
         "gunicorn", "celery", "kafka", "prometheus", "ffmpeg"] + ["worker-%d" % i for i in range(180)]
UNITS = [None, None, "app.service", "db.service", "batch.service", "user@1000.service", "cron.service"]


def parse_url(url):
    assert url.startswith("http://127.0.0.1:"), "send test traffic to 127.0.0.1 only"
    hostport = url[len("http://"):].rstrip("/")
    host, port = hostport.split(":")
    return host, int(port)


def event(rng, i, host, t_us):
    comm = rng.choice(COMMS[:40]) if rng.random() < 0.8 else rng.choice(COMMS)
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_us / 1e6)) + ".%06dZ" % (t_us % 1000000)
    return {
        "id": "ev-%s-%d" % (host, i), "host": host, "source": "kernel", "time": t,
        "uptime_s": 1000.5 + i, "scope": "memcg" if i % 3 == 0 else "global",
        "victim": {"pid": 1000 + i % 30000, "comm": comm, "uid": 1000,
                   "total_vm_kb": 4000000, "anon_rss_kb": rng.randint(1000, 8000000),
                   "file_rss_kb": 1000, "shmem_rss_kb": 0, "pgtables_kb": 900,
                   "oom_score_adj": 0, "unit": rng.choice(UNITS),
                   "cgroup": "/system.slice/app.service"},
        "trigger": {"pid": 1000, "comm": comm, "gfp_mask": "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)", "order": 0},
        "constraint": "CONSTRAINT_NONE",
    }


def snapshot(rng, host, t_us, nproc=20):
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_us / 1e6)) + "Z"
    total = 16 * 1024 * 1024
    avail = rng.randint(total // 20, total // 2)
    mem = {"total_kb": total, "free_kb": avail // 2, "available_kb": avail, "buffers_kb": 1000,
           "cached_kb": avail // 3, "swap_total_kb": 0, "swap_free_kb": 0, "shmem_kb": 5000,
           "anon_pages_kb": total - avail, "slab_kb": 200000, "committed_as_kb": total}
    for k in range(35):
        mem["field_%d_kb" % k] = k * 100
    procs = [{"pid": 100 + p, "ppid": 1, "comm": rng.choice(COMMS), "uid": 1000,
              "cmdline": "/usr/bin/app --flag value", "rss_kb": rng.randint(1000, 2000000),
              "rss_anon_kb": 1000, "rss_file_kb": 100, "rss_shmem_kb": 0, "swap_kb": 0,
              "oom_score": 600, "oom_score_adj": 0, "vm_size_kb": 3000000,
              "cgroup": "/system.slice/app.service", "unit": "app.service"} for p in range(nproc)]
    return {"host": host, "time": t, "uptime_s": 12345.0, "memory": mem,
            "vmstat": {"oom_kill": 0, "pgmajfault": 10, "pswpin": 0, "pswpout": 0},
            "pressure": {"some_avg10": 0.5, "some_avg60": 0.3, "some_avg300": 0.1, "some_total_us": 1000,
                         "full_avg10": 0.1, "full_avg60": 0.05, "full_avg300": 0.0, "full_total_us": 100},
            "processes": procs, "cgroups": [{"path": "/system.slice/app.service", "usage_kb": 100000,
                                             "limit_kb": 2000000, "oom_kill": 0}]}


def batch_body(host, events, snapshots):
    return json.dumps({"host": host, "boot_id": "b-" + host, "agent": {"version": "bench", "interval_s": 30},
                       "snapshots": snapshots, "events": events}, separators=(",", ":")).encode()


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def post_all(urls, token, bodies, clients, check, timeout=60):
    """Posts every body to /api/v1/ingest from `clients` threads, client i to urls[i % len(urls)];
    a response counts as an error unless it is 200 and check(its JSON) holds.
    Returns (seconds, latencies, errors). Shared with postgres_load.py."""
    work = queue.Queue()
    for body in bodies:
        work.put(body)
    lat, errors, lock = [], [0], threading.Lock()

    def client(i):
        host, port = parse_url(urls[i % len(urls)])
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/ingest", body=body,
                             headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                ok = r.status == 200 and check(json.loads(data))
            except Exception:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            with lock:
                lat.append(time.perf_counter() - t0)
                if not ok:
                    errors[0] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, lat, errors[0]


# ---------------------------------------------------------------- ingest over HTTP

def cmd_ingest(a):
    rng = random.Random(1)
    now = int(time.time() * 1e6)
    bodies = []
    rows = []
    for b in range(a.batches):
        h = "ingest-host-%d" % (b % 500)
        evs = [event(rng, b * a.batch_size + i, h, now - rng.randint(0, 86400 * 10**6)) for i in range(a.batch_size)]
        bodies.append(batch_body(h, evs, []))
        rows.append(evs)
    if a.dump_rows:
        with open(a.dump_rows, "w") as f:
            json.dump(rows, f)
    elapsed, lat, errors = post_all([a.url], a.token, bodies, a.clients,
                                    lambda r: r["events_stored"] == a.batch_size, timeout=30)
    total = a.batches * a.batch_size
    print(json.dumps({"test": "ingest_http", "clients": a.clients, "batch_size": a.batch_size,
                      "events": total, "seconds": round(elapsed, 3), "events_per_s": round(total / elapsed),
                      "p50_ms": round(pct(lat, 50) * 1000, 1), "p99_ms": round(pct(lat, 99) * 1000, 1),
                      "errors": errors}))


# ---------------------------------------------------------------- raw SQLite reference

def event_time_us(text):
    """An event's RFC 3339 time (as `event` writes it) in microseconds since the epoch."""
    whole, frac = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 10**6 + int(frac)


def cmd_raw(a):
    """The plain reference: the same rows into a minimal events table (unique event id and
    two indexes: time, host + time), no triggers or rollups, WAL, the given synchronous
    setting, one transaction per batch (hosts upserted as the collector does)."""
    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=%s" % a.synchronous)
    db.execute("CREATE TABLE hosts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
               "first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL)")
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, "
               "host_id INTEGER NOT NULL, time INTEGER NOT NULL, source TEXT NOT NULL, scope TEXT, "
               "comm TEXT NOT NULL, pid INTEGER NOT NULL, unit TEXT, container TEXT, "
               "rss_kb INTEGER NOT NULL, received INTEGER NOT NULL, json TEXT NOT NULL)")
    db.execute("CREATE INDEX events_time ON events(time)")
    db.execute("CREATE INDEX events_host_time ON events(host_id, time)")
    rows = json.load(open(a.rows))
    now = int(time.time() * 1e6)
    prepared = []
    for batch in rows:
        out = []
        for e in batch:
            v = e["victim"]
            out.append((e["id"], e["host"], event_time_us(e["time"]), e["source"], e.get("scope"), v["comm"], v["pid"],
                        v.get("unit"), None, v["anon_rss_kb"] + v["file_rss_kb"] + v["shmem_rss_kb"], now,
                        json.dumps(e, separators=(",", ":"))))
        prepared.append(out)
    t0 = time.perf_counter()
    for batch in prepared:
        db.execute("BEGIN")
        hostname = batch[0][1]
        db.execute("INSERT INTO hosts (name, first_seen, last_seen) VALUES (?, ?, ?) "
                   "ON CONFLICT(name) DO UPDATE SET last_seen = excluded.last_seen", (hostname, now, now))
        host_id = db.execute("SELECT id FROM hosts WHERE name = ?", (hostname,)).fetchone()[0]
        db.executemany(
            "INSERT INTO events (event_id, host_id, time, source, scope, comm, pid, unit, container, rss_kb, received, json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING",
            [(r[0], host_id) + r[2:] for r in batch])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    total = sum(len(b) for b in prepared)
    print(json.dumps({"test": "raw_sqlite", "synchronous": a.synchronous, "batch_size": len(prepared[0]),
                      "events": total, "seconds": round(elapsed, 3), "events_per_s": round(total / elapsed)}))


def cmd_ratio(a):
    """Prints HTTP ingest events/s over the plain reference's, from their JSON lines."""
    http = json.loads(open(a.http).read().strip().splitlines()[-1])
    raw = json.loads(open(a.raw).read().strip().splitlines()[-1])
    print(json.dumps({"test": "ingest_ratio", "label": a.label, "http_events_per_s": http[a.key],
                      "plain_events_per_s": raw["events_per_s"],
                      "ratio": round(http[a.key] / raw["events_per_s"], 2), "goal": ">= 0.5"}))


def get_summary(conn, token, query):
    """One summary request: the report and the seconds it took."""
    t0 = time.perf_counter()
    conn.request("GET", "/api/v1/reports/summary?" + query, headers={"Authorization": "Bearer " + token})
    r = conn.getresponse()
    data = r.read()
    seconds = time.perf_counter() - t0
    assert r.status == 200, data[:200]
    return json.loads(data), seconds


def cmd_caught_up(a):
    """Right after an ingest run: times one summary request, which first folds the kills still
    waiting for the rollups (the collector acknowledges after COMMIT and folds later), and
    prints the rate counting that catch-up (events over ingest + fold seconds)."""
    ingest = json.loads(open(a.http).read().strip().splitlines()[-1])
    host, port = parse_url(a.url)
    report, fold = get_summary(http.client.HTTPConnection(host, port, timeout=120), a.token, "since=30d")
    kills = report["totals"]["kills"]
    assert kills == ingest["events"], "summary counts %d kills, ingest stored %d" % (kills, ingest["events"])
    total = ingest["seconds"] + fold
    print(json.dumps({"test": "rollups_caught_up", "summary_seconds": round(fold, 3), "kills": kills,
                      "events_per_s_with_fold": round(ingest["events"] / total)}))


# ---------------------------------------------------------------- dataset for the summary

def cmd_gen(a):
    """Fills a collector-created database with hosts, events and snapshots directly in SQL
    (recursive CTEs): skewed like real fleets (a few hosts and comms dominate)."""
    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    now = int(time.time() * 1e6)
    span = 30 * 86400 * 10**6
    t0 = time.perf_counter()
    db.execute("BEGIN")
    db.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {a.hosts})
        INSERT INTO hosts (id, name, first_seen, last_seen, interval_s, snapshot_time, total_kb,
            available_kb, full_avg60, memory_json, pressure_json, processes_json)
        SELECT i, printf('host-%05d', i), {now - span}, {now} - (i % 7) * 40000000, 30, {now},
            16777216, CASE WHEN i % 50 = 0 THEN 800000 ELSE 8000000 END,
            CASE WHEN i % 97 = 0 THEN 15.0 ELSE 0.1 END,
            '{{"total_kb":16777216,"available_kb":8000000}}', NULL,
            '[{{"pid":1,"comm":"java","rss_kb":' || (i * 37 % 100000) || '}}]'
        FROM n""")
    db.execute("COMMIT")
    comms = ",".join("('%s', %d)" % (c, k) for k, c in enumerate(COMMS))
    db.execute("BEGIN")
    # Host and comm picked with a squared random number: a skewed, Zipf-like spread.
    db.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {a.events}),
        c(name, k) AS (VALUES {comms}),
        r AS (SELECT i, abs(random()) % 1000000 / 1000000.0 AS u, abs(random()) % 1000000 / 1000000.0 AS v,
                     abs(random()) % {span} AS dt FROM n)
        INSERT INTO events (event_id, host_id, time, source, scope, comm, pid, unit, container,
            rss_kb, received, json)
        SELECT printf('gen-%08d', i), 1 + CAST(u * u * {a.hosts} AS INTEGER),
            {now} - dt,
            CASE WHEN i % 20 = 0 THEN 'systemd-oomd' WHEN i % 53 = 0 THEN 'earlyoom' ELSE 'kernel' END,
            CASE WHEN i % 3 = 0 THEN 'memcg' ELSE 'global' END,
            coalesce((SELECT name FROM c WHERE k = CAST(v * v * {len(COMMS)} AS INTEGER)), 'java'),
            1000 + i % 30000,
            CASE i % 5 WHEN 0 THEN 'app.service' WHEN 1 THEN 'db.service' WHEN 2 THEN printf('job-%d.service', i % 300) ELSE NULL END,
            CASE WHEN i % 4 = 0 THEN printf('%012x', i % 5000) ELSE NULL END,
            abs(random()) % 8000000, {now},
            json_object('id', printf('gen-%08d', i), 'source', 'kernel', 'victim',
                json_object('pid', 1000 + i % 30000, 'comm', 'x'))
        FROM r""")
    db.execute("COMMIT")
    # Events inserted directly bypass the collector's ingest writer, which keeps the kill
    # rollups: rebuild them as the v6-event-ingest migration does (KillRollups.rebuild).
    # (It keeps the advice rollups too since v7-ingest-fast; the summary does not read them.)
    db.execute("BEGIN")
    db.execute("DELETE FROM kill_totals")
    db.execute("DELETE FROM kill_daily")
    db.execute("DELETE FROM kill_days")
    for dim, expr in [("host", "CAST(host_id AS TEXT)"), ("comm", "comm"),
                      ("hostcomm", "host_id || char(9) || comm"), ("source", "source"),
                      ("scope", "coalesce(scope, 'unknown')"), ("unit", "unit"), ("container", "container")]:
        db.execute(f"INSERT INTO kill_totals (dim, key, kills, last_time) SELECT ?, {expr}, count(*), max(time) "
                   f"FROM events WHERE {expr} IS NOT NULL GROUP BY 2", (dim,))
        db.execute(f"INSERT INTO kill_daily (dim, key, day, kills, last_time) SELECT ?, {expr}, time / 86400000000, "
                   f"count(*), max(time) FROM events WHERE {expr} IS NOT NULL GROUP BY 2, 3", (dim,))
    db.execute("INSERT INTO kill_days SELECT time / 86400000000, count(*) FROM events GROUP BY 1")
    # Every event is counted now: the collector's fold (RollupFold) starts after the last.
    db.execute("UPDATE rollup_mark SET folded = (SELECT coalesce(max(id), 0) FROM events)")
    db.execute("COMMIT")
    t1 = time.perf_counter()
    # Snapshots: one row per host per 30 s going back in time, gauges only (body left empty:
    # the summary never reads it).
    per_host = max(1, a.snapshots // a.hosts)
    db.execute("BEGIN")
    db.execute(f"""
        WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < {per_host - 1}),
        h(id) AS (SELECT id FROM hosts)
        INSERT INTO snapshots (host_id, time, total_kb, available_kb, free_kb, cached_kb, anon_kb,
            shmem_kb, swap_total_kb, swap_free_kb, some_avg10, some_avg60, full_avg10, full_avg60,
            oom_kill, body)
        SELECT h.id, {now} - s.k * 30000000, 16777216, 8000000 - s.k, 4000000, 2000000, 6000000,
            5000, 0, 0, 0.5, 0.3, 0.1, 0.05, 0, x''
        FROM s, h""")
    db.execute("COMMIT")
    t2 = time.perf_counter()
    db.execute("ANALYZE")
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("hosts", "events", "snapshots")}
    print(json.dumps({"test": "generate", **counts, "events_seconds": round(t1 - t0, 1),
                      "snapshots_seconds": round(t2 - t1, 1)}))


# ---------------------------------------------------------------- summary latency

def cmd_summary(a):
    host, port = parse_url(a.url)
    conn = http.client.HTTPConnection(host, port, timeout=120)
    lat = []
    kills = None
    for _ in range(a.runs):
        report, seconds = get_summary(conn, a.token, "since=" + a.since + ("&until=" + a.until if a.until else ""))
        lat.append(seconds)
        kills = report["totals"]["kills"]
    print(json.dumps({"test": "summary", "since": a.since, "until": a.until or "now", "kills_in_report": kills,
                      "runs": a.runs,
                      "p50_ms": round(pct(lat, 50) * 1000, 1), "max_ms": round(max(lat) * 1000, 1),
                      "min_ms": round(min(lat) * 1000, 1)}))


# ---------------------------------------------------------------- fleet simulation

def cmd_fleet(a):
    host, port = parse_url(a.url)
    rng = random.Random(7)
    start = time.time() + 1.0
    # Each agent posts at its own phase within the interval, like a real fleet.
    due = [(start + rng.random() * a.interval, i) for i in range(a.agents)]
    heapq.heapify(due)
    end = start + a.duration
    templates = {}
    work = queue.Queue(maxsize=a.workers * 4)
    lat, slip, errors, statuses, lock = [], [], [0], {}, threading.Lock()
    sent = [0]

    def body_for(agent, t_sched):
        name = "fleet-%05d" % agent
        snap = snapshot(random.Random(agent), name, int(t_sched * 1e6), nproc=20)
        evs = []
        if agent % 50 == 0:  # a few hosts have OOM kills to report
            evs = [event(random.Random(agent), int(t_sched), name, int(t_sched * 1e6))]
        return batch_body(name, evs, [snap])

    def worker():
        while True:
            item = work.get()
            if item is None:
                return
            agent, t_sched = item
            body = body_for(agent, t_sched)
            t0 = time.time()
            status = 0
            try:
                # A fresh connection per post: agents are 30 s apart, past any keep-alive.
                conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request("POST", "/api/v1/ingest", body=body,
                             headers={"Authorization": "Bearer " + a.token, "Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                status = r.status
                conn.close()
            except Exception as e:
                status = type(e).__name__
            t1 = time.time()
            with lock:
                lat.append(t1 - t0)
                slip.append(t0 - t_sched)
                statuses[status] = statuses.get(status, 0) + 1
                if status != 200:
                    errors[0] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.workers)]
    for t in threads:
        t.start()
    while due:
        t_due, agent = heapq.heappop(due)
        if t_due >= end:
            break
        delay = t_due - time.time()
        if delay > 0:
            time.sleep(delay)
        work.put((agent, t_due))
        sent[0] += 1
        heapq.heappush(due, (t_due + a.interval, agent))
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()
    print(json.dumps({"test": "fleet", "agents": a.agents, "interval_s": a.interval, "duration_s": a.duration,
                      "requests": sent[0], "req_per_s": round(sent[0] / a.duration, 1),
                      "p50_ms": round(pct(lat, 50) * 1000, 1), "p99_ms": round(pct(lat, 99) * 1000, 1),
                      "max_ms": round(max(lat) * 1000, 1), "schedule_slip_p99_ms": round(pct(slip, 99) * 1000, 1),
                      "errors": errors[0], "statuses": {str(k): v for k, v in statuses.items()}}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("ingest"); s.add_argument("url"); s.add_argument("token")
    s.add_argument("--clients", type=int, default=64); s.add_argument("--batches", type=int, default=2000)
    s.add_argument("--batch-size", type=int, default=100); s.add_argument("--dump-rows")
    s = sub.add_parser("raw"); s.add_argument("db"); s.add_argument("--rows", required=True)
    s.add_argument("--synchronous", default="NORMAL")
    s = sub.add_parser("ratio"); s.add_argument("http"); s.add_argument("raw"); s.add_argument("--label", default="")
    s.add_argument("--key", default="events_per_s")
    s = sub.add_parser("caught-up"); s.add_argument("url"); s.add_argument("token"); s.add_argument("--http", required=True)
    s = sub.add_parser("gen"); s.add_argument("db"); s.add_argument("--events", type=int, default=1000000)
    s.add_argument("--snapshots", type=int, default=10000000); s.add_argument("--hosts", type=int, default=10000)
    s = sub.add_parser("summary"); s.add_argument("url"); s.add_argument("token")
    s.add_argument("--runs", type=int, default=10); s.add_argument("--since", default="30d")
    s.add_argument("--until")
    s = sub.add_parser("fleet"); s.add_argument("url"); s.add_argument("token")
    s.add_argument("--agents", type=int, default=10000); s.add_argument("--interval", type=float, default=30)
    s.add_argument("--duration", type=float, default=120); s.add_argument("--workers", type=int, default=128)
    a = p.parse_args()
    {"ingest": cmd_ingest, "raw": cmd_raw, "ratio": cmd_ratio, "caught-up": cmd_caught_up, "gen": cmd_gen, "summary": cmd_summary, "fleet": cmd_fleet}[a.cmd](a)


if __name__ == "__main__":
    main()
