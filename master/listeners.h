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
    hn_addr_t conf;   /* as configured: what a reload matches against */
    hn_addr_t addr;   /* as bound (a TCP port 0 is replaced by the kernel's choice) */
    bool per_slot;    /* TCP: fds[slot]; otherwise fds[0] for everyone */
    bool tls;         /* a bind address while certfile is set (insecure_bind: not) */
    /* connections start with a PROXY header (hn_cfg_has_proxy_protocol) */
    bool proxy_protocol;
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
/* The listeners cfg and n_slots want, given the open set cur (a reload, or
 * a worker added or removed): a socket whose configured address is in cur
 * is the same descriptor, not re-bound, so its queue and its place in the
 * reuseport group survive; the rest is bound here. next and cur then share
 * descriptors: release the one set that is given up with
 * hn_listeners_close_keeping(given_up, kept). On error cur is untouched and
 * nothing new stays open. */
int hn_listeners_derive(hn_listeners_t *next, const hn_listeners_t *cur,
                        const struct hn_config *cfg, unsigned n_slots, hn_err_t *err);
/* Close everything (and unlink unix socket files we created). */
void hn_listeners_close(hn_listeners_t *ls);
/* Close ls except the descriptors (and unix socket files) keep also holds. */
void hn_listeners_close_keeping(hn_listeners_t *ls, const hn_listeners_t *keep);
/* Close ls's descriptors that keep does not hold, and nothing else: for a
 * forked worker, which must not unlink what the master still serves. */
void hn_listeners_close_fds(const hn_listeners_t *ls, const hn_listeners_t *keep);
/* The item bound for the configured address conf, or NULL. */
const hn_listen_item_t *hn_listeners_find(const hn_listeners_t *ls, const hn_addr_t *conf);
/* URL for the start-up message: "http://127.0.0.1:8000", "unix:/run/h.sock". */
void hn_listeners_url(const hn_listen_item_t *it, char *buf, size_t size);

#endif
