/*
 * tls.h - the encrypted byte stream under the transport (tcp.c): an OpenSSL
 * connection on the socket, with recv/send-like calls that report what the
 * socket must wait for. tcp.c keeps one state machine for both; protocols
 * never know whether bytes were encrypted.
 */
#ifndef HN_WORKER_TLS_H
#define HN_WORKER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ssl_st;
struct ssl_ctx_st;

/* A server-side TLS connection on fd, or NULL (out of memory). */
struct ssl_st *hn_tls_new(struct ssl_ctx_st *ctx, int fd);
/* 1 done, 0 not yet (*want_write says which way to wait), -1 failed. */
int hn_tls_handshake(struct ssl_st *ssl, bool *want_write);
/* recv/send semantics: bytes, 0 on EOF (recv only), -1 with errno EAGAIN
 * (and *want_write when the socket must become writable first) or another
 * errno. */
ssize_t hn_tls_recv(struct ssl_st *ssl, void *buf, size_t len, bool *want_write);
ssize_t hn_tls_send(struct ssl_st *ssl, const void *buf, size_t len, bool *want_write);
/* Did ALPN choose HTTP/2? */
bool hn_tls_alpn_is_h2(struct ssl_st *ssl);
/* Decrypted bytes buffered inside OpenSSL that the socket will not signal. */
bool hn_tls_has_pending(struct ssl_st *ssl);
/* Send close_notify (best effort, never blocks). */
void hn_tls_shutdown(struct ssl_st *ssl);
void hn_tls_free(struct ssl_st *ssl);

#endif
