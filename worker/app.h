/*
 * app.h - the worker's side of an application: the callbacks a protocol
 * makes for one hn_request_t. One implementation exists, the bridge
 * (bridge.c), which turns them into the public ABI's events
 * (include/hornet/app.h) for the application the request is routed to.
 *
 * Order for one request: on_request (head parsed), on_body (zero or more),
 * on_body_end (body complete), then exactly one of on_end (response and body
 * complete) or on_abort (the client went away or the request failed first).
 * on_pause / on_resume may come in between when the client reads slowly.
 * After on_end or on_abort the request is freed.
 */
#ifndef HN_WORKER_APP_H
#define HN_WORKER_APP_H

#include "shared/common.h"
#include "worker/request.h"

struct hn_app {
    const char *name;
    void (*on_request)(hn_request_t *r);
    void (*on_body)(hn_request_t *r, const char *data, size_t len);
    void (*on_body_end)(hn_request_t *r);
    void (*on_end)(hn_request_t *r);
    void (*on_abort)(hn_request_t *r);
    void (*on_pause)(hn_request_t *r);
    void (*on_resume)(hn_request_t *r);
};

#endif
