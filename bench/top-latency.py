#!/usr/bin/env python3
"""`GET /api/v1/top` latency over a fleet: the largest processes across every host's newest
snapshot, which the collector reads from its writer's memory (a host that posted since
the start) or else from the stored snapshot (right after a restart).

HOSTS hosts post one real snapshot each (`oomwatch-agent snapshot`, 20 processes); `top`
is then timed three times warm, the collector restarted, and timed three times cold. The
reference, in the same run: the plain way to answer the same question from a SQLite file
that keeps each host's newest process list as JSON in its row (Python's sqlite3: read
every row, parse, sort, take 20), as the collector did before session 14.

    bench/top-latency.py [--bin DIR] [--hosts 2000]

DIR holds oomwatch-collector and oomwatch-agent (default: $OOMWATCH_BIN_DIR, else
.build/release, else .build/debug). Traffic goes to 127.0.0.1 only.
"""
import argparse
import copy
import importlib.util
import json
import os
import sqlite3
import statistics
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("disk_sizing", os.path.join(HERE, "disk-sizing.py"))
ds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin")
    ap.add_argument("--hosts", type=int, default=2000)
    args = ap.parse_args()
    bindir = ds.find_bin(args.bin)
    templates = ds.real_snapshots(bindir, 2)
    work = tempfile.mkdtemp(prefix="oomwatch-top-")
    now = int(time.time()) - 60
    snaps = []
    for h in range(args.hosts):
        s = copy.deepcopy(templates[h % len(templates)])
        s["host"] = f"top-{h:05d}"
        s["time"] = ds.rfc3339(now)
        snaps.append(s)

    c = ds.Collector(bindir, work)
    try:
        def poster(part):
            for s in part:
                ds.post(c.port, {"host": s["host"], "agent": {"version": "bench", "interval_s": 10},
                                 "snapshots": [s], "events": []})
        threads = [threading.Thread(target=poster, args=(snaps[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        def top():
            req = urllib.request.Request(f"http://127.0.0.1:{c.port}/api/v1/top?limit=20",
                                         headers={"Authorization": "Bearer " + ds.TOKEN})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=300) as r:
                n = len(json.load(r)["processes"])
            assert n == 20, f"top answered {n} processes"
            return (time.perf_counter() - t0) * 1000

        warm = [top() for _ in range(3)]
        c.stop()
        c = ds.Collector(bindir, work)
        cold = [top() for _ in range(3)]
        c.stop()
    finally:
        c.kill()

    raw = sqlite3.connect(os.path.join(work, "plain.sqlite"))
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE hosts (name TEXT PRIMARY KEY, snapshot_time TEXT, processes_json TEXT)")
    raw.executemany("INSERT INTO hosts VALUES (?, ?, ?)",
                    [(s["host"], s["time"], json.dumps(s["processes"], separators=(",", ":"))) for s in snaps])
    raw.commit()

    def plain():
        t0 = time.perf_counter()
        every = []
        for name, t, j in raw.execute("SELECT name, snapshot_time, processes_json FROM hosts"):
            every += [(p.get("rss_kb", 0), name, t, p) for p in json.loads(j)]
        every.sort(key=lambda x: -x[0])
        assert len(every[:20]) == 20
        return (time.perf_counter() - t0) * 1000

    reference = [plain() for _ in range(3)]
    ref = statistics.median(reference)
    print(f"binaries: {bindir}")
    print(f"top over {args.hosts} hosts (20 processes each), ms, three runs each:")
    print(f"  warm (the writer's memory): {', '.join(f'{x:.0f}' for x in warm)}; "
          f"median {statistics.median(warm):.0f} = {statistics.median(warm) / ref:.2f}x the plain read")
    print(f"  cold (after a restart, from the stored snapshots): {', '.join(f'{x:.0f}' for x in cold)}; "
          f"median {statistics.median(cold):.0f} = {statistics.median(cold) / ref:.2f}x the plain read")
    print(f"  plain read of a JSON column per host (Python sqlite3): {', '.join(f'{x:.0f}' for x in reference)}")


if __name__ == "__main__":
    main()
