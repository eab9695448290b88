/*
 * test_access_log.c - worker/access_log.c: the default line, every atom,
 * escaping, malformed formats, buffering and flushing, reopen, and lines too
 * long for the buffer. Requests are built by hand; the log is a temp file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "worker/access_log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/cfg.h"
#include "shared/log.h"
#include "tests/unit/tap.h"
#include "worker/request.h"

static char dir[] = "/tmp/hn_test_access_log.XXXXXX";
static char path[256];
static char content[256 * 1024];

/* 2026-11-23 12:00:00 UTC */
#define NOW_SEC 1795435200.0

static hn_header_t req_headers[] = {
    {"host", 4, "localhost:8000", 14},
    {"user-agent", 10, "curl/7.88.1", 11},
    {"referer", 7, "http://example.com/", 19},
    {"x-multi", 7, "first", 5},
    {"x-multi", 7, "second", 6},
    {"x-evil", 6, "a\"b\nc\\d\x7f", 8},
};

static hn_header_t resp_headers[] = {
    {"Content-Type", 12, "text/plain", 10},
    {"Content-Length", 14, "13", 2},
    {"X-Resp", 6, "yes", 3},
};

static hn_request_t
make_request(void)
{
    hn_request_t r;

    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.method_len = 3;
    r.raw_path = "/a%20b";
    r.raw_path_len = 6;
    r.path = "/a b";
    r.path_len = 4;
    r.query = "x=1&y=2";
    r.query_len = 7;
    r.http_version = "1.1";
    r.scheme = "http";
    r.headers = req_headers;
    r.n_headers = HN_ARRAY_LEN(req_headers);
    r.client = "127.0.0.1:51234";
    r.server = "127.0.0.1:8000";
    r.content_length = -1;
    r.status = 200;
    r.resp_content_length = 13;
    r.resp_body_bytes = 13;
    r.resp_headers = resp_headers;
    r.resp_n_headers = HN_ARRAY_LEN(resp_headers);
    r.resp_state = HN_RESP_DONE;
    r.start_time = NOW_SEC - 2.25;
    return r;
}

static size_t
read_log(const char *p)
{
    int fd = open(p, O_RDONLY);
    ssize_t n = 0, got;

    content[0] = '\0';
    if (fd < 0)
        return 0;
    while ((got = read(fd, content + n, sizeof(content) - 1 - (size_t)n)) > 0)
        n += got;
    close(fd);
    content[n] = '\0';
    return (size_t)n;
}

/* What open_log configures besides the format. */
static hn_cfg_access_log_escape_t cur_escape = HN_CFG_ESCAPE_DEFAULT;
static bool cur_prefix = true;

static int
open_log(const char *fmt)
{
    hn_config_t cfg;
    hn_err_t err = {0};

    memset(&cfg, 0, sizeof(cfg));
    cfg.accesslog = path;
    cfg.access_log_format = (char *)fmt;
    cfg.access_log_escape = cur_escape;
    cfg.access_log_prefix = cur_prefix;
    /* the master's part: it opens the file */
    return hn_access_log_open(&cfg, hn_log_open_file("accesslog", path, &err), &err);
}

/* Log r once with fmt into a fresh file; return the line without the
 * handler prefix and the newline (static). */
static const char *
line_for(const char *fmt, const hn_request_t *r, double now)
{
    static char line[64 * 1024];
    const char *body;

    unlink(path);
    if (open_log(fmt) != HN_OK)
        return "(open failed)";
    hn_access_log_request(r, now);
    hn_access_log_close();
    read_log(path);
    body = strstr(content, "[INFO] ");
    if (body == NULL)
        return "(no prefix)";
    body += 7;
    snprintf(line, sizeof(line), "%s", body);
    line[strcspn(line, "\n")] = '\0';
    return line;
}

static const char *
atom(const char *name, const hn_request_t *r)
{
    char fmt[128];

    snprintf(fmt, sizeof(fmt), "%%(%s)s", name);
    return line_for(fmt, r, NOW_SEC);
}

