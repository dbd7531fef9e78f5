# Sourced by the collector benchmarks (bench/collector.sh, advice.sh, event-indexes.sh): the
# release collector, a work directory removed on exit, bench tokens, and start/stop of
# one collector on 127.0.0.1:$PORT. Set PORT (and BIN) before sourcing.
BIN=${BIN:-.build/release/oomwatch-collector}
[ -x "$BIN" ] || flock /tmp/oomwatch-release.lock swift build -c release --product oomwatch-collector
WORK=$(mktemp -d /tmp/oomwatch-bench.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
AGENT=bench-agent-token-0123456789
READ=bench-read-token-0123456789
printf 'agent %s bench\nread %s bench\n' "$AGENT" "$READ" > "$WORK/tokens"
URL=http://127.0.0.1:$PORT
LOAD="python3 bench/collector_load.py"

start() { # $1 = database file; the environment may set OOMWATCH_DB_SYNCHRONOUS
    "$BIN" serve --listen "127.0.0.1:$PORT" --db "$1" --tokens-file "$WORK/tokens" \
        --log-level warning >>"$WORK/collector.log" 2>&1 &
    PID=$!
    tries=0
    until curl -sf "$URL/healthz" >/dev/null 2>&1; do
        tries=$((tries + 1)); [ $tries -lt 400 ] || { cat "$WORK/collector.log"; exit 1; }; sleep 0.05
    done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
