/*
 * h2.h - HTTP/2 (RFC 9113) with nghttp2: each stream becomes an
 * hn_request_t with the same scope and events as an HTTP/1.1 request
 * (http_version "2"), bodies flow both ways under HTTP/2 flow control and
 * the app's backpressure, and the connection is guarded against the known
 * HTTP/2 floods (see h2.c).
 */
#ifndef HN_WORKER_H2_H
#define HN_WORKER_H2_H

#include <stdbool.h>

#include "worker/proto.h"

struct hn_config;

struct hn_request;

hn_protocol_t *hn_h2_new(hn_transport_t *t, const struct hn_config *cfg, bool is_draining);
/* HTTP/1.1 asked to switch (Upgrade: h2c) and got its 101: HTTP/2 starts
 * with the client's HTTP2-Settings and answers req as stream 1. */
hn_protocol_t *hn_h2_upgrade(hn_transport_t *t, const struct hn_config *cfg, bool is_draining,
                             const char *settings, size_t settings_len,
                             const struct hn_request *req);

#endif
