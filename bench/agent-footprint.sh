#!/usr/bin/env bash
# The agent's footprint, side by side in one run:
#   1. RSS after a few minutes at a 1 s interval vs Debian's prometheus-node-exporter
#      scraped every 1 s (goal: agent <= half of node_exporter);
#   2. CPU time per sampling cycle vs bench/procread.c reading the same files, on this
#      host and with 2,000 extra sleeping processes (goal: agent <= 2x the C program);
#   3. the release binary links no libFoundation / ICU;
#   4. memory against the floor the required libcurl sets (goal: agent <= floor + 5 MB, in
#      RSS and in private memory): the agent at its default interval with 2,000 extra
#      processes on the host, beside bench/curlpost.c (only libcurl's POST, at the same
#      interval), both from /proc/PID/smaps_rollup. Each of the two runs on its own copies
#      of its shared libraries (all but glibc's), so no other process on the host shares
#      their pages and "private" means the same for both; the agent's biggest private
#      mappings go to bench/out/agent-smaps.txt.
#   and, for comparison, the RSS of bench/curlpost.swift (the same POST from Swift).
#
# Usage: bench/agent-footprint.sh [MINUTES]   (default 3; results in bench/out/)
#   AGENT=path      measure this agent binary instead of building the release one
#   MEMORY_ONLY=1   only step 4 (about a minute): for trying build settings
# Needs root for apt-get (node exporter) and a free 127.0.0.1 port range.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-3}
OUT=bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/oomwatch-bench-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [[ -n "${SLEEPERS_PGID:-}" ]]; then kill -- "-$SLEEPERS_PGID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building"
if [[ -z "${AGENT:-}" ]]; then
    swift build -c release --product oomwatch-agent >"$OUT/build.log" 2>&1 || { grep -E "error" "$OUT/build.log"; exit 1; }
    AGENT=$(swift build -c release --show-bin-path)/oomwatch-agent
fi
gcc -O2 -o "$OUT/procread" bench/procread.c
gcc -O2 -o "$OUT/curlpost" bench/curlpost.c -lcurl
if [[ -z "${MEMORY_ONLY:-}" ]]; then
    swiftc -O -static-stdlib -I Sources/CCurl bench/curlpost.swift -lcurl -o "$OUT/curlpost-swift"
    if ! command -v prometheus-node-exporter >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus-node-exporter >/dev/null
    fi
fi

echo "== linked libraries"
if scripts/check-linkage "$AGENT"; then LINK=ok; else LINK=FAIL; fi

# A collector stand-in that accepts everything, so the agent runs its normal upload path.
python3 - "$WORK/port" <<'PY' &
import sys, http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        out = b'{"events_stored":0,"events_duplicate":0,"snapshots_stored":1}'
        self.send_response(200); self.send_header("Content-Length", str(len(out))); self.end_headers()
        self.wfile.write(out)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
PIDS+=($!)
for _ in $(seq 50); do [[ -s "$WORK/port" ]] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")

kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/smaps_rollup"; }
private_kb() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$1/smaps_rollup"; }
start_sleepers() {
    echo "== starting 2,000 sleeping processes"
    setsid bash -c 'for i in $(seq 2000); do sleep 3600 & done; wait' &
    SLEEPERS_PGID=$!
    sleep 2
}
# Copies of a program's shared libraries except glibc's (which every process maps), so
# that no other process on the host maps the same files.
private_libs() {
    mkdir -p "$2"
    ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
        case "$(basename "$lib")" in
            libc.so.* | libm.so.* | ld-linux* | libpthread.so.* | libdl.so.* | librt.so.*) continue ;;
        esac
        cp -L "$lib" "$2/"
    done
}
# Step 4: the agent at its default interval and curlpost.c at the same interval, side by
# side, each on its own library copies; read after MEMORY_SECONDS (six cycles by default).
measure_memory() {
    private_libs "$AGENT" "$WORK/lib-agent"
    private_libs "$OUT/curlpost" "$WORK/lib-curlpost"
    LD_LIBRARY_PATH="$WORK/lib-agent" "$AGENT" run --collector "http://127.0.0.1:$PORT" \
        --state-dir "$WORK/state-memory" --log-level warning 2>"$OUT/agent-memory.log" &
    local agent=$!
    PIDS+=($agent)
    LD_LIBRARY_PATH="$WORK/lib-curlpost" "$OUT/curlpost" "http://127.0.0.1:$PORT/v1/ingest" 10000 &
    local floor=$!
    PIDS+=($floor)
    sleep "${MEMORY_SECONDS:-65}"
    if ! grep -q "$WORK/lib-agent" "/proc/$agent/maps" || ! grep -q "$WORK/lib-curlpost" "/proc/$floor/maps"; then
        echo "warning: the library copies were not loaded; private figures may be too low" >&2
    fi
    MEM_NPROC=$(ls /proc | grep -c '^[0-9]')
    MEM_AGENT_RSS=$(kb "$agent" Rss) MEM_AGENT_PRIV=$(private_kb "$agent")
    MEM_FLOOR_RSS=$(kb "$floor" Rss) MEM_FLOOR_PRIV=$(private_kb "$floor")
    MEM_THREADS=$(ls "/proc/$agent/task" | wc -l)
    # Where the agent's private pages are: per mapping (file, or [heap], [stack], anon).
    awk '/^[0-9a-f]+-[0-9a-f]+ / {name = ($6 == "" ? "[anonymous]" : $6); sub(".*/", "", name); next}
        /^Rss:/ {rss[name] += $2}
        /^Private_(Clean|Dirty):/ {priv[name] += $2}
        END {for (n in priv) printf "%8d %8d  %s\n", priv[n], rss[n], n}' "/proc/$agent/smaps" |
        sort -rn | { echo "private_kB   rss_kB  mapping"; cat; } >"$OUT/agent-smaps.txt"
    kill "$agent" "$floor" 2>/dev/null || true
}
memory_report() {
    local goal=5120 drss dpriv
    drss=$((MEM_AGENT_RSS - MEM_FLOOR_RSS)) dpriv=$((MEM_AGENT_PRIV - MEM_FLOOR_PRIV))
    verdict() { if (($1 <= goal)); then echo "ok ($((goal - $1)) kB to spare)"; else echo "over by $(($1 - goal)) kB"; fi; }
    echo "Memory against the libcurl floor: default interval, $MEM_NPROC processes on the host,"
    echo "each program on its own copies of its libraries (smaps_rollup; private = Private_Clean"
    echo "+ Private_Dirty). Goal: agent - floor <= $goal kB in both."
    printf '%-38s %10s kB %10s kB\n' "" "RSS" "private"
    printf '%-38s %10s kB %10s kB\n' "oomwatch-agent ($MEM_THREADS threads)" "$MEM_AGENT_RSS" "$MEM_AGENT_PRIV"
    printf '%-38s %10s kB %10s kB\n' "libcurl floor (curlpost.c)" "$MEM_FLOOR_RSS" "$MEM_FLOOR_PRIV"
    printf '%-38s %10s kB %10s kB\n' "agent - floor" "$drss" "$dpriv"
    echo "RSS: $(verdict "$drss"); private: $(verdict "$dpriv")"
    echo "The agent's largest private mappings (kB private, kB resident; $OUT/agent-smaps.txt):"
    head -7 "$OUT/agent-smaps.txt"
}

if [[ -n "${MEMORY_ONLY:-}" ]]; then
    start_sleepers
    measure_memory
    memory_report | tee "$OUT/agent-memory.txt"
    exit 0
fi

echo "== starting agent (1 s interval) and node_exporter (scraped every 1 s)"
"$AGENT" run --collector "http://127.0.0.1:$PORT" --state-dir "$WORK/state" --interval 1 \
    --log-level warning 2>"$OUT/agent.log" &
