/*
 * nosym.c - a working simple-mode application exported as `other`, not
 * `app`: loading it without :other must fail (NoAppError, missing symbol);
 * with PATH:other it serves "other\n".
 */
#include <hornet/app.h>

static int
handle(hornet_request_t *req, const hornet_scope_t *scope, const void *body, size_t body_len,
       hornet_simple_response_t *out)
{
    (void)req;
    (void)scope;
    (void)body;
    (void)body_len;
    out->status = 200;
    out->body = "other\n";
    out->body_len = 6;
    return 0;
}

const hornet_app_t other = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "other",
    .handle = handle,
};
