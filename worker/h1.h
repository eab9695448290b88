/*
 * h1.h - HTTP/1.1 (and 1.0) over llhttp: request heads into hn_request_t,
 * bodies to the app, responses framed with Content-Length or chunked,
 * keep-alive, pipelining (one request at a time, in order), 100-continue,
 * protocol errors answered with the right status before closing.
 */
#ifndef HN_WORKER_H1_H
#define HN_WORKER_H1_H

#include <stdbool.h>

#include "worker/proto.h"

struct hn_config;

hn_protocol_t *hn_h1_new(hn_transport_t *t, const struct hn_config *cfg, bool is_draining);

#endif
