/*
 * tests/fuzz/jose_fuzzer.c: libFuzzer target for lib/jose.c (compact JWS
 * splitting, header checks, ES256/EdDSA verification, JWT claim checks,
 * JWK import and export, thumbprints) and lib/b64.c (the strict base64url
 * and base64 decoders).
 *
 * The first byte picks a mode, the rest is its input:
 *   0  a compact token: tsr_jws_peek_header, tsr_jws_verify with a fixed
 *      ES256 key and a fixed Ed25519 key, tsr_jwt_verify;
 *   1  a JWK (JSON): tsr_key_from_jwk, then export and re-import;
 *   2  an optional extra header (a JSON object on the first line) and a
 *      payload: tsr_jws_sign with the fixed key, then verify the result,
 *      so fuzzed claims reach tsr_jwt_verify's claim checks behind a
 *      valid signature;
 *   3  base64url and base64 text: decode, and re-encode.
 *
 * The keys are fixed (below) rather than generated, so that a crash
 * reproduces and so that seed tokens signed with them verify.  They are
 * throwaway test keys with no other use.
 *
 * Properties checked (abort on failure): a JWK accepted, exported and
 * imported again is the same key; what tsr_jws_sign produces verifies
 * (unless the extra header carries "crit", which verification refuses by
 * design) and gives back the payload and header; the strict base64
 * decoders accept only the canonical encoding, so decode + encode is the
 * identity; a decode into a short buffer never reports more than fits.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/b64.h"
#include "lib/jose.h"
#include "lib/json.h"
#include "lib/mem.h"

/* Just over TSR_JWS_MAX_LEN, so the length limit itself is reached. */
#define MAX_INPUT (TSR_JWS_MAX_LEN + 1024)
/* 2024-01-01T00:00:00Z: the JWT checks run against a fixed clock. */
#define FIXED_NOW 1704067200

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Throwaway P-256 and Ed25519 test keys (openssl genpkey), as JWK members. */
static const char es_d[] = "v_dXjKjSYQZsvNaWnlXVXcVwd4K_tcUIpIX2YD_BKSA";
static const char es_x[] = "61nCZanhSqtWwuTvwGya3LKLPrvjOc7aybWsoZRaTL4";
static const char es_y[] = "0b6GruGMUawF-xJmFOuTtrigbIQL_6QyqSaQ9iZ8rXI";
static const char ed_d[] = "8dLhASeVSdbBKjh_QyFeY5B4RtbXvsAoNBcm1AEht1c";
static const char ed_x[] = "-4tq5PLJiHwIZb2mbAN0dcn1zNAuluKYUj-wrZqvRN0";

static struct tsr_key *es_key, *es_pub, *ed_key, *ed_pub;

static void fail(const char *what)
{
    fprintf(stderr, "jose_fuzzer: property violated: %s\n", what);
    abort();
}

static struct tsr_key *load_key(json_t *jwk)
{
    struct tsr_key *k = NULL;
    struct tsr_diag d;

    if (jwk == NULL || tsr_key_from_jwk(jwk, &k, &d) != 0) {
        fprintf(stderr, "jose_fuzzer: cannot load the fixed key: %s\n", tsr_diag_msg(&d));
        exit(1);
    }
    json_decref(jwk);
    return k;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct tsr_diag d;

    (void)argc;
    (void)argv;
    es_key = load_key(json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x",
                                es_x, "y", es_y, "d", es_d));
    ed_key = load_key(json_pack("{s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x",
                                ed_x, "d", ed_d));
    if (tsr_key_public_only(es_key, &es_pub, &d) != 0 ||
        tsr_key_public_only(ed_key, &ed_pub, &d) != 0) {
        fprintf(stderr, "jose_fuzzer: %s\n", tsr_diag_msg(&d));
        exit(1);
    }
    return 0;
}

