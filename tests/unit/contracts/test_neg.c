/*
 * tests/unit/contracts/test_neg.c: the contract negotiation state machine
 * answers every (state, message, sender) exactly as the DSP 2025-1 state
 * machine says, written out here independently of contracts/neg.c.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "contracts/neg.h"
#include "lib/err.h"

#define C TSR_NEG_CONSUMER
#define P TSR_NEG_PROVIDER

/*
 * Every legal transition of contract.negotiation.protocol's state machine
 * (transitions marked C are consumer messages, P provider ones), plus the
 * creation of a negotiation from INITIAL by a request or an offer.
 */
static const struct {
    enum tsr_neg_state from;
    enum tsr_neg_msg msg;
    enum tsr_neg_role who;
    enum tsr_neg_state to;
} legal[] = {
    {TSR_NEG_INITIAL, TSR_NEG_MSG_CONTRACT_REQUEST, C, TSR_NEG_REQUESTED},
    {TSR_NEG_OFFERED, TSR_NEG_MSG_CONTRACT_REQUEST, C, TSR_NEG_REQUESTED},
    {TSR_NEG_INITIAL, TSR_NEG_MSG_CONTRACT_OFFER, P, TSR_NEG_OFFERED},
    {TSR_NEG_REQUESTED, TSR_NEG_MSG_CONTRACT_OFFER, P, TSR_NEG_OFFERED},
    {TSR_NEG_OFFERED, TSR_NEG_MSG_EVENT_ACCEPTED, C, TSR_NEG_ACCEPTED},
    {TSR_NEG_REQUESTED, TSR_NEG_MSG_AGREEMENT, P, TSR_NEG_AGREED},
    {TSR_NEG_ACCEPTED, TSR_NEG_MSG_AGREEMENT, P, TSR_NEG_AGREED},
    {TSR_NEG_AGREED, TSR_NEG_MSG_AGREEMENT_VERIFICATION, C, TSR_NEG_VERIFIED},
    {TSR_NEG_VERIFIED, TSR_NEG_MSG_EVENT_FINALIZED, P, TSR_NEG_FINALIZED},
    {TSR_NEG_REQUESTED, TSR_NEG_MSG_TERMINATION, C, TSR_NEG_TERMINATED},
    {TSR_NEG_REQUESTED, TSR_NEG_MSG_TERMINATION, P, TSR_NEG_TERMINATED},
    {TSR_NEG_OFFERED, TSR_NEG_MSG_TERMINATION, C, TSR_NEG_TERMINATED},
    {TSR_NEG_OFFERED, TSR_NEG_MSG_TERMINATION, P, TSR_NEG_TERMINATED},
    {TSR_NEG_ACCEPTED, TSR_NEG_MSG_TERMINATION, C, TSR_NEG_TERMINATED},
    {TSR_NEG_ACCEPTED, TSR_NEG_MSG_TERMINATION, P, TSR_NEG_TERMINATED},
    {TSR_NEG_AGREED, TSR_NEG_MSG_TERMINATION, C, TSR_NEG_TERMINATED},
    {TSR_NEG_AGREED, TSR_NEG_MSG_TERMINATION, P, TSR_NEG_TERMINATED},
    {TSR_NEG_VERIFIED, TSR_NEG_MSG_TERMINATION, C, TSR_NEG_TERMINATED},
    {TSR_NEG_VERIFIED, TSR_NEG_MSG_TERMINATION, P, TSR_NEG_TERMINATED},
};

/* The retries neg.h promises to acknowledge again. */
static const struct {
    enum tsr_neg_state cur;
    enum tsr_neg_msg msg;
    enum tsr_neg_role who;
} repeats[] = {
    {TSR_NEG_ACCEPTED, TSR_NEG_MSG_EVENT_ACCEPTED, C},
    {TSR_NEG_AGREED, TSR_NEG_MSG_AGREEMENT, P},
    {TSR_NEG_VERIFIED, TSR_NEG_MSG_AGREEMENT_VERIFICATION, C},
    {TSR_NEG_FINALIZED, TSR_NEG_MSG_EVENT_FINALIZED, P},
    {TSR_NEG_TERMINATED, TSR_NEG_MSG_TERMINATION, C},
    {TSR_NEG_TERMINATED, TSR_NEG_MSG_TERMINATION, P},
};

