#!/usr/bin/env bash
# eventsbench.sh - publish/subscribe fan-out: hornet's builtin:events (event
# hub + $BENCH_EV_WORKERS workers) against Redis pub/sub, one server at a
# time, the same load for both, driven by bench/evload.c (built here with
# gcc -O2). $BENCH_EV_PUBLISHERS publishers, and subscribers that all
# receive every event:
#   max     $BENCH_EV_SUBSCRIBERS subscribers, publishing as fast as the
#           window allows: deliveries/s;
#   rate    the same subscribers at $BENCH_EV_RATE events/s (by default
#           1,000 x 1,000 = 1,000,000 deliveries/s): latency p50/p99;
#   small   $BENCH_EV_SMALL_SUBSCRIBERS subscribers at
#           $BENCH_EV_SMALL_RATE events/s (again 1,000,000 deliveries/s).
# Every row also gives the server's CPU time per delivery. hornet's master,
# hub and workers are not pinned (4 workers on 2 CPUs), nor is Redis;
# evload runs on CPU $BENCH_CLIENT_CPU (1). Not part of `make check`:
# nothing here asserts figures, but a lost, duplicated or reordered event
# makes the script fail.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$ROOT/bench"
HORNET_BIN=${HORNET_BIN:-}
REDIS_BIN=${REDIS_BIN:-/usr/bin/redis-server}
PYTHON3=${PYTHON3:-/usr/bin/python3}
CC=${CC:-gcc}
DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-1}
WORKERS=${BENCH_EV_WORKERS:-4}
SUBSCRIBERS=${BENCH_EV_SUBSCRIBERS:-1000}
PUBLISHERS=${BENCH_EV_PUBLISHERS:-4}
RATE=${BENCH_EV_RATE:-1000}
SMALL_SUBSCRIBERS=${BENCH_EV_SMALL_SUBSCRIBERS:-100}
SMALL_RATE=${BENCH_EV_SMALL_RATE:-10000}
BATCH=${BENCH_EV_BATCH:-1}
WINDOW=${BENCH_EV_WINDOW:-64}
ROWS=${BENCH_EV_ROWS:-max rate small}
SERVER_CPUS=${BENCH_SERVER_CPUS:-}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
SERVERS=${BENCH_SERVERS:-hornet redis}

declare -A RESULT=()

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

bench_begin eventsbench

build() {
    if [[ -z $HORNET_BIN ]]; then
        HORNET_BIN=$ROOT/hornet
        log "eventsbench: make -C $ROOT"
        make -s -C "$ROOT" -j"$(nproc)" >"$WORK/make.log" 2>&1 || {
            tail -n 30 "$WORK/make.log" >&2
            die "could not build hornet"
        }
    fi
    [[ -x $HORNET_BIN ]] || die "hornet binary not found at $HORNET_BIN"
    "$CC" -O2 -Wall -o "$WORK/evload" "$BENCH_DIR/evload.c" || die "cannot build evload"
}

# The server's command prefix: taskset only when BENCH_SERVER_CPUS is set
# (an array, not a function: a function run with & is a subshell, and
# SERVER_PID must be the server itself).
PIN=()
if [[ -n $SERVER_CPUS ]]; then
    PIN=(taskset -c "$SERVER_CPUS")
fi

start_hornet() {
    local dir=$1 port=$2
    cat >"$dir/hornet.yaml" <<EOF
bind: ["127.0.0.1:$port"]
workers: $WORKERS
backlog: 4096
keep_alive_timeout: 60s
EOF
    ${PIN[@]+"${PIN[@]}"} "$HORNET_BIN" -c "$dir/hornet.yaml" builtin:events >"$dir/stdout" 2>&1 &
    SERVER_PID=$!
}

start_redis() {
    local dir=$1 port=$2
    ${PIN[@]+"${PIN[@]}"} "$REDIS_BIN" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$dir" --maxclients 20000 >"$dir/stdout" 2>&1 &
    SERVER_PID=$!
}

# hornet: plain HTTP at the mount answers 426, the hub and all workers are
# up; Redis: PING answers PONG.
server_ready() {
    local name=$1 port=$2 dir=$3 code
    if [[ $name == hornet ]]; then
        grep -q 'events: event hub ready' "$dir/stdout" 2>/dev/null || return 1
        grep -q "$WORKERS worker(s) ready" "$dir/stdout" 2>/dev/null || return 1
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/" ||
            true)
        [[ $code == 426 ]]
    else
        [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]
    fi
}

wait_ready() {
    local name=$1 port=$2 dir=$3 i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        server_ready "$name" "$port" "$dir" && return 0
        sleep 0.1
    done
    log "eventsbench: $name did not start; its output:"
    cat "$dir/stdout" >&2 2>/dev/null || true
    die "$name failed to start"
}

