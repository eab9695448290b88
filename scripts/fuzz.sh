#!/usr/bin/env bash
# fuzz.sh - build hornet's fuzz targets (fuzz/fuzz_<target>.c) with clang-14
# and libFuzzer, ASan and UBSan, and run each for a bounded time.
#
#   scripts/fuzz.sh                  # every target, FUZZ_SECONDS each
#   scripts/fuzz.sh h1 ws            # these targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh cfg
#   make fuzz [FUZZ_SECONDS=N] [FUZZ_TARGETS="h1 ws"]
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_BUILD    objects, binaries, the corpus grown by earlier runs and
#                 libFuzzer's artifacts (default build-fuzz/ at the top of
#                 the tree, ignored by git)
#   FUZZ_CC       the compiler (default clang-14)
#   FUZZ_ARGS     more libFuzzer flags, e.g. "-jobs=2 -workers=2"
#   FUZZ_BUILD_ONLY=1  build the targets and stop
#   FUZZ_SKIP_DEPS=1   do not run scripts/install-deps.sh fuzz (clang-14) first
#
# The sources are compiled here, not through the autotools build: the
# server's with -fsanitize=fuzzer-no-link,address,undefined (coverage, no
# main), llhttp's too (so the parser's states count as coverage), each
# target with -fsanitize=fuzzer,address,undefined. A target reads the seeds
# of fuzz/corpus/<target>/ and the crashes of fuzz/regressions/<target>/, and
# adds what it finds new to $FUZZ_BUILD/<target>/corpus, which later runs
# start from.
#
# When a target crashes, leaks, times out or runs out of memory, the input
# is copied to fuzz/regressions/<target>/ (where `make check` replays it from
# then on: tests/unit/fuzz/test_fuzz_replay.c), its path and a hex dump are
# printed, the other targets still run, and the script exits 1. One line per
# target sums up the run: executions, executions per second, coverage
# (edges), features, corpus size. Exit 2 when something could not be built.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

all_targets=(cfg ws h1 proxy)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-$top/build-fuzz}
cc=${FUZZ_CC:-clang-14}
nproc=$(nproc 2>/dev/null || echo 2)

for t in "${targets[@]}"; do
    [[ -f fuzz/fuzz_$t.c ]] || { echo "fuzz.sh: no target \"$t\" (fuzz/fuzz_$t.c)" >&2; exit 2; }
done
[[ ${FUZZ_SKIP_DEPS:-0} == 1 ]] || bash scripts/install-deps.sh fuzz >&2
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz.sh: $cc not found; scripts/install-deps.sh fuzz installs clang-14 and libclang-rt-14-dev" >&2
    exit 2
fi

# --- flags ----------------------------------------------------------------

pkgs="yaml-0.1 libssl libcrypto libnghttp2 zlib"
cppflags="-I$top -I$top/include -D_GNU_SOURCE -DLLHTTP_STRICT_MODE=1 $(pkg-config --cflags $pkgs)"
libs="-lev $(pkg-config --libs $pkgs)"
llhttp_src=()
if pkg-config --exists libllhttp 2>/dev/null; then
    cppflags+=" $(pkg-config --cflags libllhttp)"
    libs+=" $(pkg-config --libs libllhttp)"
else
    # as configure does: Debian's node-llhttp sources, compiled with the rest
    llhttp_dir=${LLHTTP_SRCDIR:-/usr/share/llhttp}
    cppflags+=" -isystem ${LLHTTP_INCDIR:-/usr/share/include/llhttp}"
    llhttp_src=("$llhttp_dir/api.c" "$llhttp_dir/http.c" "$llhttp_dir/llhttp.c")
fi
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-std=gnu11 -g -O1 -fno-omit-frame-pointer $sanitize -Wall -Wextra -Wno-unused-parameter"
lib_cflags="$cflags -fsanitize=fuzzer-no-link"

# --- build ------------------------------------------------------------------

mkdir -p "$build/obj"
# Two runs at once (say, one per target) build one after the other.
exec 9>"$build/.lock"
flock 9
# Flags changed since the last build: start over.
stamp="$cc $cppflags $lib_cflags"
if [[ ! -f $build/flags || $(<"$build/flags") != "$stamp" ]]; then
    rm -rf "$build/obj"
    mkdir -p "$build/obj"
    printf '%s' "$stamp" >"$build/flags"
fi

# Does obj need compiling? Its dependency file (-MMD) lists every header.
stale() {
    local obj=$1 dep=${1%.o}.d f
    [[ -f $obj && -f $dep ]] || return 0
    for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$dep"); do
        [[ $f -nt $obj ]] && return 0
    done
    return 1
}