static void verify_token(const char *tok)
{
    static const struct tsr_jwt_expect strict = {
        .iss = "did:web:example.com",
        .sub = "did:web:example.com",
        .aud = "did:web:provider.example",
        .typ = "JWT",
        .now = FIXED_NOW,
        .leeway = 60,
        .max_lifetime = 3600,
        .require_iat = true,
        .require_jti = true,
    };
    static const struct tsr_jwt_expect loose = {.now = FIXED_NOW, .cty = "vc"};
    const struct tsr_key *keys[] = {es_pub, ed_pub};
    struct tsr_diag d;
    json_t *hdr = NULL, *claims = NULL;
    unsigned char *payload = NULL;
    size_t plen = 0;

    if (tsr_jws_peek_header(tok, &hdr, &d) == 0 && !json_is_object(hdr))
        fail("peek_header returned 0 without an object");
    json_decref(hdr);
    hdr = NULL;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(keys); i++) {
        if (tsr_jws_verify(keys[i], tok, 0, &hdr, &payload, &plen, &d) == 0 &&
            (hdr == NULL || payload == NULL || payload[plen] != '\0'))
            fail("jws_verify returned 0 with incomplete outputs");
        json_decref(hdr);
        tsr_free(payload);
        hdr = NULL;
        payload = NULL;
        (void)tsr_jws_verify(keys[i], tok, 100, NULL, NULL, NULL, &d);
        (void)tsr_jwt_verify(keys[i], tok, &strict, &claims, &d);
        json_decref(claims);
        claims = NULL;
        (void)tsr_jwt_verify(keys[i], tok, &loose, NULL, &d);
        (void)tsr_jwt_verify(keys[i], tok, NULL, NULL, &d);
    }
}

static void run_token(const uint8_t *data, size_t size)
{
    char *tok = tsr_strndup((const char *)data, size);

    if (tok == NULL)
        return;
    verify_token(tok);
    tsr_free(tok);
}

static void run_jwk(const uint8_t *data, size_t size)
{
    struct tsr_key *k = NULL, *k2 = NULL, *pub = NULL;
    json_t *jwk = NULL, *out = NULL, *outp = NULL;
    char *tp = NULL, *tp2 = NULL, *tok = NULL;
    struct tsr_diag d;

    if (tsr_json_parse((const char *)data, size, NULL, &jwk, &d) != 0)
        return;
    if (tsr_key_from_jwk(jwk, &k, &d) != 0)
        goto out;
    (void)tsr_key_alg(k);
    if (tsr_key_to_jwk(k, false, &out, &d) != 0)
        fail("an imported key cannot be exported");
    if (tsr_key_from_jwk(out, &k2, &d) != 0)
        fail("an exported JWK cannot be imported again");
    if (!tsr_key_public_equal(k, k2) || tsr_key_kind(k) != tsr_key_kind(k2))
        fail("JWK export + import changed the key");
    if (tsr_key_thumbprint(k, &tp, &d) != 0 || tsr_key_thumbprint(k2, &tp2, &d) != 0 ||
        strcmp(tp, tp2) != 0)
        fail("thumbprints of the same key differ");
    if (tsr_key_has_private(k)) {
        if (tsr_key_to_jwk(k, true, &outp, &d) != 0)
            fail("a private key cannot be exported with its private half");
        if (tsr_key_public_only(k, &pub, &d) != 0)
            fail("tsr_key_public_only failed");
        if (tsr_jws_sign(k, NULL, "x", 1, &tok, &d) != 0)
            fail("an imported private key cannot sign");
        if (tsr_jws_verify(pub, tok, 0, NULL, NULL, NULL, &d) != 0)
            fail("a signature by an imported key does not verify with its public half");
    }
out:
    tsr_free(tok);
    tsr_free(tp);
    tsr_free(tp2);
    tsr_key_free(pub);
    tsr_key_free(k2);
    tsr_key_free(k);
    json_decref(outp);
    json_decref(out);
    json_decref(jwk);
}

