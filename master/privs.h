/*
 * privs.h - user and group for workers: resolved in the master at start (an
 * unknown user is a start-up error), applied in each worker after fork.
 */
#ifndef HN_MASTER_PRIVS_H
#define HN_MASTER_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

#include "shared/common.h"

typedef struct hn_privs {
    bool change_user, change_group;
    uid_t uid;
    gid_t gid;
    char user[64];
} hn_privs_t;

int hn_privs_resolve(hn_privs_t *p, const char *user, const char *group, hn_err_t *err);
int hn_privs_drop(const hn_privs_t *p, hn_err_t *err);

#endif
