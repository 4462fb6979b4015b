/*
 * connector/store.h: tesserad's durable state in one SQLite file
 * (state/tesserad.db): assets, policies, offers, negotiations,
 * agreements, transfers, the outbox of messages owed to peers and the
 * token replay cache.
 *
 * Durability: the database runs in WAL mode with synchronous=NORMAL.
 * Every function below that changes something commits before it returns,
 * so once it has returned 0 the change survives a kill -9 of the process
 * at any later moment (a power loss may lose the last few commits, never
 * consistency).  A state change and the message it implies are committed
 * in ONE transaction (the *_create, *_transition and *_agree functions
 * take an optional outbox message), so after a crash there is never a new
 * state without its message, nor a message without its state.
 *
 * Threading: a store is used from one thread, the daemon's event loop.
 * Every call is synchronous and short (one small transaction), so it is
 * safe to call from a loop callback.
 *
 * Ownership: structs passed in are borrowed (the store copies what it
 * keeps; an empty string in an optional field is stored as NULL).  The
 * store never writes through an input struct's pointers, so a caller may
 * point them at literals or borrowed strings with a (char *) cast.
 * Structs coming out are new: free them with the matching
 * tsr_store_*_free (one object) or tsr_store_*_array_free (a list).  All
 * char * fields of an output struct are new strings or NULL.
 *
 * Errors: every function that can fail returns 0 or a negative TSR_E*
 * code with detail in d (which may be NULL):
 *   TSR_EINVAL    a required field is missing or malformed (id syntax,
 *                 role, source_kind)
 *   TSR_ELIMIT    a text is longer than its TSR_STORE_*_MAX
 *   TSR_ENOTFOUND no object with that id (or a referenced object is missing)
 *   TSR_EEXIST    the id (or a unique pid) is taken
 *   TSR_ECONFLICT deleting an object still referenced by another
 *   TSR_ESTATE    compare-and-set failed: the object is not in the
 *                 expected state (d names the current state)
 *   TSR_EUNAVAIL  the database is locked by another process
 *   TSR_EIO       the file cannot be read or written
 *   TSR_ENOMEM
 */
#ifndef TSR_CONNECTOR_STORE_H
#define TSR_CONNECTOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct tsr_store;
struct tsr_db;

/* Longest id or pid, in bytes. */
#define TSR_STORE_ID_MAX 256
/* Longest short text (title, media type, URL, DID, path, state, error...). */
#define TSR_STORE_TEXT_MAX 8192
/* Longest JSON or body text (policy, offer, agreement, outbox body...). */
#define TSR_STORE_JSON_MAX (1024 * 1024)
/* Rows a list returns when the filter's limit is 0, and the most it ever returns. */
#define TSR_STORE_LIST_DEFAULT 100
#define TSR_STORE_LIST_MAX 1000

/* The role values (the role column is exactly one of these). */
#define TSR_STORE_ROLE_PROVIDER "provider"
#define TSR_STORE_ROLE_CONSUMER "consumer"

/* Outbox entity values. */
#define TSR_STORE_ENTITY_NEG "negotiation"
#define TSR_STORE_ENTITY_TP "transfer"

/* ---------------------------------------------------------------- store */

/*
 * Open (creating when missing, mode 0600) the store at path, and bring
 * its schema (module "connector" in tsr_schema) up to date.  ":memory:" works (for
 * tests).  On success *out is new (tsr_store_close it); NULL on failure.
 * Returns 0, TSR_EIO (not a database, cannot create), TSR_ESTATE (schema
 * newer than this program), TSR_EUNAVAIL, TSR_ENOMEM.
 */
int tsr_store_open(const char *path, struct tsr_store **out, struct tsr_diag *d);

/* Close the store (an open transaction is rolled back).  st may be NULL. */
void tsr_store_close(struct tsr_store *st);

/* The underlying connection, borrowed (for tests and diagnostics). */
struct tsr_db *tsr_store_db(struct tsr_store *st);

/*
 * True when id is a valid user-chosen id (asset, policy, offer):
 * 1..TSR_STORE_ID_MAX bytes of [A-Za-z0-9._:-].
 */
bool tsr_store_id_valid(const char *id);

/*
 * True when pid is acceptable as a process id or agreement id (ours or a
 * peer's): 1..TSR_STORE_ID_MAX bytes, printable ASCII, no space.
 */
bool tsr_store_pid_valid(const char *pid);

