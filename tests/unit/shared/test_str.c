/*
 * test_str.c - unit tests for shared/str.c: slice comparison, case folding,
 * header token lists and percent-decoding.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/str.h"

#include <stdio.h>
#include <string.h>

#include "tests/unit/tap.h"

static void test_eq(void);
static void test_lower(void);
static void test_list(void);
static void test_decode(void);

static void
test_eq(void)
{
    hn_str_t a = HN_STR_LIT("Content-Length");
    hn_str_t empty = {NULL, 0};

    is_int(a.len, 14, "HN_STR_LIT length excludes the NUL");
    ok(hn_str_eq(a, HN_STR_LIT("Content-Length")), "equal slices");
    ok(!hn_str_eq(a, HN_STR_LIT("content-length")), "hn_str_eq is case-sensitive");
    ok(!hn_str_eq(a, HN_STR_LIT("Content-Lengt")), "prefix is not equal");
    ok(hn_str_eq(empty, HN_STR_LIT("")), "empty slices are equal, even with a NULL ptr");

    ok(hn_str_case_eq(a, "content-length"), "case-insensitive equal");
    ok(hn_str_case_eq(a, "CONTENT-LENGTH"), "upper case");
    ok(!hn_str_case_eq(a, "content-length "), "trailing space differs");
    ok(!hn_str_case_eq(HN_STR_LIT("\xc4"), "\xe4"), "non-ASCII bytes are not folded");
    ok(!hn_str_case_eq(HN_STR_LIT("@"), "`"), "'@' and '`' are 0x20 apart but not letters");

    ok(hn_mem_case_eq("KeeP", 4, "keep", 4), "hn_mem_case_eq");
    ok(!hn_mem_case_eq("keep", 4, "keep-alive", 10), "different lengths");
    ok(hn_mem_case_eq("a\0b", 3, "A\0B", 3), "embedded NUL compared as a byte");
}

static void
test_lower(void)
{
    char s[] = "X-Forwarded-FOR: Ab\xc4Z[";

    hn_str_lower(s, strlen(s));
    is_str(s, "x-forwarded-for: ab\xc4z[", "only ASCII letters are lowered");
    hn_str_lower(s, 0);
    is_str(s, "x-forwarded-for: ab\xc4z[", "zero length is a no-op");
}

static void
test_list(void)
{
    const char *v = "keep-alive, Upgrade";

    ok(hn_str_list_has_token(v, strlen(v), "upgrade"), "second element, other case");
    ok(hn_str_list_has_token(v, strlen(v), "KEEP-ALIVE"), "first element");
    ok(!hn_str_list_has_token(v, strlen(v), "close"), "absent token");
    ok(!hn_str_list_has_token(v, strlen(v), "keep"), "prefix of an element is no match");
    ok(!hn_str_list_has_token(v, strlen(v), "grade"), "suffix of an element is no match");
    ok(hn_str_list_has_token(" ,\t, close \t,", 13, "close"), "OWS and empty elements");
    ok(!hn_str_list_has_token("", 0, "close"), "empty list");
    ok(!hn_str_list_has_token(",,,", 3, "close"), "only commas");
    ok(hn_str_list_has_token("upgrade, h2c", 7, "upgrade"), "len bounds the list");
    ok(!hn_str_list_has_token("upgrade, h2c", 7, "h2c"), "bytes past len are ignored");
    ok(!hn_str_list_has_token("up grade", 8, "up"), "inner space is part of the element");
}

static void
test_decode(void)
{
    char buf[64];
    char inplace[] = "/a%20b/%E2%82%ac";
    long n;

    n = hn_str_percent_decode(buf, "/plain/path", 11);
    is_mem(buf, n, "/plain/path", 11, "no escapes");

    n = hn_str_percent_decode(buf, "/a%2fb%2F%41", 12);
    is_mem(buf, n, "/a/b/A", 6, "escapes in both cases");

    n = hn_str_percent_decode(buf, "a+b", 3);
    is_mem(buf, n, "a+b", 3, "'+' stays '+'");

    n = hn_str_percent_decode(buf, "%00x", 4);
    is_mem(buf, n, "\0x", 2, "%%00 decodes to NUL (callers must check)");

    n = hn_str_percent_decode(buf, "%2e%2E/%2e%2e", 13);
    is_mem(buf, n, "../..", 5, "encoded dots");

    n = hn_str_percent_decode(inplace, inplace, strlen(inplace));
    is_mem(inplace, n, "/a b/\xe2\x82\xac", 8, "in place");

    n = hn_str_percent_decode(buf, "", 0);
    is_int(n, 0, "empty input");

    is_int(hn_str_percent_decode(buf, "%zz", 3), -1, "%%zz rejected");
    is_int(hn_str_percent_decode(buf, "/a%4", 4), -1, "truncated %%4 rejected");
    is_int(hn_str_percent_decode(buf, "/a%", 3), -1, "lone %% rejected");
    is_int(hn_str_percent_decode(buf, "%4g", 3), -1, "second digit not hex");
    is_int(hn_str_percent_decode(buf, "%g4", 3), -1, "first digit not hex");
    is_int(hn_str_percent_decode(buf, "%41%", 4), -1, "trailing %% after a good escape");
    is_int(hn_str_percent_decode(buf, "%4142", 2), -1, "len cuts the escape short");
}

int
main(void)
{
    test_eq();
    test_lower();
    test_list();
    test_decode();
    return tap_done();
}
