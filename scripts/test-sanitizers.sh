#!/usr/bin/env bash
# test-sanitizers.sh - the whole suite under ASan+UBSan, or the integration
# suite with every hornet process (master and workers) under valgrind.
#
#   scripts/test-sanitizers.sh asan       # separate copy, --enable-asan, scripts/test.sh
#   scripts/test-sanitizers.sh valgrind   # in-place build, pytest with a valgrind wrapper
#
# Both build from a copy of the files git tracks (as they are in the work
# tree), so an in-place build is left alone. The last line is the usual
# "N passed, N failed"; valgrind adds one failure per process whose log
# reports an error or a definite leak.
set -euo pipefail

mode=${1:-asan}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/hornet-san.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The package test builds and installs the .deb: it checks packaging, not
# memory, and runs once, in the README's test command.
not_here=--ignore=$work/tests/integration/test_package.py

cd "$top"
bash scripts/install-deps.sh test sanitizers
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work"
cd "$work"

case $mode in
asan)
    # detect_leaks covers the master; workers end with _exit after
    # releasing what they own, which valgrind checks instead.
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export HORNET_UNDER_ASAN=1 # memory bounds in tests allow for the quarantine
    PYTEST_ARGS="$not_here ${PYTEST_ARGS:-}" HN_SKIP_DEPS=1 HN_CONFIGURE_FLAGS=--enable-asan \
        exec bash scripts/test.sh
    ;;
valgrind)
    autoreconf -fi >/dev/null
    ./configure -q
    make -s -j"$(nproc)"
    logs=$work/vglog
    mkdir -m 1777 "$logs" # some tests run hornet as nobody
    cat >"$work/vg-hornet" <<EOF
#!/bin/sh
# PYTHONMALLOC=malloc: the Python bridge's objects become malloc blocks valgrind
# follows; python.supp keeps the interpreter's own reports out (see there)
PYTHONMALLOC=malloc exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
    --show-possibly-lost=no --suppressions=$work/tests/valgrind/python.supp \
    --log-file=$logs/%p.log $work/hornet "\$@"
EOF
    chmod 755 "$work/vg-hornet" "$work"
    set +e
    # test_upgrade replaces the binary a master runs and has it run again:
    # under this wrapper the master's own argv[0] is the real binary, which
    # it would run without valgrind; it runs under ASan above.
    HORNET_BIN=$work/vg-hornet HORNET_UNDER_VALGRIND=1 /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        "$not_here" --ignore="$work/tests/integration/test_upgrade.py" tests/integration 2>&1 |
        tee "$work/pytest.log"
    set -e
    summary=$(tail -n 1 "$work/pytest.log")
    passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
    failed=$( (grep -oE '[0-9]+ (failed|errors?)' <<<"$summary" || true) |
        awk '{s += $1} END {print s + 0}')
    skipped=$(grep -oE '[0-9]+ skipped' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
    # valgrind has no handler for openat2 (builtin:static falls back): not an error
    bad=0
    for f in "$logs"/*.log; do
        [[ -s $f ]] || continue
        if grep -vE 'unhandled amd64-linux syscall: 437|You may be able to write|README_MISSING_SYSCALL|Nevertheless we consider|it at http://valgrind.org' \
            "$f" | grep -q .; then
            echo "== valgrind: $f"
            cat "$f"
            bad=$((bad + 1))
        fi
    done
    echo "valgrind: $bad process(es) with errors"
    echo "$passed passed, $((${failed:-0} + bad)) failed, $skipped skipped"
    [[ $((${failed:-0} + bad)) -eq 0 ]]
    ;;
*)
    echo "usage: $0 asan|valgrind" >&2
    exit 2
    ;;
esac
