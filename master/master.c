/*
 * master.c - the supervisor (see master.h) on its own libev loop. Signals
 * arrive through a signalfd (sigfd.h), worker readiness through a pipe, exits
 * through SIGCHLD + waitpid. Binding is listeners.c's, forking spawn.c's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/master.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master/control.h"
#include "master/hubsup.h"
#include "master/listeners.h"
#include "master/logfiles.h"
#include "master/pidfile.h"
#include "master/privs.h"
#include "master/sdnotify.h"
#include "master/spawn.h"
#include "master/upgrade.h"
#include "master/watcher.h"
#include "shared/cfg.h"
#include "shared/log.h"
#include "shared/mem.h"
#include "shared/shm.h"
#include "shared/sigfd.h"
#include "shared/tls_ctx.h"

/* Respawn back-off: a worker that dies within MIN_UPTIME of its start counts
 * as a failed start; each one doubles the delay before the next try. */
#define MIN_UPTIME 1.0
#define BACKOFF_BASE 0.1
#define BACKOFF_MAX 30.0
/* Consecutive failed starts of one slot after which the server gives up. */
#define MAX_START_FAILURES 5
/* Grace on top of graceful_timeout before stragglers get SIGKILL. */
#define KILL_GRACE 5.0

typedef enum master_state { RUNNING, STOPPING } master_state_t;

typedef struct slot {
    pid_t pid;       /* 0: no process */
    pid_t old_pid;   /* the worker being replaced: serving until pid is ready */
    unsigned rec;    /* pid's record in the control block */
    unsigned old_rec; /* old_pid's */
    bool is_ready;
    bool was_ever_ready;
    unsigned failures;
    ev_tstamp started;
    ev_timer respawn;
} slot_t;

/* The watchdog's dealings with the process of one control block record. */
typedef struct watch {
    int stage;    /* 0 fine, 1 TERM sent, 2 ABRT sent, 3 KILL sent */
    int sig;      /* the last signal it sent (0: none): the exit says so */
    double since; /* when it sent it */
} watch_t;

typedef struct master {
    struct ev_loop *loop;
    hn_config_t *cfg;
    hn_config_t *old_cfg;      /* during a reload: what the old generation runs */
    bool is_reloading;
    bool reload_pending;       /* asked for during the reload: one more follows it */
    hn_master_reload_fn reload;
    void *reload_ud;
    hn_listeners_t listeners;
    hn_listeners_t old_listeners; /* during a reload: the old generation's */
    struct ssl_ctx_st *tls_ctx;   /* certificates loaded here, inherited by workers */
    struct ssl_ctx_st *old_tls_ctx; /* during a reload: the old generation's */
    hn_privs_t privs;
    hn_logfiles_t logs;
    char *app_files;      /* the Python apps' modules, for the watcher (hn_spawn_check_app) */
    char *next_app_files; /* during a reload: the new configuration's */
    hn_shm_t *shm;
    pid_t rec_owner[HN_SHM_RECORDS]; /* 0: free; -1: taken by a fork */
    int rec_chan[HN_SHM_RECORDS];    /* the owner's channel (spawn.h), or -1 */
    watch_t watch[HN_SHM_RECORDS];
    hn_spawn_ctx_t spawn;
    slot_t *slots;     /* HN_CFG_MAX_WORKERS of them: never moved (timers) */
    unsigned n_slots;  /* slots that should have a worker */
    unsigned n_span;   /* slots in use: more than n_slots while a reload
                        * that removes workers waits for the new ones */
    unsigned old_n_slots; /* during a reload: the old generation's count */
    master_state_t state;
    int exit_status;
    bool announced;
    bool upgraded;        /* started by an upgrade (upgrade.h) */
    bool immediate;
    bool deadline_killed; /* stopping: on_kill_timer sent SIGKILL */
    unsigned int_count;
    int sigfd;
    int ready_pipe[2];
    ev_io sig_io, ready_io;
    ev_timer kill_timer;
    ev_timer watchdog;
    struct draining {
        pid_t pid;
        unsigned slot;
    } *draining;      /* replaced workers told to drain, until reaped */
    size_t n_draining;
    struct upgrade {
        bool starting;   /* a new master is starting (upgrade.h) */
        bool done;       /* it serves: this master drains and exits */
        pid_t pid;       /* the new master, once the pipe said so */
        char why[480];   /* what it said went wrong */
        char line[400];  /* a line of the pipe being read */
        size_t len;
        int fd;          /* the pipe's read end, or -1 */
        unsigned long attempt; /* its line in the status file (control.h) */
        ev_io io;
        ev_timer timer;
    } up;
} master_t;

static master_t M;

/* A replaced worker was told to drain: it is no longer its slot's. */
static void
drain_old(slot_t *s)
{
    kill(s->old_pid, SIGTERM);
    M.draining = hn_xrealloc(M.draining, (M.n_draining + 1) * sizeof(*M.draining));
    M.draining[M.n_draining++] = (struct draining){s->old_pid, (unsigned)(s - M.slots)};
    s->old_pid = 0;
}

/* The slot a reaped pid was draining for, or -1 if it was not draining. */
static int
forget_draining(pid_t pid)
{
    for (size_t i = 0; i < M.n_draining; i++)
        if (M.draining[i].pid == pid) {
            int slot = (int)M.draining[i].slot;
            M.draining[i] = M.draining[--M.n_draining];
            return slot;
        }
    return -1;
}

static unsigned
live_workers(void)
{
    unsigned n = (unsigned)M.n_draining;
    for (unsigned i = 0; i < M.n_span; i++)
        n += (M.slots[i].pid > 0) + (M.slots[i].old_pid > 0);
    return n;
}

static void
signal_workers(int sig)
{
    for (unsigned i = 0; i < M.n_span; i++) {
        if (M.slots[i].pid > 0)
            kill(M.slots[i].pid, sig);
        if (M.slots[i].old_pid > 0)
            kill(M.slots[i].old_pid, sig);
    }
    for (size_t i = 0; i < M.n_draining; i++)
        kill(M.draining[i].pid, sig);
}

/* --- control block records: one per live worker process --- */

static int
rec_take(void)
{
    for (unsigned r = 0; r < HN_SHM_RECORDS; r++)
        if (M.rec_owner[r] == 0) {
            M.rec_owner[r] = -1;
            return (int)r;
        }
    return -1;
}

/* A reaped process's record is free again. Returns the signal the watchdog
 * last sent the process (0: none), for the words about its exit. */
static int
rec_release(pid_t pid)
{
    for (unsigned r = 0; r < HN_SHM_RECORDS; r++)
        if (M.rec_owner[r] == pid) {
            M.rec_owner[r] = 0;
            close(M.rec_chan[r]);
            M.rec_chan[r] = -1;
            atomic_store(&M.shm->slots[r].state, HN_SLOT_EXITED);
            atomic_store(&M.shm->slots[r].pid, 0);
            return M.watch[r].sig;
        }
    return 0;
}

