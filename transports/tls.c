/*
 * transports/tls.c: OpenSSL server contexts with ALPN for one-port
 * HTTP/2 + HTTP/1.1.
 */
#include "lib/tsr.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/mem.h"
#include "transports/tls.h"

struct tsr_tls_ctx {
    SSL_CTX *ssl_ctx;
    bool allow_h2;
};

int tsr_tls_diag(struct tsr_diag *d, const char *what)
{
    char buf[256] = "";
    unsigned long e, last = 0;

    /* Report the deepest entry: it names the real cause (file, key mismatch). */
    while ((e = ERR_get_error()) != 0)
        last = e;
    if (last != 0)
        ERR_error_string_n(last, buf, sizeof(buf));
    return tsr_diag_set(d, TSR_ETLS, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

/* The callback argument must outlive a context swapped out on SIGHUP while
 * its connections live on, so it points at one of these constants. */
static const bool alpn_h2_on = true, alpn_h2_off = false;

/* Prefer h2 when the client offers it and we allow it, else http/1.1. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    bool allow_h2 = *(const bool *)arg;
    bool has_h2 = false, has_h1 = false;

    (void)ssl;
    for (unsigned int i = 0; i < inlen;) {
        unsigned int n = in[i];
        if (i + 1 + n > inlen)
            break;
        if (n == 2 && memcmp(in + i + 1, "h2", 2) == 0)
            has_h2 = true;
        else if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0)
            has_h1 = true;
        i += 1 + n;
    }
    if (has_h2 && allow_h2) {
        *out = (const unsigned char *)"h2";
        *outlen = 2;
        return SSL_TLSEXT_ERR_OK;
    }
    if (has_h1) {
        *out = (const unsigned char *)"http/1.1";
        *outlen = 8;
        return SSL_TLSEXT_ERR_OK;
    }
    /* No overlap: carry on without ALPN, which means HTTP/1.1 (RFC 7301 §3.2
     * allows the fatal alert, but curl without ALPN support would fail). */
    return SSL_TLSEXT_ERR_NOACK;
}

int tsr_tls_ctx_new(const struct tsr_tls_opts *opts, struct tsr_tls_ctx **out, struct tsr_diag *d)
{
    struct tsr_tls_ctx *ctx;
    int rc = TSR_ETLS;

    ctx = tsr_calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    ctx->allow_h2 = opts->allow_h2;
    ERR_clear_error();
    ctx->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (ctx->ssl_ctx == NULL) {
        rc = tsr_tls_diag(d, "SSL_CTX_new");
        goto out;
    }
    SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                          SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                       SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    /* RFC 9113 §9.2.2 forbids TLS 1.2 cipher suites without forward secrecy
     * and AEAD for h2; this list keeps only those. */
    if (SSL_CTX_set_cipher_list(ctx->ssl_ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
        rc = tsr_tls_diag(d, "cipher list");
        goto out;
    }
    SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_SERVER);
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, opts->cert_file) != 1) {
        rc = tsr_tls_diag(d, "cannot load certificate");
        tsr_diag_prefix(d, "%s", opts->cert_file);
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, opts->key_file, SSL_FILETYPE_PEM) != 1) {
        rc = tsr_tls_diag(d, "cannot load private key");
        tsr_diag_prefix(d, "%s", opts->key_file);
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
        rc = tsr_tls_diag(d, "private key does not match the certificate");
        goto out;
    }
    if (opts->client_ca != NULL && opts->client_ca[0] != '\0') {
        if (SSL_CTX_load_verify_locations(ctx->ssl_ctx, opts->client_ca, NULL) != 1) {
            rc = tsr_tls_diag(d, "cannot load client CA");
            tsr_diag_prefix(d, "%s", opts->client_ca);
            goto out;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(opts->client_ca);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(ctx->ssl_ctx, names);
        int mode = SSL_VERIFY_PEER;
        if (opts->require_client_cert)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx->ssl_ctx, mode, NULL);
        SSL_CTX_set_verify_depth(ctx->ssl_ctx, 4);
        /* Session resumption would skip the client certificate check. */
        static const unsigned char sid[] = "tessera";
        SSL_CTX_set_session_id_context(ctx->ssl_ctx, sid, sizeof(sid) - 1);
    }
    SSL_CTX_set_alpn_select_cb(ctx->ssl_ctx, alpn_select,
                               (void *)(ctx->allow_h2 ? &alpn_h2_on : &alpn_h2_off));
    *out = ctx;
    ctx = NULL;
    rc = 0;
out:
    tsr_tls_ctx_free(ctx);
    return rc;
}

void tsr_tls_ctx_free(struct tsr_tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    tsr_free(ctx);
}

void *tsr_tls_ctx_ssl_ctx(struct tsr_tls_ctx *ctx)
{
    return ctx->ssl_ctx;
}
