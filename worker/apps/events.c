/*
 * events.c - builtin:events, the event hub over WebSocket: JSON text
 * messages that mirror the hat.event eventer's (hornet(8), EVENTS). A
 * client says init (name, token, subscriptions), then registers, queries
 * and hears of the events its subscriptions match, from every worker. The
 * hub (hub/hub.h) orders and keeps the events; worker/events.h links this
 * worker to it and matches events against the local subscriptions.
 *
 * Close codes: 1007 for a message that is not JSON, 1008 for one that
 * breaks the protocol (and after a refused init), 1008 too for a client
 * that does not read its notifications (its queue is bounded, the
 * publisher never waits for it).
 *
 * The same messages over plain HTTP, for scripts and browsers: a GET that
 * accepts text/event-stream subscribes (Server-Sent Events, each data line
 * one of the WebSocket's messages), a GET with a query string queries, a
 * POST carries a register or query message and gets its answer as the
 * response. The init's fields come from the query string there
 * (subscriptions, server_id, client_token, or the token as a Bearer).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <hornet/app.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/cfg.h"
#include "shared/common.h"
#include "shared/ev_msg.h"
#include "shared/ev_pattern.h"
#include "shared/mem.h"
#include "shared/str.h"
#include "worker/events.h"
#include "worker/worker.h"

/* Unsent notification bytes held for a client that does not read. */
#define QUEUE_MAX (8u << 20)

typedef struct queued {
    char *text;
    size_t len;
    struct queued *next;
} queued_t;

typedef struct ask ask_t;

typedef enum ask_kind { ASK_HELLO, ASK_REGISTER, ASK_QUERY } ask_kind_t;

typedef enum client_kind {
    CLIENT_WS,   /* a WebSocket */
    CLIENT_SSE,  /* a GET answered with an event stream */
    CLIENT_HTTP, /* one request, one answer */
} client_kind_t;

typedef struct client {
    hornet_request_t *req;
    client_kind_t kind;
    bool answered;  /* CLIENT_HTTP: the response is out */
    bool post;      /* CLIENT_HTTP: its body is the message */
    char *body;     /* CLIENT_HTTP: the POST body so far */
    size_t body_len;
    bool initialised;
    bool closing;
    hn_events_sub_t *sub;
    int64_t notify_id;
    queued_t *qhead, *qtail;
    size_t queued;
    ask_t *asks;
    json_t *pending_subs; /* init's subscriptions, until the hub answers hello */
    int64_t server_id;
} client_t;

static const hornet_api_t *api;

static void ask_hub(client_t *c, json_t *fwd, json_t *id, ask_kind_t kind, bool with_response);

static int
init(const hornet_api_t *a)
{
    api = a;
    return 0;
}

static const hornet_header_t json_headers[] = {
    {"content-type", 12, "application/json", 16},
    {"cache-control", 13, "no-store", 8},
};

/* CLIENT_HTTP's one answer: a JSON body. */
static void
http_answer(client_t *c, int status, const char *json)
{
    if (c->answered)
        return;
    c->answered = true;
    size_t len = strlen(json);
    if (api->response_start(c->req, status, json_headers, HN_ARRAY_LEN(json_headers), false) ==
        HORNET_OK)
        api->response_body(c->req, json, len, false);
}

static void
http_error(client_t *c, int status, const char *error)
{
    json_t *j = json_pack("{s:s}", "error", error);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    http_answer(c, status, text ? text : "{}");
    free(text);
}

static void
close_with(client_t *c, int code, const char *reason)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->kind == CLIENT_WS)
        api->websocket_close(c->req, code, reason);
    else if (c->kind == CLIENT_SSE)
        api->response_body(c->req, NULL, 0, false);
    else
        http_error(c, code == 1011 ? 503 : 400, reason);
}

/* One message as its transport carries it: a text frame, or an SSE event. */
static int
put(client_t *c, const char *text, size_t len)
{
    if (c->kind == CLIENT_WS)
        return api->websocket_send(c->req, text, len, true);
    return api->response_body(c->req, text, len, true);
}

