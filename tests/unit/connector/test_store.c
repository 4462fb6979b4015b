/*
 * tests/unit/connector/test_store.c: the connector's durable state:
 * CRUD of each entity, references refused, per-role pid uniqueness,
 * compare-and-set transitions committed together with their outbox
 * message, outbox order and retries, the replay cache, reopening, and a
 * child killed with SIGKILL in the middle of transitions.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "connector/store.h"
#include "lib/db.h"
#include "lib/mem.h"
#include "lib/str.h"

/* Input structs have char * fields; the store never writes through them. */
#define S(lit) ((char *)(lit))

struct fixture {
    char dir[64];
    char path[128];
    struct tsr_store *st;
};

static void remove_db(const char *path)
{
    char p[160];

    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct tsr_diag d = {0};

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/tsr_store_XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/tesserad.db", f->dir);
    if (tsr_store_open(f->path, &f->st, &d) != 0) {
        fprintf(stderr, "open: %s\n", d.msg);
        rmdir(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    tsr_store_close(f->st);
    remove_db(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void reopen(struct fixture *f)
{
    struct tsr_diag d = {0};

    tsr_store_close(f->st);
    f->st = NULL;
    assert_int_equal(tsr_store_open(f->path, &f->st, &d), 0);
}

/* ---------------------------------------------------------------- fixtures for entities */

static void add_asset(struct tsr_store *st, const char *id, int64_t created)
{
    struct tsr_store_asset a = {
        .id = (char *)id,
        .title = S("Title"),
        .source_kind = S("file"),
        .source = S("/srv/data.csv"),
        .size = -1,
        .created_ms = created,
    };
    struct tsr_diag d = {0};

    assert_int_equal(tsr_store_asset_put(st, &a, &d), 0);
}

static void add_policy(struct tsr_store *st, const char *id)
{
    struct tsr_store_policy p = {.id = (char *)id, .body = S("{\"@type\":\"Offer\"}")};

    assert_int_equal(tsr_store_policy_put(st, &p, NULL), 0);
}

static void add_offer(struct tsr_store *st, const char *id, const char *asset, const char *policy)
{
    struct tsr_store_offer o = {.id = (char *)id, .asset_id = (char *)asset,
                                .policy_id = (char *)policy};

    assert_int_equal(tsr_store_offer_put(st, &o, NULL), 0);
}

static struct tsr_store_outbox_msg msg(const char *url, const char *body, const char *on_ack)
{
    struct tsr_store_outbox_msg m = {
        .method = S("POST"),
        .url = (char *)url,
        .body = (char *)body,
        .on_ack = (char *)on_ack,
    };
    return m;
}

/* A provider-side negotiation whose consumer chose cpid. */
static int add_neg(struct tsr_store *st, const char *id, const char *role, const char *cpid,
                   const char *state, const struct tsr_store_outbox_msg *m, struct tsr_diag *d)
{
    struct tsr_store_neg n = {
        .id = (char *)id,
        .role = (char *)role,
        .state = (char *)state,
        .consumer_pid = (char *)cpid,
        .counterparty_did = S("did:web:peer.example"),
        .counterparty_url = S("https://peer.example/dsp"),
        .offer_id = S("offer-1"),
        .asset_id = S("asset-1"),
        .offer_json = S("{\"@id\":\"offer-1\"}"),
    };

    return tsr_store_neg_create(st, &n, m, d);
}

static size_t outbox_count(struct tsr_store *st, const char *entity, const char *id)
{
    struct tsr_store_outbox_msg *v = NULL;
    size_t n = 99;

    assert_int_equal(tsr_store_outbox_list_entity(st, entity, id, &v, &n, NULL), 0);
    tsr_store_outbox_array_free(v, n);
    return n;
}

static char *neg_state(struct tsr_store *st, const char *id)
{
    struct tsr_store_neg *n = NULL;
    char *s;

    assert_int_equal(tsr_store_neg_get(st, id, &n, NULL), 0);
    s = n->state;
    n->state = NULL;
    tsr_store_neg_free(n);
    return s;
}

/* ---------------------------------------------------------------- ids */

static void test_id_syntax(void **state)
{
    char longid[TSR_STORE_ID_MAX + 2];

    (void)state;
    assert_true(tsr_store_id_valid("asset-1"));
    assert_true(tsr_store_id_valid("urn:x.y_Z:9"));
    assert_false(tsr_store_id_valid(""));
    assert_false(tsr_store_id_valid(NULL));
    assert_false(tsr_store_id_valid("a b"));
    assert_false(tsr_store_id_valid("a/b"));
    assert_false(tsr_store_id_valid("caf\xc3\xa9"));
    memset(longid, 'a', sizeof(longid));
    longid[TSR_STORE_ID_MAX] = '\0';
    assert_true(tsr_store_id_valid(longid));
    longid[TSR_STORE_ID_MAX] = 'a';
    longid[TSR_STORE_ID_MAX + 1] = '\0';
    assert_false(tsr_store_id_valid(longid));
    assert_false(tsr_store_pid_valid(longid));

    assert_true(tsr_store_pid_valid("urn:uuid:1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"));
    assert_true(tsr_store_pid_valid("a/b?c"));
    assert_false(tsr_store_pid_valid("a b"));
    assert_false(tsr_store_pid_valid("a\nb"));
    assert_false(tsr_store_pid_valid(""));
}

/* ---------------------------------------------------------------- assets */

static void test_asset_crud(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_asset a = {
        .id = S("asset-1"),
        .title = S("Weather"),
        .description = S("Hourly weather"),
        .keywords = S("[\"weather\",\"hourly\"]"),
        .media_type = S("text/csv"),
        .source_kind = S("url"),
        .source = S("https://upstream.example/w.csv"),
        .size = 1234,
        .sha256 = S("ab12"),
        .created_ms = 1000,
    };
    struct tsr_store_asset *got = NULL, *v = NULL;
    struct tsr_diag d = {0};
    size_t n = 0;

    assert_int_equal(tsr_store_asset_put(f->st, &a, &d), 0);
    assert_int_equal(tsr_store_asset_put(f->st, &a, &d), TSR_EEXIST);
    assert_non_null(strstr(d.msg, "asset-1"));

    assert_int_equal(tsr_store_asset_get(f->st, "asset-1", &got, &d), 0);
    assert_string_equal(got->id, "asset-1");
    assert_string_equal(got->title, "Weather");
    assert_string_equal(got->description, "Hourly weather");
    assert_string_equal(got->keywords, "[\"weather\",\"hourly\"]");
    assert_string_equal(got->media_type, "text/csv");
    assert_string_equal(got->source_kind, "url");
    assert_string_equal(got->source, "https://upstream.example/w.csv");
    assert_int_equal(got->size, 1234);
    assert_string_equal(got->sha256, "ab12");
    assert_int_equal(got->created_ms, 1000);
    tsr_store_asset_free(got);
    got = NULL;

    assert_int_equal(tsr_store_asset_get(f->st, "nope", &got, &d), TSR_ENOTFOUND);
    assert_null(got);

    /* Invalid input is refused before anything is written. */
    a.id = S("bad id");
    assert_int_equal(tsr_store_asset_put(f->st, &a, &d), TSR_EINVAL);
    a.id = S("asset-2");
    a.source_kind = S("ftp");
    assert_int_equal(tsr_store_asset_put(f->st, &a, &d), TSR_EINVAL);
    a.source_kind = S("file");
    a.keywords = S("{\"not\":\"array\"}");
    assert_int_equal(tsr_store_asset_put(f->st, &a, &d), TSR_EINVAL);
    a.keywords = S("[broken");
    assert_int_equal(tsr_store_asset_put(f->st, &a, &d), TSR_EINVAL);
    a.keywords = NULL;
    a.source = NULL;
    assert_int_equal(tsr_store_asset_put(f->st, &a, &d), TSR_EINVAL);
    a.source = S("/x");
    a.size = -2;
    assert_int_equal(tsr_store_asset_put(f->st, &a, &d), TSR_EINVAL);
    assert_int_equal(tsr_store_asset_get(f->st, "asset-2", &got, NULL), TSR_ENOTFOUND);

    /* Optional fields come back NULL; created_ms 0 means now. */
    struct tsr_store_asset b = {.id = S("asset-0"), .source_kind = S("file"), .source = S("/y"),
                                .size = -1};
    assert_int_equal(tsr_store_asset_put(f->st, &b, &d), 0);
    assert_int_equal(tsr_store_asset_get(f->st, "asset-0", &got, &d), 0);
    assert_null(got->title);
    assert_null(got->keywords);
    assert_null(got->sha256);
    assert_int_equal(got->size, -1);
    assert_true(got->created_ms > 1600000000000LL);
    tsr_store_asset_free(got);

    /* List in insertion order, with limit and offset. */
    add_asset(f->st, "asset-3", 3000);
    assert_int_equal(tsr_store_asset_list(f->st, NULL, &v, &n, &d), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].id, "asset-1");
    assert_string_equal(v[1].id, "asset-0");
    assert_string_equal(v[2].id, "asset-3");
    tsr_store_asset_array_free(v, n);
    struct tsr_store_filter flt = {.limit = 1, .offset = 1};
    assert_int_equal(tsr_store_asset_list(f->st, &flt, &v, &n, &d), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].id, "asset-0");
    tsr_store_asset_array_free(v, n);
    flt.offset = 10;
    assert_int_equal(tsr_store_asset_list(f->st, &flt, &v, &n, &d), 0);
    assert_int_equal(n, 0);
    assert_null(v);

    assert_int_equal(tsr_store_asset_delete(f->st, "asset-3", &d), 0);
    assert_int_equal(tsr_store_asset_delete(f->st, "asset-3", &d), TSR_ENOTFOUND);
    assert_int_equal(tsr_store_asset_get(f->st, "asset-3", &got, NULL), TSR_ENOTFOUND);
}

/* ---------------------------------------------------------------- policies and offers */

static void test_policy_offer_references(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_policy p = {.id = S("pol-1"), .body = S("[1]")};
    struct tsr_store_policy *pg = NULL;
    struct tsr_store_offer o = {.id = S("off-1"), .asset_id = S("asset-1"),
                                .policy_id = S("pol-1")};
    struct tsr_store_offer *og = NULL, *ov = NULL;
    struct tsr_diag d = {0};
    size_t n = 0;

    assert_int_equal(tsr_store_policy_put(f->st, &p, &d), TSR_EINVAL);
    p.body = S("{\"@type\":\"Set\",\"permission\":[]}");
    assert_int_equal(tsr_store_policy_put(f->st, &p, &d), 0);
    assert_int_equal(tsr_store_policy_put(f->st, &p, &d), TSR_EEXIST);
    assert_int_equal(tsr_store_policy_get(f->st, "pol-1", &pg, &d), 0);
    assert_string_equal(pg->body, "{\"@type\":\"Set\",\"permission\":[]}");
    tsr_store_policy_free(pg);

    /* The offer's asset must exist. */
    assert_int_equal(tsr_store_offer_put(f->st, &o, &d), TSR_ENOTFOUND);
    assert_non_null(strstr(d.msg, "asset-1"));
    add_asset(f->st, "asset-1", 10);
    o.policy_id = S("pol-x");
    assert_int_equal(tsr_store_offer_put(f->st, &o, &d), TSR_ENOTFOUND);
    assert_non_null(strstr(d.msg, "pol-x"));
    o.policy_id = S("pol-1");
    assert_int_equal(tsr_store_offer_put(f->st, &o, &d), 0);
    assert_int_equal(tsr_store_offer_put(f->st, &o, &d), TSR_EEXIST);
    add_offer(f->st, "off-2", "asset-1", "pol-1");

    assert_int_equal(tsr_store_offer_get(f->st, "off-1", &og, &d), 0);
    assert_string_equal(og->asset_id, "asset-1");
    assert_string_equal(og->policy_id, "pol-1");
    tsr_store_offer_free(og);
    assert_int_equal(tsr_store_offer_list_by_asset(f->st, "asset-1", &ov, &n, &d), 0);
    assert_int_equal(n, 2);
    tsr_store_offer_array_free(ov, n);
    assert_int_equal(tsr_store_offer_list(f->st, NULL, &ov, &n, &d), 0);
    assert_int_equal(n, 2);
    tsr_store_offer_array_free(ov, n);

    /* Deleting what an offer uses is refused, naming the offer. */
    assert_int_equal(tsr_store_asset_delete(f->st, "asset-1", &d), TSR_ECONFLICT);
    assert_non_null(strstr(d.msg, "off-1"));
    assert_int_equal(tsr_store_policy_delete(f->st, "pol-1", &d), TSR_ECONFLICT);
    assert_non_null(strstr(d.msg, "off-1"));

    assert_int_equal(tsr_store_offer_delete(f->st, "off-1", &d), 0);
    assert_int_equal(tsr_store_asset_delete(f->st, "asset-1", &d), TSR_ECONFLICT);
    assert_non_null(strstr(d.msg, "off-2"));
    assert_int_equal(tsr_store_offer_delete(f->st, "off-2", &d), 0);
    assert_int_equal(tsr_store_offer_delete(f->st, "off-2", &d), TSR_ENOTFOUND);
    assert_int_equal(tsr_store_asset_delete(f->st, "asset-1", &d), 0);
    assert_int_equal(tsr_store_policy_delete(f->st, "pol-1", &d), 0);
    assert_int_equal(tsr_store_policy_get(f->st, "pol-1", &pg, &d), TSR_ENOTFOUND);
}

/* ---------------------------------------------------------------- negotiations */

static void test_neg_create_and_find(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_outbox_msg m = msg("https://peer.example/dsp/negotiations/c1/offers", "{}",
                                        "OFFERED");
    struct tsr_store_neg *n = NULL;
    struct tsr_diag d = {0};

    assert_int_equal(add_neg(f->st, "p-1", "provider", "c-1", "REQUESTED", &m, &d), 0);
    assert_int_equal(tsr_store_neg_get(f->st, "p-1", &n, &d), 0);
    assert_string_equal(n->role, "provider");
    assert_string_equal(n->state, "REQUESTED");
    assert_string_equal(n->consumer_pid, "c-1");
    /* Our own pid is filled in from the id. */
    assert_string_equal(n->provider_pid, "p-1");
    assert_string_equal(n->counterparty_did, "did:web:peer.example");
    assert_string_equal(n->offer_json, "{\"@id\":\"offer-1\"}");
    assert_null(n->agreement_id);
    assert_null(n->error);
    assert_int_equal(n->created_ms, n->updated_ms);
    tsr_store_neg_free(n);
    n = NULL;
    assert_int_equal(outbox_count(f->st, "negotiation", "p-1"), 1);

    /* A repeated initial request with the same consumerPid is found, not duplicated. */
    assert_int_equal(add_neg(f->st, "p-2", "provider", "c-1", "REQUESTED", NULL, &d), TSR_EEXIST);
    assert_int_equal(tsr_store_neg_get(f->st, "p-2", &n, NULL), TSR_ENOTFOUND);
    assert_int_equal(tsr_store_neg_find_consumer_pid(f->st, "provider", "c-1", &n, &d), 0);
    assert_string_equal(n->id, "p-1");
    tsr_store_neg_free(n);
    assert_int_equal(tsr_store_neg_find_provider_pid(f->st, "provider", "p-1", &n, &d), 0);
    assert_string_equal(n->id, "p-1");
    tsr_store_neg_free(n);
    assert_int_equal(tsr_store_neg_find_consumer_pid(f->st, "consumer", "c-1", &n, &d),
                     TSR_ENOTFOUND);
    assert_null(n);

    /* The same pid in the other role is another negotiation (a loopback pair). */
    assert_int_equal(add_neg(f->st, "c-1", "consumer", NULL, "REQUESTED", NULL, &d), 0);
    assert_int_equal(tsr_store_neg_find_consumer_pid(f->st, "consumer", "c-1", &n, &d), 0);
    assert_string_equal(n->id, "c-1");
    assert_null(n->provider_pid);
    tsr_store_neg_free(n);

    /* Duplicate id, bad role, own pid not the id, bad peer pid: refused. */
    assert_int_equal(add_neg(f->st, "p-1", "provider", "c-9", "REQUESTED", NULL, &d), TSR_EEXIST);
    assert_int_equal(add_neg(f->st, "p-3", "broker", "c-3", "REQUESTED", NULL, &d), TSR_EINVAL);
    assert_int_equal(add_neg(f->st, "c-4", "consumer", "c-5", "REQUESTED", NULL, &d), TSR_EINVAL);
    assert_int_equal(add_neg(f->st, "p-3", "provider", "c 3", "REQUESTED", NULL, &d), TSR_EINVAL);
    assert_int_equal(add_neg(f->st, "p-3", "provider", "c-3", NULL, NULL, &d), TSR_EINVAL);

    /* A bad message rolls the creation back. */
    struct tsr_store_outbox_msg bad = msg(NULL, "{}", NULL);
    assert_int_equal(add_neg(f->st, "p-3", "provider", "c-3", "REQUESTED", &bad, &d), TSR_EINVAL);
    assert_int_equal(tsr_store_neg_get(f->st, "p-3", &n, NULL), TSR_ENOTFOUND);
    assert_int_equal(outbox_count(f->st, "negotiation", "p-3"), 0);
}

static void test_neg_transition_cas(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_neg *n = NULL;
    struct tsr_diag d = {0};
    char *s;

    assert_int_equal(add_neg(f->st, "c-1", "consumer", NULL, "INITIAL", NULL, &d), 0);
    struct tsr_store_neg_update u = {.provider_pid = S("p-77"), .error = S("timeout")};
    assert_int_equal(tsr_store_neg_transition(f->st, "c-1", "INITIAL", "REQUESTED", &u, NULL, &d),
                     0);
    assert_int_equal(tsr_store_neg_get(f->st, "c-1", &n, &d), 0);
    assert_string_equal(n->state, "REQUESTED");
    assert_string_equal(n->provider_pid, "p-77");
    assert_string_equal(n->error, "timeout");
    assert_string_equal(n->counterparty_url, "https://peer.example/dsp");
    tsr_store_neg_free(n);

    /* The provider pid is now findable. */
    assert_int_equal(tsr_store_neg_find_provider_pid(f->st, "consumer", "p-77", &n, &d), 0);
    assert_string_equal(n->id, "c-1");
    tsr_store_neg_free(n);

    /* Someone else moved it: the compare-and-set fails and says where it is. */
    assert_int_equal(tsr_store_neg_transition(f->st, "c-1", "INITIAL", "TERMINATED", NULL, NULL,
                                              &d),
                     TSR_ESTATE);
    assert_non_null(strstr(d.msg, "REQUESTED"));
    s = neg_state(f->st, "c-1");
    assert_string_equal(s, "REQUESTED");
    tsr_free(s);
    assert_int_equal(tsr_store_neg_transition(f->st, "nope", "INITIAL", "REQUESTED", NULL, NULL,
                                              &d),
                     TSR_ENOTFOUND);

    /* new_state NULL updates fields only; "" clears the error; NULL expected skips the check. */
    struct tsr_store_neg_update u2 = {.error = S(""), .offer_json = S("{\"counter\":1}"),
                                      .counterparty_url = S("https://cb.example/")};
    assert_int_equal(tsr_store_neg_transition(f->st, "c-1", "REQUESTED", NULL, &u2, NULL, &d), 0);
    assert_int_equal(tsr_store_neg_get(f->st, "c-1", &n, &d), 0);
    assert_string_equal(n->state, "REQUESTED");
    assert_null(n->error);
    assert_string_equal(n->offer_json, "{\"counter\":1}");
    assert_string_equal(n->counterparty_url, "https://cb.example/");
    assert_string_equal(n->provider_pid, "p-77");
    tsr_store_neg_free(n);
    /* A long failure text from a peer is cut, not a reason to refuse the change. */
    char *longerr = tsr_malloc(TSR_STORE_TEXT_MAX + 100);
    assert_non_null(longerr);
    memset(longerr, 'e', TSR_STORE_TEXT_MAX + 99);
    memcpy(longerr + TSR_STORE_TEXT_MAX - 1, "\xc3\xa9", 2); /* an "é" across the limit */
    longerr[TSR_STORE_TEXT_MAX + 99] = '\0';
    struct tsr_store_neg_update ue = {.error = longerr};
    assert_int_equal(tsr_store_neg_transition(f->st, "c-1", "REQUESTED", NULL, &ue, NULL, &d), 0);
    tsr_free(longerr);
    assert_int_equal(tsr_store_neg_get(f->st, "c-1", &n, &d), 0);
    assert_int_equal(strlen(n->error), TSR_STORE_TEXT_MAX - 1);
    assert_int_equal(n->error[0], 'e');
    tsr_store_neg_free(n);
    assert_int_equal(tsr_store_neg_transition(f->st, "c-1", NULL, "TERMINATED", NULL, NULL, &d),
                     0);
    s = neg_state(f->st, "c-1");
    assert_string_equal(s, "TERMINATED");
    tsr_free(s);

    /* A provider pid already used by another consumer-side negotiation is refused. */
    assert_int_equal(add_neg(f->st, "c-2", "consumer", NULL, "INITIAL", NULL, &d), 0);
    struct tsr_store_neg_update u3 = {.provider_pid = S("p-77")};
    assert_int_equal(tsr_store_neg_transition(f->st, "c-2", "INITIAL", "REQUESTED", &u3, NULL,
                                              &d),
                     TSR_EEXIST);
    s = neg_state(f->st, "c-2");
    assert_string_equal(s, "INITIAL");
    tsr_free(s);
}

static void test_neg_transition_atomic(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_outbox_msg m0 = msg("https://peer.example/dsp/negotiations/request",
                                         "{\"n\":0}", "REQUESTED");
    struct tsr_store_outbox_msg *v = NULL;
    struct tsr_diag d = {0};
    size_t n = 0;
    char *s;

    assert_int_equal(add_neg(f->st, "c-1", "consumer", NULL, "INITIAL", &m0, &d), 0);
    assert_int_equal(tsr_store_outbox_list_entity(f->st, "negotiation", "c-1", &v, &n, &d), 0);
    assert_int_equal(n, 1);
    int64_t first = v[0].id;
    assert_string_equal(v[0].on_ack, "REQUESTED");
    assert_string_equal(v[0].entity, "negotiation");
    assert_string_equal(v[0].entity_id, "c-1");
    tsr_store_outbox_array_free(v, n);

    /* An enqueue that fails inside the transaction undoes the state change. */
    struct tsr_store_outbox_msg bad = msg("https://x/", "{}", NULL);
    bad.method = NULL;
    assert_int_equal(tsr_store_neg_transition(f->st, "c-1", "INITIAL", "REQUESTED", NULL, &bad,
                                              &d),
                     TSR_EINVAL);
    s = neg_state(f->st, "c-1");
    assert_string_equal(s, "INITIAL");
    tsr_free(s);
    assert_int_equal(outbox_count(f->st, "negotiation", "c-1"), 1);

    /* So does acknowledging a message that is not this negotiation's. */
    struct tsr_store_neg_update ack = {.outbox_done_id = first + 1000};
    struct tsr_store_outbox_msg m1 = msg("https://peer.example/dsp/x", "{\"n\":1}", NULL);
    assert_int_equal(tsr_store_neg_transition(f->st, "c-1", "INITIAL", "REQUESTED", &ack, &m1,
                                              &d),
                     TSR_ENOTFOUND);
    s = neg_state(f->st, "c-1");
    assert_string_equal(s, "INITIAL");
    tsr_free(s);
    assert_int_equal(outbox_count(f->st, "negotiation", "c-1"), 1);

    /* The ack of the first message, the new state and the next message, all together. */
    ack.outbox_done_id = first;
    assert_int_equal(tsr_store_neg_transition(f->st, "c-1", "INITIAL", "REQUESTED", &ack, &m1,
                                              &d),
                     0);
    assert_int_equal(tsr_store_outbox_list_entity(f->st, "negotiation", "c-1", &v, &n, &d), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].id > first);
    assert_string_equal(v[0].body, "{\"n\":1}");
    assert_null(v[0].on_ack);
    tsr_store_outbox_array_free(v, n);
    s = neg_state(f->st, "c-1");
    assert_string_equal(s, "REQUESTED");
    tsr_free(s);

    /* A failed compare-and-set enqueues nothing. */
    assert_int_equal(tsr_store_neg_transition(f->st, "c-1", "INITIAL", "AGREED", NULL, &m1, &d),
                     TSR_ESTATE);
    assert_int_equal(outbox_count(f->st, "negotiation", "c-1"), 1);

    /* Deleting the negotiation takes its messages with it. */
    assert_int_equal(tsr_store_neg_delete(f->st, "c-1", &d), 0);
    assert_int_equal(outbox_count(f->st, "negotiation", "c-1"), 0);
    assert_int_equal(tsr_store_neg_delete(f->st, "c-1", &d), TSR_ENOTFOUND);
}

static void test_neg_agree(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_agreement a = {
        .id = S("urn:uuid:agr-1"),
        .asset_id = S("asset-1"),
        .provider_did = S("did:web:provider.example"),
        .consumer_did = S("did:web:peer.example"),
        .policy_json = S("{\"@type\":\"Agreement\"}"),
        .signed_ms = 5000,
    };
    struct tsr_store_outbox_msg m = msg("https://peer.example/cb/negotiations/c-1/agreement",
                                        "{\"agreement\":1}", "AGREED");
    struct tsr_store_agreement *ag = NULL, *av = NULL;
    struct tsr_store_neg *n = NULL;
    struct tsr_diag d = {0};
    size_t cnt = 0;
    char *s;

    assert_int_equal(add_neg(f->st, "p-1", "provider", "c-1", "REQUESTED", NULL, &d), 0);

    /* Wrong state: no agreement, no message. */
    assert_int_equal(tsr_store_neg_agree(f->st, "p-1", "ACCEPTED", "AGREED", &a, &m, &d),
                     TSR_ESTATE);
    assert_int_equal(tsr_store_agreement_get(f->st, "urn:uuid:agr-1", &ag, NULL), TSR_ENOTFOUND);
    assert_int_equal(outbox_count(f->st, "negotiation", "p-1"), 0);

    assert_int_equal(tsr_store_neg_agree(f->st, "p-1", "REQUESTED", "AGREED", &a, &m, &d), 0);
    assert_int_equal(tsr_store_neg_get(f->st, "p-1", &n, &d), 0);
    assert_string_equal(n->state, "AGREED");
    assert_string_equal(n->agreement_id, "urn:uuid:agr-1");
    tsr_store_neg_free(n);
    assert_int_equal(tsr_store_agreement_get(f->st, "urn:uuid:agr-1", &ag, &d), 0);
    assert_string_equal(ag->negotiation_id, "p-1");
    assert_string_equal(ag->consumer_did, "did:web:peer.example");
    assert_string_equal(ag->policy_json, "{\"@type\":\"Agreement\"}");
    assert_int_equal(ag->signed_ms, 5000);
    tsr_store_agreement_free(ag);
    assert_int_equal(outbox_count(f->st, "negotiation", "p-1"), 1);
    assert_int_equal(tsr_store_agreement_list(f->st, NULL, &av, &cnt, &d), 0);
    assert_int_equal(cnt, 1);
    tsr_store_agreement_array_free(av, cnt);

    /* A second agreement with the same id: refused, and the state stays. */
    assert_int_equal(add_neg(f->st, "p-2", "provider", "c-2", "REQUESTED", NULL, &d), 0);
    assert_int_equal(tsr_store_neg_agree(f->st, "p-2", "REQUESTED", "AGREED", &a, &m, &d),
                     TSR_EEXIST);
    s = neg_state(f->st, "p-2");
    assert_string_equal(s, "REQUESTED");
    tsr_free(s);
    assert_int_equal(outbox_count(f->st, "negotiation", "p-2"), 0);
    /* An agreement naming another negotiation is refused. */
    a.id = S("agr-2");
    a.negotiation_id = S("p-1");
    assert_int_equal(tsr_store_neg_agree(f->st, "p-2", "REQUESTED", "AGREED", &a, NULL, &d),
                     TSR_EINVAL);

    /* A negotiation with an agreement cannot be deleted. */
    assert_int_equal(tsr_store_neg_delete(f->st, "p-1", &d), TSR_ECONFLICT);
    assert_non_null(strstr(d.msg, "urn:uuid:agr-1"));
    assert_int_equal(tsr_store_neg_get(f->st, "p-1", &n, &d), 0);
    tsr_store_neg_free(n);
    assert_int_equal(outbox_count(f->st, "negotiation", "p-1"), 1);
}

static void test_neg_list_filter(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_neg *v = NULL;
    struct tsr_store_filter flt = {0};
    struct tsr_diag d = {0};
    size_t n = 0;
    char id[32], cpid[32];

    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof(id), "n-%02d", i);
        snprintf(cpid, sizeof(cpid), "c-%02d", i);
        assert_int_equal(add_neg(f->st, id, i % 3 == 0 ? "consumer" : "provider",
                                 i % 3 == 0 ? NULL : cpid, i % 2 == 0 ? "REQUESTED" : "AGREED",
                                 NULL, &d),
                         0);
    }
    assert_int_equal(tsr_store_neg_list(f->st, NULL, &v, &n, &d), 0);
    assert_int_equal(n, 12);
    tsr_store_neg_array_free(v, n);
    flt.role = S("consumer");
    assert_int_equal(tsr_store_neg_list(f->st, &flt, &v, &n, &d), 0);
    assert_int_equal(n, 4); /* 0, 3, 6, 9 */
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i].role, "consumer");
    tsr_store_neg_array_free(v, n);
    flt.state = S("REQUESTED");
    assert_int_equal(tsr_store_neg_list(f->st, &flt, &v, &n, &d), 0);
    assert_int_equal(n, 2); /* 0, 6 */
    tsr_store_neg_array_free(v, n);
    flt.role = NULL;
    flt.limit = 2;
    flt.offset = 1;
    assert_int_equal(tsr_store_neg_list(f->st, &flt, &v, &n, &d), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i].state, "REQUESTED");
    tsr_store_neg_array_free(v, n);
}

