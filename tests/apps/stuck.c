/*
 * stuck.c - a test app whose /stuck request never returns to the loop (the
 * worker's heartbeat stops), for the master's watchdog; other paths: 200.
 */
#include <hornet/app.h>

#include <string.h>
#include <unistd.h>

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
    if (scope->path_len == 6 && memcmp(scope->path, "/stuck", 6) == 0) {
        for (;;)
            sleep(1); /* TERM is read by the loop, which never runs again */
    }
    static const hornet_header_t h[] = {{"content-length", 14, "3", 1}};
    if (api->response_start(req, 200, h, 1, false) == HORNET_OK)
        api->response_body(req, "ok\n", 3, false);
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "stuck",
    .init = init,
    .on_request = on_request,
};
