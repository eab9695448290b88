/*
 * wsprobe.c - a WebSocket test application (tests/integration/test_websocket.py).
 *
 * HTTP (non-WebSocket) scopes: 200 "http".
 *
 * WebSocket scopes, by the handshake's path:
 *   /deny403       websocket_close(1000) before accept: the client gets 403
 *   /deny          an HTTP denial: 401, content-type: text/plain, x-denied: yes,
 *                  body "go away"
 *   /subprotocol   accepts choosing the LAST offered subprotocol
 *   /headers       accepts with an extra response header x-accepted: 1
 *   /close         accepts, then at once websocket_close(4000, "bye")
 *   /scope         accepts, then sends one text message describing the scope:
 *                  "type=ws scheme=S path=P query=Q http_version=V method=M
 *                  subprotocols=A,B" (method: NULL when the scope has none)
 *   anything else  accepts without subprotocol and answers messages:
 *                  text "close:CODE:REASON"  websocket_close(CODE, REASON or NULL)
 *                  text "big:N"              a binary message of N bytes 'x'
 *                  text "badtext"            websocket_send(text, "\xff\xfe"):
 *                                            replies "EINVAL" if refused, else "BUG"
 *                  text "badclose"           websocket_close(1005): replies "EINVAL"
 *                                            if refused, else "BUG"
 *                  anything else             echoed with the same type
 *
 * on_disconnect of a WebSocket logs (WARNING):
 *   wsprobe: disconnect path=P completed=C code=N reason=R
 * with N and R from api->websocket_close_code (code=-1 when the server's api
 * table is too old to have it).
 */
#include <hornet/app.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const hornet_api_t *api;

static bool
path_is(const hornet_scope_t *s, const char *p)
{
    return s->path_len == strlen(p) && memcmp(s->path, p, s->path_len) == 0;
}

static bool
has_prefix(const void *data, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(data, prefix, n) == 0;
}

static bool
is_exactly(const void *data, size_t len, const char *s)
{
    return len == strlen(s) && memcmp(data, s, len) == 0;
}

static void
send_text(hornet_request_t *req, const char *s)
{
    int rc = api->websocket_send(req, s, strlen(s), true);
    if (rc != HORNET_OK)
        api->log(HORNET_LOG_WARNING, "wsprobe: websocket_send rc=%d", rc);
}

static void
accept_ws(hornet_request_t *req, const char *subprotocol, const hornet_header_t *h, size_t n)
{
    int rc = api->websocket_accept(req, subprotocol, h, n);
    if (rc != HORNET_OK)
        api->log(HORNET_LOG_WARNING, "wsprobe: websocket_accept rc=%d", rc);
}

static void
scope_message(hornet_request_t *req, const hornet_scope_t *s)
{
    size_t cap = 512 + s->path_len + s->query_string_len + s->method_len;
    for (size_t i = 0; i < s->n_subprotocols; i++)
        cap += strlen(s->subprotocols[i]) + 1;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    int n =
        snprintf(buf, cap, "type=%s scheme=%s path=%.*s query=%.*s http_version=%s method=",
                 s->type == HORNET_SCOPE_WEBSOCKET ? "ws" : "other", s->scheme ? s->scheme : "NULL",
                 (int)s->path_len, s->path, (int)s->query_string_len, s->query_string,
                 s->http_version ? s->http_version : "NULL");
    size_t len = n > 0 ? (size_t)n : 0;
    if (s->method)
        len += (size_t)snprintf(buf + len, cap - len, "%.*s", (int)s->method_len, s->method);
    else
        len += (size_t)snprintf(buf + len, cap - len, "NULL");
    len += (size_t)snprintf(buf + len, cap - len, " subprotocols=");
    for (size_t i = 0; i < s->n_subprotocols; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "", s->subprotocols[i]);
    int rc = api->websocket_send(req, buf, len, true);
    if (rc != HORNET_OK)
        api->log(HORNET_LOG_WARNING, "wsprobe: websocket_send rc=%d", rc);
    free(buf);
}

