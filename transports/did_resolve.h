/*
 * transports/did_resolve.h: asynchronous did:web resolution with a bounded
 * cache, on top of transports/client.h.
 *
 * A resolver fetches https://host/.../did.json for a did:web DID, checks
 * the document strictly (lib/did.h: the id must be the DID asked for) and
 * caches the outcome: documents for ttl_ms, failures for neg_ttl_ms, at
 * most max_entries DIDs (least recently used evicted first).  Lookups of
 * a DID already being fetched wait for that one request.
 *
 * Callback rule (as transports/client.h): if tsr_did_resolve() returns an
 * error the callback is never called; otherwise it is called exactly once,
 * always from the event loop (a cache hit too, never from inside
 * tsr_did_resolve), unless the lookup is cancelled or the resolver freed
 * first.
 */
#ifndef TSR_TRANSPORTS_DID_RESOLVE_H
#define TSR_TRANSPORTS_DID_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lib/err.h"

struct tsr_client;
struct tsr_did_resolver;
struct tsr_did_lookup;

#define TSR_DID_RESOLVE_DEFAULT_MAX_ENTRIES 1024
#define TSR_DID_RESOLVE_DEFAULT_TTL_MS (5L * 60 * 1000)
#define TSR_DID_RESOLVE_DEFAULT_NEG_TTL_MS (30L * 1000)
#define TSR_DID_RESOLVE_DEFAULT_TIMEOUT_MS 10000L

struct tsr_did_resolver_opts {
    size_t max_entries; /* cached DIDs, in flight included; 0: 1024 */
    long ttl_ms;        /* how long a document is reused; 0: 5 min */
    long neg_ttl_ms;    /* how long a failure is remembered; 0: 30 s */
    long timeout_ms;    /* per fetch; 0: 10 s */
    /*
     * Tests only: fetch http:// instead of https://, so a loopback test
     * server needs no certificate.  Never set from configuration.
     */
    bool allow_http;
};

/*
 * Outcome of a lookup.  rc is 0 with doc (borrowed: valid only during the
 * call; json_incref it to keep it) or a negative code with doc NULL and
 * diag (borrowed) saying why: TSR_EINVAL never (checked up front),
 * TSR_ENOTFOUND (the server answered 404), TSR_EUNAVAIL (another status,
 * or unreachable), TSR_EPROTO (not a valid document for this DID),
 * TSR_ELIMIT (document too large), TSR_ETLS, TSR_ETIMEOUT, TSR_ENOMEM.
 * The callback may start lookups, cancel others and free the resolver.
 */
typedef void (*tsr_did_resolve_fn)(void *arg, int rc, const json_t *doc,
                                   const struct tsr_diag *diag);

/*
 * Create a resolver fetching through client (borrowed; it must outlive
 * the resolver) on the client's event loop.  opts may be NULL.  Returns 0
 * and *out (new, tsr_did_resolver_free), TSR_EINVAL (negative option) or
 * TSR_ENOMEM.
 */
int tsr_did_resolver_new(struct tsr_did_resolver **out, struct tsr_client *client,
                         const struct tsr_did_resolver_opts *opts, struct tsr_diag *d);

/*
 * Cancel every lookup without calling callbacks, cancel the fetches and
 * free the cache.  r may be NULL.  May be called from inside a callback.
 */
void tsr_did_resolver_free(struct tsr_did_resolver *r);

/*
 * Resolve did; cb(arg, ...) is called once later (see the rule above).
 * *lookup (when lookup is not NULL) is a handle for
 * tsr_did_resolve_cancel, valid until cb starts.  Returns 0, or TSR_EINVAL
 * (not a valid did:web DID; detail in d), TSR_ELIMIT (the cache is full of
 * lookups in flight), TSR_ENOMEM, or a tsr_client_request error.
 */
int tsr_did_resolve(struct tsr_did_resolver *r, const char *did, tsr_did_resolve_fn cb,
                    void *arg, struct tsr_did_lookup **lookup, struct tsr_diag *d);

/*
 * Forget one lookup: its callback will not be called.  The fetch behind it
 * goes on (other lookups may share it) and fills the cache.  Must not be
 * used once the callback has started.  lookup may be NULL.
 */
void tsr_did_resolve_cancel(struct tsr_did_lookup *lookup);

/*
 * Drop did's cached outcome (not a fetch in flight), so the next lookup
 * fetches again: for a signature that fails with a cached key, which may
 * have been rotated.  Ignored for unknown DIDs and for outcomes younger
 * than neg_ttl_ms, so that a flood of bad signatures cannot turn into a
 * flood of fetches.
 */
void tsr_did_resolver_invalidate(struct tsr_did_resolver *r, const char *did);

/* Number of DIDs cached or being fetched. */
size_t tsr_did_resolver_size(const struct tsr_did_resolver *r);

#endif /* TSR_TRANSPORTS_DID_RESOLVE_H */
