/*
 * lib/jose.c: ES256 and Ed25519 keys, JWK, JWS compact and JWT, on
 * OpenSSL 3 EVP only.
 *
 * The verifier does its cheap structural checks (length, three parts,
 * base64url, header object, alg, crit) before any public-key work, so a
 * flood of junk tokens costs little.  ES256 signatures travel as the raw
 * r||s of RFC 7518 3.4 and are converted to and from DER at the OpenSSL
 * boundary.
 */
#include "lib/tsr.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/b64.h"
#include "lib/crypto.h"
#include "lib/jose.h"
#include "lib/mem.h"
#include "lib/str.h"

/* PEM key files are a few hundred bytes; anything this big is not one. */
#define PEM_MAX (64 * 1024)
/* The hard ceiling on max_len callers may ask for. */
#define JWS_ABS_MAX (16 * 1024 * 1024)
/* Both algorithms use 32-byte coordinates/scalars and 64-byte signatures. */
#define COORD_LEN 32
#define SIG_LEN 64
/* 9999-12-31T23:59:59Z: later NumericDates are refused, which keeps the arithmetic in range. */
#define DATE_MAX INT64_C(253402300799)

struct tsr_key {
    EVP_PKEY *pkey;
    enum tsr_key_kind kind;
    bool priv;
};

/* ------------------------------------------------------------ helpers */

/* s if it is short printable text fit for a diagnostic, else a placeholder. */
static const char *shown(const char *s)
{
    if (s == NULL)
        return "(none)";
    if (strlen(s) > 80 || !tsr_str_is_printable(s, strlen(s)))
        return "(unprintable)";
    return s;
}

/* Compact JSON text of v in a new NUL-terminated allocation (tsr_free). */
static int dump_json(const json_t *v, char **out, size_t *outlen)
{
    size_t n, m;
    char *s;

    *out = NULL;
    n = json_dumpb(v, NULL, 0, JSON_COMPACT);
    if (n == 0)
        return TSR_ENOMEM;
    s = tsr_malloc(n + 1);
    if (s == NULL)
        return TSR_ENOMEM;
    m = json_dumpb(v, s, n, JSON_COMPACT);
    if (m != n) {
        tsr_free(s);
        return TSR_EINTERNAL;
    }
    s[n] = '\0';
    *out = s;
    if (outlen != NULL)
        *outlen = n;
    return 0;
}

static int pkey_kind(EVP_PKEY *pkey, enum tsr_key_kind *kind)
{
    char group[64];
    size_t glen = 0;

    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        *kind = TSR_KEY_EDDSA;
        return 0;
    }
    if (EVP_PKEY_is_a(pkey, "EC") &&
        EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1 &&
        (strcmp(group, SN_X9_62_prime256v1) == 0 || strcmp(group, "P-256") == 0)) {
        *kind = TSR_KEY_ES256;
        return 0;
    }
    return TSR_EINVAL;
}

/* Wrap pkey (stolen, even on failure) in a new tsr_key. */
static int key_wrap(EVP_PKEY *pkey, bool priv, struct tsr_key **out, struct tsr_diag *d)
{
    enum tsr_key_kind kind;
    struct tsr_key *k;

    *out = NULL;
    if (pkey_kind(pkey, &kind) < 0) {
        EVP_PKEY_free(pkey);
        return tsr_diag_set(d, TSR_EINVAL, "unsupported key type (need P-256 or Ed25519)");
    }
    k = tsr_calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    k->pkey = pkey;
    k->kind = kind;
    k->priv = priv;
    *out = k;
    return 0;
}

/* ------------------------------------------------------------ keys */

int tsr_key_generate(enum tsr_key_kind kind, struct tsr_key **out, struct tsr_diag *d)
{
    EVP_PKEY *pkey;

    *out = NULL;
    if (kind == TSR_KEY_ES256)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (kind == TSR_KEY_EDDSA)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else
        return tsr_diag_set(d, TSR_EINVAL, "unknown key kind %d", (int)kind);
    if (pkey == NULL)
        return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "key generation failed");
    return key_wrap(pkey, true, out, d);
}

/* Refuse to prompt for a pass phrase: key files are unencrypted by design. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int tsr_key_from_pem_mem(const void *pem, size_t len, struct tsr_key **out, struct tsr_diag *d)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    bool priv = true;
    int rc;

    *out = NULL;
    if (len > PEM_MAX)
        return tsr_diag_set(d, TSR_ELIMIT, "PEM text over %d bytes", PEM_MAX);
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (pkey == NULL) {
        /* Not a private key: try a public one from the start of the text. */
        ERR_clear_error();
        BIO_free(bio);
        priv = false;
        bio = BIO_new_mem_buf(pem, (int)len);
        if (bio == NULL)
            return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    }
    BIO_free(bio);
    if (pkey == NULL)
        return tsr_crypto_diag_openssl(d, TSR_EINVAL,
                                       "no unencrypted private key or public key in PEM text");
    rc = key_wrap(pkey, priv, out, d);
    ERR_clear_error();
    return rc;
}

int tsr_key_load_pem(const char *path, struct tsr_key **out, struct tsr_diag *d)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = tsr_crypto_read_file(path, PEM_MAX, &buf, &len, d);
    if (rc < 0)
        return rc;
    rc = tsr_key_from_pem_mem(buf, len, out, d);
    if (rc < 0)
        tsr_diag_prefix(d, "%s", path);
    tsr_wipe(buf, len);
    tsr_free(buf);
    return rc;
}

/* PEM of key (private if it has one and want_private) into a new memory BIO. */
static int key_pem_bio(const struct tsr_key *key, bool want_private, BIO **out,
                       struct tsr_diag *d)
{
    BIO *bio;
    int ok;

