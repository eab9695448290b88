/*
 * sigfd.h - signals as a readable descriptor (signalfd). Both the master and
 * the workers take signals this way instead of through libev's ev_signal: a
 * libev signal belongs to one loop per process, and a forked worker would
 * inherit the master's handlers and wake-up pipe. With signalfd a worker
 * simply resets its mask and opens its own.
 */
#ifndef HN_SHARED_SIGFD_H
#define HN_SHARED_SIGFD_H

#include <stddef.h>

/* Block the given signals and return a non-blocking, close-on-exec signalfd
 * for them, or -1 with errno set. */
int hn_sigfd_open(const int *signals, size_t n);
/* Next pending signal number, or 0 when none is pending. */
int hn_sigfd_next(int fd);
/* Default dispositions for every catchable signal, SIGPIPE ignored, and a
 * mask holding only the given signals. Called first thing in a forked child:
 * the signals it will read from its own signalfd stay blocked throughout, so
 * one sent right after fork waits instead of killing it. */
void hn_sigfd_reset(const int *keep_blocked, size_t n);

#endif