static void test_every_combination(void **state)
{
    int n_legal = 0;

    (void)state;
    for (int s = 0; s < TSR_NEG_STATE_COUNT; s++) {
        for (int m = 0; m < TSR_NEG_MSG_COUNT; m++) {
            for (int r = 0; r < TSR_NEG_ROLE_COUNT; r++) {
                const int sentinel = 99;
                enum tsr_neg_state next = (enum tsr_neg_state)sentinel;
                int want = -1;
                int rc;

                for (size_t i = 0; i < TSR_ARRAY_SIZE(legal); i++) {
                    if ((int)legal[i].from == s && (int)legal[i].msg == m &&
                        (int)legal[i].who == r)
                        want = (int)legal[i].to;
                }
                rc = tsr_neg_next((enum tsr_neg_state)s, (enum tsr_neg_msg)m,
                                  (enum tsr_neg_role)r, &next);
                if (want >= 0) {
                    n_legal++;
                    if (rc != 0 || (int)next != want)
                        fail_msg("%s by %s in %s: got rc %d next %d, want %s",
                                 tsr_neg_msg_name((enum tsr_neg_msg)m),
                                 tsr_neg_role_name((enum tsr_neg_role)r),
                                 tsr_neg_state_name((enum tsr_neg_state)s), rc, (int)next,
                                 tsr_neg_state_name((enum tsr_neg_state)want));
                } else {
                    if (rc != TSR_ESTATE || (int)next != sentinel)
                        fail_msg("%s by %s in %s: allowed (rc %d), want refused",
                                 tsr_neg_msg_name((enum tsr_neg_msg)m),
                                 tsr_neg_role_name((enum tsr_neg_role)r),
                                 tsr_neg_state_name((enum tsr_neg_state)s), rc);
                }
            }
        }
    }
    assert_int_equal(n_legal, (int)TSR_ARRAY_SIZE(legal));
}

static void test_out_of_range(void **state)
{
    enum tsr_neg_state next = TSR_NEG_INITIAL;

    (void)state;
    assert_int_equal(tsr_neg_next((enum tsr_neg_state)TSR_NEG_STATE_COUNT,
                                  TSR_NEG_MSG_TERMINATION, C, &next),
                     TSR_ESTATE);
    assert_int_equal(tsr_neg_next((enum tsr_neg_state)-1, TSR_NEG_MSG_TERMINATION, C, &next),
                     TSR_ESTATE);
    assert_int_equal(tsr_neg_next(TSR_NEG_REQUESTED, (enum tsr_neg_msg)TSR_NEG_MSG_COUNT, C,
                                  &next),
                     TSR_ESTATE);
    assert_int_equal(tsr_neg_next(TSR_NEG_REQUESTED, TSR_NEG_MSG_TERMINATION,
                                  (enum tsr_neg_role)2, &next),
                     TSR_ESTATE);
    assert_int_equal(next, TSR_NEG_INITIAL);
    assert_false(tsr_neg_is_repeat((enum tsr_neg_state)42, TSR_NEG_MSG_TERMINATION, C));
    assert_string_equal(tsr_neg_state_name((enum tsr_neg_state)42), "?");
    assert_string_equal(tsr_neg_msg_name((enum tsr_neg_msg)42), "?");
    assert_string_equal(tsr_neg_role_name((enum tsr_neg_role)42), "?");
}

static void test_terminal(void **state)
{
    (void)state;
    for (int s = 0; s < TSR_NEG_STATE_COUNT; s++) {
        bool want = s == TSR_NEG_FINALIZED || s == TSR_NEG_TERMINATED;

        assert_int_equal(tsr_neg_is_terminal((enum tsr_neg_state)s), want);
        if (want) {
            /* nothing leaves a terminal state */
            for (int m = 0; m < TSR_NEG_MSG_COUNT; m++) {
                for (int r = 0; r < TSR_NEG_ROLE_COUNT; r++) {
                    enum tsr_neg_state next;

                    assert_int_equal(tsr_neg_next((enum tsr_neg_state)s, (enum tsr_neg_msg)m,
                                                  (enum tsr_neg_role)r, &next),
                                     TSR_ESTATE);
                }
            }
        }
    }
}

