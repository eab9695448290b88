#!/usr/bin/env bash
# install-deps.sh - install what hornet needs to build, test and benchmark on
# Debian 12: only the packages that are missing, with apt-get update only when
# something must be installed. Runs as root, or through sudo when available.
set -euo pipefail

packages=(
    # build
    build-essential autoconf automake libtool pkg-config
    libev-dev libyaml-dev libssl-dev libnghttp2-dev node-llhttp zlib1g-dev
    # integration tests and benchmarks
    curl nghttp2-client wrk nginx-light h2o openssl
    python3-pytest python3-h2 python3-websockets python3-httpx
    procps iproute2 valgrind
    # the WebSocket browser test, the WebSocket benchmark's peer and the codec
    # benchmark's reference (wslay)
    chromium python3-hypercorn libwslay-dev
    # slow-client attacks against a worker (test_slow_clients.py)
    slowhttptest
    # fuzzing (scripts/fuzz.sh)
    clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || :)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

if ((EUID == 0)); then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install-deps: missing ${missing[*]}; run as root (no sudo here)" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
