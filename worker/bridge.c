/*
 * bridge.c - requests to ABI events and back (see bridge.h). The protocol
 * side is hn_request_t and the hn_response_* calls of request.c; the
 * application side is include/hornet/app.h. Loading is app_load.c's, the
 * lifespan protocol lifespan.c's, timers timer.c's.
 *
 * A hornet_request_t* is the hn_request_t* itself, cast: the ABI keeps the
 * type opaque, so no wrapper is allocated per request.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/bridge.h"

#include <ev.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "include/hornet/app.h"
#include "shared/cfg.h"
#include "shared/headers.h"
#include "shared/log.h"
#include "shared/mem.h"
#include "worker/app.h"
#include "worker/app_load.h"
#include "worker/lifespan.h"
#include "worker/request.h"
#include "worker/timer.h"
#include "worker/ws.h"
#include "worker/ws_codec.h"

/* The ABI's header type is the server's, field for field, so header arrays
 * cross the boundary without a copy. */
_Static_assert(sizeof(hornet_header_t) == sizeof(hn_header_t), "header layout");
_Static_assert(offsetof(hornet_header_t, value_len) == offsetof(hn_header_t, value_len),
               "header layout");

/* Unsent bytes above which response_body refuses more (HORNET_EAGAIN): an
 * app that ignores on_pause still cannot make the worker buffer without
 * bound. */
#define HARD_LIMIT (8 * 64 * 1024)

typedef struct breq {
    hn_bridge_route_t *route;
    hn_request_t *next_ended; /* in the list of ends the app has yet to hear */
    bool completed;
    void *data; /* the app's, via set_data */
    hornet_scope_t scope;
    bool is_paused;
    bool is_ended; /* on_disconnect was called */
    hn_ws_t *ws;   /* the accepted WebSocket */
    /* simple mode: the whole body */
    char *body;
    size_t body_len, body_cap;
} breq_t;

static struct ev_loop *b_loop;
static hn_request_t *ended_head, **ended_tail = &ended_head;
static const hn_config_t *b_cfg;
static hn_bridge_route_t *b_routes;
static size_t b_n_routes;
static const hornet_api_t b_api;
/* While an app's init runs: the last error it logged, which becomes the
 * reason of "refused to start" (the operator reads that line on stderr,
 * and hornet -t prints nothing else). */
static bool b_in_init;
static char b_init_error[512];

#define REQ(hr) ((hn_request_t *)(void *)(hr))
#define HREQ(r) ((hornet_request_t *)(void *)(r))
#define BREQ(r) ((breq_t *)(r)->app_data)

/* --- loading ------------------------------------------------------------- */

static int
add_route(const char *prefix, const char *spec, hn_err_t *err)
{
    hn_bridge_route_t *rt = &b_routes[b_n_routes];
    rt->prefix = prefix;
    rt->prefix_len = strlen(prefix);
    rt->app = hn_app_load(spec, b_cfg->app_mode, b_cfg->app_dir, err);
    if (rt->app == NULL)
        return HN_ERR;
    if (hn_app_mode(rt->app, b_cfg->app_mode, spec, &rt->is_simple, err) != HN_OK)
        return HN_ERR;
    b_n_routes++;
    b_init_error[0] = '\0';
    b_in_init = true;
    int rc = rt->app->init ? rt->app->init(&b_api) : 0;
    b_in_init = false;
    if (rc != 0) {
        hn_err_set(err, 0, "application %s (%s) refused to start: its init failed%s%s",
                   rt->app->name ? rt->app->name : spec, spec, b_init_error[0] ? ": " : "",
                   b_init_error);
        return HN_ERR;
    }
    return HN_OK;
}

int
hn_bridge_open(struct ev_loop *loop, const hn_config_t *cfg, hn_err_t *err)
{
    b_loop = loop;
    b_cfg = cfg;
    hn_ws_init(loop, cfg);
    b_routes = hn_xcalloc(cfg->n_mount + 1, sizeof(*b_routes));
    b_n_routes = 0;
    /* mounts are sorted longest prefix first, so the first match wins; the
     * default application comes last in matching but first for lifespan */
    if (add_route("", cfg->application_path, err) != HN_OK)
        return HN_ERR;
    for (size_t i = 0; i < cfg->n_mount; i++)
        if (add_route(cfg->mount[i].prefix, cfg->mount[i].app, err) != HN_OK) {
            hn_err_t e = *err;
            hn_err_set(err, e.code, "mount %s: %s", cfg->mount[i].prefix, e.msg);
            return HN_ERR;
        }
    return HN_OK;
}

