/*
 * connector/dsp_int.h: what dsp.c (engine, routing, outbox, catalog),
 * dsp_neg.c (contract negotiation) and dsp_tp.c (transfer process and the
 * pull data endpoint) share.  Nothing else includes it.
 */
#ifndef TSR_CONNECTOR_DSP_INT_H
#define TSR_CONNECTOR_DSP_INT_H

#include <jansson.h>

#include "connector/dsp.h"
#include "connector/policy.h"
#include "connector/store.h"
#include "contracts/dsp.h"

struct event;
struct tsr_http_req;
struct tsr_identity_check;
struct tsr_client_xfer;

/* At most this many outbox messages are in flight at once. */
#define TSR_DSP_MAX_INFLIGHT 256
/* Retries of one outbox message before its negotiation/transfer fails. */
#define TSR_DSP_MAX_ATTEMPTS 10
/* The largest DSP message body accepted (also under the server limit). */
#define TSR_DSP_MAX_BODY (1024 * 1024)

/* What an acknowledged outbox message still has to do (store on_ack). */
#define TSR_DSP_ACK_NEG_INIT "neg-init" /* learn providerPid from the answer */
#define TSR_DSP_ACK_TP_INIT "tp-init"   /* learn providerPid from the answer */

struct tsr_dsp_flight;
struct tsr_dsp_in;
struct tsr_dsp_pull;
struct tsr_dsp_flow;
struct tsr_dsp_watch;
struct tsr_dsp_push;
struct tsr_dsp_pushin;

/* Transfer types. */
#define TSR_DSP_FORMAT_PULL "HttpData-PULL"
#define TSR_DSP_FORMAT_PUSH "HttpData-PUSH"
/*
 * Our push endpoint's data address says, in this endpoint property, that
 * it takes the data in Content-Range pieces of at most this many bytes
 * (well under the default request-body limit).
 */
#define TSR_DSP_PUSH_SEGMENT_PROP "segmentSize"
#define TSR_DSP_PUSH_SEGMENT ((uint64_t)2 * 1024 * 1024)

/* A moving data rate: bytes per second over about the last second. */
struct tsr_dsp_rate {
    int64_t t0_ms;  /* start of the current window; 0: not started */
    uint64_t b0;    /* bytes at t0_ms */
    uint64_t bps;   /* the last window's rate */
};

struct tsr_dsp {
    struct event_base *base;
    char *did;
    char *public_url;
    char *base_url;     /* public_url + TSR_DSP_BASE_PATH */
    char *callback_url; /* base_url + "/callback" */
    char *data_dir;
    char *trace_dir;    /* NULL: no message trace */
    unsigned trace_seq;
    struct tsr_store *st;
    struct tsr_policy *policy;      /* borrowed; NULL: no policy enforcement */
    struct tsr_usage *usage;        /* borrowed; NULL: pulls write plain files */
    struct tsr_identity *id;
    struct tsr_client *client;
    struct tsr_key *key;
    uint64_t token_lifetime_ms;
    struct event *outbox_timer;
    struct tsr_dsp_flight *flights; /* outbox messages in flight */
    size_t nflights;
    struct tsr_dsp_in *ins;         /* incoming requests waiting for authentication */
    struct tsr_dsp_pull *pulls;     /* consumer pulls in progress */
    struct tsr_dsp_flow *flows;     /* provider data responses in progress */
    struct tsr_dsp_watch *watches;  /* provider policy monitor: one per STARTED transfer */
    struct tsr_dsp_push *pushes;    /* provider pushes in progress (dsp_push.c) */
    struct tsr_dsp_pushin *pushins; /* consumer push endpoint: objects being received */
    uint64_t data_bytes;            /* data bytes moved since the start (/metrics) */
    uint64_t push_segment;          /* our push endpoint's piece size (opts) */
    struct tsr_dsp_op *ops;         /* consumer operations in progress (catalog, negotiate) */
    void *route_args;               /* one struct per route, for the handlers */
    bool freeing;
    struct tsr_dsp_hooks hooks;     /* testing and interop modes (tsr_dsp_set_hooks) */
};

