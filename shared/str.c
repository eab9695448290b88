/*
 * str.c - hn_str_t comparisons and the small byte-level string helpers HTTP
 * parsing needs (case folding, header token lists, percent-decoding).
 * Header-specific rules (tokens, field values, dates) live in headers.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/str.h"

#include <string.h>

static int hex_value(char c);

/* ASCII only, on purpose: HTTP is case-insensitive in ASCII, and the C
 * locale functions would make the result depend on setlocale(). */
static inline unsigned char
fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

bool
hn_str_eq(hn_str_t a, hn_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool
hn_mem_case_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i;

    if (alen != blen)
        return false;
    for (i = 0; i < alen; i++) {
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return false;
    }
    return true;
}

bool
hn_str_case_eq(hn_str_t a, const char *lit)
{
    return hn_mem_case_eq(a.ptr, a.len, lit, strlen(lit));
}

void
hn_str_lower(char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        s[i] = (char)fold((unsigned char)s[i]);
}

bool
hn_str_list_next(const char **pos, const char *end, hn_str_t *elem)
{
    const char *p = *pos;

    /* RFC 9110 §5.6.1: elements are separated by commas with optional
     * whitespace, and empty elements are allowed and ignored. */
    while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
        p++;
    if (p == end) {
        *pos = p;
        return false;
    }
    const char *start = p;
    while (p < end && *p != ',')
        p++;
    const char *e = p;
    while (e > start && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *elem = (hn_str_t){start, (size_t)(e - start)};
    *pos = p;
    return true;
}

bool
hn_str_list_has_token(const char *list, size_t len, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = list;
    hn_str_t e;

    while (hn_str_list_next(&p, list + len, &e))
        if (hn_mem_case_eq(e.ptr, e.len, token, tlen))
            return true;
    return false;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long
hn_str_percent_decode(char *dst, const char *src, size_t len)
{
    size_t i = 0, n = 0;

    /* dst never runs ahead of src (n <= i), so decoding in place is safe. */
    while (i < len) {
        if (src[i] == '%') {
            int hi, lo;

            if (len - i < 3)
                return -1;
            hi = hex_value(src[i + 1]);
            lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            dst[n++] = (char)(hi << 4 | lo);
            i += 3;
        } else {
            dst[n++] = src[i++];
        }
    }
    return (long)n;
}