# Processes whose CPU time counts: hornet's master, hub and workers; Redis
# is one process (its threads are in its /proc/PID/stat).
server_pids() {
    echo "$SERVER_PID"
    children_of "$SERVER_PID"
}

# What a pid is, for the CPU split.
role_of() {
    local pid=$1 comm
    if [[ $pid == "$SERVER_PID" ]]; then
        [[ $NAME == hornet ]] && echo master || echo redis
        return
    fi
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    if [[ $comm == hornet-events ]]; then echo hub; else echo worker; fi
}

field() {
    awk -v k="$1" '$1 == "result" { for (i = 2; i <= NF; i++) {
        split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$2"
}

# CPU% of one core per process of the measured seconds: "hub 12%, worker 45% ..."
cpu_split() {
    local out=$1 secs hz pid ticks role line=""
    secs=$(field secs "$out")
    hz=$(field hz "$out")
    while read -r _ pid ticks; do
        role=${ROLE[$pid]:-?}
        line+="$role $(awk -v t="$ticks" -v h="$hz" -v s="$secs" \
            'BEGIN { printf "%.0f%%", t / h / s * 100 }'), "
    done < <(grep '^cpu ' "$out")
    echo "${line%, }"
}

# run_row KEY SUBSCRIBERS RATE: one evload run, its output in KEY.txt.
run_row() {
    local key=$1 subs=$2 rate=$3 out pids rc=0 pid
    out="$WORK/$NAME/$key.txt"
    pids=$(server_pids | paste -sd, -)
    declare -gA ROLE=()
    for pid in ${pids//,/ }; do ROLE[$pid]=$(role_of "$pid"); done
    log "-- $NAME $key: $subs subscribers, $PUBLISHERS publishers, rate ${rate/#0/max}, batch $BATCH"
    taskset -c "$CLIENT_CPU" "$WORK/evload" "$NAME" -p "$PORT" -s "$subs" -P "$PUBLISHERS" \
        -r "$rate" -b "$BATCH" -w "$WINDOW" -d "$DURATION" -W "$WARMUP" -x "$pids" \
        >"$out" 2>&1 || rc=$?
    grep -v '^result \|^cpu ' "$out" | sed 's/^/    /' >&2 || true
    if grep -q '^result ' "$out"; then
        log "    server CPU per process: $(cpu_split "$out")"
        local k
        for k in deliveries_per_s events_per_s p50_us p99_us max_us server_us_per_delivery \
            server_cpu_pct client_cpu_pct lost dup reordered; do
            RESULT[$NAME.$key.$k]=$(field "$k" "$out")
        done
        RESULT[$NAME.$key.split]=$(cpu_split "$out")
    fi
    if ((rc != 0)) || ! grep -q '^result ' "$out"; then
        log "eventsbench: $NAME $key FAILED (evload exit $rc)"
        RESULT[$NAME.$key.failed]=1
        FAILED=1
    fi
}

bench_one() {
    local dir row
    NAME=$1
    dir="$WORK/$NAME"
    mkdir -p "$dir"
    PORT=$(free_port)
    log "== $NAME (127.0.0.1:$PORT)"
    "start_$NAME" "$dir" "$PORT"
    wait_ready "$NAME" "$PORT" "$dir"
    for row in $ROWS; do
        case $row in
        max) run_row max "$SUBSCRIBERS" 0 ;;
        rate) run_row rate "$SUBSCRIBERS" "$RATE" ;;
        small) run_row small "$SMALL_SUBSCRIBERS" "$SMALL_RATE" ;;
        *) die "unknown row '$row' in BENCH_EV_ROWS" ;;
        esac
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "eventsbench: $NAME exited during the run"
            FAILED=1
            break
        fi
    done
    if [[ $NAME == hornet ]] && grep -q 'ERROR\|CRIT\|WARN\|exited with\|killed by' "$dir/stdout"; then
        log "eventsbench: hornet's log has warnings or errors:"
        grep 'ERROR\|CRIT\|WARN\|exited with\|killed by' "$dir/stdout" | head -n 20 >&2
    fi
    stop_pid "$SERVER_PID"
    SERVER_PID=""
    if [[ $NAME == hornet ]] && grep -q 'exited with status [^0]\|killed by' "$dir/stdout"; then
        log "eventsbench: a hornet process died; its log:"
        tail -n 40 "$dir/stdout" >&2
        FAILED=1
    fi
}

get() {
    local v=${RESULT[$1]:-}
    if [[ -n ${RESULT[${1%.*}.failed]:-} && -z $v ]]; then v=FAIL; fi
    echo "${v:--}"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "-";
        else printf "%.2f", a / b }'
}

row_label() {
    case $1 in
    max) echo "max, $SUBSCRIBERS subs" ;;
    rate) echo "$RATE ev/s, $SUBSCRIBERS subs" ;;
    small) echo "$SMALL_RATE ev/s, $SMALL_SUBSCRIBERS subs" ;;
    esac
}

