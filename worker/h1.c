/*
 * h1.c - the HTTP/1.x protocol (see h1.h). Parsing is llhttp's, with every
 * lenient flag off; limits (head size, header count, body size) are counted
 * here because llhttp has none. The scope and response API are request.c's,
 * the bytes tcp.c's.
 *
 * One request is handled at a time. When its response is not finished by the
 * time the parser reaches the end of the request, the parser pauses
 * (HPE_PAUSED from on_message_complete) and the transport keeps the
 * pipelined bytes that follow until the response is done. The app's
 * read_pause pauses the parser the same way in the middle of a body (from
 * on_body or on_headers_complete); the transport keeps what it read.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/h1.h"

#include <ev.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/buf.h"
#include "shared/cfg.h"
#include "shared/headers.h"
#include "shared/log.h"
#include "shared/str.h"
#include "worker/accept.h"
#include "worker/access_log.h"
#include "worker/app.h"
#include "worker/conn.h"
#include "worker/forwarded.h"
#include "worker/h2.h"
#include "worker/request.h"
#include "worker/worker.h"
#include "worker/ws.h"

/* What exists only while a request does. It lives at the start of the
 * request's arena chunk, so an idle connection keeps none of it. */
typedef struct h1_req {
    hn_request_t req;
    hn_arena_t arena;
    /* head being parsed */
    char *field, *value;
    size_t field_len, value_len;
    size_t head_bytes;
    size_t headers_cap;
    uint64_t body_bytes;
    uint64_t resp_left;   /* body bytes still owed when the length is known */
    bool in_trailers;
    bool has_host;
    bool has_te;
    bool te_unknown;      /* a transfer coding other than chunked */
    bool expect_continue;
    bool expect_unknown;
    bool client_keep_alive;
    bool app_called;
    bool resp_chunked;
    bool resp_length_known;
    bool h2c_upgrade;     /* Upgrade: h2c accepted: HTTP/2 answers it as stream 1 */
    const char *h2_settings;
    size_t h2_settings_len;
} h1_req_t;

typedef struct h1 {
    hn_protocol_t super;
    llhttp_t parser;
    hn_request_t *req;    /* the request being parsed or answered, or NULL */
    h1_req_t *rq;         /* its container */
    const char *exec_start; /* the buffer llhttp is executing, for look-behind */
    const char *error_why; /* why our own checks refused the request */
    const char *error_header; /* a header line the refusal must carry */
    unsigned requests;    /* requests begun on this connection */
    int16_t error_status; /* the status they chose */
    char prev_last;       /* last byte of the previous buffer */
    bool close_after : 1; /* close once the current response is out */
    bool is_closing : 1;
    bool is_draining : 1;
    bool is_paused : 1;   /* parser paused at the end of a request */
    bool is_body_paused : 1; /* the app asked for no more body for now (read_pause) */
    bool is_write_blocked : 1; /* between pause_writing and resume_writing */
    bool is_lost : 1;
    bool is_tunnel : 1;   /* after a 101: the bytes are the WebSocket's */
} h1_t;

static const llhttp_settings_t parser_settings;
static const hn_stream_ops_t h1_stream_ops;
static const hn_protocol_ops_t h1_ops;

static const hn_config_t *cfg; /* the worker's; the same for every connection */

/* Most request-body bytes read and dropped to keep a connection open after
 * an app answered without reading them. */
#define DISCARD_MAX (64 * 1024)

/* How long an idle keep-alive connection stays open once its worker drains:
 * long enough for a request the client sent just before to arrive. */
#define DRAIN_IDLE_GRACE 1.0

static void finish_request(h1_t *h);
static void respond_error(h1_t *h, int status, const char *why);
static void begin_close(h1_t *h, bool abort);
static void set_body_paused(h1_t *h, bool paused);
static double paused_check_interval(void);

#define H1_OF(p) HN_CONTAINER_OF((p), h1_t, parser)

hn_protocol_t *
hn_h1_new(hn_transport_t *t, const hn_config_t *config, bool is_draining)
{
    cfg = config;
    h1_t *h = hn_xcalloc(1, sizeof(*h));
    h->super.ops = &h1_ops;
    h->super.transport = t;
    h->is_draining = is_draining;
    llhttp_init(&h->parser, HTTP_REQUEST, &parser_settings);
    /* the keep-alive timer also bounds the arrival of the first head */
    hn_conn_set_timer(hn_conn_of(t), cfg->keep_alive_timeout);
    return &h->super;
}

/* --- the request's memory ---------------------------------------------- */

static void
release_chunk(h1_req_t *rq)
{
    hn_request_chunk_free((char *)rq, &rq->arena);
}

/* The connection is done with the request. Its memory goes back now, or,
 * when the application still has to hear that it ended (is_held), when the
 * bridge calls the release op after telling it. */
static void
request_free(h1_t *h)
{
    hn_request_t *r = h->req;
    h1_req_t *rq = h->rq;
    if (r == NULL)
        return;
    h->req = NULL;
    h->rq = NULL;
    h->is_body_paused = false; /* the app's pause was for this request only */
    if (r->is_held) {
        r->proto = NULL; /* the connection may be gone by then */
        return;
    }
    release_chunk(rq);
}

static void
h1_release(hn_request_t *r)
{
    release_chunk(HN_CONTAINER_OF(r, h1_req_t, req));
}