static void
test_default_format(void)
{
    hn_request_t r = make_request();
    char want[512];
    hn_err_t err = {0};
    hn_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.accesslog = path;
    cfg.access_log_prefix = true;
    unlink(path);
    /* access_log_format NULL: Hypercorn's default */
    is_int(hn_access_log_open(&cfg, hn_log_open_file("accesslog", path, &err), &err), HN_OK,
           "open with the default format");
    ok(hn_access_log_enabled(), "enabled");
    r.raw_path = "/";
    r.raw_path_len = 1;
    r.query_len = 0;
    hn_access_log_request(&r, NOW_SEC + 0.5);
    hn_access_log_close();
    ok(!hn_access_log_enabled(), "disabled after close");
    read_log(path);
    snprintf(want, sizeof(want),
             "[2026-11-23 12:00:00 +0000] [%ld] [INFO] 127.0.0.1:51234 - - "
             "[23/Nov/2026:12:00:00 +0000] \"GET / 1.1\" 200 13 \"http://example.com/\" "
             "\"curl/7.88.1\"\n",
             (long)getpid());
    is_str(content, want, "default line, with Hypercorn's handler prefix");

    /* the same through the config's default string */
    is_str(line_for("%(h)s %(l)s %(l)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"", &r,
                    NOW_SEC),
           "127.0.0.1:51234 - - [23/Nov/2026:12:00:00 +0000] \"GET / 1.1\" 200 13 "
           "\"http://example.com/\" \"curl/7.88.1\"",
           "explicit default format");
}

