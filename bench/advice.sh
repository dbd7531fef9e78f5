#!/bin/sh
# Advice benchmark: GET /api/v1/reports/advice over 10,000 hosts and 1 M events (30 days,
# skewed like real fleets), against the plain SQL scan doing the same aggregation in the
# same run; prints both and their ratio (the advice timing is the default answer: all
# findings computed, the first 1000 sent; the run with every finding sent is printed too).
# Traffic goes to 127.0.0.1 only.
# The default answer is then read again with advice.parallelism 1 (the fleet in one read
# transaction, not in host ranges side by side).
# Usage: bench/advice.sh   (env: EVENTS, HOSTS, RUNS, BIN)   Goal: advice <= 1 s.
set -eu
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-1000000}
HOSTS=${HOSTS:-10000}
RUNS=${RUNS:-5}
PORT=${PORT:-18733}
. bench/collector-env.sh
LOAD="python3 bench/advice_load.py"

echo "# machine: $(nproc) cores, $(uname -r), binary $BIN"
start "$WORK/advice.sqlite"; stop   # the collector creates the schema
$LOAD gen "$WORK/advice.sqlite" --events "$EVENTS" --hosts "$HOSTS"
$LOAD plans "$WORK/advice.sqlite"
start "$WORK/advice.sqlite"
# The answer the API gives (the first 1000 findings; every rule still runs on every
# candidate, so "total" counts them all), then every finding in one answer.
$LOAD advice "$URL" "$READ" --runs "$RUNS" --since 30d --out "$WORK/advice.json"
$LOAD advice "$URL" "$READ" --runs "$RUNS" --since 30d --limit 100000
stop
# The same answer read in one transaction (advice.parallelism 1), for what the parts buy.
export OOMWATCH_ADVICE_PARALLELISM=1
start "$WORK/advice.sqlite"
$LOAD advice "$URL" "$READ" --runs "$RUNS" --since 30d --out "$WORK/one-read.json"
stop
unset OOMWATCH_ADVICE_PARALLELISM
$LOAD reference "$WORK/advice.sqlite" --since-days 30 --runs "$RUNS" --out "$WORK/reference.json"
python3 - "$WORK/advice.json" "$WORK/reference.json" "$WORK/one-read.json" <<'PY'
import json, sys
a, r, one = (json.load(open(p)) for p in sys.argv[1:4])
print(json.dumps({"test": "advice_vs_plain_scan", "advice_p50_ms": a["p50_ms"],
                  "one_read_p50_ms": one["p50_ms"], "plain_scan_p50_ms": r["p50_ms"],
                  "ratio": round(a["p50_ms"] / r["p50_ms"], 2), "goal_1s_met": a["p50_ms"] <= 1000}))
PY
