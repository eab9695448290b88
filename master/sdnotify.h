/*
 * sdnotify.h - systemd's notify protocol without libsystemd: datagrams to
 * $NOTIFY_SOCKET (READY=1, RELOADING=1, STOPPING=1, STATUS=...). A no-op
 * when hornet is not started by systemd with Type=notify.
 */
#ifndef HN_MASTER_SDNOTIFY_H
#define HN_MASTER_SDNOTIFY_H

#include "shared/common.h"

/* Take NOTIFY_SOCKET from the environment (and out of it, so workers and
 * apps do not inherit it). */
void hn_sdnotify_init(void);
void hn_sdnotify(const char *fmt, ...) HN_PRINTF(1, 2);
/* Seconds between WATCHDOG=1 pings (half of WatchdogSec), 0 when systemd
 * does not watch us. */
double hn_sdnotify_watchdog_interval(void);
/* In a child about to execute the next master (upgrade.h): put back what
 * hn_sdnotify_init took out of the environment, WATCHDOG_PID naming the
 * child. */
void hn_sdnotify_export(void);

#endif
