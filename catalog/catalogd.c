/*
 * catalog/catalogd.c: tessera-catalogd, one federated catalog node.
 *
 * It ingests self-descriptions (POST /credentials or /assets: a VC-JWT or
 * a VP-JWT of several; POST /withdrawals: a signed withdrawal), verifies
 * every credential itself (the issuer's did:web document, resolved and
 * cached; the signature; the validity window; the issuer rule; the 2511
 * shape rules of lib/vc.h), stores what passed (catalog/store.h) and
 * answers queries (GET /query).  What it accepted goes into an event log
 * (GET /events?after=SEQ) that peer nodes pull; entries pulled from peers
 * go through the same verification, so a node relays but never forges,
 * and a peer that lies is simply not believed.
 *
 * A presentation posted by a client is all or nothing: one refused
 * credential refuses the request, with every reason of every credential.
 * Events from peers are taken one by one; a token this node already
 * stored (byte for byte: it was verified then, and storing it again
 * changes nothing) is skipped without a second verification.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <jansson.h>

#include "catalog/conf.h"
#include "catalog/dcat.h"
#include "catalog/harvest.h"
#include "catalog/metrics.h"
#include "catalog/store.h"
#include "catalog/web.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sdnotify.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/vc.h"
#include "transports/client.h"
#include "transports/did_resolve.h"
#include "transports/http.h"
#include "transports/tls.h"

/* Events asked for per pull, and the longest answer of a peer accepted. */
#define PULL_PAGE 200
#define PULL_MAX_BODY ((size_t)64 << 20)
/*
 * Distinct issuers one client request may name: each costs a DID document
 * fetch (up to its timeout), so a presentation of a thousand unreachable
 * issuers would hold a request for hours.  Peers' pages are not limited.
 */
#define MAX_ISSUERS_PER_REQUEST 32
/* The longest a GET /events may wait for news, and how long peers ask to wait. */
#define EVENTS_WAIT_MAX_S 60
#define PULL_WAIT_S 20
/* How soon an unreachable harvest source is tried again. */
#define HARVEST_RETRY_MS 5000
/* Seconds between two merge steps of the full-text index. */
#define MERGE_INTERVAL_S 10
/* The content type of the search pages. */
#define HTML "text/html; charset=utf-8"
/* The largest query answer. */
#define ANSWER_MAX ((size_t)64 << 20)

struct catd;

/* A remote the node pulls on a timer: a peer's event log, or a harvest source. */
struct remote {
    struct catd *cd;
    const char *url;    /* borrowed from the configuration */
    bool harvest;       /* a DCAT-AP harvest source, not a peer */
    struct event *timer;
    struct tsr_client_xfer *xfer;
    bool busy;          /* peers: a page is being fetched or verified */
    int64_t page_last;  /* peers: the highest seq of the page being verified */
};

/* A GET /events?wait=S waiting for the log to grow (long poll). */
struct waiter {
    struct waiter *prev, *next;
    struct catd *cd;
    struct tsr_http_req *req;
    int64_t after;
    size_t limit;
    struct event *timer;
};

struct job;
typedef void (*job_done_fn)(struct job *j);

/* One verification run over a list of tokens (a request's, or a page of a peer's log). */
struct job {
    struct catd *cd;
    struct tsr_http_req *req; /* the client waiting, or NULL */
    struct remote *peer;        /* or the peer whose page this is */
    bool atomic;              /* all or nothing (a client's request) */
    bool withdrawals_only;    /* POST /withdrawals */
    json_t *pending;          /* JWT strings, VPs expand in place */
    size_t next;
    struct tsr_vc *cur;       /* being resolved */
    struct tsr_did_lookup *lookup;
    struct tsr_vc **ok;       /* verified, not yet stored */
    struct tsr_vc_info *infos;
    size_t nok;
    json_t *refused;          /* [{"credential": N, "kid": ..., "reasons": [...]}] */
    json_t *accepted;         /* [{"id", "subject", "outcome"}] */
    json_t *dids;             /* the issuers resolved so far (a set) */
    job_done_fn done;
};

struct catd {
    const char *conf_path;
    struct tsr_catconf conf;
    struct event_base *base;
    struct tsr_tls_ctx *tls;
    struct tsr_http_server *srv;
    struct tsr_client *client;
    struct tsr_did_resolver *resolver;
    struct tsr_cat_store *store;
    struct tsr_vc_keycache *keys; /* issuers' keys, rebuilt only when their JWK changes */
    struct event *merge_ev;       /* folds the full-text index's segments in idle steps */
    struct remote *remotes; /* the peers, then the harvest sources */
    size_t npeers;
    struct waiter *waiters;
    size_t nsources;
    struct event *sig_term, *sig_int;
    const char *const *trusted;
};

/* ------------------------------------------------------------ answers */

static void reply_json(struct tsr_http_req *req, int status, json_t *j)
{
    static const struct tsr_http_header h[] = {{"content-type", "application/json"}};
    char *text = NULL;
    size_t len = 0;

    if (j == NULL || tsr_json_dumps(j, JSON_COMPACT, ANSWER_MAX, &text, &len) != 0) {
        tsr_http_respond_text(req, 500, "application/json",
                              "{\"error\":\"cannot encode the answer\"}");
    } else {
        tsr_http_respond(req, status, h, 1, text, len);
    }
    tsr_free(text);
    json_decref(j);
}

static void reply_error(struct tsr_http_req *req, int rc, const char *msg)
{
    reply_json(req, tsr_err_http_status(rc), json_pack("{s:s}", "error", msg));
}

/* ------------------------------------------------------------ verification jobs */

static void job_step(struct job *j);
static void wake_waiters(struct catd *cd);

static void job_free(struct job *j)
{
    if (j == NULL)
        return;
    tsr_did_resolve_cancel(j->lookup);
    tsr_vc_free(j->cur);
    for (size_t i = 0; i < j->nok; i++)
        tsr_vc_free(j->ok[i]);
    tsr_free(j->ok);
    tsr_free(j->infos);
    json_decref(j->pending);
    json_decref(j->refused);
    json_decref(j->accepted);
    json_decref(j->dids);
    tsr_free(j);
}

