/*
 * tests/unit/transports/test_client.c: the libcurl/libevent HTTP client
 * against an in-test HTTP/1.1 server (plain and TLS): bodies, status
 * pass-through, limits, timeouts, refused connections, concurrency,
 * streaming sinks with back-pressure (pause/resume, HTTP/1.1 and h2), the
 * head callback, streamed uploads, cancellation, and certificate
 * verification.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "tests/unit/transports/stub_server.h"
#include "transports/client.h"

#define BIG_LEN 100000
#define STREAM_LEN (3 * 1024 * 1024 + 17)

static const struct stub_route routes[] = {
    {.path = "/hello", .kind = STUB_FIXED, .status = 200, .body = "hello world"},
    {.path = "/json", .kind = STUB_FIXED, .status = 201, .content_type = "application/json",
     .body = "{\"a\":1}"},
    {.path = "/echo", .kind = STUB_ECHO},
    {.path = "/big", .kind = STUB_PATTERN, .pattern_len = BIG_LEN},
    {.path = "/bigchunked", .kind = STUB_PATTERN, .pattern_len = BIG_LEN, .chunked = true},
    {.path = "/stream", .kind = STUB_PATTERN, .pattern_len = STREAM_LEN},
    {.path = "/hang", .kind = STUB_HANG},
    {.path = "/moved", .kind = STUB_FIXED, .status = 302, .body = "see /hello",
     .location = "/hello"},
};

struct fixture {
    struct event_base *base;
    struct event *tick; /* wakes the loop now and then so run_until can give up */
    struct stub_server *srv;
    struct tsr_client *client;
    char url[256];
};

struct result {
    int called;
    int rc;
    int status;
    long version;
    char *body;
    size_t len;
    char diag[TSR_DIAG_MAX];
    char ctype[128];
    char stub_hdr[16];
};

