/*
 * resolver_fixture.c - getaddrinfo from a hosts table, for the unit tests and
 * the fuzz targets (Makefile.am, scripts/fuzz.sh); the interface is in
 * resolver_fixture.h.
 *
 * Why: through NSS a name's answer depends on the machine (a container whose
 * /etc/hosts has no localhost line fails test_addr), and a name that is in no
 * file becomes a DNS query: slow, not the same answer twice, and a packet
 * sent by a test or by every fuzzed config that names a host.
 *
 * How: a definition of getaddrinfo in the executable takes the place of the
 * C library's for every caller (symbol interposition), and reaches the real
 * one through dlsym(RTLD_NEXT), always with AI_NUMERICHOST, which parses
 * literals without NSS. A host that parses that way is answered as the
 * server would see it. Anything else is a name: each of its table addresses
 * is resolved the same numeric way and the lists are chained. So every node
 * of a result comes from the C library's getaddrinfo, and its freeaddrinfo,
 * which frees node by node, needs no replacement. A name not in the table
 * gets EAI_NONAME, as an unknown host does. ai_canonname, if asked for, is
 * the address text, not the name.
 *
 * The table and the counts are plain statics: single-threaded callers only.
 */
#include "tests/unit/resolver_fixture.h"

#include <dlfcn.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "shared/common.h"

#define MAX_HOSTS 32 /* address-name pairs */
#define ADDR_SIZE 64 /* an IPv6 literal with a %scope fits */
#define NAME_SIZE 256

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *,
                              struct addrinfo **);

typedef struct host {
    char addr[ADDR_SIZE];
    char name[NAME_SIZE];
} host_t;

typedef struct hosts {
    host_t entries[MAX_HOSTS];
    size_t n;
} hosts_t;

static getaddrinfo_fn real_getaddrinfo(void);
static int resolve_name(const char *node, const char *service, const struct addrinfo *hints,
                        struct addrinfo **res);
static int chain_addresses(const char *node, const char *service, const struct addrinfo *hints,
                           struct addrinfo **res);
static int parse_hosts(const char *text, hosts_t *out);
static const char *next_field(const char **p, const char *end, size_t *len);
static bool is_numeric(const char *addr);

static const char default_hosts[] = "127.0.0.1 localhost\n"
                                    "::1 localhost ip6-localhost ip6-loopback\n";

static hosts_t table;
static bool is_table_set; /* else the default, parsed at the first lookup */
static hn_resolver_fixture_counts_t counts;

int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
            struct addrinfo **res)
{
    struct addrinfo h;
    bool caller_numeric;
    int rc;

    if (hints)
        h = *hints;
    else
        memset(&h, 0, sizeof(h));
    caller_numeric = (h.ai_flags & AI_NUMERICHOST) != 0;
    h.ai_flags |= AI_NUMERICHOST;
    rc = real_getaddrinfo()(node, service, &h, res);
    /* With AI_NUMERICHOST, EAI_NONAME is the C library's "not a literal":
     * only then is node a name, and only if the caller allows names. */
    if (node == NULL || caller_numeric || rc != EAI_NONAME) {
        counts.numeric++;
        return rc;
    }
    return resolve_name(node, service, &h, res);
}

int
hn_resolver_fixture_set_hosts(const char *text)
{
    static hosts_t parsed; /* static: 10 KB is a lot for a fuzzer's stack */

    if (parse_hosts(text ? text : default_hosts, &parsed) != HN_OK)
        return HN_ERR;
    table = parsed;
    is_table_set = true;
    return HN_OK;
}

hn_resolver_fixture_counts_t
hn_resolver_fixture_take_counts(void)
{
    hn_resolver_fixture_counts_t c = counts;

    memset(&counts, 0, sizeof(counts));
    return c;
}

static getaddrinfo_fn
real_getaddrinfo(void)
{
    static getaddrinfo_fn real;

    if (real == NULL) {
        real = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
        if (real == NULL)
            abort();
    }
    return real;
}