/* Send or queue one message; a client over its bound is closed. */
static void
send_text(client_t *c, char *text)
{
    size_t len = strlen(text);
    if (c->closing || c->kind == CLIENT_HTTP) {
        if (c->kind == CLIENT_HTTP && !c->closing)
            http_answer(c, 200, text);
        free(text);
        return;
    }
    if (c->kind == CLIENT_SSE) {
        /* compact JSON has no line break: one data line per message */
        char *framed = hn_xmalloc(len + 9);
        memcpy(framed, "data: ", 6);
        memcpy(framed + 6, text, len);
        memcpy(framed + 6 + len, "\n\n", 3);
        free(text);
        text = framed;
        len += 8;
    }
    if (c->qhead == NULL && put(c, text, len) != HORNET_EAGAIN) {
        free(text);
        return;
    }
    if (c->queued + len > QUEUE_MAX) {
        free(text);
        close_with(c, 1008, "events queue full: read the notifications");
        return;
    }
    queued_t *q = hn_xcalloc(1, sizeof(*q));
    q->text = text;
    q->len = len;
    if (c->qtail)
        c->qtail->next = q;
    else
        c->qhead = q;
    c->qtail = q;
    c->queued += len;
}

static void
send_json(client_t *c, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (text)
        send_text(c, text);
}

static void
on_resume(hornet_request_t *req)
{
    client_t *c = api->get_data(req);
    while (c && c->qhead && !c->closing) {
        queued_t *q = c->qhead;
        if (put(c, q->text, q->len) == HORNET_EAGAIN)
            return;
        c->qhead = q->next;
        if (c->qhead == NULL)
            c->qtail = NULL;
        c->queued -= q->len;
        free(q->text);
        free(q);
    }
}

static void
on_notify(void *ud, json_t *events)
{
    client_t *c = ud;
    send_json(c, json_pack("{s:s,s:I,s:O,s:b}", "type", "events", "id",
                           (json_int_t)++c->notify_id, "events", events, "ack", 0));
}

static void
on_status(void *ud, const char *status)
{
    client_t *c = ud;
    send_json(c, json_pack("{s:s,s:s}", "type", "status", "status", status));
}

static const char *
check_patterns(const json_t *subs, char *why, size_t size)
{
    if (!json_is_array(subs))
        return "subscriptions is not a list of patterns";
    size_t i;
    json_t *p;
    json_array_foreach (subs, i, p) {
        const char *seg[HN_EV_MAX_SEGMENTS];
        size_t n;
        hn_err_t err = {0};
        if (hn_ev_segments(p, seg, HN_ARRAY_LEN(seg), &n) != HN_OK) {
            snprintf(why, size, "subscription pattern %zu is not a list of strings", i);
            return why;
        }
        if (hn_ev_pattern_check(seg, n, &err) != HN_OK) {
            snprintf(why, size, "subscription pattern %zu: %.400s", i, err.msg);
            return why;
        }
    }
    return NULL;
}

static bool
token_allowed(const json_t *token)
{
    const hn_config_t *cfg = hn_worker_config();
    if (cfg->n_events_client_tokens == 0)
        return true;
    const char *t = json_string_value(token);
    for (size_t i = 0; t && i < cfg->n_events_client_tokens; i++)
        if (strcmp(t, cfg->events_client_tokens[i]) == 0)
            return true;
    return false;
}

/* Subscribed once the hub has answered: from then on every event it
 * registers reaches this worker, so init_res promises no gap. */
static void
subscribe(client_t *c, json_t *subs, json_t *server_id, json_t *id)
{
    c->initialised = true;
    c->pending_subs = json_incref(subs);
    c->server_id = json_is_integer(server_id) ? json_integer_value(server_id) : -1;
    ask_hub(c, json_pack("{s:s}", "t", "hello"), id, ASK_HELLO, true);
}

static void
on_init(client_t *c, json_t *msg, json_t *id)
{
    char why[600];
    const char *error = NULL;
    json_t *subs = json_object_get(msg, "subscriptions");
    json_t *server_id = json_object_get(msg, "server_id");
    if (!json_is_string(json_object_get(msg, "client_name")))
        error = "client_name is not a string";
    else if (!token_allowed(json_object_get(msg, "client_token")))
        error = "invalid client_token";
    else if ((error = check_patterns(subs, why, sizeof(why))) != NULL)
        ;
    else if (server_id && !json_is_null(server_id) && !json_is_integer(server_id))
        error = "server_id is not an integer";
    else if (json_is_true(json_object_get(msg, "persisted")))
        error = "persisted: true needs a store (events_store_path is not set)";
    if (error) {
        send_json(c, json_pack("{s:s,s:O,s:s,s:s}", "type", "init_res", "id", id, "result",
                               "error", "error", error));
        close_with(c, 1008, "init refused");
        return;
    }
    subscribe(c, subs, server_id, id);
}