static void
spawn_slot(unsigned i)
{
    slot_t *s = &M.slots[i];
    int rec = rec_take();
    pid_t pid = -1;
    if (rec >= 0) {
        pid = hn_spawn_worker(&M.spawn, i, (unsigned)rec, atomic_load(&M.shm->generation),
                              &M.rec_chan[rec]);
        M.rec_owner[rec] = pid > 0 ? pid : 0;
    } else {
        errno = EAGAIN;
    }
    if (pid < 0) {
        hn_log(HN_LOG_ERROR, "fork for worker %u failed: %s; trying again in %.0fs", i,
               strerror(errno), BACKOFF_MAX);
        s->failures++;
        ev_timer_set(&s->respawn, BACKOFF_MAX, 0);
        ev_timer_start(M.loop, &s->respawn);
        return;
    }
    s->pid = pid;
    s->rec = (unsigned)rec;
    s->is_ready = false;
    M.watch[rec] = (watch_t){0};
    s->started = ev_now(M.loop);
    hn_log(HN_LOG_DEBUG, "worker %u started, pid %d", i, (int)pid);
}

/* Start a successor for slot i's worker on the same sockets; the worker
 * becomes old_pid and is told to drain once the successor is ready (see
 * on_ready). */
static void
start_successor(unsigned i)
{
    slot_t *s = &M.slots[i];
    s->old_pid = s->pid;
    s->old_rec = s->rec;
    s->pid = 0;
    s->failures = 0;
    spawn_slot(i);
}

static void
on_respawn(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    slot_t *s = HN_CONTAINER_OF(w, slot_t, respawn);
    if (M.state != RUNNING || s->pid != 0)
        return;
    unsigned i = (unsigned)(s - M.slots);
    spawn_slot(i);
    if (s->pid > 0)
        hn_log(HN_LOG_NOTICE, "worker %u respawned as pid %d", i, (int)s->pid);
}

static void upgrade_cancel(const char *why);

static void
stop(bool immediate, int status)
{
    if (status > M.exit_status)
        M.exit_status = status;
    if (M.state == STOPPING && (!immediate || M.immediate))
        return;
    M.state = STOPPING;
    M.immediate = immediate;
    /* once handed over, the service's main process is the new master */
    if (!M.up.done)
        hn_sdnotify("STOPPING=1\nSTATUS=stopping");
    upgrade_cancel("the server is stopping");
    atomic_store(&M.shm->shutdown, immediate ? 2 : 1);
    for (unsigned i = 0; i < M.n_span; i++)
        ev_timer_stop(M.loop, &M.slots[i].respawn);
    hn_log(HN_LOG_NOTICE, "%s: %u worker(s) to stop",
           immediate ? "stopping now" : "stopping gracefully", live_workers());
    signal_workers(immediate ? SIGQUIT : SIGTERM);
    ev_timer_stop(M.loop, &M.kill_timer);
    /* graceful: the drain, then the apps' lifespan shutdown, each bounded */
    ev_timer_set(&M.kill_timer,
                 immediate ? KILL_GRACE
                           : M.cfg->graceful_timeout + M.cfg->shutdown_timeout + KILL_GRACE,
                 0);
    ev_timer_start(M.loop, &M.kill_timer);
    if (live_workers() == 0)
        ev_break(M.loop, EVBREAK_ALL);
}

static void
on_kill_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    hn_log(HN_LOG_WARN, "%u worker(s) still running after the deadline; killing them",
           live_workers());
    M.deadline_killed = true;
    signal_workers(SIGKILL);
}

static void
announce(void)
{
    for (size_t i = 0; i < M.listeners.n; i++) {
        char url[HN_ADDR_TEXT_MAX + 16];
        hn_listeners_url(&M.listeners.items[i], url, sizeof(url));
        hn_log(HN_LOG_INFO, "Running on %s (CTRL + C to quit)", url);
    }
    hn_log(HN_LOG_NOTICE, "%u worker(s) ready", M.n_slots);
    hn_sdnotify("READY=1\nMAINPID=%d\nSTATUS=serving with %u worker(s)", (int)getpid(),
                M.n_slots);
    /* started by an upgrade: the old master may drain now, and what runs
     * is this master's configuration */
    if (M.upgraded)
        hn_control_config_write(M.cfg->pid_path, M.cfg, atomic_load(&M.shm->generation));
    hn_upgrade_ready();
    M.spawn.master_fds[4] = -1; /* closed: the number may be reused */
}

/* --- watchdog ------------------------------------------------------------
 *
 * Each worker refreshes its heartbeat twice a second from its loop. A loop
 * stuck past worker_stall_timeout still owns its slot's SO_REUSEPORT
 * sockets, and the kernel keeps hashing new connections to them: they would
 * wait unaccepted until worker_timeout. So its slot gets a successor on the
 * same sockets, which accepts what the stuck worker does not, queue
 * included; the stuck worker becomes the slot's old worker, is told to drain
 * once the successor is ready, and loses only the connections it had
 * accepted (it serves them if it comes back). Taking the sockets away
 * instead (a fresh socket for the slot, shutdown() on the old one) would
 * reset what is queued, and cost a slow-but-alive worker its clients.
 *
 * Any worker process stuck past worker_timeout, the slot's or one being
 * replaced, cannot read the TERM it is sent (signals go through its
 * signalfd), so the escalation goes on to ABRT, which leaves a core for the
 * post-mortem, and KILL. A slot's worker is respawned when reaped. */

#define WATCHDOG_STEP 2.0

/* What systemctl status shows, and systemd's own watchdog: the master's
 * loop runs, so it says so (only while every slot has a worker). */
static void
notify_status(double now)
{
    static double last_status, last_ping;
    double ping = hn_sdnotify_watchdog_interval();
    if (ping > 0 && now - last_ping >= ping) {
        last_ping = now;
        hn_sdnotify("WATCHDOG=1");
    }
    if (M.state != RUNNING || !M.announced || now - last_status < 5.0)
        return;
    last_status = now;
    uint64_t requests = 0;
    for (unsigned i = 0; i < M.n_slots; i++)
        if (M.slots[i].pid > 0)
            requests += atomic_load(&M.shm->slots[M.slots[i].rec].requests);
    hn_sdnotify("STATUS=serving: %u worker(s), %llu requests served by the current ones",
                M.n_slots, (unsigned long long)requests);
}

/* The slot of worker process pid, and whether it is the slot's worker
 * (false: the old one of a replacement, or draining). */
static bool
find_worker(pid_t pid, unsigned *slot)
{
    *slot = 0;
    for (unsigned i = 0; i < M.n_span; i++) {
        if (M.slots[i].pid == pid || M.slots[i].old_pid == pid) {
            *slot = i;
            return M.slots[i].pid == pid;
        }
    }
    for (size_t i = 0; i < M.n_draining; i++)
        if (M.draining[i].pid == pid)
            *slot = M.draining[i].slot;
    return false;
}

/* Slot i's worker has not beaten for age seconds: should its slot go to a
 * successor? Not during a reload, whose new workers are replacing the old
 * ones already, nor while a successor is starting, nor once worker_timeout's
 * escalation has begun (the slot is respawned when the worker dies). */
static bool
is_stalled(unsigned i, double age)
{
    double stall = M.cfg->worker_stall_timeout;
    slot_t *s = &M.slots[i];
    return stall > 0 && age >= stall && !M.is_reloading && i < M.n_slots && s->old_pid == 0 &&
           M.watch[s->rec].stage == 0;
}

