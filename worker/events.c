/*
 * events.c - see events.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/events.h"

#include <errno.h>
#include <ev.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/ev_link.h"
#include "shared/ev_msg.h"
#include "shared/ev_pattern.h"
#include "shared/log.h"
#include "shared/mem.h"

/* Between tries to reach a hub that is restarting. */
#define RETRY_MIN 0.05
#define RETRY_MAX 1.0

struct hn_events_sub {
    hn_events_notify_fn notify;
    hn_events_status_fn status;
    hn_events_sub_t *prev, *next; /* every subscriber, for status changes */
    void *ud;
    int64_t server_id;
    json_t *batch;              /* this notification's matches, while dispatching */
    hn_events_sub_t *next_hit;  /* the subscribers with a batch */
};



typedef struct pending {
    uint64_t rid;
    hn_events_reply_fn cb;
    void *ud;
    struct pending *next;
} pending_t;

static struct {
    struct ev_loop *loop;
    hn_ev_addr_t addr;
    bool have_addr;
    hn_ev_link_t *link;
    hn_ev_tree_t *tree;
    pending_t *head, *tail;
    uint64_t next_rid;
    double retry;
    ev_timer retry_timer;
    hn_events_sub_t subs; /* list head */
    const char *status;
    bool draining;
} E;

static void
link_tail(hn_events_sub_t *head, hn_events_sub_t *s)
{
    s->next = head;
    s->prev = head->prev;
    head->prev->next = s;
    head->prev = s;
}

static void
set_status(const char *status)
{
    if (E.status == status)
        return;
    E.status = status;
    /* a callback may unsubscribe any subscriber: move each back to the
     * list before telling it, so the walk holds no pointer that can go */
    hn_events_sub_t todo = {0};
    todo.next = todo.prev = &todo;
    if (E.subs.next != &E.subs) {
        todo.next = E.subs.next;
        todo.prev = E.subs.prev;
        todo.next->prev = &todo;
        todo.prev->next = &todo;
        E.subs.next = E.subs.prev = &E.subs;
    }
    while (todo.next != &todo) {
        hn_events_sub_t *s = todo.next;
        s->prev->next = s->next;
        s->next->prev = s->prev;
        link_tail(&E.subs, s);
        s->status(s->ud, status);
    }
}

static void connect_hub(void);

static void
fail_pending(void)
{
    pending_t *p = E.head;
    E.head = E.tail = NULL;
    while (p) {
        pending_t *next = p->next;
        p->cb(p->ud, NULL);
        free(p);
        p = next;
    }
}

static void
on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    connect_hub();
}

static void
retry_later(void)
{
    E.retry = E.retry ? HN_MIN(E.retry * 2, RETRY_MAX) : RETRY_MIN;
    ev_timer_set(&E.retry_timer, E.retry, 0);
    ev_timer_start(E.loop, &E.retry_timer);
}

static void
collect(void *owner, void *ud)
{
    hn_events_sub_t *s = owner;
    struct {
        json_t *ev;
        int64_t server;
        hn_events_sub_t **hits;
    } *c = ud;
    if (s->server_id >= 0 && s->server_id != c->server)
        return;
    if (s->batch == NULL) {
        s->batch = json_array();
        s->next_hit = *c->hits;
        *c->hits = s;
    }
    json_array_append(s->batch, c->ev);
}

static void
dispatch(json_t *events)
{
    hn_events_sub_t *hits = NULL;
    /* a worker linked for a register or query may have no subscriber yet */
    if (E.tree == NULL)
        return;
    size_t i;
    json_t *ev;
    json_array_foreach (events, i, ev) {
        const char *seg[HN_EV_MAX_SEGMENTS];
        size_t n;
        if (hn_ev_segments(json_object_get(ev, "type"), seg, HN_ARRAY_LEN(seg), &n) != HN_OK)
            continue;
        struct {
            json_t *ev;
            int64_t server;
            hn_events_sub_t **hits;
        } c = {ev, json_integer_value(json_object_get(json_object_get(ev, "id"), "server")),
               &hits};
        hn_ev_tree_match(E.tree, seg, n, collect, &c);
    }
    /* a subscriber's notify may unsubscribe it: take its batch first */
    while (hits) {
        hn_events_sub_t *s = hits;
        hits = s->next_hit;
        json_t *batch = s->batch;
        s->batch = NULL;
        s->next_hit = NULL;
        s->notify(s->ud, batch);
        json_decref(batch);
    }
}

