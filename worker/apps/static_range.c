/*
 * static_range.c - byte ranges for builtin:static (RFC 9110 §14): the Range
 * header read into sorted, coalesced ranges, and the layout of the
 * multipart/byteranges body that carries several. Whether a Range applies
 * at all (GET only, If-Range) and sending the parts are static.c's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "worker/apps/static_range.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "shared/common.h"
#include "shared/str.h"

static bool parse_spec(hn_str_t spec, uint64_t size, hn_static_range_t *out, bool *satisfiable);
static bool parse_u64(const char **p, const char *end, uint64_t *out);
static size_t coalesce(hn_static_range_t *r, size_t n);

hn_static_range_result_t
hn_static_range_parse(const char *value, size_t len, uint64_t size,
                      hn_static_range_t out[HN_STATIC_RANGE_MAX], size_t *n)
{
    const char *p = value, *end = value + len;
    size_t specs = 0, kept = 0;
    hn_str_t spec;

    *n = 0;
    if (len < 6 || !hn_mem_case_eq(value, 6, "bytes=", 6))
        return HN_STATIC_RANGE_NONE;
    p += 6;
    /* 1#range-spec: empty list elements are skipped (§5.6.1). */
    while (hn_str_list_next(&p, end, &spec)) {
        hn_static_range_t r;
        bool satisfiable;

        if (!parse_spec(spec, size, &r, &satisfiable) || ++specs > HN_STATIC_RANGE_MAX)
            return HN_STATIC_RANGE_NONE;
        if (satisfiable)
            out[kept++] = r;
    }
    if (specs == 0)
        return HN_STATIC_RANGE_NONE;
    if (kept == 0)
        return HN_STATIC_RANGE_UNSATISFIABLE;
    *n = coalesce(out, kept);
    return HN_STATIC_RANGE_OK;
}

/* "a-b", "a-" or "-n", the whole of spec. False if malformed; else
 * *satisfiable says whether it names a byte of the file, and *out which
 * (clamped to it). */
static bool
parse_spec(hn_str_t spec, uint64_t size, hn_static_range_t *out, bool *satisfiable)
{
    const char *p = spec.ptr, *end = spec.ptr + spec.len;
    uint64_t a = 0, b = 0;
    bool has_a = parse_u64(&p, end, &a), has_b;

    if (p == end || *p != '-')
        return false;
    p++;
    has_b = parse_u64(&p, end, &b);
    if (p != end || (!has_a && !has_b) || (has_a && has_b && b < a))
        return false;
    if (!has_a) {
        /* "-n": the last n bytes; "-0" asks for nothing. */
        *satisfiable = b > 0 && size > 0;
        out->len = HN_MIN(b, size);
        out->start = size - out->len;
        return true;
    }
    *satisfiable = a < size;
    if (!has_b || b >= size)
        b = size - 1;
    out->start = a;
    out->len = b - a + 1;
    return true;
}

static bool
parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');

        if (v > (UINT64_MAX - d) / 10)
            v = UINT64_MAX; /* saturate: past any file size is all that matters */
        else
            v = v * 10 + d;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* Sort by start (at most HN_STATIC_RANGE_MAX: insertion sort), then merge
 * ranges that overlap or touch. Returns how many are left. Overlaps are how
 * a client asks for the same bytes many times over; merged, they cost
 * nothing. */
static size_t
coalesce(hn_static_range_t *r, size_t n)
{
    size_t i, j, k = 0;

    for (i = 1; i < n; i++) {
        hn_static_range_t x = r[i];

        for (j = i; j > 0 && r[j - 1].start > x.start; j--)
            r[j] = r[j - 1];
        r[j] = x;
    }
    for (i = 1; i < n; i++) {
        uint64_t end = r[k].start + r[k].len;

        if (r[i].start <= end) {
            if (r[i].start + r[i].len > end)
                r[k].len = r[i].start + r[i].len - r[k].start;
        } else {
            r[++k] = r[i];
        }
    }
    return k + 1;
}

void
hn_static_range_boundary(char out[HN_STATIC_RANGE_BOUNDARY_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    static uint64_t fallback;
    unsigned char raw[HN_STATIC_RANGE_BOUNDARY_LEN / 2];
    size_t i;

    if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t)sizeof(raw)) {
        /* Only before the kernel's pool is ready, at early boot: unique
         * still, if guessable. */
        uint64_t v[2] = {(uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32), ++fallback};

        memcpy(raw, v, sizeof(raw));
    }
    for (i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[HN_STATIC_RANGE_BOUNDARY_LEN] = '\0';
}

size_t
hn_static_range_part_head(char *buf, size_t cap, const char *boundary, const char *type,
                          const hn_static_range_t *r, uint64_t size, bool first)
{
    int k = snprintf(buf, cap,
                     "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64
                     "/%" PRIu64 "\r\n\r\n",
                     first ? "" : "\r\n", boundary, type, r->start, r->start + r->len - 1, size);

    return k > 0 ? (size_t)k : 0;
}

size_t
hn_static_range_tail(char *buf, size_t cap, const char *boundary)
{
    int k = snprintf(buf, cap, "\r\n--%s--\r\n", boundary);

    return k > 0 ? (size_t)k : 0;
}