static void
escalate(unsigned r, pid_t pid, unsigned slot, bool current, double age, double now)
{
    static const int sigs[] = {SIGTERM, SIGABRT, SIGKILL};
    double timeout = M.cfg->worker_timeout;
    watch_t *w = &M.watch[r];
    if (timeout <= 0 || age < timeout) {
        w->stage = 0;
        return;
    }
    if (w->stage >= 3 || (w->stage > 0 && now - w->since < WATCHDOG_STEP))
        return;
    int sig = sigs[w->stage];
    hn_log(HN_LOG_ERROR, "%sworker %u (pid %d): no heartbeat for %.1fs (worker_timeout %gs); "
           "sending SIG%s", current ? "" : "replaced ", slot, (int)pid, age, timeout,
           sigabbrev_np(sig));
    kill(pid, sig);
    w->sig = sig;
    w->stage++;
    w->since = now;
}

static void
on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    notify_status(ev_now(loop));
    if (M.state != RUNNING)
        return;
    int64_t now_ms = hn_shm_now_ms();
    double now = ev_now(loop);
    for (unsigned r = 0; r < HN_SHM_RECORDS; r++) {
        pid_t pid = M.rec_owner[r];
        if (pid <= 0)
            continue;
        unsigned i;
        bool current = find_worker(pid, &i);
        /* start-up has its own bound (startup_timeout); a worker beats
         * from when it is ready */
        int state = atomic_load(&M.shm->slots[r].state);
        if (current ? !M.slots[i].is_ready : state != HN_SLOT_READY && state != HN_SLOT_DRAINING)
            continue;
        double age = (double)(now_ms - atomic_load(&M.shm->slots[r].heartbeat_ms)) / 1000.0;
        if (current && is_stalled(i, age)) {
            hn_log(HN_LOG_ERROR, "worker %u (pid %d): no heartbeat for %.1fs "
                   "(worker_stall_timeout %gs); no longer routing connections to it, starting "
                   "a replacement", i, (int)pid, age, M.cfg->worker_stall_timeout);
            start_successor(i);
            current = false;
        }
        escalate(r, pid, i, current, age, now);
    }
}

/* --- reload --------------------------------------------------------------
 *
 * SIGHUP: build the configuration again and check it (and the app, in a
 * short-lived child). If anything is wrong, say why and change nothing.
 * Otherwise start a whole new generation of workers beside the old one, on
 * the same sockets; only when every new worker reports ready is the old
 * generation told to drain. A new worker that dies before it is ready
 * aborts the reload: the new generation is killed (it never served) and the
 * old one keeps serving, unchanged. nginx instead sleeps 100 ms and hopes. */

/* The end of a reload, told to systemd: READY=1 only when no reload
 * follows, so a reload job waiting for it (Type=notify-reload) ends with
 * the reload that read its edit. */
static void
notify_reload_end(const char *status, int err)
{
    char errno_line[32] = "";
    if (err)
        snprintf(errno_line, sizeof(errno_line), "\nERRNO=%d", err);
    hn_sdnotify("%sSTATUS=%s%s", M.reload_pending ? "" : "READY=1\n", status, errno_line);
}

static bool
reload_refused(const char *why)
{
    free(M.next_app_files);
    M.next_app_files = NULL;
    hn_log(HN_LOG_ERROR, "reload refused: %s; still serving with the previous configuration",
           why);
    char status[600];
    snprintf(status, sizeof(status), "reload refused: %s", why);
    notify_reload_end(status, EINVAL);
    hn_control_status(M.cfg->pid_path, "refused: %s", why);
    return false;
}

/* systemd's Type=notify-reload wants RELOADING=1 with the time it began */
static void
notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    hn_sdnotify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
                (unsigned long long)ts.tv_sec * 1000000ULL +
                    (unsigned long long)ts.tv_nsec / 1000);
}

/* Keys the option table marks as needing a restart (user, group, ...). */
static bool
reload_allowed(const hn_config_t *next, char *why, size_t size)
{
    char names[256] = "";
    hn_cfg_flag_t flag;
    for (size_t i = 0; hn_cfg_option_flag(i, &flag); i++) {
        if (!hn_cfg_option_differs(M.cfg, next, i))
            continue;
        if (hn_cfg_option_needs_restart(i)) {
            size_t n = strlen(names);
            snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "", flag.key);
        }
    }
    if (names[0] == '\0')
        return true;
    snprintf(why, size, "changing %s needs a restart", names);
    return false;
}

static void start_reload(void);

/* SIGHUP (`hornet -s reload`, systemctl reload) or a watched file. During a
 * reload the edit that asks for this one may not be in what is being
 * loaded: one more reload follows the running one, however many were asked
 * for meanwhile, instead of a refusal that would lose the edit. */
static void
request_reload(const char *why)
{
    if (M.state != RUNNING) {
        hn_log(HN_LOG_NOTICE, "%s while stopping: not reloading", why);
        return;
    }
    if (M.is_reloading) {
        hn_log(HN_LOG_NOTICE, "%s during a reload: reloading again after it", why);
        M.reload_pending = true;
        return;
    }
    hn_log(HN_LOG_NOTICE, "%s: reloading", why);
    start_reload();
}

static void
on_watched_change(void)
{
    request_reload("watched files changed");
}

static void
reload_again_if_asked(void)
{
    if (!M.reload_pending)
        return;
    M.reload_pending = false;
    start_reload();
}

/* A slot about to get its first worker (at start, or added). */
static void
slot_fresh(slot_t *s)
{
    s->failures = 0;
    s->was_ever_ready = false;
    s->is_ready = false;
}

/* Log what a change of listeners opened and closed. */
static void
log_listener_changes(const hn_listeners_t *before, const hn_listeners_t *after)
{
    char url[HN_ADDR_TEXT_MAX + 16];
    for (size_t i = 0; i < after->n; i++)
        if (!hn_listeners_find(before, &after->items[i].conf)) {
            hn_listeners_url(&after->items[i], url, sizeof(url));
            hn_log(HN_LOG_NOTICE, "Running on %s", url);
        }
    for (size_t i = 0; i < before->n; i++)
        if (!hn_listeners_find(after, &before->items[i].conf)) {
            hn_listeners_url(&before->items[i], url, sizeof(url));
            hn_log(HN_LOG_NOTICE, "no longer listening on %s", url);
        }
}

