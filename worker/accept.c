/*
 * accept.c - accepting connections on the worker's listeners (see accept.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/accept.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/cfg.h"
#include "shared/log.h"
#include "worker/conn.h"
#include "worker/worker.h"

/* Accepts per readiness event: enough to empty a burst, few enough that one
 * busy listener cannot starve the connections already open. */
#define ACCEPT_BATCH 64
/* Connections taken from a socket's queue when the worker stops accepting;
 * see hn_accept_stop. */
#define ACCEPT_FINAL_MAX 4096
/* After EMFILE/ENFILE, wait this long before accepting again instead of
 * spinning on a listener that stays readable (libev's daemon advice). */
#define EMFILE_BACKOFF 0.5

static hn_listener_t *listeners;
static size_t n_listeners;
static struct ev_loop *a_loop;
static bool at_limit;  /* worker_connections reached: listeners paused */
static bool stopped;   /* draining: the listeners are closed */

static void
on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    hn_listener_t *l = HN_CONTAINER_OF(w, hn_listener_t, backoff);
    if (l->fd >= 0)
        ev_io_start(loop, &l->io);
}

/* worker_connections reached: leave new connections in the kernel's
 * backlog (nginx does the same) rather than take more descriptors and
 * memory than the operator allowed. */
static void
pause_for_limit(struct ev_loop *loop)
{
    at_limit = true;
    for (size_t i = 0; i < n_listeners; i++)
        ev_io_stop(loop, &listeners[i].io);
    hn_log(HN_LOG_WARN, "worker_connections (%d) reached; new connections wait in the backlog",
           hn_worker_config()->worker_connections);
}

void
hn_accept_conn_closed(void)
{
    if (!at_limit || stopped || hn_conn_count() >= (unsigned)hn_worker_config()->worker_connections)
        return;
    at_limit = false;
    for (size_t i = 0; i < n_listeners; i++)
        if (listeners[i].fd >= 0 && !ev_is_active(&listeners[i].backoff))
            ev_io_start(a_loop, &listeners[i].io);
}

/* Accept up to max connections; stops at an empty queue, or at
 * worker_connections unless final (the drain takes what is queued). */
static void
accept_some(struct ev_loop *loop, hn_listener_t *l, int max, bool final)
{
    unsigned limit = (unsigned)hn_worker_config()->worker_connections;
    for (int i = 0; i < max; i++) {
        if (!final && hn_conn_count() >= limit) {
            pause_for_limit(loop);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                hn_log(HN_LOG_ERROR, "accept on %s: %s; pausing accepts for %.1fs", l->text,
                       strerror(errno), EMFILE_BACKOFF);
                ev_io_stop(loop, &l->io);
                ev_timer_set(&l->backoff, EMFILE_BACKOFF, 0);
                ev_timer_start(loop, &l->backoff);
                return;
            }
            /* ECONNABORTED and friends: that client is gone, keep going */
            continue;
        }
        hn_conn_open(loop, fd, l, (struct sockaddr *)&ss, len);
    }
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    accept_some(loop, HN_CONTAINER_OF(w, hn_listener_t, io), ACCEPT_BATCH, false);
}

/* "127.0.0.1:80", "[::1]:80" -> host and port; "unix:/p" -> "/p"; fd://N
 * -> itself, without a port. Done once per listener, not per request. */
static void
split_text(hn_listener_t *l)
{
    const char *t = l->text;
    const char *colon = strrchr(t, ':');
    l->port = -1;
    if (strncmp(t, "unix:", 5) == 0) {
        snprintf(l->host, sizeof(l->host), "%s", t + 5);
    } else if (t[0] == '[' && colon && colon > t && colon[-1] == ']') {
        snprintf(l->host, sizeof(l->host), "%.*s", (int)(colon - t - 2), t + 1);
        l->port = atoi(colon + 1);
    } else if (colon && strncmp(t, "fd://", 5) != 0) {
        snprintf(l->host, sizeof(l->host), "%.*s", (int)(colon - t), t);
        l->port = atoi(colon + 1);
    } else {
        snprintf(l->host, sizeof(l->host), "%s", t);
    }
}

void
hn_accept_start(struct ev_loop *loop, hn_listener_t *ls, size_t n)
{
    listeners = ls;
    n_listeners = n;
    a_loop = loop;
    for (size_t i = 0; i < n; i++) {
        split_text(&ls[i]);
        ev_io_init(&ls[i].io, on_accept, ls[i].fd, EV_READ);
        ev_init(&ls[i].backoff, on_backoff);
        ev_io_start(loop, &ls[i].io);
    }
}

void
hn_accept_stop(struct ev_loop *loop)
{
    stopped = true;
    for (size_t i = 0; i < n_listeners; i++) {
        hn_listener_t *l = &listeners[i];
        /* Our copy may be the socket's last one (its slot was removed, or
         * the server stops): closing it would reset every connection still
         * queued, so those are taken and served. */
        if (l->fd >= 0)
            accept_some(loop, l, ACCEPT_FINAL_MAX, true);
        ev_io_stop(loop, &l->io);
        ev_timer_stop(loop, &l->backoff);
        if (l->fd >= 0) {
            close(l->fd);
            l->fd = -1;
        }
    }
}

const char *
hn_listener_text(const hn_listener_t *l)
{
    return l ? l->text : "-";
}
