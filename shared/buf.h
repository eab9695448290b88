/*
 * buf.h - 16 KiB buffer chunks from a per-process free list. A connection
 * holds chunks only while it has bytes pending (unparsed input, unsent
 * output), so an idle keep-alive connection owns none.
 */
#ifndef HN_SHARED_BUF_H
#define HN_SHARED_BUF_H

#include <stddef.h>

#define HN_BUF_CHUNK_SIZE 16384

char *hn_buf_get(void);
void hn_buf_put(char *chunk);
/* Chunks in use and on the free list (for tests and stats). */
size_t hn_buf_in_use(void);

#endif
