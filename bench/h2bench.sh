#!/usr/bin/env bash
# h2bench.sh - HTTP/2 with h2load: hornet, nginx and h2o, one at a time, each
# over h2c (cleartext, prior knowledge) and over TLS (ALPN h2), serving the
# same 13-byte "Hello, world!". Reports requests/s and server CPU time per
# request. Not part of `make check`: nothing here asserts.
#
# Every server gets one worker (thread) pinned to CPU $BENCH_SERVER_CPU (0);
# h2load runs one thread on CPU $BENCH_CLIENT_CPU (1) with
# $BENCH_CONNECTIONS (50) connections of $BENCH_STREAMS (32) streams each.
# BENCH_UPLOAD=N makes every request a POST of N random bytes (at most 1 MiB,
# nginx's client_max_body_size), which each server reads and ignores: the
# receive path, HTTP/2 flow control and WINDOW_UPDATEs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$ROOT/bench"
HORNET_BIN=${HORNET_BIN:-$ROOT/hornet}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
H2O_BIN=${H2O_BIN:-/usr/bin/h2o}
H2LOAD_BIN=${H2LOAD_BIN:-/usr/bin/h2load}
PYTHON3=${PYTHON3:-/usr/bin/python3}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-50}
STREAMS=${BENCH_STREAMS:-32}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
SERVERS=${BENCH_SERVERS:-hornet nginx h2o}
MODES=${BENCH_MODES:-h2c tls}
UPLOAD=${BENCH_UPLOAD:-}
UPLOAD_ARGS=()

declare -A RESULT=()

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

bench_begin h2bench

make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null ||
        die "openssl could not make a test certificate"
}

# Wait for an HTTP/2 200 on $URL; the worker is the master's child (hornet,
# nginx) or the process itself (h2o runs its threads in one process).
wait_ready_h2() {
    local name=$1 i code
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        if [[ $MODE == tls ]]; then
            code=$(curl -sk --http2 -o /dev/null -w '%{http_code}' --max-time 1 "$URL" || true)
        else
            code=$(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code}' \
                --max-time 1 "$URL" || true)
        fi
        [[ $code == 200 ]] && return 0
        sleep 0.1
    done
    log "h2bench: $name did not start; its output:"
    cat "$WORK/$name-$MODE/"*.log "$WORK/$name-$MODE/stdout" >&2 2>/dev/null || true
    die "$name failed to start"
}

start_hornet() {
    local dir=$1 port=$2
    [[ -x $HORNET_BIN ]] || die "hornet binary not found at $HORNET_BIN"
    {
        echo "bind: [\"127.0.0.1:$port\"]"
        echo "workers: 1"
        echo "backlog: 4096"
        echo "keep_alive_timeout: 60s"
        if [[ $MODE == tls ]]; then
            echo "certfile: $WORK/cert.pem"
            echo "keyfile: $WORK/key.pem"
        fi
    } >"$dir/hornet.yaml"
    taskset -c "$SERVER_CPU" "$HORNET_BIN" -c "$dir/hornet.yaml" builtin:hello \
        >"$dir/stdout" 2>&1 &
    SERVER_PID=$!
}

start_nginx() {
    local dir=$1 port=$2 user_line="" listen tls=""
    [[ -x $NGINX_BIN ]] || die "nginx not found at $NGINX_BIN"
    mkdir -p "$dir/logs"
    [[ $(id -u) == 0 ]] && user_line="user root;"
    listen="listen 127.0.0.1:$port http2 backlog=4096;"
    if [[ $MODE == tls ]]; then
        listen="listen 127.0.0.1:$port ssl http2 backlog=4096;"
        tls="ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;"
    fi
    sed -e "s|@DIR@|$dir|g" -e "s|@USER_LINE@|$user_line|" \
        -e "s|listen 127.0.0.1:@PORT@ backlog=4096;|$listen $tls|" \
        "$BENCH_DIR/nginx.conf.in" >"$dir/nginx.conf"
    taskset -c "$SERVER_CPU" "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;' \
        >"$dir/stdout" 2>&1 &
    SERVER_PID=$!
}

start_h2o() {
    local dir=$1 port=$2
    [[ -x $H2O_BIN ]] || die "h2o not found at $H2O_BIN (apt install h2o)"
    {
        echo "num-threads: 1"
        echo "pid-file: $dir/h2o.pid"
        echo "error-log: $dir/error.log"
        [[ $(id -u) == 0 ]] && echo "user: root"
        echo "listen:"
        echo "  host: 127.0.0.1"
        echo "  port: $port"
        if [[ $MODE == tls ]]; then
            echo "  ssl:"
            echo "    certificate-file: $WORK/cert.pem"
            echo "    key-file: $WORK/key.pem"
        fi
        # a fixed body from memory, as nginx's return and builtin:hello do
        echo "hosts:"
        echo "  default:"
        echo "    paths:"
        echo "      /:"
        echo "        mruby.handler: |"
        echo "          Proc.new do |env|"
        echo "            [200, {\"content-type\" => \"text/plain\"}, [\"Hello, world!\"]]"
        echo "          end"
    } >"$dir/h2o.conf"
    taskset -c "$SERVER_CPU" "$H2O_BIN" -c "$dir/h2o.conf" >"$dir/stdout" 2>&1 &
    SERVER_PID=$!
}

