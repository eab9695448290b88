/*
 * conn.c - connection lifecycle (see conn.h): open, the one timer each
 * connection has, the pending list walked by the flush pass, drain and
 * deferred free. Bytes are tcp.c's business, HTTP is h1.c's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/addr.h"
#include "shared/cfg.h"
#include "shared/log.h"
#include "shared/mem.h"
#include "worker/accept.h"
#include "worker/forwarded.h"
#include "worker/proxy_proto.h"
#include "worker/worker.h"
#include "worker/h1.h"
#include "worker/h2.h"
#include "worker/request.h"
#include "worker/tls.h"

/* How long a lingering close waits for the client's EOF. */
#define LINGER_TIMEOUT 2.0

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void finalize(struct ev_loop *loop, hn_conn_t *c);

static hn_conn_t *all_head;
static hn_conn_t *pending_head;
static void begin(hn_conn_t *c, struct ev_loop *loop);
static bool peer_ip(const hn_conn_t *c, char *buf, size_t size);
static void on_proxy_io(struct ev_loop *loop, ev_io *w, int revents);
static unsigned conn_count;
static struct ev_loop *conn_loop;

hn_conn_t *
hn_conn_open(struct ev_loop *loop, int fd, const hn_listener_t *l, const struct sockaddr *peer,
             socklen_t peer_len)
{
    hn_conn_t *c = hn_xmalloc(sizeof(*c));
    hn_tcp_init(&c->tcp, fd);
    conn_loop = loop;
    c->listener = l;
    c->is_pending = false;
    c->is_lingering = false;
    c->is_timer_touched = false;
    c->is_after_output = false;
    c->pending_next = NULL;
    c->peer_len = HN_MIN(peer_len, (socklen_t)sizeof(c->peer));
    memset(&c->peer, 0, sizeof(c->peer));
    if (peer && peer_len)
        memcpy(&c->peer, peer, c->peer_len);
    ev_init(&c->timer, on_timer);
    c->prev = NULL;
    c->next = all_head;
    if (all_head)
        all_head->prev = c;
    all_head = c;
    conn_count++;
    c->proto = NULL;
    c->proxy_buf = NULL;
    c->proxy_len = 0;
    ev_io_init(&c->proxy_io, on_proxy_io, fd, EV_READ);
    const hn_config_t *cfg = hn_worker_config();
    if (l && l->proxy_protocol) {
        char ip[INET6_ADDRSTRLEN];
        if (peer_ip(c, ip, sizeof(ip)) && !hn_forwarded_trusted(cfg, ip)) {
            hn_log(HN_LOG_WARN, "client %s: a PROXY protocol header from a peer not in "
                   "forwarded_allow_ips; closing", ip);
            hn_tcp_kill(&c->tcp, loop);
            return c;
        }
        c->proxy_buf = hn_xmalloc(HN_PROXY_MAX);
        ev_io_start(loop, &c->proxy_io);
        hn_conn_set_timer(c, cfg->keep_alive_timeout);
        return c;
    }
    begin(c, loop);
    return c;
}

/* The connection's own life begins: the TLS handshake, or the protocol. */
static void
begin(hn_conn_t *c, struct ev_loop *loop)
{
    const hn_listener_t *l = c->listener;
    if (l && l->tls_ctx) {
        /* the protocol starts once the handshake says which (ALPN) */
        struct ssl_st *ssl = hn_tls_new(l->tls_ctx, c->tcp.fd);
        if (ssl == NULL) {
            hn_log(HN_LOG_ERROR, "cannot allocate a TLS connection");
            hn_tcp_kill(&c->tcp, loop);
            return;
        }
        hn_tcp_use_tls(&c->tcp, ssl);
        hn_conn_set_timer(c, hn_worker_config()->ssl_handshake_timeout);
    } else {
        hn_conn_tls_ready(c, false);
    }
    hn_tcp_start(&c->tcp, loop);
}

/* The peer's IP as text; false for a unix-socket peer (local, trusted). */
static bool
peer_ip(const hn_conn_t *c, char *buf, size_t size)
{
    if (c->peer.sa.sa_family == AF_INET)
        return inet_ntop(AF_INET, &c->peer.in.sin_addr, buf, (socklen_t)size) != NULL;
    if (c->peer.sa.sa_family == AF_INET6)
        return inet_ntop(AF_INET6, &c->peer.in6.sin6_addr, buf, (socklen_t)size) != NULL;
    return false;
}

static void
proxy_done(hn_conn_t *c, struct ev_loop *loop)
{
    ev_io_stop(loop, &c->proxy_io);
    free(c->proxy_buf);
    c->proxy_buf = NULL;
}

