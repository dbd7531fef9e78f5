#!/usr/bin/env python3
"""1,000 simulated agents against one collector (issue 7, "Load").

Each agent keeps one HTTP/1.1 keep-alive connection and posts a batch like the real agent's
(one memory snapshot with top processes; now and then an OOM event) every INTERVAL seconds
(+-20 % jitter), for DURATION seconds. Reports requests by status, latency percentiles,
throughput, and the collector's RSS sampled every 2 s. Fails (exit 1) on any response other
than 2xx or 429/503 with Retry-After, or on a transport error.

    bench/load.py --url http://127.0.0.1:8080 --token TOKEN --pid COLLECTOR_PID
"""
import argparse
import asyncio
import json
import random
import time


def snapshot(host, t):
    procs = [
        {"pid": 100 + i, "comm": f"worker-{i}", "rss_kb": 100000 - i * 1000, "uid": 1000,
         "cmdline": f"/usr/bin/worker --id {i}", "oom_score_adj": 0}
        for i in range(20)
    ]
    return {
        "host": host, "time": t, "uptime_s": 1000.0,
        "memory": {"total_kb": 16384000, "free_kb": 1000000, "available_kb": 4000000,
                   "cached_kb": 2000000, "swap_total_kb": 0, "swap_free_kb": 0},
        "vmstat": {"oom_kill": 0, "pgmajfault": 5, "pswpin": 0, "pswpout": 0},
        "pressure": {"some_avg10": 0.5, "some_avg60": 0.2, "some_avg300": 0.1, "some_total_us": 100,
                     "full_avg10": 0.0, "full_avg60": 0.0, "full_avg300": 0.0, "full_total_us": 0},
        "processes": procs, "cgroups": [],
    }


def rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"


class Stats:
    def __init__(self):
        self.status = {}
        self.latencies = []
        self.errors = 0
        self.bad = []
        self.events = 0


async def agent(i, host, port, token, interval, deadline, stats, start_spread):
    name = f"load-{i:04d}"
    await asyncio.sleep(random.uniform(0, start_spread))
    reader = writer = None
    seq = 0
    while time.monotonic() < deadline:
        now = time.time()
        batch = {"host": name, "boot_id": f"boot-{i}", "agent": {"version": "load", "interval_s": interval},
                 "snapshots": [snapshot(name, rfc3339(now))], "events": []}
        if random.random() < 0.02:
            stats.events += 1
            batch["events"].append({
                "id": f"load-{i}-{seq}", "source": "kernel", "time": rfc3339(now), "scope": "memcg",
                "victim": {"pid": 1000 + seq, "comm": "java", "anon_rss_kb": 1000000}})
        seq += 1
        body = json.dumps(batch).encode()
        req = (f"POST /api/v1/ingest HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        t0 = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            writer.write(req)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
            await reader.readexactly(int(headers.get("content-length", "0")))
            stats.latencies.append(time.monotonic() - t0)
            stats.status[status] = stats.status.get(status, 0) + 1
            if status in (429, 503):
                if "retry-after" not in headers:
                    stats.bad.append(f"{status} without Retry-After")
            elif not 200 <= status < 300:
                stats.bad.append(f"{status}")
            if headers.get("connection", "").lower() == "close":
                writer.close()
                writer = None
        except Exception as e:  # noqa: BLE001 - every transport failure is counted
            stats.errors += 1
            stats.bad.append(f"transport: {type(e).__name__}: {e}")
            if writer is not None:
                writer.close()
            writer = None
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))
    if writer is not None:
        writer.close()


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None


async def sampler(pid, deadline, samples):
    while time.monotonic() < deadline:
        samples.append((time.monotonic(), rss_kb(pid)))
        await asyncio.sleep(2)


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--token", required=True)
    ap.add_argument("--pid", type=int, help="collector pid, for RSS sampling")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=120)
    ap.add_argument("--interval", type=float, default=10)
    a = ap.parse_args()
    hostport = a.url.split("//", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    stats = Stats()
    samples = []
    start = time.monotonic()
    deadline = start + a.duration
    tasks = [agent(i, host, int(port), a.token, a.interval, deadline, stats, min(a.interval, a.duration))
             for i in range(a.agents)]
    if a.pid:
        tasks.append(sampler(a.pid, deadline, samples))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - start
    total = sum(stats.status.values())
    print(f"agents={a.agents} duration={elapsed:.0f}s interval={a.interval}s requests={total} "
          f"({total / elapsed:.0f}/s) events={stats.events} transport_errors={stats.errors}")
    print("status: " + ", ".join(f"{k}={v}" for k, v in sorted(stats.status.items())))
    lat = stats.latencies
    print(f"latency ms: p50={pct(lat, .5) * 1000:.1f} p90={pct(lat, .9) * 1000:.1f} "
          f"p99={pct(lat, .99) * 1000:.1f} max={max(lat or [0]) * 1000:.1f}")
    rss = [r for _, r in samples if r]
    if rss:
        third = max(1, len(rss) // 3)
        early, late = sum(rss[:third]) / third, sum(rss[-third:]) / third
        print(f"collector RSS MB: first={rss[0] / 1024:.1f} min={min(rss) / 1024:.1f} max={max(rss) / 1024:.1f} "
              f"last={rss[-1] / 1024:.1f} first-third avg={early / 1024:.1f} last-third avg={late / 1024:.1f}")
    bad = sorted(set(stats.bad))
    if bad:
        print(f"FAIL: {len(stats.bad)} bad responses, e.g. {bad[:5]}")
        return 1
    print("OK: no errors other than 429/503 with Retry-After")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
