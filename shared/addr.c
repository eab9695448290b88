/*
 * addr.c - bind addresses from text (config, CLI) to sockaddrs, and
 * sockaddrs back to the text logs print. Binding, listening and socket
 * options belong to master/listeners.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/addr.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>

static int parse_unix(const char *text, const char *path, hn_addr_t *out, hn_err_t *err);
static int parse_fd(const char *text, const char *num, hn_addr_t *out, hn_err_t *err);
static int parse_tcp(const char *text, hn_addr_t *out, hn_err_t *err);
static int parse_port(const char *text, const char *s, size_t len, unsigned *port,
                      hn_err_t *err);
static int resolve(const char *text, const char *host, bool v6_only, unsigned port,
                   hn_addr_t *out, hn_err_t *err);

#define EXPECTED "expected HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N"

int
hn_addr_parse(const char *text, hn_addr_t *out, hn_err_t *err)
{
    memset(out, 0, sizeof(*out));
    out->fd = -1;

    if (text == NULL || text[0] == '\0') {
        hn_err_set(err, 0, "empty address: " EXPECTED);
        return HN_ERR;
    }
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(text, text + 5, out, err);
    if (strncmp(text, "fd://", 5) == 0)
        return parse_fd(text, text + 5, out, err);
    return parse_tcp(text, out, err);
}

static int
parse_unix(const char *text, const char *path, hn_addr_t *out, hn_err_t *err)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->sa;
    size_t len = strlen(path);

    if (len == 0) {
        hn_err_set(err, 0, "\"%s\": unix: needs a path, as in unix:/run/hornet.sock", text);
        return HN_ERR;
    }
    /* sun_path needs room for the terminating NUL that bind() and logs rely
     * on; an abstract name ("@name") has a leading NUL instead. */
    if (len >= sizeof(sun->sun_path)) {
        hn_err_set(err, ENAMETOOLONG, "\"%s\": unix socket path is %zu bytes, the limit is %zu",
                   text, len, sizeof(sun->sun_path) - 1);
        return HN_ERR;
    }
    out->kind = HN_ADDR_UNIX;
    sun->sun_family = AF_UNIX;
    if (path[0] == '@') {
        /* Linux abstract namespace: no NUL terminator, the length says where it ends. */
        sun->sun_path[0] = '\0';
        memcpy(sun->sun_path + 1, path + 1, len - 1);
        out->sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        memcpy(sun->sun_path, path, len + 1);
        out->sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    snprintf(out->text, sizeof(out->text), "unix:%s", path);
    return HN_OK;
}

/* systemd socket activation with names (FileDescriptorName= in a .socket
 * unit): LISTEN_FDNAMES lists them in the order of the descriptors from 3
 * on. Returns the descriptor, or -1 with err set. */
static long
fd_by_name(const char *text, const char *name, hn_err_t *err)
{
    const char *names = getenv("LISTEN_FDNAMES"), *pid = getenv("LISTEN_PID");
    const char *fds = getenv("LISTEN_FDS");
    if (names == NULL || pid == NULL || fds == NULL || atol(pid) != (long)getpid()) {
        hn_err_set(err, 0, "\"%s\": no sockets passed by systemd (LISTEN_FDNAMES is not set "
                   "for this process)", text);
        return -1;
    }
    size_t len = strlen(name);
    long i = 0, n = atol(fds);
    for (const char *p = names; i < n; i++) {
        const char *end = strchr(p, ':');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen == len && memcmp(p, name, len) == 0)
            return 3 + i;
        if (end == NULL)
            break;
        p = end + 1;
    }
    hn_err_set(err, 0, "\"%s\": no socket named \"%s\" in LISTEN_FDNAMES=%s", text, name,
               names);
    return -1;
}

