/*
 * privs.c - see privs.h. Group first, then supplementary groups, then the
 * user: once the uid changes the process may no longer change groups.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool
parse_id(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0')
        return false;
    *out = v;
    return true;
}

int
hn_privs_resolve(hn_privs_t *p, const char *user, const char *group, hn_err_t *err)
{
    memset(p, 0, sizeof(*p));
    unsigned long id;
    if (user) {
        struct passwd *pw = parse_id(user, &id) ? getpwuid((uid_t)id) : getpwnam(user);
        if (pw == NULL && !parse_id(user, &id)) {
            hn_err_set(err, ENOENT, "user: no such user \"%s\"", user);
            return HN_ERR;
        }
        p->change_user = true;
        p->uid = pw ? pw->pw_uid : (uid_t)id;
        p->gid = pw ? pw->pw_gid : (gid_t)id;
        p->change_group = pw != NULL;
        snprintf(p->user, sizeof(p->user), "%s", pw ? pw->pw_name : user);
    }
    if (group) {
        struct group *gr = parse_id(group, &id) ? getgrgid((gid_t)id) : getgrnam(group);
        if (gr == NULL && !parse_id(group, &id)) {
            hn_err_set(err, ENOENT, "group: no such group \"%s\"", group);
            return HN_ERR;
        }
        p->change_group = true;
        p->gid = gr ? gr->gr_gid : (gid_t)id;
    }
    if ((p->change_user || p->change_group) && geteuid() != 0) {
        if ((!p->change_user || p->uid == geteuid()) && (!p->change_group || p->gid == getegid())) {
            p->change_user = p->change_group = false; /* already who we should be */
            return HN_OK;
        }
        hn_err_set(err, EPERM, "user/group: changing identity needs root (running as uid %d)",
                   (int)geteuid());
        return HN_ERR;
    }
    return HN_OK;
}

int
hn_privs_drop(const hn_privs_t *p, hn_err_t *err)
{
    if (p->change_group) {
        if (p->change_user ? initgroups(p->user, p->gid) < 0 : setgroups(0, NULL) < 0) {
            hn_err_set(err, errno, "setgroups: %s", strerror(errno));
            return HN_ERR;
        }
        if (setgid(p->gid) < 0) {
            hn_err_set(err, errno, "setgid(%d): %s", (int)p->gid, strerror(errno));
            return HN_ERR;
        }
    }
    if (p->change_user && setuid(p->uid) < 0) {
        hn_err_set(err, errno, "setuid(%d): %s", (int)p->uid, strerror(errno));
        return HN_ERR;
    }
    return HN_OK;
}
