/*
 * tests/unit/lib/test_jose.c: keys, JWK, JWS and JWT against the RFC
 * examples (RFC 7515 A.3 for ES256, RFC 8037 A for Ed25519), plus the
 * refusals a verifier must make: tampering, "none", wrong or mismatched
 * keys, crit, oversize tokens, bad JWKs, and JWT claim failures.
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
#include <jansson.h>

#include "lib/b64.h"
#include "lib/jose.h"
#include "lib/mem.h"

/* RFC 7515 Appendix A.3: the ES256 example key (A.3.1) and the complete JWS. */
#define A3_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_D "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
#define A3_JWS                                                                                    \
    "eyJhbGciOiJFUzI1NiJ9"                                                                        \
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn" \
    "VlfQ"                                                                                        \
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
/* The JWS Payload of RFC 7515 A.1, reused by A.3 (CRLF line breaks). */
#define A1_PAYLOAD                                                                                \
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"

/* RFC 8037 Appendix A.1 (Ed25519 key), A.3 (thumbprint), A.4 (signature). */
#define R8037_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define R8037_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define R8037_THUMB "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
#define R8037_PAYLOAD "Example of Ed25519 signing"
#define R8037_JWS                                                                                 \
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"                                    \
    ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"

static struct tsr_key *jwk_key(const char *json_text, int expect_rc, struct tsr_diag *d)
{
    json_error_t err;
    json_t *jwk = json_loads(json_text, 0, &err);
    struct tsr_key *key = NULL;

    assert_non_null(jwk);
    assert_int_equal(tsr_key_from_jwk(jwk, &key, d), expect_rc);
    json_decref(jwk);
    if (expect_rc != 0)
        assert_null(key);
    return key;
}

static struct tsr_key *a3_public(void)
{
    struct tsr_key *k = jwk_key("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                                "\"}",
                                0, NULL);
    assert_false(tsr_key_has_private(k));
    return k;
}

static struct tsr_key *r8037_private(void)
{
    struct tsr_key *k = jwk_key("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" R8037_D
                                "\",\"x\":\"" R8037_X "\"}",
                                0, NULL);
    assert_true(tsr_key_has_private(k));
    return k;
}

static void test_rfc7515_a3_es256_verify(void **state)
{
    struct tsr_key *key = a3_public(), *full;
    unsigned char *payload = NULL;
    json_t *hdr = NULL;
    struct tsr_diag d;
    size_t len = 0;

    (void)state;
    assert_int_equal(tsr_key_kind(key), TSR_KEY_ES256);
    assert_string_equal(tsr_key_alg(key), "ES256");
    assert_int_equal(tsr_jws_verify(key, A3_JWS, 0, &hdr, &payload, &len, &d), 0);
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "ES256");
    assert_int_equal(len, strlen(A1_PAYLOAD));
    assert_memory_equal(payload, A1_PAYLOAD, len);
    json_decref(hdr);
    tsr_free(payload);

    /* The published private key d matches the published point. */
    full = jwk_key("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                   "\",\"d\":\"" A3_D "\"}",
                   0, NULL);
    assert_true(tsr_key_public_equal(key, full));
    assert_int_equal(tsr_jws_verify(full, A3_JWS, 0, NULL, NULL, NULL, &d), 0);
    tsr_key_free(full);
    tsr_key_free(key);
}

static void test_rfc7515_a3_as_jwt(void **state)
{
    struct tsr_key *key = a3_public();
    struct tsr_jwt_expect exp;
    json_t *claims = NULL;
    struct tsr_diag d;

    (void)state;
    memset(&exp, 0, sizeof(exp));
    exp.now = 1300819379;
    exp.iss = "joe";
    assert_int_equal(tsr_jwt_verify(key, A3_JWS, &exp, &claims, &d), 0);
    assert_true(json_is_true(json_object_get(claims, "http://example.com/is_root")));
    json_decref(claims);

    /* One second later the example has expired: exp is 2011-03-22T18:43:00Z. */
    exp.now = 1300819380;
    assert_int_equal(tsr_jwt_verify(key, A3_JWS, &exp, &claims, &d), TSR_EAUTH);
    assert_null(claims);
    assert_non_null(strstr(d.msg, "token expired at 2011-03-22T18:43:00Z"));
    /* And with the real clock, long expired. */
    assert_int_equal(tsr_jwt_verify(key, A3_JWS, NULL, NULL, &d), TSR_EAUTH);
    tsr_key_free(key);
}

