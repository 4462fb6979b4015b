/*
 * transports/client.h: the outgoing HTTP client (libcurl's multi interface
 * driven by the daemon's libevent loop).
 *
 * One struct tsr_client per event loop holds the connection cache, the TLS
 * settings and the limits; requests on it run concurrently, reuse
 * connections and multiplex over HTTP/2 when the peer offers h2 through
 * ALPN.  Cleartext http:// stays HTTP/1.1 unless a request asks for h2
 * with prior knowledge.
 *
 * Callback rule (libuv's): if tsr_client_request() returns an error the
 * callback is never called; otherwise it is called exactly once, from the
 * event loop (never from inside tsr_client_request), unless the request is
 * cancelled first with tsr_client_cancel() or tsr_client_free(), in which
 * case it is never called.
 *
 * This file is not a general-purpose HTTP library: there are no cookies,
 * no proxy unless configured, no content decoding (no decompression bombs), and redirects
 * are followed only when a request asks for it.
 */
#ifndef TSR_TRANSPORTS_CLIENT_H
#define TSR_TRANSPORTS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

struct event_base;
struct tsr_client;
struct tsr_client_resp;
struct tsr_client_xfer;

/* Default limits, used when the matching option is 0. */
#define TSR_CLIENT_DEFAULT_MAX_BODY (8u * 1024 * 1024)  /* buffered response body */
#define TSR_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define TSR_CLIENT_DEFAULT_TIMEOUT_MS 60000L
/* All response header lines of one response together; not tunable. */
#define TSR_CLIENT_MAX_HEADER_BYTES (64u * 1024)
/* The most request headers one request may carry. */
#define TSR_CLIENT_MAX_REQ_HEADERS 64

/* Values of tsr_client_resp.http_version. */
#define TSR_CLIENT_HTTP_1_0 10
#define TSR_CLIENT_HTTP_1_1 11
#define TSR_CLIENT_HTTP_2 20
#define TSR_CLIENT_HTTP_3 30

struct tsr_client_opts {
    const char *ca_file;   /* PEM trust anchors; NULL: the system's default store */
    const char *cert_file; /* PEM client certificate for mutual TLS; NULL: none */
    const char *key_file;  /* PEM private key of cert_file; NULL: taken from cert_file */
    bool insecure;         /* tests only: skip certificate and host name checks */
    long connect_timeout_ms; /* 0: TSR_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;         /* whole request; 0: TSR_CLIENT_DEFAULT_TIMEOUT_MS */
    size_t max_body;         /* buffered body limit; 0: TSR_CLIENT_DEFAULT_MAX_BODY */
    const char *user_agent;  /* NULL: "tessera/" PACKAGE_VERSION */
    const char *proxy;       /* proxy URL; NULL: none (http_proxy & co. are ignored) */
};

/*
 * Returned by a sink or a source to pause its request until
 * tsr_client_resume(): a sink gets the same piece again afterwards.
 */
#define TSR_CLIENT_PAUSE 1

/*
 * A streaming body sink: called with each piece of a 2xx response body, in
 * order.  Returns 0 to go on, TSR_CLIENT_PAUSE (it did not take the piece:
 * back-pressure), or a negative TSR_E* code, which aborts the request and
 * becomes resp->rc.  It runs inside libcurl: it must not call
 * tsr_client_request(), tsr_client_resume() or tsr_client_free()
 * (tsr_client_cancel() of its own request is allowed; returning an error
 * is the better way to stop).
 */
typedef int (*tsr_client_write_fn)(void *arg, const void *data, size_t len);

/*
 * Called once, with the sink's argument, when a 2xx response's head is
 * complete and before the first piece of its body reaches the sink (not
 * at all when the body is empty): the place to check a Content-Range or a
 * Repr-Digest before accepting bytes.  resp holds the status and headers
 * (tsr_client_resp_header) so far.  Returns 0 or a negative TSR_E* code
 * that aborts the request.  Same rules as the sink.
 */
typedef int (*tsr_client_head_fn)(void *arg, const struct tsr_client_resp *resp);

/*
 * A streaming request body: copy up to len bytes into buf, set *n to how
 * many (0: the end) and return 0; or return TSR_CLIENT_PAUSE when nothing
 * is ready yet (call tsr_client_resume() when it is), or a negative TSR_E*
 * code to abort the request.  Same rules as the sink.
 */
typedef int (*tsr_client_read_fn)(void *arg, void *buf, size_t len, size_t *n);

/* Request flags (tsr_client_req.flags). */
enum tsr_client_req_flag {
    TSR_CLIENT_HTTP1_ONLY = 1u << 0,       /* never offer h2 */
    TSR_CLIENT_H2_PRIOR_KNOWLEDGE = 1u << 1, /* h2 without ALPN, also over http:// */
    TSR_CLIENT_FOLLOW_REDIRECTS = 1u << 2, /* up to 5, never from https to http */
    TSR_CLIENT_HTTPS_ONLY = 1u << 3,       /* refuse an http:// URL (TSR_EINVAL) */
};

