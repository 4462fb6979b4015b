/*
 * lib/vc.h: W3C Verifiable Credentials (data model 2.0) secured as
 * VC-JWT and VP-JWT (W3C VC-JOSE-COSE), in the Gaia-X Loire vocabulary
 * (the 2511 shapes), as tesserad emits them and tessera-catalogd checks
 * them.
 *
 * A VC-JWT's protected header is {"alg":"ES256","typ":"vc+jwt","cty":"vc",
 * "kid":"did:web:...#key-1","iss":DID}; its payload IS the credential
 * (no "vc" claim), plus the JOSE claims iss, iat and exp that agree with
 * issuer and validUntil.  A VP-JWT (typ vp+jwt, cty vp) carries its
 * credentials as EnvelopedVerifiableCredential entries whose id is
 * "data:application/vc+jwt,<JWT>".
 *
 * Credentials are read as compacted JSON with the prefixes the Loire
 * examples use ("gx:", "schema:", "dct:", "dcat:"); the @context must
 * name the credentials v2 context first and one of the accepted gx
 * namespaces.  This file does no JSON-LD processing and no I/O: resolving
 * the issuer's did:web document is the caller's job (transports/
 * did_resolve.h), and the signature is checked against that document.
 *
 * Shape rules: tsr_vc_check applies the required properties, the closed
 * property sets and the value lists of the 2511 SHACL shapes for the
 * classes tessera handles (gx:LegalPerson with gx:Address, gx:
 * ServiceOffering with its terms, policy, endpoint and data export nodes,
 * and the aggregated gx:VirtualResource), and collects every violation
 * rather than stopping at the first.
 */
#ifndef TSR_LIB_VC_H
#define TSR_LIB_VC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

struct tsr_key;

#define TSR_VC_CONTEXT_V2 "https://www.w3.org/ns/credentials/v2"
/* The frozen Loire snapshot (the default) and the moving namespace GXDCH v2 uses. */
#define TSR_VC_GX_2511 "https://w3id.org/gaia-x/2511#"
#define TSR_VC_GX_DEV "https://w3id.org/gaia-x/development#"
/* The prefix of an enveloped credential's id. */
#define TSR_VC_DATA_PREFIX "data:application/vc+jwt,"
#define TSR_VC_DATA_PREFIX_LD "data:application/vc+ld+json+jwt,"

/* The longest VC-JWT and VP-JWT accepted, and the most credentials in one VP. */
#define TSR_VC_JWT_MAX ((size_t)256 << 10)
#define TSR_VP_JWT_MAX ((size_t)8 << 20)
#define TSR_VP_MAX_CREDENTIALS 1024
/* Most keywords of one offer kept for the index, and the longest text field. */
#define TSR_VC_MAX_KEYWORDS 64
#define TSR_VC_TEXT_MAX 8192

/* The classes tessera understands. */
enum tsr_vc_class {
    TSR_VC_CLASS_OTHER = 0,
    TSR_VC_CLASS_LEGAL_PERSON,     /* gx:LegalPerson: a participant */
    TSR_VC_CLASS_SERVICE_OFFERING, /* gx:ServiceOffering: a data offer */
};

/* A decoded VC-JWT or VP-JWT.  The payload is NULL until tsr_vc_verify succeeded. */
struct tsr_vc {
    char *jwt;          /* the compact token (new copy) */
    json_t *header;     /* the protected header (new reference) */
    char *kid;          /* the header's kid as a full DID URL (new) */
    char *did;          /* the DID part of kid: the signer (new) */
    bool presentation;  /* typ vp+jwt */
    bool withdrawal;    /* typ withdrawal+jwt (tsr_vc_withdrawal_sign) */
    json_t *payload;    /* the verified credential or presentation (new reference) */
};

/*
 * What tsr_vc_check found out about a credential, for the index.  Every
 * pointer is borrowed from vc->payload (valid while vc lives); absent
 * fields are NULL, absent times 0.
 */
struct tsr_vc_info {
    enum tsr_vc_class cls;
    const char *cls_name;    /* "LegalPerson", "ServiceOffering" */
    const char *id;          /* the credential's id */
    const char *issuer;      /* the issuer DID */
    const char *subject;     /* credentialSubject.id */
    const char *participant; /* the DID the entry belongs to (the person, or providedBy) */
    const char *title;       /* schema:name (dct:title of the dataset when absent) */
    const char *description;
    const char *media_type;  /* the distribution's dcat:mediaType, as a type/subtype */
    const char *endpoint;    /* gx:endpoint's gx:endpointURL: the DSP endpoint */
    const char *dataset_id;  /* the dataset's dct:identifier */
    const char *license;     /* gx:license */
    const json_t *keywords;  /* gx:keyword: an array of strings, or NULL */
    int64_t valid_from;      /* seconds since the epoch */
    int64_t valid_until;
    int64_t iat;             /* the JOSE iat claim, or valid_from without one */
};

/*
 * Sign payload (a credential or a presentation object, borrowed) as a
 * VC-JWT (presentation false) or VP-JWT.  The header carries typ, cty,
 * kid and iss (the DID part of kid); the payload is a copy of payload
 * plus "iss" (the DID), "iat" (now) and, when payload has validUntil,
 * "exp".  *out is a new string.  Returns 0, TSR_EINVAL (kid not a DID
 * URL, no private key, bad validUntil), TSR_ELIMIT, TSR_ECRYPTO,
 * TSR_ENOMEM.
 */
int tsr_vc_sign(const struct tsr_key *key, const char *kid, bool presentation,
                const json_t *payload, char **out, struct tsr_diag *d);

