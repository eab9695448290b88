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

/* Is pid a running hornet (not a recycled pid of another program)? Its
 * command line is checked rather than its comm, so a hornet run under a
 * wrapper (valgrind, an installed copy with another prefix) still counts. */
static int
is_live_hornet(pid_t pid)
{
    if (pid == getpid() || (kill(pid, 0) < 0 && errno == ESRCH))
        return 0;
    char path[64], cmd[4096];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
    fclose(f);
    cmd[n] = '\0';
    for (size_t i = 0; i < n; i += strlen(cmd + i) + 1) {
        const char *base = strrchr(cmd + i, '/');
        base = base ? base + 1 : cmd + i;
        if (strncmp(base, "hornet", 6) == 0 || strncmp(base, "lt-hornet", 9) == 0)
            return 1;
    }
    return 0;
}

int
hn_pidfile_create(const char *path, hn_err_t *err)
{
    hn_err_t rerr;
    pid_t old = hn_pidfile_read(path, &rerr);
    if (old > 0 && is_live_hornet(old)) {
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
