/*
 * h2.c - the HTTP/2 protocol (see h2.h) on an nghttp2 server session. The
 * session reads from the transport's bytes (mem_recv) and its output is
 * produced in the flush pass (mem_send), never from inside its own
 * callbacks. Response bodies wait in per-stream segments until flow control
 * lets a DATA frame out; the frame is then written straight into the
 * transport (NO_COPY), so a body byte is copied once into the segment and
 * once into the write queue, and file ranges are read into the queue.
 *
 * nghttp2 is unsafe until configured: hornet sends its own SETTINGS (it
 * would allow unlimited streams otherwise) and turns on the library's
 * CONTINUATION, reset-rate, SETTINGS and outbound-ack limits. nghttp2 has no
 * "glitch" budget, so this file counts what a well-behaved client never
 * causes (server-side resets, invalid frames, empty DATA frames, header
 * blocks over budget) and closes a connection that spends its budget.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/h2.h"

#include <errno.h>
#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "shared/buf.h"
#include "shared/cfg.h"
#include "shared/headers.h"
#include "shared/log.h"
#include "shared/str.h"
#include "worker/app.h"
#include "worker/conn.h"
#include "worker/forwarded.h"
#include "worker/request.h"
#include "worker/worker.h"
#include "worker/ws.h"

/* The glitch budget: a burst, refilled at a steady rate per second. */
#define GLITCH_BURST 100.0
#define GLITCH_RATE 10.0
/* nghttp2's reset-rate limit (rapid reset): burst and per-second rate. */
#define RESET_BURST 1000
#define RESET_RATE 100
/* Frames of one header block (CONTINUATION flood). */
#define MAX_CONTINUATIONS 8
/* SETTINGS entries per frame, and queued control-frame answers (PING,
 * SETTINGS acks) a client that does not read may pile up. */
#define MAX_SETTINGS 32
#define MAX_OUTBOUND_ACK 1000
/* Per-stream receive window: uploads run at full speed on a fast link. */
#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (4 << 20)

/* A piece of a response body waiting for flow control, or of a request body
 * held while its app paused it (the same chunks, the other way). */
typedef struct out_seg {
    struct out_seg *next;
    int fd;        /* a file range, or -1 for bytes in data[] */
    off_t offset;  /* file: next byte */
    size_t len;    /* bytes left */
    size_t start;  /* data: first unsent byte */
    char data[];   /* data: the rest of a buffer chunk */
} out_seg_t;

#define SEG_CAP (HN_BUF_CHUNK_SIZE - offsetof(out_seg_t, data))

struct h2;

/* One stream. It lives at the start of a buffer chunk, its arena after it,
 * as h1's requests do. */
typedef struct h2_stream {
    hn_request_t req;
    hn_arena_t arena;
    struct h2 *h2;                  /* NULL once the stream closed */
    struct h2_stream *prev, *next;  /* the connection's open streams */
    int32_t id;
    size_t header_bytes;
    size_t headers_cap;
    uint64_t body_bytes;
    const char *authority;
    size_t authority_len;
    const char *host;       /* a host header, which nghttp2 lets through once at most */
    size_t host_len;
    const char *protocol;   /* :protocol of an extended CONNECT (RFC 8441) */
    size_t protocol_len;
    out_seg_t *out_head, *out_tail;
    size_t out_bytes;  /* bytes in data segments (the app's backpressure) */
    size_t out_total;  /* plus file bytes */
    size_t withheld;   /* DATA bytes taken while paused and not yet given back as window */
    out_seg_t *in_head, *in_tail; /* DATA held while the app paused the body (read_pause) */
    size_t in_bytes;   /* their length: not given back as window until delivered */
    nghttp2_nv *trailers;
    size_t n_trailers;
    ev_timer body_timer;  /* read_timeout between DATA frames of a request body */
    bool app_called;      /* plain bool: hn_request_end takes its address */
    bool has_host : 1;
    bool out_last : 1;    /* the app sent its last byte */
    bool deferred : 1;    /* nghttp2 waits for data (NGHTTP2_ERR_DEFERRED) */
    bool no_body : 1;     /* HEAD, 1xx, 204, 304: headers end the stream */
    bool is_paused : 1;   /* the app was told on_pause */
    bool is_read_paused : 1; /* the app paused its body (read_pause) */
    bool end_held : 1;    /* END_STREAM came while the body was held: on_body_end waits */
    bool sent_all : 1;    /* END_STREAM went out */
    bool refused : 1;     /* answered by us (413, 400): the rest is ignored */
    bool body_ended : 1;  /* on_body_end was delivered */
    bool started : 1;     /* the head is complete: counted in n_started */
    bool field_too_large : 1; /* a header field over max_header_field_size: 431 */
    bool path_too_long : 1;   /* :path over max_request_line_size: 414 */
} h2_stream_t;

typedef struct h2 {
    hn_protocol_t super;
    nghttp2_session *session;
    h2_stream_t *streams;
    unsigned n_streams;
    unsigned n_started;   /* streams whose request head is complete */
    double glitch_tokens;
    double glitch_at;
    bool is_draining : 1;
    bool goaway_final : 1; /* the GOAWAY naming the last stream served is queued */
    bool is_fatal : 1;     /* nghttp2 gave up on the connection: input is ignored */
    bool is_closing : 1;
    bool is_write_paused : 1;
    bool want_resume : 1; /* some stream's output drained below the low mark */
    bool want_redeliver : 1; /* some stream's held body may go to its app */
} h2_t;

static const hn_stream_ops_t h2_stream_ops;
static const hn_protocol_ops_t h2_ops;
static void on_body_timeout(struct ev_loop *loop, ev_timer *w, int revents);
static const hn_config_t *cfg;

#define STREAM_OF(r) HN_CONTAINER_OF((r), h2_stream_t, req)

static void begin_close(h2_t *h, bool abort);

static void
want_flush(h2_t *h)
{
    hn_conn_mark_pending(hn_conn_of(h->super.transport));
}

