#!/usr/bin/env python3
"""Advice benchmark helpers (stdlib only; traffic to 127.0.0.1 only). Sub-commands:
  gen DB --events 1000000 --hosts 10000      fill a collector-created database
  advice URL TOKEN --runs 5 --since 30d      GET /api/v1/reports/advice latency (--limit N)
  reference DB --since-days 30 --runs 5      the plain SQL scan doing the same aggregation
  plans DB                                   EXPLAIN QUERY PLAN of the advice queries
"""
import argparse
import http.client
import json
import sqlite3
import statistics
import time

DAY = 86400 * 10**6
HOUR = 3600 * 10**6
COMMS = ["java", "python3", "node", "postgres", "chrome", "mysqld", "redis-server", "ruby",
         "php-fpm", "dotnet", "beam.smp", "clickhouse", "elasticsearch", "mongod", "nginx",
         "gunicorn", "celery", "kafka", "prometheus", "ffmpeg", "sshd"] + ["worker-%d" % i for i in range(179)]


def rebuild_advice(db):
    """Events inserted directly bypass the collector's ingest writer, which keeps the advice
    rollups since v7-ingest-fast (AdviceRollups): build them from the events as it would
    have, one kill at a time in id order (a day's latest limit, the first best ratio, the
    last stored latest kill)."""
    groups = """
        SELECT id, host_id, 'comm' AS kind, comm AS key, time, rss_kb, memcg_usage_kb, memcg_limit_kb,
            shield_rss_kb * 1.0 / max(rss_kb, 1) AS ratio, event_id, comm FROM events
        UNION ALL SELECT id, host_id, 'memcg', memcg, time, rss_kb, memcg_usage_kb, memcg_limit_kb,
            shield_rss_kb * 1.0 / max(rss_kb, 1), event_id, comm FROM events WHERE memcg IS NOT NULL
        UNION ALL SELECT id, host_id, 'global', '', time, rss_kb, memcg_usage_kb, memcg_limit_kb,
            shield_rss_kb * 1.0 / max(rss_kb, 1), event_id, comm FROM events WHERE scope = 'global'"""
    sums = """count(*), min(time), max(time), sum(rss_kb) * 1.0, sum(rss_kb * 1.0 * rss_kb), min(rss_kb),
        max(rss_kb), max(memcg_usage_kb)"""
    for table, part in (("advice_daily", ", time / 86400000000"), ("advice_groups", "")):
        db.execute("DELETE FROM " + table)
        w = "PARTITION BY host_id, kind, key" + part
        daily = table == "advice_daily"
        db.execute(f"""
            WITH g AS ({groups}),
            w AS (SELECT *, time / 86400000000 AS day,
                row_number() OVER ({w} ORDER BY time DESC, id DESC) AS latest,
                row_number() OVER ({w} ORDER BY ratio IS NULL, ratio DESC, id) AS best,
                row_number() OVER ({w} ORDER BY memcg_limit_kb IS NULL, id DESC) AS lim FROM g)
            INSERT INTO {table}
            SELECT {"day, " if daily else ""}host_id, kind, key, {sums},
                {"max(CASE WHEN lim = 1 THEN memcg_limit_kb END)" if daily else "max(memcg_limit_kb)"}, max(ratio),
                max(CASE WHEN best = 1 AND ratio IS NOT NULL THEN event_id END),
                {"max(CASE WHEN latest = 1 THEN event_id END), max(CASE WHEN latest = 1 THEN comm END)" if daily else "0, NULL"}
            FROM w GROUP BY host_id, kind, key{", day" if daily else ""}""")
    # Each group's evidence days, as the writer keeps them (AdviceSchema.recentSQL).
    db.execute("""
        UPDATE advice_groups SET recent = (SELECT group_concat(last_event || char(30) || last_comm, char(31)) FROM (
            SELECT d.last_event, coalesce(d.last_comm, '') AS last_comm FROM advice_daily d
            WHERE d.host_id = advice_groups.host_id AND d.kind = advice_groups.kind AND d.key = advice_groups.key
                AND d.kills > 0 AND d.last_event <> '' ORDER BY d.day DESC LIMIT 5))
        WHERE kind <> 'global'""")


