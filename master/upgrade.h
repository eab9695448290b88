/*
 * upgrade.h - a new hornet binary without dropping a connection (SIGUSR2,
 * `hornet -s upgrade`), nginx's way: the master executes the binary it was
 * started from again, with the same arguments; the new master inherits
 * every listening socket (each reuseport slot's too) through the
 * environment, as from systemd, reads its configuration, starts its
 * workers beside the old ones on the same sockets, and says "ready" over a
 * pipe; only then does the old master drain its workers and exit. Here: the
 * exec and the pipe; the old master's bookkeeping is master.c's.
 *
 * The new master is a grandchild (the child between them exits at once), so
 * it never looks like a worker of the old one (pidfile.h) and is no zombie
 * of it when it fails. The pipe carries lines: "pid N" (the new master's,
 * from the child between), "error TEXT" (the exec failed, or the new master
 * could not start and says why), "ready N"; its end, with no "ready" before,
 * means the new master is gone.
 */
#ifndef HN_MASTER_UPGRADE_H
#define HN_MASTER_UPGRADE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/common.h"

struct hn_listeners;

/* main: the command line to run again (argv is borrowed until exit). A
 * relative program path is made absolute now, against the start-up
 * directory; a bare name is looked up in PATH when upgrading. */
void hn_upgrade_set_argv(char **argv);
/* The program an upgrade executes, for messages. */
const char *hn_upgrade_program(void);

/* Old master: start the new one with ls and the current generation. Returns
 * the read end of the pipe (non-blocking, close-on-exec), or -1 with err
 * set (nothing started). */
int hn_upgrade_start(const struct hn_listeners *ls, uint32_t generation, hn_err_t *err);

/* New master, at start-up: whether this process was started by an upgrade
 * (and then takes the pipe's write end and the generation the old master
 * had); the listening sockets it inherited, as a set hn_listeners_derive
 * can keep from (`inherited`: release it with
 * hn_listeners_close_keeping(inherited, what was kept)); the environment
 * is cleaned, so workers and a later upgrade do not see it. HN_OK (also
 * when not upgrading: nothing inherited), or HN_ERR with err set. */
int hn_upgrade_inherit(struct hn_listeners *inherited, uint32_t *generation, hn_err_t *err);
bool hn_upgrade_is_child(void);
/* The write end, for spawn.c to close in workers; -1 when not upgrading or
 * once told. */
int hn_upgrade_fd(void);
/* New master: every worker serves ("ready"), or it cannot start ("error
 * TEXT"). Either closes the pipe; a no-op when not upgrading. */
void hn_upgrade_ready(void);
void hn_upgrade_failed(const char *why);

#endif
