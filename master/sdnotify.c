/*
 * sdnotify.c - see sdnotify.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shared/log.h"

static struct sockaddr_un sd_addr;
static socklen_t sd_len;
static double sd_watchdog;
static char sd_env[sizeof(sd_addr.sun_path) + 1]; /* NOTIFY_SOCKET as it was */
static char sd_usec[32];                          /* WATCHDOG_USEC as it was */

double
hn_sdnotify_watchdog_interval(void)
{
    return sd_watchdog;
}

void
hn_sdnotify_init(void)
{
    /* WatchdogSec=: systemd sets WATCHDOG_USEC (and WATCHDOG_PID, ours) */
    const char *usec = getenv("WATCHDOG_USEC");
    const char *wpid = getenv("WATCHDOG_PID");
    if (usec && (wpid == NULL || atol(wpid) == (long)getpid())) {
        sd_watchdog = (double)strtoull(usec, NULL, 10) / 2e6;
        snprintf(sd_usec, sizeof(sd_usec), "%s", usec);
    }
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || (path[0] != '/' && path[0] != '@') ||
        strlen(path) >= sizeof(sd_addr.sun_path)) {
        unsetenv("NOTIFY_SOCKET");
        return;
    }
    snprintf(sd_env, sizeof(sd_env), "%s", path);
    memset(&sd_addr, 0, sizeof(sd_addr));
    sd_addr.sun_family = AF_UNIX;
    size_t n = strlen(path);
    memcpy(sd_addr.sun_path, path, n);
    if (path[0] == '@')
        sd_addr.sun_path[0] = '\0'; /* abstract namespace */
    sd_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    unsetenv("NOTIFY_SOCKET");
}

void
hn_sdnotify_export(void)
{
    if (sd_env[0])
        setenv("NOTIFY_SOCKET", sd_env, 1);
    if (sd_usec[0]) {
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("WATCHDOG_USEC", sd_usec, 1);
        setenv("WATCHDOG_PID", pid, 1);
    }
}

void
hn_sdnotify(const char *fmt, ...)
{
    if (sd_len == 0)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, (size_t)HN_MIN(n, (int)sizeof(msg) - 1), MSG_NOSIGNAL,
               (struct sockaddr *)&sd_addr, sd_len) < 0)
        hn_log(HN_LOG_WARN, "cannot notify systemd: %s", strerror(errno));
    close(fd);
}
