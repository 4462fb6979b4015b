/*
 * tests/transports/http_harness.c: runs tessera's real HTTP server with a
 * few test routes so the transport tests can drive it with curl, nghttp,
 * h2load and raw sockets.  It is not part of any installed program.
 *
 *   http_harness [-c CERT -k KEY] [-l LIMIT=VALUE]... [-f FILE]
 *
 * prints "PORT <n>" on stdout once listening on 127.0.0.1, and drains and
 * exits on SIGTERM.  Routes:
 *   GET  /health            "ok"
 *   POST /echo              the request body
 *   GET  /stream?n=N        N bytes of a pattern, unknown length, produced
 *                           in deferred steps (exercises resume)
 *   GET  /blob?n=N          N bytes with a Content-Length, produced as fast as
 *                           the transport asks (never deferred)
 *   GET  /short             claims 100 bytes, sends 10 (a broken source)
 *   GET  /async             answers after 50 ms from a timer
 *   GET  /items/:id         the decoded id
 *   GET  /info              protocol and TLS as seen by the handler
 *   GET  /file              FILE (-f) through tsr_http_respond_file, with its
 *                           Repr-Digest; ranges; logs "file end complete=C
 *                           sent=N" to stderr when each response ends
 *   GET  /file-stop?ms=M    the same, stopped with tsr_http_file_stop after M
 *                           ms (the client must see an incomplete body)
 */
#include "lib/tsr.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "transports/fileserve.h"
#include "transports/http.h"
#include "transports/tls.h"

static struct event_base *base;
static const char *file_path;
static unsigned char file_sha[TSR_SHA256_LEN];

static void h_health(struct tsr_http_req *req, void *arg)
{
    (void)arg;
    tsr_http_respond_text(req, 200, "text/plain", "ok\n");
}

static void h_echo(struct tsr_http_req *req, void *arg)
{
    const struct tsr_buf *b = tsr_http_req_body(req);
    struct tsr_http_header h = {"content-type", "application/octet-stream"};

    (void)arg;
    tsr_http_respond(req, 200, &h, 1, b->data, b->len);
}

static void h_info(struct tsr_http_req *req, void *arg)
{
    char buf[128];

    (void)arg;
    snprintf(buf, sizeof(buf), "proto=%d tls=%d\n", (int)tsr_http_req_proto(req),
             tsr_http_req_tls(req) ? 1 : 0);
    tsr_http_respond_text(req, 200, "text/plain", buf);
}

static void h_item(struct tsr_http_req *req, void *arg)
{
    (void)arg;
    tsr_http_respond_text(req, 200, "text/plain", tsr_http_req_param(req, "id"));
}

/* A source that yields a block, then defers until a zero timer fires. */
struct gen {
    struct tsr_http_req *req;
    struct event *ev;
    uint64_t left;
    bool ready;
    uint64_t pos;
};

static void gen_wake(evutil_socket_t fd, short what, void *arg)
{
    struct gen *g = arg;

    (void)fd;
    (void)what;
    g->ready = true;
    if (g->req != NULL)
        tsr_http_resume(g->req);
}

static ssize_t gen_read(void *arg, uint8_t *buf, size_t len, bool *eof)
{
    struct gen *g = arg;

    if (g->left == 0) {
        *eof = true;
        return 0;
    }
    if (!g->ready) {
        struct timeval tv = {0, 0};
        evtimer_add(g->ev, &tv);
        return 0;
    }
    g->ready = false;
    size_t n = (size_t)TSR_MIN((uint64_t)len, g->left);
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)('a' + (g->pos + i) % 26);
    g->pos += n;
    g->left -= n;
    *eof = g->left == 0;
    return (ssize_t)n;
}

static void gen_close(void *arg)
{
    struct gen *g = arg;

    event_free(g->ev);
    tsr_free(g);
}

static void gen_abort(struct tsr_http_req *req, void *arg)
{
    struct gen *g = arg;

    (void)req;
    g->req = NULL;
}

static void h_stream(struct tsr_http_req *req, void *arg)
{
    char *n = tsr_http_req_query_param(req, "n");
    uint64_t v = 0;

    (void)arg;
    if (n == NULL || tsr_parse_size(n, 1ULL << 40, &v) != 0) {
        tsr_free(n);
        tsr_http_respond_text(req, 400, "text/plain", "bad n\n");
        return;
    }
    tsr_free(n);
    struct gen *g = tsr_calloc(1, sizeof(*g));
    g->req = req;
    g->left = v;
    g->ready = true;
    g->ev = evtimer_new(base, gen_wake, g);
    tsr_http_req_on_abort(req, gen_abort, g);
    struct tsr_http_source src = {gen_read, gen_close, g};
    tsr_http_respond_stream(req, 200, NULL, 0, -1, &src);
}

