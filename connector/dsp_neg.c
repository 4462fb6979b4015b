/*
 * connector/dsp_neg.c: contract negotiation, both roles.
 *
 * The provider decides an initial contract request at once: the offer must
 * be one it publishes and the requested policy must match it exactly (the
 * policy engine will refine this), and then it agrees.  The consumer checks
 * the agreement against what it asked for, verifies it, and the provider
 * finalizes.
 *
 * When we send a message, the state it leads to is committed together with
 * the message (optimistically: the peer's next message may arrive before
 * its acknowledgement does); if the message cannot be delivered after the
 * outbox's retries, the negotiation is terminated with the reason.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector/dsp_int.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "lib/uuid.h"
#include "transports/http.h"

static bool route_is_provider(enum tsr_dsp_route r)
{
    switch (r) {
    case R_NEG_GET_P:
    case R_NEG_REQUEST_INIT:
    case R_NEG_REQUEST:
    case R_NEG_EVENTS_P:
    case R_NEG_VERIFY:
    case R_NEG_TERMINATE_P:
        return true;
    default:
        return false;
    }
}

static void reply_neg(struct tsr_dsp *dsp, struct tsr_http_req *req, int status,
                      const struct tsr_store_neg *n)
{
    enum tsr_neg_state s = TSR_NEG_INITIAL;

    tsr_neg_state_parse(n->state, &s);
    tsr_dsp__send(dsp, req, status,
                   tsr_dsp_negotiation(n->consumer_pid, n->provider_pid ? n->provider_pid : "", s));
}

/* Our negotiation named by the path, if the caller is its counter-party. */
static struct tsr_store_neg *load(struct tsr_dsp_ctx *x, bool provider)
{
    struct tsr_store_neg *n = NULL;

    if (x->pid == NULL || tsr_store_neg_get(x->dsp->st, x->pid, &n, NULL) != 0 ||
        strcmp(n->role, provider ? TSR_STORE_ROLE_PROVIDER : TSR_STORE_ROLE_CONSUMER) != 0 ||
        n->counterparty_did == NULL || strcmp(n->counterparty_did, x->caller) != 0) {
        /* The binding: unknown and not-yours look the same (404). */
        tsr_store_neg_free(n);
        tsr_dsp__error(x, 404, "404", provider ? NULL : x->pid, provider ? x->pid : NULL,
                       "no negotiation %s", x->pid ? x->pid : "");
        return NULL;
    }
    return n;
}

/* The URL of a message to the counter-party of n. */
static char *peer_url(const struct tsr_store_neg *n, const char *suffix)
{
    char path[600];
    bool provider = strcmp(n->role, TSR_STORE_ROLE_PROVIDER) == 0;

    /* The provider writes to the consumer's callback address, the consumer
     * to the provider's DSP base; both below negotiations/<their pid>. */
    snprintf(path, sizeof(path), "negotiations/%s/%s",
             provider ? n->consumer_pid : n->provider_pid, suffix);
    return tsr_dsp__url(n->counterparty_url, path);
}

/*
 * Provider: agree to n (REQUESTED) with the policy of the offer it names,
 * committing the agreement, the state and the agreement message at once.
 */