static void on_tick(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    (void)arg;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop until *counter reaches target or max_ms pass. */
static void run_until(struct event_base *base, const int *counter, int target, long max_ms)
{
    long deadline = now_ms() + max_ms;
    while (*counter < target && now_ms() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
}

static void on_done(void *arg, struct tsr_client_resp *resp)
{
    struct result *r = arg;
    const char *h;

    r->called++;
    r->rc = resp->rc;
    r->status = resp->status;
    r->version = resp->http_version;
    r->body = tsr_buf_steal(&resp->body, &r->len);
    snprintf(r->diag, sizeof(r->diag), "%s", resp->rc != 0 ? tsr_diag_msg(&resp->diag) : "");
    h = tsr_client_resp_header(resp, "content-type");
    snprintf(r->ctype, sizeof(r->ctype), "%s", h != NULL ? h : "");
    h = tsr_client_resp_header(resp, "X-STUB");
    snprintf(r->stub_hdr, sizeof(r->stub_hdr), "%s", h != NULL ? h : "");
}

static void result_cleanup(struct result *r)
{
    tsr_free(r->body);
    r->body = NULL;
}

static int fixture_setup_opts(void **state, const struct tsr_client_opts *opts)
{
    struct fixture *f = tsr_calloc(1, sizeof(*f));
    struct timeval tv = {0, 50000};

    assert_non_null(f);
    f->base = event_base_new();
    assert_non_null(f->base);
    f->tick = event_new(f->base, -1, EV_PERSIST, on_tick, NULL);
    assert_non_null(f->tick);
    assert_int_equal(event_add(f->tick, &tv), 0);
    f->srv = stub_server_start(routes, TSR_ARRAY_SIZE(routes), NULL);
    assert_non_null(f->srv);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", stub_server_port(f->srv));
    assert_int_equal(tsr_client_new(&f->client, f->base, opts, NULL), 0);
    *state = f;
    return 0;
}

static int fixture_setup(void **state)
{
    return fixture_setup_opts(state, NULL);
}

static int fixture_setup_small(void **state)
{
    struct tsr_client_opts o = {.max_body = 1024, .timeout_ms = 400};
    return fixture_setup_opts(state, &o);
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;

    tsr_client_free(f->client);
    stub_server_stop(f->srv);
    event_free(f->tick);
    event_base_free(f->base);
    tsr_free(f);
    return 0;
}

static void url_of(const struct fixture *f, const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s%s", f->url, path);
}

/* Run one request to completion on the fixture's client. */
static void do_request(struct fixture *f, struct tsr_client_req *req, struct result *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(tsr_client_request(f->client, req, on_done, r, NULL, NULL), 0);
    /* Never from inside tsr_client_request. */
    assert_int_equal(r->called, 0);
    run_until(f->base, &r->called, 1, 10000);
    assert_int_equal(r->called, 1);
}

static void test_get_200(void **state)
{
    struct fixture *f = *state;
    const char *hdrs[] = {"X-Test: one", "Accept: text/plain", NULL};
    struct tsr_client_req req = {.headers = hdrs};
    struct result r;
    char url[300], head[4096];

    url_of(f, "/hello", url, sizeof(url));
    req.url = url;
    do_request(f, &req, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.version, TSR_CLIENT_HTTP_1_1);
    assert_int_equal(r.len, 11);
    assert_string_equal(r.body, "hello world");
    assert_string_equal(r.ctype, "text/plain");
    assert_string_equal(r.stub_hdr, "yes");
    stub_server_last_head(f->srv, head, sizeof(head));
    assert_non_null(strstr(head, "GET /hello HTTP/1.1\r\n"));
    assert_non_null(strstr(head, "\r\nX-Test: one\r\n"));
    assert_non_null(strstr(head, "\r\nUser-Agent: tessera/" PACKAGE_VERSION "\r\n"));
    assert_int_equal(tsr_client_pending(f->client), 0);
    result_cleanup(&r);
}

static void test_post_echo(void **state)
{
    struct fixture *f = *state;
    static const char body[] = "{\"@type\":\"dspace:CatalogRequestMessage\"}";
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    struct tsr_client_req req = {.headers = hdrs, .body = body, .body_len = strlen(body)};
    struct result r;
    char url[300], head[4096];

    url_of(f, "/echo", url, sizeof(url));
    req.url = url;
    do_request(f, &req, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, strlen(body));
    assert_memory_equal(r.body, body, r.len);
    stub_server_last_head(f->srv, head, sizeof(head));
    assert_non_null(strstr(head, "POST /echo HTTP/1.1\r\n"));
    assert_non_null(strstr(head, "\r\nContent-Type: application/json\r\n"));
    assert_null(strstr(head, "x-www-form-urlencoded"));
    assert_null(strstr(head, "Expect:"));
    result_cleanup(&r);

    /* PUT through the same path keeps its method and body. */
    req.method = "PUT";
    do_request(f, &req, &r);
    assert_int_equal(r.status, 200);
    assert_memory_equal(r.body, body, r.len);
    stub_server_last_head(f->srv, head, sizeof(head));
    assert_non_null(strstr(head, "PUT /echo HTTP/1.1\r\n"));
    result_cleanup(&r);
}

static void test_status_passes_through(void **state)
{
    struct fixture *f = *state;
    struct tsr_client_req req = {0};
    struct result r;
    char url[300];

    url_of(f, "/nowhere", url, sizeof(url));
    req.url = url;
    do_request(f, &req, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "no route");
    result_cleanup(&r);

    url_of(f, "/json", url, sizeof(url));
    do_request(f, &req, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.ctype, "application/json");
    result_cleanup(&r);

    /* Redirects are not followed unless asked for. */
    url_of(f, "/moved", url, sizeof(url));
    do_request(f, &req, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 302);
    assert_string_equal(r.body, "see /hello");
    result_cleanup(&r);
    req.flags = TSR_CLIENT_FOLLOW_REDIRECTS;
    do_request(f, &req, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello world");
    assert_int_equal(stub_server_hits(f->srv, "/hello"), 1);
    result_cleanup(&r);

    /* Five requests in sequence, one connection: it was kept and reused. */
    assert_int_equal(stub_server_connections(f->srv), 1);
}

static void test_body_limit(void **state)
{
    struct fixture *f = *state;
    struct tsr_client_req req = {0};
    struct result r;
    char url[300];

    /* Content-Length announces too much: refused before reading it. */
    url_of(f, "/big", url, sizeof(url));
    req.url = url;
    do_request(f, &req, &r);
    assert_int_equal(r.rc, TSR_ELIMIT);
    assert_true(r.len <= 1024);
    result_cleanup(&r);

    /* Chunked: no length up front, so the limit trips while reading. */
    url_of(f, "/bigchunked", url, sizeof(url));
    do_request(f, &req, &r);
    assert_int_equal(r.rc, TSR_ELIMIT);
    assert_non_null(strstr(r.diag, "limit"));
    assert_true(r.len <= 1024);
    result_cleanup(&r);

    /* A per-request limit overrides the client's. */
    req.max_body = BIG_LEN;
    do_request(f, &req, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.len, BIG_LEN);
    result_cleanup(&r);

    /* A small body still fits. */
    url_of(f, "/hello", url, sizeof(url));
    req.max_body = 0;
    do_request(f, &req, &r);
    assert_int_equal(r.rc, 0);
    result_cleanup(&r);
}

static void test_timeout(void **state)
{
    struct fixture *f = *state;
    struct tsr_client_req req = {0};
    struct result r;
    char url[300];

    url_of(f, "/hang", url, sizeof(url));
    req.url = url;
    long t0 = now_ms();
    do_request(f, &req, &r); /* the client's total timeout is 400 ms */
    long took = now_ms() - t0;
    assert_int_equal(r.rc, TSR_ETIMEOUT);
    assert_int_equal(r.status, 0);
    assert_true(took >= 350);
    assert_true(took < 3000);
    assert_true(strlen(r.diag) > 0);
    result_cleanup(&r);

    /* A per-request timeout overrides the client's. */
    req.timeout_ms = 150;
    t0 = now_ms();
    do_request(f, &req, &r);
    took = now_ms() - t0;
    assert_int_equal(r.rc, TSR_ETIMEOUT);
    assert_true(took >= 100);
    assert_true(took < 2000);
    result_cleanup(&r);
}

static void test_refused(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof(sa);
    struct tsr_client_req req = {0};
    struct result r;
    char url[300];

    /* A port that was just free and has no listener. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(sa.sin_port));
    req.url = url;
    do_request(f, &req, &r);
    assert_int_equal(r.rc, TSR_EUNAVAIL);
    assert_non_null(strstr(r.diag, "GET http://127.0.0.1:"));
    result_cleanup(&r);
}

static void test_concurrent(void **state)
{
    struct fixture *f = *state;
    struct result r[20];
    char bodies[20][32];
    char url[300];
    int done = 0;

    url_of(f, "/echo", url, sizeof(url));
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 20; i++) {
        snprintf(bodies[i], sizeof(bodies[i]), "request number %d", i);
        struct tsr_client_req req = {.url = url, .body = bodies[i], .body_len = strlen(bodies[i])};
        assert_int_equal(tsr_client_request(f->client, &req, on_done, &r[i], NULL, NULL), 0);
    }
    assert_int_equal(tsr_client_pending(f->client), 20);
    long deadline = now_ms() + 10000;
    while (done < 20 && now_ms() < deadline) {
        event_base_loop(f->base, EVLOOP_ONCE);
        done = 0;
        for (int i = 0; i < 20; i++)
            done += r[i].called;
    }
    assert_int_equal(done, 20);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(r[i].called, 1);
        assert_int_equal(r[i].rc, 0);
        assert_int_equal(r[i].status, 200);
        assert_int_equal(r[i].len, strlen(bodies[i]));
        assert_memory_equal(r[i].body, bodies[i], r[i].len);
        result_cleanup(&r[i]);
    }
    assert_int_equal(tsr_client_pending(f->client), 0);
    assert_int_equal(stub_server_hits(f->srv, "/echo"), 20);
}

struct sink {
    size_t got;
    size_t calls;
    bool mismatch;
    size_t fail_after; /* 0: never fail */
};

static int sink_write(void *arg, const void *data, size_t len)
{
    struct sink *s = arg;
    const unsigned char *p = data;

    s->calls++;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != stub_pattern_byte(s->got + i))
            s->mismatch = true;
    }
    s->got += len;
    if (s->fail_after > 0 && s->got >= s->fail_after)
        return TSR_EIO;
    return 0;
}

static void test_streaming_sink(void **state)
{
    struct fixture *f = *state;
    struct sink s = {0};
    struct tsr_client_req req = {.write_cb = sink_write, .write_arg = &s, .timeout_ms = 20000};
    struct result r;
    char url[300];

    /* Far above this client's buffered limit (1 KiB): a sink has none by default. */
    url_of(f, "/stream", url, sizeof(url));
    req.url = url;
    do_request(f, &req, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(s.got, STREAM_LEN);
    assert_false(s.mismatch);
    assert_true(s.calls > 1);
    assert_int_equal(r.len, 0);
    result_cleanup(&r);

    /* Error bodies are buffered for the caller, never sent to the sink. */
    memset(&s, 0, sizeof(s));
    url_of(f, "/missing", url, sizeof(url));
    do_request(f, &req, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 404);
    assert_int_equal(s.calls, 0);
    assert_string_equal(r.body, "no route");
    result_cleanup(&r);

    /* A sink error aborts the transfer with the sink's code. */
    memset(&s, 0, sizeof(s));
    s.fail_after = 1;
    url_of(f, "/stream", url, sizeof(url));
    do_request(f, &req, &r);
    assert_int_equal(r.rc, TSR_EIO);
    assert_true(s.got < STREAM_LEN);
    result_cleanup(&r);

    /* A per-request limit applies to a sink too. */
    memset(&s, 0, sizeof(s));
    req.max_body = 1000;
    do_request(f, &req, &r);
    assert_int_equal(r.rc, TSR_ELIMIT);
    assert_true(s.got <= 1000);
    result_cleanup(&r);
}

static void test_invalid_requests(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    struct tsr_diag d;
    const char *bad_hdr[] = {"X-Evil: a\r\nInjected: b", NULL};
    const char *bad_name[] = {"No Colon Here", NULL};
    char url[300];

    url_of(f, "/hello", url, sizeof(url));
    struct tsr_client_req req = {.url = "ftp://127.0.0.1/x"};
    assert_int_equal(tsr_client_request(f->client, &req, on_done, &r, NULL, &d), TSR_EINVAL);
    req.url = "http://127.0.0.1/a b";
    assert_int_equal(tsr_client_request(f->client, &req, on_done, &r, NULL, &d), TSR_EINVAL);
    req.url = url;
    req.flags = TSR_CLIENT_HTTPS_ONLY;
    assert_int_equal(tsr_client_request(f->client, &req, on_done, &r, NULL, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "https"));
    req.flags = 0;
    req.headers = bad_hdr;
    assert_int_equal(tsr_client_request(f->client, &req, on_done, &r, NULL, &d), TSR_EINVAL);
    req.headers = bad_name;
    assert_int_equal(tsr_client_request(f->client, &req, on_done, &r, NULL, &d), TSR_EINVAL);
    req.headers = NULL;
    req.method = "GE T";
    assert_int_equal(tsr_client_request(f->client, &req, on_done, &r, NULL, &d), TSR_EINVAL);
    req.method = NULL;
    req.body_len = 3;
    assert_int_equal(tsr_client_request(f->client, &req, on_done, &r, NULL, &d), TSR_EINVAL);
    req.body_len = 0;
    tsr_mem_fail_after(0);
    assert_int_equal(tsr_client_request(f->client, &req, on_done, &r, NULL, &d), TSR_ENOMEM);
    tsr_mem_fail_after(-1);
    /* An error return means the callback never comes. */
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_int_equal(r.called, 0);
    assert_int_equal(tsr_client_pending(f->client), 0);
    assert_int_equal(stub_server_hits(f->srv, NULL), 0);
}

static void test_cancel(void **state)
{
    struct fixture *f = *state;
    struct result hang = {0}, hello = {0};
    struct tsr_client_xfer *x = NULL;
    char url[300], url2[300];

    url_of(f, "/hang", url, sizeof(url));
    url_of(f, "/hello", url2, sizeof(url2));
    struct tsr_client_req req = {.url = url, .timeout_ms = 300};
    struct tsr_client_req req2 = {.url = url2};
    assert_int_equal(tsr_client_request(f->client, &req, on_done, &hang, &x, NULL), 0);
    assert_non_null(x);
    /* Let it connect and send, then cancel it. */
    long deadline = now_ms() + 5000;
    while (stub_server_hits(f->srv, "/hang") == 0 && now_ms() < deadline)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(stub_server_hits(f->srv, "/hang"), 1);
    tsr_client_cancel(x);
    assert_int_equal(tsr_client_pending(f->client), 0);
    assert_int_equal(tsr_client_request(f->client, &req2, on_done, &hello, NULL, NULL), 0);
    run_until(f->base, &hello.called, 1, 5000);
    assert_int_equal(hello.called, 1);
    /* Run past the cancelled request's timeout: still no callback. */
    deadline = now_ms() + 500;
    while (now_ms() < deadline)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(hang.called, 0);
    result_cleanup(&hello);

    /* Freeing the client with a request in flight calls nothing. */
    assert_int_equal(tsr_client_request(f->client, &req, on_done, &hang, NULL, NULL), 0);
    tsr_client_free(f->client);
    f->client = NULL;
    deadline = now_ms() + 300;
    while (now_ms() < deadline)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(hang.called, 0);
}

struct free_in_cb {
    struct tsr_client *client;
    int calls;
};

static void on_done_free(void *arg, struct tsr_client_resp *resp)
{
    struct free_in_cb *s = arg;
    (void)resp;
    s->calls++;
    tsr_client_free(s->client);
}

static void test_free_inside_callback(void **state)
{
    struct fixture *f = *state;
    struct free_in_cb s = {.client = f->client};
    struct result never = {0};
    char url[300], url2[300];

    url_of(f, "/hello", url, sizeof(url));
    url_of(f, "/hang", url2, sizeof(url2));
    struct tsr_client_req req = {.url = url};
    struct tsr_client_req req2 = {.url = url2};
    assert_int_equal(tsr_client_request(f->client, &req2, on_done, &never, NULL, NULL), 0);
    assert_int_equal(tsr_client_request(f->client, &req, on_done_free, &s, NULL, NULL), 0);
    f->client = NULL;
    run_until(f->base, &s.calls, 1, 5000);
    assert_int_equal(s.calls, 1);
    long deadline = now_ms() + 200;
    while (now_ms() < deadline)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(never.called, 0);
}

static void test_fetch_sync(void **state)
{
    struct fixture *f = *state;
    struct tsr_client_resp resp;
    char url[300];

    url_of(f, "/json", url, sizeof(url));
    struct tsr_client_req req = {.url = url};
    assert_int_equal(tsr_client_fetch_sync(NULL, &req, &resp), 0);
    assert_int_equal(resp.status, 201);
    assert_string_equal(tsr_buf_str(&resp.body), "{\"a\":1}");
    assert_string_equal(tsr_client_resp_header(&resp, "Content-Type"), "application/json");
    assert_null(tsr_client_resp_header(&resp, "X-Absent"));
    tsr_client_resp_cleanup(&resp);

    /* Errors come back in the response too. */
    req.url = "gopher://127.0.0.1/";
    assert_int_equal(tsr_client_fetch_sync(NULL, &req, &resp), TSR_EINVAL);
    assert_int_equal(resp.rc, TSR_EINVAL);
    assert_true(strlen(tsr_diag_msg(&resp.diag)) > 0);
    tsr_client_resp_cleanup(&resp);

    struct tsr_client_opts o = {.ca_file = "/nonexistent/ca.pem"};
    req.url = url;
    assert_int_equal(tsr_client_fetch_sync(&o, &req, &resp), TSR_EINVAL);
    assert_non_null(strstr(resp.diag.msg, "/nonexistent/ca.pem"));
    tsr_client_resp_cleanup(&resp);
}

/* ---------------------------------------------------------------- TLS */

struct tls_fixture {
    char dir[256];
    char cert[512], key[512];
    char ccert[512], ckey[512];
};

static void tls_get(const char *url, const struct tsr_client_opts *o, struct tsr_client_resp *resp)
{
    struct tsr_client_req req = {.url = url};
    tsr_client_fetch_sync(o, &req, resp);
}

static void test_tls_verify(void **state)
{
    struct tls_fixture t;
    struct tsr_client_resp resp;
    char url[300];

    (void)state;
    assert_int_equal(stub_tmpdir(t.dir, sizeof(t.dir)), 0);
    assert_int_equal(stub_cert_make(t.dir, "server", t.cert, t.key, sizeof(t.cert)), 0);
    SSL_CTX *ctx = stub_tls_ctx(t.cert, t.key, NULL, false);
    assert_non_null(ctx);
    struct stub_server *srv = stub_server_start(routes, TSR_ARRAY_SIZE(routes), ctx);
    assert_non_null(srv);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/hello", stub_server_port(srv));

    /* The system store does not know our throwaway certificate. */
    struct tsr_client_opts none = {.timeout_ms = 5000};
    tls_get(url, &none, &resp);
    assert_int_equal(resp.rc, TSR_ETLS);
    assert_int_equal(resp.status, 0);
    assert_non_null(strstr(resp.diag.msg, "certificate"));
    tsr_client_resp_cleanup(&resp);

    /* Trusting it makes the same request succeed (over TLS, no h2 offered). */
    struct tsr_client_opts ca = {.ca_file = t.cert, .timeout_ms = 5000};
    tls_get(url, &ca, &resp);
    assert_int_equal(resp.rc, 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.http_version, TSR_CLIENT_HTTP_1_1);
    assert_string_equal(tsr_buf_str(&resp.body), "hello world");
    tsr_client_resp_cleanup(&resp);

    /* The name must match too: the certificate is for 127.0.0.1 and localhost only. */
    struct tsr_client_opts other_ca = {.timeout_ms = 5000};
    char other_cert[512], other_key[512];
    assert_int_equal(stub_cert_make(t.dir, "other", other_cert, other_key, sizeof(other_cert)),
                     0);
    other_ca.ca_file = other_cert;
    tls_get(url, &other_ca, &resp);
    assert_int_equal(resp.rc, TSR_ETLS);
    tsr_client_resp_cleanup(&resp);

    /*
     * Asynchronously: a hung request must not hold up the next one to the
     * same host (the server speaks HTTP/1.1 only, so no multiplexing).
     */
    struct event_base *base = event_base_new();
    struct tsr_client *c = NULL;
    struct result hang = {0}, hello = {0};
    char hang_url[300];
    assert_non_null(base);
    assert_int_equal(tsr_client_new(&c, base, &ca, NULL), 0);
    snprintf(hang_url, sizeof(hang_url), "https://127.0.0.1:%d/hang", stub_server_port(srv));
    struct tsr_client_req hreq = {.url = hang_url, .timeout_ms = 8000};
    struct tsr_client_req req = {.url = url};
    assert_int_equal(tsr_client_request(c, &hreq, on_done, &hang, NULL, NULL), 0);
    assert_int_equal(tsr_client_request(c, &req, on_done, &hello, NULL, NULL), 0);
    long t0 = now_ms();
    run_until(base, &hello.called, 1, 5000);
    assert_int_equal(hello.called, 1);
    assert_int_equal(hello.status, 200);
    assert_true(now_ms() - t0 < 6000);
    assert_int_equal(hang.called, 0);
    tsr_client_free(c);
    event_base_free(base);
    result_cleanup(&hello);

    /* The test-only switch skips verification. */
    struct tsr_client_opts insecure = {.insecure = true, .timeout_ms = 5000};
    tls_get(url, &insecure, &resp);
    assert_int_equal(resp.rc, 0);
    assert_int_equal(resp.status, 200);
    tsr_client_resp_cleanup(&resp);

    stub_server_stop(srv);
    SSL_CTX_free(ctx);
    stub_tmpdir_remove(t.dir);
}

static void test_mutual_tls(void **state)
{
    struct tls_fixture t;
    struct tsr_client_resp resp;
    char url[300];

    (void)state;
    assert_int_equal(stub_tmpdir(t.dir, sizeof(t.dir)), 0);
    assert_int_equal(stub_cert_make(t.dir, "server", t.cert, t.key, sizeof(t.cert)), 0);
    assert_int_equal(stub_cert_make(t.dir, "client", t.ccert, t.ckey, sizeof(t.ccert)), 0);
    SSL_CTX *ctx = stub_tls_ctx(t.cert, t.key, t.ccert, false);
    assert_non_null(ctx);
    struct stub_server *srv = stub_server_start(routes, TSR_ARRAY_SIZE(routes), ctx);
    assert_non_null(srv);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/hello", stub_server_port(srv));

    struct tsr_client_opts with = {
        .ca_file = t.cert, .cert_file = t.ccert, .key_file = t.ckey, .timeout_ms = 5000};
    tls_get(url, &with, &resp);
    assert_int_equal(resp.rc, 0);
    assert_int_equal(resp.status, 200);
    tsr_client_resp_cleanup(&resp);

    /* Without a client certificate the server ends the handshake. */
    struct tsr_client_opts without = {.ca_file = t.cert, .timeout_ms = 5000};
    tls_get(url, &without, &resp);
    assert_int_not_equal(resp.rc, 0);
    assert_int_equal(resp.status, 0);
    tsr_client_resp_cleanup(&resp);

    /* A key without its certificate is a configuration error. */
    struct tsr_client_opts bad = {.key_file = t.ckey};
    tls_get(url, &bad, &resp);
    assert_int_equal(resp.rc, TSR_EINVAL);
    tsr_client_resp_cleanup(&resp);

    stub_server_stop(srv);
    SSL_CTX_free(ctx);
    stub_tmpdir_remove(t.dir);
}

/* ---------------------------------------------------------------- HTTP/2 */

static void test_h2_alpn_multiplexed(void **state)
{
    struct tls_fixture t;
    struct event_base *base = event_base_new();
    struct event *tick = NULL;
    struct tsr_client *c = NULL;
    struct result r[10], hang = {0}, h1 = {0};
    char bodies[10][32];
    char url[300], hang_url[300], stream_url[300], hello_url[300];
    struct timeval tv = {0, 50000};

    (void)state;
    assert_non_null(base);
    tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    assert_int_equal(event_add(tick, &tv), 0);
    assert_int_equal(stub_tmpdir(t.dir, sizeof(t.dir)), 0);
    assert_int_equal(stub_cert_make(t.dir, "server", t.cert, t.key, sizeof(t.cert)), 0);
    SSL_CTX *ctx = stub_tls_ctx(t.cert, t.key, NULL, true);
    assert_non_null(ctx);
    struct stub_server *srv = stub_server_start_h2(routes, TSR_ARRAY_SIZE(routes), ctx);
    assert_non_null(srv);
    int port = stub_server_port(srv);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/echo", port);
    snprintf(hang_url, sizeof(hang_url), "https://127.0.0.1:%d/hang", port);
    snprintf(stream_url, sizeof(stream_url), "https://127.0.0.1:%d/stream", port);
    snprintf(hello_url, sizeof(hello_url), "https://127.0.0.1:%d/hello", port);
    struct tsr_client_opts o = {.ca_file = t.cert, .timeout_ms = 10000};
    assert_int_equal(tsr_client_new(&c, base, &o, NULL), 0);

    /* A hung stream first, then ten more: all share one connection. */
    struct tsr_client_req hreq = {.url = hang_url, .timeout_ms = 9000};
    assert_int_equal(tsr_client_request(c, &hreq, on_done, &hang, NULL, NULL), 0);
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 10; i++) {
        snprintf(bodies[i], sizeof(bodies[i]), "stream %d", i);
        struct tsr_client_req req = {.url = url, .body = bodies[i], .body_len = strlen(bodies[i])};
        assert_int_equal(tsr_client_request(c, &req, on_done, &r[i], NULL, NULL), 0);
    }
    long t0 = now_ms();
    int done = 0;
    while (done < 10 && now_ms() - t0 < 8000) {
        event_base_loop(base, EVLOOP_ONCE);
        done = 0;
        for (int i = 0; i < 10; i++)
            done += r[i].called;
    }
    assert_int_equal(done, 10);
    assert_true(now_ms() - t0 < 7000); /* not held up by the hung stream */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(r[i].rc, 0);
        assert_int_equal(r[i].status, 200);
        assert_int_equal(r[i].version, TSR_CLIENT_HTTP_2);
        assert_string_equal(r[i].stub_hdr, "yes");
        assert_int_equal(r[i].len, strlen(bodies[i]));
        assert_memory_equal(r[i].body, bodies[i], r[i].len);
        result_cleanup(&r[i]);
    }
    assert_int_equal(hang.called, 0);
    assert_int_equal(stub_server_connections(srv), 1);

    /* A large streamed body crosses the flow-control windows intact. */
    struct sink s = {0};
    struct result sr = {0};
    struct tsr_client_req sreq = {.url = stream_url, .write_cb = sink_write, .write_arg = &s};
    assert_int_equal(tsr_client_request(c, &sreq, on_done, &sr, NULL, NULL), 0);
    run_until(base, &sr.called, 1, 10000);
    assert_int_equal(sr.rc, 0);
    assert_int_equal(sr.version, TSR_CLIENT_HTTP_2);
    assert_int_equal(s.got, STREAM_LEN);
    assert_false(s.mismatch);
    result_cleanup(&sr);

    /* A request may insist on HTTP/1.1; the server then falls back. */
    struct tsr_client_req h1req = {.url = hello_url, .flags = TSR_CLIENT_HTTP1_ONLY};
    assert_int_equal(tsr_client_request(c, &h1req, on_done, &h1, NULL, NULL), 0);
    run_until(base, &h1.called, 1, 5000);
    assert_int_equal(h1.rc, 0);
    assert_int_equal(h1.version, TSR_CLIENT_HTTP_1_1);
    assert_string_equal(h1.body, "hello world");
    result_cleanup(&h1);

    tsr_client_free(c); /* cancels the hung stream */
    assert_int_equal(hang.called, 0);
    stub_server_stop(srv);
    SSL_CTX_free(ctx);
    stub_tmpdir_remove(t.dir);
    event_free(tick);
    event_base_free(base);
}

