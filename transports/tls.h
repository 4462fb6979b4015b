/*
 * transports/tls.h: server-side TLS contexts (OpenSSL) for tessera's
 * listening ports: certificate and key, ALPN (h2, http/1.1), TLS 1.2 as
 * the floor, optional mutual TLS against a configured CA.
 */
#ifndef TSR_TRANSPORTS_TLS_H
#define TSR_TRANSPORTS_TLS_H

#include <stdbool.h>

struct tsr_diag;
struct tsr_tls_ctx;

struct tsr_tls_opts {
    const char *cert_file;   /* PEM certificate chain, leaf first */
    const char *key_file;    /* PEM private key */
    const char *client_ca;   /* PEM CA bundle for client certificates, or NULL */
    bool require_client_cert;/* with client_ca: refuse peers without one */
    bool allow_h2;           /* offer "h2" in ALPN (default true in callers) */
};

/*
 * New server context.  Returns 0, TSR_ETLS (unreadable or mismatched
 * certificate and key, bad CA file; the reason in d), TSR_ENOMEM.
 */
int tsr_tls_ctx_new(const struct tsr_tls_opts *opts, struct tsr_tls_ctx **out, struct tsr_diag *d);

/* Release a context.  Connections already using it keep working.  NULL ok. */
void tsr_tls_ctx_free(struct tsr_tls_ctx *ctx);

/* The OpenSSL SSL_CTX behind ctx (borrowed), as a void * so callers need
 * not include OpenSSL headers. */
void *tsr_tls_ctx_ssl_ctx(struct tsr_tls_ctx *ctx);

/* Latest OpenSSL error queue entries as text into d, with a prefix. */
int tsr_tls_diag(struct tsr_diag *d, const char *what);

#endif /* TSR_TRANSPORTS_TLS_H */
