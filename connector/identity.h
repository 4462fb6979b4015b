/*
 * connector/identity.h: who is calling, for every Dataspace Protocol
 * request.
 *
 * Outgoing: each DSP request carries "Authorization: Bearer <JWT>", a token
 * self-issued by the caller and signed with its participant key: iss = sub
 * = the caller's did:web DID, aud = the callee's DID, iat, nbf, a short
 * exp, a unique jti, and kid = "<DID>#key-1" in the header.
 *
 * Incoming: the callee checks everything it can without the network first
 * (the header's shape and size, iss == sub, a well-formed and canonical
 * did:web DID, kid belonging to that DID, the audience, the deny and allow
 * lists), so a denied or malformed token costs no request; then it
 * resolves the caller's DID document (transports/did_resolve.h: cached,
 * bounded), verifies the signature with the key kid names there, the
 * validity window, and refuses a jti seen before.  The verified DID is who
 * the caller is: the assignee of its agreements.
 *
 * Deny lists stop a known DID; a party that controls a host can mint new
 * did:web DIDs at will, so a closed data space should use the allow list.
 * Callers must present their DID in canonical form (lower-case host, port
 * marker "%3A", no ":443", no needless %-escapes) so that one DID has one
 * spelling and no list can be sidestepped by writing it another way.
 *
 * The mode enum leaves room for other token formats (EDC's development
 * "mock" identity, issue 8); only the self-issued mode exists now.
 *
 * Not here: TLS trust (the resolver's HTTP client is configured with the
 * trusted CAs), HTTP status mapping (the DSP layer's job: TSR_EAUTH is
 * 401, TSR_EFORBIDDEN 403, TSR_EUNAVAIL 503).
 */
#ifndef TSR_CONNECTOR_IDENTITY_H
#define TSR_CONNECTOR_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct tsr_key;
struct tsr_did_resolver;
struct tsr_identity;
struct tsr_identity_check;

/* The longest token accepted (the JWT alone, without "Bearer "). */
#define TSR_IDENTITY_MAX_TOKEN (8 * 1024)
/* The longest "jti" accepted. */
#define TSR_IDENTITY_MAX_JTI 256
/* Lifetime of the tokens we issue, and the most we accept from others. */
#define TSR_IDENTITY_DEFAULT_LIFETIME_S 300
#define TSR_IDENTITY_MAX_LIFETIME_S 600
/* Clock skew tolerated on exp, nbf and iat by default, and at most. */
#define TSR_IDENTITY_DEFAULT_SKEW_S 60
#define TSR_IDENTITY_MAX_SKEW_S 600
/* Entries of the built-in replay cache by default. */
#define TSR_IDENTITY_DEFAULT_REPLAY_MAX 100000
/* Entries in the allow list and in the deny list, each. */
#define TSR_IDENTITY_MAX_LIST 65536

enum tsr_identity_mode {
    /* Self-issued JWTs checked through did:web (the default). */
    TSR_IDENTITY_SELF_ISSUED = 0,
};

/*
 * Replay check: record that the token iss/jti was seen.  Returns 0 when
 * the pair is new (and now recorded), TSR_EEXIST when it was seen before;
 * any other negative code fails the verification with that code (a store
 * error).  until_ms is when the token stops being acceptable anyway (its
 * exp plus the allowed skew, milliseconds since the epoch): the record
 * may be dropped after it.  Called from the event loop, at most once per
 * verification, after the signature has been verified.
 */
typedef int (*tsr_identity_seen_fn)(void *arg, const char *iss, const char *jti,
                                    int64_t until_ms);

/* A wall clock in milliseconds since the epoch (tests fake it). */
typedef int64_t (*tsr_identity_clock_fn)(void *arg);

struct tsr_identity_opts {
    enum tsr_identity_mode mode;
    int64_t lifetime_s;       /* of the tokens we issue; 0: 300; at most 600 */
    int64_t max_skew_s;       /* tolerated clock skew; 0: 60; at most 600 */
    /*
     * NULL-terminated lists of canonical did:web DIDs, copied.  A DID on
     * the deny list is refused; with a non-empty allow list only the DIDs
     * on it are accepted.  NULL means an empty list.
     */
    const char *const *allow;
    const char *const *deny;
    /* Replay store; NULL: the built-in in-memory cache of replay_max entries. */
    tsr_identity_seen_fn seen;
    void *seen_arg;
    size_t replay_max;        /* built-in cache size; 0: TSR_IDENTITY_DEFAULT_REPLAY_MAX */
    tsr_identity_clock_fn clock; /* NULL: tsr_time_now_ms() */
    void *clock_arg;
};

