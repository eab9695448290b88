#!/usr/bin/env bash
# check-layers.sh - dependencies run one way (STYLE.md 2.3):
#   - shared/ includes nothing from master/ or worker/;
#   - worker/ includes nothing from master/;
#   - master/ includes worker/ only in master/spawn.c, and only worker/worker.h;
#   - hub/ (the event hub process) includes nothing from master/ or worker/,
#     and worker/ nothing from hub/;
#   - include/hornet/ (the public ABI) includes no project header;
#   - no libev, nghttp2, OpenSSL or libyaml header in shared/*.h or
#     include/hornet/*.h (their types stay out of shared interfaces).
# Exit 0 when clean, 1 with one line per violation. Run from anywhere.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcdir=${HN_SRCDIR:-$(cd "$here/.." && pwd)}
cd "$srcdir"

inc='^[[:space:]]*#[[:space:]]*include[[:space:]]*'
violations=0

# report RULE: print grep hits (file:line:text) on stdin, count them.
report() {
    local rule=$1 line
    while IFS= read -r line; do
        echo "layering: $line  <- $rule"
        violations=$((violations + 1))
    done
}

# find_includes DIR REGEX [FILE-GLOB]: include lines under DIR matching REGEX.
find_includes() {
    local dir=$1 re=$2 glob=${3:-*.[ch]}
    [[ -d $dir ]] || return 0
    grep -rnE --include="$glob" "${inc}[<\"](\.\./)*${re}" "$dir" || :
}

report "shared/ must not include master/ or worker/" \
    < <(find_includes shared '(master|worker)/')
report "worker/ must not include master/" \
    < <(find_includes worker 'master/')
report "master/ may include worker/ only as master/spawn.c -> worker/worker.h" \
    < <(find_includes master 'worker/' | grep -vE '^master/spawn\.c:[0-9]+:.*worker/worker\.h[">]' || :)
report "hub/ must not include master/ or worker/" \
    < <(find_includes hub '(master|worker)/')
report "worker/ must not include hub/" \
    < <(find_includes worker 'hub/')
report "include/hornet/ is the public ABI: no project headers" \
    < <(find_includes include '(shared|master|worker)/')
report "no libev/nghttp2/OpenSSL/libyaml types in shared/*.h" \
    < <(find_includes shared '(ev\.h|nghttp2/|openssl/|yaml\.h)' '*.h')
report "no libev/nghttp2/OpenSSL/libyaml types in include/hornet/*.h" \
    < <(find_includes include '(ev\.h|nghttp2/|openssl/|yaml\.h)' '*.h')

if ((violations > 0)); then
    echo "$violations layering violation(s)"
    exit 1
fi
echo "layering ok"
