/*
 * test_ws_codec.c - unit tests for worker/ws_codec.c: UTF-8, close codes,
 * frame headers, and the decoder against every receive rule of RFC 6455
 * and RFC 7692, fed whole and one byte at a time.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "worker/ws_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "tests/unit/tap.h"

/* What the decoder reported, in order, as text: "T:hello" "B:3" "P:x"
 * "O:" "C:1000:bye", separated by "|". */
typedef struct seen {
    char log[4096];
    size_t len;
} seen_t;

static void
seen_add(seen_t *s, const char *fmt, const char *data, size_t len, int code)
{
    char item[600];
    int k;
    if (fmt[0] == 'C')
        k = snprintf(item, sizeof(item), "C:%d:%.*s|", code, (int)len, data);
    else if (fmt[0] == 'B')
        k = snprintf(item, sizeof(item), "B:%zu|", len);
    else
        k = snprintf(item, sizeof(item), "%c:%.*s|", fmt[0], (int)HN_MIN(len, (size_t)500), data);
    if (s->len + (size_t)k < sizeof(s->log)) {
        memcpy(s->log + s->len, item, (size_t)k + 1);
        s->len += (size_t)k;
    }
}

static bool
on_message(void *ud, const char *data, size_t len, bool is_text)
{
    seen_add(ud, is_text ? "T" : "B", data, len, 0);
    return true;
}

static bool
on_ping(void *ud, const char *data, size_t len)
{
    seen_add(ud, "P", data, len, 0);
    return true;
}

static bool
on_pong(void *ud, const char *data, size_t len)
{
    seen_add(ud, "O", data, len, 0);
    return true;
}

static bool
on_close(void *ud, int code, const char *reason, size_t len)
{
    seen_add(ud, "C", reason, len, code);
    return true;
}

static const hn_ws_events_t events = {on_message, on_ping, on_pong, on_close};

