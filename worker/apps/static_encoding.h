/*
 * static_encoding.h - Accept-Encoding for builtin:static (RFC 9110 §12.5.3):
 * how much a request wants each content coding hornet may find stored
 * beside a file (file.br, file.gz) or the file as it is. Choosing among the
 * siblings that exist is static.c's.
 */
#ifndef HN_WORKER_APPS_STATIC_ENCODING_H
#define HN_WORKER_APPS_STATIC_ENCODING_H

#include <stddef.h>

#include "include/hornet/app.h"

/* In the order of preference between equal weights: the smallest first. */
typedef enum hn_static_encoding {
    HN_STATIC_ENCODING_BR,
    HN_STATIC_ENCODING_GZIP,
    HN_STATIC_ENCODING_IDENTITY,
    HN_STATIC_ENCODING_COUNT,
} hn_static_encoding_t;

/* q[coding]: its weight in thousandths (q=0.5 is 500), from every
 * Accept-Encoding field among headers (request headers, lower-case names).
 * A coding the fields do not name gets the weight of "*" if they have one;
 * otherwise 0, except identity, which is acceptable unless excluded. So a
 * request without the field gets the file as it is (1000 for identity, 0
 * for the others), as from nginx. "x-gzip" is gzip (§12.5.3); a malformed
 * weight is 0, which errs towards the file as it is. */
void hn_static_encoding_weigh(const hornet_header_t *headers, size_t n,
                              int q[HN_STATIC_ENCODING_COUNT]);

#endif
