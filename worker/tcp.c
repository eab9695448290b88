/*
 * tcp.c - the plaintext transport (see tcp.h): reads into a worker-wide
 * buffer and hands the bytes to the protocol, keeps only what the protocol
 * left unconsumed, queues output and flushes it with one writev per pass
 * (sendfile for file ranges). On a TLS connection the same paths go
 * through tls.c: reads decrypt, and the queue is staged into one record's
 * worth of plaintext per write. Lifecycle and timers belong to conn.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/tcp.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shared/buf.h"
#include "shared/log.h"
#include "worker/conn.h"
#include "worker/tls.h"

static void on_io(struct ev_loop *loop, ev_io *w, int revents);
static void do_read(hn_tcp_t *t, struct ev_loop *loop);
static void deliver(hn_tcp_t *t, const char *data, size_t len);
static void update_watcher(hn_tcp_t *t, struct ev_loop *loop);
static void read_paused(hn_tcp_t *t, struct ev_loop *loop);
static void die(hn_tcp_t *t, struct ev_loop *loop, int err);
static void queue_release(hn_tcp_t *t);

struct hn_wq_entry {
    char *chunk;      /* owned chunk holding the bytes, or NULL for a file */
    const char *base; /* next byte to write */
    size_t len;       /* bytes left */
    int fd;           /* file entries: fd >= 0 */
    off_t offset;
};

#define Q_CAP (HN_BUF_CHUNK_SIZE / sizeof(hn_wq_entry_t))
#define IOV_BATCH 64

/* One read buffer for the whole worker: a connection only keeps the bytes
 * its protocol did not consume (Redis's shared query buffer). Reads are
 * capped at one chunk so a leftover always fits a chunk. */
static char read_buf[HN_BUF_CHUNK_SIZE];
/* TLS output is staged here, one record (16 KiB of plaintext) at a time. */
static char tls_stage[HN_BUF_CHUNK_SIZE];

/* recv, or its TLS counterpart; LINGER discards raw bytes, as there is no
 * more TLS to speak once our close_notify is out. */
static ssize_t
io_recv(hn_tcp_t *t, void *buf, size_t len)
{
    if (t->ssl == NULL || t->state == HN_TCP_LINGER)
        return recv(t->fd, buf, len, 0);
    return hn_tls_recv(t->ssl, buf, len, &t->tls_wants_write);
}

/* OpenSSL may hold decrypted bytes the socket will never signal again. */
static void
check_tls_pending(hn_tcp_t *t, struct ev_loop *loop)
{
    if (t->ssl && loop && t->state == HN_TCP_OPEN && hn_tls_has_pending(t->ssl))
        ev_feed_event(loop, &t->io, EV_READ);
}

/* --- transport ops ------------------------------------------------------ */

static hn_wq_entry_t *
tail_entry(hn_tcp_t *t)
{
    return t->q_len ? &t->q[t->q_head + t->q_len - 1] : NULL;
}

static hn_wq_entry_t *
push_entry(hn_tcp_t *t)
{
    if (t->q == NULL) {
        t->q = (hn_wq_entry_t *)(void *)hn_buf_get();
        t->q_head = t->q_len = 0;
    }
    if (t->q_head + t->q_len == Q_CAP) {
        /* compact: entries already written leave room at the front */
        memmove(t->q, t->q + t->q_head, t->q_len * sizeof(*t->q));
        t->q_head = 0;
        if (t->q_len == Q_CAP)
            return NULL;
    }
    hn_wq_entry_t *e = &t->q[t->q_head + t->q_len++];
    memset(e, 0, sizeof(*e));
    e->fd = -1;
    return e;
}

static void
check_high_water(hn_tcp_t *t)
{
    hn_conn_mark_pending(hn_conn_of(&t->super));
    if (!t->is_write_paused && t->q_bytes > HN_WRITE_HIGH_WATER && t->super.proto) {
        t->is_write_paused = true;
        t->super.proto->ops->pause_writing(t->super.proto);
    }
}