static void
http_answer(hornet_request_t *req)
{
    hornet_header_t h[2] = {
        {"content-type", 12, "text/plain", 10},
        {"content-length", 14, "4", 1},
    };
    api->response_start(req, 200, h, 2, false);
    api->response_body(req, "http", 4, false);
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    /* the scope is request memory: valid until on_disconnect returns */
    api->set_data(req, (void *)scope);
    if (scope->type != HORNET_SCOPE_WEBSOCKET) {
        http_answer(req);
        return;
    }
    if (path_is(scope, "/deny403")) {
        int rc = api->websocket_close(req, 1000, NULL);
        if (rc != HORNET_OK)
            api->log(HORNET_LOG_WARNING, "wsprobe: deny403 websocket_close rc=%d", rc);
    } else if (path_is(scope, "/deny")) {
        hornet_header_t h[2] = {
            {"content-type", 12, "text/plain", 10},
            {"x-denied", 8, "yes", 3},
        };
        int rc = api->response_start(req, 401, h, 2, false);
        if (rc == HORNET_OK)
            rc = api->response_body(req, "go away", 7, false);
        if (rc != HORNET_OK)
            api->log(HORNET_LOG_WARNING, "wsprobe: deny response rc=%d", rc);
    } else if (path_is(scope, "/subprotocol")) {
        const char *sp =
            scope->n_subprotocols ? scope->subprotocols[scope->n_subprotocols - 1] : NULL;
        accept_ws(req, sp, NULL, 0);
    } else if (path_is(scope, "/headers")) {
        hornet_header_t h = {"x-accepted", 10, "1", 1};
        accept_ws(req, NULL, &h, 1);
    } else if (path_is(scope, "/close")) {
        accept_ws(req, NULL, NULL, 0);
        int rc = api->websocket_close(req, 4000, "bye");
        if (rc != HORNET_OK)
            api->log(HORNET_LOG_WARNING, "wsprobe: close websocket_close rc=%d", rc);
    } else if (path_is(scope, "/scope")) {
        accept_ws(req, NULL, NULL, 0);
        scope_message(req, scope);
    } else {
        accept_ws(req, NULL, NULL, 0);
    }
}

static void
on_body(hornet_request_t *req, const void *data, size_t len, bool more_body)
{
    (void)req;
    (void)data;
    (void)len;
    (void)more_body;
}

static void
on_websocket_receive(hornet_request_t *req, const void *data, size_t len, bool is_text)
{
    if (is_text && has_prefix(data, len, "close:")) {
        /* close:CODE:REASON */
        char buf[256];
        size_t n = len - 6 < sizeof(buf) - 1 ? len - 6 : sizeof(buf) - 1;
        memcpy(buf, (const char *)data + 6, n);
        buf[n] = '\0';
        char *colon = strchr(buf, ':');
        const char *reason = NULL;
        if (colon) {
            *colon = '\0';
            if (colon[1])
                reason = colon + 1;
        }
        int code = (int)strtol(buf, NULL, 10);
        int rc = api->websocket_close(req, code, reason);
        if (rc != HORNET_OK)
            api->log(HORNET_LOG_WARNING, "wsprobe: websocket_close(%d) rc=%d", code, rc);
    } else if (is_text && has_prefix(data, len, "big:")) {
        char buf[32];
        size_t n = len - 4 < sizeof(buf) - 1 ? len - 4 : sizeof(buf) - 1;
        memcpy(buf, (const char *)data + 4, n);
        buf[n] = '\0';
        size_t size = (size_t)strtoul(buf, NULL, 10);
        char *big = malloc(size ? size : 1);
        if (!big)
            abort();
        memset(big, 'x', size);
        int rc = api->websocket_send(req, big, size, false);
        if (rc != HORNET_OK)
            api->log(HORNET_LOG_WARNING, "wsprobe: big websocket_send rc=%d", rc);
        free(big);
    } else if (is_text && is_exactly(data, len, "badtext")) {
        int rc = api->websocket_send(req, "\xff\xfe", 2, true);
        send_text(req, rc == HORNET_EINVAL ? "EINVAL" : "BUG");
    } else if (is_text && is_exactly(data, len, "badclose")) {
        int rc = api->websocket_close(req, 1005, NULL);
        send_text(req, rc == HORNET_EINVAL ? "EINVAL" : "BUG");
    } else {
        int rc = api->websocket_send(req, data, len, is_text);
        if (rc != HORNET_OK)
            api->log(HORNET_LOG_WARNING, "wsprobe: echo websocket_send rc=%d", rc);
    }
}

static void
on_disconnect(hornet_request_t *req, bool completed)
{
    const hornet_scope_t *scope = api->get_data(req);
    api->set_data(req, NULL);
    if (!scope || scope->type != HORNET_SCOPE_WEBSOCKET)
        return;
    int code = -1;
    const char *reason = NULL;
    size_t reason_len = 0;
    if (HORNET_API_HAS(api, websocket_close_code))
        code = api->websocket_close_code(req, &reason, &reason_len);
    if (!reason)
        reason_len = 0;
    api->log(HORNET_LOG_WARNING, "wsprobe: disconnect path=%.*s completed=%d code=%d reason=%.*s",
             (int)scope->path_len, scope->path, completed ? 1 : 0, code, (int)reason_len,
             reason ? reason : "");
}

static int
init(const hornet_api_t *a)
{
    api = a;
    return 0;
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .flags = 0,
    .name = "wsprobe",
    .init = init,
    .on_lifespan = NULL,
    .on_request = on_request,
    .on_body = on_body,
    .on_disconnect = on_disconnect,
    .on_pause = NULL,
    .on_resume = NULL,
    .on_websocket_receive = on_websocket_receive,
    .handle = NULL,
};
