/*
 * connector/tck.c: the DSP conformance kit's view of tesserad (see tck.h).
 *
 * The kit drives a connector under test only through DSP messages and two
 * "initiate" hooks; everything else a test case needs from the connector
 * (make an offer, accept one, suspend a transfer at the right moment) is
 * keyed on the dataset or agreement ids of the kit's configuration.  The
 * scripts below say, for each such id, which state triggers which action;
 * a timer looks at the store and acts.  Acting from outside the protocol
 * engine through its public operations keeps the engine free of test code.
 */
#include "lib/tsr.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "connector/conf.h"
#include "connector/dsp.h"
#include "connector/store.h"
#include "connector/tck.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/uuid.h"
#include "transports/http.h"

/* Distinct client ids of EDC mock tokens remembered (the callers' names). */
#define TCK_MAX_CLIENTS 64
/* The longest mock token and client id accepted. */
#define TCK_MAX_MOCK_TOKEN 2048
#define TCK_MAX_CLIENT_ID 512
/* How often the scripts look at the store, in milliseconds. */
#define TCK_TICK_MS 50
/*
 * A script acts once its entity has stayed this long in the step's state:
 * the kit registers what it expects next only after it has seen the state
 * change, and refuses (404) a message that arrives before (its own mock
 * connector pauses 100 ms between two messages of a case).
 */
#define TCK_SETTLE_MS 400
/* Entities whose script position is remembered (oldest forgotten first). */
#define TCK_MAX_TRACKED 4096
/* Steps in one script. */
#define TCK_MAX_STEPS 4

enum tck_action {
    ACT_NONE = 0,
    ACT_OFFER,     /* provider: ContractOfferMessage */
    ACT_AGREE,     /* provider: ContractAgreementMessage */
    ACT_ACCEPT,    /* consumer: ACCEPTED event */
    ACT_COUNTER,   /* consumer: counter-request */
    ACT_TERMINATE, /* either role, negotiation or transfer */
    ACT_SUSPEND,
    ACT_START,     /* transfer: start (provider) or resume (either role) */
    ACT_COMPLETE,
    ACT_WAIT,      /* nothing: the state is only held (see neg_hold) */
};

struct tck_step {
    const char *state;
    enum tck_action action;
};

/* A scripted test case: what to do with the entity keyed `key` in `role`. */
struct tck_script {
    const char *key; /* dataset id (negotiations), agreement id (transfers) */
    const char *role;
    struct tck_step steps[TCK_MAX_STEPS];
};

#define P TSR_STORE_ROLE_PROVIDER
#define C TSR_STORE_ROLE_CONSUMER

/*
 * Negotiations, by dataset.  A provider script whose first step is in
 * REQUESTED (or that has a step in VERIFIED) holds tesserad's own decision
 * to agree (or to finalize) so that the script can act instead.
 */
static const struct tck_script neg_scripts[] = {
    {"ACN0101", P, {{"REQUESTED", ACT_OFFER}}},
    {"ACN0102", P, {{"REQUESTED", ACT_OFFER}, {"REQUESTED", ACT_TERMINATE}}},
    {"ACN0103", P, {{"REQUESTED", ACT_OFFER}, {"ACCEPTED", ACT_AGREE}}},
    {"ACN0201", P, {{"REQUESTED", ACT_TERMINATE}}},
    {"ACN0204", P, {{"REQUESTED", ACT_OFFER}}},
    {"ACN0205", P, {{"REQUESTED", ACT_OFFER}, {"OFFERED", ACT_TERMINATE}}},
    {"ACN0206", P, {{"REQUESTED", ACT_OFFER}, {"ACCEPTED", ACT_TERMINATE}}},
    {"ACN0207", P, {{"VERIFIED", ACT_TERMINATE}}},
    {"ACN0302", P, {{"REQUESTED", ACT_OFFER}}},
    {"ACN0303", P, {{"REQUESTED", ACT_OFFER}}},
    {"ACN0304", P, {{"REQUESTED", ACT_OFFER}}},
    {"ACNC0101", C, {{"OFFERED", ACT_ACCEPT}}},
    {"ACNC0102", C, {{"OFFERED", ACT_COUNTER}}},
    {"ACNC0103", C, {{"OFFERED", ACT_TERMINATE}}},
    {"ACNC0202", C, {{"REQUESTED", ACT_TERMINATE}}},
    {"ACNC0203", C, {{"AGREED", ACT_TERMINATE}}},
    {"ACNC0205", C, {{"OFFERED", ACT_ACCEPT}}},
    {"ACNC0304", C, {{"OFFERED", ACT_ACCEPT}}},
    {"ACNC0305", C, {{"OFFERED", ACT_ACCEPT}}},
    {"ACNC0306", C, {{"OFFERED", ACT_ACCEPT}, {"AGREED", ACT_WAIT}}},
};

