/*
 * simple.c - simple mode, the WSGI counterpart: the app sets handle instead
 * of on_request and gets the whole request (body included, up to
 * wsgi_max_body_size) in one call, returning the whole response in *out.
 * No events, no per-request state to free: the response body lives in
 * request memory (api->alloc), which the server frees after sending it, and
 * the server adds Content-Length.
 *
 *   make && hornet ./libsimple.so:app
 *   curl -d 'some data' 'http://127.0.0.1:8000/some/path?x=1'
 */
#include <hornet/app.h>

#include <stdio.h>

static const hornet_api_t *api;

static int
init(const hornet_api_t *server)
{
    api = server;
    return 0;
}

static int
handle(hornet_request_t *req, const hornet_scope_t *scope, const void *body, size_t body_len,
       hornet_simple_response_t *out)
{
    static const hornet_header_t headers[] = {
        {"content-type", 12, "text/plain; charset=utf-8", 25},
    };
    static const char fmt[] = "method: %.*s\npath: %.*s\nquery: %.*s\nroot_path: %.*s\n"
                              "body: %zu bytes\n";
    /* The formatted length is the format plus the pieces, and no more. */
    size_t size = sizeof(fmt) + scope->method_len + scope->path_len + scope->query_string_len +
                  scope->root_path_len + 20;
    char *text = api->alloc(req, size);
    int n;

    (void)body;
    n = snprintf(text, size, fmt, (int)scope->method_len, scope->method, (int)scope->path_len,
                 scope->path, (int)scope->query_string_len, scope->query_string,
                 (int)scope->root_path_len, scope->root_path, body_len);
    if (n < 0)
        return -1; /* the server answers 500 */
    out->status = 200;
    out->headers = headers;
    out->n_headers = sizeof(headers) / sizeof(headers[0]);
    out->body = text;
    out->body_len = (size_t)n < size ? (size_t)n : size - 1;
    return 0;
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "simple",
    .init = init,
    .handle = handle, /* and no on_request: app_mode auto picks simple mode */
};