static void
start_reload(void)
{
    if (M.state != RUNNING)
        return;
    /* before the configuration is read: see control.h */
    hn_control_status_begin(M.cfg->pid_path);
    notify_reloading();
    if (M.up.starting) {
        reload_refused("a binary upgrade is in progress: the new master reads the "
                       "configuration as it starts");
        return;
    }
    for (unsigned i = 0; i < M.n_slots; i++)
        if (M.slots[i].old_pid > 0 || M.slots[i].pid <= 0) {
            char why[128];
            snprintf(why, sizeof(why), "worker %u is being replaced or restarted; try again "
                     "in a moment", i);
            reload_refused(why);
            return;
        }
    hn_err_t err = {0};
    hn_config_t *next = M.reload(M.reload_ud, &err);
    if (next == NULL) {
        reload_refused(err.msg);
        return;
    }
    char why[512] = "";
    if (!reload_allowed(next, why, sizeof(why)) ||
        hn_spawn_check_app(next, &M.privs, &M.next_app_files, &err) != HN_OK) {
        reload_refused(why[0] && !err.msg[0] ? why : err.msg);
        hn_cfg_free(next);
        return;
    }
    /* certificates: a broken one keeps the old one serving */
    struct ssl_ctx_st *next_tls = hn_tls_ctx_new(next, M.tls_ctx, &err);
    if (next_tls == NULL && err.msg[0]) {
        reload_refused(err.msg);
        hn_cfg_free(next);
        return;
    }
    /* the new generation's access log, opened here as at start */
    if (hn_logfiles_reload(&M.logs, next, &err) != HN_OK) {
        reload_refused(err.msg);
        hn_tls_ctx_free(next_tls);
        hn_cfg_free(next);
        return;
    }
    /* new addresses are bound now, so a taken port refuses the reload */
    unsigned n = (unsigned)next->workers;
    hn_listeners_t next_ls;
    if (hn_listeners_derive(&next_ls, &M.listeners, next, n, &err) != HN_OK) {
        reload_refused(err.msg);
        hn_logfiles_reload_end(&M.logs, false);
        hn_tls_ctx_free(next_tls);
        hn_cfg_free(next);
        return;
    }
    M.spawn.access_log_fd = M.logs.access_fd;
    M.spawn.master_fds[3] = M.logs.old_access_fd; /* not the new workers' */
    M.old_tls_ctx = M.tls_ctx;
    M.tls_ctx = next_tls;
    M.spawn.tls_ctx = next_tls;
    hn_log_level = (hn_log_level_t)next->loglevel;
    M.old_cfg = M.cfg;
    M.cfg = next;
    M.spawn.cfg = next;
    hn_hubsup_sync(M.loop, &M.spawn);
    M.old_listeners = M.listeners;
    M.listeners = next_ls;
    M.is_reloading = true;
    M.old_n_slots = M.n_slots;
    M.n_slots = n;
    M.n_span = n > M.old_n_slots ? n : M.old_n_slots;
    uint32_t gen = atomic_fetch_add(&M.shm->generation, 1) + 1;
    hn_log(HN_LOG_NOTICE, "reloading: starting generation %u (%u worker(s), %u before)", gen, n,
           M.old_n_slots);
    for (unsigned i = 0; i < M.n_span; i++) {
        slot_t *s = &M.slots[i];
        s->old_pid = s->pid;
        s->old_rec = s->rec;
        s->pid = 0;
        slot_fresh(s);
        if (i < n)
            spawn_slot(i);
    }
}

/* Every new worker is ready: the old generation drains. */
static void
reload_check_ready(void)
{
    for (unsigned i = 0; i < M.n_slots; i++)
        if (!M.slots[i].is_ready)
            return;
    /* The master's copies of removed sockets go first, so the draining
     * worker holds the last one and takes its queue before closing it. */
    log_listener_changes(&M.old_listeners, &M.listeners);
    hn_listeners_close_keeping(&M.old_listeners, &M.listeners);
    for (unsigned i = 0; i < M.n_span; i++)
        if (M.slots[i].old_pid > 0)
            drain_old(&M.slots[i]);
    M.n_span = M.n_slots;
    M.is_reloading = false;
    hn_cfg_free(M.old_cfg);
    M.old_cfg = NULL;
    hn_tls_ctx_free(M.old_tls_ctx); /* the old workers have their own copies */
    M.old_tls_ctx = NULL;
    hn_logfiles_reload_end(&M.logs, true);
    M.spawn.master_fds[3] = -1;
    /* watching the new set of files before saying so: a change made right
     * after "reload complete" must not fall between two watchers */
    hn_err_t werr = {0};
    free(M.app_files);
    M.app_files = M.next_app_files;
    M.next_app_files = NULL;
    if (hn_watcher_start(M.loop, M.cfg, M.app_files, on_watched_change, &werr) != HN_OK)
        hn_log(HN_LOG_WARN, "%s", werr.msg);
    M.spawn.master_fds[2] = hn_watcher_fd();
    unsigned gen = (unsigned)atomic_load(&M.shm->generation);
    hn_log(HN_LOG_NOTICE, "reload complete: generation %u serving with %u worker(s)", gen,
           M.n_slots);
    hn_control_config_write(M.cfg->pid_path, M.cfg, gen);
    char status[128];
    snprintf(status, sizeof(status), "serving generation %u with %u worker(s)", gen, M.n_slots);
    notify_reload_end(status, 0);
    hn_control_status(M.cfg->pid_path, "ok generation %u", gen);
    reload_again_if_asked();
}

/* A new worker died before it was ready: back to the old generation. */
static void
reload_abort(unsigned failed, pid_t pid, const char *what)
{
    hn_log(HN_LOG_ERROR, "reload aborted: new worker %u (pid %d) %s before it was ready; "
           "the previous generation keeps serving", failed, (int)pid, what);
    free(M.next_app_files);
    M.next_app_files = NULL;
    char status[320]; /* what: up to 255 bytes */
    snprintf(status, sizeof(status), "reload aborted: worker %u %s", failed, what);
    notify_reload_end(status, ECHILD);
    hn_control_status(M.old_cfg->pid_path, "aborted: new worker %u %s before it was ready "
                      "(see the error log)", failed, what);
    for (unsigned i = 0; i < M.n_span; i++) {
        slot_t *s = &M.slots[i];
        ev_timer_stop(M.loop, &s->respawn);
        if (s->pid > 0)
            kill(s->pid, SIGKILL); /* never served a request */
        s->pid = s->old_pid;
        s->rec = s->old_rec;
        s->old_pid = 0;
        s->is_ready = s->pid > 0;
        s->failures = 0;
    }
    hn_listeners_close_keeping(&M.listeners, &M.old_listeners);
    M.listeners = M.old_listeners;
    M.old_listeners = (hn_listeners_t){0};
    M.n_slots = M.n_span = M.old_n_slots;
    hn_tls_ctx_free(M.tls_ctx);
    M.tls_ctx = M.spawn.tls_ctx = M.old_tls_ctx;
    M.old_tls_ctx = NULL;
    hn_logfiles_reload_end(&M.logs, false);
    M.spawn.access_log_fd = M.logs.access_fd;
    M.spawn.master_fds[3] = -1;
    hn_cfg_free(M.cfg);
    M.cfg = M.old_cfg;
    M.old_cfg = NULL;
    M.spawn.cfg = M.cfg;
    hn_log_level = (hn_log_level_t)M.cfg->loglevel;
    M.is_reloading = false;
    reload_again_if_asked();
}

/* A worker asked to be replaced (max_requests): start its successor on the
 * same slot and sockets; the old one keeps serving until the new one is
 * ready (see on_ready), so no connection waits for a missing worker. */
static void
replace_slot(unsigned i)
{
    slot_t *s = &M.slots[i];
    if (M.state != RUNNING || M.is_reloading || s->pid <= 0 || s->old_pid > 0)
        return;
    hn_log(HN_LOG_INFO, "replacing worker %u (pid %d) at its request", i, (int)s->pid);
    start_successor(i);
}