static const char *
peer_text(h2_t *h, char *buf, size_t size)
{
    return hn_conn_peer(hn_conn_of(h->super.transport), buf, size);
}

/* Something a correct client does not cause. Spending the budget ends the
 * connection with ENHANCE_YOUR_CALM; other connections go on. */
static void
glitch(h2_t *h, const char *what)
{
    if (h->goaway_final || h->is_closing)
        return; /* already on its way out: said once */
    double now = ev_time();
    h->glitch_tokens += (now - h->glitch_at) * GLITCH_RATE;
    if (h->glitch_tokens > GLITCH_BURST)
        h->glitch_tokens = GLITCH_BURST;
    h->glitch_at = now;
    h->glitch_tokens -= 1.0;
    if (h->glitch_tokens >= 0)
        return;
    char peer[HN_ADDR_TEXT_MAX];
    hn_log(HN_LOG_WARN, "client %s: too many HTTP/2 errors (last: %s); closing the connection",
           peer_text(h, peer, sizeof(peer)), what);
    nghttp2_session_terminate_session(h->session, NGHTTP2_ENHANCE_YOUR_CALM);
    h->is_draining = h->goaway_final = true;
    want_flush(h);
}

/* --- streams -------------------------------------------------------------- */

static h2_stream_t *
stream_new(h2_t *h, int32_t id)
{
    char *chunk = hn_buf_get();
    h2_stream_t *s = (h2_stream_t *)(void *)chunk;
    size_t cap = (size_t)cfg->max_header_count + 1; /* + host from :authority */
    hn_request_start_in_chunk(chunk, sizeof(*s), &s->req, &s->arena, &h2_stream_ops, h,
                              h->super.transport->is_secure, cap);
    s->headers_cap = cap;
    s->h2 = h;
    s->id = id;
    s->req.http_version = "2";
    ev_init(&s->body_timer, on_body_timeout);
    s->next = h->streams;
    if (h->streams)
        h->streams->prev = s;
    h->streams = s;
    h->n_streams++;
    return s;
}

/* Data segments are buffer chunks; a file segment is a small malloc that
 * owns its descriptor. */
static void
seg_free(out_seg_t *g)
{
    if (g->fd >= 0) {
        close(g->fd);
        free(g);
    } else {
        hn_buf_put((char *)g);
    }
}

/* Copy len bytes to the end of a segment list (the response's, or a held
 * request body's), filling its last data segment first. */
static void
segs_append(out_seg_t **head, out_seg_t **tail, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        out_seg_t *g = *tail;
        if (g == NULL || g->fd >= 0 || g->start + g->len == SEG_CAP) {
            g = (out_seg_t *)(void *)hn_buf_get();
            g->next = NULL;
            g->fd = -1;
            g->len = g->start = 0;
            if (*tail)
                (*tail)->next = g;
            else
                *head = g;
            *tail = g;
        }
        size_t k = HN_MIN(len, SEG_CAP - (g->start + g->len));
        memcpy(g->data + g->start + g->len, p, k);
        g->len += k;
        p += k;
        len -= k;
    }
}

static void
segs_clear(out_seg_t **head, out_seg_t **tail)
{
    while (*head) {
        out_seg_t *g = *head;
        *head = g->next;
        seg_free(g);
    }
    *tail = NULL;
}

static void
segs_free(h2_stream_t *s)
{
    segs_clear(&s->out_head, &s->out_tail);
    s->out_bytes = s->out_total = 0;
    segs_clear(&s->in_head, &s->in_tail);
    s->in_bytes = 0;
}

static void
stream_chunk_free(h2_stream_t *s)
{
    hn_request_chunk_free((char *)s, &s->arena);
}

static void
h2_release(hn_request_t *r)
{
    stream_chunk_free(STREAM_OF(r));
}

/* The stream is over: the app hears on_end (response complete) or
 * on_abort, and its memory goes back now or after the bridge's release. */
static void
stream_close(h2_t *h, h2_stream_t *s, bool complete)
{
    hn_request_t *r = &s->req;
    if (s->prev)
        s->prev->next = s->next;
    else
        h->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->n_streams--;
    if (s->started)
        h->n_started--;
    ev_timer_stop(hn_conn_loop(), &s->body_timer);
    s->h2 = NULL;
    segs_free(s);
    hn_request_end(r, complete && r->resp_state == HN_RESP_DONE, &s->app_called);
    if (r->is_held) {
        r->proto = NULL;
    } else {
        stream_chunk_free(s);
    }
    if (h->n_started == 0 && !h->is_closing && !h->is_draining)
        hn_conn_set_timer(hn_conn_of(h->super.transport), cfg->keep_alive_timeout);
}

/* A response of our own (400, 413): the app, if it was called, is told
 * the request failed; the client gets the status and the stream ends. */
static void
respond_error(h2_t *h, h2_stream_t *s, int status, const char *why)
{
    char peer[HN_ADDR_TEXT_MAX];
    hn_log(HN_LOG_INFO, "client %s: %d %s: %s (HTTP/2 stream %d)", peer_text(h, peer, sizeof(peer)),
           status, hn_headers_reason(status), why, (int)s->id);
    hn_request_t *r = &s->req;
    s->refused = true;
    if (r->resp_state != HN_RESP_NONE) {
        nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        want_flush(h);
        return;
    }
    if (s->app_called) {
        s->app_called = false;
        r->app->on_abort(r);
    }
    /* the stream's own memory carries the body until it is sent */
    char body[64];
    int blen = snprintf(body, sizeof(body), "%d %s\n", status, hn_headers_reason(status));
    r->app = NULL;
    if (r->method == NULL) {
        r->method = "GET";
        r->method_len = 3;
    }
    if (r->path == NULL) {
        r->path = r->raw_path = "";
        r->query = "";
    }
    hn_response_simple(r, status, "text/plain; charset=utf-8", body, (size_t)blen);
}

