/*
 * access_log.h - the worker's access log: Hypercorn's access_log_format
 * (Python %-style atoms such as %(h)s, %(r)s, %({user-agent}i)s) compiled
 * once into a list of ops, lines formatted into a static per-worker 64 KiB
 * buffer, written by hn_access_log_flush once per loop iteration (or as soon
 * as the buffer passes 32 KiB). The file is the master's: it opens it (as
 * root, before the workers drop privileges) and hands the worker the
 * descriptor at fork and again after each reopen (master/logfiles.h).
 *
 * Each line is what Hypercorn writes for `--access-logfile`: its handler
 * prefix (unless cfg->access_log_prefix is false), then the formatted atoms:
 *   [2026-11-23 12:00:00 +0000] [4242] [INFO] 127.0.0.1:51234 - - [23/Nov/2026:12:00:00 +0000]
 *   "GET / 1.1" 200 13 "-" "curl/7.88.1"
 * Bytes that come from the client or the app (paths, header values) are
 * escaped per cfg->access_log_escape: by default control characters, '"',
 * '\' and bytes >= 0x7f as \xHH, so a request cannot forge a log line; json
 * gives JSON string escapes and keeps the line valid UTF-8.
 *
 * Module state is per process: call hn_access_log_open in the worker, after
 * fork. Not thread-safe (one event loop per worker).
 */
#ifndef HN_WORKER_ACCESS_LOG_H
#define HN_WORKER_ACCESS_LOG_H

#include <stdbool.h>

#include "shared/common.h"

struct hn_config;
struct hn_request;

/* Compile cfg->access_log_format (NULL: Hypercorn's default
 *   %(h)s %(l)s %(l)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"),
 * take cfg->access_log_escape and cfg->access_log_prefix, and start logging
 * per cfg->accesslog: NULL disables the log, "-" is stdout, anything else
 * the file already open as fd (hn_log_open_file), which the log takes (and
 * closes on failure); fd is -1 unless accesslog is a file. A second call
 * closes what the first opened. Returns HN_OK, or HN_ERR with err filled (a
 * malformed format, no fd); the log is then disabled. */
int hn_access_log_open(const struct hn_config *cfg, int fd, hn_err_t *err);

/* Check a format without opening anything (for `hornet -t`). */
int hn_access_log_check_format(const char *format, hn_err_t *err);

bool hn_access_log_enabled(void);

/* Format one line for r into the buffer; borrows r for the call only. now is
 * wall-clock seconds (ev_time()); the request time is now - r->start_time.
 * A no-op when the log is disabled. */
void hn_access_log_request(const struct hn_request *r, double now);

/* Write what is buffered. Cheap when the buffer is empty. A write error is
 * logged once (until a write succeeds again) and the buffered lines dropped. */
void hn_access_log_flush(void);

/* The master reopened the file: flush what is buffered into the old one,
 * then write to fd (taken; closed when the log is off or stdout). On a dup2
 * failure, logged, the old file stays. */
void hn_access_log_adopt(int fd);

/* Flush and close; the log is disabled afterwards. */
void hn_access_log_close(void);

#endif