/*
 * What every list function takes.  NULL means all defaults.  role and
 * state apply to negotiations and transfers only (ignored elsewhere).
 * Rows come in the order they were inserted.
 */
struct tsr_store_filter {
    const char *role;  /* "provider" / "consumer", NULL: any */
    const char *state; /* exact state, NULL: any */
    size_t limit;      /* 0: TSR_STORE_LIST_DEFAULT; capped at TSR_STORE_LIST_MAX */
    size_t offset;     /* rows to skip */
};

/* ---------------------------------------------------------------- assets */

struct tsr_store_asset {
    char *id;          /* user-chosen, tsr_store_id_valid */
    char *title;       /* may be NULL */
    char *description; /* may be NULL */
    char *keywords;    /* JSON array text, e.g. ["a","b"]; may be NULL */
    char *media_type;  /* may be NULL */
    char *source_kind; /* "file" or "url" */
    char *source;      /* a path or a URL */
    int64_t size;      /* bytes, -1 unknown */
    char *sha256;      /* lowercase hex, or NULL */
    int64_t created_ms;/* on put: 0 means now */
};

/*
 * Insert a new asset (a copy of a).  Returns 0, TSR_EINVAL (bad id,
 * source_kind, missing source, keywords not a JSON array), TSR_ELIMIT,
 * TSR_EEXIST (id taken), TSR_EIO...
 */
int tsr_store_asset_put(struct tsr_store *st, const struct tsr_store_asset *a,
                        struct tsr_diag *d);

/* *out is new (tsr_store_asset_free).  0, TSR_ENOTFOUND, TSR_EIO, TSR_ENOMEM. */
int tsr_store_asset_get(struct tsr_store *st, const char *id, struct tsr_store_asset **out,
                        struct tsr_diag *d);

/* *out is a new array of *n assets (tsr_store_asset_array_free); NULL when *n is 0. */
int tsr_store_asset_list(struct tsr_store *st, const struct tsr_store_filter *f,
                         struct tsr_store_asset **out, size_t *n, struct tsr_diag *d);

/*
 * Delete an asset.  Returns 0, TSR_ENOTFOUND, TSR_ECONFLICT (an offer
 * uses it; d names the offer).
 */
int tsr_store_asset_delete(struct tsr_store *st, const char *id, struct tsr_diag *d);

/* Free the fields and a itself.  a may be NULL. */
void tsr_store_asset_free(struct tsr_store_asset *a);
/* Free the fields of each of v[0..n-1], then v.  v may be NULL. */
void tsr_store_asset_array_free(struct tsr_store_asset *v, size_t n);

/* ---------------------------------------------------------------- policies */

struct tsr_store_policy {
    char *id;           /* user-chosen, tsr_store_id_valid */
    char *body;         /* ODRL policy JSON text, kept exactly as given */
    int64_t created_ms; /* on put: 0 means now */
};

/*
 * Insert a new policy.  0, TSR_EINVAL (bad id, body not a JSON object),
 * TSR_ELIMIT, TSR_EEXIST...
 */
int tsr_store_policy_put(struct tsr_store *st, const struct tsr_store_policy *p,
                         struct tsr_diag *d);
/* *out is new (tsr_store_policy_free).  0, TSR_ENOTFOUND... */
int tsr_store_policy_get(struct tsr_store *st, const char *id, struct tsr_store_policy **out,
                         struct tsr_diag *d);
/* *out is a new array (tsr_store_policy_array_free). */
int tsr_store_policy_list(struct tsr_store *st, const struct tsr_store_filter *f,
                          struct tsr_store_policy **out, size_t *n, struct tsr_diag *d);
/* 0, TSR_ENOTFOUND, TSR_ECONFLICT (an offer uses it). */
int tsr_store_policy_delete(struct tsr_store *st, const char *id, struct tsr_diag *d);
void tsr_store_policy_free(struct tsr_store_policy *p);
void tsr_store_policy_array_free(struct tsr_store_policy *v, size_t n);

/* ---------------------------------------------------------------- offers */

/* A contract definition: this asset is offered under this policy. */
struct tsr_store_offer {
    char *id;           /* user-chosen, tsr_store_id_valid */
    char *asset_id;     /* must exist */
    char *policy_id;    /* must exist */
    int64_t created_ms; /* on put: 0 means now */
};

