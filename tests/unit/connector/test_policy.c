/*
 * tests/unit/connector/test_policy.c: the daemon's policy context:
 * compiling with the Catena-X registry (unknown terms refused), the
 * agreement cache, catalog-time decisions in three values (what hides an
 * offer and what does not), and run-time use decisions with the
 * persistent use counter, time windows and the next boundary.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connector/policy.h"
#include "connector/store.h"
#include "lib/time.h"

#define S(lit) ((char *)(lit))
#define ME "did:web:consumer.example"
#define OTHER "did:web:other.example"
/* 2026-01-01T00:00:00Z */
#define T2026 1767225600000LL

struct fixture {
    struct tsr_store *st;
    struct tsr_policy *pc;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || tsr_store_open(":memory:", &f->st, NULL) != 0)
        return -1;
    f->pc = tsr_policy_new(f->st);
    if (f->pc == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    tsr_policy_free(f->pc);
    tsr_store_close(f->st);
    free(f);
    return 0;
}

static int check(struct fixture *f, const char *json, const char *caller, int64_t now,
                 struct tsr_diag *d)
{
    struct tsr_odrl_policy *p = NULL;
    int rc;

    assert_int_equal(tsr_policy_compile(f->pc, json, strlen(json), &p, d), 0);
    rc = tsr_policy_offer_check(f->pc, p, caller, now, d);
    tsr_odrl_policy_free(p);
    return rc;
}

/* Store an agreement with this ODRL Agreement text, signed at signed_ms. */
static void add_agreement(struct fixture *f, const char *id, const char *policy, int64_t signed_ms)
{
    char neg[64];
    struct tsr_diag d = {0};

    snprintf(neg, sizeof(neg), "neg-%s", id);
    struct tsr_store_neg n = {
        .id = neg,
        .role = S(TSR_STORE_ROLE_PROVIDER),
        .state = S("REQUESTED"),
        .consumer_pid = neg,
        .provider_pid = neg,
        .counterparty_did = S(ME),
        .counterparty_url = S("https://consumer.example/cb"),
        .offer_id = S("o1"),
        .asset_id = S("a1"),
    };
    assert_int_equal(tsr_store_neg_create(f->st, &n, NULL, &d), 0);
    struct tsr_store_agreement a = {
        .id = S(id),
        .asset_id = S("a1"),
        .provider_did = S("did:web:provider.example"),
        .consumer_did = S(ME),
        .policy_json = S(policy),
        .signed_ms = signed_ms,
    };
    assert_int_equal(tsr_store_neg_agree(f->st, neg, "REQUESTED", "AGREED", &a, NULL, &d), 0);
}

static void test_compile(void **state)
{
    struct fixture *f = *state;
    struct tsr_odrl_policy *p = NULL;
    struct tsr_diag d = {0};
    const char *typo = "{\"@type\":\"Set\",\"permission\":[{\"action\":\"use\",\"constraint\":"
                       "[{\"leftOperand\":\"cuont\",\"operator\":\"lteq\",\"rightOperand\":3}]}]}";
    const char *badop = "{\"@type\":\"Set\",\"permission\":[{\"action\":\"use\",\"constraint\":"
                        "[{\"leftOperand\":\"count\",\"operator\":\"lesser\","
                        "\"rightOperand\":3}]}]}";
    const char *badact = "{\"@type\":\"Set\",\"permission\":[{\"action\":\"usee\"}]}";
    const char *cx = "{\"@context\":{\"cx-policy\":\"https://w3id.org/catenax/policy/\"},"
                     "\"@type\":\"Offer\",\"permission\":[{\"action\":\"use\",\"constraint\":"
                     "[{\"leftOperand\":\"cx-policy:Membership\",\"operator\":\"eq\","
                     "\"rightOperand\":\"active\"}]}]}";

    assert_non_null(tsr_policy_registry(f->pc));
    assert_int_equal(tsr_policy_compile(f->pc, typo, strlen(typo), &p, &d), TSR_EPOLICY);
    assert_null(p);
    assert_non_null(strstr(tsr_diag_msg(&d), "cuont"));
    assert_int_equal(tsr_policy_compile(f->pc, badop, strlen(badop), &p, &d), TSR_EPOLICY);
    assert_non_null(strstr(tsr_diag_msg(&d), "lesser"));
    assert_int_equal(tsr_policy_compile(f->pc, badact, strlen(badact), &p, &d), TSR_EPOLICY);
    assert_non_null(strstr(tsr_diag_msg(&d), "usee"));
    /* The Catena-X profile is registered. */
    assert_int_equal(tsr_policy_compile(f->pc, cx, strlen(cx), &p, &d), 0);
    tsr_odrl_policy_free(p);
    /* What the management API asks: a refused term is a 400 (TSR_EINVAL) with the reason. */
    assert_int_equal(tsr_policy_validate(f->pc, cx, &d), 0);
    assert_int_equal(tsr_policy_validate(f->pc, typo, &d), TSR_EINVAL);
    assert_int_equal(d.code, TSR_EINVAL);
    assert_non_null(strstr(tsr_diag_msg(&d), "policy refused: "));
    assert_non_null(strstr(tsr_diag_msg(&d), "cuont"));
    assert_int_equal(tsr_policy_validate(f->pc, "{\"permission\": [", &d), TSR_EINVAL);
    /* An offer that does not compile is never visible. */
    assert_int_equal(tsr_policy_offer_allows(f->pc, typo, ME, T2026, &d), TSR_EPOLICY);
    assert_non_null(strstr(tsr_diag_msg(&d), "cannot be enforced"));
    assert_int_equal(tsr_policy_offer_allows(f->pc, cx, ME, T2026, &d), TSR_EPOLICY);
    assert_int_equal(
        tsr_policy_offer_allows(f->pc, "{\"permission\":[{\"action\":\"use\"}]}", ME, T2026, &d),
        0);
}

