/*
 * app_load.h - finding an application: `builtin:NAME` from the table of
 * built-in apps, or `PATH.so[:SYMBOL]` (SYMBOL defaults to `app`) with
 * dlopen. Errors start with "NoAppError: " (Hypercorn's name) and say what
 * failed: the path, dlerror's text, the missing symbol, the ABI version.
 */
#ifndef HN_WORKER_APP_LOAD_H
#define HN_WORKER_APP_LOAD_H

#include "shared/common.h"

struct hornet_app;

const struct hornet_app *hn_app_load(const char *spec, hn_err_t *err);

/* Simple mode or event mode, given app_mode (hn_cfg_app_mode_t). An app in
 * the wrong mode for what it exports is an error. */
int hn_app_mode(const struct hornet_app *app, int app_mode, const char *spec, int *is_simple,
                hn_err_t *err);

#endif
