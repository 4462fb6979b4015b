/*
 * tests/unit/contracts/test_tp.c: the transfer process state machine
 * answers every (state, message, sender) as DSP 2025-1 (protocol text,
 * HTTPS binding and the conformance kit's scenarios) says, written out
 * here independently of contracts/tp.c.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "contracts/tp.h"
#include "lib/err.h"

#define C TSR_TP_CONSUMER
#define P TSR_TP_PROVIDER

static const struct {
    enum tsr_tp_state from;
    enum tsr_tp_msg msg;
    enum tsr_tp_role who;
    enum tsr_tp_state to;
} legal[] = {
    {TSR_TP_INITIAL, TSR_TP_MSG_TRANSFER_REQUEST, C, TSR_TP_REQUESTED},
    {TSR_TP_REQUESTED, TSR_TP_MSG_START, P, TSR_TP_STARTED},
    {TSR_TP_SUSPENDED, TSR_TP_MSG_START, P, TSR_TP_STARTED},
    /* binding: the consumer may POST start "after it has been suspended" */
    {TSR_TP_SUSPENDED, TSR_TP_MSG_START, C, TSR_TP_STARTED},
    {TSR_TP_STARTED, TSR_TP_MSG_SUSPENSION, C, TSR_TP_SUSPENDED},
    {TSR_TP_STARTED, TSR_TP_MSG_SUSPENSION, P, TSR_TP_SUSPENDED},
    {TSR_TP_STARTED, TSR_TP_MSG_COMPLETION, C, TSR_TP_COMPLETED},
    {TSR_TP_STARTED, TSR_TP_MSG_COMPLETION, P, TSR_TP_COMPLETED},
    {TSR_TP_REQUESTED, TSR_TP_MSG_TERMINATION, C, TSR_TP_TERMINATED},
    {TSR_TP_REQUESTED, TSR_TP_MSG_TERMINATION, P, TSR_TP_TERMINATED},
    {TSR_TP_STARTED, TSR_TP_MSG_TERMINATION, C, TSR_TP_TERMINATED},
    {TSR_TP_STARTED, TSR_TP_MSG_TERMINATION, P, TSR_TP_TERMINATED},
    {TSR_TP_SUSPENDED, TSR_TP_MSG_TERMINATION, C, TSR_TP_TERMINATED},
    {TSR_TP_SUSPENDED, TSR_TP_MSG_TERMINATION, P, TSR_TP_TERMINATED},
};

static const struct {
    enum tsr_tp_state cur;
    enum tsr_tp_msg msg;
    enum tsr_tp_role who;
} repeats[] = {
    {TSR_TP_REQUESTED, TSR_TP_MSG_TRANSFER_REQUEST, C},
    {TSR_TP_STARTED, TSR_TP_MSG_START, P},
    {TSR_TP_STARTED, TSR_TP_MSG_START, C},
    {TSR_TP_SUSPENDED, TSR_TP_MSG_SUSPENSION, C},
    {TSR_TP_SUSPENDED, TSR_TP_MSG_SUSPENSION, P},
    {TSR_TP_COMPLETED, TSR_TP_MSG_COMPLETION, C},
    {TSR_TP_COMPLETED, TSR_TP_MSG_COMPLETION, P},
    {TSR_TP_TERMINATED, TSR_TP_MSG_TERMINATION, C},
    {TSR_TP_TERMINATED, TSR_TP_MSG_TERMINATION, P},
};

static void test_every_combination(void **state)
{
    int n_legal = 0;

    (void)state;
    for (int s = 0; s < TSR_TP_STATE_COUNT; s++) {
        for (int m = 0; m < TSR_TP_MSG_COUNT; m++) {
            for (int r = 0; r < TSR_TP_ROLE_COUNT; r++) {
                const int sentinel = 99;
                enum tsr_tp_state next = (enum tsr_tp_state)sentinel;
                int want = -1;
                int rc;

                for (size_t i = 0; i < TSR_ARRAY_SIZE(legal); i++) {
                    if ((int)legal[i].from == s && (int)legal[i].msg == m &&
                        (int)legal[i].who == r)
                        want = (int)legal[i].to;
                }
                rc = tsr_tp_next((enum tsr_tp_state)s, (enum tsr_tp_msg)m, (enum tsr_tp_role)r,
                                 &next);
                if (want >= 0) {
                    n_legal++;
                    if (rc != 0 || (int)next != want)
                        fail_msg("%s by %s in %s: got rc %d next %d, want %s",
                                 tsr_tp_msg_name((enum tsr_tp_msg)m),
                                 tsr_tp_role_name((enum tsr_tp_role)r),
                                 tsr_tp_state_name((enum tsr_tp_state)s), rc, (int)next,
                                 tsr_tp_state_name((enum tsr_tp_state)want));
                } else if (rc != TSR_ESTATE || (int)next != sentinel) {
                    fail_msg("%s by %s in %s: allowed (rc %d), want refused",
                             tsr_tp_msg_name((enum tsr_tp_msg)m),
                             tsr_tp_role_name((enum tsr_tp_role)r),
                             tsr_tp_state_name((enum tsr_tp_state)s), rc);
                }
            }
        }
    }
    assert_int_equal(n_legal, (int)TSR_ARRAY_SIZE(legal));
}