/*
 * Transfers, by agreement.  A provider script whose first step is in
 * REQUESTED holds tesserad's own start: the kit learns the providerPid
 * from the answer to its request, and answers a start message that
 * overtakes that answer with 409 and then forgets the case, so the
 * scripts start their transfers only once they have settled.  The kit's
 * consumer cases hand out made-up data addresses, so tesserad never pulls
 * under ATPC agreements.
 */
static const struct tck_script tp_scripts[] = {
    {"ATP0101", P, {{"REQUESTED", ACT_START}, {"STARTED", ACT_TERMINATE}}},
    {"ATP0102", P, {{"REQUESTED", ACT_START}, {"STARTED", ACT_COMPLETE}}},
    {"ATP0103", P, {{"REQUESTED", ACT_START}, {"STARTED", ACT_SUSPEND},
                    {"SUSPENDED", ACT_TERMINATE}}},
    {"ATP0104", P, {{"REQUESTED", ACT_START}, {"STARTED", ACT_SUSPEND},
                    {"SUSPENDED", ACT_START}, {"STARTED", ACT_COMPLETE}}},
    {"ATP0105", P, {{"REQUESTED", ACT_TERMINATE}}},
    {"ATP0201", P, {{"REQUESTED", ACT_START}}},
    {"ATP0202", P, {{"REQUESTED", ACT_START}}},
    {"ATP0203", P, {{"REQUESTED", ACT_START}}},
    {"ATP0204", P, {{"REQUESTED", ACT_START}}},
    {"ATP0205", P, {{"REQUESTED", ACT_WAIT}}},
    {"ATP0301", P, {{"REQUESTED", ACT_WAIT}}},
    {"ATP0302", P, {{"REQUESTED", ACT_WAIT}}},
    {"ATP0303", P, {{"REQUESTED", ACT_START}}},
    {"ATP0304", P, {{"REQUESTED", ACT_START}}},
    {"ATP0305", P, {{"REQUESTED", ACT_START}}},
    {"ATP0306", P, {{"REQUESTED", ACT_START}}},
    {"ATPC0201", C, {{"STARTED", ACT_TERMINATE}}},
    {"ATPC0202", C, {{"STARTED", ACT_COMPLETE}}},
    {"ATPC0203", C, {{"STARTED", ACT_SUSPEND}, {"SUSPENDED", ACT_TERMINATE}}},
    {"ATPC0204", C, {{"STARTED", ACT_SUSPEND}, {"SUSPENDED", ACT_START},
                     {"STARTED", ACT_COMPLETE}}},
    {"ATPC0205", C, {{"REQUESTED", ACT_TERMINATE}}},
};

#undef P
#undef C

/* How far the script of one entity has got. */
struct tck_track {
    char *id;
    int step;
};

struct tsr_tck {
    struct tsr_dsp *dsp;
    struct tsr_store *st;
    char *token;       /* NULL: no static identity */
    char *participant;
    char *did;         /* ours */
    bool mock;         /* EDC iam-mock tokens in and out */
    char *clients[TCK_MAX_CLIENTS]; /* client ids seen, the callers auth_in names */
    size_t nclients;
    struct event *timer;
    struct tck_track *tracks;
    size_t ntracks;
};