static void
proxy_refuse(hn_conn_t *c, struct ev_loop *loop, const char *why)
{
    char ip[INET6_ADDRSTRLEN] = "-";
    peer_ip(c, ip, sizeof(ip));
    hn_log(HN_LOG_INFO, "client %s: no valid PROXY protocol header (%s); closing", ip, why);
    proxy_done(c, loop);
    hn_tcp_kill(&c->tcp, loop);
}

/* The PROXY header, and not a byte more: what follows is TLS or HTTP and
 * belongs to the transport. Bytes are looked at (MSG_PEEK) before they are
 * taken, and only those that are part of the header are taken. */
static void
on_proxy_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    hn_conn_t *c = HN_CONTAINER_OF(w, hn_conn_t, proxy_io);
    for (;;) {
        ssize_t n = recv(w->fd, c->proxy_buf + c->proxy_len, HN_PROXY_MAX - c->proxy_len,
                         MSG_PEEK);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            proxy_done(c, loop);
            hn_tcp_kill(&c->tcp, loop);
            return;
        }
        ssize_t need = hn_proxy_needed(c->proxy_buf, c->proxy_len + (size_t)n);
        if (need < 0) {
            proxy_refuse(c, loop, "not a PROXY header");
            return;
        }
        /* until its length is known, every byte seen is part of the header */
        size_t take = need > 0 ? HN_MIN((size_t)need - c->proxy_len, (size_t)n) : (size_t)n;
        ssize_t got = recv(w->fd, c->proxy_buf + c->proxy_len, take, 0);
        if (got <= 0) {
            proxy_done(c, loop);
            hn_tcp_kill(&c->tcp, loop);
            return;
        }
        c->proxy_len += (size_t)got;
        if (need > 0 && c->proxy_len == (size_t)need)
            break;
        if (c->proxy_len >= HN_PROXY_MAX) {
            proxy_refuse(c, loop, "too long");
            return;
        }
    }
    hn_proxy_info_t info;
    const char *why = NULL;
    if (hn_proxy_parse(c->proxy_buf, c->proxy_len, &info, &why) <= 0) {
        proxy_refuse(c, loop, why ? why : "invalid");
        return;
    }
    if (!info.is_local && info.src_len > 0) {
        c->peer_len = HN_MIN(info.src_len, (socklen_t)sizeof(c->peer));
        memcpy(&c->peer, &info.src, c->peer_len);
    }
    proxy_done(c, loop);
    hn_conn_set_timer(c, 0);
    begin(c, loop);
}

/* --- choosing the protocol ----------------------------------------------- */

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN (sizeof(h2_preface) - 1)

static void
install(hn_conn_t *c, bool h2)
{
    const hn_config_t *cfg = hn_worker_config();
    c->proto = h2 ? hn_h2_new(&c->tcp.super, cfg, hn_worker_is_draining())
                  : hn_h1_new(&c->tcp.super, cfg, hn_worker_is_draining());
    c->tcp.super.proto = c->proto;
}

static size_t
sniff_data(hn_protocol_t *p, const char *data, size_t len)
{
    hn_conn_t *c = hn_conn_of(p->transport);
    size_t n = HN_MIN(len, H2_PREFACE_LEN);
    /* without h2 in alpn_protocols the preface is HTTP/1.1's to refuse */
    bool h2 = hn_worker_config()->alpn_h2 && memcmp(data, h2_preface, n) == 0;
    if (h2 && n < H2_PREFACE_LEN)
        return 0; /* a prefix of the preface: wait for the rest */
    install(c, h2);
    return c->proto->ops->data_received(c->proto, data, len);
}

static void
sniff_close(hn_protocol_t *p)
{
    p->transport->ops->close(p->transport, false);
}

static void
sniff_drain(hn_protocol_t *p)
{
    /* nothing received yet: a request may be on the wire, so a short grace
     * instead of a close that would race it (as h1 does when idle) */
    hn_conn_set_timer(hn_conn_of(p->transport), HN_MIN(hn_worker_config()->keep_alive_timeout,
                                                       1.0));
}

static void
sniff_nothing(hn_protocol_t *p)
{
    (void)p;
}

static void
sniff_lost(hn_protocol_t *p, int err)
{
    (void)p;
    (void)err;
}

static const hn_protocol_ops_t sniff_ops = {
    .data_received = sniff_data,
    .eof_received = sniff_close,
    .connection_lost = sniff_lost,
    .pause_writing = sniff_nothing,
    .resume_writing = sniff_nothing,
    .drain = sniff_drain,
    .timeout = sniff_close,
};