def cmd_gen(a):
    """Hosts, events, hourly rollups and process runs, directly in SQL. Hosts and process
    names are skewed like real fleets (a squared random number: a few hosts and names take
    most kills, as crash-looping services do); the triggers fill the advice rollups."""
    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    now = int(time.time() * 1e6)
    span = 30 * DAY
    t0 = time.perf_counter()
    system = json.dumps({"sysctl": {"overcommit_memory": 0}, "swaps": [], "zram": [],
                         "userspace_killers": {"systemd_oomd": False, "earlyoom": False},
                         "critical": [{"service": "sshd", "pid": 700, "comm": "sshd", "oom_score_adj": 0,
                                       "unit": "ssh.service"}]})
    db.execute("BEGIN")
    db.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {a.hosts})
        INSERT INTO hosts (id, name, first_seen, last_seen, interval_s, snapshot_time, total_kb,
            available_kb, full_avg60, memory_json, system_json, system_time)
        SELECT i, printf('host-%05d', i), {now - span}, {now}, 30, {now}, 16777216, 8000000, 0.1,
            '{{"total_kb":16777216,"available_kb":8000000,"committed_as_kb":9000000,"swap_total_kb":' ||
                CASE WHEN i % 3 = 0 THEN 0 ELSE 2097152 END || '}}',
            '{system}', {now}
        FROM n""")
    db.execute("COMMIT")
    comms = ",".join("('%s', %d)" % (c, k) for k, c in enumerate(COMMS))
    db.execute("BEGIN")
    db.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {a.events}),
        c(name, k) AS (VALUES {comms}),
        r AS (SELECT i, abs(random()) % 1000000 / 1000000.0 AS u, abs(random()) % 1000000 / 1000000.0 AS v,
                     abs(random()) % {span} AS dt FROM n),
        p AS (SELECT i, u, dt, 1 + CAST(u * u * {a.hosts} AS INTEGER) AS host,
                     coalesce((SELECT name FROM c WHERE k = CAST(v * v * {len(COMMS)} AS INTEGER)), 'java') AS comm
              FROM r)
        INSERT INTO events (event_id, host_id, time, source, scope, comm, pid, unit, container,
            rss_kb, received, json, memcg, memcg_usage_kb, memcg_limit_kb, shield_name, shield_rss_kb, shield_adj)
        SELECT printf('gen-%08d', i), host, {now} - dt, 'kernel',
            CASE WHEN i % 3 = 0 THEN 'memcg' ELSE 'global' END, comm, 1000 + i % 30000,
            CASE WHEN i % 3 = 0 THEN comm || '.service' ELSE NULL END, NULL,
            500000 + abs(random()) % 20000, {now},
            json_object('id', printf('gen-%08d', i), 'source', 'kernel', 'victim',
                json_object('pid', 1000 + i % 30000, 'comm', comm)),
            CASE WHEN i % 3 = 0 THEN '/system.slice/' || comm || '.service' ELSE NULL END,
            CASE WHEN i % 3 = 0 THEN 524288 ELSE NULL END,
            CASE WHEN i % 3 = 0 THEN 524288 ELSE NULL END,
            CASE WHEN i % 3 <> 0 AND i % 7 = 0 THEN 'mysqld' ELSE NULL END,
            CASE WHEN i % 3 <> 0 AND i % 7 = 0 THEN 4000000 + abs(random()) % 8000000 ELSE NULL END,
            CASE WHEN i % 3 <> 0 AND i % 7 = 0 THEN -900 ELSE NULL END
        FROM p""")
    rebuild_advice(db)
    # The collector would fold these events into the rollups again (RollupFold): they are
    # counted, the advice rollups here and the kill rollups not needed by this bench.
    db.execute("UPDATE rollup_mark SET folded = (SELECT coalesce(max(id), 0) FROM events)")
    db.execute("COMMIT")
    t1 = time.perf_counter()
    # The last 12 hours of hourly rollups for every host; every 10th host is running out.
    db.execute("BEGIN")
    db.execute(f"""
        WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < 11)
        INSERT INTO snapshot_hourly (host_id, hour, samples, pressure_samples, sum_total_kb,
            sum_available_kb, min_available_kb, sum_full_avg60)
        SELECT h.id, ({now} / {HOUR} - s.k) * {HOUR}, 120, 120, 120 * 16777216,
            120 * CASE WHEN h.id % 10 = 0 THEN 2000000 + s.k * 400000 ELSE 8000000 + (s.k % 3) * 10000 END,
            1000000, 120 * CASE WHEN h.id % 10 = 0 THEN 12.0 ELSE 0.1 END
        FROM s, hosts h""")
    # Process lifetimes for every (host, comm) killed 3 or more times: four runs each.
    db.execute(f"""
        WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < 3),
        pairs AS (SELECT host_id, comm FROM events GROUP BY host_id, comm HAVING count(*) >= 3)
        INSERT INTO process_runs
        SELECT host_id, comm, 2000 + k.n, {now} - (k.n + 1) * 6 * {HOUR}, {now} - (k.n + 1) * 6 * {HOUR},
            {now} - (k.n + 1) * 6 * {HOUR} + 5 * {HOUR}, 100000, 500000, 31,
            31 * 9000.0, 31 * 300000.0, 31 * 9000.0 * 9000.0 * 1.3, 31 * 9000.0 * 300000.0 * 1.15,
            31 * 300000.0 * 300000.0 * 1.1
        FROM pairs, k""")
    db.execute("COMMIT")
    t2 = time.perf_counter()
    db.execute("ANALYZE")
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("hosts", "events", "advice_daily", "process_runs", "snapshot_hourly")}
    print(json.dumps({"test": "generate", **counts, "events_seconds": round(t1 - t0, 1),
                      "rollups_seconds": round(t2 - t1, 1)}))


