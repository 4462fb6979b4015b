/*
 * tests/unit/connector/test_identity.c: self-issued caller tokens between
 * participants whose did:web documents are served on loopback by tessera's
 * own HTTP server, resolved by the real resolver (http allowed by its
 * test-only switch): a good token, every way a token can be wrong, the
 * lists (checked with no request made), replay, DID documents that cannot
 * be had, cancellation.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "connector/identity.h"
#include "lib/b64.h"
#include "lib/did.h"
#include "lib/jose.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "lib/uuid.h"
#include "transports/client.h"
#include "transports/did_resolve.h"
#include "transports/http.h"

/* Participants, each with a DID under the test server: did:web:127.0.0.1%3APORT:<name>. */
enum { P_A, P_B, P_C, P_GONE, P_ERR, P_HANG, P_COUNT };
static const char *const names[P_COUNT] = {"a", "b", "c", "gone", "err", "hang"};

struct fake_clock {
    int64_t offset_ms;
};

struct fixture {
    struct event_base *base;
    struct event *tick;
    struct tsr_http_server *srv;
    struct tsr_client *client;
    struct tsr_did_resolver *res;
    struct tsr_key *keys[P_COUNT];
    struct tsr_key *rogue; /* in nobody's document */
    char did[P_COUNT][96];
    char *docs[P_COUNT];
    int hits[P_COUNT];
    int total_hits;
    struct fake_clock clock_a, clock_b;
    struct tsr_identity *id[P_COUNT];
};

struct result {
    int called;
    int rc;
    bool sync; /* refused by tsr_identity_verify itself */
    char did[128];
    char diag[TSR_DIAG_MAX];
    struct tsr_identity *free_me; /* freed from inside the callback when set */
};

static void on_tick(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    (void)arg;
}

static int64_t fake_now(void *arg)
{
    const struct fake_clock *c = arg;
    return tsr_time_now_ms() + c->offset_ms;
}