static int
parse_fd(const char *text, const char *num, hn_addr_t *out, hn_err_t *err)
{
    struct stat st;
    int type = 0;
    socklen_t type_len = sizeof(type);
    long n = 0;
    const char *p;

    if (*num == '\0') {
        hn_err_set(err, 0, "\"%s\": fd:// needs a descriptor number, as in fd://3", text);
        return HN_ERR;
    }
    bool named = isalpha((unsigned char)*num) || *num == '_';
    if (named && (n = fd_by_name(text, num, err)) < 0)
        return HN_ERR;
    for (p = num; !named && *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || n > 1000000) {
            hn_err_set(err, 0, "\"%s\": expected fd://N with N a descriptor number, or fd://NAME "
                       "with NAME in LISTEN_FDNAMES", text);
            return HN_ERR;
        }
        n = n * 10 + (*p - '0');
    }
    if (fstat((int)n, &st) == -1) {
        hn_err_set(err, errno, "fd://%ld is not an open descriptor: %s", n, strerror(errno));
        return HN_ERR;
    }
    if (!S_ISSOCK(st.st_mode)
        || getsockopt((int)n, SOL_SOCKET, SO_TYPE, &type, &type_len) == -1
        || type != SOCK_STREAM) {
        hn_err_set(err, 0, "fd://%ld is not a stream socket", n);
        return HN_ERR;
    }
    out->kind = HN_ADDR_FD;
    out->fd = (int)n;
    /* Knowing the bound address lets logs and reload matching say more than "fd://3". */
    out->sa_len = sizeof(out->sa);
    if (getsockname(out->fd, (struct sockaddr *)&out->sa, &out->sa_len) == -1)
        out->sa_len = 0;
    if (named)
        snprintf(out->text, sizeof(out->text), "fd://%.100s", num);
    else
        snprintf(out->text, sizeof(out->text), "fd://%d", out->fd);
    return HN_OK;
}

static int
parse_tcp(const char *text, hn_addr_t *out, hn_err_t *err)
{
    char host[HN_ADDR_TEXT_MAX];
    unsigned port = HN_ADDR_DEFAULT_PORT;
    const char *colon;
    size_t host_len;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close == text + 1) {
            hn_err_set(err, 0, "\"%s\": " EXPECTED, text);
            return HN_ERR;
        }
        host_len = (size_t)(close - text - 1);
        if (host_len >= sizeof(host)) {
            hn_err_set(err, 0, "\"%s\": IPv6 address too long", text);
            return HN_ERR;
        }
        if (close[1] == ':') {
            if (parse_port(text, close + 2, strlen(close + 2), &port, err) != HN_OK)
                return HN_ERR;
        } else if (close[1] != '\0') {
            hn_err_set(err, 0, "\"%s\": " EXPECTED, text);
            return HN_ERR;
        }
        memcpy(host, text + 1, host_len);
        host[host_len] = '\0';
        return resolve(text, host, true, port, out, err);
    }

    colon = strchr(text, ':');
    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        /* "::1:8000" could be a port or part of the address; make the user say. */
        hn_err_set(err, 0, "\"%s\": IPv6 addresses need brackets, as in [::1]:8000", text);
        return HN_ERR;
    }
    host_len = colon != NULL ? (size_t)(colon - text) : strlen(text);
    if (host_len >= sizeof(host)) {
        hn_err_set(err, 0, "\"%s\": host name too long", text);
        return HN_ERR;
    }
    if (colon != NULL && parse_port(text, colon + 1, strlen(colon + 1), &port, err) != HN_OK)
        return HN_ERR;
    if (host_len == 0) {
        /* ":8000" means every IPv4 interface, as in Hypercorn and gunicorn. */
        memcpy(host, "0.0.0.0", sizeof("0.0.0.0"));
    } else {
        memcpy(host, text, host_len);
        host[host_len] = '\0';
    }
    return resolve(text, host, false, port, out, err);
}

static int
parse_port(const char *text, const char *s, size_t len, unsigned *port, hn_err_t *err)
{
    unsigned n = 0;
    size_t i;

    if (len == 0 || len > 5)
        goto bad;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            goto bad;
        n = n * 10 + (unsigned)(s[i] - '0');
    }
    if (n > 65535)
        goto bad;
    *port = n;
    return HN_OK;

bad:
    hn_err_set(err, 0, "\"%s\": expected a port number 0-65535, got \"%.*s\"", text, (int)len, s);
    return HN_ERR;
}

