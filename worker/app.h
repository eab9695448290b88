/*
 * app.h - what the worker calls an application, until the public ABI
 * (include/hornet/app.h) is layered on top: a table of callbacks fed from
 * hn_request_t. Built-in apps implement it directly.
 *
 * Order for one request: on_request (head parsed), on_body (zero or more),
 * on_body_end (request body complete) — or on_abort if the client goes away
 * first. An app may respond at any point (even before the body ends). After
 * on_abort or once both the response and the body are done, the request is
 * freed: drop every pointer to it.
 */
#ifndef HN_WORKER_APP_H
#define HN_WORKER_APP_H

#include "shared/common.h"
#include "worker/request.h"

struct hn_config;

struct hn_app {
    const char *name;
    /* once per worker after fork, before accepting; HN_OK or HN_ERR + err */
    int (*init)(const struct hn_config *cfg, hn_err_t *err);
    void (*on_request)(hn_request_t *r);
    void (*on_body)(hn_request_t *r, const char *data, size_t len); /* may be NULL */
    void (*on_body_end)(hn_request_t *r);                            /* may be NULL */
    void (*on_abort)(hn_request_t *r);                               /* may be NULL */
};

/* "builtin:hello" -> the hello app; NULL if there is none by that name.
 * err says which names exist. */
const hn_app_t *hn_app_find(const char *spec, hn_err_t *err);

extern const hn_app_t hn_app_hello, hn_app_echo, hn_app_static;

#endif
