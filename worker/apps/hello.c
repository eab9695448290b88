/*
 * hello.c - builtin:hello, the smallest useful app and the benchmark target:
 * 200 text/plain "Hello, world!" for every request, whatever its body.
 *
 * Written against the public ABI (include/hornet/app.h) only, like any
 * shared-object app; the server's bridge, not this file, decides framing and
 * drains an unread body. No state and no allocation per request.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "include/hornet/app.h"

static int init(const hornet_api_t *a);
static void on_request(hornet_request_t *req, const hornet_scope_t *scope);

const hornet_app_t hn_builtin_hello = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "hello",
    .init = init,
    .on_request = on_request,
};

static const hornet_api_t *api;

static const char body[] = "Hello, world!";
static const hornet_header_t headers[] = {
    {"content-type", 12, "text/plain", 10},
    {"content-length", 14, "13", 2},
};

static int
init(const hornet_api_t *a)
{
    api = a;
    return 0;
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    (void)scope;
    if (api->response_start(req, 200, headers, sizeof(headers) / sizeof(headers[0]), false) ==
        HORNET_OK)
        api->response_body(req, body, sizeof(body) - 1, false);
}
