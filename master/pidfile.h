/*
 * pidfile.h - the PID file: written after binding, refused when it names a
 * live hornet master, replaced when stale (no such process, or its pid
 * reused by another program or by a worker), removed on exit (only if
 * still ours).
 */
#ifndef HN_MASTER_PIDFILE_H
#define HN_MASTER_PIDFILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "shared/common.h"

int hn_pidfile_create(const char *path, hn_err_t *err);
void hn_pidfile_remove(const char *path);
/* The pid the file names, or -1 with err filled. */
pid_t hn_pidfile_read(const char *path, hn_err_t *err);
/* Whether pid is a live hornet master (checked by its command line, so a
 * master run under a wrapper such as valgrind counts). Otherwise why says
 * what it is instead, with code ESRCH when there is no such process. A
 * worker orphaned by a killed master counts as one: nothing tells them
 * apart any more. */
bool hn_pidfile_is_master(pid_t pid, hn_err_t *why);

#endif
