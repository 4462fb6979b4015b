/*
 * tests/unit/lib/test_time.c: RFC 3339 parsing accepts exactly the
 * section 5.6 grammar with real calendar rules, and formatting is UTC.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib/time.h"

static void parse_ok(const char *s, int64_t sec, int32_t nsec)
{
    struct tsr_time t = {0, 0};
    struct tsr_diag d;

    tsr_diag_clear(&d);
    if (tsr_time_parse(s, &t, &d) != 0)
        fail_msg("%s refused: %s", s, d.msg);
    assert_int_equal(t.sec, sec);
    assert_int_equal(t.nsec, nsec);
}

static void parse_bad(const char *s)
{
    struct tsr_time t;
    struct tsr_diag d;

    tsr_diag_clear(&d);
    if (tsr_time_parse(s, &t, &d) != TSR_EINVAL)
        fail_msg("%s accepted", s);
    assert_int_equal(d.code, TSR_EINVAL);
    assert_true(strlen(d.msg) > 0);
}

/* RFC 3339 section 5.8, "Examples"; epoch values computed independently. */
static void test_rfc3339_examples(void **state)
{
    (void)state;
    parse_ok("1985-04-12T23:20:50.52Z", 482196050, 520000000);
    parse_ok("1996-12-19T16:39:57-08:00", 851042397, 0);
    /* Leap seconds map to the next second (documented in lib/time.h). */
    parse_ok("1990-12-31T23:59:60Z", 662688000, 0);
    parse_ok("1990-12-31T15:59:60-08:00", 662688000, 0);
    parse_ok("1937-01-01T12:00:27.87+00:20", -1041337173, 870000000);
}

static void test_other_valid(void **state)
{
    (void)state;
    parse_ok("1970-01-01T00:00:00Z", 0, 0);
    parse_ok("1970-01-01t00:00:00z", 0, 0);
    parse_ok("1970-01-01T01:00:00+01:00", 0, 0);
    parse_ok("1970-01-01T00:00:00-00:00", 0, 0);
    parse_ok("1969-12-31T23:59:59.999999999Z", -1, 999999999);
    parse_ok("2000-02-29T12:00:00Z", 951825600, 0);
    parse_ok("0001-01-01T00:00:00Z", -62135596800LL, 0);
    parse_ok("9999-12-31T23:59:59Z", 253402300799LL, 0);
    parse_ok("2026-03-04T05:06:07.000000001Z", 1772600767, 1);
    parse_ok("2026-03-04T05:06:07.1+23:59", 1772600767 - (23 * 3600 + 59 * 60), 100000000);
}

static void test_invalid(void **state)
{
    (void)state;
    parse_bad("");
    parse_bad("2026-02-30T00:00:00Z");   /* no such day */
    parse_bad("2025-02-29T00:00:00Z");   /* not a leap year */
    parse_bad("1900-02-29T00:00:00Z");   /* century, not a leap year */
    parse_bad("2026-04-31T00:00:00Z");
    parse_bad("2026-13-01T00:00:00Z");
    parse_bad("2026-00-01T00:00:00Z");
    parse_bad("2026-01-00T00:00:00Z");
    parse_bad("2026-01-01T24:00:00Z");
    parse_bad("2026-01-01T23:60:00Z");
    parse_bad("2026-01-01T23:59:61Z");
    parse_bad("2026-01-01T12:00:60Z");   /* leap second not at the end of a UTC day */
    parse_bad("1990-12-31T23:59:60+01:00");
    parse_bad("2026-01-01T00:00:00");    /* missing offset */
    parse_bad("2026-01-01 00:00:00Z");   /* space separator */
    parse_bad("2026-01-01");
    parse_bad("2026-1-01T00:00:00Z");
    parse_bad("26-01-01T00:00:00Z");
    parse_bad("2026-01-01T00:00:00.Z");  /* no fraction digits */
    parse_bad("2026-01-01T00:00:00.1234567890Z"); /* 10 digits */
    parse_bad("2026-01-01T00:00:00+0100");
    parse_bad("2026-01-01T00:00:00+01");
    parse_bad("2026-01-01T00:00:00+24:00");
    parse_bad("2026-01-01T00:00:00+01:60");
    parse_bad("2026-01-01T00:00:00ZZ");
    parse_bad("2026-01-01T00:00:00Z ");
    parse_bad(" 2026-01-01T00:00:00Z");
    parse_bad("2026-01-01T00:00:00UTC");
    parse_bad("+2026-01-01T00:00:00Z");
    parse_bad("2026-01-01T00:00:00.123456789+01:00xxxxxxxxxxxxxxxxxxxxxxx");
}

static void test_format(void **state)
{
    struct tsr_time t = {482196050, 520000000};
    char buf[TSR_TIME_STR_MAX];
    char small[20];

    (void)state;
    assert_int_equal(tsr_time_format(&t, false, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1985-04-12T23:20:50Z");
    assert_int_equal(tsr_time_format(&t, true, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1985-04-12T23:20:50.520Z");
    assert_int_equal(tsr_time_format(&t, false, small, sizeof(small)), TSR_ELIMIT);
    assert_int_equal(tsr_time_format_ms(-1, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    assert_int_equal(tsr_time_format_ms(0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    t.sec = 253402300800LL; /* 10000-01-01 */
    assert_int_equal(tsr_time_format(&t, false, buf, sizeof(buf)), TSR_ERANGE);
    t.sec = 0;
    t.nsec = 1000000000;
    assert_int_equal(tsr_time_format(&t, false, buf, sizeof(buf)), TSR_ERANGE);
}

static void test_round_trip(void **state)
{
    static const char *const in[] = {
        "1970-01-01T00:00:00.000Z", "2026-02-28T23:59:59.999Z", "0000-01-01T00:00:00.000Z",
        "9999-12-31T23:59:59.999Z", "2024-02-29T12:34:56.789Z",
    };
    char buf[TSR_TIME_STR_MAX];
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(in); i++) {
        assert_int_equal(tsr_time_parse_ms(in[i], &ms, NULL), 0);
        assert_int_equal(tsr_time_format_ms(ms, buf, sizeof(buf)), 0);
        assert_string_equal(buf, in[i]);
    }
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = tsr_time_now_ms();
    /* After 2025-01-01 and before 2100: the clock is in milliseconds, not seconds. */
    assert_true(now > 1735689600000LL && now < 4102444800000LL);
    int64_t a = tsr_time_mono_ms();
    int64_t b = tsr_time_mono_ms();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_examples),
        cmocka_unit_test(test_other_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
