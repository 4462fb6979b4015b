/*
 * transports/http_int.h: what server.c, h1.c, h2.c and router.c share.
 * Nothing outside transports/http*.c, h1.c and h2.c includes this file.
 */
#ifndef TSR_TRANSPORTS_HTTP_INT_H
#define TSR_TRANSPORTS_HTTP_INT_H

#include <openssl/ssl.h>

#include "lib/buf.h"
#include "transports/http.h"
#include "transports/nghttp2_compat.h"

struct event;

/* Output is produced until this much is waiting for the socket. */
#define TSR_HTTP_OUT_HIGH_WATER (256 * 1024)
/* The largest block read from a socket at once. */
#define TSR_HTTP_READ_BLOCK (64 * 1024)
#define TSR_HTTP_MAX_LISTENERS 8

struct tsr_http_route {
    char *method;
    char **segs;  /* pattern segments; ":x" captures one, "*" the rest */
    size_t nsegs;
    tsr_http_handler_fn fn;
    void *arg;
};

struct tsr_http_listener {
    int fd;
    uint16_t port;
    struct event *ev;
};

struct tsr_http_conn;

struct tsr_http_server {
    struct event_base *base;
    struct tsr_http_limits limits;
    struct tsr_tls_ctx *tls;
    bool require_tls;
    struct tsr_http_listener listeners[TSR_HTTP_MAX_LISTENERS];
    size_t nlisteners;
    struct tsr_http_route *routes;
    size_t nroutes;
    struct tsr_http_conn *conns; /* doubly linked list of open connections */
    size_t nconns;
    bool draining;
    void (*drain_done)(void *arg);
    void *drain_arg;
    struct event *drain_timer;
    struct event *accept_retry;  /* set while accept() is paused (EMFILE) */
    tsr_http_observe_fn observe; /* NULL: none (tsr_http_server_observe) */
    void *observe_arg;
};

enum tsr_http_conn_state {
    CONN_SNIFF = 0, /* deciding TLS vs cleartext, then h2 vs HTTP/1.1 */
    CONN_TLS_HANDSHAKE,
    CONN_H1,
    CONN_H2,
};

/* HTTP/1.1 parser states. */
enum tsr_h1_state {
    H1_HEAD = 0,  /* waiting for a complete request head */
    H1_BODY,      /* Content-Length body */
    H1_CHUNK_SIZE,
    H1_CHUNK_DATA,
    H1_CHUNK_CRLF,
    H1_TRAILERS,
    H1_DISPATCHED, /* request complete, answer pending or being written */
};

struct tsr_http_req {
    struct tsr_http_conn *conn; /* NULL once the connection is gone */
    struct tsr_http_req *prev, *next; /* h2 streams of one connection */
    int32_t stream_id;
    enum tsr_http_proto proto;
    char *method;
    char *path;
    char *query;
    char *authority;
    struct tsr_http_header hdrs[TSR_HTTP_MAX_HEADERS];
    size_t nhdrs;
    size_t header_bytes;
    bool header_overflow;  /* too many or too large: answer 431 */
    bool bad_request;      /* malformed in a way detected late: answer 400 */
    bool body_overflow;    /* answer 413 and ignore the rest */
    bool complete;         /* whole request received */
    bool dispatched;
    bool responded;
    bool done;             /* response fully handed to the transport */
    struct tsr_buf body;
    const char *pnames[TSR_HTTP_MAX_PARAMS];
    char *pvalues[TSR_HTTP_MAX_PARAMS];
    size_t nparams;
    void *data;
    tsr_http_abort_fn abort_fn;
    void *abort_arg;
    /* response */
    int status;
    struct tsr_http_source src;
    bool has_src;
    bool src_eof;
    bool src_deferred;
    int64_t content_length;
    bool chunked;          /* HTTP/1.1 chunked response */
    bool head;             /* HEAD request: no body is sent */
    uint64_t sent;
};