/* Insert.  0, TSR_EINVAL, TSR_EEXIST, TSR_ENOTFOUND (asset or policy missing; d says which). */
int tsr_store_offer_put(struct tsr_store *st, const struct tsr_store_offer *o,
                        struct tsr_diag *d);
/* *out is new (tsr_store_offer_free).  0, TSR_ENOTFOUND... */
int tsr_store_offer_get(struct tsr_store *st, const char *id, struct tsr_store_offer **out,
                        struct tsr_diag *d);
/* *out is a new array (tsr_store_offer_array_free). */
int tsr_store_offer_list(struct tsr_store *st, const struct tsr_store_filter *f,
                         struct tsr_store_offer **out, size_t *n, struct tsr_diag *d);
/* The offers of one asset, *out a new array.  0 (possibly *n == 0)... */
int tsr_store_offer_list_by_asset(struct tsr_store *st, const char *asset_id,
                                  struct tsr_store_offer **out, size_t *n, struct tsr_diag *d);
/* 0, TSR_ENOTFOUND. */
int tsr_store_offer_delete(struct tsr_store *st, const char *id, struct tsr_diag *d);
void tsr_store_offer_free(struct tsr_store_offer *o);
void tsr_store_offer_array_free(struct tsr_store_offer *v, size_t n);

/* ---------------------------------------------------------------- outbox */

/*
 * A message owed to a peer.  On input (enqueue) id, attempts, last_error
 * are ignored; next_ms 0 means now; created_ms 0 means now.
 */
struct tsr_store_outbox_msg {
    int64_t id;         /* autoincrement, > 0 */
    char *entity;       /* TSR_STORE_ENTITY_NEG or TSR_STORE_ENTITY_TP */
    char *entity_id;    /* our negotiation or transfer id */
    char *method;       /* "POST", "GET" */
    char *url;          /* full URL of the peer endpoint */
    char *body;         /* request body (JSON text), may be NULL */
    char *on_ack;       /* state to apply when the peer acknowledges, or NULL */
    int attempts;       /* failed attempts so far */
    int64_t next_ms;    /* not to be sent before this time */
    char *last_error;   /* the last failure, or NULL */
    int64_t created_ms;
};

/*
 * Enqueue a message on its own (no state change).  *id_out (may be NULL)
 * gets the new row id.  0, TSR_EINVAL, TSR_ELIMIT, TSR_EIO...
 */
int tsr_store_outbox_put(struct tsr_store *st, const struct tsr_store_outbox_msg *m,
                         int64_t *id_out, struct tsr_diag *d);

/*
 * The messages ready to send at now_ms, at most max (0: TSR_STORE_LIST_MAX):
 * for each entity only its oldest message (lowest id), so the messages of
 * one negotiation or transfer go out in the order they were queued, and
 * only when its next_ms <= now_ms; ordered by next_ms then id.  The store
 * does not mark them in flight: the sender remembers which ids it is
 * sending.  *out is a new array (tsr_store_outbox_array_free).
 */
int tsr_store_outbox_due(struct tsr_store *st, int64_t now_ms, size_t max,
                         struct tsr_store_outbox_msg **out, size_t *n, struct tsr_diag *d);

/* Delete a sent (acknowledged or abandoned) message.  0, TSR_ENOTFOUND... */
int tsr_store_outbox_done(struct tsr_store *st, int64_t id, struct tsr_diag *d);

/*
 * Record a failed attempt: attempts + 1, next_ms, last_error (may be
 * NULL; cut to TSR_STORE_TEXT_MAX bytes).  0, TSR_ENOTFOUND...
 */
int tsr_store_outbox_retry(struct tsr_store *st, int64_t id, int64_t next_ms, const char *error,
                           struct tsr_diag *d);

/*
 * The earliest next_ms among the messages tsr_store_outbox_due could
 * return (the head of each entity), for the send timer; -1 when the
 * outbox is empty.  0 or an error.
 */
int tsr_store_outbox_next_ms(struct tsr_store *st, int64_t *out_ms, struct tsr_diag *d);

/* One message by id.  *out is new (tsr_store_outbox_free).  0, TSR_ENOTFOUND... */
int tsr_store_outbox_get(struct tsr_store *st, int64_t id, struct tsr_store_outbox_msg **out,
                         struct tsr_diag *d);