/* SIGTTIN / SIGTTOU: one worker more or fewer, until the next reload sets
 * the configured count again (as in gunicorn). A new slot gets its own
 * sockets in the reuseport groups; a removed slot's sockets are closed here
 * first, and its worker takes what is queued on them before it drains. */
static void
resize(unsigned n, const char *sig)
{
    if (M.state != RUNNING)
        return;
    if (M.is_reloading) {
        hn_log(HN_LOG_WARN, "%s ignored: a reload is in progress", sig);
        return;
    }
    if (n < 1 || n > HN_CFG_MAX_WORKERS) {
        hn_log(HN_LOG_WARN, "%s ignored: %u worker(s) is the %s", sig, M.n_slots,
               n < 1 ? "minimum" : "maximum");
        return;
    }
    hn_listeners_t next;
    hn_err_t err = {0};
    if (hn_listeners_derive(&next, &M.listeners, M.cfg, n, &err) != HN_OK) {
        hn_log(HN_LOG_ERROR, "%s ignored: %s", sig, err.msg);
        return;
    }
    hn_listeners_close_keeping(&M.listeners, &next);
    M.listeners = next;
    unsigned old = M.n_slots;
    M.n_slots = M.n_span = n;
    hn_log(HN_LOG_NOTICE, "%s: %u worker(s), %u before", sig, n, old);
    if (n > old) {
        slot_fresh(&M.slots[old]);
        spawn_slot(old);
        return;
    }
    slot_t *s = &M.slots[n];
    ev_timer_stop(M.loop, &s->respawn);
    if (s->old_pid > 0)
        drain_old(s);
    if (s->pid > 0) {
        s->old_pid = s->pid;
        s->pid = 0;
        drain_old(s);
    }
}

static void
on_ready(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    uint32_t word;
    while (read(M.ready_pipe[0], &word, sizeof(word)) == (ssize_t)sizeof(word)) {
        unsigned rec = word & ~HN_SHM_WORD_RECYCLE, i;
        for (i = 0; i < M.n_slots; i++)
            if (M.slots[i].pid > 0 && M.slots[i].rec == rec)
                break;
        if (i == M.n_slots)
            continue; /* a worker since told to drain */
        slot_t *s = &M.slots[i];
        if (word & HN_SHM_WORD_RECYCLE) {
            replace_slot(i);
            continue;
        }
        s->is_ready = true;
        s->was_ever_ready = true;
        if (M.is_reloading) {
            reload_check_ready();
            continue;
        }
        if (s->old_pid > 0) {
            /* the successor accepts: now the old worker may drain */
            hn_log(HN_LOG_INFO, "worker %u (pid %d) ready; draining pid %d", i, (int)s->pid,
                   (int)s->old_pid);
            drain_old(s);
        }
    }
    if (M.announced)
        return;
    for (unsigned i = 0; i < M.n_slots; i++)
        if (!M.slots[i].is_ready)
            return;
    M.announced = true;
    announce();
}

/* Signals whose default action leaves a core: saying "no core dump" for
 * them tells the operator to look at RLIMIT_CORE or the dumpable flag. */
static bool
dumps_core(int sig)
{
    switch (sig) {
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGSYS:
    case SIGXCPU:
    case SIGXFSZ:
        return true;
    default:
        return false;
    }
}

static void
describe_exit(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)),
                 WCOREDUMP(status)              ? ", core dumped"
                 : dumps_core(WTERMSIG(status)) ? ", no core dump"
                                                : "");
    else
        snprintf(buf, size, "ended with wait status %d", status);
}

/* A signal, or a status other than 0: the worker failed. */
static bool
exit_failed(int status)
{
    return !WIFEXITED(status) || WEXITSTATUS(status) != HN_EXIT_OK;
}

/* The SIGKILL of on_kill_timer, not a crash. */
static bool
killed_at_deadline(int status)
{
    return M.deadline_killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* Why a slot's worker ended, as far as the master knows: what the watchdog
 * or the stop's deadline did to it, and how it ended. */
static void
describe_slot_exit(int watchdog_sig, int status, char *buf, size_t size)
{
    char how[128];
    describe_exit(status, how, sizeof(how));
    if (watchdog_sig)
        snprintf(buf, size, "stopped by the watchdog (no heartbeat within worker_timeout %gs; "
                 "it sent SIG%s): %s", M.cfg->worker_timeout, sigabbrev_np(watchdog_sig), how);
    else if (killed_at_deadline(status))
        snprintf(buf, size, "%s: still running at the stop's deadline", how);
    else
        snprintf(buf, size, "%s", how);
}

/* The worker of a slot ended while the server runs: say why and respawn it,
 * at once after a worker that had served, with a doubling back-off after one
 * that died right after starting. */
static void
respawn_after_exit(unsigned i, pid_t pid, int status, int watchdog_sig, const char *what)
{
    slot_t *s = &M.slots[i];
    /* an exit 0 nobody here asked for (a TERM sent to the worker itself) is
     * no crash, but a slot that stopped serving all the same */
    hn_log_level_t level = exit_failed(status) || watchdog_sig ? HN_LOG_ERROR : HN_LOG_WARN;

    if (WIFEXITED(status) && WEXITSTATUS(status) == HN_EXIT_STARTUP) {
        /* it would fail the same way again: stop instead of looping */
        hn_log_loud(HN_LOG_CRIT, "worker %u (pid %d) %s: it could not start; stopping the server",
                    i, (int)pid, what);
        stop(false, HN_EXIT_FAILURE);
        return;
    }
    bool quick = ev_now(M.loop) - s->started < MIN_UPTIME || !s->was_ever_ready;
    s->failures = quick ? s->failures + 1 : 0;
    if (s->failures >= MAX_START_FAILURES) {
        hn_log_loud(HN_LOG_CRIT, "worker %u (pid %d) %s: %u failures in a row right after "
                    "starting; stopping the server", i, (int)pid, what, s->failures);
        stop(false, HN_EXIT_FAILURE);
        return;
    }
    double delay = 0;
    if (s->failures > 0) {
        delay = BACKOFF_BASE * (double)(1u << (s->failures - 1));
        if (delay > BACKOFF_MAX)
            delay = BACKOFF_MAX;
        hn_log(level, "worker %u (pid %d) %s; respawning it in %.1fs (failure %u of %u right "
               "after starting)", i, (int)pid, what, delay, s->failures, MAX_START_FAILURES);
    } else {
        hn_log(level, "worker %u (pid %d) %s; respawning it now", i, (int)pid, what);
    }
    s->was_ever_ready = false;
    ev_timer_set(&s->respawn, delay, 0);
    ev_timer_start(M.loop, &s->respawn);
}

static void
reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (hn_hubsup_reaped(pid, status, M.state == STOPPING))
            continue;
        int watchdog_sig = rec_release(pid);
        char what[256];
        int old_slot = forget_draining(pid);
        if (old_slot >= 0) {
            /* told to drain (max_requests, max_worker_lifetime, a reload,
             * SIGTTOU, a stall): a clean exit is the end of a replacement */
            bool failed = exit_failed(status) || watchdog_sig;
            if (watchdog_sig)
                describe_slot_exit(watchdog_sig, status, what, sizeof(what));
            else
                describe_exit(status, what, sizeof(what));
            hn_log(failed ? HN_LOG_ERROR : HN_LOG_INFO, "replaced worker %d (pid %d) %s%s",
                   old_slot, (int)pid, what, failed ? " while draining" : "");
            continue;
        }
        unsigned i;
        for (i = 0; i < M.n_span; i++)
            if (M.slots[i].pid == pid || M.slots[i].old_pid == pid)
                break;
        if (i == M.n_span)
            continue;
        slot_t *s = &M.slots[i];
        if (s->old_pid == pid) {
            /* still serving: its successor (a replacement or a reload's
             * new generation) was not ready yet */
            if (watchdog_sig)
                describe_slot_exit(watchdog_sig, status, what, sizeof(what));
            else
                describe_exit(status, what, sizeof(what));
            s->old_pid = 0;
            bool stopping = M.state == STOPPING;
            hn_log(exit_failed(status) ? HN_LOG_ERROR
                   : stopping          ? HN_LOG_INFO
                                       : HN_LOG_WARN,
                   "worker %u (pid %d) %s%s", i, (int)pid, what,
                   stopping ? "" : " while its successor was starting");
            continue;
        }
        s->pid = 0;
        s->is_ready = false;
        describe_slot_exit(watchdog_sig, status, what, sizeof(what));
        if (M.state == STOPPING) {
            /* a crash is an error; a failed lifespan shutdown (the worker
             * said why) and the deadline's SIGKILL are warnings */
            hn_log_level_t level = HN_LOG_INFO;
            if (exit_failed(status))
                level = WIFSIGNALED(status) && !killed_at_deadline(status) ? HN_LOG_ERROR
                                                                           : HN_LOG_WARN;
            hn_log(level, "worker %u (pid %d) %s", i, (int)pid, what);
            /* a failed lifespan shutdown is a failure of the stop */
            if (WIFEXITED(status) && WEXITSTATUS(status) != HN_EXIT_OK &&
                M.exit_status == HN_EXIT_OK)
                M.exit_status = HN_EXIT_FAILURE;
            continue;
        }
        if (M.is_reloading) {
            reload_abort(i, pid, what);
            continue;
        }
        respawn_after_exit(i, pid, status, watchdog_sig, what);
    }
    if (M.state == STOPPING && live_workers() == 0)
        ev_break(M.loop, EVBREAK_ALL);
}

