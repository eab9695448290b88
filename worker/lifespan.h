/*
 * lifespan.h - ASGI lifespan for every application of the worker: startup
 * before the worker accepts, shutdown after it drained, each bounded by its
 * timeout (Hypercorn's startup_timeout / shutdown_timeout). An application
 * without on_lifespan simply has none.
 */
#ifndef HN_WORKER_LIFESPAN_H
#define HN_WORKER_LIFESPAN_H

#include "include/hornet/app.h"
#include "shared/common.h"

struct ev_loop;

/* Run one stage for every application and wait (running the loop) until
 * each answered or the timeout passed. HN_ERR with err saying
 * "LifespanFailureError: ..." or "LifespanTimeoutError: ...". */
int hn_lifespan_run(struct ev_loop *loop, hornet_lifespan_event_t ev, double timeout,
                    hn_err_t *err);

/* The ABI's lifespan functions (hornet_api_t). */
int hn_lifespan_complete(hornet_lifespan_t *ls, hornet_lifespan_event_t ev);
int hn_lifespan_failed(hornet_lifespan_t *ls, hornet_lifespan_event_t ev, const char *message);
void hn_lifespan_set_state(hornet_lifespan_t *ls, void *state);
void *hn_lifespan_get_state(hornet_lifespan_t *ls);

#endif