static void on_req_abort(struct tsr_http_req *req, void *arg)
{
    struct job *j = arg;

    (void)req;
    j->req = NULL;
}

static void refuse(struct job *j, const struct tsr_vc *vc, json_t *reasons)
{
    json_array_append_new(j->refused,
                          json_pack("{s:I, s:s?, s:o}", "credential", (json_int_t)j->next,
                                    "kid", vc != NULL ? vc->kid : NULL, "reasons", reasons));
}

static void refuse_msg(struct job *j, const struct tsr_vc *vc, const char *msg)
{
    refuse(j, vc, json_pack("[s]", msg));
}

/* The current token is resolved and verified: take it, expand it or refuse it. */
static void take(struct job *j, const json_t *doc)
{
    struct tsr_vc *vc = j->cur;
    struct tsr_diag d = {0};
    json_t *reasons = json_array();
    int64_t now = tsr_time_now_ms() / 1000;

    if (tsr_vc_verify_cached(vc, doc, j->cd->keys, &d) != 0) {
        refuse_msg(j, vc, d.msg[0] != '\0' ? d.msg : "the signature does not verify");
        json_decref(reasons);
        return;
    }
    if (vc->presentation) {
        json_t *jwts = NULL;
        if (j->withdrawals_only || tsr_vc_unwrap(vc, &jwts, &d) != 0) {
            refuse_msg(j, vc, j->withdrawals_only ? "a presentation is not a withdrawal" : d.msg);
        } else {
            /* Insert the credentials right after the presentation, in order. */
            for (size_t i = 0; i < json_array_size(jwts); i++)
                json_array_insert(j->pending, j->next + 1 + i, json_array_get(jwts, i));
        }
        json_decref(jwts);
        json_decref(reasons);
        return;
    }
    if (vc->withdrawal) {
        const char *sub;
        int64_t iat;
        if (tsr_vc_withdrawal_check(vc, now, &sub, &iat, &d) != 0) {
            refuse_msg(j, vc, d.msg);
            json_decref(reasons);
            return;
        }
    } else if (j->withdrawals_only) {
        refuse_msg(j, vc, "not a withdrawal (typ withdrawal+jwt)");
        json_decref(reasons);
        return;
    } else if (tsr_vc_check(vc, now, j->cd->trusted, reasons, &j->infos[j->nok]) != 0) {
        refuse(j, vc, reasons);
        return;
    }
    json_decref(reasons);
    j->ok[j->nok++] = vc;
    j->cur = NULL;
}

static void on_resolved(void *arg, int rc, const json_t *doc, const struct tsr_diag *diag)
{
    struct job *j = arg;
    char msg[TSR_DIAG_MAX + 64];

    j->lookup = NULL;
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "cannot resolve %s: %s", j->cur->did, tsr_diag_msg(diag));
        refuse_msg(j, j->cur, msg);
    } else {
        take(j, doc);
    }
    tsr_vc_free(j->cur);
    j->cur = NULL;
    j->next++;
    job_step(j);
}

static bool grow(struct job *j)
{
    size_t n = json_array_size(j->pending) + 1;
    struct tsr_vc **ok = tsr_realloc(j->ok, n * sizeof(struct tsr_vc *));

    if (ok == NULL)
        return false;
    j->ok = ok;
    struct tsr_vc_info *in = tsr_realloc(j->infos, n * sizeof(*in));
    if (in == NULL)
        return false;
    j->infos = in;
    return true;
}

/* Store what was verified: all of it, or (atomic with a refusal) nothing. */
static void job_store(struct job *j)
{
    struct catd *cd = j->cd;
    struct tsr_diag d = {0};
    static const char *const outcomes[] = {"", "added", "duplicate", "stale", "withdrawn"};
    int64_t now_ms = tsr_time_now_ms();
    int rc;

    if (j->atomic && json_array_size(j->refused) > 0)
        return;
    rc = tsr_cat_store_begin(cd->store, &d);
    for (size_t i = 0; rc == 0 && i < j->nok; i++) {
        struct tsr_vc *vc = j->ok[i];
        if (vc->withdrawal) {
            const char *sub = NULL;
            int64_t iat = 0;
            size_t n = 0;
            bool known = false;
            tsr_vc_withdrawal_check(vc, now_ms / 1000, &sub, &iat, NULL);
            rc = tsr_cat_store_withdraw(cd->store, vc->jwt, vc->did, sub, iat, now_ms, &n,
                                        &known, &d);
            if (rc == 0 && !known)
                tsr_log_info(TSR_LC_CATALOG, "withdrawal by %s of %s: %zu entries", vc->did,
                             sub, n);
            json_array_append_new(j->accepted, json_pack("{s:s, s:s, s:I}", "withdrawn", sub,
                                                         "outcome", known ? "duplicate" : "added",
                                                         "entries", (json_int_t)n));
            continue;
        }
        enum tsr_cat_outcome oc = TSR_CAT_DUPLICATE;
        rc = tsr_cat_store_add(cd->store, vc->jwt, &j->infos[i], now_ms, true, &oc, &d);
        if (rc == 0 && oc == TSR_CAT_ADDED)
            tsr_log_info(TSR_LC_CATALOG, "%s %s of %s accepted%s%s", j->infos[i].cls_name,
                         j->infos[i].subject, vc->did, j->peer != NULL ? " from peer " : "",
                         j->peer != NULL ? j->peer->url : "");
        json_array_append_new(j->accepted, json_pack("{s:s?, s:s?, s:s}", "id", j->infos[i].id,
                                                     "subject", j->infos[i].subject, "outcome",
                                                     outcomes[oc]));
    }
    if (rc == 0)
        rc = tsr_cat_store_commit(cd->store, &d);
    if (rc == 0 && j->nok > 0)
        wake_waiters(cd);
    if (rc != 0) {
        tsr_cat_store_rollback(cd->store);
        tsr_log_error(TSR_LC_CATALOG, "cannot store credentials: %s", tsr_diag_msg(&d));
        json_array_clear(j->accepted);
        refuse_msg(j, NULL, "the catalog could not store the credentials");
    }
}

