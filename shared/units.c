/*
 * units.c - the one parser and formatter for durations and sizes. The config
 * file, the CLI and the defaults in cfg_options.c all go through here, so
 * "1h" cannot mean different things in different places (h2o's "year" bug).
 *
 * Numbers are scanned by hand rather than with strtod/strtoull alone: those
 * accept leading blanks, signs, hex, exponents, "inf" and "nan", none of which
 * belong in a config value.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/units.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"

static size_t scan_decimal(const char *s, bool allow_fraction);
static bool is_whole(double x);
static const char *skip_blanks(const char *s);

typedef struct unit {
    const char *name;
    double seconds;
} unit_t;

/* Largest first: hn_units_format_duration picks the first that divides. */
static const unit_t duration_units[] = {
    {"d", 86400.0}, {"h", 3600.0}, {"m", 60.0}, {"s", 1.0}, {"ms", 0.001},
};

typedef struct size_unit {
    const char *name;
    unsigned shift;
} size_unit_t;

static const size_unit_t size_units[] = {
    {"k", 10},   {"K", 10}, {"KiB", 10}, {"m", 20},   {"M", 20},
    {"MiB", 20}, {"g", 30}, {"G", 30},   {"GiB", 30},
};

/* Length of the leading [0-9]+ (or, with fractions, [0-9]*\.?[0-9]* holding at
 * least one digit) of s; 0 if there is no number. */
static size_t
scan_decimal(const char *s, bool allow_fraction)
{
    size_t i = 0, digits = 0;

    while (s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (allow_fraction && s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
    }
    return digits > 0 ? i : 0;
}

/* Below 2^53 every whole double converts exactly; no libm needed. */
static bool
is_whole(double x)
{
    return x >= 0 && x < 9e15 && x == (double)(int64_t)x;
}

/* "500 ms" is as clear as "500ms": accept blanks between number and unit,
 * but not trailing ones (they would hide a missing unit). */
static const char *
skip_blanks(const char *s)
{
    const char *p = s;

    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0' ? s : p;
}

int
hn_units_parse_duration(const char *text, double *seconds)
{
    size_t n;
    const char *unit;
    char num[64];
    double value, mult = 1.0;
    bool is_ms = false;

    if (text == NULL)
        return HN_ERR;
    n = scan_decimal(text, true);
    if (n == 0 || n >= sizeof(num))
        return HN_ERR;
    memcpy(num, text, n);
    num[n] = '\0';
    value = strtod(num, NULL);

    unit = skip_blanks(text + n);
    if (*unit == '\0') {
        mult = 1.0;
    } else if (strcmp(unit, "ms") == 0) {
        is_ms = true;
    } else {
        size_t i;
        for (i = 0; i < HN_ARRAY_LEN(duration_units); i++)
            if (strcmp(unit, duration_units[i].name) == 0)
                break;
        if (i == HN_ARRAY_LEN(duration_units))
            return HN_ERR;
        mult = duration_units[i].seconds;
    }
    /* Divide for milliseconds: 100 / 1000.0 is the double nearest 0.1, while
     * 100 * 0.001 is not, and --dump-config must read back bit for bit. */
    value = is_ms ? value / 1000.0 : value * mult;
    if (!isfinite(value))
        return HN_ERR;
    *seconds = value;
    return HN_OK;
}

int
hn_units_parse_size(const char *text, uint64_t *bytes)
{
    uint64_t value = 0;
    size_t n, i;
    const char *unit;

    if (text == NULL)
        return HN_ERR;
    n = scan_decimal(text, false);
    if (n == 0)
        return HN_ERR;
    for (i = 0; i < n; i++) {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, (uint64_t)(text[i] - '0'), &value))
            return HN_ERR;
    }

    unit = skip_blanks(text + n);
    if (*unit != '\0') {
        for (i = 0; i < HN_ARRAY_LEN(size_units); i++)
            if (strcmp(unit, size_units[i].name) == 0)
                break;
        if (i == HN_ARRAY_LEN(size_units))
            return HN_ERR;
        if (value > (UINT64_MAX >> size_units[i].shift))
            return HN_ERR;
        value <<= size_units[i].shift;
    }
    *bytes = value;
    return HN_OK;
}

const char *
hn_units_format_duration(double seconds, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if (seconds == 0.0 || !isfinite(seconds)) {
        snprintf(buf, size, "%gs", seconds);
        return buf;
    }
    /* Whole days, hours, minutes or seconds print as such. */
    for (size_t i = 0; i < HN_ARRAY_LEN(duration_units) - 1; i++) {
        double n = seconds / duration_units[i].seconds;
        if (is_whole(n) && n * duration_units[i].seconds == seconds) {
            snprintf(buf, size, "%.0f%s", n, duration_units[i].name);
            return buf;
        }
    }
    double ms = seconds * 1000.0;
    if (is_whole(ms) && ms / 1000.0 == seconds) {
        snprintf(buf, size, "%.0fms", ms);
        return buf;
    }
    /* Anything else: the shortest decimal that reads back as the same double. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*f", prec, seconds);
        double back;
        if (hn_units_parse_duration(buf, &back) == HN_OK && back == seconds)
            break;
    }
    size_t len = strlen(buf);
    if (len + 1 < size) {
        buf[len] = 's';
        buf[len + 1] = '\0';
    }
    return buf;
}

const char *
hn_units_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const size_unit_t units[] = {{"GiB", 30}, {"MiB", 20}, {"KiB", 10}};

    if (size == 0)
        return buf;
    for (size_t i = 0; i < HN_ARRAY_LEN(units); i++) {
        uint64_t unit = (uint64_t)1 << units[i].shift;
        if (bytes != 0 && bytes % unit == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(bytes / unit), units[i].name);
            return buf;
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)bytes);
    return buf;
}