# Every server source a target may need, in one archive (the linker takes
# what a target uses): shared/, worker/ and its apps, minus worker/worker.c,
# whose part the targets provide themselves (fuzz/fuzz_h1.c).
lib_src=(shared/*.c worker/*.c worker/apps/*.c)
jobs=()
objs=()
for src in "${lib_src[@]}" "${llhttp_src[@]}"; do
    [[ $src == worker/worker.c ]] && continue
    obj=$build/obj/$(tr / _ <<<"${src#/}").o
    objs+=("$obj")
    stale "$obj" && jobs+=("$src" "$obj")
done
if ((${#jobs[@]})); then
    echo "fuzz.sh: compiling $((${#jobs[@]} / 2)) source(s) with $cc"
    # llhttp is third-party code: no warnings from it
    printf '%s\0%s\0' "${jobs[@]}" |
        xargs -0 -n 2 -P "$nproc" sh -c '
            case $0 in /*) w=-w ;; *) w= ;; esac
            exec '"$cc"' '"$lib_cflags $cppflags"' $w -MMD -c "$0" -o "$1"' ||
        { echo "fuzz.sh: build failed" >&2; exit 2; }
    rm -f "$build/libhornet-fuzz.a"
fi
[[ -f $build/libhornet-fuzz.a ]] || ar rcs "$build/libhornet-fuzz.a" "${objs[@]}"

for t in "${targets[@]}"; do
    bin=$build/fuzz_$t
    # tests/unit/resolver_fixture.c: getaddrinfo without NSS or DNS (fuzz_cfg.c)
    if [[ ! -x $bin || fuzz/fuzz_$t.c -nt $bin || fuzz/fuzz.h -nt $bin ||
          tests/unit/resolver_fixture.c -nt $bin || tests/unit/resolver_fixture.h -nt $bin ||
          $build/libhornet-fuzz.a -nt $bin ]]; then
        echo "fuzz.sh: linking $bin"
        # shellcheck disable=SC2086 # flags are word lists
        "$cc" $cflags -fsanitize=fuzzer $cppflags "fuzz/fuzz_$t.c" tests/unit/resolver_fixture.c \
            "$build/libhornet-fuzz.a" $libs -o "$bin" ||
            { echo "fuzz.sh: build failed" >&2; exit 2; }
    fi
done
flock -u 9
[[ ${FUZZ_BUILD_ONLY:-} == 1 ]] && exit 0

# --- dictionaries -----------------------------------------------------------

# The config's keys come from the option table, so new keys are in at once.
{
    sed -n 's/.*\.name = "\([^"]*\)".*/"\1"/p' shared/cfg_options.c
    sed -n 's/.*\.name = "[^".]*\.\([^"]*\)".*/"\1"/p' shared/cfg_options.c
    cat fuzz/cfg.dict
} >"$build/cfg.dict"

# --- run --------------------------------------------------------------------

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
summary=()
for t in "${targets[@]}"; do
    dir=$build/$t
    mkdir -p "$dir/corpus" "$dir/artifacts"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$dir/artifacts/")
    case $t in
    cfg) args+=(-dict="$build/cfg.dict") ;;
    h1) args+=(-dict=fuzz/h1.dict -max_len=16384) ;;
    esac
    dirs=("$dir/corpus" "fuzz/corpus/$t")
    [[ -d fuzz/regressions/$t ]] && dirs+=("fuzz/regressions/$t")
    echo "fuzz.sh: $t for ${seconds}s (log: $dir/fuzz.log)"
    touch "$dir/.start"
    set +e
    # shellcheck disable=SC2086 # FUZZ_ARGS is a word list
    "$build/fuzz_$t" "${args[@]}" ${FUZZ_ARGS:-} "${dirs[@]}" >"$dir/fuzz.log" 2>&1
    rc=$?
    set -e
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/fuzz.log" | tail -n 1 || :)
    [[ -n $done_line ]] || done_line=$(grep -E '^#[0-9]+' "$dir/fuzz.log" | tail -n 1 || :)
    # (a failing run prints its stats twice: once at the crash, once on exit)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+' <<<"$done_line" | tail -n 1 || :)
    ft=$(grep -oE 'ft: [0-9]+' <<<"$done_line" | tail -n 1 || :)
    corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$done_line" | tail -n 1 || :)
    line="$t: ${execs:-?} runs, ${rate:-?}/s, ${cov:-cov: ?}, ${ft:-ft: ?}, ${corp:-corp: ?}"
    if ((rc != 0)); then
        status=1
        found=()
        while IFS= read -r -d '' f; do
            found+=("$f")
        done < <(find "$dir/artifacts" -type f -newer "$dir/.start" \
                 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) -print0)
        line+=", FAILED (exit $rc)"
        if ((${#found[@]} == 0)); then
            echo "fuzz.sh: $t exited $rc without an artifact; the end of its log:" >&2
            tail -n 40 "$dir/fuzz.log" >&2
        fi
        mkdir -p "fuzz/regressions/$t"
        for f in "${found[@]}"; do
            cp "$f" "fuzz/regressions/$t/"
            echo "fuzz.sh: $t: $(basename "$f") -> fuzz/regressions/$t/" >&2
            od -An -tx1 -v "$f" | head -n 16 >&2
            line+=", fuzz/regressions/$t/$(basename "$f")"
        done
        # the sanitizer's report, for the record
        grep -nE 'ERROR: |SUMMARY: |runtime error|fuzz_[a-z0-9]+: ' "$dir/fuzz.log" | head -n 10 >&2 || :
    fi
    summary+=("$line")
done

printf 'fuzz.sh: %s\n' "${summary[@]}"
exit "$status"