/* ---------------------------------------------------------------- transfers */

static void make_agreement(struct tsr_store *st, const char *neg, const char *agr)
{
    struct tsr_store_agreement a = {.id = (char *)agr, .policy_json = S("{}")};
    char cpid[64];

    snprintf(cpid, sizeof(cpid), "cp-%s", neg);
    assert_int_equal(add_neg(st, neg, "provider", cpid, "REQUESTED", NULL, NULL), 0);
    assert_int_equal(tsr_store_neg_agree(st, neg, "REQUESTED", "FINALIZED", &a, NULL, NULL), 0);
}

static void test_transfer(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_tp t = {
        .id = S("tp-1"),
        .role = S("provider"),
        .state = S("REQUESTED"),
        .consumer_pid = S("ctp-1"),
        .agreement_id = S("agr-1"),
        .counterparty_did = S("did:web:peer.example"),
        .counterparty_url = S("https://peer.example/cb"),
        .transfer_type = S("HttpData-PULL"),
    };
    struct tsr_store_outbox_msg m = msg("https://peer.example/cb/transfers/ctp-1/start", "{}",
                                        "STARTED");
    struct tsr_store_tp *got = NULL, *v = NULL;
    struct tsr_diag d = {0};
    size_t n = 0;

    assert_int_equal(tsr_store_tp_create(f->st, &t, &m, &d), TSR_ENOTFOUND);
    assert_non_null(strstr(d.msg, "agr-1"));
    assert_int_equal(outbox_count(f->st, "transfer", "tp-1"), 0);
    make_agreement(f->st, "neg-1", "agr-1");
    assert_int_equal(tsr_store_tp_create(f->st, &t, &m, &d), 0);
    assert_int_equal(outbox_count(f->st, "transfer", "tp-1"), 1);
    assert_int_equal(tsr_store_tp_create(f->st, &t, NULL, &d), TSR_EEXIST);
    t.id = S("tp-2");
    assert_int_equal(tsr_store_tp_create(f->st, &t, NULL, &d), TSR_EEXIST); /* same consumer pid */

    assert_int_equal(tsr_store_tp_get(f->st, "tp-1", &got, &d), 0);
    assert_string_equal(got->provider_pid, "tp-1");
    assert_string_equal(got->consumer_pid, "ctp-1");
    assert_string_equal(got->transfer_type, "HttpData-PULL");
    assert_int_equal(got->bytes, 0);
    assert_null(got->data_address_json);
    tsr_store_tp_free(got);

    struct tsr_store_tp_update u = {
        .data_address_json = S("{\"endpoint\":\"https://p/data\",\"token\":\"secret\"}"),
    };
    assert_int_equal(tsr_store_tp_transition(f->st, "tp-1", "REQUESTED", "STARTED", &u, NULL,
                                             &d),
                     0);
    assert_int_equal(tsr_store_tp_transition(f->st, "tp-1", "REQUESTED", "STARTED", &u, NULL,
                                             &d),
                     TSR_ESTATE);
    assert_non_null(strstr(d.msg, "STARTED"));
    struct tsr_store_tp_update prog = {.set_bytes = true, .bytes = 4096, .sha256 = S("ff00")};
    assert_int_equal(tsr_store_tp_transition(f->st, "tp-1", "STARTED", NULL, &prog, NULL, &d), 0);
    struct tsr_store_tp_update neg = {.set_bytes = true, .bytes = -5};
    assert_int_equal(tsr_store_tp_transition(f->st, "tp-1", "STARTED", NULL, &neg, NULL, &d),
                     TSR_EINVAL);
    struct tsr_store_tp_update clr = {.data_address_json = S("")};
    assert_int_equal(tsr_store_tp_transition(f->st, "tp-1", "STARTED", "COMPLETED", &clr, NULL,
                                             &d),
                     0);
    assert_int_equal(tsr_store_tp_find_consumer_pid(f->st, "provider", "ctp-1", &got, &d), 0);
    assert_string_equal(got->id, "tp-1");
    assert_string_equal(got->state, "COMPLETED");
    assert_int_equal(got->bytes, 4096);
    assert_string_equal(got->sha256, "ff00");
    assert_null(got->data_address_json);
    assert_true(got->updated_ms >= got->created_ms);
    tsr_store_tp_free(got);
    assert_int_equal(tsr_store_tp_find_provider_pid(f->st, "provider", "tp-1", &got, &d), 0);
    tsr_store_tp_free(got);
    assert_int_equal(tsr_store_tp_find_provider_pid(f->st, "consumer", "tp-1", &got, &d),
                     TSR_ENOTFOUND);

    /* A consumer-side transfer, then the list filters. */
    struct tsr_store_tp c = {.id = S("ctp-9"), .role = S("consumer"), .state = S("REQUESTED"),
                             .agreement_id = S("agr-1"), .dest_path = S("/tmp/x")};
    assert_int_equal(tsr_store_tp_create(f->st, &c, NULL, &d), 0);
    struct tsr_store_filter flt = {.role = S("consumer")};
    assert_int_equal(tsr_store_tp_list(f->st, &flt, &v, &n, &d), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].id, "ctp-9");
    assert_string_equal(v[0].consumer_pid, "ctp-9");
    assert_string_equal(v[0].dest_path, "/tmp/x");
    tsr_store_tp_array_free(v, n);
    flt.role = NULL;
    flt.state = S("COMPLETED");
    assert_int_equal(tsr_store_tp_list(f->st, &flt, &v, &n, &d), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].id, "tp-1");
    tsr_store_tp_array_free(v, n);

    /* The negotiation has an agreement (used by transfers): deleting it is refused. */
    assert_int_equal(tsr_store_neg_delete(f->st, "neg-1", &d), TSR_ECONFLICT);

    assert_int_equal(tsr_store_tp_delete(f->st, "tp-1", &d), 0);
    assert_int_equal(outbox_count(f->st, "transfer", "tp-1"), 0);
    assert_int_equal(tsr_store_tp_delete(f->st, "tp-1", &d), TSR_ENOTFOUND);
}

