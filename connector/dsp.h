/*
 * connector/dsp.h: tesserad's Dataspace Protocol 2025-1 engine, both
 * roles: the provider and consumer endpoints on the protocol port, the
 * durable outbox that delivers messages to peers with retries, and the
 * consumer-side operations the management API starts (catalog request,
 * negotiation, transfer).
 *
 * State lives in the store (connector/store.h); every state change and the
 * message it implies are committed together, so a daemon killed at any
 * moment carries on from its last committed state when it restarts.
 */
#ifndef TSR_CONNECTOR_DSP_H
#define TSR_CONNECTOR_DSP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

struct event_base;
struct tsr_client;
struct tsr_http_server;
struct tsr_identity;
struct tsr_key;
struct tsr_store;
struct tsr_dsp;
struct tsr_policy;
struct tsr_usage;

/* Where the 2025-1 endpoints live on the protocol port. */
#define TSR_DSP_BASE_PATH "/dsp/2025-1"
/* Consumer callbacks live below the base path at this segment. */
#define TSR_DSP_CALLBACK_SEGMENT "callback"
/* The provider's data endpoint (HttpData-PULL) for a transfer. */
#define TSR_DSP_DATA_PATH "/data"
/* The consumer's push endpoint (HttpData-PUSH into its own vault): PUT .../:pid. */
#define TSR_DSP_PUSH_PATH "/push"

struct tsr_dsp_opts {
    const char *did;             /* our participant DID */
    const char *public_url;      /* https://host:port, how peers reach the protocol port */
    struct tsr_store *store;     /* borrowed */
    struct tsr_identity *identity; /* borrowed: tokens out, verification in */
    struct tsr_client *client;   /* borrowed: messages to peers */
    struct tsr_key *key;         /* borrowed: signs data-access tokens */
    const char *data_dir;        /* where consumer transfers land by default */
    uint64_t token_lifetime_ms;  /* data-access token lifetime (default 10 min) */
    const char *trace_dir;       /* testing: copy every message sent here; NULL: off */
    struct tsr_policy *policy;   /* borrowed: provider-side enforcement (connector/policy.h);
                                    NULL: offers are matched exactly and nothing else is checked */
    struct tsr_usage *usage;     /* borrowed: the consumer's vault and usage control
                                    (connector/usage.h); NULL: pulls write plain files */
    uint64_t push_segment;       /* the most our push endpoint takes in one request (under
                                    the protocol server's body limit); 0: 2 MiB */
};

/* New engine on base.  Starts the outbox timer.  Returns 0, TSR_ENOMEM. */
int tsr_dsp_new(struct event_base *base, const struct tsr_dsp_opts *opts, struct tsr_dsp **out,
                struct tsr_diag *d);

/* Mount the DSP, callback and data routes on the protocol server. */
int tsr_dsp_mount(struct tsr_dsp *dsp, struct tsr_http_server *srv, struct tsr_diag *d);

/* Stop the outbox and cancel requests in flight (no callbacks after). NULL ok. */
void tsr_dsp_free(struct tsr_dsp *dsp);

/*
 * Completion of an asynchronous consumer operation: rc 0 and a result
 * (borrowed for the duration of the call), or an error with d.
 */
typedef void (*tsr_dsp_done_fn)(void *arg, int rc, json_t *result, const struct tsr_diag *d);

/*
 * DSP catalog request to a provider.  provider_url is either the
 * provider's DSP base URL or its root URL (the version is then found
 * through /.well-known/dspace-version).  result: the Catalog.  If this
 * returns an error, cb is never called.
 */
int tsr_dsp_catalog_fetch(struct tsr_dsp *dsp, const char *provider_url, tsr_dsp_done_fn cb,
                          void *arg, struct tsr_diag *d);

/*
 * Start a negotiation for the provider's offer offer_id: finds the offer in
 * the provider's catalog, records the negotiation and sends the contract
 * request.  result: {"id": our negotiation id, "state": ...}.  The rest
 * proceeds on its own; poll with the store.
 */
int tsr_dsp_negotiate(struct tsr_dsp *dsp, const char *provider_url, const char *offer_id,
                      tsr_dsp_done_fn cb, void *arg, struct tsr_diag *d);

/* Terminate a negotiation of ours (either role).  0, TSR_ENOTFOUND, TSR_ESTATE. */
int tsr_dsp_negotiation_terminate(struct tsr_dsp *dsp, const char *id, const char *reason,
                                  struct tsr_diag *d);

/*
 * Start a transfer under agreement_id (consumer).  With usage control the
 * data goes into the vault, and dest_path (NULL: none; never inside the
 * vault, TSR_EFORBIDDEN) receives one copy through a checked use once it
 * is complete; without it the data goes to dest_path (NULL:
 * data_dir/<transfer id>).  *id_out gets our transfer id (new
 * string, tsr_free).  0, TSR_ENOTFOUND, TSR_ESTATE, TSR_EINVAL.
 */
int tsr_dsp_transfer_begin(struct tsr_dsp *dsp, const char *agreement_id, const char *dest_path,
                           char **id_out, struct tsr_diag *d);