/* SIGUSR1 (logrotate moved the files): open them again by their paths, here,
 * where the workers' user does not matter, then hand every running worker
 * the new descriptors over its channel; later workers inherit them. A file
 * that cannot be opened keeps the old one, and the failure goes to the
 * error log (the old file, if that is the one that failed), to stderr and
 * to `hornet -s reopen`. */
static void
reopen_logs(void)
{
    /* before the files are opened: see control.h */
    hn_control_reopen_begin(M.cfg->pid_path);
    hn_err_t err = {0};
    hn_logfiles_reopen(&M.logs, &err);
    uint32_t gen = atomic_load(&M.shm->generation);
    for (unsigned r = 0; r < HN_SHM_RECORDS; r++) {
        if (M.rec_owner[r] <= 0)
            continue;
        /* during a reload the old generation keeps the old configuration's
         * access log; draining workers of older ones take the current one */
        bool is_old = M.is_reloading && atomic_load(&M.shm->slots[r].generation) != gen;
        int access_fd = is_old ? M.logs.old_access_fd : M.logs.access_fd;
        if (hn_spawn_send_logs(M.rec_chan[r], hn_log_file_fd(), access_fd) == HN_OK ||
            errno == EPIPE || errno == ECONNRESET) /* exiting: nothing more to log */
            continue;
        size_t n = strlen(err.msg);
        snprintf(err.msg + n, sizeof(err.msg) - n, "%sworker pid %d: cannot hand it the files: %s",
                 n ? "; " : "", (int)M.rec_owner[r], strerror(errno));
    }
    if (err.msg[0]) {
        hn_log_loud(HN_LOG_ERROR, "SIGUSR1 received: reopening the logs failed: %s; still "
                    "writing to the old file", err.msg);
        hn_control_reopen_status(M.cfg->pid_path, "failed: %s; still writing to the old file",
                                 err.msg);
        return;
    }
    hn_log(HN_LOG_NOTICE, "SIGUSR1 received: log files reopened");
    hn_control_reopen_status(M.cfg->pid_path, "ok");
}


/* --- binary upgrade ------------------------------------------------------
 *
 * SIGUSR2 (`hornet -s upgrade`): the binary this master was started from
 * runs again, as a new master on the same sockets (upgrade.h). Meanwhile
 * the PID file is PID_PATH.oldbin, so the new master writes its own. Once
 * every new worker serves, this master hands the service over (MAINPID for
 * systemd), drains its workers and exits. If the new master cannot start,
 * or is not ready within startup_timeout and KILL_GRACE, the PID file comes
 * back and this master serves on, unchanged. */

static void
oldbin_path(char *buf, size_t size)
{
    snprintf(buf, size, "%s.oldbin", M.cfg->pid_path);
}

static void
upgrade_end(void)
{
    ev_timer_stop(M.loop, &M.up.timer);
    if (M.up.fd >= 0) {
        ev_io_stop(M.loop, &M.up.io);
        close(M.up.fd);
        M.up.fd = -1;
        M.spawn.master_fds[4] = -1;
    }
    M.up.starting = false;
}

/* Attempt `attempt` failed for why; begun: the PID file was moved aside. */
static void
upgrade_failed(unsigned long attempt, const char *why, bool begun)
{
    if (begun && M.cfg->pid_path) {
        char old[4096];
        oldbin_path(old, sizeof(old));
        if (rename(old, M.cfg->pid_path) < 0)
            hn_log(HN_LOG_ERROR, "upgrade: cannot rename %s back to %s: %s", old,
                   M.cfg->pid_path, strerror(errno));
    }
    hn_log_loud(HN_LOG_ERROR, "upgrade failed: %s; this master (pid %d) keeps serving", why,
                (int)getpid());
    hn_control_upgrade_status(M.cfg->pid_path, attempt, "failed: %s", why);
}

/* The new master is gone, or never came: why, from what it said. */
static void
upgrade_lost(void)
{
    char why[600];
    if (M.up.why[0] && M.up.pid > 0)
        snprintf(why, sizeof(why), "the new master (pid %d): %s", (int)M.up.pid, M.up.why);
    else if (M.up.why[0])
        snprintf(why, sizeof(why), "%s", M.up.why);
    else if (M.up.pid > 0)
        snprintf(why, sizeof(why), "the new master (pid %d) exited before its workers were "
                 "ready (its error output and the error log say why)", (int)M.up.pid);
    else
        snprintf(why, sizeof(why), "the new master could not be started");
    upgrade_end();
    upgrade_failed(M.up.attempt, why, true);
}

static void
upgrade_handover(void)
{
    upgrade_end();
    M.up.done = true;
    hn_log(HN_LOG_NOTICE, "upgrade complete: new master pid %d serves; this master (pid %d) "
           "drains its workers and exits", (int)M.up.pid, (int)getpid());
    hn_sdnotify("MAINPID=%d\nSTATUS=upgraded: new master pid %d", (int)M.up.pid,
                (int)M.up.pid);
    hn_control_upgrade_status(M.cfg->pid_path, M.up.attempt, "ok new master pid %d",
                              (int)M.up.pid);
    stop(false, HN_EXIT_OK);
}