static void test_rfc8037_ed25519(void **state)
{
    struct tsr_key *key = r8037_private(), *pub = NULL;
    unsigned char *payload = NULL;
    json_t *jwk = NULL;
    char *compact = NULL, *thumb = NULL;
    struct tsr_diag d;
    size_t len = 0;

    (void)state;
    assert_string_equal(tsr_key_alg(key), "EdDSA");

    /* A.3: the RFC 7638 thumbprint of the public key. */
    assert_int_equal(tsr_key_thumbprint(key, &thumb, &d), 0);
    assert_string_equal(thumb, R8037_THUMB);
    tsr_free(thumb);

    /* A.4: Ed25519 is deterministic, so signing reproduces the published JWS exactly. */
    assert_int_equal(
        tsr_jws_sign(key, NULL, R8037_PAYLOAD, strlen(R8037_PAYLOAD), &compact, &d), 0);
    assert_string_equal(compact, R8037_JWS);
    tsr_free(compact);

    /* A.5: verification with the public key only. */
    assert_int_equal(tsr_key_public_only(key, &pub, &d), 0);
    assert_false(tsr_key_has_private(pub));
    assert_int_equal(tsr_jws_verify(pub, R8037_JWS, 0, NULL, &payload, &len, &d), 0);
    assert_int_equal(len, strlen(R8037_PAYLOAD));
    assert_string_equal((char *)payload, R8037_PAYLOAD);
    tsr_free(payload);

    /* The JWK export gives back the RFC's members. */
    assert_int_equal(tsr_key_to_jwk(key, true, &jwk, &d), 0);
    assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "OKP");
    assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "Ed25519");
    assert_string_equal(json_string_value(json_object_get(jwk, "x")), R8037_X);
    assert_string_equal(json_string_value(json_object_get(jwk, "d")), R8037_D);
    json_decref(jwk);
    assert_int_equal(tsr_key_to_jwk(pub, false, &jwk, &d), 0);
    assert_null(json_object_get(jwk, "d"));
    json_decref(jwk);
    assert_int_equal(tsr_key_to_jwk(pub, true, &jwk, &d), TSR_EINVAL);
    assert_null(jwk);
    tsr_key_free(pub);
    tsr_key_free(key);
}

