/*
 * log.c - the error log: level filter, "[time] [pid] [LEVEL] role: message"
 * lines written with one write(2) each so lines from several processes
 * sharing the file never interleave, and reopen for logrotate.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "shared/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

hn_log_level_t hn_log_level = HN_LOG_INFO;

static int log_fd = STDERR_FILENO;
static char log_path[4096]; /* empty: stderr */
static char log_role[32] = "master";

static const char *const level_names[] = {"critical", "error", "warning", "notice", "info", "debug"};
static const char *const level_tags[] = {"CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"};

int
hn_log_level_parse(const char *name)
{
    for (size_t i = 0; i < HN_ARRAY_LEN(level_names); i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    if (strcasecmp(name, "warn") == 0)
        return HN_LOG_WARN;
    if (strcasecmp(name, "crit") == 0)
        return HN_LOG_CRIT;
    return -1;
}

const char *
hn_log_level_name(hn_log_level_t level)
{
    return (unsigned)level < HN_ARRAY_LEN(level_names) ? level_names[level] : "unknown";
}

static int
open_path(const char *path, hn_err_t *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && err)
        hn_err_set(err, errno, "cannot open error log %s: %s", path, strerror(errno));
    return fd;
}

int
hn_log_open(const char *path, hn_err_t *err)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        if (log_fd != STDERR_FILENO)
            close(log_fd);
        log_fd = STDERR_FILENO;
        log_path[0] = '\0';
        return HN_OK;
    }
    if (strlen(path) >= sizeof(log_path)) {
        hn_err_set(err, ENAMETOOLONG, "error log path too long: %s", path);
        return HN_ERR;
    }
    int fd = open_path(path, err);
    if (fd < 0)
        return HN_ERR;
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof(log_path), "%s", path);
    return HN_OK;
}

int
hn_log_reopen(void)
{
    if (log_path[0] == '\0')
        return HN_OK;
    hn_err_t err;
    int fd = open_path(log_path, &err);
    if (fd < 0) {
        hn_log(HN_LOG_ERROR, "%s", err.msg);
        return HN_ERR;
    }
    /* dup2 swaps the file under the same descriptor number, so a line being
     * written by another path of this process never sees a closed fd. */
    dup2(fd, log_fd);
    close(fd);
    return HN_OK;
}

void
hn_log_set_role(const char *role)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
}

int
hn_log_fd(void)
{
    return log_fd;
}

void
hn_log_write(hn_log_level_t level, const char *fmt, ...)
{
    char line[2048];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "[%Y-%m-%d %H:%M:%S %z] ", &tm);
    int m = snprintf(line + n, sizeof(line) - n, "[%d] [%s] %s: ", (int)getpid(),
                     level_tags[(unsigned)level < HN_ARRAY_LEN(level_tags) ? level : 0], log_role);
    if (m > 0)
        n += (size_t)m;
    va_list ap;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m > 0)
        n += HN_MIN((size_t)m, sizeof(line) - n - 2);
    line[n++] = '\n';
    ssize_t w;
    do {
        w = write(log_fd, line, n);
    } while (w < 0 && errno == EINTR);
}
