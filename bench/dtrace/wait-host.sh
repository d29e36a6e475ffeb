# shellcheck shell=bash
# Sourced by the dtrace benchmarks: the test host (test/IoTrace.DTrace.Tests.Host) in "wait" mode, which enables the
# dtrace backend, prints READY once dtrace has enabled its probes, and waits on its stdin (a FIFO held open on fd 3).

# start_wait_host WORK_DIR HOST_DIR [VAR=value ...]: sets WAIT_HOST_PID once the host is READY (exits if it dies first).
start_wait_host() {
    local work=$1 dir=$2
    shift 2
    rm -f "$work/stdin" && mkfifo "$work/stdin"
    env "$@" dotnet "$dir/IoTrace.DTrace.Tests.Host.dll" wait <"$work/stdin" >"$work/out" 2>&1 &
    WAIT_HOST_PID=$!
    exec 3>"$work/stdin"
    until grep -q READY "$work/out"; do
        kill -0 "$WAIT_HOST_PID" 2>/dev/null || { cat "$work/out" >&2; exit 1; }
        sleep 0.01
    done
}

# kill_wait_host: SIGKILL, as a crash would end it; its dtrace sees the exit and goes on its own.
kill_wait_host() {
    kill -KILL "$WAIT_HOST_PID"
    { wait "$WAIT_HOST_PID"; } 2>/dev/null || true
    exec 3>&-
}
