/*
 * mem.h - allocation that cannot fail (abort with a log line on OOM) and the
 * per-request arena: a bump allocator freed in O(1) when the request ends.
 */
#ifndef HN_SHARED_MEM_H
#define HN_SHARED_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "shared/common.h"

void *hn_xmalloc(size_t size);
void *hn_xcalloc(size_t n, size_t size);
void *hn_xrealloc(void *p, size_t size);
char *hn_xstrdup(const char *s);
char *hn_xstrndup(const char *s, size_t len);

/* Arena: a chain of blocks. The first block is supplied by the caller's
 * buffer pool so that a request usually costs no malloc; overflow blocks are
 * malloc'ed and freed by hn_arena_reset. */
typedef struct hn_arena_block hn_arena_block_t;
typedef struct hn_arena {
    hn_arena_block_t *_extra; /* overflow blocks, freed on reset */
    char *_base;              /* current block */
    size_t _used, _cap;
    char *_first;             /* caller-supplied first block (borrowed) */
    size_t _first_cap;
} hn_arena_t;

void hn_arena_init(hn_arena_t *a, char *first, size_t cap);
/* Free overflow blocks, forget everything, return to the first block. */
void hn_arena_reset(hn_arena_t *a);
void *hn_arena_alloc(hn_arena_t *a, size_t size); /* 8-byte aligned */
char *hn_arena_strndup(hn_arena_t *a, const char *s, size_t len); /* NUL-terminated */
/* Append data to the span *p of *len bytes, which must be the arena's most
 * recent allocation or NULL; grows in place when it can. The result stays
 * NUL-terminated. Used for llhttp spans that straddle reads. */
void hn_arena_append(hn_arena_t *a, char **p, size_t *len, const char *data, size_t n);
/* Bytes allocated so far (for limits). */
size_t hn_arena_used(const hn_arena_t *a);

#endif