def cmd_advice(a):
    assert a.url.startswith("http://127.0.0.1:"), "send test traffic to 127.0.0.1 only"
    host, port = a.url[len("http://"):].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=300)
    lat, kinds = [], {}
    for _ in range(a.runs):
        t0 = time.perf_counter()
        query = "since=" + a.since + ("&limit=%d" % a.limit if a.limit else "")
        conn.request("GET", "/api/v1/reports/advice?" + query, headers={"Authorization": "Bearer " + a.token})
        r = conn.getresponse()
        data = r.read()
        lat.append(time.perf_counter() - t0)
        assert r.status == 200, data[:300]
        kinds = {}
        report = json.loads(data)
        for f in report["findings"]:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    out = {"test": "advice", "since": a.since, "limit": a.limit or "default", "runs": a.runs,
           "p50_ms": round(statistics.median(lat) * 1000, 1), "min_ms": round(min(lat) * 1000, 1),
           "max_ms": round(max(lat) * 1000, 1), "bytes": len(data), "total": report.get("total"),
           "truncated": report.get("truncated"), "findings": kinds}
    print(json.dumps(out))
    if a.out:
        json.dump(out, open(a.out, "w"))


def cmd_reference(a):
    """The same aggregation as a plain scan of the events table (no rollup, no index): per
    host, process name, scope and cgroup, count, RSS sums, min, max, first and last kill."""
    db = sqlite3.connect(a.db)
    db.execute("PRAGMA cache_size=-32768")
    now = int(time.time() * 1e6)
    since = now - a.since_days * DAY
    lat, groups = [], 0
    for _ in range(a.runs):
        t0 = time.perf_counter()
        rows = db.execute("""
            SELECT host_id, comm, scope, memcg, count(*), sum(rss_kb), sum(rss_kb * 1.0 * rss_kb),
                min(rss_kb), max(rss_kb), max(memcg_usage_kb), max(memcg_limit_kb), min(time), max(time),
                max(shield_rss_kb * 1.0 / max(rss_kb, 1))
            FROM events NOT INDEXED WHERE time >= ? AND time < ?
            GROUP BY host_id, comm, scope, memcg""", (since, now)).fetchall()
        lat.append(time.perf_counter() - t0)
        groups = len(rows)
    out = {"test": "reference_plain_scan", "groups": groups, "runs": a.runs,
           "p50_ms": round(statistics.median(lat) * 1000, 1), "min_ms": round(min(lat) * 1000, 1)}
    print(json.dumps(out))
    if a.out:
        json.dump(out, open(a.out, "w"))


