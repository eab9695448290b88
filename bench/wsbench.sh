#!/usr/bin/env bash
# wsbench.sh - WebSocket: hornet against Hypercorn, one server at a time,
# driven by bench/wsload.c (built here with gcc -O2):
#   echo       round trips on $BENCH_WS_CONNECTIONS connections for each
#              message size in $BENCH_WS_SIZES: messages/s, latency p50/p99,
#              server CPU time per message;
#   broadcast  a chat room of $BENCH_WS_CLIENTS clients, one of which sends
#              $BENCH_WS_MESSAGES messages, or as many as $BENCH_DURATION
#              seconds allow (window $BENCH_WS_WINDOW), that the server sends
#              to everyone: deliveries/s, server CPU time per delivery; every
#              client must receive every message sent.
# hornet runs builtin:echo and examples/libchat.so; Hypercorn runs the
# equivalent ASGI apps, written to the work directory. Each server has one
# worker pinned to CPU $BENCH_SERVER_CPU (0), wsload runs on
# $BENCH_CLIENT_CPU (1). Not part of `make check`: nothing here asserts
# figures, but a lost or corrupted message makes the script fail.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$ROOT/bench"
HORNET_BIN=${HORNET_BIN:-}
PYTHON3=${PYTHON3:-/usr/bin/python3}
HYPERCORN_BIN=${HYPERCORN_BIN:-}
CC=${CC:-gcc}
DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-1}
CONNECTIONS=${BENCH_WS_CONNECTIONS:-50}
SIZES=${BENCH_WS_SIZES:-64 16384}
CLIENTS=${BENCH_WS_CLIENTS:-100}
MESSAGES=${BENCH_WS_MESSAGES:-100000}
WINDOW=${BENCH_WS_WINDOW:-16}
BCAST_SIZE=${BENCH_WS_BROADCAST_SIZE:-64}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
SERVERS=${BENCH_SERVERS:-hornet hypercorn}
MODES=${BENCH_MODES:-echo broadcast}

declare -A RESULT=()

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

bench_begin wsbench

build() {
    if [[ -z $HORNET_BIN ]]; then
        HORNET_BIN=$ROOT/hornet
        log "wsbench: make -C $ROOT"
        make -s -C "$ROOT" -j"$(nproc)" >"$WORK/make.log" 2>&1 || {
            tail -n 30 "$WORK/make.log" >&2
            die "could not build hornet"
        }
    fi
    [[ -x $HORNET_BIN ]] || die "hornet binary not found at $HORNET_BIN"
    "$CC" -O2 -Wall -o "$WORK/wsload" "$BENCH_DIR/wsload.c" || die "cannot build wsload"
    if [[ " $SERVERS " == *" hornet "* && " $MODES " == *" broadcast "* ]]; then
        make -s -C "$ROOT/examples" libchat.so >"$WORK/make-chat.log" 2>&1 || {
            cat "$WORK/make-chat.log" >&2
            die "cannot build examples/libchat.so"
        }
    fi
}

find_hypercorn() {
    if [[ -n $HYPERCORN_BIN ]]; then
        HYPERCORN=("$HYPERCORN_BIN")
    elif [[ -x /usr/bin/hypercorn ]]; then
        HYPERCORN=(/usr/bin/hypercorn)
    elif "$PYTHON3" -c 'import hypercorn' 2>/dev/null; then
        HYPERCORN=("$PYTHON3" -m hypercorn)
    else
        die "Hypercorn not found (scripts/install-deps.sh bench)"
    fi
}

# The ASGI side: echo as builtin:echo, chat as examples/chat.c.
write_asgi_apps() {
    cat >"$WORK/wsapps.py" <<'EOF'
"""ASGI apps for bench/wsbench.sh: echo (as hornet's builtin:echo) and chat
(as examples/chat.c: every message goes to every client, sender included)."""

CLIENTS = set()


async def _lifespan(receive, send):
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _http(receive, send):
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


def _message(event):
    if event.get("text") is not None:
        return {"type": "websocket.send", "text": event["text"]}
    return {"type": "websocket.send", "bytes": event.get("bytes") or b""}


async def echo(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] == "http":
        return await _http(receive, send)
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            await send(_message(event))
        else:
            return


async def chat(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] == "http":
        return await _http(receive, send)
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    CLIENTS.add(send)
    try:
        while True:
            event = await receive()
            if event["type"] != "websocket.receive":
                return
            message = _message(event)
            for client in list(CLIENTS):
                try:
                    await client(message)
                except Exception:
                    CLIENTS.discard(client)
    finally:
        CLIENTS.discard(send)
EOF
}

