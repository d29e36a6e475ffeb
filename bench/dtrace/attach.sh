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
# shellcheck source=bench/dtrace/wait-host.sh
source bench/dtrace/wait-host.sh

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
    start=$(date +%s%N)
    start_wait_host "$work" "$HOST_DIR" IOTRACE_DTRACE="$work/dtrace"
    ready=$(date +%s%N)
    dtrace_pid=$(pgrep -P "$WAIT_HOST_PID" -x dtrace)
    kill_wait_host
    killed=$(date +%s%N)
    while kill -0 "$dtrace_pid" 2>/dev/null; do sleep 0.01; done
    gone=$(date +%s%N)
    printf '%d\t%d\t%d\t%d\n' "$round" "$(ms "$start" "$ready")" "$(ms "$(cat "$work/started")" "$ready")" "$(ms "$killed" "$gone")"
done
