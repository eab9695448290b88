/*
 * ev_link.c - see ev_link.h. Frames are cut out of one growable read buffer;
 * the write queue is one growable buffer too, written with a single write
 * per readiness: messages between the hub and a worker are small and many,
 * so one copy into the queue costs less than an iovec per message.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "shared/ev_link.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/common.h"
#include "shared/mem.h"

#define READ_CHUNK 65536

static void destroy(hn_ev_link_t *l);

struct hn_ev_link {
    struct ev_loop *loop;
    ev_io rio, wio;
    int fd;
    hn_ev_link_msg_fn on_msg;
    hn_ev_link_closed_fn on_closed;
    void *ud;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_off, out_len, out_cap;
    bool dead;       /* on_closed was called */
    bool freed;      /* hn_ev_link_free came inside a callback */
    unsigned busy;   /* callbacks on the stack */
};

static void
die(hn_ev_link_t *l, const char *why)
{
    if (l->dead)
        return;
    l->dead = true;
    ev_io_stop(l->loop, &l->rio);
    ev_io_stop(l->loop, &l->wio);
    l->busy++;
    l->on_closed(l, why, l->ud);
    l->busy--;
    if (l->freed && l->busy == 0)
        destroy(l);
}

static void
destroy(hn_ev_link_t *l)
{
    ev_io_stop(l->loop, &l->rio);
    ev_io_stop(l->loop, &l->wio);
    close(l->fd);
    free(l->in);
    free(l->out);
    free(l);
}

/* Write what is queued; HN_OK (all or some written), HN_ERR (dead). */
static int
flush(hn_ev_link_t *l)
{
    while (l->out_off < l->out_len) {
        ssize_t n = write(l->fd, l->out + l->out_off, l->out_len - l->out_off);
        if (n > 0) {
            l->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(l->loop, &l->wio);
            return HN_OK;
        }
        die(l, n < 0 ? strerror(errno) : "write returned 0");
        return HN_ERR;
    }
    l->out_off = l->out_len = 0;
    ev_io_stop(l->loop, &l->wio);
    /* a burst's queue is not kept for an idle link */
    if (l->out_cap > READ_CHUNK) {
        free(l->out);
        l->out = NULL;
        l->out_cap = 0;
    }
    return HN_OK;
}

static void
on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    hn_ev_link_t *l = HN_CONTAINER_OF(w, hn_ev_link_t, wio);
    flush(l);
}

int
hn_ev_link_send_text(hn_ev_link_t *l, const char *json, size_t len)
{
    if (l->dead)
        return HN_ERR;
    if (len > HN_EV_LINK_MAX_MSG) {
        die(l, "message too large");
        return HN_ERR;
    }
    size_t pending = l->out_len - l->out_off;
    if (pending + 4 + len > HN_EV_LINK_MAX_QUEUED) {
        die(l, "the peer does not read");
        return HN_ERR;
    }
    if (l->out_off > 0 && l->out_len + 4 + len > l->out_cap) {
        memmove(l->out, l->out + l->out_off, pending);
        l->out_off = 0;
        l->out_len = pending;
    }
    if (l->out_len + 4 + len > l->out_cap) {
        size_t cap = l->out_cap ? l->out_cap : 4096;
        while (cap < l->out_len + 4 + len)
            cap *= 2;
        l->out = hn_xrealloc(l->out, cap);
        l->out_cap = cap;
    }
    uint32_t n32 = (uint32_t)len;
    memcpy(l->out + l->out_len, &n32, 4);
    memcpy(l->out + l->out_len + 4, json, len);
    l->out_len += 4 + len;
    /* while the write watcher waits, the kernel buffer is full: queue only */
    if (ev_is_active(&l->wio))
        return HN_OK;
    return flush(l);
}

int
hn_ev_link_send(hn_ev_link_t *l, const json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL) {
        die(l, "cannot encode a message");
        return HN_ERR;
    }
    int rc = hn_ev_link_send_text(l, text, strlen(text));
    free(text);
    return rc;
}

/* Hand every complete frame of the read buffer to on_msg. */
static void
deliver(hn_ev_link_t *l)
{
    size_t off = 0;
    while (!l->dead && !l->freed && l->in_len - off >= 4) {
        uint32_t n;
        memcpy(&n, l->in + off, 4);
        if (n > HN_EV_LINK_MAX_MSG) {
            die(l, "a frame longer than the largest message");
            return;
        }
        if (l->in_len - off - 4 < n)
            break;
        json_error_t jerr;
        json_t *msg = json_loadb(l->in + off + 4, n, 0, &jerr);
        off += 4 + (size_t)n;
        if (msg == NULL || !json_is_object(msg)) {
            json_decref(msg);
            die(l, "a frame that is not a JSON object");
            return;
        }
        l->on_msg(l, msg, l->ud);
        json_decref(msg);
    }
    if (off > 0) {
        memmove(l->in, l->in + off, l->in_len - off);
        l->in_len -= off;
    }
}

static void
on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    hn_ev_link_t *l = HN_CONTAINER_OF(w, hn_ev_link_t, rio);
    if (l->in_cap - l->in_len < READ_CHUNK) {
        size_t cap = l->in_cap ? l->in_cap * 2 : READ_CHUNK * 2;
        while (cap - l->in_len < READ_CHUNK)
            cap *= 2;
        if (cap > HN_EV_LINK_MAX_MSG + 4 + READ_CHUNK * 2) {
            die(l, "a frame longer than the largest message");
            return;
        }
        l->in = hn_xrealloc(l->in, cap);
        l->in_cap = cap;
    }
    ssize_t n = read(l->fd, l->in + l->in_len, l->in_cap - l->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    l->busy++;
    if (n <= 0) {
        die(l, n == 0 ? "closed by the peer" : strerror(errno));
    } else {
        l->in_len += (size_t)n;
        deliver(l);
        /* an idle link keeps no big buffer */
        if (l->in_len == 0 && l->in_cap > READ_CHUNK * 2) {
            free(l->in);
            l->in = NULL;
            l->in_cap = 0;
        }
    }
    l->busy--;
    if (l->freed && l->busy == 0)
        destroy(l);
}

hn_ev_link_t *
hn_ev_link_new(struct ev_loop *loop, int fd, hn_ev_link_msg_fn on_msg,
               hn_ev_link_closed_fn on_closed, void *ud)
{
    hn_ev_link_t *l = hn_xcalloc(1, sizeof(*l));
    l->loop = loop;
    l->fd = fd;
    l->on_msg = on_msg;
    l->on_closed = on_closed;
    l->ud = ud;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    ev_io_init(&l->rio, on_readable, fd, EV_READ);
    ev_io_init(&l->wio, on_writable, fd, EV_WRITE);
    ev_io_start(loop, &l->rio);
    return l;
}

void
hn_ev_link_free(hn_ev_link_t *l)
{
    if (l == NULL)
        return;
    ev_io_stop(l->loop, &l->rio);
    ev_io_stop(l->loop, &l->wio);
    l->dead = true;
    if (l->busy) {
        l->freed = true;
        return;
    }
    destroy(l);
}
