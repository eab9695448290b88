/*
 * proto.h - how the layers of a connection talk (asyncio's transport and
 * protocol split). Header only.
 *
 *   socket -> transport (tcp, optionally through tls) -> protocol (h1; h2, ws later) -> app
 *
 * The transport owns the fd, the read chunk and the write queue; it tells its
 * protocol about bytes, EOF and loss, and about crossing the write-queue
 * watermarks. The protocol never calls read() or write(): it consumes bytes
 * handed to it and queues bytes on the transport. Writes are flushed once per
 * loop iteration (ev_prepare), so a batch of pipelined responses leaves in
 * one writev.
 */
#ifndef HN_WORKER_PROTO_H
#define HN_WORKER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "shared/common.h"

/* Write queue above this many bytes: pause_writing; below the low mark:
 * resume_writing. */
#define HN_WRITE_HIGH_WATER (64 * 1024)
#define HN_WRITE_LOW_WATER (16 * 1024)

typedef struct hn_transport hn_transport_t;
typedef struct hn_protocol hn_protocol_t;

typedef void (*hn_release_cb)(void *ud);

typedef struct hn_transport_ops {
    /* Copy len bytes into the write queue. */
    void (*write)(hn_transport_t *t, const void *data, size_t len);
    /* Contiguous room for at least len bytes at the queue's tail, or NULL if
     * len is larger than a chunk; then commit how many were used. */
    char *(*reserve)(hn_transport_t *t, size_t len);
    void (*commit)(hn_transport_t *t, size_t used);
    /* Queue a file range; takes fd (closed once sent or on close). */
    void (*sendfile)(hn_transport_t *t, int fd, off_t offset, size_t len);
    size_t (*pending)(const hn_transport_t *t);
    void (*pause_reading)(hn_transport_t *t);
    /* Resume; bytes the protocol left unconsumed are offered again. */
    void (*resume_reading)(hn_transport_t *t);
    /* Flush what is queued, then close (lingering, so a client still
     * sending does not get a reset that destroys the response); abort drops
     * the queue and closes at once. The protocol hears connection_lost later,
     * never from inside this call. */
    void (*close)(hn_transport_t *t, bool abort);
} hn_transport_ops_t;

struct hn_transport {
    const hn_transport_ops_t *ops;
    hn_protocol_t *proto;
    bool is_secure; /* TLS: the scope's scheme is https (or wss) */
};

typedef struct hn_protocol_ops {
    /* Bytes arrived. Return how many were consumed; the rest are kept and
     * offered again after resume_reading. */
    size_t (*data_received)(hn_protocol_t *p, const char *data, size_t len);
    /* The peer closed its side. */
    void (*eof_received)(hn_protocol_t *p);
    /* The transport is closed (err: 0 or an errno); free everything. */
    void (*connection_lost)(hn_protocol_t *p, int err);
    void (*pause_writing)(hn_protocol_t *p);
    void (*resume_writing)(hn_protocol_t *p);
    /* Graceful stop: finish what is in flight, close when idle. */
    void (*drain)(hn_protocol_t *p);
    /* The connection's timer fired (idle or read deadline). */
    void (*timeout)(hn_protocol_t *p);
    /* May be NULL. Called in the flush pass before the transport writes:
     * a protocol that frames output lazily (HTTP/2) produces it here,
     * outside its own callbacks. */
    void (*flush)(hn_protocol_t *p);
} hn_protocol_ops_t;

struct hn_protocol {
    const hn_protocol_ops_t *ops;
    hn_transport_t *transport;
};

#endif
