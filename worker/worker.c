/*
 * worker.c - a worker process from fork to exit: its own loop and signals,
 * app initialisation, serving, graceful drain bounded by graceful_timeout.
 * Connections are conn.c's, listeners accept.c's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/worker.h"
#include "worker/ws.h"

#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "shared/cfg.h"
#include "shared/fdpass.h"
#include "shared/log.h"
#include "shared/mem.h"
#include "shared/shm.h"
#include "shared/sigfd.h"
#include "worker/accept.h"
#include "worker/access_log.h"
#include "worker/app_load.h"
#include "worker/app.h"
#include "worker/bridge.h"
#include "worker/events.h"
#include "worker/lifespan.h"
#include "worker/timer.h"
#include "worker/conn.h"

/* How often the slot's heartbeat is refreshed in the control block. */
#define HEARTBEAT_INTERVAL 0.5

static const hn_config_t *w_cfg;
static hn_slot_rec_t *w_rec;
static struct ev_loop *w_loop;
static bool w_draining;
static unsigned w_rec_index;
static int w_ready_fd = -1;
static uint64_t w_served, w_recycle_at; /* 0: max_requests off */
static ev_io w_sig_io, w_chan_io;
static ev_prepare w_prepare;
static ev_timer w_heartbeat, w_graceful, w_lifetime;
static int w_sigfd = -1;

const hn_config_t *
hn_worker_config(void)
{
    return w_cfg;
}

const hn_app_t *
hn_worker_app(void)
{
    return &hn_bridge_app;
}

bool
hn_worker_is_draining(void)
{
    return w_draining;
}

static bool w_in_lifespan; /* the loop runs for lifespan alone: no break */

static void
check_done(void)
{
    if (w_draining && !w_in_lifespan && hn_conn_count() == 0)
        ev_break(w_loop, EVBREAK_ALL);
}

static int
run_lifespan(hornet_lifespan_event_t ev, double timeout, hn_err_t *err)
{
    w_in_lifespan = true;
    int rc = hn_lifespan_run(w_loop, ev, timeout, err);
    w_in_lifespan = false;
    return rc;
}

void
hn_worker_conn_closed(void)
{
    if (w_rec)
        atomic_store_explicit(&w_rec->connections, hn_conn_count(), memory_order_relaxed);
    hn_accept_conn_closed();
    check_done();
}

/* Ask the master for a successor (max_requests, max_worker_lifetime) and
 * keep serving: it sends TERM once the successor is ready, so nothing waits
 * in the backlog for a worker that is not there. Asked once. */
static void
ask_replacement(const char *why)
{
    static bool asked;
    if (asked || w_draining)
        return;
    asked = true;
    uint32_t word = w_rec_index | HN_SHM_WORD_RECYCLE;
    hn_log(HN_LOG_INFO, "%s: asking to be replaced", why);
    if (write(w_ready_fd, &word, sizeof(word)) != (ssize_t)sizeof(word))
        hn_log(HN_LOG_WARN, "cannot ask the master for a replacement");
}

static void
on_lifetime(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    ask_replacement("max_worker_lifetime reached");
}

void
hn_worker_request_done(void)
{
    if (w_rec)
        atomic_fetch_add_explicit(&w_rec->requests, 1, memory_order_relaxed);
    if (w_recycle_at && ++w_served == w_recycle_at)
        ask_replacement("max_requests reached");
}

static void
on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)w;
    (void)revents;
    /* ended requests are told to their apps here, which may write more
     * (to other requests): flush until both are quiet */
    do
        hn_conn_flush_all(loop);
    while (hn_bridge_flush() > 0);
    hn_access_log_flush();
    check_done();
}

static void
on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    atomic_store_explicit(&w_rec->heartbeat_ms, hn_shm_now_ms(), memory_order_relaxed);
    atomic_store_explicit(&w_rec->connections, hn_conn_count(), memory_order_relaxed);
}

static void
on_graceful_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    hn_log(HN_LOG_WARN, "graceful_timeout (%gs) expired with %u connection(s) open; closing them",
           w_cfg->graceful_timeout, hn_conn_count());
    hn_conn_kill_all(loop);
    ev_break(loop, EVBREAK_ALL);
}