static void
test_atoms(void)
{
    hn_request_t r = make_request();
    char want[64];

    is_str(atom("h", &r), "127.0.0.1:51234", "h");
    is_str(atom("l", &r), "-", "l");
    is_str(atom("t", &r), "[23/Nov/2026:12:00:00 +0000]", "t");
    is_str(atom("r", &r), "GET /a%20b 1.1", "r: raw path, no query");
    is_str(atom("R", &r), "GET /a%20b?x=1&y=2 1.1", "R: with query");
    is_str(atom("m", &r), "GET", "m");
    is_str(atom("U", &r), "/a%20b", "U");
    is_str(atom("Uq", &r), "/a%20b?x=1&y=2", "Uq");
    is_str(atom("q", &r), "x=1&y=2", "q");
    is_str(atom("H", &r), "1.1", "H is the ASGI http_version");
    is_str(atom("s", &r), "200", "s");
    is_str(atom("st", &r), "OK", "st");
    is_str(atom("S", &r), "http", "S");
    is_str(atom("b", &r), "13", "b");
    is_str(atom("B", &r), "13", "B");
    is_str(atom("f", &r), "http://example.com/", "f");
    is_str(atom("a", &r), "curl/7.88.1", "a");
    is_str(atom("T", &r), "2", "T");
    is_str(atom("D", &r), "2250000", "D");
    is_str(atom("L", &r), "2.250000", "L");
    snprintf(want, sizeof(want), "<%ld>", (long)getpid());
    is_str(atom("p", &r), want, "p");
    is_str(atom("{host}i", &r), "localhost:8000", "{host}i");
    is_str(atom("{Host}i", &r), "localhost:8000", "{Host}i: any case");
    is_str(atom("{x-multi}i", &r), "second", "repeated request header: last wins");
    is_str(atom("{missing}i", &r), "-", "missing request header");
    is_str(atom("{content-type}o", &r), "text/plain", "{content-type}o");
    is_str(atom("{X-RESP}o", &r), "yes", "{X-RESP}o");
    is_str(atom("{missing}o", &r), "-", "missing response header");
    setenv("HN_TEST_ENV", "env-value", 1);
    is_str(atom("{HN_TEST_ENV}e", &r), "env-value", "{NAME}e");
    is_str(atom("{hn_test_env}e", &r), "env-value", "{name}e: any case");
    is_str(atom("{HN_NO_SUCH_ENV}e", &r), "-", "missing env var");
    is_str(atom("u", &r), "-", "u: documented by Hypercorn, not implemented");
    is_str(atom("zz", &r), "-", "unknown atom");
    is_str(atom("{x}z", &r), "-", "unknown braced atom");
    is_str(line_for("100%% %(s)s", &r, NOW_SEC), "100% 200", "%%%%");
    is_str(line_for("no atoms", &r, NOW_SEC), "no atoms", "literal only");
    is_str(line_for("[%(s)5s|%(m)-5s|%(a).4s]", &r, NOW_SEC), "[  200|GET  |curl]",
           "width, left alignment, precision");
    is_str(line_for("%(T)d %(D)i", &r, NOW_SEC), "2 2250000", "%%d and %%i conversions");
    is_str(line_for("%({x-(y)}i)s", &r, NOW_SEC), "-", "nested parentheses in a name");

    r.query = "";
    r.query_len = 0;
    is_str(atom("R", &r), "GET /a%20b 1.1", "R with an empty query");
    is_str(atom("Uq", &r), "/a%20b", "Uq with an empty query");
    is_str(atom("q", &r), "", "q empty");

    r = make_request();
    r.status = 404;
    is_str(atom("st", &r), "Not Found", "st 404");
    r.http_version = "2";
    r.scheme = "https";
    r.method = "POST";
    r.method_len = 4;
    is_str(atom("r", &r), "POST /a%20b 2", "r over HTTP/2");
    is_str(atom("S", &r), "https", "S https");

    /* Content-Length written by the protocol, not among the app's headers */
    r = make_request();
    r.resp_n_headers = 1;
    is_str(atom("b", &r), "13", "b from resp_content_length");
    r.resp_content_length = -1;
    is_str(atom("b", &r), "-", "b for a chunked response");

    /* no response at all (client gone before the app answered) */
    r = make_request();
    r.status = 0;
    r.resp_state = HN_RESP_NONE;
    r.resp_headers = NULL;
    r.resp_n_headers = 0;
    r.resp_content_length = -1;
    is_str(line_for("%(s)s %(st)s %(b)s %({content-type}o)s", &r, NOW_SEC), "- - - -",
           "no response");

    r = make_request();
    r.client = NULL;
    is_str(atom("h", &r), "-", "h without a client (unix socket)");
    r.start_time = NOW_SEC + 5;
    is_str(atom("D", &r), "0", "a clock step back never logs negative time");
}

/* The whole file written for r with fmt, without a prefix, and without the
 * final newline (static). */
static const char *
bare_line(const char *fmt, const hn_request_t *r)
{
    static char line[128 * 1024];

    cur_prefix = false;
    unlink(path);
    if (open_log(fmt) != HN_OK)
        snprintf(line, sizeof(line), "(open failed)");
    hn_access_log_request(r, NOW_SEC);
    hn_access_log_close();
    cur_prefix = true;
    size_t n = read_log(path);
    if (n == 0 || content[n - 1] != '\n')
        return "(no newline)";
    memcpy(line, content, n - 1);
    line[n - 1] = '\0';
    return line;
}

static void
test_no_prefix(void)
{
    hn_request_t r = make_request();

    is_str(bare_line("%(m)s %(s)s", &r), "GET 200", "access_log_prefix false: the line alone");
    is_str(bare_line("x", &r), "x", "a format without atoms");
}