struct blob {
    uint64_t left, pos;
};

static ssize_t blob_read(void *arg, uint8_t *buf, size_t len, bool *eof)
{
    struct blob *b = arg;
    size_t n = (size_t)TSR_MIN((uint64_t)len, b->left);

    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)('A' + (b->pos + i) % 26);
    b->pos += n;
    b->left -= n;
    *eof = b->left == 0;
    return (ssize_t)n;
}

static void h_blob(struct tsr_http_req *req, void *arg)
{
    char *n = tsr_http_req_query_param(req, "n");
    uint64_t v = 0;

    (void)arg;
    if (n == NULL || tsr_parse_size(n, 1ULL << 40, &v) != 0) {
        tsr_free(n);
        tsr_http_respond_text(req, 400, "text/plain", "bad n\n");
        return;
    }
    tsr_free(n);
    struct blob *b = tsr_calloc(1, sizeof(*b));
    b->left = v;
    struct tsr_http_source src = {blob_read, tsr_free, b};
    tsr_http_respond_stream(req, 200, NULL, 0, (int64_t)v, &src);
}

static ssize_t short_read(void *arg, uint8_t *buf, size_t len, bool *eof)
{
    (void)arg;
    memset(buf, 'x', TSR_MIN(len, (size_t)10));
    *eof = true;
    return (ssize_t)TSR_MIN(len, (size_t)10);
}

static void h_short(struct tsr_http_req *req, void *arg)
{
    struct tsr_http_source src = {short_read, NULL, NULL};

    (void)arg;
    tsr_http_respond_stream(req, 200, NULL, 0, 100, &src);
}

struct later {
    struct tsr_http_req *req;
    struct event *ev;
};

static void later_fire(evutil_socket_t fd, short what, void *arg)
{
    struct later *l = arg;

    (void)fd;
    (void)what;
    if (l->req != NULL)
        tsr_http_respond_text(l->req, 200, "text/plain", "later\n");
    event_free(l->ev);
    tsr_free(l);
}

static void later_abort(struct tsr_http_req *req, void *arg)
{
    struct later *l = arg;

    (void)req;
    l->req = NULL;
}

static void h_async(struct tsr_http_req *req, void *arg)
{
    struct later *l = tsr_calloc(1, sizeof(*l));
    struct timeval tv = {0, 50000};

    (void)arg;
    l->req = req;
    l->ev = evtimer_new(base, later_fire, l);
    tsr_http_req_on_abort(req, later_abort, l);
    evtimer_add(l->ev, &tv);
}

static void file_ended(void *arg, bool complete, uint64_t sent)
{
    (void)arg;
    fprintf(stderr, "file end complete=%d sent=%llu\n", complete, (unsigned long long)sent);
}

