/*
 * ws_codec.c - WebSocket frames and permessage-deflate (see ws_codec.h).
 * Written here rather than with wslay: server frames are unmasked, so a
 * message goes out as a header in front of the app's bytes with no queue
 * of our own, and received messages are unmasked straight into the buffer
 * they are delivered from; wslay copies every outgoing message into a
 * queue it allocates and leaves UTF-8 and compression to the caller.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/ws_codec.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "shared/mem.h"

/* --- UTF-8 ----------------------------------------------------------------- */

/* State between bytes: 0 at a character boundary, else the continuation
 * bytes still needed (<< 16) and the range the next one must fall in
 * (lo << 8 | hi), which is how overlong forms, surrogates and code points
 * above U+10FFFF are refused (RFC 3629 §4). */
#define UTF8_BAD UINT32_MAX
#define UTF8_NEXT(need, lo, hi) (((uint32_t)(need) << 16) | ((uint32_t)(lo) << 8) | (hi))

static uint32_t
utf8_feed(uint32_t st, const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (st == 0) {
            /* ASCII, eight bytes at a time */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080ULL)
                    break;
                i += 8;
            }
            if (i >= n)
                break;
            uint8_t b = s[i++];
            if (b < 0x80)
                continue;
            if (b >= 0xC2 && b <= 0xDF)
                st = UTF8_NEXT(1, 0x80, 0xBF);
            else if (b == 0xE0)
                st = UTF8_NEXT(2, 0xA0, 0xBF);
            else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
                st = UTF8_NEXT(2, 0x80, 0xBF);
            else if (b == 0xED)
                st = UTF8_NEXT(2, 0x80, 0x9F);
            else if (b == 0xF0)
                st = UTF8_NEXT(3, 0x90, 0xBF);
            else if (b >= 0xF1 && b <= 0xF3)
                st = UTF8_NEXT(3, 0x80, 0xBF);
            else if (b == 0xF4)
                st = UTF8_NEXT(3, 0x80, 0x8F);
            else
                return UTF8_BAD;
        } else {
            uint8_t b = s[i++];
            if (b < ((st >> 8) & 0xFF) || b > (st & 0xFF))
                return UTF8_BAD;
            uint32_t need = (st >> 16) - 1;
            st = need ? UTF8_NEXT(need, 0x80, 0xBF) : 0;
        }
    }
    return st;
}

bool
hn_ws_utf8_valid(const char *data, size_t len)
{
    return utf8_feed(0, (const uint8_t *)data, len) == 0;
}

bool
hn_ws_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* --- worker-wide buffers and zlib streams ---------------------------------- */

typedef struct scratch {
    char *p;
    size_t cap;
} scratch_t;

/* unmasked payloads; inflated messages; deflated messages */
static scratch_t s_unmasked, s_inflated, s_deflated;

static char *
scratch_get(scratch_t *s, size_t need)
{
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        while (cap < need)
            cap *= 2;
        free(s->p);
        s->p = hn_xmalloc(cap);
        s->cap = cap;
    }
    return s->p;
}

static z_stream *inflater;
static z_stream *deflaters[16]; /* by window bits, 9 to 15 */