/* Route kinds: which protocol, which role, which message. */
enum tsr_dsp_route {
    R_CATALOG_REQUEST,
    R_DATASET,
    R_NEG_GET_P,        /* GET /negotiations/:pid (provider) */
    R_NEG_REQUEST_INIT, /* POST /negotiations/request */
    R_NEG_REQUEST,      /* POST /negotiations/:pid/request */
    R_NEG_EVENTS_P,
    R_NEG_VERIFY,
    R_NEG_TERMINATE_P,
    R_NEG_OFFERS_INIT,  /* POST /negotiations/offers (consumer) */
    R_NEG_GET_C,
    R_NEG_OFFERS,
    R_NEG_AGREEMENT,
    R_NEG_EVENTS_C,
    R_NEG_TERMINATE_C,
    R_TP_REQUEST,       /* POST /transfers/request */
    R_TP_GET_P,
    R_TP_START_P,
    R_TP_COMPLETE_P,
    R_TP_SUSPEND_P,
    R_TP_TERMINATE_P,
    R_TP_GET_C,
    R_TP_START_C,
    R_TP_COMPLETE_C,
    R_TP_SUSPEND_C,
    R_TP_TERMINATE_C,
};

/* An authenticated DSP request being handled. */
struct tsr_dsp_ctx {
    struct tsr_dsp *dsp;
    struct tsr_http_req *req;
    enum tsr_dsp_route route;
    const char *caller;  /* the verified DID */
    const char *pid;     /* the :pid path parameter, or NULL */
    json_t *body;        /* parsed body, or NULL for GET */
};

