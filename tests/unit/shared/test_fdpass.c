/*
 * test_fdpass.c - descriptors over a socket pair, as the master hands a
 * worker its reopened log files: the word and the files arrive, in order,
 * close-on-exec; an empty socket, a closed peer and too many descriptors.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/fdpass.h"
#include "tests/unit/tap.h"

static bool
same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static void
test_pass(void)
{
    int sv[2], pipe_fds[2];
    char path[] = "/tmp/hornet-test-fdpass-XXXXXX";
    int file = mkstemp(path);
    unlink(path);
    ok(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socket pair");
    ok(pipe(pipe_fds) == 0 && file >= 0, "a pipe and a file to send");
    fcntl(sv[1], F_SETFL, O_NONBLOCK);

    uint32_t word = 0;
    int got[HN_FDPASS_MAX];
    size_t n = 99;
    is_int(hn_fdpass_recv(sv[1], &word, got, &n), HN_AGAIN, "nothing sent: HN_AGAIN");
    is_int(n, 0, "and no descriptor");

    int send[2] = {file, pipe_fds[1]};
    is_int(hn_fdpass_send(sv[0], 0x3, send, 2), HN_OK, "send a word and two descriptors");
    is_int(hn_fdpass_send(sv[0], 0x7, NULL, 0), HN_OK, "send a word alone");
    is_int(hn_fdpass_recv(sv[1], &word, got, &n), HN_OK, "receive the first message");
    is_int(word, 0x3, "its word");
    is_int(n, 2, "its two descriptors");
    ok(n == 2 && same_file(got[0], file) && same_file(got[1], pipe_fds[1]),
       "the same files, in order");
    ok(n == 2 && got[0] != file && (fcntl(got[0], F_GETFD) & FD_CLOEXEC),
       "new descriptors, close-on-exec");
    ok(n == 2 && write(got[1], "x", 1) == 1, "the received pipe end writes");
    char c = 0;
    ok(read(pipe_fds[0], &c, 1) == 1 && c == 'x', "into the same pipe");
    for (size_t i = 0; i < n; i++)
        close(got[i]);
    is_int(hn_fdpass_recv(sv[1], &word, got, &n), HN_OK, "receive the second message");
    ok(word == 0x7 && n == 0, "the word alone, one message each");

    int many[HN_FDPASS_MAX + 1];
    for (size_t i = 0; i < HN_ARRAY_LEN(many); i++)
        many[i] = file;
    errno = 0;
    is_int(hn_fdpass_send(sv[0], 1, many, HN_ARRAY_LEN(many)), HN_ERR,
           "more than HN_FDPASS_MAX descriptors is refused");
    is_int(errno, EINVAL, "with EINVAL");

    close(sv[0]);
    is_int(hn_fdpass_recv(sv[1], &word, got, &n), HN_DONE, "the peer closed: HN_DONE");
    close(sv[1]);
    close(file);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

int
main(void)
{
    test_pass();
    return tap_done();
}
