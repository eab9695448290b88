/*
 * ws.c - a WebSocket session over a request (see ws.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/ws.h"

#include <ev.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cfg.h"
#include "shared/log.h"
#include "shared/str.h"
#include "worker/ws_codec.h"

struct hn_ws {
    hn_request_t *r;
    hn_ws_decoder_t dec;
    hn_ws_message_cb on_message;
    ev_timer timer;            /* pings while open; the close deadline after */
    struct hn_ws *prev, *next; /* the worker's open WebSockets, for the drain */
    const char *reason;        /* the client's Close reason (arena) */
    size_t reason_len;
    int code;                  /* the client's Close code; 0: none came */
    int sent_code;             /* ours; 0: none sent */
    int window_bits;           /* permessage-deflate: our window; 0: off */
    bool close_sent : 1;
    bool finished : 1;         /* our side of the carrier is ended */
    bool ended : 1;            /* the request is over */
    bool ping_outstanding : 1;
};

/* Messages at least this long go out compressed when the client agreed:
 * below it, deflate's own framing eats what it saves. */
#define DEFLATE_MIN 128

static struct ev_loop *w_loop;
static const hn_config_t *w_cfg;
static hn_ws_t *live;
static ev_timer drain_timer;
static bool drain_fired;

void
hn_ws_init(struct ev_loop *loop, const hn_config_t *cfg)
{
    w_loop = loop;
    w_cfg = cfg;
}

/* --- handshakes ------------------------------------------------------------ */

/* Any header of this name whose value lists the token. */
static bool
headers_have_token(const hn_request_t *r, const char *name, const char *token)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++) {
        const hn_header_t *h = &r->headers[i];
        if (h->name_len == nlen && memcmp(h->name, name, nlen) == 0 &&
            hn_str_list_has_token(h->value, h->value_len, token))
            return true;
    }
    return false;
}

/* RFC 6455 §4.1: the key is 16 random bytes in base64, 24 characters. */
static bool
key_valid(const hn_header_t *key)
{
    if (key == NULL || key->value_len != 24 || memcmp(key->value + 22, "==", 2) != 0)
        return false;
    for (size_t i = 0; i < 22; i++) {
        char c = key->value[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

static bool
version_is_13(const hn_header_t *v)
{
    return v != NULL && v->value_len == 2 && memcmp(v->value, "13", 2) == 0;
}

int
hn_ws_handshake_h1(hn_request_t *r)
{
    if (!headers_have_token(r, "upgrade", "websocket") ||
        !headers_have_token(r, "connection", "upgrade"))
        return 0;
    /* RFC 6455 §4.2.1: a GET of HTTP/1.1 or later, without a body */
    if (r->method_len != 3 || memcmp(r->method, "GET", 3) != 0 || r->http_version[2] == '0' ||
        r->has_body)
        return 400;
    if (!version_is_13(hn_request_header(r, "sec-websocket-version")))
        return 426; /* §4.4: with the version we speak */
    if (!key_valid(hn_request_header(r, "sec-websocket-key")))
        return 400;
    r->is_websocket = true;
    return 0;
}

int
hn_ws_handshake_h2(hn_request_t *r, const char *protocol, size_t len)
{
    if (!hn_mem_case_eq(protocol, len, "websocket", 9))
        return 501;
    /* RFC 8441 §5: the version travels as in HTTP/1.1; the key does not */
    const hn_header_t *v = hn_request_header(r, "sec-websocket-version");
    if (v != NULL && !version_is_13(v))
        return 400;
    r->is_websocket = true;
    return 0;
}

static const char *
accept_value(hn_request_t *r, const hn_header_t *key)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char in[24 + sizeof(guid)];
    unsigned char digest[SHA_DIGEST_LENGTH];
    memcpy(in, key->value, 24);
    memcpy(in + 24, guid, sizeof(guid) - 1);
    SHA1((const unsigned char *)in, 24 + sizeof(guid) - 1, digest);
    char *out = hn_arena_alloc(r->arena, 32);
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH); /* 28 + NUL */
    return out;
}

/* One parameter of an extension offer: "name" or "name=value", the value
 * possibly quoted. */
static void
param_split(const char *s, size_t n, hn_str_t *name, hn_str_t *value)
{
    const char *eq = memchr(s, '=', n);
    const char *ne = eq ? eq : s + n;
    while (ne > s && (ne[-1] == ' ' || ne[-1] == '\t'))
        ne--;
    *name = (hn_str_t){s, (size_t)(ne - s)};
    *value = (hn_str_t){NULL, 0};
    if (eq) {
        const char *v = eq + 1, *ve = s + n;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
            v++;
            ve--;
        }
        *value = (hn_str_t){v, (size_t)(ve - v)};
    }
}

