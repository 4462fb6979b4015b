/*
 * tests/unit/transports/test_did_resolve.c: did:web resolution against the
 * in-test HTTP server (http allowed by the resolver's test-only switch):
 * documents, the cache (hits, shared fetches, expiry, eviction), refused
 * documents and HTTP errors, cancellation.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "lib/did.h"
#include "lib/mem.h"
#include "tests/unit/transports/stub_server.h"
#include "transports/client.h"
#include "transports/did_resolve.h"

/* The public part of the P-256 example key of RFC 7517, appendix A.1. */
static const char example_jwk[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\","
    "\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
    "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\"}";

enum {
    R_ROOT,
    R_ALICE,
    R_BOB,
    R_MISMATCH,
    R_BROKEN,
    R_ERROR,
    R_HANG,
    R_HANG2,
    R_COUNT,
};

struct fixture {
    struct event_base *base;
    struct event *tick;
    struct stub_server *srv;
    struct tsr_client *client;
    struct tsr_did_resolver *res;
    struct stub_route routes[R_COUNT];
    char *docs[3];
    char did_root[64], did_alice[128], did_bob[128], did_mismatch[128];
    char did_gone[128], did_broken[128], did_error[128], did_hang[128];
};

struct result {
    int called;
    int rc;
    char id[256];
    char diag[TSR_DIAG_MAX];
    bool has_key;
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

static void run_until(struct event_base *base, const int *counter, int target, long max_ms)
{
    long deadline = now_ms() + max_ms;
    while (*counter < target && now_ms() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
}

static void run_for(struct event_base *base, long ms)
{
    long deadline = now_ms() + ms;
    while (now_ms() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
}

static void on_resolved(void *arg, int rc, const json_t *doc, const struct tsr_diag *diag)
{
    struct result *r = arg;
    const json_t *jwk = NULL;

    r->called++;
    r->rc = rc;
    snprintf(r->id, sizeof(r->id), "%s",
             doc != NULL ? json_string_value(json_object_get(doc, "id")) : "");
    snprintf(r->diag, sizeof(r->diag), "%s", rc != 0 ? tsr_diag_msg(diag) : "");
    /* The document is usable for the duration of the callback. */
    r->has_key = doc != NULL && tsr_did_doc_find_jwk(doc, "key-1", "assertionMethod", &jwk,
                                                     NULL) == 0 &&
                 jwk != NULL;
}

static char *make_doc(const char *did)
{
    json_error_t err;
    json_t *jwk = json_loads(example_jwk, 0, &err);
    json_t *doc = NULL;
    char buf[4096];

    assert_non_null(jwk);
    assert_int_equal(tsr_did_doc_build(did, jwk, NULL, 0, &doc, NULL), 0);
    size_t n = json_dumpb(doc, buf, sizeof(buf) - 1, JSON_COMPACT);
    assert_true(n > 0 && n < sizeof(buf));
    buf[n] = '\0';
    json_decref(doc);
    json_decref(jwk);
    return tsr_strdup(buf);
}

static int setup_with(void **state, const struct tsr_did_resolver_opts *opts)
{
    struct fixture *f = tsr_calloc(1, sizeof(*f));
    struct timeval tv = {0, 50000};

    assert_non_null(f);
    f->base = event_base_new();
    assert_non_null(f->base);
    f->tick = event_new(f->base, -1, EV_PERSIST, on_tick, NULL);
    assert_int_equal(event_add(f->tick, &tv), 0);

    /* Bodies name the port, known only once listening: filled in below. */
    struct stub_route *rt = f->routes;
    rt[R_ROOT] = (struct stub_route){.path = "/.well-known/did.json", .status = 200,
                                     .content_type = "application/did+json"};
    rt[R_ALICE] = (struct stub_route){.path = "/user/alice/did.json", .status = 200};
    rt[R_BOB] = (struct stub_route){.path = "/user/bob/did.json", .status = 200};
    rt[R_MISMATCH] = (struct stub_route){.path = "/mismatch/did.json", .status = 200};
    rt[R_BROKEN] = (struct stub_route){.path = "/broken/did.json", .status = 200,
                                       .body = "{\"id\": \"did:web:"};
    rt[R_ERROR] = (struct stub_route){.path = "/error/did.json", .status = 500, .body = "oops"};
    rt[R_HANG] = (struct stub_route){.path = "/hang/did.json", .kind = STUB_HANG};
    rt[R_HANG2] = (struct stub_route){.path = "/hang/two/did.json", .kind = STUB_HANG};
    f->srv = stub_server_start(f->routes, R_COUNT, NULL);
    assert_non_null(f->srv);
    int port = stub_server_port(f->srv);
    snprintf(f->did_root, sizeof(f->did_root), "did:web:127.0.0.1%%3A%d", port);
    snprintf(f->did_alice, sizeof(f->did_alice), "%s:user:alice", f->did_root);
    snprintf(f->did_bob, sizeof(f->did_bob), "%s:user:bob", f->did_root);
    snprintf(f->did_mismatch, sizeof(f->did_mismatch), "%s:mismatch", f->did_root);
    snprintf(f->did_gone, sizeof(f->did_gone), "%s:gone", f->did_root);
    snprintf(f->did_broken, sizeof(f->did_broken), "%s:broken", f->did_root);
    snprintf(f->did_error, sizeof(f->did_error), "%s:error", f->did_root);
    snprintf(f->did_hang, sizeof(f->did_hang), "%s:hang", f->did_root);
    f->docs[0] = make_doc(f->did_root);
    f->docs[1] = make_doc(f->did_alice);
    f->docs[2] = make_doc(f->did_bob);
    rt[R_ROOT].body = f->docs[0];
    rt[R_ALICE].body = f->docs[1];
    rt[R_BOB].body = f->docs[2];
    rt[R_MISMATCH].body = f->docs[1]; /* alice's document served for another DID */

    struct tsr_client_opts copts = {.timeout_ms = 5000};
    assert_int_equal(tsr_client_new(&f->client, f->base, &copts, NULL), 0);
    assert_int_equal(tsr_did_resolver_new(&f->res, f->client, opts, NULL), 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    struct tsr_did_resolver_opts o = {.allow_http = true};
    return setup_with(state, &o);
}

static int setup_short_ttl(void **state)
{
    struct tsr_did_resolver_opts o = {.allow_http = true, .ttl_ms = 300, .neg_ttl_ms = 100};
    return setup_with(state, &o);
}

static int setup_two_entries(void **state)
{
    struct tsr_did_resolver_opts o = {.allow_http = true, .max_entries = 2};
    return setup_with(state, &o);
}

static int setup_https(void **state)
{
    struct tsr_did_resolver_opts o = {.timeout_ms = 500};
    return setup_with(state, &o);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    tsr_did_resolver_free(f->res);
    tsr_client_free(f->client);
    stub_server_stop(f->srv);
    for (size_t i = 0; i < TSR_ARRAY_SIZE(f->docs); i++)
        tsr_free(f->docs[i]);
    event_free(f->tick);
    event_base_free(f->base);
    tsr_free(f);
    return 0;
}

static void resolve(struct fixture *f, const char *did, struct result *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(tsr_did_resolve(f->res, did, on_resolved, r, NULL, NULL), 0);
    assert_int_equal(r->called, 0); /* never from inside tsr_did_resolve */
    run_until(f->base, &r->called, 1, 8000);
    assert_int_equal(r->called, 1);
}

static void test_resolve_and_cache(void **state)
{
    struct fixture *f = *state;
    struct result r;

    resolve(f, f->did_root, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.id, f->did_root);
    assert_true(r.has_key);
    assert_int_equal(stub_server_hits(f->srv, "/.well-known/did.json"), 1);

    /* Served from the cache: the server sees nothing more. */
    resolve(f, f->did_root, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.id, f->did_root);
    assert_true(r.has_key);
    assert_int_equal(stub_server_hits(f->srv, "/.well-known/did.json"), 1);

    /* A path DID is another document. */
    resolve(f, f->did_alice, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.id, f->did_alice);
    assert_int_equal(stub_server_hits(f->srv, "/user/alice/did.json"), 1);
    assert_int_equal(tsr_did_resolver_size(f->res), 2);
    assert_int_equal(stub_server_hits(f->srv, NULL), 2);
}

static void test_concurrent_lookups_share_a_fetch(void **state)
{
    struct fixture *f = *state;
    struct result r[5];
    int total = 0;

    memset(r, 0, sizeof(r));
    for (int i = 0; i < 5; i++)
        assert_int_equal(tsr_did_resolve(f->res, f->did_alice, on_resolved, &r[i], NULL, NULL),
                         0);
    long deadline = now_ms() + 8000;
    while (total < 5 && now_ms() < deadline) {
        event_base_loop(f->base, EVLOOP_ONCE);
        total = 0;
        for (int i = 0; i < 5; i++)
            total += r[i].called;
    }
    for (int i = 0; i < 5; i++) {
        assert_int_equal(r[i].called, 1);
        assert_int_equal(r[i].rc, 0);
        assert_string_equal(r[i].id, f->did_alice);
    }
    assert_int_equal(stub_server_hits(f->srv, "/user/alice/did.json"), 1);
}

static void test_id_mismatch_refused(void **state)
{
    struct fixture *f = *state;
    struct result r;

    resolve(f, f->did_mismatch, &r);
    assert_int_equal(r.rc, TSR_EPROTO);
    assert_string_equal(r.id, "");
    assert_non_null(strstr(r.diag, "id is not"));
    assert_non_null(strstr(r.diag, f->did_mismatch));
    /* Failures are cached too (negative TTL). */
    resolve(f, f->did_mismatch, &r);
    assert_int_equal(r.rc, TSR_EPROTO);
    assert_int_equal(stub_server_hits(f->srv, "/mismatch/did.json"), 1);
}

static void test_http_errors(void **state)
{
    struct fixture *f = *state;
    struct result r;

    resolve(f, f->did_gone, &r);
    assert_int_equal(r.rc, TSR_ENOTFOUND);
    assert_non_null(strstr(r.diag, "404"));
    assert_non_null(strstr(r.diag, "/gone/did.json"));

    resolve(f, f->did_error, &r);
    assert_int_equal(r.rc, TSR_EUNAVAIL);
    assert_non_null(strstr(r.diag, "500"));

    resolve(f, f->did_broken, &r);
    assert_int_equal(r.rc, TSR_EPROTO);
    assert_non_null(strstr(r.diag, "JSON"));
}

static void test_invalid_did(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    struct tsr_diag d;

    assert_int_equal(tsr_did_resolve(f->res, "did:web:10.0.0.1", on_resolved, &r, NULL, &d),
                     TSR_EINVAL);
    assert_non_null(strstr(d.msg, "IP"));
    assert_int_equal(tsr_did_resolve(f->res, "did:key:z6Mk", on_resolved, &r, NULL, &d),
                     TSR_EINVAL);
    assert_int_equal(tsr_did_resolve(f->res, NULL, on_resolved, &r, NULL, &d), TSR_EINVAL);
    tsr_mem_fail_after(0);
    assert_int_equal(tsr_did_resolve(f->res, f->did_root, on_resolved, &r, NULL, &d),
                     TSR_ENOMEM);
    tsr_mem_fail_after(-1);
    run_for(f->base, 50);
    assert_int_equal(r.called, 0);
    assert_int_equal(tsr_did_resolver_size(f->res), 0);
    assert_int_equal(stub_server_hits(f->srv, NULL), 0);
}

static void test_expiry(void **state)
{
    struct fixture *f = *state;
    struct result r;

    resolve(f, f->did_root, &r);
    assert_int_equal(r.rc, 0);
    resolve(f, f->did_root, &r);
    assert_int_equal(stub_server_hits(f->srv, "/.well-known/did.json"), 1);
    run_for(f->base, 350); /* past the 300 ms TTL */
    resolve(f, f->did_root, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(stub_server_hits(f->srv, "/.well-known/did.json"), 2);

    resolve(f, f->did_gone, &r);
    assert_int_equal(r.rc, TSR_ENOTFOUND);
    resolve(f, f->did_gone, &r);
    assert_int_equal(stub_server_hits(f->srv, NULL), 3);
    run_for(f->base, 150); /* past the 100 ms negative TTL */
    resolve(f, f->did_gone, &r);
    assert_int_equal(r.rc, TSR_ENOTFOUND);
    assert_int_equal(stub_server_hits(f->srv, NULL), 4);

    /* Invalidation refetches, but not more often than the negative TTL. */
    resolve(f, f->did_alice, &r);
    assert_int_equal(stub_server_hits(f->srv, "/user/alice/did.json"), 1);
    tsr_did_resolver_invalidate(f->res, f->did_alice);
    resolve(f, f->did_alice, &r);
    assert_int_equal(stub_server_hits(f->srv, "/user/alice/did.json"), 1);
    run_for(f->base, 110);
    tsr_did_resolver_invalidate(f->res, f->did_alice);
    resolve(f, f->did_alice, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(stub_server_hits(f->srv, "/user/alice/did.json"), 2);
}

static void test_eviction(void **state)
{
    struct fixture *f = *state;
    struct result r;

    resolve(f, f->did_root, &r);
    resolve(f, f->did_alice, &r);
    resolve(f, f->did_root, &r); /* root is now the most recently used */
    assert_int_equal(tsr_did_resolver_size(f->res), 2);
    resolve(f, f->did_bob, &r);  /* evicts alice */
    assert_int_equal(r.rc, 0);
    assert_int_equal(tsr_did_resolver_size(f->res), 2);
    resolve(f, f->did_root, &r);
    assert_int_equal(stub_server_hits(f->srv, "/.well-known/did.json"), 1);
    resolve(f, f->did_alice, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(stub_server_hits(f->srv, "/user/alice/did.json"), 2);

    /* Entries being fetched are never evicted: a full cache of them refuses. */
    struct result h1 = {0}, h2 = {0}, h3 = {0};
    char hang2[160];
    snprintf(hang2, sizeof(hang2), "%s:two", f->did_hang);
    struct tsr_diag d;
    assert_int_equal(tsr_did_resolve(f->res, f->did_hang, on_resolved, &h1, NULL, NULL), 0);
    assert_int_equal(tsr_did_resolve(f->res, hang2, on_resolved, &h2, NULL, NULL), 0);
    assert_int_equal(tsr_did_resolve(f->res, f->did_bob, on_resolved, &h3, NULL, &d),
                     TSR_ELIMIT);
    assert_int_equal(tsr_did_resolver_size(f->res), 2);
}

static void test_cancel_and_free(void **state)
{
    struct fixture *f = *state;
    struct result keep = {0}, gone = {0}, cached = {0};
    struct tsr_did_lookup *l = NULL;

    assert_int_equal(tsr_did_resolve(f->res, f->did_alice, on_resolved, &gone, &l, NULL), 0);
    assert_non_null(l);
    assert_int_equal(tsr_did_resolve(f->res, f->did_alice, on_resolved, &keep, NULL, NULL), 0);
    tsr_did_resolve_cancel(l);
    run_until(f->base, &keep.called, 1, 8000);
    assert_int_equal(keep.called, 1);
    assert_int_equal(keep.rc, 0);
    run_for(f->base, 50);
    assert_int_equal(gone.called, 0);

    /* A cache hit cancelled before the loop runs is not reported either. */
    memset(&gone, 0, sizeof(gone));
    assert_int_equal(tsr_did_resolve(f->res, f->did_alice, on_resolved, &gone, &l, NULL), 0);
    assert_int_equal(tsr_did_resolve(f->res, f->did_alice, on_resolved, &cached, NULL, NULL), 0);
    tsr_did_resolve_cancel(l);
    run_until(f->base, &cached.called, 1, 2000);
    assert_int_equal(cached.called, 1);
    run_for(f->base, 50);
    assert_int_equal(gone.called, 0);

    /* Freeing the resolver with a fetch in flight and a hit queued calls nothing. */
    memset(&gone, 0, sizeof(gone));
    memset(&cached, 0, sizeof(cached));
    assert_int_equal(tsr_did_resolve(f->res, f->did_hang, on_resolved, &gone, NULL, NULL), 0);
    assert_int_equal(tsr_did_resolve(f->res, f->did_alice, on_resolved, &cached, NULL, NULL), 0);
    tsr_did_resolver_free(f->res);
    f->res = NULL;
    run_for(f->base, 100);
    assert_int_equal(gone.called, 0);
    assert_int_equal(cached.called, 0);
    assert_int_equal(tsr_client_pending(f->client), 0);
}

struct free_ctx {
    struct tsr_did_resolver **res;
    int calls;
};

static void on_resolved_free(void *arg, int rc, const json_t *doc, const struct tsr_diag *diag)
{
    struct free_ctx *c = arg;
    (void)rc;
    (void)doc;
    (void)diag;
    c->calls++;
    tsr_did_resolver_free(*c->res);
    *c->res = NULL;
}

static void test_free_inside_callback(void **state)
{
    struct fixture *f = *state;
    struct free_ctx c = {.res = &f->res};
    struct result other = {0};

    assert_int_equal(tsr_did_resolve(f->res, f->did_root, on_resolved_free, &c, NULL, NULL), 0);
    assert_int_equal(tsr_did_resolve(f->res, f->did_root, on_resolved, &other, NULL, NULL), 0);
    run_until(f->base, &c.calls, 1, 8000);
    assert_int_equal(c.calls, 1);
    assert_null(f->res);
    run_for(f->base, 50);
    assert_int_equal(other.called, 0);
}

static void test_https_only_by_default(void **state)
{
    struct fixture *f = *state;
    struct result r;

    /* Without the test switch the resolver speaks TLS to our cleartext stub and fails. */
    resolve(f, f->did_root, &r);
    assert_int_not_equal(r.rc, 0);
    assert_non_null(strstr(r.diag, "https://127.0.0.1:"));
    assert_int_equal(stub_server_hits(f->srv, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resolve_and_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_lookups_share_a_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_mismatch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_did, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup_short_ttl, teardown),
        cmocka_unit_test_setup_teardown(test_eviction, setup_two_entries, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_only_by_default, setup_https, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