static void test_agreement_cache(void **state)
{
    struct fixture *f = *state;
    const struct tsr_odrl_policy *p1 = NULL, *p2 = NULL;
    struct tsr_store_agreement *a = NULL;
    struct tsr_diag d = {0};

    add_agreement(f, "urn:uuid:ag1",
                  "{\"@id\":\"urn:uuid:ag1\",\"@type\":\"Agreement\",\"target\":\"a1\","
                  "\"assigner\":\"did:web:provider.example\",\"assignee\":\"" ME "\","
                  "\"timestamp\":\"2026-01-01T00:00:00Z\",\"permission\":[{\"action\":\"use\"}]}",
                  T2026);
    assert_int_equal(tsr_policy_agreement(f->pc, "urn:uuid:ag1", &p1, &a, &d), 0);
    assert_non_null(p1);
    assert_non_null(a);
    assert_string_equal(a->consumer_did, ME);
    assert_int_equal(tsr_odrl_policy_type(p1), TSR_ODRL_AGREEMENT);
    assert_string_equal(tsr_odrl_policy_assignee(p1), ME);
    /* Second time: the same compiled policy, from the cache. */
    assert_int_equal(tsr_policy_agreement(f->pc, "urn:uuid:ag1", &p2, NULL, &d), 0);
    assert_ptr_equal(p1, p2);
    tsr_policy_forget(f->pc, "urn:uuid:ag1");
    assert_int_equal(tsr_policy_agreement(f->pc, "urn:uuid:ag1", &p2, NULL, &d), 0);
    assert_non_null(p2);
    assert_int_equal(tsr_policy_agreement(f->pc, "urn:uuid:none", &p2, NULL, &d), TSR_ENOTFOUND);
    assert_null(p2);
    tsr_store_agreement_free(a);
}

