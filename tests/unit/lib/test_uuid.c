/*
 * tests/unit/lib/test_uuid.c: v4 UUIDs have the right shape, version and
 * variant, do not repeat, and the validators accept only that shape.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/mem.h"
#include "lib/uuid.h"

static void test_format(void **state)
{
    char u[TSR_UUID_STR_SIZE];
    char urn[TSR_UUID_URN_SIZE];

    (void)state;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(tsr_uuid_v4(u), 0);
        assert_int_equal(strlen(u), 36);
        assert_true(tsr_uuid_valid(u));
        assert_int_equal(u[14], '4');
        assert_non_null(strchr("89ab", u[19]));
        for (const char *p = u; *p != '\0'; p++)
            assert_true(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
    }
    assert_int_equal(tsr_uuid_v4_urn(urn), 0);
    assert_int_equal(strlen(urn), 45);
    assert_memory_equal(urn, "urn:uuid:", 9);
    assert_true(tsr_uuid_urn_valid(urn));
    assert_false(tsr_uuid_valid(urn));
    assert_int_equal(urn[9 + 14], '4');
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_unique(void **state)
{
    enum { N = 2000 };
    char (*u)[TSR_UUID_STR_SIZE] = tsr_calloc(N, sizeof(*u));

    (void)state;
    assert_non_null(u);
    for (int i = 0; i < N; i++)
        assert_int_equal(tsr_uuid_v4(u[i]), 0);
    qsort(u, N, sizeof(*u), cmp);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(u[i - 1], u[i]);
    tsr_free(u);
}

static void test_validate(void **state)
{
    (void)state;
    /* RFC 9562 appendix A example (v4). */
    assert_true(tsr_uuid_valid("919108f7-52d1-4320-9bac-f847db4148a8"));
    assert_true(tsr_uuid_valid("919108F7-52D1-4320-9BAC-F847DB4148A8"));
    assert_true(tsr_uuid_urn_valid("urn:uuid:919108f7-52d1-4320-9bac-f847db4148a8"));
    assert_true(tsr_uuid_urn_valid("URN:UUID:919108f7-52d1-4320-9bac-f847db4148a8"));
    assert_false(tsr_uuid_valid(NULL));
    assert_false(tsr_uuid_valid(""));
    assert_false(tsr_uuid_valid("919108f7-52d1-4320-9bac-f847db4148a"));
    assert_false(tsr_uuid_valid("919108f7-52d1-4320-9bac-f847db4148a80"));
    assert_false(tsr_uuid_valid("919108f752d1-4320-9bac-f847db4148a8-"));
    assert_false(tsr_uuid_valid("919108g7-52d1-4320-9bac-f847db4148a8"));
    assert_false(tsr_uuid_valid("{919108f7-52d1-4320-9bac-f847db4148a8}"));
    assert_false(tsr_uuid_urn_valid(NULL));
    assert_false(tsr_uuid_urn_valid("919108f7-52d1-4320-9bac-f847db4148a8"));
    assert_false(tsr_uuid_urn_valid("urn:uuid:"));
    assert_false(tsr_uuid_urn_valid("urn:uuid: 919108f7-52d1-4320-9bac-f847db4148a8"));
    assert_false(tsr_uuid_urn_valid("urn:uuid:919108f7-52d1-4320-9bac-f847db4148a8 "));
    assert_false(tsr_uuid_urn_valid("urn:uid:919108f7-52d1-4320-9bac-f847db4148a8"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
