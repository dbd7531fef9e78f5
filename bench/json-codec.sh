#!/usr/bin/env bash
# Issue 14 point 1: which JSON codec the whole wire uses, measured, not assumed.
#   1. decode and encode time of a realistic snapshot batch (real `oomwatch-agent snapshot`
#      output of this host, 30 snapshots, RSS moving) and an event batch (100 real kernel
#      OOM events) with OOMKit's JSONReader/JSONWriter (strict: depth, duplicate keys)
#      and with FoundationEssentials' JSONDecoder/JSONEncoder, one binary, same inputs;
#   2. the memory a process that encodes batches holds with each (RSS and private kB),
#      which is what the codec costs the agent.
# Usage: bench/json-codec.sh   (needs oomwatch-agent in $OOMWATCH_BIN_DIR, else
# .build/release, else .build/debug; results printed and written to bench/out/json-codec.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/oomwatch-codec-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
BIN=${OOMWATCH_BIN_DIR:-}
for d in "$BIN" .build/release .build/debug; do
    if [[ -n "$d" && -x "$d/oomwatch-agent" ]]; then BIN=$d; break; fi
done
[[ -x "$BIN/oomwatch-agent" ]] || { echo "no oomwatch-agent: swift build first" >&2; exit 1; }

echo "== building the codec benchmark (OOMKit's sources, -O)"
# From a copy: the tree may be edited while this compiles.
cp -R Sources/OOMKit "$WORK/src"
swiftc -O -parse-as-library -module-name OOMKit $(find "$WORK/src" -name '*.swift' | sort) \
    -emit-library -static -emit-module -emit-module-path "$WORK/OOMKit.swiftmodule" -o "$WORK/libOOMKit.a"
swiftc -O -I "$WORK" bench/codec/main.swift "$WORK/libOOMKit.a" -o "$WORK/codec"

echo "== inputs"
"$BIN/oomwatch-agent" snapshot >"$WORK/one.json"
python3 - "$WORK" <<'PY'
import json, random, sys
work = sys.argv[1]
snap = json.load(open(work + "/one.json"))
random.seed(1)
snaps = []
for i in range(30):
    s = json.loads(json.dumps(snap))
    s["time"] = "2026-11-20T10:%02d:%02dZ" % (i * 10 // 60, i * 10 % 60)
    for p in s.get("processes", []):
        p["rss_kb"] = max(0, p["rss_kb"] + random.randint(-500, 500))
    snaps.append(s)
json.dump({"host": snap["host"], "agent": {"version": "bench"}, "snapshots": snaps, "events": []},
          open(work + "/snapshots.json", "w"), separators=(",", ":"))
event = json.load(open("Fuzz/AgentJSON/seeds/event.json"))
events = []
for i in range(100):
    e = dict(event); e["id"] = "bench-%d" % i; e["host"] = snap["host"]
    events.append(e)
json.dump({"host": snap["host"], "snapshots": [], "events": events},
          open(work + "/events.json", "w"), separators=(",", ":"))
PY
{
    echo "== speed (best of 5; ratio > 1: OOMKit faster)"
    "$WORK/codec" speed "$WORK/snapshots.json" "$WORK/events.json"
    echo "== memory of a process encoding both batches 200 times (each in a fresh process)"
    "$WORK/codec" rss-oomkit "$WORK/snapshots.json" "$WORK/events.json"
    "$WORK/codec" rss-foundation "$WORK/snapshots.json" "$WORK/events.json"
} | tee "$OUT/json-codec.txt"
