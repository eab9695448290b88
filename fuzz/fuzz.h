/*
 * fuzz.h - the entry points of hornet's fuzz targets (fuzz/fuzz_<target>.c).
 *
 * Each target is built two ways from the same file:
 *
 *   - by scripts/fuzz.sh with clang and libFuzzer, one binary per target:
 *     the entry is libFuzzer's LLVMFuzzerTestOneInput;
 *   - by `make check` with the project's compiler and no libFuzzer, every
 *     target in one binary (tests/unit/fuzz/test_fuzz_replay.c, built with
 *     -DHN_FUZZ_REPLAY) that replays fuzz/corpus/ and fuzz/regressions/: the
 *     entries are then renamed hn_fuzz_<target>_one so the three can link
 *     together.
 *
 * A target returns 0 for every input (libFuzzer's contract: other values are
 * reserved) and reports a broken invariant by abort(), which both builds
 * treat as a failure.
 */
#ifndef HN_FUZZ_FUZZ_H
#define HN_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#ifdef HN_FUZZ_REPLAY
#define HN_FUZZ_ENTRY(target) hn_fuzz_##target##_one
#else
#define HN_FUZZ_ENTRY(target) LLVMFuzzerTestOneInput
#endif

int HN_FUZZ_ENTRY(cfg)(const uint8_t *data, size_t size);
int HN_FUZZ_ENTRY(ws)(const uint8_t *data, size_t size);
int HN_FUZZ_ENTRY(h1)(const uint8_t *data, size_t size);
int HN_FUZZ_ENTRY(proxy)(const uint8_t *data, size_t size);

#endif
