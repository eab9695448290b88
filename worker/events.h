/*
 * events.h - a worker's link to the event hub (hub/hub.h) and its local
 * subscribers. The hub sends every registered batch to every worker; here
 * each event is matched against the local subscriptions once (a
 * subscription tree, shared/ev_pattern.h) and each subscriber gets the
 * events it matched, as one batch, in the hub's order. Requests (register,
 * query) go out in order on the one link and their answers come back in
 * that order. When the hub goes away the pending requests fail, and the
 * link is made again; subscriptions are local, so they survive it.
 */
#ifndef HN_WORKER_EVENTS_H
#define HN_WORKER_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "shared/common.h"

struct ev_loop;
struct json_t;
struct hn_ev_addr;

typedef struct hn_events_sub hn_events_sub_t;

/* events: a JSON array of event objects (borrowed) matching the
 * subscription, in the hub's order. */
typedef void (*hn_events_notify_fn)(void *ud, struct json_t *events);
/* res: the hub's answer (borrowed), or NULL when the hub went away first. */
typedef void (*hn_events_reply_fn)(void *ud, struct json_t *res);
/* The status to tell subscribers: "operational" while the hub is linked,
 * "standby" while it is not and once the worker drains. */
typedef void (*hn_events_status_fn)(void *ud, const char *status);

/* The hub's address, from the master; NULL: no hub (builtin:events refuses). */
void hn_events_setup(struct ev_loop *loop, const struct hn_ev_addr *addr);
bool hn_events_available(void);

/* patterns: a JSON array of valid patterns (checked by the caller), copied.
 * server_id < 0: any server. */
hn_events_sub_t *hn_events_subscribe(const struct json_t *patterns, int64_t server_id,
                                     hn_events_notify_fn notify, hn_events_status_fn status,
                                     void *ud);
/* The status now: what a new client is told at init. */
const char *hn_events_status(void);
/* The worker drains: every subscriber hears "standby" (before the drain's
 * WebSocket Close), and the status stays so. */
void hn_events_drain(void);
void hn_events_unsubscribe(hn_events_sub_t *sub);

/* Send msg (an object with "t"; a "rid" is added) to the hub; cb(ud, res)
 * follows exactly once (ud owns what it needs to tell a gone client).
 * HN_ERR when there is no link to the hub (cb is not called). */
int hn_events_request(struct json_t *msg, hn_events_reply_fn cb, void *ud);

#endif
