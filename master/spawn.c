/*
 * spawn.c - see spawn.h. The only master file that includes worker code.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/spawn.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/listeners.h"
#include "master/privs.h"
#include "shared/cfg.h"
#include "shared/log.h"
#include "shared/mem.h"
#include "shared/shm.h"
#include "worker/worker.h"

static HN_NORETURN void
child(const hn_spawn_ctx_t *ctx, unsigned slot, unsigned rec, uint32_t generation)
{
    /* the master's loop and descriptors are not the worker's business */
    ev_loop_destroy(ctx->master_loop);
    for (size_t i = 0; i < HN_ARRAY_LEN(ctx->master_fds); i++)
        if (ctx->master_fds[i] >= 0)
            close(ctx->master_fds[i]);

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
        hn_log(HN_LOG_CRIT, "worker %u: cannot drop privileges: %s", slot, err.msg);
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
    };
    hn_worker_main(&args);
}

int
hn_spawn_check_app(const hn_config_t *cfg, hn_err_t *err)
{
    return hn_worker_check_app(cfg, err);
}

pid_t
hn_spawn_worker(const hn_spawn_ctx_t *ctx, unsigned slot, unsigned rec_index,
                uint32_t generation)
{
    hn_slot_rec_t *rec = &ctx->shm->slots[rec_index];
    atomic_store(&rec->state, HN_SLOT_STARTING);
    atomic_store(&rec->generation, generation);
    atomic_store(&rec->start_ms, hn_shm_now_ms());
    atomic_store(&rec->heartbeat_ms, hn_shm_now_ms());
    atomic_store(&rec->requests, 0);
    atomic_store(&rec->connections, 0);
    pid_t pid = fork();
    if (pid == 0)
        child(ctx, slot, rec_index, generation);
    if (pid > 0)
        atomic_store(&rec->pid, (int32_t)pid);
    return pid;
}
