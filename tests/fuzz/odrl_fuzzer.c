/*
 * tests/fuzz/odrl_fuzzer.c: libFuzzer target for the ODRL engine
 * (contracts/odrl_parse.c, odrl_eval.c, odrl.c): policy compilation from
 * untrusted JSON (any shape, any prefix, references, hostile sizes), then
 * evaluation of a few requests against whatever compiled, and the
 * decision's text and JSON output.
 *
 * Input: byte 0 selects the request variations (action, times, counts,
 * named values, facts, duty states); the rest is the policy document.
 *
 * Besides "no crash, no leak" it checks, aborting when one fails so
 * libFuzzer reports it:
 *   - a policy compiled under tight limits also compiles under the
 *     defaults (limits only ever refuse more);
 *   - a refusal comes with a message, a success without;
 *   - evaluation is deterministic (same request, same decision) and its
 *     counts stay within the report arrays;
 *   - next_boundary is after "now" or unset.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "contracts/odrl.h"
#include "lib/buf.h"
#include "lib/mem.h"

/* Larger inputs only repeat what smaller ones reach, more slowly. */
#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tsr_odrl_registry *registry;

static void fail(const char *what)
{
    fprintf(stderr, "odrl_fuzzer: property violated: %s\n", what);
    abort();
}

static bool facts_cb(void *arg, enum tsr_odrl_rel rel, const char *s, const char *o)
{
    (void)arg;
    (void)rel;
    /* Something deterministic that depends on both strings. */
    return strlen(s) % 3 == strlen(o) % 3;
}

static void check_decision(const struct tsr_odrl_decision *d)
{
    if (d->n_rules > TSR_ODRL_MAX_RULE_REPORTS ||
        d->n_constraints > TSR_ODRL_MAX_CONSTRAINT_REPORTS || d->n_pending > TSR_ODRL_MAX_PENDING)
        fail("report counts beyond their arrays");
    if (d->why == NULL)
        fail("a decision without a reason");
    if (d->decided_by >= (int)d->n_rules)
        fail("decided_by names no rule report");
    for (size_t i = 0; i < d->n_constraints; i++) {
        const struct tsr_odrl_constraint_report *c = &d->constraints[i];
        if (c->operand == NULL || c->right == NULL ||
            strnlen(c->actual, sizeof(c->actual)) == sizeof(c->actual))
            fail("constraint report with a missing string");
        (void)strlen(c->operand);
        (void)strlen(c->right);
    }
    for (size_t i = 0; i < d->n_pending; i++) {
        if (d->pending[i].action_iri == NULL || d->pending[i].duty == NULL)
            fail("pending duty without action");
        (void)tsr_odrl_duty_param(d->pending[i].duty, "payAmount");
    }
}