static void
request_abort(h1_t *h)
{
    hn_request_t *r = h->req;
    if (r == NULL)
        return;
    hn_request_end(r, false, &h->rq->app_called);
    request_free(h);
}

/* --- llhttp callbacks: the head ------------------------------------------ */

static int
count_head(h1_t *h, size_t len)
{
    h->rq->head_bytes += len;
    if (h->rq->head_bytes > cfg->h11_max_incomplete_size) {
        h->error_status = 431;
        h->error_why = "request head larger than h11_max_incomplete_size";
        return -1;
    }
    return 0;
}

static int
on_message_begin(llhttp_t *p)
{
    h1_t *h = H1_OF(p);
    if (h->is_closing)
        return -1;
    char *chunk = hn_buf_get();
    h1_req_t *rq = (h1_req_t *)(void *)chunk;
    hn_request_t *r = &rq->req;
    size_t cap = (size_t)cfg->max_header_count;
    hn_request_start_in_chunk(chunk, sizeof(*rq), r, &rq->arena, &h1_stream_ops, h,
                              h->super.transport->is_secure, cap);
    rq->headers_cap = cap;
    h->rq = rq;
    h->req = r;
    /* the head has begun: it must end within request_head_timeout, however
     * long the connection may idle between requests (keep_alive_timeout) */
    hn_conn_set_timer(hn_conn_of(h->super.transport), cfg->request_head_timeout);
    h->error_status = 0;
    h->error_why = NULL;
    h->error_header = NULL;
    h->requests++;
    return 0;
}

static int
on_method(llhttp_t *p, const char *at, size_t len)
{
    h1_t *h = H1_OF(p);
    hn_arena_append(&h->rq->arena, (char **)&h->req->method, &h->req->method_len, at, len);
    return count_head(h, len);
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
    h1_t *h = H1_OF(p);
    hn_arena_append(&h->rq->arena, (char **)&h->req->raw_path, &h->req->raw_path_len, at, len);
    /* counted as it arrives, like a header field: nginx's and Apache's 414 */
    if (h->req->method_len + h->req->raw_path_len > cfg->max_request_line_size) {
        h->error_status = 414;
        h->error_why = "request line larger than max_request_line_size";
        return -1;
    }
    return count_head(h, len);
}

/* One header field, name and value, within max_header_field_size (nginx
 * and h2o stop at 8 KiB): counted as it arrives, not once it is whole. */
static int
count_field(h1_t *h)
{
    if (h->rq->field_len + h->rq->value_len > cfg->max_header_field_size) {
        h->error_status = 431;
        h->error_why = "header field larger than max_header_field_size";
        return -1;
    }
    return 0;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
    h1_t *h = H1_OF(p);
    if (h->rq == NULL)
        return -1; /* trailers of a request already answered and let go (closing) */
    hn_arena_append(&h->rq->arena, &h->rq->field, &h->rq->field_len, at, len);
    return count_head(h, len) ? -1 : count_field(h);
}

static int
on_header_value(llhttp_t *p, const char *at, size_t len)
{
    h1_t *h = H1_OF(p);
    if (h->rq == NULL)
        return -1;
    /* llhttp accepts obs-fold and joins the lines; RFC 9112 §5.2 lets a
     * server reject it, and a proxy in front may not have joined them the
     * same way: a value that resumes right after a line break is a 400. */
    if (h->rq->value_len > 0) {
        char before = at > h->exec_start ? at[-1] : h->prev_last;
        if (before == '\n' || before == '\r') {
            h->error_status = 400;
            h->error_why = "obsolete line folding in a header";
            return -1;
        }
    }
    hn_arena_append(&h->rq->arena, &h->rq->value, &h->rq->value_len, at, len);
    return count_head(h, len) ? -1 : count_field(h);
}

static int
on_header_value_complete(llhttp_t *p)
{
    h1_t *h = H1_OF(p);
    if (h->rq == NULL)
        return -1;
    hn_request_t *r = h->req;
    char *name = h->rq->field, *value = h->rq->value ? h->rq->value : (char *)"";
    size_t nlen = h->rq->field_len, vlen = h->rq->value_len;
    h->rq->field = h->rq->value = NULL;
    h->rq->field_len = h->rq->value_len = 0;
    if (h->rq->in_trailers)
        return 0; /* trailers are counted against the head limit, not kept */
    if (r->n_headers == h->rq->headers_cap) {
        h->error_status = 431;
        h->error_why = "more headers than max_header_count";
        return -1;
    }
    hn_str_lower(name, nlen);
    /* llhttp keeps surrounding whitespace out of the value except trailing
     * spaces; RFC 9110 §5.5 says they are not part of it */
    while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
        value[--vlen] = '\0';
    hn_header_t *hd = &r->headers[r->n_headers++];
    hd->name = name;
    hd->name_len = nlen;
    hd->value = value;
    hd->value_len = vlen;
    hn_str_t n = {name, nlen};
    if (hn_str_eq(n, HN_STR_LIT("host"))) {
        if (h->rq->has_host) { /* RFC 9112 §3.2: more than one Host is a 400 */
            h->error_status = 400;
            h->error_why = "more than one Host header";
            return -1;
        }
        h->rq->has_host = true;
        if (!hn_headers_valid_host(value, vlen)) { /* RFC 9112 §3.2: a 400 */
            h->error_status = 400;
            h->error_why = "invalid Host";
            return -1;
        }
    } else if (hn_str_eq(n, HN_STR_LIT("transfer-encoding"))) {
        h->rq->has_te = true;
        /* only "chunked" is implemented; anything else is a 501 (RFC 9112 §6.1) */
        const char *s = value, *end = value + vlen;
        while (s < end) {
            while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
                s++;
            const char *t = s;
            while (t < end && *t != ',' && *t != ' ' && *t != '\t')
                t++;
            if (t > s && !hn_mem_case_eq(s, (size_t)(t - s), "chunked", 7))
                h->rq->te_unknown = true;
            s = t;
        }
    } else if (hn_str_eq(n, HN_STR_LIT("expect"))) {
        if (hn_mem_case_eq(value, vlen, "100-continue", 12))
            h->rq->expect_continue = true;
        else
            h->rq->expect_unknown = true;
    }
    return 0;
}

