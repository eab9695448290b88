/*
 * ws_codec.h - WebSocket framing (RFC 6455) and permessage-deflate (RFC
 * 7692) as bytes in, events out: no sockets, timers or apps, so the same
 * decoder serves a WebSocket over HTTP/1.1 and one over an HTTP/2 stream,
 * and a fuzzer can drive it alone.
 *
 * The decoder enforces every receive rule of RFC 6455 for a server
 * (client frames masked, control frames short and whole, fragments in
 * order, UTF-8 text, close codes) and the message size limit; a violation
 * returns the Close code the connection must fail with.
 *
 * Memory: an idle decoder holds nothing. A message that arrives whole in
 * one buffer is unmasked into a worker-wide scratch buffer and delivered
 * from there; only a message split across reads or fragments is
 * assembled in a buffer of its own, freed once it is delivered. Compression
 * keeps no context between messages (both no_context_takeover parameters
 * are negotiated), so one zlib stream per worker serves every connection.
 */
#ifndef HN_WORKER_WS_CODEC_H
#define HN_WORKER_WS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HN_WS_OP_CONT 0x0
#define HN_WS_OP_TEXT 0x1
#define HN_WS_OP_BINARY 0x2
#define HN_WS_OP_CLOSE 0x8
#define HN_WS_OP_PING 0x9
#define HN_WS_OP_PONG 0xA

/* Close codes (RFC 6455 §7.4.1). */
#define HN_WS_NORMAL 1000
#define HN_WS_GOING_AWAY 1001
#define HN_WS_PROTOCOL_ERROR 1002
#define HN_WS_NO_STATUS 1005
#define HN_WS_ABNORMAL 1006
#define HN_WS_INVALID_DATA 1007
#define HN_WS_TOO_BIG 1009
#define HN_WS_INTERNAL_ERROR 1011

/* The largest frame header a server writes (no mask). */
#define HN_WS_HEADER_MAX 10

/* What the decoder found. Each returns false to stop decoding (the
 * connection is closing), true to go on. data: borrowed for the call. */
typedef struct hn_ws_events {
    bool (*message)(void *ud, const char *data, size_t len, bool is_text);
    bool (*ping)(void *ud, const char *data, size_t len);
    bool (*pong)(void *ud, const char *data, size_t len);
    /* code: HN_WS_NO_STATUS when the frame carried none */
    bool (*close)(void *ud, int code, const char *reason, size_t len);
} hn_ws_events_t;

typedef struct hn_ws_decoder {
    uint64_t max_message;  /* bytes, after decompression */
    bool deflate;          /* permessage-deflate was negotiated */
    bool is_closed;        /* a Close was received, or decoding failed */
    /* the frame being read */
    uint8_t hdr[14];
    uint8_t hdr_len;
    uint8_t opcode;
    bool fin;
    uint8_t mask[4];
    uint64_t frame_len;
    uint64_t frame_pos;
    /* the message being assembled (opcode 0: none) */
    uint8_t msg_opcode;
    bool msg_compressed;
    char *msg;
    size_t msg_len, msg_cap;
    uint32_t utf8;         /* validation state across fragments */
    /* a control frame's payload */
    uint8_t ctl_len;
    char ctl[125];
    const char *why;       /* what failed, for the log */
} hn_ws_decoder_t;

void hn_ws_decoder_init(hn_ws_decoder_t *d, uint64_t max_message, bool deflate);
/* Free what a message in progress holds. */
void hn_ws_decoder_free(hn_ws_decoder_t *d);
/* Feed bytes from the client. Returns 0, or the Close code the connection
 * must fail with (1002, 1007, 1009; d->why says what). Input after a Close
 * frame is ignored. */
int hn_ws_decode(hn_ws_decoder_t *d, const char *data, size_t len, const hn_ws_events_t *ev,
                 void *ud);

/* A server frame's header (FIN set, unmasked) into out; returns its length. */
size_t hn_ws_frame_header(uint8_t out[HN_WS_HEADER_MAX], int opcode, bool compressed,
                          uint64_t len);
/* Compress a message with a window of 2^window_bits: the bytes to send
 * (RSV1 set), in a worker-wide buffer valid until the next call, or NULL
 * when zlib fails. */
const char *hn_ws_deflate(const char *data, size_t len, int window_bits, size_t *out_len);

/* Is data valid UTF-8? */
bool hn_ws_utf8_valid(const char *data, size_t len);
/* May an endpoint send this close code (RFC 6455 §7.4)? */
bool hn_ws_close_code_valid(int code);

#endif
