# lib.sh - what bench.sh and h2bench.sh share: logging, stopping what they
# started, free ports and CPU time from /proc. Sourced, not run.

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
