/*
 * logfiles.h - the log files, which only the master opens: the error log
 * (this process's sink, shared/log.h, inherited by every worker it forks)
 * and the access log of each generation of workers (handed to them at
 * fork). The master opens them as root, before the workers drop privileges,
 * as nginx does, so a log directory only root may write is fine and a worker
 * never needs to reach a log path. On SIGUSR1 they are opened again here
 * and master.c hands the new descriptors to the running workers over their
 * channels (spawn.h).
 */
#ifndef HN_MASTER_LOGFILES_H
#define HN_MASTER_LOGFILES_H

#include <stdbool.h>

#include "shared/common.h"

struct hn_config;

typedef struct hn_logfiles {
    int access_fd;     /* the current configuration's access log file, or -1 */
    int old_access_fd; /* during a reload: the previous generation's, or -1 */
    char *access_path, *old_access_path;
} hn_logfiles_t;

/* Before anything else: nothing open, so hn_logfiles_close is harmless. */
#define HN_LOGFILES_NONE ((hn_logfiles_t){.access_fd = -1, .old_access_fd = -1})

/* Set the error log's level and open it (it becomes this process's sink,
 * so what fails next is logged there), then open the access log when it is
 * a file. Returns HN_OK, or HN_ERR with err naming the key and the path.
 * Either way hn_logfiles_close undoes it. */
int hn_logfiles_open(hn_logfiles_t *lf, const struct hn_config *cfg, hn_err_t *err);

/* A reload to next starts: open next's access log beside the current one,
 * which the old generation keeps using. HN_ERR with err filled: nothing
 * changed. */
int hn_logfiles_reload(hn_logfiles_t *lf, const struct hn_config *next, hn_err_t *err);
/* The reload is over. kept_new: the old generation's access log is closed;
 * otherwise next's is, and the previous one is current again. */
void hn_logfiles_reload_end(hn_logfiles_t *lf, bool kept_new);

/* Open every file again by its path onto the same descriptor. A file that
 * cannot be opened keeps its old one; then HN_ERR, with err listing each
 * failure ("errorlog: cannot open PATH: REASON; accesslog: ..."). */
int hn_logfiles_reopen(hn_logfiles_t *lf, hn_err_t *err);

/* Close the access logs and send the error log back to stderr. */
void hn_logfiles_close(hn_logfiles_t *lf);

#endif
