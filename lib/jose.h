/*
 * lib/jose.h: signing keys, JWK (RFC 7517/7518/8037), JWS compact
 * serialisation (RFC 7515) and JWT (RFC 7519) for tessera.
 *
 * Two key kinds only: ES256 (ECDSA P-256 with SHA-256, RFC 7518 3.4) for
 * participant keys and Gaia-X VC-JWTs, and EdDSA (Ed25519, RFC 8037).
 * Verification is strict and bounded: tokens longer than a limit, "alg"
 * "none" or any alg that does not match the key, malformed base64url,
 * headers that are not JSON objects and unknown "crit" extensions are all
 * refused before any signature work.  This file does not fetch keys
 * ("jku", "x5u" are ignored); resolving a "kid" to a key (did:web) is the
 * caller's job, helped by tsr_jws_peek_header.
 *
 * Error codes used below: TSR_EINVAL malformed input, TSR_ELIMIT too
 * large, TSR_ECRYPTO signature mismatch or a failing key operation,
 * TSR_EAUTH a valid signature over claims that are not acceptable
 * (expired, wrong audience), TSR_EIO file errors, TSR_ENOMEM.
 */
#ifndef TSR_LIB_JOSE_H
#define TSR_LIB_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct tsr_diag;
struct evp_pkey_st; /* OpenSSL's EVP_PKEY */

/* The longest compact JWS/JWT accepted, in bytes (before decoding). */
#define TSR_JWS_MAX_LEN (64 * 1024)

enum tsr_key_kind {
    TSR_KEY_ES256 = 1, /* ECDSA on P-256, JWK kty "EC", crv "P-256" */
    TSR_KEY_EDDSA = 2, /* Ed25519, JWK kty "OKP", crv "Ed25519" */
};

/* A public key, or a key pair.  Opaque; wraps an EVP_PKEY. */
struct tsr_key;

/* ------------------------------------------------------------ keys */

/* Generate a new key pair *out (new).  Returns 0, TSR_EINVAL (unknown kind), TSR_ECRYPTO. */
int tsr_key_generate(enum tsr_key_kind kind, struct tsr_key **out, struct tsr_diag *d);

/*
 * Load a PEM file: a private key (PKCS#8 or SEC1 "EC PRIVATE KEY",
 * unencrypted) or a public key (SubjectPublicKeyInfo).  Keys of any other
 * type or curve are refused.  *out is new.  Returns 0, TSR_EIO (cannot
 * read; files over 64 KiB are refused with TSR_ELIMIT), TSR_EINVAL (not
 * a supported key).
 */
int tsr_key_load_pem(const char *path, struct tsr_key **out, struct tsr_diag *d);

/* As tsr_key_load_pem, from len bytes of PEM text in memory (no NUL needed). */
int tsr_key_from_pem_mem(const void *pem, size_t len, struct tsr_key **out, struct tsr_diag *d);

/*
 * Write key to path as PEM, atomically (temporary file + rename): the
 * private key as unencrypted PKCS#8 with mode 0600 when key has one,
 * otherwise the public key (SubjectPublicKeyInfo) with mode 0644.
 * Returns 0, TSR_EIO, TSR_ECRYPTO, TSR_ENOMEM.
 */
int tsr_key_save_pem(const struct tsr_key *key, const char *path, struct tsr_diag *d);

/*
 * The public key as a new NUL-terminated SubjectPublicKeyInfo PEM string
 * (free with tsr_free).  Returns 0, TSR_ECRYPTO, TSR_ENOMEM.
 */
int tsr_key_public_pem(const struct tsr_key *key, char **out, struct tsr_diag *d);

/* Free a key; its private part is cleared by OpenSSL.  key may be NULL. */
void tsr_key_free(struct tsr_key *key);

/* A new key *out holding only the public half of key.  Returns 0, TSR_ECRYPTO, TSR_ENOMEM. */
int tsr_key_public_only(const struct tsr_key *key, struct tsr_key **out, struct tsr_diag *d);

/* Duplicate key (both halves if present) into a new *out.  As tsr_key_public_only. */
int tsr_key_dup(const struct tsr_key *key, struct tsr_key **out, struct tsr_diag *d);

enum tsr_key_kind tsr_key_kind(const struct tsr_key *key);

/* The JWS "alg" for key: "ES256" or "EdDSA" (static string). */
const char *tsr_key_alg(const struct tsr_key *key);

/* True when key holds a private half and can sign. */
bool tsr_key_has_private(const struct tsr_key *key);

/* True when a and b have the same public key. */
bool tsr_key_public_equal(const struct tsr_key *a, const struct tsr_key *b);

/* The wrapped EVP_PKEY (borrowed; for TLS and X.509 code in lib/pki.c, transports/). */
struct evp_pkey_st *tsr_key_pkey(const struct tsr_key *key);

/* ------------------------------------------------------------ JWK */

/*
 * The JWK of key as a new JSON object *out: {"kty":"EC","crv":"P-256",
 * "x","y"} or {"kty":"OKP","crv":"Ed25519","x"}, plus "d" when
 * include_private is true (TSR_EINVAL if key has no private half).  No
 * "kid", "use" or "alg" members: callers add what they need.  Returns 0,
 * TSR_EINVAL, TSR_ECRYPTO, TSR_ENOMEM.
 */
int tsr_key_to_jwk(const struct tsr_key *key, bool include_private, json_t **out,
                   struct tsr_diag *d);

/*
 * A key from a JWK object (borrowed), strictly checked: kty/crv must be
 * EC/P-256 or OKP/Ed25519; x, y, d must be base64url of exactly 32 bytes;
 * the EC point must be on the curve and, with "d", match it; an "alg"
 * member, if present, must fit the key; "use", if present, must be "sig".
 * *out is new.  Returns 0, TSR_EINVAL (with the reason in d), TSR_ENOMEM.
 */
