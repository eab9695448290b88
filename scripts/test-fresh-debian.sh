#!/usr/bin/env bash
# test-fresh-debian.sh - the README's two commands on a machine like a new
# user's: a fresh `debootstrap --variant=minbase bookworm` root with a clone
# of this tree and nothing else, so a package that only the development
# machine happens to have cannot hide.
#
#   scripts/test-fresh-debian.sh          (as root; CI runs it from .ci/run)
#
# In the fresh root it
#   1. runs the README's first command up to `./hornet` (install-deps.sh,
#      autoreconf, configure, make), then starts ./hornet as the command
#      does, in a network namespace of its own, and expects `Hello, world!`
#      from http://127.0.0.1:8000/;
#   2. checks that the first command installed no peer server, browser,
#      sanitizer or fuzzing tool, that no service was enabled or started, and
#      that the README's `man -l man/hornet.8` shows the page;
#   3. runs the README's second command (scripts/test.sh: the whole suite);
#   4. installs the benchmarks' packages (nginx and h2o among them) and checks
#      that none of their services was enabled or started.
# It prints what each command installed (packages, download, disk), and ends
# with one line "N passed, N failed[, N skipped]": the suite's counts plus one
# per check above.
#
# The root takes the host's apt sources (the same mirror and suites). Where
# debootstrap cannot be installed or cannot build a root, the script says so
# and runs scripts/test.sh on this machine instead.
#
# Environment:
#   HN_FRESH_ROOT   where to build the root (default: a new /tmp/hornet-fresh.*,
#                   removed at the end; a given one is kept)
#   HN_FRESH_KEEP=1 keep the root afterwards
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1

log() { printf '== fresh: %s\n' "$*"; }

fallback() {
    log "$* -- running scripts/test.sh on this machine instead"
    exec bash scripts/test.sh
}

if ((EUID != 0)); then
    fallback "not root: debootstrap and chroot need root"
fi

# The harness's own tools, on the host (not the project's dependencies).
host_missing=()
for p in debootstrap iproute2 git; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] ||
        host_missing+=("$p")
done
if ((${#host_missing[@]})); then
    log "installing ${host_missing[*]} on the host"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${host_missing[@]}" </dev/null; } >/dev/null; then
        fallback "cannot install ${host_missing[*]}"
    fi
fi

# The host's first bookworm mirror, from deb822 or one-line sources.
mirror=$(
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk 'BEGIN { RS = ""; FS = "\n" }
             /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|$|\n)/ && !/(^|\n)Enabled: *no/ {
                 for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); print u[2]; exit }
             }'
)
if [[ -z $mirror ]]; then
    mirror=$(grep -hsE '^deb +(\[[^]]*\] +)?[a-z]+://[^ ]+ +bookworm( |$)' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list | head -n 1 |
        sed -E 's/^deb +(\[[^]]*\] +)?//; s/ .*//')
fi
[[ -n $mirror ]] || fallback "no bookworm mirror in the host's apt sources"

root=${HN_FRESH_ROOT:-}
keep=${HN_FRESH_KEEP:-0}
if [[ -z $root ]]; then
    # mktemp makes it 0700: as the root's "/", no user but root could
    # traverse it (workers running as nobody could not load a library)
    root=$(mktemp -d /tmp/hornet-fresh.XXXXXX) && chmod 755 "$root"
else
    keep=1
    mkdir -p "$root"
fi

# Anything still running from the root is killed before it is removed.
kill_root_processes() {
    local p
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && kill -KILL "${p#/proc/}" 2>/dev/null
    done
    return 0
}
cleanup() {
    kill_root_processes
    rm -f "${inner:-}"
    if ((keep)); then
        log "root kept at $root"
    else
        rm -rf --one-file-system "$root"
    fi
}
trap cleanup EXIT

log "debootstrap --variant=minbase bookworm $root"
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1; then
    tail -n 20 "$root.debootstrap.log"
    rm -f "$root.debootstrap.log"
    fallback "debootstrap failed"
fi
rm -f "$root.debootstrap.log"

# The host's sources (security updates included) and apt settings, so the
# root sees the packages a user of this mirror sees.
rm -f "$root/etc/apt/sources.list"
cp -a /etc/apt/sources.list "$root/etc/apt/" 2>/dev/null
cp -a /etc/apt/sources.list.d/. "$root/etc/apt/sources.list.d/" 2>/dev/null
cp -a /etc/apt/apt.conf.d/. "$root/etc/apt/apt.conf.d/" 2>/dev/null
rm -f "$root/etc/apt/apt.conf.d/docker-clean" # keep the .debs: their sizes are the download
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null

# The tree as a user's clone, with this work tree's tracked files on top.
git clone -q --no-hardlinks "$top" "$root/root/hornet" || fallback "git clone failed"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$root/root/hornet"

# Mounts live in a private namespace: they vanish with it, whatever happens.
inner=$(mktemp)
cat >"$inner" <<'INNER'
set -uo pipefail
root=$1
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mkdir -p "$root/dev/shm" && mountpoint -q "$root/dev/shm" || mount -t tmpfs tmpfs "$root/dev/shm"
shift
exec "$@"
INNER

# in_root CMD: run CMD (a shell string) in the root, as a new user would:
# root, a login-like environment, the clone as the working directory.
in_root() {
    unshare -m bash "$inner" "$root" \
        chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        CI="${CI:-}" /bin/bash -c "cd /root/hornet && $1"
}

