#!/usr/bin/env bash
# bench.sh - hornet against nginx on this machine, one server at a time:
# requests/s with keep-alive, requests/s pipelined (16 per write), server CPU
# time per request and memory per idle keep-alive connection. Not part of
# `make check`: numbers depend on the machine, so nothing here asserts.
#
# Both servers get one worker pinned to CPU $BENCH_SERVER_CPU (0), wrk and
# the idle-connection client run on CPU $BENCH_CLIENT_CPU (1). See
# bench/README.md for the knobs and how to read the table.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$ROOT/bench"
HORNET_BIN=${HORNET_BIN:-$ROOT/hornet}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
WRK_BIN=${WRK_BIN:-/usr/bin/wrk}
PYTHON3=${PYTHON3:-/usr/bin/python3}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-50}
IDLE=${BENCH_IDLE_CONNECTIONS:-5000}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
SERVERS=${BENCH_SERVERS:-hornet nginx hornet_so}
export BENCH_PIPELINE=${BENCH_PIPELINE:-16}

IDLE_PID=""
declare -A RESULT=()

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

bench_begin bench

# the idle-connection client holds fd 3 open until it is closed
bench_at_exit() {
    exec 3>&-
    stop_pid "$IDLE_PID"
}

# Ticks over the measured run as a share of one CPU.
cpu_share() {
    awk -v d="$1" -v hz="$(getconf CLK_TCK)" -v t="$DURATION" \
        'BEGIN { printf "%.0f%%", d / hz / t * 100 }'
}

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# Wait until $url answers 200 and the master has a worker; sets WORKER_PID.
wait_ready() {
    local name=$1 url=$2 i code
    WORKER_PID=""
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)
        if [[ $code == 200 ]]; then
            WORKER_PID=$(children_of "$SERVER_PID" | head -n1)
            [[ -n $WORKER_PID ]] && return 0
        fi
        sleep 0.1
    done
    log "bench: $name did not start; its output:"
    cat "$WORK/$name/stdout" >&2 2>/dev/null || true
    if [[ -f $WORK/$name/error.log ]]; then cat "$WORK/$name/error.log" >&2; fi
    die "$name failed to start"
}

start_hornet() {
    local app=${1:-builtin:hello} dir="$WORK/${2:-hornet}" port
    [[ -x $HORNET_BIN ]] || die "hornet binary not found at $HORNET_BIN (set HORNET_BIN)"
    mkdir -p "$dir"
    port=$(free_port)
    # No accesslog key: the access log stays off.
    cat >"$dir/hornet.yaml" <<EOF
bind: ["127.0.0.1:$port"]
workers: 1
backlog: 4096
keep_alive_timeout: 60s
keep_alive_max_requests: 1000000000
EOF
    taskset -c "$SERVER_CPU" "$HORNET_BIN" -c "$dir/hornet.yaml" "$app" \
        >"$dir/stdout" 2>&1 &
    SERVER_PID=$!
    URL="http://127.0.0.1:$port/"
    PORT=$port
    wait_ready "${2:-hornet}" "$URL"
}

# The same hello as a shared object through the application ABI
# (examples/hello.c): loading an app must cost nothing per request.
start_hornet_so() {
    make -s -C "$ROOT/examples" libhello.so >/dev/null ||
        die "cannot build examples/libhello.so"
    start_hornet "$ROOT/examples/libhello.so:app" hornet_so
}

start_nginx() {
    local dir="$WORK/nginx" port user_line=""
    [[ -x $NGINX_BIN ]] || die "nginx not found at $NGINX_BIN (set NGINX_BIN)"
    mkdir -p "$dir/logs"
    port=$(free_port)
    # As root, nginx would hand its worker to "nobody"; keep it ours.
    [[ $(id -u) == 0 ]] && user_line="user root;"
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@USER_LINE@|$user_line|" \
        "$BENCH_DIR/nginx.conf.in" >"$dir/nginx.conf"
    taskset -c "$SERVER_CPU" "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;' \
        >"$dir/stdout" 2>&1 &
    SERVER_PID=$!
    URL="http://127.0.0.1:$port/"
    PORT=$port
    wait_ready nginx "$URL"
}

