/*
 * bridge.h - between the worker's requests and the public application ABI
 * (include/hornet/app.h): routes each request to its application (mount
 * prefixes, root_path), builds the ABI scope, delivers events, checks the
 * order of what the app sends back, and implements the hornet_api_t table
 * (responses, request memory, timers, logging, config values).
 */
#ifndef HN_WORKER_BRIDGE_H
#define HN_WORKER_BRIDGE_H

#include <stddef.h>

#include "shared/common.h"

struct ev_loop;
struct hn_config;
struct hn_app;
struct hornet_app;
struct hornet_api;

/* The application a request goes to, resolved once per worker. */
typedef struct hn_bridge_route {
    const char *prefix;  /* "" for the default application */
    size_t prefix_len;
    const struct hornet_app *app;
    int is_simple;       /* simple mode (whole request, whole response) */
    void *state;         /* set in lifespan; every scope of this app carries it */
} hn_bridge_route_t;

/* Load every configured application (application_path and mounts), give
 * each the API table and run their init. On error, err names the
 * application. */
int hn_bridge_open(struct ev_loop *loop, const struct hn_config *cfg, hn_err_t *err);
/* The routes, for lifespan (default application first). */
hn_bridge_route_t *hn_bridge_routes(size_t *n);

/* Tell applications about requests that ended since the last call
 * (on_disconnect) and free them. Called from the flush pass; returns how
 * many there were (they may have produced output to flush). */
size_t hn_bridge_flush(void);

/* The table every application's init receives (tests/unit/worker/
 * test_api_has.c checks it has no NULL member). */
const struct hornet_api *hn_bridge_api(void);

/* The worker-side application every request is handed to. */
extern const struct hn_app hn_bridge_app;

#endif