/* ------------------------------------------------------------ identity */

/*
 * EDC's development identity (iam-mock): the header is the JSON object
 * {"clientId": ID, ...} in clear, and ID is who calls.  The id is kept so
 * that *caller outlives the request; 0 when the header is not such a token.
 */
static int mock_in(struct tsr_tck *t, const char *authorization, const char **caller)
{
    struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;
    json_t *j = NULL;
    int rc = 0;

    lim.max_bytes = TCK_MAX_MOCK_TOKEN;
    lim.max_depth = 4;
    if (authorization[0] != '{' ||
        tsr_json_parse(authorization, strlen(authorization), &lim, &j, NULL) != 0)
        return 0;
    const char *id = json_string_value(json_object_get(j, "clientId"));
    size_t len = id != NULL ? strlen(id) : 0;
    if (len == 0 || len > TCK_MAX_CLIENT_ID || !tsr_str_is_printable(id, len))
        goto out;
    for (size_t i = 0; i < t->nclients; i++) {
        if (strcmp(t->clients[i], id) == 0) {
            *caller = t->clients[i];
            rc = 1;
            goto out;
        }
    }
    if (t->nclients == TCK_MAX_CLIENTS) {
        rc = TSR_ELIMIT; /* a test never has that many peers */
        goto out;
    }
    if ((t->clients[t->nclients] = tsr_strdup(id)) == NULL) {
        rc = TSR_ENOMEM;
        goto out;
    }
    *caller = t->clients[t->nclients++];
    rc = 1;
out:
    json_decref(j);
    return rc;
}

static int auth_in(void *arg, const char *authorization, const char **caller)
{
    struct tsr_tck *t = arg;

    if (t->token != NULL && tsr_ct_streq(authorization, t->token)) {
        *caller = t->participant;
        return 1;
    }
    return t->mock ? mock_in(t, authorization, caller) : 0;
}

static char *auth_out(void *arg, const char *peer)
{
    struct tsr_tck *t = arg;

    if (t->token != NULL && peer != NULL && strcmp(peer, t->participant) == 0)
        return tsr_strdup(t->token);
    if (!t->mock)
        return NULL;
    /* EDC turns every member into a claim and refuses null ones: send all
     * three members its own mock tokens have. */
    json_t *j = json_pack("{s:s, s:s, s:s}", "region", "any", "audience",
                          peer != NULL ? peer : "any", "clientId", t->did);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    char *out = text != NULL ? tsr_strdup(text) : NULL;
    free(text);
    json_decref(j);
    return out;
}

static bool neg_hold(void *arg, const char *asset_id, const char *decision);

static void tck_free(void *arg)
{
    struct tsr_tck *t = arg;

    if (t == NULL)
        return;
    if (t->timer != NULL)
        event_free(t->timer);
    for (size_t i = 0; i < t->ntracks; i++)
        tsr_free(t->tracks[i].id);
    tsr_free(t->tracks);
    tsr_free_secret(t->token);
    tsr_free(t->participant);
    tsr_free(t->did);
    for (size_t i = 0; i < t->nclients; i++)
        tsr_free(t->clients[i]);
    tsr_free(t);
}

/* ------------------------------------------------------------ scripts */

static const struct tck_script *find_script(const struct tck_script *v, size_t n,
                                            const char *key, const char *role)
{
    if (key == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].key, key) == 0 && strcmp(v[i].role, role) == 0)
            return &v[i];
    }
    return NULL;
}

/* The script position of entity id (0 for one not seen before); NULL: out of memory. */
static struct tck_track *track(struct tsr_tck *t, const char *id)
{
    for (size_t i = 0; i < t->ntracks; i++) {
        if (strcmp(t->tracks[i].id, id) == 0)
            return &t->tracks[i];
    }
    if (t->ntracks == TCK_MAX_TRACKED) {
        tsr_free(t->tracks[0].id);
        memmove(&t->tracks[0], &t->tracks[1], (t->ntracks - 1) * sizeof(t->tracks[0]));
        t->ntracks--;
    } else if (t->tracks == NULL) {
        t->tracks = tsr_calloc(TCK_MAX_TRACKED, sizeof(*t->tracks));
        if (t->tracks == NULL)
            return NULL;
    }
    struct tck_track *k = &t->tracks[t->ntracks];
    k->id = tsr_strdup(id);
    if (k->id == NULL)
        return NULL;
    k->step = 0;
    t->ntracks++;
    return k;
}

