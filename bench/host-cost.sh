#!/usr/bin/env bash
# What a kernel backend costs the other processes of the machine. The eBPF program and the dtrace script both sit on
# the raw sys_enter and sys_exit tracepoints, which the kernel runs for every system call of every process; each
# checks the pid first, but by then the tracepoint's cost is paid. This measures a system call of another process
# (perf bench syscall basic: getppid in a loop) with WebDemo detached, then with WebDemo attached and idle, in
# interleaved rounds.
#
#   bash bench/host-cost.sh                   # eBPF, 5 rounds, about a minute (root, libbpf and perf needed)
#   BACKEND=DTrace bash bench/host-cost.sh    # dtrace (root and dtrace: bash ../shared/dtrace/build.sh), about 2 min
#   ROUNDS=3 LOOPS=1000000 bash bench/host-cost.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BACKEND=${BACKEND:-Ebpf}
ROUNDS=${ROUNDS:-5}
LOOPS=${LOOPS:-2000000}
# The measured process on one CPU, the app on the other, as in bench/load/run.sh.
BENCH_CPU=${BENCH_CPU:-0}
APP_CPUS=${APP_CPUS:-1}
WEBDEMO_DIR=${WEBDEMO_DIR:-artifacts/bench/webdemo-kernel}
OUT=${OUT:-artifacts/bench/host-cost-$(date +%Y%m%d-%H%M%S)}

# shellcheck source=bench/load/webdemo.sh
source bench/load/webdemo.sh
trap stop_webdemo EXIT
command -v perf >/dev/null || ensure_packages linux-perf
mkdir -p "$OUT"
case $BACKEND in
    Ebpf) build_webdemo -p:IoTraceEbpf=true -o "$WEBDEMO_DIR" ;;
    DTrace) build_webdemo -p:IoTraceDTrace=true -o "$WEBDEMO_DIR" ;;
    *) echo "BACKEND must be Ebpf or DTrace, not '$BACKEND'" >&2; exit 2 ;;
esac
machine_info | tee "$OUT/machine.txt"

# Microseconds per getppid in another process, as perf reports it: a call no backend counts.
syscall_us() {
    taskset -c "$BENCH_CPU" perf bench syscall basic -l "$LOOPS" | awk '/usecs\/op/ { print $1 }'
}

# Microseconds per read or write in another process (dd copying one byte at a time): calls a backend counts for its
# own process, which a backend on per-call tracepoints makes every process's pay for.
io_us() {
    local start end
    start=$(date +%s%N)
    taskset -c "$BENCH_CPU" dd if=/dev/zero of=/dev/null bs=1 count="$LOOPS" status=none
    end=$(date +%s%N)
    awk -v ns=$((end - start)) -v calls=$((2 * LOOPS)) 'BEGIN { printf "%.3f", ns / 1000 / calls }'
}

printf 'round\tdetached_us\tattached_us\tio_detached_us\tio_attached_us\n' >"$OUT/runs.tsv"
for ((round = 1; round <= ROUNDS; round++)); do
    detached=$(syscall_us)
    io_detached=$(io_us)
    # An explicit backend attaches before the app listens: once it listens, the programs run.
    start_webdemo "$OUT/webdemo-$round.log" "$APP_CPUS" --IoTrace:Backend="$BACKEND"
    if [ "$BACKEND" = Ebpf ]; then
        grep -qs '^link_type:' /proc/"$WEBDEMO_PID"/fdinfo/* || { echo "the app holds no BPF link: its program is not attached" >&2; exit 1; }
    else
        pgrep -P "$WEBDEMO_PID" -x dtrace >/dev/null || { echo "the app has no dtrace child: the backend is not attached" >&2; exit 1; }
    fi
    attached=$(syscall_us)
    io_attached=$(io_us)
    stop_webdemo
    printf '%d\t%s\t%s\t%s\t%s\n' "$round" "$detached" "$attached" "$io_detached" "$io_attached" | tee -a "$OUT/runs.tsv"
done

awk -F'\t' 'NR > 1 { d[NR] = $2; a[NR] = $3; id[NR] = $4; ia[NR] = $5; n++ }
    function median(v,    k, i, j, t, s) { k = 0; for (i in v) s[++k] = v[i]; for (i = 2; i <= k; i++) { t = s[i]; for (j = i - 1; j >= 1 && s[j] > t; j--) s[j + 1] = s[j]; s[j + 1] = t } return k % 2 ? s[(k + 1) / 2] : (s[k / 2] + s[k / 2 + 1]) / 2 }
    END { md = median(d); ma = median(a); printf "getppid in another process: %.3f us detached, %.3f us with the %s backend attached (+%.3f us, x%.1f), median of %d rounds\n", md, ma, backend, ma - md, ma / md, n
        md = median(id); ma = median(ia); printf "read/write in another process: %.3f us detached, %.3f us attached (+%.3f us, x%.1f)\n", md, ma, ma - md, ma / md }' backend="$BACKEND" \
    "$OUT/runs.tsv" | tee "$OUT/summary.txt"
