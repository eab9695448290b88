/*
 * tls_ctx.h - the server's TLS context (an OpenSSL SSL_CTX) built from the
 * configuration: certificate chain, key, client verification, protocols
 * (TLS 1.2 and 1.3 only), ciphers, ALPN and session tickets.
 *
 * The master builds it at start and on reload, before forking, so every
 * worker inherits the same ticket keys: a session resumes on whichever
 * worker the next connection reaches. A reload copies the keys into the new
 * context, so sessions also survive reloads.
 */
#ifndef HN_SHARED_TLS_CTX_H
#define HN_SHARED_TLS_CTX_H

#include "shared/common.h"

struct hn_config;
struct ssl_ctx_st;

/* NULL with err empty when cfg has no certfile; NULL with err set (naming
 * the file) when something cannot be loaded. prev (may be NULL) lends its
 * session ticket keys. */
struct ssl_ctx_st *hn_tls_ctx_new(const struct hn_config *cfg, struct ssl_ctx_st *prev,
                                  hn_err_t *err);
void hn_tls_ctx_free(struct ssl_ctx_st *ctx);

#endif
