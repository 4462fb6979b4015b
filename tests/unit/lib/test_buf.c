/*
 * tests/unit/lib/test_buf.c: bounded buffers never pass their maximum and
 * stay unchanged when an append fails.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/mem.h"

static void test_append_and_limit(void **state)
{
    struct tsr_buf b;

    (void)state;
    tsr_buf_init(&b, 10);
    assert_string_equal(tsr_buf_str(&b), "");
    assert_int_equal(tsr_buf_adds(&b, "hello"), 0);
    assert_int_equal(tsr_buf_addf(&b, "%d", 1234), 0);
    assert_int_equal(b.len, 9);
    assert_string_equal(tsr_buf_str(&b), "hello1234");
    assert_int_equal(tsr_buf_adds(&b, "ab"), TSR_ELIMIT);
    assert_int_equal(b.len, 9);
    assert_string_equal(tsr_buf_str(&b), "hello1234");
    assert_int_equal(tsr_buf_adds(&b, "a"), 0);
    assert_int_equal(b.len, 10);
    assert_true(b.cap <= 11);
    tsr_buf_consume(&b, 5);
    assert_string_equal(tsr_buf_str(&b), "1234a");
    size_t len = 0;
    char *s = tsr_buf_steal(&b, &len);
    assert_string_equal(s, "1234a");
    assert_int_equal(len, 5);
    assert_null(b.data);
    tsr_free(s);
    tsr_buf_cleanup(&b);
}

static void test_long_format(void **state)
{
    struct tsr_buf b;
    char big[1000];

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tsr_buf_init(&b, 1500);
    assert_int_equal(tsr_buf_addf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '[');
    assert_int_equal(b.data[1000], ']');
    assert_int_equal(tsr_buf_addf(&b, "%s", big), TSR_ELIMIT);
    assert_int_equal(b.len, 1001);
    tsr_buf_cleanup(&b);
}

static void test_nomem_leaves_buffer(void **state)
{
    struct tsr_buf b;

    (void)state;
    tsr_buf_init(&b, 1 << 20);
    assert_int_equal(tsr_buf_adds(&b, "abc"), 0);
    tsr_mem_fail_after(0);
    assert_int_equal(tsr_buf_reserve(&b, 4096), TSR_ENOMEM);
    tsr_mem_fail_after(-1);
    assert_string_equal(tsr_buf_str(&b), "abc");
    tsr_buf_cleanup(&b);
}

/* RFC 3986 2.1 percent-encoding: unreserved bytes kept, the rest %XX (upper case). */
static void test_add_pct(void **state)
{
    struct tsr_buf b;

    (void)state;
    tsr_buf_init(&b, 64);
    assert_int_equal(tsr_buf_add_pct(&b, "a-Z_0.~ /&=\xc3\xa9", NULL), 0);
    assert_string_equal(tsr_buf_str(&b), "a-Z_0.~%20%2F%26%3D%C3%A9");
    tsr_buf_reset(&b);
    assert_int_equal(tsr_buf_add_pct(&b, "did:web:x/y", ":"), 0);
    assert_string_equal(tsr_buf_str(&b), "did:web:x%2Fy");
    /* Past the maximum: TSR_ELIMIT and the buffer as it was. */
    tsr_buf_cleanup(&b);
    tsr_buf_init(&b, 8);
    assert_int_equal(tsr_buf_adds(&b, "ab"), 0);
    assert_int_equal(tsr_buf_add_pct(&b, "////", NULL), TSR_ELIMIT);
    assert_string_equal(tsr_buf_str(&b), "ab");
    assert_int_equal(b.len, 2);
    tsr_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_limit),
        cmocka_unit_test(test_long_format),
        cmocka_unit_test(test_nomem_leaves_buffer),
        cmocka_unit_test(test_add_pct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
