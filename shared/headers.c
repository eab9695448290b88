/*
 * headers.c - HTTP header rules shared by requests and responses: token and
 * field-value validation, which responses carry no body, reason phrases, and
 * HTTP dates. Parsing header blocks is llhttp's and nghttp2's job; building
 * them is the protocols' (worker/h1_out.c, worker/h2.c).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/headers.h"

#include <ctype.h>
#include <string.h>

typedef struct cursor {
    const char *p, *end;
} cursor_t;

static bool is_tchar(unsigned char c);
static bool take_lit(cursor_t *c, const char *lit);
static bool take_digits(cursor_t *c, int n, int *out);
static bool take_name(cursor_t *c, const char *const *names, int count, int *index);
static bool take_time(cursor_t *c, struct tm *tm);
static bool parse_imf(cursor_t c, struct tm *tm);
static bool parse_rfc850(cursor_t c, struct tm *tm);
static bool parse_asctime(cursor_t c, struct tm *tm);
static bool valid_tm(const struct tm *tm);
static char *put_digits(char *p, const char *sep, int v, int n);

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wdays_long[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 * "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. A table: every
 * response header name goes through here. */
static const bool tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static bool
is_tchar(unsigned char c)
{
    return tchar[c];
}

bool
hn_headers_valid_name(const char *name, size_t len)
{
    size_t i;

    if (len == 0)
        return false;
    for (i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)name[i]))
            return false;
    }
    return true;
}

bool
hn_headers_valid_value(const char *value, size_t len)
{
    size_t i;

    if (len == 0)
        return true;
    /* Surrounding whitespace isn't part of a field value (RFC 9110 §5.5); an
     * app sending it would get it silently stripped by some peers and not others. */
    if (value[0] == ' ' || value[0] == '\t' || value[len - 1] == ' ' || value[len - 1] == '\t')
        return false;
    /* CR, LF and NUL split or truncate headers downstream (response splitting).
     * obs-text (0x80-0xff) stays legal: some apps send Latin-1 file names. */
    for (i = 0; i < len; i++) {
        char c = value[i];

        if (c == '\r' || c == '\n' || c == '\0')
            return false;
    }
    return true;
}

bool
hn_headers_valid_host(const char *v, size_t len)
{
    size_t i = 0;
    if (len && v[0] == '[') {
        /* IP-literal: hex digits, ':' and '.' (IPv4-embedded), up to ']' */
        for (i = 1; i < len && v[i] != ']'; i++)
            if (!isxdigit((unsigned char)v[i]) && v[i] != ':' && v[i] != '.')
                return false;
        if (i == len || i == 1)
            return false;
        i++;
    } else {
        /* reg-name: unreserved / pct-encoded / sub-delims */
        for (; i < len && v[i] != ':'; i++) {
            unsigned char c = (unsigned char)v[i];
            if (!isalnum(c) && (c == 0 || !strchr("-._~%!$&'()*+,;=", c)))
                return false;
        }
    }
    if (i == len)
        return true;
    if (v[i] != ':')
        return false;
    for (i++; i < len; i++)
        if (!isdigit((unsigned char)v[i]))
            return false;
    return true;
}

bool
hn_headers_suppress_body(const char *method, size_t method_len, int status)
{
    /* Methods are case-sensitive (RFC 9110 §9.1): "head" is not HEAD. */
    if (method != NULL && method_len == 4 && memcmp(method, "HEAD", 4) == 0)
        return true;
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

const char *
hn_headers_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 511: return "Network Authentication Required";
    default: return "Unknown";
    }
}

const char *
hn_headers_format_date(time_t t, char buf[HN_HTTP_DATE_LEN + 1])
{
    struct tm tm;
    int year;
    char *p = buf;

    /* Built by hand rather than with strftime, whose %a and %b follow the locale. */
    if (gmtime_r(&t, &tm) == NULL) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    /* The format has room for four year digits only. */
    year = tm.tm_year + 1900;
    year = year < 0 ? 0 : year > 9999 ? 9999 : year;

    memcpy(p, wdays[tm.tm_wday % 7], 3);
    p = put_digits(p + 3, ", ", tm.tm_mday, 2);
    *p++ = ' ';
    memcpy(p, months[tm.tm_mon % 12], 3);
    p = put_digits(p + 3, " ", year, 4);
    p = put_digits(p, " ", tm.tm_hour, 2);
    p = put_digits(p, ":", tm.tm_min, 2);
    p = put_digits(p, ":", tm.tm_sec, 2);
    memcpy(p, " GMT", 5);
    return buf;
}

