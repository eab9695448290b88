/*
 * hub.c - see hub.h. The messages between a worker and the hub (ev_link.h
 * frames), "t" naming each:
 *   worker -> hub  {"t":"hello","rid":N}  (answered once the hub counts the worker in)
 *                  {"t":"register","rid":N,"events":[{"type","source_timestamp","payload"}]}
 *                  {"t":"query","rid":N, the query's fields as the client sent them}
 *   hub -> worker  {"t":"hello_res","rid":N,"status":"operational"}
 *                  {"t":"register_res","rid":N,"events":[EVENT...]|null}
 *                  {"t":"query_res","rid":N,"events":[...],"more_follows":B}
 *                  {"t":"events","events":[EVENT...]}      (to every worker)
 *                  {"t":"status","status":"operational"}   (on connect)
 * Workers check what clients send before it comes here; the hub checks it
 * again, since a worker runs application code.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "hub/hub.h"

#include <errno.h>
#include <ev.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/cfg.h"
#include "shared/ev_link.h"
#include "shared/ev_msg.h"
#include "shared/ev_pattern.h"
#include "shared/log.h"
#include "shared/mem.h"
#include "shared/sigfd.h"

typedef struct peer {
    hn_ev_link_t *link;
    struct peer *prev, *next;
} peer_t;

/* A retained event: the JSON sent to clients, and what a query filters on. */
typedef struct stored {
    json_t *json;
    double timestamp;
    double source_timestamp; /* NAN: none */
} stored_t;

static struct hub {
    struct ev_loop *loop;
    const hn_config_t *cfg;
    int64_t session;
    int64_t instance;
    double last_ts;
    stored_t *ring; /* retention: the newest max_events, oldest at head */
    size_t cap, head, n;
    peer_t peers;   /* list head */
    int listen_fd, sigfd;
    ev_io listen_io, sig_io;
} H;

bool
hn_hub_wanted(const hn_config_t *cfg)
{
    static const char name[] = "builtin:events";
    if (cfg->events_hub)
        return true;
    if (cfg->application_path && strcmp(cfg->application_path, name) == 0)
        return true;
    for (size_t i = 0; i < cfg->n_mount; i++)
        if (strcmp(cfg->mount[i].app, name) == 0)
            return true;
    return false;
}

static void
store(json_t *ev, double ts, double src)
{
    stored_t *s;
    if (H.n == H.cap) {
        s = &H.ring[H.head];
        json_decref(s->json);
        H.head = (H.head + 1) % H.cap;
        H.n--;
    }
    s = &H.ring[(H.head + H.n) % H.cap];
    s->json = json_incref(ev);
    s->timestamp = ts;
    s->source_timestamp = src;
    H.n++;
}

/* One event of a register as the hub keeps it, or NULL when it is not one. */
static json_t *
make_event(const json_t *in, double ts, const char **why)
{
    const char *seg[HN_EV_MAX_SEGMENTS];
    size_t n;
    hn_err_t err;
    json_t *type = json_object_get(in, "type");
    if (!json_is_object(in) || hn_ev_segments(type, seg, HN_ARRAY_LEN(seg), &n) != HN_OK ||
        hn_ev_type_check(seg, n, &err) != HN_OK) {
        *why = "an event type is not a list of segments";
        return NULL;
    }
    json_t *src = json_object_get(in, "source_timestamp");
    if (src != NULL && !json_is_null(src) && !json_is_number(src)) {
        *why = "source_timestamp is not a number";
        return NULL;
    }
    json_t *payload = json_object_get(in, "payload");
    return json_pack("{s:{s:I,s:I,s:I},s:O,s:f,s:O,s:O}", "id", "server",
                     (json_int_t)H.cfg->events_server_id, "session", (json_int_t)H.session,
                     "instance", (json_int_t)0, "type", type, "timestamp", ts,
                     "source_timestamp", src ? src : json_null(), "payload",
                     payload ? payload : json_null());
}

static void
broadcast(json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL)
        return;
    size_t len = strlen(text);
    for (peer_t *p = H.peers.next, *next; p != &H.peers; p = next) {
        next = p->next; /* a dead link unlinks its peer */
        hn_ev_link_send_text(p->link, text, len);
    }
    free(text);
}

