/*
 * test_addr.c - unit tests for shared/addr.c: every bind-address form, the
 * errors users see for bad ones, formatting and equality.
 *
 * Linked with tests/unit/resolver_fixture.c: host names resolve from the
 * fixture's table, not from this machine's /etc/hosts or DNS.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/resolver_fixture.h"
#include "tests/unit/tap.h"

static void test_ipv4(void);
static void test_ipv6(void);
static void test_hostname(void);
static void test_unix(void);
static void test_fd(void);
static void test_bad(void);
static void test_format(void);
static void test_equal(void);

static unsigned
port_of(const hn_addr_t *a)
{
    if (a->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
}

/* Parse text, expecting failure, and check the error mentions want. */
static void
expect_error(const char *text, const char *want)
{
    hn_addr_t a;
    hn_err_t err = {0, ""};
    int rc = hn_addr_parse(text, &a, &err);

    is_int(rc, HN_ERR, "\"%s\" is rejected", text);
    if (!ok(strstr(err.msg, want) != NULL, "\"%s\" error mentions \"%s\"", text, want))
        printf("#   got \"%s\"\n", err.msg);
}

static void
test_ipv4(void)
{
    hn_addr_t a;
    hn_err_t err;

    is_int(hn_addr_parse("127.0.0.1:8080", &a, &err), HN_OK, "ipv4 host:port");
    is_int(a.kind, HN_ADDR_TCP, "ipv4 kind");
    is_int(a.sa.ss_family, AF_INET, "ipv4 family");
    is_int(a.sa_len, sizeof(struct sockaddr_in), "ipv4 sa_len");
    is_int(port_of(&a), 8080, "ipv4 port");
    is_int(a.fd, -1, "fd is -1 for tcp");
    is_str(a.text, "127.0.0.1:8080", "ipv4 canonical text");

    is_int(hn_addr_parse("10.1.2.3", &a, &err), HN_OK, "ipv4 host only");
    is_str(a.text, "10.1.2.3:8000", "host only gets port 8000");

    is_int(hn_addr_parse(":9000", &a, &err), HN_OK, ":PORT");
    is_str(a.text, "0.0.0.0:9000", ":PORT binds every IPv4 interface");

    is_int(hn_addr_parse("0.0.0.0:0", &a, &err), HN_OK, "port 0");
    is_int(port_of(&a), 0, "port 0 kept");
    is_int(hn_addr_parse("1.2.3.4:65535", &a, &err), HN_OK, "port 65535");
    is_str(a.text, "1.2.3.4:65535", "port 65535 text");
}

static void
test_ipv6(void)
{
    hn_addr_t a;
    hn_err_t err;

    is_int(hn_addr_parse("[::1]:8443", &a, &err), HN_OK, "ipv6 [host]:port");
    is_int(a.sa.ss_family, AF_INET6, "ipv6 family");
    is_int(a.sa_len, sizeof(struct sockaddr_in6), "ipv6 sa_len");
    is_int(port_of(&a), 8443, "ipv6 port");
    is_str(a.text, "[::1]:8443", "ipv6 canonical text");

    is_int(hn_addr_parse("[::]", &a, &err), HN_OK, "ipv6 [host] only");
    is_str(a.text, "[::]:8000", "ipv6 default port");

    is_int(hn_addr_parse("[2001:DB8:0:0::1]:80", &a, &err), HN_OK, "ipv6 uncompressed");
    is_str(a.text, "[2001:db8::1]:80", "ipv6 text is canonicalised");

    is_int(hn_addr_parse("[::ffff:127.0.0.1]:1", &a, &err), HN_OK, "v4-mapped ipv6");
    is_str(a.text, "[::ffff:127.0.0.1]:1", "v4-mapped text");
}

/* The first address getaddrinfo gives for name in family, as text; "" if none. */
static const char *
first_address(const char *name, int family, char *buf, size_t size)
{
    struct addrinfo hints, *res = NULL;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    buf[0] = '\0';
    if (getaddrinfo(name, NULL, &hints, &res) == 0)
        hn_addr_format_sa(res->ai_addr, res->ai_addrlen, buf, size);
    if (res != NULL)
        freeaddrinfo(res);
    return buf;
}