static void
start_drain(void)
{
    if (w_draining)
        return;
    w_draining = true;
    atomic_store(&w_rec->state, HN_SLOT_DRAINING);
    hn_log(HN_LOG_INFO, "draining %u connection(s)", hn_conn_count());
    hn_accept_stop(w_loop);
    /* builtin:events clients hear "standby" before the drain's Close 1001 */
    hn_events_drain();
    hn_conn_drain_all();
    hn_ws_drain(w_cfg->graceful_timeout);
    ev_timer_set(&w_graceful, w_cfg->graceful_timeout, 0);
    ev_timer_start(w_loop, &w_graceful);
    check_done();
}

static void
on_signal(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)w;
    (void)revents;
    int sig;
    while ((sig = hn_sigfd_next(w_sigfd)) != 0) {
        switch (sig) {
        case SIGTERM:
            start_drain();
            break;
        case SIGQUIT:
            hn_conn_kill_all(loop);
            ev_break(loop, EVBREAK_ALL);
            break;
        default:
            /* SIGINT: the terminal sends it to the whole process group; only
             * the master acts on it, and tells the workers what to do.
             * SIGUSR1: reopening is the master's too, the new files come
             * over the channel (a worker may not be allowed to open them). */
            break;
        }
    }
}

/* The applications up to their lifespan: what hn_worker_check_app checks. */
static int
open_apps(struct ev_loop *loop, const hn_config_t *cfg, hn_err_t *err)
{
    hn_timer_set_loop(loop);
    return hn_bridge_open(loop, cfg, err);
}

size_t
hn_worker_watch_files(char *buf, size_t size)
{
    return hn_app_watch_files(buf, size);
}

int
hn_worker_check_app(const hn_config_t *cfg, hn_err_t *err)
{
    /* a worker compiles the access-log format before its apps, and stops
     * on a malformed one: -t and a reload must find it too */
    if (cfg->accesslog != NULL && hn_access_log_check_format(cfg->access_log_format, err) != HN_OK)
        return HN_ERR;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (loop == NULL) {
        hn_err_set(err, 0, "cannot check the application: cannot create an event loop");
        return HN_ERR;
    }
    return open_apps(loop, cfg, err);
}

/* The master's messages: the log files, reopened. */
static void
on_channel(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    uint32_t word;
    int fds[HN_FDPASS_MAX];
    size_t n;
    int rc;
    while ((rc = hn_fdpass_recv(w->fd, &word, fds, &n)) == HN_OK) {
        size_t k = 0;
        if ((word & HN_WORKER_MSG_ERRORLOG) && k < n)
            hn_log_adopt(fds[k++]);
        if ((word & HN_WORKER_MSG_ACCESSLOG) && k < n)
            hn_access_log_adopt(fds[k++]);
        while (k < n)
            close(fds[k++]);
        hn_log(HN_LOG_DEBUG, "log files reopened");
    }
    if (rc == HN_DONE) {
        ev_io_stop(loop, w); /* the master is gone; PDEATHSIG stops us */
    } else if (rc == HN_ERR) {
        hn_log(HN_LOG_WARN, "message from the master: %s", strerror(errno));
    }
}