static char *
tcp_reserve(hn_transport_t *tr, size_t len)
{
    hn_tcp_t *t = (hn_tcp_t *)tr;
    if (len > HN_BUF_CHUNK_SIZE || t->state != HN_TCP_OPEN)
        return NULL;
    hn_wq_entry_t *e = tail_entry(t);
    if (e && e->chunk && (size_t)(e->base + e->len - e->chunk) + len <= HN_BUF_CHUNK_SIZE)
        return (char *)e->base + e->len;
    e = push_entry(t);
    if (e == NULL)
        return NULL;
    e->chunk = hn_buf_get();
    e->base = e->chunk;
    return e->chunk;
}

static void
tcp_commit(hn_transport_t *tr, size_t used)
{
    hn_tcp_t *t = (hn_tcp_t *)tr;
    hn_wq_entry_t *e = tail_entry(t);
    e->len += used;
    t->q_bytes += used;
    check_high_water(t);
}

static void
tcp_write(hn_transport_t *tr, const void *data, size_t len)
{
    hn_tcp_t *t = (hn_tcp_t *)tr;
    const char *p = data;
    if (t->state != HN_TCP_OPEN)
        return;
    while (len > 0) {
        size_t n = HN_MIN(len, (size_t)HN_BUF_CHUNK_SIZE);
        /* fill what is left of the tail chunk first */
        hn_wq_entry_t *e = tail_entry(t);
        if (e && e->chunk) {
            size_t room = HN_BUF_CHUNK_SIZE - (size_t)(e->base + e->len - e->chunk);
            if (room > 0)
                n = HN_MIN(n, room);
        }
        char *dst = tcp_reserve(tr, n);
        if (dst == NULL) {
            hn_log(HN_LOG_ERROR, "write queue full; closing connection");
            die(t, NULL, ENOBUFS);
            return;
        }
        memcpy(dst, p, n);
        tcp_commit(tr, n);
        p += n;
        len -= n;
    }
}

static void
tcp_sendfile(hn_transport_t *tr, int fd, off_t offset, size_t len)
{
    hn_tcp_t *t = (hn_tcp_t *)tr;
    hn_wq_entry_t *e = t->state == HN_TCP_OPEN ? push_entry(t) : NULL;
    if (e == NULL) {
        close(fd);
        return;
    }
    e->fd = fd;
    e->offset = offset;
    e->len = len;
    /* file bytes are not buffered in memory: they do not count towards the
     * watermarks, only towards "something is pending" */
    hn_conn_mark_pending(hn_conn_of(tr));
}

static size_t
tcp_pending(const hn_transport_t *tr)
{
    return ((const hn_tcp_t *)tr)->q_bytes;
}

static void
tcp_pause_reading(hn_transport_t *tr)
{
    hn_tcp_t *t = (hn_tcp_t *)tr;
    t->is_read_paused = true;
    hn_conn_mark_pending(hn_conn_of(tr)); /* the flush pass updates the watcher */
}

static void
tcp_resume_reading(hn_transport_t *tr)
{
    hn_tcp_t *t = (hn_tcp_t *)tr;
    t->is_read_paused = false;
    hn_conn_mark_pending(hn_conn_of(tr)); /* re-offers leftover input */
}

static void
tcp_close(hn_transport_t *tr, bool abort)
{
    hn_tcp_t *t = (hn_tcp_t *)tr;
    if (abort) {
        die(t, NULL, 0);
        return;
    }
    if (t->state == HN_TCP_OPEN)
        t->state = HN_TCP_CLOSING;
    hn_conn_mark_pending(hn_conn_of(tr));
}

static const hn_transport_ops_t tcp_ops = {
    .write = tcp_write,
    .reserve = tcp_reserve,
    .commit = tcp_commit,
    .sendfile = tcp_sendfile,
    .pending = tcp_pending,
    .pause_reading = tcp_pause_reading,
    .resume_reading = tcp_resume_reading,
    .close = tcp_close,
};