static void job_step(struct job *j)
{
    struct tsr_diag d = {0};

    while (j->next < json_array_size(j->pending)) {
        const char *jwt = json_string_value(json_array_get(j->pending, j->next));
        if (jwt == NULL || tsr_vc_decode(jwt, &j->cur, &d) != 0) {
            refuse_msg(j, NULL, jwt == NULL ? "not a string" : d.msg);
            j->next++;
            continue;
        }
        /* Relayed again (a ring, several paths): verified when it was stored. */
        bool known = false;
        if (j->peer != NULL && tsr_cat_store_known(j->cd->store, jwt, &known, NULL) == 0 &&
            known) {
            tsr_vc_free(j->cur);
            j->cur = NULL;
            j->next++;
            continue;
        }
        if (!grow(j)) {
            refuse_msg(j, NULL, "out of memory");
            break;
        }
        if (j->atomic && json_object_get(j->dids, j->cur->did) == NULL &&
            json_object_size(j->dids) >= MAX_ISSUERS_PER_REQUEST) {
            refuse_msg(j, j->cur, "too many issuers in one request (at most 32)");
            tsr_vc_free(j->cur);
            j->cur = NULL;
            j->next++;
            continue;
        }
        json_object_set_new(j->dids, j->cur->did, json_true());
        if (tsr_did_resolve(j->cd->resolver, j->cur->did, on_resolved, j, &j->lookup, &d) == 0)
            return; /* on_resolved goes on */
        refuse_msg(j, j->cur, d.msg);
        tsr_vc_free(j->cur);
        j->cur = NULL;
        j->next++;
    }
    job_store(j);
    j->done(j);
}

