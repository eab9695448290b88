/*
 * app_load.h - finding an application: `builtin:NAME` from the table of
 * built-in apps, `PATH.so[:SYMBOL]` (SYMBOL defaults to `app`) with dlopen,
 * or a Python application as Hypercorn names it, `MODULE[:ATTR]` (a dotted
 * module name: no '/', not ending in .so), through the Python bridge
 * (hornet-python.so, python/bridge.c), loaded on first use. Errors start
 * with "NoAppError: " (Hypercorn's name) and say what failed: the path,
 * dlerror's text, the missing symbol, the ABI version, the Python error.
 */
#ifndef HN_WORKER_APP_LOAD_H
#define HN_WORKER_APP_LOAD_H

#include "shared/common.h"

struct hornet_app;

/* app_mode: hn_cfg_app_mode_t, which a Python application is checked
 * against as it loads; app_dir: first on its module path (NULL: the
 * working directory). */
const struct hornet_app *hn_app_load(const char *spec, int app_mode, const char *app_dir,
                                     hn_err_t *err);

/* For use_reloader, after loading: the source files of the Python
 * applications' own modules, one a line, into buf (NUL-terminated);
 * nothing without a Python application. Returns the length. */
size_t hn_app_watch_files(char *buf, size_t size);

/* Simple mode or event mode, given app_mode (hn_cfg_app_mode_t). An app in
 * the wrong mode for what it exports is an error. */
int hn_app_mode(const struct hornet_app *app, int app_mode, const char *spec, int *is_simple,
                hn_err_t *err);

#endif
