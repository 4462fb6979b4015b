/*
 * catalog/store.h: tessera-catalogd's index of verified self-descriptions
 * in SQLite (state/catalog.db, module "catalog" in tsr_schema).
 *
 * Every entry is one verified VC-JWT, kept whole so that clients and
 * peers can verify it again, with the fields queries filter on in
 * columns (class, participant, media type, validity, status) and its
 * title, description and keywords in an FTS5 index.  Only active entries
 * are in the full-text and keyword indexes, so that a query never reads
 * superseded or withdrawn rows.  Lifecycle:
 *   active      the newest credential of (issuer, subject)
 *   superseded  a newer one of the same issuer and subject arrived
 *   withdrawn   the issuer sent a signed withdrawal for the subject
 *   expired     validUntil has passed (computed when querying)
 * Each change that peers must see is appended to an event log (published
 * with the VC-JWT, withdrawn with the withdrawal JWT, superseded for the
 * record), served to peers by sequence number.
 *
 * This file trusts its input: callers verify before they add (catalog/
 * ingest.h).  The functions are synchronous and run on the event loop.
 * A PostgreSQL backend would implement the same functions.
 */
#ifndef TSR_CATALOG_STORE_H
#define TSR_CATALOG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

struct tsr_cat_store;
struct tsr_vc_info;

/* The most results one query returns, and the default. */
#define TSR_CAT_QUERY_MAX 1000
#define TSR_CAT_QUERY_DEFAULT 20
/* The deepest page a query may ask for (results skipped). */
#define TSR_CAT_OFFSET_MAX 10000
/* The most events one page of the log holds. */
#define TSR_CAT_EVENTS_MAX 1000
/* Longest query text, filter value. */
#define TSR_CAT_TEXT_MAX 1024

/*
 * Open (creating) the index at path (":memory:" for tests) and migrate
 * its schema.  *out is new (tsr_cat_store_close).  Returns 0, TSR_EIO,
 * TSR_ESTATE (newer schema), TSR_ENOMEM.
 */
int tsr_cat_store_open(const char *path, struct tsr_cat_store **out, struct tsr_diag *d);
void tsr_cat_store_close(struct tsr_cat_store *cs);

/* What happened to a credential offered to tsr_cat_store_add. */
enum tsr_cat_outcome {
    TSR_CAT_ADDED = 1,     /* new and active (an older one may have been superseded) */
    TSR_CAT_DUPLICATE,     /* the same JWT is known already: nothing changed */
    TSR_CAT_STALE,         /* a newer credential of the subject is active: not stored */
    TSR_CAT_WITHDRAWN,     /* its issuer withdrew the subject after it was issued: not stored */
};

/*
 * Add one verified credential (jwt and info, borrowed; info from
 * tsr_vc_check) at now_ms, superseding the active one of the same issuer
 * and subject if that one is older, and log it.  With log false nothing
 * is appended to the event log (bulk loads).  *outcome says what
 * happened.  Returns 0, TSR_EINVAL, TSR_EIO, TSR_ENOMEM.
 */
int tsr_cat_store_add(struct tsr_cat_store *cs, const char *jwt, const struct tsr_vc_info *info,
                      int64_t now_ms, bool log, enum tsr_cat_outcome *outcome,
                      struct tsr_diag *d);

/*
 * Whether exactly this JWT (borrowed) is stored, as an entry or a
 * withdrawal, into *known.  It was verified when it was stored, and
 * storing it again changes nothing, so a peer relaying it again need not
 * be believed a second time: the node skips its verification.  Returns
 * 0 or TSR_EIO.
 */
int tsr_cat_store_known(struct tsr_cat_store *cs, const char *jwt, bool *known,
                        struct tsr_diag *d);

/* Transactions around several adds (a presentation is all or nothing; bulk loads). */
int tsr_cat_store_begin(struct tsr_cat_store *cs, struct tsr_diag *d);
int tsr_cat_store_commit(struct tsr_cat_store *cs, struct tsr_diag *d);
void tsr_cat_store_rollback(struct tsr_cat_store *cs);

