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
 * The body is collected up to max_body_size (the protocol enforces it) in
 * growing heap memory owned by the request; the response goes out once the
 * body is complete, with a Content-Length, except that a chunked request
 * gets a response of unknown length (chunked on HTTP/1.1) in two pieces.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/mem.h"
#include "shared/str.h"

typedef struct echo {
    char *buf;
    size_t len, cap;
} echo_t;

static void
put(echo_t *e, const void *data, size_t len)
{
    if (e->len + len > e->cap) {
        size_t cap = e->cap ? e->cap : 1024;
        while (cap < e->len + len)
            cap *= 2;
        e->buf = hn_xrealloc(e->buf, cap);
        e->cap = cap;
    }
    memcpy(e->buf + e->len, data, len);
    e->len += len;
}

static void
put_json_string(echo_t *e, const char *s, size_t len)
{
    put(e, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(e, esc, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            /* bytes, not characters: each non-ASCII byte as \u00XX */
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(e, esc, 6);
        } else {
            put(e, &s[i], 1);
        }
    }
    put(e, "\"", 1);
}

static void
on_request(hn_request_t *r)
{
    echo_t *e = hn_arena_alloc(r->arena, sizeof(*e));
    memset(e, 0, sizeof(*e));
    r->app_data = e;
}

static void
on_body(hn_request_t *r, const char *data, size_t len)
{
    put(r->app_data, data, len);
}

static bool
wants_json(const hn_request_t *r)
{
    const hn_header_t *a = hn_request_header(r, "accept");
    if (a == NULL)
        return false;
    /* media types are case-insensitive (RFC 9110 §8.3.1) */
    char *v = hn_xstrndup(a->value, a->value_len);
    bool yes = strcasestr(v, "application/json") != NULL;
    free(v);
    return yes;
}

static void
on_body_end(hn_request_t *r)
{
    echo_t *body = r->app_data;
    echo_t out = {0};
    if (wants_json(r)) {
        put(&out, "{\"method\": ", 11);
        put_json_string(&out, r->method, r->method_len);
        put(&out, ", \"path\": ", 10);
        put_json_string(&out, r->path, r->path_len);
        put(&out, ", \"raw_path\": ", 14);
        put_json_string(&out, r->raw_path, r->raw_path_len);
        put(&out, ", \"query\": ", 11);
        put_json_string(&out, r->query, r->query_len);
        put(&out, ", \"http_version\": ", 18);
        put_json_string(&out, r->http_version, strlen(r->http_version));
        put(&out, ", \"headers\": [", 14);
        for (size_t i = 0; i < r->n_headers; i++) {
            put(&out, i ? ", [" : "[", i ? 3 : 1);
            put_json_string(&out, r->headers[i].name, r->headers[i].name_len);
            put(&out, ", ", 2);
            put_json_string(&out, r->headers[i].value, r->headers[i].value_len);
            put(&out, "]", 1);
        }
        put(&out, "], \"body\": ", 11);
        put_json_string(&out, body->buf ? body->buf : "", body->len);
        put(&out, "}\n", 2);
    } else {
        put(&out, r->method, r->method_len);
        put(&out, " ", 1);
        put(&out, r->raw_path, r->raw_path_len);
        if (r->query_len) {
            put(&out, "?", 1);
            put(&out, r->query, r->query_len);
        }
        put(&out, " HTTP/", 6);
        put(&out, r->http_version, strlen(r->http_version));
        put(&out, "\n", 1);
        for (size_t i = 0; i < r->n_headers; i++) {
            put(&out, r->headers[i].name, r->headers[i].name_len);
            put(&out, ": ", 2);
            put(&out, r->headers[i].value, r->headers[i].value_len);
            put(&out, "\n", 1);
        }
        put(&out, "\n", 1);
        if (body->len)
            put(&out, body->buf, body->len);
    }
    free(body->buf);
    body->buf = NULL;
    body->len = body->cap = 0;
    const char *ctype = wants_json(r) ? "application/json" : "text/plain; charset=utf-8";
    if (r->has_body && r->content_length < 0) {
        /* a chunked request gets a response of unknown length back, so the
         * server's chunked encoding of responses can be seen and tested */
        hn_header_t h = {"content-type", 12, ctype, strlen(ctype)};
        size_t half = out.len / 2;
        if (hn_response_start(r, 200, &h, 1) == HN_OK &&
            hn_response_write(r, out.buf, half, false) == HN_OK)
            hn_response_write(r, out.buf + half, out.len - half, true);
    } else {
        hn_response_simple(r, 200, ctype, out.buf, out.len);
    }
    free(out.buf);
}

static void
on_abort(hn_request_t *r)
{
    echo_t *e = r->app_data;
    if (e) {
        free(e->buf);
        e->buf = NULL;
    }
}

const hn_app_t hn_app_echo = {
    .name = "echo",
    .on_request = on_request,
    .on_body = on_body,
    .on_body_end = on_body_end,
    .on_abort = on_abort,
};
