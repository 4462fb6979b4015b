/*
 * connector/mgmt.h: tesserad's management API, REST + JSON under /api/v1
 * on the management port (127.0.0.1 by default): status, assets,
 * policies, offers, a catalog request to a remote connector,
 * negotiations, agreements and transfers.  doc/openapi.yaml describes
 * every route; the `tessera` CLI uses nothing else.
 *
 * Every request must carry the X-Api-Key header; it is compared in
 * constant time before anything else is looked at.  Bodies and answers
 * are JSON objects with snake_case members; an error is
 * {"error": MESSAGE, "code": SHORT_CODE} with the HTTP status of its
 * TSR_E* code (tsr_err_http_status): 400 bad input, 401 key, 404 unknown,
 * 409 duplicate, in use or wrong state, 413 too large, 502/504 peer.
 *
 * Not here: the DSP endpoints peers call (connector/dsp.h), and the store
 * itself (connector/store.h).  This file only translates HTTP to calls on
 * them.
 */
#ifndef TSR_CONNECTOR_MGMT_H
#define TSR_CONNECTOR_MGMT_H

#include <stdbool.h>

#include <jansson.h>

#include "lib/err.h"

struct event_base;
struct tsr_dsp;
struct tsr_http_server;
struct tsr_mgmt;
struct tsr_http_req;
struct tsr_policy;
struct tsr_sd_publisher;
struct tsr_store;
struct tsr_usage;

/* Where the API lives on the management port (must match TSR_CLI_MGMT_BASE_PATH). */
#define TSR_MGMT_BASE_PATH "/api/v1"

/* What GET /status reports about the participant.  Strings are copied. */
struct tsr_mgmt_info {
    const char *name;                    /* participant.name */
    const char *did;                     /* participant.did */
    const char *protocol_url;            /* the public DSP URL (https://host:port) */
    const struct tsr_http_server *proto; /* borrowed, for the connection count; may be NULL */
};

/*
 * Register the management routes on srv (borrowed; before it listens) and
 * return the API's state in *out (new; tsr_mgmt_free).  base is the loop
 * srv runs on (asset files are hashed there in slices, so that a large
 * file never stalls the daemon).  store is borrowed and required; dsp is
 * borrowed and may be NULL until tsr_mgmt_set_dsp (the routes that need it
 * answer 503 meanwhile).  api_key is copied (it is a secret: wiped when
 * replaced or freed); an empty or NULL key refuses every request.
 * Returns 0, TSR_EINVAL (missing argument), TSR_ENOMEM.  After a failure
 * srv may hold routes into freed memory: free it without serving.
 */
int tsr_mgmt_new(struct event_base *base, struct tsr_http_server *srv, struct tsr_store *store,
                 struct tsr_dsp *dsp, const char *api_key, const struct tsr_mgmt_info *info,
                 struct tsr_mgmt **out, struct tsr_diag *d);

/* Replace the API key (SIGHUP); copied.  Returns 0 or TSR_ENOMEM (the old key is then kept). */
int tsr_mgmt_set_api_key(struct tsr_mgmt *m, const char *api_key);

/* Replace what GET /status reports (SIGHUP); copied.  Returns 0 or TSR_ENOMEM (old info kept). */
int tsr_mgmt_set_info(struct tsr_mgmt *m, const struct tsr_mgmt_info *info);

/*
 * Set (or clear, with NULL) the policy context (borrowed) that compiles
 * the policies added: with it an unknown term is refused with 400;
 * without it policies are stored unchecked.
 */
void tsr_mgmt_set_policy(struct tsr_mgmt *m, struct tsr_policy *pc);

/*
 * Set (or clear, with NULL) the consumer-side usage control (borrowed)
 * behind the /vault and /ledger routes, which answer 503 without it; with
 * it an asset file inside the vault is refused (403).
 */
void tsr_mgmt_set_usage(struct tsr_mgmt *m, struct tsr_usage *u);
/* The usage control set above, or NULL (borrowed). */
struct tsr_usage *tsr_mgmt_usage(struct tsr_mgmt *m);

/*
 * For GET /metrics (connector/metrics.c): whether key is the API key
 * (compared in constant time), and what the API works on (borrowed; the
 * DSP engine and the protocol server may be NULL).
 */
bool tsr_mgmt_key_ok(const struct tsr_mgmt *m, const char *key);
struct tsr_store *tsr_mgmt_store(struct tsr_mgmt *m);
struct tsr_dsp *tsr_mgmt_dsp(struct tsr_mgmt *m);
const struct tsr_http_server *tsr_mgmt_proto(struct tsr_mgmt *m);

/* For route handlers outside this file: answer j (stolen; NULL: out of memory) with status. */
void tsr_mgmt_reply(struct tsr_http_req *req, int status, json_t *j);
/* For route handlers outside this file: the error rc with d's detail, as every route answers. */
void tsr_mgmt_reply_diag(struct tsr_http_req *req, int rc, const struct tsr_diag *d);

/*
 * Set (or clear, with NULL) the self-description publisher (borrowed):
 * GET /sd and POST /sd/publish use it, and offer changes are passed on.
 */
void tsr_mgmt_set_sd(struct tsr_mgmt *m, struct tsr_sd_publisher *sd);

/* Set (or clear, with NULL) the DSP engine the consumer operations go through; borrowed. */
void tsr_mgmt_set_dsp(struct tsr_mgmt *m, struct tsr_dsp *dsp);

/*
 * Free the API's state, including requests still waiting for the DSP
 * engine or an asset hash.  Call it after the event loop has stopped (or
 * after tsr_dsp_free), since a DSP completion arriving later would find
 * its context gone; the routes stay registered on the server, so free the
 * server first or never let it dispatch again.  m may be NULL.
 */
void tsr_mgmt_free(struct tsr_mgmt *m);

#endif /* TSR_CONNECTOR_MGMT_H */