/* The same client bytes in each access_log_escape mode. */
static void
test_escaping(void)
{
    static const struct {
        hn_cfg_access_log_escape_t mode;
        const char *header, *path, *env;
    } modes[] = {
        {HN_CFG_ESCAPE_DEFAULT, "a\\x22b\\x0Ac\\x5Cd\\x7F", "/\\x01\\x22\\xFF", "a\\x0Ab"},
        {HN_CFG_ESCAPE_JSON, "a\\\"b\\nc\\\\d\\u007f", "/\\u0001\\\"\\u00ff", "a\\nb"},
        {HN_CFG_ESCAPE_NONE, "a\"b\nc\\d\x7f", "/\x01\"\xff", "a\nb"},
    };
    hn_request_t r = make_request();

    r.raw_path = "/\x01\"\xff";
    r.raw_path_len = 4;
    setenv("HN_TEST_ENV", "a\nb", 1);
    for (size_t i = 0; i < HN_ARRAY_LEN(modes); i++) {
        cur_escape = modes[i].mode;
        is_str(bare_line("%({x-evil}i)s", &r), modes[i].header, "mode %zu: a header value", i);
        is_str(bare_line("%(U)s", &r), modes[i].path, "mode %zu: the path", i);
        is_str(bare_line("%({HN_TEST_ENV}e)s", &r), modes[i].env, "mode %zu: an env value", i);
    }
    cur_escape = HN_CFG_ESCAPE_DEFAULT;
}

static void
test_escape_json(void)
{
    hn_request_t r = make_request();
    hn_header_t h[] = {
        {"x-evil", 6, "a\"b\nc\\d\x7f\te\r\x01\b\f", 14},
        /* é in UTF-8, a lone 0xE9, an overlong '/', a truncated 3-byte
         * character, a UTF-16 surrogate, then U+1F600 */
        {"x-bytes", 7, "\xC3\xA9|\xE9|\xC0\xAF|\xE2\x82|\xED\xA0\x80|\xF0\x9F\x98\x80", 19},
    };

    cur_escape = HN_CFG_ESCAPE_JSON;
    r.headers = h;
    r.n_headers = HN_ARRAY_LEN(h);
    is_str(bare_line("{\"v\":\"%({x-evil}i)s\"}", &r),
           "{\"v\":\"a\\\"b\\nc\\\\d\\u007f\\te\\r\\u0001\\b\\f\"}",
           "json: every short escape, \\u00XX for the other control characters");
    is_str(bare_line("%({x-bytes}i)s", &r),
           "\xC3\xA9|\\u00e9|\\u00c0\\u00af|\\u00e2\\u0082|\\u00ed\\u00a0\\u0080|"
           "\xF0\x9F\x98\x80",
           "json: UTF-8 kept, each byte of anything else as \\u00XX");
    is_str(bare_line("%({x-evil}i).3s|%({x-bytes}i).1s|%({x-bytes}i).2s", &r), "a\\\"b||\xC3\xA9",
           "precision counts the value's bytes and never splits an escape or a character");
    cur_escape = HN_CFG_ESCAPE_DEFAULT;
    is_str(bare_line("%({x-evil}i).3s", &r), "a\\x22b", "so does the default escaping");
}

/* A JSON line cut for length stays JSON: the value is cut between escapes
 * and the format's closing text is kept. */
static void
test_long_json_line(void)
{
    hn_request_t r = make_request();
    size_t len = 100 * 1024;
    char *value = malloc(len);
    hn_header_t big[] = {{"x-big", 5, value, len}, {"user-agent", 10, "ua", 2}};

    for (size_t i = 0; i < len; i++)
        value[i] = i % 2 ? '"' : '\x01';
    r.headers = big;
    r.n_headers = HN_ARRAY_LEN(big);
    cur_escape = HN_CFG_ESCAPE_JSON;
    const char *line = bare_line("{\"big\":\"%({x-big}i)s\",\"ua\":\"%(a)s\"}", &r);
    size_t n = strlen(line);
    ok(n > 60 * 1024 && n < 64 * 1024, "cut to the buffer (%zu bytes)", n);
    const char *tail = "...\",\"ua\":\"\"}";
    is_str(line + n - strlen(tail), tail,
           "the cut value ends with ..., the format's text is whole");
    const char *p = line + 8;
    while (strncmp(p, "\\u0001\\\"", 8) == 0)
        p += 8;
    if (strncmp(p, "\\u0001", 6) == 0)
        p += 6;
    ok(strcmp(p, tail) == 0, "only whole escapes before the cut: %.20s", p);
    cur_escape = HN_CFG_ESCAPE_DEFAULT;
    free(value);
}

