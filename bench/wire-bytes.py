#!/usr/bin/env python3
"""Bytes on the wire per snapshot (issue 15 point 3: <= 1 KB on average).

Real snapshots of this machine (`oomwatch-agent snapshot`, top 20 processes), with the
churn of bench/disk-sizing.py (RSS and available memory move every sample, vmstat
counters grow, a process is replaced about every five minutes, five real samples in
turn), one batch per snapshot as the agent sends them at its interval, through the
agent's own body builder (`oomwatch-agent wire-bytes`: processes by reference, snapshots
as deltas against the last acknowledged one, gzip above 1 KiB as the uploader does). The
reference is the full form of the same batches, gzipped the same way.

    bench/wire-bytes.py [--bin DIR] [--hosts 2] [--hours 2] [--interval 10] [--cmdline-max N]

DIR holds oomwatch-agent (default: $OOMWATCH_BIN_DIR, else .build/release, else
.build/debug). The bytes do not depend on the build mode.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("disk_sizing", os.path.join(HERE, "disk-sizing.py"))
ds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ds)


def wire_batches(bindir, lines, extra=()):
    """Runs the agent's body builder over snapshot JSON lines; one dict per batch."""
    r = subprocess.run([os.path.join(bindir, "oomwatch-agent"), "wire-bytes", *extra],
                       input="\n".join(lines) + "\n", capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"wire-bytes: oomwatch-agent wire-bytes failed: {r.stderr.strip()[:500]}")
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def churned(templates, hosts, count, interval, prefix):
    """COUNT snapshots per host, each host's in time order (hosts one after another)."""
    out = []
    now = time.time()
    for h in range(hosts):
        host = f"{prefix}-{h:03d}"
        gen = ds.day_of_snapshots(templates, host, interval, now - 86400 + count * interval)
        for _ in range(count):
            out.append(next(gen))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin")
    ap.add_argument("--hosts", type=int, default=2)
    ap.add_argument("--hours", type=float, default=2)
    ap.add_argument("--interval", type=float, default=10)
    ap.add_argument("--cmdline-max", type=int)
    args = ap.parse_args()
    bindir = ds.find_bin(args.bin)
    templates = ds.real_snapshots(bindir, 5)
    if args.cmdline_max is not None:
        for t in templates:
            for p in t.get("processes") or []:
                if p.get("cmdline"):
                    p["cmdline"] = p["cmdline"][:args.cmdline_max]
    count = int(args.hours * 3600 / args.interval)
    snaps = churned(templates, args.hosts, count, args.interval, "wire")
    batches = wire_batches(bindir, [json.dumps(s, separators=(",", ":")) for s in snaps])
    n = len(snaps)
    wire = sum(b["wire"] for b in batches)
    full = sum(b["full"] for b in batches)
    deltas = sum(b["deltas"] for b in batches)
    raw = sum(len(json.dumps(s, separators=(",", ":"))) for s in snaps)
    print(f"binaries: {bindir}")
    print(f"{n} snapshots from {args.hosts} hosts, {args.interval:g} s apart, one batch each "
          f"({len(templates[0].get('processes') or [])} processes; {raw / n / 1024:.1f} KiB of JSON a snapshot)")
    print(f"full form (gzipped as sent): {full / n:.0f} bytes a snapshot")
    print(f"wire form (references + deltas, gzipped as sent): {wire / n:.0f} bytes a snapshot "
          f"({deltas} of {n} as deltas); ratio wire/full {wire / full:.3f}")
    print(f"goal <= 1 KB (1024 bytes) a snapshot: {'met' if wire / n <= 1024 else 'MISSED'}")


if __name__ == "__main__":
    main()
