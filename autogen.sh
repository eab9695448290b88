#!/usr/bin/env bash
# autogen.sh - generate ./configure from a checkout (same as autoreconf -fi).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
exec autoreconf -fi "$@"