AGENT_PID=$!
PIDS+=($AGENT_PID)
# The floor libcurl sets: a C program doing only the uploader's libcurl work.
"$OUT/curlpost" "http://127.0.0.1:$PORT/v1/ingest" 1000 &
CURL_PID=$!
PIDS+=($CURL_PID)
"$OUT/curlpost-swift" "http://127.0.0.1:$PORT/v1/ingest" 1000 &
SWIFT_CURL_PID=$!
PIDS+=($SWIFT_CURL_PID)
prometheus-node-exporter --web.listen-address=127.0.0.1:19100 >/dev/null 2>&1 &
NE_PID=$!
PIDS+=($NE_PID)
( while sleep 1; do curl -s -o /dev/null http://127.0.0.1:19100/metrics || true; done ) &
PIDS+=($!)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
TCK=$(getconf CLK_TCK)

# Agent CPU per cycle over a window: its CPU time / cycles (1 per second). Includes
# everything it does in that time (kmsg follower, uploads), not just the sampling.
measure_agent() {
    local secs=$1 t0 t1
    t0=$(cpu_ticks "$AGENT_PID")
    sleep "$secs"
    t1=$(cpu_ticks "$AGENT_PID")
    echo "scale=1; ($t1 - $t0) * 1000000 / $TCK / $secs" | bc
}

TOTAL=$((MINUTES * 60))
WINDOW=$(( (TOTAL - 20) / 2 ))
# One CPU comparison: the agent and procread.c over the same window at the same 1 s
# interval, then procread.c back to back for $1 cycles. Sets NPROC, A, C and CHOT.
compare_cpu() {
    local hot_cycles=$1
    sleep 10
    NPROC=$(ls /proc | grep -c '^[0-9]')
    echo "== CPU per cycle, $NPROC processes, ${WINDOW}s window"
    "$OUT/procread" "$WINDOW" 1000 >"$WORK/c" &
    A=$(measure_agent "$WINDOW")
    wait $!
    C=$(cat "$WORK/c")
    CHOT=$("$OUT/procread" "$hot_cycles")
}

compare_cpu 300
NPROC1=$NPROC A1=$A C1=$C C1HOT=$CHOT

start_sleepers
compare_cpu 100
NPROC2=$NPROC A2=$A C2=$C C2HOT=$CHOT

AGENT_RSS=$(rss_kb "$AGENT_PID")
NE_RSS=$(rss_kb "$NE_PID")
anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
CURL_RSS=$(rss_kb "$CURL_PID"); CURL_PSS=$(pss_kb "$CURL_PID"); SWIFT_CURL_RSS=$(rss_kb "$SWIFT_CURL_PID")
AGENT_ANON=$(anon_kb "$AGENT_PID"); NE_ANON=$(anon_kb "$NE_PID")
AGENT_PSS=$(pss_kb "$AGENT_PID"); NE_PSS=$(pss_kb "$NE_PID")
# Step 4 with the sleepers still there, the 1 s agent and the other libcurl users gone.
kill "$AGENT_PID" "$CURL_PID" "$SWIFT_CURL_PID" 2>/dev/null || true
echo "== memory vs the libcurl floor (default interval)"
measure_memory
kill -- "-$SLEEPERS_PGID" 2>/dev/null || true
SLEEPERS_PGID=

ratio() { echo "scale=2; $1 / $2" | bc; }
{
    echo "oomwatch-agent footprint ($(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, ${MINUTES} min run)"
    echo
    printf '%-38s %12s %12s %8s  %s\n' "measure" "agent" "baseline" "ratio" "goal"
    printf '%-38s %10s kB %10s kB %8s  %s\n' "RSS vs node_exporter (1 s scrape)" "$AGENT_RSS" "$NE_RSS" "$(ratio "$AGENT_RSS" "$NE_RSS")" "<= 0.50"
    printf '%-38s %10s kB %10s kB %8s\n' "  of which anonymous (RssAnon)" "$AGENT_ANON" "$NE_ANON" "$(ratio "$AGENT_ANON" "$NE_ANON")"
    printf '%-38s %10s kB %10s kB %8s\n' "  proportional set size (Pss)" "$AGENT_PSS" "$NE_PSS" "$(ratio "$AGENT_PSS" "$NE_PSS")"
    printf '%-38s %10s kB %10s kB %8s\n' "libcurl alone (curlpost.c) RSS" "$CURL_RSS" "$NE_RSS" "$(ratio "$CURL_RSS" "$NE_RSS")"
    printf '%-38s %10s kB %10s kB %8s\n' "libcurl alone (curlpost.c) Pss" "$CURL_PSS" "$NE_PSS" "$(ratio "$CURL_PSS" "$NE_PSS")"
    printf '%-38s %10s kB %10s kB %8s\n' "Swift + libcurl (curlpost.swift) RSS" "$SWIFT_CURL_RSS" "$NE_RSS" "$(ratio "$SWIFT_CURL_RSS" "$NE_RSS")"
    printf '%-38s %10s us %10s us %8s  %s\n' "CPU/cycle vs procread.c, $NPROC1 procs" "$A1" "$C1" "$(ratio "$A1" "$C1")" "<= 2.00"
    printf '%-38s %10s us %10s us %8s  %s\n' "CPU/cycle vs procread.c, $NPROC2 procs" "$A2" "$C2" "$(ratio "$A2" "$C2")" "<= 2.00"
    echo
    echo "procread.c ran at the same 1 s interval, during the agent's window. Back to back"
    echo "(hot caches) it needs $C1HOT us/cycle ($NPROC1 procs) and $C2HOT us/cycle ($NPROC2 procs)."
    echo "The agent's figure is all of its CPU in the window (sampling, JSON, spool, kernel-log"
    echo "follower, uploads to a local collector) divided by the number of 1 s cycles."
    echo
    echo "curlpost.c is the floor the required libcurl (Debian's libcurl4-openssl) sets: a C"
    echo "program that only POSTs a small JSON body every second with it. Its libraries'"
    echo "mapped pages count in any RSS; Pss shares them with the other processes using them."
    echo "curlpost.swift does the same in Swift, built like the agent (static Swift runtime):"
    echo "the least any Swift uploader over this libcurl can be resident in."
    echo
    echo "links libFoundation/ICU: $LINK"
    echo
    memory_report
} | tee "$OUT/agent-footprint.txt"