start_hornet() {
    local dir=$1 port=$2 app
    if [[ $MODE == echo ]]; then app=builtin:echo; else app=$ROOT/examples/libchat.so; fi
    cat >"$dir/hornet.yaml" <<EOF
bind: ["127.0.0.1:$port"]
workers: 1
backlog: 4096
keep_alive_timeout: 60s
EOF
    taskset -c "$SERVER_CPU" "$HORNET_BIN" -c "$dir/hornet.yaml" "$app" >"$dir/stdout" 2>&1 &
    SERVER_PID=$!
}

start_hypercorn() {
    local dir=$1 port=$2 app
    if [[ $MODE == echo ]]; then app="echo"; else app="chat"; fi
    taskset -c "$SERVER_CPU" "${HYPERCORN[@]}" --workers 1 --worker-class asyncio \
        --bind "127.0.0.1:$port" --backlog 4096 --keep-alive 60 \
        "$WORK/wsapps.py:$app" >"$dir/stdout" 2>&1 &
    SERVER_PID=$!
}

# Wait for GET / to answer 200 (both apps answer plain HTTP too).
wait_ready() {
    local name=$1 url=$2 i code
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)
        [[ $code == 200 ]] && return 0
        sleep 0.1
    done
    log "wsbench: $name ($MODE) did not start; its output:"
    cat "$WORK/$name-$MODE/stdout" >&2 2>/dev/null || true
    die "$name failed to start"
}

# Server processes whose CPU time counts: hornet's master and worker;
# Hypercorn with one worker is a single process.
server_pids() {
    echo "$SERVER_PID"
    children_of "$SERVER_PID"
}

field() {
    awk -v k="$1" '$1 == "result" { for (i = 2; i <= NF; i++) {
        split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$2"
}

# run_wsload NAME KEY ARGS...: one wsload run, its output in KEY.txt.
run_wsload() {
    local name=$1 key=$2 out pids rc=0
    shift 2
    out="$WORK/$name-$MODE/$key.txt"
    pids=$(server_pids | paste -sd, -)
    taskset -c "$CLIENT_CPU" "$WORK/wsload" "$@" -p "$PORT" -x "$pids" >"$out" 2>&1 || rc=$?
    sed 's/^/    /' "$out" | grep -v '^    result ' >&2 || true
    if ((rc != 0)) || ! grep -q '^result ' "$out"; then
        log "wsbench: $name $key FAILED (wsload exit $rc)"
        RESULT[$name.$key.failed]=1
        FAILED=1
        return 0
    fi
    RESULT[$name.$key.out]=$out
}

bench_one() {
    local name=$1 dir size key out
    dir="$WORK/$name-$MODE"
    mkdir -p "$dir"
    PORT=$(free_port)
    log "== $name $MODE (127.0.0.1:$PORT)"
    "start_$name" "$dir" "$PORT"
    wait_ready "$name" "http://127.0.0.1:$PORT/"
    if [[ $MODE == echo ]]; then
        for size in $SIZES; do
            key=echo$size
            run_wsload "$name" "$key" echo -c "$CONNECTIONS" -s "$size" -d "$DURATION" \
                -W "$WARMUP"
            out=${RESULT[$name.$key.out]:-}
            [[ -n $out ]] || continue
            RESULT[$name.$key.rate]=$(field rate "$out")
            RESULT[$name.$key.p50]=$(field p50_us "$out")
            RESULT[$name.$key.p99]=$(field p99_us "$out")
            RESULT[$name.$key.cpu]=$(field server_us_per_msg "$out")
        done
    else
        key=broadcast
        run_wsload "$name" "$key" broadcast -c "$CLIENTS" -s "$BCAST_SIZE" -m "$MESSAGES" \
            -w "$WINDOW" -d "$DURATION"
        out=${RESULT[$name.$key.out]:-}
        if [[ -n $out ]]; then
            RESULT[$name.$key.rate]=$(field rate "$out")
            RESULT[$name.$key.cpu]=$(field server_us_per_delivery "$out")
            RESULT[$name.$key.sent]=$(field sent "$out")
        fi
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        log "wsbench: $name exited during the run; its output:"
        cat "$dir/stdout" >&2 || true
        FAILED=1
    fi
    stop_pid "$SERVER_PID"
    SERVER_PID=""
}