static void
test_hostname(void)
{
    hn_addr_t a;
    hn_err_t err;
    char buf[HN_ADDR_TEXT_MAX];
    hn_resolver_fixture_counts_t c;

    /* Only this function's lookups count below. */
    hn_resolver_fixture_take_counts();

    /* The default table lists 127.0.0.1 before ::1, and addr.c takes the first. */
    is_int(hn_addr_parse("localhost:8081", &a, &err), HN_OK, "localhost resolves");
    is_str(a.text, "127.0.0.1:8081", "localhost is the table's first loopback address");
    is_int(port_of(&a), 8081, "localhost port");
    is_str(first_address("localhost", AF_INET6, buf, sizeof(buf)), "[::1]:0",
           "localhost in AF_INET6 is ::1");
    is_str(first_address("LocalHost", AF_INET, buf, sizeof(buf)), "127.0.0.1:0",
           "localhost in AF_INET is 127.0.0.1, whatever the case");

    is_int(hn_resolver_fixture_set_hosts("# a test's own names\n"
                                         "::1        v6.test\n"
                                         "127.0.0.2  v4.test  # no IPv6 address\n"),
           HN_OK, "the test's hosts table");
    is_int(hn_addr_parse("v6.test:8082", &a, &err), HN_OK, "a name with only ::1 resolves");
    is_str(a.text, "[::1]:8082", "... to [::1]");
    is_int(hn_addr_parse("v4.test:8083", &a, &err), HN_OK, "a name with only 127.0.0.2 resolves");
    is_str(a.text, "127.0.0.2:8083", "... to 127.0.0.2");
    is_str(first_address("v4.test", AF_INET6, buf, sizeof(buf)), "",
           "an IPv4-only name has no AF_INET6 address");
    expect_error("localhost:80", "cannot resolve \"localhost\": Name or service not known");
    is_int(hn_resolver_fixture_set_hosts(NULL), HN_OK, "the default table again");
    expect_error("no-such-host.invalid:80",
                 "cannot resolve \"no-such-host.invalid\": Name or service not known");

    is_int(hn_resolver_fixture_set_hosts("localhost 127.0.0.1\n"), HN_ERR,
           "a hosts line must start with a numeric address");
    is_int(hn_resolver_fixture_set_hosts("127.0.0.3\n"), HN_ERR, "a hosts line needs a name");
    is_int(hn_addr_parse("localhost", &a, &err), HN_OK, "a rejected table leaves the old one");

    /* Only the fixture's getaddrinfo counts, so these numbers show that every
     * lookup above was answered by it and none reached NSS or DNS. */
    is_int(hn_addr_parse("127.0.0.1:1", &a, &err), HN_OK, "a numeric host");
    c = hn_resolver_fixture_take_counts();
    is_int(c.names, 6, "names the fixture answered from its table");
    is_int(c.unknown, 3, "names it refused (EAI_NONAME, no query sent)");
    is_int(c.numeric, 1, "numeric hosts it passed to the C library");
}

static void
test_unix(void)
{
    hn_addr_t a;
    hn_err_t err;
    char long_path[200];
    struct sockaddr_un *sun = (struct sockaddr_un *)&a.sa;

    is_int(hn_addr_parse("unix:/run/hornet.sock", &a, &err), HN_OK, "unix absolute");
    is_int(a.kind, HN_ADDR_UNIX, "unix kind");
    is_int(a.sa.ss_family, AF_UNIX, "unix family");
    is_str(sun->sun_path, "/run/hornet.sock", "unix sun_path");
    is_int(a.sa_len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/hornet.sock") + 1,
           "unix sa_len counts the NUL");
    is_str(a.text, "unix:/run/hornet.sock", "unix text");

    is_int(hn_addr_parse("unix:rel/x.sock", &a, &err), HN_OK, "unix relative path allowed");
    is_str(a.text, "unix:rel/x.sock", "unix relative text");

    is_int(hn_addr_parse("unix:@hornet", &a, &err), HN_OK, "unix abstract");
    ok(sun->sun_path[0] == '\0' && memcmp(sun->sun_path + 1, "hornet", 6) == 0,
       "abstract name starts with NUL");
    is_int(a.sa_len, offsetof(struct sockaddr_un, sun_path) + 7, "abstract sa_len has no NUL");
    is_str(a.text, "unix:@hornet", "abstract text");

    /* sun_path is 108 bytes: 107 characters fit, 108 don't. */
    memset(long_path, 'a', sizeof(long_path));
    memcpy(long_path, "unix:/", 6);
    long_path[5 + 107] = '\0';
    is_int(hn_addr_parse(long_path, &a, &err), HN_OK, "107-byte unix path fits");
    long_path[5 + 107] = 'b';
    long_path[5 + 108] = '\0';
    expect_error(long_path, "unix socket path is 108 bytes, the limit is 107");
    expect_error("unix:", "needs a path");
}

static void
test_fd(void)
{
    hn_addr_t a;
    hn_err_t err;
    char text[32];
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int d = socket(AF_INET, SOCK_DGRAM, 0);
    int p[2];
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok(s >= 0 && bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0, "bound a test socket");

    snprintf(text, sizeof(text), "fd://%d", s);
    is_int(hn_addr_parse(text, &a, &err), HN_OK, "fd:// stream socket");
    is_int(a.kind, HN_ADDR_FD, "fd kind");
    is_int(a.fd, s, "fd number");
    is_str(a.text, text, "fd text");
    is_int(a.sa.ss_family, AF_INET, "fd:// records the bound address");

    snprintf(text, sizeof(text), "fd://%d", d);
    expect_error(text, "is not a stream socket");

    ok(pipe(p) == 0, "pipe");
    snprintf(text, sizeof(text), "fd://%d", p[0]);
    expect_error(text, "is not a stream socket");

    expect_error("fd://999999", "fd://999999 is not an open descriptor");
    expect_error("fd://", "needs a descriptor number");
    expect_error("fd://-1", "expected fd://N");
    unsetenv("LISTEN_PID");
    expect_error("fd://web", "no sockets passed by systemd (LISTEN_FDNAMES is not set");
    expect_error("fd://3x", "expected fd://N");
    expect_error("fd://99999999999999999999", "expected fd://N");

    close(s);
    close(d);
    close(p[0]);
    close(p[1]);
}