/* --- receiving ------------------------------------------------------------ */

static int
on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    h2_t *h = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream_t *s = stream_new(h, frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s);
    return 0;
}

static bool
name_is(const uint8_t *name, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(name, lit, len) == 0;
}

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
          size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    h2_t *h = ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    /* the decoded size, as SETTINGS_MAX_HEADER_LIST_SIZE counts it: an HPACK
     * bomb or a flood of tiny headers is stopped here, not after */
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > cfg->h2_max_header_list_size) {
        glitch(h, "header block over h2_max_header_list_size");
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers: counted, not kept (as in HTTP/1.1) */
    if (name_is(name, namelen, ":path")) {
        if (valuelen > cfg->max_request_line_size) {
            /* the request line's limit, not a header field's: 414, as HTTP/1.1 */
            s->path_too_long = true;
            return 0;
        }
    } else if (namelen + valuelen > cfg->max_header_field_size) {
        /* answered with 431 once the block is complete, as HTTP/1.1 is */
        s->field_too_large = true;
        return 0;
    }
    hn_request_t *r = &s->req;
    const char *v = hn_arena_strndup(&s->arena, (const char *)value, valuelen);
    if (namelen > 0 && name[0] == ':') {
        /* pseudo-headers become the scope, never headers the app sees
         * (Hypercorn's filter_pseudo_headers); nghttp2 checked their set */
        if (name_is(name, namelen, ":method")) {
            r->method = v;
            r->method_len = valuelen;
        } else if (name_is(name, namelen, ":path")) {
            r->raw_path = v;
            r->raw_path_len = valuelen;
        } else if (name_is(name, namelen, ":authority")) {
            s->authority = v;
            s->authority_len = valuelen;
        } else if (name_is(name, namelen, ":protocol")) {
            s->protocol = v;
            s->protocol_len = valuelen;
        }
        return 0;
    }
    if (r->n_headers + 1 >= s->headers_cap) {
        glitch(h, "more headers than max_header_count");
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    hn_header_t *hd = &r->headers[r->n_headers++];
    hd->name = hn_arena_strndup(&s->arena, (const char *)name, namelen);
    hd->name_len = namelen;
    hd->value = v;
    hd->value_len = valuelen;
    if (name_is(name, namelen, "host")) {
        s->has_host = true;
        s->host = v;
        s->host_len = valuelen;
    } else if (name_is(name, namelen, "content-length")) {
        int64_t n = 0;
        for (size_t i = 0; i < valuelen && n >= 0; i++)
            n = (v[i] >= '0' && v[i] <= '9' && n < INT64_MAX / 10) ? n * 10 + (v[i] - '0') : -1;
        r->content_length = n; /* nghttp2 checks it against the DATA received */
    }
    return 0;
}

/* nghttp2 checks the characters of :authority and host; the grammar is
 * ours, uri-host[:port] as HTTP/1.1's Host gets, and when both are sent
 * they must name the same origin (RFC 9113 §8.3.1), or the app and
 * server_names would each believe a different one. */
static bool
authority_valid(const h2_stream_t *s)
{
    if (s->authority && !hn_headers_valid_host(s->authority, s->authority_len))
        return false;
    if (s->host && !hn_headers_valid_host(s->host, s->host_len))
        return false;
    return s->authority == NULL || s->host == NULL ||
           (s->authority_len == s->host_len &&
            strncasecmp(s->authority, s->host, s->host_len) == 0);
}

static void
start_request(h2_t *h, h2_stream_t *s, bool end_stream)
{
    hn_request_t *r = &s->req;
    /* The idle timer ran until now: a header block that never completes
     * (a CONTINUATION that never comes) is bounded by keep_alive_timeout,
     * like an HTTP/1.1 head. A request in progress is not idle. */
    s->started = true;
    if (h->n_started++ == 0 && !h->is_draining)
        hn_conn_set_timer(hn_conn_of(h->super.transport), 0);
    r->has_body = !end_stream;
    r->body_done = end_stream;
    r->start_time = ev_time();
    hn_conn_fill_addresses(hn_conn_of(h->super.transport), r);
    if (!s->has_host && s->authority) {
        /* what an HTTP/1.1 app expects to find (Hypercorn does the same) */
        hn_header_t *hd = &r->headers[r->n_headers++];
        *hd = (hn_header_t){"host", 4, s->authority, s->authority_len};
    }
    hn_forwarded_apply(r, cfg);
    if (s->path_too_long) {
        respond_error(h, s, 414, ":path larger than max_request_line_size");
        return;
    }
    if (s->field_too_large) {
        respond_error(h, s, 431, "header field larger than max_header_field_size");
        return;
    }
    if (r->method == NULL || hn_request_set_target(r, r->raw_path, r->raw_path_len) != 0) {
        respond_error(h, s, 400, "malformed :path");
        return;
    }
    if (!authority_valid(s)) {
        respond_error(h, s, 400, "invalid :authority or Host, or the two differ");
        return;
    }
    if (!hn_request_host_allowed(r, cfg->server_names, cfg->n_server_names)) {
        respond_error(h, s, 421, ":authority (or Host) not in server_names");
        return;
    }
    if (s->protocol) {
        /* nghttp2 let :protocol through only on a CONNECT, as we enabled it */
        int st = hn_ws_handshake_h2(r, s->protocol, s->protocol_len);
        if (st) {
            respond_error(h, s, st, st == 501 ? "extended CONNECT for a protocol other "
                                                "than websocket" : "WebSocket version not 13");
            return;
        }
    }
    uint64_t limit = cfg->max_body_size;
    if (limit && r->content_length > 0 && (uint64_t)r->content_length > limit) {
        respond_error(h, s, 413, "content-length over max_body_size");
        return;
    }
    if (hn_request_redirect_to_https(r, cfg)) {
        s->refused = true; /* the body, if any, is not the app's */
        return;
    }
    r->app = hn_worker_app();
    s->app_called = true;
    if (r->has_body && !r->is_websocket && cfg->read_timeout > 0) {
        s->body_timer.repeat = cfg->read_timeout;
        ev_timer_again(hn_conn_loop(), &s->body_timer);
    }
    r->app->on_request(r);
}

/* A request body stalled for read_timeout (slow-body attack or a dead
 * client): the stream gets 408 if nothing was answered yet, else a reset;
 * the connection's other streams go on. DATA that came while the loop was
 * stalled is read first (hn_conn_read_late): the timer still runs (it
 * repeats), so DATA for this stream restarts it, and the stream may end or
 * go, which is why it is looked up again by its id. */
static void
on_body_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    h2_stream_t *s = HN_CONTAINER_OF(w, h2_stream_t, body_timer);
    h2_t *h = s->h2;
    if (h == NULL || s->body_ended) {
        ev_timer_stop(loop, w);
        return;
    }
    if (s->withheld || s->is_read_paused || s->in_head) {
        /* the client waits for the window we withhold: the stall is ours */
        ev_timer_again(loop, w);
        return;
    }
    int32_t id = s->id;
    uint64_t seen = s->body_bytes;
    hn_conn_read_late(hn_conn_of(h->super.transport));
    s = nghttp2_session_get_stream_user_data(h->session, id);
    if (s == NULL || s->body_ended || s->body_bytes != seen)
        return;
    ev_timer_stop(loop, &s->body_timer);
    if (s->req.resp_state == HN_RESP_NONE) {
        respond_error(h, s, 408, "request body read timed out (read_timeout)");
    } else {
        nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
        want_flush(h);
    }
}