/*
 * If entity id (in state, keyed by script s) has reached its script's next
 * step, do the step's action through act and move on.  A failed action is
 * logged and not retried: the kit then reports the case as failed.
 */
static void advance(struct tsr_tck *t, const struct tck_script *s, const char *id,
                    const char *state, bool ready,
                    int (*act)(struct tsr_tck *, const char *, enum tck_action, struct tsr_diag *))
{
    struct tck_track *k;
    struct tsr_diag d = {0};

    if (s == NULL || !ready || (k = track(t, id)) == NULL || k->step >= TCK_MAX_STEPS)
        return;
    const struct tck_step *st = &s->steps[k->step];
    if (st->action == ACT_NONE || strcmp(st->state, state) != 0)
        return;
    k->step++;
    if (act(t, id, st->action, &d) != 0)
        tsr_log_warn(TSR_LC_DSP, "tck: %s %s in %s: %s", s->key, id, state, tsr_diag_msg(&d));
    else
        tsr_log_info(TSR_LC_DSP, "tck: %s %s: step %d done in %s", s->key, id, k->step, state);
}

/*
 * Hold a decision when the script has a step in the state the decision
 * would leave: a provider's first step in REQUESTED (agree), a step in
 * VERIFIED (finalize), a consumer's step in AGREED (verify).
 */
static bool neg_hold(void *arg, const char *asset_id, const char *decision)
{
    bool verify = strcmp(decision, "verify") == 0;
    const struct tck_script *s =
        find_script(neg_scripts, TSR_ARRAY_SIZE(neg_scripts), asset_id,
                    verify ? TSR_STORE_ROLE_CONSUMER : TSR_STORE_ROLE_PROVIDER);
    const char *state = verify ? "AGREED" : "VERIFIED";

    (void)arg;
    if (s == NULL)
        return false;
    if (strcmp(decision, "agree") == 0)
        return strcmp(s->steps[0].state, "REQUESTED") == 0;
    for (size_t i = 0; i < TCK_MAX_STEPS; i++) {
        if (s->steps[i].action != ACT_NONE && strcmp(s->steps[i].state, state) == 0)
            return true;
    }
    return false;
}

static bool tp_hold(void *arg, const char *agreement_id, const char *decision)
{
    bool pull = strcmp(decision, "pull") == 0;
    const struct tck_script *s =
        find_script(tp_scripts, TSR_ARRAY_SIZE(tp_scripts), agreement_id,
                    pull ? TSR_STORE_ROLE_CONSUMER : TSR_STORE_ROLE_PROVIDER);

    (void)arg;
    if (pull)
        return strncmp(agreement_id, "ATPC", 4) == 0;
    return s != NULL && strcmp(s->steps[0].state, "REQUESTED") == 0;
}

static int neg_act(struct tsr_tck *t, const char *id, enum tck_action a, struct tsr_diag *d)
{
    switch (a) {
    case ACT_OFFER: return tsr_dsp_negotiation_offer(t->dsp, id, d);
    case ACT_AGREE: return tsr_dsp_negotiation_agree(t->dsp, id, d);
    case ACT_ACCEPT: return tsr_dsp_negotiation_accept(t->dsp, id, d);
    case ACT_COUNTER: return tsr_dsp_negotiation_counter(t->dsp, id, d);
    case ACT_TERMINATE: return tsr_dsp_negotiation_terminate(t->dsp, id, "tck script", d);
    case ACT_WAIT: return 0;
    default: return tsr_diag_set(d, TSR_EINVAL, "no such negotiation action %d", (int)a);
    }
}

