#!/usr/bin/env bash
# pybench.sh - Python applications: hornet's bridge against the Python
# servers people run them with, one worker each, one server at a time:
#   asgi       a raw ASGI hello (13 bytes)         hornet, uvicorn, Hypercorn
#   starlette  Starlette answering a small JSON    hornet, uvicorn, Hypercorn
#   flask      Flask answering a small text        hornet, gunicorn (gthread)
#   wsgi       a raw WSGI hello (13 bytes)         hornet, gunicorn (gthread): what a WSGI
#              request costs besides the app (the hop to a thread and back)
# uvicorn runs with uvloop and httptools, gunicorn with its gthread worker
# (4 threads), Hypercorn as Debian ships it (asyncio). wrk keeps
# $BENCH_CONNECTIONS keep-alive connections busy for $BENCH_DURATION seconds
# after a warm-up; the server is pinned to CPU $BENCH_SERVER_CPU, wrk to
# $BENCH_CLIENT_CPU. Prints requests/s, the server's CPU time per request
# (utime + stime of all its processes), wrk's p99 latency and its errors.
# A non-2xx answer or a socket error from hornet makes the script fail
# (Hypercorn 0.13 has wrk count a read error per request: it is printed);
# nothing here asserts figures.
#
#   bench/pybench.sh                      (from the build tree, after make)
#   BENCH_APPS="asgi" BENCH_DURATION=10 bench/pybench.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$ROOT/bench"
HORNET_BIN=${HORNET_BIN:-$ROOT/hornet}
PYTHON3=${PYTHON3:-/usr/bin/python3}
DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-1}
CONNECTIONS=${BENCH_CONNECTIONS:-50}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
APPS=${BENCH_APPS:-asgi starlette flask wsgi}

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

bench_begin pybench
[[ -x $HORNET_BIN && -f $(dirname "$HORNET_BIN")/hornet-python.so ]] ||
    die "$HORNET_BIN and hornet-python.so beside it are needed: build first (make)"

cat >"$WORK/rawhello.py" <<'EOF'
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            await send({"type": m["type"] + ".complete"})
            if m["type"] == "lifespan.shutdown":
                return
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})
EOF
cat >"$WORK/starapp.py" <<'EOF'
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def home(request):
    return JSONResponse({"message": "Hello, world!", "items": [1, 2, 3]})

app = Starlette(routes=[Route("/", home)])
EOF
cat >"$WORK/flaskapp.py" <<'EOF'
from flask import Flask

app = Flask(__name__)


@app.route("/")
def home():
    return "Hello, world!"
EOF
cat >"$WORK/wsgihello.py" <<'EOF'
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, world!"]
EOF

wait_port() {
    local port=$1 i
    for ((i = 0; i < 100; i++)); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.1
    done
    die "nothing answers on port $port (see $WORK/*.log)"
}

# start SERVER APP PORT: the server's command line, pinned, in $WORK
start() {
    local server=$1 app=$2 port=$3 spec
    case $app in
    asgi) spec=rawhello:app ;;
    starlette) spec=starapp:app ;;
    flask) spec=flaskapp:app ;;
    wsgi) spec=wsgihello:app ;;
    esac
    cd "$WORK"
    case $server in
    hornet)
        taskset -c "$SERVER_CPU" "$HORNET_BIN" -b "127.0.0.1:$port" -w 1 --log-level warning \
            "$spec" >"$WORK/$server-$app.log" 2>&1 &
        ;;
    uvicorn)
        taskset -c "$SERVER_CPU" "$PYTHON3" -m uvicorn --port "$port" --loop uvloop \
            --http httptools --log-level warning --no-access-log "$spec" \
            >"$WORK/$server-$app.log" 2>&1 &
        ;;
    hypercorn)
        taskset -c "$SERVER_CPU" "$PYTHON3" -m hypercorn -b "127.0.0.1:$port" -w 1 \
            --log-level warning "$spec" >"$WORK/$server-$app.log" 2>&1 &
        ;;
    gunicorn)
        taskset -c "$SERVER_CPU" "$PYTHON3" -m gunicorn -b "127.0.0.1:$port" -w 1 \
            -k gthread --threads 4 --log-level warning "$spec" >"$WORK/$server-$app.log" 2>&1 &
        ;;
    esac
    SERVER_PID=$!
    cd - >/dev/null
    wait_port "$port"
}

pids_of() {
    echo "$SERVER_PID" $(children_of "$SERVER_PID")
}

run() {
    local server=$1 app=$2 port out t0 t1 reqs
    port=$(free_port)
    start "$server" "$app" "$port"
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" \
        "http://127.0.0.1:$port/" >/dev/null
    t0=$(cpu_ticks $(pids_of))
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
        "http://127.0.0.1:$port/")
    t1=$(cpu_ticks $(pids_of))
    stop_pid "$SERVER_PID"
    SERVER_PID=""
    local errors
    errors=$(awk '/Socket errors/ {sub(/^ *Socket errors: /, ""); print}
                  /Non-2xx/ {print "non-2xx " $NF}' <<<"$out" | paste -sd' ')
    if [[ $server == hornet && -n $errors ]]; then
        log "$out"
        die "hornet $app: errors under load: $errors"
    fi
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    awk -v s="$server" -v a="$app" -v r="$reqs" -v d="$DURATION" -v ticks=$((t1 - t0)) \
        -v hz="$(getconf CLK_TCK)" -v p99="$(awk '$1 == "99%" {print $2}' <<<"$out")" \
        -v e="${errors:-none}" \
        'BEGIN { printf "%-10s %-10s %10.0f req/s %8.1f us CPU/req   p99 %-8s errors: %s\n",
                 a, s, r / d, ticks / hz * 1e6 / r, p99, e }'
}

printf '%-10s %-10s %16s %19s %9s\n' app server throughput "CPU per request" latency
for app in $APPS; do
    case $app in
    asgi | starlette) servers="hornet uvicorn hypercorn" ;;
    flask | wsgi) servers="hornet gunicorn" ;;
    *) die "unknown app $app (asgi, starlette, flask, wsgi)" ;;
    esac
    for server in $servers; do
        run "$server" "$app"
    done
done
