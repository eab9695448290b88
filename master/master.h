/*
 * master.h - the supervisor: binds, writes the PID file, forks a worker per
 * slot, respawns the ones that die, stops gracefully on TERM/INT, and
 * returns the process exit status.
 */
#ifndef HN_MASTER_MASTER_H
#define HN_MASTER_MASTER_H

struct hn_config;

/* Returns the exit status: 0 after a requested stop, 1 when the server could
 * not start or stopped because of a failure. */
int hn_master_run(const struct hn_config *cfg);

#endif
