/*
 * control.h - managing a running hornet through its PID file, nginx-style
 * (`hornet -s stop|quit|reopen|reload`), and the status file that lets
 * `-s reload` report the outcome, which nginx's does not: the master writes
 * one line to PID_PATH.status after every reload ("SEQ ok generation N",
 * "SEQ refused REASON", "SEQ aborted REASON").
 */
#ifndef HN_MASTER_CONTROL_H
#define HN_MASTER_CONTROL_H

#include "shared/common.h"

struct hn_config;

/* Master side: record an outcome (no-op without pid_path). */
void hn_control_status(const char *pid_path, const char *fmt, ...) HN_PRINTF(2, 3);
void hn_control_status_remove(const char *pid_path);

/* Client side: signal the master named by cfg->pid_path. stop: fast stop
 * (QUIT); quit: graceful stop (TERM); reopen: reopen logs (USR1); reload:
 * HUP, then wait for the outcome. Returns the exit status for main. */
int hn_control_signal(const struct hn_config *cfg, const char *name);

#endif
