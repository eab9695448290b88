/*
 * echo.c - builtin:echo: answers with the request as the server understood
 * it, for debugging clients and proxies and for the test suite.
 *
 * text/plain (default):          application/json (Accept: application/json):
 *   METHOD RAW_PATH[?QUERY] HTTP/V   {"method": ..., "path": ..., "raw_path": ...,
 *   name: value (each header)         "query": ..., "http_version": ...,
 *   (empty line)                      "headers": [[name, value], ...], "body": ...}
 *   body bytes verbatim
 *
 * Written against the public ABI (include/hornet/app.h) only, like any
 * shared-object app. The body is collected (the server enforces
 * max_body_size) in growing heap memory; the response goes out once the last
 * body chunk arrived, with a Content-Length, except that a request of unknown
 * length (chunked) gets a response of unknown length back (chunked on
 * HTTP/1.1) in two pieces, so the server's chunked encoding can be seen and
 * tested. Heap memory is freed in on_disconnect, which comes in every case.
 *
 * A WebSocket is accepted with the first subprotocol the client offered and
 * every message goes back as it came (text or binary). Messages the server
 * refuses for now (HORNET_EAGAIN: the client reads slower than it sends)
 * wait in a heap queue until on_resume, so none is lost. The server stops
 * taking the client's frames meanwhile (HTTP/1.1 stops reading, HTTP/2 keeps
 * the stream's window shut), which bounds the queue by a window; should more
 * than 4 MiB pile up all the same, the client is closed with 1008.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "include/hornet/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/mem.h"
#include "shared/str.h"

/* A growing heap buffer (hn_xrealloc: allocation doesn't fail). */
typedef struct buf {
    char *ptr;
    size_t len, cap;
} buf_t;

/* Per request, in request memory; the buffers it points to are heap. */
typedef struct echo {
    const hornet_scope_t *scope; /* request memory: valid until on_disconnect */
    buf_t body;                  /* the request body so far */
    buf_t out;                   /* the response body while it is being handed over */
    size_t sent;                 /* bytes of out the server has taken */
    size_t half;                 /* 0, or where the first of two pieces ends */
    buf_t queue;                 /* WebSocket: messages waiting for on_resume */
    size_t queue_sent;           /* bytes of queue already handed over */
    bool is_json;
    bool has_content_length;
    bool has_transfer_encoding;
} echo_t;

static int init(const hornet_api_t *a);
static void on_request(hornet_request_t *req, const hornet_scope_t *scope);
static void on_body(hornet_request_t *req, const void *data, size_t len, bool more_body);
static void on_resume(hornet_request_t *req);
static void on_disconnect(hornet_request_t *req, bool completed);
static void on_websocket_receive(hornet_request_t *req, const void *data, size_t len,
                                 bool is_text);
static void ws_flush(hornet_request_t *req, echo_t *e);
static void respond(hornet_request_t *req, echo_t *e);
static void send_pending(hornet_request_t *req, echo_t *e);
static void format_text(buf_t *out, const hornet_scope_t *s, const buf_t *body);
static void format_json(buf_t *out, const hornet_scope_t *s, const buf_t *body);
static const hornet_header_t *find_header(const hornet_scope_t *s, const char *name);
static bool contains_nocase(const char *hay, size_t hay_len, const char *needle);
static void put(buf_t *b, const void *data, size_t len);
static void put_json_string(buf_t *b, const char *s, size_t len);
static void buf_free(buf_t *b);

const hornet_app_t hn_builtin_echo = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "echo",
    .init = init,
    .on_request = on_request,
    .on_body = on_body,
    .on_disconnect = on_disconnect,
    .on_resume = on_resume,
    .on_websocket_receive = on_websocket_receive,
};

static const hornet_api_t *api;

static int
init(const hornet_api_t *a)
{
    api = a;
    return 0;
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    echo_t *e = api->alloc(req, sizeof(*e));
    const hornet_header_t *accept = find_header(scope, "accept");

    memset(e, 0, sizeof(*e));
    e->scope = scope;
    if (scope->type == HORNET_SCOPE_WEBSOCKET) {
        api->set_data(req, e);
        api->websocket_accept(req, scope->n_subprotocols ? scope->subprotocols[0] : NULL, NULL,
                              0);
        return;
    }
    /* Media types are case-insensitive (RFC 9110 §8.3.1). */
    e->is_json =
        accept != NULL && contains_nocase(accept->value, accept->value_len, "application/json");
    e->has_content_length = find_header(scope, "content-length") != NULL;
    e->has_transfer_encoding = find_header(scope, "transfer-encoding") != NULL;
    api->set_data(req, e);
}