hn_bridge_route_t *
hn_bridge_routes(size_t *n)
{
    *n = b_n_routes;
    return b_routes;
}

static hn_bridge_route_t *
route_for(const char *path, size_t len)
{
    for (size_t i = 1; i < b_n_routes; i++) {
        hn_bridge_route_t *rt = &b_routes[i];
        if (len >= rt->prefix_len && memcmp(path, rt->prefix, rt->prefix_len) == 0 &&
            (len == rt->prefix_len || path[rt->prefix_len] == '/'))
            return rt;
    }
    return &b_routes[0];
}

/* --- the scope ----------------------------------------------------------- */

static void
build_scope(hn_request_t *r, breq_t *b)
{
    hornet_scope_t *s = &b->scope;
    memset(s, 0, sizeof(*s));
    s->type = HORNET_SCOPE_HTTP;
    s->http_version = r->http_version;
    s->method = r->method;
    s->method_len = r->method_len;
    s->scheme = r->scheme;
    s->raw_path = r->raw_path;
    s->raw_path_len = r->raw_path_len;
    s->query_string = r->query;
    s->query_string_len = r->query_len;
    s->headers = (const hornet_header_t *)r->headers;
    s->n_headers = r->n_headers;
    s->state = b->route->state;
    if (r->is_websocket) {
        s->type = HORNET_SCOPE_WEBSOCKET;
        s->scheme = r->scheme[4] == 's' ? "wss" : "ws";
        s->method = NULL;
        s->method_len = 0;
        s->subprotocols = hn_ws_subprotocols(r, &s->n_subprotocols);
    }

    /* root_path: the configured one (stripped when the proxy left it in
     * the path) plus the mount prefix, both taken out of path */
    const char *path = r->path;
    size_t plen = r->path_len;
    const char *root = b_cfg->root_path ? b_cfg->root_path : "";
    size_t rlen = strlen(root);
    if (rlen && plen >= rlen && memcmp(path, root, rlen) == 0 &&
        (plen == rlen || path[rlen] == '/')) {
        path += rlen;
        plen -= rlen;
    }
    if (b->route->prefix_len) {
        path += b->route->prefix_len;
        plen -= b->route->prefix_len;
        char *full = hn_arena_alloc(r->arena, rlen + b->route->prefix_len + 1);
        memcpy(full, root, rlen);
        memcpy(full + rlen, b->route->prefix, b->route->prefix_len + 1);
        s->root_path = full;
        s->root_path_len = rlen + b->route->prefix_len;
    } else {
        s->root_path = root;
        s->root_path_len = rlen;
    }
    if (plen == 0) {
        path = "/";
        plen = 1;
    }
    s->path = path;
    s->path_len = plen;
    s->client_host = r->client_host;
    s->client_port = r->client_host ? r->client_port : 0;
    s->server_host = r->server_host;
    s->server_port = r->server_port;
}

/* --- worker-side callbacks (worker/app.h) --------------------------------- */

static void
internal_error(hn_request_t *r)
{
    static const char body[] = "500 Internal Server Error\n";
    hn_response_simple(r, 500, "text/plain; charset=utf-8", body, sizeof(body) - 1);
}

static void
on_request(hn_request_t *r)
{
    breq_t *b = hn_arena_alloc(r->arena, sizeof(*b));
    memset(b, 0, sizeof(*b));
    r->app_data = b;
    b->route = route_for(r->path, r->path_len);
    if (r->is_websocket && (b->route->is_simple || b->route->app->on_websocket_receive == NULL)) {
        /* An app that does not speak WebSocket. HTTP/1.1 lets a server
         * ignore an Upgrade (RFC 9110 §7.8): the app answers the GET. An
         * HTTP/2 CONNECT has no such reading. */
        if (r->http_version[0] == '2') {
            static const char body[] = "501 Not Implemented: this application does not take "
                                       "WebSockets\n";
            hn_response_simple(r, 501, "text/plain; charset=utf-8", body, sizeof(body) - 1);
            return;
        }
        r->is_websocket = false;
    }
    build_scope(r, b);
    if (b->route->is_simple) {
        uint64_t limit = b_cfg->wsgi_max_body_size;
        if (limit && r->content_length > 0 && (uint64_t)r->content_length > limit) {
            static const char body[] = "413 Content Too Large\n";
            hn_response_simple(r, 413, "text/plain; charset=utf-8", body, sizeof(body) - 1);
        }
        return;
    }
    b->route->app->on_request(HREQ(r), &b->scope);
}