# run_wrk NAME KEY [wrk args...]: warm up, measure, record req/s, requests
# and errors under RESULT[NAME.KEY.*], and the server's CPU ticks spent in the
# measured run (not the warm-up) under RESULT[NAME.KEY.ticks].
run_wrk() {
    local name=$1 key=$2 out t0 t1 pids
    shift 2
    out="$WORK/$name/wrk-$key.txt"
    if ((WARMUP > 0)); then
        taskset -c "$CLIENT_CPU" "$WRK_BIN" -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$@" "$URL" \
            >/dev/null
    fi
    mapfile -t pids < <(server_pids)
    t0=$(cpu_ticks "${pids[@]}")
    taskset -c "$CLIENT_CPU" "$WRK_BIN" -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" \
        "$URL" >"$out"
    t1=$(cpu_ticks "${pids[@]}")
    RESULT[$name.$key.ticks]=$((t1 - t0))
    RESULT[$name.$key.rps]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    RESULT[$name.$key.requests]=$(awk '/ requests in / { print $1 }' "$out")
    RESULT[$name.$key.latency]=$(awk '$1 == "Latency" { print $2; exit }' "$out")
    RESULT[$name.$key.non2xx]=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    RESULT[$name.$key.sockerr]=$(awk -F'Socket errors: ' 'NF > 1 { print $2 }' "$out")
    : "${RESULT[$name.$key.non2xx]:=0}"
    : "${RESULT[$name.$key.sockerr]:=none}"
    log "  $key: ${RESULT[$name.$key.rps]} req/s (${RESULT[$name.$key.requests]} requests," \
        "avg latency ${RESULT[$name.$key.latency]}, server CPU $(cpu_share $((t1 - t0)))," \
        "non-2xx ${RESULT[$name.$key.non2xx]}, socket errors: ${RESULT[$name.$key.sockerr]})"
}

# Server processes whose CPU time counts: the master and its workers.
server_pids() {
    echo "$SERVER_PID"
    children_of "$SERVER_PID"
}

measure_idle() {
    local name=$1 fifo out before after i
    fifo="$WORK/$name/idle.fifo"
    out="$WORK/$name/idle.txt"
    mkfifo "$fifo"
    before=$(rss_kb "$WORKER_PID")
    taskset -c "$CLIENT_CPU" "$PYTHON3" "$BENCH_DIR/idle_conns.py" "$PORT" "$IDLE" \
        <"$fifo" >"$out" 2>&1 &
    IDLE_PID=$!
    exec 3>"$fifo" # holds the client's stdin open: it keeps its sockets until we close it
    for ((i = 0; i < 600; i++)); do
        grep -q '^ready' "$out" && break
        kill -0 "$IDLE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q '^ready' "$out"; then
        log "bench: $name: could not hold $IDLE idle connections:"
        cat "$out" >&2
        exec 3>&-
        stop_pid "$IDLE_PID"
        IDLE_PID=""
        RESULT[$name.idle]="-"
        return 0
    fi
    sleep 0.5 # let the worker settle after the last response
    after=$(rss_kb "$WORKER_PID")
    exec 3>&-
    wait "$IDLE_PID" 2>/dev/null || true
    IDLE_PID=""
    RESULT[$name.idle]=$(((after - before) * 1024 / IDLE))
    RESULT[$name.rss_before]=$before
    RESULT[$name.rss_after]=$after
    log "  idle: worker RSS $before kB -> $after kB with $IDLE connections:" \
        "${RESULT[$name.idle]} bytes each"
}

