/*
 * test_static_encoding.c - unit tests for worker/apps/static_encoding.c:
 * the weights Accept-Encoding fields give br, gzip and identity (q-values,
 * "*", x-gzip, several fields, no field, malformed elements).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "worker/apps/static_encoding.h"

#include <stdio.h>
#include <string.h>

#include "tests/unit/tap.h"

/* "br gzip identity" weights from up to two Accept-Encoding values (NULL:
 * absent), among other headers. */
static const char *
weights(const char *first, const char *second)
{
    static char out[64];
    hornet_header_t h[4];
    size_t n = 0;
    int q[HN_STATIC_ENCODING_COUNT];

    h[n++] = (hornet_header_t){"accept", 6, "*/*", 3};
    if (first != NULL)
        h[n++] = (hornet_header_t){"accept-encoding", 15, first, strlen(first)};
    h[n++] = (hornet_header_t){"accept-language", 15, "br;q=0.9", 8};
    if (second != NULL)
        h[n++] = (hornet_header_t){"accept-encoding", 15, second, strlen(second)};
    hn_static_encoding_weigh(h, n, q);
    snprintf(out, sizeof(out), "%d %d %d", q[HN_STATIC_ENCODING_BR], q[HN_STATIC_ENCODING_GZIP],
             q[HN_STATIC_ENCODING_IDENTITY]);
    return out;
}

static void
test_plain(void)
{
    is_str(weights(NULL, NULL), "0 0 1000", "no field: the file as it is");
    is_str(weights("", NULL), "0 0 1000", "empty field: identity only");
    is_str(weights("gzip", NULL), "0 1000 1000", "gzip");
    is_str(weights("gzip, deflate, br", NULL), "1000 1000 1000", "a browser's");
    is_str(weights("GZIP,BR", NULL), "1000 1000 1000", "codings in any case");
    is_str(weights("x-gzip", NULL), "0 1000 1000", "x-gzip is gzip");
    is_str(weights("deflate, zstd", NULL), "0 0 1000", "others only");
}

static void
test_weights(void)
{
    is_str(weights("gzip;q=0", NULL), "0 0 1000", "q=0 refuses");
    is_str(weights("gzip;q=0.000, br", NULL), "1000 0 1000", "q=0.000 refuses");
    is_str(weights("gzip;q=0.5, br;q=0.25", NULL), "250 500 1000", "fractions");
    is_str(weights("gzip ; q=0.5 ,br;Q=1.0", NULL), "1000 500 1000", "OWS and Q");
    is_str(weights("br;q=1.000", NULL), "1000 0 1000", "q=1.000");
    is_str(weights("identity;q=0, gzip", NULL), "0 1000 0", "identity refused");
    is_str(weights("*", NULL), "1000 1000 1000", "* is everything");
    is_str(weights("*;q=0", NULL), "0 0 0", "*;q=0 is nothing, identity too");
    is_str(weights("*;q=0.3, gzip;q=0.8", NULL), "300 800 300", "named beats *");
    is_str(weights("br;q=0, *", NULL), "0 1000 1000", "br excluded from *");
    is_str(weights("gzip;q=0.7, gzip;q=0", NULL), "0 700 1000", "first mention counts");
}

static void
test_malformed(void)
{
    is_str(weights("gzip;q=2", NULL), "0 0 1000", "q above 1 is 0");
    is_str(weights("gzip;q=1.5", NULL), "0 0 1000", "q=1.5 is 0");
    is_str(weights("gzip;q=0.1234", NULL), "0 0 1000", "four decimals is 0");
    is_str(weights("gzip;q=abc", NULL), "0 0 1000", "q=abc is 0");
    is_str(weights("gzip;q", NULL), "0 0 1000", "q without a value: skipped");
    is_str(weights("gzip deflate, br", NULL), "1000 0 1000", "junk after a coding: skipped");
    is_str(weights(",, ,br,", NULL), "1000 0 1000", "empty elements");
    is_str(weights("gzip;level=9", NULL), "0 1000 1000", "other parameters ignored");
}

static void
test_several_fields(void)
{
    is_str(weights("gzip", "br"), "1000 1000 1000", "two fields are one list");
    is_str(weights("gzip;q=0", "gzip"), "0 0 1000", "first mention across fields");
}

int
main(void)
{
    test_plain();
    test_weights();
    test_malformed();
    test_several_fields();
    return tap_done();
}