static int provider_agree(struct tsr_dsp *dsp, const struct tsr_store_neg *n, struct tsr_diag *d)
{
    struct tsr_store_offer *offer = NULL;
    struct tsr_store_policy *pol = NULL;
    json_t *policy = NULL, *agreement = NULL;
    char *body = NULL, *url = NULL, *policy_text = NULL;
    char aid[TSR_UUID_URN_SIZE], ts[40];
    int rc;

    rc = tsr_store_offer_get(dsp->st, n->offer_id, &offer, d);
    if (rc == 0)
        rc = tsr_store_policy_get(dsp->st, offer->policy_id, &pol, d);
    if (rc != 0)
        goto out;
    policy = json_loads(pol->body, 0, NULL);
    tsr_uuid_v4_urn(aid);
    tsr_time_format_ms(tsr_time_now_ms(), ts, sizeof(ts));
    agreement = tsr_dsp_agreement(aid, dsp->did, n->counterparty_did, n->asset_id, ts, policy);
    if (agreement == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "cannot build the agreement");
        goto out;
    }
    policy_text = json_dumps(agreement, JSON_COMPACT);
    body = tsr_dsp__dump(tsr_dsp_contract_agreement(n->provider_pid, n->consumer_pid, agreement));
    url = peer_url(n, "agreement");
    if (policy_text == NULL || body == NULL || url == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    /* Never sign what the engine could not enforce afterwards. */
    if (dsp->policy != NULL && (rc = tsr_policy_validate(dsp->policy, policy_text, d)) != 0)
        goto out;
    struct tsr_store_agreement a = {
        .id = aid,
        .negotiation_id = n->id,
        .asset_id = n->asset_id,
        .provider_did = dsp->did,
        .consumer_did = n->counterparty_did,
        .policy_json = policy_text,
    };
    struct tsr_store_outbox_msg o;
    tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_NEG, n->id, url, body, NULL);
    rc = tsr_store_neg_agree(dsp->st, n->id, n->state, "AGREED", &a, &o, d);
    if (rc == 0) {
        tsr_log_info(TSR_LC_DSP, "negotiation %s: agreed %s with %s for %s", n->id, aid,
                     n->counterparty_did, n->asset_id);
        tsr_dsp__kick(dsp);
    }
out:
    tsr_store_offer_free(offer);
    tsr_store_policy_free(pol);
    json_decref(policy);
    json_decref(agreement);
    free(body);
    free(policy_text);
    tsr_free(url);
    return rc;
}

int tsr_dsp__neg_agree(struct tsr_dsp *dsp, const struct tsr_store_neg *n, struct tsr_diag *d)
{
    return provider_agree(dsp, n, d);
}