void
hn_worker_main(const hn_worker_args_t *a)
{
    static const int sigs[] = {SIGTERM, SIGQUIT, SIGINT, SIGUSR1, SIGHUP};
    hn_sigfd_reset(sigs, HN_ARRAY_LEN(sigs));
    char role[32];
    snprintf(role, sizeof(role), "worker %u", a->slot);
    hn_log_set_role(role);
    w_cfg = a->cfg;
    w_rec_index = a->rec;
    w_ready_fd = a->ready_fd;
    /* jitter keeps workers started together from recycling together */
    srandom((unsigned)getpid() ^ (unsigned)hn_shm_now_ms());
    if (w_cfg->max_requests > 0) {
        w_recycle_at = (uint64_t)w_cfg->max_requests +
                       (w_cfg->max_requests_jitter > 0
                            ? (uint64_t)(random() % ((long)w_cfg->max_requests_jitter + 1))
                            : 0);
    }
    w_rec = &a->shm->slots[a->rec];

    /* A worker must not outlive its master: if the master is killed, the
     * workers stop instead of serving as orphans nobody supervises. */
    pid_t master = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)
        _exit(HN_EXIT_FAILURE);

    w_loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (w_loop == NULL) {
        hn_log_loud(HN_LOG_CRIT, "cannot create the event loop");
        _exit(HN_EXIT_STARTUP);
    }
    w_sigfd = hn_sigfd_open(sigs, HN_ARRAY_LEN(sigs));
    if (w_sigfd < 0) {
        hn_log_loud(HN_LOG_CRIT, "cannot open a signalfd");
        _exit(HN_EXIT_STARTUP);
    }
    ev_io_init(&w_sig_io, on_signal, w_sigfd, EV_READ);
    ev_io_start(w_loop, &w_sig_io);

    /* from here on the master may hand over reopened log files; what it
     * sent while we were starting waits in the socket */
    fcntl(a->chan_fd, F_SETFL, O_NONBLOCK);
    ev_io_init(&w_chan_io, on_channel, a->chan_fd, EV_READ);
    ev_io_start(w_loop, &w_chan_io);

    hn_events_setup(w_loop, a->events_addr);
    hn_err_t err = {0};
    if (hn_access_log_open(w_cfg, a->access_log_fd, &err) != HN_OK) {
        hn_log_loud(HN_LOG_CRIT, "%s", err.msg);
        _exit(HN_EXIT_STARTUP);
    }
    /* the apps are loaded here, after fork, never in the master, so a
     * rebuilt shared object is what the next worker runs */
    if (open_apps(w_loop, w_cfg, &err) != HN_OK) {
        hn_log_loud(HN_LOG_CRIT, "%s", err.msg);
        _exit(HN_EXIT_STARTUP);
    }
    if (run_lifespan(HORNET_LIFESPAN_STARTUP, w_cfg->startup_timeout, &err) != HN_OK) {
        hn_log_loud(HN_LOG_CRIT, "%s", err.msg);
        _exit(HN_EXIT_STARTUP);
    }

    ev_prepare_init(&w_prepare, on_prepare);
    ev_prepare_start(w_loop, &w_prepare);
    ev_timer_init(&w_heartbeat, on_heartbeat, 0, HEARTBEAT_INTERVAL);
    ev_timer_again(w_loop, &w_heartbeat);
    ev_init(&w_graceful, on_graceful_timeout);
    if (w_cfg->max_worker_lifetime > 0) {
        double jitter = w_cfg->max_worker_lifetime_jitter;
        double after = w_cfg->max_worker_lifetime +
                       (jitter > 0 ? jitter * (double)(random() % 10001) / 10000.0 : 0);
        ev_timer_init(&w_lifetime, on_lifetime, after, 0);
        ev_timer_start(w_loop, &w_lifetime);
    }
    hn_listener_t *ls = hn_xcalloc(a->n_sockets ? a->n_sockets : 1, sizeof(*ls));
    for (size_t i = 0; i < a->n_sockets; i++) {
        ls[i].fd = a->sockets[i].fd;
        ls[i].tls_ctx = a->sockets[i].tls ? a->tls_ctx : NULL;
        ls[i].proxy_protocol = a->sockets[i].proxy_protocol;
        memcpy(ls[i].text, a->sockets[i].text, sizeof(ls[i].text));
    }
    hn_accept_start(w_loop, ls, a->n_sockets);

    atomic_store(&w_rec->heartbeat_ms, hn_shm_now_ms());
    atomic_store(&w_rec->state, HN_SLOT_READY);
    hn_log(HN_LOG_DEBUG, "ready, pid %d", (int)getpid());
    /* tell the master in words, not by its polling: readiness is what a
     * replacement waits for before the old worker is stopped */
    uint32_t word = a->rec;
    if (write(a->ready_fd, &word, sizeof(word)) != (ssize_t)sizeof(word))
        hn_log(HN_LOG_WARN, "cannot report readiness to the master");
    /* a stop may have been requested while we were starting */
    if (atomic_load(&a->shm->shutdown) != 0)
        start_drain();

    ev_run(w_loop, 0);
    /* drained: the graceful deadline has done its job and must not fire
     * (and warn) during the lifespan shutdown that follows */
    ev_timer_stop(w_loop, &w_graceful);
    hn_bridge_flush();

    int status = HN_EXIT_OK;
    if (run_lifespan(HORNET_LIFESPAN_SHUTDOWN, w_cfg->shutdown_timeout, &err) != HN_OK) {
        hn_log(HN_LOG_ERROR, "%s", err.msg);
        status = HN_EXIT_FAILURE;
    }
    hn_access_log_close();
    atomic_store(&w_rec->state, HN_SLOT_EXITED);
    hn_log(HN_LOG_DEBUG, "exiting");
    _exit(status);
}
