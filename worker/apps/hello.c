/*
 * hello.c - builtin:hello, the smallest useful app and the benchmark target:
 * 200 text/plain "Hello, world!" for every request.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/app.h"

static const char body[] = "Hello, world!";
static const hn_header_t headers[] = {
    {"content-type", 12, "text/plain", 10},
    {"content-length", 14, "13", 2},
};

static void
on_request(hn_request_t *r)
{
    if (hn_response_start(r, 200, headers, HN_ARRAY_LEN(headers)) == HN_OK)
        hn_response_write(r, body, sizeof(body) - 1, true);
}

const hn_app_t hn_app_hello = {
    .name = "hello",
    .on_request = on_request,
};