    *out = NULL;
    /* secmem keeps the private key out of swappable memory where the platform allows. */
    bio = BIO_new(want_private ? BIO_s_secmem() : BIO_s_mem());
    if (bio == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    if (want_private)
        ok = PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL);
    else
        ok = PEM_write_bio_PUBKEY(bio, key->pkey);
    if (ok != 1) {
        BIO_free(bio);
        return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot encode key as PEM");
    }
    *out = bio;
    return 0;
}

int tsr_key_save_pem(const struct tsr_key *key, const char *path, struct tsr_diag *d)
{
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    int rc;

    rc = key_pem_bio(key, key->priv, &bio, d);
    if (rc < 0)
        return rc;
    n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || data == NULL) {
        rc = tsr_diag_set(d, TSR_ECRYPTO, "cannot encode key as PEM");
        goto out;
    }
    rc = tsr_crypto_write_file(path, data, (size_t)n, key->priv ? 0600 : 0644, d);
out:
    BIO_free(bio); /* memory BIOs clear their buffer when freed */
    return rc;
}

int tsr_key_public_pem(const struct tsr_key *key, char **out, struct tsr_diag *d)
{
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    int rc;

    *out = NULL;
    rc = key_pem_bio(key, false, &bio, d);
    if (rc < 0)
        return rc;
    n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || data == NULL) {
        rc = tsr_diag_set(d, TSR_ECRYPTO, "cannot encode key as PEM");
        goto out;
    }
    *out = tsr_strndup(data, (size_t)n);
    rc = *out == NULL ? tsr_diag_set(d, TSR_ENOMEM, "out of memory") : 0;
out:
    BIO_free(bio);
    return rc;
}

void tsr_key_free(struct tsr_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pkey);
    tsr_free(key);
}

int tsr_key_public_only(const struct tsr_key *key, struct tsr_key **out, struct tsr_diag *d)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    EVP_PKEY *pub;
    int n;

    *out = NULL;
    /* A round trip through SubjectPublicKeyInfo drops the private half for sure. */
    n = i2d_PUBKEY(key->pkey, &der);
    if (n <= 0)
        return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot encode public key");
    p = der;
    pub = d2i_PUBKEY(NULL, &p, n);
    OPENSSL_free(der);
    if (pub == NULL)
        return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot decode public key");
    return key_wrap(pub, false, out, d);
}

int tsr_key_dup(const struct tsr_key *key, struct tsr_key **out, struct tsr_diag *d)
{
    EVP_PKEY *copy;

    *out = NULL;
    copy = EVP_PKEY_dup(key->pkey);
    if (copy == NULL)
        return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot copy key");
    return key_wrap(copy, key->priv, out, d);
}

enum tsr_key_kind tsr_key_kind(const struct tsr_key *key)
{
    return key->kind;
}

const char *tsr_key_alg(const struct tsr_key *key)
{
    return key->kind == TSR_KEY_ES256 ? "ES256" : "EdDSA";
}

bool tsr_key_has_private(const struct tsr_key *key)
{
    return key->priv;
}

bool tsr_key_public_equal(const struct tsr_key *a, const struct tsr_key *b)
{
    if (a == NULL || b == NULL || a->kind != b->kind)
        return false;
    return EVP_PKEY_eq(a->pkey, b->pkey) == 1;
}

struct evp_pkey_st *tsr_key_pkey(const struct tsr_key *key)
{
    return key->pkey;
}

/* ------------------------------------------------------------ JWK */

/* The public coordinates: x (and y for EC), each COORD_LEN bytes. */
static int key_public_raw(const struct tsr_key *key, unsigned char x[COORD_LEN],
                          unsigned char y[COORD_LEN], struct tsr_diag *d)
{
    BIGNUM *bx = NULL, *by = NULL;
    size_t len = COORD_LEN;
    int rc = TSR_ECRYPTO;

    if (key->kind == TSR_KEY_EDDSA) {
        if (EVP_PKEY_get_raw_public_key(key->pkey, x, &len) != 1 || len != COORD_LEN)
            return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot read Ed25519 public key");
        return 0;
    }
    if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
        EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
        BN_bn2binpad(bx, x, COORD_LEN) != COORD_LEN ||
        BN_bn2binpad(by, y, COORD_LEN) != COORD_LEN) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot read P-256 public key");
        goto out;
    }
    rc = 0;
out:
    BN_free(bx);
    BN_free(by);
    return rc;
}

/* The private scalar or seed, COORD_LEN bytes; the caller wipes it. */
static int key_private_raw(const struct tsr_key *key, unsigned char out[COORD_LEN],
                           struct tsr_diag *d)
{
    BIGNUM *bd = NULL;
    size_t len = COORD_LEN;
    int rc;

    if (!key->priv)
        return tsr_diag_set(d, TSR_EINVAL, "key has no private half");
    if (key->kind == TSR_KEY_EDDSA) {
        if (EVP_PKEY_get_raw_private_key(key->pkey, out, &len) != 1 || len != COORD_LEN)
            return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot read Ed25519 private key");
        return 0;
    }
    rc = 0;
    if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bd) != 1 ||
        BN_bn2binpad(bd, out, COORD_LEN) != COORD_LEN)
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot read P-256 private key");
    BN_clear_free(bd);
    return rc;
}

/* Set obj[name] to the base64url of n bytes. */
static int set_b64(json_t *obj, const char *name, const unsigned char *p, size_t n, bool secret)
{
    char buf[64];

    if (tsr_b64url_encode_buf(p, n, buf, sizeof(buf)) < 0)
        return TSR_EINTERNAL;
    if (json_object_set_new(obj, name, json_string(buf)) != 0) {
        if (secret)
            tsr_wipe(buf, sizeof(buf));
        return TSR_ENOMEM;
    }
    if (secret)
        tsr_wipe(buf, sizeof(buf));
    return 0;
}