/* --- lifecycle ---------------------------------------------------------- */

void
hn_tcp_init(hn_tcp_t *t, int fd)
{
    memset(t, 0, sizeof(*t));
    t->super.ops = &tcp_ops;
    t->fd = fd;
    t->tls_ready = true;
    ev_io_init(&t->io, on_io, fd, EV_READ);
}

void
hn_tcp_use_tls(hn_tcp_t *t, struct ssl_st *ssl)
{
    t->ssl = ssl;
    t->tls_ready = false;
    t->super.is_secure = true;
}

/* A client speaking plain HTTP to a TLS port gets a plain 400 that says
 * so, as nginx does, instead of a reset it cannot explain. A TLS client
 * starts with a handshake record (0x16), never with a letter. */
static bool
refuse_plain_http(hn_tcp_t *t)
{
    static const char msg[] = "HTTP/1.1 400 Bad Request\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Length: 44\r\n"
                              "Connection: close\r\n\r\n"
                              "This port speaks HTTPS: use an https:// URL\n";
    unsigned char first;
    if (recv(t->fd, &first, 1, MSG_PEEK) != 1 || first < 'A' || first > 'Z')
        return false;
    hn_tls_free(t->ssl);
    t->ssl = NULL;
    t->tls_ready = true;
    t->super.is_secure = false;
    tcp_write(&t->super, msg, sizeof(msg) - 1);
    tcp_close(&t->super, false);
    return true;
}

static void
tls_handshake(hn_tcp_t *t, struct ev_loop *loop)
{
    if (!t->tls_started) {
        t->tls_started = true;
        if (refuse_plain_http(t))
            return;
    }
    int r = hn_tls_handshake(t->ssl, &t->tls_wants_write);
    if (r < 0) {
        /* not TLS (plain HTTP on a TLS port), a refused client
         * certificate, no shared cipher: nothing to answer in */
        die(t, loop, EPROTO);
        return;
    }
    if (r == 0) {
        update_watcher(t, loop);
        return;
    }
    t->tls_ready = true;
    t->tls_wants_write = false;
    hn_conn_tls_ready(hn_conn_of(&t->super), hn_tls_alpn_is_h2(t->ssl));
    if (t->state == HN_TCP_OPEN)
        do_read(t, loop); /* the request may have come with the client's Finished */
    if (t->state != HN_TCP_DEAD)
        update_watcher(t, loop);
}

void
hn_tcp_start(hn_tcp_t *t, struct ev_loop *loop)
{
    ev_io_start(loop, &t->io);
}

static void
on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    hn_tcp_t *t = HN_CONTAINER_OF(w, hn_tcp_t, io);
    if (!t->tls_ready) {
        tls_handshake(t, loop);
        return;
    }
    if ((revents & EV_WRITE) && t->tls_wants_write) {
        /* a TLS read that needed to write first: retry it */
        t->tls_wants_write = false;
        revents |= EV_READ;
    }
    if (revents & EV_WRITE)
        hn_tcp_flush(t, loop);
    if ((revents & EV_READ) && t->state != HN_TCP_DEAD)
        do_read(t, loop);
}

void
hn_tcp_read_now(hn_tcp_t *t, struct ev_loop *loop)
{
    if (t->state == HN_TCP_OPEN && !t->has_eof)
        on_io(loop, &t->io, EV_READ);
}

/* While the protocol does not take input (a request is being answered,
 * or the client reads too slowly), the socket is still watched: bytes are
 * kept, up to one chunk, and EOF or an error is reported at once, so an app
 * hears that its client left instead of producing for nobody. */