static void
on_register(peer_t *p, json_t *msg)
{
    json_t *rid = json_object_get(msg, "rid");
    json_t *in = json_object_get(msg, "events");
    const char *why = "events is not a list";
    json_t *out = json_array();
    bool good = json_is_array(in);
    double ts = hn_ev_now();
    /* ids and timestamps order the stream: never let the clock run back */
    if (ts < H.last_ts)
        ts = H.last_ts;
    size_t i;
    json_t *e;
    if (good)
        json_array_foreach (in, i, e) {
            json_t *ev = make_event(e, ts, &why);
            if (ev == NULL) {
                good = false;
                break;
            }
            json_array_append_new(out, ev);
        }
    if (good) {
        H.last_ts = ts;
        json_array_foreach (out, i, e) {
            json_object_set_new(json_object_get(e, "id"), "instance",
                                json_integer((json_int_t)++H.instance));
            json_t *src = json_object_get(e, "source_timestamp");
            store(e, ts, json_is_number(src) ? json_number_value(src) : NAN);
        }
    } else {
        hn_log(HN_LOG_INFO, "register refused: %s", why);
    }
    json_t *res = json_pack("{s:s,s:O,s:O}", "t", "register_res", "rid", rid ? rid : json_null(),
                            "events", good ? out : json_null());
    hn_ev_link_send(p->link, res);
    json_decref(res);
    if (good && json_array_size(out) > 0) {
        json_t *note = json_pack("{s:s,s:O}", "t", "events", "events", out);
        broadcast(note);
        json_decref(note);
    }
    json_decref(out);
}

/* A query's bound: absent or null is open. */
static double
bound(const json_t *q, const char *key, double open)
{
    json_t *v = json_object_get(q, key);
    return json_is_number(v) ? json_number_value(v) : open;
}

static bool
type_wanted(const stored_t *s, const json_t *patterns)
{
    const char *type[HN_EV_MAX_SEGMENTS], *pat[HN_EV_MAX_SEGMENTS];
    size_t nt, np, i;
    json_t *p;
    if (hn_ev_segments(json_object_get(s->json, "type"), type, HN_ARRAY_LEN(type), &nt) != HN_OK)
        return false;
    json_array_foreach (patterns, i, p)
        if (hn_ev_segments(p, pat, HN_ARRAY_LEN(pat), &np) == HN_OK &&
            hn_ev_pattern_matches(pat, np, type, nt))
            return true;
    return false;
}

static void
on_query(peer_t *p, json_t *q)
{
    json_t *patterns = json_object_get(q, "event_types");
    double t_from = bound(q, "t_from", -INFINITY), t_to = bound(q, "t_to", INFINITY);
    double s_from = bound(q, "source_t_from", -INFINITY);
    double s_to = bound(q, "source_t_to", INFINITY);
    bool by_source = json_is_number(json_object_get(q, "source_t_from")) ||
                     json_is_number(json_object_get(q, "source_t_to"));
    json_t *sid = json_object_get(q, "server_id");
    const char *order = json_string_value(json_object_get(q, "order"));
    bool ascending = order && strcmp(order, "ascending") == 0;
    json_t *maxv = json_object_get(q, "max_results");
    size_t max = json_is_integer(maxv) && json_integer_value(maxv) >= 0
                     ? (size_t)json_integer_value(maxv)
                     : SIZE_MAX;
    json_t *events = json_array();
    bool more = false;
    bool server_ok = !json_is_integer(sid) || json_integer_value(sid) == H.cfg->events_server_id;
    /* the ring is in timestamp order, ties in instance order */
    for (size_t k = 0; server_ok && k < H.n; k++) {
        const stored_t *s = &H.ring[(H.head + (ascending ? k : H.n - 1 - k)) % H.cap];
        if (s->timestamp < t_from || s->timestamp > t_to)
            continue;
        if (by_source && (isnan(s->source_timestamp) || s->source_timestamp < s_from ||
                          s->source_timestamp > s_to))
            continue;
        if (!json_is_array(patterns) || !type_wanted(s, patterns))
            continue;
        if (json_array_size(events) == max) {
            more = true;
            break;
        }
        json_array_append(events, s->json);
    }
    json_t *rid = json_object_get(q, "rid");
    json_t *res = json_pack("{s:s,s:O,s:o,s:b}", "t", "query_res", "rid", rid ? rid : json_null(),
                            "events", events, "more_follows", more);
    hn_ev_link_send(p->link, res);
    json_decref(res);
}