/* RFC 9113 §3.2 is obsolete but curl --http2 and Hypercorn speak it: a
 * cleartext request without a body that asks for h2c (with its
 * HTTP2-Settings) is answered over HTTP/2, unless alpn_protocols leaves
 * h2 out. Anything else asking to upgrade is answered as plain HTTP/1.1. */
static bool
wants_h2c(h1_t *h, hn_request_t *r)
{
    const hn_header_t *up = hn_request_header(r, "upgrade");
    const hn_header_t *settings = hn_request_header(r, "http2-settings");
    if (!cfg->alpn_h2 || up == NULL || settings == NULL || r->has_body ||
        h->super.transport->is_secure ||
        h->is_draining || h->requests != 1 || !hn_mem_case_eq(up->value, up->value_len, "h2c", 3))
        return false;
    h->rq->h2c_upgrade = true;
    h->rq->h2_settings = settings->value;
    h->rq->h2_settings_len = settings->value_len;
    return true;
}

static int
on_headers_complete(llhttp_t *p)
{
    h1_t *h = H1_OF(p);
    hn_request_t *r = h->req;
    h->rq->in_trailers = true;
    if (p->http_major != 1 || p->http_minor > 1) {
        h->error_status = 505;
        h->error_why = "unsupported HTTP version";
        return -1;
    }
    r->http_version = p->http_minor == 1 ? "1.1" : "1.0";
    if (h->rq->te_unknown) {
        h->error_status = 501;
        h->error_why = "a transfer coding other than chunked";
        return -1;
    }
    if (p->http_minor == 1 && !h->rq->has_host) { /* RFC 9112 §3.2 */
        h->error_status = 400;
        h->error_why = "HTTP/1.1 request without Host";
        return -1;
    }
    int st = hn_request_set_target(r, r->raw_path, r->raw_path_len);
    if (st) {
        h->error_status = st;
        h->error_why = "malformed request target";
        return -1;
    }
    if (!hn_request_host_allowed(r, cfg->server_names, cfg->n_server_names)) {
        /* RFC 9110 §15.5.20: not a host this server answers for; the app
         * never sees it (Hypercorn answers 404 and keeps the socket) */
        h->error_status = 421;
        h->error_why = "Host not in server_names";
        return -1;
    }
    if (h->rq->expect_unknown && p->http_minor == 1) {
        h->error_status = 417;
        h->error_why = "an expectation other than 100-continue";
        return -1;
    }
    if (r->method == NULL) {
        r->method = "GET";
        r->method_len = 3;
    }
    h->rq->client_keep_alive = llhttp_should_keep_alive(p);
    r->has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
    if ((p->flags & F_CONTENT_LENGTH) && !(p->flags & F_CHUNKED))
        r->content_length = (int64_t)p->content_length;
    r->body_done = !r->has_body;
    r->start_time = ev_time();
    hn_conn_t *c = hn_conn_of(h->super.transport);
    hn_conn_fill_addresses(c, r);
    hn_forwarded_apply(r, cfg);
    r->app = NULL;

    uint64_t limit = cfg->max_body_size;
    if (limit && r->content_length > 0 && (uint64_t)r->content_length > limit) {
        /* refuse before reading a byte of it (nginx does the same) */
        h->error_status = 413;
        h->error_why = "Content-Length over max_body_size";
        return -1;
    }
    hn_conn_set_timer(c, r->has_body ? cfg->read_timeout : 0);

    if (p->upgrade && wants_h2c(h, r))
        return 0; /* answered over HTTP/2 once the request is complete */
    if (p->upgrade) {
        int ws = hn_ws_handshake_h1(r);
        if (ws) {
            h->error_status = (int16_t)ws;
            h->error_why = "invalid WebSocket handshake";
            h->error_header = ws == 426 ? HN_WS_VERSION_HEADER : NULL;
            return -1;
        }
    }

    if (hn_request_redirect_to_https(r, cfg))
        return 0; /* answered; the request's body, if any, is read and dropped */
    r->app = hn_worker_app();
    h->rq->app_called = true;
    r->app->on_request(r);
    if (h->req != r || h->is_closing)
        return 0; /* answered and finished (or failed) inside the app */
    if (r->resp_state == HN_RESP_NONE && r->has_body && h->rq->expect_continue && p->http_minor == 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        h->super.transport->ops->write(h->super.transport, cont, sizeof(cont) - 1);
    }
    /* paused before the first byte of the body (HPE_PAUSED here resumes
     * right after the head) */
    return h->is_body_paused ? HPE_PAUSED : 0;
}

