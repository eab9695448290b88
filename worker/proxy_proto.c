/*
 * proxy_proto.c - PROXY protocol v1 and v2 headers (see proxy_proto.h).
 * This file only measures and decodes bytes; reading them off the socket
 * without overrunning into the TLS or HTTP bytes that follow, and
 * substituting the addresses, is left to the listener and conn code.
 *
 * Both entry points first measure the header (measure()), which is what
 * makes every prefix of an input answer 0 or the final answer: a v1
 * header's length is known only at its CRLF and a v2 header's from its
 * fixed 16 bytes, and nothing is decoded until all of it is in.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/proxy_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "shared/common.h"

static ssize_t measure(const char *data, size_t len, const char **why);
static ssize_t parse_v1(const char *data, size_t n, hn_proxy_info_t *info, const char **why);
static bool parse_v1_addr(const char *s, size_t len, int family, struct sockaddr_storage *ss,
                          socklen_t *ss_len);
static bool parse_v1_port(const char *s, size_t len, uint16_t *port);
static void set_port(struct sockaddr_storage *ss, uint16_t port);
static ssize_t parse_v2(const char *data, size_t n, hn_proxy_info_t *info, const char **why);

/* "PROXY " starts a v1 header (spec §2.1); the v2 signature (spec §2.2)
 * was chosen so that it cannot start a v1 header or any HTTP request. */
static const char v1_sig[6] = "PROXY ";
static const char v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

#define V2_FIXED 16
/* The address block each v2 family needs: two addresses, then two ports
 * for IP; two 108-byte paths for UNIX. */
#define V2_INET_LEN 12
#define V2_INET6_LEN 36
#define V2_UNIX_LEN 216

/* --- measuring ------------------------------------------------------------- */

/* The header's total length, 0 if not yet known, -1 if the bytes cannot
 * be a PROXY header. Only what the length depends on is checked here. */
static ssize_t
measure(const char *data, size_t len, const char **why)
{
    *why = "not a PROXY header";
    if (len == 0)
        return 0;

    if (data[0] == v1_sig[0]) {
        if (memcmp(data, v1_sig, HN_MIN(len, sizeof(v1_sig))) != 0)
            return -1;
        size_t scan = len < HN_PROXY_V1_MAX ? len : HN_PROXY_V1_MAX;
        const char *lf = memchr(data, '\n', scan);
        if (lf == NULL) {
            if (len < HN_PROXY_V1_MAX)
                return 0;
            *why = "v1 header longer than 107 bytes";
            return -1;
        }
        if (lf == data || lf[-1] != '\r') {
            *why = "v1 header ends in LF without CR";
            return -1;
        }
        return lf - data + 1;
    }

    if (data[0] == v2_sig[0]) {
        if (memcmp(data, v2_sig, HN_MIN(len, sizeof(v2_sig))) != 0)
            return -1;
        if (len > 12 && ((uint8_t)data[12] >> 4) != 2) {
            *why = "v2 header with a version other than 2";
            return -1;
        }
        if (len < V2_FIXED)
            return 0;
        size_t body = ((size_t)(uint8_t)data[14] << 8) | (uint8_t)data[15];
        if (body > HN_PROXY_V2_MAX_LEN) {
            *why = "v2 header longer than 4096 bytes after its fixed part";
            return -1;
        }
        return (ssize_t)(V2_FIXED + body);
    }

    return -1;
}

ssize_t
hn_proxy_needed(const char *data, size_t len)
{
    const char *why;
    return measure(data, len, &why);
}

/* --- parsing --------------------------------------------------------------- */

ssize_t
hn_proxy_parse(const char *data, size_t len, hn_proxy_info_t *info, const char **why)
{
    const char *unused;
    if (why == NULL)
        why = &unused;
    ssize_t n = measure(data, len, why);
    if (n <= 0 || (size_t)n > len)
        return n < 0 ? -1 : 0;

    memset(info, 0, sizeof(*info));
    if (data[0] == v1_sig[0])
        n = parse_v1(data, (size_t)n, info, why);
    else
        n = parse_v2(data, (size_t)n, info, why);
    if (n < 0)
        memset(info, 0, sizeof(*info));
    return n;
}