static void
read_paused(hn_tcp_t *t, struct ev_loop *loop)
{
    if (t->in == NULL)
        t->in = hn_buf_get();
    size_t room = HN_BUF_CHUNK_SIZE - t->in_len;
    if (room == 0) {
        update_watcher(t, loop);
        return;
    }
    ssize_t n = io_recv(t, t->in + t->in_len, room);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            die(t, loop, errno);
        else if (t->tls_wants_write)
            update_watcher(t, loop);
    } else if (n == 0) {
        t->has_eof = true;
        ev_io_stop(loop, &t->io);
        if (t->super.proto)
            t->super.proto->ops->eof_received(t->super.proto);
        hn_conn_mark_pending(hn_conn_of(&t->super));
    } else {
        t->in_len += (uint32_t)n;
        if (t->in_len == HN_BUF_CHUNK_SIZE)
            update_watcher(t, loop);
        else
            check_tls_pending(t, loop);
    }
    if (t->in_len == 0 && t->in) {
        hn_buf_put(t->in);
        t->in = NULL;
    }
}

static void
do_read(hn_tcp_t *t, struct ev_loop *loop)
{
    if (t->is_read_paused && t->state == HN_TCP_OPEN) {
        read_paused(t, loop);
        return;
    }
    char *dst = read_buf;
    size_t room = sizeof(read_buf);
    if (t->in_len && t->state == HN_TCP_OPEN) {
        /* append to the leftover so the protocol sees contiguous bytes */
        dst = t->in + t->in_len;
        room = HN_BUF_CHUNK_SIZE - t->in_len;
        if (room == 0) {
            /* a protocol that consumes nothing from a full chunk is stuck */
            t->is_read_paused = true;
            update_watcher(t, loop);
            return;
        }
    }
    ssize_t n = io_recv(t, dst, room);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            if (t->tls_wants_write)
                update_watcher(t, loop);
            return;
        }
        die(t, loop, errno);
        return;
    }
    if (t->state == HN_TCP_LINGER) {
        if (n == 0)
            die(t, loop, 0);
        return; /* discard: the response is out, the request is not wanted */
    }
    if (n == 0) {
        t->has_eof = true;
        ev_io_stop(loop, &t->io);
        if (t->state == HN_TCP_OPEN && t->super.proto)
            t->super.proto->ops->eof_received(t->super.proto);
        hn_conn_mark_pending(hn_conn_of(&t->super));
        return;
    }
    if (t->state != HN_TCP_OPEN)
        return; /* closing: input after our decision to close is dropped */
    if (dst != read_buf) {
        t->in_len += (uint32_t)n;
        size_t len = t->in_len;
        t->in_len = 0;
        /* deliver from the connection's own chunk; keep it while delivering */
        char *chunk = t->in;
        t->in = NULL;
        deliver(t, chunk, len);
        hn_buf_put(chunk);
    } else {
        deliver(t, read_buf, (size_t)n);
    }
    hn_conn_mark_pending(hn_conn_of(&t->super));
    check_tls_pending(t, loop);
}

/* Hand bytes to the protocol and keep what it did not take. data may point
 * into read_buf or into a chunk the caller frees afterwards. */
static void
deliver(hn_tcp_t *t, const char *data, size_t len)
{
    size_t used = t->super.proto->ops->data_received(t->super.proto, data, len);
    if (used >= len || t->state != HN_TCP_OPEN)
        return;
    t->in = hn_buf_get();
    memcpy(t->in, data + used, len - used);
    t->in_len = (uint32_t)(len - used);
}

void
hn_tcp_redeliver(hn_tcp_t *t, struct ev_loop *loop)
{
    if (t->state != HN_TCP_OPEN || t->is_read_paused)
        return;
    if (t->in_len > 0) {
        char *chunk = t->in;
        size_t len = t->in_len;
        t->in = NULL;
        t->in_len = 0;
        deliver(t, chunk, len);
        hn_buf_put(chunk);
    }
    /* decrypted bytes OpenSSL kept while the protocol was paused: no socket
     * event will come for them */
    check_tls_pending(t, loop);
}