/* A register or query waiting for the hub's answer, in its client's list;
 * a client that goes leaves its asks behind with c NULL. */
struct ask {
    client_t *c;
    json_t *id;
    ask_kind_t kind;
    bool with_response;
    ask_t *prev, *next;
};

static void
on_answer(void *ud, json_t *res)
{
    ask_t *a = ud;
    client_t *c = a->c;
    if (c != NULL) {
        if (a->prev)
            a->prev->next = a->next;
        else
            c->asks = a->next;
        if (a->next)
            a->next->prev = a->prev;
    }
    if (c == NULL) {
        /* its client is gone */
    } else if (a->kind == ASK_HELLO) {
        if (res) {
            c->sub = hn_events_subscribe(c->pending_subs, c->server_id, on_notify, on_status,
                                         c);
            send_json(c, json_pack("{s:s,s:O,s:s,s:s}", "type", "init_res", "id", a->id,
                                   "result", "success", "status", hn_events_status()));
        } else {
            if (c->kind == CLIENT_WS)
                send_json(c, json_pack("{s:s,s:O,s:s,s:s}", "type", "init_res", "id", a->id,
                                       "result", "error", "error",
                                       "the event hub is not reachable"));
            close_with(c, 1011, "the event hub is not reachable");
        }
        json_decref(c->pending_subs);
        c->pending_subs = NULL;
    } else if (a->kind == ASK_QUERY) {
        json_t *events = res ? json_object_get(res, "events") : NULL;
        if (events)
            send_json(c, json_pack("{s:s,s:O,s:O,s:O}", "type", "query_res", "id", a->id,
                                   "events", events, "more_follows",
                                   json_object_get(res, "more_follows")));
        else
            close_with(c, 1011, "the event hub is restarting");
    } else if (a->with_response || c->kind == CLIENT_HTTP) {
        json_t *events = res ? json_object_get(res, "events") : NULL;
        send_json(c, json_pack("{s:s,s:O,s:O}", "type", "register_res", "id", a->id, "events",
                               events ? events : json_null()));
    }
    json_decref(a->id);
    free(a);
}

static void
ask_hub(client_t *c, json_t *fwd, json_t *id, ask_kind_t kind, bool with_response)
{
    ask_t *a = hn_xcalloc(1, sizeof(*a));
    a->c = c;
    a->id = json_incref(id);
    a->kind = kind;
    a->with_response = with_response;
    a->next = c->asks;
    if (c->asks)
        c->asks->prev = a;
    c->asks = a;
    if (hn_events_request(fwd, on_answer, a) != HN_OK)
        on_answer(a, NULL);
    json_decref(fwd);
}

static void
on_register(client_t *c, json_t *msg, json_t *id)
{
    json_t *events = json_object_get(msg, "events");
    bool with_response = json_is_true(json_object_get(msg, "with_response"));
    if (!json_is_array(events)) {
        close_with(c, 1008, "register: events is not a list");
        return;
    }
    ask_hub(c, json_pack("{s:s,s:O}", "t", "register", "events", events), id, ASK_REGISTER,
            with_response);
}

static void
on_query(client_t *c, json_t *msg, json_t *id)
{
    json_t *types = json_object_get(msg, "event_types");
    char why[600];
    if (check_patterns(types, why, sizeof(why)) != NULL) {
        close_with(c, 1008, "query: event_types is not a list of patterns");
        return;
    }
    json_t *fwd = json_deep_copy(msg);
    json_object_set_new(fwd, "t", json_string("query"));
    json_object_del(fwd, "type");
    ask_hub(c, fwd, id, ASK_QUERY, true);
}

/* One query-string value: '+' is a space, then percent-decoding; a JSON
 * value when it parses as one (numbers, lists, null), else a string. */
static json_t *
param_value(const char *v, size_t len)
{
    char *buf = hn_xstrndup(v, len);
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '+')
            buf[i] = ' ';
    long n = hn_str_percent_decode(buf, buf, len);
    json_t *j = NULL;
    if (n >= 0) {
        j = json_loadb(buf, (size_t)n, JSON_DECODE_ANY, NULL);
        if (j == NULL)
            j = json_stringn(buf, (size_t)n);
    }
    free(buf);
    return j;
}