static void test_repeat(void **state)
{
    int n = 0;

    (void)state;
    for (int s = 0; s < TSR_NEG_STATE_COUNT; s++) {
        for (int m = 0; m < TSR_NEG_MSG_COUNT; m++) {
            for (int r = 0; r < TSR_NEG_ROLE_COUNT; r++) {
                bool want = false;

                for (size_t i = 0; i < TSR_ARRAY_SIZE(repeats); i++) {
                    if ((int)repeats[i].cur == s && (int)repeats[i].msg == m &&
                        (int)repeats[i].who == r)
                        want = true;
                }
                if (tsr_neg_is_repeat((enum tsr_neg_state)s, (enum tsr_neg_msg)m,
                                      (enum tsr_neg_role)r) != want)
                    fail_msg("is_repeat(%s, %s, %s) should be %d",
                             tsr_neg_state_name((enum tsr_neg_state)s),
                             tsr_neg_msg_name((enum tsr_neg_msg)m),
                             tsr_neg_role_name((enum tsr_neg_role)r), want);
                n += want;
            }
        }
    }
    assert_int_equal(n, (int)TSR_ARRAY_SIZE(repeats));
}

/* Drive a sequence; returns the final state, or fails on the first refused step. */
struct step {
    enum tsr_neg_msg msg;
    enum tsr_neg_role who;
};

static enum tsr_neg_state run(const struct step *steps, size_t n)
{
    enum tsr_neg_state s = TSR_NEG_INITIAL;

    for (size_t i = 0; i < n; i++) {
        enum tsr_neg_state next;

        if (tsr_neg_next(s, steps[i].msg, steps[i].who, &next) != 0)
            fail_msg("step %zu (%s) refused in %s", i, tsr_neg_msg_name(steps[i].msg),
                     tsr_neg_state_name(s));
        s = next;
    }
    return s;
}

/* The conformance kit's scenarios (CN:01-03, CN:01-04, CN:01-02, CN:03-04). */
static void test_tck_scenarios(void **state)
{
    static const struct step full[] = {
        {TSR_NEG_MSG_CONTRACT_REQUEST, C}, {TSR_NEG_MSG_CONTRACT_OFFER, P},
        {TSR_NEG_MSG_EVENT_ACCEPTED, C},   {TSR_NEG_MSG_AGREEMENT, P},
        {TSR_NEG_MSG_AGREEMENT_VERIFICATION, C}, {TSR_NEG_MSG_EVENT_FINALIZED, P},
    };
    static const struct step direct[] = {
        {TSR_NEG_MSG_CONTRACT_REQUEST, C},
        {TSR_NEG_MSG_AGREEMENT, P},
        {TSR_NEG_MSG_AGREEMENT_VERIFICATION, C},
        {TSR_NEG_MSG_EVENT_FINALIZED, P},
    };
    static const struct step counter[] = {
        {TSR_NEG_MSG_CONTRACT_REQUEST, C},
        {TSR_NEG_MSG_CONTRACT_OFFER, P},
        {TSR_NEG_MSG_CONTRACT_REQUEST, C},
        {TSR_NEG_MSG_TERMINATION, P},
    };
    enum tsr_neg_state next;
    struct tsr_diag d;

    (void)state;
    assert_int_equal(run(full, TSR_ARRAY_SIZE(full)), TSR_NEG_FINALIZED);
    assert_int_equal(run(direct, TSR_ARRAY_SIZE(direct)), TSR_NEG_FINALIZED);
    assert_int_equal(run(counter, TSR_ARRAY_SIZE(counter)), TSR_NEG_TERMINATED);
    /* CN:03-04: a second counter-request in REQUESTED is refused, and not a retry */
    assert_int_equal(run(counter, 3), TSR_NEG_REQUESTED);
    assert_int_equal(tsr_neg_next(TSR_NEG_REQUESTED, TSR_NEG_MSG_CONTRACT_REQUEST, C, &next),
                     TSR_ESTATE);
    assert_false(tsr_neg_is_repeat(TSR_NEG_REQUESTED, TSR_NEG_MSG_CONTRACT_REQUEST, C));
    /* CN:03-01: termination after FINALIZED is an error */
    assert_int_equal(tsr_neg_next(TSR_NEG_FINALIZED, TSR_NEG_MSG_TERMINATION, C, &next),
                     TSR_ESTATE);
    /* CN_C:03-05: a new offer after ACCEPTED is an error */
    assert_int_equal(tsr_neg_check(TSR_NEG_ACCEPTED, TSR_NEG_MSG_CONTRACT_OFFER, P, &next, &d),
                     TSR_ESTATE);
    assert_int_equal(d.code, TSR_ESTATE);
    assert_string_equal(d.msg, "ContractOfferMessage from the provider is not allowed in state "
                               "ACCEPTED");
}

