/*
 * transports/http.h: tessera's HTTP server, one port for HTTP/2 and
 * HTTP/1.1, over TLS or cleartext, on the daemon's libevent loop.
 *
 * A handler sees a struct tsr_http_req and never learns which protocol
 * carried it.  It answers exactly once, either at once or later (after an
 * asynchronous step), with tsr_http_respond() or tsr_http_respond_stream().
 * A request whose connection or stream goes away before the answer is
 * aborted: its abort callback runs and the request is freed afterwards, so
 * a handler that keeps a pointer must set one (libuv's close rule).
 *
 * What this is not: an application framework.  There are no cookies, no
 * sessions and no content negotiation; the router maps a method and a
 * path pattern to a function, nothing more.
 */
#ifndef TSR_TRANSPORTS_HTTP_H
#define TSR_TRANSPORTS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"

struct event_base;
struct tsr_tls_ctx;
struct tsr_http_server;
struct tsr_http_req;

/* Limits applied to every connection; all have defaults (see below). */
struct tsr_http_limits {
    size_t max_header_bytes;    /* request line + headers; over it: 431 */
    size_t max_body_bytes;      /* request body; over it: 413 */
    uint32_t max_streams;       /* concurrent HTTP/2 streams per connection */
    uint32_t max_connections;   /* open connections per server; more are refused */
    uint64_t idle_timeout_ms;   /* a connection with no request in progress */
    uint64_t read_timeout_ms;   /* from the first byte of a request to its end */
    uint64_t write_timeout_ms;  /* a peer that does not read what we send */
    uint64_t drain_timeout_ms;  /* how long a graceful stop waits for requests */
};

#define TSR_HTTP_DEFAULT_MAX_HEADER_BYTES (16 * 1024)
#define TSR_HTTP_DEFAULT_MAX_BODY_BYTES (4 * 1024 * 1024)
#define TSR_HTTP_DEFAULT_MAX_STREAMS 128
#define TSR_HTTP_DEFAULT_MAX_CONNECTIONS 4096
#define TSR_HTTP_DEFAULT_IDLE_TIMEOUT_MS 60000
#define TSR_HTTP_DEFAULT_READ_TIMEOUT_MS 15000
#define TSR_HTTP_DEFAULT_WRITE_TIMEOUT_MS 60000
#define TSR_HTTP_DEFAULT_DRAIN_TIMEOUT_MS 10000
/* The most headers one request may carry, whatever their size. */
#define TSR_HTTP_MAX_HEADERS 100
/* The most path parameters a route pattern may have. */
#define TSR_HTTP_MAX_PARAMS 8

/* Fill *l with the defaults above. */
void tsr_http_limits_default(struct tsr_http_limits *l);

struct tsr_http_header {
    const char *name;  /* lower case for requests; any case for responses */
    const char *value;
};

enum tsr_http_proto {
    TSR_HTTP_PROTO_1_0 = 10,
    TSR_HTTP_PROTO_1_1 = 11,
    TSR_HTTP_PROTO_2 = 20,
};

/* A request handler; see the file comment for the answering rule. */
typedef void (*tsr_http_handler_fn)(struct tsr_http_req *req, void *arg);

/* Called when a request is aborted before it was answered. */
typedef void (*tsr_http_abort_fn)(struct tsr_http_req *req, void *arg);

/*
 * A streamed response body.  read() copies up to len bytes into buf and
 * returns how many, 0 with *eof set at the end, TSR_EAGAIN-style deferral
 * by returning 0 without *eof (call tsr_http_resume() when more is
 * ready), or a negative TSR_E* code to abort the response (the stream is
 * reset, or the HTTP/1.1 connection closed, so the peer sees it failed).
 * close() (optional) runs once when the response ends for any reason.
 */
struct tsr_http_source {
    ssize_t (*read)(void *arg, uint8_t *buf, size_t len, bool *eof);
    void (*close)(void *arg);
    void *arg;
};

/* Server ------------------------------------------------------------- */

/*
 * New server on base, with limits (NULL: defaults) and an optional TLS
 * context (borrowed; NULL: cleartext only).  With TLS, one port answers
 * both TLS (ALPN h2 or http/1.1) and cleartext (HTTP/1.1, or HTTP/2 with
 * prior knowledge), told apart by the first byte.  Returns 0,
 * TSR_ENOMEM.
 */
int tsr_http_server_new(struct event_base *base, const struct tsr_http_limits *limits,
                        struct tsr_tls_ctx *tls, struct tsr_http_server **out);

/*
 * Refuse cleartext connections (default: accept them).  TLS-only ports
 * close a cleartext peer after a 400 on HTTP/1.1 or a GOAWAY on HTTP/2.
 */
void tsr_http_server_require_tls(struct tsr_http_server *srv, bool require);

/*
 * Listen on host:port ("127.0.0.1", "::1", "0.0.0.0"; port 0 picks one).
 * May be called more than once.  Returns 0, TSR_EIO (with d), TSR_EINVAL.
 */
int tsr_http_server_listen(struct tsr_http_server *srv, const char *host, uint16_t port,
                           struct tsr_diag *d);

/*
 * Serve an already connected socket (socket activation, tests, fuzzing).
 * The server owns fd from now on, also on failure.  peer is a label for
 * logs (may be NULL).  Returns 0, TSR_ENOMEM, TSR_ELIMIT (too many
 * connections; fd is closed).
 */
int tsr_http_server_adopt(struct tsr_http_server *srv, int fd, const char *peer);

