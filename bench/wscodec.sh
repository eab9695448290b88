#!/usr/bin/env bash
# wscodec.sh - hornet's WebSocket codec against wslay (bench/wscodec.c):
# ns per echoed message, codec only, for a range of message sizes. Needs
# libwslay-dev and zlib (scripts/install-deps.sh bench, run first).
#
#   bench/wscodec.sh            sizes 16 B to 1 MiB
#   BENCH_WS_SIZES="64" bench/wscodec.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CC=${CC:-gcc}
[[ ${BENCH_SKIP_DEPS:-0} == 1 ]] || bash "$ROOT/scripts/install-deps.sh" bench >&2
SIZES=${BENCH_WS_SIZES:-16 64 1024 16384 1048576}
bin=$(mktemp /tmp/hornet-wscodec.XXXXXX)
trap 'rm -f "$bin"' EXIT
"$CC" -O2 -std=gnu11 -D_GNU_SOURCE -I"$ROOT" -I"$ROOT/include" -o "$bin" \
    "$ROOT/bench/wscodec.c" "$ROOT/worker/ws_codec.c" "$ROOT/shared/mem.c" -lwslay -lz
for size in $SIZES; do
    # about 100 MB of frames per size, at most a million messages
    count=$((100000000 / (size + 200)))
    ((count > 1000000)) && count=1000000
    taskset -c "${BENCH_CLIENT_CPU:-1}" "$bin" "$size" "$count"
done
