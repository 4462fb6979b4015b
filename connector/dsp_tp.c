/*
 * connector/dsp_tp.c: the transfer process, both roles, and a plain
 * HttpData-PULL data path: the provider's data endpoint checks a
 * short-lived token bound to the transfer and streams the asset's file;
 * the consumer pulls it into a ".part" file, hashes it on the way, renames
 * it into place when complete and then sends the completion message.
 *
 * The streaming data plane issue replaces the pull with the fast,
 * resumable one; the protocol side stays.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "connector/dsp_int.h"
#include "connector/usage.h"
#include "contracts/vault.h"
#include "lib/crypto.h"
#include "lib/filew.h"
#include "lib/jose.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/uuid.h"
#include "transports/client.h"
#include "transports/fields.h"
#include "transports/fileserve.h"
#include "transports/http.h"

#define FORMAT_PULL TSR_DSP_FORMAT_PULL
/* A consumer's pull is retried this often before the transfer fails. */
#define PULL_ATTEMPTS 5

static bool route_is_provider(enum tsr_dsp_route r)
{
    return r == R_TP_REQUEST || r == R_TP_GET_P || r == R_TP_START_P || r == R_TP_COMPLETE_P ||
           r == R_TP_SUSPEND_P || r == R_TP_TERMINATE_P;
}

static void reply_tp(struct tsr_dsp *dsp, struct tsr_http_req *req, int status,
                     const struct tsr_store_tp *t)
{
    enum tsr_tp_state s = TSR_TP_INITIAL;

    tsr_tp_state_parse(t->state, &s);
    tsr_dsp__send(dsp, req, status,
                   tsr_dsp_transfer_process(t->consumer_pid, t->provider_pid ? t->provider_pid : "",
                                            s));
}

static char *peer_url(const struct tsr_store_tp *t, const char *suffix)
{
    char path[600];
    bool provider = strcmp(t->role, TSR_STORE_ROLE_PROVIDER) == 0;

    snprintf(path, sizeof(path), "transfers/%s/%s", provider ? t->consumer_pid : t->provider_pid,
             suffix);
    return tsr_dsp__url(t->counterparty_url, path);
}

static struct tsr_store_tp *load(struct tsr_dsp_ctx *x, bool provider)
{
    struct tsr_store_tp *t = NULL;

    if (x->pid == NULL || tsr_store_tp_get(x->dsp->st, x->pid, &t, NULL) != 0 ||
        strcmp(t->role, provider ? TSR_STORE_ROLE_PROVIDER : TSR_STORE_ROLE_CONSUMER) != 0 ||
        t->counterparty_did == NULL || strcmp(t->counterparty_did, x->caller) != 0) {
        tsr_store_tp_free(t);
        tsr_dsp__error(x, 404, "404", provider ? NULL : x->pid, provider ? x->pid : NULL,
                       "no transfer process %s", x->pid ? x->pid : "");
        return NULL;
    }
    return t;
}

/* ------------------------------------------------------------ provider */

/* A data-access token: bound to the transfer, the agreement and the peer. */
char *tsr_dsp__data_token(struct tsr_dsp *dsp, const struct tsr_store_tp *t, int64_t lifetime_s)
{
    char kid[600], jti[TSR_UUID_URN_SIZE];
    char *out = NULL;
    int64_t now = tsr_time_now_ms() / 1000;

    snprintf(kid, sizeof(kid), "%s#key-1", dsp->did);
    tsr_uuid_v4_urn(jti);
    json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "iss", dsp->did, "sub", t->id,
                               "aud", t->counterparty_did, "agreement", t->agreement_id, "jti", jti,
                               "iat", (json_int_t)now, "exp",
                               (json_int_t)now + (json_int_t)lifetime_s);
    if (claims != NULL)
        (void)tsr_jwt_sign(dsp->key, kid, "JWT", claims, &out, NULL);
    json_decref(claims);
    return out;
}

/*
 * Provider: may t's consumer use t's agreement now (not expired, not
 * before its start, count left)?  Nothing is counted.  0, TSR_EPOLICY
 * with why, or a store error.
 */
static int provider_permits(struct tsr_dsp *dsp, const struct tsr_store_tp *t, struct tsr_diag *d)
{
    struct tsr_store_agreement *a = NULL;
    int rc;

    if (dsp->policy == NULL)
        return 0;
    rc = tsr_store_agreement_get(dsp->st, t->agreement_id, &a, d);
    if (rc == 0)
        rc = tsr_policy_holds(dsp->policy, a, t->counterparty_did, tsr_time_now_ms(), d);
    tsr_store_agreement_free(a);
    return rc;
}

/*
 * Provider: start push t: the consumer gave the destination in its
 * request (kept as t's data address), so the start message carries none;
 * the push begins once STARTED is committed.
 */
static int provider_start_push(struct tsr_dsp *dsp, const struct tsr_store_tp *t,
                               struct tsr_diag *d)
{
    char *body = tsr_dsp__dump(tsr_dsp_transfer_start(t->provider_pid, t->consumer_pid, NULL));
    char *url = peer_url(t, "start");
    struct tsr_store_tp *now = NULL;
    int rc;

    if (body == NULL || url == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "cannot build the start message");
        goto out;
    }
    struct tsr_store_outbox_msg o;
    tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_TP, t->id, url, body, NULL);
    rc = tsr_store_tp_transition(dsp->st, t->id, t->state, "STARTED", NULL, &o, d);
    if (rc != 0)
        goto out;
    tsr_log_info(TSR_LC_DSP, "transfer %s: started, pushing to %s", t->id, t->counterparty_did);
    tsr_dsp__kick(dsp);
    tsr_dsp__monitor_watch(dsp, t->id);
    if (tsr_store_tp_get(dsp->st, t->id, &now, NULL) == 0)
        tsr_dsp__push_start(dsp, now);
out:
    tsr_store_tp_free(now);
    free(body);
    tsr_free(url);
    return rc;
}

/* Provider: start t (REQUESTED or SUSPENDED) with a fresh data address, if its agreement holds. */
static int provider_start(struct tsr_dsp *dsp, const struct tsr_store_tp *t, struct tsr_diag *d)
{
    char *token = NULL;
    char *endpoint = NULL, *body = NULL, *url = NULL, *addr_text = NULL;
    json_t *addr = NULL;
    char path[600];
    int rc;

    rc = provider_permits(dsp, t, d);
    if (rc != 0)
        return rc;
    if (t->transfer_type != NULL && strcmp(t->transfer_type, TSR_DSP_FORMAT_PUSH) == 0)
        return provider_start_push(dsp, t, d);
    token = tsr_dsp__data_token(dsp, t, (int64_t)(dsp->token_lifetime_ms / 1000));
    snprintf(path, sizeof(path), "%s/%s", TSR_DSP_DATA_PATH, t->id);
    endpoint = tsr_dsp__url(dsp->public_url, path);
    if (token != NULL && endpoint != NULL)
        addr = tsr_dsp_data_address(endpoint, token, "bearer");
    if (addr != NULL) {
        addr_text = json_dumps(addr, JSON_COMPACT);
        body = tsr_dsp__dump(tsr_dsp_transfer_start(t->provider_pid, t->consumer_pid, addr));
    }
    url = peer_url(t, "start");
    if (addr_text == NULL || body == NULL || url == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "cannot build the start message");
        goto out;
    }
    struct tsr_store_tp_update upd = {.data_address_json = addr_text};
    struct tsr_store_outbox_msg o;
    tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_TP, t->id, url, body, NULL);
    rc = tsr_store_tp_transition(dsp->st, t->id, t->state, "STARTED", &upd, &o, d);
    if (rc == 0) {
        tsr_log_info(TSR_LC_DSP, "transfer %s: started for %s", t->id, t->counterparty_did);
        tsr_dsp__kick(dsp);
        /* Watch the agreement for as long as the transfer runs. */
        tsr_dsp__monitor_watch(dsp, t->id);
    }
out:
    json_decref(addr);
    tsr_free_secret(token);
    tsr_free(endpoint);
    free(body);
    if (addr_text != NULL) {
        tsr_wipe(addr_text, strlen(addr_text));
        free(addr_text);
    }
    tsr_free(url);
    return rc;
}

