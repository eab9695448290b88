/*
 * timer.c - see timer.h. A timer (or io watcher) may be freed from its own
 * callback, so the callback wrappers touch nothing after calling the app.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/timer.h"

#include <ev.h>
#include <stdlib.h>

#include "shared/common.h"
#include "shared/mem.h"

struct hornet_timer {
    ev_timer w;
    void (*cb)(struct hornet_timer *t, void *ud);
    void *ud;
};

static struct ev_loop *t_loop;

void
hn_timer_set_loop(struct ev_loop *loop)
{
    t_loop = loop;
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct hornet_timer *t = HN_CONTAINER_OF(w, struct hornet_timer, w);
    t->cb(t, t->ud);
}

struct hornet_timer *
hn_timer_new(void (*cb)(struct hornet_timer *t, void *ud), void *ud)
{
    struct hornet_timer *t = hn_xmalloc(sizeof(*t));
    ev_init(&t->w, on_timer);
    t->cb = cb;
    t->ud = ud;
    return t;
}

void
hn_timer_start(struct hornet_timer *t, double after, double repeat)
{
    ev_timer_stop(t_loop, &t->w);
    ev_timer_set(&t->w, after < 0 ? 0 : after, repeat < 0 ? 0 : repeat);
    ev_timer_start(t_loop, &t->w);
}

void
hn_timer_stop(struct hornet_timer *t)
{
    ev_timer_stop(t_loop, &t->w);
}

void
hn_timer_free(struct hornet_timer *t)
{
    if (t == NULL)
        return;
    ev_timer_stop(t_loop, &t->w);
    free(t);
}

struct hornet_io {
    ev_io w;
    void (*cb)(struct hornet_io *io, void *ud);
    void *ud;
};

static void
on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct hornet_io *io = HN_CONTAINER_OF(w, struct hornet_io, w);
    io->cb(io, io->ud);
}

struct hornet_io *
hn_io_new(int fd, void (*cb)(struct hornet_io *io, void *ud), void *ud)
{
    struct hornet_io *io = hn_xmalloc(sizeof(*io));
    ev_io_init(&io->w, on_io, fd, EV_READ);
    io->cb = cb;
    io->ud = ud;
    ev_io_start(t_loop, &io->w);
    return io;
}

void
hn_io_free(struct hornet_io *io)
{
    if (io == NULL)
        return;
    ev_io_stop(t_loop, &io->w);
    free(io);
}
