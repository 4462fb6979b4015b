/*
 * connector/usage.h: consumer-side usage control in tesserad: the vault
 * (contracts/vault.h) that received data lands in, the decision at each
 * local use (the agreement evaluated now: time window, use count kept in
 * SQLite, purpose, first use), the signed usage ledger
 * (contracts/ledger.h) every use, refusal and duty is appended to, and
 * the duties scheduler (delete, inform, log) that survives restarts.
 *
 * It also serves the two protocol-port routes of the usage extension,
 * authenticated like DSP requests (self-issued DID tokens):
 *   GET  /usage/v1/agreements/:id/ledger   (consumer) a signed extract of
 *        the agreement's ledger entries; the caller must be its provider
 *   POST /usage/v1/agreements/:id/notify   (provider) an inform duty of the
 *        consumer; the caller must be the agreement's consumer
 * and fetches and checks an extract from the consumer (provider side).
 *
 * State: tables usage_counts and usage_duties (module "usage") in the
 * store's database; the vault under STATE/vault, the ledger under
 * STATE/ledger.  One per daemon, used from the event loop's thread.
 */
#ifndef TSR_CONNECTOR_USAGE_H
#define TSR_CONNECTOR_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

struct event_base;
struct tsr_client;
struct tsr_did_resolver;
struct tsr_http_server;
struct tsr_identity;
struct tsr_key;
struct tsr_policy;
struct tsr_store;
struct tsr_usage;
struct tsr_vault;
struct tsr_vault_obj;
struct tsr_vault_reader;

/* Attempts of an inform duty before it is recorded as failed. */
#define TSR_USAGE_INFORM_ATTEMPTS 10
/* Where the usage extension lives on the protocol port. */
#define TSR_USAGE_BASE_PATH "/usage/v1/agreements"
/* The action a local use is evaluated for. */
#define TSR_USAGE_ACTION "read"

struct tsr_usage_opts {
    struct event_base *base;
    struct tsr_store *store;           /* borrowed: agreements; our tables go in its database */
    struct tsr_policy *policy;         /* borrowed: compiled agreements (required) */
    struct tsr_identity *identity;     /* borrowed: tokens out, callers in; NULL: no peers */
    struct tsr_client *client;         /* borrowed; NULL: no peers */
    struct tsr_did_resolver *resolver; /* borrowed: keys of consumers' extracts; may be NULL */
    const struct tsr_key *key;         /* borrowed participant key (private half) */
    const char *did;                   /* our DID */
    const char *state_dir;             /* vault and ledger go below it */
};

/*
 * Open the vault and the ledger, migrate the tables and arm the duties
 * timer; duties that fell due while the daemon was down run at the first
 * turn of the loop.  A ledger that does not verify is not fatal: the
 * daemon runs, every use is then refused with the reason (fail closed).
 * *out is new (tsr_usage_free).  Returns 0, TSR_EINVAL, TSR_EIO,
 * TSR_ECRYPTO, TSR_ENOMEM or a database error.
 */
int tsr_usage_new(const struct tsr_usage_opts *opts, struct tsr_usage **out, struct tsr_diag *d);

/*
 * Cancel timers and requests in flight, close vault and ledger.  Call it
 * after the servers u's routes are on were freed (requests still waiting
 * for a caller's DID document are dropped without an answer).  u may be
 * NULL.
 */
void tsr_usage_free(struct tsr_usage *u);

/* Mount the protocol-port routes (see the top) on srv. */
int tsr_usage_mount(struct tsr_usage *u, struct tsr_http_server *srv, struct tsr_diag *d);

/* The vault (borrowed). */
struct tsr_vault *tsr_usage_vault(struct tsr_usage *u);

/*
 * A transfer of agreement_id stored object_id in the vault: record it in
 * the ledger and schedule the agreement's duties (delete at or after a
 * time, inform, log) read from its evaluation now.  Failures are logged.
 */
void tsr_usage_received(struct tsr_usage *u, const char *agreement_id, const char *transfer_id,
                        const char *object_id, uint64_t bytes, const char *sha256);

/*
 * One local use of vault object id for purpose (NULL: none): evaluates
 * the agreement now with action TSR_USAGE_ACTION, our DID as assignee,
 * the agreement's time, first use and use count; records the use or the
 * refusal in the ledger; on a permit counts the use and opens the object.
 * *r (new, tsr_vault_reader_free) and *obj (new, tsr_vault_obj_free; may
 * be NULL) on success.  Returns 0, TSR_ENOTFOUND, TSR_EPOLICY (refused:
 * the decision's reason in d), TSR_ECRYPTO (the object or the ledger is
 * damaged), TSR_EIO, TSR_ENOMEM.
 */
int tsr_usage_open(struct tsr_usage *u, const char *id, const char *purpose,
                   struct tsr_vault_reader **r, struct tsr_vault_obj **obj, struct tsr_diag *d);

/* The vault's objects as JSON {"items": [...]} (new), paged.  0 or an error. */
int tsr_usage_vault_list(struct tsr_usage *u, size_t offset, size_t limit, json_t **out,
                         struct tsr_diag *d);

/* One object with its agreement's use counter as JSON (new).  0, TSR_ENOTFOUND... */
int tsr_usage_vault_get(struct tsr_usage *u, const char *id, json_t **out, struct tsr_diag *d);

/* Remove one object (operator), recorded in the ledger.  0, TSR_ENOTFOUND... */
int tsr_usage_vault_remove(struct tsr_usage *u, const char *id, struct tsr_diag *d);

/* The ledger's entries {"items": [...]} (new), of agreement_id only when not NULL. */
int tsr_usage_ledger_list(struct tsr_usage *u, const char *agreement_id, size_t offset,
                          size_t limit, json_t **out, struct tsr_diag *d);

/*
 * Verify the ledger: *out (new) is {"valid": bool, "entries": N,
 * "head": H, "bad_line": N|null, "error": TEXT|null}.  Returns 0 when the
 * report was built (valid or not), or TSR_ENOMEM.
 */
int tsr_usage_ledger_verify(struct tsr_usage *u, json_t **out, struct tsr_diag *d);

/* Completion of an extract fetch: rc 0 and result (borrowed), or an error in d. */
typedef void (*tsr_usage_done_fn)(void *arg, int rc, json_t *result, const struct tsr_diag *d);

/*
 * Provider: fetch the consumer's signed ledger extract of agreement_id
 * (ours as provider), check it with the consumer's did:web key, and call
 * cb with {"agreement", "consumer", "verified": true, "entries": [...],
 * "extract": {...}}.  Returns 0 (cb called later, exactly once, unless
 * tsr_usage_cancel or tsr_usage_free comes first: then arg is released
 * with tsr_free instead, so it must be a tsr_malloc'ed block or NULL), or
 * TSR_ENOTFOUND, TSR_EINVAL (not our agreement as provider),
 * TSR_EUNAVAIL, TSR_ENOMEM (cb never called, arg untouched).  *handle
 * (may be NULL) identifies the fetch.
 */
int tsr_usage_fetch_extract(struct tsr_usage *u, const char *agreement_id, tsr_usage_done_fn cb,
                            void *arg, void **handle, struct tsr_diag *d);

/* Abandon a fetch: its callback is not called.  handle may be NULL. */
void tsr_usage_cancel(struct tsr_usage *u, void *handle);

#endif /* TSR_CONNECTOR_USAGE_H */