server_pids() {
    echo "$SERVER_PID"
    children_of "$SERVER_PID"
}

run_h2load() {
    local name=$1 out t0 t1 pids
    out="$WORK/$name-$MODE/h2load.txt"
    if ((WARMUP > 0)); then
        taskset -c "$CLIENT_CPU" "$H2LOAD_BIN" -t1 -c"$CONNECTIONS" -m"$STREAMS" \
            -D"$WARMUP" "${UPLOAD_ARGS[@]}" "$URL" >/dev/null 2>&1 || true
    fi
    mapfile -t pids < <(server_pids)
    t0=$(cpu_ticks "${pids[@]}")
    taskset -c "$CLIENT_CPU" "$H2LOAD_BIN" -t1 -c"$CONNECTIONS" -m"$STREAMS" -D"$DURATION" \
        "${UPLOAD_ARGS[@]}" "$URL" >"$out" 2>&1 || true
    t1=$(cpu_ticks "${pids[@]}")
    local key=$name.$MODE
    RESULT[$key.rps]=$(awk '/^finished in/ { gsub(",", "", $4); printf "%.0f", $4 }' "$out")
    RESULT[$key.done]=$(awk '/^requests:/ { print $8 }' "$out")
    RESULT[$key.failed]=$(awk '/^requests:/ { print $12 + $14 }' "$out")
    RESULT[$key.proto]=$(awk -F': ' '/^Application protocol/ { print $2 }' "$out")
    RESULT[$key.cpu]=$(awk -v d="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" \
        -v n="${RESULT[$key.done]:-0}" \
        'BEGIN { if (n > 0) printf "%.3f", d / hz * 1e6 / n; else print "-" }')
    log "  $MODE: ${RESULT[$key.rps]:-?} req/s, ${RESULT[$key.done]:-?} done," \
        "${RESULT[$key.failed]:-?} failed/errored, protocol ${RESULT[$key.proto]:-?}," \
        "server CPU ${RESULT[$key.cpu]} us/request"
}

bench_one() {
    local name=$1 dir port scheme=http
    dir="$WORK/$name-$MODE"
    mkdir -p "$dir"
    port=$(free_port)
    [[ $MODE == tls ]] && scheme=https
    URL="$scheme://127.0.0.1:$port/"
    log "== $name over $MODE ($URL)"
    "start_$name" "$dir" "$port"
    wait_ready_h2 "$name"
    run_h2load "$name"
    stop_pid "$SERVER_PID"
    SERVER_PID=""
}

get() {
    echo "${RESULT[$1]:--}"
}

print_table() {
    local mode name
    printf '\n%-10s | %-6s | %12s | %14s | %8s\n' server mode "req/s" "CPU us/request" failed
    printf -- '-%.0s' {1..64}
    printf '\n'
    for mode in $MODES; do
        for name in $SERVERS; do
            printf '%-10s | %-6s | %12s | %14s | %8s\n' "$name" "$mode" \
                "$(get "$name.$mode.rps")" "$(get "$name.$mode.cpu")" \
                "$(get "$name.$mode.failed")"
        done
    done
    printf '\n%s connections x %s streams, %ss runs after %ss warm-ups; one server worker.\n' \
        "$CONNECTIONS" "$STREAMS" "$DURATION" "$WARMUP"
    [[ -z $UPLOAD ]] || printf 'Every request a POST of %s bytes.\n' "$UPLOAD"
}

main() {
    local name
    command -v taskset >/dev/null || die "taskset not found (util-linux)"
    [[ -x $H2LOAD_BIN ]] || die "h2load not found at $H2LOAD_BIN (apt install nghttp2-client)"
    ulimit -n 20000 2>/dev/null || true
    make_cert
    if [[ -n $UPLOAD ]]; then
        [[ $UPLOAD =~ ^[0-9]+$ ]] && ((UPLOAD <= 1048576)) ||
            die "BENCH_UPLOAD: a byte count up to 1048576 (nginx's client_max_body_size)"
        head -c "$UPLOAD" /dev/urandom >"$WORK/upload.bin"
        UPLOAD_ARGS=(-d "$WORK/upload.bin")
    fi
    for MODE in $MODES; do
        for name in $SERVERS; do
            case $name in
            hornet | nginx | h2o) bench_one "$name" ;;
            *) die "unknown server '$name' in BENCH_SERVERS" ;;
            esac
        done
    done
    print_table
}

main "$@"