/* A client frame: masked with a fixed key. flags: FIN 0x80, RSV 0x70. */
static size_t
frame(uint8_t *out, uint8_t b0, const void *payload, size_t len, bool masked)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = 0;
    out[h++] = b0;
    uint8_t mbit = masked ? 0x80 : 0;
    if (len < 126) {
        out[h++] = (uint8_t)(mbit | len);
    } else if (len <= 0xFFFF) {
        out[h++] = mbit | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = mbit | 127;
        for (int i = 0; i < 8; i++)
            out[h++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    if (masked) {
        memcpy(out + h, key, 4);
        h += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[h + i] = (uint8_t)(((const uint8_t *)payload)[i] ^ (masked ? key[i & 3] : 0));
    return h + len;
}

/* Decode buf whole, or one byte at a time; the result code and what was
 * seen. */
static int
decode(const uint8_t *buf, size_t len, bool bytewise, uint64_t max, bool deflate, seen_t *s)
{
    hn_ws_decoder_t d;
    hn_ws_decoder_init(&d, max, deflate);
    memset(s, 0, sizeof(*s));
    int rc = 0;
    if (bytewise) {
        for (size_t i = 0; i < len && rc == 0; i++)
            rc = hn_ws_decode(&d, (const char *)buf + i, 1, &events, s);
    } else {
        rc = hn_ws_decode(&d, (const char *)buf, len, &events, s);
    }
    hn_ws_decoder_free(&d);
    return rc;
}

static void
both(const uint8_t *buf, size_t len, uint64_t max, bool deflate, int want_rc, const char *want,
     const char *name)
{
    seen_t s;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        int rc = decode(buf, len, bytewise, max, deflate, &s);
        is_int(rc, want_rc, "%s (%s): result", name, bytewise ? "byte by byte" : "whole");
        is_str(s.log, want, "%s (%s): events", name, bytewise ? "byte by byte" : "whole");
    }
}

static void
test_utf8(void)
{
    ok(hn_ws_utf8_valid("", 0), "empty is UTF-8");
    ok(hn_ws_utf8_valid("plain ascii text, longer than eight", 35), "ASCII");
    ok(hn_ws_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\x9d", 9), "2, 3 and 4 byte forms");
    ok(hn_ws_utf8_valid("\xf4\x8f\xbf\xbf", 4), "U+10FFFF");
    ok(!hn_ws_utf8_valid("\xc0\x80", 2), "overlong NUL");
    ok(!hn_ws_utf8_valid("\xe0\x80\xaf", 3), "overlong 3-byte form");
    ok(!hn_ws_utf8_valid("\xed\xa0\x80", 3), "surrogate U+D800");
    ok(!hn_ws_utf8_valid("\xf4\x90\x80\x80", 4), "above U+10FFFF");
    ok(!hn_ws_utf8_valid("\xf5\x80\x80\x80", 4), "F5 lead byte");
    ok(!hn_ws_utf8_valid("\xe2\x82", 2), "truncated sequence");
    ok(!hn_ws_utf8_valid("abc\x80", 4), "lone continuation byte");
    ok(!hn_ws_utf8_valid("abcdefgh\xff", 9), "FF after an ASCII run");
}

static void
test_close_codes(void)
{
    ok(hn_ws_close_code_valid(1000) && hn_ws_close_code_valid(1003) &&
           hn_ws_close_code_valid(1007) && hn_ws_close_code_valid(1014) &&
           hn_ws_close_code_valid(3000) && hn_ws_close_code_valid(4999),
       "codes an endpoint may send");
    ok(!hn_ws_close_code_valid(999) && !hn_ws_close_code_valid(1004) &&
           !hn_ws_close_code_valid(1005) && !hn_ws_close_code_valid(1006) &&
           !hn_ws_close_code_valid(1015) && !hn_ws_close_code_valid(2999) &&
           !hn_ws_close_code_valid(5000),
       "reserved and out-of-range codes");
}

static void
test_header(void)
{
    uint8_t h[HN_WS_HEADER_MAX];
    is_int(hn_ws_frame_header(h, HN_WS_OP_TEXT, false, 125), 2, "125 bytes: 2-byte header");
    ok(h[0] == 0x81 && h[1] == 125, "FIN, text, unmasked");
    is_int(hn_ws_frame_header(h, HN_WS_OP_BINARY, true, 126), 4, "126 bytes: 16-bit length");
    ok(h[0] == 0xC2 && h[1] == 126 && h[2] == 0 && h[3] == 126, "RSV1 for compressed");
    is_int(hn_ws_frame_header(h, HN_WS_OP_BINARY, false, 65535), 4, "65535: 16-bit length");
    is_int(hn_ws_frame_header(h, HN_WS_OP_BINARY, false, 65536), 10, "65536: 64-bit length");
    ok(h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0, "64-bit length big-endian");
}

static void
test_decoder(void)
{
    uint8_t b[70000 + 64];
    size_t n;

    n = frame(b, 0x81, "hello", 5, true);
    both(b, n, 1 << 20, false, 0, "T:hello|", "one text frame");

    n = frame(b, 0x82, "\x00\x01\x02", 3, true);
    both(b, n, 1 << 20, false, 0, "B:3|", "one binary frame");

    n = frame(b, 0x01, "hel", 3, true);
    n += frame(b + n, 0x89, "p1", 2, true);
    n += frame(b + n, 0x00, "lo ", 3, true);
    n += frame(b + n, 0x80, "world", 5, true);
    both(b, n, 1 << 20, false, 0, "P:p1|T:hello world|", "fragments with a ping between");

    n = frame(b, 0x81, "a", 1, true);
    n += frame(b + n, 0x8A, "", 0, true);
    n += frame(b + n, 0x81, "", 0, true);
    both(b, n, 1 << 20, false, 0, "T:a|O:|T:|", "pong and an empty message");

    n = frame(b, 0x81, "hello", 5, false);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "unmasked frame");

    n = frame(b, 0x83, "x", 1, true);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "opcode 3");
    n = frame(b, 0x8B, "x", 1, true);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "opcode 0xB");

    n = frame(b, 0xA1, "x", 1, true);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "RSV2 set");
    n = frame(b, 0xC1, "x", 1, true);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "RSV1 without permessage-deflate");

    memset(b + 200, 'p', 126);
    n = frame(b, 0x89, b + 200, 126, true);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "ping of 126 bytes");
    n = frame(b, 0x09, "x", 1, true);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "fragmented ping");

    n = frame(b, 0x80, "x", 1, true);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "continuation without a message");
    n = frame(b, 0x01, "x", 1, true);
    n += frame(b + n, 0x81, "y", 1, true);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "new message inside a fragmented one");

    n = frame(b, 0x01, "ok", 2, true);
    n += frame(b + n, 0x00, "\xff", 1, true);
    size_t before_end = n;
    n += frame(b + n, 0x80, "end", 3, true);
    both(b, before_end, 1 << 20, false, HN_WS_INVALID_DATA, "",
         "bad UTF-8 fails at its fragment, before the last");
    n = frame(b, 0x01, "\xe2\x82", 2, true);
    n += frame(b + n, 0x80, "\xac", 1, true);
    both(b, n, 1 << 20, false, 0, "T:\xe2\x82\xac|", "a character split across fragments");
    n = frame(b, 0x81, "\xe2\x82", 2, true);
    both(b, n, 1 << 20, false, HN_WS_INVALID_DATA, "", "text ending inside a character");

    memset(b + 1000, 'x', 2000);
    n = frame(b, 0x82, b + 1000, 2000, true);
    both(b, n, 1000, false, HN_WS_TOO_BIG, "", "frame over the limit");
    n = frame(b, 0x02, b + 1000, 600, true);
    n += frame(b + n, 0x80, b + 1000, 600, true);
    both(b, n, 1000, false, HN_WS_TOO_BIG, "", "fragments over the limit");
    n = frame(b, 0x02, b + 1000, 500, true);
    n += frame(b + n, 0x80, b + 1000, 500, true);
    both(b, n, 1000, false, 0, "B:1000|", "fragments at the limit");

    b[0] = 0x82;
    b[1] = 0x80 | 127;
    memset(b + 2, 0xff, 8);
    memset(b + 10, 0, 4);
    both(b, 14, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "64-bit length with the top bit");

    static uint8_t big[70000];
    memset(big, 'y', sizeof(big));
    n = frame(b, 0x82, big, sizeof(big), true);
    both(b, n, 1 << 20, false, 0, "B:70000|", "64-bit length frame");

    n = frame(b, 0x88, "\x03\xe8" "bye", 5, true);
    n += frame(b + n, 0x81, "after", 5, true);
    both(b, n, 1 << 20, false, 0, "C:1000:bye|", "close with a reason; input after it ignored");
    n = frame(b, 0x88, "", 0, true);
    both(b, n, 1 << 20, false, 0, "C:1005:|", "close without a code");
    n = frame(b, 0x88, "\x03", 1, true);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "close with one byte");
    n = frame(b, 0x88, "\x03\xed", 2, true);
    both(b, n, 1 << 20, false, HN_WS_PROTOCOL_ERROR, "", "close code 1005 on the wire");
    n = frame(b, 0x88, "\x0f\xa0\xff", 3, true);
    both(b, n, 1 << 20, false, HN_WS_INVALID_DATA, "", "close reason not UTF-8");
}

