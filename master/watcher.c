/*
 * watcher.c - see watcher.h. Directories are watched, not files: a file
 * replaced by rename (editors, `cp` over a .so by make install, `mv`) is a
 * new inode that a watch on the old one would never report.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/watcher.h"

#include <errno.h>
#include <ev.h>
#include <fnmatch.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cfg.h"
#include "shared/log.h"
#include "shared/mem.h"

/* Changes closer together than this make one reload. */
#define DEBOUNCE 0.3

typedef struct watch {
    int wd;
    char *name; /* file name inside the watched directory: a name or a glob */
} watch_t;

static int w_fd = -1;
static ev_io w_io;
static ev_timer w_debounce;
static watch_t *w_list;
static size_t w_n;
static void (*w_on_change)(void);

static void
on_debounce(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    w_on_change(); /* the master says what it does about it */
}

static void
on_inotify(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)io;
    (void)revents;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    bool hit = false;
    while ((n = read(w_fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            for (size_t i = 0; i < w_n; i++)
                if (w_list[i].wd == ev->wd && ev->len &&
                    fnmatch(w_list[i].name, ev->name, FNM_PERIOD) == 0)
                    hit = true;
            p += sizeof(*ev) + ev->len;
        }
    }
    if (hit) {
        ev_timer_stop(loop, &w_debounce);
        ev_timer_set(&w_debounce, DEBOUNCE, 0);
        ev_timer_start(loop, &w_debounce);
    }
}

/* Names matching pattern in directory dir. */
static void
add_watch(const char *dir, const char *pattern)
{
    int wd = inotify_add_watch(w_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                                             IN_ATTRIB);
    if (wd < 0) {
        hn_log(HN_LOG_WARN, "reload watch: cannot watch %s: %s", dir, strerror(errno));
        return;
    }
    w_list = hn_xrealloc(w_list, (w_n + 1) * sizeof(*w_list));
    w_list[w_n].wd = wd;
    w_list[w_n].name = hn_xstrdup(pattern);
    w_n++;
}

/* A file ("app.so"), a directory (anything in it changes) or a glob, whose
 * directory part may have wildcards too ("*.html" in every "sites/NAME/"). Names
 * starting with a dot (editors' swap files) match only a pattern that
 * starts with one. */
static void
add_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        add_watch(path, "*");
        return;
    }
    char copy[PATH_MAX], copy2[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    snprintf(copy2, sizeof(copy2), "%s", path);
    const char *dir = dirname(copy);
    const char *name = basename(copy2);
    glob_t g;
    if (strpbrk(dir, "*?[") == NULL || glob(dir, GLOB_ONLYDIR, NULL, &g) != 0) {
        add_watch(dir, name);
        return;
    }
    for (size_t i = 0; i < g.gl_pathc; i++)
        add_watch(g.gl_pathv[i], name);
    globfree(&g);
}

/* "./lib/x.so:app" -> "./lib/x.so"; builtin apps have no file, and a
 * Python app's modules come from hn_spawn_check_app. */
static void
add_app(const char *spec)
{
    if (strncmp(spec, "builtin:", 8) == 0 || strpbrk(spec, "/") == NULL)
        return;
    char path[PATH_MAX];
    const char *slash = strrchr(spec, '/');
    const char *colon = strrchr(slash ? slash : spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    snprintf(path, sizeof(path), "%.*s", (int)len, spec);
    add_file(path);
}

int
hn_watcher_fd(void)
{
    return w_fd;
}

void
hn_watcher_stop(struct ev_loop *loop)
{
    if (w_fd >= 0) {
        ev_io_stop(loop, &w_io);
        ev_timer_stop(loop, &w_debounce);
        close(w_fd);
        w_fd = -1;
    }
    for (size_t i = 0; i < w_n; i++)
        free(w_list[i].name);
    free(w_list);
    w_list = NULL;
    w_n = 0;
}

int
hn_watcher_start(struct ev_loop *loop, const hn_config_t *cfg, const char *files,
                 void (*on_change)(void), hn_err_t *err)
{
    hn_watcher_stop(loop);
    if (!cfg->use_reloader && cfg->n_reload_paths == 0)
        return HN_OK;
    w_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w_fd < 0) {
        hn_err_set(err, errno, "use_reloader: inotify: %s", strerror(errno));
        return HN_ERR;
    }
    w_on_change = on_change;
    if (cfg->file)
        add_file(cfg->file);
    add_app(cfg->application_path);
    for (size_t i = 0; i < cfg->n_mount; i++)
        add_app(cfg->mount[i].app);
    for (size_t i = 0; i < cfg->n_reload_paths; i++)
        add_file(cfg->reload_paths[i]);
    for (const char *f = files, *end; f && *f; f = end + (*end != '\0')) {
        end = f + strcspn(f, "\n");
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%.*s", (int)(end - f), f);
        add_file(path);
    }
    ev_io_init(&w_io, on_inotify, w_fd, EV_READ);
    ev_io_start(loop, &w_io);
    ev_init(&w_debounce, on_debounce);
    return HN_OK;
}