/* POST /transfers/request */
static void provider_request(struct tsr_dsp_ctx *x)
{
    struct tsr_dsp *dsp = x->dsp;
    struct tsr_dsp_msg m;
    struct tsr_store_tp *t = NULL;
    struct tsr_store_agreement *a = NULL;
    struct tsr_store_neg *n = NULL;
    struct tsr_diag d = {0};

    if (tsr_dsp__parse(x, TSR_DSP_TRANSFER_REQUEST, &m) != 0)
        return;
    const char *cpid = m.consumer_pid;
    if (tsr_store_tp_find_consumer_pid(dsp->st, TSR_STORE_ROLE_PROVIDER, cpid, &t, NULL) == 0) {
        if (strcmp(t->counterparty_did, x->caller) == 0)
            reply_tp(x->dsp, x->req, 201, t);
        else
            tsr_dsp__error(x, 400, "400", cpid, NULL, "consumerPid %s is already in use", cpid);
        goto out;
    }
    if (m.agreement_id == NULL || tsr_store_agreement_get(dsp->st, m.agreement_id, &a, NULL) != 0 ||
        strcmp(a->provider_did, dsp->did) != 0 || strcmp(a->consumer_did, x->caller) != 0) {
        /* Someone else's agreement looks like no agreement at all. */
        tsr_dsp__error(x, 400, "400", cpid, NULL, "no agreement %s with %s",
                       m.agreement_id ? m.agreement_id : "(none)", x->caller);
        goto out;
    }
    if (tsr_store_neg_get(dsp->st, a->negotiation_id, &n, NULL) != 0 ||
        strcmp(n->state, "FINALIZED") != 0) {
        tsr_dsp__error(x, 400, "400", cpid, NULL, "agreement %s is not finalized", a->id);
        goto out;
    }
    bool push = m.format != NULL && strcmp(m.format, TSR_DSP_FORMAT_PUSH) == 0;
    if (m.format == NULL || (!push && strcmp(m.format, FORMAT_PULL) != 0)) {
        tsr_dsp__error(x, 400, "400", cpid, NULL,
                       "transfer format %s is not offered (use %s or %s)",
                       m.format ? m.format : "(none)", FORMAT_PULL, TSR_DSP_FORMAT_PUSH);
        goto out;
    }
    bool edc = false;
    if (push && tsr_dsp__push_url(m.data_address, &edc) == NULL) {
        tsr_dsp__error(x, 400, "400", cpid, NULL,
                       "an %s request needs a dataAddress with an http(s) endpoint",
                       TSR_DSP_FORMAT_PUSH);
        goto out;
    }
    if (m.callback_address == NULL) {
        tsr_dsp__error(x, 400, "400", cpid, NULL, "callbackAddress is required");
        goto out;
    }
    if (dsp->policy != NULL) {
        int prc = tsr_policy_holds(dsp->policy, a, x->caller, tsr_time_now_ms(), &d);
        if (prc != 0) {
            tsr_log_info(TSR_LC_POLICY, "transfer request from %s refused: %s", x->caller,
                         tsr_diag_msg(&d));
            tsr_dsp__error(x, prc == TSR_EPOLICY ? 403 : 500, prc == TSR_EPOLICY ? "403" : "500",
                           cpid, NULL, "%s", tsr_diag_msg(&d));
            goto out;
        }
    }
    char ppid[TSR_UUID_URN_SIZE];
    tsr_uuid_v4_urn(ppid);
    struct tsr_store_tp nt = {
        .id = ppid,
        .role = (char *)TSR_STORE_ROLE_PROVIDER,
        .state = (char *)"REQUESTED",
        .consumer_pid = (char *)cpid,
        .provider_pid = ppid,
        .agreement_id = a->id,
        .counterparty_did = (char *)x->caller,
        .counterparty_url = (char *)m.callback_address,
        .transfer_type = (char *)(push ? TSR_DSP_FORMAT_PUSH : FORMAT_PULL),
    };
    char *dest_text = push ? json_dumps(m.data_address, JSON_COMPACT) : NULL;
    nt.data_address_json = dest_text;
    int rc = push && dest_text == NULL ? tsr_diag_set(&d, TSR_ENOMEM, "out of memory")
                                       : tsr_store_tp_create(dsp->st, &nt, NULL, &d);
    if (dest_text != NULL) {
        tsr_wipe(dest_text, strlen(dest_text));
        free(dest_text);
    }
    if (rc != 0) {
        tsr_dsp__error(x, 500, "500", cpid, NULL, "%s", tsr_diag_msg(&d));
        goto out;
    }
    tsr_log_info(TSR_LC_DSP, "transfer %s: %s requests agreement %s", ppid, x->caller, a->id);
    tsr_dsp__send(x->dsp, x->req, 201, tsr_dsp_transfer_process(cpid, ppid, TSR_TP_REQUESTED));
    tsr_store_tp_free(t);
    t = NULL;
    if (tsr_store_tp_get(dsp->st, ppid, &t, NULL) == 0 && !tsr_dsp__tp_hold(dsp, t, "start") &&
        provider_start(dsp, t, &d) != 0)
        tsr_log_warn(TSR_LC_DSP, "transfer %s: cannot start yet: %s", ppid, tsr_diag_msg(&d));
out:
    tsr_store_tp_free(t);
    tsr_store_agreement_free(a);
    tsr_store_neg_free(n);
}

/* ------------------------------------------------------------ data endpoint */

/*
 * A data response in progress, so that a transfer that leaves STARTED
 * (suspended, terminated, completed, its agreement no longer holding)
 * stops sending at once rather than when the file ends.
 */
struct tsr_dsp_flow {
    struct tsr_dsp_flow *prev, *next;
    struct tsr_dsp *dsp;
    struct tsr_http_file *f; /* NULL until the response started */
    int64_t t0_ms;           /* when it started (its rate) */
    char id[TSR_STORE_ID_MAX + 1];
};

static void flow_ended(void *arg, bool complete, uint64_t sent)
{
    struct tsr_dsp_flow *fl = arg;
    struct tsr_dsp *dsp = fl->dsp;

    tsr_log_debug(TSR_LC_DATA, "transfer %s: a response ended (%s, %llu bytes)", fl->id,
                  complete ? "whole" : "cut", (unsigned long long)sent);
    dsp->data_bytes += sent;
    if (fl->prev != NULL)
        fl->prev->next = fl->next;
    else
        dsp->flows = fl->next;
    if (fl->next != NULL)
        fl->next->prev = fl->prev;
    tsr_free(fl);
}

void tsr_dsp__flows_stop(struct tsr_dsp *dsp, const char *id)
{
    struct tsr_dsp_flow *fl = dsp->flows, *next;

    for (; fl != NULL; fl = next) {
        next = fl->next;
        if (fl->f != NULL && strcmp(fl->id, id) == 0) {
            tsr_log_info(TSR_LC_DATA, "transfer %s: stopping a response in progress", id);
            /* flow_ended may free fl and its neighbours' links change: start over. */
            tsr_http_file_stop(fl->f);
            next = dsp->flows;
        }
    }
}

static void data_error(struct tsr_http_req *req, int status, const char *msg)
{
    json_t *j = json_pack("{s:s}", "error", msg);
    tsr_dsp__reply(req, status, j);
}

/* 403 {"error": why, "code": "policy", "decision": {...}}: what the engine decided and why. */
static void data_refused(struct tsr_dsp *dsp, struct tsr_http_req *req, const char *why)
{
    json_t *j = json_pack("{s:s, s:s, s:o*}", "error", why, "code", "policy", "decision",
                          tsr_odrl_decision_json(tsr_policy_last_decision(dsp->policy)));
    tsr_dsp__reply(req, 403, j);
}