static void test_repeat(void **state)
{
    int n = 0;

    (void)state;
    for (int s = 0; s < TSR_TP_STATE_COUNT; s++) {
        for (int m = 0; m < TSR_TP_MSG_COUNT; m++) {
            for (int r = 0; r < TSR_TP_ROLE_COUNT; r++) {
                bool want = false;

                for (size_t i = 0; i < TSR_ARRAY_SIZE(repeats); i++) {
                    if ((int)repeats[i].cur == s && (int)repeats[i].msg == m &&
                        (int)repeats[i].who == r)
                        want = true;
                }
                if (tsr_tp_is_repeat((enum tsr_tp_state)s, (enum tsr_tp_msg)m,
                                     (enum tsr_tp_role)r) != want)
                    fail_msg("is_repeat(%s, %s, %s) should be %d",
                             tsr_tp_state_name((enum tsr_tp_state)s),
                             tsr_tp_msg_name((enum tsr_tp_msg)m),
                             tsr_tp_role_name((enum tsr_tp_role)r), want);
                n += want;
            }
        }
    }
    assert_int_equal(n, (int)TSR_ARRAY_SIZE(repeats));
}

static void test_terminal_and_range(void **state)
{
    enum tsr_tp_state next = TSR_TP_INITIAL;

    (void)state;
    for (int s = 0; s < TSR_TP_STATE_COUNT; s++)
        assert_int_equal(tsr_tp_is_terminal((enum tsr_tp_state)s),
                         s == TSR_TP_COMPLETED || s == TSR_TP_TERMINATED);
    assert_int_equal(tsr_tp_next((enum tsr_tp_state)TSR_TP_STATE_COUNT, TSR_TP_MSG_TERMINATION,
                                 C, &next),
                     TSR_ESTATE);
    assert_int_equal(tsr_tp_next(TSR_TP_STARTED, (enum tsr_tp_msg)-1, C, &next), TSR_ESTATE);
    assert_int_equal(tsr_tp_next(TSR_TP_STARTED, TSR_TP_MSG_COMPLETION, (enum tsr_tp_role)7,
                                 &next),
                     TSR_ESTATE);
    assert_int_equal(next, TSR_TP_INITIAL);
    assert_false(tsr_tp_is_repeat(TSR_TP_STARTED, (enum tsr_tp_msg)9, C));
    assert_string_equal(tsr_tp_state_name((enum tsr_tp_state)9), "?");
    assert_string_equal(tsr_tp_msg_name((enum tsr_tp_msg)9), "?");
}

struct step {
    enum tsr_tp_msg msg;
    enum tsr_tp_role who;
};

/* Run steps; returns the index of the first refused one, or n. */
static size_t run(const struct step *steps, size_t n, enum tsr_tp_state *end)
{
    enum tsr_tp_state s = TSR_TP_INITIAL;
    size_t i;

    for (i = 0; i < n; i++) {
        enum tsr_tp_state next;

        if (tsr_tp_next(s, steps[i].msg, steps[i].who, &next) != 0)
            break;
        s = next;
    }
    *end = s;
    return i;
}

