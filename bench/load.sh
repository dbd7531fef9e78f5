#!/usr/bin/env bash
# Load: 1,000 simulated agents against one fresh collector for two minutes (issue 7).
#   bench/load.sh [--agents N] [--duration SECONDS] [--interval SECONDS]
# Starts $OOMWATCH_BIN_DIR/oomwatch-collector (else .build/release) on a free port with a
# scratch database, runs bench/load.py, prints status counts, latency percentiles (p99)
# and the collector's RSS over the run, and the database size at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${OOMWATCH_BIN_DIR:-.build/release}
work=$(mktemp -d /tmp/oomwatch-load-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=load-agent-token-0123456789
echo "agent $token load" >"$work/tokens"
ulimit -n 65536 2>/dev/null || true
"$bin/oomwatch-collector" serve --listen "127.0.0.1:$port" --db "$work/db.sqlite" --tokens-file "$work/tokens" \
    --log-level warning >"$work/collector.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
status=0
python3 bench/load.py --url "http://127.0.0.1:$port" --token "$token" --pid "$pid" "$@" || status=$?
echo "database: $(du -sh "$work" | cut -f1); collector log lines: $(wc -l <"$work/collector.log")"
exit $status