static void run_until(struct event_base *base, const int *counter, int target, int64_t max_ms)
{
    int64_t deadline = tsr_time_mono_ms() + max_ms;
    while (*counter < target && tsr_time_mono_ms() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
}

static void run_for(struct event_base *base, int64_t ms)
{
    int64_t deadline = tsr_time_mono_ms() + ms;
    while (tsr_time_mono_ms() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
}

/* GET /:who/did.json: the document of participant who, counted. */
static void h_did(struct tsr_http_req *req, void *arg)
{
    struct fixture *f = arg;
    const char *who = tsr_http_req_param(req, "who");

    f->total_hits++;
    for (int i = 0; i < P_COUNT; i++) {
        if (strcmp(who, names[i]) != 0)
            continue;
        f->hits[i]++;
        if (i == P_GONE)
            tsr_http_respond_text(req, 404, "text/plain", "no such DID\n");
        else if (i == P_ERR)
            tsr_http_respond_text(req, 500, "text/plain", "oops\n");
        else if (i == P_HANG)
            return; /* never answered; the server frees it at teardown */
        else
            tsr_http_respond_text(req, 200, "application/did+json", f->docs[i]);
        return;
    }
    tsr_http_respond_text(req, 404, "text/plain", "unknown\n");
}

static char *make_doc(const char *did, const struct tsr_key *key)
{
    json_t *jwk = NULL, *doc = NULL;
    char *text;

    assert_int_equal(tsr_key_to_jwk(key, false, &jwk, NULL), 0);
    assert_int_equal(tsr_did_doc_build(did, jwk, NULL, 0, &doc, NULL), 0);
    text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    json_decref(doc);
    json_decref(jwk);
    return text;
}

static struct tsr_identity *make_identity(struct fixture *f, int who,
                                          const struct tsr_identity_opts *opts)
{
    struct tsr_identity *id = NULL;
    struct tsr_diag d;

    int rc = tsr_identity_new(&id, f->did[who], f->keys[who], f->res, opts, &d);
    if (rc != 0)
        fail_msg("tsr_identity_new: %s", tsr_diag_msg(&d));
    return id;
}

static int setup(void **state)
{
    struct fixture *f = tsr_calloc(1, sizeof(*f));
    struct timeval tv = {0, 50000};

    assert_non_null(f);
    f->base = event_base_new();
    assert_non_null(f->base);
    f->tick = event_new(f->base, -1, EV_PERSIST, on_tick, NULL);
    assert_int_equal(event_add(f->tick, &tv), 0);
    assert_int_equal(tsr_http_server_new(f->base, NULL, NULL, &f->srv), 0);
    assert_int_equal(tsr_http_server_route(f->srv, "GET", "/:who/did.json", h_did, f), 0);
    assert_int_equal(tsr_http_server_listen(f->srv, "127.0.0.1", 0, NULL), 0);
    unsigned port = tsr_http_server_port(f->srv, 0);
    assert_true(port > 0);

    for (int i = 0; i < P_COUNT; i++) {
        assert_int_equal(tsr_key_generate(TSR_KEY_ES256, &f->keys[i], NULL), 0);
        snprintf(f->did[i], sizeof(f->did[i]), "did:web:127.0.0.1%%3A%u:%s", port, names[i]);
        f->docs[i] = make_doc(f->did[i], f->keys[i]);
    }
    assert_int_equal(tsr_key_generate(TSR_KEY_ES256, &f->rogue, NULL), 0);

    struct tsr_client_opts copts = {.timeout_ms = 5000};
    assert_int_equal(tsr_client_new(&f->client, f->base, &copts, NULL), 0);
    struct tsr_did_resolver_opts ropts = {.allow_http = true, .timeout_ms = 3000};
    assert_int_equal(tsr_did_resolver_new(&f->res, f->client, &ropts, NULL), 0);

    /* A and B run on clocks a test can move; the rest on the real one. */
    struct tsr_identity_opts oa = {.clock = fake_now, .clock_arg = &f->clock_a};
    struct tsr_identity_opts ob = {.clock = fake_now, .clock_arg = &f->clock_b};
    f->id[P_A] = make_identity(f, P_A, &oa);
    f->id[P_B] = make_identity(f, P_B, &ob);
    for (int i = P_C; i < P_COUNT; i++)
        f->id[i] = make_identity(f, i, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < P_COUNT; i++)
        tsr_identity_free(f->id[i]);
    tsr_did_resolver_free(f->res);
    tsr_client_free(f->client);
    tsr_http_server_free(f->srv);
    for (int i = 0; i < P_COUNT; i++) {
        tsr_key_free(f->keys[i]);
        free(f->docs[i]); /* from jansson's json_dumps */
    }
    tsr_key_free(f->rogue);
    event_free(f->tick);
    event_base_free(f->base);
    tsr_free(f);
    return 0;
}

static void on_done(void *arg, int rc, const char *caller_did, const struct tsr_diag *diag)
{
    struct result *r = arg;

    r->called++;
    r->rc = rc;
    snprintf(r->did, sizeof(r->did), "%s", caller_did != NULL ? caller_did : "");
    snprintf(r->diag, sizeof(r->diag), "%s", rc != 0 ? tsr_diag_msg(diag) : "");
    if (rc != 0)
        assert_null(caller_did);
    if (r->free_me != NULL)
        tsr_identity_free(r->free_me);
}

/* Verify header at identity id; the outcome, synchronous or not, in *r. */
static void verify(struct fixture *f, struct tsr_identity *id, const char *header,
                   struct result *r)
{
    struct tsr_identity_check *h = NULL;
    struct tsr_diag d;
    struct tsr_identity *free_me = r->free_me;

    memset(r, 0, sizeof(*r));
    r->free_me = free_me;
    tsr_diag_clear(&d);
    int rc = tsr_identity_verify(id, header, on_done, r, &h, &d);
    if (rc != 0) {
        assert_null(h);
        r->sync = true;
        r->rc = rc;
        snprintf(r->diag, sizeof(r->diag), "%s", tsr_diag_msg(&d));
        run_for(f->base, 20);
        assert_int_equal(r->called, 0); /* an error return means no callback */
        return;
    }
    assert_non_null(h);
    assert_int_equal(r->called, 0); /* never from inside tsr_identity_verify */
    run_until(f->base, &r->called, 1, 8000);
    assert_int_equal(r->called, 1);
    run_for(f->base, 5);
    assert_int_equal(r->called, 1);
}

static char *token(struct fixture *f, int from, int to)
{
    char *h = NULL;
    struct tsr_diag d;

    if (tsr_identity_token(f->id[from], f->did[to], &h, &d) != 0)
        fail_msg("tsr_identity_token: %s", tsr_diag_msg(&d));
    return h;
}

/* "Bearer " + a JWT with the given claims, signed by key with kid. */
static char *sign(const struct tsr_key *key, const char *kid, json_t *claims)
{
    char *jwt = NULL, *h;

    assert_non_null(claims);
    assert_int_equal(tsr_jwt_sign(key, kid, "JWT", claims, &jwt, NULL), 0);
    json_decref(claims);
    h = tsr_malloc(strlen(jwt) + 8);
    assert_non_null(h);
    snprintf(h, strlen(jwt) + 8, "Bearer %s", jwt);
    tsr_free(jwt);
    return h;
}

/* Claims as A would issue them to B, with the times given. */
static json_t *claims_at(struct fixture *f, const char *iss, const char *sub, int64_t iat,
                         int64_t exp)
{
    char jti[TSR_UUID_URN_SIZE];

    assert_int_equal(tsr_uuid_v4_urn(jti), 0);
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", iss, "sub", sub, "aud",
                     f->did[P_B], "iat", (json_int_t)iat, "nbf", (json_int_t)iat, "exp",
                     (json_int_t)exp, "jti", jti);
}

static char *kid_of(struct fixture *f, int who, const char *frag, char *buf, size_t n)
{
    snprintf(buf, n, "%s#%s", f->did[who], frag);
    return buf;
}

static int64_t now_s(void)
{
    return tsr_time_now_ms() / 1000;
}

static void expect_fail(const struct result *r, int rc, bool sync, const char *needle)
{
    if (r->rc != rc || r->sync != sync || strstr(r->diag, needle) == NULL)
        fail_msg("expected %s %d with \"%s\", got %s %d: %s", sync ? "sync" : "async", rc,
                 needle, r->sync ? "sync" : "async", r->rc, r->diag);
    assert_string_equal(r->did, "");
}

/* ---------------------------------------------------------------- tests */

static void test_token_shape(void **state)
{
    struct fixture *f = *state;
    char *h1 = token(f, P_A, P_B), *h2 = token(f, P_A, P_B);
    json_t *hdr = NULL, *claims = NULL;
    unsigned char *payload = NULL;
    size_t len = 0;
    json_error_t err;
    char kid[128];

    assert_true(strncmp(h1, "Bearer ", 7) == 0);
    assert_int_equal(tsr_jws_verify(f->keys[P_A], h1 + 7, 0, &hdr, &payload, &len, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(hdr, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(hdr, "kid")),
                        kid_of(f, P_A, "key-1", kid, sizeof(kid)));
    claims = json_loadb((const char *)payload, len, 0, &err);
    assert_non_null(claims);
    assert_string_equal(json_string_value(json_object_get(claims, "iss")), f->did[P_A]);
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), f->did[P_A]);
    assert_string_equal(json_string_value(json_object_get(claims, "aud")), f->did[P_B]);
    json_int_t iat = json_integer_value(json_object_get(claims, "iat"));
    assert_int_equal(json_integer_value(json_object_get(claims, "nbf")), iat);
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")) - iat,
                     TSR_IDENTITY_DEFAULT_LIFETIME_S);
    assert_true(iat >= now_s() - 2 && iat <= now_s());
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    assert_true(tsr_uuid_urn_valid(jti));
    /* A fresh jti each time. */
    assert_string_not_equal(h1, h2);
    assert_null(strstr(h2, strchr(h1 + 7, '.')));

    /* No key: cannot sign; an audience that is no DID is refused. */
    char *h = (char *)"untouched";
    assert_int_equal(tsr_identity_token(f->id[P_A], "https://example.com", &h, NULL), TSR_EINVAL);
    assert_null(h);
    struct tsr_identity *verifier = NULL;
    assert_int_equal(tsr_identity_new(&verifier, f->did[P_C], NULL, f->res, NULL, NULL), 0);
    assert_int_equal(tsr_identity_token(verifier, f->did[P_B], &h, NULL), TSR_EINVAL);
    assert_string_equal(tsr_identity_did(verifier), f->did[P_C]);
    tsr_identity_free(verifier);

    json_decref(claims);
    json_decref(hdr);
    tsr_free(payload);
    tsr_free_secret(h1);
    tsr_free_secret(h2);
}