static void
on_body(hn_request_t *r, const char *data, size_t len)
{
    breq_t *b = BREQ(r);
    if (r->is_websocket) {
        /* frames before the accept are not the app's (HTTP/2: a client
         * must wait for the 200) */
        if (b->ws)
            hn_ws_received(b->ws, data, len);
        return;
    }
    if (b->route->is_simple) {
        uint64_t limit = b_cfg->wsgi_max_body_size;
        if (limit && b->body_len + len > limit) {
            static const char body[] = "413 Content Too Large\n";
            if (r->resp_state == HN_RESP_NONE)
                hn_response_simple(r, 413, "text/plain; charset=utf-8", body, sizeof(body) - 1);
            return;
        }
        if (b->body_len + len > b->body_cap) {
            size_t cap = b->body_cap ? b->body_cap : 4096;
            while (cap < b->body_len + len)
                cap *= 2;
            b->body = hn_xrealloc(b->body, cap);
            b->body_cap = cap;
        }
        memcpy(b->body + b->body_len, data, len);
        b->body_len += len;
        return;
    }
    if (b->route->app->on_body)
        b->route->app->on_body(HREQ(r), data, len, true);
}

static void
run_simple(hn_request_t *r, breq_t *b)
{
    hornet_simple_response_t out = {0};
    if (b->route->app->handle(HREQ(r), &b->scope, b->body ? b->body : "", b->body_len, &out) != 0 ||
        out.status < 100 || out.status > 599) {
        hn_log(HN_LOG_ERROR, "application %s: handle failed for %.*s", b->route->app->name,
               (int)HN_MIN(r->raw_path_len, (size_t)200), r->raw_path);
        internal_error(r);
        return;
    }
    /* the length is known: say so unless the app did */
    bool has_length = false;
    for (size_t i = 0; i < out.n_headers; i++)
        if (out.headers[i].name_len == 14 &&
            strncasecmp(out.headers[i].name, "content-length", 14) == 0)
            has_length = true;
    size_t n = out.n_headers + (has_length ? 0 : 1);
    hn_header_t *h = hn_arena_alloc(r->arena, (n ? n : 1) * sizeof(*h));
    if (out.n_headers)
        memcpy(h, out.headers, out.n_headers * sizeof(*h));
    if (!has_length) {
        char *num = hn_arena_alloc(r->arena, 24);
        int k = snprintf(num, 24, "%zu", out.body_len);
        h[out.n_headers] = (hn_header_t){"content-length", 14, num, (size_t)k};
    }
    if (hn_response_start(r, out.status, h, n) == HN_OK)
        hn_response_write(r, out.body, out.body_len, true);
}

static void
on_body_end(hn_request_t *r)
{
    breq_t *b = BREQ(r);
    if (r->is_websocket) {
        if (b->ws)
            hn_ws_peer_ended(b->ws);
        return;
    }
    if (b->route->is_simple) {
        if (r->resp_state == HN_RESP_NONE)
            run_simple(r, b);
        return;
    }
    if (b->route->app->on_body)
        b->route->app->on_body(HREQ(r), NULL, 0, false);
}

/* The request is over. The app hears it (on_disconnect) from the flush
 * pass, never from inside one of its own calls: a final response_body made
 * from a timer or on_resume must not find its state freed when it returns
 * (ASGI delivers http.disconnect on the next receive, not during send). The
 * request's memory is held until then. */
static void
end(hn_request_t *r, bool completed)
{
    breq_t *b = BREQ(r);
    if (b == NULL || b->is_ended)
        return;
    b->is_ended = true;
    free(b->body);
    b->body = NULL;
    if (b->ws) {
        hn_ws_ended(b->ws);
        /* websocket.disconnect: the closing handshake, not the carrier,
         * tells whether it ended well */
        completed = hn_ws_completed(b->ws);
    }
    if (b->route->is_simple || b->route->app->on_disconnect == NULL)
        return;
    b->completed = completed;
    r->is_held = true;
    b->next_ended = NULL;
    *ended_tail = r;
    ended_tail = &b->next_ended;
}

