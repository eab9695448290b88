/*
 * test_units.c - shared/units.c: every unit, the edges of each number form,
 * and that formatting reads back to the same value.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/units.h"

#include "shared/common.h"
#include "tests/unit/tap.h"

static void
test_durations(void)
{
    static const struct {
        const char *text;
        double want;
    } good[] = {
        {"0", 0},     {"5", 5},   {"2.5", 2.5},    {"500ms", 0.5}, {"1.5ms", 0.0015},
        {"30s", 30},  {"1m", 60}, {"1.5m", 90},    {"2h", 7200},   {"1d", 86400},
        {".5s", 0.5}, {"5.", 5},  {"500 ms", 0.5}, {"100ms", 0.1}, {"007s", 7},
    };
    static const char *const bad[] = {
        "",   "s",   "ms",   "-1",  "-1s", "+1s",   " 5", "5 ",    "5x",   "5sec",
        "5S", "1e3", "0x10", "inf", "nan", "1.2.3", ".",  "5 s s", "5m5s",
    };
    double v;

    for (size_t i = 0; i < HN_ARRAY_LEN(good); i++) {
        v = -1;
        is_int(hn_units_parse_duration(good[i].text, &v), HN_OK, "duration \"%s\" parses",
               good[i].text);
        ok(v == good[i].want, "duration \"%s\" = %g (got %g)", good[i].text, good[i].want, v);
    }
    for (size_t i = 0; i < HN_ARRAY_LEN(bad); i++)
        is_int(hn_units_parse_duration(bad[i], &v), HN_ERR, "duration \"%s\" is refused", bad[i]);
    is_int(hn_units_parse_duration(NULL, &v), HN_ERR, "NULL duration is refused");

    /* 400 digits overflow a double to inf */
    char huge[420];
    memset(huge, '9', 400);
    huge[400] = 'd';
    huge[401] = '\0';
    is_int(hn_units_parse_duration(huge, &v), HN_ERR, "a duration overflowing a double is refused");
}

static void
test_sizes(void)
{
    static const struct {
        const char *text;
        uint64_t want;
    } good[] = {
        {"0", 0},
        {"1", 1},
        {"16384", 16384},
        {"1k", 1024},
        {"1K", 1024},
        {"1KiB", 1024},
        {"16KiB", 16384},
        {"1m", 1048576},
        {"16M", 16777216},
        {"16MiB", 16777216},
        {"2g", 2147483648ULL},
        {"2G", 2147483648ULL},
        {"2GiB", 2147483648ULL},
        {"64 KiB", 65536},
        {"18446744073709551615", UINT64_MAX},
        {"17179869183GiB", 17179869183ULL << 30},
    };
    static const char *const bad[] = {
        "",
        "k",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.5M",
        "1KB",
        "1kib",
        "1T",
        "1b",
        "0x10",
        "1e3",
        "18446744073709551616",
        "17179869184GiB",
        "99999999999999999999999",
    };
    uint64_t v;

    for (size_t i = 0; i < HN_ARRAY_LEN(good); i++) {
        v = 12345;
        is_int(hn_units_parse_size(good[i].text, &v), HN_OK, "size \"%s\" parses", good[i].text);
        ok(v == good[i].want, "size \"%s\" = %llu (got %llu)", good[i].text,
           (unsigned long long)good[i].want, (unsigned long long)v);
    }
    for (size_t i = 0; i < HN_ARRAY_LEN(bad); i++)
        is_int(hn_units_parse_size(bad[i], &v), HN_ERR, "size \"%s\" is refused", bad[i]);
    is_int(hn_units_parse_size(NULL, &v), HN_ERR, "NULL size is refused");
}

static void
test_format(void)
{
    static const struct {
        double seconds;
        const char *want;
    } durations[] = {
        {0, "0s"},      {5, "5s"},           {0.5, "500ms"}, {60, "1m"},
        {90, "90s"},    {3600, "1h"},        {86400, "1d"},  {1.5, "1500ms"},
        {0.1, "100ms"}, {0.0015, "0.0015s"}, {172800, "2d"}, {5400, "90m"},
    };
    static const struct {
        uint64_t bytes;
        const char *want;
    } sizes[] = {
        {0, "0"},
        {1, "1"},
        {1000, "1000"},
        {1024, "1KiB"},
        {16384, "16KiB"},
        {16777216, "16MiB"},
        {1ULL << 30, "1GiB"},
        {1025, "1025"},
        {UINT64_MAX, "18446744073709551615"},
    };
    char buf[64];

    for (size_t i = 0; i < HN_ARRAY_LEN(durations); i++) {
        double back = -1;
        is_str(hn_units_format_duration(durations[i].seconds, buf, sizeof(buf)), durations[i].want,
               "format duration %g", durations[i].seconds);
        ok(hn_units_parse_duration(buf, &back) == HN_OK && back == durations[i].seconds,
           "duration %s reads back", buf);
    }
    for (size_t i = 0; i < HN_ARRAY_LEN(sizes); i++) {
        uint64_t back = 1;
        is_str(hn_units_format_size(sizes[i].bytes, buf, sizeof(buf)), sizes[i].want,
               "format size %llu", (unsigned long long)sizes[i].bytes);
        ok(hn_units_parse_size(buf, &back) == HN_OK && back == sizes[i].bytes, "size %s reads back",
           buf);
    }

    /* Odd values still round-trip exactly. */
    static const double odd[] = {1.0 / 3, 0.123456789, 1e-7, 12345.678, 2.5e9};
    for (size_t i = 0; i < HN_ARRAY_LEN(odd); i++) {
        double back = -1;
        hn_units_format_duration(odd[i], buf, sizeof(buf));
        ok(hn_units_parse_duration(buf, &back) == HN_OK && back == odd[i],
           "duration %.17g formats as %s and reads back", odd[i], buf);
    }
}

int
main(void)
{
    test_durations();
    test_sizes();
    test_format();
    return tap_done();
}
