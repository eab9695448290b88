/*
 * tls_ctx.c - see tls_ctx.h. Errors name the file and say what OpenSSL
 * found wrong, in words an operator can act on.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "shared/tls_ctx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "shared/cfg.h"

/* What ALPN offers (alpn_protocols), in the server's order of preference.
 * Static: a context outlives reloads that would free a config's copy. */
typedef struct alpn_offer {
    const unsigned char *protos;
    unsigned len;
} alpn_offer_t;
static const alpn_offer_t offer_h2_first = {(const unsigned char *)"\x02h2\x08http/1.1", 12},
                          offer_h11_first = {(const unsigned char *)"\x08http/1.1\x02h2", 12},
                          offer_h2 = {(const unsigned char *)"\x02h2", 3},
                          offer_h11 = {(const unsigned char *)"\x08http/1.1", 9};

static const alpn_offer_t *
alpn_offer(const hn_config_t *cfg)
{
    bool h11 = false;
    for (size_t i = 0; i < cfg->n_alpn_protocols; i++)
        h11 |= strcmp(cfg->alpn_protocols[i], "http/1.1") == 0;
    if (!cfg->alpn_h2)
        return &offer_h11;
    if (!h11)
        return &offer_h2;
    return strcmp(cfg->alpn_protocols[0], "h2") == 0 ? &offer_h2_first : &offer_h11_first;
}

/* Why the last OpenSSL call failed, as one line. */
static const char *
ssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, size, "%s", r ? r : (errno ? strerror(errno) : "unknown error"));
    ERR_clear_error();
    return buf;
}

static int
on_password(char *buf, int size, int rwflag, void *ud)
{
    (void)rwflag;
    const char *pw = ud;
    if (pw == NULL)
        return -1;
    int n = (int)strlen(pw);
    if (n > size)
        return -1;
    memcpy(buf, pw, (size_t)n);
    return n;
}

static int
on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
        unsigned int inlen, void *arg)
{
    const alpn_offer_t *offer = arg;
    (void)ssl;
    /* the client's list against ours; no overlap: go on without ALPN,
     * which means HTTP/1.1 (RFC 7301 allows a fatal alert; curl and
     * browsers are better served by an answer) */
    if (SSL_select_next_proto((unsigned char **)out, outlen, offer->protos, offer->len, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    return SSL_TLSEXT_ERR_OK;
}

/* Can the file be read at all? Says why not, in errno's words, before
 * OpenSSL's "system lib" would. */
static bool
readable(const char *key, const char *file, hn_err_t *err)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        hn_err_set(err, errno, "%s %s: cannot open: %s", key, file, strerror(errno));
        return false;
    }
    fclose(f);
    return true;
}

/* Does the PEM file hold text (a key, an encrypted key)? Only read when
 * loading already failed, to say why in an operator's words. */
static bool
pem_has(const char *file, const char *text)
{
    char line[256];
    bool found = false;
    FILE *f = fopen(file, "r");
    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return found;
}

static SSL_CTX *
fail(SSL_CTX *ctx, hn_err_t *err, const char *key, const char *file, const char *what)
{
    char why[256];
    ssl_reason(why, sizeof(why));
    /* OpenSSL's generic reasons add nothing to ours */
    if (strcmp(why, "PEM lib") == 0 || strcmp(why, "system lib") == 0)
        hn_err_set(err, EINVAL, "%s %s: %s", key, file, what);
    else
        hn_err_set(err, EINVAL, "%s %s: %s: %s", key, file, what, why);
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *
hn_tls_ctx_new(const hn_config_t *cfg, SSL_CTX *prev, hn_err_t *err)
{
    err->msg[0] = '\0';
    /* keyfile or ca_certs without certfile, and verify_mode without
     * ca_certs, are hn_cfg_finish's errors: they need no file read */
    if (cfg->certfile == NULL)
        return NULL;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        char why[256];
        hn_err_set(err, ENOMEM, "cannot create a TLS context: %s", ssl_reason(why, sizeof(why)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* no renegotiation (a CPU sink for attackers); the server picks the
     * cipher; a client that closes without close_notify is an EOF, as in
     * every browser, not an error */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* partial writes keep retries simple; released buffers keep an idle
     * TLS connection as small as a plaintext one */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, cfg->ciphers) != 1) {
        char why[256];
        hn_err_set(err, EINVAL, "ciphers \"%s\": %s", cfg->ciphers, ssl_reason(why, sizeof(why)));
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_default_passwd_cb(ctx, on_password);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, cfg->keyfile_password);
    const char *keyfile = cfg->keyfile ? cfg->keyfile : cfg->certfile;
    if (!readable("certfile", cfg->certfile, err) || !readable("keyfile", keyfile, err) ||
        (cfg->ca_certs && !readable("ca_certs", cfg->ca_certs, err))) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->certfile) != 1)
        return fail(ctx, err, "certfile", cfg->certfile, "cannot load the certificate chain");
    if (SSL_CTX_use_PrivateKey_file(ctx, keyfile, SSL_FILETYPE_PEM) != 1) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            hn_err_set(err, EINVAL, "keyfile %s does not match certfile %s (another "
                       "certificate's key?)", keyfile, cfg->certfile);
            SSL_CTX_free(ctx);
            return NULL;
        }
        const char *why = "cannot load the private key";
        if (!pem_has(keyfile, "PRIVATE KEY"))
            why = cfg->keyfile ? "no private key in the file"
                               : "no private key in certfile (set keyfile)";
        else if (pem_has(keyfile, "ENCRYPTED"))
            why = cfg->keyfile_password ? "cannot decrypt the key: wrong keyfile_password"
                                        : "the key is encrypted and keyfile_password is not set";
        return fail(ctx, err, "keyfile", keyfile, why);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        char why[256];
        hn_err_set(err, EINVAL, "keyfile %s does not match certfile %s: %s", keyfile,
                   cfg->certfile, ssl_reason(why, sizeof(why)));
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (cfg->ca_certs && SSL_CTX_load_verify_locations(ctx, cfg->ca_certs, NULL) != 1)
        return fail(ctx, err, "ca_certs", cfg->ca_certs, "cannot load the CA certificates");
    if (cfg->verify_mode != HN_CFG_VERIFY_NONE && cfg->ca_certs) {
        SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(cfg->ca_certs));
        SSL_CTX_set_verify(ctx,
                           SSL_VERIFY_PEER | (cfg->verify_mode == HN_CFG_VERIFY_REQUIRED
                                                  ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                  : 0),
                           NULL);
    }
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, (void *)alpn_offer(cfg));
    /* Stateless tickets only: a per-process session cache would miss on
     * every other worker. One ticket per handshake is enough to resume. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    static const unsigned char sid[] = "hornet";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    if (prev) {
        unsigned char keys[80];
        if (SSL_CTX_get_tlsext_ticket_keys(prev, keys, sizeof(keys)) == 1)
            SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof(keys));
        OPENSSL_cleanse(keys, sizeof(keys));
    }
    return ctx;
}

void
hn_tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}