static void test_verify_good_token(void **state)
{
    struct fixture *f = *state;
    char *h = token(f, P_A, P_B);
    struct result r = {0};

    verify(f, f->id[P_B], h, &r);
    assert_int_equal(r.rc, 0);
    assert_false(r.sync);
    assert_string_equal(r.did, f->did[P_A]);
    assert_int_equal(f->hits[P_A], 1);
    assert_int_equal(tsr_identity_pending(f->id[P_B]), 0);
    tsr_free_secret(h);

    /* A second token: the document comes from the resolver's cache. */
    h = token(f, P_A, P_B);
    verify(f, f->id[P_B], h, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.did, f->did[P_A]);
    assert_int_equal(f->hits[P_A], 1);
    tsr_free_secret(h);

    /* The other way round, and the scheme in lower case. */
    h = token(f, P_B, P_A);
    memcpy(h, "bearer", 6);
    verify(f, f->id[P_A], h, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.did, f->did[P_B]);
    tsr_free_secret(h);

    /* An audience list that holds B's DID. */
    char kid[128];
    json_t *c = claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 60);
    json_object_set_new(c, "aud", json_pack("[s, s]", "did:web:example.com", f->did[P_B]));
    h = sign(f->keys[P_A], kid_of(f, P_A, "key-1", kid, sizeof(kid)), c);
    verify(f, f->id[P_B], h, &r);
    assert_int_equal(r.rc, 0);
    tsr_free(h);
}

