/*
 * lifespan.c - a test application with lifespan, driven by environment
 * variables (the workers inherit the server's environment):
 *
 *   LS_STARTUP   ok (default): complete at once, after lifespan_set_state
 *                fail: lifespan_failed(STARTUP, LS_MESSAGE) at once
 *                fail_later: the same from a timer LS_DELAY_MS later
 *                later: complete from a timer LS_DELAY_MS later
 *                never: never answer
 *                gate: complete once the file LS_GATE exists, removing it, so
 *                each time the test creates it one startup goes through (a
 *                reload held in progress for as long as the test needs)
 *   LS_SHUTDOWN  ok (default) | fail | later | never, likewise for SHUTDOWN
 *   LS_DELAY_MS  default 300
 *   LS_MESSAGE   failure message, default "LS-TEST-FAILURE: database unreachable"
 *   LS_MARKER    a file; each event appends "PID EVENT\n": init, startup,
 *                startup-answered HOW rc=R, shutdown, shutdown-answered HOW
 *                rc=R, request-start, request-end completed=C (for /slow),
 *                "shutdown state=same|other" (api->lifespan_get_state at SHUTDOWN)
 *
 * HTTP:
 *   /            "lifespan started=S startups=N shutdowns=M" (S: 1 when the
 *                startup had completed before this request arrived)
 *   /state       "state=same value=..." when scope->state is the pointer set
 *                with lifespan_set_state, else "state=null" / "state=other"
 *   /slow?ms=N   answers "slow\n" N ms later (for shutdown-after-drain tests)
 */
#include <hornet/app.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const hornet_api_t *api;
static hornet_lifespan_t *g_ls;
static hornet_lifespan_event_t g_pending;
static hornet_timer_t *g_ls_timer;
static bool started;
static unsigned startups, shutdowns;

typedef struct app_state {
    char text[64];
} app_state_t;
static app_state_t g_state = {"lifespan-state-42"};

static const char *
env(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static void
mark(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
mark(const char *fmt, ...)
{
    const char *path = getenv("LS_MARKER");
    if (!path || !*path)
        return;
    char line[512];
    int n = snprintf(line, sizeof(line), "%ld ", (long)getpid());
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)n) < 0) {
        /* nothing to do: the test will notice the missing line */
    }
    close(fd);
}

static const char *
ev_name(hornet_lifespan_event_t ev)
{
    return ev == HORNET_LIFESPAN_STARTUP ? "startup" : "shutdown";
}

static void
answer(hornet_lifespan_event_t ev, const char *how)
{
    int rc;
    if (strncmp(how, "fail", 4) == 0) {
        rc = api->lifespan_failed(g_ls, ev, env("LS_MESSAGE",
                                                "LS-TEST-FAILURE: database unreachable"));
    } else {
        if (ev == HORNET_LIFESPAN_STARTUP) {
            api->lifespan_set_state(g_ls, &g_state);
            started = true;
        }
        rc = api->lifespan_complete(g_ls, ev);
    }
    mark("%s-answered %s rc=%d", ev_name(ev), how, rc);
}

static void
on_ls_timer(hornet_timer_t *t, void *ud)
{
    (void)ud;
    const char *how = env(g_pending == HORNET_LIFESPAN_STARTUP ? "LS_STARTUP" : "LS_SHUTDOWN",
                          "ok");
    if (strcmp(how, "gate") == 0) {
        if (unlink(env("LS_GATE", "")) < 0)
            return; /* closed: the repeating timer looks again */
        api->timer_stop(t);
    }
    answer(g_pending, strcmp(how, "fail_later") == 0 ? "fail" : "ok");
}

