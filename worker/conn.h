/*
 * conn.h - one client connection: its transport, its protocol, its timer and
 * its place in the worker's lists. A connection is freed only in the flush
 * pass (ev_prepare), never inside a callback of its own, so protocol and app
 * code can end it at any point without pulling memory from under a caller.
 */
#ifndef HN_WORKER_CONN_H
#define HN_WORKER_CONN_H

#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "worker/tcp.h"

typedef struct hn_listener hn_listener_t;
struct hn_request;

typedef struct hn_conn {
    hn_tcp_t tcp; /* first: the transport is the connection */
    hn_protocol_t *proto;
    hn_protocol_t sniff; /* the protocol until the first bytes say which */
    ev_timer timer;
    struct hn_conn *prev, *next; /* every open connection of the worker */
    struct hn_conn *pending_next; /* queued for the flush pass */
    bool is_pending;
    bool is_lingering;
    bool is_timer_touched; /* hn_conn_set_timer ran (see on_timer) */
    bool is_after_output;  /* the deadline runs from our last write (set_idle_timer) */
    const hn_listener_t *listener;
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer;
    socklen_t peer_len;
    /* a proxy_protocol listener: the PROXY header is read before anything else */
    ev_io proxy_io;
    char *proxy_buf; /* its bytes so far (HN_PROXY_MAX); NULL once read */
    size_t proxy_len;
} hn_conn_t;

/* Takes fd (accepted, non-blocking). Starts the HTTP/1.1 protocol. */
hn_conn_t *hn_conn_open(struct ev_loop *loop, int fd, const hn_listener_t *l,
                        const struct sockaddr *peer, socklen_t peer_len);
/* The transport is ready for a protocol (at once, or after the TLS
 * handshake): HTTP/2 if ALPN chose it, otherwise the first bytes decide
 * between HTTP/1.x and HTTP/2 with prior knowledge (its client preface). */
void hn_conn_tls_ready(hn_conn_t *c, bool alpn_h2);
/* Queue for the flush pass: writes pending, input to re-offer, or death. */
void hn_conn_mark_pending(hn_conn_t *c);
/* Arm (seconds > 0) or stop (0) the connection's single timer. */
void hn_conn_set_timer(hn_conn_t *c, double seconds);
/* Arm it for a client that is owed output (a response just queued): the
 * deadline does not run out until seconds after the socket last took bytes
 * of it, so a client reading a large response slowly, or one whose response
 * a stalled loop held back, gets all of its idle time. */
void hn_conn_set_idle_timer(hn_conn_t *c, double seconds);
/* A deadline of c passed (its timer, or one a protocol keeps per stream):
 * read what the client sent meanwhile before enforcing it, since a stalled
 * loop learns of expired timers before it learns of readable sockets. The
 * caller then judges whether those bytes moved it on; c may be closing. */
void hn_conn_read_late(hn_conn_t *c);
/* Lingering close began: arm the linger deadline. */
void hn_conn_linger(hn_conn_t *c);
/* Client "ip:port" and server address text, formatted into buf. */
const char *hn_conn_peer(const hn_conn_t *c, char *buf, size_t size);
/* The client's host into host (NULL for a unix peer), its port (-1), and
 * "host:port" ("[v6]:port") into text. Per request, so it is formatted by
 * hand rather than through printf. host and text: INET6_ADDRSTRLEN and
 * INET6_ADDRSTRLEN + 8 bytes. */
const char *hn_conn_peer_host(const hn_conn_t *c, char *host, char *text, int *port);
const char *hn_conn_local(const hn_conn_t *c);
/* The scope's client and server: host and port apart (what the ABI wants)
 * and "host:port" together (what logs want), in r's arena. */
void hn_conn_fill_addresses(const hn_conn_t *c, struct hn_request *r);

/* Worker-wide: run the flush pass (from ev_prepare). */
void hn_conn_flush_all(struct ev_loop *loop);
/* Graceful stop: tell every protocol to drain. */
void hn_conn_drain_all(void);
/* Stop now: close every connection. */
void hn_conn_kill_all(struct ev_loop *loop);
unsigned hn_conn_count(void);
/* The worker's loop, for timers a protocol keeps per stream. */
struct ev_loop *hn_conn_loop(void);

static inline hn_conn_t *
hn_conn_of(hn_transport_t *t)
{
    return (hn_conn_t *)(void *)t;
}

#endif