int tsr_key_to_jwk(const struct tsr_key *key, bool include_private, json_t **out,
                   struct tsr_diag *d)
{
    unsigned char x[COORD_LEN], y[COORD_LEN], dd[COORD_LEN];
    json_t *jwk = NULL;
    int rc;

    *out = NULL;
    if (include_private && !key->priv)
        return tsr_diag_set(d, TSR_EINVAL, "key has no private half");
    rc = key_public_raw(key, x, y, d);
    if (rc < 0)
        return rc;
    jwk = json_object();
    if (jwk == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    if (key->kind == TSR_KEY_ES256) {
        if (json_object_set_new(jwk, "kty", json_string("EC")) != 0 ||
            json_object_set_new(jwk, "crv", json_string("P-256")) != 0 ||
            set_b64(jwk, "x", x, COORD_LEN, false) < 0 ||
            set_b64(jwk, "y", y, COORD_LEN, false) < 0)
            goto nomem;
    } else {
        if (json_object_set_new(jwk, "kty", json_string("OKP")) != 0 ||
            json_object_set_new(jwk, "crv", json_string("Ed25519")) != 0 ||
            set_b64(jwk, "x", x, COORD_LEN, false) < 0)
            goto nomem;
    }
    if (include_private) {
        rc = key_private_raw(key, dd, d);
        if (rc < 0)
            goto out;
        if (set_b64(jwk, "d", dd, COORD_LEN, true) < 0)
            goto nomem;
    }
    *out = jwk;
    jwk = NULL;
    rc = 0;
    goto out;
nomem:
    rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
out:
    tsr_wipe(dd, sizeof(dd));
    json_decref(jwk);
    return rc;
}

/* Decode jwk[name], a base64url string of exactly COORD_LEN bytes. */
static int jwk_coord(const json_t *jwk, const char *name, bool required,
                     unsigned char out[COORD_LEN], bool *present, struct tsr_diag *d)
{
    const json_t *v = json_object_get(jwk, name);
    size_t n = 0;
    int rc;

    *present = false;
    if (v == NULL) {
        if (required)
            return tsr_diag_set(d, TSR_EINVAL, "JWK member \"%s\" missing", name);
        return 0;
    }
    if (!json_is_string(v))
        return tsr_diag_set(d, TSR_EINVAL, "JWK member \"%s\" is not a string", name);
    rc = tsr_b64url_decode(json_string_value(v), json_string_length(v), out, COORD_LEN, &n);
    if (rc == TSR_ELIMIT || (rc == 0 && n != COORD_LEN))
        return tsr_diag_set(d, TSR_EINVAL, "JWK member \"%s\" is not %d bytes", name, COORD_LEN);
    if (rc < 0)
        return tsr_diag_set(d, TSR_EINVAL, "JWK member \"%s\" is not base64url", name);
    *present = true;
    return 0;
}

/* Run OpenSSL's key checks: the point is on the curve, and a private half matches it. */
static int check_ec_key(EVP_PKEY *pkey, bool priv, struct tsr_diag *d)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int rc = 0;

    if (ctx == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    /* The quick check (on the curve, not the point at infinity) is the whole
     * check for P-256: its cofactor is 1, so there is no small subgroup for the
     * full check's order multiplication to catch, and it costs half as much. */
    if (EVP_PKEY_public_check_quick(ctx) != 1)
        rc = tsr_crypto_diag_openssl(d, TSR_EINVAL, "JWK: invalid P-256 public key");
    else if (priv && (EVP_PKEY_private_check(ctx) != 1 || EVP_PKEY_pairwise_check(ctx) != 1))
        rc = tsr_crypto_diag_openssl(d, TSR_EINVAL, "JWK: \"d\" does not match the public key");
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static int ec_from_raw(const unsigned char x[COORD_LEN], const unsigned char y[COORD_LEN],
                       const unsigned char *dd, EVP_PKEY **out, struct tsr_diag *d)
{
    unsigned char pub[1 + 2 * COORD_LEN];
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *bd = NULL;
    int rc = TSR_ENOMEM;

    *out = NULL;
    /* Uncompressed SEC1 point: OpenSSL decodes it and refuses points off the curve. */
    pub[0] = 0x04;
    memcpy(pub + 1, x, COORD_LEN);
    memcpy(pub + 1 + COORD_LEN, y, COORD_LEN);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        goto nomem;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1,
                                        0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) != 1)
        goto nomem;
    if (dd != NULL) {
        bd = BN_secure_new();
        if (bd == NULL || BN_bin2bn(dd, COORD_LEN, bd) == NULL ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd) != 1)
            goto nomem;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (params == NULL || ctx == NULL)
        goto nomem;
    if (EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, dd != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                          params) != 1) {
        rc = tsr_crypto_diag_openssl(d, TSR_EINVAL, "JWK: invalid P-256 key (point not on curve?)");
        goto out;
    }
    rc = check_ec_key(*out, dd != NULL, d);
    if (rc < 0) {
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    goto out;
nomem:
    rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
out:
    if (params != NULL) {
        /* The parameter array holds a copy of the private scalar. */
        for (OSSL_PARAM *p = params; p->key != NULL; p++) {
            if (p->data != NULL)
                OPENSSL_cleanse(p->data, p->data_size);
        }
        OSSL_PARAM_free(params);
    }
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_clear_free(bd);
    return rc;
}

static int ed_from_raw(const unsigned char x[COORD_LEN], const unsigned char *dd, EVP_PKEY **out,
                       struct tsr_diag *d)
{
    unsigned char derived[COORD_LEN];
    size_t len = sizeof(derived);