static struct job *job_new(struct catd *cd, job_done_fn done)
{
    struct job *j = tsr_calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->cd = cd;
    j->done = done;
    j->pending = json_array();
    j->refused = json_array();
    j->accepted = json_array();
    j->dids = json_object();
    if (j->pending == NULL || j->refused == NULL || j->accepted == NULL || j->dids == NULL) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------ ingest routes */

static void on_request_job_done(struct job *j)
{
    if (j->req != NULL) {
        if (json_array_size(j->refused) > 0)
            reply_json(j->req, 422,
                       json_pack("{s:s, s:O, s:[]}", "error",
                                 "refused: nothing was stored (every reason is listed)",
                                 "refused", j->refused, "accepted"));
        else
            reply_json(j->req, 201, json_pack("{s:O}", "accepted", j->accepted));
    }
    job_free(j);
}

/* The body: a compact JWT, as is or as a JSON string (some clients quote it). */
static char *body_token(struct tsr_http_req *req)
{
    const struct tsr_buf *b = tsr_http_req_body(req);
    const char *s = tsr_buf_str(b);
    size_t n = b->len;

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    while (n > 0 && (*s == ' ' || *s == '\n')) {
        s++;
        n--;
    }
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    return tsr_strndup(s, n);
}

static void ingest(struct catd *cd, struct tsr_http_req *req, bool withdrawals)
{
    struct job *j = job_new(cd, on_request_job_done);
    char *tok = body_token(req);

    if (j == NULL || tok == NULL || json_array_append_new(j->pending, json_string(tok)) != 0) {
        reply_error(req, TSR_ENOMEM, "out of memory");
        job_free(j);
        tsr_free(tok);
        return;
    }
    tsr_free(tok);
    j->req = req;
    j->atomic = true;
    j->withdrawals_only = withdrawals;
    tsr_http_req_on_abort(req, on_req_abort, j);
    job_step(j);
}

static void h_credentials(struct tsr_http_req *req, void *arg)
{
    ingest(arg, req, false);
}

static void h_withdrawals(struct tsr_http_req *req, void *arg)
{
    ingest(arg, req, true);
}

/* ------------------------------------------------------------ query, events */

/* The query parameters (GET) or members (POST) of a query, in this order. */
static const char *const query_names[] = {"q",     "type",  "participant", "keyword",
                                          "mediaType", "limit", "cursor"};
#define NQ TSR_ARRAY_SIZE(query_names)
/* The most branches of a POST /query "or". */
#define OR_MAX 8

/* Fill q from the values v (borrowed; NULL: absent).  Returns 0 or TSR_EINVAL. */
static int make_query(struct tsr_cat_query *q, char *const *v, struct tsr_diag *d)
{
    long long limit = 0;

    memset(q, 0, sizeof(*q));
    q->now = tsr_time_now_ms() / 1000;
    q->text = v[0];
    q->cls = v[1];
    /* "gx:ServiceOffering" or "ServiceOffering" */
    if (q->cls != NULL && strncmp(q->cls, "gx:", 3) == 0)
        q->cls += 3;
    q->participant = v[2];
    q->keyword = v[3];
    q->media_type = v[4];
    if (v[5] != NULL && v[5][0] != '\0' && tsr_parse_ll(v[5], 1, TSR_CAT_QUERY_MAX, &limit) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "limit: 1..%d", TSR_CAT_QUERY_MAX);
    q->limit = (size_t)limit;
    /* The cursor is the number of results already seen (opaque to clients). */
    long long skip = 0;
    if (v[6] != NULL && v[6][0] != '\0' && tsr_parse_ll(v[6], 0, TSR_CAT_OFFSET_MAX, &skip) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "cursor: not one this catalog gave out");
    q->offset = (size_t)skip;
    return 0;
}

static void get_params(struct tsr_http_req *req, char **v)
{
    for (size_t i = 0; i < NQ; i++)
        v[i] = tsr_http_req_query_param(req, query_names[i]);
}

static void free_params(char **v)
{
    for (size_t i = 0; i < NQ; i++)
        tsr_free(v[i]);
}

/*
 * Answer a page of results (items, stolen) that skipped offset; a full
 * page gets the cursor of the next one when that one may skip up to
 * max_skip results.
 */
static void reply_items(struct tsr_http_req *req, json_t *items, size_t offset, size_t limit,
                        size_t max_skip, int64_t t0)
{
    json_t *ans = json_pack("{s:I, s:I, s:o}", "count", (json_int_t)json_array_size(items),
                            "took_ms", (json_int_t)(tsr_time_mono_ms() - t0), "items", items);

    if (ans != NULL && json_array_size(items) == limit && offset + limit <= max_skip) {
        char next[32];
        snprintf(next, sizeof(next), "%zu", offset + limit);
        json_object_set_new(ans, "next_cursor", json_string(next));
    }
    reply_json(req, 200, ans);
}

static void answer_query(struct catd *cd, struct tsr_http_req *req, char *const *v)
{
    struct tsr_cat_query q;
    struct tsr_diag d = {0};
    json_t *items = NULL;
    int64_t t0 = tsr_time_mono_ms();
    int rc = make_query(&q, v, &d);

    if (rc == 0)
        rc = tsr_cat_store_query(cd->store, &q, &items, &d);
    if (rc != 0) {
        reply_error(req, rc, tsr_diag_msg(&d));
        return;
    }
    reply_items(req, items, q.offset, q.limit == 0 ? TSR_CAT_QUERY_DEFAULT : q.limit,
                TSR_CAT_OFFSET_MAX, t0);
}

/*
 * POST /query with "or": each branch (the top's conditions and the
 * branch's) is queried for the first cursor + limit results, and the
 * branches' lists are interleaved (the first result of each, then the
 * second of each...), each in its own order, without repeats.  top holds
 * the top's values (conditions, limit, cursor), br[b] each branch's.
 */
static void answer_or(struct catd *cd, struct tsr_http_req *req, char *const *top,
                      char *const (*br)[NQ], size_t nb)
{
    struct tsr_cat_query q;
    struct tsr_diag d = {0};
    json_t *lists[OR_MAX] = {0}, *all = json_array(), *seen = json_object(), *page = NULL;
    int64_t t0 = tsr_time_mono_ms();
    size_t limit, want;
    int rc = make_query(&q, top, &d);

    limit = q.limit == 0 ? TSR_CAT_QUERY_DEFAULT : q.limit;
    want = q.offset + limit;
    if (rc == 0 && want > TSR_CAT_QUERY_MAX)
        rc = tsr_diag_set(&d, TSR_EINVAL, "with \"or\", cursor + limit is at most %d",
                          TSR_CAT_QUERY_MAX);
    if (rc == 0 && (all == NULL || seen == NULL))
        rc = tsr_diag_set(&d, TSR_ENOMEM, "out of memory");
    for (size_t b = 0; rc == 0 && b < nb; b++) {
        char *v[NQ] = {0};
        struct tsr_cat_query bq;
        /* The conditions only: the branch's page is the first `want` results. */
        for (size_t i = 0; i < NQ - 2; i++)
            v[i] = top[i] != NULL ? top[i] : br[b][i];
        rc = make_query(&bq, v, &d);
        bq.limit = want;
        if (rc == 0)
            rc = tsr_cat_store_query(cd->store, &bq, &lists[b], &d);
    }
    for (size_t pos = 0; rc == 0 && json_array_size(all) < want; pos++) {
        bool more = false;
        for (size_t b = 0; b < nb && json_array_size(all) < want; b++) {
            json_t *it = json_array_get(lists[b], pos);
            const char *id = json_string_value(json_object_get(it, "id"));
            if (it == NULL)
                continue;
            more = true;
            if (id != NULL && json_object_get(seen, id) != NULL)
                continue;
            if ((id != NULL && json_object_set_new(seen, id, json_true()) != 0) ||
                json_array_append(all, it) != 0)
                rc = tsr_diag_set(&d, TSR_ENOMEM, "out of memory");
        }
        if (!more)
            break;
    }
    if (rc == 0) {
        page = json_array();
        for (size_t i = q.offset; page != NULL && i < json_array_size(all); i++)
            json_array_append(page, json_array_get(all, i));
    }
    if (rc != 0 || page == NULL)
        reply_error(req, rc != 0 ? rc : TSR_ENOMEM, rc != 0 ? tsr_diag_msg(&d) : "out of memory");
    else
        reply_items(req, page, q.offset, limit, TSR_CAT_QUERY_MAX - limit, t0);
    for (size_t b = 0; b < nb; b++)
        json_decref(lists[b]);
    json_decref(all);
    json_decref(seen);
}

static void h_query(struct tsr_http_req *req, void *arg)
{
    char *v[NQ] = {0};

    get_params(req, v);
    answer_query(arg, req, v);
    free_params(v);
}

/*
 * The members of a POST /query object as values v (borrowed from obj; a
 * numeric limit written into num).  A branch (an element of "or") holds
 * conditions only, none of them also given at the top; the top may hold
 * "or" (*or gets it).  Returns 0 or TSR_EINVAL.
 */
static int query_members(json_t *obj, char **v, char *num, size_t numsize, char *const *top,
                         json_t **or, struct tsr_diag *d)
{
    const char *key;
    json_t *val;

    if (!json_is_object(obj))
        return tsr_diag_set(d, TSR_EINVAL, "a query (or an element of \"or\") is an object");
    json_object_foreach(obj, key, val) {
        size_t i;
        if (top == NULL && strcmp(key, "or") == 0) {
            if (!json_is_array(val) || json_array_size(val) == 0 ||
                json_array_size(val) > OR_MAX)
                return tsr_diag_set(d, TSR_EINVAL, "or: an array of 1 to %d objects", OR_MAX);
            *or = val;
            continue;
        }
        for (i = 0; i < NQ && strcmp(query_names[i], key) != 0; i++)
            ;
        bool number_ok = strcmp(key, "limit") == 0 && json_is_integer(val);
        if (i == NQ || !(json_is_string(val) || number_ok))
            return tsr_diag_set(d, TSR_EINVAL, "member %.60s: unknown, or not a string", key);
        if (top != NULL && (i >= NQ - 2 || top[i] != NULL))
            return tsr_diag_set(d, TSR_EINVAL, "or: member %.60s %s", key,
                                i >= NQ - 2 ? "belongs at the top" : "is given at the top too");
        if (json_is_integer(val)) {
            snprintf(num, numsize, "%lld", (long long)json_integer_value(val));
            v[i] = num;
        } else {
            v[i] = (char *)json_string_value(val);
        }
    }
    return 0;
}

/*
 * POST /query: the same conditions as members of a JSON object, all of
 * which must hold, and optionally "or": objects of further conditions, one
 * of which must hold as well.
 */
static void h_query_post(struct tsr_http_req *req, void *arg)
{
    const struct tsr_buf *b = tsr_http_req_body(req);
    char *v[NQ] = {0};
    char *br[OR_MAX][NQ] = {{0}};
    char num[32];
    struct tsr_diag d = {0};
    json_t *body = NULL, *or = NULL;
    int rc;

    rc = tsr_json_parse(tsr_buf_str(b), b->len, NULL, &body, &d);
    if (rc == 0)
        rc = query_members(body, v, num, sizeof(num), NULL, &or, &d);
    for (size_t i = 0; rc == 0 && i < json_array_size(or); i++)
        rc = query_members(json_array_get(or, i), br[i], num, sizeof(num), v, NULL, &d);
    if (rc != 0)
        reply_error(req, TSR_EINVAL, tsr_diag_msg(&d));
    else if (or != NULL)
        answer_or(arg, req, v, br, json_array_size(or));
    else
        answer_query(arg, req, v);
    json_decref(body);
}

/*
 * Answer a page built into out (built is the builder's result) with status
 * and content type ctype, or the error rc/d when the build or an earlier
 * step (rc) failed.  out is cleaned up.
 */
static void reply_built(struct tsr_http_req *req, int status, const char *ctype, int rc,
                        int built, struct tsr_buf *out, const struct tsr_diag *d)
{
    const struct tsr_http_header h[] = {{"content-type", ctype}};

    if (rc == 0 && built == 0)
        tsr_http_respond(req, status, h, 1, out->data, out->len);
    else
        reply_error(req, rc != 0 ? rc : built,
                    rc != 0 ? tsr_diag_msg(d) : "cannot build the page");
    tsr_buf_cleanup(out);
}

/* The HTML search page; the results of its form's query when one was asked. */
static void h_page(struct tsr_http_req *req, void *arg)
{
    struct catd *cd = arg;
    char *v[NQ] = {0};
    struct tsr_cat_query q;
    struct tsr_diag d = {0};
    struct tsr_buf out;
    json_t *items = NULL;
    int rc;

    get_params(req, v);
    rc = make_query(&q, v, &d);
    if (rc == 0 && tsr_http_req_query(req) != NULL) {
        if (q.cls != NULL && q.cls[0] == '\0')
            q.cls = NULL;
        rc = tsr_cat_store_query(cd->store, &q, &items, &d);
    }
    tsr_buf_init(&out, ANSWER_MAX);
    /* A bad query still gets the page, with the reason shown above the form. */
    int built = tsr_cat_web_search(&q, items, rc != 0 ? tsr_diag_msg(&d) : NULL, &out);
    reply_built(req, rc != 0 ? 400 : 200, HTML, 0, built, &out, &d);
    json_decref(items);
    free_params(v);
}

static void h_entry(struct tsr_http_req *req, void *arg)
{
    struct catd *cd = arg;
    char *id = tsr_http_req_query_param(req, "id");
    struct tsr_diag d = {0};
    struct tsr_buf out;
    json_t *e = NULL;
    int rc = id != NULL ? tsr_cat_store_get(cd->store, id, &e, &d)
                        : tsr_diag_set(&d, TSR_EINVAL, "?id= is required");

    tsr_buf_init(&out, ANSWER_MAX);
    reply_built(req, 200, HTML, rc, rc == 0 ? tsr_cat_web_entry(e, &out) : 0, &out, &d);
    json_decref(e);
    tsr_free(id);
}

/* GET /dcat: the offers (those the query parameters select) as DCAT-AP RDF/XML. */
static void h_dcat(struct tsr_http_req *req, void *arg)
{
    struct catd *cd = arg;
    char *v[NQ] = {0};
    char about[600];
    const char *host = tsr_http_req_header(req, "host");
    struct tsr_cat_query q;
    struct tsr_diag d = {0};
    struct tsr_buf out;
    json_t *items = NULL;
    int rc;

    get_params(req, v);
    rc = make_query(&q, v, &d);
    q.cls = "ServiceOffering";
    if (q.limit == 0)
        q.limit = TSR_CAT_QUERY_MAX;
    if (rc == 0)
        rc = tsr_cat_store_query(cd->store, &q, &items, &d);
    snprintf(about, sizeof(about), "%s://%.500s/dcat", tsr_http_req_tls(req) ? "https" : "http",
             host != NULL ? host : "localhost");
    struct tsr_cat_dcat_meta meta = {about, "tessera federated catalog",
                                     "Data offers of the participants of a data space, verified "
                                     "from their Gaia-X self-descriptions.",
                                     "tessera-catalogd"};
    tsr_buf_init(&out, ANSWER_MAX);
    if (rc == 0)
        rc = tsr_cat_dcat_write(&meta, items, &out, &d);
    reply_built(req, 200, "application/rdf+xml", rc, 0, &out, &d);
    json_decref(items);
    free_params(v);
}

/*
 * Answer the events after `after`; with hold true and none yet, answer
 * nothing and return 1 (the caller waits).  Otherwise 0 (answered).
 */
static int answer_events(struct catd *cd, struct tsr_http_req *req, int64_t after, size_t limit,
                         bool hold)
{
    struct tsr_diag d = {0};
    json_t *ev = NULL;
    int64_t last = 0;
    int rc = tsr_cat_store_events(cd->store, after, limit, &ev, &last, &d);

    if (rc != 0) {
        reply_error(req, rc, tsr_diag_msg(&d));
        return 0;
    }
    if (hold && json_array_size(ev) == 0) {
        json_decref(ev);
        return 1;
    }
    reply_json(req, 200, json_pack("{s:o, s:I}", "events", ev, "last", (json_int_t)last));
    return 0;
}

static void waiter_free(struct waiter *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        w->cd->waiters = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    if (w->timer != NULL)
        event_free(w->timer);
    tsr_free(w);
}

static void on_waiter_abort(struct tsr_http_req *req, void *arg)
{
    (void)req;
    waiter_free(arg);
}

static void on_waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;

