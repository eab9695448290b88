#!/usr/bin/env bash
# run-integration.sh - the pytest integration suite (tests/integration) as one
# `make check` test. Runs Debian's python3 (the first python3 on PATH may lack
# the Debian modules) against the built binary:
#
#   HORNET_BIN    the binary under test (make check: $(abs_top_builddir)/hornet)
#   HN_JUNIT_XML  where pytest writes per-test results (scripts/test.sh reads it)
#   PYTHON3       interpreter with pytest (default /usr/bin/python3)
#   HN_IT_TIMEOUT seconds before the whole suite is killed (default 900)
#   PYTEST_ARGS   extra arguments, e.g. PYTEST_ARGS='-k keepalive -x'
#
# Works from a VPATH build with a read-only source tree (make distcheck): no
# byte-code, no cache directory, results written to the build tree.
# Exit status: pytest's, except "no tests collected" (5) and a missing
# python3/pytest, which count as skipped (77).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcdir=${HN_SRCDIR:-$(cd "$here/.." && pwd)}
python=${PYTHON3:-/usr/bin/python3}
export HORNET_BIN=${HORNET_BIN:-$PWD/hornet}
export PYTHONDONTWRITEBYTECODE=1
junit=${HN_JUNIT_XML:-$PWD/tests/integration-junit.xml}
mkdir -p "$(dirname "$junit")"
rm -f "$junit"

if [[ ! -x $HORNET_BIN ]]; then
    echo "HORNET_BIN=$HORNET_BIN is not an executable; build hornet first" >&2
    exit 1
fi
if ! "$python" -c 'import pytest' 2>/dev/null; then
    echo "$python has no pytest; run scripts/install-deps.sh (python3-pytest)" >&2
    exit 77
fi

# Run from a scratch directory so nothing lands in the (possibly read-only)
# source tree or litters the build tree; rootdir is the test directory.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

read -r -a extra <<<"${PYTEST_ARGS:-}"
rc=0
timeout --kill-after=10 "${HN_IT_TIMEOUT:-900}" \
    "$python" -m pytest -q -rfEs -p no:cacheprovider \
    --rootdir="$srcdir/tests/integration" \
    --junitxml="$junit" -o junit_family=xunit2 \
    "$srcdir/tests/integration" ${extra[@]+"${extra[@]}"} || rc=$?

case $rc in
    5) echo "no integration tests collected"; exit 77 ;;
    124|137) echo "integration suite killed after ${HN_IT_TIMEOUT:-900}s" >&2; exit 1 ;;
esac
exit "$rc"
