/*
 * ev_msg.h - what the event hub and the workers both need to read the
 * eventer's JSON: an event type or pattern as segments, the hub's address.
 * The messages themselves are described in hornet(8), EVENTS.
 */
#ifndef HN_SHARED_EV_MSG_H
#define HN_SHARED_EV_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "shared/common.h"

struct json_t;

/* A JSON array of strings as segments (borrowed from arr), at most cap of
 * them. HN_ERR when arr is not an array of strings or is longer. */
int hn_ev_segments(const struct json_t *arr, const char **seg, size_t cap, size_t *n);

/* The hub's listening address: an abstract unix socket named after the
 * master ("hornet-events.PID.NONCE"), so nothing appears in the file system
 * and a second server never meets this one's hub. */
typedef struct hn_ev_addr {
    struct sockaddr_un sun;
    socklen_t len;
} hn_ev_addr_t;

void hn_ev_addr_make(hn_ev_addr_t *a, long master_pid, unsigned long nonce);

/* Wall-clock seconds, as events carry them. */
double hn_ev_now(void);

#endif
