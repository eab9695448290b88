/*
 * sigfd.c - signalfd set-up shared by master and workers (see sigfd.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "shared/sigfd.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

int
hn_sigfd_open(const int *signals, size_t n)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < n; i++)
        sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int
hn_sigfd_next(int fd)
{
    struct signalfd_siginfo si;
    ssize_t r;
    do {
        r = read(fd, &si, sizeof(si));
    } while (r < 0 && errno == EINTR);
    if (r != (ssize_t)sizeof(si))
        return 0;
    return (int)si.ssi_signo;
}

void
hn_sigfd_reset(const int *keep_blocked, size_t n)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        sigaction(sig, &sa, NULL); /* fails harmlessly for reserved RT signals */
    }
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < n; i++)
        sigaddset(&set, keep_blocked[i]);
    sigprocmask(SIG_SETMASK, &set, NULL);
}
