/*
 * app_load.c - see app_load.h. The shared object stays loaded for the life
 * of the worker: a new version is picked up by new workers, never swapped
 * under a live one (Kore's in-place reload is what this avoids).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/app_load.h"

#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "include/hornet/app.h"
#include "shared/cfg.h"

extern const hornet_app_t hn_builtin_hello, hn_builtin_echo, hn_builtin_static, hn_builtin_events;

static const struct {
    const char *name;
    const hornet_app_t *app;
} builtins[] = {
    {"hello", &hn_builtin_hello},
    {"echo", &hn_builtin_echo},
    {"static", &hn_builtin_static},
    {"events", &hn_builtin_events},
};

static const hornet_app_t *
load_builtin(const char *spec, const char *name, hn_err_t *err)
{
    for (size_t i = 0; i < HN_ARRAY_LEN(builtins); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return builtins[i].app;
    hn_err_set(err, 0, "NoAppError: no built-in application \"%s\" (expected builtin:hello, "
               "builtin:echo, builtin:static or builtin:events)", spec);
    return NULL;
}

/* PATH.so:SYMBOL splits at the last ':' after the last '/', so a path may
 * hold colons in its directories. */
static void
split_spec(const char *spec, char *path, size_t path_size, char *symbol, size_t sym_size)
{
    const char *slash = strrchr(spec, '/');
    const char *colon = strrchr(slash ? slash : spec, ':');
    size_t plen = colon ? (size_t)(colon - spec) : strlen(spec);
    /* a bare name would make dlopen search the library path, not the cwd */
    bool relative = memchr(spec, '/', plen) == NULL;
    snprintf(path, path_size, "%s%.*s", relative ? "./" : "", (int)plen, spec);
    snprintf(symbol, sym_size, "%s", colon && colon[1] ? colon + 1 : "app");
}

/* Hypercorn's MODULE[:ATTR]: a dotted Python name before the colon. A C
 * application is named by its file, with a '/' or as NAME.so. */
static bool
is_python_spec(const char *spec)
{
    size_t n = strcspn(spec, ":");
    if (n == 0 || (n > 3 && memcmp(spec + n - 3, ".so", 3) == 0))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)spec[i]) && spec[i] != '_' && spec[i] != '.')
            return false;
    return !isdigit((unsigned char)spec[0]) && spec[0] != '.';
}

typedef const hornet_app_t *(*python_factory_t)(const char *spec, const char *mode,
                                                const char *app_dir, char *err, size_t size);

/* hornet-python.so beside this binary (a build tree), else where make
 * install puts it. RTLD_GLOBAL: Python's extension modules find
 * libpython's symbols through it. */
static void *python_handle;

static python_factory_t
python_bridge(hn_err_t *err)
{
    static python_factory_t factory;
    if (factory)
        return factory;
    char exe[4096], path[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    snprintf(path, sizeof(path), "%.*s/hornet-python.so", slash ? (int)(slash - exe) : 1,
             slash ? exe : ".");
    if (access(path, R_OK) != 0)
        snprintf(path, sizeof(path), "%s/hornet-python.so", HN_PKGLIBDIR);
    if (access(path, R_OK) != 0) {
        hn_err_set(err, 0, "NoAppError: a Python application needs the Python bridge, and %s "
                   "is not there (install the hornet-python package, or build hornet with "
                   "python3-dev)", path);
        return NULL;
    }
    void *handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (handle == NULL) {
        hn_err_set(err, 0, "NoAppError: the Python bridge %s cannot be loaded: %s", path,
                   dlerror());
        return NULL;
    }
    factory = (python_factory_t)dlsym(handle, "hornet_python_app");
    if (factory == NULL)
        hn_err_set(err, 0, "NoAppError: %s is not hornet's Python bridge", path);
    python_handle = handle;
    return factory;
}

size_t
hn_app_watch_files(char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    if (python_handle == NULL)
        return 0;
    size_t (*files)(char *, size_t) =
        (size_t(*)(char *, size_t))dlsym(python_handle, "hornet_python_files");
    return files ? files(buf, size) : 0;
}

static const hornet_app_t *
load_python(const char *spec, int app_mode, const char *app_dir, hn_err_t *err)
{
    python_factory_t factory = python_bridge(err);
    if (factory == NULL)
        return NULL;
    static const char *const modes[] = {
        [HN_CFG_APP_AUTO] = "auto", [HN_CFG_APP_ASGI] = "asgi", [HN_CFG_APP_SIMPLE] = "simple"};
    char msg[sizeof(err->msg) - 32];
    const hornet_app_t *app = factory(spec, modes[app_mode], app_dir, msg, sizeof(msg));
    if (app == NULL)
        hn_err_set(err, 0, "NoAppError: %s: %s", spec, msg);
    return app;
}

const hornet_app_t *
hn_app_load(const char *spec, int app_mode, const char *app_dir, hn_err_t *err)
{
    static const char prefix[] = "builtin:";
    if (strncmp(spec, prefix, sizeof(prefix) - 1) == 0)
        return load_builtin(spec, spec + sizeof(prefix) - 1, err);
    if (is_python_spec(spec))
        return load_python(spec, app_mode, app_dir, err);

    char path[4096], symbol[256];
    split_spec(spec, path, sizeof(path), symbol, sizeof(symbol));
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        hn_err_set(err, 0, "NoAppError: cannot load %s: %s", path, dlerror());
        return NULL;
    }
    dlerror();
    const hornet_app_t *app = dlsym(handle, symbol);
    const char *derr = dlerror();
    if (app == NULL || derr) {
        hn_err_set(err, 0, "NoAppError: %s has no symbol \"%s\" (export a const hornet_app_t "
                   "named %s, or name another with %s:SYMBOL)", path, symbol, symbol, path);
        dlclose(handle);
        return NULL;
    }
    if (app->abi_version != HORNET_ABI_VERSION) {
        hn_err_set(err, 0, "NoAppError: %s:%s was built for ABI version %u, this hornet "
                   "speaks version %d (rebuild it against this hornet's hornet/app.h)",
                   path, symbol, app->abi_version, HORNET_ABI_VERSION);
        dlclose(handle);
        return NULL;
    }
    return app;
}

int
hn_app_mode(const hornet_app_t *app, int app_mode, const char *spec, int *is_simple, hn_err_t *err)
{
    bool has_events = app->on_request != NULL;
    bool has_handle = app->handle != NULL;
    bool simple;
    /* A Python application was held to app_mode as it loaded (a WSGI one
     * for simple); the bridge runs both kinds through events. */
    if (is_python_spec(spec))
        app_mode = HN_CFG_APP_ASGI;
    switch (app_mode) {
    case HN_CFG_APP_SIMPLE:
        simple = true;
        break;
    case HN_CFG_APP_ASGI:
        simple = false;
        break;
    default:
        /* what the object exports tells (Hypercorn's wrap_app / is_asgi) */
        simple = (app->flags & HORNET_APP_SIMPLE) || (has_handle && !has_events);
        break;
    }
    if (simple && !has_handle) {
        hn_err_set(err, 0, "NoAppError: %s: simple mode needs a handle callback", spec);
        return HN_ERR;
    }
    if (!simple && !has_events) {
        hn_err_set(err, 0, "NoAppError: %s: exports neither on_request nor handle", spec);
        return HN_ERR;
    }
    *is_simple = simple;
    return HN_OK;
}
