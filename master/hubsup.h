/*
 * hubsup.h - the master's side of the event hub (hub/hub.h): the socket the
 * workers connect to, bound once and kept for the master's life so that
 * connections made while the hub restarts wait in its backlog, and the hub
 * process, started when the configuration serves builtin:events, respawned
 * when it dies (with the workers' back-off), stopped last.
 */
#ifndef HN_MASTER_HUBSUP_H
#define HN_MASTER_HUBSUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "shared/common.h"
#include "shared/ev_msg.h"

struct ev_loop;
struct hn_spawn_ctx;

/* Bind the hub's abstract socket. HN_OK, or HN_ERR with err filled. */
int hn_hubsup_open(hn_err_t *err);
/* The socket's address and descriptor (-1 before hn_hubsup_open). */
const hn_ev_addr_t *hn_hubsup_addr(void);
int hn_hubsup_fd(void);
/* Start the hub when ctx's configuration wants one and none runs; stop it
 * when the configuration no longer does. */
void hn_hubsup_sync(struct ev_loop *loop, const struct hn_spawn_ctx *ctx);
/* For reap: true when pid was the hub (then respawned later unless
 * stopping). */
bool hn_hubsup_reaped(pid_t pid, int status, bool stopping);
/* The server stops: SIGTERM, a bounded wait, SIGKILL; closes the socket. */
void hn_hubsup_stop(void);

#endif
