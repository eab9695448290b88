/*
 * spawn.c - see spawn.h. The only master file that includes worker code.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/spawn.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hub/hub.h"
#include "master/listeners.h"
#include "master/privs.h"
#include "shared/cfg.h"
#include "shared/fdpass.h"
#include "shared/log.h"
#include "shared/mem.h"
#include "shared/shm.h"
#include "worker/worker.h"

/* The master's loop and descriptors are not a child's business. */
static void
close_master_state(const hn_spawn_ctx_t *ctx, int keep)
{
    ev_loop_destroy(ctx->master_loop);
    for (size_t i = 0; i < HN_ARRAY_LEN(ctx->master_fds); i++)
        if (ctx->master_fds[i] >= 0 && ctx->master_fds[i] != keep)
            close(ctx->master_fds[i]);
    for (size_t i = 0; i < ctx->n_chans; i++)
        if (ctx->chans[i] >= 0)
            close(ctx->chans[i]);
}

static HN_NORETURN void
child(const hn_spawn_ctx_t *ctx, unsigned slot, unsigned rec, uint32_t generation, int chan)
{
    close_master_state(ctx, -1);

    const hn_listeners_t *ls = ctx->listeners;
    /* sockets a reload is giving up must close when the old generation is done */
    hn_listeners_close_fds(ctx->old_listeners, ls);
    size_t n = 0;
    for (size_t i = 0; i < ls->n; i++)
        n++;
    hn_worker_socket_t *mine = hn_xcalloc(n ? n : 1, sizeof(*mine));
    size_t k = 0;
    for (size_t i = 0; i < ls->n; i++) {
        const hn_listen_item_t *it = &ls->items[i];
        if (it->per_slot) {
            /* other slots' sockets: closing our copies keeps each socket's
             * queue drained by exactly one process */
            for (size_t s = 0; s < it->n_fds; s++)
                if (s != slot && it->fds[s] >= 0)
                    close(it->fds[s]);
            mine[k].fd = it->fds[slot];
        } else {
            mine[k].fd = it->fds[0];
        }
        memcpy(mine[k].text, it->addr.text, sizeof(mine[k].text));
        mine[k].tls = it->tls;
        mine[k].proxy_protocol = it->proxy_protocol;
        k++;
    }

    hn_err_t err = {0};
    if (hn_privs_drop(ctx->privs, &err) != HN_OK) {
        hn_log_loud(HN_LOG_CRIT, "worker %u: cannot drop privileges: %s", slot, err.msg);
        _exit(HN_EXIT_STARTUP);
    }
    hn_worker_args_t args = {
        .cfg = ctx->cfg,
        .shm = ctx->shm,
        .slot = slot,
        .rec = rec,
        .tls_ctx = ctx->tls_ctx,
        .generation = generation,
        .sockets = mine,
        .n_sockets = k,
        .ready_fd = ctx->ready_fd,
        .access_log_fd = ctx->access_log_fd,
        .chan_fd = chan,
        .events_addr = ctx->events_addr,
    };
    hn_worker_main(&args);
}

