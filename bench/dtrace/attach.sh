#!/usr/bin/env bash
# How long the dtrace backend takes to attach and to go away: the test host (test/IoTrace.DTrace.Tests.Host) in
# "wait" mode enables the backend and prints READY once dtrace has read its script and enabled its probes. Per round:
# from the host's start to READY, of which from dtrace's start to READY; then the host is killed with SIGKILL and the
# time until its dtrace is gone (dtrace sees the exit and disables its probes).
#
#   bash bench/dtrace/attach.sh            # 5 rounds, about 30 s (root and dtrace: bash ../shared/dtrace/build.sh)
#   ROUNDS=3 bash bench/dtrace/attach.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

ROUNDS=${ROUNDS:-5}
HOST_DIR=test/IoTrace.DTrace.Tests/bin/Release/net10.0
DTRACE=${IOTRACE_DTRACE:-$(command -v dtrace)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet build test/IoTrace.DTrace.Tests -c Release -v q -nologo >/dev/null

# dtrace behind a wrapper that notes when it started.
cat >"$work/dtrace" <<WRAPPER
#!/usr/bin/env bash
date +%s%N >"$work/started"
exec "$DTRACE" "\$@"
WRAPPER
chmod +x "$work/dtrace"

ms() { echo $(( ($2 - $1) / 1000000 )); }

printf 'round\tto_ready_ms\tdtrace_to_ready_ms\texit_after_kill_ms\n'
for ((round = 1; round <= ROUNDS; round++)); do
    # No other dtrace may run meanwhile: it shares the tracepoints, and its teardown takes CPU.
    while pgrep -x dtrace >/dev/null; do sleep 0.2; done
    mkfifo "$work/stdin"
    start=$(date +%s%N)
    IOTRACE_DTRACE="$work/dtrace" dotnet "$HOST_DIR/IoTrace.DTrace.Tests.Host.dll" wait <"$work/stdin" >"$work/out" 2>&1 &
    host=$!
    exec 3>"$work/stdin"
    until grep -q READY "$work/out"; do
        kill -0 "$host" 2>/dev/null || { cat "$work/out" >&2; exit 1; }
        sleep 0.01
    done
    ready=$(date +%s%N)
    dtrace_pid=$(pgrep -P "$host" -x dtrace)
    kill -KILL "$host"
    killed=$(date +%s%N)
    while kill -0 "$dtrace_pid" 2>/dev/null; do sleep 0.01; done
    gone=$(date +%s%N)
    { wait "$host"; } 2>/dev/null || true
    exec 3>&-
    rm -f "$work/stdin"
    printf '%d\t%d\t%d\t%d\n' "$round" "$(ms "$start" "$ready")" "$(ms "$(cat "$work/started")" "$ready")" "$(ms "$killed" "$gone")"
done