static void
on_body(hornet_request_t *req, const void *data, size_t len, bool more_body)
{
    echo_t *e = api->get_data(req);

    if (e == NULL)
        return;
    if (len > 0)
        put(&e->body, data, len);
    if (!more_body)
        respond(req, e);
}

/* The server took too little output earlier (HORNET_EAGAIN): go on. */
static void
on_resume(hornet_request_t *req)
{
    echo_t *e = api->get_data(req);

    if (e != NULL && e->out.ptr != NULL)
        send_pending(req, e);
    if (e != NULL && e->queue.len > e->queue_sent)
        ws_flush(req, e);
}

/* Most unsent echo bytes held for a WebSocket client that does not read. */
#define ECHO_QUEUE_MAX (4u << 20)

/* Queued messages: a byte for the type, the length, then the bytes. */
static void
ws_flush(hornet_request_t *req, echo_t *e)
{
    while (e->queue_sent < e->queue.len) {
        const char *p = e->queue.ptr + e->queue_sent;
        size_t len;
        memcpy(&len, p + 1, sizeof(len));
        int rc = api->websocket_send(req, p + 1 + sizeof(len), len, p[0] == 't');
        if (rc == HORNET_EAGAIN)
            return;
        e->queue_sent += 1 + sizeof(len) + len;
    }
    e->queue.len = e->queue_sent = 0;
}

static void
on_websocket_receive(hornet_request_t *req, const void *data, size_t len, bool is_text)
{
    echo_t *e = api->get_data(req);

    if (e->queue.len == 0 && api->websocket_send(req, data, len, is_text) != HORNET_EAGAIN)
        return;
    if (e->queue.len - e->queue_sent + len > ECHO_QUEUE_MAX) {
        /* a client that sends without reading: HTTP/1.1 stops reading it,
         * but an HTTP/2 stream keeps taking its frames */
        api->websocket_close(req, 1008, "echo queue full: read the echoes");
        return;
    }
    put(&e->queue, is_text ? "t" : "b", 1);
    put(&e->queue, &len, sizeof(len));
    put(&e->queue, data, len);
}

static void
on_disconnect(hornet_request_t *req, bool completed)
{
    echo_t *e = api->get_data(req);

    (void)completed;
    /* The struct is request memory and goes with req; the buffers don't. */
    if (e != NULL) {
        buf_free(&e->body);
        buf_free(&e->out);
        buf_free(&e->queue);
    }
}

static void
respond(hornet_request_t *req, echo_t *e)
{
    const char *ctype = e->is_json ? "application/json" : "text/plain; charset=utf-8";
    hornet_header_t h[2] = {{"content-type", 12, ctype, strlen(ctype)}, {0}};
    char clen[24];
    size_t n = 1;
    /* A chunked HTTP/1.1 request names no length; over HTTP/2 a body without
     * content-length is the same thing. Either gets an unknown length back. */
    bool unknown_length = !e->has_content_length && (e->has_transfer_encoding || e->body.len > 0);

    if (e->is_json)
        format_json(&e->out, e->scope, &e->body);
    else
        format_text(&e->out, e->scope, &e->body);
    buf_free(&e->body);

    if (unknown_length) {
        e->half = e->out.len / 2;
    } else {
        h[1].name = "content-length";
        h[1].name_len = 14;
        h[1].value = clen;
        h[1].value_len = (size_t)snprintf(clen, sizeof(clen), "%zu", e->out.len);
        n = 2;
    }
    /* On failure the request may already be over (see send_pending): leave
     * out to on_disconnect. */
    if (api->response_start(req, 200, h, n, false) != HORNET_OK)
        return;
    send_pending(req, e);
}