    (void)fd;
    (void)what;
    tsr_http_req_on_abort(w->req, NULL, NULL);
    answer_events(w->cd, w->req, w->after, w->limit, false);
    waiter_free(w);
}

/* The log grew: answer every long poll. */
static void wake_waiters(struct catd *cd)
{
    while (cd->waiters != NULL) {
        struct waiter *w = cd->waiters;
        tsr_http_req_on_abort(w->req, NULL, NULL);
        answer_events(cd, w->req, w->after, w->limit, false);
        waiter_free(w);
    }
}

static void h_events(struct tsr_http_req *req, void *arg)
{
    struct catd *cd = arg;
    char *after_s = tsr_http_req_query_param(req, "after");
    char *limit_s = tsr_http_req_query_param(req, "limit");
    char *wait_s = tsr_http_req_query_param(req, "wait");
    long long after = 0, limit = PULL_PAGE, wait = 0;
    struct waiter *w = NULL;

    if ((after_s != NULL && tsr_parse_ll(after_s, 0, INT64_MAX, &after) != 0) ||
        (limit_s != NULL && tsr_parse_ll(limit_s, 1, TSR_CAT_EVENTS_MAX, &limit) != 0) ||
        (wait_s != NULL && tsr_parse_ll(wait_s, 0, EVENTS_WAIT_MAX_S, &wait) != 0)) {
        reply_error(req, TSR_EINVAL, "after: a sequence number; limit: 1..1000; wait: 0..60 s");
        goto out;
    }
    if (answer_events(cd, req, after, (size_t)limit, wait > 0) == 0)
        goto out;
    w = tsr_calloc(1, sizeof(*w));
    if (w != NULL)
        w->timer = evtimer_new(cd->base, on_waiter_timeout, w);
    if (w == NULL || w->timer == NULL) {
        tsr_free(w);
        answer_events(cd, req, after, (size_t)limit, false);
        goto out;
    }
    w->cd = cd;
    w->req = req;
    w->after = after;
    w->limit = (size_t)limit;
    w->next = cd->waiters;
    if (cd->waiters != NULL)
        cd->waiters->prev = w;
    cd->waiters = w;
    tsr_http_req_on_abort(req, on_waiter_abort, w);
    struct timeval tv = {(time_t)wait, 0};
    evtimer_add(w->timer, &tv);
out:
    tsr_free(after_s);
    tsr_free(limit_s);
    tsr_free(wait_s);
}