    if (dd == NULL) {
        *out = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, COORD_LEN);
        if (*out == NULL)
            return tsr_crypto_diag_openssl(d, TSR_EINVAL, "JWK: invalid Ed25519 public key");
        return 0;
    }
    *out = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, dd, COORD_LEN);
    if (*out == NULL)
        return tsr_crypto_diag_openssl(d, TSR_EINVAL, "JWK: invalid Ed25519 private key");
    /* The public key follows from the seed; a JWK whose "x" says otherwise is corrupt. */
    if (EVP_PKEY_get_raw_public_key(*out, derived, &len) != 1 || len != COORD_LEN ||
        CRYPTO_memcmp(derived, x, COORD_LEN) != 0) {
        EVP_PKEY_free(*out);
        *out = NULL;
        ERR_clear_error();
        return tsr_diag_set(d, TSR_EINVAL, "JWK: \"d\" does not match \"x\"");
    }
    return 0;
}

/* The optional "alg" and "use" members must not contradict the key. */
static int jwk_check_usage(const json_t *jwk, const char *alg, struct tsr_diag *d)
{
    const json_t *v;

    v = json_object_get(jwk, "alg");
    if (v != NULL && (!json_is_string(v) || strcmp(json_string_value(v), alg) != 0))
        return tsr_diag_set(d, TSR_EINVAL, "JWK: \"alg\" is not \"%s\"", alg);
    v = json_object_get(jwk, "use");
    if (v != NULL && (!json_is_string(v) || strcmp(json_string_value(v), "sig") != 0))
        return tsr_diag_set(d, TSR_EINVAL, "JWK: \"use\" is not \"sig\"");
    return 0;
}

int tsr_key_from_jwk(const json_t *jwk, struct tsr_key **out, struct tsr_diag *d)
{
    unsigned char x[COORD_LEN], y[COORD_LEN], dd[COORD_LEN];
    const char *kty, *crv;
    bool has_x = false, has_y = false, has_d = false;
    EVP_PKEY *pkey = NULL;
    int rc;

    *out = NULL;
    if (!json_is_object(jwk))
        return tsr_diag_set(d, TSR_EINVAL, "JWK is not a JSON object");
    kty = json_string_value(json_object_get(jwk, "kty"));
    crv = json_string_value(json_object_get(jwk, "crv"));
    if (kty == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "JWK: \"kty\" missing or not a string");
    if (crv == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "JWK: \"crv\" missing or not a string");
    if (strcmp(kty, "EC") == 0 && strcmp(crv, "P-256") == 0) {
        rc = jwk_check_usage(jwk, "ES256", d);
        if (rc == 0)
            rc = jwk_coord(jwk, "x", true, x, &has_x, d);
        if (rc == 0)
            rc = jwk_coord(jwk, "y", true, y, &has_y, d);
        if (rc == 0)
            rc = jwk_coord(jwk, "d", false, dd, &has_d, d);
        if (rc == 0)
            rc = ec_from_raw(x, y, has_d ? dd : NULL, &pkey, d);
    } else if (strcmp(kty, "OKP") == 0 && strcmp(crv, "Ed25519") == 0) {
        rc = jwk_check_usage(jwk, "EdDSA", d);
        if (rc == 0)
            rc = jwk_coord(jwk, "x", true, x, &has_x, d);
        if (rc == 0)
            rc = jwk_coord(jwk, "d", false, dd, &has_d, d);
        if (rc == 0)
            rc = ed_from_raw(x, has_d ? dd : NULL, &pkey, d);
    } else {
        return tsr_diag_set(d, TSR_EINVAL, "JWK: unsupported key type %s/%s (need EC/P-256 or "
                            "OKP/Ed25519)", shown(kty), shown(crv));
    }
    tsr_wipe(dd, sizeof(dd));
    if (rc < 0)
        return rc;
    return key_wrap(pkey, has_d, out, d);
}

int tsr_key_thumbprint(const struct tsr_key *key, char **out, struct tsr_diag *d)
{
    unsigned char x[COORD_LEN], y[COORD_LEN], hash[TSR_SHA256_LEN];
    char bx[64], by[64], canon[256];
    int rc, n;

    *out = NULL;
    rc = key_public_raw(key, x, y, d);
    if (rc < 0)
        return rc;
    if (tsr_b64url_encode_buf(x, COORD_LEN, bx, sizeof(bx)) < 0 ||
        (key->kind == TSR_KEY_ES256 && tsr_b64url_encode_buf(y, COORD_LEN, by, sizeof(by)) < 0))
        return tsr_diag_set(d, TSR_EINTERNAL, "thumbprint: encoding failed");
    /* RFC 7638 3.2: required members only, sorted, no white space. */
    if (key->kind == TSR_KEY_ES256)
        n = snprintf(canon, sizeof(canon),
                     "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", bx, by);
    else
        n = snprintf(canon, sizeof(canon), "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}",
                     bx);
    if (n < 0 || (size_t)n >= sizeof(canon))
        return tsr_diag_set(d, TSR_EINTERNAL, "thumbprint: canonical form too long");
    rc = tsr_sha256(canon, (size_t)n, hash);
    if (rc < 0)
        return tsr_diag_set(d, rc, "thumbprint: SHA-256 failed");
    rc = tsr_b64url_encode(hash, sizeof(hash), out);
    if (rc < 0)
        return tsr_diag_set(d, rc, "out of memory");
    return 0;
}

/* ------------------------------------------------------------ signatures */

