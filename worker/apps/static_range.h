/*
 * static_range.h - byte ranges for builtin:static (RFC 9110 §14): a Range
 * header read into sorted, coalesced ranges of a file, and the layout of a
 * multipart/byteranges body (§14.6) for several of them. Sending is
 * static.c's: the part heads go out between zero-copy file ranges.
 */
#ifndef HN_WORKER_APPS_STATIC_RANGE_H
#define HN_WORKER_APPS_STATIC_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* More range-specs than this in one header and the whole file is sent
 * (nginx's max_ranges): each part costs a head, a queued write and an fd. */
#define HN_STATIC_RANGE_MAX 16

/* A boundary: hex digits, random per response. */
#define HN_STATIC_RANGE_BOUNDARY_LEN 32

typedef struct hn_static_range {
    uint64_t start, len; /* len >= 1 */
} hn_static_range_t;

typedef enum hn_static_range_result {
    HN_STATIC_RANGE_NONE,          /* no usable Range: serve the whole file (200) */
    HN_STATIC_RANGE_OK,            /* *n >= 1 satisfiable ranges (206) */
    HN_STATIC_RANGE_UNSATISFIABLE, /* 416 */
} hn_static_range_result_t;

/* Read a Range field value against a file of size bytes. A value that is
 * not "bytes=", is malformed anywhere, or holds more than
 * HN_STATIC_RANGE_MAX range-specs is ignored (NONE; RFC 9110 §14.2 allows
 * it). Unsatisfiable specs are dropped; if none is left, UNSATISFIABLE.
 * What remains is sorted and overlapping or adjacent ranges are merged
 * (§14.3 allows both), so out[0..*n) never shares or repeats a byte. */
hn_static_range_result_t hn_static_range_parse(const char *value, size_t len, uint64_t size,
                                               hn_static_range_t out[HN_STATIC_RANGE_MAX],
                                               size_t *n);

/* A fresh boundary in out (NUL-terminated). Unpredictable, so that a file
 * cannot be crafted to contain the delimiter of the response it is sent in. */
void hn_static_range_boundary(char out[HN_STATIC_RANGE_BOUNDARY_LEN + 1]);

/* The bytes that open part r of a multipart/byteranges body of a file of
 * size bytes and media type type: the delimiter (after a CRLF ending the
 * previous part unless first), Content-Type and Content-Range. snprintf's
 * contract: writes at most cap bytes with the NUL, returns the length. */
size_t hn_static_range_part_head(char *buf, size_t cap, const char *boundary, const char *type,
                                 const hn_static_range_t *r, uint64_t size, bool first);

/* The bytes that close the body: CRLF, the close delimiter, CRLF. */
size_t hn_static_range_tail(char *buf, size_t cap, const char *boundary);

#endif
