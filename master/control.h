/*
 * control.h - managing a running hornet through its PID file, nginx-style
 * (`hornet -s stop|quit|reopen|reload|upgrade`), and the status files that
 * let `-s reload`, `-s reopen` and `-s upgrade` report the outcome, which
 * nginx's do not.
 *
 * PID_PATH.status holds one line per reload attempt, PID_PATH.reopen one
 * per reopen attempt, PID_PATH.upgrade one per upgrade attempt (one file
 * each, so no outcome hides another from a client waiting for it): the
 * latest HN_CONTROL_HISTORY of them, oldest first. "N reloading" while
 * reload attempt N runs, then its outcome, "N ok generation G", "N refused:
 * REASON" or "N aborted: REASON"; "N reopening", then "N ok" or "N failed:
 * REASON"; "N upgrading", then "N ok new master pid P" or "N failed:
 * REASON". Attempt 0 is the start ("0 started") in each; a master started
 * by an upgrade goes on with the upgrade file as it is. The line of an
 * attempt is written before it reads the configuration or opens the log
 * files, so a client that has read the file knows that every later attempt
 * sees its edits or renames.
 */
#ifndef HN_MASTER_CONTROL_H
#define HN_MASTER_CONTROL_H

#include <stdbool.h>

#include "shared/common.h"

struct hn_config;

#define HN_CONTROL_HISTORY 8

/* Master side, each a no-op without pid_path. start: the files afresh
 * with attempt 0 (a killed master's files name attempts this one never
 * makes), but the upgrade file when upgraded; begin: the next reload
 * attempt starts; status: the current reload attempt's outcome;
 * upgrade_begin, upgrade_status, reopen_begin, reopen_status: the same for
 * an upgrade and a reopen; remove: the files, at exit. */
void hn_control_status_start(const char *pid_path, bool upgraded);
void hn_control_status_begin(const char *pid_path);
void hn_control_status(const char *pid_path, const char *fmt, ...) HN_PRINTF(2, 3);
/* An upgrade attempt may be refused while an earlier one runs: begin
 * returns the attempt's number, for its outcome. */
unsigned long hn_control_upgrade_begin(const char *pid_path);
void hn_control_upgrade_status(const char *pid_path, unsigned long attempt, const char *fmt, ...)
    HN_PRINTF(3, 4);
void hn_control_reopen_begin(const char *pid_path);
void hn_control_reopen_status(const char *pid_path, const char *fmt, ...) HN_PRINTF(2, 3);
void hn_control_status_remove(const char *pid_path);
/* PID_PATH.config: cfg as hn_cfg_dump prints it, for `--dump-config=running`
 * (a refused reload leaves what runs different from the file). Written at
 * start and when a reload or an upgrade completes; removed with the
 * status files. */
void hn_control_config_write(const char *pid_path, const struct hn_config *cfg,
                             unsigned generation);
/* Client side: print the running master's configuration. The exit status. */
int hn_control_print_config(const struct hn_config *cfg);

/* Client side: signal the master named by cfg->pid_path, refusing a pid
 * that is not a hornet master. stop: fast stop (QUIT); quit: graceful stop
 * (TERM); both wait for the exit. reopen: reopen the logs (USR1); reload:
 * HUP; upgrade: USR2; these wait for the outcome of the first attempt that began after the
 * status file was read (for a reload, the first to read the caller's
 * edits: when one was running, the one more reload the HUP makes after
 * it) and fail with its reason; an ok reopen prints nothing. Returns the
 * exit status for main. */
int hn_control_signal(const struct hn_config *cfg, const char *name);

#endif