static void
body_end(h2_stream_t *s)
{
    hn_request_t *r = &s->req;
    if (s->body_ended)
        return;
    if (s->is_read_paused || s->in_head) {
        /* the end follows the held bytes (redeliver) */
        s->end_held = true;
        ev_timer_stop(hn_conn_loop(), &s->body_timer);
        return;
    }
    s->end_held = false;
    s->body_ended = true;
    r->body_done = true;
    ev_timer_stop(hn_conn_loop(), &s->body_timer);
    if (s->app_called && !s->refused)
        r->app->on_body_end(r);
}

static int
on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    h2_t *h = ud;
    h2_stream_t *s = frame->hd.stream_id
                         ? nghttp2_session_get_stream_user_data(session, frame->hd.stream_id)
                         : NULL;
    bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (s == NULL)
            break;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            start_request(h, s, end);
        if (end)
            body_end(s);
        break;
    case NGHTTP2_DATA:
        if (frame->hd.length == 0 && !end)
            glitch(h, "empty DATA frame");
        if (s && end)
            body_end(s);
        break;
    default:
        break;
    }
    return 0;
}

/* The app takes len bytes of body. The window reopens as it does, except
 * while its output to this client is stalled: then they are withheld, the
 * client's window runs out and it stops sending, as HTTP/1.1 stops reading.
 * Without this an app that answers as it receives (an echo, a WebSocket)
 * would buffer whatever a client sends and never reads. */
static void
deliver(h2_t *h, h2_stream_t *s, const uint8_t *data, size_t len)
{
    hn_request_t *r = &s->req;
    if (s->app_called)
        r->app->on_body(r, (const char *)data, len);
    if (s->is_paused && !s->refused)
        s->withheld += len;
    else
        nghttp2_session_consume(h->session, s->id, len);
}

/* Keep DATA for a paused body, its window not given back: the client can
 * send at most the stream's window (STREAM_WINDOW) more, which bounds what
 * is held here. */
static void
hold(h2_stream_t *s, const uint8_t *data, size_t len)
{
    segs_append(&s->in_head, &s->in_tail, data, len);
    s->in_bytes += len;
}

static int
on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                   const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    h2_t *h = ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s != NULL && !s->refused) {
        s->body_bytes += len;
        uint64_t limit = s->req.is_websocket ? 0 : cfg->max_body_size; /* frames have their own */
        if (limit && s->body_bytes > limit)
            respond_error(h, s, 413, "body over max_body_size");
        else if (ev_is_active(&s->body_timer))
            ev_timer_again(hn_conn_loop(), &s->body_timer);
    }
    if (s == NULL || s->refused)
        nghttp2_session_consume(session, stream_id, len);
    else if (s->is_read_paused || s->in_head)
        hold(s, data, len); /* behind what is already held, in order */
    else
        deliver(h, s, data, len);
    return 0;
}

/* Held bodies go to apps that resumed them, from the flush pass (never from
 * inside read_pause), with their window; an app may pause again midway. */
static void
redeliver(h2_t *h)
{
    if (!h->want_redeliver)
        return;
    h->want_redeliver = false;
    for (h2_stream_t *s = h->streams; s; s = s->next) {
        while (s->in_head && !s->is_read_paused && !s->refused && s->h2) {
            out_seg_t *g = s->in_head;
            s->in_head = g->next;
            if (s->in_head == NULL)
                s->in_tail = NULL;
            s->in_bytes -= g->len;
            deliver(h, s, (const uint8_t *)g->data + g->start, g->len);
            seg_free(g);
        }
        if (s->end_held && !s->in_head && !s->is_read_paused)
            body_end(s);
    }
}

static void
h2_read_pause(hn_request_t *r, bool paused)
{
    h2_stream_t *s = STREAM_OF(r);
    h2_t *h = s->h2;
    if (h == NULL || s->is_read_paused == paused)
        return;
    s->is_read_paused = paused;
    if (!paused && (s->in_head || s->end_held)) {
        h->want_redeliver = true;
        want_flush(h);
    }
}

static int
on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *ud)
{
    h2_t *h = ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    /* what the stream withheld or held belongs to the connection's window too */
    if (s->withheld + s->in_bytes)
        nghttp2_session_consume_connection(session, s->withheld + s->in_bytes);
    stream_close(h, s, error_code == NGHTTP2_NO_ERROR && s->sent_all);
    want_flush(h);
    return 0;
}

