#!/usr/bin/env bash
# What the dtrace script's programs cost per firing, as the kernel counts their run time (kernel.bpf_stats_enabled):
# the test host (test/IoTrace.DTrace.Tests.Host) in "wait" mode, attached and idle, while another process makes
# system calls the script does not count (perf bench syscall basic: getppid in a loop). Per round: the mean run time
# of dtrace's sys_enter and sys_exit programs over that loop. The tracepoint's own cost is not in these figures
# (bench/host-cost.sh measures what the other process pays in all).
#
#   bash bench/dtrace/clause-cost.sh                       # 5 rounds, about 30 s (root, dtrace, bpftool, perf)
#   HOST_DIRS="a/bin b/bin" bash bench/dtrace/clause-cost.sh   # interleave builds (their test/IoTrace.DTrace.Tests/bin/Release/net10.0)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=bench/dtrace/wait-host.sh
source bench/dtrace/wait-host.sh

ROUNDS=${ROUNDS:-5}
LOOPS=${LOOPS:-2000000}
HOST_DIRS=${HOST_DIRS:-test/IoTrace.DTrace.Tests/bin/Release/net10.0}
work=$(mktemp -d)
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_before"; rm -rf "$work"' EXIT
[ "$HOST_DIRS" != test/IoTrace.DTrace.Tests/bin/Release/net10.0 ] || dotnet build test/IoTrace.DTrace.Tests -c Release -v q -nologo >/dev/null
sysctl -qw kernel.bpf_stats_enabled=1

# Per program of the dtrace child (its id), run_time_ns and run_cnt.
prog_stats() {
    local dtrace_pid=$1 ids
    ids=$(for f in /proc/"$dtrace_pid"/fdinfo/*; do awk '/^prog_id:/ { print $2 }' "$f"; done | sort -un)
    for id in $ids; do bpftool prog show id "$id" 2>/dev/null; done |
        awk '/run_time_ns/ { t = 0; c = 0; for (i = 1; i < NF; i++) { if ($i == "run_time_ns") t = $(i + 1); if ($i == "run_cnt") c = $(i + 1) } sub(":", "", $1); print $1, t, c }'
}

printf 'round\thost\tprogram\tns_per_firing\tfirings\n'
for ((round = 1; round <= ROUNDS; round++)); do
    for dir in $HOST_DIRS; do
        while pgrep -x dtrace >/dev/null; do sleep 0.2; done
        start_wait_host "$work" "$dir"
        dtrace_pid=$(pgrep -P "$WAIT_HOST_PID" -x dtrace)
        prog_stats "$dtrace_pid" >"$work/before"
        taskset -c 0 perf bench syscall basic -l "$LOOPS" >/dev/null
        prog_stats "$dtrace_pid" >"$work/after"
        kill_wait_host
        # The programs that fired about once per call of the loop: sys_enter's and sys_exit's.
        awk -v r="$round" -v d="$dir" -v loops="$LOOPS" 'NR == FNR { t[$1] = $2; c[$1] = $3; next }
            ($3 - c[$1]) > loops / 2 { printf "%d\t%s\tprog %s\t%.1f\t%d\n", r, d, $1, ($2 - t[$1]) / ($3 - c[$1]), $3 - c[$1] }' "$work/before" "$work/after"
    done
done