static void h_health(struct tsr_http_req *req, void *arg)
{
    struct catd *cd = arg;
    json_t *st = NULL;

    if (tsr_cat_store_stats(cd->store, &st, NULL) != 0)
        st = json_object();
    json_object_set_new(st, "status", json_string("ok"));
    reply_json(req, 200, st);
}

/* ------------------------------------------------------------ federation */

static void remote_schedule(struct remote *r, uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

    evtimer_add(r->timer, &tv);
}

static void on_peer_job_done(struct job *j)
{
    struct remote *p = j->peer;
    struct tsr_diag d = {0};

    for (size_t i = 0; i < json_array_size(j->refused); i++) {
        json_t *r = json_array_get(j->refused, i);
        char *text = json_dumps(json_object_get(r, "reasons"), JSON_COMPACT);
        tsr_log_warn(TSR_LC_CATALOG, "peer %s: entry refused: %s", p->url,
                     text != NULL ? text : "?");
        free(text);
    }
    if (tsr_cat_store_peer_set(p->cd->store, p->url, p->page_last, &d) != 0)
        tsr_log_error(TSR_LC_CATALOG, "peer %s: %s", p->url, tsr_diag_msg(&d));
    p->busy = false;
    job_free(j);
    remote_schedule(p, 0);
}

static void on_peer_page(void *arg, struct tsr_client_resp *resp)
{
    struct remote *p = arg;
    struct catd *cd = p->cd;
    json_t *page = NULL, *ev, *e;
    struct job *j = NULL;
    int64_t after = 0;
    size_t i;

    p->xfer = NULL;
    if (resp->rc != 0 || resp->status != 200 ||
        tsr_json_parse(resp->body.data != NULL ? resp->body.data : "", resp->body.len, NULL,
                       &page, NULL) != 0) {
        tsr_log_debug(TSR_LC_CATALOG, "peer %s: no events (%s, HTTP %d)", p->url,
                      resp->rc != 0 ? tsr_diag_msg(&resp->diag) : "ok", resp->status);
        goto idle;
    }
    ev = json_object_get(page, "events");
    tsr_cat_store_peer_get(cd->store, p->url, &after, NULL);
    if (json_array_size(ev) == 0)
        goto idle;
    j = job_new(cd, on_peer_job_done);
    if (j == NULL)
        goto idle;
    j->peer = p;
    p->page_last = after;
    json_array_foreach(ev, i, e) {
        const char *kind = json_string_value(json_object_get(e, "kind"));
        const char *jwt = json_string_value(json_object_get(e, "jwt"));
        json_int_t seq = json_integer_value(json_object_get(e, "seq"));
        if (seq > p->page_last)
            p->page_last = seq;
        /* superseded is derived by each node itself from what it accepts */
        if (kind != NULL && jwt != NULL &&
            (strcmp(kind, "published") == 0 || strcmp(kind, "withdrawn") == 0))
            json_array_append_new(j->pending, json_string(jwt));
    }
    json_decref(page);
    job_step(j);
    return;
idle:
    json_decref(page);
    p->busy = false;
    remote_schedule(p, cd->conf.pull_interval);
}