/* Sign in with key into the 64-byte JOSE form. */
static int raw_sign(const struct tsr_key *key, const void *in, size_t inlen,
                    unsigned char sig[SIG_LEN], struct tsr_diag *d)
{
    EVP_MD_CTX *mctx = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    ECDSA_SIG *es = NULL;
    size_t derlen = 0;
    int rc = TSR_ECRYPTO;

    if (!key->priv)
        return tsr_diag_set(d, TSR_EINVAL, "key has no private half, cannot sign");
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    /* Ed25519 hashes internally (PureEdDSA): no digest name. */
    if (EVP_DigestSignInit_ex(mctx, NULL, key->kind == TSR_KEY_ES256 ? "SHA256" : NULL, NULL, NULL,
                              key->pkey, NULL) != 1 ||
        EVP_DigestSign(mctx, NULL, &derlen, in, inlen) != 1) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "signing failed");
        goto out;
    }
    der = OPENSSL_malloc(derlen);
    if (der == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    if (EVP_DigestSign(mctx, der, &derlen, in, inlen) != 1) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "signing failed");
        goto out;
    }
    if (key->kind == TSR_KEY_EDDSA) {
        if (derlen != SIG_LEN) {
            rc = tsr_diag_set(d, TSR_ECRYPTO, "Ed25519 signature of unexpected length");
            goto out;
        }
        memcpy(sig, der, SIG_LEN);
    } else {
        const BIGNUM *r, *s;

        /* OpenSSL gives DER SEQUENCE { r, s }; JOSE wants both zero-padded to 32 bytes. */
        p = der;
        es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
        if (es == NULL) {
            rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot decode ECDSA signature");
            goto out;
        }
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_bn2binpad(r, sig, COORD_LEN) != COORD_LEN ||
            BN_bn2binpad(s, sig + COORD_LEN, COORD_LEN) != COORD_LEN) {
            rc = tsr_diag_set(d, TSR_ECRYPTO, "ECDSA signature value out of range");
            goto out;
        }
    }
    rc = 0;
out:
    ECDSA_SIG_free(es);
    OPENSSL_free(der);
    EVP_MD_CTX_free(mctx);
    return rc;
}

/* Check a 64-byte JOSE signature over in; 0 or TSR_ECRYPTO. */
static int raw_verify(const struct tsr_key *key, const void *in, size_t inlen,
                      const unsigned char sig[SIG_LEN], struct tsr_diag *d)
{
    EVP_MD_CTX *mctx = NULL;
    unsigned char *der = NULL;
    const unsigned char *tbv = sig;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    size_t tbvlen = SIG_LEN;
    int rc = TSR_ECRYPTO, n;

    if (key->kind == TSR_KEY_ES256) {
        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, COORD_LEN, NULL);
        s = BN_bin2bn(sig + COORD_LEN, COORD_LEN, NULL);
        if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            goto out;
        }
        r = s = NULL; /* owned by es now */
        n = i2d_ECDSA_SIG(es, &der);
        if (n <= 0) {
            rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot encode ECDSA signature");
            goto out;
        }
        tbv = der;
        tbvlen = (size_t)n;
    }
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    if (EVP_DigestVerifyInit_ex(mctx, NULL, key->kind == TSR_KEY_ES256 ? "SHA256" : NULL, NULL,
                                NULL, key->pkey, NULL) != 1) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot set up verification");
        goto out;
    }
    if (EVP_DigestVerify(mctx, tbv, tbvlen, in, inlen) != 1) {
        ERR_clear_error();
        rc = tsr_diag_set(d, TSR_ECRYPTO, "signature does not verify");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    BN_free(r);
    BN_free(s);
    return rc;
}

/* ------------------------------------------------------------ JWS */

struct jws_parts {
    const char *hdr, *payload, *sig;
    size_t hdrlen, payloadlen, siglen;
    size_t signed_len; /* header "." payload */
};

static size_t effective_max(size_t max_len)
{
    if (max_len == 0)
        return TSR_JWS_MAX_LEN;
    return max_len > JWS_ABS_MAX ? JWS_ABS_MAX : max_len;
}

static int jws_split(const char *compact, size_t max_len, struct jws_parts *p, struct tsr_diag *d)
{
    const char *dot1, *dot2;
    size_t len;

    if (compact == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "JWS: no token");
    /* Bound the scan itself: never walk an arbitrarily long string. */
    len = strnlen(compact, max_len + 1);
    if (len > max_len)
        return tsr_diag_set(d, TSR_ELIMIT, "JWS: token longer than %zu bytes", max_len);
    dot1 = memchr(compact, '.', len);
    dot2 = dot1 == NULL ? NULL : memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - compact));
    if (dot2 == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "JWS: not a compact serialisation (need 3 parts)");
    if (memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - compact)) != NULL)
        return tsr_diag_set(d, TSR_EINVAL, "JWS: more than 3 parts (JWE is not supported)");
    p->hdr = compact;
    p->hdrlen = (size_t)(dot1 - compact);
    p->payload = dot1 + 1;
    p->payloadlen = (size_t)(dot2 - p->payload);
    p->sig = dot2 + 1;
    p->siglen = len - (size_t)(p->sig - compact);
    p->signed_len = (size_t)(dot2 - compact);
    if (p->hdrlen == 0)
        return tsr_diag_set(d, TSR_EINVAL, "JWS: empty header");
    if (p->siglen == 0)
        return tsr_diag_set(d, TSR_EINVAL, "JWS: empty signature");
    return 0;
}

static int jws_parse_header(const struct jws_parts *p, json_t **out, struct tsr_diag *d)
{
    unsigned char *raw = NULL;
    json_error_t jerr;
    size_t rawlen = 0;
    json_t *hdr;
    int rc;

    *out = NULL;
    rc = tsr_b64url_decode_alloc(p->hdr, p->hdrlen, p->hdrlen, &raw, &rawlen);
    if (rc == TSR_ENOMEM)
        return tsr_diag_set(d, rc, "out of memory");
    if (rc < 0)
        return tsr_diag_set(d, TSR_EINVAL, "JWS: header is not base64url");
    /* Duplicate members would let two parsers disagree on "alg"; refuse them. */
    hdr = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
    tsr_free(raw);
    if (hdr == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "JWS: header is not JSON: %s", jerr.text);
    if (!json_is_object(hdr)) {
        json_decref(hdr);
        return tsr_diag_set(d, TSR_EINVAL, "JWS: header is not a JSON object");
    }
    *out = hdr;
    return 0;
}