static void
test_bad(void)
{
    hn_addr_t a;
    hn_err_t err;

    is_int(hn_addr_parse("", &a, &err), HN_ERR, "empty rejected");
    ok(strstr(err.msg, "expected HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N") != NULL,
       "empty error lists the forms");
    expect_error("127.0.0.1:", "expected a port number 0-65535, got \"\"");
    expect_error("127.0.0.1:65536", "got \"65536\"");
    expect_error("127.0.0.1:http", "got \"http\"");
    expect_error("127.0.0.1:-1", "got \"-1\"");
    expect_error("127.0.0.1:123456", "got \"123456\"");
    expect_error("::1:8000", "IPv6 addresses need brackets");
    expect_error("[::1", "expected HOST:PORT");
    expect_error("[]:80", "expected HOST:PORT");
    expect_error("[::1]x", "expected HOST:PORT");
    expect_error("[::1]:", "expected a port number");
    expect_error("[localhost]:80", "is not an IPv6 address");
    expect_error("[127.0.0.1]:80", "is not an IPv6 address");
    is_int(hn_addr_parse("bad:port", &a, NULL), HN_ERR, "NULL err is allowed");
}

static void
test_format(void)
{
    char buf[HN_ADDR_TEXT_MAX];
    char tiny[6];
    struct sockaddr_un sun;
    hn_addr_t a;
    hn_err_t err;
    const char *forms[] = {"127.0.0.1:1", "[::1]:65535", "[fe80::1%lo]:80", "unix:/tmp/h.sock",
                           "unix:@abs"};
    size_t i;

    /* Formatting a parsed address gives back its canonical text. */
    for (i = 0; i < HN_ARRAY_LEN(forms); i++) {
        if (hn_addr_parse(forms[i], &a, &err) != HN_OK) {
            ok(0, "parse %s: %s", forms[i], err.msg);
            continue;
        }
        /* ok + strcmp, not is_str: gcc -O2 then warns that forms[i] may be NULL in the
         * message (is_str tests its arguments for NULL). */
        hn_addr_format_sa((struct sockaddr *)&a.sa, a.sa_len, buf, sizeof(buf));
        if (!ok(strcmp(buf, forms[i]) == 0, "round trip %s", forms[i]))
            printf("#   got \"%s\"\n", buf);
        if (!ok(strcmp(a.text, forms[i]) == 0, "canonical %s", forms[i]))
            printf("#   got \"%s\"\n", a.text);
    }

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    is_str(hn_addr_format_sa((struct sockaddr *)&sun, sizeof(sa_family_t), buf, sizeof(buf)),
           "unix:", "unnamed unix peer");
    is_str(hn_addr_format_sa(NULL, 0, buf, sizeof(buf)), "unix:", "no address at all");
    memcpy(sun.sun_path, "\0a\0b", 4);
    is_str(hn_addr_format_sa((struct sockaddr *)&sun, offsetof(struct sockaddr_un, sun_path) + 4,
                             buf, sizeof(buf)),
           "unix:@a@b", "abstract name with a NUL inside");

    hn_addr_parse("127.0.0.1:8000", &a, &err);
    hn_addr_format_sa((struct sockaddr *)&a.sa, a.sa_len, tiny, sizeof(tiny));
    is_str(tiny, "127.0", "truncated output is NUL-terminated");
}

static void
test_equal(void)
{
    hn_addr_t a, b;
    hn_err_t err;

    hn_addr_parse("127.0.0.1:8000", &a, &err);
    hn_addr_parse("127.0.0.1", &b, &err);
    ok(hn_addr_equal(&a, &b), "default port equals explicit 8000");
    hn_addr_parse("127.0.0.1:8001", &b, &err);
    ok(!hn_addr_equal(&a, &b), "different port");
    hn_addr_parse("127.0.0.2:8000", &b, &err);
    ok(!hn_addr_equal(&a, &b), "different host");
    hn_addr_parse("[::1]:8000", &b, &err);
    ok(!hn_addr_equal(&a, &b), "different family");
    hn_addr_parse("[::1]", &a, &err);
    ok(hn_addr_equal(&a, &b), "same ipv6");

    hn_addr_parse("unix:/a", &a, &err);
    hn_addr_parse("unix:/a", &b, &err);
    ok(hn_addr_equal(&a, &b), "same unix path");
    hn_addr_parse("unix:/ab", &b, &err);
    ok(!hn_addr_equal(&a, &b), "different unix path");
    hn_addr_parse("unix:@a", &b, &err);
    ok(!hn_addr_equal(&a, &b), "abstract differs from path");
}

int
main(void)
{
    test_ipv4();
    test_ipv6();
    test_hostname();
    test_unix();
    test_fd();
    test_bad();
    test_format();
    test_equal();
    return tap_done();
}