/* All messages of one entity in queue order.  *out is a new array.  0 or an error. */
int tsr_store_outbox_list_entity(struct tsr_store *st, const char *entity, const char *entity_id,
                                 struct tsr_store_outbox_msg **out, size_t *n,
                                 struct tsr_diag *d);

void tsr_store_outbox_free(struct tsr_store_outbox_msg *m);
void tsr_store_outbox_array_free(struct tsr_store_outbox_msg *v, size_t n);

/* ---------------------------------------------------------------- negotiations */

struct tsr_store_neg {
    char *id;               /* our pid: providerPid (provider role) or consumerPid (consumer) */
    char *role;             /* "provider" | "consumer" */
    char *state;            /* e.g. "REQUESTED" */
    char *consumer_pid;     /* for the consumer role equal to id */
    char *provider_pid;     /* NULL until known; for the provider role equal to id */
    char *counterparty_did; /* may be NULL until known */
    char *counterparty_url; /* the peer's DSP base URL or callback address */
    char *offer_id;         /* the offer negotiated (the provider's id), may be NULL */
    char *asset_id;         /* may be NULL */
    char *offer_json;       /* the last offer (JSON text), may be NULL */
    char *agreement_id;     /* NULL until agreed */
    char *error;            /* the last failure, or NULL */
    int64_t created_ms;     /* on create: 0 means now */
    int64_t updated_ms;     /* on create: ignored (= created_ms) */
};

/*
 * Insert a new negotiation and, when enqueue is not NULL, enqueue that
 * message (its entity/entity_id are forced to this negotiation) in the
 * same transaction.  Returns 0, TSR_EINVAL, TSR_ELIMIT, TSR_EEXIST (id
 * taken, or another negotiation of this role already has this
 * consumer_pid / provider_pid: look it up with the find functions).
 */
int tsr_store_neg_create(struct tsr_store *st, const struct tsr_store_neg *n,
                         const struct tsr_store_outbox_msg *enqueue, struct tsr_diag *d);

/* *out is new (tsr_store_neg_free).  0, TSR_ENOTFOUND... */
int tsr_store_neg_get(struct tsr_store *st, const char *id, struct tsr_store_neg **out,
                      struct tsr_diag *d);

/*
 * Find this role's negotiation by the consumer's or the provider's pid
 * (idempotent handling of a repeated request).  The pids are unique per
 * role but chosen by peers: the caller must check that counterparty_did
 * is the caller's DID before revealing or changing anything.  *out new.
 * 0, TSR_ENOTFOUND...
 */
int tsr_store_neg_find_consumer_pid(struct tsr_store *st, const char *role,
                                    const char *consumer_pid, struct tsr_store_neg **out,
                                    struct tsr_diag *d);
int tsr_store_neg_find_provider_pid(struct tsr_store *st, const char *role,
                                    const char *provider_pid, struct tsr_store_neg **out,
                                    struct tsr_diag *d);

/* *out is a new array (tsr_store_neg_array_free), filtered by role/state. */
int tsr_store_neg_list(struct tsr_store *st, const struct tsr_store_filter *f,
                       struct tsr_store_neg **out, size_t *n, struct tsr_diag *d);

/*
 * Delete a negotiation and its outbox messages.  0, TSR_ENOTFOUND,
 * TSR_ECONFLICT (an agreement refers to it).
 */
int tsr_store_neg_delete(struct tsr_store *st, const char *id, struct tsr_diag *d);

void tsr_store_neg_free(struct tsr_store_neg *n);
void tsr_store_neg_array_free(struct tsr_store_neg *v, size_t n);

/*
 * Fields a transition may set besides the state.  NULL (or "") leaves a
 * field unchanged; for error only, "" sets it back to NULL.  provider_pid
 * and agreement_id must pass tsr_store_pid_valid.
 */
struct tsr_store_neg_update {
    const char *provider_pid;     /* learnt from the provider's first answer */
    const char *counterparty_did;
    const char *counterparty_url; /* e.g. a new callbackAddress */
    const char *offer_json;       /* a counter-offer */
    const char *agreement_id;
    const char *error;            /* cut to TSR_STORE_TEXT_MAX bytes when longer */
    int64_t outbox_done_id;       /* > 0: delete this outbox row in the same transaction
                                     (the acknowledged message); TSR_ENOTFOUND if missing */
};