/* --- llhttp callbacks: the body ------------------------------------------ */

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    h1_t *h = H1_OF(p);
    hn_request_t *r = h->req;
    if (r == NULL || h->is_closing)
        return h->is_closing ? -1 : 0;
    h->rq->body_bytes += len;
    uint64_t limit = cfg->max_body_size;
    if (limit && h->rq->body_bytes > limit) {
        h->error_status = 413;
        h->error_why = "body over max_body_size";
        return -1;
    }
    if (cfg->read_timeout > 0)
        hn_conn_set_timer(hn_conn_of(h->super.transport), cfg->read_timeout);
    /* also after an early response: an ASGI app may still receive(); a
     * request the server answered itself (https_redirect) has no app */
    if (r->app)
        r->app->on_body(r, at, len);
    /* a pause from inside on_body stops the parser after this span; the
     * transport keeps the rest (h1_data_received) */
    return h->is_closing ? -1 : h->is_body_paused ? HPE_PAUSED : 0;
}

/* A chunk announces its size before its bytes: refuse one that would cross
 * max_body_size now, not after reading up to the limit. */
static int
on_chunk_header(llhttp_t *p)
{
    h1_t *h = H1_OF(p);
    uint64_t limit = cfg->max_body_size;
    if (h->rq && limit && h->rq->body_bytes + p->content_length > limit) {
        h->error_status = 413;
        h->error_why = "chunked body over max_body_size";
        return -1;
    }
    return 0;
}

