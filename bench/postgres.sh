#!/bin/sh
# Two collectors on one local PostgreSQL vs one collector on SQLite: same data, same run,
# same machine. Traffic goes to 127.0.0.1 only; the PostgreSQL server is the throwaway one
# of scripts/with-postgres (started here when OOMWATCH_TEST_POSTGRES is not set).
#
#   bench/postgres.sh      (env: BIN=DIR with oomwatch-collector, default .build/release,
#                           else .build/debug; BATCHES=300 event batches of 100;
#                           SNAPSHOTS=2000; EVENTS=100000 for the summary; AGENTS=10000,
#                           DURATION=120 for the fleet; SKIP_SUMMARY=1, SKIP_FLEET=1)
#
# 1. events/s: 64 clients posting batches of 100 new events, to the SQLite collector, then
#    spread over the two PostgreSQL collectors.
# 2. snapshots/s and CPU per snapshot: 8 clients, one real snapshot of this machine a
#    batch (with bench/disk-sizing.py's churn); the collectors' CPU and (PostgreSQL) the
#    database server's CPU, from /proc; the disk the stored snapshots take.
# 3. summary latency over EVENTS events (10,000 hosts, 30 days, skewed): the same events
#    posted to each store through its collectors, p50 of 10 at several windows on each;
#    then that SQLite history copied into a fresh PostgreSQL database with
#    `oomwatch-collector migrate` (its rate is printed).
# 4. the fleet: AGENTS agents posting a snapshot every 30 s for DURATION s, p99 latency,
#    against the SQLite collector and against the two PostgreSQL collectors (half each).
# The build mode matters (a debug collector spends several times the CPU): say which.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${OOMWATCH_TEST_POSTGRES:-}" ]; then
    exec scripts/with-postgres "$0" "$@"
fi
BATCHES=${BATCHES:-300}
SNAPSHOTS=${SNAPSHOTS:-2000}
EVENTS=${EVENTS:-100000}
AGENTS=${AGENTS:-10000}
DURATION=${DURATION:-120}
if [ -z "${BIN:-}" ]; then
    BIN=.build/release
    [ -x "$BIN/oomwatch-collector" ] || BIN=.build/debug