/* ---------------------------------------------------------------- outbox */

static void test_outbox_order_retry(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_outbox_msg m = msg("https://peer.example/x", "{}", NULL);
    struct tsr_store_outbox_msg *v = NULL, *one = NULL;
    struct tsr_diag d = {0};
    int64_t a1, a2, b1, c1, next;
    size_t n = 0;

    assert_int_equal(tsr_store_outbox_next_ms(f->st, &next, &d), 0);
    assert_int_equal(next, -1);
    assert_int_equal(tsr_store_outbox_due(f->st, 1000000, 0, &v, &n, &d), 0);
    assert_int_equal(n, 0);

    m.entity = S("negotiation");
    m.entity_id = S("A");
    m.next_ms = 100;
    assert_int_equal(tsr_store_outbox_put(f->st, &m, &a1, &d), 0);
    m.next_ms = 50; /* queued after a1: must wait for it */
    assert_int_equal(tsr_store_outbox_put(f->st, &m, &a2, &d), 0);
    m.entity_id = S("B");
    m.next_ms = 200;
    assert_int_equal(tsr_store_outbox_put(f->st, &m, &b1, &d), 0);
    m.entity = S("transfer");
    m.entity_id = S("A"); /* same id, other kind of entity: its own queue */
    m.next_ms = 150;
    assert_int_equal(tsr_store_outbox_put(f->st, &m, &c1, &d), 0);
    assert_true(a1 < a2 && a2 < b1 && b1 < c1);

    m.entity = S("catalog");
    assert_int_equal(tsr_store_outbox_put(f->st, &m, NULL, &d), TSR_EINVAL);

    assert_int_equal(tsr_store_outbox_next_ms(f->st, &next, &d), 0);
    assert_int_equal(next, 100);
    assert_int_equal(tsr_store_outbox_due(f->st, 99, 0, &v, &n, &d), 0);
    assert_int_equal(n, 0);
    assert_int_equal(tsr_store_outbox_due(f->st, 1000, 0, &v, &n, &d), 0);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].id, a1);
    assert_int_equal(v[1].id, c1);
    assert_int_equal(v[2].id, b1);
    assert_string_equal(v[1].entity, "transfer");
    assert_string_equal(v[0].method, "POST");
    assert_string_equal(v[0].url, "https://peer.example/x");
    tsr_store_outbox_array_free(v, n);
    assert_int_equal(tsr_store_outbox_due(f->st, 1000, 2, &v, &n, &d), 0);
    assert_int_equal(n, 2);
    tsr_store_outbox_array_free(v, n);

    /* A failure pushes the head back; the entity's later message still waits behind it. */
    assert_int_equal(tsr_store_outbox_retry(f->st, a1, 5000, "connection refused", &d), 0);
    assert_int_equal(tsr_store_outbox_retry(f->st, 99999, 5000, NULL, &d), TSR_ENOTFOUND);
    assert_int_equal(tsr_store_outbox_get(f->st, a1, &one, &d), 0);
    assert_int_equal(one->attempts, 1);
    assert_int_equal(one->next_ms, 5000);
    assert_string_equal(one->last_error, "connection refused");
    tsr_store_outbox_free(one);
    assert_int_equal(tsr_store_outbox_due(f->st, 1000, 0, &v, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, c1);
    assert_int_equal(v[1].id, b1);
    tsr_store_outbox_array_free(v, n);
    assert_int_equal(tsr_store_outbox_next_ms(f->st, &next, &d), 0);
    assert_int_equal(next, 150);

    /* Done: removed, and A's next message becomes due. */
    assert_int_equal(tsr_store_outbox_done(f->st, a1, &d), 0);
    assert_int_equal(tsr_store_outbox_done(f->st, a1, &d), TSR_ENOTFOUND);
    assert_int_equal(tsr_store_outbox_get(f->st, a1, &one, NULL), TSR_ENOTFOUND);
    assert_int_equal(tsr_store_outbox_due(f->st, 1000, 0, &v, &n, &d), 0);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].id, a2);
    tsr_store_outbox_array_free(v, n);
    assert_int_equal(tsr_store_outbox_next_ms(f->st, &next, &d), 0);
    assert_int_equal(next, 50);
}

