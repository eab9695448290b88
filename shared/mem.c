/*
 * mem.c - allocation that aborts on OOM, and the per-request arena.
 * Buffer chunks and their free list live in buf.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "shared/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hn_arena_block {
    hn_arena_block_t *next;
    size_t cap;
    /* data follows, 16-byte aligned by the allocator and this header's size */
    char data[] __attribute__((aligned(16)));
};

#define ARENA_MIN_BLOCK 4096

static HN_NORETURN void
oom(size_t size)
{
    /* No hn_log here: it may allocate. */
    char msg[96];
    int n = snprintf(msg, sizeof(msg), "hornet: out of memory allocating %zu bytes\n", size);
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0) {
        /* nothing left to try */
    }
    abort();
}

void *
hn_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (hn_unlikely(p == NULL))
        oom(size);
    return p;
}

void *
hn_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (hn_unlikely(p == NULL))
        oom(n * size);
    return p;
}

void *
hn_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (hn_unlikely(q == NULL))
        oom(size);
    return q;
}

char *
hn_xstrdup(const char *s)
{
    return hn_xstrndup(s, strlen(s));
}

char *
hn_xstrndup(const char *s, size_t len)
{
    char *p = hn_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void
hn_arena_init(hn_arena_t *a, char *first, size_t cap)
{
    a->_extra = NULL;
    a->_first = first;
    a->_first_cap = cap;
    a->_base = first;
    a->_cap = first ? cap : 0;
    a->_used = 0;
}

void
hn_arena_reset(hn_arena_t *a)
{
    hn_arena_block_t *b = a->_extra;
    while (b) {
        hn_arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    hn_arena_init(a, a->_first, a->_first_cap);
}

static void
arena_grow(hn_arena_t *a, size_t need)
{
    size_t cap = HN_MAX(need, HN_MAX(a->_cap * 2, (size_t)ARENA_MIN_BLOCK));
    hn_arena_block_t *b = hn_xmalloc(sizeof(*b) + cap);
    b->next = a->_extra;
    b->cap = cap;
    a->_extra = b;
    a->_base = b->data;
    a->_cap = cap;
    a->_used = 0;
}

void *
hn_arena_alloc(hn_arena_t *a, size_t size)
{
    size_t off = (a->_used + 7) & ~(size_t)7;
    if (hn_unlikely(a->_base == NULL || off + size > a->_cap)) {
        arena_grow(a, size);
        off = 0;
    }
    a->_used = off + size;
    return a->_base + off;
}

char *
hn_arena_strndup(hn_arena_t *a, const char *s, size_t len)
{
    char *p = hn_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void
hn_arena_append(hn_arena_t *a, char **p, size_t *len, const char *data, size_t n)
{
    /* Grow in place when the span is the newest allocation and fits: llhttp
     * hands a header value in pieces only when it straddles reads, so this is
     * the common case and costs no copy of what came before. */
    if (*p != NULL && *p + *len + 1 == a->_base + a->_used && a->_used + n <= a->_cap) {
        memcpy(*p + *len, data, n);
        *len += n;
        (*p)[*len] = '\0';
        a->_used += n;
        return;
    }
    char *q = hn_arena_alloc(a, *len + n + 1);
    if (*len)
        memcpy(q, *p, *len);
    memcpy(q + *len, data, n);
    *len += n;
    q[*len] = '\0';
    *p = q;
}

size_t
hn_arena_used(const hn_arena_t *a)
{
    size_t total = a->_used;
    for (const hn_arena_block_t *b = a->_extra; b; b = b->next)
        total += (b->data == a->_base) ? 0 : b->cap;
    if (a->_extra && a->_base != a->_first)
        total += a->_first_cap;
    return total;
}