static void test_check_messages(void **state)
{
    enum tsr_neg_state next = TSR_NEG_INITIAL;
    struct tsr_diag d;

    (void)state;
    tsr_diag_clear(&d);
    assert_int_equal(tsr_neg_check(TSR_NEG_AGREED, TSR_NEG_MSG_AGREEMENT_VERIFICATION, C, &next,
                                   &d),
                     0);
    assert_int_equal(next, TSR_NEG_VERIFIED);
    assert_string_equal(d.msg, "");
    assert_int_equal(tsr_neg_check(TSR_NEG_REQUESTED, TSR_NEG_MSG_AGREEMENT, C, &next, &d),
                     TSR_ESTATE);
    assert_string_equal(d.msg, "ContractAgreementMessage is never sent by the consumer");
    assert_int_equal(tsr_neg_check(TSR_NEG_INITIAL, TSR_NEG_MSG_TERMINATION, P, &next, &d),
                     TSR_ESTATE);
    assert_string_equal(d.msg, "ContractNegotiationTerminationMessage cannot start a contract "
                               "negotiation");
    assert_int_equal(tsr_neg_check(TSR_NEG_OFFERED, TSR_NEG_MSG_EVENT_FINALIZED, P, &next, NULL),
                     TSR_ESTATE);
    assert_int_equal(next, TSR_NEG_VERIFIED);
}

static void test_names(void **state)
{
    static const char *const wire[] = {"REQUESTED", "OFFERED",   "ACCEPTED",  "AGREED",
                                       "VERIFIED",  "FINALIZED", "TERMINATED"};
    static const char *const prefixes[] = {"", "dspace:", "https://w3id.org/dspace/2025/1/",
                                           "https://w3id.org/dspace/2024/1/",
                                           "https://w3id.org/dspace/v0.8/"};
    enum tsr_neg_state s;

    (void)state;
    assert_string_equal(tsr_neg_state_name(TSR_NEG_INITIAL), "INITIAL");
    for (size_t i = 0; i < TSR_ARRAY_SIZE(wire); i++) {
        assert_string_equal(tsr_neg_state_name((enum tsr_neg_state)(i + 1)), wire[i]);
        for (size_t j = 0; j < TSR_ARRAY_SIZE(prefixes); j++) {
            char buf[128];

            snprintf(buf, sizeof(buf), "%s%s", prefixes[j], wire[i]);
            s = TSR_NEG_INITIAL;
            assert_int_equal(tsr_neg_state_parse(buf, &s), 0);
            assert_int_equal(s, (enum tsr_neg_state)(i + 1));
        }
    }
    s = TSR_NEG_AGREED;
    assert_int_equal(tsr_neg_state_parse("INITIAL", &s), TSR_EINVAL);
    assert_int_equal(tsr_neg_state_parse("requested", &s), TSR_EINVAL);
    assert_int_equal(tsr_neg_state_parse("dspace:", &s), TSR_EINVAL);
    assert_int_equal(tsr_neg_state_parse("odrl:REQUESTED", &s), TSR_EINVAL);
    assert_int_equal(tsr_neg_state_parse("https://w3id.org/dspace/2025/1/STARTED", &s),
                     TSR_EINVAL);
    assert_int_equal(tsr_neg_state_parse("REQUESTEDX", &s), TSR_EINVAL);
    assert_int_equal(tsr_neg_state_parse("", &s), TSR_EINVAL);
    assert_int_equal(tsr_neg_state_parse(NULL, &s), TSR_EINVAL);
    assert_int_equal(s, TSR_NEG_AGREED);
    assert_string_equal(tsr_neg_role_name(C), "consumer");
    assert_string_equal(tsr_neg_role_name(P), "provider");
    assert_string_equal(tsr_neg_msg_name(TSR_NEG_MSG_CONTRACT_REQUEST), "ContractRequestMessage");
    assert_string_equal(tsr_neg_msg_name(TSR_NEG_MSG_EVENT_FINALIZED),
                        "ContractNegotiationEventMessage FINALIZED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_combination),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_terminal),
        cmocka_unit_test(test_repeat),
        cmocka_unit_test(test_tck_scenarios),
        cmocka_unit_test(test_check_messages),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
