/*
 * pidfile.h - the PID file: written after binding, refused when it names a
 * live hornet, replaced when stale, removed on exit (only if still ours).
 */
#ifndef HN_MASTER_PIDFILE_H
#define HN_MASTER_PIDFILE_H

#include <sys/types.h>

#include "shared/common.h"

int hn_pidfile_create(const char *path, hn_err_t *err);
void hn_pidfile_remove(const char *path);
/* The pid the file names, or -1 with err filled. */
pid_t hn_pidfile_read(const char *path, hn_err_t *err);

#endif
