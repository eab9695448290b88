/*
 * fdpass.h - descriptors over a unix socket (SCM_RIGHTS). A message is a
 * 32-bit word, whose meaning is the caller's, and up to HN_FDPASS_MAX
 * descriptors. The master hands running workers their reopened log files
 * this way (master/logfiles.h); a worker cannot open them itself.
 */
#ifndef HN_SHARED_FDPASS_H
#define HN_SHARED_FDPASS_H

#include <stddef.h>
#include <stdint.h>

#include "shared/common.h"

#define HN_FDPASS_MAX 4

/* Send word and fds[0..n) (borrowed: the caller still closes its copies).
 * Returns HN_OK, or HN_ERR with errno set (EAGAIN on a full non-blocking
 * socket). */
int hn_fdpass_send(int sock, uint32_t word, const int *fds, size_t n);

/* Receive one message into *word and fds[0..*n), which the caller owns
 * (close-on-exec). Returns HN_OK, HN_AGAIN (nothing waiting on a
 * non-blocking socket), HN_DONE (the peer closed) or HN_ERR with errno set
 * (a malformed message: whatever descriptors it carried are closed). */
int hn_fdpass_recv(int sock, uint32_t *word, int fds[HN_FDPASS_MAX], size_t *n);

#endif
