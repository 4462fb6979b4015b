/*
 * lib/did.h: did:web identifiers and DID documents (W3C DID Core 1.0 and
 * the did:web method specification).
 *
 * This file maps a did:web DID to the HTTPS URL its document lives at and
 * back, builds the document tessera publishes for its participant key, and
 * checks a resolved document strictly before anything looks a key up in
 * it.  It does no I/O: fetching is transports/did_resolve.h's job, turning
 * a JWK into a key is lib/jose.h's.
 *
 * did:web identifiers accepted here: "did:web:" + host + optional "%3A" +
 * port + optional ":"-separated path segments.  host is a DNS name, or an
 * IPv4 literal in 127.0.0.0/8 (the spec forbids IP addresses; loopback is
 * allowed so that tests and local demos work without DNS).
 */
#ifndef TSR_LIB_DID_H
#define TSR_LIB_DID_H

#include <stddef.h>

#include <jansson.h>

#include "lib/err.h"

/* Longest DID or DID URL accepted. */
#define TSR_DID_MAX_LEN 1024
/* Largest DID document accepted, in bytes of JSON. */
#define TSR_DID_DOC_MAX (64u * 1024)
/* Most entries in verificationMethod, in each verification relationship, and in service. */
#define TSR_DID_MAX_METHODS 32
#define TSR_DID_MAX_SERVICES 32
/* The fragment of the key tessera publishes. */
#define TSR_DID_KEY_FRAGMENT "key-1"

#define TSR_DID_CONTEXT_V1 "https://www.w3.org/ns/did/v1"
#define TSR_DID_CONTEXT_JWS2020 "https://w3id.org/security/suites/jws-2020/v1"

/*
 * The URL of a did:web DID's document: "https://host[:port]/path/did.json",
 * or "https://host[:port]/.well-known/did.json" without a path.  Returns 0
 * and *url (new, tsr_free), or TSR_EINVAL (not a did:web DID, malformed
 * host, port or path, a DID URL with a fragment or query, an IP address
 * other than loopback), TSR_ELIMIT (too long), TSR_ENOMEM.
 */
int tsr_did_web_to_url(const char *did, char **url, struct tsr_diag *d);

/*
 * The did:web DID of a host, port (0 or 443: none) and optional path
 * ("user/alice", leading and trailing slashes ignored; NULL or "" for
 * none).  Returns 0 and *did (new, tsr_free), or TSR_EINVAL (a host, port
 * or path that could not round-trip through tsr_did_web_to_url),
 * TSR_ELIMIT, TSR_ENOMEM.
 */
int tsr_did_web_from_host(const char *host, unsigned port, const char *path, char **did,
                          struct tsr_diag *d);

/*
 * Split a DID URL "did#fragment" (a JWS "kid") into the DID (new,
 * tsr_free) and a pointer to the fragment inside didurl (borrowed; NULL
 * when there is none).  Queries and paths are refused.  Returns 0,
 * TSR_EINVAL, TSR_ELIMIT or TSR_ENOMEM.
 */
int tsr_did_url_split(const char *didurl, char **did, const char **fragment,
                      struct tsr_diag *d);

/* One service entry of a document being built. */
struct tsr_did_service {
    const char *fragment; /* the entry's id is DID#fragment ("dsp") */
    const char *type;     /* "DataService" */
    const char *endpoint; /* an absolute https:// (or http://) URL */
};

/*
 * Build tessera's DID document for did: the DID and JWS-2020 contexts, one
 * JsonWebKey2020 verification method DID#key-1 holding public_jwk
 * (borrowed; copied), referenced from authentication and assertionMethod,
 * and the services given (may be NULL when nservices is 0).  A JWK with a
 * private member ("d" and friends) is refused.  Returns 0 and *out (new
 * reference), or TSR_EINVAL, TSR_ELIMIT (too many services), TSR_ENOMEM.
 */
int tsr_did_doc_build(const char *did, const json_t *public_jwk,
                      const struct tsr_did_service *services, size_t nservices, json_t **out,
                      struct tsr_diag *d);

/*
 * Check a parsed DID document for the DID it was fetched for: an object
 * whose id equals did exactly, an optional @context whose first entry is
 * the DID context, verification methods that are objects with string id,
 * type and controller (at most TSR_DID_MAX_METHODS, no duplicate ids), at
 * most one key representation each, verification relationships that are
 * arrays of references or embedded methods, services that are well formed.
 * Returns 0, or TSR_EPROTO (id mismatch, malformed), TSR_ELIMIT.
 */
int tsr_did_doc_check(const char *did, const json_t *doc, struct tsr_diag *d);

/*
 * Parse len bytes of JSON (at most TSR_DID_DOC_MAX; duplicate keys
 * refused) and check the result with tsr_did_doc_check.  Returns 0 and
 * *out (new reference), or TSR_EPROTO, TSR_ELIMIT, TSR_ENOMEM.
 */
int tsr_did_doc_parse(const char *did, const char *text, size_t len, json_t **out,
                      struct tsr_diag *d);

/*
 * Find the publicKeyJwk of the verification method kid names in a checked
 * document: kid is a full DID URL ("did:web:x#key-1", whose DID part must
 * be the document's id), "#key-1" or "key-1".  With relationship
 * ("assertionMethod", "authentication"; NULL: any) the method must also be
 * listed there, by reference or embedded.  Returns 0 and *jwk (borrowed
 * from doc; valid while doc lives), or TSR_ENOTFOUND (no such method, not
 * in that relationship, or no publicKeyJwk), TSR_EINVAL (malformed kid).
 */
int tsr_did_doc_find_jwk(const json_t *doc, const char *kid, const char *relationship,
                         const json_t **jwk, struct tsr_diag *d);

#endif /* TSR_LIB_DID_H */