static char *
put_digits(char *p, const char *sep, int v, int n)
{
    int i;

    while (*sep != '\0')
        *p++ = *sep++;
    for (i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

time_t
hn_headers_parse_date(const char *s, size_t len)
{
    cursor_t c = {s, s + len};
    struct tm tm;

    if (s == NULL)
        return (time_t)-1;
    memset(&tm, 0, sizeof(tm));
    /* RFC 9110 §5.6.7: senders use IMF-fixdate; recipients still accept the
     * RFC 850 and asctime forms. Tell them apart by what follows the day name. */
    if (!parse_imf(c, &tm) && !parse_rfc850(c, &tm) && !parse_asctime(c, &tm))
        return (time_t)-1;
    if (!valid_tm(&tm))
        return (time_t)-1;
    return timegm(&tm);
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool
parse_imf(cursor_t c, struct tm *tm)
{
    int wday, year;

    if (!take_name(&c, wdays, 7, &wday) || !take_lit(&c, ", ")
        || !take_digits(&c, 2, &tm->tm_mday) || !take_lit(&c, " ")
        || !take_name(&c, months, 12, &tm->tm_mon) || !take_lit(&c, " ")
        || !take_digits(&c, 4, &year) || !take_lit(&c, " ") || !take_time(&c, tm)
        || !take_lit(&c, " GMT") || c.p != c.end)
        return false;
    tm->tm_year = year - 1900;
    return true;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool
parse_rfc850(cursor_t c, struct tm *tm)
{
    int wday, yy, year, now_year;
    struct tm now_tm;
    time_t now = time(NULL);

    if (!take_name(&c, wdays_long, 7, &wday) || !take_lit(&c, ", ")
        || !take_digits(&c, 2, &tm->tm_mday) || !take_lit(&c, "-")
        || !take_name(&c, months, 12, &tm->tm_mon) || !take_lit(&c, "-")
        || !take_digits(&c, 2, &yy) || !take_lit(&c, " ") || !take_time(&c, tm)
        || !take_lit(&c, " GMT") || c.p != c.end)
        return false;
    /* A two-digit year more than 50 years ahead means the most recent past
     * year with those digits (RFC 9110 §5.6.7). */
    gmtime_r(&now, &now_tm);
    now_year = now_tm.tm_year + 1900;
    year = now_year / 100 * 100 + yy;
    if (year > now_year + 50)
        year -= 100;
    tm->tm_year = year - 1900;
    return true;
}

/* "Sun Nov  6 08:49:37 1994" */
static bool
parse_asctime(cursor_t c, struct tm *tm)
{
    int wday, year;

    if (!take_name(&c, wdays, 7, &wday) || !take_lit(&c, " ")
        || !take_name(&c, months, 12, &tm->tm_mon) || !take_lit(&c, " "))
        return false;
    /* The day is two characters: space-padded (" 6") per the grammar, zero-padded
     * ("06") in the wild. */
    if (c.end - c.p >= 2 && c.p[0] == ' ') {
        c.p++;
        if (!take_digits(&c, 1, &tm->tm_mday))
            return false;
    } else if (!take_digits(&c, 2, &tm->tm_mday)) {
        return false;
    }
    if (!take_lit(&c, " ") || !take_time(&c, tm) || !take_lit(&c, " ")
        || !take_digits(&c, 4, &year) || c.p != c.end)
        return false;
    tm->tm_year = year - 1900;
    return true;
}

static bool
take_lit(cursor_t *c, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

static bool
take_digits(cursor_t *c, int n, int *out)
{
    int v = 0, i;

    if (c->end - c->p < n)
        return false;
    for (i = 0; i < n; i++) {
        if (c->p[i] < '0' || c->p[i] > '9')
            return false;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return true;
}

static bool
take_name(cursor_t *c, const char *const *names, int count, int *index)
{
    int i;

    /* Case-sensitive: the grammar spells day and month names exactly. */
    for (i = 0; i < count; i++) {
        if (take_lit(c, names[i])) {
            *index = i;
            return true;
        }
    }
    return false;
}

/* "08:49:37" */
static bool
take_time(cursor_t *c, struct tm *tm)
{
    return take_digits(c, 2, &tm->tm_hour) && take_lit(c, ":") && take_digits(c, 2, &tm->tm_min)
           && take_lit(c, ":") && take_digits(c, 2, &tm->tm_sec);
}

static bool
valid_tm(const struct tm *tm)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = tm->tm_year + 1900;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    /* timegm would quietly turn Feb 30 into Mar 2; a date that isn't one is unparsable. */
    if (tm->tm_mday < 1 || tm->tm_mday > mdays[tm->tm_mon])
        return false;
    if (tm->tm_mon == 1 && tm->tm_mday == 29 && !leap)
        return false;
    /* 60 allows a leap second (RFC 5322 §3.3). */
    return tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 60;
}

const char *
hn_headers_date_now(void)
{
    /* time() is a vDSO call, the formatting is not */
    static char buf[HN_HTTP_DATE_LEN + 1];
    static time_t last;
    time_t t = time(NULL);
    if (t != last) {
        last = t;
        hn_headers_format_date(t, buf);
    }
    return buf;
}