static void evaluate(const struct tsr_odrl_policy *p, uint8_t sel)
{
    static const char *const actions[] = {
        "use", "read", "odrl:print", "http://www.w3.org/ns/odrl/2/distribute", "access",
        "write", "sell", "cx-policy:access",
    };
    static const struct tsr_odrl_named named[] = {
        {"payAmount", "5.00"}, {"resolution", "1200"}, {"Membership", "active"},
        {"FrameworkAgreement", "DataExchangeGovernance:1.0"}, {"fileFormat", "pdf"},
        {"fileFormat", "csv"}, {"purpose", "x"}, {"language", "not-a-number"},
    };
    static const struct tsr_odrl_fact facts[] = {
        {TSR_ODRL_REL_PART_OF, "DE", "EU"},
        {TSR_ODRL_REL_PART_OF, "EU", "DE"}, /* a cycle: hops are bounded */
        {TSR_ODRL_REL_IS_A, "urn:a", "urn:b"},
    };
    static const struct tsr_odrl_duty_fact duties[] = {
        {"compensate", TSR_ODRL_DUTY_FULFILLED},
        {"delete", TSR_ODRL_DUTY_VIOLATED},
        {"urn:duty:1", TSR_ODRL_DUTY_UNKNOWN},
    };
    static struct tsr_odrl_decision d1, d2;
    struct tsr_odrl_request r;
    struct tsr_buf b;

    tsr_odrl_request_init(&r);
    r.action = actions[sel % TSR_ARRAY_SIZE(actions)];
    if (sel & 0x08) {
        r.now_ms = 1780000000000LL;
        r.agreement_ms = 1770000000000LL;
        r.last_use_ms = 1779990000000LL;
    }
    if (sel & 0x10)
        r.first_use_ms = 1775000000000LL;
    r.use_count = (sel & 0x20) ? UINT64_MAX : sel % 5;
    r.assignee = "did:web:alice";
    r.target = (sel & 0x40) ? NULL : "urn:asset";
    r.purpose = "x";
    r.spatial = "DE";
    r.recipient = "did:web:bob";
    r.named = named;
    r.n_named = TSR_ARRAY_SIZE(named);
    r.facts = facts;
    r.n_facts = TSR_ARRAY_SIZE(facts);
    r.related = (sel & 0x80) ? facts_cb : NULL;
    r.duties = duties;
    r.n_duties = TSR_ARRAY_SIZE(duties);

    int rc1 = tsr_odrl_eval(p, &r, &d1);
    int rc2 = tsr_odrl_eval(p, &r, &d2);
    if (rc1 != rc2 || d1.effect != d2.effect || d1.n_constraints != d2.n_constraints ||
        d1.n_pending != d2.n_pending)
        fail("evaluation is not deterministic");
    if (rc1 != 0 && rc1 != TSR_EINVAL)
        fail("tsr_odrl_eval: unexpected code");
    if (rc1 != 0 && d1.effect == TSR_ODRL_PERMIT)
        fail("a failed evaluation permits");
    check_decision(&d1);

    tsr_buf_init(&b, 1 << 20);
    rc1 = tsr_odrl_decision_text(&d1, &b);
    if (rc1 != 0 && rc1 != TSR_ENOMEM)
        fail("decision text failed");
    tsr_buf_cleanup(&b);
    json_t *j = tsr_odrl_decision_json(&d1);
    json_decref(j);

    int64_t nb = tsr_odrl_next_boundary(p, &r);
    if (nb != TSR_ODRL_TIME_UNSET && (r.now_ms == TSR_ODRL_TIME_UNSET || nb <= r.now_ms))
        fail("next boundary not after now");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct tsr_odrl_options tight_base = {
        NULL, TSR_ODRL_TIMING_AUTO, false, 4096, 3, 4, 16, 8, 64,
    };
    struct tsr_odrl_options tight = tight_base, defaults;
    struct tsr_odrl_policy *p = NULL, *pt = NULL;
    struct tsr_diag d;

    if (size < 1 || size > MAX_INPUT)
        return -1;
    if (registry == NULL) {
        registry = tsr_odrl_registry_new();
        if (registry == NULL || tsr_odrl_registry_add_catenax(registry) != 0 ||
            tsr_odrl_registry_add_operand(registry, "https://ex.org/dayOfWeek", NULL,
                                          TSR_ODRL_T_STRING, TSR_ODRL_SRC_NAMED) != 0)
            abort();
    }
    uint8_t sel = data[0];
    const char *doc = (const char *)data + 1;
    size_t len = size - 1;

    memset(&defaults, 0, sizeof(defaults));
    defaults.registry = registry;
    defaults.default_timing = (enum tsr_odrl_timing)(sel % 3);
    defaults.allow_no_action = (sel & 0x04) != 0;
    tight.registry = registry;
    tight.default_timing = defaults.default_timing;
    tight.allow_no_action = defaults.allow_no_action;

    tsr_diag_clear(&d);
    int rc = tsr_odrl_parse(doc, len, &defaults, &p, &d);
    if ((rc == 0) != (p != NULL))
        fail("tsr_odrl_parse: return code and *out disagree");
    if (rc != 0 && d.msg[0] == '\0')
        fail("a refusal without a message");
    int rct = tsr_odrl_parse(doc, len, &tight, &pt, &d);
    if (rct == 0 && rc != 0)
        fail("compiled under tight limits, refused under the defaults");
    tsr_odrl_policy_free(pt);
    if (rc != 0)
        return 0;
    (void)tsr_odrl_policy_id(p);
    evaluate(p, sel);
    evaluate(p, (uint8_t)(sel ^ 0xff));
    tsr_odrl_policy_free(p);
    return 0;
}