get() {
    local v=${RESULT[$1]:-}
    if [[ -n ${RESULT[${1%.*}.failed]:-} ]]; then v=FAIL; fi
    echo "${v:--}"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "-";
        else printf "%.2f", a / b }'
}

print_table() {
    local rows=() row key label a b size
    for MODE in $MODES; do
        if [[ $MODE == echo ]]; then
            for size in $SIZES; do
                rows+=("echo$size.rate|echo ${size} B: messages/s"
                    "echo$size.p50|echo ${size} B: latency p50 us"
                    "echo$size.p99|echo ${size} B: latency p99 us"
                    "echo$size.cpu|echo ${size} B: CPU us/message")
            done
        else
            rows+=("broadcast.rate|broadcast: deliveries/s"
                "broadcast.cpu|broadcast: CPU us/delivery")
        fi
    done
    printf '\n%-30s | %12s | %12s | %16s\n' metric hornet hypercorn "hornet/hypercorn"
    printf -- '-%.0s' {1..80}
    printf '\n'
    for row in "${rows[@]}"; do
        key=${row%%|*}
        label=${row#*|}
        a=$(get "hornet.$key")
        b=$(get "hypercorn.$key")
        printf '%-30s | %12s | %12s | %16s\n' "$label" "$a" "$b" "$(ratio "$a" "$b")"
    done
    printf '\n'
    if [[ " $MODES " == *" echo "* ]]; then
        printf 'echo: %s connections, each with one message in flight, %ss after %ss warm-up.\n' \
            "$CONNECTIONS" "$DURATION" "$WARMUP"
    fi
    if [[ " $MODES " == *" broadcast "* ]]; then
        printf 'broadcast: %s clients; one sends %s B messages (at most %s, for at most %ss),\n' \
            "$CLIENTS" "$BCAST_SIZE" "$MESSAGES" "$DURATION"
        printf '  %s in flight; sent: hornet %s, hypercorn %s.' "$WINDOW" \
            "$(get hornet.broadcast.sent)" "$(get hypercorn.broadcast.sent)"
        printf ' A delivery: one message received by one client.\n'
    fi
    printf 'One server worker on CPU %s, wsload on CPU %s; CPU = server utime+stime per message.\n' \
        "$SERVER_CPU" "$CLIENT_CPU"
    printf 'messages/s, deliveries/s: higher is better; latency, CPU: lower is better.\n'
}

main() {
    local name
    command -v taskset >/dev/null || die "taskset not found (util-linux)"
    command -v curl >/dev/null || die "curl not found"
    ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    build
    if [[ " $SERVERS " == *" hypercorn "* ]]; then
        find_hypercorn
        write_asgi_apps
    fi
    log "wsbench: server on CPU $SERVER_CPU, wsload on CPU $CLIENT_CPU, $(nproc) CPUs"
    for MODE in $MODES; do
        case $MODE in
        echo | broadcast) ;;
        *) die "unknown mode '$MODE' in BENCH_MODES" ;;
        esac
        for name in $SERVERS; do
            case $name in
            hornet | hypercorn) bench_one "$name" ;;
            *) die "unknown server '$name' in BENCH_SERVERS" ;;
            esac
        done
    done
    print_table
    if ((FAILED)); then
        log "wsbench: some runs FAILED (see above); their figures are not comparable"
        exit 1
    fi
}

main "$@"