static void round_trip(enum tsr_key_kind kind)
{
    char dir[] = "/tmp/tsr-jose-XXXXXX";
    char path[256], pubpath[256];
    struct tsr_key *key = NULL, *pub = NULL, *loaded = NULL, *again = NULL, *other = NULL;
    unsigned char *payload = NULL;
    json_t *hdr = NULL, *extra, *jwk = NULL;
    char *compact = NULL, *t1 = NULL, *t2 = NULL, *pem = NULL;
    struct tsr_diag d;
    struct stat st;
    size_t len = 0;

    assert_non_null(mkdtemp(dir));
    assert_int_equal(tsr_key_generate(kind, &key, &d), 0);
    assert_int_equal(tsr_key_kind(key), kind);
    assert_int_equal(tsr_key_public_only(key, &pub, &d), 0);

    extra = json_pack("{s:s, s:s}", "kid", "did:web:example.com#key-1", "typ", "vc+jwt");
    assert_int_equal(tsr_jws_sign(key, extra, "hello\0world", 11, &compact, &d), 0);
    json_decref(extra);
    assert_int_equal(tsr_jws_verify(pub, compact, 0, &hdr, &payload, &len, &d), 0);
    assert_int_equal(len, 11);
    assert_memory_equal(payload, "hello\0world", 11);
    assert_string_equal(json_string_value(json_object_get(hdr, "kid")),
                        "did:web:example.com#key-1");
    json_decref(hdr);
    tsr_free(payload);

    /* Peeking shows the header without any key. */
    assert_int_equal(tsr_jws_peek_header(compact, &hdr, &d), 0);
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), tsr_key_alg(key));
    assert_string_equal(json_string_value(json_object_get(hdr, "typ")), "vc+jwt");
    json_decref(hdr);

    /* A different key of the same kind: a clean signature failure. */
    assert_int_equal(tsr_key_generate(kind, &other, &d), 0);
    assert_int_equal(tsr_jws_verify(other, compact, 0, NULL, NULL, NULL, &d), TSR_ECRYPTO);
    assert_false(tsr_key_public_equal(key, other));
    tsr_free(compact);

    /* PEM: private key saved 0600, loads back to the same key; public PEM too. */
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    snprintf(pubpath, sizeof(pubpath), "%s/pub.pem", dir);
    assert_int_equal(tsr_key_save_pem(key, path, &d), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(tsr_key_load_pem(path, &loaded, &d), 0);
    assert_true(tsr_key_has_private(loaded));
    assert_true(tsr_key_public_equal(key, loaded));
    assert_int_equal(tsr_key_save_pem(pub, pubpath, &d), 0);
    assert_int_equal(stat(pubpath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(tsr_key_public_pem(key, &pem, &d), 0);
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    assert_int_equal(tsr_key_from_pem_mem(pem, strlen(pem), &again, &d), 0);
    assert_false(tsr_key_has_private(again));
    assert_true(tsr_key_public_equal(key, again));
    tsr_free(pem);
    tsr_key_free(again);
    again = NULL;

    /* A signature by the reloaded key verifies with the original public key. */
    assert_int_equal(tsr_jws_sign(loaded, NULL, "x", 1, &compact, &d), 0);
    assert_int_equal(tsr_jws_verify(pub, compact, 0, NULL, NULL, NULL, &d), 0);
    tsr_free(compact);

    /* JWK round trip, private and public, and a stable thumbprint. */
    assert_int_equal(tsr_key_to_jwk(key, true, &jwk, &d), 0);
    assert_int_equal(tsr_key_from_jwk(jwk, &again, &d), 0);
    json_decref(jwk);
    assert_true(tsr_key_has_private(again));
    assert_true(tsr_key_public_equal(key, again));
    assert_int_equal(tsr_key_thumbprint(key, &t1, &d), 0);
    assert_int_equal(tsr_key_thumbprint(again, &t2, &d), 0);
    assert_string_equal(t1, t2);
    assert_int_equal(strlen(t1), 43);
    tsr_free(t2);
    assert_int_equal(tsr_key_thumbprint(other, &t2, &d), 0);
    assert_string_not_equal(t1, t2);
    tsr_free(t1);
    tsr_free(t2);

    /* A public key cannot sign. */
    assert_int_equal(tsr_jws_sign(pub, NULL, "x", 1, &compact, &d), TSR_EINVAL);
    assert_null(compact);

    tsr_key_free(again);
    tsr_key_free(other);
    tsr_key_free(loaded);
    tsr_key_free(pub);
    tsr_key_free(key);
    unlink(path);
    unlink(pubpath);
    assert_int_equal(rmdir(dir), 0);
}

static void test_round_trip_es256(void **state)
{
    (void)state;
    round_trip(TSR_KEY_ES256);
}

static void test_round_trip_eddsa(void **state)
{
    (void)state;
    round_trip(TSR_KEY_EDDSA);
}

/* Replace the base64url character at i by another one that keeps the encoding canonical. */
static void flip(char *s, size_t i)
{
    s[i] = s[i] == 'A' ? 'B' : 'A';
}

static void test_tampering_fails(void **state)
{
    struct tsr_key *key = a3_public(), *ed = r8037_private();
    char tok[sizeof(A3_JWS)], tok2[sizeof(R8037_JWS)];
    size_t dot1 = strchr(A3_JWS, '.') - A3_JWS;
    struct tsr_diag d;

    (void)state;
    /* A byte in the payload. */
    memcpy(tok, A3_JWS, sizeof(tok));
    flip(tok, dot1 + 5);
    assert_int_equal(tsr_jws_verify(key, tok, 0, NULL, NULL, NULL, &d), TSR_ECRYPTO);
    /* A byte in the signature. */
    memcpy(tok, A3_JWS, sizeof(tok));
    flip(tok, sizeof(tok) - 10);
    assert_int_equal(tsr_jws_verify(key, tok, 0, NULL, NULL, NULL, &d), TSR_ECRYPTO);
    /* Ed25519 too, in the first character of the signature. */
    memcpy(tok2, R8037_JWS, sizeof(tok2));
    flip(tok2, strrchr(tok2, '.') - tok2 + 1);
    assert_int_equal(tsr_jws_verify(ed, tok2, 0, NULL, NULL, NULL, &d), TSR_ECRYPTO);
    /* A truncated signature is not 64 bytes. */
    memcpy(tok2, R8037_JWS, sizeof(tok2));
    tok2[strlen(tok2) - 4] = '\0';
    assert_int_equal(tsr_jws_verify(ed, tok2, 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    tsr_key_free(ed);
    tsr_key_free(key);
}

static void test_alg_none_and_mismatch(void **state)
{
    struct tsr_key *es = a3_public(), *ed = r8037_private();
    struct tsr_diag d;
    char tok[512];
    json_t *hdr = NULL;

    (void)state;
    /* {"alg":"none"} with the A.3 payload and signature. */
    snprintf(tok, sizeof(tok), "eyJhbGciOiJub25lIn0%s", strchr(A3_JWS, '.'));
    assert_int_equal(tsr_jws_verify(es, tok, 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "unsigned tokens"));
    /* Peeking still works: the caller needs alg/kid to pick a key. */
    assert_int_equal(tsr_jws_peek_header(tok, &hdr, &d), 0);
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "none");
    json_decref(hdr);
    /* Also with an empty signature, the usual form of an unsecured JWS. */
    snprintf(tok, sizeof(tok), "eyJhbGciOiJub25lIn0.eyJleHAiOjF9.");
    assert_int_equal(tsr_jws_verify(es, tok, 0, NULL, NULL, NULL, &d), TSR_EINVAL);

    /* An ES256 token offered to an Ed25519 key, and the other way round. */
    assert_int_equal(tsr_jws_verify(ed, A3_JWS, 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "mismatch"));
    assert_int_equal(tsr_jws_verify(es, R8037_JWS, 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    tsr_key_free(ed);
    tsr_key_free(es);
}

static void test_malformed_tokens(void **state)
{
    struct tsr_key *ed = r8037_private();
    const char *sig = strrchr(R8037_JWS, '.');
    json_t *extra;
    struct tsr_diag d;
    char tok[512], *big, *out = NULL;
    size_t n;

    (void)state;
    /* Header "[]": valid JSON but not an object. */
    snprintf(tok, sizeof(tok), "W10.eA%s", sig);
    assert_int_equal(tsr_jws_verify(ed, tok, 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    assert_int_equal(tsr_jws_peek_header(tok, &extra, &d), TSR_EINVAL);
    /* Header with a character outside base64url. */
    snprintf(tok, sizeof(tok), "eyJhbGciOiJFZERTQSJ9*.eA%s", sig);
    assert_int_equal(tsr_jws_verify(ed, tok, 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    /* Padded base64 is not base64url. */
    snprintf(tok, sizeof(tok), "eyJhbGciOiJFZERTQSJ9.eA==%s", sig);
    assert_int_equal(tsr_jws_verify(ed, tok, 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    /* Duplicate "alg": {"alg":"EdDSA","alg":"none"}. */
    snprintf(tok, sizeof(tok), "eyJhbGciOiJFZERTQSIsImFsZyI6Im5vbmUifQ.eA%s", sig);
    assert_int_equal(tsr_jws_verify(ed, tok, 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    /* Two parts, four parts (JWE has five), nothing. */
    assert_int_equal(tsr_jws_verify(ed, "eyJhbGciOiJFZERTQSJ9.eA", 0, NULL, NULL, NULL, &d),
                     TSR_EINVAL);
    snprintf(tok, sizeof(tok), "%s.eA", R8037_JWS);
    assert_int_equal(tsr_jws_verify(ed, tok, 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    assert_int_equal(tsr_jws_verify(ed, "", 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    assert_int_equal(tsr_jws_verify(ed, NULL, 0, NULL, NULL, NULL, &d), TSR_EINVAL);

    /* crit: no extension is understood, so a signed token using one is refused. */
    extra = json_pack("{s:[s], s:b}", "crit", "b64", "b64", 1);
    assert_int_equal(tsr_jws_sign(ed, extra, "x", 1, &out, &d), 0);
    json_decref(extra);
    assert_int_equal(tsr_jws_verify(ed, out, 0, NULL, NULL, NULL, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "critical"));
    tsr_free(out);

    /* A header "alg" that contradicts the key is refused at signing. */
    extra = json_pack("{s:s}", "alg", "ES256");
    assert_int_equal(tsr_jws_sign(ed, extra, "x", 1, &out, &d), TSR_EINVAL);
    json_decref(extra);

    /* Size limits: the token's own length, before any decoding. */
    assert_int_equal(tsr_jws_verify(ed, R8037_JWS, 50, NULL, NULL, NULL, &d), TSR_ELIMIT);
    assert_int_equal(tsr_jws_verify(ed, R8037_JWS, strlen(R8037_JWS), NULL, NULL, NULL, &d), 0);
    n = TSR_JWS_MAX_LEN + 10;
    big = tsr_malloc(n + 1);
    assert_non_null(big);
    memset(big, 'A', n);
    big[n] = '\0';
    assert_int_equal(tsr_jws_verify(ed, big, 0, NULL, NULL, NULL, &d), TSR_ELIMIT);
    assert_int_equal(tsr_jws_peek_header(big, &extra, &d), TSR_ELIMIT);
    assert_int_equal(tsr_jws_sign(ed, NULL, big, n, &out, &d), TSR_ELIMIT);
    /* Just under the payload limit, the base64url growth still passes the token limit. */
    assert_int_equal(tsr_jws_sign(ed, NULL, big, TSR_JWS_MAX_LEN - 100, &out, &d), TSR_ELIMIT);
    assert_null(out);
    tsr_free(big);
    tsr_key_free(ed);
}

static void test_jwk_validation(void **state)
{
    struct tsr_diag d;
    json_t *j;
    struct tsr_key *k = NULL;

    (void)state;
    /* A.3's x with y changed in its last byte: not a point on P-256. */
    jwk_key("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X
            "\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5aw\"}",
            TSR_EINVAL, &d);
    /* x and y swapped: also off the curve. */
    jwk_key("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_Y "\",\"y\":\"" A3_X "\"}", TSR_EINVAL,
            &d);
    /* 31-byte x (coordinates must keep their leading zeros). */
    jwk_key("{\"kty\":\"EC\",\"crv\":\"P-256\","
            "\"x\":\"zc4ncPbEXUGDy-5v20t7WAczNXvp7xO6z248e9FURQ\","
            "\"y\":\"" A3_Y "\"}",
            TSR_EINVAL, &d);
    assert_non_null(strstr(d.msg, "32 bytes"));
    /* y missing; bad base64url; number instead of string. */
    jwk_key("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\"}", TSR_EINVAL, &d);
    jwk_key("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "=\",\"y\":\"" A3_Y "\"}",
            TSR_EINVAL, &d);
    jwk_key("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":1,\"y\":\"" A3_Y "\"}", TSR_EINVAL, &d);
    /* Unsupported types and curves. */
    jwk_key("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", TSR_EINVAL, &d);
    jwk_key("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", TSR_EINVAL,
            &d);
    jwk_key("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" R8037_X "\"}", TSR_EINVAL, &d);
    /* A private half that does not belong to the public one. */
    jwk_key("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" R8037_D "\",\"x\":\"" A3_X "\"}",
            TSR_EINVAL, &d);
    jwk_key("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
            "\",\"d\":\"" R8037_D
            "\"}",
            TSR_EINVAL, &d);
    /* alg/use that contradict the key. */
    jwk_key("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" R8037_X "\",\"alg\":\"ES256\"}",
            TSR_EINVAL, &d);
    jwk_key("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" R8037_X "\",\"use\":\"enc\"}",
            TSR_EINVAL, &d);
    /* ...and ones that agree, with extra members ignored. */
    k = jwk_key("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" R8037_X
                "\",\"alg\":\"EdDSA\",\"use\":\"sig\",\"kid\":\"k1\"}",
                0, &d);
    tsr_key_free(k);
    j = json_string("not an object");
    assert_int_equal(tsr_key_from_jwk(j, &k, &d), TSR_EINVAL);
    json_decref(j);
}

static void test_pem_refusals(void **state)
{
    static const char junk[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    struct tsr_key *k = NULL;
    struct tsr_diag d;

    (void)state;
    assert_int_equal(tsr_key_from_pem_mem(junk, strlen(junk), &k, &d), TSR_EINVAL);
    assert_null(k);
    assert_int_equal(tsr_key_from_pem_mem("hello", 5, &k, &d), TSR_EINVAL);
    assert_int_equal(tsr_key_load_pem("/nonexistent/key.pem", &k, &d), TSR_EIO);
    assert_non_null(strstr(d.msg, "/nonexistent/key.pem"));
}

/* Sign claims built by json_pack, verify against exp; returns the verify result. */
static int jwt_case(struct tsr_key *key, json_t *claims, const struct tsr_jwt_expect *exp,
                    struct tsr_diag *d)
{
    char *tok = NULL;
    int rc;

    assert_non_null(claims);
    assert_int_equal(tsr_jwt_sign(key, "did:web:a.example#key-1", NULL, claims, &tok, d), 0);
    json_decref(claims);
    rc = tsr_jwt_verify(key, tok, exp, NULL, d);
    tsr_free(tok);
    return rc;
}

#define NOW 1700000000

static void test_jwt_claims(void **state)
{
    struct tsr_key *key = NULL;
    struct tsr_jwt_expect exp;
    struct tsr_diag d;
    json_t *claims = NULL, *hdr = NULL;
    char *tok = NULL;

    (void)state;
    assert_int_equal(tsr_key_generate(TSR_KEY_ES256, &key, &d), 0);
    memset(&exp, 0, sizeof(exp));
    exp.now = NOW;
    exp.iss = "did:web:a.example";
    exp.sub = "did:web:a.example";
    exp.aud = "did:web:b.example";
    exp.typ = "JWT";
    exp.require_iat = true;
    exp.require_jti = true;
    exp.max_lifetime = 600;

    /* All good: header and claims as expected. */
    claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", "did:web:a.example", "sub",
                       "did:web:a.example", "aud", "did:web:b.example", "iat", (json_int_t)NOW - 10,
                       "nbf", (json_int_t)NOW - 10, "exp", (json_int_t)NOW + 300, "jti", "j-1");
    assert_int_equal(tsr_jwt_sign(key, "did:web:a.example#key-1", NULL, claims, &tok, &d), 0);
    json_decref(claims);
    assert_int_equal(tsr_jwt_verify(key, tok, &exp, &claims, &d), 0);
    assert_string_equal(json_string_value(json_object_get(claims, "jti")), "j-1");
    json_decref(claims);
    assert_int_equal(tsr_jws_peek_header(tok, &hdr, &d), 0);
    assert_string_equal(json_string_value(json_object_get(hdr, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(hdr, "kid")), "did:web:a.example#key-1");
    json_decref(hdr);
    /* Expecting another typ fails; "application/" prefix and case do not matter. */
    exp.typ = "vc+jwt";
    assert_int_equal(tsr_jwt_verify(key, tok, &exp, NULL, &d), TSR_EAUTH);
    assert_non_null(strstr(d.msg, "type mismatch"));
    exp.typ = "application/jwt";
    assert_int_equal(tsr_jwt_verify(key, tok, &exp, NULL, &d), 0);
    exp.cty = "vc";
    assert_int_equal(tsr_jwt_verify(key, tok, &exp, NULL, &d), TSR_EAUTH);
    assert_non_null(strstr(d.msg, "content type mismatch"));
    exp.cty = NULL;
    tsr_free(tok);

    /* A VC-JWT style header through tsr_jws_sign: typ vc+jwt, cty vc. */
    hdr = json_pack("{s:s, s:s, s:s}", "kid", "did:web:a.example#key-1", "typ", "vc+jwt", "cty",
                    "vc");
    assert_int_equal(tsr_jws_sign(key, hdr, "{\"exp\":1700000100}", 18, &tok, &d), 0);
    json_decref(hdr);
    {
        struct tsr_jwt_expect vc = {.typ = "vc+jwt", .cty = "vc", .now = NOW};

        assert_int_equal(tsr_jwt_verify(key, tok, &vc, NULL, &d), 0);
        vc.cty = "vp";
        assert_int_equal(tsr_jwt_verify(key, tok, &vc, NULL, &d), TSR_EAUTH);
    }
    tsr_free(tok);

    /* Audience given as an array that contains ours. */
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:[s,s], s:I, s:I, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:a.example", "aud",
                                        "x", "did:web:b.example", "iat", (json_int_t)NOW, "exp",
                                        (json_int_t)NOW + 60, "jti", "j"),
                              &exp, &d),
                     0);
    /* Expired, and the message says when. */
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:a.example", "aud",
                                        "did:web:b.example", "iat", (json_int_t)NOW - 100, "exp",
                                        (json_int_t)NOW - 1, "jti", "j"),
                              &exp, &d),
                     TSR_EAUTH);
    assert_non_null(strstr(d.msg, "token expired at 2023-11-14T22:13:19Z"));
    /* ...but within the leeway it passes. */
    exp.leeway = 5;
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:a.example", "aud",
                                        "did:web:b.example", "iat", (json_int_t)NOW - 100, "exp",
                                        (json_int_t)NOW - 1, "jti", "j"),
                              &exp, &d),
                     0);
    exp.leeway = 0;
    /* Not yet valid. */
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:a.example", "aud",
                                        "did:web:b.example", "iat", (json_int_t)NOW, "nbf",
                                        (json_int_t)NOW + 30, "exp", (json_int_t)NOW + 60, "jti",
                                        "j"),
                              &exp, &d),
                     TSR_EAUTH);
    assert_non_null(strstr(d.msg, "not valid before"));
    /* Issued in the future. */
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:a.example", "aud",
                                        "did:web:b.example", "iat", (json_int_t)NOW + 30, "exp",
                                        (json_int_t)NOW + 60, "jti", "j"),
                              &exp, &d),
                     TSR_EAUTH);
    assert_non_null(strstr(d.msg, "future"));
    /* Wrong audience, string and array. */
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:a.example", "aud",
                                        "did:web:c.example", "iat", (json_int_t)NOW, "exp",
                                        (json_int_t)NOW + 60, "jti", "j"),
                              &exp, &d),
                     TSR_EAUTH);
    assert_non_null(strstr(d.msg, "audience mismatch"));
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:[s], s:I, s:I, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:a.example", "aud",
                                        "did:web:c.example", "iat", (json_int_t)NOW, "exp",
                                        (json_int_t)NOW + 60, "jti", "j"),
                              &exp, &d),
                     TSR_EAUTH);
    /* Wrong issuer. */
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss",
                                        "did:web:evil.example", "sub", "did:web:a.example", "aud",
                                        "did:web:b.example", "iat", (json_int_t)NOW, "exp",
                                        (json_int_t)NOW + 60, "jti", "j"),
                              &exp, &d),
                     TSR_EAUTH);
    assert_non_null(strstr(d.msg, "issuer mismatch"));
    /* Wrong subject. */
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:z.example", "aud",
                                        "did:web:b.example", "iat", (json_int_t)NOW, "exp",
                                        (json_int_t)NOW + 60, "jti", "j"),
                              &exp, &d),
                     TSR_EAUTH);
    assert_non_null(strstr(d.msg, "subject mismatch"));
    /* Lifetime over the limit. */
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:a.example", "aud",
                                        "did:web:b.example", "iat", (json_int_t)NOW, "exp",
                                        (json_int_t)NOW + 601, "jti", "j"),
                              &exp, &d),
                     TSR_EAUTH);
    assert_non_null(strstr(d.msg, "lifetime"));
    /* exp missing; exp not a number; jti missing while required. */
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:s}", "iss", "did:web:a.example",
                                        "sub", "did:web:a.example", "aud", "did:web:b.example",
                                        "iat", (json_int_t)NOW, "jti", "j"),
                              &exp, &d),
                     TSR_EINVAL);
    assert_non_null(strstr(d.msg, "exp"));
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:a.example", "aud",
                                        "did:web:b.example", "iat", (json_int_t)NOW, "exp",
                                        "tomorrow", "jti", "j"),
                              &exp, &d),
                     TSR_EINVAL);
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", "did:web:a.example",
                                        "sub", "did:web:a.example", "aud", "did:web:b.example",
                                        "iat", (json_int_t)NOW, "exp", (json_int_t)NOW + 60),
                              &exp, &d),
                     TSR_EINVAL);
    assert_non_null(strstr(d.msg, "jti"));
    /* A fractional NumericDate is fine. */
    assert_int_equal(jwt_case(key,
                              json_pack("{s:s, s:s, s:s, s:I, s:f, s:s}", "iss",
                                        "did:web:a.example", "sub", "did:web:a.example", "aud",
                                        "did:web:b.example", "iat", (json_int_t)NOW, "exp",
                                        (double)NOW + 60.5, "jti", "j"),
                              &exp, &d),
                     0);
    /* Claims must be an object. */
    claims = json_array();
    assert_int_equal(tsr_jwt_sign(key, NULL, NULL, claims, &tok, &d), TSR_EINVAL);
    json_decref(claims);
    tsr_key_free(key);
}