static void
update_watcher(hn_tcp_t *t, struct ev_loop *loop)
{
    int want = 0;
    if (!t->tls_ready) {
        /* the handshake waits for whichever way OpenSSL asked */
        want = t->tls_wants_write ? EV_WRITE : EV_READ;
    } else {
        if (t->state == HN_TCP_LINGER ||
            (t->state == HN_TCP_OPEN && !t->has_eof &&
             (!t->is_read_paused || t->in_len < HN_BUF_CHUNK_SIZE)))
            want |= EV_READ;
        if (t->q_len || t->tls_wants_write)
            want |= EV_WRITE;
    }
    if (want == (ev_is_active(&t->io) ? t->io.events & (EV_READ | EV_WRITE) : 0))
        return;
    ev_io_stop(loop, &t->io);
    if (want) {
        ev_io_set(&t->io, t->fd, want);
        ev_io_start(loop, &t->io);
    }
}

static void
entry_release(hn_wq_entry_t *e)
{
    if (e->chunk)
        hn_buf_put(e->chunk);
    if (e->fd >= 0)
        close(e->fd);
}

static void
queue_release(hn_tcp_t *t)
{
    for (uint32_t i = 0; i < t->q_len; i++)
        entry_release(&t->q[t->q_head + i]);
    if (t->q)
        hn_buf_put((char *)t->q);
    t->q = NULL;
    t->q_head = t->q_len = 0;
    t->q_bytes = 0;
}

/* Drop n written bytes from the head of the queue. */
static void
consume(hn_tcp_t *t, size_t n)
{
    while (n > 0) {
        hn_wq_entry_t *x = &t->q[t->q_head];
        size_t k = HN_MIN(n, x->len);
        if (x->fd >= 0) {
            x->offset += (off_t)k;
        } else {
            x->base += k;
            t->q_bytes -= k;
        }
        x->len -= k;
        n -= k;
        if (x->len == 0) {
            entry_release(x);
            t->q_head++;
            t->q_len--;
        }
    }
}

/* The TLS queue: the head of the queue, bytes and file ranges alike, is
 * staged into one record's worth and written. A retry after EAGAIN stages
 * the same head again, which is what OpenSSL requires of a retried write. */
static int
write_queue_tls(hn_tcp_t *t, ev_tstamp now)
{
    bool want_write;
    while (t->q_len) {
        size_t n = 0;
        for (uint32_t i = 0; i < t->q_len && n < sizeof(tls_stage); i++) {
            hn_wq_entry_t *x = &t->q[t->q_head + i];
            size_t k = HN_MIN(x->len, sizeof(tls_stage) - n);
            if (x->fd >= 0) {
                ssize_t r = pread(x->fd, tls_stage + n, k, x->offset);
                if (r <= 0 && n == 0) {
                    errno = r < 0 ? errno : EIO; /* a file that shrank under us */
                    return -1;
                }
                n += r > 0 ? (size_t)r : 0;
                if (r < (ssize_t)k)
                    break;
            } else {
                memcpy(tls_stage + n, x->base, k);
                n += k;
            }
        }
        ssize_t w = hn_tls_send(t->ssl, tls_stage, n, &want_write);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? 1 : -1;
        consume(t, (size_t)w);
        t->written_at = now;
    }
    return 0;
}

/* Write as much of the queue as the socket takes. Returns 0 when the queue
 * is empty, 1 when it must wait for EV_WRITE, -1 on a fatal error. Each
 * write that takes bytes stamps written_at with now. */