size_t
hn_bridge_flush(void)
{
    size_t n = 0;
    while (ended_head) {
        hn_request_t *r = ended_head;
        breq_t *b = BREQ(r);
        ended_head = b->next_ended;
        if (ended_head == NULL)
            ended_tail = &ended_head;
        b->route->app->on_disconnect(HREQ(r), b->completed);
        /* the protocol let go of it when it ended: free it now */
        r->ops->release(r);
        n++;
    }
    return n;
}

static void
on_end(hn_request_t *r)
{
    end(r, true);
}

static void
on_abort(hn_request_t *r)
{
    end(r, false);
}

static void
on_pause(hn_request_t *r)
{
    breq_t *b = BREQ(r);
    if (b->is_paused || b->is_ended)
        return;
    b->is_paused = true;
    if (!b->route->is_simple && b->route->app->on_pause)
        b->route->app->on_pause(HREQ(r));
}

static void
on_resume(hn_request_t *r)
{
    breq_t *b = BREQ(r);
    if (!b->is_paused || b->is_ended)
        return;
    b->is_paused = false;
    if (!b->route->is_simple && b->route->app->on_resume)
        b->route->app->on_resume(HREQ(r));
}

const hn_app_t hn_bridge_app = {
    .name = "bridge",
    .on_request = on_request,
    .on_body = on_body,
    .on_body_end = on_body_end,
    .on_end = on_end,
    .on_abort = on_abort,
    .on_pause = on_pause,
    .on_resume = on_resume,
};

/* --- the API table: responses --------------------------------------------- */

/* Refuse an out-of-order call (Hypercorn's UnexpectedMessageError); a client
 * that has seen nothing yet gets a 500 rather than waiting forever. */
static int
unexpected(hn_request_t *r, const char *what)
{
    breq_t *b = BREQ(r);
    hn_log(HN_LOG_ERROR, "application %s: unexpected %s (UnexpectedMessageError)",
           b->route->app->name ? b->route->app->name : "?", what);
    if (r->resp_state == HN_RESP_NONE)
        internal_error(r);
    return HORNET_EUNEXPECTED;
}

/* The app's response fields, checked before anything is sent; the first
 * bad one is logged. */
static bool
headers_valid(hn_request_t *r, const hornet_header_t *headers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!hn_headers_valid_name(headers[i].name, headers[i].name_len) ||
            !hn_headers_valid_value(headers[i].value, headers[i].value_len)) {
            hn_log(HN_LOG_ERROR, "application %s: invalid response header %.*s (CR, LF or NUL "
                   "in a value, or a name that is not a token)", BREQ(r)->route->app->name,
                   (int)HN_MIN(headers[i].name_len, (size_t)64), headers[i].name);
            return false;
        }
    }
    return true;
}

static int
api_response_start(hornet_request_t *hr, int status, const hornet_header_t *headers, size_t n,
                   bool trailers)
{
    hn_request_t *r = REQ(hr);
    if (BREQ(r)->is_ended || r->aborted)
        return HORNET_EGONE;
    if (r->resp_state != HN_RESP_NONE)
        return unexpected(r, "response start after the response started");
    /* a bad argument sends nothing: the app may correct it and call again */
    if (status < 100 || status > 599) {
        hn_log(HN_LOG_ERROR, "application %s: invalid status %d", BREQ(r)->route->app->name,
               status);
        return HORNET_EINVAL;
    }
    if (!headers_valid(r, headers, n))
        return HORNET_EINVAL;
    if (hn_response_start(r, status, (const hn_header_t *)headers, n) != HN_OK)
        return HORNET_EINVAL; /* e.g. a Content-Length that is not a number */
    if (trailers)
        hn_response_expect_trailers(r);
    return HORNET_OK;
}