static void test_offer_visibility(void **state)
{
    struct fixture *f = *state;
    struct tsr_diag d = {0};
    int64_t now = T2026;

    /* Plain use: visible to all. */
    assert_int_equal(check(f, "{\"permission\":[{\"action\":\"use\"}]}", ME, now, &d), 0);
    /* Restricted to another participant, at rule or policy level: hidden. */
    assert_int_equal(check(f, "{\"permission\":[{\"action\":\"use\",\"assignee\":\"" OTHER "\"}]}",
                           ME, now, &d),
                     TSR_EPOLICY);
    assert_int_equal(check(f, "{\"permission\":[{\"action\":\"use\",\"assignee\":\"" ME "\"}]}", ME,
                           now, &d),
                     0);
    assert_int_equal(check(f, "{\"assignee\":\"" OTHER "\",\"permission\":[{\"action\":\"use\"}]}",
                           ME, now, &d),
                     TSR_EPOLICY);
    /* A BPN list or a membership the provider cannot see for the caller: hidden. */
    assert_int_equal(
        check(f,
              "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":"
              "\"cx-policy:BusinessPartnerNumber\",\"operator\":\"isAnyOf\",\"rightOperand\":"
              "[\"BPNL000000000001\"]}]}]}",
              ME, now, &d),
        TSR_EPOLICY);
    assert_non_null(strstr(tsr_diag_msg(&d), "BusinessPartnerNumber"));
    /* What only a use can tell does not hide: count, purpose, future windows. */
    assert_int_equal(check(f,
                           "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":"
                           "\"count\",\"operator\":\"lteq\",\"rightOperand\":0}]}]}",
                           ME, now, &d),
                     0);
    assert_int_equal(check(f,
                           "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":"
                           "\"purpose\",\"operator\":\"eq\",\"rightOperand\":\"research\"}]}]}",
                           ME, now, &d),
                     0);
    assert_int_equal(check(f,
                           "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":"
                           "\"dateTime\",\"operator\":\"gteq\",\"rightOperand\":"
                           "\"2027-01-01T00:00:00Z\"}]}]}",
                           ME, now, &d),
                     0);
    /* A window that has closed never opens again: hidden. */
    assert_int_equal(check(f,
                           "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":"
                           "\"dateTime\",\"operator\":\"lteq\",\"rightOperand\":"
                           "\"2025-01-01T00:00:00Z\"}]}]}",
                           ME, now, &d),
                     TSR_EPOLICY);
    assert_non_null(strstr(tsr_diag_msg(&d), "dateTime"));
    /* or: one use-time member keeps it open; and: one party fact closes it. */
    const char *or_json =
        "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"or\":["
        "{\"leftOperand\":\"cx-policy:Membership\",\"operator\":\"eq\","
        "\"rightOperand\":\"active\"},"
        "{\"leftOperand\":\"purpose\",\"operator\":\"eq\",\"rightOperand\":\"x\"}]}]}]}";
    assert_int_equal(check(f, or_json, ME, now, &d), 0);
    const char *and_json =
        "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"and\":["
        "{\"leftOperand\":\"cx-policy:Membership\",\"operator\":\"eq\","
        "\"rightOperand\":\"active\"},"
        "{\"leftOperand\":\"purpose\",\"operator\":\"eq\",\"rightOperand\":\"x\"}]}]}]}";
    assert_int_equal(check(f, and_json, ME, now, &d), TSR_EPOLICY);
    /* A prohibition that certainly applies to the caller hides the offer. */
    assert_int_equal(check(f,
                           "{\"permission\":[{\"action\":\"use\"}],\"prohibition\":[{\"action\":"
                           "\"use\",\"assignee\":\"" ME "\"}]}",
                           ME, now, &d),
                     TSR_EPOLICY);
    assert_int_equal(check(f,
                           "{\"permission\":[{\"action\":\"use\"}],\"prohibition\":[{\"action\":"
                           "\"use\",\"assignee\":\"" OTHER "\"}]}",
                           ME, now, &d),
                     0);
    /* Nothing granted for use (only a prohibition): hidden. */
    assert_int_equal(check(f, "{\"prohibition\":[{\"action\":\"distribute\"}]}", ME, now, &d),
                     TSR_EPOLICY);
}

static void test_use_count(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_agreement *a = NULL;
    const struct tsr_odrl_policy *p = NULL;
    struct tsr_policy_uses u;
    struct tsr_diag d = {0};

    add_agreement(f, "urn:uuid:ag2",
                  "{\"@id\":\"urn:uuid:ag2\",\"@type\":\"Agreement\",\"target\":\"a1\","
                  "\"assignee\":\"" ME "\",\"permission\":[{\"action\":\"use\",\"constraint\":"
                  "[{\"leftOperand\":\"count\",\"operator\":\"lteq\",\"rightOperand\":2}]}]}",
                  T2026);
    assert_int_equal(tsr_policy_agreement(f->pc, "urn:uuid:ag2", &p, &a, &d), 0);
    assert_int_equal(tsr_policy_uses_get(f->pc, a->id, &u, &d), 0);
    assert_int_equal(u.count, 0);
    assert_true(u.first_ms == TSR_ODRL_TIME_UNSET);
    /* A check without counting leaves the counter alone. */
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 1000, false, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 1000, true, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 2000, true, &d), 0);
    assert_int_equal(tsr_policy_uses_get(f->pc, a->id, &u, &d), 0);
    assert_int_equal(u.count, 2);
    assert_int_equal(u.first_ms, T2026 + 1000);
    assert_int_equal(u.last_ms, T2026 + 2000);
    /* The third is refused, with the constraint in the reason, and not counted. */
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 3000, true, &d), TSR_EPOLICY);
    assert_non_null(strstr(tsr_diag_msg(&d), "count lteq 2"));
    assert_false(tsr_odrl_permitted(tsr_policy_last_decision(f->pc)));
    assert_int_equal(tsr_policy_uses_get(f->pc, a->id, &u, &d), 0);
    assert_int_equal(u.count, 2);
    /* Someone else is not the assignee. */
    struct tsr_store_agreement other = *a;
    other.id = S("urn:uuid:ag2-copy");
    assert_int_equal(tsr_policy_use(f->pc, &other, OTHER, T2026, false, &d), TSR_EPOLICY);
    tsr_store_agreement_free(a);
}

