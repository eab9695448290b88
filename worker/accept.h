/*
 * accept.h - a worker's listening sockets: accept4 loop, EMFILE back-off,
 * stop on drain. The sockets were bound and set listening by the master.
 */
#ifndef HN_WORKER_ACCEPT_H
#define HN_WORKER_ACCEPT_H

#include <ev.h>
#include <stdbool.h>

#include "shared/addr.h"

struct ssl_ctx_st;

struct hn_listener {
    int fd;
    char text[HN_ADDR_TEXT_MAX]; /* the address as configured, for logs */
    char host[HN_ADDR_TEXT_MAX]; /* text split once: "127.0.0.1", "::1", a unix path */
    int port;                    /* -1 when there is none */
    struct ssl_ctx_st *tls_ctx;  /* a TLS listener's context, or NULL */
    bool proxy_protocol;         /* a PROXY header comes first (before TLS) */
    ev_io io;
    ev_timer backoff; /* accept paused after EMFILE */
};
typedef struct hn_listener hn_listener_t;

/* Start accepting on every listener. Borrows the array for the worker's life. */
void hn_accept_start(struct ev_loop *loop, hn_listener_t *ls, size_t n);
/* Stop accepting and close the worker's copies of the sockets, after
 * taking the connections already queued on them. */
void hn_accept_stop(struct ev_loop *loop);
/* A connection closed: accepting resumes if worker_connections had
 * paused it. */
void hn_accept_conn_closed(void);
const char *hn_listener_text(const hn_listener_t *l);

#endif