static void
on_msg(hn_ev_link_t *l, json_t *msg, void *ud)
{
    (void)l;
    (void)ud;
    const char *t = json_string_value(json_object_get(msg, "t"));
    if (t == NULL)
        return;
    if (strcmp(t, "events") == 0) {
        dispatch(json_object_get(msg, "events"));
        return;
    }
    if (strcmp(t, "status") == 0) {
        if (!E.draining)
            set_status("operational");
        return;
    }
    /* an answer: the oldest request's */
    pending_t *p = E.head;
    json_t *rid = json_object_get(msg, "rid");
    if (p == NULL || !json_is_integer(rid) || (uint64_t)json_integer_value(rid) != p->rid) {
        hn_log(HN_LOG_WARN, "the event hub answered a request not asked");
        return;
    }
    E.head = p->next;
    if (E.head == NULL)
        E.tail = NULL;
    p->cb(p->ud, msg);
    free(p);
}

static void
on_closed(hn_ev_link_t *l, const char *why, void *ud)
{
    (void)ud;
    hn_log(HN_LOG_WARN, "lost the event hub: %s; connecting again", why);
    hn_ev_link_free(l);
    E.link = NULL;
    set_status("standby");
    fail_pending();
    retry_later();
}

static void
connect_hub(void)
{
    if (E.link || !E.have_addr)
        return;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&E.addr.sun, E.addr.len) != 0) {
        /* a unix socket connects at once or not at all (a full backlog) */
        if (fd >= 0)
            close(fd);
        hn_log(HN_LOG_DEBUG, "cannot reach the event hub: %s", strerror(errno));
        retry_later();
        return;
    }
    E.retry = 0;
    E.link = hn_ev_link_new(E.loop, fd, on_msg, on_closed, NULL);
}

void
hn_events_setup(struct ev_loop *loop, const hn_ev_addr_t *addr)
{
    E.loop = loop;
    E.have_addr = addr != NULL;
    E.subs.next = E.subs.prev = &E.subs;
    E.status = "operational";
    if (addr)
        E.addr = *addr;
    ev_init(&E.retry_timer, on_retry);
}

const char *
hn_events_status(void)
{
    return E.status ? E.status : "operational";
}

void
hn_events_drain(void)
{
    E.draining = true;
    set_status("standby");
}

bool
hn_events_available(void)
{
    return E.have_addr;
}

hn_events_sub_t *
hn_events_subscribe(const json_t *patterns, int64_t server_id, hn_events_notify_fn notify,
                    hn_events_status_fn status, void *ud)
{
    if (E.tree == NULL)
        E.tree = hn_ev_tree_new();
    hn_events_sub_t *s = hn_xcalloc(1, sizeof(*s));
    s->notify = notify;
    s->status = status;
    s->ud = ud;
    link_tail(&E.subs, s);
    s->server_id = server_id;
    size_t i;
    json_t *p;
    json_array_foreach (patterns, i, p) {
        const char *seg[HN_EV_MAX_SEGMENTS];
        size_t n;
        if (hn_ev_segments(p, seg, HN_ARRAY_LEN(seg), &n) == HN_OK)
            hn_ev_tree_add(E.tree, s, seg, n);
    }
    /* a subscriber hears of events from now on: the link must exist */
    connect_hub();
    return s;
}

void
hn_events_unsubscribe(hn_events_sub_t *s)
{
    if (s == NULL)
        return;
    hn_ev_tree_remove(E.tree, s);
    s->prev->next = s->next;
    s->next->prev = s->prev;
    json_decref(s->batch);
    free(s);
}

int
hn_events_request(json_t *msg, hn_events_reply_fn cb, void *ud)
{
    connect_hub();
    if (E.link == NULL)
        return HN_ERR;
    pending_t *p = hn_xcalloc(1, sizeof(*p));
    p->rid = ++E.next_rid;
    p->cb = cb;
    p->ud = ud;
    json_object_set_new(msg, "rid", json_integer((json_int_t)p->rid));
    if (E.tail)
        E.tail->next = p;
    else
        E.head = p;
    E.tail = p;
    /* a failed send has already failed every pending request, this one too,
     * through cb: either way cb is called once */
    hn_ev_link_send(E.link, msg);
    return HN_OK;
}