/* POST /negotiations/request: a consumer asks for one of our offers. */
static void provider_request_init(struct tsr_dsp_ctx *x)
{
    struct tsr_dsp *dsp = x->dsp;
    struct tsr_dsp_msg m;
    struct tsr_store_neg *n = NULL;
    struct tsr_store_offer *offer = NULL;
    struct tsr_store_policy *pol = NULL;
    json_t *policy = NULL;
    struct tsr_diag d = {0};

    if (tsr_dsp__parse(x, TSR_DSP_CONTRACT_REQUEST, &m) != 0)
        return;
    const char *cpid = m.consumer_pid;
    if (m.callback_address == NULL || m.offer_id == NULL) {
        tsr_dsp__error(x, 400, "400", cpid, NULL,
                       "an initial contract request needs callbackAddress and an offer @id");
        return;
    }
    /* A repeated request (the consumer's retry) gets the same answer. */
    if (tsr_store_neg_find_consumer_pid(dsp->st, TSR_STORE_ROLE_PROVIDER, cpid, &n, NULL) == 0) {
        if (strcmp(n->counterparty_did, x->caller) == 0)
            reply_neg(x->dsp, x->req, 201, n);
        else
            tsr_dsp__error(x, 400, "400", cpid, NULL, "consumerPid %s is already in use", cpid);
        tsr_store_neg_free(n);
        return;
    }
    if (tsr_store_offer_get(dsp->st, m.offer_id, &offer, NULL) != 0) {
        tsr_dsp__error(x, 400, "400", cpid, NULL, "no offer %s is published here", m.offer_id);
        goto out;
    }
    if (m.offer_target != NULL && strcmp(m.offer_target, offer->asset_id) != 0) {
        tsr_dsp__error(x, 400, "400", cpid, NULL, "offer %s is for dataset %s, not %s", m.offer_id,
                       offer->asset_id, m.offer_target);
        goto out;
    }
    const char *assigner = json_string_value(json_object_get(m.offer, "assigner"));
    if (assigner != NULL && strcmp(assigner, dsp->did) != 0) {
        tsr_dsp__error(x, 400, "400", cpid, NULL, "the offer's assigner %s is not %s", assigner,
                       dsp->did);
        goto out;
    }
    if (tsr_store_policy_get(dsp->st, offer->policy_id, &pol, NULL) != 0 ||
        (policy = json_loads(pol->body, 0, NULL)) == NULL) {
        tsr_dsp__error(x, 500, "500", cpid, NULL, "the offer's policy cannot be read");
        goto out;
    }
    if (tsr_dsp_policy_rules_equal(policy, m.offer) != 1) {
        tsr_dsp__error(x, 400, "400", cpid, NULL,
                       "the requested policy does not match offer %s as published", m.offer_id);
        goto out;
    }
    /* The same test as catalog visibility: an offer the caller cannot see is refused. */
    if (dsp->policy != NULL &&
        tsr_policy_offer_allows(dsp->policy, pol->body, x->caller, tsr_time_now_ms(), &d) != 0) {
        tsr_log_info(TSR_LC_POLICY, "negotiation request from %s for offer %s refused: %s",
                     x->caller, m.offer_id, tsr_diag_msg(&d));
        tsr_dsp__error(x, 403, "403", cpid, NULL, "offer %s: %s", m.offer_id, tsr_diag_msg(&d));
        goto out;
    }
    char ppid[TSR_UUID_URN_SIZE];
    tsr_uuid_v4_urn(ppid);
    struct tsr_store_neg nn = {
        .id = ppid,
        .role = (char *)TSR_STORE_ROLE_PROVIDER,
        .state = (char *)"REQUESTED",
        .consumer_pid = (char *)cpid,
        .provider_pid = ppid,
        .counterparty_did = (char *)x->caller,
        .counterparty_url = (char *)m.callback_address,
        .offer_id = offer->id,
        .asset_id = offer->asset_id,
    };
    char *offer_text = json_dumps(m.offer, JSON_COMPACT);
    nn.offer_json = offer_text;
    int rc = tsr_store_neg_create(dsp->st, &nn, NULL, &d);
    free(offer_text);
    if (rc != 0) {
        tsr_dsp__error(x, rc == TSR_EEXIST ? 400 : 500, rc == TSR_EEXIST ? "400" : "500", cpid,
                       NULL, "%s", tsr_diag_msg(&d));
        goto out;
    }
    tsr_log_info(TSR_LC_DSP, "negotiation %s: %s requests offer %s", ppid, x->caller, m.offer_id);
    tsr_dsp__send(x->dsp, x->req, 201, tsr_dsp_negotiation(cpid, ppid, TSR_NEG_REQUESTED));
    /* Decide now; if this fails the recovery sweep tries again. */
    if (tsr_store_neg_get(dsp->st, ppid, &n, NULL) == 0 && !tsr_dsp__neg_hold(dsp, n) &&
        provider_agree(dsp, n, &d) != 0)
        tsr_log_warn(TSR_LC_DSP, "negotiation %s: cannot agree yet: %s", ppid, tsr_diag_msg(&d));
out:
    tsr_store_neg_free(n);
    tsr_store_offer_free(offer);
    tsr_store_policy_free(pol);
    json_decref(policy);
}

/* POST /negotiations/offers: a provider-initiated negotiation (consumer). */
static void consumer_offers_init(struct tsr_dsp_ctx *x)
{
    struct tsr_dsp *dsp = x->dsp;
    struct tsr_dsp_msg m;
    struct tsr_diag d = {0};

    if (tsr_dsp__parse(x, TSR_DSP_CONTRACT_OFFER, &m) != 0)
        return;
    if (m.provider_pid == NULL || m.callback_address == NULL) {
        tsr_dsp__error(x, 400, "400", NULL, m.provider_pid,
                       "an initial offer needs providerPid and callbackAddress");
        return;
    }
    char cpid[TSR_UUID_URN_SIZE];
    tsr_uuid_v4_urn(cpid);
    char *offer_text = json_dumps(m.offer, JSON_COMPACT);
    struct tsr_store_neg nn = {
        .id = cpid,
        .role = (char *)TSR_STORE_ROLE_CONSUMER,
        .state = (char *)"OFFERED",
        .consumer_pid = cpid,
        .provider_pid = (char *)m.provider_pid,
        .counterparty_did = (char *)x->caller,
        .counterparty_url = (char *)m.callback_address,
        .offer_id = (char *)m.offer_id,
        .asset_id = (char *)m.offer_target,
        .offer_json = offer_text,
    };
    int rc = tsr_store_neg_create(dsp->st, &nn, NULL, &d);
    free(offer_text);
    if (rc != 0) {
        tsr_dsp__error(x, 400, "400", NULL, m.provider_pid, "%s", tsr_diag_msg(&d));
        return;
    }
    tsr_log_info(TSR_LC_DSP, "negotiation %s: offer %s from %s", cpid,
                 m.offer_id ? m.offer_id : "?", x->caller);
    tsr_dsp__send(x->dsp, x->req, 201, tsr_dsp_negotiation(cpid, m.provider_pid, TSR_NEG_OFFERED));
}