static int
api_response_informational(hornet_request_t *hr, int status, const hornet_header_t *headers,
                           size_t n)
{
    hn_request_t *r = REQ(hr);
    if (BREQ(r)->is_ended || r->aborted)
        return HORNET_EGONE;
    if (r->resp_state != HN_RESP_NONE || BREQ(r)->ws)
        return unexpected(r, "informational response after the response started");
    if (r->is_websocket)
        return unexpected(r, "informational response on a WebSocket");
    /* 101 is the server's (the WebSocket handshake, h2c); others are finals */
    if (status < 100 || status > 199 || status == 101) {
        hn_log(HN_LOG_ERROR, "application %s: invalid informational status %d",
               BREQ(r)->route->app->name, status);
        return HORNET_EINVAL;
    }
    if (!headers_valid(r, headers, n))
        return HORNET_EINVAL;
    return hn_response_informational(r, status, (const hn_header_t *)headers, n) == HN_OK
               ? HORNET_OK
               : HORNET_EGONE;
}

static int
check_body_call(hn_request_t *r, const char *what)
{
    if (BREQ(r)->is_ended || r->aborted)
        return HORNET_EGONE;
    if (r->resp_state != HN_RESP_STARTED || BREQ(r)->ws)
        return unexpected(r, BREQ(r)->ws ? "response body on an accepted WebSocket" : what);
    if (hn_response_pending(r) > HARD_LIMIT) {
        /* The connection was already over its high-water mark when this
         * response began (pipelining: the previous one is still queued), so
         * no pause was announced for it. Announce it now, or the resume
         * that follows the drain would be ignored and the app, told to
         * wait, would wait forever. */
        on_pause(r);
        return HORNET_EAGAIN;
    }
    return HORNET_OK;
}

static int
api_response_body(hornet_request_t *hr, const void *data, size_t len, bool more_body)
{
    hn_request_t *r = REQ(hr);
    int rc = check_body_call(r, r->resp_state == HN_RESP_NONE ? "response body before its start"
                                                               : "response body after its end");
    if (rc != HORNET_OK)
        return rc;
    return hn_response_write(r, data, len, !more_body) == HN_OK ? HORNET_OK : HORNET_EGONE;
}

static void
api_abort(hornet_request_t *hr)
{
    hn_request_t *r = REQ(hr);
    if (BREQ(r)->is_ended || r->aborted)
        return;
    hn_log(HN_LOG_NOTICE, "application %s: aborted its response", BREQ(r)->route->app->name);
    r->ops->abort(r);
}

static void
api_read_pause(hornet_request_t *hr, bool paused)
{
    hn_request_t *r = REQ(hr);
    /* a WebSocket's frames are not a body the app reads at its own pace;
     * after a complete response the rest of a body is only read to be
     * dropped (HTTP/1.1) or refused (HTTP/2): no pause holds it */
    if (BREQ(r)->is_ended || r->aborted || r->is_websocket || r->body_done ||
        (paused && r->resp_state == HN_RESP_DONE))
        return;
    r->ops->read_pause(r, paused);
}

static int
api_response_file(hornet_request_t *hr, int fd, off_t offset, size_t len, bool more_body)
{
    hn_request_t *r = REQ(hr);
    int rc = check_body_call(r, "response file outside the body");
    if (rc != HORNET_OK) {
        close(fd);
        return rc;
    }
    return hn_response_sendfile(r, fd, offset, len, !more_body) == HN_OK ? HORNET_OK
                                                                          : HORNET_EGONE;
}

static int
api_response_trailers(hornet_request_t *hr, const hornet_header_t *trailers, size_t n,
                      bool more_trailers)
{
    hn_request_t *r = REQ(hr);
    if (BREQ(r)->is_ended || r->aborted)
        return HORNET_EGONE;
    if (r->resp_state != HN_RESP_TRAILERS)
        return unexpected(r, "trailers not announced or not after the last body chunk");
    /* more_trailers: HTTP/1.1 sends the trailer section once; later parts
     * are joined by sending only when the last arrives */
    if (more_trailers) {
        hn_log(HN_LOG_WARN, "application %s: split trailers are sent as one section",
               BREQ(r)->route->app->name);
    }
    for (size_t i = 0; i < n; i++)
        if (!hn_headers_valid_name(trailers[i].name, trailers[i].name_len) ||
            !hn_headers_valid_value(trailers[i].value, trailers[i].value_len))
            return HORNET_EINVAL;
    return hn_response_trailers(r, (const hn_header_t *)trailers, n) == HN_OK ? HORNET_OK
                                                                             : HORNET_EGONE;
}

/* --- the API table: per-request helpers ----------------------------------- */

static void
api_set_data(hornet_request_t *hr, void *data)
{
    BREQ(REQ(hr))->data = data;
}

