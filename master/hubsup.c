/*
 * hubsup.c - see hubsup.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/hubsup.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hub/hub.h"
#include "master/spawn.h"
#include "shared/log.h"

/* As the workers' (master.c): a hub dying this soon after its start is a
 * failed start, and each doubles the wait before the next. */
#define MIN_UPTIME 1.0
#define BACKOFF_BASE 0.1
#define BACKOFF_MAX 30.0
#define STOP_WAIT 5.0

static struct {
    hn_ev_addr_t addr;
    int fd;
    pid_t pid;
    ev_tstamp started;
    double backoff;
    struct ev_loop *loop;
    const struct hn_spawn_ctx *ctx;
    ev_timer respawn;
    bool timer_ready;
} S = {.fd = -1};

int
hn_hubsup_open(hn_err_t *err)
{
    unsigned long nonce = 0;
    if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != (ssize_t)sizeof(nonce))
        nonce = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
    hn_ev_addr_make(&S.addr, (long)getpid(), nonce);
    S.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (S.fd < 0 || bind(S.fd, (struct sockaddr *)&S.addr.sun, S.addr.len) != 0 ||
        listen(S.fd, 1024) != 0) {
        hn_err_set(err, errno, "cannot bind the event hub's socket: %s", strerror(errno));
        if (S.fd >= 0)
            close(S.fd);
        S.fd = -1;
        return HN_ERR;
    }
    return HN_OK;
}

const hn_ev_addr_t *
hn_hubsup_addr(void)
{
    return S.fd >= 0 ? &S.addr : NULL;
}

int
hn_hubsup_fd(void)
{
    return S.fd;
}

static void
start(void)
{
    pid_t pid = hn_spawn_hub(S.ctx, S.fd);
    if (pid < 0) {
        hn_log(HN_LOG_ERROR, "fork for the event hub failed: %s; trying again in %.0fs",
               strerror(errno), BACKOFF_MAX);
        ev_timer_set(&S.respawn, BACKOFF_MAX, 0);
        ev_timer_start(S.loop, &S.respawn);
        return;
    }
    S.pid = pid;
    S.started = ev_now(S.loop);
    hn_log(HN_LOG_DEBUG, "event hub started, pid %d", (int)pid);
}

static void
on_respawn(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    if (S.pid == 0 && hn_hub_wanted(S.ctx->cfg)) {
        start();
        if (S.pid > 0)
            hn_log(HN_LOG_NOTICE, "event hub respawned as pid %d", (int)S.pid);
    }
}

void
hn_hubsup_sync(struct ev_loop *loop, const struct hn_spawn_ctx *ctx)
{
    S.loop = loop;
    S.ctx = ctx;
    if (!S.timer_ready) {
        ev_init(&S.respawn, on_respawn);
        S.timer_ready = true;
    }
    bool wanted = hn_hub_wanted(ctx->cfg) && S.fd >= 0;
    if (wanted && S.pid == 0 && !ev_is_active(&S.respawn))
        start();
    else if (!wanted && S.pid > 0)
        kill(S.pid, SIGTERM);
}

bool
hn_hubsup_reaped(pid_t pid, int status, bool stopping)
{
    if (pid != S.pid || pid <= 0)
        return false;
    S.pid = 0;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char what[64];
    if (WIFSIGNALED(status))
        snprintf(what, sizeof(what), "was killed by signal %d", WTERMSIG(status));
    else
        snprintf(what, sizeof(what), "exited with status %d", WEXITSTATUS(status));
    if (stopping || !hn_hub_wanted(S.ctx->cfg)) {
        hn_log(clean ? HN_LOG_INFO : HN_LOG_WARN, "event hub (pid %d) %s", (int)pid, what);
        return true;
    }
    double up = ev_now(S.loop) - S.started;
    S.backoff = up < MIN_UPTIME ? (S.backoff ? S.backoff * 2 : BACKOFF_BASE) : 0;
    if (S.backoff > BACKOFF_MAX)
        S.backoff = BACKOFF_MAX;
    hn_log(HN_LOG_ERROR, "event hub (pid %d) %s; respawning it%s (events not yet registered "
           "with it were refused to their clients)", (int)pid, what,
           S.backoff ? " after a back-off" : "");
    ev_timer_set(&S.respawn, S.backoff, 0);
    ev_timer_start(S.loop, &S.respawn);
    return true;
}

void
hn_hubsup_stop(void)
{
    if (S.loop && S.timer_ready)
        ev_timer_stop(S.loop, &S.respawn);
    if (S.pid > 0) {
        kill(S.pid, SIGTERM);
        struct timespec step = {0, 10 * 1000 * 1000};
        int status;
        pid_t r = 0;
        for (int i = 0; i < (int)(STOP_WAIT * 100) && (r = waitpid(S.pid, &status, WNOHANG)) == 0;
             i++)
            nanosleep(&step, NULL);
        if (r == 0) {
            hn_log(HN_LOG_WARN, "event hub (pid %d) still running after %.0fs; killing it",
                   (int)S.pid, STOP_WAIT);
            kill(S.pid, SIGKILL);
            waitpid(S.pid, &status, 0);
        }
        S.pid = 0;
    }
    if (S.fd >= 0)
        close(S.fd);
    S.fd = -1;
}
