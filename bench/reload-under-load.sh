#!/bin/bash
# reload-under-load.sh - does a reload lose requests? wrk keeps 50 connections
# busy (keep-alive, then Connection: close) while the master is reloaded ten
# times, each reload changing the worker count (2, 3, 1, 4, ...), followed by
# a SIGTTIN and a SIGTTOU, then three binary upgrades (`hornet -s upgrade`:
# a new master on the same sockets each time). Prints wrk's socket errors
# and non-2xx answers for each mode: both must be 0.
#
#   bench/reload-under-load.sh            (from the build tree, after make)
#   RELOADS=20 UPGRADES=5 bench/reload-under-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HORNET=${HORNET:-./hornet}
RELOADS=${RELOADS:-10}
UPGRADES=${UPGRADES:-3}
[[ ${BENCH_SKIP_DEPS:-0} == 1 ]] || bash scripts/install-deps.sh bench >&2
command -v wrk >/dev/null || { echo "wrk is missing (scripts/install-deps.sh bench)"; exit 1; }
[ -x "$HORNET" ] || { echo "$HORNET is missing: build first"; exit 1; }

tmp=$(mktemp -d)
trap 'kill -9 $(cat "$tmp/pid" 2>/dev/null) 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

write_config() {
    cat >"$tmp/hornet.yaml" <<EOF
bind: 127.0.0.1:$port
workers: $1
application_path: builtin:hello
graceful_timeout: 10s
pid_path: $tmp/pid
errorlog: $tmp/error.log
EOF
}

run_mode() {
    local mode=$1 header=()
    [ "$mode" = close ] && header=(-H "Connection: close")
    write_config 2
    "$HORNET" -c "$tmp/hornet.yaml" &
    for _ in $(seq 100); do [ -s "$tmp/pid" ] && grep -q "worker(s) ready" "$tmp/error.log" && break; sleep 0.1; done
    local pid
    pid=$(cat "$tmp/pid")
    wrk -t2 -c50 -d$((RELOADS + 2 * UPGRADES + 5))s "${header[@]}" "http://127.0.0.1:$port/" \
        >"$tmp/wrk.$mode" &
    local wrk_pid=$! counts=(3 1 4 2)
    sleep 1
    for i in $(seq "$RELOADS"); do
        write_config "${counts[$((i % 4))]}"
        kill -HUP "$pid"
        for _ in $(seq 100); do
            [ "$(grep -c 'reload complete' "$tmp/error.log")" -ge "$i" ] && break
            sleep 0.1
        done
        sleep 0.5
    done
    kill -TTIN "$pid"; sleep 0.5; kill -TTOU "$pid"; sleep 0.5
    # each upgrade waits for its outcome; the PID file then names the new master
    for i in $(seq "$UPGRADES"); do
        "$HORNET" -p "$tmp/pid" -s upgrade >/dev/null || echo "upgrade $i failed"
        sleep 1
    done
    wait "$wrk_pid"
    local master
    master=$(cat "$tmp/pid")
    kill -TERM "$master"
    while kill -0 "$master" 2>/dev/null; do sleep 0.1; done
    wait "$pid" || true
    local reqs errors non2xx
    reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.$mode")
    errors=$(awk '/Socket errors/ {print}' "$tmp/wrk.$mode")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk.$mode")
    printf '%-10s %10s requests, %d reloads and %d upgrades done, socket errors: %s, non-2xx: %s\n' \
        "$mode" "$reqs" "$(grep -c 'reload complete' "$tmp/error.log")" \
        "$(grep -c 'upgrade complete' "$tmp/error.log")" "${errors:-none}" "${non2xx:-0}"
    rm -f "$tmp/error.log" "$tmp/pid"
}

run_mode keep-alive
run_mode close
