/*
 * master.h - the supervisor: binds, writes the PID file, forks a worker per
 * slot, respawns the ones that die, stops gracefully on TERM/INT, and
 * returns the process exit status.
 */
#ifndef HN_MASTER_MASTER_H
#define HN_MASTER_MASTER_H

struct hn_config;

#include "shared/common.h"

/* Builds the configuration again for a reload (the same file and command
 * line): returns owned, or NULL with err saying why. */
typedef struct hn_config *(*hn_master_reload_fn)(void *ud, hn_err_t *err);

/* `hornet -t`: what start-up checks, short of binding sockets and writing
 * the PID file (see prepare in master.c): the log files open, the workers'
 * user and group exist, the applications start as that user, the
 * certificates load. HN_OK, or HN_ERR with err saying what and which key.
 * Borrows cfg. */
int hn_master_check(struct hn_config *cfg, hn_err_t *err);

/* Takes cfg (freed when replaced and at exit). Returns the exit status: 0
 * after a requested stop, 1 when the server could not start or stopped
 * because of a failure. */
int hn_master_run(struct hn_config *cfg, hn_master_reload_fn reload, void *ud);

#endif