/*
 * In one transaction: check that negotiation id is in expected_state
 * (compare-and-set; NULL: in any state), set state to new_state (NULL: keep it, only apply
 * upd) and updated_ms to now, apply upd (may be NULL), and when enqueue is
 * not NULL enqueue that message (entity/entity_id forced to this
 * negotiation).  Any failure rolls everything back.  Returns 0,
 * TSR_ENOTFOUND, TSR_ESTATE (current state differs; d names it),
 * TSR_EEXIST (provider_pid taken by another negotiation), TSR_EINVAL,
 * TSR_ELIMIT, TSR_EIO...
 */
int tsr_store_neg_transition(struct tsr_store *st, const char *id, const char *expected_state,
                             const char *new_state, const struct tsr_store_neg_update *upd,
                             const struct tsr_store_outbox_msg *enqueue, struct tsr_diag *d);

/* ---------------------------------------------------------------- agreements */

struct tsr_store_agreement {
    char *id;             /* the agreement's @id (tsr_store_pid_valid) */
    char *negotiation_id; /* our negotiation (must exist) */
    char *asset_id;
    char *provider_did;
    char *consumer_did;   /* the assignee */
    char *policy_json;    /* the full ODRL Agreement (JSON text) */
    int64_t signed_ms;    /* 0 means now */
};

/*
 * In one transaction: compare-and-set negotiation neg_id from
 * expected_state to new_state, insert agreement a (negotiation_id NULL
 * means neg_id; otherwise it must equal neg_id), set the negotiation's
 * agreement_id to a->id, and enqueue when not NULL.  Returns 0,
 * TSR_ENOTFOUND, TSR_ESTATE, TSR_EEXIST (agreement id taken), TSR_EINVAL...
 */
int tsr_store_neg_agree(struct tsr_store *st, const char *neg_id, const char *expected_state,
                        const char *new_state, const struct tsr_store_agreement *a,
                        const struct tsr_store_outbox_msg *enqueue, struct tsr_diag *d);

/* *out is new (tsr_store_agreement_free).  0, TSR_ENOTFOUND... */
int tsr_store_agreement_get(struct tsr_store *st, const char *id,
                            struct tsr_store_agreement **out, struct tsr_diag *d);
/* *out is a new array (tsr_store_agreement_array_free), in insertion order. */
int tsr_store_agreement_list(struct tsr_store *st, const struct tsr_store_filter *f,
                             struct tsr_store_agreement **out, size_t *n, struct tsr_diag *d);
void tsr_store_agreement_free(struct tsr_store_agreement *a);
void tsr_store_agreement_array_free(struct tsr_store_agreement *v, size_t n);

/* ---------------------------------------------------------------- transfers */

struct tsr_store_tp {
    char *id;               /* our pid (providerPid or consumerPid by role) */
    char *role;             /* "provider" | "consumer" */
    char *state;            /* e.g. "REQUESTED" */
    char *consumer_pid;
    char *provider_pid;     /* NULL until known */
    char *agreement_id;     /* must exist in agreements */
    char *counterparty_did;
    char *counterparty_url;
    char *transfer_type;    /* e.g. "HttpData-PULL" */
    char *data_address_json;/* may be NULL; may hold a token */
    char *dest_path;        /* consumer: where the data goes; may be NULL */
    int64_t bytes;          /* bytes moved so far (0 on create) */
    char *sha256;           /* hex of the received data, or NULL */
    char *error;
    int64_t created_ms;     /* on create: 0 means now */
    int64_t updated_ms;
};

/*
 * Insert a transfer process (plus enqueue, in the same transaction).
 * 0, TSR_EINVAL, TSR_EEXIST (id or per-role pid taken), TSR_ENOTFOUND
 * (agreement missing)...
 */
int tsr_store_tp_create(struct tsr_store *st, const struct tsr_store_tp *t,
                        const struct tsr_store_outbox_msg *enqueue, struct tsr_diag *d);
/* *out is new (tsr_store_tp_free).  0, TSR_ENOTFOUND... */
int tsr_store_tp_get(struct tsr_store *st, const char *id, struct tsr_store_tp **out,
                     struct tsr_diag *d);
/* As the negotiation find functions (check counterparty_did). */
int tsr_store_tp_find_consumer_pid(struct tsr_store *st, const char *role,
                                   const char *consumer_pid, struct tsr_store_tp **out,
                                   struct tsr_diag *d);
int tsr_store_tp_find_provider_pid(struct tsr_store *st, const char *role,
                                   const char *provider_pid, struct tsr_store_tp **out,
                                   struct tsr_diag *d);