static void on_peer_timer(evutil_socket_t fd, short what, void *arg)
{
    struct remote *p = arg;
    char url[4200];
    int64_t after = 0;
    struct tsr_diag d = {0};

    (void)fd;
    (void)what;
    if (p->busy)
        return;
    tsr_cat_store_peer_get(p->cd->store, p->url, &after, NULL);
    size_t n = strlen(p->url);
    while (n > 0 && p->url[n - 1] == '/')
        n--;
    snprintf(url, sizeof(url), "%.*s/events?after=%lld&limit=%d&wait=%d", (int)n, p->url,
             (long long)after, PULL_PAGE, PULL_WAIT_S);
    struct tsr_client_req req = {.method = "GET", .url = url, .max_body = PULL_MAX_BODY,
                                 .timeout_ms = (PULL_WAIT_S + 30) * 1000L};
    if (tsr_client_request(p->cd->client, &req, on_peer_page, p, &p->xfer, &d) != 0) {
        tsr_log_warn(TSR_LC_CATALOG, "peer %s: %s", p->url, tsr_diag_msg(&d));
        remote_schedule(p, p->cd->conf.pull_interval);
        return;
    }
    p->busy = true;
}

/* ------------------------------------------------------------ harvest */

static void on_harvested(void *arg, struct tsr_client_resp *resp)
{
    struct remote *s = arg;
    struct tsr_diag d = {0};
    json_t *list = NULL;
    size_t n = 0;
    uint64_t next = s->cd->conf.harvest_interval;

    s->xfer = NULL;
    if (resp->rc != 0 || resp->status != 200) {
        /* Unreachable: try again soon rather than after a whole interval. */
        next = TSR_MIN(next, (uint64_t)HARVEST_RETRY_MS);
        tsr_log_warn(TSR_LC_CATALOG, "harvest %s: %s (HTTP %d)", s->url,
                     resp->rc != 0 ? tsr_diag_msg(&resp->diag) : "refused", resp->status);
    } else if (tsr_cat_harvest_parse(resp->body.data != NULL ? resp->body.data : "",
                                     resp->body.len, s->url, &list, &d) != 0 ||
               tsr_cat_harvest_store(s->cd->store, s->url, list, tsr_time_now_ms(), &n,
                                     &d) != 0) {
        tsr_log_warn(TSR_LC_CATALOG, "harvest %s: %s", s->url, tsr_diag_msg(&d));
    } else {
        tsr_log_info(TSR_LC_CATALOG, "harvest %s: %zu datasets (unsigned)", s->url, n);
    }
    json_decref(list);
    remote_schedule(s, next);
}

static void on_source_timer(evutil_socket_t fd, short what, void *arg)
{
    struct remote *s = arg;
    struct tsr_diag d = {0};
    static const char *const accept[] = {"Accept: application/rdf+xml", NULL};
    struct tsr_client_req req = {.method = "GET", .url = s->url, .headers = accept,
                                 .flags = TSR_CLIENT_FOLLOW_REDIRECTS,
                                 .max_body = TSR_HARVEST_MAX_BYTES};

    (void)fd;
    (void)what;
    if (tsr_client_request(s->cd->client, &req, on_harvested, s, &s->xfer, &d) != 0) {
        tsr_log_warn(TSR_LC_CATALOG, "harvest %s: %s", s->url, tsr_diag_msg(&d));
        remote_schedule(s, s->cd->conf.harvest_interval);
    }
}

/* ------------------------------------------------------------ main */

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct catd *cd = arg;

    (void)sig;
    (void)what;
    tsr_log_info(TSR_LC_MAIN, "stopping");
    tsr_sd_notify("STOPPING=1");
    event_base_loopexit(cd->base, NULL);
}

/* A bounded merge of the full-text index now and then keeps queries on few segments. */
static void on_merge(evutil_socket_t fd, short what, void *arg)
{
    struct catd *cd = arg;
    struct tsr_diag d = {0};

    (void)fd;
    (void)what;
    if (tsr_cat_store_merge_step(cd->store, &d) != 0)
        tsr_log_warn(TSR_LC_CATALOG, "index merge: %s", tsr_diag_msg(&d));
}