static void
unmask_copy(char *dst, const char *src, size_t n, const uint8_t mask[4], uint64_t pos)
{
    uint8_t m[8];
    for (int k = 0; k < 8; k++)
        m[k] = mask[(pos + (uint64_t)k) & 3];
    uint64_t m8;
    memcpy(&m8, m, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= m8;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = (char)(src[i] ^ m[i & 7]);
}

/* Inflate one whole message (RFC 7692 §7.2.2: the sender removed the
 * trailing 00 00 ff ff of a sync flush; it is put back). Output beyond
 * max is a decompression bomb: the buffer never grows past max + 1. 0, or
 * a close code. */
static int
inflate_message(hn_ws_decoder_t *d, const char *in, size_t len, const char **out,
                size_t *out_len)
{
    static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
    if (inflater == NULL) {
        z_stream *z = hn_xcalloc(1, sizeof(*z));
        if (inflateInit2(z, -15) != Z_OK) {
            free(z);
            d->why = "zlib could not start";
            return HN_WS_INTERNAL_ERROR;
        }
        inflater = z;
    } else {
        inflateReset(inflater);
    }
    uint64_t limit = d->max_message;
    size_t have = 0;
    bool ended = false;
    for (int part = 0; part < 2 && !ended; part++) {
        inflater->next_in = (Bytef *)(uintptr_t)(part ? tail : (const unsigned char *)in);
        inflater->avail_in = (uInt)(part ? sizeof(tail) : len);
        for (;;) {
            if (have == s_inflated.cap) {
                size_t cap = s_inflated.cap ? s_inflated.cap * 2 : 16384;
                if (cap > limit + 1)
                    cap = (size_t)limit + 1;
                if (cap <= have)
                    cap = have + 1;
                s_inflated.p = hn_xrealloc(s_inflated.p, cap);
                s_inflated.cap = cap;
            }
            inflater->next_out = (Bytef *)s_inflated.p + have;
            inflater->avail_out = (uInt)(s_inflated.cap - have);
            int rc = inflate(inflater, Z_SYNC_FLUSH);
            have = s_inflated.cap - inflater->avail_out;
            if (have > limit) {
                d->why = "message over websocket_max_message_size once inflated";
                return HN_WS_TOO_BIG;
            }
            if (rc == Z_STREAM_END) {
                ended = true;
                break;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                d->why = "invalid compressed data";
                return HN_WS_INVALID_DATA;
            }
            /* inflate stops when the input is used up or the output full */
            if (inflater->avail_out > 0)
                break;
        }
    }
    *out = s_inflated.p;
    *out_len = have;
    return 0;
}

const char *
hn_ws_deflate(const char *data, size_t len, int window_bits, size_t *out_len)
{
    if (window_bits < 9 || window_bits > 15)
        window_bits = 15;
    z_stream *z = deflaters[window_bits];
    if (z == NULL) {
        z = hn_xcalloc(1, sizeof(*z));
        if (deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            free(z);
            return NULL;
        }
        deflaters[window_bits] = z;
    } else {
        deflateReset(z);
    }
    size_t cap = deflateBound(z, len) + 16;
    char *out = scratch_get(&s_deflated, cap);
    z->next_in = (Bytef *)(uintptr_t)data;
    z->avail_in = (uInt)len;
    z->next_out = (Bytef *)out;
    z->avail_out = (uInt)s_deflated.cap;
    if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in != 0)
        return NULL;
    size_t n = s_deflated.cap - z->avail_out;
    if (n >= 4 && memcmp(out + n - 4, "\x00\x00\xff\xff", 4) == 0)
        n -= 4;
    *out_len = n;
    return out;
}

/* --- the decoder ----------------------------------------------------------- */

void
hn_ws_decoder_init(hn_ws_decoder_t *d, uint64_t max_message, bool deflate)
{
    memset(d, 0, sizeof(*d));
    d->max_message = max_message;
    d->deflate = deflate;
}

static void
message_free(hn_ws_decoder_t *d)
{
    free(d->msg);
    d->msg = NULL;
    d->msg_len = d->msg_cap = 0;
    d->msg_opcode = 0;
}

void
hn_ws_decoder_free(hn_ws_decoder_t *d)
{
    message_free(d);
}

static int
fail(hn_ws_decoder_t *d, int code, const char *why)
{
    d->is_closed = true;
    d->why = why;
    message_free(d);
    return code;
}

static size_t
header_size(const hn_ws_decoder_t *d)
{
    uint8_t len7 = d->hdr[1] & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}

static bool
is_control(uint8_t opcode)
{
    return opcode & 0x8;
}

