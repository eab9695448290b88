/*
 * listeners.h - the master's listening sockets. A TCP address gets one
 * SO_REUSEPORT socket per worker slot, so the kernel spreads connections
 * with no shared accept lock and a slot's socket outlives the worker using
 * it (connections queued during a respawn wait in its backlog). A unix
 * socket or fd://N is one socket shared by every worker.
 */
#ifndef HN_MASTER_LISTENERS_H
#define HN_MASTER_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>

#include "shared/addr.h"
#include "shared/common.h"

struct hn_config;

typedef struct hn_listen_item {
    hn_addr_t addr;   /* as configured (a TCP port 0 is replaced by the bound port) */
    bool per_slot;    /* TCP: fds[slot]; otherwise fds[0] for everyone */
    int *fds;
    size_t n_fds;
    bool unlink_on_close; /* a unix socket file we created */
} hn_listen_item_t;

typedef struct hn_listeners {
    hn_listen_item_t *items;
    size_t n;
} hn_listeners_t;

/* Bind and listen on every configured address for n_slots slots. On error
 * nothing stays open and err names the address ("127.0.0.1:80: bind:
 * Permission denied"). */
int hn_listeners_open(hn_listeners_t *ls, const struct hn_config *cfg, unsigned n_slots,
                      hn_err_t *err);
/* Close everything (and unlink unix socket files we created). */
void hn_listeners_close(hn_listeners_t *ls);
/* URL for the start-up message: "http://127.0.0.1:8000", "unix:/run/h.sock". */
void hn_listeners_url(const hn_listen_item_t *it, char *buf, size_t size);

#endif