/* ---------------------------------------------------------------- replay cache */

static void test_jti(void **state)
{
    struct fixture *f = *state;
    struct tsr_diag d = {0};
    size_t removed = 99;

    assert_int_equal(tsr_store_jti_add(f->st, "did:web:a", "j1", 1000, &d), 0);
    assert_int_equal(tsr_store_jti_add(f->st, "did:web:a", "j1", 1000, &d), TSR_EEXIST);
    assert_non_null(strstr(d.msg, "replay"));
    assert_int_equal(tsr_store_jti_add(f->st, "did:web:b", "j1", 1000, &d), 0);
    assert_int_equal(tsr_store_jti_add(f->st, "did:web:a", "j2", 3000, &d), 0);
    assert_int_equal(tsr_store_jti_add(f->st, "did:web:a", "", 3000, &d), TSR_EINVAL);
    assert_int_equal(tsr_store_jti_add(f->st, NULL, "j3", 3000, &d), TSR_EINVAL);

    assert_int_equal(tsr_store_jti_purge(f->st, 1000, &removed, &d), 0);
    assert_int_equal(removed, 0); /* exp_ms == now is not yet expired */
    assert_int_equal(tsr_store_jti_purge(f->st, 2000, &removed, &d), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(tsr_store_jti_add(f->st, "did:web:a", "j2", 3000, &d), TSR_EEXIST);
    assert_int_equal(tsr_store_jti_add(f->st, "did:web:a", "j1", 1000, &d), 0);
}

/* ---------------------------------------------------------------- reopen */

static void test_reopen_keeps_everything(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_outbox_msg m = msg("https://peer.example/x", "{\"k\":1}", "REQUESTED");
    struct tsr_store_asset *a = NULL;
    struct tsr_store_offer *o = NULL;
    struct tsr_store_neg *n = NULL;
    struct tsr_store_tp *t = NULL;
    struct tsr_store_outbox_msg *v = NULL;
    struct tsr_diag d = {0};
    size_t cnt = 0;
    int version = 0;

    add_asset(f->st, "asset-1", 1);
    add_policy(f->st, "pol-1");
    add_offer(f->st, "off-1", "asset-1", "pol-1");
    make_agreement(f->st, "neg-1", "agr-1");
    assert_int_equal(add_neg(f->st, "neg-2", "provider", "c-2", "REQUESTED", &m, &d), 0);
    struct tsr_store_tp tp = {.id = S("tp-1"), .role = S("consumer"), .state = S("STARTED"),
                              .agreement_id = S("agr-1")};
    assert_int_equal(tsr_store_tp_create(f->st, &tp, NULL, &d), 0);
    assert_int_equal(tsr_store_jti_add(f->st, "did:web:a", "j1", INT64_MAX, &d), 0);

    reopen(f);
    reopen(f); /* migrating an up-to-date schema again is harmless */
    /* The file holds data-address tokens: private to the owner. */
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
    assert_int_equal(tsr_db_schema_version(tsr_store_db(f->st), "connector", &version, &d), 0);
    assert_int_equal(version, 1);

    assert_int_equal(tsr_store_asset_get(f->st, "asset-1", &a, &d), 0);
    tsr_store_asset_free(a);
    assert_int_equal(tsr_store_offer_get(f->st, "off-1", &o, &d), 0);
    assert_string_equal(o->policy_id, "pol-1");
    tsr_store_offer_free(o);
    assert_int_equal(tsr_store_neg_get(f->st, "neg-1", &n, &d), 0);
    assert_string_equal(n->state, "FINALIZED");
    assert_string_equal(n->agreement_id, "agr-1");
    tsr_store_neg_free(n);
    assert_int_equal(tsr_store_tp_get(f->st, "tp-1", &t, &d), 0);
    assert_string_equal(t->state, "STARTED");
    tsr_store_tp_free(t);
    assert_int_equal(tsr_store_outbox_list_entity(f->st, "negotiation", "neg-2", &v, &cnt, &d),
                     0);
    assert_int_equal(cnt, 1);
    assert_string_equal(v[0].body, "{\"k\":1}");
    assert_string_equal(v[0].on_ack, "REQUESTED");
    tsr_store_outbox_array_free(v, cnt);
    assert_int_equal(tsr_store_jti_add(f->st, "did:web:a", "j1", INT64_MAX, &d), TSR_EEXIST);
    /* References still hold after reopening (foreign keys are on). */
    assert_int_equal(tsr_store_asset_delete(f->st, "asset-1", &d), TSR_ECONFLICT);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    struct tsr_store *st = NULL;
    struct tsr_diag d = {0};
    char path[160];
    FILE *fp;

    /* Not a database. */
    snprintf(path, sizeof(path), "%s/junk.db", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("this is not an SQLite database, not at all, no; it is just some text\n", fp);
    fclose(fp);
    assert_int_equal(tsr_store_open(path, &st, &d), TSR_EIO);
    assert_null(st);
    unlink(path);
    /* A directory that does not exist. */
    snprintf(path, sizeof(path), "%s/missing/x.db", f->dir);
    assert_int_equal(tsr_store_open(path, &st, &d), TSR_EIO);
    assert_null(st);

    /* A schema from a newer program is left alone. */
    assert_int_equal(tsr_db_exec(tsr_store_db(f->st),
                                 "UPDATE tsr_schema SET version = 99 WHERE module = 'connector'",
                                 &d),
                     0);
    tsr_store_close(f->st);
    f->st = NULL;
    assert_int_equal(tsr_store_open(f->path, &st, &d), TSR_ESTATE);
    assert_null(st);
    /* Put it back so that teardown's store is a usable one. */
    struct tsr_db *db = NULL;
    assert_int_equal(tsr_db_open(f->path, &db, &d), 0);
    assert_int_equal(tsr_db_exec(db, "UPDATE tsr_schema SET version = 1", &d), 0);
    tsr_db_close(db);
    reopen(f);
}

/* ---------------------------------------------------------------- out of memory */

/*
 * Fail each of our allocations in turn while reading rows back: every
 * call either succeeds or reports TSR_ENOMEM with nothing returned (the
 * sanitizer's leak check catches what a failure path forgets to free).
 */
static void test_out_of_memory(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_outbox_msg m = msg("https://peer.example/x", "{}", "REQUESTED");
    bool saw_enomem = false, saw_ok = false;
    struct tsr_diag d = {0};

    for (int i = 0; i < 20; i++) {
        char id[16], cpid[16];

        snprintf(id, sizeof(id), "p-%d", i);
        snprintf(cpid, sizeof(cpid), "c-%d", i);
        assert_int_equal(add_neg(f->st, id, "provider", cpid, "REQUESTED", &m, &d), 0);
    }
    for (long n = 0; n < 400; n++) {
        struct tsr_store_neg *v = NULL, *one = NULL;
        struct tsr_store_outbox_msg *o = NULL;
        size_t cnt = 7, ocnt = 7;
        int rc1, rc2, rc3;

        tsr_mem_fail_after(n);
        rc1 = tsr_store_neg_list(f->st, NULL, &v, &cnt, &d);
        rc2 = tsr_store_neg_get(f->st, "p-3", &one, &d);
        rc3 = tsr_store_outbox_due(f->st, INT64_MAX, 0, &o, &ocnt, &d);
        tsr_mem_fail_after(-1);
        assert_true(rc1 == 0 || rc1 == TSR_ENOMEM);
        assert_true(rc2 == 0 || rc2 == TSR_ENOMEM);
        assert_true(rc3 == 0 || rc3 == TSR_ENOMEM);
        if (rc1 == 0) {
            assert_int_equal(cnt, 20);
        } else {
            assert_null(v);
            assert_int_equal(cnt, 0);
        }
        if (rc2 != 0)
            assert_null(one);
        if (rc3 == 0)
            assert_int_equal(ocnt, 20);
        else
            assert_null(o);
        saw_enomem |= rc1 == TSR_ENOMEM;
        saw_ok |= rc1 == 0 && rc2 == 0 && rc3 == 0;
        tsr_store_neg_array_free(v, cnt);
        tsr_store_neg_free(one);
        tsr_store_outbox_array_free(o, ocnt);
        if (rc1 == 0 && rc2 == 0 && rc3 == 0)
            break;
    }
    assert_true(saw_enomem);
    assert_true(saw_ok);
}

/* ---------------------------------------------------------------- crash safety */

#define CRASH_STATES 5
#define CRASH_ROUNDS 8

/*
 * The child's work: negotiations walking S0..S4, each step enqueuing a
 * message whose body names the state it was sent for.  Even-numbered
 * negotiations also acknowledge the previous message in the same
 * transition (so they always hold exactly one message); odd ones keep
 * them all.  Never returns.
 */
static void crash_child(const char *path, int round, int ready_fd)
{
    struct tsr_store *st = NULL;
    struct tsr_diag d = {0};
    bool told = false;
    char id[64], body[64], prev[16], next[16];

    if (tsr_store_open(path, &st, &d) != 0)
        _exit(3);
    for (long i = 0; i < 1000000; i++) {
        struct tsr_store_outbox_msg m = msg("https://peer.example/dsp", body, NULL);
        int64_t last = 0;

        snprintf(id, sizeof(id), "r%d-n%ld", round, i);
        snprintf(body, sizeof(body), "S0");
        m.on_ack = S("S0");
        if (add_neg(st, id, "consumer", NULL, "S0", &m, &d) != 0)
            _exit(4);
        for (int k = 1; k < CRASH_STATES; k++) {
            struct tsr_store_neg_update u = {0};
            struct tsr_store_outbox_msg *v = NULL;
            size_t n = 0;

            if (i % 2 == 0) {
                if (tsr_store_outbox_list_entity(st, "negotiation", id, &v, &n, &d) != 0 ||
                    n != 1)
                    _exit(5);
                last = v[0].id;
                tsr_store_outbox_array_free(v, n);
                u.outbox_done_id = last;
            }
            snprintf(prev, sizeof(prev), "S%d", k - 1);
            snprintf(next, sizeof(next), "S%d", k);
            snprintf(body, sizeof(body), "S%d", k);
            m.on_ack = next;
            if (tsr_store_neg_transition(st, id, prev, next, &u, &m, &d) != 0)
                _exit(6);
        }
        if (!told) {
            if (write(ready_fd, "x", 1) != 1)
                _exit(7);
            told = true;
        }
    }
    _exit(0);
}

/* Check every negotiation of a round against its outbox; returns how many there are. */
static size_t crash_check(struct tsr_store *st, int round)
{
    struct tsr_store_filter flt = {.limit = TSR_STORE_LIST_MAX};
    struct tsr_store_neg *v = NULL;
    size_t total = 0, n = 0;
    char prefix[16];

    snprintf(prefix, sizeof(prefix), "r%d-", round);
    do {
        assert_int_equal(tsr_store_neg_list(st, &flt, &v, &n, NULL), 0);
        for (size_t i = 0; i < n; i++) {
            struct tsr_store_outbox_msg *m = NULL;
            size_t cnt = 0;
            char want[32];

            if (strncmp(v[i].id, prefix, strlen(prefix)) != 0)
                continue;
            total++;
            long long num = -1;
            assert_int_equal(tsr_parse_ll(v[i].id + strlen(prefix) + 1, 0, LLONG_MAX, &num), 0);
            assert_true(v[i].state[0] == 'S');
            int k = v[i].state[1] - '0';
            assert_true(k >= 0 && k < CRASH_STATES);
            assert_int_equal(tsr_store_outbox_list_entity(st, "negotiation", v[i].id, &m, &cnt,
                                                          NULL),
                             0);
            if (num % 2 == 0) {
                /* Only the current state's message: ack, state and enqueue moved together. */
                assert_int_equal(cnt, 1);
                assert_string_equal(m[0].body, v[i].state);
            } else {
                /* One message per state reached, in order, none for a state not reached. */
                assert_int_equal(cnt, (size_t)k + 1);
                for (size_t j = 0; j < cnt; j++) {
                    snprintf(want, sizeof(want), "S%zu", j);
                    assert_string_equal(m[j].body, want);
                }
            }
            tsr_store_outbox_array_free(m, cnt);
        }
        tsr_store_neg_array_free(v, n);
        flt.offset += n;
    } while (n == TSR_STORE_LIST_MAX);
    return total;
}

static void test_crash_consistency(void **state)
{
    struct fixture *f = *state;
    struct tsr_diag d = {0};

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    /* The child opens its own connection: do not share the parent's across fork. */
    tsr_store_close(f->st);
    f->st = NULL;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fds[2], status = 0;
        char c;

        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(f->path, round, fds[1]);
        }
        close(fds[1]);
        /* Wait for the first complete negotiation, then kill at a random moment. */
        assert_int_equal(read(fds[0], &c, 1), 1);
        close(fds[0]);
        struct timespec ts = {0, (long)(rand() % 150 + 1) * 1000000L};
        nanosleep(&ts, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);

        assert_int_equal(tsr_store_open(f->path, &f->st, &d), 0);
        sqlite3_stmt *stmt = NULL;
        assert_int_equal(tsr_db_prepare(tsr_store_db(f->st), "PRAGMA integrity_check", &stmt,
                                        &d),
                         0);
        assert_int_equal(tsr_db_step(tsr_store_db(f->st), stmt, &d), 1);
        assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "ok");
        tsr_db_reset(stmt);
        size_t total = crash_check(f->st, round);
        assert_true(total >= 1);
        /* Earlier rounds are still intact too. */
        for (int r = 0; r < round; r++)
            assert_true(crash_check(f->st, r) >= 1);
        tsr_store_close(f->st);
        f->st = NULL;
    }
    reopen(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_syntax),
        cmocka_unit_test_setup_teardown(test_asset_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_offer_references, setup, teardown),
        cmocka_unit_test_setup_teardown(test_neg_create_and_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_neg_transition_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_neg_transition_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_neg_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_neg_list_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_order_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jti, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_consistency, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