/* A name, from the table. hints carries AI_NUMERICHOST already. */
static int
resolve_name(const char *node, const char *service, const struct addrinfo *hints,
             struct addrinfo **res)
{
    struct addrinfo h = *hints;
    int rc = EAI_NONAME;

    if (!is_table_set && hn_resolver_fixture_set_hosts(NULL) != HN_OK)
        abort();
    /* As glibc: AF_INET6 with AI_V4MAPPED maps the IPv4 addresses only when
     * the name has no IPv6 one, unless AI_ALL asks for both. */
    if (h.ai_family == AF_INET6 && (h.ai_flags & AI_V4MAPPED) && !(h.ai_flags & AI_ALL)) {
        h.ai_flags &= ~AI_V4MAPPED;
        rc = chain_addresses(node, service, &h, res);
        h.ai_flags |= AI_V4MAPPED;
    }
    if (rc == EAI_NONAME)
        rc = chain_addresses(node, service, &h, res);
    if (rc == EAI_NONAME)
        counts.unknown++;
    else
        counts.names++;
    return rc;
}

/* Every table address of node that the C library accepts under hints (the
 * family filter among them), in table order, as one list; EAI_NONAME when
 * there is none. */
static int
chain_addresses(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    struct addrinfo *head = NULL, **tail = &head, *one;
    int rc = EAI_NONAME;

    for (size_t i = 0; i < table.n; i++) {
        if (strcasecmp(table.entries[i].name, node) != 0)
            continue;
        int r = real_getaddrinfo()(table.entries[i].addr, service, hints, &one);
        if (r == EAI_ADDRFAMILY || r == EAI_FAMILY || r == EAI_NONAME)
            continue; /* an address of another family */
        if (r != 0) {
            freeaddrinfo(head);
            *res = NULL;
            return r;
        }
        *tail = one;
        while (*tail != NULL)
            tail = &(*tail)->ai_next;
        rc = 0;
    }
    *res = head;
    return rc;
}

/* Whole text or nothing, so a typo in a test's table fails the call instead
 * of leaving a name silently unknown. */
static int
parse_hosts(const char *text, hosts_t *out)
{
    const char *line = text;

    out->n = 0;
    while (*line != '\0') {
        const char *eol = strchrnul(line, '\n');
        const char *hash = memchr(line, '#', (size_t)(eol - line));
        const char *end = hash ? hash : eol;
        const char *p = line, *addr, *name;
        size_t addr_len, name_len;
        bool has_name = false;

        line = *eol ? eol + 1 : eol;
        addr = next_field(&p, end, &addr_len);
        if (addr == NULL)
            continue;
        if (addr_len >= ADDR_SIZE)
            return HN_ERR;
        while ((name = next_field(&p, end, &name_len)) != NULL) {
            host_t *h = &out->entries[out->n];

            if (out->n == MAX_HOSTS || name_len >= NAME_SIZE)
                return HN_ERR;
            memcpy(h->addr, addr, addr_len);
            h->addr[addr_len] = '\0';
            memcpy(h->name, name, name_len);
            h->name[name_len] = '\0';
            if (!has_name && !is_numeric(h->addr))
                return HN_ERR;
            has_name = true;
            out->n++;
        }
        if (!has_name)
            return HN_ERR;
    }
    return HN_OK;
}

/* The next blank-separated field of [*p, end), its length in *len; NULL at
 * the end. */
static const char *
next_field(const char **p, const char *end, size_t *len)
{
    const char *s = *p, *e;

    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++;
    if (s == end)
        return NULL;
    for (e = s; e < end && *e != ' ' && *e != '\t' && *e != '\r'; e++)
        ;
    *p = e;
    *len = (size_t)(e - s);
    return s;
}

/* Judged by the C library itself, so the table accepts exactly the literals
 * a lookup can resolve. Not counted: it is the fixture's own call. */
static bool
is_numeric(const char *addr)
{
    struct addrinfo h, *res = NULL;

    memset(&h, 0, sizeof(h));
    h.ai_flags = AI_NUMERICHOST;
    if (real_getaddrinfo()(addr, NULL, &h, &res) != 0)
        return false;
    freeaddrinfo(res);
    return true;
}
