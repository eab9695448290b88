/*
 * fdpass.c - see fdpass.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "shared/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Room for the most descriptors a message carries, aligned as cmsg wants. */
typedef union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * HN_FDPASS_MAX)];
} control_t;

int
hn_fdpass_send(int sock, uint32_t word, const int *fds, size_t n)
{
    if (n > HN_FDPASS_MAX) {
        errno = EINVAL;
        return HN_ERR;
    }
    struct iovec iov = {.iov_base = &word, .iov_len = sizeof(word)};
    control_t control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    }
    ssize_t w;
    do
        w = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    return w == (ssize_t)sizeof(word) ? HN_OK : HN_ERR;
}

int
hn_fdpass_recv(int sock, uint32_t *word, int fds[HN_FDPASS_MAX], size_t *n)
{
    struct iovec iov = {.iov_base = word, .iov_len = sizeof(*word)};
    control_t control;
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    ssize_t r;
    do
        r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    *n = 0;
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? HN_AGAIN : HN_ERR;
    if (r == 0)
        return HN_DONE;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*n < HN_FDPASS_MAX)
                fds[(*n)++] = fd;
            else
                close(fd);
        }
    }
    if (r != (ssize_t)sizeof(*word) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        while (*n > 0)
            close(fds[--*n]);
        errno = EBADMSG;
        return HN_ERR;
    }
    return HN_OK;
}
