/*
 * control.h - managing a running hornet through its PID file, nginx-style
 * (`hornet -s stop|quit|reopen|reload`), and the status file that lets
 * `-s reload` report the outcome, which nginx's does not.
 *
 * PID_PATH.status holds one line per reload attempt, the latest
 * HN_CONTROL_HISTORY of them, oldest first: "N reloading" while attempt N
 * runs, then its outcome, "N ok generation G", "N refused: REASON" or
 * "N aborted: REASON". Attempt 0 is the start ("0 started"). The line of an
 * attempt is written before it reads the configuration, so a client that
 * has read the file knows that every later attempt reads its edits.
 */
#ifndef HN_MASTER_CONTROL_H
#define HN_MASTER_CONTROL_H

#include "shared/common.h"

struct hn_config;

#define HN_CONTROL_HISTORY 8

/* Master side, each a no-op without pid_path. start: a fresh file with
 * attempt 0 (a killed master's file names attempts this one never makes);
 * begin: the next attempt starts; status: the current attempt's outcome. */
void hn_control_status_start(const char *pid_path);
void hn_control_status_begin(const char *pid_path);
void hn_control_status(const char *pid_path, const char *fmt, ...) HN_PRINTF(2, 3);
void hn_control_status_remove(const char *pid_path);

/* Client side: signal the master named by cfg->pid_path, refusing a pid
 * that is not a hornet master. stop: fast stop (QUIT); quit: graceful stop
 * (TERM); both wait for the exit; reopen: reopen logs (USR1); reload: HUP,
 * then wait for the outcome of the first attempt that began after the
 * status file was read, the first to read the caller's edits (when a
 * reload was running, the one more reload the HUP makes after it). Returns
 * the exit status for main. */
int hn_control_signal(const struct hn_config *cfg, const char *name);

#endif