/* The checking child: what it finds goes up the pipe, nothing to the log. */
static HN_NORETURN void
check_child(const hn_config_t *cfg, const hn_privs_t *privs, int out)
{
    hn_log_level = HN_LOG_OFF;
    hn_err_t e = {0};
    int rc = hn_privs_drop(privs, &e);
    if (rc == HN_OK)
        rc = hn_worker_check_app(cfg, &e);
    if (rc != HN_OK && write(out, e.msg, strlen(e.msg)) < 0)
        _exit(2);
    if (rc == HN_OK && cfg->use_reloader) {
        /* the modules the apps imported, for the watcher */
        static char files[1 << 20];
        size_t n = hn_worker_watch_files(files, sizeof(files));
        for (size_t off = 0; off < n;) {
            ssize_t w = write(out, files + off, n - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    _exit(rc == HN_OK ? 0 : 1);
}

/* In a short-lived child, so a shared object's constructors and whatever it
 * maps never touch the master, which stays small and never runs app code. */
int
hn_spawn_check_app(const hn_config_t *cfg, const hn_privs_t *privs, char **files, hn_err_t *err)
{
    /* Hypercorn's configs say uvloop for speed; refusing them would help no one, and running
     * uvloop would cost the speed they asked for (hornet.yaml(5), bench/looppass.py). */
    if (cfg->worker_class == HN_CFG_WORKER_UVLOOP)
        hn_log(HN_LOG_WARN, "worker_class: uvloop is served by asyncio: the worker's libev loop "
                            "runs Python a pass at a time, under 1 us a pass on asyncio and about "
                            "50 us on uvloop (hornet.yaml(5))");
    if (files)
        *files = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        hn_err_set(err, errno, "cannot check the application: pipe: %s", strerror(errno));
        return HN_ERR;
    }
    pid_t pid = fork();
    if (pid < 0) {
        hn_err_set(err, errno, "cannot check the application: fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return HN_ERR;
    }
    if (pid == 0) {
        close(fds[0]);
        check_child(cfg, privs, fds[1]);
    }
    close(fds[1]);
    /* the error, or (use_reloader) the files to watch */
    size_t len = 0, cap = 4096;
    char *msg = hn_xmalloc(cap);
    ssize_t n;
    while ((n = read(fds[0], msg + len, cap - 1 - len)) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0)
            len += (size_t)n;
        if (len == cap - 1)
            msg = hn_xrealloc(msg, cap *= 2);
    }
    msg[len] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (files && len)
            *files = msg;
        else
            free(msg);
        return HN_OK;
    }
    if (len)
        hn_err_set(err, 0, "%s", msg);
    else
        hn_err_set(err, 0, "NoAppError: loading %s crashed the checking process (%s %d)",
                   cfg->application_path, WIFSIGNALED(status) ? "signal" : "status",
                   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    free(msg);
    return HN_ERR;
}

pid_t
hn_spawn_worker(const hn_spawn_ctx_t *ctx, unsigned slot, unsigned rec_index, uint32_t generation,
                int *chan)
{
    /* SEQPACKET: one message per reopen, and EOF when the other end goes */
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
        return -1;
    hn_slot_rec_t *rec = &ctx->shm->slots[rec_index];
    atomic_store(&rec->state, HN_SLOT_STARTING);
    atomic_store(&rec->generation, generation);
    atomic_store(&rec->start_ms, hn_shm_now_ms());
    atomic_store(&rec->heartbeat_ms, hn_shm_now_ms());
    atomic_store(&rec->requests, 0);
    atomic_store(&rec->connections, 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pair[0]);
        child(ctx, slot, rec_index, generation, pair[1]);
    }
    int saved = errno;
    close(pair[1]);
    if (pid < 0) {
        close(pair[0]);
        errno = saved;
        return -1;
    }
    /* a worker that stops reading must not block the master's loop */
    fcntl(pair[0], F_SETFL, O_NONBLOCK);
    *chan = pair[0];
    atomic_store(&rec->pid, (int32_t)pid);
    return pid;
}

pid_t
hn_spawn_hub(const hn_spawn_ctx_t *ctx, int listen_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    close_master_state(ctx, listen_fd);
    /* no listener: a reuseport queue held here would never be accepted */
    const hn_listeners_t *sets[] = {ctx->listeners, ctx->old_listeners};
    for (size_t k = 0; k < HN_ARRAY_LEN(sets); k++)
        for (size_t i = 0; sets[k] && i < sets[k]->n; i++)
            for (size_t f = 0; f < sets[k]->items[i].n_fds; f++)
                if (sets[k]->items[i].fds[f] >= 0)
                    close(sets[k]->items[i].fds[f]);
    if (ctx->ready_fd >= 0)
        close(ctx->ready_fd);
    if (ctx->access_log_fd >= 0)
        close(ctx->access_log_fd);
    /* ps and the tests tell it from the workers by its name */
    prctl(PR_SET_NAME, "hornet-events");
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(HN_EXIT_OK);
    hn_err_t err = {0};
    if (hn_privs_drop(ctx->privs, &err) != HN_OK) {
        hn_log_loud(HN_LOG_CRIT, "event hub: cannot drop privileges: %s", err.msg);
        _exit(HN_EXIT_FAILURE);
    }
    _exit(hn_hub_main(ctx->cfg, listen_fd));
}

int
hn_spawn_send_logs(int chan, int error_fd, int access_fd)
{
    int fds[2];
    size_t n = 0;
    uint32_t word = 0;
    if (error_fd >= 0) {
        word |= HN_WORKER_MSG_ERRORLOG;
        fds[n++] = error_fd;
    }
    if (access_fd >= 0) {
        word |= HN_WORKER_MSG_ACCESSLOG;
        fds[n++] = access_fd;
    }
    return n ? hn_fdpass_send(chan, word, fds, n) : HN_OK;
}
