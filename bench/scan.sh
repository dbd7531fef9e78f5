#!/usr/bin/env bash
# Benchmark `oomwatch-agent scan` against `grep -c 'Killed process'` on the same ~1 GB
# kernel log, in the same run. Goal: scan reaches at least half of grep's MB/s.
#
#   bench/scan.sh [SIZE_MB]      (default 1024; the log is kept in bench/out/ and reused)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-1024}"
out=bench/out
log="$out/kernel-${size_mb}M.log"
mkdir -p "$out"

if [[ ! -s "$log" ]]; then
    echo "generating $log ..."
    python3 bench/gen_kernel_log.py "$log.tmp" "$size_mb" > "$out/kills-${size_mb}M.txt"
    mv "$log.tmp" "$log"
fi
expected=$(cat "$out/kills-${size_mb}M.txt" 2>/dev/null || echo "?")

echo "building release ..."
swift build -c release --product oomwatch-agent > /dev/null
bin=.build/release/oomwatch-agent

bytes=$(stat -c %s "$log")
mb=$(python3 -c "print(f'{$bytes / 1048576:.1f}')")
# Warm the page cache so both tools read from memory.
cat "$log" > /dev/null

best() { # best wall time of 3 runs of "$@"; output to a file, not /dev/null, because
    # GNU grep stops at the first match when its output is /dev/null.
    local best_t=""
    for _ in 1 2 3; do
        local start end t
        start=$(date +%s.%N)
        "$@" > "$out/.bench-output"
        end=$(date +%s.%N)
        t=$(python3 -c "print($end - $start)")
        if [[ -z "$best_t" ]] || python3 -c "import sys; sys.exit(0 if $t < $best_t else 1)"; then best_t=$t; fi
    done
    echo "$best_t"
}

grep_count=$(grep -c 'Killed process' "$log" || true)
scan_count=$("$bin" scan "$log" | wc -l)
grep_t=$(best grep -c 'Killed process' "$log")
scan_t=$(best "$bin" scan "$log")
rss_kb=$( { /usr/bin/time -f '%M' "$bin" scan "$log" > /dev/null; } 2>&1 | tail -1)

python3 - "$mb" "$grep_t" "$scan_t" "$grep_count" "$scan_count" "$expected" "$rss_kb" <<'PY'
import sys
mb, gt, st = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
gc, sc, exp, rss = sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7])
print(f"file:   {mb:.0f} MB, {exp} kills written")
print(f"grep -c 'Killed process': {gt:6.3f} s  {mb / gt:8.1f} MB/s  ({gc} lines)")
print(f"oomwatch-agent scan:      {st:6.3f} s  {mb / st:8.1f} MB/s  ({sc} events)")
print(f"ratio scan/grep: {gt / st:.2f}  (goal >= 0.5)")
print(f"scan max RSS: {rss / 1024:.1f} MB")
PY