void
hn_conn_tls_ready(hn_conn_t *c, bool alpn_h2)
{
    if (alpn_h2) {
        install(c, true);
        return;
    }
    c->sniff.ops = &sniff_ops;
    c->sniff.transport = &c->tcp.super;
    c->proto = &c->sniff;
    c->tcp.super.proto = c->proto;
    /* the first request head must arrive within keep_alive_timeout, as in
     * h1; a worker that began draining during the handshake gives it only
     * the drain's grace */
    if (hn_worker_is_draining())
        sniff_drain(&c->sniff);
    else
        hn_conn_set_timer(c, hn_worker_config()->keep_alive_timeout);
}

void
hn_conn_mark_pending(hn_conn_t *c)
{
    if (c->is_pending)
        return;
    c->is_pending = true;
    c->pending_next = pending_head;
    pending_head = c;
}

void
hn_conn_set_timer(hn_conn_t *c, double seconds)
{
    if (c->is_lingering)
        return; /* the linger deadline wins */
    c->is_timer_touched = true;
    c->is_after_output = false;
    if (seconds <= 0) {
        ev_timer_stop(conn_loop, &c->timer);
        return;
    }
    c->timer.repeat = seconds;
    ev_timer_again(conn_loop, &c->timer);
}

void
hn_conn_set_idle_timer(hn_conn_t *c, double seconds)
{
    hn_conn_set_timer(c, seconds);
    c->is_after_output = seconds > 0 && !c->is_lingering;
}

void
hn_conn_linger(hn_conn_t *c)
{
    c->timer.repeat = LINGER_TIMEOUT;
    ev_timer_again(conn_loop, &c->timer);
    c->is_lingering = true;
}

void
hn_conn_read_late(hn_conn_t *c)
{
    if (c->proxy_buf)
        on_proxy_io(conn_loop, &c->proxy_io, EV_READ);
    else
        hn_tcp_read_now(&c->tcp, conn_loop);
}

/* An idle deadline after a response (hn_conn_set_idle_timer) runs from when
 * the socket last took bytes of it, not from when it was queued: a client
 * cannot answer what it has not received (a slow reader, or a response that
 * a stalled loop held in our queue). Moves the timer there if that is later;
 * a client that stops reading still times out once its length has passed. */
static bool
defer_to_output(hn_conn_t *c, ev_timer *w, struct ev_loop *loop)
{
    ev_tstamp left = c->tcp.written_at + w->repeat - ev_now(loop);
    if (!c->is_after_output || left <= 0)
        return false;
    ev_timer_set(w, left, w->repeat);
    ev_timer_start(loop, w);
    return true;
}

/* Every deadline of the connection (keep_alive_timeout, request_head_timeout,
 * read_timeout, the HTTP/2 idle time, the TLS handshake and the PROXY header)
 * ends here. A loop that stalled past it (a slow application call, a stopped
 * worker) wakes to the expired timer before the readable socket: libev runs
 * the timers of an iteration before its I/O, and a poll interrupted by the
 * stop reports no I/O at all. Closing then would reset a client whose
 * request already sits in our socket buffer, so, as nginx does, what is
 * waiting is read first, and overrides the deadline if the protocol took it
 * as progress: it re-armed or stopped the timer (a request began, a body
 * arrived), or it is closing. Bytes that are not progress (half a head, an
 * HTTP/2 PING) leave the deadline standing. This costs at most one read per
 * expired deadline, nothing per request. */
static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    hn_conn_t *c = HN_CONTAINER_OF(w, hn_conn_t, timer);
    ev_timer_stop(loop, w);
    if (!c->is_lingering && c->tcp.state == HN_TCP_OPEN) {
        if (defer_to_output(c, w, loop))
            return;
        c->is_timer_touched = false;
        hn_conn_read_late(c);
        if (c->is_timer_touched || c->tcp.state != HN_TCP_OPEN)
            return;
    }
    if (c->is_lingering || c->tcp.state != HN_TCP_OPEN || c->proto == NULL) {
        /* lingering, closing, a TLS handshake past ssl_handshake_timeout, or
         * a PROXY header past keep_alive_timeout */
        hn_tcp_kill(&c->tcp, loop);
        return;
    }
    c->proto->ops->timeout(c->proto);
}

const char *
hn_conn_peer(const hn_conn_t *c, char *buf, size_t size)
{
    if (c->peer.sa.sa_family == AF_INET || c->peer.sa.sa_family == AF_INET6)
        return hn_addr_format_sa(&c->peer.sa, c->peer_len, buf, size);
    /* unix peers are unnamed: log the listener, as nginx does */
    snprintf(buf, size, "%s", hn_conn_local(c));
    return buf;
}