/* The first two bytes are in: everything they alone can break. */
static int
check_start(hn_ws_decoder_t *d)
{
    uint8_t b0 = d->hdr[0], b1 = d->hdr[1];
    uint8_t opcode = b0 & 0x0F;
    bool rsv1 = b0 & 0x40;
    if (!(b1 & 0x80))
        return fail(d, HN_WS_PROTOCOL_ERROR, "unmasked client frame");
    if (b0 & 0x30)
        return fail(d, HN_WS_PROTOCOL_ERROR, "RSV2 or RSV3 set");
    switch (opcode) {
    case HN_WS_OP_CONT:
        if (d->msg_opcode == 0)
            return fail(d, HN_WS_PROTOCOL_ERROR, "continuation frame without a message");
        if (rsv1)
            return fail(d, HN_WS_PROTOCOL_ERROR, "RSV1 on a continuation frame");
        break;
    case HN_WS_OP_TEXT:
    case HN_WS_OP_BINARY:
        if (d->msg_opcode != 0)
            return fail(d, HN_WS_PROTOCOL_ERROR, "new message inside a fragmented one");
        if (rsv1 && !d->deflate)
            return fail(d, HN_WS_PROTOCOL_ERROR, "RSV1 set without permessage-deflate");
        break;
    case HN_WS_OP_CLOSE:
    case HN_WS_OP_PING:
    case HN_WS_OP_PONG:
        if (!(b0 & 0x80))
            return fail(d, HN_WS_PROTOCOL_ERROR, "fragmented control frame");
        if ((b1 & 0x7F) > 125)
            return fail(d, HN_WS_PROTOCOL_ERROR, "control frame over 125 bytes");
        if (rsv1)
            return fail(d, HN_WS_PROTOCOL_ERROR, "RSV1 on a control frame");
        break;
    default:
        return fail(d, HN_WS_PROTOCOL_ERROR, "unknown opcode");
    }
    return 0;
}

/* The whole header is in: its length, mask and the message limits. */
static int
check_header(hn_ws_decoder_t *d)
{
    uint8_t len7 = d->hdr[1] & 0x7F;
    const uint8_t *p = d->hdr + 2;
    uint64_t len = len7;
    if (len7 == 126) {
        len = (uint64_t)p[0] << 8 | p[1];
        p += 2;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[i];
        p += 8;
        if (len >> 63)
            return fail(d, HN_WS_PROTOCOL_ERROR, "frame length with its top bit set");
    }
    memcpy(d->mask, p, 4);
    d->opcode = d->hdr[0] & 0x0F;
    d->fin = d->hdr[0] & 0x80;
    d->frame_len = len;
    d->frame_pos = 0;
    d->ctl_len = 0;
    if (is_control(d->opcode))
        return 0;
    if (d->opcode != HN_WS_OP_CONT) {
        d->msg_opcode = d->opcode;
        d->msg_compressed = d->hdr[0] & 0x40;
        d->utf8 = 0;
    }
    if (len > d->max_message || d->msg_len + len > d->max_message)
        return fail(d, HN_WS_TOO_BIG, "message over websocket_max_message_size");
    return 0;
}

/* A whole message: inflate, check, deliver. */
static int
deliver(hn_ws_decoder_t *d, const char *data, size_t len, uint32_t utf8,
        const hn_ws_events_t *ev, void *ud, bool *go_on)
{
    bool is_text = d->msg_opcode == HN_WS_OP_TEXT;
    if (d->msg_compressed) {
        int rc = inflate_message(d, data, len, &data, &len);
        if (rc)
            return fail(d, rc, d->why);
        utf8 = is_text ? utf8_feed(0, (const uint8_t *)data, len) : 0;
    }
    if (is_text && utf8 != 0)
        return fail(d, HN_WS_INVALID_DATA, "text message is not valid UTF-8");
    d->msg_opcode = 0;
    *go_on = ev->message(ud, data, len, is_text);
    return 0;
}

static int
control_done(hn_ws_decoder_t *d, const hn_ws_events_t *ev, void *ud, bool *go_on)
{
    const char *p = d->ctl;
    size_t n = d->ctl_len;
    switch (d->opcode) {
    case HN_WS_OP_PING:
        *go_on = ev->ping(ud, p, n);
        return 0;
    case HN_WS_OP_PONG:
        *go_on = ev->pong(ud, p, n);
        return 0;
    default: {
        int code = HN_WS_NO_STATUS;
        if (n == 1)
            return fail(d, HN_WS_PROTOCOL_ERROR, "close frame with a 1-byte payload");
        if (n >= 2) {
            code = (uint8_t)p[0] << 8 | (uint8_t)p[1];
            if (!hn_ws_close_code_valid(code))
                return fail(d, HN_WS_PROTOCOL_ERROR, "invalid close code");
            if (!hn_ws_utf8_valid(p + 2, n - 2))
                return fail(d, HN_WS_INVALID_DATA, "close reason is not valid UTF-8");
        }
        d->is_closed = true;
        message_free(d);
        *go_on = ev->close(ud, code, n >= 2 ? p + 2 : "", n >= 2 ? n - 2 : 0);
        return 0;
    }
    }
}

