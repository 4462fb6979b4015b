/*
 * tests/unit/lib/test_crypto.c: SHA-256 against FIPS 180-2 examples,
 * hex, constant-time comparison, random bytes and the atomic file writer.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/crypto.h"
#include "lib/mem.h"

static void hex_of_sha256(const char *s, char out[TSR_SHA256_HEX_SIZE])
{
    unsigned char h[TSR_SHA256_LEN];

    assert_int_equal(tsr_sha256(s, strlen(s), h), 0);
    tsr_hex_encode(h, sizeof(h), out);
}

static void test_sha256(void **state)
{
    char hex[TSR_SHA256_HEX_SIZE];
    unsigned char one[TSR_SHA256_LEN], inc[TSR_SHA256_LEN];
    struct tsr_sha256 s;
    const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    size_t i;

    (void)state;
    /* FIPS 180-2 appendix B.1 and B.2, and the empty string. */
    hex_of_sha256("abc", hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of_sha256(msg, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    hex_of_sha256("", hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    /* Incremental, one byte at a time, equals one-shot. */
    assert_int_equal(tsr_sha256(msg, strlen(msg), one), 0);
    assert_int_equal(tsr_sha256_init(&s), 0);
    for (i = 0; msg[i] != '\0'; i++)
        assert_int_equal(tsr_sha256_update(&s, msg + i, 1), 0);
    assert_int_equal(tsr_sha256_update(&s, "", 0), 0);
    assert_int_equal(tsr_sha256_final(&s, inc), 0);
    assert_memory_equal(one, inc, sizeof(one));
    tsr_sha256_cleanup(&s);
    tsr_sha256_cleanup(&s);
    /* A cleaned-up context refuses work instead of crashing. */
    assert_int_equal(tsr_sha256_update(&s, "x", 1), TSR_ECRYPTO);
    tsr_sha256_cleanup(NULL);
}

static void test_hex(void **state)
{
    unsigned char out[4];
    char hex[9];
    size_t n = 0;

    (void)state;
    tsr_hex_encode("\x00\x7f\xab\xff", 4, hex);
    assert_string_equal(hex, "007fabff");
    assert_int_equal(tsr_hex_decode("007FabfF", 8, out, sizeof(out), &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\x00\x7f\xab\xff", 4);
    assert_int_equal(tsr_hex_decode("007", 3, out, sizeof(out), &n), TSR_EINVAL);
    assert_int_equal(tsr_hex_decode("0g", 2, out, sizeof(out), &n), TSR_EINVAL);
    assert_int_equal(tsr_hex_decode("0011223344", 10, out, sizeof(out), &n), TSR_ELIMIT);
}

static void test_ct_compare(void **state)
{
    (void)state;
    assert_true(tsr_ct_equal("abcd", "abcd", 4));
    assert_false(tsr_ct_equal("abcd", "abce", 4));
    assert_true(tsr_ct_streq("secret-key", "secret-key"));
    assert_false(tsr_ct_streq("secret-key", "secret-kez"));
    assert_false(tsr_ct_streq("secret", "secret-key"));
    assert_false(tsr_ct_streq("secret-key", "secret"));
    assert_false(tsr_ct_streq("", "x"));
    assert_true(tsr_ct_streq("", ""));
    assert_false(tsr_ct_streq(NULL, "x"));
}

static void test_random(void **state)
{
    unsigned char a[32], b[32], zero[32];

    (void)state;
    memset(zero, 0, sizeof(zero));
    assert_int_equal(tsr_random_bytes(a, sizeof(a)), 0);
    assert_int_equal(tsr_random_bytes(b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_int_equal(tsr_random_bytes(a, 0), 0);
}

static void test_write_read_file(void **state)
{
    char dir[] = "/tmp/tsr-crypto-XXXXXX";
    char path[256], bad[256];
    unsigned char *buf = NULL;
    struct tsr_diag d;
    struct stat st;
    size_t len = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/secret.pem", dir);
    assert_int_equal(tsr_crypto_write_file(path, "first", 5, 0600, &d), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* A second write replaces the file whole and takes the new mode. */
    assert_int_equal(tsr_crypto_write_file(path, "second!", 7, 0644, &d), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(tsr_crypto_read_file(path, 100, &buf, &len, &d), 0);
    assert_int_equal(len, 7);
    assert_string_equal((char *)buf, "second!");
    tsr_free(buf);
    assert_int_equal(tsr_crypto_read_file(path, 6, &buf, &len, &d), TSR_ELIMIT);
    assert_null(buf);
    assert_int_equal(tsr_crypto_read_file(dir, 100, &buf, &len, &d), TSR_EIO);

    /* A folder that does not exist: an error, and no temporary file anywhere. */
    snprintf(bad, sizeof(bad), "%s/missing/x.pem", dir);
    assert_int_equal(tsr_crypto_write_file(bad, "x", 1, 0600, &d), TSR_EIO);
    assert_non_null(strstr(d.msg, "missing"));

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0); /* fails if a temporary file was left behind */
}

static void test_diag_openssl(void **state)
{
    struct tsr_diag d;

    (void)state;
    tsr_diag_clear(&d);
    assert_int_equal(tsr_crypto_diag_openssl(&d, TSR_ECRYPTO, "step %d", 3), TSR_ECRYPTO);
    assert_string_equal(d.msg, "step 3");
    assert_int_equal(d.code, TSR_ECRYPTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_ct_compare),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_write_read_file),
        cmocka_unit_test(test_diag_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