static void test_callback_may_free_identity(void **state)
{
    struct fixture *f = *state;
    char *h = token(f, P_A, P_C);
    struct result r = {0};

    r.free_me = f->id[P_C];
    verify(f, f->id[P_C], h, &r);
    f->id[P_C] = NULL; /* freed by the callback (ASan checks nothing touched it after) */
    assert_int_equal(r.rc, 0);
    tsr_free_secret(h);
}

static void test_wrong_audience(void **state)
{
    struct fixture *f = *state;
    char *h = token(f, P_A, P_C);
    struct result r = {0};

    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, true, "audience");
    assert_int_equal(f->total_hits, 0);
    tsr_free_secret(h);
}

static void test_expired_and_skew(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    char *h;

    /* Issued 20 minutes ago, so expired 15 minutes ago. */
    f->clock_a.offset_ms = -20 * 60 * 1000;
    h = token(f, P_A, P_B);
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "expired");
    tsr_free_secret(h);

    /* Expired 30 s ago: within the 60 s of tolerated skew. */
    f->clock_a.offset_ms = -(TSR_IDENTITY_DEFAULT_LIFETIME_S + 30) * 1000;
    h = token(f, P_A, P_B);
    verify(f, f->id[P_B], h, &r);
    assert_int_equal(r.rc, 0);
    tsr_free_secret(h);

    /* Issued by a clock 2 minutes ahead: not valid yet. */
    f->clock_a.offset_ms = 2 * 60 * 1000;
    h = token(f, P_A, P_B);
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "not valid before");
    tsr_free_secret(h);

    /* 30 s ahead is tolerated. */
    f->clock_a.offset_ms = 30 * 1000;
    h = token(f, P_A, P_B);
    verify(f, f->id[P_B], h, &r);
    assert_int_equal(r.rc, 0);
    tsr_free_secret(h);

    /* An hour-long token is refused, even though it is fresh. */
    char kid[128];
    h = sign(f->keys[P_A], kid_of(f, P_A, "key-1", kid, sizeof(kid)),
             claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 3600));
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "lifetime");
    tsr_free(h);

    /* No exp at all. */
    json_t *c = claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 60);
    json_object_del(c, "exp");
    h = sign(f->keys[P_A], kid, c);
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "exp");
    tsr_free(h);
}

static void test_replayed(void **state)
{
    struct fixture *f = *state;
    char *h = token(f, P_A, P_B);
    struct result r = {0};

    verify(f, f->id[P_B], h, &r);
    assert_int_equal(r.rc, 0);
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "replayed");
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "replayed");
    tsr_free_secret(h);
}

struct seen_log {
    int calls;
    int answer;
    char iss[128];
    char jti[64];
    int64_t until_ms;
};

static int seen_cb(void *arg, const char *iss, const char *jti, int64_t until_ms)
{
    struct seen_log *s = arg;

    s->calls++;
    snprintf(s->iss, sizeof(s->iss), "%s", iss);
    snprintf(s->jti, sizeof(s->jti), "%s", jti);
    s->until_ms = until_ms;
    return s->answer;
}