passed=0 failed=0
check() { # check NAME STATUS
    if (($2 == 0)); then
        passed=$((passed + 1))
        log "ok: $1"
    else
        failed=$((failed + 1))
        log "FAILED: $1"
    fi
}

# What a step installed: packages, download (the .debs apt fetched) and disk.
packages_now() { chroot "$root" dpkg-query -W -f='${db:Status-Abbrev}${Package} ${Installed-Size}\n' | awk '/^ii/ { print $2, $3 }' | sort; }
debs_now() { find "$root/var/cache/apt/archives" -name '*.deb' -printf '%s %f\n' | sort; }
enabled_now() {
    find "$root/etc/systemd/system" -path '*.wants/*' -o -path '*.requires/*' 2>/dev/null
    find "$root"/etc/rc[0-6S].d -name 'S*' 2>/dev/null
}
report_install() { # report_install WHAT PACKAGES_BEFORE DEBS_BEFORE
    local new bytes kib
    new=$(comm -13 <(echo "$2") <(packages_now))
    kib=$(awk '{ s += $2 } END { print s + 0 }' <<<"$new")
    bytes=$(comm -13 <(echo "$3") <(debs_now) | awk '{ s += $1 } END { print s + 0 }')
    log "$1 installed $(grep -c . <<<"$new") packages: $((bytes / 1000000)) MB downloaded, $((kib / 1024)) MiB on disk"
}

readme_cmd() { # the first line of the README's Nth sh block
    awk -v n="$1" '/^```sh$/ { b++; getline; if (b == n) { print; exit } }' README.md
}
first=$(readme_cmd 1)
second=$(readme_cmd 2)
case $first in
*" && ./hornet") first_build=${first% && ./hornet} ;;
*) echo "README's first command does not end with '&& ./hornet': $first" >&2; exit 1 ;;
esac

# --- 1. the first command ------------------------------------------------------
pk0=$(packages_now) debs0=$(debs_now) en0=$(enabled_now)
log "README's first command: $first"
in_root "$first_build"
check "the README's first command builds hornet in a fresh root" $?
report_install "the first command" "$pk0" "$debs0"

# ./hornet as the command starts it, with a loopback of its own; it must
# answer on its default address, then stop on SIGTERM.
served=$(unshare -n bash -c '
    ip link set lo up
    unshare -m bash "$1" "$2" chroot "$2" /bin/sh -c "cd /root/hornet && exec ./hornet" \
        >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        if exec 4<>/dev/tcp/127.0.0.1/8000; then
            printf "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nConnection: close\r\n\r\n" >&4
            cat <&4
            break
        fi 2>/dev/null
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM $pid 2>/dev/null
    wait $pid
    printf "\nexit status %d\n" $?
' _ "$inner" "$root")
grep -q "Hello, world!" <<<"$served" && grep -q "^exit status 0" <<<"$served"
check "./hornet serves Hello, world! on 127.0.0.1:8000 and stops on SIGTERM" $?
[[ $served == *"Hello, world!"* ]] || echo "$served"

pk1=$(packages_now)
extras=$(comm -13 <(echo "$pk0") <(echo "$pk1") | awk '{ print $1 }' |
    grep -E '^(nginx|h2o|chromium|clang|valgrind|slowhttptest|python3-hypercorn|wrk|lintian|debhelper)([-.0-9]|$)')
[[ -z $extras ]]
check "the first command installs nothing but the build's needs" $?
[[ -z $extras ]] || echo "unexpected: $extras"
[[ $(enabled_now) == "$en0" ]]
check "the first command enables no service" $?
in_root "MANPAGER=cat man -l man/hornet.8 | grep -q 'prefork HTTP server'"
check "man -l man/hornet.8 shows the page after the first command" $?

# --- 2. the second command -----------------------------------------------------
pk1=$(packages_now) debs1=$(debs_now)
log "README's second command: $second"
suite_log=$(mktemp)
in_root "$second" 2>&1 | tee "$suite_log"
suite_status=${PIPESTATUS[0]}
suite_last=$(tail -n 1 "$suite_log")
rm -f "$suite_log"
report_install "the second command" "$pk1" "$debs1"

# --- 3. the benchmarks' peers, never started as services ------------------------
en1=$(enabled_now)
in_root "bash scripts/install-deps.sh bench" >/dev/null
bench_status=$?
started=$(for p in /proc/[0-9]*; do
    [[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && cat "$p/comm" 2>/dev/null
done | grep -xE 'nginx|h2o')
((bench_status == 0)) && [[ $(enabled_now) == "$en1" && -z $started ]] &&
    [[ ! -e $root/usr/sbin/policy-rc.d ]]
check "installing nginx and h2o (bench) starts and enables no service" $?
[[ -z $started ]] || echo "running: $started"

# --- summary -------------------------------------------------------------------
p=$(grep -oE '[0-9]+ passed' <<<"$suite_last" | grep -oE '[0-9]+' || echo 0)
f=$(grep -oE '[0-9]+ failed' <<<"$suite_last" | grep -oE '[0-9]+' || echo 0)
s=$(grep -oE '[0-9]+ skipped' <<<"$suite_last" | grep -oE '[0-9]+' || echo 0)
if ((suite_status != 0 && f == 0)); then
    log "the second command exited with status $suite_status"
    f=1
fi
passed=$((passed + p)) failed=$((failed + f))
summary="$passed passed, $failed failed"
((s > 0)) && summary+=", $s skipped"
echo "$summary"
((failed == 0))
