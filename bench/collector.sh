#!/bin/sh
# Collector benchmark: ingest over HTTP vs raw SQLite, summary latency over 1 M events and
# 10 M snapshot rows, and a simulated fleet of 10,000 agents. Traffic goes to 127.0.0.1
# only. Usage: bench/collector.sh   (env: BATCHES, EVENTS, SNAPSHOTS, AGENTS, DURATION)
# Goals: ingest >= half the raw insert rate; summary < 200 ms; fleet p99 < 100 ms, 0 errors.
set -eu
cd "$(dirname "$0")/.."
BATCHES=${BATCHES:-2000}        # x 100 events
EVENTS=${EVENTS:-1000000}
SNAPSHOTS=${SNAPSHOTS:-10000000}
AGENTS=${AGENTS:-10000}
DURATION=${DURATION:-120}
PORT=${PORT:-18731}
BIN=.build/release/oomwatch-collector
[ -x "$BIN" ] || swift build -c release --product oomwatch-collector
WORK=$(mktemp -d /tmp/oomwatch-bench.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
AGENT=bench-agent-token-0123456789
READ=bench-read-token-0123456789
printf 'agent %s bench\nread %s bench\n' "$AGENT" "$READ" > "$WORK/tokens"
URL=http://127.0.0.1:$PORT
LOAD="python3 bench/collector_load.py"

start() { # $1 = database file
    "$BIN" serve --listen "127.0.0.1:$PORT" --db "$1" --tokens-file "$WORK/tokens" \
        --log-level warning >>"$WORK/collector.log" 2>&1 &
    PID=$!
    i=0
    until curl -sf "$URL/healthz" >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 200 ] || { cat "$WORK/collector.log"; exit 1; }; sleep 0.05
    done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

echo "# machine: $(nproc) cores, $(uname -r), SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')"
echo "# 1. ingest: 64 clients x batches of 100 events over HTTP (synchronous=FULL, group commit)"
start "$WORK/ingest.sqlite"
$LOAD ingest "$URL" "$AGENT" --clients 64 --batches "$BATCHES" --batch-size 100 --dump-rows "$WORK/rows.json"
stop
echo "# 2. raw reference: the same rows, same schema and pragmas, Python sqlite3, one transaction per 100"
$LOAD raw "$WORK/raw.sqlite" --rows "$WORK/rows.json" --schema-from "$WORK/ingest.sqlite" --synchronous FULL
$LOAD raw "$WORK/raw-normal.sqlite" --rows "$WORK/rows.json" --schema-from "$WORK/ingest.sqlite" --synchronous NORMAL

echo "# 3. summary over $EVENTS events and $SNAPSHOTS snapshot rows (10,000 hosts, 30 days)"
start "$WORK/big.sqlite"   # creates the schema
stop
$LOAD gen "$WORK/big.sqlite" --events "$EVENTS" --snapshots "$SNAPSHOTS" --hosts 10000
start "$WORK/big.sqlite"
$LOAD summary "$URL" "$READ" --runs 10 --since 30d
$LOAD summary "$URL" "$READ" --runs 10 --since 7d
stop

echo "# 4. fleet: $AGENTS agents, each posting a snapshot every 30 s for $DURATION s"
start "$WORK/fleet.sqlite"
$LOAD fleet "$URL" "$AGENT" --agents "$AGENTS" --interval 30 --duration "$DURATION" --workers 128
curl -s -H "Authorization: Bearer $READ" "$URL/metrics" | grep -E '^oomwatch_(ingest_batches_total|overloaded_total|database_errors_total|hosts |ingest_snapshots_total)'
stop
