/*
 * upgrade.c - see upgrade.h. The environment: HORNET_UPGRADE="FD GENERATION"
 * (the pipe's write end, the old master's generation), and
 * HORNET_LISTENERS, one line per listener: "FLAGS FD[,FD...] ADDRESS", the
 * address as configured (so the new configuration matches it as a reload
 * does), FLAGS "u" when the master created its unix socket file, else "-".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "master/listeners.h"
#include "master/sdnotify.h"
#include "shared/mem.h"

#define ENV_UPGRADE "HORNET_UPGRADE"
#define ENV_LISTENERS "HORNET_LISTENERS"

static char **up_argv;
static char up_program[PATH_MAX];
static int up_fd = -1;
static bool up_env_read;

void
hn_upgrade_set_argv(char **argv)
{
    up_argv = argv;
    const char *prog = argv[0];
    char cwd[PATH_MAX];
    snprintf(up_program, sizeof(up_program), "%s", prog);
    if (prog[0] == '/' || strchr(prog, '/') == NULL || getcwd(cwd, sizeof(cwd)) == NULL)
        return;
    while (prog[0] == '.' && prog[1] == '/')
        prog += 2;
    /* too long for PATH_MAX: as given, which exec may still resolve */
    char abs[PATH_MAX];
    if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, prog) < sizeof(abs))
        memcpy(up_program, abs, sizeof(up_program));
}

const char *
hn_upgrade_program(void)
{
    return up_program;
}

/* HORNET_UPGRADE, read once: the pipe and the old master's generation. */
static uint32_t
read_env(void)
{
    static uint32_t generation;
    if (up_env_read)
        return generation;
    up_env_read = true;
    const char *v = getenv(ENV_UPGRADE);
    int fd;
    unsigned long gen;
    if (v == NULL || sscanf(v, "%d %lu", &fd, &gen) != 2 || fcntl(fd, F_GETFD) < 0)
        return 0;
    /* forked children that are not workers (the application check) must
     * not hold it open past an exec either */
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    up_fd = fd;
    generation = (uint32_t)gen;
    return generation;
}

bool
hn_upgrade_is_child(void)
{
    read_env();
    return up_fd >= 0;
}

int
hn_upgrade_fd(void)
{
    return up_fd;
}

static void
tell(const char *fmt, const char *text)
{
    read_env();
    if (up_fd < 0)
        return;
    dprintf(up_fd, fmt, text);
    close(up_fd);
    up_fd = -1;
}

void
hn_upgrade_ready(void)
{
    /* with the pid: it may overtake the "pid N" of the child between */
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    tell("ready %s\n", pid);
}

void
hn_upgrade_failed(const char *why)
{
    /* one line: the first of a config's errors is enough here */
    char line[512];
    snprintf(line, sizeof(line), "%s", why);
    line[strcspn(line, "\n")] = '\0';
    tell("error %s\n", line);
}

/* --- the old master's side ---------------------------------------------- */

