#!/usr/bin/env bash
# Run from the repository root: Tests/OOMServerTests/Fixtures/make-v5-collector.sh BIN_DIR OUT.sqlite
# Makes a database with the collector of this release (schema up to v5-alert-outbox) from
# real agent snapshots and events posted over HTTP.
set -euo pipefail
BIN=$1; OUTDB=$2
W=$(mktemp -d /tmp/snapshot-store-fx-XXXX)
TOKEN=fixture-admin-token-0123456789abcdef
echo "admin $TOKEN fixture" > "$W/tokens"
PORT=$((20000 + RANDOM % 10000))
"$BIN/oomwatch-collector" serve --listen 127.0.0.1:$PORT --db "$W/db.sqlite" --tokens-file "$W/tokens" > "$W/log" 2>&1 &
CP=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.2; done
for i in 1 2 3; do "$BIN/oomwatch-agent" snapshot --hostname fixture-host > "$W/s$i.json"; sleep 1; done
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
snaps = [json.load(open(f"{w}/s{i}.json")) for i in (1, 2, 3)]
for i, s in enumerate(snaps):
    s["time"] = "2026-11-20T10:00:%02dZ" % (i * 10)
    s["host"] = "fixture-host"
    for p in s.get("processes", []):
        if p.get("cmdline"): p["cmdline"] = p["cmdline"][:200]
ev = json.load(open("Fuzz/AgentJSON/seeds/event.json"))
ev["host"] = "fixture-host"
ev["time"] = "2026-11-20T10:00:25Z"
batch = {"host": "fixture-host", "agent": {"version": "fixture", "interval_s": 10}, "snapshots": snaps, "events": [ev]}
json.dump(batch, open(w + "/batch.json", "w"))
PY
curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary @"$W/batch.json" http://127.0.0.1:$PORT/api/v1/ingest
echo
kill -TERM $CP; wait $CP || true
sqlite3 "$W/db.sqlite" "VACUUM"; cp "$W/db.sqlite" "$OUTDB"
ls -la "$W"