static int
on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    h2_t *h = ud;
    if (frame->hd.type == NGHTTP2_RST_STREAM && frame->rst_stream.error_code != NGHTTP2_NO_ERROR) {
        /* a reset the client provoked counts as well (MadeYouReset) */
        glitch(h, "stream reset by the server");
        return 0;
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        h2_stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (s == NULL)
            return 0;
        s->sent_all = true;
        /* answered before the whole body came: stop the upload (RFC 9113 §8.1);
         * a WebSocket's client ends its side itself, as TCP's FIN (RFC 8441 §4) */
        if (!s->req.body_done && !s->req.is_tunnel)
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

static int
on_invalid_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, int err, void *ud)
{
    (void)session;
    (void)frame;
    glitch(ud, nghttp2_strerror(err));
    return 0;
}

/* --- sending -------------------------------------------------------------- */

static ssize_t
read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
          uint32_t *flags, nghttp2_data_source *source, void *ud)
{
    (void)buf;
    (void)ud;
    h2_stream_t *s = source->ptr;
    size_t n = HN_MIN(length, s->out_total);
    if (n == 0 && !s->out_last) {
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > 0)
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == s->out_total && s->out_last) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (s->n_trailers) {
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_submit_trailer(session, stream_id, s->trailers, s->n_trailers);
        }
    }
    return (ssize_t)n;
}

/* A DATA frame leaves: its header, then its payload straight from the
 * stream's segments into the transport's queue. */
static int
send_data(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
          nghttp2_data_source *source, void *ud)
{
    (void)session;
    (void)frame;
    h2_t *h = ud;
    h2_stream_t *s = source->ptr;
    hn_transport_t *t = h->super.transport;
    /* one mem_send call would otherwise push every frame the flow-control
     * windows allow (megabytes) into the queue: stop at the high mark, and
     * nghttp2 offers this frame again after resume_writing */
    if (h->is_write_paused)
        return NGHTTP2_ERR_WOULDBLOCK;
    t->ops->write(t, framehd, 9);
    size_t left = length;
    while (left > 0 && s->out_head) {
        out_seg_t *g = s->out_head;
        size_t k = HN_MIN(left, g->len);
        if (g->fd >= 0) {
            k = HN_MIN(k, (size_t)HN_BUF_CHUNK_SIZE / 2);
            char *dst = t->ops->reserve(t, k);
            if (dst == NULL)
                return NGHTTP2_ERR_CALLBACK_FAILURE; /* the transport is closing */
            ssize_t got = pread(g->fd, dst, k, g->offset);
            if (got <= 0) {
                hn_log(HN_LOG_ERROR, "HTTP/2 stream %d: reading the file failed: %s", (int)s->id,
                       got < 0 ? strerror(errno) : "it shrank");
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            }
            t->ops->commit(t, (size_t)got);
            k = (size_t)got;
            g->offset += got;
        } else {
            t->ops->write(t, g->data + g->start, k);
            g->start += k;
            s->out_bytes -= k;
        }
        g->len -= k;
        s->out_total -= k;
        left -= k;
        if (g->len == 0) {
            s->out_head = g->next;
            if (s->out_head == NULL)
                s->out_tail = NULL;
            seg_free(g);
        }
    }
    s->req.resp_body_bytes += length;
    if (s->is_paused && s->out_bytes < HN_WRITE_LOW_WATER)
        h->want_resume = true;
    return 0;
}

/* Streams whose output drained hear on_resume, outside nghttp2's calls. */
static void
notify_resumed(h2_t *h)
{
    if (!h->want_resume)
        return;
    h->want_resume = false;
    for (h2_stream_t *s = h->streams; s; s = s->next)
        if (s->is_paused && s->out_bytes < HN_WRITE_LOW_WATER && s->app_called) {
            s->is_paused = false;
            if (s->withheld) {
                /* the WINDOW_UPDATE goes out in the next round of the flush pass */
                nghttp2_session_consume(h->session, s->id, s->withheld);
                s->withheld = 0;
                want_flush(h);
            }
            s->req.app->on_resume(&s->req);
        }
}

static void
h2_flush(hn_protocol_t *p)
{
    h2_t *h = (h2_t *)p;
    hn_transport_t *t = p->transport;
    if (h->is_closing)
        return;
    redeliver(h);
    /* produce while the transport takes it: its high-water mark pauses us
     * (pause_writing), and HTTP/2 flow control bounds each stream */
    while (!h->is_write_paused || h->is_fatal) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(h->session, &data);
        if (n < 0) {
            hn_log(HN_LOG_ERROR, "HTTP/2: %s", nghttp2_strerror((int)n));
            begin_close(h, true);
            return;
        }
        if (n == 0)
            break;
        t->ops->write(t, data, (size_t)n);
    }
    notify_resumed(h);
    if (h->is_fatal)
        begin_close(h, false); /* the GOAWAY is queued: flushed, then closed */
    else if (!nghttp2_session_want_read(h->session) && !nghttp2_session_want_write(h->session))
        begin_close(h, false); /* GOAWAY sent and every stream done */
    else if (h->goaway_final && h->n_streams == 0 && !nghttp2_session_want_write(h->session))
        begin_close(h, false);
}

/* --- stream ops: the app's response ------------------------------------- */

#define NV(n, nl, v, vl)                                                                           \
    ((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), (nl), (vl), NGHTTP2_NV_FLAG_NONE})

static bool
is_connection_header(const hn_header_t *hd)
{
#define NAME(lit) {lit, sizeof(lit) - 1}
    static const hn_str_t names[] = {NAME("connection"), NAME("keep-alive"),
                                     NAME("transfer-encoding"), NAME("upgrade"),
                                     NAME("proxy-connection")};
#undef NAME
    for (size_t i = 0; i < HN_ARRAY_LEN(names); i++)
        if (hn_mem_case_eq(hd->name, hd->name_len, names[i].ptr, names[i].len))
            return true;
    return false;
}