static void test_replay_callback(void **state)
{
    struct fixture *f = *state;
    struct seen_log s = {0};
    struct tsr_identity_opts o = {.seen = seen_cb, .seen_arg = &s};
    struct tsr_identity *b = make_identity(f, P_B, &o);
    char *h = token(f, P_A, P_B);
    struct result r = {0};
    char kid[128];

    verify(f, b, h, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.iss, f->did[P_A]);
    assert_true(tsr_uuid_urn_valid(s.jti));
    /* Kept until exp plus the skew. */
    int64_t want = (now_s() + TSR_IDENTITY_DEFAULT_LIFETIME_S + TSR_IDENTITY_DEFAULT_SKEW_S) * 1000;
    assert_true(s.until_ms <= want && s.until_ms >= want - 3000);

    s.answer = TSR_EEXIST;
    verify(f, b, h, &r);
    expect_fail(&r, TSR_EAUTH, false, "replayed");
    s.answer = TSR_EIO;
    verify(f, b, h, &r);
    expect_fail(&r, TSR_EIO, false, "replay check failed");

    /* A forged token never reaches the replay store (it could burn a real jti). */
    s.answer = 0;
    s.calls = 0;
    char *forged = sign(f->rogue, kid_of(f, P_A, "key-1", kid, sizeof(kid)),
                        claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 60));
    verify(f, b, forged, &r);
    expect_fail(&r, TSR_EAUTH, false, "bad signature");
    assert_int_equal(s.calls, 0);
    tsr_free(forged);
    tsr_free_secret(h);
    tsr_identity_free(b);
}

static void test_replay_cache_bounded(void **state)
{
    struct fixture *f = *state;
    struct tsr_identity_opts o = {.replay_max = 2, .clock = fake_now, .clock_arg = &f->clock_b};
    struct tsr_identity *b = make_identity(f, P_B, &o);
    struct result r = {0};
    char *h[4];

    for (int i = 0; i < 3; i++)
        h[i] = token(f, P_A, P_B);
    verify(f, b, h[0], &r);
    assert_int_equal(r.rc, 0);
    verify(f, b, h[1], &r);
    assert_int_equal(r.rc, 0);
    /* Full of tokens that are all still valid: refuse rather than forget one. */
    verify(f, b, h[2], &r);
    expect_fail(&r, TSR_EUNAVAIL, false, "replay cache full");

    /* Seven minutes later the old entries are past exp + skew and make room. */
    f->clock_a.offset_ms = f->clock_b.offset_ms = 7 * 60 * 1000;
    h[3] = token(f, P_A, P_B);
    verify(f, b, h[3], &r);
    assert_int_equal(r.rc, 0);
    verify(f, b, h[3], &r);
    expect_fail(&r, TSR_EAUTH, false, "replayed");
    verify(f, b, h[0], &r);
    expect_fail(&r, TSR_EAUTH, false, "expired");
    for (int i = 0; i < 4; i++)
        tsr_free_secret(h[i]);
    tsr_identity_free(b);
}

static void test_tampered(void **state)
{
    struct fixture *f = *state;
    char *h = token(f, P_A, P_B);
    struct result r = {0};
    char *sig = strrchr(h, '.') + 1;

    /* A flipped character in the middle of the signature. */
    size_t mid = strlen(sig) / 2;
    sig[mid] = sig[mid] == 'A' ? 'B' : 'A';
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "bad signature");
    tsr_free_secret(h);

    /* Claims swapped for others (a longer lifetime) under the original signature. */
    h = token(f, P_A, P_B);
    char *p1 = strchr(h, '.') + 1, *p2 = strchr(p1, '.');
    json_t *c = claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 590);
    char *text = json_dumps(c, JSON_COMPACT), *enc = NULL;
    assert_int_equal(tsr_b64url_encode(text, strlen(text), &enc), 0);
    size_t n = (size_t)(p1 - h) + strlen(enc) + strlen(p2) + 1;
    char *forged = tsr_malloc(n);
    assert_non_null(forged);
    snprintf(forged, n, "%.*s%s%s", (int)(p1 - h), h, enc, p2);
    verify(f, f->id[P_B], forged, &r);
    expect_fail(&r, TSR_EAUTH, false, "bad signature");
    tsr_free(forged);
    tsr_free(enc);
    free(text);
    json_decref(c);
    tsr_free_secret(h);
}

