/*
 * control.c - see control.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/control.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "master/pidfile.h"
#include "shared/cfg.h"

static unsigned long status_seq;

static void
status_path(const char *pid_path, char *buf, size_t size)
{
    snprintf(buf, size, "%s.status", pid_path);
}

void
hn_control_status(const char *pid_path, const char *fmt, ...)
{
    if (pid_path == NULL)
        return;
    char path[4096], tmp[4200], line[1024];
    status_path(pid_path, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return;
    fprintf(f, "%lu %s\n", status_seq++, line);
    /* renamed into place: a reader never sees half a line */
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

void
hn_control_status_remove(const char *pid_path)
{
    if (pid_path == NULL)
        return;
    char path[4096];
    status_path(pid_path, path, sizeof(path));
    unlink(path);
}

/* The status line, or "" when there is none. */
static void
read_status(const char *pid_path, char *buf, size_t size)
{
    char path[4096];
    status_path(pid_path, path, sizeof(path));
    buf[0] = '\0';
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    if (fgets(buf, (int)size, f) == NULL)
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Gone, or a zombie its parent has not reaped yet (it has exited). */
static bool
has_exited(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    char path[64], stat[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return true;
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *end = strrchr(stat, ')');
    return end && end[1] == ' ' && end[2] == 'Z';
}

static int
wait_exit(pid_t pid, double seconds)
{
    for (long waited = 0; waited < (long)(seconds * 1000); waited += 50) {
        if (has_exited(pid))
            return 0;
        sleep_ms(50);
    }
    return -1;
}

int
hn_control_signal(const hn_config_t *cfg, const char *name)
{
    static const struct {
        const char *name;
        int sig;
    } actions[] = {{"stop", SIGQUIT}, {"quit", SIGTERM}, {"reopen", SIGUSR1}, {"reload", SIGHUP}};
    int sig = 0;
    for (size_t i = 0; i < HN_ARRAY_LEN(actions); i++)
        if (strcmp(name, actions[i].name) == 0)
            sig = actions[i].sig;
    if (sig == 0) {
        fprintf(stderr, "hornet: -s %s: expected stop, quit, reopen or reload\n", name);
        return 2;
    }
    if (cfg->pid_path == NULL) {
        fprintf(stderr, "hornet: -s %s: no pid_path: give the same -c/--pid as the running "
                "server\n", name);
        return 1;
    }
    hn_err_t err = {0};
    pid_t pid = hn_pidfile_read(cfg->pid_path, &err);
    if (pid <= 0) {
        fprintf(stderr, "hornet: -s %s: %s\n", name, err.msg);
        return 1;
    }
    /* A master killed with -9 leaves its PID file behind, and its pid may
     * since have gone to another program. No process at all is left to
     * kill() below, whose ESRCH says so. */
    if (!hn_pidfile_is_master(pid, &err) && err.code != ESRCH) {
        fprintf(stderr, "hornet: -s %s: pid %d from %s is not a hornet master but %s: not "
                "signalled (the file is stale and its pid was reused)\n", name, (int)pid,
                cfg->pid_path, err.msg);
        return 1;
    }
    char before[1024];
    read_status(cfg->pid_path, before, sizeof(before));
    if (kill(pid, sig) < 0) {
        fprintf(stderr, "hornet: -s %s: pid %d from %s: %s\n", name, (int)pid, cfg->pid_path,
                strerror(errno));
        return 1;
    }
    if (sig == SIGUSR1)
        return 0;
    if (sig == SIGQUIT || sig == SIGTERM) {
        double limit = cfg->graceful_timeout + cfg->shutdown_timeout + 10;
        if (wait_exit(pid, limit) < 0) {
            fprintf(stderr, "hornet: -s %s: pid %d still running after %.0fs\n", name,
                    (int)pid, limit);
            return 1;
        }
        return 0;
    }
    /* reload: the master writes a new status line when it is done */
    double limit = cfg->startup_timeout + 30;
    for (long waited = 0; waited < (long)(limit * 1000); waited += 50) {
        char now[1024];
        read_status(cfg->pid_path, now, sizeof(now));
        if (now[0] && strcmp(now, before) != 0) {
            const char *what = strchr(now, ' ');
            what = what ? what + 1 : now;
            bool ok = strncmp(what, "ok", 2) == 0;
            fprintf(ok ? stdout : stderr, "hornet: reload %s\n", what);
            return ok ? 0 : 1;
        }
        if (has_exited(pid)) {
            fprintf(stderr, "hornet: -s reload: pid %d exited\n", (int)pid);
            return 1;
        }
        sleep_ms(50);
    }
    fprintf(stderr, "hornet: -s reload: no outcome after %.0fs\n", limit);
    return 1;
}