/* Headers for nghttp2: lower-case names (HTTP/2 requires them), no
 * connection-specific fields (RFC 9113 §8.2.2). nghttp2 copies a response
 * head when it is submitted; trailers are submitted later, after the app's
 * call returned, so keep says to copy them into the stream's arena. */
static size_t
build_nv(h2_stream_t *s, nghttp2_nv *nv, const hn_header_t *headers, size_t n, bool keep,
         bool *has_date, bool *has_server)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const hn_header_t *hd = &headers[i];
        if (is_connection_header(hd))
            continue;
        const char *name = hd->name, *value = hd->value;
        bool upper = false;
        for (size_t j = 0; j < hd->name_len && !upper; j++)
            upper = hd->name[j] >= 'A' && hd->name[j] <= 'Z';
        if (upper || keep) { /* most apps write lower case already: copy only when not */
            char *low = hn_arena_strndup(&s->arena, hd->name, hd->name_len);
            hn_str_lower(low, hd->name_len);
            name = low;
        }
        if (keep)
            value = hn_arena_strndup(&s->arena, hd->value, hd->value_len);
        if (has_date && hn_mem_case_eq(name, hd->name_len, "date", 4))
            *has_date = true;
        if (has_server && hn_mem_case_eq(name, hd->name_len, "server", 6))
            *has_server = true;
        nv[k++] = NV(name, hd->name_len, value, hd->value_len);
    }
    return k;
}

static int
h2_send_head(hn_request_t *r, int status, const hn_header_t *headers, size_t n,
             int64_t content_length)
{
    (void)content_length;
    h2_stream_t *s = STREAM_OF(r);
    h2_t *h = s->h2;
    if (h == NULL || h->is_closing)
        return HN_ERR;
    nghttp2_nv *nv = hn_arena_alloc(&s->arena, (n + 3) * sizeof(*nv));
    char *st = hn_arena_alloc(&s->arena, 4);
    st[0] = (char)('0' + status / 100);
    st[1] = (char)('0' + status / 10 % 10);
    st[2] = (char)('0' + status % 10);
    st[3] = '\0';
    bool has_date = false, has_server = false;
    size_t k = 0;
    nv[k++] = NV(":status", 7, st, 3);
    k += build_nv(s, nv + k, headers, n, false, &has_date, &has_server);
    if (cfg->include_date_header && !has_date)
        nv[k++] = NV("date", 4, hn_headers_date_now(), HN_HTTP_DATE_LEN);
    if (cfg->include_server_header && !has_server)
        nv[k++] = NV("server", 6, "hornet", 6);
    s->no_body = hn_headers_suppress_body(r->method, r->method_len, status);
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = read_body};
    int rv = nghttp2_submit_response(h->session, s->id, nv, k, s->no_body ? NULL : &prd);
    if (rv != 0)
        return HN_ERR;
    want_flush(h);
    return HN_OK;
}

/* A 1xx head (103 Early Hints): HEADERS without END_STREAM before the
 * final response's (RFC 9113 §8.1). nghttp2 copies the fields. */
static int
h2_send_informational(hn_request_t *r, int status, const hn_header_t *headers, size_t n)
{
    h2_stream_t *s = STREAM_OF(r);
    h2_t *h = s->h2;
    if (h == NULL || h->is_closing)
        return HN_ERR;
    nghttp2_nv *nv = hn_arena_alloc(&s->arena, (n + 1) * sizeof(*nv));
    char st[3] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10),
                  (char)('0' + status % 10)};
    size_t k = 0;
    nv[k++] = NV(":status", 7, st, 3);
    for (size_t i = 0; i < n; i++) {
        /* RFC 9110 §8.6: no Content-Length in a 1xx */
        if (!hn_mem_case_eq(headers[i].name, headers[i].name_len, "content-length", 14))
            k += build_nv(s, nv + k, &headers[i], 1, false, NULL, NULL);
    }
    if (nghttp2_submit_headers(h->session, NGHTTP2_FLAG_NONE, s->id, NULL, nv, k, NULL) < 0)
        return HN_ERR;
    want_flush(h);
    return HN_OK;
}

static void
resume(h2_t *h, h2_stream_t *s)
{
    if (s->deferred) {
        s->deferred = false;
        nghttp2_session_resume_data(h->session, s->id);
    }
    want_flush(h);
}

static int
h2_send_data(hn_request_t *r, const void *data, size_t len, bool last)
{
    h2_stream_t *s = STREAM_OF(r);
    h2_t *h = s->h2;
    if (h == NULL || h->is_closing)
        return HN_ERR;
    if (s->no_body)
        len = 0;
    segs_append(&s->out_head, &s->out_tail, data, len);
    s->out_bytes += len;
    s->out_total += len;
    if (last)
        s->out_last = true;
    if (!s->is_paused && s->out_bytes > HN_WRITE_HIGH_WATER && s->app_called) {
        /* the client (or its flow-control window) is slower than the app */
        s->is_paused = true;
        r->app->on_pause(r);
    }
    resume(h, s);
    return HN_OK;
}

static int
h2_send_file(hn_request_t *r, int fd, off_t offset, size_t len, bool last)
{
    h2_stream_t *s = STREAM_OF(r);
    h2_t *h = s->h2;
    if (h == NULL || h->is_closing || s->no_body || len == 0) {
        close(fd);
        if (h && !h->is_closing && last)
            return h2_send_data(r, NULL, 0, true);
        return h ? HN_OK : HN_ERR;
    }
    out_seg_t *g = hn_xmalloc(sizeof(*g));
    *g = (out_seg_t){.next = NULL, .fd = fd, .offset = offset, .len = len};
    if (s->out_tail)
        s->out_tail->next = g;
    else
        s->out_head = g;
    s->out_tail = g;
    s->out_total += len;
    if (last)
        s->out_last = true;
    resume(h, s);
    return HN_OK;
}

