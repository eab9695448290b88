/*
 * fuzz_ws.c - the WebSocket frame decoder (worker/ws_codec.c) on arbitrary
 * client bytes: framing, masking, fragments, control frames, close codes,
 * UTF-8 and permessage-deflate, with a small message limit so the 1009
 * paths (long frames, long fragmented messages, decompression bombs) are in
 * reach of short inputs.
 *
 * Input: byte 0 chooses the decoder (bit 0: deflate negotiated; bits 1-2:
 * max_message 125, 1000, 4096 or 65536 bytes; bit 3: the message callback
 * asks to stop after the first message, as a closing connection does),
 * byte 1 seeds the sizes of the pieces the rest is fed in, so one frame
 * arrives split at every possible place over a run.
 *
 * Checked for every input, beyond "no crash, leak or hang":
 *   - what the decoder delivers respects its contract: messages no longer
 *     than max_message, text messages and close reasons valid UTF-8, close
 *     codes ones a peer may send, control payloads of at most 125 bytes,
 *     and a failure code is 1002, 1007, 1009 or 1011 with a reason;
 *   - hn_ws_utf8_valid agrees with a plain RFC 3629 validator on every
 *     message;
 *   - each delivered message, framed again as a client would (masked;
 *     whole and in two fragments; deflated with hn_ws_deflate when deflate
 *     is on and it fits), decodes to the same message.
 */
#include "fuzz/fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "worker/ws_codec.h"

/* Messages kept for the round trip: at most this many per input. */
#define KEEP_MAX 8

typedef struct seen {
    uint64_t max_message;
    bool stop_after_message;
    size_t n_messages;
    struct {
        char *data;
        size_t len;
        bool is_text;
    } keep[KEEP_MAX];
    size_t n_keep;
    /* the round trip's decoder reports here */
    const char *expect;
    size_t expect_len;
    bool expect_text;
    int got;
} seen_t;

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_ws: %s\n", what);
    abort();
}

/* RFC 3629 §4, written as the table reads, to compare with the codec's
 * state machine. */
static bool
utf8_reference(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (b <= 0x7F) {
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b == 0xE0) {
            need = 2, lo = 0xA0;
        } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
            need = 2;
        } else if (b == 0xED) {
            need = 2, hi = 0x9F;
        } else if (b == 0xF0) {
            need = 3, lo = 0x90;
        } else if (b >= 0xF1 && b <= 0xF3) {
            need = 3;
        } else if (b == 0xF4) {
            need = 3, hi = 0x8F;
        } else {
            return false;
        }
        if (n - i - 1 < need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += need + 1;
    }
    return true;
}

static void
check_utf8(const char *data, size_t len)
{
    if (hn_ws_utf8_valid(data, len) != utf8_reference((const uint8_t *)data, len))
        fail("hn_ws_utf8_valid disagrees with RFC 3629");
}

static bool
on_message(void *ud, const char *data, size_t len, bool is_text)
{
    seen_t *s = ud;
    if (len > s->max_message)
        fail("a message longer than max_message");
    check_utf8(data, len);
    if (is_text && !hn_ws_utf8_valid(data, len))
        fail("a text message that is not UTF-8");
    if (s->n_keep < KEEP_MAX) {
        /* data is borrowed (a worker-wide buffer): copy it */
        char *copy = malloc(len ? len : 1);
        if (copy == NULL)
            abort();
        memcpy(copy, data, len);
        s->keep[s->n_keep].data = copy;
        s->keep[s->n_keep].len = len;
        s->keep[s->n_keep].is_text = is_text;
        s->n_keep++;
    }
    s->n_messages++;
    return !s->stop_after_message;
}

static bool
on_control(void *ud, const char *data, size_t len)
{
    (void)ud;
    (void)data;
    if (len > 125)
        fail("a control payload over 125 bytes");
    return true;
}

static bool
on_close(void *ud, int code, const char *reason, size_t len)
{
    (void)ud;
    if (code != HN_WS_NO_STATUS && !hn_ws_close_code_valid(code))
        fail("a close code a peer may not send");
    if (code == HN_WS_NO_STATUS && len != 0)
        fail("a close reason without a code");
    if (len > 123 || !hn_ws_utf8_valid(reason, len))
        fail("a close reason too long or not UTF-8");
    return true;
}

static const hn_ws_events_t events = {
    .message = on_message,
    .ping = on_control,
    .pong = on_control,
    .close = on_close,
};

/* The round trip's events: exactly the one message expected. */
static bool
on_echo(void *ud, const char *data, size_t len, bool is_text)
{
    seen_t *s = ud;
    if (s->got++ || len != s->expect_len || is_text != s->expect_text ||
        (len && memcmp(data, s->expect, len) != 0))
        fail("a message framed again does not decode to itself");
    return true;
}

static bool
on_echo_other(void *ud, const char *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
    fail("a message framed again decodes to a control frame");
    return false;
}