void tsr_dsp__data(struct tsr_http_req *req, void *arg)
{
    struct tsr_dsp *dsp = arg;
    const char *pid = tsr_http_req_param(req, "pid");
    const char *auth = tsr_http_req_header(req, "authorization");
    struct tsr_store_tp *t = NULL;
    struct tsr_store_agreement *a = NULL;
    struct tsr_store_asset *as = NULL;
    struct tsr_diag d = {0};
    char msg[600];

    if (auth == NULL) {
        data_error(req, 401, "a data-access token is required");
        return;
    }
    if (strncasecmp(auth, "Bearer ", 7) == 0)
        auth += 7;
    struct tsr_jwt_expect exp = {
        .iss = dsp->did,
        .sub = pid,
        .leeway = 30,
        .require_jti = true,
    };
    if (tsr_jwt_verify(dsp->key, auth, &exp, NULL, &d) != 0) {
        snprintf(msg, sizeof(msg), "token refused: %s", tsr_diag_msg(&d));
        data_error(req, 401, msg);
        return;
    }
    if (tsr_store_tp_get(dsp->st, pid, &t, NULL) != 0 ||
        strcmp(t->role, TSR_STORE_ROLE_PROVIDER) != 0) {
        data_error(req, 404, "no such transfer");
        goto out;
    }
    if (strcmp(t->state, "STARTED") != 0) {
        snprintf(msg, sizeof(msg), "transfer %s is %s", t->id, t->state);
        data_error(req, 403, msg);
        goto out;
    }
    if (tsr_store_agreement_get(dsp->st, t->agreement_id, &a, NULL) != 0 ||
        tsr_store_asset_get(dsp->st, a->asset_id, &as, NULL) != 0) {
        data_error(req, 410, "the agreed asset no longer exists");
        goto out;
    }
    /* Every data request is a use: decided and counted against the agreement. */
    if (dsp->policy != NULL) {
        int rc = tsr_policy_use(dsp->policy, a, t->counterparty_did, tsr_time_now_ms(), true, &d);
        if (rc == TSR_EPOLICY) {
            tsr_log_info(TSR_LC_POLICY, "transfer %s: data request refused: %s", t->id,
                         tsr_diag_msg(&d));
            data_refused(dsp, req, tsr_diag_msg(&d));
            /* Used up or expired for good (not a pause): the transfer ends here. */
            tsr_dsp__monitor_watch(dsp, t->id);
            goto out;
        }
        if (rc != 0) {
            /* Fail closed: no decision, no data. */
            tsr_log_error(TSR_LC_POLICY, "transfer %s: cannot decide: %s", t->id,
                          tsr_diag_msg(&d));
            data_error(req, rc == TSR_EINVAL ? 403 : 503, tsr_diag_msg(&d));
            goto out;
        }
    }
    if (strcmp(as->source_kind, "file") != 0) {
        data_error(req, 501, "only file assets can be pulled by this version");
        goto out;
    }
    int fd = open(as->source, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        tsr_log_error(TSR_LC_DATA, "transfer %s: cannot read %s: %s", t->id, as->source,
                      strerror(errno));
        data_error(req, 500, "the asset cannot be read");
        goto out;
    }
    /*
     * The digest was taken when the asset was added: a file that changed
     * size since is not what was agreed (one that changed in place is
     * caught by the consumer, whose digest will not match).
     */
    if (as->size >= 0 && (int64_t)sb.st_size != as->size) {
        close(fd);
        tsr_log_error(TSR_LC_DATA, "transfer %s: %s changed since it was added (%lld bytes, "
                      "not %lld)", t->id, as->source, (long long)sb.st_size,
                      (long long)as->size);
        data_error(req, 409, "the asset changed since it was offered");
        goto out;
    }
    uint8_t md[TSR_SHA256_LEN];
    size_t mdlen = 0;
    bool have_md = as->sha256 != NULL &&
                   tsr_hex_decode(as->sha256, strlen(as->sha256), md, sizeof(md), &mdlen) == 0 &&
                   mdlen == sizeof(md);
    struct tsr_dsp_flow *fl = tsr_calloc(1, sizeof(*fl));
    if (fl == NULL) {
        close(fd);
        data_error(req, 503, "out of memory");
        goto out;
    }
    fl->dsp = dsp;
    fl->t0_ms = tsr_time_now_ms();
    snprintf(fl->id, sizeof(fl->id), "%s", t->id);
    fl->next = dsp->flows;
    if (dsp->flows != NULL)
        dsp->flows->prev = fl;
    dsp->flows = fl;
    struct tsr_http_file_opts fo = {
        .content_type = as->media_type,
        .sha256 = have_md ? md : NULL,
        .on_end = flow_ended,
        .arg = fl,
    };
    struct tsr_http_file *f = NULL;
    if (tsr_http_respond_file(req, fd, &fo, &f, &d) != 0) {
        flow_ended(fl, false, 0); /* on_end never runs after a failed start */
        tsr_log_error(TSR_LC_DATA, "transfer %s: %s", t->id, tsr_diag_msg(&d));
        data_error(req, 500, "the asset cannot be served");
        goto out;
    }
    if (f != NULL)
        fl->f = f; /* else it already ended, and flow_ended freed fl */
out:
    tsr_store_tp_free(t);
    tsr_store_agreement_free(a);
    tsr_store_asset_free(as);
}

/* ------------------------------------------------------------ consumer pull */

struct tsr_dsp_pull {
    struct tsr_dsp_pull *prev, *next;
    struct tsr_dsp *dsp;
    char *id;
    char *part;
    char *dest;                 /* NULL: the data only goes into the vault */
    struct tsr_filew fw;        /* without usage control: the .part file */
    struct tsr_vault_writer *w; /* with usage control: the vault object being written */
    struct tsr_sha256 sha;
    uint64_t bytes;
    char *agreement_id;         /* to start a vault object over */
    /*
     * What the first answer said of the whole representation, which a
     * resumed answer (206) must repeat: its size (0: not known) and its
     * Repr-Digest as hex ("": none).
     */
    uint64_t total;
    char digest[TSR_SHA256_HEX_SIZE];
    uint64_t asked;             /* the offset the request in flight asked for */
    int attempts;               /* failures in a row without progress */
    struct tsr_dsp_rate rate;
    struct tsr_client_xfer *xfer;
    struct event *retry;
};

static void pull_start(struct tsr_dsp *dsp, const struct tsr_store_tp *t);

static void pull_free(struct tsr_dsp_pull *p)
{
    struct tsr_dsp *dsp = p->dsp;

    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        dsp->pulls = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    if (p->xfer != NULL)
        tsr_client_cancel(p->xfer);
    if (p->retry != NULL)
        event_free(p->retry);
    tsr_filew_close(&p->fw);
    tsr_vault_writer_free(p->w);
    tsr_sha256_cleanup(&p->sha);
    tsr_free(p->agreement_id);
    tsr_free(p->id);
    tsr_free(p->part);
    tsr_free(p->dest);
    tsr_free(p);
}

void tsr_dsp__pulls_free(struct tsr_dsp *dsp)
{
    while (dsp->pulls != NULL)
        pull_free(dsp->pulls);
    tsr_dsp__pushes_free(dsp);
}

void tsr_dsp__rate_add(struct tsr_dsp *dsp, struct tsr_dsp_rate *r, uint64_t bytes_now,
                       uint64_t n)
{
    int64_t now = tsr_time_now_ms();

    dsp->data_bytes += n;
    if (r->t0_ms == 0 || bytes_now < r->b0) {
        r->t0_ms = now;
        r->b0 = bytes_now - n;
        return;
    }
    /* A new window every second: the rate follows the link, not the average since the start. */
    if (now - r->t0_ms >= 1000) {
        r->bps = (bytes_now - r->b0) * 1000 / (uint64_t)(now - r->t0_ms);
        r->t0_ms = now;
        r->b0 = bytes_now;
    }
}

/* The rate to show: the last window's, or the current one's while the first runs. */
static uint64_t rate_now(const struct tsr_dsp_rate *r, uint64_t bytes_now)
{
    int64_t el = tsr_time_now_ms() - r->t0_ms;

    if (r->bps != 0 || r->t0_ms == 0)
        return r->bps;
    return el > 0 && bytes_now >= r->b0 ? (bytes_now - r->b0) * 1000 / (uint64_t)el : 0;
}

int tsr_dsp_transfer_progress(struct tsr_dsp *dsp, const char *id, struct tsr_dsp_progress *out)
{
    memset(out, 0, sizeof(*out));
    for (const struct tsr_dsp_pull *p = dsp->pulls; p != NULL; p = p->next) {
        if (strcmp(p->id, id) == 0) {
            out->bytes = p->bytes;
            out->total = p->total;
            out->rate_bps = p->xfer != NULL ? rate_now(&p->rate, p->bytes) : 0;
            return 0;
        }
    }
    /* A provider's response: where it is in the file, and its average rate. */
    for (const struct tsr_dsp_flow *f = dsp->flows; f != NULL; f = f->next) {
        if (f->f != NULL && strcmp(f->id, id) == 0) {
            uint64_t sent = 0;
            int64_t el = tsr_time_now_ms() - f->t0_ms;
            tsr_http_file_where(f->f, &out->bytes, &out->total, &sent);
            out->rate_bps = el > 0 ? sent * 1000 / (uint64_t)el : 0;
            return 0;
        }
    }
    return tsr_dsp__push_progress(dsp, id, out);
}