/*
 * Decode a VC-JWT or VP-JWT's header without trusting anything: at most
 * TSR_VC_JWT_MAX (VP: TSR_VP_JWT_MAX) bytes; alg ES256 or EdDSA; typ
 * vc+jwt / vc+ld+json+jwt (vp+jwt / vp+ld+json+jwt, withdrawal+jwt); cty, when present,
 * vc / vc+ld+json (vp / vp+ld+json); kid a did:web DID URL with a
 * fragment (a bare "#frag" takes the header's iss).  *out is new
 * (tsr_vc_free).  Returns 0, TSR_EINVAL, TSR_ELIMIT, TSR_ENOMEM.
 */
int tsr_vc_decode(const char *jwt, struct tsr_vc **out, struct tsr_diag *d);

/* Free a decoded token.  vc may be NULL. */
void tsr_vc_free(struct tsr_vc *vc);

/*
 * Check vc's signature with the key its kid names in did_doc (borrowed,
 * a document tsr_did_doc_check accepted for vc->did), which must list it
 * under assertionMethod (a VP: assertionMethod or authentication), and
 * on success set vc->payload to the parsed, size-bounded claims.
 * Returns 0, TSR_ENOTFOUND (no such key), TSR_EINVAL (unusable key or
 * payload not a JSON object), TSR_ECRYPTO (the signature does not
 * verify), TSR_ENOMEM.
 */
int tsr_vc_verify(struct tsr_vc *vc, const json_t *did_doc, struct tsr_diag *d);

/*
 * A bounded cache of verification keys, keyed by kid and the JWK's
 * members, so that many credentials of one issuer do not rebuild the
 * same key (with OpenSSL 3 that costs more than the signature check).  A
 * rotated key has another JWK and so another entry.  For one thread.
 */
struct tsr_vc_keycache;

/* A new cache of at most max keys (0: 256).  Returns 0 or TSR_ENOMEM. */
int tsr_vc_keycache_new(size_t max, struct tsr_vc_keycache **out);

/* Free the cache and its keys.  kc may be NULL. */
void tsr_vc_keycache_free(struct tsr_vc_keycache *kc);

/* tsr_vc_verify, taking the key from kc (may be NULL: no cache) when it is there. */
int tsr_vc_verify_cached(struct tsr_vc *vc, const json_t *did_doc, struct tsr_vc_keycache *kc,
                         struct tsr_diag *d);

/*
 * Check a verified credential's content at time now (seconds): the
 * envelope (no vc/vp claim, @context, type, id, issuer equal to the
 * signer's DID and to iss, validFrom <= now < validUntil, exp and nbf in
 * agreement), the class's shape rules, and the issuer rule (a
 * LegalPerson's subject is its issuer; a ServiceOffering's gx:providedBy
 * is its issuer, or the issuer is listed in trusted, a NULL-terminated
 * array that may be NULL).  Each violation is appended to reasons (a JSON
 * array, borrowed; may be NULL) as a sentence.  *info (may be NULL) is
 * filled on success.  Returns 0; TSR_EAUTH when only the validity window
 * or the issuer rule failed; TSR_EINVAL for any other violation;
 * TSR_ENOMEM.
 */
int tsr_vc_check(const struct tsr_vc *vc, int64_t now, const char *const *trusted,
                 json_t *reasons, struct tsr_vc_info *info);

/*
 * Check the payload of a credential (not signed: a builder's own output,
 * or a test vector) against the shape rules only, as tsr_vc_check does
 * for its class; reasons and the return value as there.
 */
int tsr_vc_check_shapes(const json_t *cred, json_t *reasons);

/*
 * The enveloped credentials of a verified presentation: checks its
 * @context, type VerifiablePresentation, holder (when present) equal to
 * the signer, and that verifiableCredential is a non-empty array (at
 * most TSR_VP_MAX_CREDENTIALS) of EnvelopedVerifiableCredential entries
 * with data: ids.  *jwts is a new JSON array of the compact VC-JWT
 * strings.  Returns 0, TSR_EINVAL (the reason in d), TSR_ELIMIT,
 * TSR_ENOMEM.
 */
int tsr_vc_unwrap(const struct tsr_vc *vp, json_t **jwts, struct tsr_diag *d);

/*
 * A signed withdrawal: a JWT (typ "withdrawal+jwt", kid as a VC-JWT's)
 * whose claims {iss, sub, iat} say that the issuer withdraws every
 * credential about subject sub it issued at or before iat.  It carries no
 * audience and no expiry, so catalogs can relay it to their peers, and
 * replaying it is harmless: a credential issued later is not affected.
 * *out is new.  Returns as tsr_vc_sign.
 */
int tsr_vc_withdrawal_sign(const struct tsr_key *key, const char *kid, const char *subject,
                           char **out, struct tsr_diag *d);

/*
 * Check a verified withdrawal (vc->withdrawal, payload set): iss equal to
 * the signer, sub a non-empty string, iat an integer not after now plus
 * a minute.  *subject (borrowed from vc) and *iat are set.  Returns 0,
 * TSR_EINVAL (malformed), TSR_EAUTH (iss differs, issued in the future).
 */
int tsr_vc_withdrawal_check(const struct tsr_vc *w, int64_t now, const char **subject,
                            int64_t *iat, struct tsr_diag *d);

/*
 * "LegalPerson"/"ServiceOffering" from a gx type ("gx:LegalPerson", or a
 * full IRI in one of the accepted namespaces) found in a type member (a
 * string or an array), or TSR_VC_CLASS_OTHER.
 */
enum tsr_vc_class tsr_vc_class_of(const json_t *type);

#endif /* TSR_LIB_VC_H */