fi
COLLECTOR=$BIN/oomwatch-collector
[ -x "$COLLECTOR" ] || { echo "no $COLLECTOR: swift build -c release --product oomwatch-collector" >&2; exit 1; }
WORK=$(mktemp -d /tmp/oomwatch-bench-pg.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
AGENT=bench-agent-token-0123456789
READ=bench-read-token-0123456789
printf 'agent %s bench\nread %s bench\n' "$AGENT" "$READ" >"$WORK/tokens"
LOAD="python3 bench/postgres_load.py"
PM=$(head -n 1 "$OOMWATCH_TEST_POSTGRES_SOCKET/data/postmaster.pid")
export PGPASSWORD="$OOMWATCH_TEST_POSTGRES_PASSWORD"
BASE=${OOMWATCH_TEST_POSTGRES%%\?*}
BASE=${BASE%/*}
pg_url() { echo "$BASE/$1?sslmode=disable"; }
psql_run() { psql -X -q -v ON_ERROR_STOP=1 "$(pg_url oomwatch)" -c "$1"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start NAME DB: a collector on DB (a path or a postgres URL); sets PORT and PID.
start() {
    PORT=$(free_port)
    "$COLLECTOR" serve --listen "127.0.0.1:$PORT" --db "$2" --tokens-file "$WORK/tokens" \
        --db-password-file "$OOMWATCH_TEST_POSTGRES_PASSWORD_FILE" --log-level warning >>"$WORK/$1.log" 2>&1 &
    PID=$!
    PIDS="$PIDS $PID"
    i=0
    until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 600 ] || { cat "$WORK/$1.log"; exit 1; }
        sleep 0.1
    done
}
stop_all() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    PIDS=""
}

echo "# machine: $(nproc) cores, $(uname -r); collector $COLLECTOR; $("$OOMWATCH_TEST_POSTGRES_BIN/postgres" --version)," \
    "SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')"

echo "# 1+2. SQLite: one collector"
start sqlite "$WORK/ingest.sqlite"
$LOAD events --urls "http://127.0.0.1:$PORT" --token "$AGENT" --batches "$BATCHES" --label sqlite
$LOAD snapshots --urls "http://127.0.0.1:$PORT" --token "$AGENT" --snapshots "$SNAPSHOTS" --pids "$PID" --label sqlite \
    --real "$BIN" --templates "$WORK/templates.json"
stop_all
bytes=$(sqlite3 "$WORK/ingest.sqlite" "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'snapshot%' OR name LIKE 'sqlite_autoindex_snapshot%'")
echo "{\"test\": \"snapshot_disk\", \"store\": \"sqlite\", \"bytes\": $bytes, \"bytes_per_snapshot\": $((bytes / SNAPSHOTS))}"

echo "# 1+2. PostgreSQL: two collectors on one database"
psql_run "CREATE DATABASE bench_ingest"
start pg-a "$(pg_url bench_ingest)"
A_PORT=$PORT A_PID=$PID
start pg-b "$(pg_url bench_ingest)"
URLS="http://127.0.0.1:$A_PORT,http://127.0.0.1:$PORT"
$LOAD events --urls "$URLS" --token "$AGENT" --batches "$BATCHES" --label postgres
$LOAD snapshots --urls "$URLS" --token "$AGENT" --snapshots "$SNAPSHOTS" --pids "$A_PID,$PID" --server-pid "$PM" \
    --label postgres --real "$BIN" --templates "$WORK/templates.json"
stop_all
bytes=$(psql -X -At "$(pg_url bench_ingest)" -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
    WHERE c.relkind IN ('r', 'p') AND c.relname LIKE 'snapshot%'")
echo "{\"test\": \"snapshot_disk\", \"store\": \"postgres\", \"bytes\": $bytes, \"bytes_per_snapshot\": $((bytes / SNAPSHOTS))}"

if [ "${SKIP_SUMMARY:-0}" != 1 ]; then
    echo "# 3. summary over $EVENTS events (10,000 hosts, 30 days, skewed), the same events posted to each"
    psql_run "CREATE DATABASE bench_summary"
    for store in sqlite postgres; do
        if [ $store = sqlite ]; then
            start summary-sqlite "$WORK/summary.sqlite"
            URLS="http://127.0.0.1:$PORT"
        else
            start summary-pg-a "$(pg_url bench_summary)"
            A_PORT=$PORT
            start summary-pg-b "$(pg_url bench_summary)"
            URLS="http://127.0.0.1:$A_PORT,http://127.0.0.1:$PORT"
        fi
        $LOAD events --urls "$URLS" --token "$AGENT" --batches $((EVENTS / 100)) --hosts 10000 --days 30 \
            --seed 7 --label "summary"
        for window in "--since 1d" "--since 7d" "--since 30d" "--since 517h --until 203h"; do
            printf '%s ' "$store"
            # shellcheck disable=SC2086
            python3 bench/collector_load.py summary "http://127.0.0.1:$PORT" "$READ" --runs 10 $window
        done
        stop_all
    done
    echo "# 3b. oomwatch-collector migrate of that SQLite history into a fresh PostgreSQL database"
    psql_run "CREATE DATABASE bench_migrate"
    t0=$(date +%s.%N)
    "$COLLECTOR" migrate --from "sqlite:$WORK/summary.sqlite" --to "$(pg_url bench_migrate)" --batch-size 2000 \
        --db-password-file "$OOMWATCH_TEST_POSTGRES_PASSWORD_FILE" 2>&1 | grep -v '^migrate: events:' | tail -n 4
    t1=$(date +%s.%N)
    python3 -c "import json; print(json.dumps({'test': 'migrate', 'events': $EVENTS, 'seconds': round($t1 - $t0, 1), 'events_per_s': round($EVENTS / ($t1 - $t0))}))"
fi

if [ "${SKIP_FLEET:-0}" != 1 ]; then
    echo "# 4. fleet: $AGENTS agents, a snapshot every 30 s for $DURATION s"
    start fleet-sqlite "$WORK/fleet.sqlite"
    printf 'sqlite '
    python3 bench/collector_load.py fleet "http://127.0.0.1:$PORT" "$AGENT" --agents "$AGENTS" --interval 30 \
        --duration "$DURATION" --workers 128
    stop_all
    psql_run "CREATE DATABASE bench_fleet"
    start fleet-pg-a "$(pg_url bench_fleet)"
    A_PORT=$PORT
    start fleet-pg-b "$(pg_url bench_fleet)"
    # Half the agents each, as behind a balancer; both halves run at once.
    half=$((AGENTS / 2))
    python3 bench/collector_load.py fleet "http://127.0.0.1:$A_PORT" "$AGENT" --agents "$half" --interval 30 \
        --duration "$DURATION" --workers 64 >"$WORK/fleet-a.json" &
    FA=$!
    python3 bench/collector_load.py fleet "http://127.0.0.1:$PORT" "$AGENT" --agents "$half" --interval 30 \
        --duration "$DURATION" --workers 64 >"$WORK/fleet-b.json"
    wait "$FA"
    printf 'postgres collector-a '; cat "$WORK/fleet-a.json"
    printf 'postgres collector-b '; cat "$WORK/fleet-b.json"
    stop_all
fi
