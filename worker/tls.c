/*
 * tls.c - see tls.h. OpenSSL's error queue is per thread and sticky: every
 * call starts with it clear, and failures are cleared after being read, so
 * one connection's error never shows up as another's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/tls.h"

#include <errno.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "shared/log.h"

SSL *
hn_tls_new(SSL_CTX *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL)
        return NULL;
    SSL_set_fd(ssl, fd);
    SSL_set_accept_state(ssl);
    return ssl;
}

/* An SSL_get_error result as recv/send would say it. */
static ssize_t
as_errno(SSL *ssl, int rc, bool *want_write)
{
    int e = SSL_get_error(ssl, rc);
    *want_write = false;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        *want_write = true;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0)
            return 0;
        return -1;
    default: {
        unsigned long code = ERR_get_error();
        hn_log(HN_LOG_DEBUG, "TLS: %s", code ? ERR_reason_error_string(code) : "error");
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
    }
}

int
hn_tls_handshake(SSL *ssl, bool *want_write)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(ssl);
    if (rc == 1)
        return 1;
    ssize_t r = as_errno(ssl, rc, want_write);
    return r < 0 && errno == EAGAIN ? 0 : -1;
}

ssize_t
hn_tls_recv(SSL *ssl, void *buf, size_t len, bool *want_write)
{
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read_ex(ssl, buf, len, &n);
    if (rc == 1)
        return (ssize_t)n;
    return as_errno(ssl, rc, want_write);
}

ssize_t
hn_tls_send(SSL *ssl, const void *buf, size_t len, bool *want_write)
{
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write_ex(ssl, buf, len, &n);
    if (rc == 1)
        return (ssize_t)n;
    ssize_t r = as_errno(ssl, rc, want_write);
    if (r == 0) { /* the peer's close_notify: nothing more can be sent */
        errno = EPIPE;
        return -1;
    }
    return r;
}

bool
hn_tls_alpn_is_h2(SSL *ssl)
{
    const unsigned char *p = NULL;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &p, &len);
    return len == 2 && p[0] == 'h' && p[1] == '2';
}

bool
hn_tls_has_pending(SSL *ssl)
{
    return SSL_has_pending(ssl) == 1;
}

void
hn_tls_shutdown(SSL *ssl)
{
    ERR_clear_error();
    if (SSL_is_init_finished(ssl))
        SSL_shutdown(ssl);
    ERR_clear_error();
}

void
hn_tls_free(SSL *ssl)
{
    SSL_free(ssl);
}