static void
test_format_text_limit(void)
{
    char fmt[20000];
    hn_err_t err = {0};

    memset(fmt, 'x', sizeof(fmt) - 1);
    fmt[sizeof(fmt) - 1] = '\0';
    is_int(hn_access_log_check_format(fmt, &err), HN_ERR, "a format whose text fills the buffer");
    ok(strstr(err.msg, "access_log_format") != NULL, "is refused: %s", err.msg);
    is_int(hn_access_log_check_format("%(l)20000s", &err), HN_ERR, "padding counts");
}

static void
test_timezone(void)
{
    hn_request_t r = make_request();
    char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

    /* POSIX TZ: 5:30 east of UTC */
    setenv("TZ", "IST-5:30", 1);
    is_str(atom("t", &r), "[23/Nov/2026:17:30:00 +0530]", "t in local time with its offset");
    setenv("TZ", "XST8", 1);
    is_str(line_for("%(t)s", &r, NOW_SEC - 86400 * 30), "[24/Oct/2026:04:00:00 -0800]",
           "negative offset");
    if (old)
        setenv("TZ", old, 1);
    else
        setenv("TZ", "UTC", 1);
    free(old);
}

static void
test_bad_formats(void)
{
    static const char *const bad[] = {"%s", "%(h", "%(h)x", "abc %", "%(h)", "%(h)*s", "%d"};
    hn_config_t cfg;
    hn_err_t err;

    for (size_t i = 0; i < HN_ARRAY_LEN(bad); i++) {
        memset(&err, 0, sizeof(err));
        is_int(hn_access_log_check_format(bad[i], &err), HN_ERR, "format \"%s\" refused", bad[i]);
        ok(strstr(err.msg, "access_log_format") != NULL, "error names the key: %s", err.msg);
    }
    is_int(hn_access_log_check_format(NULL, &err), HN_OK, "default format is valid");

    memset(&cfg, 0, sizeof(cfg));
    cfg.accesslog = path;
    cfg.access_log_format = "%(h";
    int fd = hn_log_open_file("accesslog", path, &err);
    is_int(hn_access_log_open(&cfg, fd, &err), HN_ERR, "open refuses a bad format");
    ok(fcntl(fd, F_GETFD) < 0, "and closes the descriptor it was given");
    ok(!hn_access_log_enabled(), "and leaves the log disabled");

    cfg.access_log_format = NULL;
    cfg.accesslog = "/nonexistent-dir/x/access.log";
    memset(&err, 0, sizeof(err));
    is_int(hn_log_open_file("accesslog", cfg.accesslog, &err), -1, "opening a bad path fails");
    ok(strstr(err.msg, "accesslog: cannot open /nonexistent-dir/x/access.log") != NULL,
       "error names the key and the path: %s", err.msg);
    ok(err.code != 0, "error carries errno");
    memset(&err, 0, sizeof(err));
    is_int(hn_access_log_open(&cfg, -1, &err), HN_ERR, "a file without its descriptor fails");
    ok(strstr(err.msg, "accesslog") != NULL, "error names the key: %s", err.msg);
    ok(!hn_access_log_enabled(), "disabled after a failed open");

    cfg.accesslog = NULL;
    is_int(hn_access_log_open(&cfg, -1, &err), HN_OK, "accesslog unset: OK");
    ok(!hn_access_log_enabled(), "accesslog unset: disabled");
    hn_request_t r = make_request();
    hn_access_log_request(&r, NOW_SEC); /* no-op, must not crash */
    hn_access_log_flush();
    hn_access_log_close();
}