/* The query string as a JSON object (NULL when malformed). */
static json_t *
params(const hornet_scope_t *scope)
{
    json_t *o = json_object();
    const char *p = scope->query_string, *end = p + scope->query_string_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq && eq > p) {
            char key[64];
            size_t klen = (size_t)(eq - p);
            json_t *v = param_value(eq + 1, (size_t)(stop - eq - 1));
            if (klen >= sizeof(key) || v == NULL) {
                json_decref(v);
                json_decref(o);
                return NULL;
            }
            memcpy(key, p, klen);
            key[klen] = '\0';
            json_object_set_new(o, key, v);
        }
        p = stop + (stop < end);
    }
    return o;
}

static const hornet_header_t *
header(const hornet_scope_t *scope, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < scope->n_headers; i++)
        if (scope->headers[i].name_len == n && strncasecmp(scope->headers[i].name, name, n) == 0)
            return &scope->headers[i];
    return NULL;
}

static bool
header_has(const hornet_scope_t *scope, const char *name, const char *word)
{
    const hornet_header_t *h = header(scope, name);
    return h && memmem(h->value, h->value_len, word, strlen(word)) != NULL;
}

/* An HTTP client's token: client_token in the query, or a Bearer. */
static json_t *
http_token(const hornet_scope_t *scope, json_t *q)
{
    json_t *t = json_object_get(q, "client_token");
    if (t)
        return json_incref(t);
    const hornet_header_t *h = header(scope, "authorization");
    if (h && h->value_len > 7 && strncasecmp(h->value, "Bearer ", 7) == 0)
        return json_stringn(h->value + 7, h->value_len - 7);
    return json_null();
}

static void
dispatch(client_t *c, json_t *msg)
{
    const char *type = json_string_value(json_object_get(msg, "type"));
    json_t *id = json_object_get(msg, "id");
    if (id == NULL)
        id = json_null();
    if (type == NULL) {
        close_with(c, 1008, "a message without a type");
    } else if (strcmp(type, "init") == 0) {
        if (c->initialised)
            close_with(c, 1008, "init was already sent");
        else
            on_init(c, msg, id);
    } else if (!c->initialised) {
        close_with(c, 1008, "init must come first");
    } else if (strcmp(type, "register") == 0) {
        on_register(c, msg, id);
    } else if (strcmp(type, "query") == 0) {
        on_query(c, msg, id);
    } else if (strcmp(type, "ack") == 0 && c->kind == CLIENT_WS) {
        /* notifications are sent with "ack": false for now: nothing waits */
    } else {
        close_with(c, 1008, "unknown message type");
    }
}

static void
on_websocket_receive(hornet_request_t *req, const void *data, size_t len, bool is_text)
{
    client_t *c = api->get_data(req);
    if (c == NULL || c->closing)
        return;
    json_error_t jerr;
    json_t *msg = is_text ? json_loadb(data, len, 0, &jerr) : NULL;
    if (msg == NULL || !json_is_object(msg)) {
        json_decref(msg);
        close_with(c, 1007, "messages are JSON objects in text frames");
        return;
    }
    dispatch(c, msg);
    json_decref(msg);
}