static void
test_deflate(void)
{
    static char text[100000];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + (i * 7 % 13));
    size_t clen;
    const char *c = hn_ws_deflate(text, sizeof(text), 15, &clen);
    ok(c != NULL && clen < sizeof(text) / 10, "deflate compresses repetitive text");
    uint8_t *b = malloc(clen + 64);
    size_t n = frame(b, 0xC1, c, clen, true);
    seen_t s;
    is_int(decode(b, n, false, 1 << 20, true, &s), 0, "compressed message inflates");
    char want[64];
    snprintf(want, sizeof(want), "T:%.20s", text);
    ok(strncmp(s.log, want, strlen(want)) == 0, "inflated text is the original");
    is_int(decode(b, n, true, 1 << 20, true, &s), 0, "compressed message byte by byte");
    is_int(decode(b, n, false, 1 << 20, false, &s), HN_WS_PROTOCOL_ERROR,
           "RSV1 refused when not negotiated");
    is_int(decode(b, n, false, 50000, true, &s), HN_WS_TOO_BIG,
           "a small compressed message inflating over the limit (bomb)");
    free(b);

    /* fragments of a compressed message: RSV1 on the first only */
    c = hn_ws_deflate("hello hello hello", 17, 10, &clen);
    uint8_t f[256];
    n = frame(f, 0x41, c, clen / 2, true);
    n += frame(f + n, 0x80, c + clen / 2, clen - clen / 2, true);
    both(f, n, 1 << 20, true, 0, "T:hello hello hello|", "compressed fragments, window 10");
    n = frame(f, 0x41, c, clen / 2, true);
    n += frame(f + n, 0xC0, c + clen / 2, clen - clen / 2, true);
    both(f, n, 1 << 20, true, HN_WS_PROTOCOL_ERROR, "", "RSV1 on a continuation");

    n = frame(f, 0xC1, "\xff\xff\xff\xff", 4, true);
    both(f, n, 1 << 20, true, HN_WS_INVALID_DATA, "", "invalid compressed data");
}

int
main(void)
{
    test_utf8();
    test_close_codes();
    test_header();
    test_decoder();
    test_deflate();
    return tap_done();
}