static int
h2_send_trailers(hn_request_t *r, const hn_header_t *trailers, size_t n)
{
    h2_stream_t *s = STREAM_OF(r);
    h2_t *h = s->h2;
    if (h == NULL || h->is_closing)
        return HN_ERR;
    if (!s->no_body && n > 0) {
        s->trailers = hn_arena_alloc(&s->arena, n * sizeof(*s->trailers));
        s->n_trailers = build_nv(s, s->trailers, trailers, n, true, NULL, NULL);
    }
    s->out_last = true;
    resume(h, s);
    return HN_OK;
}

static size_t
h2_pending(const hn_request_t *r)
{
    const h2_stream_t *s = STREAM_OF(r);
    return s->h2 ? s->out_bytes : 0;
}

static void
h2_abort(hn_request_t *r)
{
    h2_stream_t *s = STREAM_OF(r);
    if (s->h2 == NULL)
        return;
    nghttp2_submit_rst_stream(s->h2->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
    want_flush(s->h2);
}

static const hn_stream_ops_t h2_stream_ops = {
    .abort = h2_abort,
    .send_head = h2_send_head,
    .send_informational = h2_send_informational,
    .send_data = h2_send_data,
    .send_file = h2_send_file,
    .send_trailers = h2_send_trailers,
    .pending = h2_pending,
    .release = h2_release,
    .read_pause = h2_read_pause,
};

/* --- protocol ops --------------------------------------------------------- */

static void
begin_close(h2_t *h, bool abort)
{
    if (h->is_closing)
        return;
    h->is_closing = true;
    h->super.transport->ops->close(h->super.transport, abort);
}

static void abort_all(h2_t *h);

/* How long a GOAWAY after a fatal error may take to leave. */
#define FATAL_GOAWAY_GRACE 1.0

/* Every error mem_recv returns ends the connection (nghttp2's contract).
 * A flood means the client does not read: close at once. Otherwise a
 * GOAWAY says why, with a bounded wait for it to leave. Either way the
 * rest of the input is ignored, so the error is logged once. */
static void
fatal(h2_t *h, int err)
{
    char peer[HN_ADDR_TEXT_MAX];
    hn_log(HN_LOG_INFO, "client %s: HTTP/2: %s; closing the connection",
           peer_text(h, peer, sizeof(peer)), nghttp2_strerror(err));
    h->is_fatal = true;
    h->is_draining = h->goaway_final = true;
    abort_all(h);
    if (err == NGHTTP2_ERR_FLOODED || err == NGHTTP2_ERR_BAD_CLIENT_MAGIC ||
        err == NGHTTP2_ERR_NOMEM) {
        begin_close(h, true);
        return;
    }
    bool calm = err == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS || err == NGHTTP2_ERR_TOO_MANY_SETTINGS;
    nghttp2_session_terminate_session(h->session,
                                      calm ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
    hn_conn_set_timer(hn_conn_of(h->super.transport), FATAL_GOAWAY_GRACE);
    want_flush(h);
}

static size_t
h2_data_received(hn_protocol_t *p, const char *data, size_t len)
{
    h2_t *h = (h2_t *)p;
    if (h->is_closing || h->is_fatal)
        return len;
    ssize_t n = nghttp2_session_mem_recv(h->session, (const uint8_t *)data, len);
    if (n < 0) {
        fatal(h, (int)n);
        return len;
    }
    want_flush(h);
    return len;
}

static void
abort_all(h2_t *h)
{
    while (h->streams) {
        h2_stream_t *s = h->streams;
        nghttp2_session_set_stream_user_data(h->session, s->id, NULL);
        stream_close(h, s, false);
    }
}

static void
h2_eof_received(hn_protocol_t *p)
{
    h2_t *h = (h2_t *)p;
    /* the client is gone: nothing it asked for can reach it */
    abort_all(h);
    begin_close(h, h->n_streams > 0);
}

static void
h2_connection_lost(hn_protocol_t *p, int err)
{
    (void)err;
    h2_t *h = (h2_t *)p;
    h->is_closing = true;
    abort_all(h);
    nghttp2_session_del(h->session);
    free(h);
}

static void
h2_pause_writing(hn_protocol_t *p)
{
    ((h2_t *)p)->is_write_paused = true;
}

static void
h2_resume_writing(hn_protocol_t *p)
{
    h2_t *h = (h2_t *)p;
    h->is_write_paused = false;
    want_flush(h);
}

/* How long after the first GOAWAY (the shutdown notice) the final one
 * follows: requests the client sent before it read the notice arrive in
 * the meantime and are served. */
#define DRAIN_NOTICE_GRACE 1.0

static void
final_goaway(h2_t *h)
{
    if (h->goaway_final)
        return;
    h->goaway_final = true;
    /* streams up to the last one begun finish; the client may retry the
     * rest elsewhere, knowing they were not processed (RFC 9113 §6.8) */
    nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(h->session), NGHTTP2_NO_ERROR,
                          NULL, 0);
    want_flush(h);
}

static void
h2_drain(hn_protocol_t *p)
{
    h2_t *h = (h2_t *)p;
    if (h->is_draining)
        return;
    h->is_draining = true;
    /* two GOAWAYs, as RFC 9113 §6.8 advises: a notice naming no stream
     * limit, then the real one once requests already on the wire are in */
    nghttp2_submit_shutdown_notice(h->session);
    hn_conn_set_timer(hn_conn_of(p->transport), DRAIN_NOTICE_GRACE);
    want_flush(h);
}

static void
h2_timeout(hn_protocol_t *p)
{
    h2_t *h = (h2_t *)p;
    if (h->is_fatal) {
        begin_close(h, true);
        return;
    }
    if (h->is_draining) {
        final_goaway(h);
        return;
    }
    /* idle for keep_alive_timeout (or stuck in a header block): say goodbye
     * properly; half-received heads are dropped with the connection */
    if (h->n_started == 0) {
        abort_all(h);
        nghttp2_session_terminate_session(h->session, NGHTTP2_NO_ERROR);
        h->is_draining = h->goaway_final = true;
        want_flush(h);
    }
}

static const hn_protocol_ops_t h2_ops = {
    .data_received = h2_data_received,
    .eof_received = h2_eof_received,
    .connection_lost = h2_connection_lost,
    .pause_writing = h2_pause_writing,
    .resume_writing = h2_resume_writing,
    .drain = h2_drain,
    .timeout = h2_timeout,
    .flush = h2_flush,
};

/* --- the session ---------------------------------------------------------- */

static nghttp2_session_callbacks *callbacks;
static nghttp2_option *options;

static void
setup_once(void)
{
    if (callbacks)
        return;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks,
                                                                 on_invalid_frame_recv);
    nghttp2_session_callbacks_set_send_data_callback(callbacks, send_data);
    nghttp2_option_new(&options);
    nghttp2_option_set_max_continuations(options, MAX_CONTINUATIONS);
    nghttp2_option_set_stream_reset_rate_limit(options, RESET_BURST, RESET_RATE);
    nghttp2_option_set_max_settings(options, MAX_SETTINGS);
    nghttp2_option_set_max_outbound_ack(options, MAX_OUTBOUND_ACK);
    /* closed streams are not kept around for the priority tree */
    nghttp2_option_set_no_closed_streams(options, 1);
    /* receive windows follow what the apps take (on_data_chunk_recv) */
    nghttp2_option_set_no_auto_window_update(options, 1);
}