/* A POST's body: one register or query message. */
static void
on_body(hornet_request_t *req, const void *data, size_t len, bool more_body)
{
    client_t *c = api->get_data(req);
    if (c == NULL || !c->post || c->answered)
        return;
    if (c->body_len + len > hn_worker_config()->websocket_max_message_size) {
        http_error(c, 413, "a message is at most websocket_max_message_size");
        return;
    }
    c->body = hn_xrealloc(c->body, c->body_len + len + 1);
    if (len > 0) /* the last call may carry no bytes, and data NULL */
        memcpy(c->body + c->body_len, data, len);
    c->body_len += len;
    if (more_body)
        return;
    json_t *msg = json_loadb(c->body ? c->body : "", c->body_len, 0, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (msg == NULL || !json_is_object(msg))
        http_error(c, 400, "the body is not a JSON object");
    else if (type == NULL || (strcmp(type, "register") != 0 && strcmp(type, "query") != 0))
        http_error(c, 400, "a POST carries a register or a query message");
    else
        dispatch(c, msg);
    json_decref(msg);
}

static void
on_http(hornet_request_t *req, const hornet_scope_t *scope)
{
    client_t *c = hn_xcalloc(1, sizeof(*c));
    c->req = req;
    c->kind = CLIENT_HTTP;
    api->set_data(req, c);
    bool get = scope->method_len == 3 && memcmp(scope->method, "GET", 3) == 0;
    bool post = scope->method_len == 4 && memcmp(scope->method, "POST", 4) == 0;
    bool stream = get && header_has(scope, "accept", "text/event-stream");
    if (!get && !post) {
        static const hornet_header_t allow[] = {{"allow", 5, "GET, POST", 9}};
        c->answered = true;
        api->response_start(req, 405, allow, HN_ARRAY_LEN(allow), false);
        api->response_body(req, NULL, 0, false);
        return;
    }
    if (get && !stream && scope->query_string_len == 0) {
        static const char body[] = "builtin:events: a WebSocket, Server-Sent Events (Accept: "
                                   "text/event-stream), GET ?event_types=... or POST "
                                   "(hornet(8), EVENTS)\n";
        static const hornet_header_t h[] = {
            {"content-type", 12, "text/plain; charset=utf-8", 25},
            {"upgrade", 7, "websocket", 9},
        };
        c->answered = true;
        api->response_start(req, 426, h, HN_ARRAY_LEN(h), false);
        api->response_body(req, body, sizeof(body) - 1, false);
        return;
    }
    if (!hn_events_available()) {
        http_error(c, 503, "no event hub runs");
        return;
    }
    json_t *q = params(scope);
    if (q == NULL) {
        http_error(c, 400, "a malformed query string");
        return;
    }
    json_t *token = http_token(scope, q);
    bool allowed = token_allowed(token);
    json_decref(token);
    if (!allowed) {
        http_error(c, 403, "invalid client_token");
    } else if (stream) {
        json_t *subs = json_object_get(q, "subscriptions");
        json_t *server_id = json_object_get(q, "server_id");
        char why[600];
        const char *error = subs ? check_patterns(subs, why, sizeof(why))
                                 : "subscriptions is missing (a JSON list of patterns)";
        if (error == NULL && server_id && !json_is_integer(server_id))
            error = "server_id is not an integer";
        if (error) {
            http_error(c, 400, error);
        } else {
            static const hornet_header_t h[] = {
                {"content-type", 12, "text/event-stream", 17},
                {"cache-control", 13, "no-store", 8},
            };
            c->kind = CLIENT_SSE;
            c->answered = true;
            api->response_start(req, 200, h, HN_ARRAY_LEN(h), false);
            subscribe(c, subs, server_id, json_null());
        }
    } else if (get) {
        /* the fields of a query message, as the query string gave them */
        c->initialised = true;
        json_object_set_new(q, "type", json_string("query"));
        if (json_object_get(q, "event_types") == NULL)
            json_object_set_new(q, "event_types", json_pack("[[s]]", "*"));
        json_object_del(q, "client_token");
        dispatch(c, q);
    } else {
        c->initialised = true; /* the body follows (on_body) */
        c->post = true;
    }
    json_decref(q);
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    if (scope->type != HORNET_SCOPE_WEBSOCKET) {
        on_http(req, scope);
        return;
    }
    if (!hn_events_available()) {
        api->websocket_close(req, 1011, NULL);
        return;
    }
    client_t *c = hn_xcalloc(1, sizeof(*c));
    c->req = req;
    api->set_data(req, c);
    api->websocket_accept(req, NULL, NULL, 0);
}

static void
on_disconnect(hornet_request_t *req, bool completed)
{
    (void)completed;
    client_t *c = api->get_data(req);
    if (c == NULL)
        return;
    api->set_data(req, NULL);
    hn_events_unsubscribe(c->sub);
    json_decref(c->pending_subs);
    /* answers still to come find their client gone */
    for (ask_t *a = c->asks; a; a = a->next)
        a->c = NULL;
    while (c->qhead) {
        queued_t *q = c->qhead;
        c->qhead = q->next;
        free(q->text);
        free(q);
    }
    free(c->body);
    free(c);
}

const hornet_app_t hn_builtin_events = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "events",
    .init = init,
    .on_request = on_request,
    .on_body = on_body,
    .on_disconnect = on_disconnect,
    .on_resume = on_resume,
    .on_websocket_receive = on_websocket_receive,
};
