#!/usr/bin/env bash
# What the eBPF backend costs the other processes of the machine. Its programs sit on the sys_enter and sys_exit tracepoints,
# which the kernel runs for every system call of every process; each program checks the pid first, but by then the
# tracepoint's cost is paid. This measures a system call of another process (perf bench syscall basic: getppid in a
# loop) with WebDemo detached, then with WebDemo attached and idle, in interleaved rounds.
#
#   bash bench/ebpf/host-cost.sh              # 5 rounds, about a minute (root, libbpf and perf needed)
#   ROUNDS=3 LOOPS=1000000 bash bench/ebpf/host-cost.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

ROUNDS=${ROUNDS:-5}
LOOPS=${LOOPS:-2000000}
# The measured process on one CPU, the app on the other, as in bench/load/run.sh.
BENCH_CPU=${BENCH_CPU:-0}
APP_CPUS=${APP_CPUS:-1}
WEBDEMO_DIR=${WEBDEMO_DIR:-artifacts/bench/webdemo-ebpf}
OUT=${OUT:-artifacts/bench/host-cost-$(date +%Y%m%d-%H%M%S)}

# shellcheck source=bench/load/webdemo.sh
source bench/load/webdemo.sh
trap stop_webdemo EXIT
command -v perf >/dev/null || ensure_packages linux-perf
mkdir -p "$OUT"
build_webdemo -p:IoTraceEbpf=true -o "$WEBDEMO_DIR"
machine_info | tee "$OUT/machine.txt"

# Microseconds per getppid in another process, as perf reports it.
syscall_us() {
    taskset -c "$BENCH_CPU" perf bench syscall basic -l "$LOOPS" | awk '/usecs\/op/ { print $1 }'
}

printf 'round\tdetached_us\tattached_us\n' >"$OUT/runs.tsv"
for ((round = 1; round <= ROUNDS; round++)); do
    detached=$(syscall_us)
    # An explicit Backend=Ebpf attaches the program before the app listens: once it listens, the programs run.
    start_webdemo "$OUT/webdemo-$round.log" "$APP_CPUS" --IoTrace:Backend=Ebpf
    grep -qs '^link_type:' /proc/"$WEBDEMO_PID"/fdinfo/* || { echo "the app holds no BPF link: its program is not attached" >&2; exit 1; }
    attached=$(syscall_us)
    stop_webdemo
    printf '%d\t%s\t%s\n' "$round" "$detached" "$attached" | tee -a "$OUT/runs.tsv"
done

awk -F'\t' 'NR > 1 { d[NR] = $2; a[NR] = $3; n++ }
    function median(v,    k, i, j, t, s) { k = 0; for (i in v) s[++k] = v[i]; for (i = 2; i <= k; i++) { t = s[i]; for (j = i - 1; j >= 1 && s[j] > t; j--) s[j + 1] = s[j]; s[j + 1] = t } return k % 2 ? s[(k + 1) / 2] : (s[k / 2] + s[k / 2 + 1]) / 2 }
    END { md = median(d); ma = median(a); printf "getppid in another process: %.3f us detached, %.3f us with the eBPF backend attached (+%.3f us, x%.1f), median of %d rounds\n", md, ma, ma - md, ma / md, n }' \
    "$OUT/runs.tsv" | tee "$OUT/summary.txt"