static void
on_peer_msg(hn_ev_link_t *l, json_t *msg, void *ud)
{
    (void)l;
    peer_t *p = ud;
    const char *t = json_string_value(json_object_get(msg, "t"));
    if (t && strcmp(t, "register") == 0) {
        on_register(p, msg);
    } else if (t && strcmp(t, "hello") == 0) {
        /* answered in order: every event registered after this answer
         * reaches the worker that asked */
        json_t *rid = json_object_get(msg, "rid");
        json_t *res = json_pack("{s:s,s:O,s:s}", "t", "hello_res", "rid",
                                rid ? rid : json_null(), "status", "operational");
        hn_ev_link_send(p->link, res);
        json_decref(res);
    }
    else if (t && strcmp(t, "query") == 0)
        on_query(p, msg);
    else
        hn_log(HN_LOG_WARN, "a worker sent an unknown message \"%s\"", t ? t : "(none)");
}

static void
on_peer_closed(hn_ev_link_t *l, const char *why, void *ud)
{
    peer_t *p = ud;
    hn_log(HN_LOG_DEBUG, "a worker's link closed: %s", why);
    p->prev->next = p->next;
    p->next->prev = p->prev;
    hn_ev_link_free(l);
    free(p);
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    for (;;) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                hn_log(HN_LOG_ERROR, "accept on the hub's socket: %s", strerror(errno));
            return;
        }
        /* abstract sockets have no file permissions: only our own user */
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
            hn_log(HN_LOG_WARN, "the hub refused a connection from uid %d",
                   len == sizeof(cred) ? (int)cred.uid : -1);
            close(fd);
            continue;
        }
        peer_t *p = hn_xcalloc(1, sizeof(*p));
        p->link = hn_ev_link_new(loop, fd, on_peer_msg, on_peer_closed, p);
        p->next = H.peers.next;
        p->prev = &H.peers;
        H.peers.next->prev = p;
        H.peers.next = p;
        json_t *st = json_pack("{s:s,s:s}", "t", "status", "status", "operational");
        hn_ev_link_send(p->link, st);
        json_decref(st);
    }
}

static void
on_signal(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    int sig;
    while ((sig = hn_sigfd_next(w->fd)) > 0)
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT)
            ev_break(loop, EVBREAK_ALL);
}

int
hn_hub_main(const hn_config_t *cfg, int listen_fd)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2};
    hn_sigfd_reset(sigs, HN_ARRAY_LEN(sigs));
    hn_log_set_role("events");
    H.cfg = cfg;
    H.loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    H.sigfd = hn_sigfd_open(sigs, HN_ARRAY_LEN(sigs));
    if (H.loop == NULL || H.sigfd < 0) {
        hn_log(HN_LOG_CRIT, "the event hub cannot start: %s", strerror(errno));
        return HN_EXIT_FAILURE;
    }
    /* unique across restarts of a memory-only hub: its start, in ms */
    H.session = (int64_t)(hn_ev_now() * 1000);
    H.cap = (size_t)cfg->events_retention_max_events;
    H.ring = hn_xcalloc(H.cap ? H.cap : 1, sizeof(*H.ring));
    if (H.cap == 0)
        H.cap = 1; /* retention 0 is refused by the config; keep the ring sane */
    H.peers.next = H.peers.prev = &H.peers;
    H.listen_fd = listen_fd;
    ev_io_init(&H.listen_io, on_accept, listen_fd, EV_READ);
    ev_io_start(H.loop, &H.listen_io);
    ev_io_init(&H.sig_io, on_signal, H.sigfd, EV_READ);
    ev_io_start(H.loop, &H.sig_io);
    hn_log(HN_LOG_INFO, "event hub ready, server %d, session %lld", cfg->events_server_id,
           (long long)H.session);
    ev_run(H.loop, 0);
    while (H.peers.next != &H.peers) {
        peer_t *p = H.peers.next;
        p->prev->next = p->next;
        p->next->prev = p->prev;
        hn_ev_link_free(p->link);
        free(p);
    }
    for (size_t k = 0; k < H.n; k++)
        json_decref(H.ring[(H.head + k) % H.cap].json);
    free(H.ring);
    close(listen_fd);
    close(H.sigfd);
    ev_loop_destroy(H.loop);
    return HN_EXIT_OK;
}