/* A window-bits value: 8 to 15, or -1. */
static int
window_bits(hn_str_t v)
{
    if (v.len == 1 && v.ptr[0] >= '8' && v.ptr[0] <= '9')
        return v.ptr[0] - '0';
    if (v.len == 2 && v.ptr[0] == '1' && v.ptr[1] >= '0' && v.ptr[1] <= '5')
        return 10 + v.ptr[1] - '0';
    return -1;
}

/* One permessage-deflate offer (RFC 7692 §7.1): its server window, or -1
 * to decline it (an unknown or repeated parameter, a bad value, or a
 * window of 8, which zlib cannot produce). *asked: the client named
 * server_max_window_bits, so the answer must too. */
static int
deflate_offer(const char *s, size_t n, bool *asked)
{
    int server_bits = 15;
    unsigned seen = 0;
    *asked = false;
    while (n > 0) {
        const char *semi = memchr(s, ';', n);
        size_t plen = semi ? (size_t)(semi - s) : n;
        hn_str_t name, value;
        const char *ps = s;
        while (plen && (*ps == ' ' || *ps == '\t')) {
            ps++;
            plen--;
        }
        param_split(ps, plen, &name, &value);
        unsigned bit;
        if (hn_str_case_eq(name, "server_no_context_takeover") && value.ptr == NULL)
            bit = 1;
        else if (hn_str_case_eq(name, "client_no_context_takeover") && value.ptr == NULL)
            bit = 2;
        else if (hn_str_case_eq(name, "server_max_window_bits") && window_bits(value) >= 9) {
            bit = 4;
            server_bits = window_bits(value);
            *asked = true;
        } else if (hn_str_case_eq(name, "client_max_window_bits") &&
                   (value.ptr == NULL || window_bits(value) >= 8))
            bit = 8;
        else
            return -1;
        if (seen & bit)
            return -1;
        seen |= bit;
        if (semi == NULL)
            break;
        n -= (size_t)(semi - s) + 1;
        s = semi + 1;
    }
    return server_bits;
}

const char *const *
hn_ws_subprotocols(hn_request_t *r, size_t *n)
{
    hn_str_t e;
    size_t count = 0;
    *n = 0;
    HN_REQUEST_FOR_EACH_LIST_ELEMENT(r, "sec-websocket-protocol", e)
    count++;
    if (count == 0)
        return NULL;
    const char **list = hn_arena_alloc(r->arena, count * sizeof(*list));
    HN_REQUEST_FOR_EACH_LIST_ELEMENT(r, "sec-websocket-protocol", e)
    list[(*n)++] = hn_arena_strndup(r->arena, e.ptr, e.len);
    return list;
}

/* Choose the first acceptable permessage-deflate offer of every
 * Sec-WebSocket-Extensions header; the answer into r's arena. 0: none. */
static int
negotiate_deflate(hn_request_t *r, const char **answer, size_t *answer_len)
{
    hn_str_t offer;
    HN_REQUEST_FOR_EACH_LIST_ELEMENT(r, "sec-websocket-extensions", offer) {
        const char *semi = memchr(offer.ptr, ';', offer.len);
        hn_str_t name = {offer.ptr, semi ? (size_t)(semi - offer.ptr) : offer.len};
        while (name.len && (name.ptr[name.len - 1] == ' ' || name.ptr[name.len - 1] == '\t'))
            name.len--;
        if (!hn_str_case_eq(name, "permessage-deflate"))
            continue;
        bool asked = false;
        int bits = semi ? deflate_offer(semi + 1, (size_t)(offer.ptr + offer.len - semi - 1),
                                        &asked)
                        : 15;
        if (bits < 0)
            continue;
        char *a = hn_arena_alloc(r->arena, 128);
        int k = snprintf(a, 128, "permessage-deflate; server_no_context_takeover; "
                         "client_no_context_takeover");
        if (asked)
            k += snprintf(a + k, (size_t)(128 - k), "; server_max_window_bits=%d", bits);
        *answer = a;
        *answer_len = (size_t)k;
        return bits;
    }
    return 0;
}

/* --- sending ---------------------------------------------------------------- */

static int
send_frame(hn_ws_t *ws, int opcode, const void *data, size_t len)
{
    hn_request_t *r = ws->r;
    bool compressed = false;
    if (ws->window_bits && len >= DEFLATE_MIN &&
        (opcode == HN_WS_OP_TEXT || opcode == HN_WS_OP_BINARY)) {
        size_t clen;
        const char *c = hn_ws_deflate(data, len, ws->window_bits, &clen);
        if (c != NULL) {
            data = c;
            len = clen;
            compressed = true;
        }
    }
    uint8_t hdr[HN_WS_HEADER_MAX];
    size_t hlen = hn_ws_frame_header(hdr, opcode, compressed, len);
    if (hn_response_write(r, hdr, hlen, false) != HN_OK)
        return HN_ERR;
    if (len > 0 && hn_response_write(r, data, len, false) != HN_OK)
        return HN_ERR;
    return HN_OK;
}