static enum tsr_dsp_type route_type(enum tsr_dsp_route r)
{
    switch (r) {
    case R_NEG_REQUEST: return TSR_DSP_CONTRACT_REQUEST;
    case R_NEG_EVENTS_P:
    case R_NEG_EVENTS_C: return TSR_DSP_NEGOTIATION_EVENT;
    case R_NEG_VERIFY: return TSR_DSP_AGREEMENT_VERIFICATION;
    case R_NEG_OFFERS: return TSR_DSP_CONTRACT_OFFER;
    case R_NEG_AGREEMENT: return TSR_DSP_CONTRACT_AGREEMENT;
    default: return TSR_DSP_NEGOTIATION_TERMINATION;
    }
}

/* Consumer: is this the agreement we asked for?  0 or TSR_EPOLICY + why. */
static int check_agreement(struct tsr_dsp *dsp, const struct tsr_store_neg *n,
                           const struct tsr_dsp_msg *m, struct tsr_diag *d)
{
    const json_t *a = m->agreement;
    const char *assignee = json_string_value(json_object_get(a, "assignee"));
    const char *assigner = json_string_value(json_object_get(a, "assigner"));
    const char *target = json_string_value(json_object_get(a, "target"));

    if (m->agreement_id == NULL)
        return tsr_diag_set(d, TSR_EPOLICY, "the agreement has no @id");
    if (assignee == NULL || strcmp(assignee, dsp->did) != 0)
        return tsr_diag_set(d, TSR_EPOLICY, "the agreement's assignee %s is not us (%s)",
                            assignee ? assignee : "(none)", dsp->did);
    if (assigner == NULL || strcmp(assigner, n->counterparty_did) != 0)
        return tsr_diag_set(d, TSR_EPOLICY, "the agreement's assigner %s is not the provider %s",
                            assigner ? assigner : "(none)", n->counterparty_did);
    if (n->asset_id != NULL && (target == NULL || strcmp(target, n->asset_id) != 0))
        return tsr_diag_set(d, TSR_EPOLICY, "the agreement's target %s is not %s",
                            target ? target : "(none)", n->asset_id);
    json_t *asked = n->offer_json ? json_loads(n->offer_json, 0, NULL) : NULL;
    int eq = asked != NULL ? tsr_dsp_policy_rules_equal(asked, a) : 0;
    json_decref(asked);
    if (eq != 1)
        return tsr_diag_set(d, TSR_EPOLICY, "the agreement's rules differ from the offer we asked for");
    return 0;
}