static bool
on_echo_close(void *ud, int code, const char *reason, size_t len)
{
    (void)code;
    return on_echo_other(ud, reason, len);
}

static const hn_ws_events_t echo_events = {
    .message = on_echo,
    .ping = on_echo_other,
    .pong = on_echo_other,
    .close = on_echo_close,
};

/* Append one client frame (masked with a fixed key) to out. */
static size_t
put_frame(uint8_t *out, int opcode, bool fin, bool rsv1, const char *data, size_t len)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = hn_ws_frame_header(out, opcode, rsv1, len);
    if (!fin)
        out[0] &= 0x7F;
    out[1] |= 0x80;
    memcpy(out + h, key, 4);
    for (size_t i = 0; i < len; i++)
        out[h + 4 + i] = (uint8_t)data[i] ^ key[i & 3];
    return h + 4 + len;
}

/* Frame msg as a client would, whole and in two fragments, and decode
 * both with a fresh decoder. */
static void
round_trip(seen_t *s, bool deflate, const char *msg, size_t len, bool is_text)
{
    const char *payload = msg;
    size_t plen = len;
    bool compressed = false;
    if (deflate) {
        payload = hn_ws_deflate(msg, len, 15, &plen);
        if (payload == NULL)
            fail("hn_ws_deflate failed");
        compressed = true;
        if (plen > s->max_message)
            return; /* larger once deflated: a 1009 is right */
    }
    uint8_t *frames = malloc(2 * (plen + HN_WS_HEADER_MAX + 4));
    if (frames == NULL)
        abort();
    int opcode = is_text ? HN_WS_OP_TEXT : HN_WS_OP_BINARY;
    for (int split = 0; split < 2; split++) {
        size_t n, half = plen / 2;
        if (split == 0) {
            n = put_frame(frames, opcode, true, compressed, payload, plen);
        } else {
            n = put_frame(frames, opcode, false, compressed, payload, half);
            n += put_frame(frames + n, HN_WS_OP_CONT, true, false, payload + half, plen - half);
        }
        hn_ws_decoder_t d;
        hn_ws_decoder_init(&d, s->max_message, deflate);
        s->expect = msg;
        s->expect_len = len;
        s->expect_text = is_text;
        s->got = 0;
        int rc = hn_ws_decode(&d, (const char *)frames, n, &echo_events, s);
        hn_ws_decoder_free(&d);
        if (rc != 0 || s->got != 1) {
            fprintf(stderr, "fuzz_ws: rc %d (%s), %d messages, deflate %d, split %d\n", rc,
                    d.why ? d.why : "-", s->got, deflate, split);
            fail("a message framed again does not decode");
        }
    }
    free(frames);
}

/* A small xorshift: the piece sizes, the same for the same input. */
static uint32_t
next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

int
HN_FUZZ_ENTRY(ws)(const uint8_t *data, size_t size)
{
    static const uint64_t limits[4] = {125, 1000, 4096, 65536};
    if (size < 2)
        return 0;
    bool deflate = data[0] & 1;
    seen_t s = {.max_message = limits[(data[0] >> 1) & 3],
                .stop_after_message = (data[0] >> 3) & 1};
    uint32_t rnd = 0x9e3779b9u ^ data[1];
    const char *p = (const char *)data + 2, *end = (const char *)data + size;

    hn_ws_decoder_t d;
    hn_ws_decoder_init(&d, s.max_message, deflate);
    while (p < end) {
        size_t left = (size_t)(end - p), n;
        uint32_t r = next_rand(&rnd);
        /* mostly small pieces (frame headers split), sometimes the rest */
        switch (r & 3) {
        case 0:
            n = left;
            break;
        case 1:
            n = 1;
            break;
        default:
            n = 1 + (r >> 8) % (left < 64 ? left : 64);
            break;
        }
        n = HN_MIN(n, left);
        size_t before = s.n_messages;
        int rc = hn_ws_decode(&d, p, n, &events, &s);
        p += n;
        if (rc != 0) {
            if (rc != HN_WS_PROTOCOL_ERROR && rc != HN_WS_INVALID_DATA && rc != HN_WS_TOO_BIG &&
                rc != HN_WS_INTERNAL_ERROR)
                fail("an unexpected close code");
            if (d.why == NULL || !d.is_closed)
                fail("a failure without a reason, or not closed");
            break;
        }
        if (d.is_closed || (s.stop_after_message && s.n_messages > before))
            break; /* the connection is closing: later bytes are not read */
    }
    hn_ws_decoder_free(&d);

    for (size_t i = 0; i < s.n_keep; i++) {
        round_trip(&s, false, s.keep[i].data, s.keep[i].len, s.keep[i].is_text);
        if (deflate)
            round_trip(&s, true, s.keep[i].data, s.keep[i].len, s.keep[i].is_text);
        free(s.keep[i].data);
    }
    return 0;
}