/*
 * Start an HttpData-PUSH transfer under agreement_id (consumer): the
 * provider streams the data to url (http:// or https://, any server
 * taking a PUT), or, when url is NULL, to this connector's own push
 * endpoint, which stores it in the vault after checking its Repr-Digest
 * (needs usage control, else TSR_EINVAL).  The transfer completes when
 * the provider says the receiver took all of it.  *id_out as for
 * tsr_dsp_transfer_begin.  0, TSR_ENOTFOUND, TSR_ESTATE, TSR_EINVAL.
 */
int tsr_dsp_transfer_push(struct tsr_dsp *dsp, const char *agreement_id, const char *url,
                          char **id_out, struct tsr_diag *d);

/* A transfer's data in flight, as the running pull or push sees it. */
struct tsr_dsp_progress {
    uint64_t bytes;    /* moved so far (received, or sent and taken) */
    uint64_t total;    /* the whole size; 0: not known yet */
    uint64_t rate_bps; /* bytes per second over the last second or so */
};

/*
 * The progress of transfer id while its data moves in this process (a
 * consumer's pull or push endpoint, a provider's push).  0 with *out
 * filled, or TSR_ENOTFOUND when no data of id is moving now.
 */
int tsr_dsp_transfer_progress(struct tsr_dsp *dsp, const char *id, struct tsr_dsp_progress *out);

/* The data plane as a whole, for /metrics. */
struct tsr_dsp_data_stats {
    uint64_t active;      /* pulls, pushes (both ends) and data responses running now */
    uint64_t bytes_moved; /* data bytes received or sent since the start (a counter) */
};

/* Fill *out (never fails). */
void tsr_dsp_data_stats(struct tsr_dsp *dsp, struct tsr_dsp_data_stats *out);

/* Suspend, resume, complete or terminate a transfer of ours (either role). */
int tsr_dsp_transfer_suspend(struct tsr_dsp *dsp, const char *id, const char *reason,
                             struct tsr_diag *d);
int tsr_dsp_transfer_resume(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d);
int tsr_dsp_transfer_complete(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d);
int tsr_dsp_transfer_terminate(struct tsr_dsp *dsp, const char *id, const char *reason,
                               struct tsr_diag *d);

/*
 * Optional hooks on the engine, for testing and interop modes
 * (connector/tck.c); all members may be NULL.
 *   auth_in: decide who calls from the Authorization header value
 *     (borrowed, "" when absent): 1 with *caller set (borrowed from arg,
 *     valid while arg lives) accepts the caller, 0 leaves the request to
 *     the identity (self-issued tokens), a negative TSR_E* code refuses it
 *     with 401.
 *   auth_out: the Authorization header value for a message to peer (a
 *     DID or a participant id): a new string (tsr_free_secret), or NULL to
 *     send our self-issued token.
 *   neg_hold: true when our automatic decision on a negotiation for
 *     asset_id (the provider's "agree" to a request and "finalize" a
 *     verified agreement, the consumer's "verify" an agreement) is left to
 *     the hooks' owner, who then acts through tsr_dsp_negotiation_*.
 *   tp_hold: the same for a transfer under agreement_id: the provider's
 *     "start" of a requested transfer, the consumer's "pull" of the data
 *     once the transfer started.
 *   free: called once with arg when the hooks are replaced or the engine
 *     is freed.
 */
struct tsr_dsp_hooks {
    int (*auth_in)(void *arg, const char *authorization, const char **caller);
    char *(*auth_out)(void *arg, const char *peer);
    bool (*neg_hold)(void *arg, const char *asset_id, const char *decision);
    bool (*tp_hold)(void *arg, const char *agreement_id, const char *decision);
    void (*free)(void *arg);
    void *arg;
};

/* Install h (copied; NULL removes the hooks), freeing the previous ones. */
void tsr_dsp_set_hooks(struct tsr_dsp *dsp, const struct tsr_dsp_hooks *h);

/*
 * Start a negotiation for an offer we already know, without a catalog
 * request: offer (borrowed, an ODRL Offer with an @id) for dataset_id from
 * provider_id, whose DSP base URL is base_url.  Records the negotiation
 * and sends the contract request.  *id_out (may be NULL) gets our
 * negotiation id (new string, tsr_free).  0, TSR_EINVAL, TSR_ENOMEM, or a
 * store error.
 */
int tsr_dsp_negotiate_offer(struct tsr_dsp *dsp, const char *base_url, const char *provider_id,
                            const json_t *offer, const char *dataset_id, char **id_out,
                            struct tsr_diag *d);

/*
 * Consumer, in OFFERED: accept the provider's last offer (ACCEPTED event),
 * or answer it with a contract request repeating it (counter-request).
 * 0, TSR_ENOTFOUND, TSR_ESTATE (wrong role or state, providerPid unknown).
 */
int tsr_dsp_negotiation_accept(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d);

/*
 * Provider, in REQUESTED: send the consumer an offer (the one it asked
 * for), or agree (REQUESTED or ACCEPTED), as tesserad otherwise does on
 * its own when a request arrives.  0, TSR_ENOTFOUND, TSR_ESTATE.
 */
int tsr_dsp_negotiation_offer(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d);
int tsr_dsp_negotiation_agree(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d);
int tsr_dsp_negotiation_counter(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d);

#endif /* TSR_CONNECTOR_DSP_H */