# yes/no/- for a target
verdict() {
    awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
        if (a !~ /^[0-9.]+$/) { print "-"; exit }
        ok = (op == ">=") ? (a + 0 >= b + 0) : (a + 0 < b + 0)
        print ok ? "met" : "NOT met" }'
}

print_table() {
    local row key label a b m
    local metrics=("deliveries_per_s|deliveries/s" "events_per_s|events/s"
        "p50_us|latency p50 us" "p99_us|latency p99 us" "max_us|latency max us"
        "server_us_per_delivery|server CPU us/delivery" "server_cpu_pct|server CPU % of a core"
        "client_cpu_pct|evload CPU % of a core" "lost|lost" "dup|duplicated"
        "reordered|reordered")
    printf '\n%-44s | %12s | %12s | %12s\n' metric hornet redis "hornet/redis"
    printf -- '-%.0s' {1..90}
    printf '\n'
    for row in $ROWS; do
        label=$(row_label "$row")
        for m in "${metrics[@]}"; do
            key=${m%%|*}
            a=$(get "hornet.$row.$key")
            b=$(get "redis.$row.$key")
            printf '%-44s | %12s | %12s | %12s\n' "$label: ${m#*|}" "$a" "$b" "$(ratio "$a" "$b")"
        done
    done
    printf '\n'
    for row in $ROWS; do
        [[ -n ${RESULT[hornet.$row.split]:-} ]] &&
            printf 'hornet %s CPU: %s\n' "$row" "${RESULT[hornet.$row.split]}"
    done
    printf '\n%s publishers, batch %s, %ss measured after %ss warm-up; max: at most %s events\n' \
        "$PUBLISHERS" "$BATCH" "$DURATION" "$WARMUP" "$WINDOW"
    printf 'per publisher not yet received by every subscriber. A delivery: one event received\n'
    printf 'by one subscriber. hornet: %s workers + hub, %s; redis: one process, %s;\n' \
        "$WORKERS" "${SERVER_CPUS:+on CPU $SERVER_CPUS}${SERVER_CPUS:-not pinned}" \
        "${SERVER_CPUS:+on CPU $SERVER_CPUS}${SERVER_CPUS:-not pinned}"
    printf 'evload on CPU %s. Latency: receive - send, CLOCK_MONOTONIC.\n' "$CLIENT_CPU"
    if [[ " $ROWS " == *" max "* ]]; then
        a=$(get hornet.max.deliveries_per_s)
        b=$(get redis.max.deliveries_per_s)
        printf '\ntargets (hornet):\n'
        printf '  >= 1,000,000 deliveries/s (max row): %s\n' "$(verdict "$a" '>=' 1000000)"
        if [[ $b =~ ^[0-9.]+$ ]]; then
            printf '  more deliveries/s than Redis (max row): %s\n' "$(verdict "$a" '>=' "$b")"
        fi
    else
        printf '\ntargets (hornet):\n'
    fi
    for row in rate small; do
        [[ " $ROWS " == *" $row "* ]] || continue
        a=$(get "hornet.$row.p99_us")
        printf '  p99 < 5 ms at %s (%s deliveries/s offered): %s\n' "$(row_label "$row")" \
            "$(if [[ $row == rate ]]; then echo $((RATE * SUBSCRIBERS)); else
                echo $((SMALL_RATE * SMALL_SUBSCRIBERS)); fi)" "$(verdict "$a" '<' 5000)"
    done
}

main() {
    local name
    command -v taskset >/dev/null || die "taskset not found (util-linux)"
    command -v curl >/dev/null || die "curl not found"
    local need=$((SUBSCRIBERS > SMALL_SUBSCRIBERS ? SUBSCRIBERS : SMALL_SUBSCRIBERS))
    need=$((2 * (need + PUBLISHERS) + 1000))
    ((need < 20000)) && need=20000
    ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    build
    if [[ " $SERVERS " == *" redis "* ]]; then
        [[ -x $REDIS_BIN ]] || die "redis-server not found (scripts/install-deps.sh bench)"
        command -v redis-cli >/dev/null || die "redis-cli not found (redis-tools)"
    fi
    log "eventsbench: server ${SERVER_CPUS:+on CPU $SERVER_CPUS}${SERVER_CPUS:-not pinned}," \
        "evload on CPU $CLIENT_CPU, $(nproc) CPUs"
    for name in $SERVERS; do
        case $name in
        hornet | redis) bench_one "$name" ;;
        *) die "unknown server '$name' in BENCH_SERVERS" ;;
        esac
    done
    print_table
    if ((FAILED)); then
        log "eventsbench: some runs FAILED (see above); their figures are not comparable"
        exit 1
    fi
}

main "$@"