/* *out is a new array (tsr_store_tp_array_free), filtered by role/state. */
int tsr_store_tp_list(struct tsr_store *st, const struct tsr_store_filter *f,
                      struct tsr_store_tp **out, size_t *n, struct tsr_diag *d);
/* Delete a transfer and its outbox messages.  0, TSR_ENOTFOUND. */
int tsr_store_tp_delete(struct tsr_store *st, const char *id, struct tsr_diag *d);

/* As struct tsr_store_neg_update, for transfers. */
struct tsr_store_tp_update {
    const char *provider_pid;
    const char *counterparty_url;
    const char *data_address_json; /* "" sets NULL */
    const char *dest_path;
    const char *sha256;
    const char *error;             /* "" sets NULL; cut to TSR_STORE_TEXT_MAX bytes */
    bool set_bytes;                /* set bytes to the value below */
    int64_t bytes;
    int64_t outbox_done_id;        /* > 0: delete this outbox row in the same transaction */
};

/* As tsr_store_neg_transition, for transfer processes. */
int tsr_store_tp_transition(struct tsr_store *st, const char *id, const char *expected_state,
                            const char *new_state, const struct tsr_store_tp_update *upd,
                            const struct tsr_store_outbox_msg *enqueue, struct tsr_diag *d);

void tsr_store_tp_free(struct tsr_store_tp *t);
void tsr_store_tp_array_free(struct tsr_store_tp *v, size_t n);

/* ---------------------------------------------------------------- any of the above */

/*
 * The objects the generic functions below handle, for code that treats
 * them alike (the management API's collections).  Each function does what
 * the typed one of that kind does (tsr_store_asset_get for
 * TSR_STORE_KIND_ASSET...), with void * standing for the kind's struct.
 */
enum tsr_store_kind {
    TSR_STORE_KIND_ASSET,     /* struct tsr_store_asset */
    TSR_STORE_KIND_POLICY,    /* struct tsr_store_policy */
    TSR_STORE_KIND_OFFER,     /* struct tsr_store_offer */
    TSR_STORE_KIND_NEG,       /* struct tsr_store_neg */
    TSR_STORE_KIND_AGREEMENT, /* struct tsr_store_agreement */
    TSR_STORE_KIND_TP,        /* struct tsr_store_tp */
};

/* The size of kind's struct, to step through a list. */
size_t tsr_store_obj_size(enum tsr_store_kind kind);
/* *out is new (tsr_store_obj_free).  0, TSR_EINVAL (no id), TSR_ENOTFOUND... */
int tsr_store_obj_get(struct tsr_store *st, enum tsr_store_kind kind, const char *id, void **out,
                      struct tsr_diag *d);
/* *out is a new array of *n structs (tsr_store_obj_array_free); NULL when *n is 0. */
int tsr_store_obj_list(struct tsr_store *st, enum tsr_store_kind kind,
                       const struct tsr_store_filter *f, void **out, size_t *n,
                       struct tsr_diag *d);
/* As the typed delete; agreements are never deleted (TSR_EINVAL). */
int tsr_store_obj_delete(struct tsr_store *st, enum tsr_store_kind kind, const char *id,
                         struct tsr_diag *d);
/* Free the fields (secrets wiped) and obj itself.  obj may be NULL. */
void tsr_store_obj_free(enum tsr_store_kind kind, void *obj);
/* Free the fields of each of the n structs at v, then v.  v may be NULL. */
void tsr_store_obj_array_free(enum tsr_store_kind kind, void *v, size_t n);

/* ---------------------------------------------------------------- token replay cache */

/*
 * Remember that issuer used jti until exp_ms.  Returns 0 the first time,
 * TSR_EEXIST when (issuer, jti) was seen before (a replay; also when the
 * earlier row has expired but not been purged yet), TSR_EINVAL (empty or
 * longer than TSR_STORE_TEXT_MAX), TSR_EIO...
 */
int tsr_store_jti_add(struct tsr_store *st, const char *issuer, const char *jti, int64_t exp_ms,
                      struct tsr_diag *d);

/* Delete rows with exp_ms < now_ms; *removed (may be NULL) gets their number. */
int tsr_store_jti_purge(struct tsr_store *st, int64_t now_ms, size_t *removed,
                        struct tsr_diag *d);

#endif /* TSR_CONNECTOR_STORE_H */