struct tsr_http_conn {
    struct tsr_http_server *srv;
    struct tsr_http_conn *prev, *next;
    int fd;
    SSL *ssl;
    enum tsr_http_conn_state state;
    struct event *rev, *wev, *tmr;
    char peer[64];
    char *client_subject;
    struct tsr_buf in;
    struct tsr_buf out;
    size_t out_off;
    unsigned busy;        /* >0 while a callback chain runs: defer frees */
    bool closing;         /* close once output is flushed */
    bool linger;          /* on close, half-close and drain the peer's unread input first */
    bool lingering;       /* draining: read and discard until EOF or the linger timer */
    bool dead;            /* closed; free when busy drops to 0 */
    bool paused_out;      /* output above the high-water mark: stop reading */
    bool paused_in;       /* pipelined input full until the answer is out */
    bool read_armed;      /* the read event is added */
    bool write_armed;
    bool timer_write;     /* the timer measures write progress */
    /* HTTP/1.1 */
    enum tsr_h1_state h1;
    struct tsr_http_req *h1_req;
    uint64_t h1_remaining; /* body or chunk bytes still to read */
    bool h1_keepalive;
    bool h1_started;       /* bytes of the next request have arrived */
    bool h1_continue_sent;
    /* HTTP/2 */
    nghttp2_session *h2;
    struct tsr_http_req *streams;
    size_t nstreams;
    bool h2_goaway;
};

/* server.c */
void tsr_http__conn_close(struct tsr_http_conn *c);
void tsr_http__conn_pump(struct tsr_http_conn *c);
void tsr_http__conn_arm_timer(struct tsr_http_conn *c, uint64_t ms);
/* Add or remove the read event to match paused_in/paused_out. */
void tsr_http__conn_update_read(struct tsr_http_conn *c);
struct tsr_http_req *tsr_http__req_new(struct tsr_http_conn *c, enum tsr_http_proto proto);
void tsr_http__req_free(struct tsr_http_req *req);
int tsr_http__req_add_header(struct tsr_http_req *req, const char *name, size_t nlen,
                             const char *value, size_t vlen);
void tsr_http__dispatch(struct tsr_http_req *req);
int tsr_http__respond_error(struct tsr_http_req *req, int status, const char *msg);
void tsr_http__conn_maybe_finish_drain(struct tsr_http_server *srv);

/* router.c */
void tsr_http__route_free(struct tsr_http_route *r);
/* 0 and the route, TSR_ENOTFOUND (404) or TSR_ESTATE (405, path known). */
int tsr_http__route_match(struct tsr_http_server *srv, struct tsr_http_req *req,
                          const struct tsr_http_route **out);
int tsr_http__pct_decode(const char *s, size_t n, char **out);
/* The methods the request's path answers to, for a 405's Allow header. */
void tsr_http__route_allow(struct tsr_http_server *srv, struct tsr_http_req *req, char *buf,
                           size_t size);

/* h1.c */
void tsr_http__h1_start(struct tsr_http_conn *c);
int tsr_http__h1_feed(struct tsr_http_conn *c);
void tsr_http__h1_fill(struct tsr_http_conn *c);
int tsr_http__h1_respond(struct tsr_http_req *req, const struct tsr_http_header *hdrs,
                         size_t nhdrs);
void tsr_http__h1_timeout(struct tsr_http_conn *c);
void tsr_http__h1_drain(struct tsr_http_conn *c);

/* h2.c */
int tsr_http__h2_start(struct tsr_http_conn *c, const uint8_t *pre, size_t len);
int tsr_http__h2_feed(struct tsr_http_conn *c, const uint8_t *data, size_t len);
void tsr_http__h2_fill(struct tsr_http_conn *c);
int tsr_http__h2_respond(struct tsr_http_req *req, const struct tsr_http_header *hdrs,
                         size_t nhdrs);
void tsr_http__h2_resume(struct tsr_http_req *req);
void tsr_http__h2_cancel(struct tsr_http_req *req);
void tsr_http__h2_timeout(struct tsr_http_conn *c);
void tsr_http__h2_drain(struct tsr_http_conn *c);
bool tsr_http__h2_finished(struct tsr_http_conn *c);
void tsr_http__h2_free(struct tsr_http_conn *c);

#endif /* TSR_TRANSPORTS_HTTP_INT_H */
