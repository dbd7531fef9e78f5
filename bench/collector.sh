#!/bin/sh
# Collector benchmark: ingest over HTTP vs a plain batched SQLite insert of the same rows,
# summary latency at several windows over 1 M events and 10 M snapshot rows, and a
# simulated fleet of 10,000 agents. Traffic goes to 127.0.0.1 only.
# Usage: bench/collector.sh   (env: BATCHES, EVENTS, SNAPSHOTS, AGENTS, DURATION; SKIP_FLEET=1)
# Goals: ingest >= 0.5x the plain insert (WAL, synchronous=NORMAL, unique id, two indexes,
# 100 rows per transaction); summary p50 <= 100 ms at any window; fleet p99 < 100 ms, 0 errors.
set -eu
cd "$(dirname "$0")/.."
BATCHES=${BATCHES:-2000}        # x 100 events
EVENTS=${EVENTS:-1000000}
SNAPSHOTS=${SNAPSHOTS:-10000000}
AGENTS=${AGENTS:-10000}
DURATION=${DURATION:-120}
PORT=${PORT:-18731}
. bench/collector-env.sh

echo "# machine: $(nproc) cores, $(uname -r), SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')"
echo "# 1. ingest: 64 clients x batches of 100 new events over HTTP (group commit), then the"
echo "#    plain reference: the same rows, Python sqlite3, WAL, unique id + 2 indexes, 100 per transaction"
start "$WORK/ingest.sqlite"   # synchronous=FULL, the default
$LOAD ingest "$URL" "$AGENT" --clients 64 --batches "$BATCHES" --batch-size 100 --dump-rows "$WORK/rows.json" \
    | tee "$WORK/http-full.json"
stop
export OOMWATCH_DB_SYNCHRONOUS=normal
start "$WORK/ingest-normal.sqlite"
$LOAD ingest "$URL" "$AGENT" --clients 64 --batches "$BATCHES" --batch-size 100 | tee "$WORK/http-normal.json"
# Acknowledged after COMMIT, the kills reach the rollups later: the first report waits for them.
$LOAD caught-up "$URL" "$READ" --http "$WORK/http-normal.json" | tee "$WORK/caught-up.json"
stop
unset OOMWATCH_DB_SYNCHRONOUS
$LOAD raw "$WORK/raw-normal.sqlite" --rows "$WORK/rows.json" --synchronous NORMAL | tee "$WORK/raw-normal.json"
$LOAD raw "$WORK/raw-full.sqlite" --rows "$WORK/rows.json" --synchronous FULL | tee "$WORK/raw-full.json"
$LOAD ratio "$WORK/http-normal.json" "$WORK/raw-normal.json" --label "synchronous=NORMAL both (the goal)"
$LOAD ratio "$WORK/caught-up.json" "$WORK/raw-normal.json" --key events_per_s_with_fold \
    --label "synchronous=NORMAL both, counting the rollups' catch-up"
$LOAD ratio "$WORK/http-full.json" "$WORK/raw-full.json" --label "synchronous=FULL both"
$LOAD ratio "$WORK/http-full.json" "$WORK/raw-normal.json" --label "collector default FULL vs plain NORMAL"

echo "# 2. summary over $EVENTS events and $SNAPSHOTS snapshot rows (10,000 hosts, 30 days)"
start "$WORK/big.sqlite"   # creates the schema
stop
$LOAD gen "$WORK/big.sqlite" --events "$EVENTS" --snapshots "$SNAPSHOTS" --hosts 10000
start "$WORK/big.sqlite"
for since in 1d 7d 30d; do $LOAD summary "$URL" "$READ" --runs 10 --since $since; done
# A window inside the history, both edges mid-day (hours picked once at random).
$LOAD summary "$URL" "$READ" --runs 10 --since 517h --until 203h
stop

[ "${SKIP_FLEET:-0}" = 1 ] && exit 0
echo "# 3. fleet: $AGENTS agents, each posting a snapshot every 30 s for $DURATION s"
start "$WORK/fleet.sqlite"
$LOAD fleet "$URL" "$AGENT" --agents "$AGENTS" --interval 30 --duration "$DURATION" --workers 128
curl -s -H "Authorization: Bearer $READ" "$URL/metrics" | grep -E '^oomwatch_(ingest_batches_total|overloaded_total|database_errors_total|hosts |ingest_snapshots_total)'
stop
