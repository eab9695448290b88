#!/usr/bin/env bash
# install-deps.sh - install the Debian 12 packages hornet needs, by purpose:
#
#   scripts/install-deps.sh                 build: compile and run hornet, read its man pages
#   scripts/install-deps.sh test            + what the test suite runs (scripts/test.sh)
#   scripts/install-deps.sh sanitizers      + valgrind (scripts/test-sanitizers.sh)
#   scripts/install-deps.sh bench           + the peers and load tools of bench/*.sh
#   scripts/install-deps.sh fuzz            + clang and libFuzzer (scripts/fuzz.sh)
#   scripts/install-deps.sh --list GROUP..  print the packages of these groups and stop
#
# build is always included. Only missing packages are installed, with
# apt-get update only when something must be. Runs as root, or through sudo.
#
# Installing never starts a service: packages such as nginx and h2o (bench)
# enable and start theirs on port 80 when installed. While apt runs, a
# policy-rc.d refuses every start, and every unit or init script the install
# enabled is disabled again afterwards, so nothing of theirs runs at boot
# either; the benchmarks start their own instance on a loopback port.
set -euo pipefail

declare -A groups=(
    # python3-dev: the Python bridge (hornet-python.so) for ASGI applications;
    # libjansson-dev: the event hub's JSON (builtin:events)
    [build]="build-essential autoconf automake libtool pkg-config
        libev-dev libyaml-dev libssl-dev libnghttp2-dev node-llhttp zlib1g-dev libjansson-dev
        python3-dev man-db"
    # the integration tests' clients and tools; python3-yaml for the
    # --dump-config round trip, git for the copies the tests build from,
    # chromium for the WebSocket browser test, slowhttptest for the slow
    # client attacks, wrk for the load across a binary upgrade, Starlette,
    # FastAPI, Flask and Django for the Python bridge's tests,
    # dpkg-dev/debhelper/lintian for the package test, which also runs
    # systemd-analyze and systemctl on the installed units
    [test]="curl nghttp2-client openssl procps iproute2 git
        python3 python3-pytest python3-h2 python3-websockets python3-httpx python3-yaml
        python3-starlette python3-fastapi python3-flask python3-django
        chromium slowhttptest wrk
        dpkg-dev debhelper lintian systemd"
    [sanitizers]="valgrind"
    # the peers (nginx, h2o, Hypercorn; uvicorn and gunicorn with the apps of
    # pybench.sh) and the load tools of bench/; wslay for the codec comparison;
    # redis-server, the pub/sub peer of eventsbench.sh (run by the script on a
    # loopback port, never as the system service)
    [bench]="wrk nghttp2-client curl nginx-light h2o python3-hypercorn libwslay-dev
        python3-uvicorn python3-uvloop python3-httptools gunicorn python3-starlette
        python3-flask redis-server"
    [fuzz]="clang-14 libclang-rt-14-dev"
)

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d; s/^# \{0,1\}//; p}' "$0" >&2
    exit 2
}

list=0
wanted=(build)
for arg in "$@"; do
    case $arg in
    --list) list=1 ;;
    -h | --help) usage ;;
    *)
        [[ -n ${groups[$arg]+x} ]] || usage
        wanted+=("$arg")
        ;;
    esac
done

declare -A seen=()
packages=()
for g in "${wanted[@]}"; do
    for p in ${groups[$g]}; do
        [[ -n ${seen[$p]+x} ]] && continue
        seen[$p]=1
        packages+=("$p")
    done
done

if ((list)); then
    printf '%s\n' "${packages[@]}"
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || :)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages of ${wanted[*]} present"
    exit 0
fi

if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo "$0" "$@"
    fi
    echo "install-deps: missing ${missing[*]}; run as root (no sudo here)" >&2
    exit 1
fi

# What starts at boot: units wanted or required by another, SysV start links.
service_links() {
    find /etc/systemd/system -path '*.wants/*' -o -path '*.requires/*' 2>/dev/null
    find /etc/rc[0-6S].d -name 'S*' 2>/dev/null
} 2>/dev/null
sorted_links() { service_links | sort; }

policy=/usr/sbin/policy-rc.d
policy_ours=0
restore() {
    if ((policy_ours)); then
        rm -f "$policy"
    fi
}
trap restore EXIT
if [[ ! -e $policy ]]; then
    # invoke-rc.d (and deb-systemd-invoke) ask this before starting anything:
    # 101 is "action forbidden".
    printf '#!/bin/sh\n# installed by hornet scripts/install-deps.sh while apt runs\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    policy_ours=1
fi

before=$(sorted_links)
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null

# Disable what the install enabled: units through deb-systemd-helper (so a
# later upgrade of the package keeps them disabled), SysV scripts through
# update-rc.d.
new_links=$(comm -13 <(echo "$before") <(sorted_links))
declare -A disabled=()
while IFS= read -r link; do
    [[ -n $link ]] || continue
    name=${link##*/}
    case $link in
    /etc/systemd/system/*)
        [[ -n ${disabled[$name]+x} ]] && continue
        disabled[$name]=1
        echo "install-deps: disabling $name (enabled by the install)"
        deb-systemd-helper disable "$name" >/dev/null 2>&1 || rm -f "$link"
        ;;
    /etc/rc*.d/*)
        script=${name:3}
        [[ -n ${disabled[$script]+x} ]] && continue
        disabled[$script]=1
        echo "install-deps: disabling /etc/init.d/$script (enabled by the install)"
        update-rc.d "$script" disable >/dev/null 2>&1 || :
        ;;
    esac
done <<<"$new_links"
left=$(comm -13 <(echo "$before") <(sorted_links))
if [[ -n $left ]]; then
    echo "install-deps: could not disable:" $left >&2
    exit 1
fi
