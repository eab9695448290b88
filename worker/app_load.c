/*
 * app_load.c - finding the application named by application_path. For now
 * only the built-in apps ("builtin:NAME"); loading shared objects through the
 * public ABI comes with include/hornet/app.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/app.h"

#include <string.h>

static const hn_app_t *const builtins[] = {&hn_app_hello, &hn_app_echo, &hn_app_static};

const hn_app_t *
hn_app_find(const char *spec, hn_err_t *err)
{
    static const char prefix[] = "builtin:";
    if (strncmp(spec, prefix, sizeof(prefix) - 1) == 0) {
        const char *name = spec + sizeof(prefix) - 1;
        for (size_t i = 0; i < HN_ARRAY_LEN(builtins); i++)
            if (strcmp(builtins[i]->name, name) == 0)
                return builtins[i];
        hn_err_set(err, 0, "no built-in application \"%s\" (expected builtin:hello, "
                   "builtin:echo or builtin:static)", spec);
        return NULL;
    }
    hn_err_set(err, 0, "cannot load application \"%s\": expected builtin:NAME "
               "(builtin:hello, builtin:echo, builtin:static)", spec);
    return NULL;
}