void tsr_dsp_data_stats(struct tsr_dsp *dsp, struct tsr_dsp_data_stats *out)
{
    out->active = tsr_dsp__push_count(dsp);
    for (const struct tsr_dsp_pull *p = dsp->pulls; p != NULL; p = p->next)
        out->active++;
    for (const struct tsr_dsp_flow *f = dsp->flows; f != NULL; f = f->next)
        out->active++;
    out->bytes_moved = dsp->data_bytes;
}

static int pull_write(void *arg, const void *data, size_t len)
{
    struct tsr_dsp_pull *p = arg;
    const char *q = data;

    /* The vault writer hashes what it seals; a plain file is hashed here. */
    if (p->w != NULL) {
        if (tsr_vault_writer_write(p->w, data, len, NULL) != 0)
            return TSR_EIO;
    } else {
        if (tsr_filew_write(&p->fw, q, len) != 0)
            return TSR_EIO;
        tsr_sha256_update(&p->sha, q, len);
    }
    p->bytes += len;
    tsr_dsp__rate_add(p->dsp, &p->rate, p->bytes, len);
    return 0;
}

/* Consumer: end a transfer of ours with a message to the provider. */
int tsr_dsp__tp_end(struct tsr_dsp *dsp, const struct tsr_store_tp *t, const char *state,
                    const struct tsr_store_tp_update *upd, const char *reason,
                    struct tsr_diag *d)
{
    bool done = strcmp(state, "COMPLETED") == 0;
    char *body = NULL, *url = NULL;
    int rc;

    if (t->provider_pid != NULL || strcmp(t->role, TSR_STORE_ROLE_PROVIDER) == 0) {
        body = tsr_dsp__dump(done ? tsr_dsp_transfer_completion(t->provider_pid, t->consumer_pid)
                                  : tsr_dsp_transfer_termination(t->provider_pid, t->consumer_pid,
                                                                 "terminated", reason));
        url = peer_url(t, done ? "completion" : "termination");
    }
    struct tsr_store_outbox_msg o;
    if (body != NULL && url != NULL)
        tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_TP, t->id, url, body, NULL);
    rc = tsr_store_tp_transition(dsp->st, t->id, t->state, state, upd,
                                 body != NULL && url != NULL ? &o : NULL, d);
    if (rc == 0)
        tsr_dsp__kick(dsp);
    free(body);
    tsr_free(url);
    return rc;
}

static int pull_request(struct tsr_dsp_pull *p, const struct tsr_store_tp *t);

/* The retry timer: ask again, from where the data stopped, if the transfer still runs. */
static void pull_retry(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_dsp_pull *p = arg;
    struct tsr_dsp *dsp = p->dsp;
    struct tsr_store_tp *t = NULL;

    (void)fd;
    (void)what;
    event_free(p->retry);
    p->retry = NULL;
    if (tsr_store_tp_get(dsp->st, p->id, &t, NULL) != 0 || strcmp(t->state, "STARTED") != 0 ||
        pull_request(p, t) != 0)
        pull_free(p);
    tsr_store_tp_free(t);
}

/*
 * The SHA-256 a Repr-Digest header announces, as hex.  0, TSR_ENOTFOUND
 * (none) or TSR_EINVAL (malformed: the caller must not trust the data).
 */
static int repr_digest(const char *value, char hex[TSR_SHA256_HEX_SIZE])
{
    uint8_t md[TSR_SHA256_LEN];

    if (value == NULL)
        return TSR_ENOTFOUND;
    int rc = tsr_http_repr_digest_parse(value, md);
    if (rc == 0)
        tsr_hex_encode(md, TSR_SHA256_LEN, hex);
    return rc;
}

/* Forget what was received so far: the next bytes are the start of the data again. */
static int pull_reset(struct tsr_dsp_pull *p, struct tsr_diag *d)
{
    struct tsr_dsp *dsp = p->dsp;

    p->bytes = 0;
    if (p->w != NULL) {
        tsr_vault_writer_free(p->w);
        p->w = NULL;
        return tsr_vault_writer_new(tsr_usage_vault(dsp->usage), p->agreement_id, p->id, NULL,
                                    &p->w, d);
    }
    uint64_t off = 0;
    tsr_filew_close(&p->fw);
    tsr_sha256_cleanup(&p->sha);
    if (tsr_sha256_init(&p->sha) != 0)
        return tsr_diag_set(d, TSR_ENOMEM, "cannot hash");
    return tsr_filew_open(&p->fw, p->part, 0600, (size_t)1 << 20, &off, d);
}

/*
 * The answer's head, before its first byte: a whole representation (200)
 * or the rest of the one we began (206, which must start where we stopped
 * and describe the same size and digest as the first answer did).
 */
static int pull_head(void *arg, const struct tsr_client_resp *resp)
{
    struct tsr_dsp_pull *p = arg;
    char hex[TSR_SHA256_HEX_SIZE];
    uint64_t first, last, size = 0;
    int rc = repr_digest(tsr_client_resp_header(resp, "repr-digest"), hex);

    if (rc == TSR_EINVAL) {
        tsr_log_warn(TSR_LC_DATA, "transfer %s: the provider's Repr-Digest is malformed", p->id);
        return TSR_EPROTO;
    }
    if (resp->status == 206) {
        const char *cr = tsr_client_resp_header(resp, "content-range");
        if (tsr_http_content_range_parse(cr, &first, &last, &size) != 0 || first != p->asked ||
            last + 1 != size || (p->total != 0 && size != p->total) ||
            (rc == 0 && p->digest[0] != '\0' && strcmp(hex, p->digest) != 0)) {
            tsr_log_warn(TSR_LC_DATA, "transfer %s: the resumed answer does not continue the "
                         "data (Content-Range %s): starting over", p->id, cr ? cr : "none");
            p->total = 0;
            p->digest[0] = '\0';
            return TSR_EPROTO; /* the retry after this one starts from 0 */
        }
        tsr_log_info(TSR_LC_DATA, "transfer %s: resuming at byte %llu of %llu", p->id,
                     (unsigned long long)first, (unsigned long long)size);
        /* After a restart this is the first answer: it says what the whole must be. */
        p->total = size;
        if (p->digest[0] == '\0' && rc == 0)
            snprintf(p->digest, sizeof(p->digest), "%s", hex);
        return 0;
    }
    if (resp->status != 200)
        return TSR_EPROTO;
    if (p->bytes > 0) {
        struct tsr_diag d = {0};
        tsr_log_info(TSR_LC_DATA, "transfer %s: the provider sent the whole data again",
                     p->id);
        if (pull_reset(p, &d) != 0) {
            tsr_log_warn(TSR_LC_DATA, "transfer %s: %s", p->id, tsr_diag_msg(&d));
            return TSR_EIO;
        }
    }
    const char *cl = tsr_client_resp_header(resp, "content-length");
    p->total = cl != NULL && tsr_parse_u64(cl, UINT64_MAX, &size) == 0 ? size : 0;
    snprintf(p->digest, sizeof(p->digest), "%s", rc == 0 ? hex : "");
    return 0;
}

/*
 * Consumer, --out: one copy of the vault object through a checked use.
 * why (whylen > 0) is "" when the copy is in place, else the reason.
 */
