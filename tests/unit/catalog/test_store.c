/*
 * tests/unit/catalog/test_store.c: the catalog index (catalog/store.h):
 * adding, duplicates, supersession by a newer credential, stale arrivals,
 * withdrawals (also of credentials that arrive after them), text and
 * field queries with ranking, expiry, hostile query text, peers'
 * positions and the event log.  (Verification before the store, the
 * tampered vector included, is tests/unit/connector/test_sd.c's.)
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "catalog/store.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/mem.h"
#include "lib/vc.h"

#define NOW 1780272000 /* 2026-06-01 */

struct fx {
    struct tsr_cat_store *cs;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (f == NULL || tsr_cat_store_open(":memory:", &f->cs, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    tsr_cat_store_close(f->cs);
    free(f);
    return 0;
}

/* An offer's index fields; keywords is JSON text. */
static struct tsr_vc_info offer(const char *id, const char *issuer, const char *subject,
                                const char *title, json_t *kw, int64_t iat)
{
    struct tsr_vc_info in = {
        .cls = TSR_VC_CLASS_SERVICE_OFFERING,
        .cls_name = "ServiceOffering",
        .id = id,
        .issuer = issuer,
        .subject = subject,
        .participant = issuer,
        .title = title,
        .description = "readings of a production line",
        .media_type = "text/csv",
        .endpoint = "https://p.example/dsp/2025-1",
        .dataset_id = "ds1",
        .keywords = kw,
        .valid_from = NOW - 100,
        .valid_until = NOW + 86400,
        .iat = iat,
    };
    return in;
}

static size_t count(struct tsr_cat_store *cs, const struct tsr_cat_query *q)
{
    json_t *items = NULL;
    assert_int_equal(tsr_cat_store_query(cs, q, &items, NULL), 0);
    size_t n = json_array_size(items);
    json_decref(items);
    return n;
}

static void test_add_query_supersede(void **state)
{
    struct fx *f = *state;
    json_t *kw = json_pack("[s, s]", "sensor", "steel");
    enum tsr_cat_outcome oc;
    struct tsr_vc_info a = offer("urn:1", "did:web:a", "https://a/offers/1", "Press line sensor",
                                 kw, NOW - 50);
    struct tsr_vc_info b = offer("urn:2", "did:web:b", "https://b/offers/9", "Weather station",
                                 NULL, NOW - 40);
    struct tsr_cat_query q = {.now = NOW};

    assert_int_equal(tsr_cat_store_add(f->cs, "jwt-a1", &a, 1, true, &oc, NULL), 0);
    assert_int_equal(oc, TSR_CAT_ADDED);
    assert_int_equal(tsr_cat_store_add(f->cs, "jwt-a1", &a, 2, true, &oc, NULL), 0);
    assert_int_equal(oc, TSR_CAT_DUPLICATE);
    assert_int_equal(tsr_cat_store_add(f->cs, "jwt-b1", &b, 3, true, &oc, NULL), 0);
    q.text = "sensor";
    assert_int_equal(count(f->cs, &q), 1);
    q.text = "press SENSOR";
    assert_int_equal(count(f->cs, &q), 1);
    q.text = "press weather";
    assert_int_equal(count(f->cs, &q), 0);
    /* Text and field conditions together (facet terms in the full-text index). */
    q.text = "readings";
    assert_int_equal(count(f->cs, &q), 2);
    q.participant = "did:web:b";
    assert_int_equal(count(f->cs, &q), 1);
    q.media_type = "application/json";
    assert_int_equal(count(f->cs, &q), 0);
    q.media_type = "text/csv";
    q.participant = "did:web:a";
    q.keyword = "steel";
    q.cls = "ServiceOffering";
    assert_int_equal(count(f->cs, &q), 1);
    q.keyword = "sensor readings"; /* a keyword is one value, not words */
    assert_int_equal(count(f->cs, &q), 0);
    q.keyword = NULL;
    q.cls = NULL;
    q.media_type = NULL;
    q.participant = NULL;
    /* Words match in the text columns only, never the facet tokens. */
    q.text = "t";
    assert_int_equal(count(f->cs, &q), 0);
    q.text = NULL;
    q.keyword = "steel";
    assert_int_equal(count(f->cs, &q), 1);
    q.keyword = NULL;
    q.participant = "did:web:b";
    assert_int_equal(count(f->cs, &q), 1);
    q.participant = NULL;
    q.cls = "LegalPerson";
    assert_int_equal(count(f->cs, &q), 0);
    q.cls = "ServiceOffering";
    assert_int_equal(count(f->cs, &q), 2);
    /* Expired at the end of validUntil. */
    q.now = NOW + 86400;
    assert_int_equal(count(f->cs, &q), 0);
    q.now = NOW;

    /* A newer credential of the same subject supersedes; its text replaces the old. */
    struct tsr_vc_info a2 = offer("urn:3", "did:web:a", "https://a/offers/1", "Press line v2",
                                  NULL, NOW - 10);
    assert_int_equal(tsr_cat_store_add(f->cs, "jwt-a2", &a2, 4, true, &oc, NULL), 0);
    assert_int_equal(oc, TSR_CAT_ADDED);
    struct tsr_cat_query t = {.now = NOW, .text = "sensor"};
    assert_int_equal(count(f->cs, &t), 0);
    t.text = "v2";
    assert_int_equal(count(f->cs, &t), 1);
    struct tsr_cat_query kq = {.now = NOW, .keyword = "steel"};
    assert_int_equal(count(f->cs, &kq), 0);
    /* The older one arriving again later (from a peer) is stale. */
    a.id = "urn:1b";
    assert_int_equal(tsr_cat_store_add(f->cs, "jwt-a1-relayed", &a, 5, true, &oc, NULL), 0);
    assert_int_equal(oc, TSR_CAT_STALE);

    json_t *ev = NULL;
    int64_t last = 0;
    assert_int_equal(tsr_cat_store_events(f->cs, 0, 100, &ev, &last, NULL), 0);
    /* published a1, published b1, superseded a, published a2 */
    assert_int_equal(json_array_size(ev), 4);
    assert_int_equal(last, 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 2), "kind")),
                        "superseded");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 3), "jwt")),
                        "jwt-a2");
    json_decref(ev);
    assert_int_equal(tsr_cat_store_events(f->cs, 3, 100, &ev, &last, NULL), 0);
    assert_int_equal(json_array_size(ev), 1);
    json_decref(ev);
    json_decref(kw);
}