/* alg must name exactly the key's algorithm; no extension is understood. */
static int jws_check_header(const json_t *hdr, const struct tsr_key *key, struct tsr_diag *d)
{
    const json_t *alg = json_object_get(hdr, "alg");
    const char *a;

    if (!json_is_string(alg))
        return tsr_diag_set(d, TSR_EINVAL, "JWS: \"alg\" missing or not a string");
    a = json_string_value(alg);
    if (strcasecmp(a, "none") == 0)
        return tsr_diag_set(d, TSR_EINVAL, "JWS: unsigned tokens (alg \"none\") are refused");
    if (strcmp(a, tsr_key_alg(key)) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "JWS: algorithm mismatch: token says \"%s\", key is %s",
                            shown(a), tsr_key_alg(key));
    if (json_object_get(hdr, "crit") != NULL) {
        const json_t *c = json_object_get(hdr, "crit");
        const char *first = json_is_array(c) ? json_string_value(json_array_get(c, 0)) : NULL;

        return tsr_diag_set(d, TSR_EINVAL, "JWS: unsupported critical header parameter %s",
                            first != NULL ? shown(first) : "(malformed crit)");
    }
    return 0;
}

int tsr_jws_sign(const struct tsr_key *key, const json_t *header_extra, const void *payload,
                 size_t len, char **out_compact, struct tsr_diag *d)
{
    unsigned char sig[SIG_LEN];
    json_t *hdr = NULL;
    const char *k;
    json_t *v;
    char *htext = NULL, *buf = NULL;
    size_t hlen = 0, total, pos, elen;
    int rc;

    *out_compact = NULL;
    if (!key->priv)
        return tsr_diag_set(d, TSR_EINVAL, "key has no private half, cannot sign");
    if (len > TSR_JWS_MAX_LEN)
        return tsr_diag_set(d, TSR_ELIMIT, "JWS: payload over %d bytes", TSR_JWS_MAX_LEN);
    if (header_extra != NULL && !json_is_object(header_extra))
        return tsr_diag_set(d, TSR_EINVAL, "JWS: extra header is not a JSON object");
    hdr = json_object();
    if (hdr == NULL || json_object_set_new(hdr, "alg", json_string(tsr_key_alg(key))) != 0) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    json_object_foreach((json_t *)header_extra, k, v) {
        if (strcmp(k, "alg") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), tsr_key_alg(key)) != 0) {
                rc = tsr_diag_set(d, TSR_EINVAL, "JWS: header \"alg\" does not match the key");
                goto out;
            }
            continue;
        }
        if (json_object_set(hdr, k, v) != 0) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            goto out;
        }
    }
    rc = dump_json(hdr, &htext, &hlen);
    if (rc < 0) {
        rc = tsr_diag_set(d, rc, "JWS: cannot serialise header");
        goto out;
    }
    /* Both lengths are bounded by TSR_JWS_MAX_LEN-ish, so the sum cannot wrap. */
    total = tsr_b64url_encoded_len(hlen) + 1 + tsr_b64url_encoded_len(len) + 1 +
            tsr_b64url_encoded_len(SIG_LEN);
    if (hlen > TSR_JWS_MAX_LEN || total > TSR_JWS_MAX_LEN) {
        rc = tsr_diag_set(d, TSR_ELIMIT, "JWS: token would be over %d bytes", TSR_JWS_MAX_LEN);
        goto out;
    }
    buf = tsr_malloc(total + 1);
    if (buf == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    pos = 0;
    elen = tsr_b64url_encoded_len(hlen);
    (void)tsr_b64url_encode_buf(htext, hlen, buf + pos, total + 1 - pos);
    pos += elen;
    buf[pos++] = '.';
    elen = tsr_b64url_encoded_len(len);
    (void)tsr_b64url_encode_buf(payload, len, buf + pos, total + 1 - pos);
    pos += elen;
    rc = raw_sign(key, buf, pos, sig, d);
    if (rc < 0)
        goto out;
    buf[pos++] = '.';
    (void)tsr_b64url_encode_buf(sig, SIG_LEN, buf + pos, total + 1 - pos);
    *out_compact = buf;
    buf = NULL;
    rc = 0;
out:
    tsr_free(buf);
    tsr_free(htext);
    json_decref(hdr);
    return rc;
}

int tsr_jws_verify(const struct tsr_key *key, const char *compact, size_t max_len,
                   json_t **out_header, unsigned char **out_payload, size_t *out_len,
                   struct tsr_diag *d)
{
    unsigned char sig[SIG_LEN];
    struct jws_parts p;
    unsigned char *payload = NULL;
    json_t *hdr = NULL;
    size_t siglen = 0, plen = 0;
    int rc;

