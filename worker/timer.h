/*
 * timer.h - the timers of the application ABI (hornet_api_t.timer_*): libev
 * timers on the worker's loop, allocated per timer the app creates.
 */
#ifndef HN_WORKER_TIMER_H
#define HN_WORKER_TIMER_H

struct ev_loop;
struct hornet_timer;
struct hornet_io;

void hn_timer_set_loop(struct ev_loop *loop);
struct hornet_timer *hn_timer_new(void (*cb)(struct hornet_timer *t, void *ud), void *ud);
void hn_timer_start(struct hornet_timer *t, double after, double repeat);
void hn_timer_stop(struct hornet_timer *t);
/* Safe from inside the timer's own callback. */
void hn_timer_free(struct hornet_timer *t);
/* hornet_api_t.io_*: a descriptor's read readiness, on the same loop. */
struct hornet_io *hn_io_new(int fd, void (*cb)(struct hornet_io *io, void *ud), void *ud);
void hn_io_free(struct hornet_io *io);

#endif