static void *
api_get_data(const hornet_request_t *hr)
{
    return BREQ((const hn_request_t *)(const void *)hr)->data;
}

static void *
api_alloc(hornet_request_t *hr, size_t size)
{
    return hn_arena_alloc(REQ(hr)->arena, size);
}

static bool
api_is_paused(const hornet_request_t *hr)
{
    return BREQ((const hn_request_t *)(const void *)hr)->is_paused;
}

static void
ws_message(hn_request_t *r, const char *data, size_t len, bool is_text)
{
    breq_t *b = BREQ(r);
    if (!b->is_ended)
        b->route->app->on_websocket_receive(HREQ(r), data, len, is_text);
}

static int
api_websocket_accept(hornet_request_t *hr, const char *subprotocol, const hornet_header_t *h,
                     size_t n)
{
    hn_request_t *r = REQ(hr);
    breq_t *b = BREQ(r);
    if (b->is_ended || r->aborted)
        return HORNET_EGONE;
    if (!r->is_websocket)
        return unexpected(r, "websocket accept on an HTTP request");
    if (b->ws || r->resp_state != HN_RESP_NONE)
        return unexpected(r, "websocket accept after the handshake was answered");
    if (subprotocol) {
        bool offered = false;
        for (size_t i = 0; i < b->scope.n_subprotocols && !offered; i++)
            offered = strcmp(b->scope.subprotocols[i], subprotocol) == 0;
        if (!offered) {
            hn_log(HN_LOG_ERROR, "application %s: subprotocol \"%.64s\" was not offered by "
                   "the client", b->route->app->name, subprotocol);
            return HORNET_EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!hn_headers_valid_name(h[i].name, h[i].name_len) ||
            !hn_headers_valid_value(h[i].value, h[i].value_len))
            return HORNET_EINVAL;
    b->ws = hn_ws_accept(r, subprotocol, (const hn_header_t *)h, n, ws_message);
    return b->ws ? HORNET_OK : HORNET_EGONE;
}

/* A WebSocket the app may send on, or why not. */
static int
ws_check(hn_request_t *r, const char *what)
{
    breq_t *b = BREQ(r);
    if (b->is_ended || r->aborted)
        return HORNET_EGONE;
    if (b->ws == NULL)
        return unexpected(r, what);
    if (!hn_ws_is_open(b->ws))
        return HORNET_EGONE;
    return HORNET_OK;
}

static int
api_websocket_send(hornet_request_t *hr, const void *data, size_t len, bool is_text)
{
    hn_request_t *r = REQ(hr);
    int rc = ws_check(r, "websocket send before accept");
    if (rc != HORNET_OK)
        return rc;
    if (is_text && !hn_ws_utf8_valid(data, len)) {
        hn_log(HN_LOG_ERROR, "application %s: websocket text message is not UTF-8",
               BREQ(r)->route->app->name);
        return HORNET_EINVAL;
    }
    if (hn_response_pending(r) > HARD_LIMIT) {
        on_pause(r); /* as check_body_call: the resume must reach the app */
        return HORNET_EAGAIN;
    }
    return hn_ws_send(BREQ(r)->ws, data, len, is_text) == HN_OK ? HORNET_OK : HORNET_EGONE;
}

static int
api_websocket_close(hornet_request_t *hr, int code, const char *reason)
{
    hn_request_t *r = REQ(hr);
    breq_t *b = BREQ(r);
    if (r->is_websocket && b->ws == NULL && r->resp_state == HN_RESP_NONE && !b->is_ended &&
        !r->aborted) {
        /* before the accept: the handshake is refused (Hypercorn's 403) */
        static const char body[] = "403 Forbidden\n";
        return hn_response_simple(r, 403, "text/plain; charset=utf-8", body, sizeof(body) - 1) ==
                       HN_OK
                   ? HORNET_OK
                   : HORNET_EGONE;
    }
    int rc = ws_check(r, "websocket close on an HTTP request or an answered handshake");
    if (rc != HORNET_OK)
        return rc;
    size_t rlen = reason ? strlen(reason) : 0;
    if (!hn_ws_close_code_valid(code) || rlen > 123 || !hn_ws_utf8_valid(reason, rlen)) {
        hn_log(HN_LOG_ERROR, "application %s: websocket close with code %d or its reason is "
               "not valid", b->route->app->name, code);
        return HORNET_EINVAL;
    }
    return hn_ws_close(b->ws, code, reason, rlen) == HN_OK ? HORNET_OK : HORNET_EGONE;
}

static int
api_websocket_close_code(const hornet_request_t *hr, const char **reason, size_t *reason_len)
{
    const breq_t *b = BREQ((const hn_request_t *)(const void *)hr);
    if (reason)
        *reason = NULL;
    if (reason_len)
        *reason_len = 0;
    if (b == NULL || b->ws == NULL)
        return 0;
    return hn_ws_close_code(b->ws, reason, reason_len);
}

/* --- the API table: the server -------------------------------------------- */

static void
api_log(hornet_log_level_t level, const char *fmt, ...)
{
    hn_log_level_t l = level <= HORNET_LOG_ERROR     ? HN_LOG_ERROR
                       : level == HORNET_LOG_WARNING ? HN_LOG_WARN
                       : level == HORNET_LOG_NOTICE  ? HN_LOG_NOTICE
                       : level >= HORNET_LOG_DEBUG   ? HN_LOG_DEBUG
                                                     : HN_LOG_INFO;
    bool keep = b_in_init && l <= HN_LOG_ERROR;
    if (l > hn_log_level && !keep)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (keep)
        snprintf(b_init_error, sizeof(b_init_error), "%.*s", (int)sizeof(b_init_error) - 1, msg);
    if (l <= hn_log_level)
        hn_log_write(l, "app: %s", msg);
}

/* Config values as text, from the dump (so the text is what --dump-config
 * prints), parsed into key/value pairs once per worker on first use. Lists
 * and mappings (bind, mount) span several lines and are not offered. */
typedef struct config_kv {
    char *key, *value;
} config_kv_t;
static config_kv_t *config_kvs;
static size_t config_n;

static void
config_parse(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (f == NULL)
        return;
    hn_cfg_dump(b_cfg, f);
    fclose(f);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *colon = strchr(line, ':');
        if (line[0] == '#' || line[0] == ' ' || colon == NULL)
            continue;
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        size_t vlen = strlen(v);
        if (vlen == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0)
            continue;
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
            /* a double-quoted YAML scalar: \" and \\ stand for themselves */
            char *w = v;
            for (char *p = v + 1; p < v + vlen - 1; p++) {
                if (*p == '\\' && p + 1 < v + vlen - 1)
                    p++;
                *w++ = *p;
            }
            *w = '\0';
        }
        config_kvs = hn_xrealloc(config_kvs, (config_n + 1) * sizeof(*config_kvs));
        config_kvs[config_n].key = hn_xstrndup(line, (size_t)(colon - line));
        config_kvs[config_n].value = hn_xstrdup(v);
        config_n++;
    }
    free(text);
}

