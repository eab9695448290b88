/*
 * logfiles.c - see logfiles.h. Opening is shared/log.c's (one function for
 * every log file); this file decides which files exist and when.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/logfiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cfg.h"
#include "shared/log.h"
#include "shared/mem.h"

static bool
is_file(const char *path)
{
    return path != NULL && strcmp(path, "-") != 0;
}

/* The access log of cfg: *fd and *path set, or left -1 and NULL when it is
 * off or stdout. */
static int
open_access(const hn_config_t *cfg, int *fd, char **path, hn_err_t *err)
{
    *fd = -1;
    *path = NULL;
    if (!is_file(cfg->accesslog))
        return HN_OK;
    *fd = hn_log_open_file("accesslog", cfg->accesslog, err);
    if (*fd < 0)
        return HN_ERR;
    *path = hn_xstrdup(cfg->accesslog);
    return HN_OK;
}

static void
close_access(int *fd, char **path)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    free(*path);
    *path = NULL;
}

int
hn_logfiles_open(hn_logfiles_t *lf, const hn_config_t *cfg, hn_err_t *err)
{
    *lf = HN_LOGFILES_NONE;
    hn_log_level = cfg->errorlog ? (hn_log_level_t)cfg->loglevel : HN_LOG_OFF;
    if (is_file(cfg->errorlog) && hn_log_open(cfg->errorlog, err) != HN_OK)
        return HN_ERR;
    return open_access(cfg, &lf->access_fd, &lf->access_path, err);
}

int
hn_logfiles_reload(hn_logfiles_t *lf, const hn_config_t *next, hn_err_t *err)
{
    int fd;
    char *path;
    if (open_access(next, &fd, &path, err) != HN_OK)
        return HN_ERR;
    lf->old_access_fd = lf->access_fd;
    lf->old_access_path = lf->access_path;
    lf->access_fd = fd;
    lf->access_path = path;
    return HN_OK;
}

void
hn_logfiles_reload_end(hn_logfiles_t *lf, bool kept_new)
{
    if (kept_new) {
        close_access(&lf->old_access_fd, &lf->old_access_path);
        return;
    }
    close_access(&lf->access_fd, &lf->access_path);
    lf->access_fd = lf->old_access_fd;
    lf->access_path = lf->old_access_path;
    lf->old_access_fd = -1;
    lf->old_access_path = NULL;
}

/* One more failure into the list in err. */
static void
add_failure(hn_err_t *err, const hn_err_t *one)
{
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n, "%s%s", n ? "; " : "", one->msg);
    err->code = one->code;
}

int
hn_logfiles_reopen(hn_logfiles_t *lf, hn_err_t *err)
{
    hn_err_t one = {0};
    err->msg[0] = '\0';
    if (hn_log_reopen(&one) != HN_OK)
        add_failure(err, &one);
    if (lf->access_fd >= 0 &&
        hn_log_reopen_file("accesslog", lf->access_path, lf->access_fd, &one) != HN_OK)
        add_failure(err, &one);
    if (lf->old_access_fd >= 0 &&
        hn_log_reopen_file("accesslog", lf->old_access_path, lf->old_access_fd, &one) != HN_OK)
        add_failure(err, &one);
    return err->msg[0] ? HN_ERR : HN_OK;
}

void
hn_logfiles_close(hn_logfiles_t *lf)
{
    close_access(&lf->access_fd, &lf->access_path);
    close_access(&lf->old_access_fd, &lf->old_access_path);
    hn_log_open(NULL, NULL);
}