/*
 * Purpose (and place, device, recipient) describe the consumer's use: the
 * provider cannot know them at a data request and leaves them to the
 * consumer's connector, while it still counts and dates what it can.
 */
static void test_use_consumer_constraints(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_agreement *a = NULL;
    const struct tsr_odrl_policy *p = NULL;
    struct tsr_diag d = {0};

    add_agreement(f, "urn:uuid:ag9",
                  "{\"@id\":\"urn:uuid:ag9\",\"@type\":\"Agreement\",\"target\":\"a1\","
                  "\"assignee\":\"" ME "\",\"permission\":[{\"action\":\"use\",\"constraint\":"
                  "[{\"leftOperand\":\"purpose\",\"operator\":\"eq\",\"rightOperand\":\"research\"},"
                  "{\"leftOperand\":\"spatial\",\"operator\":\"eq\",\"rightOperand\":\"DE\"},"
                  "{\"leftOperand\":\"count\",\"operator\":\"lteq\",\"rightOperand\":2}]}]}",
                  T2026);
    assert_int_equal(tsr_policy_agreement(f->pc, "urn:uuid:ag9", &p, &a, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 1000, true, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 2000, true, &d), 0);
    /* The count is the provider's own: the third request is refused. */
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 3000, true, &d), TSR_EPOLICY);
    assert_non_null(strstr(tsr_diag_msg(&d), "count"));
    tsr_store_agreement_free(a);

    /* A prohibition on a purpose does not stop delivery either (the consumer checks it)... */
    add_agreement(f, "urn:uuid:ag10",
                  "{\"@id\":\"urn:uuid:ag10\",\"@type\":\"Agreement\",\"target\":\"a1\","
                  "\"assignee\":\"" ME "\",\"permission\":[{\"action\":\"use\"}],"
                  "\"prohibition\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":"
                  "\"purpose\",\"operator\":\"eq\",\"rightOperand\":\"marketing\"}]}]}",
                  T2026);
    assert_int_equal(tsr_policy_agreement(f->pc, "urn:uuid:ag10", &p, &a, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 1000, true, &d), 0);
    tsr_store_agreement_free(a);

    /* ...but a constraint on the party is the provider's to refuse. */
    add_agreement(f, "urn:uuid:ag11",
                  "{\"@id\":\"urn:uuid:ag11\",\"@type\":\"Agreement\",\"target\":\"a1\","
                  "\"assignee\":\"" ME "\",\"permission\":[{\"action\":\"use\",\"constraint\":"
                  "[{\"leftOperand\":\"purpose\",\"operator\":\"eq\",\"rightOperand\":\"research\"},"
                  "{\"leftOperand\":\"dateTime\",\"operator\":\"lt\",\"rightOperand\":"
                  "\"2026-01-01T00:00:00Z\"}]}]}",
                  T2026);
    assert_int_equal(tsr_policy_agreement(f->pc, "urn:uuid:ag11", &p, &a, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 1000, true, &d), TSR_EPOLICY);
    tsr_store_agreement_free(a);
}

static void test_use_window(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_agreement *a = NULL;
    const struct tsr_odrl_policy *p = NULL;
    struct tsr_diag d = {0};
    int64_t until = T2026 + 60000;

    add_agreement(f, "urn:uuid:ag3",
                  "{\"@id\":\"urn:uuid:ag3\",\"@type\":\"Agreement\",\"target\":\"a1\","
                  "\"assignee\":\"" ME "\",\"permission\":[{\"action\":\"use\",\"constraint\":"
                  "[{\"leftOperand\":\"dateTime\",\"operator\":\"lteq\",\"rightOperand\":"
                  "{\"@value\":\"2026-01-01T00:01:00Z\",\"@type\":\"xsd:dateTime\"}}]}]}",
                  T2026);
    assert_int_equal(tsr_policy_agreement(f->pc, "urn:uuid:ag3", &p, &a, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, until - 1, true, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, until + 1, true, &d), TSR_EPOLICY);
    assert_non_null(strstr(tsr_diag_msg(&d), "dateTime"));
    /* The monitor wakes up right after the bound. */
    int64_t b = tsr_policy_next_boundary(f->pc, a, ME, T2026);
    assert_true(b >= until && b <= until + 1);
    assert_true(tsr_policy_next_boundary(f->pc, a, ME, until + 10) == TSR_ODRL_TIME_UNSET);
    tsr_store_agreement_free(a);
}

