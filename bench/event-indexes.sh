#!/bin/bash
# What the four events indexes dropped in v11-lean-event-indexes cost at ingest: the same
# release collector, A B A B, once as it is (lean) and once with the four indexes
# re-created right after start (old), each run followed by the plain batched SQLite insert
# of the same rows (the reference of bench/collector.sh). Prints one line per run and the
# medians. Traffic goes to 127.0.0.1 only.
# Usage: bench/event-indexes.sh   (env: PAIRS=7, BATCHES=300, BIN, PORT)
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-7}
BATCHES=${BATCHES:-300}
PORT=${PORT:-18741}
. bench/collector-env.sh
OLD_INDEXES="CREATE INDEX events_unit ON events(unit, time) WHERE unit IS NOT NULL;
CREATE INDEX events_container ON events(container, time) WHERE container IS NOT NULL;
CREATE INDEX events_memcg ON events(host_id, memcg, time) WHERE memcg IS NOT NULL;
CREATE INDEX events_global ON events(host_id, time) WHERE scope = 'global';"

cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
run() { # $1 = lean|old
    local dir="$WORK/$1-$2"
    mkdir "$dir"
    OOMWATCH_DB_SYNCHRONOUS=normal start "$dir/db.sqlite"
    [ "$1" = old ] && python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1], timeout=10).executescript(sys.argv[2])' \
        "$dir/db.sqlite" "$OLD_INDEXES"
    local t0 t1
    t0=$(cpu)
    $LOAD ingest "$URL" "$AGENT" --clients 64 --batches "$BATCHES" --batch-size 100 --dump-rows "$dir/rows.json" \
        > "$dir/http.json"
    t1=$(cpu)
    $LOAD caught-up "$URL" "$READ" --http "$dir/http.json" > "$dir/caught-up.json"
    stop
    $LOAD raw "$dir/raw.sqlite" --rows "$dir/rows.json" --synchronous NORMAL > "$dir/raw.json"
    python3 - "$1" "$dir" "$t0" "$t1" <<'PY'
import json, sys
label, d, t0, t1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h, c, r = (json.load(open(f"{d}/{n}.json")) for n in ("http", "caught-up", "raw"))
out = {"test": "event_indexes", "variant": label, "http_events_per_s": h["events_per_s"],
       "plain_events_per_s": r["events_per_s"], "ratio": round(h["events_per_s"] / r["events_per_s"], 2),
       "ratio_with_fold": round(c["events_per_s_with_fold"] / r["events_per_s"], 2),
       "collector_cpu_s": (t1 - t0) / 100, "errors": h["errors"]}
print(json.dumps(out))
open(f"{d}/result.json", "w").write(json.dumps(out))
PY
}
for i in $(seq "$PAIRS"); do run lean "$i"; run old "$i"; done
python3 - "$WORK" <<'PY'
import glob, json, statistics, sys
rows = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/*/result.json")]
for v in ("lean", "old"):
    rs = [r for r in rows if r["variant"] == v]
    med = {k: statistics.median(r[k] for r in rs)
           for k in ("http_events_per_s", "ratio", "ratio_with_fold", "collector_cpu_s")}
    print(json.dumps({"test": "event_indexes_median", "variant": v, "runs": len(rs), **med, "goal": "ratio >= 0.5"}))
PY
