/*
 * spawn.h - forking a worker for a slot. The child keeps only its slot's
 * sockets and the shared ones, drops privileges and enters hn_worker_main;
 * it never returns into master code.
 */
#ifndef HN_MASTER_SPAWN_H
#define HN_MASTER_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

#include "shared/common.h"

struct ev_loop;
struct hn_config;
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
    int master_fds[4];           /* master-only descriptors the child closes; -1 unused */
} hn_spawn_ctx_t;

/* Is the configured application one a worker can run (see worker.h)? */
int hn_spawn_check_app(const struct hn_config *cfg, hn_err_t *err);

/* Fork the worker of slot, which keeps its state in shm record rec.
 * Returns the child's pid, or -1 (fork failed; errno set). */
pid_t hn_spawn_worker(const hn_spawn_ctx_t *ctx, unsigned slot, unsigned rec,
                      uint32_t generation);

#endif