static void test_h2_prior_knowledge(void **state)
{
    struct tsr_client_resp resp;
    char url[300];

    (void)state;
    struct stub_server *srv = stub_server_start_h2(routes, TSR_ARRAY_SIZE(routes), NULL);
    assert_non_null(srv);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/json", stub_server_port(srv));
    struct tsr_client_req req = {.url = url, .flags = TSR_CLIENT_H2_PRIOR_KNOWLEDGE};
    assert_int_equal(tsr_client_fetch_sync(NULL, &req, &resp), 0);
    assert_int_equal(resp.status, 201);
    assert_int_equal(resp.http_version, TSR_CLIENT_HTTP_2);
    assert_string_equal(tsr_buf_str(&resp.body), "{\"a\":1}");
    assert_string_equal(tsr_client_resp_header(&resp, "Content-Type"), "application/json");
    tsr_client_resp_cleanup(&resp);
    stub_server_stop(srv);
}

/* ------------------------------------------------ back-pressure and uploads */

/* A sink that pauses its request every few pieces; a loop timer resumes it. */
struct pausing {
    struct sink sink;
    struct tsr_client_xfer *xfer;
    struct event *ev;
    unsigned pieces;
    unsigned pauses;
    bool paused;
    int head_calls;
    int head_status;
    char head_len[32];
    int head_rc; /* what the head callback returns */
};

