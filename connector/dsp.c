/*
 * connector/dsp.c: the Dataspace Protocol engine: routes on the protocol
 * port, authentication of every request, error bodies, the durable outbox
 * that delivers our messages to peers, the provider's catalog, and the
 * consumer's catalog request and negotiation start.
 *
 * Negotiation and transfer messages are in dsp_neg.c and dsp_tp.c.  The
 * rule everywhere: a state change and the message it implies are written
 * in one store transaction; the outbox sends committed messages, retries
 * with backoff, and applies what an acknowledgement means.
 */
#include "lib/tsr.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "connector/dsp_int.h"
#include "connector/identity.h"
#include "lib/did.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/uuid.h"
#include "transports/client.h"
#include "transports/http.h"

/* ------------------------------------------------------------ helpers */

char *tsr_dsp__dump(json_t *j)
{
    char *s;

    if (j == NULL)
        return NULL;
    s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

char *tsr_dsp__url(const char *base, const char *path)
{
    struct tsr_buf b;
    size_t bl = strlen(base);

    tsr_buf_init(&b, 8192);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    while (*path == '/')
        path++;
    if (tsr_buf_add(&b, base, bl) != 0 || tsr_buf_adds(&b, "/") != 0 || tsr_buf_adds(&b, path) != 0) {
        tsr_buf_cleanup(&b);
        return NULL;
    }
    return tsr_buf_steal(&b, NULL);
}

void tsr_dsp__trace(struct tsr_dsp *dsp, const char *text, size_t len)
{
    char path[4200];

    if (dsp->trace_dir == NULL || text == NULL)
        return;
    snprintf(path, sizeof(path), "%s/%ld-%06u.json", dsp->trace_dir, (long)getpid(),
             ++dsp->trace_seq);
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        return;
    /* A test aid: a short copy only makes the test that reads it fail. */
    bool ok = fwrite(text, 1, len, fp) == len;
    if (fclose(fp) != 0 || !ok)
        tsr_log_warn(TSR_LC_DSP, "cannot write the message trace %s", path);
}

void tsr_dsp__send(struct tsr_dsp *dsp, struct tsr_http_req *req, int status, json_t *body)
{
    if (dsp->trace_dir != NULL && body != NULL) {
        char *text = json_dumps(body, JSON_COMPACT);
        if (text != NULL)
            tsr_dsp__trace(dsp, text, strlen(text));
        free(text);
    }
    tsr_dsp__reply(req, status, body);
}

void tsr_dsp__reply(struct tsr_http_req *req, int status, json_t *body)
{
    struct tsr_http_header h[2] = {{"content-type", "application/json"}, {NULL, NULL}};
    size_t nh = 1;
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

    /* RFC 9110 §11.6.1: a 401 names the scheme; a 503 says when to retry. */
    if (status == 401)
        h[nh++] = (struct tsr_http_header){"www-authenticate", "Bearer"};
    else if (status == 503)
        h[nh++] = (struct tsr_http_header){"retry-after", "5"};
    json_decref(body);
    if (text == NULL) {
        tsr_http_respond(req, status, h, nh, "{}", 2);
        return;
    }
    tsr_http_respond(req, status, h, nh, text, strlen(text));
    free(text);
}

static enum tsr_dsp_error_kind route_error_kind(enum tsr_dsp_route r)
{
    if (r == R_CATALOG_REQUEST || r == R_DATASET)
        return TSR_DSP_ERR_CATALOG;
    if (r >= R_TP_REQUEST)
        return TSR_DSP_ERR_TRANSFER;
    return TSR_DSP_ERR_NEGOTIATION;
}

void tsr_dsp__error(struct tsr_dsp_ctx *x, int status, const char *code, const char *cpid,
                    const char *ppid, const char *fmt, ...)
{
    char reason[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    /* Name the process the message was about, when the caller said. */
    if (cpid == NULL && x->body != NULL)
        cpid = json_string_value(json_object_get(x->body, "consumerPid"));
    if (ppid == NULL && x->body != NULL)
        ppid = json_string_value(json_object_get(x->body, "providerPid"));
    tsr_log_debug(TSR_LC_DSP, "%s %s: %d %s", tsr_http_req_method(x->req),
                  tsr_http_req_path(x->req), status, reason);
    tsr_dsp__send(x->dsp, x->req, status,
                  tsr_dsp_error(route_error_kind(x->route), cpid, ppid, code, reason));
}

int tsr_dsp__parse(struct tsr_dsp_ctx *x, enum tsr_dsp_type type, struct tsr_dsp_msg *m)
{
    struct tsr_diag d = {0};

    if (x->body == NULL || tsr_dsp_parse(x->body, type, m, &d) != 0) {
        tsr_dsp__error(x, 400, "400", NULL, NULL, "%s",
                       x->body == NULL ? "a JSON body is required" : tsr_diag_msg(&d));
        return -1;
    }
    return 0;
}

void tsr_dsp__outbox_msg(struct tsr_store_outbox_msg *o, const char *entity, const char *entity_id,
                         const char *url, const char *body, const char *on_ack)
{
    memset(o, 0, sizeof(*o));
    o->entity = (char *)entity;
    o->entity_id = (char *)entity_id;
    o->method = (char *)"POST";
    o->url = (char *)url;
    o->body = (char *)body;
    o->on_ack = (char *)on_ack;
}

/* ------------------------------------------------------------ incoming */

struct tsr_dsp_in {
    struct tsr_dsp_in *prev, *next;
    struct tsr_dsp *dsp;
    struct tsr_http_req *req;
    enum tsr_dsp_route route;
    struct tsr_identity_check *chk;
};

struct route_def {
    const char *method;
    const char *path; /* below TSR_DSP_BASE_PATH */
    enum tsr_dsp_route route;
};

static const struct route_def routes[] = {
    {"POST", "/catalog/request", R_CATALOG_REQUEST},
    {"GET", "/catalog/datasets/:pid", R_DATASET},
    {"POST", "/negotiations/request", R_NEG_REQUEST_INIT},
    {"POST", "/negotiations/offers", R_NEG_OFFERS_INIT},
    {"GET", "/negotiations/:pid", R_NEG_GET_P},
    {"POST", "/negotiations/:pid/request", R_NEG_REQUEST},
    {"POST", "/negotiations/:pid/events", R_NEG_EVENTS_P},
    {"POST", "/negotiations/:pid/agreement/verification", R_NEG_VERIFY},
    {"POST", "/negotiations/:pid/termination", R_NEG_TERMINATE_P},
    {"GET", "/callback/negotiations/:pid", R_NEG_GET_C},
    {"POST", "/callback/negotiations/:pid/offers", R_NEG_OFFERS},
    {"POST", "/callback/negotiations/:pid/agreement", R_NEG_AGREEMENT},
    {"POST", "/callback/negotiations/:pid/events", R_NEG_EVENTS_C},
    {"POST", "/callback/negotiations/:pid/termination", R_NEG_TERMINATE_C},
    {"POST", "/transfers/request", R_TP_REQUEST},
    {"GET", "/transfers/:pid", R_TP_GET_P},
    {"POST", "/transfers/:pid/start", R_TP_START_P},
    {"POST", "/transfers/:pid/completion", R_TP_COMPLETE_P},
    {"POST", "/transfers/:pid/suspension", R_TP_SUSPEND_P},
    {"POST", "/transfers/:pid/termination", R_TP_TERMINATE_P},
    {"GET", "/callback/transfers/:pid", R_TP_GET_C},
    {"POST", "/callback/transfers/:pid/start", R_TP_START_C},
    {"POST", "/callback/transfers/:pid/completion", R_TP_COMPLETE_C},
    {"POST", "/callback/transfers/:pid/suspension", R_TP_SUSPEND_C},
    {"POST", "/callback/transfers/:pid/termination", R_TP_TERMINATE_C},
};

static void in_unlink(struct tsr_dsp_in *in)
{
    struct tsr_dsp *dsp = in->dsp;

    if (in->prev != NULL)
        in->prev->next = in->next;
    else
        dsp->ins = in->next;
    if (in->next != NULL)
        in->next->prev = in->prev;
}

static void in_abort(struct tsr_http_req *req, void *arg)
{
    struct tsr_dsp_in *in = arg;

    (void)req;
    if (in->chk != NULL)
        tsr_identity_cancel(in->chk);
    in_unlink(in);
    tsr_free(in);
}

static void dispatch(struct tsr_dsp_ctx *x)
{
    switch (x->route) {
    case R_CATALOG_REQUEST:
        tsr_dsp__catalog(x);
        break;
    case R_DATASET:
        tsr_dsp__dataset(x);
        break;
    default:
        if (x->route >= R_TP_REQUEST)
            tsr_dsp__tp_route(x);
        else
            tsr_dsp__neg_route(x);
    }
}

/*
 * The status of a failed authentication: 401 for a missing or bad token,
 * 403 for a DID the configuration refuses, 503 when the caller's DID
 * document could not be fetched (worth retrying), and for lack of memory.
 */
static int auth_status(int rc)
{
    switch (rc) {
    case TSR_EFORBIDDEN: return 403;
    case TSR_EUNAVAIL:
    case TSR_ENOMEM: return 503;
    default: return 401;
    }
}

static void in_authed(void *arg, int rc, const char *caller, const struct tsr_diag *diag)
{
    struct tsr_dsp_in *in = arg;
    struct tsr_dsp_ctx x = {in->dsp, in->req, in->route, caller, NULL, NULL};
    struct tsr_http_req *req = in->req;

    in->chk = NULL;
    in_unlink(in);
    tsr_free(in);
    tsr_http_req_on_abort(req, NULL, NULL);
    if (rc != 0) {
        int status = auth_status(rc);
        char code[8];
        snprintf(code, sizeof(code), "%d", status);
        tsr_dsp__error(&x, status, code, NULL, NULL, "%s", tsr_diag_msg(diag));
        return;
    }
    x.pid = tsr_http_req_param(req, "pid");
    const struct tsr_buf *b = tsr_http_req_body(req);
    if (strcmp(tsr_http_req_method(req), "POST") == 0) {
        struct tsr_diag d = {0};
        struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;
        lim.max_bytes = TSR_DSP_MAX_BODY;
        lim.max_depth = 24;
        if (b->len == 0 || tsr_json_parse(b->data, b->len, &lim, &x.body, &d) != 0) {
            tsr_dsp__error(&x, 400, "400", NULL, NULL, "malformed JSON: %s",
                           b->len == 0 ? "empty body" : tsr_diag_msg(&d));
            return;
        }
        if (!json_is_object(x.body)) {
            /* The error reply reads x.body (for the pids): free it only afterwards. */
            tsr_dsp__error(&x, 400, "400", NULL, NULL, "the body must be a JSON object");
            json_decref(x.body);
            return;
        }
    }
    dispatch(&x);
    json_decref(x.body);
}

/* Route arguments: one per route, pointing back to the engine. */
struct route_arg {
    struct tsr_dsp *dsp;
    enum tsr_dsp_route route;
};

static void on_request(struct tsr_http_req *req, void *arg)
{
    const struct route_arg *ra = arg;
    struct tsr_dsp *dsp = ra->dsp;
    struct tsr_dsp_in *in = tsr_calloc(1, sizeof(*in));
    struct tsr_diag d = {0};

    if (in == NULL) {
        tsr_http_respond_text(req, 503, "application/json", "{}");
        return;
    }
    in->dsp = dsp;
    in->req = req;
    in->route = ra->route;
    in->next = dsp->ins;
    if (dsp->ins != NULL)
        dsp->ins->prev = in;
    dsp->ins = in;
    tsr_http_req_on_abort(req, in_abort, in);
    const char *auth = tsr_http_req_header(req, "authorization");
    int rc = 0;
    if (dsp->hooks.auth_in != NULL) {
        const char *caller = NULL;
        rc = dsp->hooks.auth_in(dsp->hooks.arg, auth != NULL ? auth : "", &caller);
        if (rc == 1 && caller != NULL) {
            in_authed(in, 0, caller, NULL);
            return;
        }
        if (rc < 0)
            tsr_diag_set(&d, TSR_EAUTH, "the Authorization header is not accepted");
    }
    if (rc == 0)
        rc = tsr_identity_verify(dsp->id, auth != NULL ? auth : "", in_authed, in, &in->chk, &d);
    if (rc != 0) {
        struct tsr_dsp_ctx x = {dsp, req, ra->route, NULL, NULL, NULL};
        in_unlink(in);
        tsr_free(in);
        tsr_http_req_on_abort(req, NULL, NULL);
        int status = auth_status(rc);
        char code[8];
        snprintf(code, sizeof(code), "%d", status);
        tsr_dsp__error(&x, status, code, NULL, NULL, "%s", tsr_diag_msg(&d));
    }
}

static void on_version(struct tsr_http_req *req, void *arg)
{
    tsr_dsp__send(arg, req, 200, tsr_dsp_version_doc(TSR_DSP_BASE_PATH, "did:web"));
}

/* ------------------------------------------------------------ outbox */

struct tsr_dsp_flight {
    struct tsr_dsp_flight *prev, *next;
    struct tsr_dsp *dsp;
    struct tsr_store_outbox_msg *msg;
    struct tsr_client_xfer *xfer;
};

static void outbox_run(struct tsr_dsp *dsp);

static void on_outbox_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    outbox_run(arg);
}

void tsr_dsp__kick(struct tsr_dsp *dsp)
{
    struct timeval tv = {0, 0};

    if (!dsp->freeing)
        evtimer_add(dsp->outbox_timer, &tv);
}

static void schedule(struct tsr_dsp *dsp)
{
    int64_t next = 0;

    if (tsr_store_outbox_next_ms(dsp->st, &next, NULL) != 0 || next <= 0)
        return;
    int64_t wait = next - tsr_time_now_ms();
    /* Rows of entities with a message in flight stay due; their flight's
     * completion kicks the outbox, so poll them slowly. */
    if (wait < 5)
        wait = dsp->nflights > 0 ? 200 : 5;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(dsp->outbox_timer, &tv);
}

static void flight_free(struct tsr_dsp_flight *f)
{
    struct tsr_dsp *dsp = f->dsp;

    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        dsp->flights = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    dsp->nflights--;
    tsr_store_outbox_free(f->msg);
    tsr_free(f);
}

static bool entity_in_flight(struct tsr_dsp *dsp, const char *entity_id)
{
    for (struct tsr_dsp_flight *f = dsp->flights; f != NULL; f = f->next) {
        if (strcmp(f->msg->entity_id, entity_id) == 0)
            return true;
    }
    return false;
}

static void give_up(struct tsr_dsp *dsp, const struct tsr_store_outbox_msg *m, const char *why)
{
    tsr_log_warn(TSR_LC_DSP, "%s %s: giving up on %s: %s", m->entity, m->entity_id, m->url, why);
    if (strcmp(m->entity, TSR_STORE_ENTITY_NEG) == 0)
        tsr_dsp__neg_failed(dsp, m, why);
    else
        tsr_dsp__tp_failed(dsp, m, why);
}

static void on_sent(void *arg, struct tsr_client_resp *resp)
{
    struct tsr_dsp_flight *f = arg;
    struct tsr_dsp *dsp = f->dsp;
    struct tsr_store_outbox_msg *m = f->msg;
    char why[600];

    f->xfer = NULL;
    if (resp->rc == 0 && resp->status >= 200 && resp->status < 300) {
        json_t *answer = NULL;
        if (resp->body.len > 0)
            (void)tsr_json_parse(resp->body.data, resp->body.len, NULL, &answer, NULL);
        tsr_log_debug(TSR_LC_DSP, "%s %s: %s acknowledged (%d)", m->entity, m->entity_id, m->url,
                      resp->status);
        if (strcmp(m->entity, TSR_STORE_ENTITY_NEG) == 0)
            tsr_dsp__neg_acked(dsp, m, answer);
        else
            tsr_dsp__tp_acked(dsp, m, answer);
        json_decref(answer);
        flight_free(f);
        tsr_dsp__kick(dsp);
        return;
    }
    if (resp->rc != 0)
        snprintf(why, sizeof(why), "%s", tsr_diag_msg(&resp->diag));
    else
        snprintf(why, sizeof(why), "HTTP %d: %.500s", resp->status, tsr_buf_str(&resp->body));
    /* A peer that refuses (4xx but timeouts and rate limits) will refuse
     * again: fail now instead of retrying for minutes. */
    bool refused = resp->rc == 0 && resp->status >= 400 && resp->status < 500 &&
                   resp->status != 408 && resp->status != 429;
    if (refused || m->attempts + 1 >= TSR_DSP_MAX_ATTEMPTS) {
        give_up(dsp, m, why);
        tsr_store_outbox_done(dsp->st, m->id, NULL);
    } else {
        int64_t backoff = 250LL << (m->attempts < 7 ? m->attempts : 7);
        tsr_log_info(TSR_LC_DSP, "%s %s: %s failed (%s); retry in %lld ms", m->entity,
                     m->entity_id, m->url, why, (long long)backoff);
        tsr_store_outbox_retry(dsp->st, m->id, tsr_time_now_ms() + backoff, why, NULL);
    }
    flight_free(f);
    tsr_dsp__kick(dsp);
}

/* The DID a message for this entity must be addressed to. */
static char *entity_peer(struct tsr_dsp *dsp, const struct tsr_store_outbox_msg *m)
{
    char *did = NULL;

    if (strcmp(m->entity, TSR_STORE_ENTITY_NEG) == 0) {
        struct tsr_store_neg *n = NULL;
        if (tsr_store_neg_get(dsp->st, m->entity_id, &n, NULL) == 0 && n->counterparty_did)
            did = tsr_strdup(n->counterparty_did);
        tsr_store_neg_free(n);
    } else {
        struct tsr_store_tp *t = NULL;
        if (tsr_store_tp_get(dsp->st, m->entity_id, &t, NULL) == 0 && t->counterparty_did)
            did = tsr_strdup(t->counterparty_did);
        tsr_store_tp_free(t);
    }
    return did;
}

/* The Authorization header value for a message to peer (new, tsr_free_secret). */
static int auth_for(struct tsr_dsp *dsp, const char *peer, char **out, struct tsr_diag *d)
{
    if (dsp->hooks.auth_out != NULL) {
        *out = dsp->hooks.auth_out(dsp->hooks.arg, peer);
        if (*out != NULL)
            return 0;
    }
    return tsr_identity_token(dsp->id, peer, out, d);
}

static void send_one(struct tsr_dsp *dsp, struct tsr_store_outbox_msg *m)
{
    struct tsr_diag d = {0};
    char *auth = NULL, *peer = entity_peer(dsp, m);
    struct tsr_dsp_flight *f = NULL;

    if (peer == NULL) {
        /* The entity is gone (deleted by an operator): nothing to deliver. */
        tsr_store_outbox_done(dsp->st, m->id, NULL);
        tsr_store_outbox_free(m);
        return;
    }
    if (auth_for(dsp, peer, &auth, &d) != 0) {
        give_up(dsp, m, tsr_diag_msg(&d));
        tsr_store_outbox_done(dsp->st, m->id, NULL);
        tsr_store_outbox_free(m);
        tsr_free(peer);
        return;
    }
    char authz[TSR_IDENTITY_MAX_TOKEN + 32];
    snprintf(authz, sizeof(authz), "Authorization: %s", auth);
    const char *hdrs[] = {authz, "Content-Type: application/json", "Accept: application/json",
                          NULL};
    if (m->body != NULL)
        tsr_dsp__trace(dsp, m->body, strlen(m->body));
    struct tsr_client_req req = {
        .method = m->method,
        .url = m->url,
        .headers = hdrs,
        .body = m->body,
        .body_len = m->body != NULL ? strlen(m->body) : 0,
    };
    f = tsr_calloc(1, sizeof(*f));
    if (f == NULL)
        goto out;
    f->dsp = dsp;
    f->msg = m;
    f->next = dsp->flights;
    if (dsp->flights != NULL)
        dsp->flights->prev = f;
    dsp->flights = f;
    dsp->nflights++;
    if (tsr_client_request(dsp->client, &req, on_sent, f, &f->xfer, &d) != 0) {
        tsr_store_outbox_retry(dsp->st, m->id, tsr_time_now_ms() + 1000, tsr_diag_msg(&d), NULL);
        flight_free(f);
    }
    m = NULL;
out:
    if (m != NULL)
        tsr_store_outbox_free(m);
    tsr_free_secret(auth);
    tsr_free(peer);
}

static void outbox_run(struct tsr_dsp *dsp)
{
    struct tsr_store_outbox_msg *due = NULL;
    size_t n = 0;

    if (dsp->freeing || dsp->nflights >= TSR_DSP_MAX_INFLIGHT)
        return;
    if (tsr_store_outbox_due(dsp->st, tsr_time_now_ms(), TSR_DSP_MAX_INFLIGHT, &due, &n, NULL) != 0)
        return;
    for (size_t i = 0; i < n && dsp->nflights < TSR_DSP_MAX_INFLIGHT; i++) {
        /* One message per negotiation or transfer at a time keeps them in
         * the order they were committed. */
        if (entity_in_flight(dsp, due[i].entity_id))
            continue;
        struct tsr_store_outbox_msg *m = tsr_calloc(1, sizeof(*m));
        if (m == NULL)
            break;
        *m = due[i];
        memset(&due[i], 0, sizeof(due[i]));
        send_one(dsp, m);
    }
    tsr_store_outbox_array_free(due, n);
    schedule(dsp);
}

/* ------------------------------------------------------------ catalog (provider) */

/*
 * May caller see the offer with this policy text?  Only when it compiles
 * and could hold for the caller (tsr_policy_offer_check; the rule is in
 * tessera-policy(7)).  Without a policy context every offer is listed.
 */
static bool offer_visible(struct tsr_dsp *dsp, const char *offer_id, const char *policy_text,
                          const char *caller)
{
    struct tsr_diag d = {0};
    int rc;

    if (dsp->policy == NULL)
        return true;
    rc = tsr_policy_offer_allows(dsp->policy, policy_text, caller, tsr_time_now_ms(), &d);
    if (rc != 0)
        tsr_log_debug(TSR_LC_POLICY, "offer %s hidden from %s: %s", offer_id, caller,
                      tsr_diag_msg(&d));
    return rc == 0;
}

/* The datasets caller may see: one per asset with at least one visible offer. */
static json_t *build_catalog(struct tsr_dsp *dsp, const char *only_asset, const char *caller,
                             struct tsr_diag *d)
{
    struct tsr_store_offer *offers = NULL;
    size_t noffers = 0;
    struct tsr_store_filter f = {.limit = TSR_STORE_LIST_MAX};
    struct tsr_dsp_dataset_in *ds = NULL;
    json_t **policies = NULL;
    struct tsr_store_asset **assets = NULL;
    json_t **kwjson = NULL;       /* per dataset: the asset's keywords, parsed */
    const char ***kwv = NULL;     /* per dataset: borrowed strings from kwjson */
    size_t nds = 0;
    json_t *out = NULL;
    static const char *const formats[] = {"HttpData-PULL"};
    struct tsr_dsp_service_in svc = {NULL, dsp->base_url};
    char svc_id[600];

    snprintf(svc_id, sizeof(svc_id), "%s#dsp", dsp->did);
    svc.id = svc_id;
    if (tsr_store_offer_list(dsp->st, &f, &offers, &noffers, d) != 0)
        return NULL;
    ds = tsr_calloc(noffers + 1, sizeof(*ds));
    policies = tsr_calloc(noffers + 1, sizeof(*policies));
    assets = tsr_calloc(noffers + 1, sizeof(*assets));
    kwjson = tsr_calloc(noffers + 1, sizeof(*kwjson));
    kwv = tsr_calloc(noffers + 1, sizeof(*kwv));
    if (ds == NULL || policies == NULL || assets == NULL || kwjson == NULL || kwv == NULL)
        goto out;
    for (size_t i = 0; i < noffers; i++) {
        const struct tsr_store_offer *o = &offers[i];
        if (only_asset != NULL && strcmp(o->asset_id, only_asset) != 0)
            continue;
        struct tsr_store_policy *p = NULL;
        if (tsr_store_policy_get(dsp->st, o->policy_id, &p, NULL) != 0)
            continue;
        if (!offer_visible(dsp, o->id, p->body, caller)) {
            tsr_store_policy_free(p);
            continue;
        }
        json_t *pol = json_loads(p->body, 0, NULL);
        tsr_store_policy_free(p);
        if (!json_is_object(pol)) {
            json_decref(pol);
            continue;
        }
        json_object_set_new(pol, "@id", json_string(o->id));
        policies[i] = pol;
        /* One dataset per asset: append the offer to an existing one. */
        size_t k;
        for (k = 0; k < nds; k++) {
            if (strcmp(ds[k].id, o->asset_id) == 0)
                break;
        }
        if (k == nds) {
            struct tsr_store_asset *a = NULL;
            if (tsr_store_asset_get(dsp->st, o->asset_id, &a, NULL) != 0) {
                json_decref(pol);
                policies[i] = NULL;
                continue;
            }
            assets[nds] = a;
            ds[nds].id = a->id;
            ds[nds].title = a->title;
            ds[nds].description = a->description;
            /* Keywords are stored as a JSON array of strings (checked on input). */
            kwjson[nds] = a->keywords != NULL ? json_loads(a->keywords, 0, NULL) : NULL;
            size_t nkw = json_array_size(kwjson[nds]);
            if (nkw > 0) {
                kwv[nds] = tsr_calloc(nkw, sizeof(char *));
                if (kwv[nds] == NULL) {
                    json_decref(kwjson[nds]);
                    tsr_store_asset_free(a);
                    goto out;
                }
                for (size_t j = 0; j < nkw; j++) {
                    const char *kw = json_string_value(json_array_get(kwjson[nds], j));
                    if (kw != NULL)
                        kwv[nds][ds[nds].n_keywords++] = kw;
                }
                ds[nds].keywords = kwv[nds];
            }
            ds[nds].formats = formats;
            ds[nds].n_formats = 1;
            ds[nds].offers = tsr_calloc(noffers, sizeof(json_t *));
            if (ds[nds].offers == NULL)
                goto out;
            nds++;
        }
        ((const json_t **)ds[k].offers)[ds[k].n_offers++] = pol;
    }
    if (only_asset != NULL) {
        if (nds == 0) {
            tsr_diag_set(d, TSR_ENOTFOUND, "no dataset %s", only_asset);
            goto out;
        }
        out = tsr_dsp_dataset(&ds[0], &svc);
    } else {
        char cat_id[600];
        snprintf(cat_id, sizeof(cat_id), "%s#catalog", dsp->did);
        out = tsr_dsp_catalog(cat_id, dsp->did, &svc, ds, nds);
    }
    if (out == NULL)
        tsr_diag_set(d, TSR_ENOMEM, "cannot build the catalog");
out:
    for (size_t i = 0; i < noffers && policies != NULL; i++)
        json_decref(policies[i]);
    for (size_t k = 0; k < nds; k++) {
        tsr_free((void *)ds[k].offers);
        tsr_store_asset_free(assets[k]);
        tsr_free(kwv[k]);
        json_decref(kwjson[k]);
    }
    tsr_free(kwv);
    tsr_free(kwjson);
    tsr_free(ds);
    tsr_free(policies);
    tsr_free(assets);
    tsr_store_offer_array_free(offers, noffers);
    return out;
}

/* A non-negative integer member of q, or def when absent; -1 when malformed. */
static json_int_t window_member(const json_t *q, const char *name, json_int_t def)
{
    const json_t *v = json_object_get(q, name);

    if (v == NULL)
        return def;
    return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
}

/*
 * The one catalog filter supported (the binding lets each implementation
 * choose): EDC's paging QuerySpec, which a stock EDC sends with every
 * catalog request, {"@type": "QuerySpec", "offset": N, "limit": N,
 * "filterExpression": []}, without filter expressions.  0 and the window
 * of datasets it asks for, or TSR_EINVAL for any other filter.
 */
static int catalog_window(const json_t *filter, size_t *offset, size_t *limit)
{
    const json_t *q;
    size_t i;

    *offset = 0;
    *limit = SIZE_MAX;
    if (filter == NULL)
        return 0;
    if (!json_is_array(filter))
        return TSR_EINVAL;
    json_array_foreach(filter, i, q) {
        const char *type = json_string_value(json_object_get(q, "@type"));
        const json_t *fe = json_object_get(q, "filterExpression");
        if (type == NULL || (strcmp(type, "QuerySpec") != 0 && strcmp(type, "edc:QuerySpec") != 0 &&
                             strcmp(type, "https://w3id.org/edc/v0.0.1/ns/QuerySpec") != 0))
            return TSR_EINVAL;
        if (fe != NULL && (!json_is_array(fe) || json_array_size(fe) > 0))
            return TSR_EINVAL;
        json_int_t off = window_member(q, "offset", 0);
        json_int_t lim = window_member(q, "limit", TSR_STORE_LIST_MAX);
        if (off < 0 || lim < 0)
            return TSR_EINVAL;
        *offset = (size_t)off;
        *limit = (size_t)lim;
    }
    return 0;
}

void tsr_dsp__catalog(struct tsr_dsp_ctx *x)
{
    struct tsr_dsp_msg m;
    struct tsr_diag d = {0};
    size_t offset, limit;

    if (tsr_dsp__parse(x, TSR_DSP_CATALOG_REQUEST, &m) != 0)
        return;
    if (catalog_window(m.filter, &offset, &limit) != 0) {
        /* The binding: an unsupported filter MUST be a 400. */
        tsr_dsp__error(x, 400, "400", NULL, NULL,
                       "unsupported catalog filter (only a QuerySpec with offset and limit)");
        return;
    }
    json_t *cat = build_catalog(x->dsp, NULL, x->caller, &d);
    if (cat == NULL) {
        tsr_dsp__error(x, 500, "500", NULL, NULL, "%s", tsr_diag_msg(&d));
        return;
    }
    json_t *ds = json_object_get(cat, "dataset");
    if (json_is_array(ds)) {
        for (size_t i = 0; i < offset && json_array_size(ds) > 0; i++)
            json_array_remove(ds, 0);
        while (json_array_size(ds) > limit)
            json_array_remove(ds, json_array_size(ds) - 1);
    }
    tsr_dsp__send(x->dsp, x->req, 200, cat);
}

void tsr_dsp__dataset(struct tsr_dsp_ctx *x)
{
    struct tsr_diag d = {0};
    json_t *ds = build_catalog(x->dsp, x->pid, x->caller, &d);

    if (ds == NULL) {
        int st = d.code == TSR_ENOTFOUND ? 404 : 500;
        tsr_dsp__error(x, st, st == 404 ? "404" : "500", NULL, NULL, "%s", tsr_diag_msg(&d));
        return;
    }
    tsr_dsp__send(x->dsp, x->req, 200, ds);
}

/* ------------------------------------------------------------ consumer operations */

enum op_kind { OP_CATALOG, OP_NEGOTIATE };
enum op_step { STEP_VERSION, STEP_CATALOG };

struct tsr_dsp_op {
    struct tsr_dsp_op *prev, *next;
    struct tsr_dsp *dsp;
    enum op_kind kind;
    enum op_step step;
    char *root;        /* provider URL as given */
    char *base;        /* the DSP 2025-1 base URL once known */
    char *did;         /* the provider's DID */
    char *offer_id;
    tsr_dsp_done_fn cb;
    void *arg;
    struct tsr_client_xfer *xfer;
};

static void op_free(struct tsr_dsp_op *op)
{
    struct tsr_dsp *dsp = op->dsp;

    if (op->prev != NULL)
        op->prev->next = op->next;
    else
        dsp->ops = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    tsr_free(op->root);
    tsr_free(op->base);
    tsr_free(op->did);
    tsr_free(op->offer_id);
    tsr_free(op);
}

static void op_finish(struct tsr_dsp_op *op, int rc, json_t *result, const struct tsr_diag *d)
{
    op->cb(op->arg, rc, result, d);
    op_free(op);
}

static void op_fail(struct tsr_dsp_op *op, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void op_fail(struct tsr_dsp_op *op, int rc, const char *fmt, ...)
{
    struct tsr_diag d = {0};
    va_list ap;

    va_start(ap, fmt);
    tsr_diag_vset(&d, rc, fmt, ap);
    va_end(ap);
    op_finish(op, rc, NULL, &d);
}

static void op_step(struct tsr_dsp_op *op);

/* The i-th offer of dataset ds (hasPolicy may be one object or a list). */
static json_t *dataset_offer(json_t *ds, size_t i)
{
    json_t *pols = json_object_get(ds, "hasPolicy");

    if (json_is_object(pols))
        return i == 0 ? pols : NULL;
    return json_array_get(pols, i);
}

/*
 * Find offer_id among the catalog's datasets: the offer and its dataset.
 * When no offer has that id but a dataset does and it has exactly one
 * offer, that offer: EDC makes up new offer ids for every catalog request
 * (a random part in each), so an id from an earlier catalog is not found
 * again, while the dataset id stays.
 */
static json_t *find_offer(json_t *catalog, const char *offer_id, const char **dataset_id)
{
    json_t *datasets = json_object_get(catalog, "dataset");
    json_t *ds, *p, *only = NULL;
    size_t i, k;
    size_t n = json_is_object(datasets) ? 1 : json_array_size(datasets);

    for (i = 0; i < n; i++) {
        ds = json_is_object(datasets) ? datasets : json_array_get(datasets, i);
        const char *ds_id = json_string_value(json_object_get(ds, "@id"));
        for (k = 0; (p = dataset_offer(ds, k)) != NULL; k++) {
            const char *pid = json_string_value(json_object_get(p, "@id"));
            if (pid != NULL && strcmp(pid, offer_id) == 0) {
                *dataset_id = ds_id;
                return p;
            }
        }
        if (ds_id != NULL && strcmp(ds_id, offer_id) == 0 && k == 1 && only == NULL) {
            only = dataset_offer(ds, 0);
            *dataset_id = ds_id;
        }
    }
    return only;
}

/*
 * Record a consumer negotiation for offer (borrowed) and enqueue the
 * initial contract request to the provider at base.  The offer is sent as
 * we request it: with its target and the provider as assigner (both
 * required in a contract request).  cpid gets our negotiation id.
 */
static int request_offer(struct tsr_dsp *dsp, const char *base, const char *provider,
                         const json_t *offer, const char *offer_id, const char *dataset_id,
                         char cpid[TSR_UUID_URN_SIZE], struct tsr_diag *d)
{
    json_t *req_offer = json_deep_copy(offer);
    char *body = NULL, *url = NULL, *offer_text = NULL;
    int rc;

    tsr_uuid_v4_urn(cpid);
    if (req_offer != NULL) {
        json_object_set_new(req_offer, "@type", json_string("Offer"));
        json_object_set_new(req_offer, "target", json_string(dataset_id));
        json_object_set_new(req_offer, "assigner", json_string(provider));
        body = tsr_dsp__dump(tsr_dsp_contract_request(cpid, NULL, req_offer, dsp->callback_url));
        offer_text = json_dumps(req_offer, JSON_COMPACT);
    }
    url = tsr_dsp__url(base, "/negotiations/request");
    if (body == NULL || url == NULL || offer_text == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    struct tsr_store_neg n = {
        .id = cpid,
        .role = (char *)TSR_STORE_ROLE_CONSUMER,
        .state = (char *)"REQUESTED",
        .consumer_pid = cpid,
        .counterparty_did = (char *)provider,
        .counterparty_url = (char *)base,
        .offer_id = (char *)offer_id,
        .asset_id = (char *)dataset_id,
        .offer_json = offer_text,
    };
    struct tsr_store_outbox_msg o;
    tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_NEG, cpid, url, body, TSR_DSP_ACK_NEG_INIT);
    rc = tsr_store_neg_create(dsp->st, &n, &o, d);
    if (rc != 0)
        goto out;
    tsr_log_info(TSR_LC_DSP, "negotiation %s: requesting offer %s from %s", cpid, offer_id,
                 provider);
    tsr_dsp__kick(dsp);
out:
    json_decref(req_offer);
    free(body);
    tsr_free(url);
    free(offer_text);
    return rc;
}

static void op_start_negotiation(struct tsr_dsp_op *op, json_t *catalog)
{
    const char *dataset_id = NULL;
    json_t *offer = find_offer(catalog, op->offer_id, &dataset_id);
    struct tsr_diag d = {0};
    char cpid[TSR_UUID_URN_SIZE];

    if (offer == NULL || dataset_id == NULL) {
        op_fail(op, TSR_ENOTFOUND, "the provider's catalog has no offer %s", op->offer_id);
        return;
    }
    const char *participant = json_string_value(json_object_get(catalog, "participantId"));
    if (participant != NULL && strcmp(participant, op->did) != 0) {
        op_fail(op, TSR_EPROTO, "the catalog names participant %s, not %s", participant, op->did);
        return;
    }
    int rc = request_offer(op->dsp, op->base, op->did, offer, op->offer_id, dataset_id, cpid, &d);
    if (rc != 0) {
        op_finish(op, rc, NULL, &d);
        return;
    }
    json_t *res = json_pack("{s:s, s:s}", "id", cpid, "state", "REQUESTED");
    op_finish(op, 0, res, NULL);
    json_decref(res);
}

static void op_answer(void *arg, struct tsr_client_resp *resp)
{
    struct tsr_dsp_op *op = arg;
    json_t *j = NULL;
    struct tsr_diag d = {0};

    op->xfer = NULL;
    if (resp->rc != 0) {
        op_finish(op, resp->rc == TSR_ETIMEOUT ? TSR_EUNAVAIL : resp->rc, NULL, &resp->diag);
        return;
    }
    if (resp->status != 200) {
        op_fail(op, resp->status == 401 || resp->status == 403 ? TSR_EFORBIDDEN : TSR_EUNAVAIL,
                "%s answered HTTP %d: %.300s", op->root, resp->status, tsr_buf_str(&resp->body));
        return;
    }
    if (tsr_json_parse(resp->body.data, resp->body.len, NULL, &j, &d) != 0) {
        op_fail(op, TSR_EPROTO, "%s: %s", op->root, tsr_diag_msg(&d));
        return;
    }
    if (op->step == STEP_VERSION) {
        struct tsr_dsp_msg m;
        json_t *v;
        size_t i;
        if (tsr_dsp_parse(j, TSR_DSP_VERSION, &m, &d) != 0) {
            json_decref(j);
            op_fail(op, TSR_EPROTO, "%s: %s", op->root, tsr_diag_msg(&d));
            return;
        }
        json_array_foreach(m.versions, i, v) {
            const char *ver = json_string_value(json_object_get(v, "version"));
            const char *path = json_string_value(json_object_get(v, "path"));
            if (ver != NULL && path != NULL && strcmp(ver, TSR_DSP_VERSION_2025_1) == 0 &&
                op->base == NULL)
                op->base = tsr_dsp__url(op->root, path);
        }
        json_decref(j);
        if (op->base == NULL) {
            op_fail(op, TSR_EPROTO, "%s does not speak DSP 2025-1", op->root);
            return;
        }
        op->step = STEP_CATALOG;
        op_step(op);
        return;
    }
    struct tsr_dsp_msg m;
    if (tsr_dsp_parse(j, TSR_DSP_CATALOG, &m, &d) != 0) {
        json_decref(j);
        op_fail(op, TSR_EPROTO, "%s: %s", op->root, tsr_diag_msg(&d));
        return;
    }
    if (op->kind == OP_CATALOG)
        op_finish(op, 0, j, NULL);
    else
        op_start_negotiation(op, j);
    json_decref(j);
}

static void op_step(struct tsr_dsp_op *op)
{
    struct tsr_dsp *dsp = op->dsp;
    struct tsr_diag d = {0};
    char *url = NULL, *auth = NULL, *body = NULL;
    char authz[TSR_IDENTITY_MAX_TOKEN + 32];
    const char *hdrs[4] = {"Accept: application/json", NULL, NULL, NULL};
    struct tsr_client_req req = {0};
    int rc;

    if (op->step == STEP_VERSION) {
        url = tsr_dsp__url(op->root, "/.well-known/dspace-version");
        req.method = "GET";
    } else {
        url = tsr_dsp__url(op->base, "/catalog/request");
        rc = auth_for(dsp, op->did, &auth, &d);
        if (rc != 0) {
            tsr_free(url);
            op_finish(op, rc, NULL, &d);
            return;
        }
        snprintf(authz, sizeof(authz), "Authorization: %s", auth);
        hdrs[1] = authz;
        hdrs[2] = "Content-Type: application/json";
        body = tsr_dsp__dump(tsr_dsp_catalog_request(NULL));
        if (body != NULL)
            tsr_dsp__trace(dsp, body, strlen(body));
        req.method = "POST";
        req.body = body;
        req.body_len = body != NULL ? strlen(body) : 0;
    }
    req.url = url;
    req.headers = hdrs;
    rc = url == NULL ? TSR_ENOMEM : tsr_client_request(dsp->client, &req, op_answer, op, &op->xfer, &d);
    tsr_free(url);
    free(body);
    tsr_free_secret(auth);
    if (rc != 0)
        op_finish(op, rc, NULL, &d);
}

/* Split a provider URL into its root (scheme://authority) and, when it has
 * a path, take it as the DSP base; derive the did:web of the authority. */
static int op_new(struct tsr_dsp *dsp, enum op_kind kind, const char *provider_url,
                  const char *offer_id, tsr_dsp_done_fn cb, void *arg, struct tsr_diag *d)
{
    const char *p = provider_url;
    bool https = tsr_str_startswith(p, "https://");

    if (!https && !tsr_str_startswith(p, "http://"))
        return tsr_diag_set(d, TSR_EINVAL, "the provider URL must start with https:// (got %s)",
                            provider_url);
    const char *auth = p + (https ? 8 : 7);
    size_t alen = strcspn(auth, "/?#");
    if (alen == 0 || alen > 255)
        return tsr_diag_set(d, TSR_EINVAL, "the provider URL has no host: %s", provider_url);
    char hostport[256];
    memcpy(hostport, auth, alen);
    hostport[alen] = '\0';
    unsigned port = https ? 443 : 80;
    char *colon = strrchr(hostport, ':');
    if (colon != NULL && strchr(colon, ']') == NULL) {
        uint64_t v;
        if (tsr_parse_u64(colon + 1, 65535, &v) != 0 || v == 0)
            return tsr_diag_set(d, TSR_EINVAL, "bad port in %s", provider_url);
        port = (unsigned)v;
        *colon = '\0';
    }
    struct tsr_dsp_op *op = tsr_calloc(1, sizeof(*op));
    if (op == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    op->dsp = dsp;
    op->kind = kind;
    op->cb = cb;
    op->arg = arg;
    op->root = tsr_strndup(provider_url, (size_t)(auth - p) + alen);
    const char *path = auth + alen;
    if (*path == '/' && path[1] != '\0') {
        op->base = tsr_strdup(provider_url);
        op->step = STEP_CATALOG;
    } else {
        op->step = STEP_VERSION;
    }
    op->offer_id = offer_id != NULL ? tsr_strdup(offer_id) : NULL;
    int rc = tsr_did_web_from_host(hostport, port == 443 ? 0 : port, NULL, &op->did, d);
    if (rc != 0 || op->root == NULL) {
        op->next = NULL;
        tsr_free(op->root);
        tsr_free(op->base);
        tsr_free(op->offer_id);
        tsr_free(op->did);
        tsr_free(op);
        return rc != 0 ? rc : tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    op->next = dsp->ops;
    if (dsp->ops != NULL)
        dsp->ops->prev = op;
    dsp->ops = op;
    op_step(op);
    return 0;
}

int tsr_dsp_catalog_fetch(struct tsr_dsp *dsp, const char *provider_url, tsr_dsp_done_fn cb,
                          void *arg, struct tsr_diag *d)
{
    return op_new(dsp, OP_CATALOG, provider_url, NULL, cb, arg, d);
}

int tsr_dsp_negotiate(struct tsr_dsp *dsp, const char *provider_url, const char *offer_id,
                      tsr_dsp_done_fn cb, void *arg, struct tsr_diag *d)
{
    if (offer_id == NULL || offer_id[0] == '\0')
        return tsr_diag_set(d, TSR_EINVAL, "an offer id is required");
    return op_new(dsp, OP_NEGOTIATE, provider_url, offer_id, cb, arg, d);
}

int tsr_dsp_negotiate_offer(struct tsr_dsp *dsp, const char *base_url, const char *provider_id,
                            const json_t *offer, const char *dataset_id, char **id_out,
                            struct tsr_diag *d)
{
    const char *offer_id = json_string_value(json_object_get(offer, "@id"));
    char cpid[TSR_UUID_URN_SIZE];

    if (id_out != NULL)
        *id_out = NULL;
    if (base_url == NULL || (!tsr_str_startswith(base_url, "https://") &&
                             !tsr_str_startswith(base_url, "http://")))
        return tsr_diag_set(d, TSR_EINVAL, "the provider's DSP URL must be http(s)://...");
    if (provider_id == NULL || provider_id[0] == '\0' || dataset_id == NULL ||
        dataset_id[0] == '\0' || offer_id == NULL || !json_is_object(offer))
        return tsr_diag_set(d, TSR_EINVAL, "provider id, dataset id and an offer @id are required");
    int rc = request_offer(dsp, base_url, provider_id, offer, offer_id, dataset_id, cpid, d);
    if (rc == 0 && id_out != NULL && (*id_out = tsr_strdup(cpid)) == NULL)
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    return rc;
}

/*
 * Send msg on negotiation id as role, and move to the state it leads to:
 * the consumer's ACCEPTED event or counter-request, the provider's offer.
 */
static int neg_send(struct tsr_dsp *dsp, const char *id, enum tsr_neg_role role,
                    enum tsr_neg_msg msg, struct tsr_diag *d)
{
    struct tsr_store_neg *n = NULL;
    enum tsr_neg_state cur = TSR_NEG_INITIAL, next;
    json_t *offer = NULL;
    char *body = NULL, *url = NULL;
    char path[600];
    int rc;

    rc = tsr_store_neg_get(dsp->st, id, &n, d);
    if (rc != 0)
        return rc;
    bool provider = role == TSR_NEG_PROVIDER;
    if (strcmp(n->role, provider ? TSR_STORE_ROLE_PROVIDER : TSR_STORE_ROLE_CONSUMER) != 0 ||
        n->provider_pid == NULL) {
        rc = tsr_diag_set(d, TSR_ESTATE, "negotiation %s is not a %s negotiation with a "
                          "known providerPid", id, provider ? "provider" : "consumer");
        goto out;
    }
    tsr_neg_state_parse(n->state, &cur);
    rc = tsr_neg_check(cur, msg, role, &next, d);
    if (rc != 0)
        goto out;
    if (provider || msg == TSR_NEG_MSG_CONTRACT_REQUEST) {
        offer = n->offer_json != NULL ? json_loads(n->offer_json, 0, NULL) : NULL;
        if (offer == NULL) {
            rc = tsr_diag_set(d, TSR_ESTATE, "negotiation %s has no offer", id);
            goto out;
        }
    }
    if (provider) {
        body = tsr_dsp__dump(tsr_dsp_contract_offer(n->provider_pid, n->consumer_pid, offer,
                                                    NULL));
        snprintf(path, sizeof(path), "negotiations/%s/offers", n->consumer_pid);
    } else if (msg == TSR_NEG_MSG_EVENT_ACCEPTED) {
        body = tsr_dsp__dump(
            tsr_dsp_negotiation_event(n->provider_pid, n->consumer_pid, TSR_NEG_ACCEPTED));
        snprintf(path, sizeof(path), "negotiations/%s/events", n->provider_pid);
    } else {
        body = tsr_dsp__dump(tsr_dsp_contract_request(n->consumer_pid, n->provider_pid, offer,
                                                      NULL));
        snprintf(path, sizeof(path), "negotiations/%s/request", n->provider_pid);
    }
    url = tsr_dsp__url(n->counterparty_url, path);
    if (body == NULL || url == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    struct tsr_store_outbox_msg o;
    tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_NEG, n->id, url, body, NULL);
    rc = tsr_store_neg_transition(dsp->st, n->id, n->state, tsr_neg_state_name(next), NULL, &o,
                                  d);
    if (rc == 0) {
        tsr_log_info(TSR_LC_DSP, "negotiation %s: %s sent", n->id, tsr_neg_msg_name(msg));
        tsr_dsp__kick(dsp);
    }
out:
    tsr_store_neg_free(n);
    json_decref(offer);
    free(body);
    tsr_free(url);
    return rc;
}

int tsr_dsp_negotiation_accept(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d)
{
    return neg_send(dsp, id, TSR_NEG_CONSUMER, TSR_NEG_MSG_EVENT_ACCEPTED, d);
}

int tsr_dsp_negotiation_counter(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d)
{
    return neg_send(dsp, id, TSR_NEG_CONSUMER, TSR_NEG_MSG_CONTRACT_REQUEST, d);
}

int tsr_dsp_negotiation_offer(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d)
{
    return neg_send(dsp, id, TSR_NEG_PROVIDER, TSR_NEG_MSG_CONTRACT_OFFER, d);
}

int tsr_dsp_negotiation_agree(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d)
{
    struct tsr_store_neg *n = NULL;
    enum tsr_neg_state cur = TSR_NEG_INITIAL, next;
    int rc = tsr_store_neg_get(dsp->st, id, &n, d);

    if (rc != 0)
        return rc;
    tsr_neg_state_parse(n->state, &cur);
    if (strcmp(n->role, TSR_STORE_ROLE_PROVIDER) != 0)
        rc = tsr_diag_set(d, TSR_ESTATE, "negotiation %s is not a provider negotiation", id);
    else
        rc = tsr_neg_check(cur, TSR_NEG_MSG_AGREEMENT, TSR_NEG_PROVIDER, &next, d);
    if (rc == 0)
        rc = tsr_dsp__neg_agree(dsp, n, d);
    tsr_store_neg_free(n);
    return rc;
}

bool tsr_dsp__tp_hold(struct tsr_dsp *dsp, const struct tsr_store_tp *t, const char *decision)
{
    if (dsp->hooks.tp_hold == NULL || t->agreement_id == NULL)
        return false;
    return dsp->hooks.tp_hold(dsp->hooks.arg, t->agreement_id, decision);
}

bool tsr_dsp__neg_hold(struct tsr_dsp *dsp, const struct tsr_store_neg *n)
{
    if (dsp->hooks.neg_hold == NULL || n->asset_id == NULL)
        return false;
    const char *decision = strcmp(n->role, TSR_STORE_ROLE_CONSUMER) == 0 ? "verify"
                           : strcmp(n->state, "REQUESTED") == 0        ? "agree"
                                                                        : "finalize";
    return dsp->hooks.neg_hold(dsp->hooks.arg, n->asset_id, decision);
}

void tsr_dsp_set_hooks(struct tsr_dsp *dsp, const struct tsr_dsp_hooks *h)
{
    if (dsp->hooks.free != NULL)
        dsp->hooks.free(dsp->hooks.arg);
    memset(&dsp->hooks, 0, sizeof(dsp->hooks));
    if (h != NULL)
        dsp->hooks = *h;
}

/* ------------------------------------------------------------ life cycle */

int tsr_dsp_new(struct event_base *base, const struct tsr_dsp_opts *opts, struct tsr_dsp **out,
                struct tsr_diag *d)
{
    struct tsr_dsp *dsp = tsr_calloc(1, sizeof(*dsp));

    if (dsp == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    dsp->base = base;
    dsp->did = tsr_strdup(opts->did);
    dsp->public_url = tsr_strdup(opts->public_url);
    dsp->base_url = tsr_dsp__url(opts->public_url, TSR_DSP_BASE_PATH);
    dsp->callback_url = dsp->base_url ? tsr_dsp__url(dsp->base_url, TSR_DSP_CALLBACK_SEGMENT) : NULL;
    dsp->data_dir = tsr_strdup(opts->data_dir != NULL ? opts->data_dir : ".");
    dsp->trace_dir = opts->trace_dir != NULL ? tsr_strdup(opts->trace_dir) : NULL;
    dsp->st = opts->store;
    dsp->policy = opts->policy;
    dsp->usage = opts->usage;
    dsp->id = opts->identity;
    dsp->client = opts->client;
    dsp->key = opts->key;
    dsp->token_lifetime_ms = opts->token_lifetime_ms != 0 ? opts->token_lifetime_ms : 600000;
    dsp->push_segment = opts->push_segment != 0 ? opts->push_segment : TSR_DSP_PUSH_SEGMENT;
    dsp->outbox_timer = evtimer_new(base, on_outbox_timer, dsp);
    if (dsp->did == NULL || dsp->public_url == NULL || dsp->base_url == NULL ||
        dsp->callback_url == NULL || dsp->data_dir == NULL || dsp->outbox_timer == NULL) {
        tsr_dsp_free(dsp);
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    /* Carry on what a previous run committed but did not finish. */
    tsr_dsp__neg_recover(dsp);
    tsr_dsp__tp_recover(dsp);
    tsr_dsp__monitor_recover(dsp);
    tsr_dsp__kick(dsp);
    *out = dsp;
    return 0;
}

int tsr_dsp_mount(struct tsr_dsp *dsp, struct tsr_http_server *srv, struct tsr_diag *d)
{
    struct route_arg *args;
    char path[256];
    int rc;

    rc = tsr_http_server_route(srv, "GET", "/.well-known/dspace-version", on_version, dsp);
    if (rc != 0)
        return tsr_diag_set(d, rc, "cannot add route");
    args = tsr_calloc(TSR_ARRAY_SIZE(routes), sizeof(*args));
    if (args == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    tsr_free(dsp->route_args);
    dsp->route_args = args;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(routes); i++) {
        args[i].dsp = dsp;
        args[i].route = routes[i].route;
        snprintf(path, sizeof(path), "%s%s", TSR_DSP_BASE_PATH, routes[i].path);
        rc = tsr_http_server_route(srv, routes[i].method, path, on_request, &args[i]);
        if (rc != 0)
            return tsr_diag_set(d, rc, "cannot add route %s", path);
    }
    snprintf(path, sizeof(path), "%s/:pid", TSR_DSP_DATA_PATH);
    rc = tsr_http_server_route(srv, "GET", path, tsr_dsp__data, dsp);
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/:pid", TSR_DSP_PUSH_PATH);
        rc = tsr_http_server_route(srv, "PUT", path, tsr_dsp__push_in, dsp);
    }
    return rc != 0 ? tsr_diag_set(d, rc, "cannot add route %s", path) : 0;
}

void tsr_dsp_free(struct tsr_dsp *dsp)
{
    if (dsp == NULL)
        return;
    dsp->freeing = true;
    while (dsp->flights != NULL) {
        if (dsp->flights->xfer != NULL)
            tsr_client_cancel(dsp->flights->xfer);
        flight_free(dsp->flights);
    }
    while (dsp->ins != NULL) {
        struct tsr_dsp_in *in = dsp->ins;
        if (in->chk != NULL)
            tsr_identity_cancel(in->chk);
        tsr_http_req_on_abort(in->req, NULL, NULL);
        in_unlink(in);
        tsr_free(in);
    }
    while (dsp->ops != NULL) {
        if (dsp->ops->xfer != NULL)
            tsr_client_cancel(dsp->ops->xfer);
        op_free(dsp->ops);
    }
    tsr_dsp__pulls_free(dsp);
    tsr_dsp__monitor_free(dsp);
    tsr_dsp_set_hooks(dsp, NULL);
    if (dsp->outbox_timer != NULL)
        event_free(dsp->outbox_timer);
    tsr_free(dsp->did);
    tsr_free(dsp->public_url);
    tsr_free(dsp->base_url);
    tsr_free(dsp->callback_url);
    tsr_free(dsp->data_dir);
    tsr_free(dsp->trace_dir);
    tsr_free(dsp->route_args);
    tsr_free(dsp);
}
