/*
 * worker.h - the worker process: hn_worker_main runs one libev loop serving
 * the slot's listeners until it is told to stop, and never returns.
 */
#ifndef HN_WORKER_WORKER_H
#define HN_WORKER_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/common.h"

#include "shared/addr.h"

struct hn_config;
struct hn_ev_addr;
struct hn_shm;
struct ssl_ctx_st;

/* One listening socket handed to a worker. */
typedef struct hn_worker_socket {
    int fd;
    char text[HN_ADDR_TEXT_MAX]; /* the address as configured, for logs */
    bool tls;                    /* served with args->tls_ctx */
    bool proxy_protocol;         /* connections start with a PROXY header */
} hn_worker_socket_t;

typedef struct hn_worker_args {
    const struct hn_config *cfg;
    struct hn_shm *shm;
    unsigned slot;
    unsigned rec; /* this process's record in shm->slots */
    struct ssl_ctx_st *tls_ctx; /* built by the master (shared ticket keys), or NULL */
    uint32_t generation;
    const hn_worker_socket_t *sockets; /* the slot's sockets plus the shared ones */
    size_t n_sockets;
    int ready_fd; /* write end of the master's pipe: the worker writes its
                   * record number there once it accepts, and the record
                   * number | HN_SHM_WORD_RECYCLE to ask to be replaced */
    int access_log_fd; /* cfg->accesslog opened by the master when it is a
                        * file (the worker may not be allowed to), else -1 */
    int chan_fd;       /* the worker's end of its channel from the master */
    const struct hn_ev_addr *events_addr; /* the event hub's socket, or NULL */
} hn_worker_args_t;

/* What the master sends on a worker's channel (shared/fdpass.h) after it
 * reopened the log files: the word says which descriptors follow, in this
 * order; the worker writes to them from then on. */
#define HN_WORKER_MSG_ERRORLOG 0x1u
#define HN_WORKER_MSG_ACCESSLOG 0x2u

HN_NORETURN void hn_worker_main(const hn_worker_args_t *args);

/* Can a worker start cfg's applications (application_path and every mount)?
 * Runs, in the calling process, what a worker runs for them before its
 * lifespan startup: compile the access-log format, load, choose the mode,
 * call init. The master asks
 * before binding anything, and before a reload, from a short-lived child
 * running as the workers' user (hn_spawn_check_app), so a typo or a
 * static_root the workers cannot open is a start-up error, not a crash loop. */
int hn_worker_check_app(const struct hn_config *cfg, hn_err_t *err);
/* After hn_worker_check_app: what use_reloader should watch besides the
 * configuration and the shared objects (the Python applications' modules),
 * one file a line, into buf. Returns the length. */
size_t hn_worker_watch_files(char *buf, size_t size);

const struct hn_config *hn_worker_config(void);
const struct hn_app *hn_worker_app(void);
bool hn_worker_is_draining(void);
/* Bookkeeping hooks called by the connection and request layers. */
void hn_worker_conn_closed(void);
void hn_worker_request_done(void);

#endif