/* A line from the pipe: see upgrade.h. */
static void
upgrade_line(const char *line)
{
    if (strncmp(line, "pid ", 4) == 0) {
        M.up.pid = (pid_t)atol(line + 4);
        hn_log(HN_LOG_INFO, "upgrade: new master started as pid %d", (int)M.up.pid);
    } else if (strncmp(line, "error ", 6) == 0) {
        /* the pid line may come after it (a failed exec is quick) */
        snprintf(M.up.why, sizeof(M.up.why), "%.440s", line + 6);
    } else if (strncmp(line, "ready ", 6) == 0) {
        M.up.pid = (pid_t)atol(line + 6);
        upgrade_handover();
    }
}

static void
on_upgrade_pipe(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    for (;;) {
        ssize_t n = read(M.up.fd, M.up.line + M.up.len, sizeof(M.up.line) - 1 - M.up.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            /* every writer is gone without "ready" */
            upgrade_lost();
            return;
        }
        M.up.len += (size_t)n;
        M.up.line[M.up.len] = '\0';
        char *nl;
        while (M.up.starting && (nl = strchr(M.up.line, '\n')) != NULL) {
            *nl = '\0';
            upgrade_line(M.up.line);
            M.up.len -= (size_t)(nl + 1 - M.up.line);
            memmove(M.up.line, nl + 1, M.up.len + 1);
        }
        if (!M.up.starting)
            return;
        if (M.up.len == sizeof(M.up.line) - 1)
            M.up.len = 0; /* no such line: drop it */
    }
}

static void
on_upgrade_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    char why[300];
    double limit = M.cfg->startup_timeout + KILL_GRACE;
    if (M.up.pid > 0) {
        /* its workers, if any, get their PDEATHSIG and drain */
        kill(M.up.pid, SIGKILL);
        snprintf(why, sizeof(why), "the new master (pid %d) was not ready within %gs "
                 "(startup_timeout + %gs); killed it", (int)M.up.pid, limit, KILL_GRACE);
    } else {
        snprintf(why, sizeof(why), "no new master within %gs", limit);
    }
    upgrade_end();
    upgrade_failed(M.up.attempt, why, true);
}

/* The server stops while a new master starts: that one stops too. */
static void
upgrade_cancel(const char *why)
{
    if (!M.up.starting)
        return;
    if (M.up.pid > 0)
        kill(M.up.pid, SIGTERM);
    upgrade_end();
    upgrade_failed(M.up.attempt, why, true);
}

static void
start_upgrade(void)
{
    /* before anything is checked: see control.h */
    unsigned long attempt = hn_control_upgrade_begin(M.cfg->pid_path);
    const char *busy = M.state != RUNNING ? "the server is stopping"
                       : M.up.starting    ? "an upgrade is already in progress"
                       : M.is_reloading   ? "a reload is in progress; try again when it ends"
                                          : NULL;
    char why[600];
    for (unsigned i = 0; busy == NULL && i < M.n_slots; i++)
        if (!M.slots[i].is_ready || M.slots[i].old_pid > 0) {
            snprintf(why, sizeof(why), "worker %u is starting or being replaced; try again in "
                     "a moment", i);
            busy = why;
        }
    if (busy) {
        upgrade_failed(attempt, busy, false);
        return;
    }
    char old[4096];
    if (M.cfg->pid_path) {
        oldbin_path(old, sizeof(old));
        if (rename(M.cfg->pid_path, old) < 0) {
            snprintf(why, sizeof(why), "cannot rename the PID file to PID_PATH.oldbin: %s",
                     strerror(errno));
            upgrade_failed(attempt, why, false);
            return;
        }
    }
    hn_err_t err = {0};
    int fd = hn_upgrade_start(&M.listeners, atomic_load(&M.shm->generation), &err);
    if (fd < 0) {
        upgrade_failed(attempt, err.msg, true);
        return;
    }
    M.up = (struct upgrade){
        .starting = true, .fd = fd, .attempt = attempt, .io = M.up.io, .timer = M.up.timer};
    M.spawn.master_fds[4] = fd; /* not a worker's business */
    ev_io_set(&M.up.io, fd, EV_READ);
    ev_io_start(M.loop, &M.up.io);
    ev_timer_set(&M.up.timer, M.cfg->startup_timeout + KILL_GRACE, 0);
    ev_timer_start(M.loop, &M.up.timer);
    hn_log(HN_LOG_NOTICE, "SIGUSR2 received: upgrading: starting %s", hn_upgrade_program());
}

static void
on_signal(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    int sig;
    while ((sig = hn_sigfd_next(M.sigfd)) != 0) {
        switch (sig) {
        case SIGCHLD:
            reap();
            break;
        case SIGTERM:
            hn_log(HN_LOG_NOTICE, "SIGTERM received");
            stop(false, HN_EXIT_OK);
            break;
        case SIGINT:
            /* a second Ctrl-C means: do not wait */
            M.int_count++;
            hn_log(HN_LOG_NOTICE, "SIGINT received%s", M.int_count > 1 ? " again" : "");
            stop(M.int_count > 1, HN_EXIT_OK);
            break;
        case SIGQUIT:
            hn_log(HN_LOG_NOTICE, "SIGQUIT received");
            stop(true, HN_EXIT_OK);
            break;
        case SIGUSR1:
            reopen_logs();
            break;
        case SIGHUP:
            request_reload("SIGHUP received");
            break;
        case SIGUSR2:
            start_upgrade();
            break;
        case SIGTTIN:
            resize(M.n_slots + 1, "SIGTTIN");
            break;
        case SIGTTOU:
            resize(M.n_slots - 1, "SIGTTOU");
            break;
        default:
            break;
        }
    }
}

/* Everything start-up checks short of binding sockets and writing the PID
 * file, in start-up order; `hornet -t` runs exactly this (hn_master_check).
 * The log files first, so what fails next is logged there too. */
static int
prepare(hn_config_t *cfg, hn_err_t *err)
{
    M.cfg = cfg;
    M.sigfd = -1;
    M.ready_pipe[0] = M.ready_pipe[1] = -1;
    M.logs = HN_LOGFILES_NONE;
    for (unsigned r = 0; r < HN_SHM_RECORDS; r++)
        M.rec_chan[r] = -1;
    if (cfg->umask >= 0)
        umask((mode_t)cfg->umask);
    /* as root, whatever the workers' user may open (logfiles.h) */
    if (hn_logfiles_open(&M.logs, cfg, err) != HN_OK)
        return HN_ERR;
    if (hn_privs_resolve(&M.privs, cfg->user, cfg->group, err) != HN_OK)
        return HN_ERR;
    /* as the workers' user, in a child: what a worker runs before lifespan */
    if (hn_spawn_check_app(cfg, &M.privs, &M.app_files, err) != HN_OK)
        return HN_ERR;
    /* as root, before anything is bound: keys are often readable by root only */
    M.tls_ctx = hn_tls_ctx_new(cfg, NULL, err);
    if (M.tls_ctx == NULL && err->msg[0])
        return HN_ERR;
    return HN_OK;
}