static void
send_close(hn_ws_t *ws, int code, const char *reason, size_t reason_len)
{
    char payload[125];
    size_t n = 0;
    if (code != HN_WS_NO_STATUS) {
        payload[0] = (char)(code >> 8);
        payload[1] = (char)code;
        n = 2 + HN_MIN(reason_len, sizeof(payload) - 2);
        if (n > 2)
            memcpy(payload + 2, reason, n - 2);
    }
    ws->close_sent = true;
    ws->sent_code = code;
    send_frame(ws, HN_WS_OP_CLOSE, payload, n);
}

static void
timer_set(hn_ws_t *ws, double after, double repeat)
{
    ev_timer_stop(w_loop, &ws->timer);
    if (after > 0) {
        ev_timer_set(&ws->timer, after, repeat);
        ev_timer_start(w_loop, &ws->timer);
    }
}

/* End our side of the carrier: HTTP/1.1 closes the connection, HTTP/2
 * ends the stream. A client that never ends its own side is cut off at the
 * close deadline. */
static void
finish(hn_ws_t *ws)
{
    if (ws->finished || ws->ended)
        return;
    ws->finished = true;
    timer_set(ws, HN_WS_CLOSE_TIMEOUT, 0);
    hn_response_write(ws->r, NULL, 0, true);
}

/* RFC 6455 §7.1.7: Fail the WebSocket Connection. */
static void
fail(hn_ws_t *ws, int code, const char *why)
{
    hn_request_t *r = ws->r;
    hn_log(HN_LOG_INFO, "client %s: WebSocket %.*s failed with %d: %s",
           r->client ? r->client : "?", (int)HN_MIN(r->raw_path_len, (size_t)200), r->raw_path,
           code, why ? why : "");
    if (!ws->close_sent)
        send_close(ws, code, NULL, 0);
    finish(ws);
}

static void
on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    hn_ws_t *ws = HN_CONTAINER_OF(t, hn_ws_t, timer);
    hn_request_t *r = ws->r;
    if (!ws->close_sent && !ws->finished) {
        if (ws->ping_outstanding) {
            hn_log(HN_LOG_INFO, "client %s: no Pong within websocket_ping_interval; dropping "
                   "the WebSocket", r->client ? r->client : "?");
            timer_set(ws, 0, 0);
            r->ops->abort(r);
            return;
        }
        ws->ping_outstanding = true;
        send_frame(ws, HN_WS_OP_PING, "hornet", 6);
        return;
    }
    /* the closing handshake (or the client's end of the stream) is late */
    timer_set(ws, 0, 0);
    r->ops->abort(r);
}

/* --- the decoder's events ---------------------------------------------------- */

static bool
ev_message(void *ud, const char *data, size_t len, bool is_text)
{
    hn_ws_t *ws = ud;
    /* §7.1.4 after our Close: the client's data is of no use any more */
    if (!ws->close_sent)
        ws->on_message(ws->r, data, len, is_text);
    return !ws->ended;
}

static bool
ev_ping(void *ud, const char *data, size_t len)
{
    hn_ws_t *ws = ud;
    if (!ws->close_sent)
        send_frame(ws, HN_WS_OP_PONG, data, len);
    return !ws->ended;
}

static bool
ev_pong(void *ud, const char *data, size_t len)
{
    (void)data, (void)len;
    hn_ws_t *ws = ud;
    ws->ping_outstanding = false;
    return !ws->ended;
}

static bool
ev_close(void *ud, int code, const char *reason, size_t len)
{
    hn_ws_t *ws = ud;
    hn_request_t *r = ws->r;
    ws->code = code;
    ws->reason = hn_arena_strndup(r->arena, reason, len);
    ws->reason_len = len;
    /* §5.5.1: answer with a Close, echoing the code */
    if (!ws->close_sent)
        send_close(ws, code, reason, len);
    finish(ws);
    return false;
}

static const hn_ws_events_t events = {
    .message = ev_message,
    .ping = ev_ping,
    .pong = ev_pong,
    .close = ev_close,
};

/* --- the session --------------------------------------------------------------- */