static int tp_act(struct tsr_tck *t, const char *id, enum tck_action a, struct tsr_diag *d)
{
    switch (a) {
    case ACT_TERMINATE: return tsr_dsp_transfer_terminate(t->dsp, id, "tck script", d);
    case ACT_SUSPEND: return tsr_dsp_transfer_suspend(t->dsp, id, "tck script", d);
    case ACT_START: return tsr_dsp_transfer_resume(t->dsp, id, d);
    case ACT_COMPLETE: return tsr_dsp_transfer_complete(t->dsp, id, d);
    case ACT_WAIT: return 0;
    default: return tsr_diag_set(d, TSR_EINVAL, "no such transfer action %d", (int)a);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_tck *t = arg;
    struct tsr_store_filter f = {.limit = TSR_STORE_LIST_MAX};
    struct tsr_store_neg *negs = NULL;
    struct tsr_store_tp *tps = NULL;
    size_t n = 0;

    (void)fd;
    (void)what;
    int64_t settled = tsr_time_now_ms() - TCK_SETTLE_MS;
    if (tsr_store_neg_list(t->st, &f, &negs, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            const struct tsr_store_neg *g = &negs[i];
            const struct tck_script *s =
                find_script(neg_scripts, TSR_ARRAY_SIZE(neg_scripts), g->asset_id, g->role);
            /* The consumer can only answer once it knows the providerPid. */
            advance(t, s, g->id, g->state,
                    g->provider_pid != NULL && g->updated_ms <= settled, neg_act);
        }
        tsr_store_neg_array_free(negs, n);
    }
    n = 0;
    if (tsr_store_tp_list(t->st, &f, &tps, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            const struct tsr_store_tp *p = &tps[i];
            const struct tck_script *s =
                find_script(tp_scripts, TSR_ARRAY_SIZE(tp_scripts), p->agreement_id, p->role);
            advance(t, s, p->id, p->state,
                    p->provider_pid != NULL && p->updated_ms <= settled, tp_act);
        }
        tsr_store_tp_array_free(tps, n);
    }
}

/* ------------------------------------------------------------ hooks */

static void reply(struct tsr_http_req *req, int status, json_t *j)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

    tsr_http_respond_text(req, status, "application/json", text != NULL ? text : "{}");
    free(text);
    json_decref(j);
}

static void fail(struct tsr_http_req *req, int status, const char *msg)
{
    reply(req, status, json_pack("{s:s}", "error", msg));
}

/* A hook's answer: 200 {"id": id} after rc 0, else 400 with d's message. */
static void answer(struct tsr_http_req *req, int rc, const char *id, const struct tsr_diag *d)
{
    if (rc != 0 || id == NULL)
        fail(req, 400, rc != 0 ? tsr_diag_msg(d) : "no id");
    else
        reply(req, 200, json_pack("{s:s}", "id", id));
}

/* The request's JSON object body; NULL after answering 400. */
static json_t *body_of(struct tsr_http_req *req)
{
    const struct tsr_buf *b = tsr_http_req_body(req);
    struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;
    struct tsr_diag d = {0};
    json_t *j = NULL;

    lim.max_bytes = 64 * 1024;
    if (b->len == 0 || tsr_json_parse(b->data, b->len, &lim, &j, &d) != 0 || !json_is_object(j)) {
        json_decref(j);
        fail(req, 400, b->len == 0 ? "empty body" : "the body must be a JSON object");
        return NULL;
    }
    return j;
}

static const char *str_of(const json_t *j, const char *name)
{
    const char *s = json_string_value(json_object_get(j, name));
    return s != NULL && s[0] != '\0' ? s : NULL;
}

/*
 * An agreement as the kit's transfer cases presuppose one: a FINALIZED
 * negotiation of role with peer (reached at peer_url) and agreement id on
 * asset.  Does nothing when agreement id exists.
 */