/* A message on an existing negotiation (either role). */
static void neg_message(struct tsr_dsp_ctx *x)
{
    struct tsr_dsp *dsp = x->dsp;
    bool provider = route_is_provider(x->route);
    struct tsr_dsp_msg m;
    struct tsr_store_neg *n = NULL;
    enum tsr_neg_msg msg;
    enum tsr_neg_state cur = TSR_NEG_INITIAL, next;
    struct tsr_diag d = {0};
    char *body = NULL, *url = NULL, *text = NULL;

    if (tsr_dsp__parse(x, route_type(x->route), &m) != 0)
        return;
    n = load(x, provider);
    if (n == NULL)
        return;
    const char *ours = provider ? m.provider_pid : m.consumer_pid;
    const char *theirs = provider ? m.consumer_pid : m.provider_pid;
    const char *known = provider ? n->consumer_pid : n->provider_pid;
    if (ours == NULL || strcmp(ours, n->id) != 0 ||
        (theirs != NULL && known != NULL && strcmp(theirs, known) != 0)) {
        tsr_dsp__error(x, 400, "400", n->consumer_pid, n->provider_pid,
                       "the message's providerPid/consumerPid do not match negotiation %s", n->id);
        goto out;
    }
    if (tsr_dsp_neg_msg(&m, &msg) != 0) {
        tsr_dsp__error(x, 400, "400", n->consumer_pid, n->provider_pid, "unknown eventType %s",
                       m.event_type ? m.event_type : "(none)");
        goto out;
    }
    enum tsr_neg_role sender = provider ? TSR_NEG_CONSUMER : TSR_NEG_PROVIDER;
    tsr_neg_state_parse(n->state, &cur);
    if (tsr_neg_is_repeat(cur, msg, sender)) {
        reply_neg(x->dsp, x->req, 200, n);
        goto out;
    }
    /* The agreement we already hold, again (EDC 0.14 sends it twice when our
     * verification overtakes its own bookkeeping): a repeat, acknowledged. */
    if (msg == TSR_NEG_MSG_AGREEMENT && !provider && n->agreement_id != NULL &&
        m.agreement_id != NULL && strcmp(m.agreement_id, n->agreement_id) == 0) {
        reply_neg(x->dsp, x->req, 200, n);
        goto out;
    }
    if (tsr_neg_check(cur, msg, sender, &next, &d) != 0) {
        /* The binding: an invalid transition is a 400 with the error body. */
        tsr_dsp__error(x, 400, "400", n->consumer_pid, n->provider_pid, "%s", tsr_diag_msg(&d));
        goto out;
    }
    struct tsr_store_neg_update upd = {0};
    if (!provider && n->provider_pid == NULL)
        upd.provider_pid = theirs; /* learnt before the answer to our request */
    int rc = 0;
    struct tsr_store_outbox_msg o;
    switch (msg) {
    case TSR_NEG_MSG_AGREEMENT: {
        /* Consumer: check it, keep it, verify it. */
        if (check_agreement(dsp, n, &m, &d) != 0) {
            tsr_log_warn(TSR_LC_DSP, "negotiation %s: refusing agreement: %s", n->id,
                         tsr_diag_msg(&d));
            upd.error = tsr_diag_msg(&d);
            tsr_store_neg_transition(dsp->st, n->id, n->state, "TERMINATED", &upd, NULL, NULL);
            tsr_dsp__error(x, 400, "400", n->consumer_pid, n->provider_pid, "%s",
                           tsr_diag_msg(&d));
            goto out;
        }
        if (upd.provider_pid != NULL) {
            tsr_store_neg_transition(dsp->st, n->id, n->state, n->state, &upd, NULL, NULL);
            n->provider_pid = tsr_strdup(upd.provider_pid);
        }
        text = json_dumps(m.agreement, JSON_COMPACT);
        body = tsr_dsp__dump(tsr_dsp_agreement_verification(n->provider_pid, n->consumer_pid));
        url = peer_url(n, "agreement/verification");
        struct tsr_store_agreement a = {
            .id = (char *)m.agreement_id,
            .negotiation_id = n->id,
            .asset_id = n->asset_id,
            .provider_did = n->counterparty_did,
            .consumer_did = dsp->did,
            .policy_json = text,
        };
        tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_NEG, n->id, url, body, NULL);
        bool hold = tsr_dsp__neg_hold(dsp, n); /* testing: verification left to the hooks */
        rc = (text && body && url) ? tsr_store_neg_agree(dsp->st, n->id, n->state,
                                                         hold ? "AGREED" : "VERIFIED", &a,
                                                         hold ? NULL : &o, &d)
                                   : tsr_diag_set(&d, TSR_ENOMEM, "out of memory");
        if (rc == 0)
            tsr_log_info(TSR_LC_DSP, "negotiation %s: agreement %s received and verified", n->id,
                         m.agreement_id);
        break;
    }
    case TSR_NEG_MSG_AGREEMENT_VERIFICATION:
        if (tsr_dsp__neg_hold(dsp, n)) {
            rc = tsr_store_neg_transition(dsp->st, n->id, n->state, "VERIFIED", &upd, NULL, &d);
            break;
        }
        /* Provider: finalize. */
        body = tsr_dsp__dump(
            tsr_dsp_negotiation_event(n->provider_pid, n->consumer_pid, TSR_NEG_FINALIZED));
        url = peer_url(n, "events");
        tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_NEG, n->id, url, body, NULL);
        rc = (body && url) ? tsr_store_neg_transition(dsp->st, n->id, n->state, "FINALIZED", &upd,
                                                      &o, &d)
                           : tsr_diag_set(&d, TSR_ENOMEM, "out of memory");
        if (rc == 0)
            tsr_log_info(TSR_LC_DSP, "negotiation %s: finalized", n->id);
        break;
    case TSR_NEG_MSG_CONTRACT_OFFER:
        text = json_dumps(m.offer, JSON_COMPACT);
        upd.offer_json = text;
        rc = tsr_store_neg_transition(dsp->st, n->id, n->state, tsr_neg_state_name(next), &upd,
                                      NULL, &d);
        break;
    case TSR_NEG_MSG_TERMINATION:
        upd.error = "terminated by the counter-party";
        rc = tsr_store_neg_transition(dsp->st, n->id, n->state, "TERMINATED", &upd, NULL, &d);
        if (rc == 0)
            tsr_log_info(TSR_LC_DSP, "negotiation %s: terminated by %s", n->id, x->caller);
        break;
    default:
        /* FINALIZED event at the consumer; offers and requests we never
         * answer with a counter-offer land here too and just move state. */
        rc = tsr_store_neg_transition(dsp->st, n->id, n->state, tsr_neg_state_name(next), &upd,
                                      NULL, &d);
        if (rc == 0)
            tsr_log_info(TSR_LC_DSP, "negotiation %s: %s", n->id, tsr_neg_state_name(next));
        break;
    }
    if (rc == TSR_ESTATE) {
        tsr_dsp__error(x, 409, "409", n->consumer_pid, n->provider_pid,
                       "negotiation %s changed meanwhile; retry", n->id);
        goto out;
    }
    if (rc != 0) {
        tsr_dsp__error(x, 500, "500", n->consumer_pid, n->provider_pid, "%s", tsr_diag_msg(&d));
        goto out;
    }
    tsr_dsp__kick(dsp);
    tsr_dsp__send(x->dsp, x->req, 200, tsr_dsp_negotiation(n->consumer_pid, n->provider_pid, next));
