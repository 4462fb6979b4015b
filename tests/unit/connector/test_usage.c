/*
 * tests/unit/connector/test_usage.c: consumer-side usage control without a
 * network: data stored under an agreement is used through
 * tsr_usage_open, which decides each use against the agreement (count,
 * purpose, time window) and records uses and refusals in the ledger; the
 * agreement's delete duty runs from the timer, and one that fell due
 * while the daemon was down runs when the next one starts.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "connector/policy.h"
#include "connector/store.h"
#include "connector/usage.h"
#include "contracts/ledger.h"
#include "contracts/vault.h"
#include "lib/crypto.h"
#include "lib/jose.h"
#include "lib/mem.h"
#include "lib/time.h"

#define ME "did:web:consumer.example"
#define PEER "did:web:provider.example"

struct fx {
    char dir[64];
    struct event_base *base;
    struct tsr_store *st;
    struct tsr_policy *pc;
    struct tsr_key *key;
    struct tsr_usage *u;
};

static int start(struct fx *f)
{
    struct tsr_usage_opts o = {
        .base = f->base, .store = f->st, .policy = f->pc, .key = f->key, .did = ME,
        .state_dir = f->dir,
    };
    return tsr_usage_new(&o, &f->u, NULL);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char db[128];

    snprintf(f->dir, sizeof(f->dir), "/tmp/tsr-usage-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(db, sizeof(db), "%s/tesserad.db", f->dir);
    f->base = event_base_new();
    if (f->base == NULL || tsr_store_open(db, &f->st, NULL) != 0 ||
        (f->pc = tsr_policy_new(f->st)) == NULL ||
        tsr_key_generate(TSR_KEY_ES256, &f->key, NULL) != 0 || start(f) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    tsr_usage_free(f->u);
    tsr_policy_free(f->pc);
    tsr_store_close(f->st);
    tsr_key_free(f->key);
    event_base_free(f->base);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* An agreement id with policy (the permission/obligation members as JSON text). */
static void agree(struct fx *f, const char *id, const char *rules)
{
    char neg[64], policy[2048];
    struct tsr_store_neg n = {
        .id = neg, .role = (char *)"consumer", .state = (char *)"VERIFIED",
        .consumer_pid = neg, .provider_pid = neg, .counterparty_did = (char *)PEER,
        .counterparty_url = (char *)"https://provider.example/dsp/2025-1",
    };
    struct tsr_store_agreement a = {
        .id = (char *)id, .asset_id = (char *)"data", .provider_did = (char *)PEER,
        .consumer_did = (char *)ME, .policy_json = policy,
    };

    snprintf(neg, sizeof(neg), "neg-%s", id);
    snprintf(policy, sizeof(policy),
             "{\"@type\":\"Agreement\",\"@id\":\"%s\",\"target\":\"data\",\"assigner\":\"%s\","
             "\"assignee\":\"%s\",%s}", id, PEER, ME, rules);
    assert_int_equal(tsr_store_neg_create(f->st, &n, NULL, NULL), 0);
    assert_int_equal(tsr_store_neg_agree(f->st, neg, "VERIFIED", "FINALIZED", &a, NULL, NULL), 0);
}

/* Store "hello" under agreement id as the pull does; the object id (new). */
static char *receive(struct fx *f, const char *id)
{
    struct tsr_vault_writer *w = NULL;
    char sha[TSR_SHA256_HEX_SIZE], *obj = NULL;

    assert_int_equal(tsr_vault_writer_new(tsr_usage_vault(f->u), id, "tp-1", NULL, &w, NULL), 0);
    assert_int_equal(tsr_vault_writer_write(w, "hello", 5, NULL), 0);
    assert_int_equal(tsr_vault_writer_finish(w, NULL, &obj, sha, NULL), 0);
    tsr_vault_writer_free(w);
    tsr_usage_received(f->u, id, "tp-1", obj, 5, sha);
    return obj;
}

/* One use: 0 with the bytes checked, or the refusal's code (reason in d). */
static int use(struct fx *f, const char *obj, const char *purpose, struct tsr_diag *d)
{
    struct tsr_vault_reader *r = NULL;
    char buf[16];
    bool eof = false;
    int rc = tsr_usage_open(f->u, obj, purpose, &r, NULL, d);

    if (rc != 0) {
        assert_null(r);
        return rc;
    }
    assert_int_equal(tsr_vault_reader_read(r, buf, sizeof(buf), &eof, NULL), 5);
    assert_memory_equal(buf, "hello", 5);
    tsr_vault_reader_free(r);
    return 0;
}

/* The events of agreement id in the ledger, as one string "receive,use,...". */
static void events(struct fx *f, const char *id, char *out, size_t size)
{
    json_t *j = NULL, *e;
    char dir[128];
    size_t i;

    snprintf(dir, sizeof(dir), "%s/ledger", f->dir);
    assert_int_equal(tsr_ledger_list(dir, id, 0, 0, &j, NULL), 0);
    out[0] = '\0';
    json_array_foreach(j, i, e) {
        size_t n = strlen(out);
        snprintf(out + n, size - n, "%s%s", n > 0 ? "," : "",
                 json_string_value(json_object_get(e, "event")));
    }
    json_decref(j);
}

