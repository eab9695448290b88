/*
 * forwarded.c - forwarded client, scheme and host (see forwarded.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/forwarded.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cfg.h"
#include "shared/str.h"

/* An address of either family, as bytes. */
typedef struct ip {
    int family;
    unsigned char b[16];
} ip_t;

static bool
ip_parse(const char *s, size_t len, ip_t *ip)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, ip->b) == 1) {
        ip->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, ip->b) == 1) {
        ip->family = AF_INET6;
        return true;
    }
    return false;
}

/* "10.0.0.0/8", "::1", "*" against an address. */
static bool
entry_matches(hn_str_t e, const ip_t *ip)
{
    if (e.len == 1 && e.ptr[0] == '*')
        return true;
    const char *slash = memchr(e.ptr, '/', e.len);
    ip_t net;
    if (!ip_parse(e.ptr, slash ? (size_t)(slash - e.ptr) : e.len, &net) ||
        net.family != ip->family)
        return false;
    int max = ip->family == AF_INET ? 32 : 128;
    int bits = max;
    if (slash) {
        bits = atoi(slash + 1);
        if (bits < 0 || bits > max)
            return false;
    }
    int full = bits / 8, rest = bits % 8;
    if (memcmp(net.b, ip->b, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (net.b[full] & mask) == (ip->b[full] & mask);
}

bool
hn_forwarded_trusted(const hn_config_t *cfg, const char *text)
{
    ip_t ip;
    if (text == NULL || !ip_parse(text, strlen(text), &ip))
        return false;
    for (size_t i = 0; i < cfg->n_forwarded_allow_ips; i++) {
        const char *p = cfg->forwarded_allow_ips[i];
        const char *end = p + strlen(p);
        hn_str_t e;
        while (hn_str_list_next(&p, end, &e))
            if (entry_matches(e, &ip))
                return true;
    }
    return false;
}

/* The hops-th element from the right of the comma lists of every header
 * of this name, taken together in order; false when there are fewer. */
static bool
from_right(const hn_request_t *r, const char *name, unsigned hops, hn_str_t *out)
{
    hn_str_t e;
    size_t total = 0, k = 0;
    HN_REQUEST_FOR_EACH_LIST_ELEMENT(r, name, e)
    total++;
    if (total < hops)
        return false;
    HN_REQUEST_FOR_EACH_LIST_ELEMENT(r, name, e)
    if (k++ == total - hops) {
        *out = e;
        return true;
    }
    return false;
}

static void
set_client(hn_request_t *r, hn_str_t v)
{
    /* RFC 7239 node: "1.2.3.4", "1.2.3.4:80", "[v6]", "[v6]:80"; also bare v6 from
     * X-Forwarded-For. "unknown" and obfuscated names leave the peer. */
    if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"') {
        v.ptr++;
        v.len -= 2;
    }
    const char *host = v.ptr;
    size_t hlen = v.len;
    if (hlen && host[0] == '[') {
        const char *close = memchr(host, ']', hlen);
        if (close == NULL)
            return;
        hlen = (size_t)(close - host - 1);
        host++;
    } else {
        const char *colon = memchr(host, ':', hlen);
        if (colon && memchr(colon + 1, ':', hlen - (size_t)(colon - host) - 1) == NULL)
            hlen = (size_t)(colon - host); /* v4:port; several colons: bare v6 */
    }
    ip_t ip;
    if (!ip_parse(host, hlen, &ip))
        return;
    r->client_host = hn_arena_strndup(r->arena, host, hlen);
    r->client_port = 0; /* a proxy forwards no port (Hypercorn sets 0 too) */
    r->client = r->client_host;
}

static void
set_scheme(hn_request_t *r, hn_str_t v)
{
    if (hn_mem_case_eq(v.ptr, v.len, "https", 5))
        r->scheme = "https";
    else if (hn_mem_case_eq(v.ptr, v.len, "http", 4))
        r->scheme = "http";
}

static void
set_host(hn_request_t *r, hn_str_t v)
{
    if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"') {
        v.ptr++;
        v.len -= 2;
    }
    if (v.len == 0)
        return;
    for (size_t i = 0; i < r->n_headers; i++) {
        hn_header_t *h = &r->headers[i];
        if (h->name_len == 4 && memcmp(h->name, "host", 4) == 0) {
            h->value = hn_arena_strndup(r->arena, v.ptr, v.len);
            h->value_len = v.len;
            return;
        }
    }
}

/* One Forwarded element: "for=1.2.3.4;proto=https;host=example.com". */
static void
apply_forwarded_element(hn_request_t *r, hn_str_t el)
{
    const char *p = el.ptr, *end = el.ptr + el.len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pe = semi ? semi : end;
        while (p < pe && (*p == ' ' || *p == '\t'))
            p++;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        if (eq) {
            hn_str_t name = {p, (size_t)(eq - p)}, value = {eq + 1, (size_t)(pe - eq - 1)};
            while (value.len && (value.ptr[value.len - 1] == ' ' || value.ptr[value.len - 1] == '\t'))
                value.len--;
            if (hn_str_case_eq(name, "for"))
                set_client(r, value);
            else if (hn_str_case_eq(name, "proto"))
                set_scheme(r, value);
            else if (hn_str_case_eq(name, "host"))
                set_host(r, value);
        }
        p = semi ? semi + 1 : end;
    }
}

void
hn_forwarded_apply(hn_request_t *r, const hn_config_t *cfg)
{
    if (cfg->proxy_headers == HN_CFG_PROXY_HEADERS_OFF)
        return;
    /* a unix-socket peer (no host) is on this machine */
    if (r->client_host != NULL && !hn_forwarded_trusted(cfg, r->client_host))
        return;
    unsigned hops = (unsigned)cfg->proxy_trusted_hops;
    hn_str_t v;
    if (cfg->proxy_headers == HN_CFG_PROXY_HEADERS_MODERN) {
        if (from_right(r, "forwarded", hops, &v))
            apply_forwarded_element(r, v);
        return;
    }
    if (from_right(r, "x-forwarded-for", hops, &v))
        set_client(r, v);
    if (from_right(r, "x-forwarded-proto", hops, &v))
        set_scheme(r, v);
    if (from_right(r, "x-forwarded-host", hops, &v))
        set_host(r, v);
}
