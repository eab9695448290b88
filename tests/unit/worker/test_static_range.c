/*
 * test_static_range.c - unit tests for worker/apps/static_range.c: Range
 * values read against a file size (single, several, suffixes, empty list
 * elements, unsatisfiable, malformed, too many), sorting and merging, and
 * the multipart/byteranges layout and boundary.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "worker/apps/static_range.h"

#include <stdio.h>
#include <string.h>

#include "tests/unit/tap.h"

/* The ranges parsed from value against size as "a-b a-b", or the result's
 * name when it is not OK. */
static const char *
parsed(const char *value, uint64_t size)
{
    static char out[512];
    hn_static_range_t r[HN_STATIC_RANGE_MAX];
    size_t n = 99, i, k = 0;

    switch (hn_static_range_parse(value, strlen(value), size, r, &n)) {
    case HN_STATIC_RANGE_NONE:
        return n == 0 ? "none" : "none with n set";
    case HN_STATIC_RANGE_UNSATISFIABLE:
        return n == 0 ? "unsatisfiable" : "unsatisfiable with n set";
    case HN_STATIC_RANGE_OK:
        break;
    }
    out[0] = '\0';
    for (i = 0; i < n && k < sizeof(out) - 48; i++)
        k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%llu-%llu", i ? " " : "",
                              (unsigned long long)r[i].start,
                              (unsigned long long)(r[i].start + r[i].len - 1));
    return out;
}

/* How many ranges parsed() listed. */
static long long
count_ranges(const char *list)
{
    long long n = strchr(list, '-') != NULL;

    for (; *list != '\0'; list++)
        n += *list == ' ';
    return n;
}

static void
test_single(void)
{
    is_str(parsed("bytes=0-4", 20), "0-4", "first five bytes");
    is_str(parsed("bytes=6-", 20), "6-19", "open end");
    is_str(parsed("bytes=-6", 20), "14-19", "suffix");
    is_str(parsed("bytes=-1000", 20), "0-19", "suffix longer than the file");
    is_str(parsed("bytes=10-1000", 20), "10-19", "end clamped");
    is_str(parsed("BYTES=0-0", 20), "0-0", "unit in any case");
    is_str(parsed("bytes= 1-2 ", 20), "1-2", "OWS around the spec");
    is_str(parsed("bytes=0-99999999999999999999999", 20), "0-19", "end saturates");
}

static void
test_several(void)
{
    is_str(parsed("bytes=0-1,5-9", 20), "0-1 5-9", "two");
    is_str(parsed("bytes=0-1, 5-9 ,\t12-", 20), "0-1 5-9 12-19", "three with OWS");
    is_str(parsed("bytes=5-9,0-1", 20), "0-1 5-9", "sorted");
    is_str(parsed("bytes=0-5,3-9", 20), "0-9", "overlapping merged");
    is_str(parsed("bytes=0-4,5-9", 20), "0-9", "adjacent merged");
    is_str(parsed("bytes=0-1,0-1,0-1", 20), "0-1", "repeated merged");
    is_str(parsed("bytes=2-3,0-19,4-5", 20), "0-19", "one covering all");
    is_str(parsed("bytes=-5,0-1", 20), "0-1 15-19", "suffix among others");
    is_str(parsed("bytes=0-1,,5-6,", 20), "0-1 5-6", "empty list elements");
    is_str(parsed("bytes=0-1,30-40", 20), "0-1", "unsatisfiable one dropped");
    is_str(parsed("bytes=-0,3-4", 20), "3-4", "-0 dropped");
}

static void
test_unsatisfiable(void)
{
    is_str(parsed("bytes=20-", 20), "unsatisfiable", "start at the size");
    is_str(parsed("bytes=100-200", 20), "unsatisfiable", "past the end");
    is_str(parsed("bytes=-0", 20), "unsatisfiable", "-0");
    is_str(parsed("bytes=0-", 0), "unsatisfiable", "empty file");
    is_str(parsed("bytes=-5", 0), "unsatisfiable", "suffix of an empty file");
    is_str(parsed("bytes=30-,40-50", 20), "unsatisfiable", "none of several");
}

static void
test_ignored(void)
{
    static const char *const bad[] = {
        "items=0-1", "bytes",     "bytes=",        "bytes=,",       "bytes=-",
        "bytes=5-2", "bytes=x-y", "bytes=0-1,x",   "bytes=0-1;2-3", "bytes=0-1 2-3",
        "bytes 0-1", "bytes=1",   "bytes=0-1,5-2",
    };
    char many[256];
    size_t i, k = 0;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        is_str(parsed(bad[i], 20), "none", "malformed: \"%s\"", bad[i]);

    k = (size_t)snprintf(many, sizeof(many), "bytes=0-0");
    for (i = 1; i < HN_STATIC_RANGE_MAX; i++)
        k += (size_t)snprintf(many + k, sizeof(many) - k, ",%zu-%zu", 2 * i, 2 * i);
    is_int(count_ranges(parsed(many, 100)), HN_STATIC_RANGE_MAX, "%d ranges are served",
           HN_STATIC_RANGE_MAX);
    snprintf(many + k, sizeof(many) - k, ",90-90");
    is_str(parsed(many, 100), "none", "%d ranges are the whole file", HN_STATIC_RANGE_MAX + 1);
    /* the limit counts specs as sent, before merging and dropping */
    is_str(parsed("bytes=0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0", 100),
           "none", "17 copies of one range");
    is_str(parsed("bytes=0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0", 100),
           "0-0", "16 copies of one range: merged into one");
}

static void
test_layout(void)
{
    char boundary[HN_STATIC_RANGE_BOUNDARY_LEN + 1], other[HN_STATIC_RANGE_BOUNDARY_LEN + 1];
    char buf[256];
    hn_static_range_t r = {5, 5};
    size_t len, i;
    bool hex = true;

    hn_static_range_boundary(boundary);
    hn_static_range_boundary(other);
    is_int((long long)strlen(boundary), HN_STATIC_RANGE_BOUNDARY_LEN, "boundary length");
    for (i = 0; boundary[i] != '\0'; i++)
        hex = hex && strchr("0123456789abcdef", boundary[i]) != NULL;
    ok(hex, "boundary is hex: %s", boundary);
    ok(strcmp(boundary, other) != 0, "two boundaries differ");

    len = hn_static_range_part_head(NULL, 0, "XYZ", "text/plain", &r, 20, true);
    is_int(
        (long long)hn_static_range_part_head(buf, sizeof(buf), "XYZ", "text/plain", &r, 20, true),
        (long long)len, "measured length is the written length");
    is_str(buf, "--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-9/20\r\n\r\n",
           "first part head");
    hn_static_range_part_head(buf, sizeof(buf), "XYZ", "text/plain", &r, 20, false);
    is_str(buf, "\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-9/20\r\n\r\n",
           "later part head ends the previous part");
    is_int((long long)hn_static_range_tail(buf, sizeof(buf), "XYZ"), 11, "tail length");
    is_str(buf, "\r\n--XYZ--\r\n", "tail");
}

int
main(void)
{
    test_single();
    test_several();
    test_unsatisfiable();
    test_ignored();
    test_layout();
    return tap_done();
}
