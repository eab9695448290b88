/*
 * hub.h - the event hub process: one per server, a child of the master like
 * a worker (respawned when it dies, kept across reloads), holding the one
 * ordered stream of events every worker shares. Workers connect to it over
 * an abstract unix socket the master bound (ev_msg.h), so connections made
 * while it restarts wait in the backlog. It assigns ids and timestamps,
 * keeps the retained events for queries, and sends each registered batch to
 * every worker, encoded once; each worker matches it against its own
 * clients' subscriptions. Memory only for now: a restart starts a new
 * session with no past events.
 */
#ifndef HN_HUB_HUB_H
#define HN_HUB_HUB_H

#include <stdbool.h>

#include "shared/common.h"

struct hn_config;

/* Serve on listen_fd (taken) until SIGTERM, SIGINT or SIGQUIT; returns the
 * exit status. Called in the forked child, privileges already dropped. */
int hn_hub_main(const struct hn_config *cfg, int listen_fd);

/* Whether cfg serves builtin:events anywhere, so a hub must run. */
bool hn_hub_wanted(const struct hn_config *cfg);

#endif
