/*
 * tests/unit/transports/stub_server.h: a tiny HTTP/1.1 server (optionally
 * over TLS) for the client and resolver tests.
 *
 * It listens on 127.0.0.1 on an ephemeral port, serves each connection on
 * its own thread and answers from a fixed route table; it can also speak
 * HTTP/2 through nghttp2.  It is a test
 * double for remote peers, not a model of our own server: it trusts its
 * input and has fixed limits (16 KiB of request head, 4 MiB of body).
 */
#ifndef TSR_TESTS_UNIT_TRANSPORTS_STUB_SERVER_H
#define TSR_TESTS_UNIT_TRANSPORTS_STUB_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

enum stub_kind {
    STUB_FIXED = 0, /* status, content_type, body */
    STUB_ECHO,      /* 200 with the request body */
    STUB_HANG,      /* read the request, never answer */
    STUB_PATTERN,   /* 200 with pattern_len bytes of stub_pattern_byte() */
};

struct stub_route {
    const char *path; /* exact match on the request target */
    enum stub_kind kind;
    int status;
    const char *content_type; /* NULL: text/plain */
    const char *body;         /* NUL-terminated */
    size_t pattern_len;
    bool chunked; /* send the body with chunked encoding (no Content-Length) */
    const char *location; /* a Location header (HTTP/1.1 only), or NULL */
};

struct stub_server;

/* Byte i of a STUB_PATTERN body. */
unsigned char stub_pattern_byte(size_t i);

/*
 * Start serving routes (borrowed; must outlive the server).  tls: NULL for
 * cleartext, else a server context (borrowed).  Returns NULL on failure.
 */
struct stub_server *stub_server_start(const struct stub_route *routes, size_t nroutes,
                                      SSL_CTX *tls);

/*
 * The same speaking HTTP/2 (nghttp2): over TLS when the client picks h2
 * through ALPN (stub_tls_ctx with alpn_h2), over cleartext by prior
 * knowledge only.
 */
struct stub_server *stub_server_start_h2(const struct stub_route *routes, size_t nroutes,
                                         SSL_CTX *tls);

/* Connections accepted so far. */
unsigned stub_server_connections(struct stub_server *s);

/* The port it listens on. */
int stub_server_port(const struct stub_server *s);

/* Requests received for path so far (any path when path is NULL). */
unsigned stub_server_hits(struct stub_server *s, const char *path);

/* A copy of the last request head received (request line and headers). */
void stub_server_last_head(struct stub_server *s, char *out, size_t outsize);

/* Stop, close every connection and free.  s may be NULL. */
void stub_server_stop(struct stub_server *s);

/*
 * Write a fresh self-signed P-256 certificate for localhost / 127.0.0.1
 * into dir/NAME.crt and its key into dir/NAME.key; the paths are stored in
 * cert (and key) of size size.  Returns 0 or -1.
 */
int stub_cert_make(const char *dir, const char *name, char *cert, char *key, size_t size);

/*
 * A server TLS context with cert/key; with client_ca, clients must
 * present a certificate that client_ca vouches for; with alpn_h2 it picks
 * h2 when the client offers it.  NULL on failure.
 */
SSL_CTX *stub_tls_ctx(const char *cert, const char *key, const char *client_ca, bool alpn_h2);

/* Make a fresh temporary folder; returns 0 and the path in dir. */
int stub_tmpdir(char *dir, size_t size);

/* Remove the files stub_cert_make wrote and the folder itself. */
void stub_tmpdir_remove(const char *dir);

#endif /* TSR_TESTS_UNIT_TRANSPORTS_STUB_SERVER_H */
