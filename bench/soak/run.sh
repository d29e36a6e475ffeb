#!/usr/bin/env bash
# Soak (issue 5): 100,032 requests at concurrency 64 to samples/WebDemo (Release) traced with All, on /bench/io
# (a file read and a loopback HTTP call per request). Checks, after a warm-up of 30,016 requests:
#   - the process's RSS (VmRSS) grows by less than 20 MB over the 100,000 requests;
#   - every request answered 200, and the app logged one report per traced request;
#   - nothing logged a warning or an error;
#   - the tracer's tables are back to idle afterwards: no active trace, no fd owned by a trace. The app writes
#     them in its "Bench finished" line at shutdown (WebDemo --bench reads them; nothing is served over HTTP).
#
#   bash bench/soak/run.sh                          # about 3 minutes
#   REQUESTS=19968 WARMUP=4992 bash bench/soak/run.sh
#
# The load generator is hey (Debian package), which sends an exact number of requests. The app and hey share
# both cores here; the soak checks resources, not throughput.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# hey sends n / c requests from each of its c workers, so the counts are multiples of 64: 100,032 and 30,016.
# The warm-up is long enough for the (server) GC to settle: after 10,000 requests its heap was still growing to
# its steady size, about 20 MB more, where it then stayed for 400,000 requests.
REQUESTS=${REQUESTS:-100032}
WARMUP=${WARMUP:-30016}
CONCURRENCY=${CONCURRENCY:-64}
RSS_LIMIT_KB=${RSS_LIMIT_KB:-20480}
OUT=${OUT:-artifacts/bench/soak-$(date +%Y%m%d-%H%M%S)}

# shellcheck source=bench/load/webdemo.sh
source bench/load/webdemo.sh
trap stop_webdemo EXIT

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$WEBDEMO_PID/status"; }

# hey_run COUNT LABEL: COUNT requests at CONCURRENCY; fails unless every one answered 200.
hey_run() {
    local output="$OUT/hey-$2.txt"
    hey -n "$1" -c "$CONCURRENCY" -t 30 "$WEBDEMO_URL/bench/io" >"$output"
    local ok
    ok=$(awk '$1 == "[200]" { print $2 }' "$output")
    if [ "${ok:-0}" != "$1" ] || grep -q 'Error distribution' "$output"; then
        echo "$2: not every request answered 200:" >&2
        sed -n '/Status code distribution/,$p' "$output" >&2
        return 1
    fi
    echo "$2: $1 requests, all 200, $(awk '/Requests\/sec/ { print $2 }' "$output") req/s, 99% in $(awk '/ 99% in/ { print $3 }' "$output") s"
}

if [ $((REQUESTS % CONCURRENCY)) -ne 0 ] || [ $((WARMUP % CONCURRENCY)) -ne 0 ]; then
    echo "REQUESTS and WARMUP must be multiples of CONCURRENCY ($CONCURRENCY): hey sends n / c requests per worker" >&2
    exit 2
fi

ensure_packages hey
build_webdemo
mkdir -p "$OUT"
machine_info | tee "$OUT/machine.txt"
log="$OUT/webdemo.log"
start_webdemo "$log" 0-1 --IoTrace:Strategy=All
echo "WebDemo (pid $WEBDEMO_PID) on $WEBDEMO_URL, strategy All; RSS at start $(rss_kb) kB"

hey_run "$WARMUP" warm-up
rss_before=$(rss_kb)
echo "RSS after the warm-up: $rss_before kB"

# The soak, with RSS sampled every second to show its course (bounded by the run: the sampler stops with hey).
hey_run "$REQUESTS" soak &
hey_pid=$!
samples=()
while kill -0 "$hey_pid" 2>/dev/null; do
    samples+=("$(rss_kb)")
    sleep 1
done
wait "$hey_pid"
rss_after=$(rss_kb)
echo "RSS during the soak (kB, every second): ${samples[*]}"
echo "RSS after the soak: $rss_after kB"

stop_webdemo
finished=$(grep -o 'Bench finished: .*' "$log" || true)
echo "App: ${finished:-no 'Bench finished' line}"

failed=0
growth=$((rss_after - rss_before))
if [ "$growth" -lt "$RSS_LIMIT_KB" ]; then
    echo "PASS RSS grew by $growth kB (limit $RSS_LIMIT_KB kB)"
else
    echo "FAIL RSS grew by $growth kB (limit $RSS_LIMIT_KB kB)"
    failed=1
fi

expected=$((WARMUP + REQUESTS))
if [[ "$finished" == "Bench finished: $expected reports, 0 warnings, 0 errors;"* ]]; then
    echo "PASS $expected reports, no warning or error logged"
else
    echo "FAIL expected '$expected reports, 0 warnings, 0 errors'"
    failed=1
fi

if grep -qE '^(warn|fail|crit): ' "$log"; then
    echo "FAIL the console has warnings or errors:"
    grep -E '^(warn|fail|crit): ' "$log" | head -n 20
    failed=1
fi

if [[ "$finished" == *"tracer tables: active traces 0, awaited fds 0,"* ]]; then
    echo "PASS tracer tables idle: ${finished#*tracer tables: }"
else
    echo "FAIL tracer tables not idle (or unreadable): ${finished#*tracer tables: }"
    failed=1
fi

echo "Logs and hey output: $OUT"
exit "$failed"
