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

struct hn_config;
struct hn_shm;
struct hn_listener;
struct hn_app;

typedef struct hn_worker_args {
    const struct hn_config *cfg;
    struct hn_shm *shm;
    unsigned slot;
    uint32_t generation;
    struct hn_listener *listeners; /* the slot's sockets plus the shared ones */
    size_t n_listeners;
    const struct hn_app *app;
    int ready_fd; /* write end of the master's readiness pipe; the worker
                   * writes its slot number there once it accepts */
} hn_worker_args_t;

HN_NORETURN void hn_worker_main(const hn_worker_args_t *args);

const struct hn_config *hn_worker_config(void);
const struct hn_app *hn_worker_app(void);
bool hn_worker_is_draining(void);
/* Bookkeeping hooks called by the connection and request layers. */
void hn_worker_conn_closed(void);
void hn_worker_request_done(void);

#endif