static char *
put_uint(char *p, unsigned v)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

const char *
hn_conn_peer_host(const hn_conn_t *c, char *host, char *text, int *port)
{
    *port = -1;
    if (c->peer.sa.sa_family == AF_INET) {
        const unsigned char *a = (const unsigned char *)&c->peer.in.sin_addr;
        char *p = host;
        for (int i = 0; i < 4; i++) {
            p = put_uint(p, a[i]);
            *p++ = i < 3 ? '.' : '\0';
        }
        *port = ntohs(c->peer.in.sin_port);
    } else if (c->peer.sa.sa_family == AF_INET6 &&
               inet_ntop(AF_INET6, &c->peer.in6.sin6_addr, host, INET6_ADDRSTRLEN)) {
        *port = ntohs(c->peer.in6.sin6_port);
    } else {
        return NULL;
    }
    size_t n = strlen(host);
    bool v6 = c->peer.sa.sa_family == AF_INET6;
    char *p = text;
    if (v6)
        *p++ = '[';
    memcpy(p, host, n);
    p += n;
    if (v6)
        *p++ = ']';
    *p++ = ':';
    p = put_uint(p, (unsigned)*port);
    *p = '\0';
    return host;
}

void
hn_conn_fill_addresses(const hn_conn_t *c, hn_request_t *r)
{
    char *host = hn_arena_alloc(r->arena, 2 * INET6_ADDRSTRLEN + 8);
    char *text = host + INET6_ADDRSTRLEN;
    r->client_host = hn_conn_peer_host(c, host, text, &r->client_port);
    r->client = r->client_host ? text : hn_conn_local(c);
    r->server = hn_conn_local(c);
    r->server_host = c->listener ? c->listener->host : "";
    r->server_port = c->listener ? c->listener->port : -1;
}

const char *
hn_conn_local(const hn_conn_t *c)
{
    return hn_listener_text(c->listener);
}

/* The flush pass: the one place where output is written and connections
 * die, once per loop iteration, after every callback of the iteration ran.
 * Connections may be queued again while the pass runs (a redelivery that
 * produces output), so the list is taken whole and re-checked. */
void
hn_conn_flush_all(struct ev_loop *loop)
{
    /* A callback of this iteration may have run long (a slow application
     * call): what is written now is stamped, and what is armed now counts,
     * from the real time, not from before the stall. One clock read per
     * iteration that has output. */
    if (pending_head)
        ev_now_update(loop);
    while (pending_head) {
        hn_conn_t *list = pending_head;
        pending_head = NULL;
        while (list) {
            hn_conn_t *c = list;
            list = c->pending_next;
            c->is_pending = false;
            c->pending_next = NULL;
            if (c->tcp.state != HN_TCP_DEAD && (c->tcp.in_len || c->tcp.ssl) &&
                !c->tcp.is_read_paused)
                hn_tcp_redeliver(&c->tcp, loop);
            if (c->tcp.state == HN_TCP_OPEN && c->proto && c->proto->ops->flush)
                c->proto->ops->flush(c->proto);
            if (c->tcp.state != HN_TCP_DEAD)
                hn_tcp_flush(&c->tcp, loop);
            if (c->tcp.state == HN_TCP_DEAD && !c->is_pending)
                finalize(loop, c);
        }
    }
}

static void
finalize(struct ev_loop *loop, hn_conn_t *c)
{
    ev_timer_stop(loop, &c->timer);
    ev_io_stop(loop, &c->proxy_io);
    free(c->proxy_buf);
    hn_protocol_t *p = c->proto;
    c->proto = NULL;
    c->tcp.super.proto = NULL;
    if (p)
        p->ops->connection_lost(p, c->tcp.error);
    hn_tcp_dispose(&c->tcp, loop);
    if (c->prev)
        c->prev->next = c->next;
    else
        all_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    conn_count--;
    free(c);
    hn_worker_conn_closed();
}

void
hn_conn_drain_all(void)
{
    for (hn_conn_t *c = all_head; c; c = c->next)
        if (c->proto && c->tcp.state == HN_TCP_OPEN)
            c->proto->ops->drain(c->proto);
}

void
hn_conn_kill_all(struct ev_loop *loop)
{
    for (hn_conn_t *c = all_head; c; c = c->next)
        hn_tcp_kill(&c->tcp, loop);
    hn_conn_flush_all(loop);
}

struct ev_loop *
hn_conn_loop(void)
{
    return conn_loop;
}

unsigned
hn_conn_count(void)
{
    return conn_count;
}
