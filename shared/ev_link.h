/*
 * ev_link.h - one stream socket between a worker and the event hub, carrying
 * JSON messages, each a 4-byte length (host order: both ends are this
 * machine) and the compact JSON text. Both ends are non-blocking on their own
 * libev loop: a send never waits; what the peer has not read yet is queued,
 * up to a bound beyond which the link is closed (the hub must never block
 * on a worker that stopped reading, nor a worker on the hub).
 */
#ifndef HN_SHARED_EV_LINK_H
#define HN_SHARED_EV_LINK_H

#include <stddef.h>

struct ev_loop;
struct json_t;

/* Largest message either way: a register or notify batch of events. */
#define HN_EV_LINK_MAX_MSG (16u << 20)
/* Bytes queued for a peer that does not read, beyond which the link closes. */
#define HN_EV_LINK_MAX_QUEUED (64u << 20)

typedef struct hn_ev_link hn_ev_link_t;

/* msg is the peer's message, borrowed for the call. */
typedef void (*hn_ev_link_msg_fn)(hn_ev_link_t *l, struct json_t *msg, void *ud);
/* The link is dead (EOF, error, a malformed frame, too much queued): called
 * once; the owner then calls hn_ev_link_free, from the callback or later. */
typedef void (*hn_ev_link_closed_fn)(hn_ev_link_t *l, const char *why, void *ud);

/* Takes fd (non-blocking is set here) and starts reading. */
hn_ev_link_t *hn_ev_link_new(struct ev_loop *loop, int fd, hn_ev_link_msg_fn on_msg,
                             hn_ev_link_closed_fn on_closed, void *ud);
/* Queue one message; HN_OK, or HN_ERR when the link is (now) dead. */
int hn_ev_link_send(hn_ev_link_t *l, const struct json_t *msg);
/* The same with the JSON text already encoded (a notification encoded once
 * for every worker). */
int hn_ev_link_send_text(hn_ev_link_t *l, const char *json, size_t len);
/* Closes the socket; safe inside the link's own callbacks. */
void hn_ev_link_free(hn_ev_link_t *l);

#endif
