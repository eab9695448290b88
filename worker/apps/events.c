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
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <hornet/app.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cfg.h"
#include "shared/common.h"
#include "shared/ev_msg.h"
#include "shared/ev_pattern.h"
#include "shared/mem.h"
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

typedef struct client {
    hornet_request_t *req;
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

static void
close_with(client_t *c, int code, const char *reason)
{
    if (c->closing)
        return;
    c->closing = true;
    api->websocket_close(c->req, code, reason);
}

/* Send or queue one message; a client over its bound is closed. */
static void
send_text(client_t *c, char *text)
{
    size_t len = strlen(text);
    if (c->closing) {
        free(text);
        return;
    }
    if (c->qhead == NULL && api->websocket_send(c->req, text, len, true) != HORNET_EAGAIN) {
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
        if (api->websocket_send(req, q->text, q->len, true) == HORNET_EAGAIN)
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
    /* subscribed once the hub has answered: from then on every event it
     * registers reaches this worker, so init_res promises no gap */
    c->initialised = true;
    c->pending_subs = json_incref(subs);
    c->server_id = json_is_integer(server_id) ? json_integer_value(server_id) : -1;
    ask_hub(c, json_pack("{s:s}", "t", "hello"), id, ASK_HELLO, true);
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
            send_json(c, json_pack("{s:s,s:O,s:s,s:s}", "type", "init_res", "id", a->id,
                                   "result", "error", "error", "the event hub is not reachable"));
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
    } else if (a->with_response) {
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
    } else if (strcmp(type, "ack") == 0) {
        /* notifications are sent with "ack": false for now: nothing waits */
    } else {
        close_with(c, 1008, "unknown message type");
    }
    json_decref(msg);
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    if (scope->type != HORNET_SCOPE_WEBSOCKET) {
        static const char body[] = "builtin:events speaks WebSocket (hornet(8), EVENTS)\n";
        static const hornet_header_t h[] = {
            {"content-type", 12, "text/plain; charset=utf-8", 25},
            {"upgrade", 7, "websocket", 9},
        };
        api->response_start(req, 426, h, HN_ARRAY_LEN(h), false);
        api->response_body(req, body, sizeof(body) - 1, false);
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
    free(c);
}

const hornet_app_t hn_builtin_events = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "events",
    .init = init,
    .on_request = on_request,
    .on_disconnect = on_disconnect,
    .on_resume = on_resume,
    .on_websocket_receive = on_websocket_receive,
};
