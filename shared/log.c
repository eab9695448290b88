/*
 * log.c - the error log: level filter, "[time] [pid] [LEVEL] role: message"
 * lines written with one write(2) each so lines from several processes
 * sharing the file never interleave, reopen for logrotate, and the one
 * function that opens log files (the access log's too).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "shared/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
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

int
hn_log_open_file(const char *key, const char *path, hn_err_t *err)
{
    int fd;
    do
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        hn_err_set(err, errno, "%s: cannot open %s: %s", key, path, strerror(errno));
    return fd;
}

int
hn_log_replace_fd(int onto, int fd)
{
    int rc = dup2(fd, onto) < 0 ? HN_ERR : HN_OK;
    int saved = errno;
    close(fd);
    /* dup2 clears close-on-exec on onto */
    if (rc == HN_OK)
        (void)fcntl(onto, F_SETFD, FD_CLOEXEC);
    errno = saved;
    return rc;
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
        hn_err_set(err, ENAMETOOLONG, "errorlog: path too long: %s", path);
        return HN_ERR;
    }
    int fd = hn_log_open_file("errorlog", path, err);
    if (fd < 0)
        return HN_ERR;
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof(log_path), "%s", path);
    return HN_OK;
}

int
hn_log_reopen_file(const char *key, const char *path, int onto, hn_err_t *err)
{
    int fd = hn_log_open_file(key, path, err);
    if (fd < 0)
        return HN_ERR;
    if (hn_log_replace_fd(onto, fd) != HN_OK) {
        hn_err_set(err, errno, "%s: reopen %s: dup2: %s", key, path, strerror(errno));
        return HN_ERR;
    }
    return HN_OK;
}

int
hn_log_reopen(hn_err_t *err)
{
    return log_path[0] ? hn_log_reopen_file("errorlog", log_path, log_fd, err) : HN_OK;
}

void
hn_log_adopt(int fd)
{
    if (log_path[0] == '\0')
        close(fd);
    else
        (void)hn_log_replace_fd(log_fd, fd); /* on failure the old file stays */
}

void
hn_log_set_role(const char *role)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
}

int
hn_log_file_fd(void)
{
    return log_path[0] ? log_fd : -1;
}

static void
write_all(int fd, const char *p, size_t n)
{
    ssize_t w;
    do {
        w = write(fd, p, n);
    } while (w < 0 && errno == EINTR);
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
    write_all(log_fd, line, n);
}

void
hn_log_loud(hn_log_level_t level, const char *fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bool logged = level <= hn_log_level;
    if (logged)
        hn_log_write(level, "%s", msg);
    if (logged && log_fd == STDERR_FILENO)
        return;
    /* the master's words are hornet's; a worker says which one it is */
    bool is_master = strcmp(log_role, "master") == 0;
    char line[sizeof(msg) + 64];
    int n = snprintf(line, sizeof(line), "hornet: %s%s%s\n", is_master ? "" : log_role,
                     is_master ? "" : ": ", msg);
    if (n > 0) {
        size_t len = HN_MIN((size_t)n, sizeof(line) - 1);
        line[len - 1] = '\n'; /* also when cut */
        write_all(STDERR_FILENO, line, len);
    }
}