/* One use per minute: too soon is refused, but the agreement still holds. */
static void test_pacing(void **state)
{
    struct fixture *f = *state;
    struct tsr_store_agreement *a = NULL;
    const struct tsr_odrl_policy *p = NULL;
    struct tsr_diag d = {0};

    add_agreement(f, "urn:uuid:ag4",
                  "{\"@id\":\"urn:uuid:ag4\",\"@type\":\"Agreement\",\"target\":\"a1\","
                  "\"assignee\":\"" ME "\",\"permission\":[{\"action\":\"use\",\"constraint\":"
                  "[{\"leftOperand\":\"timeInterval\",\"operator\":\"eq\",\"rightOperand\":"
                  "{\"@value\":\"PT1M\",\"@type\":\"xsd:duration\"}}]}]}",
                  T2026);
    assert_int_equal(tsr_policy_agreement(f->pc, "urn:uuid:ag4", &p, &a, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 1000, true, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 2000, true, &d), TSR_EPOLICY);
    assert_non_null(strstr(tsr_diag_msg(&d), "timeInterval"));
    assert_int_equal(tsr_policy_holds(f->pc, a, ME, T2026 + 2000, &d), 0);
    assert_int_equal(tsr_policy_use(f->pc, a, ME, T2026 + 62000, true, &d), 0);
    tsr_store_agreement_free(a);
}

static void test_reason(void **state)
{
    struct fixture *f = *state;
    struct tsr_odrl_policy *p = NULL;
    struct tsr_odrl_request rq;
    struct tsr_odrl_decision *dec = calloc(1, sizeof(*dec));
    char buf[200];
    const char *json = "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":"
                       "\"spatial\",\"operator\":\"eq\",\"rightOperand\":\"EU\"}]}]}";

    assert_non_null(dec);
    assert_int_equal(tsr_policy_compile(f->pc, json, strlen(json), &p, NULL), 0);
    tsr_odrl_request_init(&rq);
    rq.action = "use";
    rq.spatial = "US";
    rq.now_ms = T2026;
    assert_int_equal(tsr_odrl_eval(p, &rq, dec), 0);
    tsr_policy_reason(dec, buf, sizeof(buf));
    assert_non_null(strstr(buf, "spatial eq EU unsatisfied (actual US)"));
    rq.spatial = "EU";
    assert_int_equal(tsr_odrl_eval(p, &rq, dec), 0);
    tsr_policy_reason(dec, buf, sizeof(buf));
    assert_null(strstr(buf, "unsatisfied"));
    tsr_odrl_policy_free(p);
    /* A pre-duty the provider cannot see fulfilled is named. */
    json = "{\"permission\":[{\"action\":\"use\",\"duty\":[{\"action\":\"compensate\"}]}]}";
    assert_int_equal(tsr_policy_compile(f->pc, json, strlen(json), &p, NULL), 0);
    rq.spatial = NULL;
    assert_int_equal(tsr_odrl_eval(p, &rq, dec), 0);
    tsr_policy_reason(dec, buf, sizeof(buf));
    assert_non_null(strstr(buf, "pre-duty http://www.w3.org/ns/odrl/2/compensate"));
    tsr_odrl_policy_free(p);
    json = "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":"
           "\"spatial\",\"operator\":\"eq\",\"rightOperand\":\"EU\"}]}]}";
    assert_int_equal(tsr_policy_compile(f->pc, json, strlen(json), &p, NULL), 0);
    /* Truncates, never overflows. */
    rq.spatial = NULL;
    assert_int_equal(tsr_odrl_eval(p, &rq, dec), 0);
    tsr_policy_reason(dec, buf, 8);
    assert_int_equal(strlen(buf), 7);
    tsr_odrl_policy_free(p);
    free(dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agreement_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offer_visibility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_use_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_use_consumer_constraints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_use_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pacing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reason, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