int tsr_key_from_jwk(const json_t *jwk, struct tsr_key **out, struct tsr_diag *d);

/*
 * The RFC 7638 JWK thumbprint of key's public half: base64url of the
 * SHA-256 of the canonical JWK.  *out is a new string (free with
 * tsr_free).  Returns 0, TSR_ECRYPTO, TSR_ENOMEM.
 */
int tsr_key_thumbprint(const struct tsr_key *key, char **out, struct tsr_diag *d);

/* ------------------------------------------------------------ JWS */

/*
 * Sign len bytes of payload into a new compact JWS *out_compact (free with
 * tsr_free).  The protected header is {"alg": tsr_key_alg(key)} plus the
 * members of header_extra (borrowed, may be NULL; e.g. kid, typ, cty),
 * serialised compactly with "alg" first.  header_extra must be an object
 * and may carry "alg" only if it equals the key's.  ES256 signatures are
 * the raw 64-byte r||s of RFC 7518 3.4.  Returns 0, TSR_EINVAL (no private
 * key, bad header_extra), TSR_ELIMIT (result over TSR_JWS_MAX_LEN),
 * TSR_ECRYPTO, TSR_ENOMEM.
 */
int tsr_jws_sign(const struct tsr_key *key, const json_t *header_extra, const void *payload,
                 size_t len, char **out_compact, struct tsr_diag *d);

/*
 * Verify a compact JWS (NUL-terminated) with key.  max_len bounds the
 * token length (0 means TSR_JWS_MAX_LEN; larger values are capped at
 * 16 MiB).  Refused: three parts not found, bad base64url, a header that
 * is not a JSON object, "alg" missing or other than tsr_key_alg(key)
 * (so "none" always), a "crit" member (no extensions are understood),
 * an ES256 signature not 64 bytes, a bad signature.  On success
 * *out_header (may be NULL) gets the header (new reference) and
 * *out_payload (may be NULL) a new allocation of *out_len bytes plus a
 * NUL not counted.  Outputs are NULL on failure.  Returns 0, TSR_EINVAL,
 * TSR_ELIMIT, TSR_ECRYPTO (signature does not verify), TSR_ENOMEM.
 */
int tsr_jws_verify(const struct tsr_key *key, const char *compact, size_t max_len,
                   json_t **out_header, unsigned char **out_payload, size_t *out_len,
                   struct tsr_diag *d);

/*
 * Decode the protected header of a compact JWS (at most TSR_JWS_MAX_LEN
 * long) without verifying anything else, to learn "kid" and "alg" before
 * resolving the key.  Nothing in it is trustworthy until tsr_jws_verify
 * succeeds.  *out is a new reference.  Returns 0, TSR_EINVAL, TSR_ELIMIT,
 * TSR_ENOMEM.
 */
int tsr_jws_peek_header(const char *compact, json_t **out, struct tsr_diag *d);

/* ------------------------------------------------------------ JWT */

/*
 * Sign claims (a JSON object, borrowed) as a JWT.  The header carries
 * "alg", then "typ" (NULL means "JWT") and "kid" when not NULL.  Claims
 * are serialised compactly; the caller sets exp/iat/etc.  *out is a new
 * string.  Returns as tsr_jws_sign.  For other header members (a VC-JWT's
 * "cty": "vc") serialise the claims and call tsr_jws_sign directly.
 */
int tsr_jwt_sign(const struct tsr_key *key, const char *kid, const char *typ, const json_t *claims,
                 char **out, struct tsr_diag *d);

/* What a verified JWT must carry.  Zero-initialise, then set what matters. */
struct tsr_jwt_expect {
    const char *iss;      /* "iss" must equal this; NULL: not checked */
    const char *sub;      /* "sub" must equal this; NULL: not checked */
    const char *aud;      /* "aud" (a string, or an array) must be/contain this; NULL: no check */
    const char *typ;      /* header "typ" must equal this (case-insensitive, "application/"
                             optional); NULL: not checked */
    const char *cty;      /* header "cty" likewise ("vc" for a VC-JWT); NULL: not checked */
    int64_t now;          /* the time to check against, seconds since the epoch; 0: time(NULL) */
    int64_t leeway;       /* clock skew tolerated on exp, nbf and iat, seconds (>= 0) */
    int64_t max_lifetime; /* > 0: exp - iat (or exp - now without iat) may not exceed this */
    bool require_iat;     /* "iat" must be present */
    bool require_jti;     /* "jti" must be a non-empty string */
    size_t max_len;       /* token length limit; 0: TSR_JWS_MAX_LEN */
};

/*
 * Verify a JWT signed by key and check its claims against exp (may be
 * NULL for "exp only"): the signature (as tsr_jws_verify), the claims
 * set is a JSON object, "exp" is present and a number, now < exp +
 * leeway, now >= nbf - leeway when nbf is present, iat <= now + leeway
 * when present, the lifetime limit, and iss/sub/aud/typ/cty as expected.
 * Each failure names the claim in d ("token expired at 2025-01-01T00:00:00Z",
 * "audience mismatch: expected ..."). *out_claims (may be NULL) gets a new
 * reference on success.  Returns 0, TSR_EINVAL (malformed, missing
 * required claim), TSR_ELIMIT, TSR_ECRYPTO (bad signature), TSR_EAUTH
 * (expired, not yet valid, issued in the future, lifetime too long,
 * iss/sub/aud/typ/cty mismatch), TSR_ENOMEM.
 */
int tsr_jwt_verify(const struct tsr_key *key, const char *token, const struct tsr_jwt_expect *exp,
                   json_t **out_claims, struct tsr_diag *d);

#endif /* TSR_LIB_JOSE_H */
