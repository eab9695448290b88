/*
 * err.c - hn_err_set, the one way setup code words a failure into the
 * caller's hn_err_t (anet style); the caller decides whether to log it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/common.h"

#include <stdarg.h>
#include <stdio.h>

void
hn_err_set(hn_err_t *err, int code, const char *fmt, ...)
{
    va_list ap;

    /* Callers that don't care about the words may pass NULL. */
    if (err == NULL)
        return;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}