static void pull_export(struct tsr_dsp *dsp, const struct tsr_store_tp *t, const char *obj,
                        char *why, size_t whylen)
{
    struct tsr_vault_reader *r = NULL;
    struct tsr_diag d = {0};
    size_t plen = strlen(t->dest_path) + 8;
    char *part = tsr_malloc(plen), *buf = tsr_malloc(TSR_VAULT_SEGMENT);
    bool eof = false;
    int fd = -1;

    why[0] = '\0';

    if (part == NULL || buf == NULL) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    snprintf(part, plen, "%s.part", t->dest_path);
    if (tsr_usage_open(dsp->usage, obj, NULL, &r, NULL, &d) != 0) {
        snprintf(why, whylen, "the copy to %s was refused: %s", t->dest_path,
                 tsr_diag_msg(&d));
        goto out;
    }
    fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, whylen, "cannot create %s: %s", part, strerror(errno));
        goto out;
    }
    while (!eof) {
        ssize_t n = tsr_vault_reader_read(r, buf, TSR_VAULT_SEGMENT, &eof, &d);
        if (n < 0) {
            snprintf(why, whylen, "the vault copy does not decrypt: %s", tsr_diag_msg(&d));
            goto out;
        }
        if (tsr_write_all(fd, buf, (size_t)n) != 0) {
            snprintf(why, whylen, "cannot write %s: %s", part, strerror(errno));
            goto out;
        }
    }
    if (fsync(fd) != 0 || rename(part, t->dest_path) != 0)
        snprintf(why, whylen, "cannot write %s: %s", t->dest_path, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (why[0] != '\0') {
        if (part != NULL)
            unlink(part);
        tsr_log_warn(TSR_LC_DATA, "transfer %s: %s", t->id, why);
    } else {
        tsr_log_info(TSR_LC_DATA, "transfer %s: a copy exported to %s", t->id, t->dest_path);
    }
    tsr_vault_reader_free(r);
    tsr_free(part);
    tsr_free(buf);
}

/*
 * Consumer: vault object obj holds transfer t's data: record the arrival
 * and the agreement's duties, export the --out copy, then complete the
 * transfer.  After a crash anywhere in here the pull restarts, finds the
 * object of the transfer and comes here again (duties are recorded once).
 */
static void pull_complete(struct tsr_dsp *dsp, const struct tsr_store_tp *t, const char *obj,
                          uint64_t bytes, const char *hex)
{
    struct tsr_diag d = {0};
    char why[800] = "";

    tsr_usage_received(dsp->usage, t->agreement_id, t->id, obj, bytes, hex);
    if (t->dest_path != NULL)
        pull_export(dsp, t, obj, why, sizeof(why));
    struct tsr_store_tp_update upd = {.sha256 = hex, .set_bytes = true, .bytes = (int64_t)bytes,
                                      .error = why};
    if (tsr_dsp__tp_end(dsp, t, "COMPLETED", &upd, NULL, &d) != 0)
        tsr_log_error(TSR_LC_DATA, "transfer %s: %s", t->id, tsr_diag_msg(&d));
}

/*
 * Consumer: the whole body is in: seal the vault object (its digest must
 * match the announced one) and complete.  0, or an error with why filled
 * (nothing was kept).
 */
static int pull_into_vault(struct tsr_dsp_pull *p, const struct tsr_store_tp *t, char *why,
                           size_t whylen)
{
    struct tsr_dsp *dsp = p->dsp;
    char hex[TSR_SHA256_HEX_SIZE];
    struct tsr_diag d = {0};
    char *obj = NULL;
    int rc;

    /* The provider's announced digest, when it sent one, is what must match. */
    rc = tsr_vault_writer_finish(p->w, p->digest[0] != '\0' ? p->digest : NULL, &obj, hex, &d);
    if (rc != 0) {
        snprintf(why, whylen, "%s", tsr_diag_msg(&d));
        return rc;
    }
    tsr_log_info(TSR_LC_DATA, "transfer %s: %llu bytes received into the vault as %s "
                 "(sha-256 %s)", t->id, (unsigned long long)p->bytes, obj, hex);
    pull_complete(dsp, t, obj, p->bytes, hex);
    tsr_free(obj);
    return 0;
}

static void pull_done(void *arg, struct tsr_client_resp *resp)
{
    struct tsr_dsp_pull *p = arg;
    struct tsr_dsp *dsp = p->dsp;
    struct tsr_store_tp *t = NULL;
    struct tsr_diag d = {0};
    char why[600];
    bool start_over = false;

    p->xfer = NULL;
    if (tsr_store_tp_get(dsp->st, p->id, &t, NULL) != 0 || strcmp(t->state, "STARTED") != 0) {
        /* Suspended or terminated meanwhile: the partial data goes. */
        if (p->part != NULL)
            unlink(p->part);
        goto out;
    }
    bool answered = resp->rc == 0 && (resp->status == 200 || resp->status == 206);
    if (answered && p->total != 0 && p->bytes != p->total) {
        snprintf(why, sizeof(why), "the data ended after %llu of %llu bytes",
                 (unsigned long long)p->bytes, (unsigned long long)p->total);
    } else if (answered && p->w != NULL) {
        if (pull_into_vault(p, t, why, sizeof(why)) == 0)
            goto out;
        start_over = true; /* not what was announced: nothing was kept */
    } else if (answered) {
        unsigned char md[TSR_SHA256_LEN];
        char hex[TSR_SHA256_HEX_SIZE];
        if (tsr_filew_finish(&p->fw, true) != 0 || tsr_sha256_final(&p->sha, md) != 0) {
            snprintf(why, sizeof(why), "cannot write %s: %s", p->part, strerror(errno));
            start_over = true;
        } else if (tsr_hex_encode(md, sizeof(md), hex),
                   p->digest[0] != '\0' && strcmp(hex, p->digest) != 0) {
            snprintf(why, sizeof(why), "the data's SHA-256 is %s, not the announced %s", hex,
                     p->digest);
            start_over = true;
        } else if (rename(p->part, p->dest) != 0) {
            snprintf(why, sizeof(why), "cannot move the data to %s: %s", p->dest, strerror(errno));
            start_over = true;
        } else {
            struct tsr_store_tp_update upd = {.sha256 = hex, .set_bytes = true,
                                              .bytes = (int64_t)p->bytes, .error = ""};
            if (tsr_dsp__tp_end(dsp, t, "COMPLETED", &upd, NULL, &d) != 0)
                tsr_log_error(TSR_LC_DATA, "transfer %s: %s", t->id, tsr_diag_msg(&d));
            else
                tsr_log_info(TSR_LC_DATA, "transfer %s: %llu bytes received into %s (sha-256 %s)",
                             t->id, (unsigned long long)p->bytes, p->dest, hex);
            goto out;
        }
    } else if (resp->rc != 0) {
        snprintf(why, sizeof(why), "%s", tsr_diag_msg(&resp->diag));
        start_over = resp->rc == TSR_EPROTO; /* e.g. a 206 that did not continue the data */
    } else {
        snprintf(why, sizeof(why), "HTTP %d: %.300s", resp->status, tsr_buf_str(&resp->body));
    }
    /*
     * Bytes arrived since the last try and can be kept: the link works,
     * count failures afresh (data that failed its check counts as a failure).
     */
    if (!start_over && p->bytes > p->asked)
        p->attempts = 0;
    if (p->attempts + 1 >= PULL_ATTEMPTS ||
        (resp->rc == 0 && resp->status >= 400 && resp->status < 500 && resp->status != 408 &&
         resp->status != 429)) {
        struct tsr_store_tp_update upd = {.error = why};
        tsr_log_warn(TSR_LC_DATA, "transfer %s: pull failed: %s", t->id, why);
        if (p->part != NULL)
            unlink(p->part);
        tsr_dsp__tp_end(dsp, t, "TERMINATED", &upd, why, NULL);
        goto out;
    }
    if (start_over && pull_reset(p, &d) != 0) {
        struct tsr_store_tp_update upd = {.error = tsr_diag_msg(&d)};
        tsr_dsp__tp_end(dsp, t, "TERMINATED", &upd, "the consumer cannot store the data", NULL);
        goto out;
    }
    p->attempts++;
    tsr_log_info(TSR_LC_DATA, "transfer %s: pull failed (%s); retrying %s", t->id, why,
                 p->bytes > 0 ? "from where it stopped" : "from the start");
    p->retry = evtimer_new(dsp->base, pull_retry, p);
    if (p->retry != NULL) {
        /* 0.5, 1, 2, 4 s: long enough for a restarted provider. */
        long ms = 500L << (p->attempts - 1 < 4 ? p->attempts - 1 : 4);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(p->retry, &tv);
        tsr_store_tp_free(t);
        return;
    }
out:
    tsr_store_tp_free(t);
    pull_free(p);
}