static int
resolve(const char *text, const char *host, bool v6_only, unsigned port, hn_addr_t *out,
        hn_err_t *err)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = v6_only ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    /* Brackets promise a literal; don't let "[localhost]" hit DNS. */
    hints.ai_flags = AI_PASSIVE | (v6_only ? AI_NUMERICHOST : 0);

    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        if (v6_only)
            hn_err_set(err, 0, "\"%s\": \"%s\" is not an IPv6 address", text, host);
        else
            hn_err_set(err, rc == EAI_SYSTEM ? errno : 0, "\"%s\": cannot resolve \"%s\": %s",
                       text, host, rc == 0 ? "no address" : gai_strerror(rc));
        if (res != NULL)
            freeaddrinfo(res);
        return HN_ERR;
    }
    if (res->ai_addrlen > sizeof(out->sa)
        || (res->ai_family != AF_INET && res->ai_family != AF_INET6)) {
        hn_err_set(err, 0, "\"%s\": \"%s\" resolved to an unsupported address family", text,
                   host);
        freeaddrinfo(res);
        return HN_ERR;
    }
    memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
    out->sa_len = res->ai_addrlen;
    freeaddrinfo(res);

    if (out->sa.ss_family == AF_INET)
        ((struct sockaddr_in *)&out->sa)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&out->sa)->sin6_port = htons((uint16_t)port);
    out->kind = HN_ADDR_TCP;
    hn_addr_format_sa((const struct sockaddr *)&out->sa, out->sa_len, out->text,
                      sizeof(out->text));
    return HN_OK;
}

const char *
hn_addr_format_sa(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
    char host[NI_MAXHOST];

    if (size == 0)
        return buf;
    if (sa == NULL || len < sizeof(sa_family_t)) {
        /* accept() on a unix socket reports an unnamed peer with a bare family or nothing. */
        snprintf(buf, size, "unix:");
        return buf;
    }
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

        if (len < sizeof(*sin) || inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) == NULL)
            break;
        snprintf(buf, size, "%s:%u", host, ntohs(sin->sin_port));
        return buf;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

        /* getnameinfo keeps the zone ("fe80::1%eth0"), which inet_ntop drops. */
        if (len < sizeof(*sin6)
            || getnameinfo(sa, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
            break;
        snprintf(buf, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
        return buf;
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t plen = len > off ? (size_t)len - off : 0;
        size_t i, n;

        if (plen > sizeof(sun->sun_path))
            plen = sizeof(sun->sun_path);
        if (plen == 0) {
            snprintf(buf, size, "unix:");
            return buf;
        }
        if (sun->sun_path[0] != '\0') {
            snprintf(buf, size, "unix:%.*s", (int)strnlen(sun->sun_path, plen), sun->sun_path);
            return buf;
        }
        /* Abstract name: may hold any byte, so print it as ss(8) does, NULs as '@'. */
        n = (size_t)snprintf(buf, size, "unix:@");
        for (i = 1; i < plen && n + 1 < size; i++, n++) {
            unsigned char c = (unsigned char)sun->sun_path[i];
            buf[n] = (c == '\0') ? '@' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
        }
        if (n < size)
            buf[n] = '\0';
        return buf;
    }
    default:
        break;
    }
    snprintf(buf, size, "(family %d)", (int)sa->sa_family);
    return buf;
}

bool
hn_addr_equal(const hn_addr_t *a, const hn_addr_t *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == HN_ADDR_FD)
        return a->fd == b->fd;
    if (a->sa.ss_family != b->sa.ss_family)
        return false;

    switch (a->sa.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&a->sa;
        const struct sockaddr_in *y = (const struct sockaddr_in *)&b->sa;

        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->sa;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->sa;

        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id
               && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    case AF_UNIX: {
        size_t off = offsetof(struct sockaddr_un, sun_path);

        /* Compare the bytes bind() would see; abstract names are length-delimited. */
        return a->sa_len == b->sa_len && a->sa_len >= off
               && memcmp(((const struct sockaddr_un *)&a->sa)->sun_path,
                         ((const struct sockaddr_un *)&b->sa)->sun_path, a->sa_len - off) == 0;
    }
    default:
        return false;
    }
}
