/*
 * ws.h - one WebSocket, carried by a request whose protocol passes raw
 * bytes both ways once the handshake is answered: HTTP/1.1 after its 101,
 * or an HTTP/2 stream opened by extended CONNECT (RFC 8441). The carrier's
 * request body is the client's frames; the response body is the server's.
 * Here: the handshake checks and answer, messages out, the closing
 * handshake, pings, and the 1001 of a draining worker. Framing is
 * ws_codec.c's; the app side is the bridge's.
 *
 * Memory: the session lives in the request's arena and ends with it.
 */
#ifndef HN_WORKER_WS_H
#define HN_WORKER_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/request.h"

struct ev_loop;
struct hn_config;

typedef struct hn_ws hn_ws_t;

/* A whole message from the client. */
typedef void (*hn_ws_message_cb)(hn_request_t *r, const char *data, size_t len, bool is_text);

void hn_ws_init(struct ev_loop *loop, const struct hn_config *cfg);

/* HTTP/1.1: is r a WebSocket handshake (Upgrade: websocket and Connection:
 * upgrade)? Sets r->is_websocket when it is a valid one. Returns 0, or the
 * status a broken handshake gets (400; 426, which must carry
 * HN_WS_VERSION_HEADER). */
int hn_ws_handshake_h1(hn_request_t *r);
#define HN_WS_VERSION_HEADER "Sec-WebSocket-Version: 13\r\n"
/* HTTP/2 extended CONNECT with this :protocol. Sets r->is_websocket, or
 * returns the status to refuse it with (501 another protocol, 400 a wrong
 * version). */
int hn_ws_handshake_h2(hn_request_t *r, const char *protocol, size_t len);

/* The subprotocols offered (every Sec-WebSocket-Protocol header, in
 * order), NUL-terminated, in r's arena; NULL when none. */
const char *const *hn_ws_subprotocols(hn_request_t *r, size_t *n);

/* Answer the handshake (101 over HTTP/1.1, 200 over HTTP/2) with the
 * chosen subprotocol (or NULL), the negotiated compression and the app's
 * extra headers, and start the session. NULL when the client is gone. */
hn_ws_t *hn_ws_accept(hn_request_t *r, const char *subprotocol, const hn_header_t *extra,
                      size_t n, hn_ws_message_cb on_message);

/* Bytes of the client's frames. */
void hn_ws_received(hn_ws_t *ws, const char *data, size_t len);
/* The client ended its side of the stream (HTTP/2 END_STREAM). */
void hn_ws_peer_ended(hn_ws_t *ws);

/* One message. HN_ERR once the server sent its Close. */
int hn_ws_send(hn_ws_t *ws, const void *data, size_t len, bool is_text);
/* Begin the closing handshake; the carrier ends when the client answers,
 * or after HN_WS_CLOSE_TIMEOUT. HN_ERR when a Close was already sent. */
int hn_ws_close(hn_ws_t *ws, int code, const char *reason, size_t reason_len);
#define HN_WS_CLOSE_TIMEOUT 5.0

/* The request carrying it ended, either way: timers stop. */
void hn_ws_ended(hn_ws_t *ws);
/* May the app still send (no Close sent)? */
bool hn_ws_is_open(const hn_ws_t *ws);
/* Both Close frames were exchanged. */
bool hn_ws_completed(const hn_ws_t *ws);
/* The code of websocket.disconnect (see hornet_api_t.websocket_close_code). */
int hn_ws_close_code(const hn_ws_t *ws, const char **reason, size_t *reason_len);

/* The worker drains: open WebSockets get Close 1001 shortly before
 * graceful_timeout runs out, so the closing handshake fits inside it. */
void hn_ws_drain(double graceful_timeout);

#endif