/*
 * Ask the provider for the data of t, from byte p->bytes on (a Range
 * request when some arrived already).  0, or an error after which the
 * caller frees p (t was terminated when the address is unusable).
 */
static int pull_request(struct tsr_dsp_pull *p, const struct tsr_store_tp *t)
{
    struct tsr_dsp *dsp = p->dsp;
    struct tsr_diag d = {0};
    char authz[8300], range[48];
    int rc = TSR_EINVAL;

    json_t *addr = t->data_address_json != NULL ? json_loads(t->data_address_json, 0, NULL)
                                                : NULL;
    const char *endpoint = json_string_value(json_object_get(addr, "endpoint"));
    const char *token = addr != NULL ? tsr_dsp_endpoint_property(addr, "authorization") : NULL;
    if (endpoint == NULL || token == NULL || strlen(token) > 8192) {
        struct tsr_store_tp_update upd = {.error = "the provider's data address is unusable"};
        tsr_dsp__tp_end(dsp, t, "TERMINATED", &upd, "unusable data address", NULL);
        goto out;
    }
    snprintf(authz, sizeof(authz), "Authorization: Bearer %s", token);
    snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)p->bytes);
    const char *hdrs[] = {authz, p->bytes > 0 ? range : NULL, NULL};
    p->asked = p->bytes;
    struct tsr_client_req req = {
        .method = "GET",
        .url = endpoint,
        .headers = hdrs,
        .write_cb = pull_write,
        .write_arg = p,
        .head_cb = pull_head,
        .timeout_ms = -1,
        .max_body = UINT64_MAX,
    };
    rc = tsr_client_request(dsp->client, &req, pull_done, p, &p->xfer, &d);
    if (rc != 0)
        tsr_log_warn(TSR_LC_DATA, "transfer %s: %s", t->id, tsr_diag_msg(&d));
out:
    tsr_wipe(authz, sizeof(authz));
    json_decref(addr);
    return rc;
}

static void pull_start(struct tsr_dsp *dsp, const struct tsr_store_tp *t)
{
    struct tsr_diag d = {0};
    struct tsr_dsp_pull *p = NULL;

    /* Without usage control the data needs a path; with it, it goes into the vault. */
    const char *dest_path = t->dest_path;
    bool vault = dsp->usage != NULL;
    if (t->data_address_json == NULL || (dest_path == NULL && !vault))
        return;
    p = tsr_calloc(1, sizeof(*p));
    if (p == NULL)
        return;
    p->dsp = dsp;
    p->fw.fd = -1;
    p->id = tsr_strdup(t->id);
    p->agreement_id = tsr_strdup(t->agreement_id);
    p->next = dsp->pulls;
    if (dsp->pulls != NULL)
        dsp->pulls->prev = p;
    dsp->pulls = p;
    if (p->id == NULL || p->agreement_id == NULL || tsr_sha256_init(&p->sha) != 0) {
        pull_free(p);
        return;
    }
    if (vault) {
        struct tsr_vault_obj *o = NULL;
        /* Stored before a crash that came before the completion: finish that. */
        if (tsr_vault_find_transfer(tsr_usage_vault(dsp->usage), t->id, &o, NULL) == 0) {
            pull_free(p);
            pull_complete(dsp, t, o->id, (uint64_t)o->size, o->sha256);
            tsr_vault_obj_free(o);
            return;
        }
        /*
         * The data lands in the vault, bound to the transfer's agreement:
         * in the object begun before a restart when there is one (the
         * request then asks for the rest), else in a new one.
         */
        if (tsr_vault_writer_resume(tsr_usage_vault(dsp->usage), t->id, &p->w, NULL) == 0) {
            p->bytes = tsr_vault_writer_bytes(p->w);
            tsr_log_info(TSR_LC_DATA, "transfer %s: %llu bytes were stored before the restart",
                         t->id, (unsigned long long)p->bytes);
        } else if (tsr_vault_writer_new(tsr_usage_vault(dsp->usage), t->agreement_id, t->id,
                                        NULL, &p->w, &d) != 0) {
            char why[600];
            snprintf(why, sizeof(why), "cannot store into the vault: %s", tsr_diag_msg(&d));
            struct tsr_store_tp_update upd = {.error = why};
            tsr_dsp__tp_end(dsp, t, "TERMINATED", &upd, "the consumer cannot store the data",
                            NULL);
            pull_free(p);
            return;
        }
    } else {
        size_t plen = strlen(dest_path) + 8;
        p->dest = tsr_strdup(dest_path);
        p->part = tsr_malloc(plen);
        if (p->dest == NULL || p->part == NULL) {
            pull_free(p);
            return;
        }
        snprintf(p->part, plen, "%s.part", dest_path);
        uint64_t off = 0;
        if (tsr_filew_open(&p->fw, p->part, 0600, (size_t)1 << 20, &off, &d) != 0) {
            struct tsr_store_tp_update upd = {.error = tsr_diag_msg(&d)};
            tsr_dsp__tp_end(dsp, t, "TERMINATED", &upd, "the consumer cannot store the data",
                            NULL);
            pull_free(p);
            return;
        }
    }
    if (pull_request(p, t) != 0) {
        if (p->part != NULL)
            unlink(p->part);
        pull_free(p);
    }
}

/* ------------------------------------------------------------ messages */

static enum tsr_dsp_type route_type(enum tsr_dsp_route r)
{
    switch (r) {
    case R_TP_START_P:
    case R_TP_START_C: return TSR_DSP_TRANSFER_START;
    case R_TP_COMPLETE_P:
    case R_TP_COMPLETE_C: return TSR_DSP_TRANSFER_COMPLETION;
    case R_TP_SUSPEND_P:
    case R_TP_SUSPEND_C: return TSR_DSP_TRANSFER_SUSPENSION;
    default: return TSR_DSP_TRANSFER_TERMINATION;
    }
}

static bool is_push(const struct tsr_store_tp *t)
{
    return t->transfer_type != NULL && strcmp(t->transfer_type, TSR_DSP_FORMAT_PUSH) == 0;
}

static void tp_message(struct tsr_dsp_ctx *x)
{
    struct tsr_dsp *dsp = x->dsp;
    bool provider = route_is_provider(x->route);
    struct tsr_dsp_msg m;
    struct tsr_store_tp *t = NULL;
    enum tsr_tp_msg msg;
    enum tsr_tp_state cur = TSR_TP_INITIAL, next;
    struct tsr_diag d = {0};
    char *addr_text = NULL;

    if (tsr_dsp__parse(x, route_type(x->route), &m) != 0)
        return;
    t = load(x, provider);
    if (t == NULL)
        return;
    const char *ours = provider ? m.provider_pid : m.consumer_pid;
    const char *theirs = provider ? m.consumer_pid : m.provider_pid;
    const char *known = provider ? t->consumer_pid : t->provider_pid;
    if (ours == NULL || strcmp(ours, t->id) != 0 ||
        (theirs != NULL && known != NULL && strcmp(theirs, known) != 0)) {
        tsr_dsp__error(x, 400, "400", t->consumer_pid, t->provider_pid,
                       "the message's providerPid/consumerPid do not match transfer %s", t->id);
        goto out;
    }
    if (tsr_dsp_tp_msg(&m, &msg) != 0) {
        tsr_dsp__error(x, 400, "400", t->consumer_pid, t->provider_pid, "unexpected message");
        goto out;
    }
    enum tsr_tp_role sender = provider ? TSR_TP_CONSUMER : TSR_TP_PROVIDER;
    tsr_tp_state_parse(t->state, &cur);
    if (tsr_tp_is_repeat(cur, msg, sender)) {
        reply_tp(x->dsp, x->req, 200, t);
        goto out;
    }
    if (tsr_tp_check(cur, msg, sender, &next, &d) != 0) {
        tsr_dsp__error(x, 400, "400", t->consumer_pid, t->provider_pid, "%s", tsr_diag_msg(&d));
        goto out;
    }
    struct tsr_store_tp_update upd = {0};
    if (!provider && t->provider_pid == NULL)
        upd.provider_pid = theirs;
    if (msg == TSR_TP_MSG_START && !provider && m.data_address != NULL) {
        addr_text = json_dumps(m.data_address, JSON_COMPACT);
        upd.data_address_json = addr_text;
    }
    if (msg == TSR_TP_MSG_TERMINATION)
        upd.error = "terminated by the counter-party";
    int rc;
    if (msg == TSR_TP_MSG_START && provider) {
        /* The consumer resumes: hand it a fresh token. */
        rc = provider_start(dsp, t, &d);
    } else {
        rc = tsr_store_tp_transition(dsp->st, t->id, t->state, tsr_tp_state_name(next), &upd,
                                     NULL, &d);
    }
    if (rc != 0) {
        /* A resume the agreement no longer permits is a policy refusal (403). */
        int st = rc == TSR_ESTATE ? 409 : rc == TSR_EPOLICY ? 403 : 500;
        char code[8];
        snprintf(code, sizeof(code), "%d", st);
        tsr_dsp__error(x, st, code, t->consumer_pid, t->provider_pid, "%s", tsr_diag_msg(&d));
        goto out;
    }
    tsr_log_info(TSR_LC_DSP, "transfer %s: %s (from %s)", t->id, tsr_tp_state_name(next),
                 x->caller);
    if (provider && next != TSR_TP_STARTED)
        tsr_dsp__flows_stop(dsp, t->id); /* the consumer suspended, completed or ended it */
    tsr_dsp__push_state(dsp, t->id, tsr_tp_state_name(next));
    tsr_dsp__send(x->dsp, x->req, 200, tsr_dsp_transfer_process(t->consumer_pid,
                                                          t->provider_pid ? t->provider_pid
                                                                          : (theirs ? theirs : ""),
                                                          next));
    if (msg == TSR_TP_MSG_START && !provider && !is_push(t)) {
        struct tsr_store_tp *now = NULL;
        if (tsr_store_tp_get(dsp->st, t->id, &now, NULL) == 0 &&
            !tsr_dsp__tp_hold(dsp, now, "pull"))
            pull_start(dsp, now);
        tsr_store_tp_free(now);
    }
out:
    if (addr_text != NULL) {
        tsr_wipe(addr_text, strlen(addr_text));
        free(addr_text);
    }
    tsr_store_tp_free(t);
}

