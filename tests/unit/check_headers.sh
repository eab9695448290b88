#!/usr/bin/env bash
# check_headers.sh - every header under shared/, worker/, master/ and include/
# must compile on its own (STYLE.md 2.3): `#include "x.h"` as the first line
# of an otherwise empty file, with the flags our sources use.
#
# Run by `make check`, which exports HN_SRCDIR, HN_BUILDDIR, HN_CC,
# HN_CPPFLAGS and HN_CFLAGS. Run by hand from the source tree it falls back
# to cc, the tree's own directories and pkg-config.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcdir=${HN_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${HN_BUILDDIR:-$srcdir}
cc=${HN_CC:-cc}
if [[ -z ${HN_CPPFLAGS+x} ]]; then
    HN_CPPFLAGS="-I$builddir -I$srcdir -I$srcdir/include -D_GNU_SOURCE"
    HN_CPPFLAGS+=" $(pkg-config --cflags yaml-0.1 libssl libcrypto libnghttp2 jansson 2>/dev/null || :)"
    if pkg-config --exists libllhttp 2>/dev/null; then
        HN_CPPFLAGS+=" $(pkg-config --cflags libllhttp)"
    else
        HN_CPPFLAGS+=" -isystem /usr/share/include/llhttp"
    fi
fi
cflags=${HN_CFLAGS:--std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$srcdir"
mapfile -t headers < <(find shared worker master hub include -name '*.h' 2>/dev/null | LC_ALL=C sort)
if ((${#headers[@]} == 0)); then
    echo "no headers found under $srcdir"
    exit 77
fi

failed=0
for h in "${headers[@]}"; do
    # include/hornet/app.h is included as "hornet/app.h" by applications.
    inc=$h
    [[ $h == include/* ]] && inc=${h#include/}
    printf '#include "%s"\n' "$inc" >"$tmp/hdr.c"
    # shellcheck disable=SC2086 # the flag lists are meant to split
    if out=$("$cc" $HN_CPPFLAGS $cflags -fsyntax-only "$tmp/hdr.c" 2>&1); then
        echo "ok     $h"
    else
        echo "FAILED $h"
        printf '    %s\n' "${out//$'\n'/$'\n'    }"
        failed=$((failed + 1))
    fi
done

echo "${#headers[@]} headers, $failed failed to compile alone"
((failed == 0))