/*
 * Apply a verified withdrawal (its JWT, issuer, subject and iat): every
 * credential of issuer about subject issued at or before iat becomes
 * withdrawn, and later arrivals of such credentials are refused.  *count
 * (may be NULL) gets the number of entries withdrawn; *known whether the
 * same withdrawal was seen before (then nothing changes and nothing is
 * logged).  Returns 0, TSR_EIO, TSR_ENOMEM.
 */
int tsr_cat_store_withdraw(struct tsr_cat_store *cs, const char *jwt, const char *issuer,
                           const char *subject, int64_t iat, int64_t now_ms, size_t *count,
                           bool *known, struct tsr_diag *d);

/*
 * Withdraw every active entry of issuer issued before before_iat (a
 * harvest source's datasets that its latest harvest no longer lists).
 * *count (may be NULL) gets how many.  Not logged.  Returns 0, TSR_EIO.
 */
int tsr_cat_store_retire(struct tsr_cat_store *cs, const char *issuer, int64_t before_iat,
                         size_t *count, struct tsr_diag *d);

/* A query: every field may be NULL (no condition); limit 0 is the default. */
struct tsr_cat_query {
    const char *text;        /* words, all of which must appear (title, description, keywords) */
    const char *cls;         /* "ServiceOffering", "LegalPerson" */
    const char *participant; /* DID */
    const char *keyword;     /* exact keyword */
    const char *media_type;  /* "text/csv" */
    size_t limit;
    size_t offset;           /* results skipped (paging), at most TSR_CAT_OFFSET_MAX */
    int64_t now;             /* seconds; entries valid until then or earlier are expired */
};

/*
 * Run q: active, unexpired entries, ranked by relevance (with text) then
 * newest first.  *out is a new JSON array of {"id", "type", "issuer",
 * "subject", "participant", "title", "description", "keywords",
 * "media_type", "endpoint", "dataset_id", "valid_until", "jwt", "status",
 * "signed"}; "signed" is false for harvested entries ("ExternalDataset"),
 * whose "jwt" is the harvested record (JSON), not a token.
 * Returns 0, TSR_EINVAL (a text without words, a value too long),
 * TSR_EIO, TSR_ENOMEM.
 */
int tsr_cat_store_query(struct tsr_cat_store *cs, const struct tsr_cat_query *q, json_t **out,
                        struct tsr_diag *d);

/*
 * One entry by its credential id, whatever its status: *out is a new
 * object as a query item plus "status".  Returns 0, TSR_ENOTFOUND,
 * TSR_EIO, TSR_ENOMEM.
 */
int tsr_cat_store_get(struct tsr_cat_store *cs, const char *cred_id, json_t **out,
                      struct tsr_diag *d);

/*
 * Up to limit (1..TSR_CAT_EVENTS_MAX) events after sequence number after,
 * as a new JSON array of {"seq", "kind", "jwt", "ref", "at"}; *last gets
 * the highest sequence number in the log.  Returns 0, TSR_EIO, TSR_ENOMEM.
 */
int tsr_cat_store_events(struct tsr_cat_store *cs, int64_t after, size_t limit, json_t **out,
                         int64_t *last, struct tsr_diag *d);

/* A peer's log position (0 when unknown), and recording a new one. */
int tsr_cat_store_peer_get(struct tsr_cat_store *cs, const char *url, int64_t *after,
                           struct tsr_diag *d);
int tsr_cat_store_peer_set(struct tsr_cat_store *cs, const char *url, int64_t after,
                           struct tsr_diag *d);

/*
 * Merge the full-text index's segments (FTS5 "optimize") and refresh the
 * query planner's statistics, after a bulk load or from time to time:
 * queries over a freshly loaded index read many small segments.  Returns
 * 0 or an error.
 */
int tsr_cat_store_optimize(struct tsr_cat_store *cs, struct tsr_diag *d);

/*
 * A bounded step of the same merge (FTS5 "merge"), cheap enough for an
 * idle timer of the daemon.  Returns 0 or an error.
 */
int tsr_cat_store_merge_step(struct tsr_cat_store *cs, struct tsr_diag *d);

/* Counts by status, as {"active": N, "superseded": N, "withdrawn": N, "events": N}; *out new. */
int tsr_cat_store_stats(struct tsr_cat_store *cs, json_t **out, struct tsr_diag *d);

#endif /* TSR_CATALOG_STORE_H */