static int start(struct catd *cd, struct tsr_diag *d)
{
    char path[4200];
    struct tsr_http_limits lim;
    int rc;

    if (mkdir(cd->conf.state_dir, 0700) != 0 && errno != EEXIST)
        return tsr_diag_set(d, TSR_EIO, "cannot create %s: %s", cd->conf.state_dir,
                            strerror(errno));
    snprintf(path, sizeof(path), "%s/catalog.db", cd->conf.state_dir);
    rc = tsr_cat_store_open(path, &cd->store, d);
    if (rc != 0)
        return rc;
    if (tsr_vc_keycache_new(0, &cd->keys) != 0)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    cd->merge_ev = event_new(cd->base, -1, EV_PERSIST, on_merge, cd);
    if (cd->merge_ev == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    struct timeval mtv = {MERGE_INTERVAL_S, 0};
    event_add(cd->merge_ev, &mtv);
    struct tsr_client_opts co = {
        .ca_file = cd->conf.ca_file != NULL && cd->conf.ca_file[0] != '\0' ? cd->conf.ca_file
                                                                           : NULL,
        .max_body = PULL_MAX_BODY,
    };
    rc = tsr_client_new(&cd->client, cd->base, &co, d);
    if (rc == 0)
        rc = tsr_did_resolver_new(&cd->resolver, cd->client, NULL, d);
    if (rc != 0)
        return rc;
    if (cd->conf.tls) {
        struct tsr_tls_opts o = {.cert_file = cd->conf.tls_cert, .key_file = cd->conf.tls_key,
                                 .allow_h2 = true};
        rc = tsr_tls_ctx_new(&o, &cd->tls, d);
        if (rc != 0)
            return rc;
    }
    tsr_http_limits_default(&lim);
    lim.max_body_bytes = (size_t)cd->conf.max_body_size;
    rc = tsr_http_server_new(cd->base, &lim, cd->tls, &cd->srv);
    if (rc != 0)
        return tsr_diag_set(d, rc, "out of memory");
    tsr_http_server_route(cd->srv, "GET", "/health", h_health, cd);
    tsr_http_server_route(cd->srv, "POST", "/credentials", h_credentials, cd);
    tsr_http_server_route(cd->srv, "POST", "/assets", h_credentials, cd);
    tsr_http_server_route(cd->srv, "POST", "/withdrawals", h_withdrawals, cd);
    tsr_http_server_route(cd->srv, "GET", "/query", h_query, cd);
    tsr_http_server_route(cd->srv, "POST", "/query", h_query_post, cd);
    tsr_http_server_route(cd->srv, "GET", "/dcat", h_dcat, cd);
    tsr_http_server_route(cd->srv, "GET", "/entry", h_entry, cd);
    tsr_http_server_route(cd->srv, "GET", "/", h_page, cd);
    tsr_http_server_route(cd->srv, "GET", "/events", h_events, cd);
    rc = tsr_catalog_metrics_mount(cd->srv, cd->store, d);
    if (rc != 0)
        return rc;
    rc = tsr_http_server_listen(cd->srv, cd->conf.listen, (uint16_t)cd->conf.port, d);
    if (rc != 0)
        return rc;
    cd->trusted = (const char *const *)cd->conf.trusted_issuers.items;
    cd->npeers = cd->conf.peers.n;
    cd->nsources = cd->conf.harvest_sources.n;
    cd->remotes = tsr_calloc(cd->npeers + cd->nsources + 1, sizeof(*cd->remotes));
    if (cd->remotes == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    for (size_t i = 0; i < cd->npeers + cd->nsources; i++) {
        struct remote *r = &cd->remotes[i];
        r->cd = cd;
        r->harvest = i >= cd->npeers;
        r->url = r->harvest ? cd->conf.harvest_sources.items[i - cd->npeers]
                            : cd->conf.peers.items[i];
        r->timer = evtimer_new(cd->base, r->harvest ? on_source_timer : on_peer_timer, r);
        if (r->timer == NULL)
            return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        remote_schedule(r, 0);
    }
    return 0;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: tessera-catalogd -c FILE [-n] [-f] [-d COMPONENTS]\n"
                "       tessera-catalogd --help-config | --version | --help\n"
                "\n"
                "  -c, --config FILE   the node's catalog.conf\n"
                "  -n, --check         check the configuration, print \"configuration OK\", exit\n"
                "  -f, --foreground    run in the foreground (the daemon never forks)\n"
                "  -d, --debug LIST    debug output for components (\"catalog,did\")\n"
                "      --help-config   list every configuration key with its default\n"
                "  -V, --version       print the version\n"
                "  -h, --help          this help\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'n'},
        {"foreground", no_argument, NULL, 'f'},   {"debug", required_argument, NULL, 'd'},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
        {"help-config", no_argument, NULL, 'K'},  {NULL, 0, NULL, 0},
    };
    struct catd cd = {0};
    struct tsr_diag d = {0};
    const char *debug = NULL;
    bool check_only = false;
    int ch, status = 1;

    tsr_log_set_ident("tessera-catalogd");
    while ((ch = getopt_long(argc, argv, "c:nfd:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': cd.conf_path = optarg; break;
        case 'n': check_only = true; break;
        case 'f': break;
        case 'd':
            if (tsr_log_set_debug(optarg) != 0) {
                fprintf(stderr, "tessera-catalogd: unknown debug component in \"%s\"\n", optarg);
                return 2;
            }
            debug = optarg;
            break;
        case 'V': printf("tessera-catalogd %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        case 'K': tsr_cfg_print_keys(tsr_catconf_keys, tsr_catconf_nkeys, stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || cd.conf_path == NULL) {
        usage(stderr);
        return 2;
    }
    if (tsr_catconf_load(cd.conf_path, &cd.conf, &d) != 0) {
        fprintf(stderr, "tessera-catalogd: %s\n", tsr_diag_msg(&d));
        return 1;
    }
    tsr_log_setup(TSR_LOG_FMT_AUTO, (enum tsr_log_level)cd.conf.log_level);
    tsr_log_set_debug(debug != NULL ? debug : cd.conf.log_debug != NULL ? cd.conf.log_debug : "");
    if (check_only) {
        printf("configuration OK\n");
        status = 0;
        goto out;
    }
    (void)signal(SIGPIPE, SIG_IGN);
    cd.base = event_base_new();
    if (cd.base == NULL) {
        tsr_diag_set(&d, TSR_ENOMEM, "cannot create the event loop");
        goto fail;
    }
    if (start(&cd, &d) != 0)
        goto fail;
    cd.sig_term = evsignal_new(cd.base, SIGTERM, on_stop, &cd);
    cd.sig_int = evsignal_new(cd.base, SIGINT, on_stop, &cd);
    event_add(cd.sig_term, NULL);
    event_add(cd.sig_int, NULL);
    tsr_log_info(TSR_LC_MAIN, "tessera-catalogd %s on %s:%u (%s), %zu peers", PACKAGE_VERSION,
                 cd.conf.listen, tsr_http_server_port(cd.srv, 0),
                 cd.conf.tls ? "TLS and cleartext" : "cleartext", cd.npeers);
    tsr_sd_notify("READY=1");
    event_base_dispatch(cd.base);
    status = 0;
    goto out;
fail:
    tsr_log_error(TSR_LC_MAIN, "%s", tsr_diag_msg(&d));
out:
    if (cd.sig_term != NULL)
        event_free(cd.sig_term);
    if (cd.sig_int != NULL)
        event_free(cd.sig_int);
    /* Long polls in progress are aborted by the server (on_waiter_abort frees them). */
    tsr_http_server_free(cd.srv);
    while (cd.waiters != NULL)
        waiter_free(cd.waiters);
    for (size_t i = 0; cd.remotes != NULL && i < cd.npeers + cd.nsources; i++) {
        tsr_client_cancel(cd.remotes[i].xfer);
        if (cd.remotes[i].timer != NULL)
            event_free(cd.remotes[i].timer);
    }
    tsr_free(cd.remotes);
    tsr_did_resolver_free(cd.resolver);
    tsr_client_free(cd.client);
    tsr_tls_ctx_free(cd.tls);
    tsr_cat_store_close(cd.store);
    tsr_vc_keycache_free(cd.keys);
    if (cd.merge_ev != NULL)
        event_free(cd.merge_ev);
    if (cd.base != NULL)
        event_base_free(cd.base);
    tsr_catconf_free(&cd.conf);
    return status;
}