static int seed_agreement(struct tsr_tck *t, const char *role, const char *id, const char *asset,
                          const char *us, const char *peer, const char *peer_url,
                          struct tsr_diag *d)
{
    struct tsr_store_agreement *old = NULL;
    char nid[TSR_UUID_URN_SIZE], other[TSR_UUID_URN_SIZE], ts[64];
    bool provider = strcmp(role, TSR_STORE_ROLE_PROVIDER) == 0;
    json_t *policy = NULL;
    char *text = NULL;
    int rc;

    if (tsr_store_agreement_get(t->st, id, &old, NULL) == 0) {
        tsr_store_agreement_free(old);
        return 0;
    }
    tsr_uuid_v4_urn(nid);
    tsr_uuid_v4_urn(other);
    struct tsr_store_neg n = {
        .id = nid,
        .role = (char *)role,
        .state = (char *)"FINALIZED",
        .consumer_pid = provider ? other : nid,
        .provider_pid = provider ? nid : other,
        .counterparty_did = (char *)peer,
        .counterparty_url = (char *)peer_url,
        .asset_id = (char *)asset,
    };
    rc = tsr_store_neg_create(t->st, &n, NULL, d);
    if (rc != 0)
        return rc;
    snprintf(ts, sizeof(ts), "2025-01-01T00:00:00Z");
    policy = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s}]}", "@type", "Agreement", "@id", id,
                       "target", asset, "assigner", provider ? us : peer, "assignee",
                       provider ? peer : us, "timestamp", ts, "permission", "action", "use");
    text = policy != NULL ? json_dumps(policy, JSON_COMPACT) : NULL;
    if (text == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    struct tsr_store_agreement a = {
        .id = (char *)id,
        .negotiation_id = nid,
        .asset_id = (char *)asset,
        .provider_did = (char *)(provider ? us : peer),
        .consumer_did = (char *)(provider ? peer : us),
        .policy_json = text,
    };
    rc = tsr_store_neg_agree(t->st, nid, "FINALIZED", "FINALIZED", &a, NULL, d);
out:
    json_decref(policy);
    free(text);
    return rc;
}

/* POST /tck/agreements {"id", "asset", "consumer"}: a provider agreement (test set-up). */
static void h_agreements(struct tsr_http_req *req, void *arg)
{
    struct tsr_tck *t = arg;
    struct tsr_diag d = {0};
    json_t *j = body_of(req);

    if (j == NULL)
        return;
    const char *id = str_of(j, "id"), *asset = str_of(j, "asset");
    const char *consumer = str_of(j, "consumer");
    if (id == NULL || asset == NULL || !tsr_store_pid_valid(id)) {
        fail(req, 400, "id and asset are required");
    } else if (seed_agreement(t, TSR_STORE_ROLE_PROVIDER, id, asset, t->did,
                              consumer != NULL ? consumer : t->participant, "http://invalid/",
                              &d) != 0) {
        fail(req, 400, tsr_diag_msg(&d));
    } else {
        reply(req, 201, json_pack("{s:s}", "id", id));
    }
    json_decref(j);
}

/*
 * POST /tck/negotiations/requests {"providerId", "offerId", "datasetId",
 * "connectorAddress"}: the kit asks us, the consumer, to request an offer.
 */
static void h_negotiate(struct tsr_http_req *req, void *arg)
{
    struct tsr_tck *t = arg;
    struct tsr_diag d = {0};
    char *id = NULL;
    json_t *j = body_of(req);

    if (j == NULL)
        return;
    const char *provider = str_of(j, "providerId"), *offer_id = str_of(j, "offerId");
    const char *dataset = str_of(j, "datasetId"), *url = str_of(j, "connectorAddress");
    /* The kit's provider accepts any policy: ask for the plain "use". */
    json_t *offer = json_pack("{s:s, s:s, s:[{s:s}]}", "@id", offer_id ? offer_id : "",
                              "@type", "Offer", "permission", "action", "use");
    int rc;
    if (provider == NULL || offer_id == NULL || dataset == NULL || url == NULL || offer == NULL)
        rc = tsr_diag_set(&d, TSR_EINVAL, "providerId, offerId, datasetId and connectorAddress "
                                          "are required");
    else
        rc = tsr_dsp_negotiate_offer(t->dsp, url, provider, offer, dataset, &id, &d);
    answer(req, rc, id, &d);
    tsr_free(id);
    json_decref(offer);
    json_decref(j);
}