static int
write_queue(hn_tcp_t *t, ev_tstamp now)
{
    if (t->ssl && t->q_len) {
        int r = write_queue_tls(t, now);
        if (r != 0)
            return r;
    }
    while (t->q_len) {
        hn_wq_entry_t *e = &t->q[t->q_head];
        ssize_t n;
        if (e->fd >= 0) {
            size_t want = HN_MIN(e->len, (size_t)(1 << 20));
            n = sendfile(t->fd, e->fd, &e->offset, want);
            if (n == 0 && want > 0) {
                /* the file shrank under us: the promised length cannot be met */
                errno = EIO;
                n = -1;
            }
            if (n > 0) {
                t->written_at = now;
                e->len -= (size_t)n;
                if (e->len == 0) {
                    entry_release(e);
                    t->q_head++;
                    t->q_len--;
                }
                continue;
            }
        } else {
            struct iovec iov[IOV_BATCH];
            int cnt = 0;
            for (uint32_t i = 0; i < t->q_len && cnt < IOV_BATCH; i++) {
                hn_wq_entry_t *x = &t->q[t->q_head + i];
                if (x->fd >= 0)
                    break;
                iov[cnt].iov_base = (void *)x->base;
                iov[cnt].iov_len = x->len;
                cnt++;
            }
            n = writev(t->fd, iov, cnt);
            if (n > 0) {
                t->written_at = now;
                consume(t, (size_t)n);
                continue;
            }
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 1;
        return -1;
    }
    if (t->q) {
        hn_buf_put((char *)t->q);
        t->q = NULL;
    }
    t->q_head = 0;
    return 0;
}

void
hn_tcp_flush(hn_tcp_t *t, struct ev_loop *loop)
{
    if (t->state == HN_TCP_DEAD)
        return;
    int r = write_queue(t, ev_now(loop));
    if (r < 0) {
        die(t, loop, errno);
        return;
    }
    if (t->is_write_paused && t->q_bytes < HN_WRITE_LOW_WATER && t->super.proto) {
        t->is_write_paused = false;
        t->super.proto->ops->resume_writing(t->super.proto);
        /* the app may have written (and even ended the response) from
         * resume_writing: what it queued must go out before any close */
        if (t->state == HN_TCP_DEAD)
            return;
        r = write_queue(t, ev_now(loop));
        if (r < 0) {
            die(t, loop, errno);
            return;
        }
    }
    if (r == 0 && t->state == HN_TCP_CLOSING) {
        if (t->has_eof) {
            die(t, loop, 0);
            return;
        }
        /* Lingering close (RFC 9112 §9.6): shut our side and read until the
         * client's EOF, so its unread request bytes do not turn our close
         * into a reset that destroys the response before it is read. */
        if (t->ssl)
            hn_tls_shutdown(t->ssl);
        shutdown(t->fd, SHUT_WR);
        t->state = HN_TCP_LINGER;
        if (t->in) {
            hn_buf_put(t->in);
            t->in = NULL;
            t->in_len = 0;
        }
        hn_conn_linger(hn_conn_of(&t->super));
    }
    update_watcher(t, loop);
}

static void
die(hn_tcp_t *t, struct ev_loop *loop, int err)
{
    if (t->state == HN_TCP_DEAD)
        return;
    t->state = HN_TCP_DEAD;
    t->error = err;
    if (loop)
        ev_io_stop(loop, &t->io);
    hn_conn_mark_pending(hn_conn_of(&t->super));
}

bool
hn_tcp_peer_closed(const hn_tcp_t *t)
{
    if (t->has_eof || t->state == HN_TCP_DEAD)
        return true;
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(t->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return false;
    /* CLOSE_WAIT: its FIN came; CLOSE: a reset */
    return ti.tcpi_state == TCP_CLOSE_WAIT || ti.tcpi_state == TCP_CLOSE;
}

void
hn_tcp_kill(hn_tcp_t *t, struct ev_loop *loop)
{
    die(t, loop, 0);
}

void
hn_tcp_dispose(hn_tcp_t *t, struct ev_loop *loop)
{
    ev_io_stop(loop, &t->io);
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    queue_release(t);
    if (t->in) {
        hn_buf_put(t->in);
        t->in = NULL;
    }
    if (t->ssl) {
        hn_tls_free(t->ssl);
        t->ssl = NULL;
    }
}