static void test_count(void **state)
{
    struct fx *f = *state;
    struct tsr_diag d = {0};
    char ev[256];

    agree(f, "urn:uuid:count", "\"permission\":[{\"action\":\"use\",\"constraint\":[{"
                               "\"leftOperand\":\"count\",\"operator\":\"lteq\","
                               "\"rightOperand\":2}]}]");
    char *obj = receive(f, "urn:uuid:count");
    assert_int_equal(use(f, obj, NULL, &d), 0);
    assert_int_equal(use(f, obj, NULL, &d), 0);
    assert_int_equal(use(f, obj, NULL, &d), TSR_EPOLICY);
    assert_non_null(strstr(d.msg, "count"));
    events(f, "urn:uuid:count", ev, sizeof(ev));
    assert_string_equal(ev, "receive,use,use,refuse");
    /* The counter lives in the database: a new start keeps it. */
    tsr_usage_free(f->u);
    assert_int_equal(start(f), 0);
    assert_int_equal(use(f, obj, NULL, &d), TSR_EPOLICY);
    tsr_free(obj);
}

static void test_purpose_and_window(void **state)
{
    struct fx *f = *state;
    struct tsr_diag d = {0};
    char rules[512], past[TSR_TIME_STR_MAX];

    agree(f, "urn:uuid:purpose", "\"permission\":[{\"action\":\"use\",\"constraint\":[{"
                                 "\"leftOperand\":\"purpose\",\"operator\":\"eq\","
                                 "\"rightOperand\":\"research\"}]}]");
    char *obj = receive(f, "urn:uuid:purpose");
    assert_int_equal(use(f, obj, NULL, &d), TSR_EPOLICY);
    assert_int_equal(use(f, obj, "marketing", &d), TSR_EPOLICY);
    assert_int_equal(use(f, obj, "research", &d), 0);
    tsr_free(obj);

    tsr_time_format_ms(tsr_time_now_ms() - 1000, past, sizeof(past));
    snprintf(rules, sizeof(rules), "\"permission\":[{\"action\":\"use\",\"constraint\":[{"
             "\"leftOperand\":\"dateTime\",\"operator\":\"lteq\",\"rightOperand\":{"
             "\"@value\":\"%s\",\"@type\":\"xsd:dateTime\"}}]}]", past);
    agree(f, "urn:uuid:past", rules);
    obj = receive(f, "urn:uuid:past");
    assert_int_equal(use(f, obj, NULL, &d), TSR_EPOLICY);
    assert_non_null(strstr(d.msg, "dateTime"));
    tsr_free(obj);
    /* A prohibition of reading wins over the permission to use. */
    agree(f, "urn:uuid:prohibit", "\"permission\":[{\"action\":\"use\"}],"
                                  "\"prohibition\":[{\"action\":\"read\"}]");
    obj = receive(f, "urn:uuid:prohibit");
    assert_int_equal(use(f, obj, NULL, &d), TSR_EPOLICY);
    tsr_free(obj);
}

static void test_delete_duty_on_time(void **state)
{
    struct fx *f = *state;
    struct tsr_diag d = {0};
    struct timeval tv = {1, 500000};
    char ev[256];

    agree(f, "urn:uuid:del", "\"permission\":[{\"action\":\"use\",\"duty\":[{\"action\":"
                             "\"delete\",\"constraint\":[{\"leftOperand\":\"elapsedTime\","
                             "\"operator\":\"lteq\",\"rightOperand\":{\"@value\":\"PT1S\","
                             "\"@type\":\"xsd:duration\"}}]}]}]");
    char *obj = receive(f, "urn:uuid:del");
    assert_int_equal(use(f, obj, NULL, &d), 0);
    /* Nothing happens before the loop turns past the deadline. */
    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
    assert_int_equal(use(f, obj, NULL, &d), TSR_ENOTFOUND);
    events(f, "urn:uuid:del", ev, sizeof(ev));
    assert_string_equal(ev, "receive,use,duty:delete");
    tsr_free(obj);
}

static void test_delete_duty_overdue_at_start(void **state)
{
    struct fx *f = *state;
    struct tsr_diag d = {0};
    struct timeval tv = {0, 200000};
    char rules[512], soon[TSR_TIME_STR_MAX], ev[256];

    tsr_time_format_ms(tsr_time_now_ms() + 300, soon, sizeof(soon));
    snprintf(rules, sizeof(rules), "\"permission\":[{\"action\":\"use\",\"duty\":[{\"action\":"
             "\"delete\",\"constraint\":[{\"leftOperand\":\"dateTime\",\"operator\":\"lteq\","
             "\"rightOperand\":{\"@value\":\"%s\",\"@type\":\"xsd:dateTime\"}}]}]}]", soon);
    agree(f, "urn:uuid:down", rules);
    char *obj = receive(f, "urn:uuid:down");
    /* "Down": no loop runs while the deadline passes. */
    tsr_usage_free(f->u);
    f->u = NULL;
    struct timespec ts = {0, 500000000};
    nanosleep(&ts, NULL);
    assert_int_equal(start(f), 0);
    assert_int_equal(use(f, obj, NULL, &d), 0); /* the loop has not turned yet */
    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
    assert_int_equal(use(f, obj, NULL, &d), TSR_ENOTFOUND);
    events(f, "urn:uuid:down", ev, sizeof(ev));
    assert_string_equal(ev, "receive,use,duty:delete");
    tsr_free(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purpose_and_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_duty_on_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_duty_overdue_at_start, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