hn_ws_t *
hn_ws_accept(hn_request_t *r, const char *subprotocol, const hn_header_t *extra, size_t n,
             hn_ws_message_cb on_message)
{
    bool h1 = r->http_version[0] == '1';
    hn_header_t *h = hn_arena_alloc(r->arena, (n + 4) * sizeof(*h));
    size_t k = 0;
    if (h1) {
        h[k++] = (hn_header_t){"upgrade", 7, "websocket", 9};
        h[k++] = (hn_header_t){"sec-websocket-accept", 20,
                               accept_value(r, hn_request_header(r, "sec-websocket-key")), 28};
    }
    if (subprotocol)
        h[k++] = (hn_header_t){"sec-websocket-protocol", 22, subprotocol, strlen(subprotocol)};
    const char *ext = NULL;
    size_t ext_len = 0;
    int bits = w_cfg->websocket_per_message_deflate ? negotiate_deflate(r, &ext, &ext_len) : 0;
    if (bits)
        h[k++] = (hn_header_t){"sec-websocket-extensions", 24, ext, ext_len};
    if (n)
        memcpy(h + k, extra, n * sizeof(*h));

    hn_ws_t *ws = hn_arena_alloc(r->arena, sizeof(*ws));
    memset(ws, 0, sizeof(*ws));
    ws->r = r;
    ws->on_message = on_message;
    ws->window_bits = bits;
    hn_ws_decoder_init(&ws->dec, w_cfg->websocket_max_message_size, bits != 0);
    ev_init(&ws->timer, on_timer);
    r->is_tunnel = true;
    if (hn_response_start(r, h1 ? 101 : 200, h, k + n) != HN_OK) {
        ws->ended = true;
        return NULL;
    }
    ws->next = live;
    if (live)
        live->prev = ws;
    live = ws;
    double ping = w_cfg->websocket_ping_interval;
    if (ping > 0)
        timer_set(ws, ping, ping);
    if (drain_fired)
        hn_ws_close(ws, HN_WS_GOING_AWAY, "server shutting down", 20);
    return ws;
}

void
hn_ws_received(hn_ws_t *ws, const char *data, size_t len)
{
    if (ws->ended || ws->dec.is_closed)
        return;
    int code = hn_ws_decode(&ws->dec, data, len, &events, ws);
    if (code && !ws->ended)
        fail(ws, code, ws->dec.why);
}

void
hn_ws_peer_ended(hn_ws_t *ws)
{
    if (ws->ended)
        return;
    /* without a Close: §7.1.5 calls it 1006; end our side too */
    ws->dec.is_closed = true;
    finish(ws);
}

int
hn_ws_send(hn_ws_t *ws, const void *data, size_t len, bool is_text)
{
    if (ws->close_sent || ws->ended || ws->finished)
        return HN_ERR;
    return send_frame(ws, is_text ? HN_WS_OP_TEXT : HN_WS_OP_BINARY, data, len);
}

int
hn_ws_close(hn_ws_t *ws, int code, const char *reason, size_t reason_len)
{
    if (ws->close_sent || ws->ended || ws->finished)
        return HN_ERR;
    send_close(ws, code, reason, reason_len);
    if (ws->dec.is_closed) {
        finish(ws); /* the client's Close came first */
        return HN_OK;
    }
    timer_set(ws, HN_WS_CLOSE_TIMEOUT, 0);
    return HN_OK;
}

void
hn_ws_ended(hn_ws_t *ws)
{
    if (ws->ended)
        return;
    ws->ended = true;
    ev_timer_stop(w_loop, &ws->timer);
    hn_ws_decoder_free(&ws->dec);
    if (ws->prev)
        ws->prev->next = ws->next;
    else if (live == ws)
        live = ws->next;
    if (ws->next)
        ws->next->prev = ws->prev;
    ws->prev = ws->next = NULL;
}

bool
hn_ws_is_open(const hn_ws_t *ws)
{
    return !ws->close_sent && !ws->ended && !ws->finished;
}

bool
hn_ws_completed(const hn_ws_t *ws)
{
    return ws->close_sent && ws->code != 0;
}

int
hn_ws_close_code(const hn_ws_t *ws, const char **reason, size_t *reason_len)
{
    if (reason) {
        *reason = ws->code ? ws->reason : NULL;
        if (reason_len)
            *reason_len = ws->code ? ws->reason_len : 0;
    }
    if (!ws->ended)
        return 0;
    if (ws->code)
        return ws->code;
    return ws->sent_code ? ws->sent_code : HN_WS_ABNORMAL;
}

/* --- the drain -------------------------------------------------------------------- */

static void
on_drain_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)t, (void)revents;
    drain_fired = true;
    unsigned n = 0;
    for (hn_ws_t *ws = live, *next; ws; ws = next) {
        next = ws->next;
        if (hn_ws_close(ws, HN_WS_GOING_AWAY, "server shutting down", 20) == HN_OK)
            n++;
    }
    if (n)
        hn_log(HN_LOG_INFO, "draining: sent Close 1001 to %u WebSocket(s)", n);
}

void
hn_ws_drain(double graceful_timeout)
{
    if (w_loop == NULL || ev_is_active(&drain_timer))
        return;
    double grace = HN_MIN(1.0, graceful_timeout / 2);
    ev_timer_init(&drain_timer, on_drain_timer, graceful_timeout - grace, 0);
    ev_timer_start(w_loop, &drain_timer);
}
