/*
 * tests/fuzz/http_server_fuzzer.c: libFuzzer target for tessera's HTTP
 * server as a client sees it: transports/server.c (protocol sniffing,
 * connection I/O, request dispatch, responses), h1.c (the HTTP/1.1
 * parser and response writer), h2.c (the nghttp2 session glue) and
 * router.c (pattern matching, percent-decoding).
 *
 * Each input is one client connection over a socketpair: a new
 * event_base and cleartext server with tiny limits (so that the header,
 * body, stream and connection limits are all reached), a few routes, the
 * server end adopted with tsr_http_server_adopt, the input written into
 * the client end, the client's write side shut down, and the loop run
 * (EVLOOP_NONBLOCK, a bounded number of turns) while whatever the server
 * answers is read and discarded.  Then everything is freed; LeakSanitizer
 * checks that no memory was left behind, and the harness that no file
 * descriptor was.
 *
 * Byte 0 of the input selects the variant, the rest goes to the server:
 *   bit 0      0: HTTP/1.1 bytes as given; 1: HTTP/2, the client
 *              connection preface is sent first
 *   bits 1-2   1 + (value % 3) chunks, with loop turns in between, so
 *              partial heads, frames and bodies are exercised
 *   bit 3      drain the server (tsr_http_server_drain) after the first
 *              chunk, as on SIGTERM
 *   bits 4-7   where the first cut falls: in sixteenths of the input,
 *              except 15: just after the first blank line (the end of
 *              an HTTP/1.1 head), so a head can arrive before its body
 *
 * Routes: GET /x (200 "x"), POST /echo (echoes the body), GET /items/:id
 * (the decoded id, a query parameter and a header), GET /stream (a
 * streamed body of unknown length: chunked on HTTP/1.1), GET /later
 * (answered on a later loop turn, or aborted when the peer goes away).
 *
 * With HTTP_FUZZ_VERBOSE set in the environment, the server's debug log
 * and everything it sends go to stderr, to see what a crashing input does.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "transports/http.h"

/* Enough for several pipelined requests or frames past every limit below. */
#define MAX_INPUT (64 * 1024)
/* Loop turns in a row that move no bytes before the run is declared over. */
#define MAX_IDLE_TURNS 4
/* Loop turns at most, in all; a server that never settles is a bug too. */
#define MAX_TURNS 2000
/* Requests answered later, at most at once (more get 503 at once). */
#define MAX_LATER 4
#define STREAM_BYTES 3000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static struct tsr_http_req *later[MAX_LATER];
/* HTTP_FUZZ_VERBOSE set: copy what the server sends to stderr (for reproducing). */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The server sends with MSG_NOSIGNAL; this only protects the harness's own writes. */
    signal(SIGPIPE, SIG_IGN);
    verbose = getenv("HTTP_FUZZ_VERBOSE") != NULL;
    tsr_log_setup(TSR_LOG_FMT_TEXT, verbose ? TSR_LOG_DEBUG : TSR_LOG_ERROR);
    if (verbose)
        tsr_log_set_debug("http,h2");
    return 0;
}

static void h_x(struct tsr_http_req *req, void *arg)
{
    (void)arg;
    tsr_http_respond_text(req, 200, "text/plain", "x\n");
}

static void h_echo(struct tsr_http_req *req, void *arg)
{
    const struct tsr_buf *b = tsr_http_req_body(req);
    struct tsr_http_header h = {"content-type", "application/octet-stream"};

    (void)arg;
    tsr_http_respond(req, 200, &h, 1, b->data, b->len);
}