void tsr_dsp__tp_route(struct tsr_dsp_ctx *x)
{
    struct tsr_store_tp *t;

    switch (x->route) {
    case R_TP_REQUEST:
        provider_request(x);
        break;
    case R_TP_GET_P:
    case R_TP_GET_C:
        t = load(x, x->route == R_TP_GET_P);
        if (t != NULL)
            reply_tp(x->dsp, x->req, 200, t);
        tsr_store_tp_free(t);
        break;
    default:
        tp_message(x);
        break;
    }
}

void tsr_dsp__tp_acked(struct tsr_dsp *dsp, const struct tsr_store_outbox_msg *m,
                       const json_t *answer)
{
    struct tsr_store_tp *t = NULL;
    struct tsr_dsp_msg a;

    if (m->on_ack != NULL && strcmp(m->on_ack, TSR_DSP_ACK_TP_INIT) == 0 &&
        tsr_store_tp_get(dsp->st, m->entity_id, &t, NULL) == 0 && t->provider_pid == NULL) {
        if (answer != NULL && tsr_dsp_parse(answer, TSR_DSP_TRANSFER_PROCESS, &a, NULL) == 0 &&
            a.provider_pid != NULL) {
            struct tsr_store_tp_update upd = {.provider_pid = a.provider_pid};
            tsr_store_tp_transition(dsp->st, t->id, t->state, t->state, &upd, NULL, NULL);
        }
    }
    tsr_store_tp_free(t);
    tsr_store_outbox_done(dsp->st, m->id, NULL);
}

void tsr_dsp__tp_failed(struct tsr_dsp *dsp, const struct tsr_store_outbox_msg *m,
                        const char *why)
{
    struct tsr_store_tp *t = NULL;
    enum tsr_tp_state s = TSR_TP_INITIAL;

    if (tsr_store_tp_get(dsp->st, m->entity_id, &t, NULL) != 0)
        return;
    tsr_tp_state_parse(t->state, &s);
    if (!tsr_tp_is_terminal(s)) {
        struct tsr_store_tp_update upd = {.error = why};
        if (tsr_store_tp_transition(dsp->st, t->id, t->state, "TERMINATED", &upd, NULL,
                                    NULL) == 0)
            tsr_dsp__push_state(dsp, t->id, "TERMINATED");
    }
    tsr_store_tp_free(t);
}

void tsr_dsp__tp_recover(struct tsr_dsp *dsp)
{
    struct tsr_store_tp *v = NULL;
    size_t n = 0;
    struct tsr_diag d = {0};
    struct tsr_store_filter f = {.role = TSR_STORE_ROLE_PROVIDER, .state = "REQUESTED",
                                 .limit = TSR_STORE_LIST_MAX};

    /* Provider transfers recorded but not started when we stopped. */
    if (tsr_store_tp_list(dsp->st, &f, &v, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            int rc = provider_start(dsp, &v[i], &d);
            if (rc != 0)
                tsr_log_warn(TSR_LC_DSP, "transfer %s: %s", v[i].id, tsr_diag_msg(&d));
            if (rc == TSR_EPOLICY)
                (void)tsr_dsp_transfer_terminate(dsp, v[i].id, tsr_diag_msg(&d), NULL);
        }
        tsr_store_tp_array_free(v, n);
    }
    /* Consumer pulls cut short by the stop start again. */
    f.role = TSR_STORE_ROLE_CONSUMER;
    f.state = "STARTED";
    v = NULL;
    n = 0;
    if (tsr_store_tp_list(dsp->st, &f, &v, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (!is_push(&v[i]))
                pull_start(dsp, &v[i]);
        }
        tsr_store_tp_array_free(v, n);
    }
    /* Provider pushes cut short by the stop go on (the receiver says from where). */
    f.role = TSR_STORE_ROLE_PROVIDER;
    v = NULL;
    n = 0;
    if (tsr_store_tp_list(dsp->st, &f, &v, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (is_push(&v[i]))
                tsr_dsp__push_start(dsp, &v[i]);
        }
        tsr_store_tp_array_free(v, n);
    }
}

/* ------------------------------------------------------------ management */

/*
 * The destination of a push as a data address (new): push_url, or our
 * own push endpoint for transfer t with a token only its provider gets.
 */
static json_t *push_destination(struct tsr_dsp *dsp, const struct tsr_store_tp *t,
                                const char *push_url)
{
    char path[600];
    json_t *addr = NULL;

    if (push_url != NULL)
        return tsr_dsp_data_address(push_url, NULL, NULL);
    /* Long enough for a large push, suspensions included; it dies with the transfer anyway. */
    char *token = tsr_dsp__data_token(dsp, t, TSR_MAX((int64_t)(dsp->token_lifetime_ms / 1000),
                                                      (int64_t)7 * 24 * 3600));
    snprintf(path, sizeof(path), "%s/%s", TSR_DSP_PUSH_PATH, t->id);
    char *endpoint = tsr_dsp__url(dsp->public_url, path);
    if (token != NULL && endpoint != NULL)
        addr = tsr_dsp_data_address(endpoint, token, "bearer");
    json_t *props = json_object_get(addr, "endpointProperties");
    char seg[24];
    snprintf(seg, sizeof(seg), "%llu", (unsigned long long)dsp->push_segment);
    if (addr != NULL && (!json_is_array(props) ||
                         json_array_append_new(props, json_pack("{s:s, s:s, s:s}", "@type",
                                                                "EndpointProperty", "name",
                                                                TSR_DSP_PUSH_SEGMENT_PROP,
                                                                "value", seg)) != 0)) {
        json_decref(addr);
        addr = NULL;
    }
    tsr_free_secret(token);
    tsr_free(endpoint);
    return addr;
}