static void
test_buffering(void)
{
    hn_request_t r = make_request();
    struct stat st;
    size_t n;
    int i;

    unlink(path);
    is_int(open_log("%(s)s"), HN_OK, "open");
    hn_access_log_request(&r, NOW_SEC);
    stat(path, &st);
    is_int(st.st_size, 0, "a line stays in the buffer until a flush");
    hn_access_log_flush();
    stat(path, &st);
    ok(st.st_size > 0, "flush writes it");
    hn_access_log_flush();
    struct stat st2;
    stat(path, &st2);
    is_int(st2.st_size, st.st_size, "a second flush writes nothing");

    /* past 32 KiB the buffer is written without waiting for the loop */
    for (i = 0; i < 2000; i++)
        hn_access_log_request(&r, NOW_SEC);
    stat(path, &st);
    ok(st.st_size > 32 * 1024, "the buffer flushes itself past 32 KiB (%lld bytes)",
       (long long)st.st_size);
    hn_access_log_close();
    n = read_log(path);
    size_t lines = 0;
    for (size_t k = 0; k < n; k++)
        lines += content[k] == '\n';
    is_int(lines, 2001, "no line lost or duplicated");
}

static void
test_long_line(void)
{
    hn_request_t r = make_request();
    hn_header_t big[] = {{"x-big", 5, NULL, 100 * 1024}};
    char *value = malloc(100 * 1024);
    size_t n;

    memset(value, 'v', 100 * 1024);
    big[0].value = value;
    r.headers = big;
    r.n_headers = 1;
    unlink(path);
    is_int(open_log("%(s)s %({x-big}i)s"), HN_OK, "open");
    hn_request_t small = make_request();
    hn_access_log_request(&small, NOW_SEC);
    hn_access_log_request(&r, NOW_SEC);
    hn_access_log_request(&small, NOW_SEC);
    hn_access_log_close();
    n = read_log(path);
    ok(n > 60 * 1024 && n < 70 * 1024, "a huge line is cut to the buffer (%zu bytes)", n);
    char *second = strchr(content, '\n') + 1;
    char *end = strchr(second, '\n');
    ok(end && end - second <= 64 * 1024 && memcmp(end - 3, "...", 3) == 0,
       "the cut line ends with ...");
    ok(end && strstr(end + 1, "] [INFO] 200 -\n") != NULL, "the next line follows intact");
    free(value);
}

static void
test_reopen(void)
{
    hn_request_t r = make_request();
    char rotated[300];

    snprintf(rotated, sizeof(rotated), "%s.1", path);
    unlink(path);
    unlink(rotated);
    is_int(open_log("%(m)s %(s)s"), HN_OK, "open");
    hn_access_log_request(&r, NOW_SEC);
    hn_access_log_flush();
    rename(path, rotated);
    r.status = 201;
    hn_access_log_request(&r, NOW_SEC); /* buffered before the reopen: old file */
    hn_err_t err = {0};
    hn_access_log_adopt(hn_log_open_file("accesslog", path, &err)); /* the master reopened */
    r.status = 202;
    hn_access_log_request(&r, NOW_SEC);
    hn_access_log_close();

    read_log(rotated);
    ok(strstr(content, "GET 200\n") && strstr(content, "GET 201\n") && !strstr(content, "GET 202"),
       "the rotated file has the lines from before the reopen");
    read_log(path);
    ok(strstr(content, "GET 202\n") && !strstr(content, "GET 201"),
       "the new file has the lines after it");
    struct stat st;
    stat(path, &st);
    is_int(st.st_mode & 0777, 0644 & ~0022, "created with mode 0644 (umask 022)");

    int fd = open(path, O_WRONLY);
    hn_access_log_adopt(fd);
    ok(fcntl(fd, F_GETFD) < 0, "adopting while disabled closes the descriptor");
    unlink(rotated);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/access.log", dir);
    setenv("TZ", "UTC", 1);
    umask(022);

    test_default_format();
    test_atoms();
    test_escaping();
    test_no_prefix();
    test_escape_json();
    test_long_json_line();
    test_format_text_limit();
    test_timezone();
    test_bad_formats();
    test_buffering();
    test_long_line();
    test_reopen();

    unlink(path);
    rmdir(dir);
    return tap_done();
}