/* dsp.c */
void tsr_dsp__reply(struct tsr_http_req *req, int status, json_t *body);
/* As tsr_dsp__reply, traced. */
void tsr_dsp__send(struct tsr_dsp *dsp, struct tsr_http_req *req, int status, json_t *body);
void tsr_dsp__error(struct tsr_dsp_ctx *x, int status, const char *code, const char *cpid,
                    const char *ppid, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int tsr_dsp__parse(struct tsr_dsp_ctx *x, enum tsr_dsp_type type, struct tsr_dsp_msg *m);
/* Fill a new outbox message (strings borrowed until the store copies them). */
void tsr_dsp__outbox_msg(struct tsr_store_outbox_msg *o, const char *entity, const char *entity_id,
                         const char *url, const char *body, const char *on_ack);
/* Serialise j (stolen) into a new string; NULL when out of memory. */
char *tsr_dsp__dump(json_t *j);
/* Join a base URL and a path without doubling or dropping the slash. */
char *tsr_dsp__url(const char *base, const char *path);
void tsr_dsp__kick(struct tsr_dsp *dsp);
/* Testing: keep a copy of a message we send (trace_dir). */
void tsr_dsp__trace(struct tsr_dsp *dsp, const char *text, size_t len);
void tsr_dsp__catalog(struct tsr_dsp_ctx *x);
void tsr_dsp__dataset(struct tsr_dsp_ctx *x);

/* dsp_neg.c: provider and consumer negotiation endpoints */
void tsr_dsp__neg_route(struct tsr_dsp_ctx *x);
/* The outbox delivered msg; apply what its acknowledgement means. */
void tsr_dsp__neg_acked(struct tsr_dsp *dsp, const struct tsr_store_outbox_msg *m,
                        const json_t *answer);
/* The outbox gave up on msg: the negotiation fails with why. */
void tsr_dsp__neg_failed(struct tsr_dsp *dsp, const struct tsr_store_outbox_msg *m,
                         const char *why);
/* After a restart: redo decisions that were committed without their message. */
void tsr_dsp__neg_recover(struct tsr_dsp *dsp);
/* Provider: agree to n (REQUESTED or ACCEPTED), sending the agreement. */
int tsr_dsp__neg_agree(struct tsr_dsp *dsp, const struct tsr_store_neg *n, struct tsr_diag *d);
/* dsp.c: should our automatic decision on n (provider: agree to a request in
 * REQUESTED, finalize a verified agreement in AGREED; consumer: verify an
 * agreement) wait for the hooks? */
bool tsr_dsp__neg_hold(struct tsr_dsp *dsp, const struct tsr_store_neg *n);
/* dsp.c: should our automatic decision on t ("start": provider, start a
 * requested transfer at once; "pull": consumer, fetch the data once it
 * started) wait for the hooks? */
bool tsr_dsp__tp_hold(struct tsr_dsp *dsp, const struct tsr_store_tp *t, const char *decision);

/* dsp_tp.c: transfer endpoints, the pull data endpoint, consumer pulls */
void tsr_dsp__tp_route(struct tsr_dsp_ctx *x);
void tsr_dsp__tp_acked(struct tsr_dsp *dsp, const struct tsr_store_outbox_msg *m,
                       const json_t *answer);
void tsr_dsp__tp_failed(struct tsr_dsp *dsp, const struct tsr_store_outbox_msg *m,
                        const char *why);
void tsr_dsp__tp_recover(struct tsr_dsp *dsp);
void tsr_dsp__data(struct tsr_http_req *req, void *arg);
void tsr_dsp__pulls_free(struct tsr_dsp *dsp);
/* Stop every data response of provider transfer id now (it left STARTED). */
void tsr_dsp__flows_stop(struct tsr_dsp *dsp, const char *id);
/* A data-access token for t: signed by us, sub t->id, aud its peer, lifetime_s long. */
char *tsr_dsp__data_token(struct tsr_dsp *dsp, const struct tsr_store_tp *t, int64_t lifetime_s);
/* End t in state (COMPLETED, TERMINATED) with a message to the peer (committed together). */
int tsr_dsp__tp_end(struct tsr_dsp *dsp, const struct tsr_store_tp *t, const char *state,
                    const struct tsr_store_tp_update *upd, const char *reason,
                    struct tsr_diag *d);
/* Account n more bytes of a transfer moving: the rate window and the total counter. */
void tsr_dsp__rate_add(struct tsr_dsp *dsp, struct tsr_dsp_rate *r, uint64_t bytes_now,
                       uint64_t n);

/* dsp_push.c: HttpData-PUSH, both ends */
/*
 * The http(s) URL a push destination (a DataAddress) names: its endpoint,
 * or EDC's baseUrl property (*edc then true: EDC's sink takes a POST).
 * Borrowed from addr; NULL when there is none.
 */
const char *tsr_dsp__push_url(const json_t *addr, bool *edc);
/* Provider: push t (STARTED, HttpData-PUSH) to its destination; no-op when running. */
void tsr_dsp__push_start(struct tsr_dsp *dsp, const struct tsr_store_tp *t);
/*
 * Transfer id moved to state: a provider's push stops unless STARTED, a
 * consumer's half-received object goes when the transfer ended.
 */
void tsr_dsp__push_state(struct tsr_dsp *dsp, const char *id, const char *state);
/* The consumer's push endpoint: PUT TSR_DSP_PUSH_PATH/:pid. */
void tsr_dsp__push_in(struct tsr_http_req *req, void *arg);
/* Progress of a push of id at either end: 0 or TSR_ENOTFOUND. */
int tsr_dsp__push_progress(struct tsr_dsp *dsp, const char *id, struct tsr_dsp_progress *out);
/* How many pushes (either end) are running. */
uint64_t tsr_dsp__push_count(const struct tsr_dsp *dsp);
/* Cancel and free every push (either end). */
void tsr_dsp__pushes_free(struct tsr_dsp *dsp);

/* monitor.c: the provider's policy monitor (timers; nothing stored) */
/*
 * Check provider transfer id against its agreement now: terminate it when
 * the agreement no longer permits use, else (re)arm its timer at the next
 * time boundary.  Returns true when the transfer is not (or no longer)
 * STARTED.  No-op (false) without a policy context.
 */
bool tsr_dsp__monitor_watch(struct tsr_dsp *dsp, const char *transfer_id);
/* At start: watch every STARTED provider transfer. */
void tsr_dsp__monitor_recover(struct tsr_dsp *dsp);
/* Cancel and free every watch. */
void tsr_dsp__monitor_free(struct tsr_dsp *dsp);

#endif /* TSR_CONNECTOR_DSP_INT_H */
