/*
 * sse.c - server-sent events: a response that streams for as long as the app
 * likes. It shows what hello.c does not: answering later from a timer,
 * per-request state (api->alloc and set_data), a body without
 * Content-Length (HTTP/1.1 sends it chunked), backpressure (on_pause /
 * on_resume, HORNET_EAGAIN) and cancellation (on_disconnect with
 * completed=false stops the timer when the client goes away).
 *
 * GET /?interval=SECONDS&count=N sends N events "data: tick I", one every
 * SECONDS (defaults 0.1 and 10; count=0 streams until the client leaves),
 * then ends the body.
 *
 *   make && hornet ./libsse.so:app
 *   curl -N 'http://127.0.0.1:8000/?interval=0.5&count=5'
 */
#include <hornet/app.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One stream. Lives in request memory: the server frees it after
 * on_disconnect, which is also where the timer goes. */
typedef struct sse {
    hornet_request_t *req;
    hornet_timer_t *timer;
    double interval;
    unsigned long count; /* 0: until the client leaves */
    unsigned long sent;
    bool pending; /* a tick was refused with HORNET_EAGAIN: send it first on resume */
} sse_t;

static const hornet_api_t *api;

static int
init(const hornet_api_t *server)
{
    api = server;
    return 0;
}

/* The value of query parameter name, copied into buf; 0 if it is absent.
 * No percent-decoding: the values this example takes are plain numbers. */
static int
query_param(const hornet_scope_t *scope, const char *name, char *buf, size_t size)
{
    const char *q = scope->query_string, *end = q + scope->query_string_len;
    size_t nlen = strlen(name);

    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *item_end = amp ? amp : end;

        if ((size_t)(item_end - q) > nlen && memcmp(q, name, nlen) == 0 && q[nlen] == '=') {
            size_t vlen = (size_t)(item_end - q) - nlen - 1;
            if (vlen >= size)
                vlen = size - 1;
            memcpy(buf, q + nlen + 1, vlen);
            buf[vlen] = '\0';
            return 1;
        }
        q = item_end + 1;
    }
    return 0;
}

static void
respond_text(hornet_request_t *req, int status, const char *text)
{
    char len[24];
    hornet_header_t h[] = {
        {"content-type", 12, "text/plain", 10},
        {"content-length", 14, len, 0},
        {"allow", 5, "GET", 3}, /* only read for 405 */
    };

    h[1].value_len = (size_t)snprintf(len, sizeof(len), "%zu", strlen(text));
    if (api->response_start(req, status, h, status == 405 ? 3 : 2, false) == HORNET_OK)
        api->response_body(req, text, strlen(text), false);
}

static void
on_tick(hornet_timer_t *t, void *ud)
{
    sse_t *s = ud;
    char event[64];
    bool last = s->count != 0 && s->sent + 1 == s->count;
    int n = snprintf(event, sizeof(event), "data: tick %lu\n\n", s->sent + 1);
    int rc;

    /* Book-keeping before the call: the chunk that ends the body completes
     * the request, and the server may run on_disconnect (which frees this
     * timer and s) before response_body returns. */
    if (last)
        api->timer_stop(t);
    s->sent++;
    s->pending = false;
    rc = api->response_body(s->req, event, (size_t)n, !last);
    if (rc == HORNET_EAGAIN) {
        /* Over the server's hard limit and nothing was taken, so nothing
         * ended either: s is still ours. on_pause has come or is coming, and
         * on_resume sends this tick again. */
        s->sent--;
        s->pending = true;
        api->timer_stop(t);
    }
    /* HORNET_EGONE: the client left; on_disconnect has run or will, and
     * frees. Touch nothing. */
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    static const hornet_header_t headers[] = {
        {"content-type", 12, "text/event-stream", 17},
        {"cache-control", 13, "no-cache", 8},
    };
    char val[32], *end;
    sse_t *s;

    if (scope->method_len != 3 || memcmp(scope->method, "GET", 3) != 0) {
        respond_text(req, 405, "only GET streams events\n");
        return;
    }
    s = api->alloc(req, sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->req = req;
    s->interval = 0.1;
    s->count = 10;
    if (query_param(scope, "interval", val, sizeof(val))) {
        s->interval = strtod(val, &end);
        if (*val == '\0' || *end != '\0' || !(s->interval >= 0.001 && s->interval <= 3600)) {
            respond_text(req, 400, "interval: expected seconds from 0.001 to 3600\n");
            return;
        }
    }
    if (query_param(scope, "count", val, sizeof(val))) {
        s->count = strtoul(val, &end, 10);
        if (*val < '0' || *val > '9' || *end != '\0') {
            respond_text(req, 400, "count: expected a number (0: no end)\n");
            return;
        }
    }
    s->timer = api->timer_new(on_tick, s);
    if (s->timer == NULL) {
        respond_text(req, 503, "no timer\n");
        return;
    }
    /* set_data before anything can fail below: on_disconnect must find the timer. */
    api->set_data(req, s);
    /* No Content-Length: the length is unknown, so HTTP/1.1 chunks the body. */
    if (api->response_start(req, 200, headers, sizeof(headers) / sizeof(headers[0]), false) !=
        HORNET_OK)
        return;
    api->timer_start(s->timer, s->interval, s->interval);
}

/* Backpressure: the client reads slower than we write. Stop the clock
 * rather than let unsent events pile up in the server. */
static void
on_pause(hornet_request_t *req)
{
    sse_t *s = api->get_data(req);

    if (s && s->timer) {
        api->timer_stop(s->timer);
        api->log(HORNET_LOG_DEBUG, "sse: paused after %lu events", s->sent);
    }
}

static void
on_resume(hornet_request_t *req)
{
    sse_t *s = api->get_data(req);

    if (s && s->timer && (s->count == 0 || s->sent < s->count)) {
        api->log(HORNET_LOG_DEBUG, "sse: resumed after %lu events", s->sent);
        api->timer_start(s->timer, s->pending ? 0 : s->interval, s->interval);
    }
}

/* Exactly once per request, whichever way it ended: the one place that frees. */
static void
on_disconnect(hornet_request_t *req, bool completed)
{
    sse_t *s = api->get_data(req);

    if (s == NULL)
        return;
    if (!completed)
        api->log(HORNET_LOG_DEBUG, "sse: client left after %lu events", s->sent);
    api->timer_free(s->timer);
    s->timer = NULL;
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "sse",
    .init = init,
    .on_request = on_request,
    .on_disconnect = on_disconnect,
    .on_pause = on_pause,
    .on_resume = on_resume,
};