static void test_withdraw(void **state)
{
    struct fx *f = *state;
    enum tsr_cat_outcome oc;
    struct tsr_vc_info a = offer("urn:1", "did:web:a", "https://a/offers/1", "Sensor", NULL,
                                 NOW - 50);
    struct tsr_cat_query q = {.now = NOW, .text = "sensor"};
    size_t n = 0;
    bool known = true;

    assert_int_equal(tsr_cat_store_add(f->cs, "jwt-1", &a, 1, true, &oc, NULL), 0);
    /* Another issuer's withdrawal of the same subject changes nothing. */
    assert_int_equal(tsr_cat_store_withdraw(f->cs, "w-x", "did:web:x", "https://a/offers/1",
                                            NOW, 2, &n, &known, NULL), 0);
    assert_int_equal(n, 0);
    assert_false(known);
    assert_int_equal(count(f->cs, &q), 1);
    assert_int_equal(tsr_cat_store_withdraw(f->cs, "w-a", "did:web:a", "https://a/offers/1",
                                            NOW - 20, 3, &n, &known, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(count(f->cs, &q), 0);
    assert_int_equal(tsr_cat_store_withdraw(f->cs, "w-a", "did:web:a", "https://a/offers/1",
                                            NOW - 20, 4, &n, &known, NULL), 0);
    assert_true(known);
    /* A credential issued before the withdrawal, relayed late, stays out. */
    struct tsr_vc_info old = offer("urn:0", "did:web:a", "https://a/offers/1", "Sensor old",
                                   NULL, NOW - 30);
    assert_int_equal(tsr_cat_store_add(f->cs, "jwt-0", &old, 5, true, &oc, NULL), 0);
    assert_int_equal(oc, TSR_CAT_WITHDRAWN);
    /* One issued after it republishes the offer. */
    struct tsr_vc_info again = offer("urn:2", "did:web:a", "https://a/offers/1", "Sensor again",
                                     NULL, NOW - 5);
    assert_int_equal(tsr_cat_store_add(f->cs, "jwt-2", &again, 6, true, &oc, NULL), 0);
    assert_int_equal(oc, TSR_CAT_ADDED);
    assert_int_equal(count(f->cs, &q), 1);
    json_t *st = NULL;
    assert_int_equal(tsr_cat_store_stats(f->cs, &st, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "withdrawn")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "active")), 1);
    json_decref(st);
    /* Known tokens (which a peer's relay need not verify again): entries and withdrawals,
     * stored or not (a refused, stale one is not known). */
    assert_int_equal(tsr_cat_store_known(f->cs, "jwt-2", &known, NULL), 0);
    assert_true(known);
    assert_int_equal(tsr_cat_store_known(f->cs, "jwt-1", &known, NULL), 0);
    assert_true(known);
    assert_int_equal(tsr_cat_store_known(f->cs, "w-a", &known, NULL), 0);
    assert_true(known);
    assert_int_equal(tsr_cat_store_known(f->cs, "jwt-0", &known, NULL), 0);
    assert_false(known);
    assert_int_equal(tsr_cat_store_known(f->cs, "jwt-2 ", &known, NULL), 0);
    assert_false(known);
}

