/*
 * dual.c - an application with both an event-mode on_request and a
 * simple-mode handle; each answers with its mode's name ("event\n" or
 * "simple\n"), so a test sees which one the server chose:
 *   app          flags 0: event mode unless app_mode: simple
 *   app_flagged  flags HORNET_APP_SIMPLE: simple mode
 * on_disconnect, on_pause and on_resume are NULL on purpose (unused
 * callbacks are NULL).
 */
#include <hornet/app.h>

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
    (void)req;
    (void)scope;
}

static void
on_body(hornet_request_t *req, const void *data, size_t len, bool more_body)
{
    (void)data;
    (void)len;
    if (more_body)
        return;
    static const hornet_header_t h[] = {{"content-type", 12, "text/plain", 10},
                                        {"content-length", 14, "6", 1}};
    api->response_start(req, 200, h, 2, false);
    api->response_body(req, "event\n", 6, false);
}

static int
handle(hornet_request_t *req, const hornet_scope_t *scope, const void *body, size_t body_len,
       hornet_simple_response_t *out)
{
    (void)req;
    (void)scope;
    (void)body;
    (void)body_len;
    static const hornet_header_t h[] = {{"content-type", 12, "text/plain", 10}};
    out->status = 200;
    out->headers = h;
    out->n_headers = 1;
    out->body = "simple\n";
    out->body_len = 7;
    return 0;
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "dual",
    .init = init,
    .on_request = on_request,
    .on_body = on_body,
    .handle = handle,
};

const hornet_app_t app_flagged = {
    .abi_version = HORNET_ABI_VERSION,
    .flags = HORNET_APP_SIMPLE,
    .name = "dual-flagged",
    .init = init,
    .on_request = on_request,
    .on_body = on_body,
    .handle = handle,
};