/* Every allocation failure on our side ends in TSR_ENOMEM (or success), never a crash or leak. */
static void test_out_of_memory(void **state)
{
    struct tsr_key *key = r8037_private(), *k2 = NULL;
    struct tsr_jwt_expect exp;
    json_t *claims, *jwk = NULL, *out = NULL;
    char *tok = NULL, *thumb = NULL;
    struct tsr_diag d;
    bool all_ok = false;
    long n;
    int rc;

    (void)state;
    memset(&exp, 0, sizeof(exp));
    exp.now = NOW;
    claims = json_pack("{s:s, s:I}", "iss", "me", "exp", (json_int_t)NOW + 60);
    assert_non_null(claims);
    for (n = 0; n < 64 && !all_ok; n++) {
        tsr_mem_fail_after(n);
        rc = tsr_jwt_sign(key, "kid", NULL, claims, &tok, &d);
        if (rc == 0)
            rc = tsr_jwt_verify(key, tok, &exp, &out, &d);
        if (rc == 0)
            rc = tsr_key_to_jwk(key, true, &jwk, &d);
        if (rc == 0)
            rc = tsr_key_from_jwk(jwk, &k2, &d);
        if (rc == 0)
            rc = tsr_key_thumbprint(k2, &thumb, &d);
        tsr_mem_fail_after(-1);
        assert_true(rc == 0 || rc == TSR_ENOMEM || rc == TSR_EINTERNAL);
        all_ok = rc == 0;
        tsr_free(tok);
        tsr_free(thumb);
        tsr_key_free(k2);
        json_decref(jwk);
        json_decref(out);
        tok = thumb = NULL;
        k2 = NULL;
        jwk = out = NULL;
    }
    /* The loop ended because enough allocations finally succeeded. */
    assert_true(all_ok);
    json_decref(claims);
    tsr_key_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a3_es256_verify),
        cmocka_unit_test(test_rfc7515_a3_as_jwt),
        cmocka_unit_test(test_rfc8037_ed25519),
        cmocka_unit_test(test_round_trip_es256),
        cmocka_unit_test(test_round_trip_eddsa),
        cmocka_unit_test(test_tampering_fails),
        cmocka_unit_test(test_alg_none_and_mismatch),
        cmocka_unit_test(test_malformed_tokens),
        cmocka_unit_test(test_jwk_validation),
        cmocka_unit_test(test_pem_refusals),
        cmocka_unit_test(test_jwt_claims),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