static void test_query_input(void **state)
{
    struct fx *f = *state;
    struct tsr_cat_query q = {.now = NOW, .text = "  ,;*\"() "};
    json_t *items = NULL;
    char big[TSR_CAT_TEXT_MAX + 2];

    /* FTS5 syntax in the text is not syntax: only words count. */
    assert_int_equal(tsr_cat_store_query(f->cs, &q, &items, NULL), TSR_EINVAL);
    q.text = "sensor OR NEAR(x) \"quoted\" col:val";
    assert_int_equal(tsr_cat_store_query(f->cs, &q, &items, NULL), 0);
    json_decref(items);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    q.text = big;
    assert_int_equal(tsr_cat_store_query(f->cs, &q, &items, NULL), TSR_EINVAL);
    /* Peers' positions. */
    int64_t after = -1;
    assert_int_equal(tsr_cat_store_peer_get(f->cs, "https://p", &after, NULL), 0);
    assert_int_equal(after, 0);
    assert_int_equal(tsr_cat_store_peer_set(f->cs, "https://p", 42, NULL), 0);
    assert_int_equal(tsr_cat_store_peer_set(f->cs, "https://p", 43, NULL), 0);
    assert_int_equal(tsr_cat_store_peer_get(f->cs, "https://p", &after, NULL), 0);
    assert_int_equal(after, 43);
}

/* Ranking: a title match outranks a match in the description only. */
static void test_ranking(void **state)
{
    struct fx *f = *state;
    enum tsr_cat_outcome oc;
    struct tsr_vc_info a = offer("urn:a", "did:web:a", "s:a", "Production data", NULL, NOW - 9);
    struct tsr_vc_info b = offer("urn:b", "did:web:b", "s:b", "Turbine vibration", NULL,
                                 NOW - 8);
    struct tsr_cat_query q = {.now = NOW, .text = "turbine"};
    json_t *items = NULL;

    a.description = "a turbine among many other long words in a long description text";
    assert_int_equal(tsr_cat_store_add(f->cs, "ja", &a, 1, false, &oc, NULL), 0);
    assert_int_equal(tsr_cat_store_add(f->cs, "jb", &b, 2, false, &oc, NULL), 0);
    assert_int_equal(tsr_cat_store_query(f->cs, &q, &items, NULL), 0);
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")),
                        "urn:b");
    json_decref(items);
    /* Without text: newest first; a page further on, the next one. */
    q.text = NULL;
    assert_int_equal(tsr_cat_store_query(f->cs, &q, &items, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")),
                        "urn:b");
    json_decref(items);
    q.limit = 1;
    q.offset = 1;
    assert_int_equal(tsr_cat_store_query(f->cs, &q, &items, NULL), 0);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")),
                        "urn:a");
    json_decref(items);
    q.offset = TSR_CAT_OFFSET_MAX + 1;
    assert_int_equal(tsr_cat_store_query(f->cs, &q, &items, NULL), TSR_EINVAL);
    /* Not logged: a bulk load leaves the event log empty. */
    json_t *ev = NULL;
    int64_t last = -1;
    assert_int_equal(tsr_cat_store_events(f->cs, 0, 10, &ev, &last, NULL), 0);
    assert_int_equal(json_array_size(ev), 0);
    assert_int_equal(last, 0);
    json_decref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_query_supersede, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withdraw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranking, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