int
hn_master_check(hn_config_t *cfg, hn_err_t *err)
{
    int rc = prepare(cfg, err);
    hn_tls_ctx_free(M.tls_ctx);
    M.tls_ctx = NULL;
    hn_logfiles_close(&M.logs);
    free(M.app_files);
    M.app_files = NULL;
    M.cfg = NULL;
    return rc;
}

static int
setup(hn_config_t *cfg, hn_err_t *err)
{
    M.n_slots = M.n_span = (unsigned)cfg->workers;
    M.exit_status = HN_EXIT_OK;
    /* after an upgrade (upgrade.h), the old master's sockets: the same
     * queues and reuseport groups, nothing bound twice */
    hn_listeners_t inherited;
    uint32_t generation;
    int rc = hn_upgrade_inherit(&inherited, &generation, err);
    if (rc == HN_OK)
        rc = hn_listeners_derive(&M.listeners, &inherited, cfg, M.n_slots, err);
    /* ours now or not: the old master unlinks its files if it serves on */
    for (size_t i = 0; i < inherited.n; i++)
        inherited.items[i].unlink_on_close = false;
    hn_listeners_close_keeping(&inherited, rc == HN_OK ? &M.listeners : NULL);
    if (rc != HN_OK)
        return HN_ERR;
    if (cfg->pid_path && hn_pidfile_create(cfg->pid_path, err) != HN_OK)
        return HN_ERR;
    hn_control_status_start(cfg->pid_path, M.upgraded);
    M.shm = hn_shm_create(HN_SHM_RECORDS, err);
    if (M.shm == NULL)
        return HN_ERR;
    if (M.upgraded) /* the old master's count goes on */
        atomic_store(&M.shm->generation, generation + 1);
    if (!M.upgraded)
        hn_control_config_write(cfg->pid_path, cfg, atomic_load(&M.shm->generation));
    static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2,
                               SIGTTIN, SIGTTOU};
    M.sigfd = hn_sigfd_open(sigs, HN_ARRAY_LEN(sigs));
    if (M.sigfd < 0 || pipe2(M.ready_pipe, O_CLOEXEC) < 0) {
        hn_err_set(err, errno, "cannot set up signals: %s", strerror(errno));
        return HN_ERR;
    }
    fcntl(M.ready_pipe[0], F_SETFL, O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    M.loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (M.loop == NULL) {
        hn_err_set(err, 0, "cannot create the event loop");
        return HN_ERR;
    }
    ev_io_init(&M.sig_io, on_signal, M.sigfd, EV_READ);
    ev_io_start(M.loop, &M.sig_io);
    ev_io_init(&M.ready_io, on_ready, M.ready_pipe[0], EV_READ);
    ev_io_start(M.loop, &M.ready_io);
    ev_init(&M.kill_timer, on_kill_timer);
    ev_init(&M.up.io, on_upgrade_pipe);
    ev_init(&M.up.timer, on_upgrade_timer);
    ev_timer_init(&M.watchdog, on_watchdog, 1.0, 1.0);
    ev_timer_start(M.loop, &M.watchdog);
    if (hn_watcher_start(M.loop, cfg, M.app_files, on_watched_change, err) != HN_OK)
        return HN_ERR;
    if (hn_hubsup_open(err) != HN_OK)
        return HN_ERR;
    M.slots = hn_xcalloc(HN_CFG_MAX_WORKERS, sizeof(*M.slots));
    for (unsigned i = 0; i < HN_CFG_MAX_WORKERS; i++)
        ev_init(&M.slots[i].respawn, on_respawn);
    M.spawn = (hn_spawn_ctx_t){
        .cfg = cfg,
        .shm = M.shm,
        .listeners = &M.listeners,
        .old_listeners = &M.old_listeners,
        .privs = &M.privs,
        .tls_ctx = M.tls_ctx,
        .master_loop = M.loop,
        .ready_fd = M.ready_pipe[1],
        .access_log_fd = M.logs.access_fd,
        .master_fds = {M.sigfd, M.ready_pipe[0], hn_watcher_fd(), -1, hn_upgrade_fd(),
                       hn_hubsup_fd()},
        .events_addr = hn_hubsup_addr(),
        .chans = M.rec_chan,
        .n_chans = HN_SHM_RECORDS,
    };
    return HN_OK;
}

static void
teardown(void)
{
    /* the workers are gone: nothing needs the hub any more */
    hn_hubsup_stop();
    if (M.loop) {
        hn_watcher_stop(M.loop);
        ev_loop_destroy(M.loop);
    }
    if (M.sigfd >= 0)
        close(M.sigfd);
    for (int i = 0; i < 2; i++)
        if (M.ready_pipe[i] >= 0)
            close(M.ready_pipe[i]);
    if (M.up.fd >= 0)
        close(M.up.fd);
    /* handed over: the sockets, their files and the status files are the
     * new master's; so they are when this one was started by an upgrade
     * and never served */
    bool handed_over = M.up.done || (M.upgraded && !M.announced);
    for (size_t i = 0; handed_over && i < M.listeners.n; i++)
        M.listeners.items[i].unlink_on_close = false;
    hn_listeners_close_keeping(&M.old_listeners, &M.listeners);
    hn_listeners_close(&M.listeners);
    if (M.cfg->pid_path) {
        char old[4096];
        oldbin_path(old, sizeof(old));
        if (!handed_over)
            hn_control_status_remove(M.cfg->pid_path);
        hn_pidfile_remove(M.up.done ? old : M.cfg->pid_path);
    }
    hn_shm_destroy(M.shm);
    hn_tls_ctx_free(M.tls_ctx);
    hn_tls_ctx_free(M.old_tls_ctx);
    free(M.slots);
    hn_cfg_free(M.old_cfg);
    hn_cfg_free(M.cfg);
    free(M.draining);
    free(M.app_files);
    free(M.next_app_files);
    for (unsigned r = 0; r < HN_SHM_RECORDS; r++)
        if (M.rec_chan[r] >= 0)
            close(M.rec_chan[r]);
    hn_logfiles_close(&M.logs);
}

int
hn_master_run(hn_config_t *cfg, hn_master_reload_fn reload, void *ud)
{
    M.reload = reload;
    M.reload_ud = ud;
    M.up.fd = -1;
    M.upgraded = hn_upgrade_is_child();
    hn_sdnotify_init();
    hn_log_set_role("master");
    hn_err_t err = {0};
    if (prepare(cfg, &err) != HN_OK || setup(cfg, &err) != HN_OK) {
        hn_log_loud(HN_LOG_CRIT, "%s", err.msg);
        hn_upgrade_failed(err.msg);
        teardown();
        return HN_EXIT_FAILURE;
    }
    hn_log(HN_LOG_INFO, "hornet %s starting %u worker(s), pid %d", PACKAGE_VERSION, M.n_slots,
           (int)getpid());
    /* before the workers, which connect to it as they start */
    hn_hubsup_sync(M.loop, &M.spawn);
    for (unsigned i = 0; i < M.n_slots; i++)
        spawn_slot(i);
    ev_run(M.loop, 0);
    reap();
    hn_log(HN_LOG_NOTICE, "stopped%s", M.exit_status ? " after a failure" : "");
    int status = M.exit_status;
    teardown();
    return status;
}