/* The conformance kit's transfer scenarios: TP:01-04, TP:02-04 and the negative TP:03-0x. */
static void test_tck_scenarios(void **state)
{
    static const struct step resume_p[] = {
        {TSR_TP_MSG_TRANSFER_REQUEST, C}, {TSR_TP_MSG_START, P}, {TSR_TP_MSG_SUSPENSION, P},
        {TSR_TP_MSG_START, P},            {TSR_TP_MSG_COMPLETION, P},
    };
    static const struct step resume_c[] = {
        {TSR_TP_MSG_TRANSFER_REQUEST, C}, {TSR_TP_MSG_START, P}, {TSR_TP_MSG_SUSPENSION, C},
        {TSR_TP_MSG_START, C},            {TSR_TP_MSG_COMPLETION, C},
    };
    static const struct step complete_early[] = {
        {TSR_TP_MSG_TRANSFER_REQUEST, C},
        {TSR_TP_MSG_COMPLETION, C},
    };
    static const struct step suspend_early[] = {
        {TSR_TP_MSG_TRANSFER_REQUEST, C},
        {TSR_TP_MSG_SUSPENSION, P},
    };
    static const struct step complete_suspended[] = {
        {TSR_TP_MSG_TRANSFER_REQUEST, C}, {TSR_TP_MSG_START, P},
        {TSR_TP_MSG_SUSPENSION, C},       {TSR_TP_MSG_COMPLETION, C},
    };
    static const struct step start_terminated[] = {
        {TSR_TP_MSG_TRANSFER_REQUEST, C}, {TSR_TP_MSG_START, P},
        {TSR_TP_MSG_TERMINATION, C},      {TSR_TP_MSG_START, C},
    };
    static const struct step consumer_first_start[] = {
        {TSR_TP_MSG_TRANSFER_REQUEST, C},
        {TSR_TP_MSG_START, C},
    };
    enum tsr_tp_state end;
    struct tsr_diag d;

    (void)state;
    assert_int_equal(run(resume_p, 5, &end), 5);
    assert_int_equal(end, TSR_TP_COMPLETED);
    assert_int_equal(run(resume_c, 5, &end), 5);
    assert_int_equal(end, TSR_TP_COMPLETED);
    assert_int_equal(run(complete_early, 2, &end), 1);
    assert_int_equal(end, TSR_TP_REQUESTED);
    assert_int_equal(run(suspend_early, 2, &end), 1);
    assert_int_equal(run(complete_suspended, 4, &end), 3);
    assert_int_equal(end, TSR_TP_SUSPENDED);
    assert_int_equal(run(start_terminated, 4, &end), 3);
    assert_int_equal(end, TSR_TP_TERMINATED);
    assert_int_equal(run(consumer_first_start, 2, &end), 1);

    assert_int_equal(tsr_tp_check(TSR_TP_SUSPENDED, TSR_TP_MSG_COMPLETION, P, &end, &d),
                     TSR_ESTATE);
    assert_string_equal(d.msg, "TransferCompletionMessage from the provider is not allowed in "
                               "state SUSPENDED");
    assert_int_equal(tsr_tp_check(TSR_TP_REQUESTED, TSR_TP_MSG_TRANSFER_REQUEST, P, &end, &d),
                     TSR_ESTATE);
    assert_string_equal(d.msg, "TransferRequestMessage is never sent by the provider");
    assert_int_equal(tsr_tp_check(TSR_TP_INITIAL, TSR_TP_MSG_START, P, &end, &d), TSR_ESTATE);
    assert_string_equal(d.msg, "TransferStartMessage cannot start a transfer process");
    assert_int_equal(tsr_tp_check(TSR_TP_REQUESTED, TSR_TP_MSG_START, P, &end, &d), 0);
    assert_int_equal(end, TSR_TP_STARTED);
}

static void test_names(void **state)
{
    static const char *const wire[] = {"REQUESTED", "STARTED", "SUSPENDED", "COMPLETED",
                                       "TERMINATED"};
    enum tsr_tp_state s;

    (void)state;
    assert_string_equal(tsr_tp_state_name(TSR_TP_INITIAL), "INITIAL");
    for (size_t i = 0; i < TSR_ARRAY_SIZE(wire); i++) {
        char buf[96];

        assert_string_equal(tsr_tp_state_name((enum tsr_tp_state)(i + 1)), wire[i]);
        assert_int_equal(tsr_tp_state_parse(wire[i], &s), 0);
        assert_int_equal(s, (enum tsr_tp_state)(i + 1));
        snprintf(buf, sizeof(buf), "dspace:%s", wire[i]);
        assert_int_equal(tsr_tp_state_parse(buf, &s), 0);
        assert_int_equal(s, (enum tsr_tp_state)(i + 1));
        snprintf(buf, sizeof(buf), "https://w3id.org/dspace/v0.8/%s", wire[i]);
        assert_int_equal(tsr_tp_state_parse(buf, &s), 0);
        assert_int_equal(s, (enum tsr_tp_state)(i + 1));
        snprintf(buf, sizeof(buf), "https://w3id.org/dspace/2025/1/%s", wire[i]);
        assert_int_equal(tsr_tp_state_parse(buf, &s), 0);
        assert_int_equal(s, (enum tsr_tp_state)(i + 1));
    }
    s = TSR_TP_STARTED;
    assert_int_equal(tsr_tp_state_parse("INITIAL", &s), TSR_EINVAL);
    assert_int_equal(tsr_tp_state_parse("OFFERED", &s), TSR_EINVAL);
    assert_int_equal(tsr_tp_state_parse("Started", &s), TSR_EINVAL);
    assert_int_equal(tsr_tp_state_parse(NULL, &s), TSR_EINVAL);
    assert_int_equal(s, TSR_TP_STARTED);
    assert_string_equal(tsr_tp_msg_name(TSR_TP_MSG_SUSPENSION), "TransferSuspensionMessage");
    assert_string_equal(tsr_tp_role_name(P), "provider");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_combination),
        cmocka_unit_test(test_repeat),
        cmocka_unit_test(test_terminal_and_range),
        cmocka_unit_test(test_tck_scenarios),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