static void h_item(struct tsr_http_req *req, void *arg)
{
    char *q = tsr_http_req_query_param(req, "q");
    const char *ua = tsr_http_req_header(req, "User-Agent");
    const char *id = tsr_http_req_param(req, "id");
    char body[128];

    (void)arg;
    snprintf(body, sizeof(body), "%.40s|%.40s|%.40s|%s|%s", id != NULL ? id : "-",
             q != NULL ? q : "-", ua != NULL ? ua : "-", tsr_http_req_method(req),
             tsr_http_req_query(req) != NULL ? "q" : "");
    tsr_free(q);
    tsr_http_respond_text(req, 200, "text/plain", body);
}

/* A body produced a block at a time, of unknown length. */
struct gen {
    size_t left;
};

static ssize_t gen_read(void *arg, uint8_t *buf, size_t len, bool *eof)
{
    struct gen *g = arg;
    size_t n = TSR_MIN(TSR_MIN(len, g->left), (size_t)1000);

    memset(buf, 'g', n);
    g->left -= n;
    *eof = g->left == 0;
    return (ssize_t)n;
}

static void gen_close(void *arg)
{
    tsr_free(arg);
}

static void h_stream(struct tsr_http_req *req, void *arg)
{
    struct gen *g = tsr_calloc(1, sizeof(*g));
    struct tsr_http_source src = {gen_read, gen_close, g};

    (void)arg;
    if (g == NULL) {
        tsr_http_respond_text(req, 500, "text/plain", "no memory\n");
        return;
    }
    g->left = STREAM_BYTES;
    tsr_http_respond_stream(req, 200, NULL, 0, -1, &src);
}

static void later_abort(struct tsr_http_req *req, void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;

    if (later[i] != req) {
        fprintf(stderr, "http_server_fuzzer: abort callback for an unknown request\n");
        abort();
    }
    later[i] = NULL;
}

static void h_later(struct tsr_http_req *req, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < MAX_LATER; i++) {
        if (later[i] == NULL) {
            later[i] = req;
            tsr_http_req_on_abort(req, later_abort, (void *)(uintptr_t)i);
            return;
        }
    }
    tsr_http_respond_text(req, 503, "text/plain", "busy\n");
}

/* Answer one deferred request; true when there was one. */
static bool answer_later(void)
{
    for (size_t i = 0; i < MAX_LATER; i++) {
        if (later[i] != NULL) {
            struct tsr_http_req *req = later[i];
            later[i] = NULL;
            tsr_http_respond_text(req, 200, "text/plain", "later\n");
            return true;
        }
    }
    return false;
}

/* Read and discard what the server wrote; returns the number of bytes. */
static size_t discard(int fd)
{
    char sink[16384];
    size_t total = 0;

    for (;;) {
        ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n <= 0)
            return total;
        if (verbose)
            fwrite(sink, 1, (size_t)n, stderr);
        total += (size_t)n;
    }
}

/*
 * Run the loop for at most turns turns, until nothing moves for a few
 * turns in a row or the connection is gone.
 */
static void run_loop(struct event_base *base, struct tsr_http_server *srv, int fd, size_t turns)
{
    int idle = 0;

    for (size_t i = 0; i < turns && idle < MAX_IDLE_TURNS; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        bool moved = discard(fd) > 0;
        moved = answer_later() || moved;
        if (tsr_http_server_connections(srv) == 0)
            return;
        idle = moved ? 0 : idle + 1;
    }
}

/* Write n bytes into the client end, running the loop when the socket is full. */
static void feed(struct event_base *base, struct tsr_http_server *srv, int fd, const uint8_t *p,
                 size_t n)
{
    size_t stalls = 0;

    while (n > 0 && stalls < 16) {
        ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            stalls++;
            run_loop(base, srv, fd, 8);
            continue;
        }
        if (w <= 0)
            return; /* the server closed its end: the rest is moot */
        p += w;
        n -= (size_t)w;
        stalls = 0;
    }
}

/* Where the first chunk ends (see the file comment for sel). */
static size_t cut_point(const uint8_t *in, size_t len, unsigned sel)
{
    if (sel == 15) {
        const uint8_t *end = memmem(in, len, "\r\n\r\n", 4);
        return end != NULL ? (size_t)(end - in) + 4 : len / 2;
    }
    return len * sel / 16;
}