/* Consumer: request a transfer (pull, or push to push_url / ourselves when push). */
static int transfer_begin(struct tsr_dsp *dsp, const char *agreement_id, const char *dest_path,
                          bool push, const char *push_url, char **id_out, struct tsr_diag *d)
{
    struct tsr_store_agreement *a = NULL;
    struct tsr_store_neg *n = NULL;
    char *body = NULL, *url = NULL, *dest = NULL, *addr_text = NULL;
    json_t *addr = NULL;
    int rc;

    rc = tsr_store_agreement_get(dsp->st, agreement_id, &a, d);
    if (rc != 0)
        return rc;
    if (strcmp(a->consumer_did, dsp->did) != 0) {
        rc = tsr_diag_set(d, TSR_EINVAL, "agreement %s is not one where we are the consumer",
                          agreement_id);
        goto out;
    }
    rc = tsr_store_neg_get(dsp->st, a->negotiation_id, &n, d);
    if (rc != 0)
        goto out;
    if (strcmp(n->state, "FINALIZED") != 0) {
        rc = tsr_diag_set(d, TSR_ESTATE, "negotiation %s is %s, not FINALIZED", n->id, n->state);
        goto out;
    }
    if (push && push_url != NULL && strncmp(push_url, "http://", 7) != 0 &&
        strncmp(push_url, "https://", 8) != 0) {
        rc = tsr_diag_set(d, TSR_EINVAL, "the push destination must be an http(s) URL");
        goto out;
    }
    if (push && push_url == NULL && dsp->usage == NULL) {
        rc = tsr_diag_set(d, TSR_EINVAL, "a push into this connector needs its vault");
        goto out;
    }
    char cpid[TSR_UUID_URN_SIZE];
    tsr_uuid_v4_urn(cpid);
    if (push) {
        struct tsr_store_tp self = {.id = cpid, .agreement_id = a->id,
                                    .counterparty_did = a->provider_did};
        addr = push_destination(dsp, &self, push_url);
        addr_text = addr != NULL ? json_dumps(addr, JSON_COMPACT) : NULL;
        if (addr_text == NULL) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            goto out;
        }
    } else if (dest_path != NULL && dest_path[0] != '\0') {
        dest = tsr_strdup(dest_path);
        if (dest != NULL && dsp->usage != NULL &&
            tsr_vault_path_inside(tsr_usage_vault(dsp->usage), dest)) {
            rc = tsr_diag_set(d, TSR_EFORBIDDEN, "the copy cannot go inside the vault");
            goto out;
        }
    } else if (dsp->usage == NULL) {
        /* A file name from the pid without the "urn:uuid:" prefix. */
        dest = tsr_dsp__url(dsp->data_dir, cpid + 9);
    }
    const char *format = push ? TSR_DSP_FORMAT_PUSH : FORMAT_PULL;
    body = tsr_dsp__dump(tsr_dsp_transfer_request(cpid, agreement_id, format, dsp->callback_url,
                                                  addr));
    url = tsr_dsp__url(n->counterparty_url, "transfers/request");
    if ((!push && dest == NULL && dsp->usage == NULL) || body == NULL || url == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    struct tsr_store_tp t = {
        .id = cpid,
        .role = (char *)TSR_STORE_ROLE_CONSUMER,
        .state = (char *)"REQUESTED",
        .consumer_pid = cpid,
        .agreement_id = a->id,
        .counterparty_did = a->provider_did,
        .counterparty_url = n->counterparty_url,
        .transfer_type = (char *)format,
        .dest_path = dest,
        .data_address_json = addr_text, /* ours: the push endpoint checks its token */
    };
    struct tsr_store_outbox_msg o;
    tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_TP, cpid, url, body, TSR_DSP_ACK_TP_INIT);
    rc = tsr_store_tp_create(dsp->st, &t, &o, d);
    if (rc != 0)
        goto out;
    tsr_log_info(TSR_LC_DSP, "transfer %s: requesting agreement %s %s %s", cpid, a->id,
                 push ? "pushed to" : "into",
                 push ? (push_url != NULL ? push_url : "our vault")
                      : (dsp->usage != NULL ? "the vault" : dest));
    tsr_dsp__kick(dsp);
    if (id_out != NULL)
        *id_out = tsr_strdup(cpid);
out:
    tsr_store_agreement_free(a);
    tsr_store_neg_free(n);
    json_decref(addr);
    if (body != NULL) {
        tsr_wipe(body, strlen(body));
        free(body);
    }
    if (addr_text != NULL) {
        tsr_wipe(addr_text, strlen(addr_text));
        free(addr_text);
    }
    tsr_free(url);
    tsr_free(dest);
    return rc;
}

int tsr_dsp_transfer_begin(struct tsr_dsp *dsp, const char *agreement_id, const char *dest_path,
                           char **id_out, struct tsr_diag *d)
{
    return transfer_begin(dsp, agreement_id, dest_path, false, NULL, id_out, d);
}

int tsr_dsp_transfer_push(struct tsr_dsp *dsp, const char *agreement_id, const char *url,
                          char **id_out, struct tsr_diag *d)
{
    return transfer_begin(dsp, agreement_id, NULL, true, url, id_out, d);
}

/* Suspend, resume or terminate one of our transfers, telling the peer. */
static int tp_control(struct tsr_dsp *dsp, const char *id, enum tsr_tp_msg msg, const char *reason,
                      struct tsr_diag *d)
{
    struct tsr_store_tp *t = NULL;
    enum tsr_tp_state cur = TSR_TP_INITIAL, next;
    char *body = NULL, *url = NULL;
    int rc;

    rc = tsr_store_tp_get(dsp->st, id, &t, d);
    if (rc != 0)
        return rc;
    bool provider = strcmp(t->role, TSR_STORE_ROLE_PROVIDER) == 0;
    tsr_tp_state_parse(t->state, &cur);
    rc = tsr_tp_check(cur, msg, provider ? TSR_TP_PROVIDER : TSR_TP_CONSUMER, &next, d);
    if (rc != 0)
        goto out;
    if (msg == TSR_TP_MSG_START && provider) {
        rc = provider_start(dsp, t, d);
        goto out;
    }
    if (msg == TSR_TP_MSG_COMPLETION) {
        rc = tsr_dsp__tp_end(dsp, t, "COMPLETED", NULL, NULL, d);
        goto out;
    }
    if (msg == TSR_TP_MSG_TERMINATION) {
        struct tsr_store_tp_update upd = {.error = reason != NULL ? reason : "terminated by us"};
        rc = tsr_dsp__tp_end(dsp, t, "TERMINATED", &upd,
                             reason != NULL ? reason : "terminated", d);
        goto out;
    }
    const char *suffix = msg == TSR_TP_MSG_START ? "start" : "suspension";
    if (t->provider_pid != NULL || provider) {
        body = tsr_dsp__dump(msg == TSR_TP_MSG_START
                                 ? tsr_dsp_transfer_start(t->provider_pid, t->consumer_pid, NULL)
                                 : tsr_dsp_transfer_suspension(t->provider_pid, t->consumer_pid,
                                                               "suspended",
                                                               reason ? reason : "suspended"));
        url = peer_url(t, suffix);
    }
    struct tsr_store_outbox_msg o;
    if (body != NULL && url != NULL)
        tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_TP, t->id, url, body, NULL);
    rc = tsr_store_tp_transition(dsp->st, t->id, t->state, tsr_tp_state_name(next), NULL,
                                 body != NULL && url != NULL ? &o : NULL, d);
    if (rc == 0)
        tsr_dsp__kick(dsp);
out:
    /* Suspended, completed or terminated by us: no more bytes go out. */
    if (rc == 0 && provider && msg != TSR_TP_MSG_START)
        tsr_dsp__flows_stop(dsp, id);
    if (rc == 0 && msg != TSR_TP_MSG_START)
        tsr_dsp__push_state(dsp, id, tsr_tp_state_name(next));
    tsr_store_tp_free(t);
    free(body);
    tsr_free(url);
    return rc;
}

int tsr_dsp_transfer_suspend(struct tsr_dsp *dsp, const char *id, const char *reason,
                             struct tsr_diag *d)
{
    return tp_control(dsp, id, TSR_TP_MSG_SUSPENSION, reason, d);
}

int tsr_dsp_transfer_resume(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d)
{
    return tp_control(dsp, id, TSR_TP_MSG_START, NULL, d);
}

int tsr_dsp_transfer_complete(struct tsr_dsp *dsp, const char *id, struct tsr_diag *d)
{
    return tp_control(dsp, id, TSR_TP_MSG_COMPLETION, NULL, d);
}

int tsr_dsp_transfer_terminate(struct tsr_dsp *dsp, const char *id, const char *reason,
                               struct tsr_diag *d)
{
    return tp_control(dsp, id, TSR_TP_MSG_TERMINATION, reason, d);
}