    if (out_header != NULL)
        *out_header = NULL;
    if (out_payload != NULL)
        *out_payload = NULL;
    if (out_len != NULL)
        *out_len = 0;
    rc = jws_split(compact, effective_max(max_len), &p, d);
    if (rc < 0)
        goto out;
    rc = jws_parse_header(&p, &hdr, d);
    if (rc < 0)
        goto out;
    rc = jws_check_header(hdr, key, d);
    if (rc < 0)
        goto out;
    rc = tsr_b64url_decode(p.sig, p.siglen, sig, sizeof(sig), &siglen);
    if (rc < 0 || siglen != SIG_LEN) {
        rc = tsr_diag_set(d, TSR_EINVAL, rc == TSR_EINVAL ? "JWS: signature is not base64url"
                                                          : "JWS: signature is not %d bytes",
                          SIG_LEN);
        goto out;
    }
    rc = tsr_b64url_decode_alloc(p.payload, p.payloadlen, p.payloadlen, &payload, &plen);
    if (rc < 0) {
        rc = tsr_diag_set(d, rc == TSR_ENOMEM ? rc : TSR_EINVAL,
                          rc == TSR_ENOMEM ? "out of memory" : "JWS: payload is not base64url");
        goto out;
    }
    rc = raw_verify(key, p.hdr, p.signed_len, sig, d);
    if (rc < 0)
        goto out;
    if (out_header != NULL) {
        *out_header = hdr;
        hdr = NULL;
    }
    if (out_payload != NULL) {
        *out_payload = payload;
        payload = NULL;
    }
    if (out_len != NULL)
        *out_len = plen;
    rc = 0;
out:
    tsr_free(payload);
    json_decref(hdr);
    return rc;
}

int tsr_jws_peek_header(const char *compact, json_t **out, struct tsr_diag *d)
{
    struct jws_parts p;
    int rc;

    *out = NULL;
    rc = jws_split(compact, TSR_JWS_MAX_LEN, &p, d);
    if (rc < 0)
        return rc;
    return jws_parse_header(&p, out, d);
}

/* ------------------------------------------------------------ JWT */

int tsr_jwt_sign(const struct tsr_key *key, const char *kid, const char *typ, const json_t *claims,
                 char **out, struct tsr_diag *d)
{
    json_t *hdr = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (!json_is_object(claims))
        return tsr_diag_set(d, TSR_EINVAL, "JWT: claims are not a JSON object");
    hdr = json_object();
    if (hdr == NULL ||
        json_object_set_new(hdr, "typ", json_string(typ != NULL ? typ : "JWT")) != 0 ||
        (kid != NULL && json_object_set_new(hdr, "kid", json_string(kid)) != 0)) {
        /* json_string also fails on invalid UTF-8, which only a caller bug produces. */
        rc = tsr_diag_set(d, TSR_EINVAL, "JWT: cannot build header (bad kid/typ or no memory)");
        goto out;
    }
    rc = dump_json(claims, &text, &len);
    if (rc < 0) {
        rc = tsr_diag_set(d, rc, "JWT: cannot serialise claims");
        goto out;
    }
    rc = tsr_jws_sign(key, hdr, text, len, out, d);
out:
    tsr_free(text);
    json_decref(hdr);
    return rc;
}

static const char *fmt_time(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "%lld", (long long)t);
    return buf;
}

/* A NumericDate claim (RFC 7519 2): a non-negative number, fractions dropped. */
static int numeric_date(const json_t *claims, const char *name, bool *present, int64_t *out,
                        struct tsr_diag *d)
{
    const json_t *v = json_object_get(claims, name);

    *present = false;
    *out = 0;
    if (v == NULL)
        return 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        if (i < 0 || i > DATE_MAX)
            return tsr_diag_set(d, TSR_EINVAL, "JWT: \"%s\" is out of range", name);
        *out = (int64_t)i;
    } else if (json_is_real(v)) {
        double r = json_real_value(v);

        if (!isfinite(r) || r < 0 || r > (double)DATE_MAX)
            return tsr_diag_set(d, TSR_EINVAL, "JWT: \"%s\" is out of range", name);
        *out = (int64_t)r;
    } else {
        return tsr_diag_set(d, TSR_EINVAL, "JWT: \"%s\" is not a number", name);
    }
    *present = true;
    return 0;
}

/* A StringOrURI claim: absent, or a string; compared when want is set. */
static int check_string_claim(const json_t *claims, const char *name, const char *want,
                              const char *label, struct tsr_diag *d)
{
    const json_t *v = json_object_get(claims, name);

    if (v != NULL && !json_is_string(v))
        return tsr_diag_set(d, TSR_EINVAL, "JWT: \"%s\" is not a string", name);
    if (want == NULL)
        return 0;
    if (v == NULL)
        return tsr_diag_set(d, TSR_EAUTH, "%s missing: expected \"%s\"", label, shown(want));
    if (strcmp(json_string_value(v), want) != 0)
        return tsr_diag_set(d, TSR_EAUTH, "%s mismatch: expected \"%s\", token has \"%s\"", label,
                            shown(want), shown(json_string_value(v)));
    return 0;
}

static int check_aud(const json_t *claims, const char *want, struct tsr_diag *d)
{
    const json_t *v = json_object_get(claims, "aud"), *e;
    bool found = false;
    size_t i;

    if (v == NULL) {
        if (want != NULL)
            return tsr_diag_set(d, TSR_EAUTH, "audience missing: expected \"%s\"", shown(want));
        return 0;
    }
    if (json_is_string(v)) {
        found = want != NULL && strcmp(json_string_value(v), want) == 0;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            if (!json_is_string(e))
                return tsr_diag_set(d, TSR_EINVAL, "JWT: \"aud\" array holds a non-string");
            if (want != NULL && strcmp(json_string_value(e), want) == 0)
                found = true;
        }
    } else {
        return tsr_diag_set(d, TSR_EINVAL, "JWT: \"aud\" is neither a string nor an array");
    }
    if (want != NULL && !found)
        return tsr_diag_set(d, TSR_EAUTH, "audience mismatch: expected \"%s\", token has %s",
                            shown(want), json_is_string(v) ? shown(json_string_value(v))
                                                           : "a list without it");
    return 0;
}