/*
 * Outcome of a verification.  rc is 0 with caller_did the verified DID,
 * or a negative code with caller_did NULL and diag saying why:
 * TSR_EAUTH (no or malformed token, expired, not yet valid, lifetime too
 * long, wrong audience, bad signature, unknown key, replayed, the caller's
 * DID document does not exist or is invalid), TSR_EFORBIDDEN (the DID is
 * denied or not allowed), TSR_EUNAVAIL (the DID document could not be
 * fetched: unreachable, timeout, TLS, a server error; or the built-in
 * replay cache is full), TSR_ENOMEM, or a seen callback's own error.
 * caller_did and diag are borrowed: valid only during the call.  The
 * callback may start verifications, cancel others and free the identity.
 */
typedef void (*tsr_identity_done_fn)(void *arg, int rc, const char *caller_did,
                                     const struct tsr_diag *diag);

/*
 * Create an identity for our DID (a canonical did:web DID, copied).  key
 * (borrowed, needs its private half; may be NULL for an identity that only
 * verifies) signs our tokens; resolver (borrowed, may be NULL for an
 * identity that only issues) fetches callers' DID documents.  Both must
 * outlive the identity.  opts may be NULL for the defaults.  Returns 0 and
 * *out (new, tsr_identity_free), TSR_EINVAL (bad DID, key without a
 * private half, bad option or list entry, unknown mode; detail in d),
 * TSR_ELIMIT (a list is too long), TSR_ENOMEM, TSR_ECRYPTO.
 */
int tsr_identity_new(struct tsr_identity **out, const char *did, const struct tsr_key *key,
                     struct tsr_did_resolver *resolver, const struct tsr_identity_opts *opts,
                     struct tsr_diag *d);

/*
 * Cancel every verification in flight without calling its callback, and
 * free id.  id may be NULL.  May be called from inside a callback.
 */
void tsr_identity_free(struct tsr_identity *id);

/* Our DID (borrowed, valid while id lives). */
const char *tsr_identity_did(const struct tsr_identity *id);

/*
 * A new Authorization header value for a request to audience_did:
 * "Bearer <JWT>", fresh jti each call.  *out_header_value is a new
 * string; it is a credential: free it with tsr_free_secret.  Returns 0,
 * TSR_EINVAL (no signing key, audience not a DID), TSR_ECRYPTO,
 * TSR_ENOMEM.
 */
int tsr_identity_token(struct tsr_identity *id, const char *audience_did,
                       char **out_header_value, struct tsr_diag *d);

/*
 * Verify an Authorization header value (borrowed; NULL when the request
 * had none): "Bearer " and a JWT of at most TSR_IDENTITY_MAX_TOKEN bytes,
 * ES256 or EdDSA, typ "JWT", with iss = sub, aud (a string or a list)
 * holding our DID, iat, exp at most TSR_IDENTITY_MAX_LIFETIME_S after
 * iat, nbf if present, and a jti; kid must be a DID URL of iss naming a
 * key listed under "authentication" in the issuer's DID document.
 * Everything decidable without the network is decided here:
 * then the call returns TSR_EAUTH or TSR_EFORBIDDEN (as the callback
 * would, detail in d), TSR_EINVAL (no resolver), TSR_ENOMEM or an error
 * of tsr_did_resolve, and cb is never called.  Otherwise it returns 0 and
 * cb(arg, ...) is called exactly once later from the event loop (never
 * from inside this call), unless the check is cancelled or id freed
 * first.  *handle (when handle is not NULL) is valid until cb starts.
 */
int tsr_identity_verify(struct tsr_identity *id, const char *authorization_header_value,
                        tsr_identity_done_fn cb, void *arg, struct tsr_identity_check **handle,
                        struct tsr_diag *d);

/*
 * Abandon a verification (the HTTP request it was for went away): its
 * callback will not be called.  Must not be used once the callback has
 * started.  check may be NULL.
 */
void tsr_identity_cancel(struct tsr_identity_check *check);

/* Verifications in flight (for tests and metrics). */
size_t tsr_identity_pending(const struct tsr_identity *id);

#endif /* TSR_CONNECTOR_IDENTITY_H */
