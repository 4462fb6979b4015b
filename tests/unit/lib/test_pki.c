/*
 * tests/unit/lib/test_pki.c: a CA made in a temporary folder issues a
 * certificate that OpenSSL's own chain verifier accepts for TLS server
 * and client use, with the requested names; self-signed certificates
 * verify against themselves; bad input is refused.
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
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/jose.h"
#include "lib/mem.h"
#include "lib/pki.h"

struct fixture {
    char dir[64];
    char path[8][256];
    size_t npath;
};

static const char *fx_path(struct fixture *fx, const char *name)
{
    char *p = fx->path[fx->npath++];
    char dir[sizeof(fx->dir)];

    /* A local copy: GCC cannot tell that dir and path do not overlap. */
    memcpy(dir, fx->dir, sizeof(dir));
    snprintf(p, sizeof(fx->path[0]), "%s/%s", dir, name);
    return p;
}

static int setup(void **state)
{
    struct fixture *fx = tsr_calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/tsr-pki-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char p[256];
    size_t i;

    for (i = 0; i < fx->npath; i++)
        unlink(fx->path[i]);
    snprintf(p, sizeof(p), "%s/%s", fx->dir, TSR_PKI_CA_KEY_FILE);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s", fx->dir, TSR_PKI_CA_CERT_FILE);
    unlink(p);
    /* rmdir fails, and so does the test run, if a stray temporary file remains. */
    if (rmdir(fx->dir) != 0)
        return -1;
    tsr_free(fx);
    return 0;
}

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x;

    assert_non_null(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static void assert_mode(const char *path, unsigned mode)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, mode);
}