/* Media types compare case-insensitively, and "application/" may be left out (RFC 7515 4.1.9). */
static bool typ_matches(const char *got, const char *want)
{
    static const char app[] = "application/";

    if (strncasecmp(got, app, sizeof(app) - 1) == 0)
        got += sizeof(app) - 1;
    if (strncasecmp(want, app, sizeof(app) - 1) == 0)
        want += sizeof(app) - 1;
    return strcasecmp(got, want) == 0;
}

static int check_claims(const json_t *hdr, const json_t *claims, const struct tsr_jwt_expect *exp,
                        struct tsr_diag *d)
{
    int64_t now, leeway, t_exp, t_nbf, t_iat;
    bool has_exp, has_nbf, has_iat;
    char b1[40], b2[40];
    const json_t *v;
    int rc;

    now = exp != NULL && exp->now != 0 ? exp->now : (int64_t)time(NULL);
    leeway = exp != NULL ? exp->leeway : 0;
    /* Clamp caller values so the sums below stay far from overflow. */
    now = TSR_MAX(TSR_MIN(now, DATE_MAX), 0);
    leeway = TSR_MAX(TSR_MIN(leeway, DATE_MAX), 0);

    if (exp != NULL && exp->typ != NULL) {
        const char *typ = json_string_value(json_object_get(hdr, "typ"));

        if (typ == NULL || !typ_matches(typ, exp->typ))
            return tsr_diag_set(d, TSR_EAUTH, "token type mismatch: expected \"%s\", token has %s",
                                shown(exp->typ), typ != NULL ? shown(typ) : "none");
    }
    if (exp != NULL && exp->cty != NULL) {
        const char *cty = json_string_value(json_object_get(hdr, "cty"));

        if (cty == NULL || !typ_matches(cty, exp->cty))
            return tsr_diag_set(d, TSR_EAUTH,
                                "content type mismatch: expected \"%s\", token has %s",
                                shown(exp->cty), cty != NULL ? shown(cty) : "none");
    }
    rc = numeric_date(claims, "exp", &has_exp, &t_exp, d);
    if (rc == 0)
        rc = numeric_date(claims, "nbf", &has_nbf, &t_nbf, d);
    if (rc == 0)
        rc = numeric_date(claims, "iat", &has_iat, &t_iat, d);
    if (rc < 0)
        return rc;
    if (!has_exp)
        return tsr_diag_set(d, TSR_EINVAL, "JWT: \"exp\" claim missing (tokens must expire)");
    if (exp != NULL && exp->require_iat && !has_iat)
        return tsr_diag_set(d, TSR_EINVAL, "JWT: \"iat\" claim missing");
    if (now - leeway >= t_exp)
        return tsr_diag_set(d, TSR_EAUTH, "token expired at %s (now %s)",
                            fmt_time(t_exp, b1, sizeof(b1)), fmt_time(now, b2, sizeof(b2)));
    if (has_nbf && now + leeway < t_nbf)
        return tsr_diag_set(d, TSR_EAUTH, "token not valid before %s (now %s)",
                            fmt_time(t_nbf, b1, sizeof(b1)), fmt_time(now, b2, sizeof(b2)));
    if (has_iat && t_iat > now + leeway)
        return tsr_diag_set(d, TSR_EAUTH, "token issued in the future, at %s (now %s)",
                            fmt_time(t_iat, b1, sizeof(b1)), fmt_time(now, b2, sizeof(b2)));
    if (exp != NULL && exp->max_lifetime > 0) {
        int64_t life = has_iat ? t_exp - t_iat : t_exp - now;
        int64_t allowed = has_iat ? exp->max_lifetime : exp->max_lifetime + leeway;

        if (life > allowed)
            return tsr_diag_set(d, TSR_EAUTH, "token lifetime %lld s exceeds the limit of %lld s",
                                (long long)life, (long long)exp->max_lifetime);
    }
    rc = check_string_claim(claims, "iss", exp != NULL ? exp->iss : NULL, "issuer", d);
    if (rc == 0)
        rc = check_string_claim(claims, "sub", exp != NULL ? exp->sub : NULL, "subject", d);
    if (rc == 0)
        rc = check_aud(claims, exp != NULL ? exp->aud : NULL, d);
    if (rc < 0)
        return rc;
    v = json_object_get(claims, "jti");
    if (v != NULL && !json_is_string(v))
        return tsr_diag_set(d, TSR_EINVAL, "JWT: \"jti\" is not a string");
    if (exp != NULL && exp->require_jti && (v == NULL || json_string_length(v) == 0))
        return tsr_diag_set(d, TSR_EINVAL, "JWT: \"jti\" claim missing");
    return 0;
}

int tsr_jwt_verify(const struct tsr_key *key, const char *token, const struct tsr_jwt_expect *exp,
                   json_t **out_claims, struct tsr_diag *d)
{
    unsigned char *payload = NULL;
    json_t *hdr = NULL, *claims = NULL;
    json_error_t jerr;
    size_t plen = 0;
    int rc;

    if (out_claims != NULL)
        *out_claims = NULL;
    rc = tsr_jws_verify(key, token, exp != NULL ? exp->max_len : 0, &hdr, &payload, &plen, d);
    if (rc < 0)
        goto out;
    claims = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, &jerr);
    if (claims == NULL) {
        rc = tsr_diag_set(d, TSR_EINVAL, "JWT: claims are not JSON: %s", jerr.text);
        goto out;
    }
    if (!json_is_object(claims)) {
        rc = tsr_diag_set(d, TSR_EINVAL, "JWT: claims are not a JSON object");
        goto out;
    }
    rc = check_claims(hdr, claims, exp, d);
    if (rc < 0)
        goto out;
    if (out_claims != NULL) {
        *out_claims = claims;
        claims = NULL;
    }
    rc = 0;
out:
    json_decref(claims);
    json_decref(hdr);
    tsr_free(payload);
    return rc;
}
