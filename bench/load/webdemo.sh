# Helpers shared by bench/load/run.sh and bench/soak/run.sh (sourced, not run): build samples/WebDemo in
# Release, start its --bench mode on a free loopback port, stop it. The caller sets `set -euo pipefail`.

# Where the app is built and run from; bench/load/run.sh sets its own (a build with the eBPF backend referenced).
WEBDEMO_DIR=${WEBDEMO_DIR:-samples/WebDemo/bin/Release/net10.0}
WEBDEMO_PID=""
WEBDEMO_URL=""

# Installs the Debian packages named, once (apt-get update only when one is missing).
ensure_packages() {
    local missing=()
    local package
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "Installing ${missing[*]} from Debian"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# build_webdemo [MSBUILD ARGS...]: builds samples/WebDemo in Release, with the arguments given (properties, -o).
build_webdemo() {
    echo "Building samples/WebDemo (Release${*:+, $*})"
    dotnet build samples/WebDemo -c Release -nologo -v quiet -clp:ErrorsOnly "$@" >/dev/null
}

# start_webdemo LOG CPUS [ARGS...]: starts the --bench app pinned to CPUS, sets WEBDEMO_PID and WEBDEMO_URL.
start_webdemo() {
    local log="$1" cpus="$2"
    shift 2
    # The content root is the build output, where appsettings*.json and data/ are copied.
    (cd "$WEBDEMO_DIR" && exec taskset -c "$cpus" dotnet WebDemo.dll --bench --urls http://127.0.0.1:0 "$@") >"$log" 2>&1 &
    WEBDEMO_PID=$!
    local tries=0
    WEBDEMO_URL=""
    while [ -z "$WEBDEMO_URL" ]; do
        if ! kill -0 "$WEBDEMO_PID" 2>/dev/null; then
            echo "WebDemo exited during startup:" >&2
            cat "$log" >&2
            return 1
        fi
        tries=$((tries + 1))
        if [ "$tries" -gt 300 ]; then
            echo "WebDemo did not start listening within 60 s" >&2
            return 1
        fi
        sleep 0.2
        WEBDEMO_URL=$(grep -o 'Now listening on: http://127\.0\.0\.1:[0-9]*' "$log" | head -n 1 | sed 's/Now listening on: //' || true)
    done
}

# stop_webdemo: SIGTERM (a graceful shutdown, which logs the "Bench finished" line), then waits for the exit.
stop_webdemo() {
    if [ -n "$WEBDEMO_PID" ] && kill -0 "$WEBDEMO_PID" 2>/dev/null; then
        kill -TERM "$WEBDEMO_PID"
        local tries=0
        while kill -0 "$WEBDEMO_PID" 2>/dev/null && [ "$tries" -lt 150 ]; do
            sleep 0.2
            tries=$((tries + 1))
        done
        if kill -0 "$WEBDEMO_PID" 2>/dev/null; then
            echo "WebDemo did not stop within 30 s; killing it" >&2
            kill -KILL "$WEBDEMO_PID" 2>/dev/null || true
        fi
        wait "$WEBDEMO_PID" 2>/dev/null || true
        # The dtrace backend's dtrace process outlives the app while it disables its probes (seconds): the next
        # configuration must not share the CPU with it.
        local waited=0
        while pgrep -f "dtrace -q -s /tmp/iotrace-$WEBDEMO_PID-" >/dev/null && [ "$waited" -lt 300 ]; do
            sleep 0.2
            waited=$((waited + 1))
        done
    fi
    WEBDEMO_PID=""
}

# machine_info: what the numbers were measured on.
machine_info() {
    echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
    echo "Kernel: $(uname -sr); $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo ".NET: SDK $(dotnet --version), runtime $(dotnet --list-runtimes | grep -m1 'Microsoft.NETCore.App' | cut -d' ' -f2)"
    echo "Commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src samples 2>/dev/null || echo ' + uncommitted changes in src/ or samples/')"
    echo "Load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}
