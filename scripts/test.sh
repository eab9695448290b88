#!/usr/bin/env bash
# test.sh - install dependencies, build hornet in place, run every test and
# print one summary line, last: "N passed, N failed" (", N skipped" if any).
#
# Counting: each unit-test TAP line is one test (from the automake .trs
# files), each check script (header, layering) is one test, and every pytest
# test is one test (from tests/integration-junit.xml). A unit test that does
# not compile counts as one failure, so does a hornet binary that does not
# build, and so does an integration run that dies without reporting a
# failure (crash, timeout).
#
# Environment:
#   HN_CONFIGURE_FLAGS  flags for ./configure on first configure (e.g. --enable-asan)
#   HN_SKIP_DEPS=1      do not run scripts/install-deps.sh test
#   PYTEST_ARGS         passed to pytest (see tests/run-integration.sh)
# Exit status: 0 if nothing failed, 1 otherwise.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
python=/usr/bin/python3

log() { printf '== %s\n' "$*"; }

# -- dependencies, configure, build -------------------------------------------

if [[ ${HN_SKIP_DEPS:-0} != 1 ]]; then
    bash scripts/install-deps.sh test
fi

if [[ ! -x configure || configure.ac -nt configure || Makefile.am -nt Makefile.in ]]; then
    log "autoreconf -fi"
    autoreconf -fi
fi
if [[ ! -f Makefile ]]; then
    log "./configure ${HN_CONFIGURE_FLAGS:-}"
    # shellcheck disable=SC2086 # flags are meant to split
    ./configure ${HN_CONFIGURE_FLAGS:-}
fi

build_failures=()
declare -A unbuilt=()
log "make -j$jobs"
if ! make -k -j"$jobs"; then
    build_failures+=("hornet (make all)")
fi

# What make check would run, from the Makefile itself.
read -r -a unit_tests <<<"$(make -s --no-print-directory print-unit-tests)"
check_scripts=(tests/unit/check_headers.sh scripts/check-layers.sh tests/run-integration.sh)

# Stale results must not count: drop the logs of every test before running.
for t in "${unit_tests[@]}" "${check_scripts[@]}"; do
    rm -f "${t%.sh}.log" "${t%.sh}.trs"
done
rm -f test-suite.log tests/integration-junit.xml

log "make -k check"
if ! make -k -j"$jobs" check && [[ ! -f test-suite.log ]]; then
    # The harness never ran: something did not compile. Run what did build.
    log "make check stopped before running tests; running the tests that build"
    built=()
    for t in "${unit_tests[@]}"; do
        if make -j"$jobs" "$t" >/dev/null 2>&1; then
            built+=("$t")
        else
            unbuilt[$t]=1
            build_failures+=("$t (does not compile)")
        fi
    done
    # check_PROGRAMS emptied: the harness must not try to rebuild what failed.
    make -k -j"$jobs" check-TESTS check_PROGRAMS= \
        TESTS="${built[*]} ${check_scripts[*]}" || :
fi

# -- summary --------------------------------------------------------------------

passed=0 failed=0 skipped=0
failures=()

# count_trs TEST: add the :test-result: lines of TEST's .trs file.
count_trs() {
    local t=$1 trs=${1%.sh}.trs result _
    if [[ ! -f $trs ]]; then
        return 1
    fi
    while read -r _ result _; do
        case $result in
            PASS | XFAIL) passed=$((passed + 1)) ;;
            SKIP) skipped=$((skipped + 1)) ;;
            *) failed=$((failed + 1)); failures+=("$t ($result)") ;;
        esac
    done < <(grep '^:test-result:' "$trs" || :)
}

for t in "${unit_tests[@]}" tests/unit/check_headers.sh scripts/check-layers.sh; do
    if [[ -f ${t%.sh}.trs ]]; then
        count_trs "$t"
    elif [[ -z ${unbuilt[$t]:-} ]]; then
        failed=$((failed + 1))
        failures+=("$t (did not run)")
    fi
done
unit_summary="$passed passed, $failed failed, $skipped skipped"

# Integration: per-test counts from pytest's JUnit XML.
it=tests/run-integration.sh
it_result=$(sed -n 's/^:test-result: *//p' tests/run-integration.trs 2>/dev/null | head -n1 || :)
if [[ -f tests/integration-junit.xml ]]; then
    read -r it_pass it_fail it_skip < <("$python" - tests/integration-junit.xml <<'EOF'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
tests = failures = errors = skipped = 0
for s in suites:
    tests += int(s.get("tests", 0))
    failures += int(s.get("failures", 0))
    errors += int(s.get("errors", 0))
    skipped += int(s.get("skipped", 0))
print(tests - failures - errors - skipped, failures + errors, skipped)
EOF
    )
    passed=$((passed + it_pass)) failed=$((failed + it_fail)) skipped=$((skipped + it_skip))
    if ((it_fail > 0)); then
        failures+=("$it ($it_fail failed; see tests/run-integration.log)")
        # which ones, in this output too: a CI log outlives the tree
        while IFS= read -r line; do
            failures+=("  $line")
        done < <(grep -E '^(FAILED|ERROR) ' tests/run-integration.log 2>/dev/null | cut -c1-300 || :)
    elif [[ $it_result == FAIL || $it_result == ERROR ]]; then
        failed=$((failed + 1))
        failures+=("$it (pytest exited with an error; see tests/run-integration.log)")
    fi
    it_summary="$it_pass passed, $it_fail failed, $it_skip skipped"
elif [[ -n $it_result ]]; then
    count_trs "$it"
    it_summary="no per-test results ($it_result); see tests/run-integration.log"
else
    failed=$((failed + 1))
    failures+=("$it (did not run)")
    it_summary="did not run"
fi

for b in ${build_failures[@]+"${build_failures[@]}"}; do
    failed=$((failed + 1))
    failures+=("$b")
done

echo
echo "unit tests and checks: $unit_summary"
echo "integration tests:     $it_summary"
if ((${#failures[@]} > 0)); then
    echo "failures (logs: test-suite.log, <test>.log):"
    printf '  %s\n' "${failures[@]}"
fi
summary="$passed passed, $failed failed"
((skipped > 0)) && summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