static int pausing_write(void *arg, const void *data, size_t len)
{
    struct pausing *p = arg;

    assert_false(p->paused); /* nothing arrives while paused */
    if (++p->pieces % 3 == 0) {
        p->paused = true;
        p->pauses++;
        struct timeval tv = {0, 1000};
        event_add(p->ev, &tv);
        return TSR_CLIENT_PAUSE;
    }
    return sink_write(&p->sink, data, len);
}

static int pausing_head(void *arg, const struct tsr_client_resp *resp)
{
    struct pausing *p = arg;
    const char *cl = tsr_client_resp_header(resp, "content-length");

    p->head_calls++;
    p->head_status = resp->status;
    snprintf(p->head_len, sizeof(p->head_len), "%s", cl != NULL ? cl : "");
    assert_int_equal(p->sink.got, 0); /* before any byte */
    return p->head_rc;
}

static void on_resume(evutil_socket_t fd, short ev, void *arg)
{
    struct pausing *p = arg;

    (void)fd;
    (void)ev;
    p->paused = false;
    assert_int_equal(tsr_client_resume(p->xfer), 0);
}

static void run_pausing(struct event_base *base, struct tsr_client *client, const char *url,
                        unsigned flags, struct pausing *p, struct result *r)
{
    struct tsr_client_req req = {.url = url, .write_cb = pausing_write, .write_arg = p,
                                 .head_cb = pausing_head, .flags = flags, .timeout_ms = 20000};

    p->ev = evtimer_new(base, on_resume, p);
    assert_non_null(p->ev);
    memset(r, 0, sizeof(*r));
    assert_int_equal(tsr_client_request(client, &req, on_done, r, &p->xfer, NULL), 0);
    run_until(base, &r->called, 1, 15000);
    assert_int_equal(r->called, 1);
    event_free(p->ev);
}

