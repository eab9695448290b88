/*
 * simple.c - a simple-mode test application (handle set, on_request NULL):
 * the whole request in, the whole response out.
 *
 *   /                 "simple\n"
 *   /echo             the request body back, x-body-len: its length
 *   /fail             handle returns -1 (the server answers 500)
 *   /count            "handled=N bytes=M" (calls of handle, body bytes seen)
 *   /scope            "root_path=R path=P raw_path=W query=Q"
 *   /big?bytes=N      N bytes (byte i is i % 251) from api->alloc
 *   /status?code=N    status N, empty body
 *   /headers          two Set-Cookie headers and one x-simple header
 */
#include <hornet/app.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const hornet_api_t *api;
static unsigned handled;
static unsigned long long bytes_seen;

static bool
path_is(const hornet_scope_t *s, const char *p)
{
    return s->path_len == strlen(p) && memcmp(s->path, p, s->path_len) == 0;
}

static long
qlong(const hornet_scope_t *s, const char *name, long def)
{
    size_t nl = strlen(name);
    const char *q = s->query_string, *end = q + s->query_string_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *e = amp ? amp : end;
        if ((size_t)(e - q) > nl && memcmp(q, name, nl) == 0 && q[nl] == '=') {
            char v[32];
            size_t vl = (size_t)(e - q) - nl - 1;
            if (vl >= sizeof(v))
                vl = sizeof(v) - 1;
            memcpy(v, q + nl + 1, vl);
            v[vl] = '\0';
            return strtol(v, NULL, 10);
        }
        q = amp ? amp + 1 : end;
    }
    return def;
}

static char *
fmt_alloc(hornet_request_t *req, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static char *
fmt_alloc(hornet_request_t *req, size_t *len, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    char *out = api->alloc(req, (size_t)n + 1);
    memcpy(out, tmp, (size_t)n + 1);
    *len = (size_t)n;
    return out;
}

static const hornet_header_t text_headers[] = {{"content-type", 12, "text/plain", 10}};
static const hornet_header_t cookie_headers[] = {
    {"content-type", 12, "text/plain", 10},
    {"set-cookie", 10, "a=1", 3},
    {"set-cookie", 10, "b=2", 3},
    {"x-simple", 8, "yes", 3},
};

static int
handle(hornet_request_t *req, const hornet_scope_t *scope, const void *body, size_t body_len,
       hornet_simple_response_t *out)
{
    handled++;
    bytes_seen += body_len;
    out->status = 200;
    out->headers = text_headers;
    out->n_headers = 1;
    size_t len = 0;
    if (path_is(scope, "/")) {
        out->body = "simple\n";
        out->body_len = 7;
    } else if (path_is(scope, "/echo")) {
        char *copy = api->alloc(req, body_len);
        if (body_len)
            memcpy(copy, body, body_len);
        hornet_header_t *h = api->alloc(req, 2 * sizeof(*h));
        char *v = fmt_alloc(req, &len, "%zu", body_len);
        h[0] = (hornet_header_t){"content-type", 12, "application/octet-stream", 24};
        h[1] = (hornet_header_t){"x-body-len", 10, v, len};
        out->headers = h;
        out->n_headers = 2;
        out->body = copy;
        out->body_len = body_len;
    } else if (path_is(scope, "/fail")) {
        return -1;
    } else if (path_is(scope, "/count")) {
        out->body = fmt_alloc(req, &len, "handled=%u bytes=%llu\n", handled, bytes_seen);
        out->body_len = len;
    } else if (path_is(scope, "/scope")) {
        out->body = fmt_alloc(req, &len, "root_path=%.*s path=%.*s raw_path=%.*s query=%.*s\n",
                              (int)scope->root_path_len, scope->root_path, (int)scope->path_len,
                              scope->path, (int)scope->raw_path_len, scope->raw_path,
                              (int)scope->query_string_len, scope->query_string);
        out->body_len = len;
    } else if (path_is(scope, "/big")) {
        long n = qlong(scope, "bytes", 1048576);
        unsigned char *b = api->alloc(req, (size_t)n);
        for (long i = 0; i < n; i++)
            b[i] = (unsigned char)(i % 251);
        out->body = b;
        out->body_len = (size_t)n;
    } else if (path_is(scope, "/status")) {
        out->status = (int)qlong(scope, "code", 200);
        out->body = "";
        out->body_len = 0;
    } else if (path_is(scope, "/headers")) {
        out->headers = cookie_headers;
        out->n_headers = 4;
        out->body = "cookies\n";
        out->body_len = 8;
    } else {
        out->status = 404;
        out->body = "not found\n";
        out->body_len = 10;
    }
    return 0;
}

static int
init(const hornet_api_t *a)
{
    api = a;
    return 0;
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "simple",
    .init = init,
    .handle = handle,
};