/* Append to a growing string. */
static void
append(char **s, size_t *len, const char *fmt, ...) HN_PRINTF(3, 4);
static void
append(char **s, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *s = hn_xrealloc(*s, *len + (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(*s + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
}

static char *
listeners_env(const hn_listeners_t *ls)
{
    char *s = NULL;
    size_t len = 0;
    append(&s, &len, "%s", "");
    for (size_t i = 0; i < ls->n; i++) {
        const hn_listen_item_t *it = &ls->items[i];
        append(&s, &len, "%s ", it->unlink_on_close ? "u" : "-");
        for (size_t k = 0; k < it->n_fds; k++)
            append(&s, &len, "%s%d", k ? "," : "", it->fds[k]);
        append(&s, &len, " %s\n", it->conf.text);
    }
    return s;
}

/* In the new master's process, between fork and exec: only the listening
 * sockets and the pipe cross the exec; signals as a fresh process has them. */
static HN_NORETURN void
exec_child(const hn_listeners_t *ls, const char *env_ls, int wfd, uint32_t generation,
           pid_t master)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    for (size_t i = 0; i < ls->n; i++)
        for (size_t k = 0; k < ls->items[i].n_fds; k++)
            fcntl(ls->items[i].fds[k], F_SETFD, 0);
    fcntl(wfd, F_SETFD, 0);
    char v[64];
    snprintf(v, sizeof(v), "%d %lu", wfd, (unsigned long)generation);
    setenv(ENV_UPGRADE, v, 1);
    setenv(ENV_LISTENERS, env_ls, 1);
    /* systemd's variables, which start-up took out of the environment, for
     * the process that will be the service's main one */
    hn_sdnotify_export();
    const char *lpid = getenv("LISTEN_PID");
    if (lpid && atol(lpid) == (long)master) {
        snprintf(v, sizeof(v), "%d", (int)getpid());
        setenv("LISTEN_PID", v, 1);
    }
    char *argv0 = up_argv[0];
    up_argv[0] = up_program;
    execvp(up_program, up_argv);
    up_argv[0] = argv0;
    dprintf(wfd, "error cannot execute %s: %s\n", up_program, strerror(errno));
    _exit(127);
}

int
hn_upgrade_start(const hn_listeners_t *ls, uint32_t generation, hn_err_t *err)
{
    int p[2];
    if (up_argv == NULL) {
        hn_err_set(err, EINVAL, "the command line to run again is not known");
        return -1;
    }
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
        hn_err_set(err, errno, "pipe: %s", strerror(errno));
        return -1;
    }
    /* blocking for the writers: a line is written whole */
    fcntl(p[1], F_SETFL, 0);
    char *env_ls = listeners_env(ls);
    pid_t master = getpid();
    pid_t mid = fork();
    if (mid == 0) {
        close(p[0]);
        pid_t pid = fork();
        if (pid == 0)
            exec_child(ls, env_ls, p[1], generation, master);
        if (pid > 0)
            dprintf(p[1], "pid %d\n", (int)pid);
        else
            dprintf(p[1], "error fork: %s\n", strerror(errno));
        _exit(0);
    }
    int saved = errno;
    free(env_ls);
    close(p[1]);
    if (mid < 0) {
        close(p[0]);
        hn_err_set(err, saved, "fork: %s", strerror(saved));
        return -1;
    }
    /* the child between exits at once; reap() takes it as a stranger */
    return p[0];
}

/* --- the new master's side ---------------------------------------------- */

static int
parse_item(hn_listen_item_t *it, char *line, hn_err_t *err)
{
    char *flags = strtok_r(line, " ", &line);
    char *fds = strtok_r(NULL, " ", &line);
    const char *text = line;
    if (flags == NULL || fds == NULL || *text == '\0') {
        hn_err_set(err, EINVAL, ENV_LISTENERS ": malformed line");
        return HN_ERR;
    }
    if (hn_addr_parse(text, &it->conf, err) != HN_OK)
        return HN_ERR;
    it->addr = it->conf;
    it->unlink_on_close = flags[0] == 'u';
    it->per_slot = it->conf.kind == HN_ADDR_TCP;
    for (char *f = fds, *save = NULL; (f = strtok_r(f, ",", &save)) != NULL; f = NULL) {
        char *end;
        long fd = strtol(f, &end, 10);
        struct stat st;
        if (*end != '\0' || fd < 0 || fd > INT_MAX || fstat((int)fd, &st) < 0 ||
            !S_ISSOCK(st.st_mode)) {
            hn_err_set(err, EBADF, ENV_LISTENERS ": %s: descriptor %s is not a socket", text, f);
            return HN_ERR;
        }
        fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        it->fds = hn_xrealloc(it->fds, (it->n_fds + 1) * sizeof(int));
        it->fds[it->n_fds++] = (int)fd;
    }
    if (it->n_fds == 0) {
        hn_err_set(err, EINVAL, ENV_LISTENERS ": %s: no descriptor", text);
        return HN_ERR;
    }
    if (it->per_slot) {
        /* a configured port 0 stays the port the old master was given */
        it->addr.sa_len = sizeof(it->addr.sa);
        getsockname(it->fds[0], (struct sockaddr *)&it->addr.sa, &it->addr.sa_len);
        hn_addr_format_sa((struct sockaddr *)&it->addr.sa, it->addr.sa_len, it->addr.text,
                          sizeof(it->addr.text));
    }
    return HN_OK;
}

int
hn_upgrade_inherit(hn_listeners_t *inherited, uint32_t *generation, hn_err_t *err)
{
    *inherited = (hn_listeners_t){0};
    *generation = read_env();
    const char *v = getenv(ENV_LISTENERS);
    if (up_fd < 0 || v == NULL) {
        unsetenv(ENV_UPGRADE);
        unsetenv(ENV_LISTENERS);
        return HN_OK;
    }
    char *copy = hn_xstrdup(v), *save = NULL;
    int rc = HN_OK;
    unsetenv(ENV_UPGRADE);
    unsetenv(ENV_LISTENERS);
    for (char *line = copy; rc == HN_OK && (line = strtok_r(line, "\n", &save)) != NULL;
         line = NULL) {
        inherited->items =
            hn_xrealloc(inherited->items, (inherited->n + 1) * sizeof(*inherited->items));
        hn_listen_item_t *it = &inherited->items[inherited->n++];
        *it = (hn_listen_item_t){0};
        rc = parse_item(it, line, err);
    }
    free(copy);
    return rc;
}
