/*
 * lifespan.c - see lifespan.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/lifespan.h"

#include <ev.h>
#include <stdio.h>
#include <string.h>

#include "shared/log.h"
#include "shared/mem.h"
#include "worker/bridge.h"

typedef enum stage_state { IDLE = 0, WAITING, DONE, FAILED } stage_state_t;

struct hornet_lifespan {
    hn_bridge_route_t *route;
    hornet_lifespan_event_t ev;
    stage_state_t state;
    char message[256];
};

static struct hornet_lifespan *spans;
static size_t n_spans;
static bool timed_out;

static const char *
stage_name(hornet_lifespan_event_t ev)
{
    return ev == HORNET_LIFESPAN_STARTUP ? "startup" : "shutdown";
}

static void
on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    timed_out = true;
}

static bool
all_answered(void)
{
    for (size_t i = 0; i < n_spans; i++)
        if (spans[i].state == WAITING)
            return false;
    return true;
}

int
hn_lifespan_run(struct ev_loop *loop, hornet_lifespan_event_t ev, double timeout, hn_err_t *err)
{
    size_t n;
    hn_bridge_route_t *routes = hn_bridge_routes(&n);
    if (spans == NULL) {
        spans = hn_xcalloc(n ? n : 1, sizeof(*spans));
        n_spans = n;
        for (size_t i = 0; i < n; i++)
            spans[i].route = &routes[i];
    }
    for (size_t i = 0; i < n_spans; i++) {
        struct hornet_lifespan *ls = &spans[i];
        ls->ev = ev;
        ls->message[0] = '\0';
        ls->state = ls->route->app->on_lifespan ? WAITING : DONE;
    }
    /* called one by one: an app may answer at once, from inside the call */
    for (size_t i = 0; i < n_spans; i++)
        if (spans[i].state == WAITING)
            spans[i].route->app->on_lifespan(&spans[i], ev);

    ev_timer deadline;
    timed_out = false;
    ev_timer_init(&deadline, on_timeout, timeout, 0);
    ev_timer_start(loop, &deadline);
    while (!all_answered() && !timed_out)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &deadline);

    for (size_t i = 0; i < n_spans; i++) {
        struct hornet_lifespan *ls = &spans[i];
        const char *name = ls->route->app->name ? ls->route->app->name : "?";
        if (ls->state == FAILED) {
            hn_err_set(err, 0, "LifespanFailureError: application %s failed its %s%s%s", name,
                       stage_name(ev), ls->message[0] ? ": " : "", ls->message);
            return HN_ERR;
        }
        if (ls->state == WAITING) {
            ls->state = IDLE; /* a late answer is refused */
            hn_err_set(err, 0, "LifespanTimeoutError: application %s did not complete its %s "
                       "within %gs (%s_timeout)", name, stage_name(ev), timeout, stage_name(ev));
            return HN_ERR;
        }
    }
    return HN_OK;
}

static int
answer(hornet_lifespan_t *ls, hornet_lifespan_event_t ev, stage_state_t state, const char *msg)
{
    if (ls == NULL || ls->state != WAITING || ls->ev != ev) {
        hn_log(HN_LOG_ERROR, "application %s: unexpected lifespan %s answer "
               "(UnexpectedMessageError)", ls && ls->route->app->name ? ls->route->app->name : "?",
               stage_name(ev));
        return HORNET_EUNEXPECTED;
    }
    ls->state = state;
    if (msg)
        snprintf(ls->message, sizeof(ls->message), "%s", msg);
    return HORNET_OK;
}

int
hn_lifespan_complete(hornet_lifespan_t *ls, hornet_lifespan_event_t ev)
{
    return answer(ls, ev, DONE, NULL);
}

int
hn_lifespan_failed(hornet_lifespan_t *ls, hornet_lifespan_event_t ev, const char *message)
{
    return answer(ls, ev, FAILED, message);
}

void
hn_lifespan_set_state(hornet_lifespan_t *ls, void *state)
{
    if (ls)
        ls->route->state = state;
}

void *
hn_lifespan_get_state(hornet_lifespan_t *ls)
{
    return ls ? ls->route->state : NULL;
}
