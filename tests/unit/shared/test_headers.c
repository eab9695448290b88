/*
 * test_headers.c - unit tests for shared/headers.c: token and field-value
 * validation, suppress_body, reason phrases, HTTP date format and parse.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/headers.h"

#include <stdio.h>
#include <string.h>

#include "shared/common.h"

#include "tests/unit/tap.h"

static void test_names(void);
static void test_values(void);
static void test_suppress(void);
static void test_reason(void);
static void test_date_format(void);
static void test_date_parse(void);

#define NAME_OK(s) hn_headers_valid_name((s), sizeof(s) - 1)
#define VALUE_OK(s) hn_headers_valid_value((s), sizeof(s) - 1)

static void
test_names(void)
{
    ok(NAME_OK("content-type"), "plain name");
    ok(NAME_OK("X-Custom_Header.v2"), "letters, digits, '-', '_', '.'");
    ok(NAME_OK("!#$%&'*+-.^_`|~"), "every tchar symbol");
    ok(NAME_OK("GET"), "a method is a token");
    ok(!NAME_OK(""), "empty name");
    ok(!NAME_OK("bad name"), "space");
    ok(!NAME_OK("name:"), "colon");
    ok(!NAME_OK(" name"), "leading space");
    ok(!NAME_OK("a\tb"), "tab");
    ok(!NAME_OK("a\rb"), "CR");
    ok(!NAME_OK("a\nb"), "LF");
    ok(!NAME_OK("a\0b"), "NUL");
    ok(!NAME_OK("caf\xc3\xa9"), "obs-text is not a tchar");
    ok(!NAME_OK("a\"b"), "DQUOTE");
    ok(!NAME_OK("a(b)"), "parentheses");
    ok(!NAME_OK("a/b"), "slash");
    ok(!NAME_OK("{a}"), "braces");
    ok(!NAME_OK("a\x7f"), "DEL");
    ok(hn_headers_valid_name("host\r\n", 4), "len bounds the check");
}

static void
test_values(void)
{
    ok(VALUE_OK("text/html; charset=utf-8"), "plain value");
    ok(VALUE_OK(""), "empty value");
    ok(VALUE_OK("a b\tc"), "inner SP and HTAB");
    ok(VALUE_OK("x"), "one character");
    ok(VALUE_OK("attachment; filename=\"caf\xe9.txt\""), "obs-text allowed");
    ok(VALUE_OK("\x80\xff"), "only obs-text");
    ok(!VALUE_OK(" leading"), "leading space");
    ok(!VALUE_OK("\tleading"), "leading tab");
    ok(!VALUE_OK("trailing "), "trailing space");
    ok(!VALUE_OK("trailing\t"), "trailing tab");
    ok(!VALUE_OK(" "), "only a space");
    ok(!VALUE_OK("a\rb"), "CR");
    ok(!VALUE_OK("a\nb"), "LF");
    ok(!VALUE_OK("a\r\nSet-Cookie: x=1"), "response splitting attempt");
    ok(!VALUE_OK("a\0b"), "NUL");
    ok(!VALUE_OK("\n"), "LF alone");
    ok(hn_headers_valid_value("ok\r\n", 2), "len bounds the check");
}

static void
test_suppress(void)
{
    ok(hn_headers_suppress_body("HEAD", 4, 200), "HEAD 200");
    ok(hn_headers_suppress_body("HEAD", 4, 404), "HEAD 404");
    ok(!hn_headers_suppress_body("head", 4, 200), "methods are case-sensitive");
    ok(!hn_headers_suppress_body("HEADX", 5, 200), "HEADX is not HEAD");
    ok(!hn_headers_suppress_body("HEADX", 3, 200), "HEA is not HEAD");
    ok(!hn_headers_suppress_body("GET", 3, 200), "GET 200");
    ok(hn_headers_suppress_body("GET", 3, 100), "100");
    ok(hn_headers_suppress_body("GET", 3, 101), "101");
    ok(hn_headers_suppress_body("GET", 3, 103), "103");
    ok(hn_headers_suppress_body("GET", 3, 199), "199");
    ok(!hn_headers_suppress_body("GET", 3, 200), "200");
    ok(hn_headers_suppress_body("GET", 3, 204), "204");
    ok(!hn_headers_suppress_body("GET", 3, 205), "205 keeps its (empty) body framing");
    ok(hn_headers_suppress_body("POST", 4, 304), "304");
    ok(!hn_headers_suppress_body("GET", 3, 301), "301");
    ok(!hn_headers_suppress_body("GET", 3, 500), "500");
    ok(hn_headers_suppress_body(NULL, 0, 204), "NULL method");
    ok(!hn_headers_suppress_body(NULL, 0, 200), "NULL method, 200");
}

static void
test_reason(void)
{
    static const struct {
        int status;
        const char *reason;
    } cases[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {103, "Early Hints"},
        {200, "OK"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {304, "Not Modified"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {413, "Content Too Large"},
        {416, "Range Not Satisfiable"},
        {421, "Misdirected Request"},
        {422, "Unprocessable Content"},
        {425, "Too Early"},
        {426, "Upgrade Required"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {451, "Unavailable For Legal Reasons"},
        {500, "Internal Server Error"},
        {505, "HTTP Version Not Supported"},
        {511, "Network Authentication Required"},
        {0, "Unknown"},
        {299, "Unknown"},
        {418, "Unknown"},
        {999, "Unknown"},
        {-1, "Unknown"},
    };
    size_t i;

    for (i = 0; i < HN_ARRAY_LEN(cases); i++)
        is_str(hn_headers_reason(cases[i].status), cases[i].reason, "reason %d",
               cases[i].status);
}

static void
test_date_format(void)
{
    char buf[HN_HTTP_DATE_LEN + 1];

    is_str(hn_headers_format_date(784111777, buf), "Sun, 06 Nov 1994 08:49:37 GMT",
           "RFC 9110 example");
    is_int(strlen(buf), HN_HTTP_DATE_LEN, "29 characters");
    is_str(hn_headers_format_date(0, buf), "Thu, 01 Jan 1970 00:00:00 GMT", "epoch");
    is_str(hn_headers_format_date(951782400, buf), "Tue, 29 Feb 2000 00:00:00 GMT",
           "leap day 2000");
    is_str(hn_headers_format_date(2147483647, buf), "Tue, 19 Jan 2038 03:14:07 GMT",
           "2^31 - 1");
    is_str(hn_headers_format_date((time_t)4102444800LL, buf), "Fri, 01 Jan 2100 00:00:00 GMT",
           "past 2038");
    is_str(hn_headers_format_date((time_t)253402300800LL, buf), "Sat, 01 Jan 9999 00:00:00 GMT",
           "year 10000 clamps to four digits");
}

static void
test_date_parse(void)
{
    char buf[HN_HTTP_DATE_LEN + 1];
    time_t samples[] = {0, 1, 784111777, 951782400, 1700000000, 2147483647, 4102444799LL};
    size_t i;

#define PARSE(s) hn_headers_parse_date((s), strlen(s))
    is_int(PARSE("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777, "IMF-fixdate");
    is_int(PARSE("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777, "RFC 850");
    is_int(PARSE("Sun Nov  6 08:49:37 1994"), 784111777, "asctime");
    is_int(PARSE("Sun Nov 06 08:49:37 1994"), 784111777, "asctime with a zero-padded day");
    is_int(PARSE("Thursday, 01-Jan-04 00:00:00 GMT"), 1072915200, "RFC 850 year 04 is 2004");
    is_int(PARSE("Wed, 31 Dec 2014 23:59:60 GMT"), 1420070400, "leap second accepted");

    is_int(PARSE(""), -1, "empty");
    is_int(PARSE("yesterday"), -1, "junk");
    is_int(PARSE("Sun, 06 Nov 1994 08:49:37 UTC"), -1, "zone must be GMT");
    is_int(PARSE("Sun, 06 Nov 1994 08:49:37 GMT "), -1, "trailing space");
    is_int(PARSE("Sun, 06 Nov 1994 08:49:37"), -1, "missing zone");
    is_int(PARSE("Sun, 6 Nov 1994 08:49:37 GMT"), -1, "one-digit day");
    is_int(PARSE("sun, 06 nov 1994 08:49:37 GMT"), -1, "names are case-sensitive");
    is_int(PARSE("Sun, 06 Nox 1994 08:49:37 GMT"), -1, "bad month");
    is_int(PARSE("Sun, 32 Jan 1994 08:49:37 GMT"), -1, "day 32");
    is_int(PARSE("Sun, 00 Jan 1994 08:49:37 GMT"), -1, "day 0");
    is_int(PARSE("Sun, 30 Feb 1994 08:49:37 GMT"), -1, "Feb 30");
    is_int(PARSE("Sun, 29 Feb 1900 08:49:37 GMT"), -1, "1900 is not a leap year");
    is_int(PARSE("Sun, 06 Nov 1994 24:00:00 GMT"), -1, "hour 24");
    is_int(PARSE("Sun, 06 Nov 1994 08:60:00 GMT"), -1, "minute 60");
    is_int(PARSE("Sun, 06 Nov 1994 08:49:61 GMT"), -1, "second 61");
    is_int(PARSE("Sun, 06 Nov 94 08:49:37 GMT"), -1, "two-digit year in IMF-fixdate");
    is_int(PARSE("Sun Nov  6 08:49:37 1994 GMT"), -1, "asctime has no zone");
    is_int(hn_headers_parse_date("Sun, 06 Nov 1994 08:49:37 GMT", 20), -1, "len bounds the parse");
    is_int(hn_headers_parse_date(NULL, 0), -1, "NULL");
#undef PARSE

    for (i = 0; i < HN_ARRAY_LEN(samples); i++) {
        hn_headers_format_date(samples[i], buf);
        is_int(hn_headers_parse_date(buf, strlen(buf)), samples[i], "round trip %s", buf);
    }
}

static void
test_host(void)
{
    static const char *const good[] = {"example.com", "example.com:8080", "a-b.c_d~e", "",
                                       "127.0.0.1:80", "[::1]", "[::1]:443",
                                       "[::ffff:1.2.3.4]", "xn--bcher-kva.example", "%41b",
                                       "host:"};
    static const char *const bad[] = {"a b", "a/b", "a?b", "a#b", "user@host", "[::1",
                                      "[]", "[::1]x", "[g::1]", "host:8o", "host:80:90",
                                      "a\"b", "a<b"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok(hn_headers_valid_host(good[i], strlen(good[i])), "valid Host \"%s\"", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(!hn_headers_valid_host(bad[i], strlen(bad[i])), "invalid Host \"%s\"", bad[i]);
    ok(!hn_headers_valid_host("a\0b", 3), "NUL in a Host");
    ok(!hn_headers_valid_host("a\tb", 3), "tab in a Host");
}

int
main(void)
{
    test_host();
    test_names();
    test_values();
    test_suppress();
    test_reason();
    test_date_format();
    test_date_parse();
    return tap_done();
}
