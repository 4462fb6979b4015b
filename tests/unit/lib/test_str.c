/*
 * tests/unit/lib/test_str.c: the strict parsers refuse what they should.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib/str.h"

static void test_parse_ll(void **state)
{
    long long v = 0;

    (void)state;
    assert_int_equal(tsr_parse_ll("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(tsr_parse_ll("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(tsr_parse_ll("101", 0, 100, &v), TSR_ERANGE);
    assert_int_equal(tsr_parse_ll("12x", 0, 100, &v), TSR_EINVAL);
    assert_int_equal(tsr_parse_ll("", 0, 100, &v), TSR_EINVAL);
    assert_int_equal(tsr_parse_ll(" 1", 0, 100, &v), TSR_EINVAL);
    assert_int_equal(tsr_parse_ll("99999999999999999999999", 0, 100, &v), TSR_ERANGE);
}

static void test_parse_size(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(tsr_parse_size("64k", UINT64_MAX, &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(tsr_parse_size("1M", UINT64_MAX, &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(tsr_parse_size("2GiB", UINT64_MAX, &v), 0);
    assert_int_equal(v, 2ULL << 30);
    assert_int_equal(tsr_parse_size("1M", 1000, &v), TSR_ERANGE);
    assert_int_equal(tsr_parse_size("1X", UINT64_MAX, &v), TSR_EINVAL);
    assert_int_equal(tsr_parse_size("-1", UINT64_MAX, &v), TSR_EINVAL);
    assert_int_equal(tsr_parse_size("99999999999T", UINT64_MAX, &v), TSR_ERANGE);
}

static void test_parse_duration(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(tsr_parse_duration_ms("250ms", UINT64_MAX, &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(tsr_parse_duration_ms("30", UINT64_MAX, &v), 0);
    assert_int_equal(v, 30000);
    assert_int_equal(tsr_parse_duration_ms("5m", UINT64_MAX, &v), 0);
    assert_int_equal(v, 300000);
    assert_int_equal(tsr_parse_duration_ms("2d", UINT64_MAX, &v), 0);
    assert_int_equal(v, 2ULL * 86400000);
    assert_int_equal(tsr_parse_duration_ms("5 m", UINT64_MAX, &v), TSR_EINVAL);
    assert_int_equal(tsr_parse_duration_ms("1h", 1000, &v), TSR_ERANGE);
}

static void test_bool_and_strings(void **state)
{
    bool b = false;
    char small[4];
    char trim[] = "  a b \t\n";

    (void)state;
    assert_int_equal(tsr_parse_bool("YES", &b), 0);
    assert_true(b);
    assert_int_equal(tsr_parse_bool("off", &b), 0);
    assert_false(b);
    assert_int_equal(tsr_parse_bool("maybe", &b), TSR_EINVAL);
    assert_int_equal(tsr_strlcpy(small, "abc", sizeof(small)), 0);
    assert_int_equal(tsr_strlcpy(small, "abcd", sizeof(small)), TSR_ELIMIT);
    assert_string_equal(small, "abc");
    assert_string_equal(tsr_str_trim(trim), "a b");
    assert_true(tsr_str_startswith("did:web:x", "did:web:"));
    assert_true(tsr_str_endswith("file.json", ".json"));
    assert_false(tsr_str_is_printable("a\nb", 3));
}

/* Published FNV-1a 64-bit values (draft-eastlake-fnv test vectors). */
static void test_hash(void **state)
{
    size_t len = 99;

    (void)state;
    assert_true(tsr_str_hash("", &len) == 0xcbf29ce484222325ULL);
    assert_int_equal(len, 0);
    assert_true(tsr_str_hash("a", NULL) == 0xaf63dc4c8601ec8cULL);
    assert_true(tsr_str_hash("foobar", &len) == 0x85944171f73967e8ULL);
    assert_int_equal(len, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ll),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_bool_and_strings),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