hn_protocol_t *
hn_h2_new(hn_transport_t *t, const hn_config_t *config, bool is_draining)
{
    cfg = config;
    setup_once();
    h2_t *h = hn_xcalloc(1, sizeof(*h));
    h->super.ops = &h2_ops;
    h->super.transport = t;
    h->glitch_tokens = GLITCH_BURST;
    h->glitch_at = ev_time();
    if (nghttp2_session_server_new2(&h->session, callbacks, h, options) != 0)
        abort(); /* only on allocation failure, which hn_xmalloc also treats as fatal */
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)cfg->h2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)cfg->h2_max_header_list_size},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, (uint32_t)cfg->h2_max_inbound_frame_size},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1}, /* WebSocket (RFC 8441) */
    };
    nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, iv, HN_ARRAY_LEN(iv));
    nghttp2_session_set_local_window_size(h->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    hn_conn_set_timer(hn_conn_of(t), cfg->keep_alive_timeout);
    if (is_draining)
        h2_drain(&h->super);
    want_flush(h);
    return &h->super;
}

/* --- Upgrade: h2c (RFC 7540 §3.2) -------------------------------------- */

/* base64url, padding optional (RFC 7540 §3.2.1). Returns the length, or -1. */
static ssize_t
base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len && in[i] != '='; i++) {
        char c = in[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-' || c == '+' ? 62
                : c == '_' || c == '/' ? 63
                                       : -1;
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (ssize_t)n;
}

/* The request that asked for the upgrade becomes stream 1. Its head is
 * copied into the stream's own memory; hop-by-hop fields stay behind. */
static void
adopt_request(h2_stream_t *s, const hn_request_t *from)
{
    hn_request_t *r = &s->req;
    static const char *const hop[] = {"connection", "upgrade", "http2-settings", "keep-alive",
                                      "transfer-encoding"};
    r->method = hn_arena_strndup(&s->arena, from->method, from->method_len);
    r->method_len = from->method_len;
    size_t tlen = from->raw_path_len + (from->query_len ? 1 + from->query_len : 0);
    char *target = hn_arena_alloc(&s->arena, tlen + 1);
    memcpy(target, from->raw_path, from->raw_path_len);
    if (from->query_len) {
        target[from->raw_path_len] = '?';
        memcpy(target + from->raw_path_len + 1, from->query, from->query_len);
    }
    target[tlen] = '\0';
    r->raw_path = target;
    r->raw_path_len = tlen;
    for (size_t i = 0; i < from->n_headers && r->n_headers + 1 < s->headers_cap; i++) {
        const hn_header_t *hd = &from->headers[i];
        bool skip = false;
        for (size_t k = 0; k < HN_ARRAY_LEN(hop); k++)
            skip |= hn_mem_case_eq(hd->name, hd->name_len, hop[k], strlen(hop[k]));
        if (skip)
            continue;
        r->headers[r->n_headers++] = (hn_header_t){
            hn_arena_strndup(&s->arena, hd->name, hd->name_len), hd->name_len,
            hn_arena_strndup(&s->arena, hd->value, hd->value_len), hd->value_len};
        if (hd->name_len == 4 && memcmp(hd->name, "host", 4) == 0)
            s->has_host = true;
    }
}

hn_protocol_t *
hn_h2_upgrade(hn_transport_t *t, const hn_config_t *config, bool is_draining,
              const char *settings, size_t settings_len, const hn_request_t *req)
{
    h2_t *h = (h2_t *)hn_h2_new(t, config, is_draining);
    uint8_t payload[256];
    ssize_t n = base64url_decode(settings, settings_len, payload, sizeof(payload));
    bool head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
    h2_stream_t *s = stream_new(h, 1);
    if (n < 0 || nghttp2_session_upgrade2(h->session, payload, (size_t)n, head, s) != 0) {
        char peer[HN_ADDR_TEXT_MAX];
        hn_log(HN_LOG_INFO, "client %s: Upgrade: h2c with a malformed HTTP2-Settings",
               peer_text(h, peer, sizeof(peer)));
        stream_close(h, s, false);
        nghttp2_session_terminate_session(h->session, NGHTTP2_PROTOCOL_ERROR);
        h->is_draining = h->goaway_final = true;
        return &h->super;
    }
    adopt_request(s, req);
    start_request(h, s, true);
    body_end(s);
    return &h->super;
}

