/*
 * badversion.c - an application built against another ABI version (999):
 * the loader must refuse it with NoAppError. Otherwise a working app.
 */
#include <hornet/app.h>

static const hornet_api_t *api;

static int
init(const hornet_api_t *a)
{
    api = a;
    return 0;
}

static int
handle(hornet_request_t *req, const hornet_scope_t *scope, const void *body, size_t body_len,
       hornet_simple_response_t *out)
{
    (void)req;
    (void)scope;
    (void)body;
    (void)body_len;
    out->status = 200;
    out->body = "badversion\n";
    out->body_len = 11;
    return 0;
}

const hornet_app_t app = {
    .abi_version = 999,
    .name = "badversion",
    .init = init,
    .handle = handle,
};
