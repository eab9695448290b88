/*
 * wscodec.c - hornet's WebSocket codec (worker/ws_codec.c) against wslay,
 * the library DESIGN.md named first, on the work a server does per message:
 * read masked client frames from a receive buffer, hand each whole message
 * over, and frame an echo of it into a send buffer (as a transport queue
 * would hold it). No sockets: the codec alone, so the difference is the
 * codec's.
 *
 *   bench/wscodec.sh                (builds this against the source tree)
 *   wscodec SIZE COUNT              message size in bytes, messages
 *
 * Prints ns per message for each codec, and checks that both produced the
 * same output bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wslay/wslay.h>

#include "worker/ws_codec.h"

#define READ_SIZE 16384 /* what one read() hands the codec */

static uint8_t *in, *out;
static size_t in_len, out_len, out_cap, in_pos;
static size_t messages;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
out_put(const void *p, size_t n)
{
    if (out_len + n > out_cap) {
        fprintf(stderr, "output buffer too small\n");
        exit(1);
    }
    memcpy(out + out_len, p, n);
    out_len += n;
}

/* --- hornet -------------------------------------------------------------- */

static bool
h_message(void *ud, const char *data, size_t len, bool is_text)
{
    (void)ud;
    uint8_t hdr[HN_WS_HEADER_MAX];
    size_t h = hn_ws_frame_header(hdr, is_text ? HN_WS_OP_TEXT : HN_WS_OP_BINARY, false, len);
    out_put(hdr, h);
    out_put(data, len);
    messages++;
    return true;
}

static bool
h_control(void *ud, const char *data, size_t len)
{
    (void)ud, (void)data, (void)len;
    return true;
}

static bool
h_close(void *ud, int code, const char *reason, size_t len)
{
    (void)ud, (void)code, (void)reason, (void)len;
    return true;
}

static const hn_ws_events_t h_events = {h_message, h_control, h_control, h_close};

static double
run_hornet(void)
{
    hn_ws_decoder_t d;
    hn_ws_decoder_init(&d, 1 << 30, false);
    out_len = 0;
    messages = 0;
    double t0 = now();
    for (size_t pos = 0; pos < in_len; pos += READ_SIZE) {
        size_t n = in_len - pos < READ_SIZE ? in_len - pos : READ_SIZE;
        if (hn_ws_decode(&d, (const char *)in + pos, n, &h_events, NULL) != 0) {
            fprintf(stderr, "hornet: decode failed: %s\n", d.why);
            exit(1);
        }
    }
    double t = now() - t0;
    hn_ws_decoder_free(&d);
    return t;
}

/* --- wslay --------------------------------------------------------------- */

static ssize_t
w_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)flags, (void)ud;
    size_t left = in_len - in_pos;
    size_t chunk = READ_SIZE - in_pos % READ_SIZE; /* one read() at a time */
    size_t n = len < left ? len : left;
    if (n > chunk)
        n = chunk;
    if (n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    memcpy(buf, in + in_pos, n);
    in_pos += n;
    return (ssize_t)n;
}

static ssize_t
w_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)ctx, (void)flags, (void)ud;
    out_put(data, len);
    return (ssize_t)len;
}

static void
w_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
    (void)ud;
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
        return;
    struct wslay_event_msg m = {arg->opcode, arg->msg, arg->msg_length};
    wslay_event_queue_msg(ctx, &m);
    messages++;
}

static double
run_wslay(void)
{
    struct wslay_event_callbacks cb = {w_recv, w_send, NULL, NULL, NULL, NULL, w_message};
    wslay_event_context_ptr ctx;
    wslay_event_context_server_init(&ctx, &cb, NULL);
    wslay_event_config_set_max_recv_msg_length(ctx, 1 << 30);
    out_len = 0;
    messages = 0;
    in_pos = 0;
    double t0 = now();
    while (in_pos < in_len) {
        if (wslay_event_recv(ctx) != 0) {
            fprintf(stderr, "wslay: recv failed\n");
            exit(1);
        }
        /* what a server does after each read: send what was queued */
        if (wslay_event_send(ctx) != 0) {
            fprintf(stderr, "wslay: send failed\n");
            exit(1);
        }
    }
    double t = now() - t0;
    wslay_event_context_free(ctx);
    return t;
}

/* --- input ----------------------------------------------------------------- */

static void
make_input(size_t size, size_t count)
{
    size_t frame_max = 14 + size;
    in = malloc(frame_max * count);
    out_cap = (10 + size) * count;
    out = malloc(out_cap);
    in_len = 0;
    for (size_t i = 0; i < count; i++) {
        uint8_t *f = in + in_len;
        size_t h = 0;
        f[h++] = 0x81;
        if (size < 126) {
            f[h++] = (uint8_t)(0x80 | size);
        } else if (size <= 0xFFFF) {
            f[h++] = 0x80 | 126;
            f[h++] = (uint8_t)(size >> 8);
            f[h++] = (uint8_t)size;
        } else {
            f[h++] = 0x80 | 127;
            for (int k = 0; k < 8; k++)
                f[h++] = (uint8_t)((uint64_t)size >> (56 - 8 * k));
        }
        uint8_t key[4] = {(uint8_t)i, 0x5a, 0xa5, (uint8_t)(i >> 8)};
        memcpy(f + h, key, 4);
        h += 4;
        for (size_t k = 0; k < size; k++)
            f[h + k] = (uint8_t)('a' + k % 26) ^ key[k & 3];
        in_len += h + size;
    }
}

int
main(int argc, char **argv)
{
    size_t size = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    size_t count = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    make_input(size, count);
    double best_h = 1e9, best_w = 1e9;
    uint8_t *out_h = malloc(out_cap);
    size_t len_h = 0;
    for (int round = 0; round < 5; round++) {
        double t = run_hornet();
        if (messages != count) {
            fprintf(stderr, "hornet: %zu of %zu messages\n", messages, count);
            return 1;
        }
        if (t < best_h)
            best_h = t;
        memcpy(out_h, out, out_len);
        len_h = out_len;
        t = run_wslay();
        if (messages != count) {
            fprintf(stderr, "wslay: %zu of %zu messages\n", messages, count);
            return 1;
        }
        if (t < best_w)
            best_w = t;
    }
    if (len_h != out_len || memcmp(out_h, out, out_len) != 0) {
        fprintf(stderr, "the two codecs produced different output\n");
        return 1;
    }
    printf("%zu B x %zu: hornet %.1f ns/message, wslay %.1f ns/message (wslay/hornet %.2f)\n",
           size, count, best_h / (double)count * 1e9, best_w / (double)count * 1e9,
           best_w / best_h);
    return 0;
}