static void test_foreign_keys(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    char kid[128];
    char *h;

    /* Signed by a key A's document does not hold, under A's key id. */
    h = sign(f->rogue, kid_of(f, P_A, "key-1", kid, sizeof(kid)),
             claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 60));
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "bad signature");
    tsr_free(h);

    /* A key id that is not in A's document. */
    h = sign(f->rogue, kid_of(f, P_A, "key-2", kid, sizeof(kid)),
             claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 60));
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "unknown key");
    tsr_free(h);

    /* C's genuine key, presented as A's: kid must belong to the issuer. */
    h = sign(f->keys[P_C], kid_of(f, P_C, "key-1", kid, sizeof(kid)),
             claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 60));
    f->total_hits = 0;
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, true, "not a key of its issuer");
    assert_int_equal(f->total_hits, 0);
    tsr_free(h);

    /* No kid at all. */
    h = sign(f->keys[P_A], NULL, claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 60));
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, true, "kid");
    tsr_free(h);

    /* EdDSA key in the header's place of an ES256 one: the alg must fit the key. */
    struct tsr_key *ed = NULL;
    assert_int_equal(tsr_key_generate(TSR_KEY_EDDSA, &ed, NULL), 0);
    h = sign(ed, kid_of(f, P_A, "key-1", kid, sizeof(kid)),
             claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 60));
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "algorithm mismatch");
    tsr_free(h);
    tsr_key_free(ed);
}

static void test_not_self_issued(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    char kid[128], bad[160];
    char *h;

    h = sign(f->keys[P_A], kid_of(f, P_A, "key-1", kid, sizeof(kid)),
             claims_at(f, f->did[P_A], f->did[P_C], now_s(), now_s() + 60));
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, true, "not self-issued");
    tsr_free(h);

    /* Issuers that are not did:web DIDs, or not in their canonical spelling. */
    const char *port = strstr(f->did[P_A], "%3A") + 3;
    snprintf(bad, sizeof(bad), "did:web:127.0.0.1%%3a%s", port); /* lower-case marker */
    const char *issuers[] = {"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                             "did:web:10.0.0.1", bad};
    for (size_t i = 0; i < TSR_ARRAY_SIZE(issuers); i++) {
        snprintf(kid, sizeof(kid), "%s#key-1", issuers[i]);
        h = sign(f->keys[P_A], kid, claims_at(f, issuers[i], issuers[i], now_s(), now_s() + 60));
        verify(f, f->id[P_B], h, &r);
        expect_fail(&r, TSR_EAUTH, true, "issuer");
        tsr_free(h);
    }
    /* A NUL inside the issuer (two readers could see two different DIDs): refused. */
    json_t *c = claims_at(f, f->did[P_A], f->did[P_A], now_s(), now_s() + 60);
    char nul[160];
    size_t n = (size_t)snprintf(nul, sizeof(nul), "%s", f->did[P_A]);
    memcpy(nul + n, "\0:x", 4);
    json_object_set_new(c, "iss", json_stringn(nul, n + 3));
    json_object_set_new(c, "sub", json_stringn(nul, n + 3));
    h = sign(f->keys[P_A], kid_of(f, P_A, "key-1", kid, sizeof(kid)), c);
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, true, "malformed");
    tsr_free(h);
    assert_int_equal(f->total_hits, 0);
}

static void test_denied_without_network(void **state)
{
    struct fixture *f = *state;
    const char *deny[] = {f->did[P_A], NULL};
    struct tsr_identity_opts o = {.deny = deny};
    struct tsr_identity *b = make_identity(f, P_B, &o);
    struct result r = {0};
    char *h = token(f, P_A, P_B);

    verify(f, b, h, &r);
    expect_fail(&r, TSR_EFORBIDDEN, true, "denied");
    assert_int_equal(f->total_hits, 0);
    tsr_free_secret(h);

    /* Others still get in, and their document is fetched: the counter works. */
    h = token(f, P_C, P_B);
    verify(f, b, h, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.did, f->did[P_C]);
    assert_int_equal(f->total_hits, 1);
    tsr_free_secret(h);
    tsr_identity_free(b);
}

static void test_allow_list(void **state)
{
    struct fixture *f = *state;
    const char *allow[] = {"did:web:example.com", f->did[P_C], NULL};
    struct tsr_identity_opts o = {.allow = allow};
    struct tsr_identity *b = make_identity(f, P_B, &o);
    struct result r = {0};
    char *h = token(f, P_A, P_B);

    verify(f, b, h, &r);
    expect_fail(&r, TSR_EFORBIDDEN, true, "not on the allow list");
    assert_int_equal(f->total_hits, 0);
    tsr_free_secret(h);

    h = token(f, P_C, P_B);
    verify(f, b, h, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.did, f->did[P_C]);
    tsr_free_secret(h);
    tsr_identity_free(b);
}