static int open_file(struct tsr_http_req *req)
{
    int fd = file_path != NULL ? open(file_path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        tsr_http_respond_text(req, 404, "text/plain", "no file\n");
    return fd;
}

static void h_file(struct tsr_http_req *req, void *arg)
{
    struct tsr_http_file_opts o = {.content_type = "application/x-test", .sha256 = file_sha,
                                   .on_end = file_ended};
    int fd = open_file(req);

    (void)arg;
    if (fd >= 0 && tsr_http_respond_file(req, fd, &o, NULL, NULL) != 0)
        tsr_http_respond_text(req, 500, "text/plain", "cannot serve\n");
}

struct stopper {
    struct event *ev; /* NULL once fired */
    struct tsr_http_file *f;
};

static void stop_ended(void *arg, bool complete, uint64_t sent)
{
    struct stopper *st = arg;

    file_ended(NULL, complete, sent);
    if (st->ev != NULL)
        event_free(st->ev); /* ended before the timer: the handle must not be stopped */
    tsr_free(st);
}

static void stop_fire(evutil_socket_t fd, short what, void *arg)
{
    struct stopper *st = arg;
    struct tsr_http_file *f = st->f;

    (void)fd;
    (void)what;
    event_free(st->ev);
    st->ev = NULL; /* stop_ended, run by the stop, then frees st */
    tsr_http_file_stop(f);
}

static void h_file_stop(struct tsr_http_req *req, void *arg)
{
    char *ms = tsr_http_req_query_param(req, "ms");
    uint64_t v = 100;
    int fd;

    (void)arg;
    if (ms != NULL && tsr_parse_u64(ms, 60000, &v) != 0)
        v = 100;
    tsr_free(ms);
    if ((fd = open_file(req)) < 0)
        return;
    struct stopper *st = tsr_calloc(1, sizeof(*st));
    struct tsr_http_file_opts o = {.sha256 = file_sha, .on_end = stop_ended, .arg = st};
    st->ev = evtimer_new(base, stop_fire, st);
    if (tsr_http_respond_file(req, fd, &o, &st->f, NULL) != 0) {
        event_free(st->ev);
        tsr_free(st);
        tsr_http_respond_text(req, 500, "text/plain", "cannot serve\n");
        return;
    }
    if (st->f == NULL)
        return; /* already over: stop_ended freed st */
    struct timeval tv = {(time_t)(v / 1000), (suseconds_t)(v % 1000) * 1000};
    evtimer_add(st->ev, &tv);
}

static void on_drained(void *arg)
{
    (void)arg;
    event_base_loopexit(base, NULL);
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tsr_http_server_drain(arg, on_drained, NULL);
}

static void set_limit(struct tsr_http_limits *l, const char *spec)
{
    const char *eq = strchr(spec, '=');
    uint64_t v;

    if (eq == NULL || tsr_parse_size(eq + 1, UINT64_MAX, &v) != 0) {
        fprintf(stderr, "bad limit %s\n", spec);
        exit(2);
    }
    if (tsr_str_startswith(spec, "header="))
        l->max_header_bytes = v;
    else if (tsr_str_startswith(spec, "body="))
        l->max_body_bytes = v;
    else if (tsr_str_startswith(spec, "read_ms="))
        l->read_timeout_ms = v;
    else if (tsr_str_startswith(spec, "idle_ms="))
        l->idle_timeout_ms = v;
    else if (tsr_str_startswith(spec, "streams="))
        l->max_streams = (uint32_t)v;
    else {
        fprintf(stderr, "unknown limit %s\n", spec);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    struct tsr_tls_opts topts = {0};
    struct tsr_tls_ctx *tls = NULL;
    struct tsr_http_server *srv;
    struct tsr_http_limits lim;
    struct tsr_diag d;
    int ch;

    tsr_http_limits_default(&lim);
    topts.allow_h2 = true;
    while ((ch = getopt(argc, argv, "c:k:l:f:")) != -1) {
        switch (ch) {
        case 'f': file_path = optarg; break;
        case 'c': topts.cert_file = optarg; break;
        case 'k': topts.key_file = optarg; break;
        case 'l': set_limit(&lim, optarg); break;
        default: return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    tsr_log_set_ident("http_harness");
    if (getenv("TSR_DEBUG") != NULL)
        tsr_log_set_debug(getenv("TSR_DEBUG"));
    base = event_base_new();
    if (file_path != NULL) {
        unsigned char *data = NULL;
        size_t len = 0;
        if (tsr_crypto_read_file(file_path, (size_t)1 << 30, &data, &len, NULL) != 0 ||
            tsr_sha256(data, len, file_sha) != 0) {
            fprintf(stderr, "cannot read %s\n", file_path);
            return 1;
        }
        tsr_free(data);
    }
    if (topts.cert_file != NULL && tsr_tls_ctx_new(&topts, &tls, &d) != 0) {
        fprintf(stderr, "tls: %s\n", tsr_diag_msg(&d));
        return 1;
    }
    if (tsr_http_server_new(base, &lim, tls, &srv) != 0)
        return 1;
    tsr_http_server_route(srv, "GET", "/health", h_health, NULL);
    tsr_http_server_route(srv, "POST", "/echo", h_echo, NULL);
    tsr_http_server_route(srv, "GET", "/stream", h_stream, NULL);
    tsr_http_server_route(srv, "GET", "/short", h_short, NULL);
    tsr_http_server_route(srv, "GET", "/blob", h_blob, NULL);
    tsr_http_server_route(srv, "GET", "/async", h_async, NULL);
    tsr_http_server_route(srv, "GET", "/items/:id", h_item, NULL);
    tsr_http_server_route(srv, "GET", "/info", h_info, NULL);
    tsr_http_server_route(srv, "GET", "/file", h_file, NULL);
    tsr_http_server_route(srv, "GET", "/file-stop", h_file_stop, NULL);
    if (tsr_http_server_listen(srv, "127.0.0.1", 0, &d) != 0) {
        fprintf(stderr, "listen: %s\n", tsr_diag_msg(&d));
        return 1;
    }
    printf("PORT %u\n", tsr_http_server_port(srv, 0));
    fflush(stdout);
    struct event *term = evsignal_new(base, SIGTERM, on_term, srv);
    event_add(term, NULL);
    event_base_dispatch(base);
    event_free(term);
    tsr_http_server_free(srv);
    tsr_tls_ctx_free(tls);
    event_base_free(base);
    return 0;
}
