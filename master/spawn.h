/*
 * spawn.h - forking a worker for a slot. The child keeps only its slot's
 * sockets and the shared ones, drops privileges and enters hn_worker_main;
 * it never returns into master code. Each worker gets a channel, a unix
 * socket pair whose master end the master keeps, over which it hands the
 * worker descriptors (the log files after a reopen). Also the short-lived
 * child that checks the applications the way a worker starts them.
 */
#ifndef HN_MASTER_SPAWN_H
#define HN_MASTER_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

#include "shared/common.h"

struct ev_loop;
struct hn_config;
struct hn_ev_addr;
struct hn_shm;
struct hn_listeners;
struct hn_privs;
struct ssl_ctx_st;

typedef struct hn_spawn_ctx {
    const struct hn_config *cfg;
    struct hn_shm *shm;
    const struct hn_listeners *listeners;
    const struct hn_listeners *old_listeners; /* during a reload: closed in the child */
    const struct hn_privs *privs;
    struct ssl_ctx_st *tls_ctx;  /* for TLS listeners, or NULL */
    struct ev_loop *master_loop; /* destroyed in the child */
    int ready_fd;                /* write end of the readiness pipe */
    int access_log_fd;           /* cfg's access log file (master/logfiles.h), or -1 */
    int master_fds[6];           /* master-only descriptors the child closes; -1 unused */
    const struct hn_ev_addr *events_addr; /* the event hub's socket (hubsup.h), or NULL */
    const int *chans;            /* the master ends of every worker's channel (-1 */
    size_t n_chans;              /* unused): the child closes them */
} hn_spawn_ctx_t;

/* Can a worker start cfg's applications? A short-lived child drops to privs
 * and runs the worker's own start-up code for them (load, mode, init: see
 * hn_worker_check_app), so the master never runs application code and the
 * answer is the one a worker would get. HN_OK, or HN_ERR with err filled.
 * With use_reloader, *files (unless files is NULL) gets what the watcher
 * should watch besides the configuration and the shared objects (the
 * Python applications' modules, one a line; to free), or NULL. */
int hn_spawn_check_app(const struct hn_config *cfg, const struct hn_privs *privs, char **files,
                       hn_err_t *err);

/* Fork the worker of slot, which keeps its state in shm record rec. Returns
 * the child's pid with *chan the master's end of its channel (non-blocking,
 * the caller closes it when the worker is reaped), or -1 (errno set). */
pid_t hn_spawn_worker(const hn_spawn_ctx_t *ctx, unsigned slot, unsigned rec,
                      uint32_t generation, int *chan);

/* Fork the event hub (hub/hub.h), serving on listen_fd. Returns its pid,
 * or -1 (errno set). */
pid_t hn_spawn_hub(const hn_spawn_ctx_t *ctx, int listen_fd);

/* Hand a worker the current log files over its channel: the error log and
 * the access log, each when >= 0 (the master keeps its copies). HN_OK, or
 * HN_ERR with errno set. */
int hn_spawn_send_logs(int chan, int error_fd, int access_fd);

#endif
