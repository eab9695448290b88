/*
 * control.c - see control.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/control.h"

#include <errno.h>
#include <limits.h>
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

/* One file per kind of attempt: PID_PATH.SUFFIX. */
typedef struct {
    const char *suffix;
    const char *running;                   /* the line while an attempt runs */
    unsigned long attempt;                 /* the current one; 0: the start */
    char history[HN_CONTROL_HISTORY][512]; /* attempt a's line: [a % HN_CONTROL_HISTORY] */
} status_file_t;

enum { STATUS_RELOAD, STATUS_REOPEN, STATUS_UPGRADE };
static status_file_t files[] = {
    [STATUS_RELOAD] = {.suffix = "status", .running = "reloading"},
    [STATUS_REOPEN] = {.suffix = "reopen", .running = "reopening"},
    [STATUS_UPGRADE] = {.suffix = "upgrade", .running = "upgrading"},
};

static void
status_path(const char *pid_path, int kind, char *buf, size_t size)
{
    snprintf(buf, size, "%s.%s", pid_path, files[kind].suffix);
}

static void
status_write(const char *pid_path, int kind)
{
    const status_file_t *sf = &files[kind];
    char path[4096], tmp[4200];
    status_path(pid_path, kind, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return;
    unsigned long first =
        sf->attempt >= HN_CONTROL_HISTORY ? sf->attempt - HN_CONTROL_HISTORY + 1 : 0;
    for (unsigned long a = first; a <= sf->attempt; a++)
        fprintf(f, "%lu %s\n", a, sf->history[a % HN_CONTROL_HISTORY]);
    /* renamed into place: a reader never sees half a file */
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

/* Attempt a (the current one, an earlier one still running, or the next)
 * says text, and the file is written again. */
static void
status_set(const char *pid_path, int kind, unsigned long a, const char *text)
{
    status_file_t *sf = &files[kind];
    if (a > sf->attempt)
        sf->attempt = a;
    snprintf(sf->history[a % HN_CONTROL_HISTORY], sizeof(sf->history[0]), "%s", text);
    status_write(pid_path, kind);
}

void
hn_control_status_start(const char *pid_path, bool upgraded)
{
    if (pid_path == NULL)
        return;
    /* upgraded: the files are the old master's until it hands over, and
     * then this master's attempts follow on from them (begin) */
    if (upgraded)
        return;
    for (int kind = 0; kind < (int)HN_ARRAY_LEN(files); kind++) {
        files[kind].attempt = 0;
        status_set(pid_path, kind, 0, "started");
    }
}

/* During an upgrade two masters write the files in turn: the next attempt
 * follows whatever the file holds, not what this process remembers. */
static void
status_load(const char *pid_path, int kind)
{
    status_file_t *sf = &files[kind];
    char path[4096], buf[1024];
    status_path(pid_path, kind, path, sizeof(path));
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    while (fgets(buf, sizeof(buf), f) != NULL) {
        char *text;
        unsigned long a = strtoul(buf, &text, 10);
        if (text == buf || *text != ' ')
            continue;
        text[1 + strcspn(text + 1, "\n")] = '\0';
        snprintf(sf->history[a % HN_CONTROL_HISTORY], sizeof(sf->history[0]), "%s", text + 1);
        if (a > sf->attempt)
            sf->attempt = a;
    }
    fclose(f);
}

static unsigned long
begin(const char *pid_path, int kind)
{
    if (pid_path == NULL)
        return 0;
    status_load(pid_path, kind);
    status_set(pid_path, kind, files[kind].attempt + 1, files[kind].running);
    return files[kind].attempt;
}

static void
outcome(const char *pid_path, int kind, unsigned long a, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    status_set(pid_path, kind, a, line);
}

void
hn_control_status_begin(const char *pid_path)
{
    begin(pid_path, STATUS_RELOAD);
}

void
hn_control_status(const char *pid_path, const char *fmt, ...)
{
    if (pid_path == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    outcome(pid_path, STATUS_RELOAD, files[STATUS_RELOAD].attempt, fmt, ap);
    va_end(ap);
}

unsigned long
hn_control_upgrade_begin(const char *pid_path)
{
    return begin(pid_path, STATUS_UPGRADE);
}

void
hn_control_upgrade_status(const char *pid_path, unsigned long attempt, const char *fmt, ...)
{
    if (pid_path == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    outcome(pid_path, STATUS_UPGRADE, attempt, fmt, ap);
    va_end(ap);
}

void
hn_control_reopen_begin(const char *pid_path)
{
    begin(pid_path, STATUS_REOPEN);
}

void
hn_control_reopen_status(const char *pid_path, const char *fmt, ...)
{
    if (pid_path == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    outcome(pid_path, STATUS_REOPEN, files[STATUS_REOPEN].attempt, fmt, ap);
    va_end(ap);
}

void
hn_control_status_remove(const char *pid_path)
{
    if (pid_path == NULL)
        return;
    char path[4096];
    for (int kind = 0; kind < (int)HN_ARRAY_LEN(files); kind++) {
        status_path(pid_path, kind, path, sizeof(path));
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s.config", pid_path);
    unlink(path);
}

void
hn_control_config_write(const char *pid_path, const hn_config_t *cfg, unsigned generation)
{
    if (pid_path == NULL)
        return;
    char path[4096], tmp[4200], when[64];
    snprintf(path, sizeof(path), "%s.config", pid_path);
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return;
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", localtime_r(&now, &tm));
    fprintf(f, "# the configuration hornet master pid %d serves with: generation %u, since %s\n",
            (int)getpid(), generation, when);
    hn_cfg_dump(cfg, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

int
hn_control_print_config(const hn_config_t *cfg)
{
    if (cfg->pid_path == NULL) {
        fprintf(stderr, "hornet: --dump-config=running: no pid_path: give the same -c/--pid as "
                "the running server\n");
        return 1;
    }
    char path[4096], buf[4096];
    snprintf(path, sizeof(path), "%s.config", cfg->pid_path);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        fprintf(stderr, "hornet: --dump-config=running: %s: %s (is hornet running with "
                "pid_path %s?)\n", path, strerror(errno), cfg->pid_path);
        return 1;
    }
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stdout);
    fclose(f);
    return 0;
}

/* Reads a status file: the latest attempt it names into *latest (unless
 * NULL; 0 when there is none) and, when an attempt after `after` is there,
 * the first such attempt's line into line. */
static bool
read_status(const char *pid_path, int kind, unsigned long after, unsigned long *latest, char *line,
            size_t size)
{
    char path[4096], buf[1024];
    status_path(pid_path, kind, path, sizeof(path));
    unsigned long last = 0;
    bool found = false;
    if (latest)
        *latest = 0;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    while (fgets(buf, sizeof(buf), f) != NULL) {
        char *text;
        unsigned long a = strtoul(buf, &text, 10);
        if (text == buf || *text != ' ')
            continue;
        text++;
        text[strcspn(text, "\n")] = '\0';
        if (a > last)
            last = a;
        if (!found && a > after) {
            snprintf(line, size, "%s", text);
            found = true;
        }
    }
    fclose(f);
    if (latest)
        *latest = last;
    return found;
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

/* Waits for the outcome of the first attempt after `before` and prints it:
 * an ok reload on stdout, an ok reopen not at all (logrotate runs it, and
 * mails any output), a failure on stderr. The exit status for main. */
static int
wait_outcome(const char *pid_path, int kind, pid_t pid, const char *name, unsigned long before,
             double limit)
{
    char line[1024];
    for (long waited = 0; waited < (long)(limit * 1000); waited += 50) {
        /* an upgraded master exits soon after its outcome: read once more
         * after seeing it gone */
        bool gone = has_exited(pid);
        if (read_status(pid_path, kind, before, NULL, line, sizeof(line)) &&
            strcmp(line, files[kind].running) != 0) {
            bool ok = strncmp(line, "ok", 2) == 0;
            if (!ok || kind != STATUS_REOPEN)
                fprintf(ok ? stdout : stderr, "hornet: %s %s\n", name, line);
            return ok ? 0 : 1;
        }
        if (gone) {
            fprintf(stderr, "hornet: -s %s: pid %d exited\n", name, (int)pid);
            return 1;
        }
        sleep_ms(50);
    }
    fprintf(stderr, "hornet: -s %s: no outcome after %.0fs\n", name, limit);
    return 1;
}

int
hn_control_signal(const hn_config_t *cfg, const char *name)
{
    static const struct {
        const char *name;
        int sig;
    } actions[] = {{"stop", SIGQUIT},  {"quit", SIGTERM},  {"reopen", SIGUSR1},
                   {"reload", SIGHUP}, {"upgrade", SIGUSR2}};
    int sig = 0;
    for (size_t i = 0; i < HN_ARRAY_LEN(actions); i++)
        if (strcmp(name, actions[i].name) == 0)
            sig = actions[i].sig;
    if (sig == 0) {
        fprintf(stderr, "hornet: -s %s: expected stop, quit, reopen, reload or upgrade\n", name);
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
        fprintf(stderr,
                "hornet: -s %s: pid %d from %s is not a hornet master but %s: not "
                "signalled (the file is stale and its pid was reused)\n",
                name, (int)pid, cfg->pid_path, err.msg);
        return 1;
    }
    /* Every attempt after the latest one the file names reads the config
     * (or opens the log files) as they are now: the outcome of the first of
     * them is this reload's (reopen's). */
    int kind = sig == SIGUSR1 ? STATUS_REOPEN : sig == SIGUSR2 ? STATUS_UPGRADE : STATUS_RELOAD;
    unsigned long before;
    char line[1024];
    read_status(cfg->pid_path, kind, ULONG_MAX, &before, line, sizeof(line));
    if (kill(pid, sig) < 0) {
        fprintf(stderr, "hornet: -s %s: pid %d from %s: %s\n", name, (int)pid, cfg->pid_path,
                strerror(errno));
        return 1;
    }
    if (sig == SIGQUIT || sig == SIGTERM) {
        double limit = cfg->graceful_timeout + cfg->shutdown_timeout + 10;
        if (wait_exit(pid, limit) < 0) {
            fprintf(stderr, "hornet: -s %s: pid %d still running after %.0fs\n", name,
                    (int)pid, limit);
            return 1;
        }
        return 0;
    }
    /* reload: when one runs, the one more it makes after it is ours, so
     * two of them may pass before the outcome; an upgrade waits for the new
     * master's workers as a reload does, and a reopen is quick */
    double limit = sig == SIGHUP    ? 2 * cfg->startup_timeout + 30
                   : sig == SIGUSR2 ? cfg->startup_timeout + 30
                                    : 10;
    return wait_outcome(cfg->pid_path, kind, pid, name, before, limit);
}