/* The lowest free descriptor number: it grows when a descriptor leaks. */
static int lowest_free_fd(void)
{
    int fd = dup(2);

    if (fd >= 0)
        close(fd);
    return fd;
}

static void drained(void *arg)
{
    *(bool *)arg = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tsr_http_limits lim;
    struct event_base *base = NULL;
    struct tsr_http_server *srv = NULL;
    int fds[2] = {-1, -1};
    bool drain_done = false;
    const int fd_mark = lowest_free_fd();

    if (size < 1 || size > MAX_INPUT)
        return -1;
    const uint8_t mode = data[0];
    const uint8_t *in = data + 1;
    const size_t len = size - 1;
    const bool h2 = mode & 1;
    const size_t nchunks = 1 + ((mode >> 1) & 3) % 3;
    const bool drain = (mode >> 3) & 1;
    const size_t cut1 = cut_point(in, len, mode >> 4);
    const size_t cuts[4] = {0, nchunks == 1 ? len : cut1,
                            nchunks == 3 ? cut1 + (len - cut1) / 2 : len, len};

    tsr_http_limits_default(&lim);
    lim.max_header_bytes = 1024;
    lim.max_body_bytes = 512;
    lim.max_streams = 3;
    lim.max_connections = 1;

    base = event_base_new();
    if (base == NULL || tsr_http_server_new(base, &lim, NULL, &srv) != 0)
        goto out;
    if (tsr_http_server_route(srv, "GET", "/x", h_x, NULL) != 0 ||
        tsr_http_server_route(srv, "POST", "/echo", h_echo, NULL) != 0 ||
        tsr_http_server_route(srv, "GET", "/items/:id", h_item, NULL) != 0 ||
        tsr_http_server_route(srv, "GET", "/stream", h_stream, NULL) != 0 ||
        tsr_http_server_route(srv, "GET", "/later", h_later, NULL) != 0 ||
        tsr_http_server_route(srv, "PUT", "/files/*", h_echo, NULL) != 0)
        goto out;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        goto out;
    /* The server owns fds[0] from here on, also on failure. */
    int rc = tsr_http_server_adopt(srv, fds[0], "fuzz");
    fds[0] = -1;
    if (rc != 0)
        goto out;
    /* A second connection is over max_connections: refused, fd closed by the server. */
    int extra[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, extra) == 0) {
        if (tsr_http_server_adopt(srv, extra[0], NULL) != TSR_ELIMIT) {
            fprintf(stderr, "http_server_fuzzer: max_connections not enforced\n");
            abort();
        }
        close(extra[1]);
    }

    if (h2)
        feed(base, srv, fds[1], (const uint8_t *)h2_preface, sizeof(h2_preface) - 1);
    for (size_t i = 0; i < nchunks; i++) {
        feed(base, srv, fds[1], in + cuts[i], cuts[i + 1] - cuts[i]);
        run_loop(base, srv, fds[1], 16);
        if (i == 0 && drain)
            tsr_http_server_drain(srv, drained, &drain_done);
    }
    shutdown(fds[1], SHUT_WR);
    run_loop(base, srv, fds[1], MAX_TURNS);

out:
    tsr_http_server_free(srv);
    for (size_t i = 0; i < MAX_LATER; i++) {
        if (later[i] != NULL) {
            /* Freeing the server must abort what it did not answer. */
            fprintf(stderr, "http_server_fuzzer: a deferred request outlived its server\n");
            abort();
        }
    }
    if (fds[1] >= 0)
        close(fds[1]);
    if (base != NULL)
        event_base_free(base);
    if (lowest_free_fd() != fd_mark) {
        fprintf(stderr, "http_server_fuzzer: a file descriptor leaked\n");
        abort();
    }
    return 0;
}