static void test_sink_pause_resume(void **state)
{
    struct fixture *f = *state;
    struct pausing p = {0};
    struct result r;
    char url[300];

    url_of(f, "/stream", url, sizeof(url));
    run_pausing(f->base, f->client, url, 0, &p, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(p.sink.got, STREAM_LEN); /* every byte once, in order */
    assert_false(p.sink.mismatch);
    assert_true(p.pauses > 3);
    assert_int_equal(p.head_calls, 1);
    assert_int_equal(p.head_status, 200);
    char want[32];
    snprintf(want, sizeof(want), "%d", STREAM_LEN);
    assert_string_equal(p.head_len, want);
    result_cleanup(&r);

    /* A head callback that refuses stops the request before the sink sees a byte. */
    memset(&p, 0, sizeof(p));
    p.head_rc = TSR_EPROTO;
    run_pausing(f->base, f->client, url, 0, &p, &r);
    assert_int_equal(r.rc, TSR_EPROTO);
    assert_int_equal(p.head_calls, 1);
    assert_int_equal(p.sink.got, 0);
    result_cleanup(&r);
}

static void test_sink_pause_resume_h2(void **state)
{
    struct pausing p = {0};
    struct result r;
    char url[300];
    struct event_base *base = event_base_new();
    struct tsr_client *client = NULL;

    (void)state;
    assert_non_null(base);
    struct stub_server *srv = stub_server_start_h2(routes, TSR_ARRAY_SIZE(routes), NULL);
    assert_non_null(srv);
    assert_int_equal(tsr_client_new(&client, base, NULL, NULL), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/stream", stub_server_port(srv));
    run_pausing(base, client, url, TSR_CLIENT_H2_PRIOR_KNOWLEDGE, &p, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.version, TSR_CLIENT_HTTP_2);
    assert_int_equal(p.sink.got, STREAM_LEN);
    assert_false(p.sink.mismatch);
    assert_true(p.pauses > 3);
    result_cleanup(&r);
    tsr_client_free(client);
    stub_server_stop(srv);
    event_base_free(base);
}

/* A streamed request body that is not always ready: the echo must match it. */
struct source {
    size_t len, sent, calls;
    struct tsr_client_xfer *xfer;
    struct event *ev;
    bool paused;
    int fail_at; /* fail on this call (0: never) */
};

static void on_source_ready(evutil_socket_t fd, short ev, void *arg)
{
    struct source *src = arg;

    (void)fd;
    (void)ev;
    src->paused = false;
    assert_int_equal(tsr_client_resume(src->xfer), 0);
}

static int source_read(void *arg, void *buf, size_t len, size_t *n)
{
    struct source *src = arg;
    unsigned char *p = buf;

    src->calls++;
    if (src->fail_at > 0 && (int)src->calls == src->fail_at)
        return TSR_EIO;
    if (src->calls % 4 == 0) {
        src->paused = true;
        struct timeval tv = {0, 500};
        event_add(src->ev, &tv);
        return TSR_CLIENT_PAUSE;
    }
    size_t k = TSR_MIN(len, TSR_MIN(src->len - src->sent, (size_t)7000));
    for (size_t i = 0; i < k; i++)
        p[i] = stub_pattern_byte(src->sent + i);
    src->sent += k;
    *n = k;
    return 0;
}

static void upload(struct fixture *f, const char *method, int64_t size, struct source *src,
                   struct result *r)
{
    char url[300];
    url_of(f, "/echo", url, sizeof(url));
    struct tsr_client_req req = {.method = method, .url = url, .read_cb = source_read,
                                 .read_arg = src, .body_size = size, .timeout_ms = 20000};

    src->ev = evtimer_new(f->base, on_source_ready, src);
    assert_non_null(src->ev);
    memset(r, 0, sizeof(*r));
    assert_int_equal(tsr_client_request(f->client, &req, on_done, r, &src->xfer, NULL), 0);
    run_until(f->base, &r->called, 1, 15000);
    assert_int_equal(r->called, 1);
    event_free(src->ev);
}

static void test_streamed_upload(void **state)
{
    struct fixture *f = *state;
    struct result r;
    const size_t len = 300000;

    static const struct {
        const char *method;
        bool known_size;
    } cases[] = {{"PUT", true}, {"POST", true}, {NULL, true}, {"PUT", false}, {"POST", false}};
    for (size_t c = 0; c < TSR_ARRAY_SIZE(cases); c++) {
        struct source src = {.len = len};
        upload(f, cases[c].method, cases[c].known_size ? (int64_t)len : -1, &src, &r);
        if (r.rc != 0 || r.status != 200 || r.len != len)
            fail_msg("case %zu: rc %d status %d echoed %zu bytes (%s)", c, r.rc, r.status, r.len,
                     r.diag);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)r.body[i] != stub_pattern_byte(i))
                fail_msg("case %zu: byte %zu differs", c, i);
        assert_true(src.calls > 8); /* paused and resumed on the way */
        char head[512];
        stub_server_last_head(f->srv, head, sizeof(head));
        const char *m = cases[c].method != NULL ? cases[c].method : "POST";
        assert_memory_equal(head, m, strlen(m));
        assert_true((strcasestr(head, "Transfer-Encoding: chunked") != NULL) ==
                    !cases[c].known_size);
        result_cleanup(&r);
    }

    /* A source error aborts the request with the source's code. */
    struct source src = {.len = len, .fail_at = 3};
    upload(f, "PUT", (int64_t)len, &src, &r);
    assert_int_equal(r.rc, TSR_EIO);
    result_cleanup(&r);

    /* A streamed body on a GET, or beside a buffered one, is refused up front. */
    char url[300];
    url_of(f, "/echo", url, sizeof(url));
    struct tsr_client_req bad = {.method = "GET", .url = url, .read_cb = source_read,
                                 .read_arg = &src};
    assert_int_equal(tsr_client_request(f->client, &bad, on_done, &r, NULL, NULL), TSR_EINVAL);
    bad.method = "PUT";
    bad.body = "x";
    bad.body_len = 1;
    assert_int_equal(tsr_client_request(f->client, &bad, on_done, &r, NULL, NULL), TSR_EINVAL);
    struct tsr_client_req nosink = {.url = url, .head_cb = pausing_head};
    assert_int_equal(tsr_client_request(f->client, &nosink, on_done, &r, NULL, NULL), TSR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_200, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_post_echo, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_status_passes_through, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_body_limit, fixture_setup_small, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_timeout, fixture_setup_small, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_refused, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_streaming_sink, fixture_setup_small,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_requests, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_cancel, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_callback, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_sync, fixture_setup, fixture_teardown),
        cmocka_unit_test(test_tls_verify),
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_h2_alpn_multiplexed),
        cmocka_unit_test(test_h2_prior_knowledge),
        cmocka_unit_test_setup_teardown(test_sink_pause_resume, fixture_setup, fixture_teardown),
        cmocka_unit_test(test_sink_pause_resume_h2),
        cmocka_unit_test_setup_teardown(test_streamed_upload, fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