/*
 * POST /tck/transfers/requests {"providerId", "agreementId", "format",
 * "connectorAddress"}: the kit asks us, the consumer, to start a transfer
 * under an agreement it made up; we take the agreement as given.
 */
static void h_transfer(struct tsr_http_req *req, void *arg)
{
    struct tsr_tck *t = arg;
    struct tsr_diag d = {0};
    char *id = NULL;
    json_t *j = body_of(req);

    if (j == NULL)
        return;
    const char *provider = str_of(j, "providerId"), *agreement = str_of(j, "agreementId");
    const char *url = str_of(j, "connectorAddress");
    int rc;
    if (provider == NULL || agreement == NULL || url == NULL || !tsr_store_pid_valid(agreement))
        rc = tsr_diag_set(&d, TSR_EINVAL, "providerId, agreementId and connectorAddress are "
                                          "required");
    else if ((rc = seed_agreement(t, TSR_STORE_ROLE_CONSUMER, agreement, agreement, t->did,
                                  provider, url, &d)) == 0)
        rc = tsr_dsp_transfer_begin(t->dsp, agreement, NULL, &id, &d);
    answer(req, rc, id, &d);
    tsr_free(id);
    json_decref(j);
}

/* ------------------------------------------------------------ set-up */

int tsr_tck_setup(struct event_base *base, const struct tsr_conf *c, struct tsr_dsp *dsp,
                  struct tsr_store *st, struct tsr_http_server *srv, struct tsr_diag *d)
{
    bool static_id = c->static_token != NULL && c->static_token[0] != '\0';
    struct tsr_tck *t;
    int rc = 0;

    if (!static_id && !c->tck_hooks && !c->mock_tokens)
        return 0;
    t = tsr_calloc(1, sizeof(*t));
    if (t == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    t->dsp = dsp;
    t->st = st;
    t->participant = tsr_strdup(c->static_participant != NULL ? c->static_participant
                                                               : "TCK_PARTICIPANT");
    t->token = static_id ? tsr_strdup(c->static_token) : NULL;
    t->did = tsr_strdup(c->did);
    t->mock = c->mock_tokens;
    if (t->participant == NULL || t->did == NULL || (static_id && t->token == NULL)) {
        tck_free(t);
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    struct tsr_dsp_hooks h = {auth_in, auth_out, c->tck_hooks ? neg_hold : NULL,
                              c->tck_hooks ? tp_hold : NULL, tck_free, t};
    tsr_dsp_set_hooks(dsp, &h); /* dsp owns t from here on */
    if (static_id)
        tsr_log_warn(TSR_LC_MAIN, "testing: a static token is accepted for %s", t->participant);
    if (t->mock)
        tsr_log_warn(TSR_LC_MAIN, "testing: unsigned EDC mock tokens are accepted from anyone");
    if (!c->tck_hooks)
        return 0;
    tsr_log_warn(TSR_LC_MAIN, "testing: the DSP conformance kit's hooks are served under /tck");
    t->timer = event_new(base, -1, EV_PERSIST, on_tick, t);
    struct timeval tv = {0, TCK_TICK_MS * 1000};
    if (t->timer == NULL || event_add(t->timer, &tv) != 0)
        return tsr_diag_set(d, TSR_ENOMEM, "cannot start the tck timer");
    if ((rc = tsr_http_server_route(srv, "POST", "/tck/negotiations/requests", h_negotiate, t)) !=
            0 ||
        (rc = tsr_http_server_route(srv, "POST", "/tck/transfers/requests", h_transfer, t)) != 0 ||
        (rc = tsr_http_server_route(srv, "POST", "/tck/agreements", h_agreements, t)) != 0)
        return tsr_diag_set(d, rc, "cannot add the /tck routes");
    return 0;
}
