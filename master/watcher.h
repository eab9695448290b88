/*
 * watcher.h - reload when watched files change (use_reloader, reload.paths):
 * inotify on the directories of the config file, the applications' shared
 * objects and the configured paths or globs,
 * so editors that save by rename and `make` rewriting a .so are seen, with a
 * debounce so a burst of changes makes one reload.
 */
#ifndef HN_MASTER_WATCHER_H
#define HN_MASTER_WATCHER_H

#include "shared/common.h"

struct ev_loop;
struct hn_config;

/* (Re)start watching what cfg names; on_change runs once per burst. */
/* files: more to watch, one a line (the Python applications' modules that
 * hn_spawn_check_app found), or NULL. */
int hn_watcher_start(struct ev_loop *loop, const struct hn_config *cfg, const char *files,
                     void (*on_change)(void), hn_err_t *err);
void hn_watcher_stop(struct ev_loop *loop);
/* The inotify descriptor, or -1: a forked worker closes it. */
int hn_watcher_fd(void);

#endif