static const char *
api_config(const char *key)
{
    if (config_kvs == NULL)
        config_parse();
    for (size_t i = 0; i < config_n; i++)
        if (strcmp(config_kvs[i].key, key) == 0)
            return config_kvs[i].value;
    return NULL;
}

static double
api_now(void)
{
    return ev_now(b_loop);
}

static const hornet_api_t b_api = {
    .abi_version = HORNET_ABI_VERSION,
    .size = sizeof(hornet_api_t),
    .response_start = api_response_start,
    .response_body = api_response_body,
    .response_file = api_response_file,
    .response_trailers = api_response_trailers,
    .set_data = api_set_data,
    .get_data = api_get_data,
    .alloc = api_alloc,
    .is_paused = api_is_paused,
    .websocket_accept = api_websocket_accept,
    .websocket_send = api_websocket_send,
    .websocket_close = api_websocket_close,
    .lifespan_complete = hn_lifespan_complete,
    .lifespan_failed = hn_lifespan_failed,
    .lifespan_set_state = hn_lifespan_set_state,
    .lifespan_get_state = hn_lifespan_get_state,
    .websocket_close_code = api_websocket_close_code,
    .timer_new = hn_timer_new,
    .timer_start = hn_timer_start,
    .timer_stop = hn_timer_stop,
    .timer_free = hn_timer_free,
    .io_new = hn_io_new,
    .io_free = hn_io_free,
    .abort = api_abort,
    .read_pause = api_read_pause,
    .response_informational = api_response_informational,
    .log = api_log,
    .config = api_config,
    .now = api_now,
};

const hornet_api_t *
hn_bridge_api(void)
{
    return &b_api;
}
