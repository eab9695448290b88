/*
 * test_proxy_proto.c - unit tests for worker/proxy_proto.c: PROXY v1 and
 * v2 headers, valid and invalid, fed whole, with the bytes that follow
 * them, and one prefix at a time (hn_proxy_parse and hn_proxy_needed).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "worker/proxy_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "tests/unit/tap.h"

/* "1.2.3.4:80", "[::1]:443", or "-" when len is 0 */
static const char *
fmt_addr(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (len == 0) {
        snprintf(out, size, "-");
    } else if (ss->ss_family == AF_INET && len == sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(out, size, "%s:%u", host, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(out, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
    } else {
        snprintf(out, size, "?");
    }
    return out;
}

/* Feed every prefix of data. Each must answer 0 or the whole input's
 * answer, and once non-zero stay so; hn_proxy_needed must answer 0 or
 * the final length, and the final length from known_at bytes on (pass
 * 0 to skip that check, as for invalid input). */
static void
check_prefixes(const char *name, const char *data, size_t len, size_t known_at)
{
    hn_proxy_info_t info;
    const char *why;
    ssize_t final = hn_proxy_parse(data, len, &info, &why);
    ssize_t final_need = hn_proxy_needed(data, len);
    bool good = true, seen = false, need_good = true;

    for (size_t k = 0; k < len; k++) {
        ssize_t r = hn_proxy_parse(data, k, &info, &why);
        if (r != 0 && r != final)
            good = false;
        if (seen && r == 0)
            good = false;
        if (r != 0)
            seen = true;
        if (final > 0 && r != 0)
            good = false; /* a valid header answers only when whole */

        ssize_t need = hn_proxy_needed(data, k);
        if (need != 0 && need != final_need)
            need_good = false;
        if (known_at > 0 && need != (k >= known_at ? final_need : 0))
            need_good = false;
    }
    ok(good, "%s: every prefix answers 0 or %zd", name, final);
    ok(need_good, "%s: hn_proxy_needed on every prefix", name);
}

/* A valid header: its length, addresses and is_local, whole, followed by
 * more bytes, and by prefixes. */
static void
check_valid(const char *name, const char *data, size_t len, bool is_local, const char *src,
            const char *dst, size_t known_at)
{
    hn_proxy_info_t info;
    const char *why = NULL;
    char a[80], b[80];
    char *more = malloc(len + 20);

    ssize_t r = hn_proxy_parse(data, len, &info, &why);
    is_int(r, len, "%s: whole header parsed", name);
    if (r < 0)
        printf("#   why: %s\n", why);
    is_int(info.is_local, is_local, "%s: is_local", name);
    is_str(fmt_addr(&info.src, info.src_len, a, sizeof(a)), src, "%s: source", name);
    is_str(fmt_addr(&info.dst, info.dst_len, b, sizeof(b)), dst, "%s: destination", name);
    is_int(hn_proxy_needed(data, len), len, "%s: hn_proxy_needed", name);

    memcpy(more, data, len);
    memcpy(more + len, "GET / HTTP/1.1\r\n\r\n", 18);
    is_int(hn_proxy_parse(more, len + 18, &info, &why), len, "%s: stops before what follows", name);
    is_int(hn_proxy_needed(more, len + 18), len, "%s: needed stops before what follows", name);
    free(more);

    check_prefixes(name, data, len, known_at);
}

static void
check_invalid(const char *name, const char *data, size_t len, const char *want_why)
{
    hn_proxy_info_t info;
    const char *why = NULL;
    ssize_t r = hn_proxy_parse(data, len, &info, &why);
    is_int(r, -1, "%s: refused", name);
    is_str(why, want_why, "%s: reason", name);
    check_prefixes(name, data, len, 0);
}

#define V1_VALID(name, s, local, src, dst)                                                         \
    check_valid(name, s, sizeof(s) - 1, local, src, dst, sizeof(s) - 1)
#define V1_INVALID(name, s, why) check_invalid(name, s, sizeof(s) - 1, why)

/* --- v1 -------------------------------------------------------------------- */

static void
test_v1_valid(void)
{
    V1_VALID("v1 TCP4", "PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\n", false, "192.168.0.1:56324",
             "10.0.0.2:443");
    V1_VALID("v1 TCP6", "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n", false, "[2001:db8::1]:65535",
             "[::1]:0");
    V1_VALID("v1 TCP6 longest",
             "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
             false, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
             "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    V1_VALID("v1 leading zero port", "PROXY TCP4 1.2.3.4 5.6.7.8 00080 8\r\n", false, "1.2.3.4:80",
             "5.6.7.8:8");
    V1_VALID("v1 UNKNOWN", "PROXY UNKNOWN\r\n", true, "-", "-");
    V1_VALID("v1 UNKNOWN with addresses", "PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", true, "-", "-");
    /* spec §2.1: the worst case, exactly 107 bytes */
    static const char longest[] = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    is_int(sizeof(longest) - 1, HN_PROXY_V1_MAX, "the spec's worst case is 107 bytes");
    V1_VALID("v1 UNKNOWN 107 bytes", longest, true, "-", "-");
}

static void
test_v1_invalid(void)
{
    V1_INVALID("v1 lowercase", "proxy TCP4 1.2.3.4 5.6.7.8 80 443\r\n", "not a PROXY header");
    V1_INVALID("v1 PROXY without space", "PROXYTCP4 1.2.3.4 5.6.7.8 80 443\r\n",
               "not a PROXY header");
    V1_INVALID("v1 not PROXY", "GET / HTTP/1.1\r\n\r\n", "not a PROXY header");
    V1_INVALID("v1 TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 80 443\r\n",
               "v1 protocol is not TCP4, TCP6 or UNKNOWN");
    V1_INVALID("v1 lowercase tcp4", "PROXY tcp4 1.2.3.4 5.6.7.8 80 443\r\n",
               "v1 protocol is not TCP4, TCP6 or UNKNOWN");
    V1_INVALID("v1 UNKNOWNX", "PROXY UNKNOWNX\r\n", "v1 protocol is not TCP4, TCP6 or UNKNOWN");
    V1_INVALID("v1 TCP4 alone", "PROXY TCP4\r\n", "v1 header without addresses");
    V1_INVALID("v1 double space after PROXY", "PROXY  TCP4 1.2.3.4 5.6.7.8 80 443\r\n",
               "v1 protocol is not TCP4, TCP6 or UNKNOWN");
    V1_INVALID("v1 double space after TCP4", "PROXY TCP4  1.2.3.4 5.6.7.8 80 443\r\n",
               "v1 fields not separated by single spaces");
    V1_INVALID("v1 double space between ports", "PROXY TCP4 1.2.3.4 5.6.7.8 80  443\r\n",
               "v1 fields not separated by single spaces");
    V1_INVALID("v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443 \r\n",
               "v1 header with more than four address fields");
    V1_INVALID("v1 tab", "PROXY TCP4 1.2.3.4\t5.6.7.8 80 443\r\n",
               "v1 header with fewer than four address fields");
    V1_INVALID("v1 three fields", "PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n",
               "v1 header with fewer than four address fields");
    V1_INVALID("v1 five fields", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443 1\r\n",
               "v1 header with more than four address fields");
    V1_INVALID("v1 bad IPv4", "PROXY TCP4 1.2.3.256 5.6.7.8 80 443\r\n",
               "v1 source address invalid for its protocol");
    V1_INVALID("v1 short IPv4", "PROXY TCP4 1.2.3 5.6.7.8 80 443\r\n",
               "v1 source address invalid for its protocol");
    V1_INVALID("v1 IPv6 in TCP4", "PROXY TCP4 1.2.3.4 ::1 80 443\r\n",
               "v1 destination address invalid for its protocol");
    V1_INVALID("v1 IPv4 in TCP6", "PROXY TCP6 1.2.3.4 ::1 80 443\r\n",
               "v1 source address invalid for its protocol");
    V1_INVALID("v1 host name", "PROXY TCP4 localhost 5.6.7.8 80 443\r\n",
               "v1 source address invalid for its protocol");
    V1_INVALID("v1 long address",
               "PROXY TCP6 ::1 0000:0000:0000:0000:0000:0000:0000:0000:0 80 "
               "443\r\n",
               "v1 destination address invalid for its protocol");
    V1_INVALID("v1 port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n",
               "v1 source port not a decimal number in 0-65535");
    V1_INVALID("v1 port 99999", "PROXY TCP4 1.2.3.4 5.6.7.8 80 99999\r\n",
               "v1 destination port not a decimal number in 0-65535");
    V1_INVALID("v1 port six digits", "PROXY TCP4 1.2.3.4 5.6.7.8 000080 443\r\n",
               "v1 source port not a decimal number in 0-65535");
    V1_INVALID("v1 port +80", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 443\r\n",
               "v1 source port not a decimal number in 0-65535");
    V1_INVALID("v1 port -1", "PROXY TCP4 1.2.3.4 5.6.7.8 80 -1\r\n",
               "v1 destination port not a decimal number in 0-65535");
    V1_INVALID("v1 port 8a", "PROXY TCP4 1.2.3.4 5.6.7.8 8a 443\r\n",
               "v1 source port not a decimal number in 0-65535");
    V1_INVALID("v1 LF only", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\n",
               "v1 header ends in LF without CR");
    V1_INVALID("v1 CR CR LF", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\r\n",
               "v1 destination port not a decimal number in 0-65535");
    V1_INVALID("v1 CR then more", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\rGET / HTTP/1.1\r\n",
               "v1 header with more than four address fields");

    /* 108 bytes with the CRLF, and 107 without any: too long */
    static const char too_long[] = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350\r\n";
    V1_INVALID("v1 108 bytes", too_long, "v1 header longer than 107 bytes");
    char no_crlf[200];
    memset(no_crlf, 'x', sizeof(no_crlf));
    memcpy(no_crlf, "PROXY UNKNOWN ", 14);
    check_invalid("v1 no CRLF in 200 bytes", no_crlf, sizeof(no_crlf),
                  "v1 header longer than 107 bytes");
    is_int(hn_proxy_needed(no_crlf, 106), 0, "v1 no CRLF: 106 bytes still need more");
    is_int(hn_proxy_needed(no_crlf, 107), -1, "v1 no CRLF: 107 bytes are refused");

    hn_proxy_info_t info;
    const char *why = NULL;
    is_int(hn_proxy_parse("PROXY TCP4 1.2.3.4 5.6", 22, &info, &why), 0,
           "v1 without CRLF yet needs more");
    is_int(hn_proxy_parse("", 0, &info, &why), 0, "nothing yet needs more");
    is_int(hn_proxy_parse("P", 1, &info, NULL), 0, "why may be NULL");
    is_int(hn_proxy_parse("X", 1, &info, NULL), -1, "why may be NULL on error");
}

/* --- v2 -------------------------------------------------------------------- */

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* The fixed part with ver_cmd, fam and the length of body, then body. */
static size_t
v2_build(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t body_len)
{
    memcpy(out, v2_sig, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(body_len >> 8);
    out[15] = (uint8_t)body_len;
    if (body_len)
        memcpy(out + 16, body, body_len);
    return 16 + body_len;
}

static const uint8_t inet_block[12] = {192, 168, 0, 1, 10, 0, 0, 2, 0xDC, 0x04, 0x01, 0xBB};
static const uint8_t inet6_block[36] = {
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* 2001:db8::1 */
    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* ::1 */
    0xFF, 0xFF, 0x00, 0x50};
/* ALPN "h2", then a NOOP with no value, then AUTHORITY "example.com" */
static const uint8_t tlvs[] = {0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x00, 0x02, 0x00, 0x0B,
                               'e',  'x',  'a',  'm', 'p', 'l',  'e',  '.',  'c',  'o',  'm'};

static void
v2_valid(const char *name, uint8_t ver_cmd, uint8_t fam, const uint8_t *block, size_t block_len,
         const uint8_t *extra, size_t extra_len, bool is_local, const char *src, const char *dst)
{
    uint8_t body[HN_PROXY_V2_MAX_LEN], buf[HN_PROXY_MAX];
    if (block_len)
        memcpy(body, block, block_len);
    if (extra_len)
        memcpy(body + block_len, extra, extra_len);
    size_t n = v2_build(buf, ver_cmd, fam, body, block_len + extra_len);
    check_valid(name, (const char *)buf, n, is_local, src, dst, 16);
}

static void
v2_invalid(const char *name, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t body_len,
           const char *why)
{
    uint8_t buf[HN_PROXY_MAX];
    size_t n = v2_build(buf, ver_cmd, fam, body, body_len);
    check_invalid(name, (const char *)buf, n, why);
}

static void
test_v2_valid(void)
{
    static const uint8_t unix_block[216] = {'/', 'a', [108] = '/', 'b'};
    static const uint8_t junk[5] = {1, 2, 3, 4, 5};

    v2_valid("v2 PROXY TCP4", 0x21, 0x11, inet_block, 12, NULL, 0, false, "192.168.0.1:56324",
             "10.0.0.2:443");
    v2_valid("v2 PROXY TCP4 with TLVs", 0x21, 0x11, inet_block, 12, tlvs, sizeof(tlvs), false,
             "192.168.0.1:56324", "10.0.0.2:443");
    v2_valid("v2 PROXY TCP6", 0x21, 0x21, inet6_block, 36, NULL, 0, false, "[2001:db8::1]:65535",
             "[::1]:80");
    v2_valid("v2 PROXY TCP6 with TLVs", 0x21, 0x21, inet6_block, 36, tlvs, sizeof(tlvs), false,
             "[2001:db8::1]:65535", "[::1]:80");
    v2_valid("v2 LOCAL", 0x20, 0x00, NULL, 0, NULL, 0, true, "-", "-");
    v2_valid("v2 LOCAL ignores family and block", 0x20, 0x12, junk, sizeof(junk), NULL, 0, true,
             "-", "-");
    v2_valid("v2 LOCAL with an IPv4 block", 0x20, 0x11, inet_block, 12, NULL, 0, true, "-", "-");
    v2_valid("v2 PROXY UNSPEC", 0x21, 0x00, NULL, 0, NULL, 0, true, "-", "-");
    v2_valid("v2 PROXY UNSPEC with bytes", 0x21, 0x00, junk, sizeof(junk), NULL, 0, true, "-", "-");
    v2_valid("v2 PROXY UNIX stream", 0x21, 0x31, unix_block, 216, NULL, 0, true, "-", "-");

    /* the largest length we accept: a NOOP TLV filling it */
    static uint8_t big[HN_PROXY_V2_MAX_LEN - 12];
    size_t v = sizeof(big) - 3;
    big[0] = 0x04;
    big[1] = (uint8_t)(v >> 8);
    big[2] = (uint8_t)v;
    v2_valid("v2 4096-byte body", 0x21, 0x11, inet_block, 12, big, sizeof(big), false,
             "192.168.0.1:56324", "10.0.0.2:443");
    is_int(HN_PROXY_MAX, 16 + 4096, "HN_PROXY_MAX");
}

static void
test_v2_invalid(void)
{
    uint8_t buf[64], tl[20];
    hn_proxy_info_t info;
    const char *why = NULL;

    size_t n = v2_build(buf, 0x21, 0x11, inet_block, 12);
    buf[5] = 0x0C;
    check_invalid("v2 bad signature", (const char *)buf, n, "not a PROXY header");
    is_int(hn_proxy_needed((const char *)buf, 5), 0, "v2 bad signature: 5 bytes still fine");
    is_int(hn_proxy_needed((const char *)buf, 6), -1, "v2 bad signature: refused at byte 6");

    n = v2_build(buf, 0x21, 0x11, inet_block, 12);
    buf[11] = 0x0D;
    check_invalid("v2 bad signature end", (const char *)buf, n, "not a PROXY header");

    v2_invalid("v2 version 1", 0x11, 0x11, inet_block, 12, "v2 header with a version other than 2");
    v2_invalid("v2 version 3", 0x31, 0x11, inet_block, 12, "v2 header with a version other than 2");
    v2_invalid("v2 version 0 LOCAL", 0x00, 0x00, NULL, 0, "v2 header with a version other than 2");
    n = v2_build(buf, 0x11, 0x11, inet_block, 12);
    is_int(hn_proxy_needed((const char *)buf, 12), 0, "v2 wrong version: 12 bytes still fine");
    is_int(hn_proxy_needed((const char *)buf, 13), -1, "v2 wrong version: refused at byte 13");

    v2_invalid("v2 command 2", 0x22, 0x11, inet_block, 12, "v2 command is neither LOCAL nor PROXY");
    v2_invalid("v2 command F", 0x2F, 0x11, inet_block, 12, "v2 command is neither LOCAL nor PROXY");
    v2_invalid("v2 UDP4", 0x21, 0x12, inet_block, 12, "v2 datagram transport on a stream listener");
    v2_invalid("v2 UDP6", 0x21, 0x22, inet6_block, 36,
               "v2 datagram transport on a stream listener");
    v2_invalid("v2 UNIX dgram", 0x21, 0x32, NULL, 0, "v2 datagram transport on a stream listener");
    v2_invalid("v2 family 4", 0x21, 0x41, inet_block, 12,
               "v2 undefined address family or transport");
    v2_invalid("v2 transport 3", 0x21, 0x13, inet_block, 12,
               "v2 undefined address family or transport");
    v2_invalid("v2 INET UNSPEC transport", 0x21, 0x10, inet_block, 12,
               "v2 undefined address family or transport");
    v2_invalid("v2 UNSPEC STREAM", 0x21, 0x01, NULL, 0, "v2 undefined address family or transport");
    v2_invalid("v2 truncated IPv4 block", 0x21, 0x11, inet_block, 11,
               "v2 address block shorter than its family needs");
    v2_invalid("v2 IPv4 block in TCP6", 0x21, 0x21, inet_block, 12,
               "v2 address block shorter than its family needs");
    v2_invalid("v2 empty TCP4", 0x21, 0x11, NULL, 0,
               "v2 address block shorter than its family needs");
    v2_invalid("v2 truncated UNIX block", 0x21, 0x31, inet6_block, 36,
               "v2 address block shorter than its family needs");

    memcpy(tl, inet_block, 12);
    memcpy(tl + 12, (const uint8_t[]){0x01, 0x00, 0x05, 'h', '2'}, 5);
    v2_invalid("v2 TLV overrun", 0x21, 0x11, tl, 17, "v2 TLV longer than the header");
    memcpy(tl + 12, (const uint8_t[]){0x04, 0x00}, 2);
    v2_invalid("v2 TLV header truncated", 0x21, 0x11, tl, 14, "v2 TLV header truncated");

    /* a length above the cap is refused as soon as it is read */
    n = v2_build(buf, 0x21, 0x11, inet_block, 12);
    buf[14] = 0x10;
    buf[15] = 0x01;
    is_int(hn_proxy_needed((const char *)buf, 15), 0, "v2 4097: 15 bytes still fine");
    is_int(hn_proxy_needed((const char *)buf, 16), -1, "v2 4097: refused at 16 bytes");
    is_int(hn_proxy_parse((const char *)buf, 16, &info, &why), -1, "v2 4097: parse refuses");
    is_str(why, "v2 header longer than 4096 bytes after its fixed part", "v2 4097: reason");
    buf[14] = 0xFF;
    buf[15] = 0xFF;
    is_int(hn_proxy_needed((const char *)buf, 16), -1, "v2 65535: refused at 16 bytes");

    /* a whole fixed part with the address block still to come */
    n = v2_build(buf, 0x21, 0x21, inet6_block, 36);
    is_int(hn_proxy_needed((const char *)buf, 16), 52, "v2 TCP6: needed knows 52 at 16 bytes");
    is_int(hn_proxy_parse((const char *)buf, 51, &info, &why), 0, "v2 TCP6: 51 bytes need more");
}

int
main(void)
{
    test_v1_valid();
    test_v1_invalid();
    test_v2_valid();
    test_v2_invalid();
    return tap_done();
}