/* A data frame's last byte arrived. */
static int
data_frame_done(hn_ws_decoder_t *d, const hn_ws_events_t *ev, void *ud, bool *go_on)
{
    if (!d->fin)
        return 0;
    int rc = deliver(d, d->msg ? d->msg : "", d->msg_len, d->utf8, ev, ud, go_on);
    if (rc == 0)
        message_free(d);
    return rc;
}

int
hn_ws_decode(hn_ws_decoder_t *d, const char *data, size_t len, const hn_ws_events_t *ev,
             void *ud)
{
    const char *p = data, *end = data + len;
    bool go_on = true;
    while (p < end && !d->is_closed && go_on) {
        int rc;
        if (d->hdr_len < 2 || d->hdr_len < header_size(d)) {
            size_t want = d->hdr_len < 2 ? 2 : header_size(d);
            size_t take = HN_MIN(want - d->hdr_len, (size_t)(end - p));
            memcpy(d->hdr + d->hdr_len, p, take);
            d->hdr_len = (uint8_t)(d->hdr_len + take);
            p += take;
            if (d->hdr_len == 2 && (rc = check_start(d)) != 0)
                return rc;
            if (d->hdr_len < header_size(d))
                continue;
            if ((rc = check_header(d)) != 0)
                return rc;
            if (d->frame_len == 0 || is_control(d->opcode) || !d->fin || d->msg_len > 0 ||
                (uint64_t)(end - p) < d->frame_len) {
                if (d->frame_len == 0) {
                    d->hdr_len = 0;
                    rc = is_control(d->opcode) ? control_done(d, ev, ud, &go_on)
                                               : data_frame_done(d, ev, ud, &go_on);
                    if (rc)
                        return rc;
                }
                continue;
            }
            /* A whole message in this buffer: unmask it into the scratch
             * buffer and deliver it from there; nothing is kept. */
            size_t n = (size_t)d->frame_len;
            char *buf = scratch_get(&s_unmasked, n);
            unmask_copy(buf, p, n, d->mask, 0);
            p += n;
            d->hdr_len = 0;
            uint32_t utf8 = 0;
            if (d->msg_opcode == HN_WS_OP_TEXT && !d->msg_compressed)
                utf8 = utf8_feed(0, (const uint8_t *)buf, n);
            if ((rc = deliver(d, buf, n, utf8, ev, ud, &go_on)) != 0)
                return rc;
            continue;
        }
        size_t take = (size_t)HN_MIN(d->frame_len - d->frame_pos, (uint64_t)(end - p));
        if (is_control(d->opcode)) {
            unmask_copy(d->ctl + d->ctl_len, p, take, d->mask, d->frame_pos);
            d->ctl_len = (uint8_t)(d->ctl_len + take);
        } else {
            if (d->msg_len + take > d->msg_cap) {
                size_t cap = d->msg_cap ? d->msg_cap : 4096;
                while (cap < d->msg_len + take)
                    cap *= 2;
                d->msg = hn_xrealloc(d->msg, cap);
                d->msg_cap = cap;
            }
            char *dst = d->msg + d->msg_len;
            unmask_copy(dst, p, take, d->mask, d->frame_pos);
            d->msg_len += take;
            if (d->msg_opcode == HN_WS_OP_TEXT && !d->msg_compressed) {
                /* fail on the first bad fragment, not at the message's end */
                d->utf8 = utf8_feed(d->utf8, (const uint8_t *)dst, take);
                if (d->utf8 == UTF8_BAD)
                    return fail(d, HN_WS_INVALID_DATA, "text message is not valid UTF-8");
            }
        }
        d->frame_pos += take;
        p += take;
        if (d->frame_pos == d->frame_len) {
            d->hdr_len = 0;
            rc = is_control(d->opcode) ? control_done(d, ev, ud, &go_on)
                                       : data_frame_done(d, ev, ud, &go_on);
            if (rc)
                return rc;
        }
    }
    return 0;
}

size_t
hn_ws_frame_header(uint8_t out[HN_WS_HEADER_MAX], int opcode, bool compressed, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (compressed ? 0x40 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}
