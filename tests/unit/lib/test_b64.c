/*
 * tests/unit/lib/test_b64.c: both base64 alphabets against the RFC 4648
 * section 10 vectors, and the strict decoder against malformed input.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib/b64.h"
#include "lib/mem.h"

struct vec {
    const char *plain;
    const char *std; /* RFC 4648 section 10, padded */
    const char *url; /* the same without padding */
};

static const struct vec rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < TSR_ARRAY_SIZE(rfc4648); i++) {
        const struct vec *v = &rfc4648[i];
        size_t n = strlen(v->plain), outlen = 99;
        unsigned char dec[16];
        char *s = NULL;

        assert_int_equal(tsr_b64_encoded_len(n), strlen(v->std));
        assert_int_equal(tsr_b64url_encoded_len(n), strlen(v->url));
        assert_int_equal(tsr_b64_encode(v->plain, n, &s), 0);
        assert_string_equal(s, v->std);
        tsr_free(s);
        assert_int_equal(tsr_b64url_encode(v->plain, n, &s), 0);
        assert_string_equal(s, v->url);
        tsr_free(s);

        assert_int_equal(tsr_b64_decode(v->std, strlen(v->std), dec, sizeof(dec), &outlen), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(dec, v->plain, n);
        outlen = 99;
        assert_int_equal(tsr_b64url_decode(v->url, strlen(v->url), dec, sizeof(dec), &outlen), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(dec, v->plain, n);
    }
}

/* The two characters where the alphabets differ (RFC 4648 table 1 vs table 2). */
static void test_alphabets_differ(void **state)
{
    static const unsigned char bytes[] = {0xfb, 0xff, 0xbf, 0xfb, 0xff};
    unsigned char dec[8];
    char buf[16];
    size_t n = 0;

    (void)state;
    assert_int_equal(tsr_b64_encode_buf(bytes, sizeof(bytes), buf, sizeof(buf)), 0);
    assert_string_equal(buf, "+/+/+/8=");
    assert_int_equal(tsr_b64url_encode_buf(bytes, sizeof(bytes), buf, sizeof(buf)), 0);
    assert_string_equal(buf, "-_-_-_8");
    assert_int_equal(tsr_b64url_decode("-_-_-_8", 7, dec, sizeof(dec), &n), 0);
    assert_int_equal(n, sizeof(bytes));
    assert_memory_equal(dec, bytes, sizeof(bytes));
    /* Each alphabet refuses the other's characters. */
    assert_int_equal(tsr_b64url_decode("+/+/+/8", 7, dec, sizeof(dec), &n), TSR_EINVAL);
    assert_int_equal(tsr_b64_decode("-_-_-_8=", 8, dec, sizeof(dec), &n), TSR_EINVAL);
}

static void test_strict_std(void **state)
{
    static const char *const bad[] = {
        "Zg=",       /* not a multiple of 4 */
        "Zg",        /* padding missing */
        "Zh==",      /* non-zero trailing bits: would also decode to "f" */
        "Zm9=",      /* ditto for two bytes */
        "Z===",      /* a lone character carries only 6 bits */
        "====",      /* padding only */
        "Zg==Zg==",  /* padding in the middle */
        "Zm9v\n",    /* white space */
        "Zm9 v",     /* white space */
        "Zm9v=",     /* padding after a full group */
        "Zg=A",      /* character after padding */
        "Zm9*",      /* outside the alphabet */
    };
    unsigned char dec[16];
    size_t i, n;

    (void)state;
    for (i = 0; i < TSR_ARRAY_SIZE(bad); i++) {
        n = 77;
        assert_int_equal(tsr_b64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n), TSR_EINVAL);
        assert_int_equal(n, 0);
    }
    /* An embedded NUL is just another bad character. */
    assert_int_equal(tsr_b64_decode("Zm\0v", 4, dec, sizeof(dec), &n), TSR_EINVAL);
}

static void test_strict_url(void **state)
{
    static const char *const bad[] = {
        "Zg==",  /* base64url here carries no padding */
        "Zg=",
        "Z",     /* 6 bits cannot make a byte */
        "Zm9vY", /* ditto after a full group */
        "Zh",    /* non-zero trailing bits */
        "Zm9",   /* "fo" is Zm8 */
        "Zm9v.", /* the JWS separator is not base64url */
        "Zm 9v",
    };
    unsigned char dec[16];
    size_t i, n;

    (void)state;
    for (i = 0; i < TSR_ARRAY_SIZE(bad); i++)
        assert_int_equal(tsr_b64url_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n),
                         TSR_EINVAL);
}

static void test_bounds(void **state)
{
    unsigned char dec[6], *p = NULL;
    char small[5];
    size_t n = 0;

    (void)state;
    /* "foobar" needs 6 bytes: 5 is too few, nothing past them is written. */
    memset(dec, 0xAA, sizeof(dec));
    assert_int_equal(tsr_b64url_decode("Zm9vYmFy", 8, dec, 5, &n), TSR_ELIMIT);
    assert_int_equal(dec[5], 0xAA);
    assert_int_equal(tsr_b64_decode("Zm9vYmFy", 8, dec, 6, &n), 0);
    assert_int_equal(n, 6);

    assert_int_equal(tsr_b64url_decode_alloc("Zm9vYmFy", 8, 5, &p, &n), TSR_ELIMIT);
    assert_null(p);
    assert_int_equal(tsr_b64url_decode_alloc("Zm9vYmFy", 8, 6, &p, &n), 0);
    assert_int_equal(n, 6);
    assert_string_equal((char *)p, "foobar");
    tsr_free(p);
    assert_int_equal(tsr_b64_decode_alloc("Zm9vYmE=", 8, 5, &p, &n), 0);
    assert_string_equal((char *)p, "fooba");
    tsr_free(p);
    assert_int_equal(tsr_b64_decode_alloc("Zm9vYmE=", 8, 4, &p, &n), TSR_ELIMIT);
    assert_int_equal(tsr_b64_decode_alloc("Zm9*YmE=", 8, 16, &p, &n), TSR_EINVAL);
    assert_null(p);

    /* Encoding "foo" needs 4 characters plus the NUL. */
    assert_int_equal(tsr_b64url_encode_buf("foo", 3, small, 4), TSR_ELIMIT);
    assert_int_equal(tsr_b64url_encode_buf("foo", 3, small, 5), 0);
    assert_string_equal(small, "Zm9v");
    assert_int_equal(tsr_b64_encoded_len(SIZE_MAX), 0);

    tsr_mem_fail_after(0);
    assert_int_equal(tsr_b64_encode("foo", 3, (char **)&p), TSR_ENOMEM);
    tsr_mem_fail_after(-1);
    assert_null(p);
}

static void test_binary_round_trip(void **state)
{
    unsigned char in[256], out[256];
    char *s = NULL;
    size_t len, n;

    (void)state;
    for (len = 0; len < sizeof(in); len++)
        in[len] = (unsigned char)(len * 37 + 11);
    for (len = 0; len <= sizeof(in); len += 17) {
        assert_int_equal(tsr_b64url_encode(in, len, &s), 0);
        assert_int_equal(tsr_b64url_decode(s, strlen(s), out, sizeof(out), &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(in, out, len);
        tsr_free(s);
        assert_int_equal(tsr_b64_encode(in, len, &s), 0);
        assert_int_equal(tsr_b64_decode(s, strlen(s), out, sizeof(out), &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(in, out, len);
        tsr_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_alphabets_differ),
        cmocka_unit_test(test_strict_std),
        cmocka_unit_test(test_strict_url),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_binary_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
