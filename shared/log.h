/*
 * log.h - the error log: levels, a role prefix, a file or stderr sink that can
 * be reopened (SIGUSR1), and opening log files. The master opens every log
 * file (this one and the access log, worker/access_log.c) and hands the
 * descriptors to its workers, which never open a log path: they may run as a
 * user who cannot (master/logfiles.h).
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

/* Open a log file for appending, creating it 0644 (less the umask); the one
 * way every log file is opened. key names the config key in the error
 * ("accesslog: cannot open PATH: REASON"). Returns the fd (close-on-exec), or
 * -1 with err filled. */
int hn_log_open_file(const char *key, const char *path, hn_err_t *err);
/* Point descriptor onto at fd's file and close fd: dup2 swaps the file
 * atomically, so a write on another path of this process never meets a
 * closed descriptor. Returns HN_OK, or HN_ERR (errno set; fd closed). */
int hn_log_replace_fd(int onto, int fd);
/* Both: open path again onto descriptor onto (logrotate moved the file).
 * HN_OK, or HN_ERR with err filled and onto still on the old file. */
int hn_log_reopen_file(const char *key, const char *path, int onto, hn_err_t *err);

/* path: NULL or "-" for stderr. Returns HN_OK or HN_ERR with err filled.
 * Opening again replaces the old fd. */
int hn_log_open(const char *path, hn_err_t *err);
/* Open the file's path again onto the same descriptor (logrotate moved it).
 * HN_OK also for stderr; HN_ERR with err filled, and the old file kept. */
int hn_log_reopen(hn_err_t *err);
/* A worker's side of a reopen: write to fd's file from now on (takes fd;
 * closed unchanged when the log is stderr). */
void hn_log_adopt(int fd);
/* "master", "worker 3": copied. */
void hn_log_set_role(const char *role);
/* The file's descriptor, or -1 when the log is stderr. */
int hn_log_file_fd(void);

void hn_log_write(hn_log_level_t level, const char *fmt, ...) HN_PRINTF(2, 3);

/* For what stops the server or what the operator asked for and did not get
 * (a failed start, a failed reopen): log it, and when that did not reach
 * stderr (a log file, or the log off), also write "hornet: MESSAGE" there,
 * which is the terminal, or the journal under systemd (nginx does the same). */
void hn_log_loud(hn_log_level_t level, const char *fmt, ...) HN_PRINTF(2, 3);

/* Test the level before formatting anything. */
#define hn_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= hn_log_level)                                                               \
            hn_log_write((level), __VA_ARGS__);                                                    \
    } while (0)

#endif
