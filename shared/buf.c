/*
 * buf.c - the chunk free list (see buf.h). Single-threaded by design: each
 * worker process has its own list.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "shared/buf.h"

#include <stdlib.h>

#include "shared/mem.h"

/* Enough spare chunks to absorb a burst without going back to malloc, few
 * enough that memory freed by idle connections really goes back. */
#define FREE_MAX 64

typedef union chunk {
    union chunk *next;
    char data[HN_BUF_CHUNK_SIZE];
} chunk_t;

static chunk_t *free_list;
static size_t free_count, in_use;

char *
hn_buf_get(void)
{
    chunk_t *c = free_list;
    if (c) {
        free_list = c->next;
        free_count--;
    } else {
        c = hn_xmalloc(sizeof(*c));
    }
    in_use++;
    return c->data;
}

void
hn_buf_put(char *data)
{
    chunk_t *c = (chunk_t *)(void *)data;
    in_use--;
    if (free_count >= FREE_MAX) {
        free(c);
        return;
    }
    c->next = free_list;
    free_list = c;
    free_count++;
}

size_t
hn_buf_in_use(void)
{
    return in_use;
}