/* X509_verify_cert of leaf against a store holding only anchor, for one purpose. */
static int verify(X509 *leaf, X509 *anchor, int purpose)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok;

    assert_non_null(store);
    assert_non_null(ctx);
    assert_int_equal(X509_STORE_add_cert(store, anchor), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
    assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
    ok = X509_verify_cert(ctx);
    if (ok != 1)
        print_message("# verify: %s\n",
                      X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

static void test_ca_issue_verify(void **state)
{
    struct fixture *fx = *state;
    static const char *const hosts[] = {"127.0.0.1", "localhost", "::1"};
    const char *key_path = fx_path(fx, "tls.key"), *cert_path = fx_path(fx, "tls.crt");
    struct tsr_pki_ca *ca = NULL;
    struct tsr_key *key = NULL;
    struct tsr_diag d;
    char ca_cert_path[256];
    X509 *cacert, *leaf;
    BASIC_CONSTRAINTS *bc;

    assert_int_equal(tsr_pki_ca_create(fx->dir, "tessera test CA", &d), 0);
    snprintf(ca_cert_path, sizeof(ca_cert_path), "%s/%s", fx->dir, TSR_PKI_CA_CERT_FILE);
    assert_mode(fx_path(fx, TSR_PKI_CA_KEY_FILE), 0600);
    assert_mode(ca_cert_path, 0644);
    /* A second CA in the same place would orphan the first one's certificates. */
    assert_int_equal(tsr_pki_ca_create(fx->dir, "again", &d), TSR_EEXIST);

    cacert = load_cert(ca_cert_path);
    assert_true(X509_check_ca(cacert) >= 1);
    bc = X509_get_ext_d2i(cacert, NID_basic_constraints, NULL, NULL);
    assert_non_null(bc);
    assert_true(bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    assert_true((X509_get_key_usage(cacert) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) ==
                (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    assert_non_null(X509_get0_subject_key_id(cacert));
    assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(cacert)), 16);

    assert_int_equal(tsr_pki_ca_load(fx->dir, &ca, &d), 0);
    assert_int_equal(tsr_pki_issue(ca, hosts, 3, key_path, cert_path, 30, &d), 0);
    tsr_pki_ca_free(ca);
    assert_mode(key_path, 0600);

    leaf = load_cert(cert_path);
    assert_int_equal(verify(leaf, cacert, X509_PURPOSE_SSL_SERVER), 1);
    assert_int_equal(verify(leaf, cacert, X509_PURPOSE_SSL_CLIENT), 1);
    assert_int_equal(X509_check_ca(leaf), 0);
    /* subjectAltName carries exactly what was asked. */
    assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(leaf, "::1", 0), 1);
    assert_int_equal(X509_check_host(leaf, "localhost", 0, 0, NULL), 1);
    assert_int_not_equal(X509_check_host(leaf, "example.com", 0, 0, NULL), 1);
    assert_int_not_equal(X509_check_ip_asc(leaf, "127.0.0.2", 0), 1);
    assert_true((X509_get_extended_key_usage(leaf) & (XKU_SSL_SERVER | XKU_SSL_CLIENT)) ==
                (XKU_SSL_SERVER | XKU_SSL_CLIENT));
    assert_memory_equal(ASN1_STRING_get0_data(X509_get0_authority_key_id(leaf)),
                        ASN1_STRING_get0_data(X509_get0_subject_key_id(cacert)),
                        ASN1_STRING_length(X509_get0_subject_key_id(cacert)));
    /* The key file holds the private key of the certificate. */
    assert_int_equal(tsr_key_load_pem(key_path, &key, &d), 0);
    assert_int_equal(tsr_key_kind(key), TSR_KEY_ES256);
    assert_int_equal(X509_check_private_key(leaf, tsr_key_pkey(key)), 1);
    tsr_key_free(key);
    X509_free(leaf);

    /* Same again through the folder-based call. */
    assert_int_equal(tsr_pki_issue_dir(fx->dir, hosts + 1, 1, key_path, cert_path, 1, &d), 0);
    leaf = load_cert(cert_path);
    assert_int_equal(verify(leaf, cacert, X509_PURPOSE_SSL_SERVER), 1);
    assert_int_not_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
    X509_free(leaf);
    X509_free(cacert);
}

static void test_other_ca_refused(void **state)
{
    struct fixture *fx = *state;
    static const char *const hosts[] = {"localhost"};
    const char *key_path = fx_path(fx, "k.pem"), *cert_path = fx_path(fx, "c.pem");
    const char *other_key = fx_path(fx, "ok.pem"), *other_cert = fx_path(fx, "oc.pem");
    struct tsr_diag d;
    X509 *leaf, *self;

    assert_int_equal(tsr_pki_ca_create(fx->dir, "CA one", &d), 0);
    assert_int_equal(tsr_pki_issue_dir(fx->dir, hosts, 1, key_path, cert_path, 10, &d), 0);
    /* A self-signed certificate is not the CA that issued the leaf. */
    assert_int_equal(tsr_pki_self_signed(hosts, 1, other_key, other_cert, 10, &d), 0);
    leaf = load_cert(cert_path);
    self = load_cert(other_cert);
    assert_int_not_equal(verify(leaf, self, X509_PURPOSE_SSL_SERVER), 1);
    X509_free(self);
    X509_free(leaf);
}

static void test_self_signed(void **state)
{
    struct fixture *fx = *state;
    static const char *const hosts[] = {"localhost", "127.0.0.1"};
    const char *key_path = fx_path(fx, "self.key"), *cert_path = fx_path(fx, "self.crt");
    struct tsr_diag d;
    X509 *x;

    assert_int_equal(tsr_pki_self_signed(hosts, 2, key_path, cert_path, 365, &d), 0);
    assert_mode(key_path, 0600);
    x = load_cert(cert_path);
    /* Trusted as itself, which is how a peer pins it. */
    assert_int_equal(verify(x, x, X509_PURPOSE_SSL_SERVER), 1);
    assert_int_equal(verify(x, x, X509_PURPOSE_SSL_CLIENT), 1);
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    X509_free(x);
}

static void test_bad_input(void **state)
{
    struct fixture *fx = *state;
    static const char *const comma[] = {"a.example,IP:0.0.0.0"};
    static const char *const space[] = {"bad host"};
    static const char *const dash[] = {"-bad.example"};
    static const char *const empty_label[] = {"a..example"};
    static const char *const ok[] = {"ok.example"};
    const char *key_path = fx_path(fx, "x.key"), *cert_path = fx_path(fx, "x.crt");
    struct tsr_pki_ca *ca = NULL;
    struct tsr_diag d;
    struct stat st;

    assert_int_equal(tsr_pki_self_signed(comma, 1, key_path, cert_path, 1, &d), TSR_EINVAL);
    assert_int_equal(tsr_pki_self_signed(space, 1, key_path, cert_path, 1, &d), TSR_EINVAL);
    assert_int_equal(tsr_pki_self_signed(dash, 1, key_path, cert_path, 1, &d), TSR_EINVAL);
    assert_int_equal(tsr_pki_self_signed(empty_label, 1, key_path, cert_path, 1, &d), TSR_EINVAL);
    assert_int_equal(tsr_pki_self_signed(ok, 0, key_path, cert_path, 1, &d), TSR_EINVAL);
    assert_int_equal(tsr_pki_self_signed(ok, 1, key_path, cert_path, 0, &d), TSR_EINVAL);
    assert_int_equal(tsr_pki_self_signed(ok, 1, key_path, cert_path, TSR_PKI_MAX_DAYS + 1, &d),
                     TSR_EINVAL);
    /* Nothing was written by the refusals. */
    assert_int_not_equal(stat(key_path, &st), 0);
    assert_int_not_equal(stat(cert_path, &st), 0);

    assert_int_equal(tsr_pki_ca_create(fx->dir, "", &d), TSR_EINVAL);
    assert_int_equal(tsr_pki_ca_create("/nonexistent/ca", "x", &d), TSR_EIO);
    assert_int_equal(tsr_pki_ca_load(fx->dir, &ca, &d), TSR_EIO);
    assert_null(ca);
    assert_int_equal(tsr_pki_issue(NULL, ok, 1, key_path, cert_path, 1, &d), TSR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ca_issue_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_ca_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