static void run_sign(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    const uint8_t *payload = data;
    size_t plen = size;
    json_t *extra = NULL, *hdr = NULL;
    unsigned char *got = NULL;
    size_t glen = 0;
    char *tok = NULL;
    struct tsr_diag d;
    /* The low bit of the payload's length picks the key: both get fuzzed claims. */
    const struct tsr_key *key = (size & 1) ? ed_key : es_key;
    const struct tsr_key *pub = (size & 1) ? ed_pub : es_pub;

    if (nl != NULL) {
        if (tsr_json_parse((const char *)data, (size_t)(nl - data), NULL, &extra, &d) != 0)
            return;
        payload = nl + 1;
        plen = size - (size_t)(nl - data) - 1;
    }
    if (tsr_jws_sign(key, extra, payload, plen, &tok, &d) != 0)
        goto out;
    int rc = tsr_jws_verify(pub, tok, 0, &hdr, &got, &glen, &d);
    bool crit = json_is_object(extra) && json_object_get(extra, "crit") != NULL;
    if (crit) {
        if (rc == 0)
            fail("a token with \"crit\" verified");
    } else {
        if (rc != 0) {
            fprintf(stderr, "%s\n%s\n", tok, tsr_diag_msg(&d));
            fail("a freshly signed token does not verify");
        }
        if (glen != plen || (plen > 0 && memcmp(got, payload, plen) != 0))
            fail("sign + verify changed the payload");
        if (extra != NULL) {
            const char *k;
            json_t *v;
            json_object_foreach(extra, k, v) {
                if (!json_equal(json_object_get(hdr, k), v))
                    fail("sign + verify changed a header member");
            }
        }
    }
    verify_token(tok);
out:
    tsr_free(tok);
    tsr_free(got);
    json_decref(hdr);
    json_decref(extra);
}

typedef int (*decode_alloc_fn)(const char *, size_t, size_t, unsigned char **, size_t *);
typedef int (*decode_fn)(const char *, size_t, void *, size_t, size_t *);
typedef int (*encode_fn)(const void *, size_t, char **);

static void run_b64_one(const char *in, size_t len, decode_alloc_fn dec_alloc, decode_fn dec,
                        encode_fn enc)
{
    unsigned char *out = NULL;
    unsigned char small[16];
    char *again = NULL;
    size_t n = 0, sn = 0;

    int rc = dec_alloc(in, len, 1 << 20, &out, &n);
    if (rc == 0) {
        if (n > tsr_b64_decoded_max(len) || out[n] != '\0')
            fail("decoded more than tsr_b64_decoded_max, or no NUL after it");
        if (enc(out, n, &again) != 0)
            fail("cannot encode what was decoded");
        if (strlen(again) != len || memcmp(again, in, len) != 0)
            fail("decode + encode is not the identity (non-canonical input accepted)");
    }
    int rs = dec(in, len, small, sizeof(small), &sn);
    if (rs == 0 && (sn > sizeof(small) || rc != 0 || sn != n || memcmp(small, out, sn) != 0))
        fail("decoding into a short buffer disagrees with decode_alloc");
    if (rc == 0 && n <= sizeof(small) && rs != 0)
        fail("a short result was refused by the buffer decoder");
    tsr_free(again);
    tsr_free(out);
}

static void run_b64(const uint8_t *data, size_t size)
{
    run_b64_one((const char *)data, size, tsr_b64url_decode_alloc, tsr_b64url_decode,
                tsr_b64url_encode);
    run_b64_one((const char *)data, size, tsr_b64_decode_alloc, tsr_b64_decode, tsr_b64_encode);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return -1;
    switch (data[0] & 3) {
    case 0:
        run_token(data + 1, size - 1);
        break;
    case 1:
        run_jwk(data + 1, size - 1);
        break;
    case 2:
        run_sign(data + 1, size - 1);
        break;
    default:
        run_b64(data + 1, size - 1);
        break;
    }
    return 0;
}
