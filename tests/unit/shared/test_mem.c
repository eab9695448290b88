/*
 * test_mem.c - the arena (growth, in-place append, reset) and the buffer
 * chunk free list.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <string.h>

#include "shared/buf.h"
#include "shared/mem.h"
#include "tests/unit/tap.h"

static void
test_arena_basic(void)
{
    static char first[256];
    hn_arena_t a;
    hn_arena_init(&a, first, sizeof(first));
    char *p = hn_arena_alloc(&a, 10);
    ok(p == first, "first allocation comes from the supplied block");
    char *q = hn_arena_alloc(&a, 3);
    ok(((uintptr_t)q & 7) == 0, "allocations are 8-byte aligned");
    char *big = hn_arena_alloc(&a, 1000);
    ok(big < first || big >= first + sizeof(first), "an allocation too big for the block overflows");
    memset(big, 'x', 1000); /* valgrind checks the size */
    char *s = hn_arena_strndup(&a, "hello", 3);
    is_str(s, "hel", "strndup copies and terminates");
    hn_arena_reset(&a);
    ok(hn_arena_alloc(&a, 8) == first, "reset returns to the first block");
    hn_arena_reset(&a);
}

static void
test_arena_append(void)
{
    static char first[64];
    hn_arena_t a;
    hn_arena_init(&a, first, sizeof(first));
    char *span = NULL;
    size_t len = 0;
    hn_arena_append(&a, &span, &len, "abc", 3);
    char *at = span;
    hn_arena_append(&a, &span, &len, "def", 3);
    ok(span == at, "append grows the newest span in place");
    is_str(span, "abcdef", "appended span content");
    char *other = hn_arena_alloc(&a, 4);
    (void)other;
    hn_arena_append(&a, &span, &len, "gh", 2);
    ok(span != at, "append after another allocation copies");
    is_str(span, "abcdefgh", "copied span keeps earlier bytes");
    /* grow past the block */
    char chunk[40];
    memset(chunk, 'z', sizeof(chunk));
    hn_arena_append(&a, &span, &len, chunk, sizeof(chunk));
    is_int(len, 48, "span length after overflowing the block");
    ok(span[47] == 'z' && span[48] == '\0', "overflowed span is terminated");
    hn_arena_reset(&a);
}

static void
test_buf(void)
{
    size_t before = hn_buf_in_use();
    char *a = hn_buf_get(), *b = hn_buf_get();
    is_int(hn_buf_in_use(), before + 2, "two chunks in use");
    memset(a, 1, HN_BUF_CHUNK_SIZE);
    hn_buf_put(a);
    char *c = hn_buf_get();
    ok(c == a, "a returned chunk is reused first");
    hn_buf_put(b);
    hn_buf_put(c);
    is_int(hn_buf_in_use(), before, "all chunks returned");
}

int
main(void)
{
    test_arena_basic();
    test_arena_append();
    test_buf();
    return tap_done();
}