static void test_bad_headers(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    char *big = tsr_malloc(9 * 1024 + 8);
    char *good = token(f, P_A, P_B);

    /* A 9 KiB token built from a good one padded inside its claims part. */
    assert_non_null(big);
    memset(big, 'A', 9 * 1024 + 7);
    big[9 * 1024 + 7] = '\0';
    memcpy(big, "Bearer ", 7);
    memcpy(big + 7, good + 7, strlen(good) - 7);

    static const struct {
        const char *value;
        const char *needle;
    } cases[] = {
        {NULL, "no Authorization"},
        {"", "no Authorization"},
        {"Basic dXNlcjpwYXNz", "not a Bearer"},
        {"Bearer", "not a Bearer"},
        {"BearerX abc", "not a Bearer"},
        {"Bearer ", "empty"},
        {"Bearer abc", "malformed"},
        {"Bearer a.b.c", "malformed"},
        {"Bearer eyJhbGciOiJub25lIn0.e30.", "malformed"}, /* alg none, empty signature */
        {"Bearer eyJhbGciOiJub25lIiwia2lkIjoieCJ9.e30.c2ln", "ES256 or EdDSA"},
        {"Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.WzFd.c2ln", "not a JSON object"},
        {"Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.e30.c2ln", "lacks"},
    };
    for (size_t i = 0; i < TSR_ARRAY_SIZE(cases); i++) {
        verify(f, f->id[P_B], cases[i].value, &r);
        expect_fail(&r, TSR_EAUTH, true, cases[i].needle);
    }
    verify(f, f->id[P_B], big, &r);
    expect_fail(&r, TSR_EAUTH, true, "longer than 8192");
    assert_int_equal(f->total_hits, 0);
    tsr_free(big);
    tsr_free_secret(good);
}

static void test_unresolvable_documents(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    char *h;

    /* 404: the caller's DID does not exist; retrying would not help. */
    h = token(f, P_GONE, P_B);
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EAUTH, false, "404");
    assert_int_equal(f->hits[P_GONE], 1);
    tsr_free_secret(h);

    /* 500: the caller's host is in trouble: unavailable, not unauthenticated. */
    h = token(f, P_ERR, P_B);
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EUNAVAIL, false, "500");
    tsr_free_secret(h);

    /* Nobody listening. */
    struct tsr_key *k = NULL;
    struct tsr_identity *lost = NULL;
    assert_int_equal(tsr_key_generate(TSR_KEY_ES256, &k, NULL), 0);
    assert_int_equal(tsr_identity_new(&lost, "did:web:127.0.0.1%3A9", k, f->res, NULL, NULL), 0);
    assert_int_equal(tsr_identity_token(lost, f->did[P_B], &h, NULL), 0);
    verify(f, f->id[P_B], h, &r);
    expect_fail(&r, TSR_EUNAVAIL, false, "cannot fetch");
    tsr_free_secret(h);
    tsr_identity_free(lost);
    tsr_key_free(k);
}

static void test_cancel_and_free(void **state)
{
    struct fixture *f = *state;
    struct tsr_identity_check *h1 = NULL, *h2 = NULL;
    struct result r1 = {0}, r2 = {0};
    char *h = token(f, P_HANG, P_B);

    assert_int_equal(tsr_identity_verify(f->id[P_B], h, on_done, &r1, &h1, NULL), 0);
    assert_int_equal(tsr_identity_verify(f->id[P_B], h, on_done, &r2, &h2, NULL), 0);
    assert_int_equal(tsr_identity_pending(f->id[P_B]), 2);
    run_until(f->base, &f->hits[P_HANG], 1, 3000);
    assert_int_equal(f->hits[P_HANG], 1);
    tsr_identity_cancel(h1);
    assert_int_equal(tsr_identity_pending(f->id[P_B]), 1);
    /* Freeing the identity drops the other one, also without a callback. */
    tsr_identity_free(f->id[P_B]);
    f->id[P_B] = NULL;
    run_for(f->base, 200);
    assert_int_equal(r1.called, 0);
    assert_int_equal(r2.called, 0);
    tsr_free_secret(h);
}

