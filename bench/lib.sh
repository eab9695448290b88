# lib.sh - what the benchmark scripts share: their work directory and exit
# path, logging, stopping what they started, free ports and CPU time from
# /proc. Sourced, not run.

log() { printf '%s\n' "$*" >&2; }

die() {
    log "bench: $*"
    FAILED=1
    exit 1
}

# Stop a process we started: TERM, up to 5 s to exit, then KILL.
stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# The benchmarks' own packages (the peers nginx, h2o and Hypercorn, wrk,
# h2load), installed on first use and never started as services
# (scripts/install-deps.sh); BENCH_SKIP_DEPS=1 skips the check.
bench_deps() {
    [[ ${BENCH_SKIP_DEPS:-0} == 1 ]] && return 0
    bash "$(dirname "${BASH_SOURCE[0]}")/../scripts/install-deps.sh" bench >&2 ||
        die "scripts/install-deps.sh bench failed"
}

# Start a benchmark: WORK (a fresh directory), SERVER_PID (the server of
# the moment) and FAILED. On exit the script's bench_at_exit runs if it has
# one, the server is stopped, and WORK is removed after a clean run but kept
# (and named) after a failure or with BENCH_KEEP set.
bench_begin() {
    BENCH_NAME=$1
    bench_deps
    WORK=$(mktemp -d "/tmp/hornet-$1.XXXXXX")
    SERVER_PID=""
    FAILED=0
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    local rc=$?
    if declare -F bench_at_exit >/dev/null; then
        bench_at_exit
    fi
    stop_pid "$SERVER_PID"
    if ((rc != 0 || FAILED)); then
        log "$BENCH_NAME: failed; logs kept in $WORK"
    elif [[ -z ${BENCH_KEEP:-} ]]; then
        rm -rf "$WORK"
    fi
}

free_port() {
    "$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

children_of() {
    pgrep -P "$1" || true
}

# utime + stime, in clock ticks, of the given pids. Field 2 (comm) may hold
# spaces, so count fields after the last ')'.
cpu_ticks() {
    local total=0 pid stat rest
    for pid in "$@"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        rest=${stat##*) }
        read -r -a f <<<"$rest"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}
