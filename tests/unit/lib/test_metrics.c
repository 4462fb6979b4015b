/*
 * tests/unit/lib/test_metrics.c: the Prometheus text format: HELP and TYPE
 * lines, samples with and without labels, escaping of label values and
 * help texts, refusal of bad names, and the buffer's bound.
 */
#include "lib/tsr.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/metrics.h"

static void test_family_and_samples(void **state)
{
    static const char *const labels[] = {"role", "provider", "state", "FINALIZED", NULL};
    struct tsr_buf b;

    (void)state;
    tsr_buf_init(&b, 4096);
    assert_int_equal(tsr_prom_family(&b, "tessera_negotiations", "gauge", "Negotiations."), 0);
    assert_int_equal(tsr_prom_sample(&b, "tessera_negotiations", labels, 3), 0);
    assert_int_equal(tsr_prom_sample(&b, "tessera_up", NULL, 1), 0);
    assert_int_equal(tsr_prom_sample(&b, "tessera_big", NULL, INT64_MAX), 0);
    assert_string_equal(tsr_buf_str(&b),
                        "# HELP tessera_negotiations Negotiations.\n"
                        "# TYPE tessera_negotiations gauge\n"
                        "tessera_negotiations{role=\"provider\",state=\"FINALIZED\"} 3\n"
                        "tessera_up 1\n"
                        "tessera_big 9223372036854775807\n");
    tsr_buf_cleanup(&b);
}

static void test_escaping(void **state)
{
    static const char *const labels[] = {"path", "a\\b\"c\nd", NULL};
    struct tsr_buf b;

    (void)state;
    tsr_buf_init(&b, 4096);
    assert_int_equal(tsr_prom_family(&b, "x_total", "counter", "back\\slash \"q\"\nline"), 0);
    assert_int_equal(tsr_prom_sample(&b, "x_total", labels, 0), 0);
    /* HELP escapes \\ and \n only; label values also escape the quote. */
    assert_string_equal(tsr_buf_str(&b), "# HELP x_total back\\\\slash \"q\"\\nline\n"
                                         "# TYPE x_total counter\n"
                                         "x_total{path=\"a\\\\b\\\"c\\nd\"} 0\n");
    tsr_buf_cleanup(&b);
}

static void test_float_values(void **state)
{
    struct tsr_buf b;

    (void)state;
    tsr_buf_init(&b, 4096);
    assert_int_equal(tsr_prom_sample_f(&b, "s", NULL, 1.5), 0);
    assert_int_equal(tsr_prom_sample_f(&b, "s", NULL, NAN), 0);
    assert_int_equal(tsr_prom_sample_f(&b, "s", NULL, -INFINITY), 0);
    assert_string_equal(tsr_buf_str(&b), "s 1.5\ns NaN\ns -Inf\n");
    tsr_buf_cleanup(&b);
}

static void test_bad_names(void **state)
{
    static const char *const odd[] = {"a", NULL};
    static const char *const badlabel[] = {"a:b", "v", NULL};
    static const char *const nullval[] = {"a", NULL, NULL};
    struct tsr_buf b;

    (void)state;
    tsr_buf_init(&b, 4096);
    assert_int_equal(tsr_prom_family(&b, "9lives", "gauge", ""), TSR_EINVAL);
    assert_int_equal(tsr_prom_family(&b, "a-b", "gauge", ""), TSR_EINVAL);
    assert_int_equal(tsr_prom_family(&b, "ok", "histogram", ""), TSR_EINVAL);
    assert_int_equal(tsr_prom_family(&b, "", "gauge", ""), TSR_EINVAL);
    assert_int_equal(tsr_prom_sample(&b, "a b", NULL, 1), TSR_EINVAL);
    assert_int_equal(tsr_prom_sample(&b, "ok", odd, 1), TSR_EINVAL);
    assert_int_equal(tsr_prom_sample(&b, "ok", badlabel, 1), TSR_EINVAL);
    assert_int_equal(tsr_prom_sample(&b, "ok", nullval, 1), TSR_EINVAL);
    /* Nothing was written by a refused call. */
    assert_int_equal(b.len, 0);
    assert_int_equal(tsr_prom_family(&b, "ns:sub_total", "counter", ""), 0);
    tsr_buf_cleanup(&b);
}

static void test_bound(void **state)
{
    struct tsr_buf b;

    (void)state;
    tsr_buf_init(&b, 16);
    assert_int_equal(tsr_prom_sample(&b, "short", NULL, 1), 0);
    assert_int_equal(tsr_prom_sample(&b, "a_longer_name", NULL, 1), TSR_ELIMIT);
    assert_true(b.len <= 16);
    tsr_buf_cleanup(&b);
}

static void test_page_keeps_first_error(void **state)
{
    struct tsr_prom p;

    (void)state;
    tsr_prom_init(&p, 4096);
    tsr_prom_add_family(&p, "a", "gauge", "A.");
    tsr_prom_add(&p, "a", NULL, 1);
    assert_int_equal(p.rc, 0);
    tsr_prom_add(&p, "bad name", NULL, 2);
    assert_int_equal(p.rc, TSR_EINVAL);
    /* Nothing more is written once a call failed. */
    tsr_prom_add(&p, "a", NULL, 3);
    assert_int_equal(p.rc, TSR_EINVAL);
    assert_string_equal(tsr_buf_str(&p.b), "# HELP a A.\n# TYPE a gauge\na 1\n");
    tsr_prom_cleanup(&p);
    tsr_prom_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_float_values),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_page_keeps_first_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
