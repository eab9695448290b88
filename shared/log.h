/*
 * log.h - the error log: levels, a role prefix, a file or stderr sink that can
 * be reopened (SIGUSR1). The access log lives in worker/access_log.c.
 *
 * Line format (Hypercorn's, plus the role):
 *   [2026-11-23 12:00:00 +0000] [4242] [INFO] worker 0: message
 */
#ifndef HN_SHARED_LOG_H
#define HN_SHARED_LOG_H

#include <stdbool.h>

#include "shared/common.h"

typedef enum hn_log_level {
    HN_LOG_OFF = -1, /* errorlog: off (below every level; keeps the enum signed) */
    HN_LOG_CRIT = 0,
    HN_LOG_ERROR,
    HN_LOG_WARN,
    HN_LOG_NOTICE,
    HN_LOG_INFO,
    HN_LOG_DEBUG,
} hn_log_level_t;

extern hn_log_level_t hn_log_level;

/* Level names as the config and CLI spell them (case-insensitive on input):
 * critical, error, warning, notice, info, debug. Returns -1 if unknown. */
int hn_log_level_parse(const char *name);
const char *hn_log_level_name(hn_log_level_t level);

/* path: NULL or "-" for stderr. Returns HN_OK or HN_ERR with err filled.
 * Opening again (reopen after logrotate) replaces the old fd atomically. */
int hn_log_open(const char *path, hn_err_t *err);
int hn_log_reopen(void);
/* "master", "worker 3": copied. */
void hn_log_set_role(const char *role);
int hn_log_fd(void);

void hn_log_write(hn_log_level_t level, const char *fmt, ...) HN_PRINTF(2, 3);

/* Test the level before formatting anything. */
#define hn_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= hn_log_level)                                                               \
            hn_log_write((level), __VA_ARGS__);                                                    \
    } while (0)

#endif
