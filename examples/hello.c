/*
 * hello.c - the smallest hornet application: every request gets 200
 * text/plain "Hello, world!". It shows the event mode at its simplest: keep
 * the function table init() hands over, answer from on_request with
 * response_start and one response_body, leave every other callback NULL
 * (the server drains a body nobody reads). The benchmark twin of
 * builtin:hello: same bytes on the wire.
 *
 *   make && hornet ./libhello.so:app
 *   curl -i http://127.0.0.1:8000/
 */
#include <hornet/app.h>

static const hornet_api_t *api;

/* Static: response_start copies the headers, but there is nothing to copy
 * per request anyway. */
static const char body[] = "Hello, world!";
static const hornet_header_t headers[] = {
    {"content-type", 12, "text/plain", 10},
    {"content-length", 14, "13", 2},
};

static int
init(const hornet_api_t *server)
{
    api = server;
    return 0;
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    (void)scope;
    /* A refused start (the client is already gone) leaves nothing to send. */
    if (api->response_start(req, 200, headers, sizeof(headers) / sizeof(headers[0]), false) ==
        HORNET_OK)
        api->response_body(req, body, sizeof(body) - 1, false);
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "hello",
    .init = init,
    .on_request = on_request,
};