bench_server() {
    local name=$1 ticks key
    log "== $name"
    "start_$name"
    log "  listening on $URL, master $SERVER_PID, worker $WORKER_PID"
    run_wrk "$name" keepalive
    run_wrk "$name" pipelined -s "$BENCH_DIR/pipeline.lua"

    for key in pipelined keepalive; do
        ticks=${RESULT[$name.$key.ticks]}
        RESULT[$name.$key.cpu]=$(awk -v d="$ticks" -v hz="$(getconf CLK_TCK)" \
            -v n="${RESULT[$name.$key.requests]}" \
            'BEGIN { if (n > 0) printf "%.3f", d / hz * 1e6 / n; else print "-" }')
        log "  cpu: $ticks ticks for ${RESULT[$name.$key.requests]} $key requests" \
            "(${RESULT[$name.$key.cpu]} us each)"
    done

    measure_idle "$name"
    stop_pid "$SERVER_PID"
    SERVER_PID=""
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-";
        else printf "%.2f", a / b }'
}

get() {
    echo "${RESULT[$1]:--}"
}

print_table() {
    local row key label
    printf '\n%-28s | %14s | %14s | %17s\n' metric hornet nginx "ratio hornet/nginx"
    printf -- '-%.0s' {1..29}
    printf -- '+%s+%s+%s\n' "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..16})" \
        "$(printf -- '-%.0s' {1..19})"
    for row in "keepalive.rps|req/s keep-alive (-c$CONNECTIONS)" \
        "pipelined.rps|req/s pipelined (x$BENCH_PIPELINE)" \
        "pipelined.cpu|CPU us/request (pipelined)" \
        "keepalive.cpu|CPU us/request (keep-alive)" \
        "idle|bytes/idle connection"; do
        key=${row%%|*}
        label=${row#*|}
        printf '%-28s | %14s | %14s | %17s\n' "$label" "$(get "hornet.$key")" \
            "$(get "nginx.$key")" "$(ratio "$(get "hornet.$key")" "$(get "nginx.$key")")"
    done
    printf '\nwrk errors (non-2xx/3xx responses; socket errors):\n'
    for name in hornet nginx; do
        for key in keepalive pipelined; do
            [[ -n ${RESULT[$name.$key.rps]:-} ]] || continue
            printf '  %-7s %-10s non-2xx %s; socket errors: %s\n' "$name" "$key" \
                "$(get "$name.$key.non2xx")" "$(get "$name.$key.sockerr")"
        done
    done
    if [[ -n ${RESULT[hornet_so.pipelined.rps]:-} ]]; then
        printf '\n%-28s | %14s | %14s | %17s\n' metric "hello .so" builtin "ratio .so/builtin"
        for row in "keepalive.rps|req/s keep-alive (-c$CONNECTIONS)" \
            "pipelined.rps|req/s pipelined (x$BENCH_PIPELINE)" \
            "pipelined.cpu|CPU us/request (pipelined)" \
            "keepalive.cpu|CPU us/request (keep-alive)"; do
            key=${row%%|*}
            printf '%-28s | %14s | %14s | %17s\n' "${row#*|}" "$(get "hornet_so.$key")" \
                "$(get "hornet.$key")" "$(ratio "$(get "hornet_so.$key")" "$(get "hornet.$key")")"
        done
    fi
    printf '\nreq/s: higher is better; CPU and bytes: lower is better.\n'
}

main() {
    local name
    command -v taskset >/dev/null || die "taskset not found (util-linux)"
    [[ -x $WRK_BIN ]] || die "wrk not found at $WRK_BIN (set WRK_BIN)"
    # Room for the idle connections in everything we start.
    ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    log "bench: ${DURATION}s runs after ${WARMUP}s warm-ups, $CONNECTIONS connections," \
        "server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU, $(nproc) CPUs"
    for name in $SERVERS; do
        case $name in
        hornet | nginx | hornet_so) bench_server "$name" ;;
        *) die "unknown server '$name' in BENCH_SERVERS" ;;
        esac
    done
    print_table
}

main "$@"
