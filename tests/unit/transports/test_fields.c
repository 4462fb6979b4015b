/*
 * tests/unit/transports/test_fields.c: Range, Content-Range and
 * Repr-Digest values, against RFC 9110 §14 and RFC 9530's examples, and
 * malformed input.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/crypto.h"
#include "lib/err.h"
#include "transports/fields.h"

struct range_case {
    const char *value;
    uint64_t size;
    int rc;
    uint64_t first, last;
};

static const struct range_case ranges[] = {
    /* RFC 9110 §14.1.2 examples on a 10000-byte representation */
    {"bytes=0-499", 10000, 0, 0, 499},
    {"bytes=500-999", 10000, 0, 500, 999},
    {"bytes=-500", 10000, 0, 9500, 9999},
    {"bytes=9500-", 10000, 0, 9500, 9999},
    {"BYTES=0-0", 10000, 0, 0, 0},
    {" bytes= 3-5 ", 10, 0, 3, 5},
    /* clamped to the end */
    {"bytes=5-100", 10, 0, 5, 9},
    {"bytes=-100", 10, 0, 0, 9},
    {"bytes=0-18446744073709551615", 10, 0, 0, 9},
    /* unsatisfiable: 416 */
    {"bytes=10-", 10, TSR_ERANGE, 0, 0},
    {"bytes=10-20", 10, TSR_ERANGE, 0, 0},
    {"bytes=-0", 10, TSR_ERANGE, 0, 0},
    {"bytes=0-", 0, TSR_ERANGE, 0, 0},
    {"bytes=-5", 0, TSR_ERANGE, 0, 0},
    /* ignored: the whole representation is sent */
    {NULL, 10, TSR_ENOTFOUND, 0, 0},
    {"", 10, TSR_ENOTFOUND, 0, 0},
    {"items=0-5", 10, TSR_ENOTFOUND, 0, 0},
    {"bytes=0-1,3-4", 10, TSR_ENOTFOUND, 0, 0},
    {"bytes=5-3", 10, TSR_ENOTFOUND, 0, 0},
    {"bytes=-", 10, TSR_ENOTFOUND, 0, 0},
    {"bytes=", 10, TSR_ENOTFOUND, 0, 0},
    {"bytes=+1-2", 10, TSR_ENOTFOUND, 0, 0},
    {"bytes=1-2x", 10, TSR_ENOTFOUND, 0, 0},
    {"bytes=18446744073709551616-", 10, TSR_ENOTFOUND, 0, 0},
};

static void test_range_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(ranges); i++) {
        const struct range_case *c = &ranges[i];
        uint64_t first = 77, last = 77;
        int rc = tsr_http_range_parse(c->value, c->size, &first, &last);
        if (rc != c->rc)
            fail_msg("case %zu \"%s\": rc %d, want %d", i, c->value ? c->value : "(null)", rc,
                     c->rc);
        if (rc == 0) {
            assert_int_equal(first, c->first);
            assert_int_equal(last, c->last);
        }
    }
}

static void test_content_range(void **state)
{
    char buf[TSR_HTTP_CONTENT_RANGE_MAX];
    uint64_t a, b, n;

    (void)state;
    assert_int_equal(tsr_http_content_range_format(buf, sizeof(buf), 0, 499, 1234), 0);
    assert_string_equal(buf, "bytes 0-499/1234");
    assert_int_equal(tsr_http_content_range_format(buf, sizeof(buf), 1, 0, 1234), 0);
    assert_string_equal(buf, "bytes */1234");
    assert_int_equal(tsr_http_content_range_format(buf, sizeof(buf), UINT64_MAX - 1,
                                                   UINT64_MAX - 1, UINT64_MAX), 0);
    assert_int_equal(tsr_http_content_range_parse(buf, &a, &b, &n), 0);
    assert_true(a == UINT64_MAX - 1 && b == UINT64_MAX - 1 && n == UINT64_MAX);
    assert_int_equal(tsr_http_content_range_format(buf, 8, 0, 499, 1234), TSR_ELIMIT);

    assert_int_equal(tsr_http_content_range_parse("bytes 21010-47021/47022", &a, &b, &n), 0);
    assert_true(a == 21010 && b == 47021 && n == 47022);
    static const char *const bad[] = {
        NULL, "", "bytes */47022", "bytes 0-1/*", "bytes 5-4/10", "bytes 0-10/10",
        "bytes 0-1", "items 0-1/2", "bytes -1-2/3", "bytes 0-1/2x", "bytes 0 - 1/2",
    };
    for (size_t i = 0; i < TSR_ARRAY_SIZE(bad); i++)
        if (tsr_http_content_range_parse(bad[i], &a, &b, &n) != TSR_EINVAL)
            fail_msg("accepted \"%s\"", bad[i] ? bad[i] : "(null)");
}

static void test_repr_digest(void **state)
{
    /* RFC 9530 §2 and Appendix B: the digest of {"hello": "world"}. */
    static const char body[] = "{\"hello\": \"world\"}";
    static const char rfc[] = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
    uint8_t md[32], got[32];
    char buf[TSR_HTTP_REPR_DIGEST_MAX];

    (void)state;
    assert_int_equal(tsr_sha256(body, strlen(body), md), 0);
    assert_int_equal(tsr_http_repr_digest_format(md, buf, sizeof(buf)), 0);
    assert_string_equal(buf, rfc);
    assert_int_equal(tsr_http_repr_digest_format(md, buf, 20), TSR_ELIMIT);

    assert_int_equal(tsr_http_repr_digest_parse(rfc, got), 0);
    assert_memory_equal(got, md, 32);
    /* other algorithms, parameters and inner lists are skipped */
    static const char *const good[] = {
        "sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM"
        "44T3qg==:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
        "unixsum=30637,sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:;x=\"y\"",
        "a=(1 2.5 \"s\" tok ?1);p, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, b",
        "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:,"
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
    };
    for (size_t i = 0; i < TSR_ARRAY_SIZE(good); i++) {
        memset(got, 0, sizeof(got));
        if (tsr_http_repr_digest_parse(good[i], got) != 0)
            fail_msg("refused good value %zu", i);
        assert_memory_equal(got, md, 32);
    }
    assert_int_equal(tsr_http_repr_digest_parse("sha-512=:AAAA:", got), TSR_ENOTFOUND);
    assert_int_equal(tsr_http_repr_digest_parse("md5", got), TSR_ENOTFOUND);
    static const char *const bad[] = {
        NULL,
        "",
        "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",   /* not a byte sequence */
        "sha-256=\"X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\"", /* a string */
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBP=:",   /* 31 bytes */
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE:",    /* unterminated b64 */
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",   /* unterminated */
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,",  /* trailing comma */
        "SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",  /* keys are lower case */
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=: junk",
        "a=(1 2, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
        "a=\"unterminated, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
    };
    for (size_t i = 0; i < TSR_ARRAY_SIZE(bad); i++)
        if (tsr_http_repr_digest_parse(bad[i], got) != TSR_EINVAL)
            fail_msg("accepted bad value %zu", i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_parse),
        cmocka_unit_test(test_content_range),
        cmocka_unit_test(test_repr_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
