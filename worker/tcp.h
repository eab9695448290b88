/*
 * tcp.h - the transport: a non-blocking socket with a leftover input chunk
 * and a write queue of copied bytes and file ranges, flushed with
 * writev/sendfile, or through TLS (tls.h) on a TLS listener: the same state
 * machine, queue and watermarks either way. Embedded as the first member of
 * hn_conn_t (conn.h).
 */
#ifndef HN_WORKER_TCP_H
#define HN_WORKER_TCP_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "worker/proto.h"

typedef struct hn_wq_entry hn_wq_entry_t;
struct ssl_st;

typedef enum hn_tcp_state {
    HN_TCP_OPEN = 0,
    HN_TCP_CLOSING, /* flushing the queue before a lingering close */
    HN_TCP_LINGER,  /* write side shut; discarding input until EOF or timeout */
    HN_TCP_DEAD,    /* fd closed; waiting to be finalized */
} hn_tcp_state_t;

typedef struct hn_tcp {
    hn_transport_t super;
    ev_io io;
    int fd;
    uint8_t state;
    bool is_read_paused; /* by the protocol */
    bool is_write_paused; /* the protocol was told pause_writing */
    bool is_writing;      /* waiting for EV_WRITE */
    bool has_eof;
    bool tls_ready;       /* handshake done (or no TLS) */
    bool tls_started;     /* the client's first bytes were looked at */
    bool tls_wants_write; /* OpenSSL waits for a writable socket (handshake, read) */
    int error;            /* errno that killed the connection, or 0 */
    struct ssl_st *ssl;   /* TLS, or NULL */
    /* unconsumed input, in a chunk held only while bytes remain */
    char *in;
    uint32_t in_len;
    /* write queue: entries live in a chunk held only while non-empty */
    hn_wq_entry_t *q;
    uint32_t q_head, q_len;
    size_t q_bytes;
    ev_tstamp written_at; /* loop time of the last write the socket took bytes of */
} hn_tcp_t;

void hn_tcp_init(hn_tcp_t *t, int fd);
/* Encrypt with ssl (owned from now on): the handshake runs first, then
 * hn_conn_tls_ready is called to start a protocol. */
void hn_tcp_use_tls(hn_tcp_t *t, struct ssl_st *ssl);
/* Start the read watcher. */
void hn_tcp_start(hn_tcp_t *t, struct ev_loop *loop);
/* Write out what is queued (called from the worker's flush pass). */
void hn_tcp_flush(hn_tcp_t *t, struct ev_loop *loop);
/* Re-offer unconsumed input after the protocol resumed (flush pass), and
 * what OpenSSL holds decrypted. */
void hn_tcp_redeliver(hn_tcp_t *t, struct ev_loop *loop);
/* Read now, as if the socket were readable: a deadline passed and the
 * bytes that may have come meanwhile go first (conn.c's on_timer). Reads
 * what the socket or OpenSSL holds, runs the handshake step before the
 * handshake is done; does nothing once closing or past EOF. */
void hn_tcp_read_now(hn_tcp_t *t, struct ev_loop *loop);
/* Has the peer closed or reset the connection, as far as the kernel knows
 * without our reading the bytes queued before its FIN (TCP_INFO)? For a
 * protocol that stopped reading; false when it cannot tell (unix sockets). */
bool hn_tcp_peer_closed(const hn_tcp_t *t);
/* The lingering close ran out of time, or the worker stops now. */
void hn_tcp_kill(hn_tcp_t *t, struct ev_loop *loop);
/* Release the fd and buffers (fd already closed when DEAD). */
void hn_tcp_dispose(hn_tcp_t *t, struct ev_loop *loop);

#endif