def cmd_plans(a):
    db = sqlite3.connect(a.db)
    for q in [
        "SELECT host_id, kind, key, kills FROM advice_groups WHERE last_time >= 0 AND first_time < 1 AND (kills >= 3 OR kind = 'global' OR (kind = 'comm' AND key IN ('sshd')))",
        "SELECT sum(kills) FROM advice_daily WHERE host_id = 1 AND kind = 'comm' AND key = 'a' AND day >= 1 AND day < 9 AND kills > 0",
        "SELECT host_id, comm, count(*) FROM events INDEXED BY events_time_cover WHERE time >= 0 AND time < 1 GROUP BY host_id, comm",
        "SELECT event_id FROM events INDEXED BY events_comm WHERE comm = 'a' AND host_id = 1 AND time >= 0 AND time < 1 ORDER BY time DESC LIMIT 5",
        "SELECT pid FROM process_runs WHERE host_id = 1 AND comm = 'a' AND last_time >= 0 AND first_time < 1 ORDER BY last_time DESC LIMIT 50",
        "SELECT g.kills, (SELECT group_concat(last_event) FROM (SELECT last_event FROM advice_daily d WHERE d.host_id = g.host_id AND d.kind = g.kind AND d.key = g.key AND d.day >= 1 AND d.day < 9 ORDER BY d.day DESC LIMIT 5)), e.shield_name FROM advice_groups g LEFT JOIN events e ON g.kind = 'global' AND e.event_id = g.best_event WHERE g.last_time >= 0",
        "SELECT host_id, comm, pid FROM process_runs NOT INDEXED WHERE last_time >= 0 AND first_time < 1 AND samples >= 4 ORDER BY host_id, comm",
        "SELECT k.value ->> 0, hour FROM json_each('[[1,2]]') k JOIN snapshot_hourly ON host_id = k.value ->> 0 AND hour > (k.value ->> 1) - 3 AND hour <= k.value ->> 1",
        "SELECT s.host_id, s.hour FROM hosts h CROSS JOIN snapshot_hourly s ON s.host_id = h.id AND s.hour > 0 AND s.hour <= 1",
    ]:
        plan = "; ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + q))
        print(json.dumps({"test": "plan", "query": q[:120], "plan": plan}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen"); g.add_argument("db"); g.add_argument("--events", type=int, default=1000000)
    g.add_argument("--hosts", type=int, default=10000)
    v = sub.add_parser("advice"); v.add_argument("url"); v.add_argument("token")
    v.add_argument("--runs", type=int, default=5); v.add_argument("--since", default="30d"); v.add_argument("--out")
    v.add_argument("--limit", type=int, default=0, help="findings per answer (0: the collector's default)")
    r = sub.add_parser("reference"); r.add_argument("db"); r.add_argument("--since-days", type=int, default=30)
    r.add_argument("--runs", type=int, default=5); r.add_argument("--out")
    q = sub.add_parser("plans"); q.add_argument("db")
    a = p.parse_args()
    {"gen": cmd_gen, "advice": cmd_advice, "reference": cmd_reference, "plans": cmd_plans}[a.cmd](a)


if __name__ == "__main__":
    main()