/* Hand the server what remains of out: one piece, or two when e->half is
 * set. Stops at HORNET_EAGAIN (nothing was taken; on_resume brings us back).
 *
 * The last call may end the request inside it (on_disconnect runs and
 * request memory, e included, is gone when it returns), and so may a failing
 * one: after those, touch nothing. The buffer is detached first so that it
 * is freed exactly once, here or in on_disconnect. */
static void
send_pending(hornet_request_t *req, echo_t *e)
{
    while (e->out.ptr != NULL) {
        size_t end = e->sent < e->half ? e->half : e->out.len;
        bool more = end < e->out.len;
        buf_t out = e->out;
        int rc;

        if (more) {
            rc = api->response_body(req, out.ptr + e->sent, end - e->sent, true);
            if (rc != HORNET_OK)
                return; /* EAGAIN: wait; else on_disconnect frees out */
            e->sent = end;
            continue;
        }
        e->out = (buf_t){0};
        rc = api->response_body(req, out.ptr + e->sent, end - e->sent, false);
        if (rc == HORNET_EAGAIN) {
            e->out = out; /* nothing happened: e is still ours */
            return;
        }
        free(out.ptr);
        return;
    }
}

static void
format_text(buf_t *out, const hornet_scope_t *s, const buf_t *body)
{
    put(out, s->method, s->method_len);
    put(out, " ", 1);
    put(out, s->raw_path, s->raw_path_len);
    if (s->query_string_len > 0) {
        put(out, "?", 1);
        put(out, s->query_string, s->query_string_len);
    }
    put(out, " HTTP/", 6);
    put(out, s->http_version, strlen(s->http_version));
    put(out, "\n", 1);
    for (size_t i = 0; i < s->n_headers; i++) {
        put(out, s->headers[i].name, s->headers[i].name_len);
        put(out, ": ", 2);
        put(out, s->headers[i].value, s->headers[i].value_len);
        put(out, "\n", 1);
    }
    put(out, "\n", 1);
    if (body->len > 0)
        put(out, body->ptr, body->len);
}

static void
format_json(buf_t *out, const hornet_scope_t *s, const buf_t *body)
{
    put(out, "{\"method\": ", 11);
    put_json_string(out, s->method, s->method_len);
    put(out, ", \"path\": ", 10);
    put_json_string(out, s->path, s->path_len);
    put(out, ", \"raw_path\": ", 14);
    put_json_string(out, s->raw_path, s->raw_path_len);
    put(out, ", \"query\": ", 11);
    put_json_string(out, s->query_string, s->query_string_len);
    put(out, ", \"http_version\": ", 18);
    put_json_string(out, s->http_version, strlen(s->http_version));
    put(out, ", \"headers\": [", 14);
    for (size_t i = 0; i < s->n_headers; i++) {
        put(out, i ? ", [" : "[", i ? 3 : 1);
        put_json_string(out, s->headers[i].name, s->headers[i].name_len);
        put(out, ", ", 2);
        put_json_string(out, s->headers[i].value, s->headers[i].value_len);
        put(out, "]", 1);
    }
    put(out, "], \"body\": ", 11);
    put_json_string(out, body->ptr != NULL ? body->ptr : "", body->len);
    put(out, "}\n", 2);
}

/* First request header with this (lower-case) name, or NULL. */
static const hornet_header_t *
find_header(const hornet_scope_t *s, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < s->n_headers; i++)
        if (s->headers[i].name_len == len && memcmp(s->headers[i].name, name, len) == 0)
            return &s->headers[i];
    return NULL;
}

static bool
contains_nocase(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= hay_len; i++)
        if (hn_mem_case_eq(hay + i, n, needle, n))
            return true;
    return false;
}

static void
put(buf_t *b, const void *data, size_t len)
{
    if (len == 0)
        return; /* data may be NULL then */
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;

        while (cap < b->len + len)
            cap *= 2;
        b->ptr = hn_xrealloc(b->ptr, cap);
        b->cap = cap;
    }
    memcpy(b->ptr + b->len, data, len);
    b->len += len;
}

static void
put_json_string(buf_t *b, const char *s, size_t len)
{
    put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            /* bytes, not characters: each non-ASCII byte as \u00XX */
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(b, esc, 6);
        } else {
            put(b, &s[i], 1);
        }
    }
    put(b, "\"", 1);
}

static void
buf_free(buf_t *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}