static void test_new_refuses(void **state)
{
    struct fixture *f = *state;
    struct tsr_identity *id = (struct tsr_identity *)&id;
    struct tsr_key *pub = NULL;
    struct tsr_diag d;
    char upper[128];

    assert_int_equal(tsr_key_public_only(f->keys[P_A], &pub, NULL), 0);
    assert_int_equal(tsr_identity_new(&id, f->did[P_A], pub, f->res, NULL, &d), TSR_EINVAL);
    assert_null(id);
    assert_non_null(strstr(d.msg, "private"));
    tsr_key_free(pub);

    assert_int_equal(tsr_identity_new(&id, "https://example.com", NULL, NULL, NULL, NULL),
                     TSR_EINVAL);
    assert_int_equal(tsr_identity_new(&id, "did:web:Example.com", NULL, NULL, NULL, &d),
                     TSR_EINVAL);
    assert_non_null(strstr(d.msg, "canonical"));
    assert_int_equal(tsr_identity_new(&id, "did:web:example.com%3A443", NULL, NULL, NULL, NULL),
                     TSR_EINVAL);
    assert_int_equal(tsr_identity_new(&id, "did:web:example.com:%61lice", NULL, NULL, NULL,
                                      NULL),
                     TSR_EINVAL);
    assert_int_equal(tsr_identity_new(&id, "did:web:example.com:a%2Fb", NULL, NULL, NULL, NULL),
                     TSR_EINVAL); /* did.c itself refuses an escaped '/' */
    assert_int_equal(tsr_identity_new(&id, "did:web:example.com:a%20b", NULL, NULL, NULL, NULL),
                     0); /* an escape that is needed */
    tsr_identity_free(id);

    struct tsr_identity_opts o = {.lifetime_s = TSR_IDENTITY_MAX_LIFETIME_S + 1};
    assert_int_equal(tsr_identity_new(&id, f->did[P_A], NULL, NULL, &o, NULL), TSR_EINVAL);
    o = (struct tsr_identity_opts){.max_skew_s = -1};
    assert_int_equal(tsr_identity_new(&id, f->did[P_A], NULL, NULL, &o, NULL), TSR_EINVAL);
    o = (struct tsr_identity_opts){.mode = (enum tsr_identity_mode)7};
    assert_int_equal(tsr_identity_new(&id, f->did[P_A], NULL, NULL, &o, NULL), TSR_EINVAL);
    snprintf(upper, sizeof(upper), "did:web:EXAMPLE.com");
    const char *deny[] = {"did:web:example.com", upper, NULL};
    o = (struct tsr_identity_opts){.deny = deny};
    assert_int_equal(tsr_identity_new(&id, f->did[P_A], NULL, NULL, &o, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "deny list entry 2"));
    assert_null(id);

    /* Without a resolver an identity only issues. */
    assert_int_equal(tsr_identity_new(&id, f->did[P_A], f->keys[P_A], NULL, NULL, NULL), 0);
    char *h = token(f, P_A, P_B);
    struct result r = {0};
    assert_int_equal(tsr_identity_verify(id, h, on_done, &r, NULL, &d), TSR_EINVAL);
    tsr_identity_free(id);
    tsr_free_secret(h);
}

/* Allocation failures while issuing and verifying: an error, never a crash or a leak. */
static void test_out_of_memory(void **state)
{
    struct fixture *f = *state;
    int ok = 0;

    for (long n = 0; n < 400 && ok < 3; n++) {
        struct tsr_identity *id = NULL;
        char *h = NULL;
        struct result r = {0};

        tsr_mem_fail_after(n);
        int rc = tsr_identity_new(&id, f->did[P_C], f->keys[P_C], f->res, NULL, NULL);
        if (rc == 0)
            rc = tsr_identity_token(id, f->did[P_B], &h, NULL);
        struct tsr_identity_check *chk = NULL;
        if (rc == 0)
            rc = tsr_identity_verify(f->id[P_B], h, on_done, &r, &chk, NULL);
        tsr_mem_fail_after(-1);
        if (rc == 0) {
            run_until(f->base, &r.called, 1, 8000);
            assert_int_equal(r.called, 1);
            /* Once this far, every allocation of the checks already happened. */
            if (r.rc == 0)
                ok++;
            else if (r.rc == TSR_EAUTH)
                assert_non_null(strstr(r.diag, "replayed")); /* impossible: fresh jti */
        } else {
            assert_int_equal(rc, TSR_ENOMEM);
            assert_null(chk);
        }
        tsr_free_secret(h);
        tsr_identity_free(id);
    }
    assert_true(ok >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_good_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_may_free_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_audience, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_and_skew, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_cache_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_self_issued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denied_without_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unresolvable_documents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
