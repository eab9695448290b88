/*
 * stuck.c - a test app whose /stuck request never returns to the loop (the
 * worker's heartbeat stops), for the master's watchdog; /stuck-until-term
 * returns once the watchdog's SIGTERM is pending (the worker then drains and
 * exits 0); /block?ms=N holds the loop N milliseconds (a slow application
 * call) and then answers; other paths: 200.
 */
#include <hornet/app.h>

#include <signal.h>
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
    if (scope->path_len == 17 && memcmp(scope->path, "/stuck-until-term", 17) == 0) {
        sigset_t pending;
        /* the worker reads TERM through a signalfd, so it stays pending here */
        do {
            usleep(10000);
            sigpending(&pending);
        } while (!sigismember(&pending, SIGTERM));
    }
    if (scope->path_len == 6 && memcmp(scope->path, "/block", 6) == 0 &&
        scope->query_string_len > 3 && memcmp(scope->query_string, "ms=", 3) == 0) {
        useconds_t ms = 0;
        for (size_t i = 3; i < scope->query_string_len; i++)
            ms = ms * 10 + (useconds_t)(scope->query_string[i] - '0');
        usleep(ms * 1000);
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