static int
on_message_complete(llhttp_t *p)
{
    h1_t *h = H1_OF(p);
    hn_request_t *r = h->req;
    if (h->is_closing)
        return HPE_PAUSED;
    if (r == NULL || h->rq->h2c_upgrade)
        return 0; /* answered and finished before the end of the request */
    r->body_done = true;
    if (r->is_websocket) {
        /* A handshake has no body to end. Until the app answers, what
         * follows waits in the transport (frames sent early); after its
         * 101 the tunnel takes it. */
        if (r->resp_state == HN_RESP_DONE) {
            finish_request(h);
            return HPE_PAUSED;
        }
        if (!h->is_tunnel)
            h->is_paused = true;
        return HPE_PAUSED;
    }
    if (r->app)
        r->app->on_body_end(r);
    if (h->req != r)
        return h->is_closing ? HPE_PAUSED : 0; /* finished inside on_body_end */
    if (r->resp_state == HN_RESP_DONE) {
        finish_request(h);
        return h->is_closing ? HPE_PAUSED : 0;
    }
    /* the response is still being produced: hold the next request back */
    h->is_paused = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_method = on_method,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

/* --- protocol ops -------------------------------------------------------- */

static int
status_for_parse_error(llhttp_errno_t err)
{
    switch (err) {
    case HPE_INVALID_TRANSFER_ENCODING:
        return 501;
    case HPE_INVALID_VERSION:
        return 505;
    case HPE_PAUSED_H2_UPGRADE:
        return 505;
    default:
        return 400;
    }
}

/* 101, then HTTP/2 takes the connection and answers the request as its
 * stream 1. The h1 object is gone when this returns. */
static void
switch_to_h2(h1_t *h)
{
    static const char switching[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                    "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    hn_transport_t *t = h->super.transport;
    t->ops->write(t, switching, sizeof(switching) - 1);
    hn_request_t *r = h->req;
    hn_protocol_t *h2 = hn_h2_upgrade(t, cfg, h->is_draining, h->rq->h2_settings,
                                      h->rq->h2_settings_len, r);
    request_free(h);
    hn_conn_t *c = hn_conn_of(t);
    c->proto = h2;
    t->proto = h2;
    free(h);
}

/* After a 101 every byte belongs to the WebSocket: the request's body. */
static size_t
tunnel_received(h1_t *h, const char *data, size_t len)
{
    if (h->req && !h->is_closing && len > 0)
        h->req->app->on_body(h->req, data, len);
    return len;
}

static size_t
h1_data_received(hn_protocol_t *proto, const char *data, size_t len)
{
    h1_t *h = (h1_t *)proto;
    if (h->is_tunnel)
        return tunnel_received(h, data, len);
    if (h->is_body_paused) {
        /* the transport delivers nothing while paused; should another
         * path resume it meanwhile, the body still waits for the app */
        proto->transport->ops->pause_reading(proto->transport);
        return 0;
    }
    const char *at = data;
    size_t left = len;
    while (left > 0 && !h->is_closing) {
        h->exec_start = at;
        llhttp_errno_t err = llhttp_execute(&h->parser, at, left);
        h->prev_last = at[left - 1];
        if (err == HPE_OK)
            return len;
        if (err == HPE_PAUSED_UPGRADE && h->rq && h->rq->h2c_upgrade) {
            /* the request is complete; what follows is the client's
             * HTTP/2 preface, for the new protocol to read */
            const char *pos = llhttp_get_error_pos(&h->parser);
            switch_to_h2(h);
            return (size_t)(pos - data);
        }
        if (err == HPE_PAUSED_UPGRADE) {
            /* no protocol to switch to yet (h2c and WebSocket come later):
             * the request was answered as plain HTTP, parse on */
            const char *pos = llhttp_get_error_pos(&h->parser);
            llhttp_resume_after_upgrade(&h->parser);
            left -= (size_t)(pos - at);
            at = pos;
            continue;
        }
        if (err == HPE_PAUSED) {
            const char *pos = llhttp_get_error_pos(&h->parser);
            size_t used = (size_t)(pos - data);
            if (h->is_closing)
                return len;
            if (h->is_tunnel)
                return used + tunnel_received(h, pos, len - used);
            proto->transport->ops->pause_reading(proto->transport);
            return used;
        }
        if (h->is_closing)
            return len;
        int status = h->error_status ? h->error_status : status_for_parse_error(err);
        respond_error(h, status, h->error_why ? h->error_why : llhttp_get_error_reason(&h->parser));
        return len;
    }
    return len;
}

static void
h1_eof_received(hn_protocol_t *proto)
{
    h1_t *h = (h1_t *)proto;
    /* The client closed its side. Between requests that is the end of the
     * connection. With a request in flight it means the client is gone, as
     * nginx (499) and Hypercorn (http.disconnect) take it: the app is told
     * and stops; half-closing clients that still want the answer are rare
     * and cannot be told apart. */
    bool in_flight = h->req != NULL;
    if (in_flight)
        request_abort(h);
    begin_close(h, in_flight);
}

static void
h1_connection_lost(hn_protocol_t *proto, int err)
{
    (void)err;
    h1_t *h = (h1_t *)proto;
    h->is_lost = true;
    request_abort(h);
    free(h);
}

static void
h1_pause_writing(hn_protocol_t *proto)
{
    h1_t *h = (h1_t *)proto;
    /* the client reads slower than we answer: stop taking requests, and tell
     * the app producing the response to hold back */
    h->is_write_blocked = true;
    proto->transport->ops->pause_reading(proto->transport);
    if (h->req && h->rq->app_called && h->req->resp_state == HN_RESP_STARTED)
        h->req->app->on_pause(h->req);
}

static void
h1_resume_writing(hn_protocol_t *proto)
{
    h1_t *h = (h1_t *)proto;
    h->is_write_blocked = false;
    if (!h->is_paused && !h->is_body_paused)
        proto->transport->ops->resume_reading(proto->transport);
    if (h->req && h->rq->app_called && h->req->resp_state == HN_RESP_STARTED)
        h->req->app->on_resume(h->req);
}

static void
h1_drain(hn_protocol_t *proto)
{
    h1_t *h = (h1_t *)proto;
    h->is_draining = true;
    /* Idle between requests. Closing at once would race a request already
     * on the wire (the client would see its request lost with no answer),
     * so the connection gets a short last chance: a request that arrives is
     * answered with Connection: close, and a connection still idle when the
     * timer fires is closed. */
    if (h->req == NULL && !h->is_paused)
        hn_conn_set_timer(hn_conn_of(proto->transport),
                          HN_MIN(cfg->keep_alive_timeout, DRAIN_IDLE_GRACE));
}

static void
h1_timeout(hn_protocol_t *proto)
{
    h1_t *h = (h1_t *)proto;
    if (h->req && h->is_body_paused) {
        /* The app paused the body: the silence is its choice, not a slow
         * client. What the socket tells without reading the body (the
         * client's FIN or a reset) still ends the request. */
        if (hn_tcp_peer_closed(&hn_conn_of(proto->transport)->tcp)) {
            hn_log(HN_LOG_INFO, "client %s: went away while its request body was paused",
                   h->req->client);
            request_abort(h);
            begin_close(h, true);
        } else {
            hn_conn_set_timer(hn_conn_of(proto->transport), paused_check_interval());
        }
        return;
    }
    if (h->req && h->req->resp_state == HN_RESP_NONE && h->req->app) {
        hn_log(HN_LOG_INFO, "client %s: request body read timed out", h->req->client);
        respond_error(h, 408, "read timeout");
        return;
    }
    if (h->req && h->req->app == NULL && !h->is_tunnel) {
        /* a head begun and not finished (slowloris): RFC 9110 §15.5.9 */
        respond_error(h, 408, "request head not complete within request_head_timeout");
        return;
    }
    request_abort(h);
    begin_close(h, true);
}

static const hn_protocol_ops_t h1_ops = {
    .data_received = h1_data_received,
    .eof_received = h1_eof_received,
    .connection_lost = h1_connection_lost,
    .pause_writing = h1_pause_writing,
    .resume_writing = h1_resume_writing,
    .drain = h1_drain,
    .timeout = h1_timeout,
};

/* --- ending requests and connections ------------------------------------ */

static void
begin_close(h1_t *h, bool abort)
{
    if (h->is_closing)
        return;
    h->is_closing = true;
    h->super.transport->ops->close(h->super.transport, abort);
}

/* The response is out and the request body consumed (or abandoned). */
static void
finish_request(h1_t *h)
{
    hn_request_t *r = h->req;
    hn_request_end(r, true, &h->rq->app_called);
    bool close = h->close_after || !r->body_done || h->is_draining;
    request_free(h);
    if (close) {
        begin_close(h, false);
        return;
    }
    /* idle once the client has the response, not once it is queued */
    hn_conn_set_idle_timer(hn_conn_of(h->super.transport), cfg->keep_alive_timeout);
    if (h->is_paused) {
        h->is_paused = false;
        llhttp_resume(&h->parser);
        h->super.transport->ops->resume_reading(h->super.transport);
    }
}

static void
respond_error(h1_t *h, int status, const char *why)
{
    hn_request_t *r = h->req;
    char peer[HN_ADDR_TEXT_MAX];
    hn_conn_peer(hn_conn_of(h->super.transport), peer, sizeof(peer));
    hn_log(HN_LOG_INFO, "client %s: %d %s: %s", peer, status, hn_headers_reason(status),
           why ? why : "");
    if (r && r->resp_state != HN_RESP_NONE) {
        /* too late for a status: all the client can learn is the reset */
        request_abort(h);
        begin_close(h, true);
        return;
    }
    if (r && h->rq->app_called)
        r->app->on_abort(r);
    if (r)
        h->rq->app_called = false; /* the app is done with it */
    char body[64];
    int blen = snprintf(body, sizeof(body), "%d %s\n", status, hn_headers_reason(status));
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n%s%s%s%s%s\r\n",
                     status, hn_headers_reason(status), blen,
                     h->error_header ? h->error_header : "",
                     cfg->include_date_header ? "Date: " : "",
                     cfg->include_date_header ? hn_headers_date_now() : "",
                     cfg->include_date_header ? "\r\n" : "",
                     cfg->include_server_header ? "Server: hornet\r\n" : "");
    hn_transport_t *t = h->super.transport;
    t->ops->write(t, head, (size_t)n);
    /* RFC 9110 §9.3.2: the answer to HEAD has no body */
    bool is_head = r && r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
    if (!is_head)
        t->ops->write(t, body, (size_t)blen);
    if (r && r->method) {
        r->status = status;
        r->resp_content_length = blen;
        r->resp_body_bytes = is_head ? 0 : (uint64_t)blen;
        if (r->http_version == NULL)
            r->http_version = "1.1";
        if (r->client == NULL)
            r->client = hn_arena_strndup(&h->rq->arena, peer, strlen(peer));
        if (r->path == NULL) {
            r->path = r->raw_path ? r->raw_path : "";
            r->path_len = r->raw_path_len;
        }
        if (r->query == NULL)
            r->query = "";
        if (hn_access_log_enabled())
            hn_access_log_request(r, ev_time());
    }
    request_free(h);
    begin_close(h, false);
}

/* --- stream ops: encoding the response ----------------------------------- */

/* Length first: most names differ in length from the few we look for. */
#define NAME_IS(hd, lit)                                                                           \
    ((hd)->name_len == sizeof(lit) - 1 && hn_mem_case_eq((hd)->name, (hd)->name_len, lit,         \
                                                         sizeof(lit) - 1))

static bool
is_hop_by_hop(const hn_header_t *hd)
{
    return NAME_IS(hd, "connection") || NAME_IS(hd, "transfer-encoding") ||
           NAME_IS(hd, "keep-alive");
}

/* "Name: value\r\n" at p; returns the end. */
static char *
put_field(char *p, const hn_header_t *hd)
{
    memcpy(p, hd->name, hd->name_len);
    p += hd->name_len;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, hd->value, hd->value_len);
    p += hd->value_len;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* Room for a response head: fixed bytes plus the fields, in the write queue
 * itself when it has room (*reserved: commit it), else from the request's
 * arena (write it). */
static char *
head_room(hn_transport_t *t, hn_request_t *r, size_t fixed, const hn_header_t *headers,
          size_t n, bool *reserved)
{
    size_t need = fixed;
    for (size_t i = 0; i < n; i++)
        need += headers[i].name_len + headers[i].value_len + 4;
    char *buf = t->ops->reserve(t, need);
    *reserved = buf != NULL;
    return buf ? buf : hn_arena_alloc(r->arena, need);
}

/* "HTTP/1.1 200 OK\r\n" at p (at most 64 bytes); returns its end. */
static char *
put_status_line(char *p, int status)
{
    const char *reason = hn_headers_reason(status);
    size_t rlen = strlen(reason);
    memcpy(p, "HTTP/1.1 ", 9);
    p[9] = (char)('0' + status / 100);
    p[10] = (char)('0' + status / 10 % 10);
    p[11] = (char)('0' + status % 10);
    p[12] = ' ';
    memcpy(p + 13, reason, rlen);
    p += 13 + rlen;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static int
h1_send_head(hn_request_t *r, int status, const hn_header_t *headers, size_t n,
             int64_t content_length)
{
    h1_t *h = r->proto;
    if (h->is_lost || h->is_closing)
        return HN_ERR;
    hn_transport_t *t = h->super.transport;
    bool http10 = r->http_version[2] == '0';
    bool no_body_status = (status >= 100 && status < 200) || status == 204 || status == 304;
    bool is_head = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
    bool has_date = false, has_server = false;

    h->rq->resp_length_known = content_length >= 0;
    h->rq->resp_left = content_length >= 0 ? (uint64_t)content_length : 0;
    h->rq->resp_chunked = false;
    bool upgrade = status == 101 && r->is_tunnel;
    if (!h->rq->client_keep_alive || h->is_draining ||
        h->requests >= (unsigned)cfg->keep_alive_max_requests || r->is_websocket)
        h->close_after = true; /* a WebSocket ends with its connection, or was refused */
    if (r->has_body && !r->body_done) {
        /* Answered before the body was read. A small known remainder is read
         * and dropped so the connection survives (nginx does the same);
         * anything else is not worth reading: close after the response. */
        if (r->content_length < 0 ||
            (uint64_t)r->content_length - h->rq->body_bytes > DISCARD_MAX)
            h->close_after = true;
    }
    if (!no_body_status && !h->rq->resp_length_known && !is_head) {
        if (http10)
            h->close_after = true; /* the end of the body is the close */
        else
            h->rq->resp_chunked = true;
    }

    bool reserved;
    char *buf = head_room(t, r, 64 + 40 + 32 + 40, headers, n, &reserved);
    char *p = buf;
    p = put_status_line(p, status);
    for (size_t i = 0; i < n; i++) {
        const hn_header_t *hd = &headers[i];
        if (is_hop_by_hop(hd))
            continue;
        if (NAME_IS(hd, "date"))
            has_date = true;
        else if (NAME_IS(hd, "server"))
            has_server = true;
        else if (no_body_status && status != 304 && NAME_IS(hd, "content-length"))
            continue;
        p = put_field(p, hd);
    }
    if (cfg->include_date_header && !has_date) {
        memcpy(p, "Date: ", 6);
        memcpy(p + 6, hn_headers_date_now(), HN_HTTP_DATE_LEN);
        p += 6 + HN_HTTP_DATE_LEN;
        *p++ = '\r';
        *p++ = '\n';
    }
    if (cfg->include_server_header && !has_server) {
        memcpy(p, "Server: hornet\r\n", 16);
        p += 16;
    }
    if (h->rq->resp_chunked) {
        memcpy(p, "Transfer-Encoding: chunked\r\n", 28);
        p += 28;
    }
    if (upgrade) {
        memcpy(p, "Connection: Upgrade\r\n", 21);
        p += 21;
    } else if (h->close_after) {
        memcpy(p, "Connection: close\r\n", 19);
        p += 19;
    } else if (http10) {
        memcpy(p, "Connection: keep-alive\r\n", 24);
        p += 24;
    }
    *p++ = '\r';
    *p++ = '\n';
    if (reserved)
        t->ops->commit(t, (size_t)(p - buf));
    else
        t->ops->write(t, buf, (size_t)(p - buf));
    if (no_body_status || is_head)
        h->rq->resp_left = 0;
    if (upgrade) {
        /* the WebSocket keeps its own time (pings, the close deadline) */
        h->is_tunnel = true;
        hn_conn_set_timer(hn_conn_of(t), 0);
        if (h->is_paused) {
            h->is_paused = false;
            t->ops->resume_reading(t);
        }
    }
    return HN_OK;
}

/* A 1xx head (103 Early Hints) before the final one. It goes into the
 * write queue as every head does, so it leaves in the same writev as a
 * final response queued in the same loop iteration. No Date or Server:
 * those belong to the final response. */
static int
h1_send_informational(hn_request_t *r, int status, const hn_header_t *headers, size_t n)
{
    h1_t *h = r->proto;
    if (h->is_lost || h->is_closing)
        return HN_ERR;
    hn_transport_t *t = h->super.transport;
    bool reserved;
    char *buf = head_room(t, r, 64 + 2, headers, n, &reserved);
    char *p = put_status_line(buf, status);
    for (size_t i = 0; i < n; i++) {
        const hn_header_t *hd = &headers[i];
        /* RFC 9110 §8.6: no Content-Length in a 1xx */
        if (is_hop_by_hop(hd) || NAME_IS(hd, "content-length"))
            continue;
        p = put_field(p, hd);
    }
    *p++ = '\r';
    *p++ = '\n';
    if (reserved)
        t->ops->commit(t, (size_t)(p - buf));
    else
        t->ops->write(t, buf, (size_t)(p - buf));
    return HN_OK;
}

/* After the last byte: finish now, or once the request body is in. */
static void
response_done(h1_t *h, hn_request_t *r)
{
    if (h->rq->resp_length_known && h->rq->resp_left > 0) {
        /* the app promised more than it sent: the framing is broken */
        hn_log(HN_LOG_ERROR, "response to %s ended %" PRIu64 " bytes short of its Content-Length",
               r->client ? r->client : "?", h->rq->resp_left);
        h->close_after = true;
        begin_close(h, true);
    }
    if (h->rq->resp_chunked)
        h->super.transport->ops->write(h->super.transport, "0\r\n\r\n", 5);
    if (r->body_done || h->close_after) {
        finish_request(h);
        return;
    }
    /* the app is done with the exchange: its pause no longer holds back a
     * remainder small enough to read and drop (DISCARD_MAX) */
    set_body_paused(h, false);
    /* the rest of the body is being discarded: bound how long that may take */
    hn_conn_set_timer(hn_conn_of(h->super.transport), cfg->keep_alive_timeout);
}

static int
check_length(h1_t *h, hn_request_t *r, size_t len)
{
    if (!h->rq->resp_length_known)
        return HN_OK;
    if (len > h->rq->resp_left) {
        hn_log(HN_LOG_ERROR, "app %s wrote more than its Content-Length; closing", r->app->name);
        return HN_ERR;
    }
    h->rq->resp_left -= len;
    return HN_OK;
}

static int
h1_send_data(hn_request_t *r, const void *data, size_t len, bool last)
{
    h1_t *h = r->proto;
    if (h->is_lost || h->is_closing)
        return HN_ERR;
    hn_transport_t *t = h->super.transport;
    if (len > 0) {
        if (check_length(h, r, len) != HN_OK) {
            begin_close(h, true);
            return HN_ERR;
        }
        if (h->rq->resp_chunked) {
            char *p = t->ops->reserve(t, len + 24);
            if (p) {
                int k = sprintf(p, "%zx\r\n", len);
                memcpy(p + k, data, len);
                memcpy(p + k + len, "\r\n", 2);
                t->ops->commit(t, (size_t)k + len + 2);
            } else {
                char hdr[24];
                int k = sprintf(hdr, "%zx\r\n", len);
                t->ops->write(t, hdr, (size_t)k);
                t->ops->write(t, data, len);
                t->ops->write(t, "\r\n", 2);
            }
        } else {
            t->ops->write(t, data, len);
        }
    }
    if (last)
        response_done(h, r);
    return HN_OK;
}

static int
h1_send_file(hn_request_t *r, int fd, off_t offset, size_t len, bool last)
{
    h1_t *h = r->proto;
    if (h->is_lost || h->is_closing || check_length(h, r, len) != HN_OK) {
        close(fd);
        if (!h->is_lost)
            begin_close(h, true);
        return HN_ERR;
    }
    hn_transport_t *t = h->super.transport;
    if (h->rq->resp_chunked && len > 0) {
        char hdr[24];
        int k = sprintf(hdr, "%zx\r\n", len);
        t->ops->write(t, hdr, (size_t)k);
    }
    if (len > 0)
        t->ops->sendfile(t, fd, offset, len);
    else
        close(fd);
    if (h->rq->resp_chunked && len > 0)
        t->ops->write(t, "\r\n", 2);
    if (last)
        response_done(h, r);
    return HN_OK;
}

/* Trailers go out only in a chunked body (RFC 9112 §7.1.2); a response
 * framed by Content-Length or the close cannot carry them, so they are
 * dropped there. */
static int
h1_send_trailers(hn_request_t *r, const hn_header_t *trailers, size_t n)
{
    h1_t *h = r->proto;
    if (h->is_lost || h->is_closing)
        return HN_ERR;
    hn_transport_t *t = h->super.transport;
    if (h->rq->resp_chunked) {
        t->ops->write(t, "0\r\n", 3);
        for (size_t i = 0; i < n; i++) {
            t->ops->write(t, trailers[i].name, trailers[i].name_len);
            t->ops->write(t, ": ", 2);
            t->ops->write(t, trailers[i].value, trailers[i].value_len);
            t->ops->write(t, "\r\n", 2);
        }
        t->ops->write(t, "\r\n", 2);
        h->rq->resp_chunked = false; /* the terminator is written */
    }
    response_done(h, r);
    return HN_OK;
}

static size_t
h1_pending(const hn_request_t *r)
{
    const h1_t *h = r->proto;
    if (h == NULL || h->is_lost)
        return 0;
    return h->super.transport->ops->pending(h->super.transport);
}

/* How often a paused body checks that its client is still there: the read
 * deadline it replaces, or the keep-alive time when there is none. */
static double
paused_check_interval(void)
{
    return cfg->read_timeout > 0 ? cfg->read_timeout : cfg->keep_alive_timeout;
}

/* Pause or resume the body (the app's read_pause). A pause takes effect at
 * the parser's next callback; the transport keeps reading into its one
 * leftover chunk and then stops, so the client's sends block. A resume
 * lets the flush pass re-offer that chunk: the app hears the bytes from
 * the loop, not from inside its call. The read deadline becomes a
 * liveness check while paused (h1_timeout). */
static void
set_body_paused(h1_t *h, bool paused)
{
    if (h->is_body_paused == paused)
        return;
    hn_transport_t *t = h->super.transport;
    h->is_body_paused = paused;
    hn_conn_set_timer(hn_conn_of(t), paused ? paused_check_interval() : cfg->read_timeout);
    if (paused) {
        t->ops->pause_reading(t);
        return;
    }
    llhttp_resume(&h->parser); /* a no-op unless it stopped on our HPE_PAUSED */
    if (!h->is_paused && !h->is_write_blocked)
        t->ops->resume_reading(t);
}

static void
h1_read_pause(hn_request_t *r, bool paused)
{
    h1_t *h = r->proto;
    if (h == NULL || h->is_lost || h->is_closing || h->req != r || h->is_tunnel || r->body_done)
        return;
    set_body_paused(h, paused);
}

static void
h1_abort(hn_request_t *r)
{
    h1_t *h = r->proto;
    if (h == NULL || h->is_lost)
        return;
    request_abort(h);
    begin_close(h, true);
}

static const hn_stream_ops_t h1_stream_ops = {
    .abort = h1_abort,
    .send_head = h1_send_head,
    .send_informational = h1_send_informational,
    .send_data = h1_send_data,
    .send_file = h1_send_file,
    .send_trailers = h1_send_trailers,
    .pending = h1_pending,
    .release = h1_release,
    .read_pause = h1_read_pause,
};