struct tsr_client_req {
    const char *method;           /* NULL: GET, or POST when body_len > 0 */
    const char *url;              /* http:// or https:// */
    const char *const *headers;   /* NULL-terminated "Name: value" lines, or NULL */
    const void *body;             /* request body, copied by tsr_client_request */
    size_t body_len;
    tsr_client_write_fn write_cb; /* NULL: buffer the body into resp->body */
    void *write_arg;
    tsr_client_head_fn head_cb;   /* NULL: none; called with write_arg (needs write_cb) */
    /*
     * A streamed request body instead of body/body_len (PUT, POST, PATCH),
     * body_size bytes long; -1: unknown (HTTP/1.1 then sends it chunked).
     */
    tsr_client_read_fn read_cb;
    void *read_arg;
    int64_t body_size;
    unsigned flags;               /* enum tsr_client_req_flag bits */
    long timeout_ms;              /* 0: the client's; < 0: no total timeout (streams) */
    /*
     * Body limit: 0 means the client's max_body for a buffered body and no
     * limit for a streamed (write_cb) one, since the sink bounds itself.
     */
    uint64_t max_body;
};

struct tsr_client_resp {
    int rc;              /* 0 when a complete response arrived (any status), else TSR_E* */
    int status;          /* HTTP status code; 0 when no response arrived */
    long http_version;   /* TSR_CLIENT_HTTP_*; 0 when no response arrived */
    struct tsr_buf body; /* buffered body; for a streamed request, only non-2xx bodies */
    struct tsr_diag diag;  /* detail when rc != 0 (TLS verify failed, refused, timeout...) */
    struct tsr_buf hdrs; /* private: "name\0value\0" pairs; use tsr_client_resp_header */
};

/*
 * Completion callback.  resp is owned by the client and valid until the
 * callback returns; the callback may take resp->body's bytes with
 * tsr_buf_steal().  The callback may start new requests, cancel others
 * and free the client.
 */
typedef void (*tsr_client_done_fn)(void *arg, struct tsr_client_resp *resp);

/*
 * Create a client on base (borrowed; it must outlive the client).  opts
 * may be NULL for the defaults; its strings are copied.  Returns 0 and
 * *out (new, free with tsr_client_free), or TSR_ENOMEM, TSR_EINVAL (bad
 * option), TSR_EINTERNAL (libcurl could not be set up).
 */
int tsr_client_new(struct tsr_client **out, struct event_base *base,
                   const struct tsr_client_opts *opts, struct tsr_diag *d);

/*
 * Cancel every request in flight without calling their callbacks, close
 * the connections and free c.  c may be NULL.  May be called from inside
 * a completion callback (the rest is then torn down when it returns).
 */
void tsr_client_free(struct tsr_client *c);

/* The event loop c runs on (borrowed). */
struct event_base *tsr_client_base(const struct tsr_client *c);

/*
 * Start a request.  req and everything it points to may be freed once this
 * returns, except write_arg.  On success returns 0, sets *xfer (when xfer
 * is not NULL) to a handle valid until cb starts or the request is
 * cancelled, and cb(arg, resp) will be called exactly once later.  Errors
 * (cb is then never called): TSR_EINVAL (bad method, URL or header),
 * TSR_ENOMEM, TSR_ELIMIT (too many headers), TSR_EINTERNAL.
 */
int tsr_client_request(struct tsr_client *c, const struct tsr_client_req *req,
                       tsr_client_done_fn cb, void *arg, struct tsr_client_xfer **xfer,
                       struct tsr_diag *d);

/*
 * Abort a request: its callback will not be called and xfer becomes
 * invalid.  Must not be used on a request whose callback has started.
 * xfer may be NULL.
 */
void tsr_client_cancel(struct tsr_client_xfer *xfer);

/*
 * Let a request paused by its sink or source go on.  Call it from the
 * event loop, not from inside one of the request's own callbacks.  Returns
 * 0, or TSR_EINTERNAL when libcurl refuses (the request then fails).
 */
int tsr_client_resume(struct tsr_client_xfer *xfer);

/* Number of requests in flight (started, callback not yet called). */
size_t tsr_client_pending(const struct tsr_client *c);

/*
 * The value of the first response header called name (any case), or NULL.
 * Borrowed from resp.
 */
const char *tsr_client_resp_header(const struct tsr_client_resp *resp, const char *name);

/* Set up an empty response (as a sync fetch's output starts). */
void tsr_client_resp_init(struct tsr_client_resp *resp);

/* Free what a response holds; resp may be NULL; safe twice. */
void tsr_client_resp_cleanup(struct tsr_client_resp *resp);

/*
 * For CLIs: run one request on a private event loop until it completes.
 * *resp is initialised here and must be released with
 * tsr_client_resp_cleanup() whatever the result.  Returns resp->rc (0 when
 * a response arrived, whatever its status) or an error from
 * tsr_client_new / tsr_client_request, which is also stored in resp->rc
 * and resp->diag.
 */
int tsr_client_fetch_sync(const struct tsr_client_opts *opts, const struct tsr_client_req *req,
                          struct tsr_client_resp *resp);

#endif /* TSR_TRANSPORTS_CLIENT_H */