out:
    tsr_store_neg_free(n);
    free(body);
    free(text);
    tsr_free(url);
}

void tsr_dsp__neg_route(struct tsr_dsp_ctx *x)
{
    struct tsr_store_neg *n;

    switch (x->route) {
    case R_NEG_REQUEST_INIT:
        provider_request_init(x);
        break;
    case R_NEG_OFFERS_INIT:
        consumer_offers_init(x);
        break;
    case R_NEG_GET_P:
    case R_NEG_GET_C:
        n = load(x, x->route == R_NEG_GET_P);
        if (n != NULL)
            reply_neg(x->dsp, x->req, 200, n);
        tsr_store_neg_free(n);
        break;
    default:
        neg_message(x);
        break;
    }
}

void tsr_dsp__neg_acked(struct tsr_dsp *dsp, const struct tsr_store_outbox_msg *m,
                        const json_t *answer)
{
    struct tsr_store_neg *n = NULL;
    struct tsr_dsp_msg a;

    if (m->on_ack != NULL && strcmp(m->on_ack, TSR_DSP_ACK_NEG_INIT) == 0 &&
        tsr_store_neg_get(dsp->st, m->entity_id, &n, NULL) == 0 && n->provider_pid == NULL) {
        if (answer != NULL && tsr_dsp_parse(answer, TSR_DSP_NEGOTIATION, &a, NULL) == 0 &&
            a.provider_pid != NULL) {
            struct tsr_store_neg_update upd = {.provider_pid = a.provider_pid};
            tsr_store_neg_transition(dsp->st, n->id, n->state, n->state, &upd, NULL, NULL);
        } else {
            tsr_log_warn(TSR_LC_DSP, "negotiation %s: the provider's answer has no providerPid",
                         n->id);
        }
    }
    tsr_store_neg_free(n);
    tsr_store_outbox_done(dsp->st, m->id, NULL);
}