/* n bytes: "PROXY " ... "\r\n", the CRLF being the first LF (measure()). */
static ssize_t
parse_v1(const char *data, size_t n, hn_proxy_info_t *info, const char **why)
{
    const char *p = data + sizeof(v1_sig), *end = data + n - 2;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    size_t proto_len = (size_t)((sp ? sp : end) - p);
    int family;

    /* spec §2.1: after UNKNOWN the receiver ignores everything up to CRLF */
    if (proto_len == 7 && memcmp(p, "UNKNOWN", 7) == 0) {
        info->is_local = true;
        return (ssize_t)n;
    }
    if (proto_len == 4 && memcmp(p, "TCP4", 4) == 0) {
        family = AF_INET;
    } else if (proto_len == 4 && memcmp(p, "TCP6", 4) == 0) {
        family = AF_INET6;
    } else {
        *why = "v1 protocol is not TCP4, TCP6 or UNKNOWN";
        return -1;
    }
    if (sp == NULL) {
        *why = "v1 header without addresses";
        return -1;
    }

    /* four fields, each separated by exactly one space, none empty */
    const char *field[4];
    size_t field_len[4];
    p = sp + 1;
    for (int i = 0; i < 4; i++) {
        const char *q = memchr(p, ' ', (size_t)(end - p));
        if (q == NULL)
            q = end;
        if (q == p) {
            *why = "v1 fields not separated by single spaces";
            return -1;
        }
        field[i] = p;
        field_len[i] = (size_t)(q - p);
        if (i < 3 && q == end) {
            *why = "v1 header with fewer than four address fields";
            return -1;
        }
        p = q == end ? end : q + 1;
        if (i == 3 && q != end) {
            *why = "v1 header with more than four address fields";
            return -1;
        }
    }

    uint16_t sport, dport;
    if (!parse_v1_addr(field[0], field_len[0], family, &info->src, &info->src_len)) {
        *why = "v1 source address invalid for its protocol";
        return -1;
    }
    if (!parse_v1_addr(field[1], field_len[1], family, &info->dst, &info->dst_len)) {
        *why = "v1 destination address invalid for its protocol";
        return -1;
    }
    if (!parse_v1_port(field[2], field_len[2], &sport)) {
        *why = "v1 source port not a decimal number in 0-65535";
        return -1;
    }
    if (!parse_v1_port(field[3], field_len[3], &dport)) {
        *why = "v1 destination port not a decimal number in 0-65535";
        return -1;
    }
    set_port(&info->src, sport);
    set_port(&info->dst, dport);
    return (ssize_t)n;
}

static bool
parse_v1_addr(const char *s, size_t len, int family, struct sockaddr_storage *ss, socklen_t *ss_len)
{
    char text[INET6_ADDRSTRLEN];
    if (len >= sizeof(text))
        return false;
    memcpy(text, s, len);
    text[len] = '\0';

    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
            return false;
        sin->sin_family = AF_INET;
        *ss_len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
            return false;
        sin6->sin6_family = AF_INET6;
        *ss_len = sizeof(*sin6);
    }
    return true;
}

/* Digits only (no sign, no space), at most five of them, value <= 65535. */
static bool
parse_v1_port(const char *s, size_t len, uint16_t *port)
{
    unsigned v = 0;
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* n bytes: the signature, version 2 (measure()), then command, family,
 * length and n - 16 bytes of address block and TLVs. */
static ssize_t
parse_v2(const char *data, size_t n, hn_proxy_info_t *info, const char **why)
{
    const uint8_t *b = (const uint8_t *)data;
    uint8_t command = b[12] & 0x0F, fam = b[13];
    size_t body = n - V2_FIXED, need;
    const uint8_t *blk = b + V2_FIXED;

    /* spec §2.2: LOCAL carries no client; the family and block are ignored */
    if (command == 0x0) {
        info->is_local = true;
        return (ssize_t)n;
    }
    if (command != 0x1) {
        *why = "v2 command is neither LOCAL nor PROXY";
        return -1;
    }

    switch (fam) {
    case 0x00: /* UNSPEC: the receiver ignores the address information */
        info->is_local = true;
        return (ssize_t)n;
    case 0x11: /* TCP over IPv4 */
        need = V2_INET_LEN;
        break;
    case 0x21: /* TCP over IPv6 */
        need = V2_INET6_LEN;
        break;
    case 0x31: /* UNIX stream: no IP address to substitute */
        need = V2_UNIX_LEN;
        break;
    case 0x12:
    case 0x22:
    case 0x32:
        *why = "v2 datagram transport on a stream listener";
        return -1;
    default: /* spec §2.2: undefined values must be rejected */
        *why = "v2 undefined address family or transport";
        return -1;
    }
    if (body < need) {
        *why = "v2 address block shorter than its family needs";
        return -1;
    }

    /* TLVs (spec §2.2.7): type, 16-bit length, value; they must fill the
     * rest of the header exactly. Their contents are not used. */
    for (size_t off = need; off < body;) {
        if (body - off < 3) {
            *why = "v2 TLV header truncated";
            return -1;
        }
        size_t tlv_len = ((size_t)blk[off + 1] << 8) | blk[off + 2];
        if (tlv_len > body - off - 3) {
            *why = "v2 TLV longer than the header";
            return -1;
        }
        off += 3 + tlv_len;
    }

    if (fam == 0x31) {
        info->is_local = true;
        return (ssize_t)n;
    }
    /* addresses and ports are in network order already */
    if (fam == 0x11) {
        struct sockaddr_in *src = (struct sockaddr_in *)&info->src;
        struct sockaddr_in *dst = (struct sockaddr_in *)&info->dst;
        src->sin_family = dst->sin_family = AF_INET;
        memcpy(&src->sin_addr, blk, 4);
        memcpy(&dst->sin_addr, blk + 4, 4);
        memcpy(&src->sin_port, blk + 8, 2);
        memcpy(&dst->sin_port, blk + 10, 2);
        info->src_len = info->dst_len = sizeof(struct sockaddr_in);
    } else {
        struct sockaddr_in6 *src = (struct sockaddr_in6 *)&info->src;
        struct sockaddr_in6 *dst = (struct sockaddr_in6 *)&info->dst;
        src->sin6_family = dst->sin6_family = AF_INET6;
        memcpy(&src->sin6_addr, blk, 16);
        memcpy(&dst->sin6_addr, blk + 16, 16);
        memcpy(&src->sin6_port, blk + 32, 2);
        memcpy(&dst->sin6_port, blk + 34, 2);
        info->src_len = info->dst_len = sizeof(struct sockaddr_in6);
    }
    return (ssize_t)n;
}