/* The port the n-th listener is bound to (after listen), 0 if none. */
uint16_t tsr_http_server_port(const struct tsr_http_server *srv, size_t n);

/*
 * Add a route.  pattern is a path whose segments may be ":name" (one
 * segment, available with tsr_http_req_param) or a final "*" (the rest).
 * method is "GET", "POST", ... ; GET routes also answer HEAD.  Routes are
 * tried in the order added.  Returns 0, TSR_ENOMEM, TSR_EINVAL.
 */
int tsr_http_server_route(struct tsr_http_server *srv, const char *method, const char *pattern,
                          tsr_http_handler_fn fn, void *arg);

/*
 * An observer of answers (metrics): fn(req, status, arg) runs once per
 * request when its answer starts, before any byte is sent; it must not
 * answer or keep req.  One per server; fn NULL removes it.
 */
typedef void (*tsr_http_observe_fn)(const struct tsr_http_req *req, int status, void *arg);
void tsr_http_server_observe(struct tsr_http_server *srv, tsr_http_observe_fn fn, void *arg);

/* Replace the TLS context for new connections (SIGHUP).  Borrowed. */
void tsr_http_server_set_tls(struct tsr_http_server *srv, struct tsr_tls_ctx *tls);

/* Replace the limits for new connections and requests (SIGHUP). */
void tsr_http_server_set_limits(struct tsr_http_server *srv, const struct tsr_http_limits *l);

/*
 * Stop accepting, let requests in progress finish (at most the drain
 * timeout), close idle connections, then call done(arg).  Calling it
 * twice is harmless.
 */
void tsr_http_server_drain(struct tsr_http_server *srv, void (*done)(void *arg), void *arg);

/* Number of open connections (for tests, metrics and draining). */
size_t tsr_http_server_connections(const struct tsr_http_server *srv);

/* Close everything at once (no callbacks into handlers) and free. NULL ok. */
void tsr_http_server_free(struct tsr_http_server *srv);

/* Request ------------------------------------------------------------ */

const char *tsr_http_req_method(const struct tsr_http_req *req);
/* The path, percent-encoding kept, without the query. */
const char *tsr_http_req_path(const struct tsr_http_req *req);
/* The query string without '?', or NULL when there is none. */
const char *tsr_http_req_query(const struct tsr_http_req *req);
/*
 * A query parameter's decoded value (new string, free with tsr_free) or
 * NULL when absent or malformed.
 */
char *tsr_http_req_query_param(const struct tsr_http_req *req, const char *name);
/* A header's value (first one; name in any case) or NULL.  Borrowed. */
const char *tsr_http_req_header(const struct tsr_http_req *req, const char *name);
/* A route parameter's percent-decoded value, or NULL.  Borrowed. */
const char *tsr_http_req_param(const struct tsr_http_req *req, const char *name);
/* The request body (complete; bounded by max_body_bytes).  Borrowed. */
const struct tsr_buf *tsr_http_req_body(const struct tsr_http_req *req);
enum tsr_http_proto tsr_http_req_proto(const struct tsr_http_req *req);
bool tsr_http_req_tls(const struct tsr_http_req *req);
/* The peer's address as text ("127.0.0.1:53412").  Borrowed. */
const char *tsr_http_req_peer(const struct tsr_http_req *req);
/*
 * The verified client certificate's subject (mutual TLS), or NULL.
 * Borrowed.
 */
const char *tsr_http_req_client_subject(const struct tsr_http_req *req);

/* Handler-owned pointer stored with the request. */
void tsr_http_req_set_data(struct tsr_http_req *req, void *data);
void *tsr_http_req_data(const struct tsr_http_req *req);

/* Register the abort callback (see file comment). */
void tsr_http_req_on_abort(struct tsr_http_req *req, tsr_http_abort_fn fn, void *arg);

/* Response ----------------------------------------------------------- */

/*
 * Answer with a complete body (copied).  Content-Length is added; hdrs
 * must not contain it.  Returns 0, TSR_ENOMEM, TSR_ESTATE (answered
 * already).  After this call the request may be freed at any time.
 */
int tsr_http_respond(struct tsr_http_req *req, int status, const struct tsr_http_header *hdrs,
                     size_t nhdrs, const void *body, size_t len);

/* Answer with a string body and a content type (convenience). */
int tsr_http_respond_text(struct tsr_http_req *req, int status, const char *content_type,
                          const char *body);

/*
 * Answer with a streamed body of content_length bytes (-1: unknown,
 * HTTP/1.1 then uses chunked encoding).  src is copied; its close()
 * always runs exactly once, also when this call fails.
 */
int tsr_http_respond_stream(struct tsr_http_req *req, int status,
                            const struct tsr_http_header *hdrs, size_t nhdrs,
                            int64_t content_length, const struct tsr_http_source *src);

/* Tell the server a deferred stream source has data again. */
void tsr_http_resume(struct tsr_http_req *req);

/*
 * Stop a streamed response now, whatever it is waiting for (a source, or
 * a peer that does not read): HTTP/2 resets the stream (CANCEL), HTTP/1.1
 * closes the connection, since only that tells the peer the body is
 * incomplete.  The source's close() runs; req must not be used afterwards.
 * Does nothing once the response was handed to the transport whole.
 */
void tsr_http_req_cancel(struct tsr_http_req *req);

/* The reason phrase of a status code ("Not Found"). */
const char *tsr_http_reason(int status);

#endif /* TSR_TRANSPORTS_HTTP_H */