void tsr_dsp__neg_failed(struct tsr_dsp *dsp, const struct tsr_store_outbox_msg *m,
                         const char *why)
{
    struct tsr_store_neg *n = NULL;
    enum tsr_neg_state s = TSR_NEG_INITIAL;

    if (tsr_store_neg_get(dsp->st, m->entity_id, &n, NULL) != 0)
        return;
    tsr_neg_state_parse(n->state, &s);
    if (!tsr_neg_is_terminal(s)) {
        struct tsr_store_neg_update upd = {.error = why};
        tsr_store_neg_transition(dsp->st, n->id, n->state, "TERMINATED", &upd, NULL, NULL);
    }
    tsr_store_neg_free(n);
}

void tsr_dsp__neg_recover(struct tsr_dsp *dsp)
{
    struct tsr_store_neg *v = NULL;
    size_t n = 0;
    struct tsr_store_filter f = {.role = TSR_STORE_ROLE_PROVIDER, .state = "REQUESTED",
                                 .limit = TSR_STORE_LIST_MAX};
    struct tsr_diag d = {0};

    /* A provider negotiation left in REQUESTED was recorded but not yet
     * decided when the daemon stopped: decide it now. */
    if (tsr_store_neg_list(dsp->st, &f, &v, &n, NULL) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!tsr_dsp__neg_hold(dsp, &v[i]) && provider_agree(dsp, &v[i], &d) != 0)
            tsr_log_warn(TSR_LC_DSP, "negotiation %s: %s", v[i].id, tsr_diag_msg(&d));
    }
    tsr_store_neg_array_free(v, n);
}

int tsr_dsp_negotiation_terminate(struct tsr_dsp *dsp, const char *id, const char *reason,
                                  struct tsr_diag *d)
{
    struct tsr_store_neg *n = NULL;
    enum tsr_neg_state s = TSR_NEG_INITIAL;
    char *body = NULL, *url = NULL;
    int rc;

    rc = tsr_store_neg_get(dsp->st, id, &n, d);
    if (rc != 0)
        return rc;
    tsr_neg_state_parse(n->state, &s);
    if (tsr_neg_is_terminal(s)) {
        rc = tsr_diag_set(d, TSR_ESTATE, "negotiation %s is already %s", id, n->state);
        goto out;
    }
    struct tsr_store_neg_update upd = {.error = reason != NULL ? reason : "terminated by us"};
    bool peer_known = strcmp(n->role, TSR_STORE_ROLE_PROVIDER) == 0 || n->provider_pid != NULL;
    struct tsr_store_outbox_msg o;
    if (peer_known) {
        body = tsr_dsp__dump(
            tsr_dsp_negotiation_termination(n->provider_pid, n->consumer_pid, "terminated",
                                            reason != NULL ? reason : "terminated by the peer"));
        url = peer_url(n, "termination");
        if (body == NULL || url == NULL) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            goto out;
        }
        tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_NEG, n->id, url, body, NULL);
    }
    rc = tsr_store_neg_transition(dsp->st, n->id, n->state, "TERMINATED", &upd,
                                  peer_known ? &o : NULL, d);
    if (rc == 0)
        tsr_dsp__kick(dsp);
out:
    tsr_store_neg_free(n);
    free(body);
    tsr_free(url);
    return rc;
}
