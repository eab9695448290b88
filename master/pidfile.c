/*
 * pidfile.c - see pidfile.h. The file is written to a temporary name and
 * renamed, so a reader never sees it half-written.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t
hn_pidfile_read(const char *path, hn_err_t *err)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        hn_err_set(err, errno, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    long pid = -1;
    int n = fscanf(f, "%ld", &pid);
    fclose(f);
    if (n != 1 || pid <= 0) {
        hn_err_set(err, EINVAL, "%s: does not hold a process id", path);
        return -1;
    }
    return (pid_t)pid;
}

/* The NUL-separated command line of pid: its length, 0 when there is none
 * (a zombie, a kernel thread) or it cannot be read. */
static size_t
read_cmdline(pid_t pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

/* The command line names hornet: argv[0] or, for a wrapper (valgrind,
 * strace), a later argument whose last component is hornet. A file named
 * after it (hornet.yaml, hornet.pid in `vim /etc/hornet/hornet.yaml`) does
 * not count, or a reused pid could be such an editor. */
static bool
names_hornet(const char *cmd, size_t n)
{
    for (size_t i = 0; i < n; i += strlen(cmd + i) + 1) {
        const char *base = strrchr(cmd + i, '/');
        base = base ? base + 1 : cmd + i;
        if (strcmp(base, "hornet") == 0 || strcmp(base, "lt-hornet") == 0)
            return true;
    }
    return false;
}

static pid_t
parent_of(pid_t pid)
{
    char path[64], stat[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
    const char *end = strrchr(stat, ')');
    int ppid;
    if (end == NULL || sscanf(end + 1, " %*c %d", &ppid) != 1)
        return -1;
    return (pid_t)ppid;
}

bool
hn_pidfile_is_master(pid_t pid, hn_err_t *why)
{
    if (pid == getpid()) {
        hn_err_set(why, EINVAL, "this very process");
        return false;
    }
    if (kill(pid, 0) < 0 && errno == ESRCH) {
        hn_err_set(why, ESRCH, "no such process");
        return false;
    }
    char cmd[4096], parent[4096];
    size_t n = read_cmdline(pid, cmd, sizeof(cmd));
    if (!names_hornet(cmd, n)) {
        for (size_t i = 0; i + 1 < n; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        hn_err_set(why, EINVAL, n ? "\"%s\"" : "a process without a command line", cmd);
        return false;
    }
    /* A worker is forked without exec, so it has its master's command line
     * byte for byte; a wrapper or a shell that started a master has its own. */
    pid_t ppid = parent_of(pid);
    if (ppid > 1 && read_cmdline(ppid, parent, sizeof(parent)) == n &&
        memcmp(parent, cmd, n) == 0) {
        hn_err_set(why, EINVAL, "a worker of pid %d", (int)ppid);
        return false;
    }
    return true;
}

int
hn_pidfile_create(const char *path, hn_err_t *err)
{
    hn_err_t rerr;
    pid_t old = hn_pidfile_read(path, &rerr);
    if (old > 0 && hn_pidfile_is_master(old, &rerr)) {
        hn_err_set(err, EEXIST, "%s: hornet is already running as pid %d", path, (int)old);
        return HN_ERR;
    }
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= sizeof(tmp)) {
        hn_err_set(err, ENAMETOOLONG, "%s: path too long", path);
        return HN_ERR;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        hn_err_set(err, errno, "%s: cannot write pid file: %s", path, strerror(errno));
        return HN_ERR;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (write(fd, buf, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0) {
        hn_err_set(err, errno, "%s: cannot write pid file: %s", path, strerror(errno));
        unlink(tmp);
        return HN_ERR;
    }
    return HN_OK;
}

void
hn_pidfile_remove(const char *path)
{
    hn_err_t err;
    if (path && hn_pidfile_read(path, &err) == getpid())
        unlink(path);
}