static void
on_lifespan(hornet_lifespan_t *ls, hornet_lifespan_event_t ev)
{
    g_ls = ls;
    if (ev == HORNET_LIFESPAN_STARTUP)
        startups++;
    else
        shutdowns++;
    mark("%s", ev_name(ev));
    /* lifespan_get_state is a later addition: check the server's table has it */
    if (ev == HORNET_LIFESPAN_SHUTDOWN && HORNET_API_HAS(api, lifespan_get_state))
        mark("shutdown state=%s", api->lifespan_get_state(ls) == &g_state ? "same" : "other");
    const char *how = env(ev == HORNET_LIFESPAN_STARTUP ? "LS_STARTUP" : "LS_SHUTDOWN", "ok");
    if (strcmp(how, "never") == 0)
        return;
    if (strcmp(how, "later") == 0 || strcmp(how, "fail_later") == 0 || strcmp(how, "gate") == 0) {
        g_pending = ev;
        if (!g_ls_timer)
            g_ls_timer = api->timer_new(on_ls_timer, NULL);
        if (strcmp(how, "gate") == 0)
            api->timer_start(g_ls_timer, 0.01, 0.01);
        else
            api->timer_start(g_ls_timer, atof(env("LS_DELAY_MS", "300")) / 1000.0, 0);
        return;
    }
    answer(ev, how);
}

typedef struct req_state {
    hornet_request_t *req;
    hornet_timer_t *timer;
    int kind; /* 0 root, 1 state, 2 slow, 3 not found */
    bool started_at_request;
    void *state_at_request;
    long ms;
} req_state_t;

static void
respond(hornet_request_t *req, int status, const char *text)
{
    char cl[32];
    snprintf(cl, sizeof(cl), "%zu", strlen(text));
    hornet_header_t h[2] = {{"content-type", 12, "text/plain", 10},
                            {"content-length", 14, cl, strlen(cl)}};
    api->response_start(req, status, h, 2, false);
    api->response_body(req, text, strlen(text), false);
}

static void
on_slow_timer(hornet_timer_t *t, void *ud)
{
    (void)t;
    req_state_t *r = ud;
    respond(r->req, 200, "slow\n");
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    req_state_t *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->req = req;
    r->started_at_request = started;
    r->state_at_request = scope->state;
    if (scope->path_len == 6 && memcmp(scope->path, "/state", 6) == 0)
        r->kind = 1;
    else if (scope->path_len == 5 && memcmp(scope->path, "/slow", 5) == 0)
        r->kind = 2;
    else if (scope->path_len == 1 && scope->path[0] == '/')
        r->kind = 0;
    else
        r->kind = 3;
    const char *q = memchr(scope->query_string, '=', scope->query_string_len);
    r->ms = q ? strtol(q + 1, NULL, 10) : 500;
    api->set_data(req, r);
}

static void
on_body(hornet_request_t *req, const void *data, size_t len, bool more_body)
{
    (void)data;
    (void)len;
    req_state_t *r = api->get_data(req);
    if (!r || more_body)
        return;
    char text[256];
    switch (r->kind) {
    case 0:
        snprintf(text, sizeof(text), "lifespan started=%d startups=%u shutdowns=%u\n",
                 r->started_at_request ? 1 : 0, startups, shutdowns);
        respond(req, 200, text);
        break;
    case 1:
        if (r->state_at_request == &g_state)
            snprintf(text, sizeof(text), "state=same value=%s\n",
                     ((app_state_t *)r->state_at_request)->text);
        else
            snprintf(text, sizeof(text), "state=%s\n", r->state_at_request ? "other" : "null");
        respond(req, 200, text);
        break;
    case 2:
        mark("request-start");
        r->timer = api->timer_new(on_slow_timer, r);
        api->timer_start(r->timer, (double)r->ms / 1000.0, 0);
        break;
    default:
        respond(req, 404, "not found\n");
    }
}

static void
on_disconnect(hornet_request_t *req, bool completed)
{
    req_state_t *r = api->get_data(req);
    if (!r)
        return;
    if (r->kind == 2)
        mark("request-end completed=%d", completed ? 1 : 0);
    api->set_data(req, NULL);
    if (r->timer)
        api->timer_free(r->timer);
    free(r);
}

static int
init(const hornet_api_t *a)
{
    api = a;
    mark("init");
    return 0;
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "lifespan",
    .init = init,
    .on_lifespan = on_lifespan,
    .on_request = on_request,
    .on_body = on_body,
    .on_disconnect = on_disconnect,
};
