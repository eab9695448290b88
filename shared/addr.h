/*
 * addr.h - bind addresses as the config and CLI spell them, and socket
 * addresses as logs print them.
 *
 *   HOST:PORT      127.0.0.1:8000, localhost:8080, :8000 (all IPv4 interfaces)
 *   HOST           port 8000 (Hypercorn's default)
 *   [IPv6]:PORT    [::1]:8000, [::]:443
 *   unix:PATH      a unix stream socket
 *   fd://N         an inherited, already bound stream socket
 */
#ifndef HN_SHARED_ADDR_H
#define HN_SHARED_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "shared/common.h"

#define HN_ADDR_DEFAULT_PORT 8000
#define HN_ADDR_TEXT_MAX 128 /* enough for "unix:" + sun_path and "[v6]:port" */

typedef enum hn_addr_kind {
    HN_ADDR_TCP,
    HN_ADDR_UNIX,
    HN_ADDR_FD,
} hn_addr_kind_t;

typedef struct hn_addr {
    hn_addr_kind_t kind;
    struct sockaddr_storage sa; /* TCP: AF_INET/AF_INET6; UNIX: AF_UNIX */
    socklen_t sa_len;
    int fd;                        /* HN_ADDR_FD only, else -1 */
    char text[HN_ADDR_TEXT_MAX];   /* canonical form: 127.0.0.1:8000, [::1]:8000, unix:/p, fd://3 */
} hn_addr_t;

/* Parse one bind address. Host names are resolved with getaddrinfo (first
 * result). Returns HN_OK, or HN_ERR with err->msg saying what was expected,
 * e.g. "expected HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N". */
int hn_addr_parse(const char *text, hn_addr_t *out, hn_err_t *err);

/* Format a socket address: "127.0.0.1:8000", "[::1]:8000", "unix:/path"
 * ("unix:" alone for an unnamed peer). Always NUL-terminates; returns buf. */
const char *hn_addr_format_sa(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

/* Same address (family, address, port or path)? Used to match listeners on reload. */
bool hn_addr_equal(const hn_addr_t *a, const hn_addr_t *b);

#endif
