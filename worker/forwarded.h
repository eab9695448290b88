/*
 * forwarded.h - the client, scheme and host a trusted proxy forwarded
 * (Hypercorn's ProxyFixMiddleware, with gunicorn's forwarded_allow_ips):
 * X-Forwarded-For/-Proto/-Host (proxy_headers: legacy) or RFC 7239
 * Forwarded (modern), read proxy_trusted_hops values from the right, and
 * only from peers in forwarded_allow_ips (unix-socket peers are local and
 * trusted). The scope and the access log then show the real client.
 */
#ifndef HN_WORKER_FORWARDED_H
#define HN_WORKER_FORWARDED_H

#include <stdbool.h>

#include "worker/request.h"

struct hn_config;

/* Rewrite r's client, scheme and Host from the forwarding headers, when
 * proxy_headers is on and the peer is trusted. Call once the connection's
 * addresses are in r. */
void hn_forwarded_apply(hn_request_t *r, const struct hn_config *cfg);

/* Is the address text (an IP) in forwarded_allow_ips ("*", IPs, CIDRs,
 * comma-separated within an entry)? */
bool hn_forwarded_trusted(const struct hn_config *cfg, const char *ip);

#endif
