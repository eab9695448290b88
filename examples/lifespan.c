/*
 * lifespan.c - lifespan and its state (ASGI's lifespan.startup / shutdown and
 * scope["state"]). On STARTUP the app allocates per-worker state (a request
 * counter and the start time), hands it to the server with
 * api->lifespan_set_state and completes; every request then finds it in
 * scope->state and reports "requests served by this worker: N". On SHUTDOWN,
 * after the worker drained, it logs, frees and completes.
 *
 * Demo switches, read at startup from the environment:
 *   HORNET_EXAMPLE_FAIL_STARTUP=1      startup fails with a message: the
 *                                      worker does not start, hornet exits 1
 *   HORNET_EXAMPLE_STARTUP_DELAY=SECS  answer startup later, from a timer (an
 *                                      app may take its time, up to
 *                                      startup_timeout)
 *
 *   make && hornet -w 2 ./liblifespan.so:app
 *   curl http://127.0.0.1:8000/; curl http://127.0.0.1:8000/
 */
#include <hornet/app.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct state {
    unsigned long requests;
    double started; /* api->now() at startup */
} state_t;

static const hornet_api_t *api;

/* The lifespan callbacks get no state back (scope->state is for requests),
 * so the app keeps its own pointer to free at shutdown. One worker, one
 * state: each worker is a process of its own. */
static state_t *worker_state;

/* For a delayed startup: the answer waits in a timer. */
static hornet_lifespan_t *pending_startup;
static hornet_timer_t *startup_timer;

static int
init(const hornet_api_t *server)
{
    api = server;
    return 0;
}

static void
startup_done(hornet_lifespan_t *ls)
{
    worker_state = calloc(1, sizeof(*worker_state));
    if (worker_state == NULL) {
        api->lifespan_failed(ls, HORNET_LIFESPAN_STARTUP, "out of memory");
        return;
    }
    worker_state->started = api->now();
    api->lifespan_set_state(ls, worker_state);
    api->lifespan_complete(ls, HORNET_LIFESPAN_STARTUP);
}

static void
on_startup_timer(hornet_timer_t *t, void *ud)
{
    (void)ud;
    api->timer_free(t);
    startup_timer = NULL;
    startup_done(pending_startup);
    pending_startup = NULL;
}

static void
on_lifespan(hornet_lifespan_t *ls, hornet_lifespan_event_t ev)
{
    const char *fail = getenv("HORNET_EXAMPLE_FAIL_STARTUP");
    const char *delay = getenv("HORNET_EXAMPLE_STARTUP_DELAY");

    if (ev == HORNET_LIFESPAN_STARTUP) {
        if (fail && strcmp(fail, "1") == 0) {
            api->lifespan_failed(ls, ev, "HORNET_EXAMPLE_FAIL_STARTUP=1: refusing to start");
            return;
        }
        if (delay && atof(delay) > 0) {
            /* Answer later: return now, complete from the timer. */
            pending_startup = ls;
            startup_timer = api->timer_new(on_startup_timer, NULL);
            if (startup_timer == NULL) {
                api->lifespan_failed(ls, ev, "no timer");
                return;
            }
            api->timer_start(startup_timer, atof(delay), 0);
            return;
        }
        startup_done(ls);
        return;
    }

    /* SHUTDOWN: no request runs any more, so the state can go. */
    if (startup_timer) {
        /* Shut down before the delayed startup answered. */
        api->timer_free(startup_timer);
        startup_timer = NULL;
    }
    if (worker_state) {
        api->log(HORNET_LOG_INFO, "lifespan example: worker %ld served %lu requests in %.1f s",
                 (long)getpid(), worker_state->requests, api->now() - worker_state->started);
        free(worker_state);
        worker_state = NULL;
    }
    api->lifespan_complete(ls, ev);
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    state_t *st = scope->state;
    char body[160], len[24];
    int n;

    if (st == NULL) {
        /* Only if the server skipped lifespan; say so rather than crash. */
        n = snprintf(body, sizeof(body), "no lifespan state\n");
    } else {
        st->requests++;
        n = snprintf(body, sizeof(body),
                     "requests served by this worker: %lu\nworker pid: %ld\nup for: %.1f s\n",
                     st->requests, (long)getpid(), api->now() - st->started);
    }

    hornet_header_t headers[] = {
        {"content-type", 12, "text/plain", 10},
        {"content-length", 14, len, (size_t)snprintf(len, sizeof(len), "%d", n)},
    };
    /* Both copied by the server before returning: stack buffers are fine. */
    if (api->response_start(req, st ? 200 : 500, headers, 2, false) == HORNET_OK)
        api->response_body(req, body, (size_t)n, false);
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "lifespan",
    .init = init,
    .on_lifespan = on_lifespan,
    .on_request = on_request,
};
