/*
 * connector/dsp_push.c: HttpData-PUSH, both ends.
 *
 * Provider: once a push transfer is STARTED, the asset's file is streamed
 * to the destination the consumer named, straight from the file (constant
 * memory), with a Repr-Digest header so that the receiver can verify it.
 * A destination that is another tesserad says so with the endpoint
 * property "segmentSize": the data then goes as a sequence of PUTs of that
 * size with Content-Range, each under the receiver's request-body limit,
 * and a push cut short goes on from what the receiver says it holds (409
 * {"received": N}).  Any other HTTP server gets one PUT of the whole.  A
 * failed request is retried with backoff; a refusal (4xx) ends the
 * transfer.  When the receiver took all of it, the transfer completes.
 *
 * Consumer: PUT TSR_DSP_PUSH_PATH/:pid, authorised by the token it put in
 * its request's data address, writes into a vault object bound to the
 * agreement; the last piece seals it only when the SHA-256 matches the
 * Repr-Digest (else nothing is kept: 422).  The transfer completes when
 * the provider's completion message arrives.
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
#include "lib/jose.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "transports/client.h"
#include "transports/fields.h"
#include "transports/http.h"

/* Failed requests in a row (without progress) before a push gives up. */
#define PUSH_ATTEMPTS 5

/* ------------------------------------------------------------ provider */

/* An endpoint property by its plain name or under EDC's namespace; borrowed or NULL. */
static const char *prop(const json_t *addr, const char *name)
{
    char edc[128];
    const char *v = tsr_dsp_endpoint_property(addr, name);

    if (v != NULL)
        return v;
    snprintf(edc, sizeof(edc), "%s%s", TSR_DSP_EDC_NS, name);
    return tsr_dsp_endpoint_property(addr, edc);
}

const char *tsr_dsp__push_url(const json_t *addr, bool *edc)
{
    const char *url = json_string_value(json_object_get(addr, "endpoint"));

    *edc = false;
    if (url == NULL)
        url = prop(addr, "endpoint");
    if (url == NULL) {
        url = prop(addr, "baseUrl");
        *edc = url != NULL;
    }
    if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return NULL;
    return url;
}

struct tsr_dsp_push {
    struct tsr_dsp_push *prev, *next;
    struct tsr_dsp *dsp;
    char *id;
    char *url;
    const char *method; /* PUT; POST for an EDC HttpData sink (its default) */
    char *authz;       /* "Authorization: ..." (or EDC's authKey) line, or NULL (a secret) */
    char digest[16 + TSR_HTTP_REPR_DIGEST_MAX]; /* "Repr-Digest: ..." line */
    char sha[TSR_SHA256_HEX_SIZE];
    int fd;
    uint64_t total;    /* the file's size */
    uint64_t seg;      /* piece size; 0: the whole in one request */
    uint64_t off;      /* where the request in flight starts */
    uint64_t len;      /* its length */
    uint64_t sent;     /* of it, read out so far */
    uint64_t done;     /* what the receiver confirmed */
    int attempts;
    int resyncs;       /* 409s in a row */
    struct tsr_dsp_rate rate;
    struct tsr_client_xfer *xfer;
    struct event *retry;
};

static void push_free(struct tsr_dsp_push *p)
{
    struct tsr_dsp *dsp = p->dsp;

    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        dsp->pushes = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    if (p->xfer != NULL)
        tsr_client_cancel(p->xfer);
    if (p->retry != NULL)
        event_free(p->retry);
    if (p->fd >= 0)
        close(p->fd);
    tsr_free(p->id);
    tsr_free(p->url);
    tsr_free_secret(p->authz);
    tsr_free(p);
}

static struct tsr_dsp_push *push_find(struct tsr_dsp *dsp, const char *id)
{
    for (struct tsr_dsp_push *p = dsp->pushes; p != NULL; p = p->next) {
        if (strcmp(p->id, id) == 0)
            return p;
    }
    return NULL;
}

/* The request body: the next bytes of the piece, read from the file where they are. */
static int push_read(void *arg, void *buf, size_t len, size_t *n)
{
    struct tsr_dsp_push *p = arg;
    uint64_t left = p->len - p->sent;
    size_t want = left < len ? (size_t)left : len;
    ssize_t r;

    *n = 0;
    if (want == 0)
        return 0;
    do {
        r = pread(p->fd, buf, want, (off_t)(p->off + p->sent));
    } while (r < 0 && errno == EINTR);
    if (r <= 0)
        return TSR_EIO; /* shorter than it was: the file changed under us */
    p->sent += (uint64_t)r;
    *n = (size_t)r;
    tsr_dsp__rate_add(p->dsp, &p->rate, p->done + p->sent, (uint64_t)r);
    return 0;
}

static void push_done(void *arg, struct tsr_client_resp *resp);
static void push_attempt(struct tsr_dsp_push *p);

/* Send the piece at p->off. 0, or an error (logged) after which the push is retried. */
static int push_request(struct tsr_dsp_push *p)
{
    struct tsr_diag d = {0};
    char range[24 + TSR_HTTP_CONTENT_RANGE_MAX];
    char cr[TSR_HTTP_CONTENT_RANGE_MAX];
    const char *hdrs[5];
    size_t nh = 0;

    p->len = p->seg == 0 ? p->total - p->off : TSR_MIN(p->seg, p->total - p->off);
    p->sent = 0;
    if (p->authz != NULL)
        hdrs[nh++] = p->authz;
    hdrs[nh++] = p->digest;
    /* Pieces say where they go; the whole (and an empty file) goes without. */
    if (p->seg != 0 && p->len > 0) {
        if (tsr_http_content_range_format(cr, sizeof(cr), p->off, p->off + p->len - 1,
                                          p->total) != 0)
            return TSR_EINVAL;
        snprintf(range, sizeof(range), "Content-Range: %s", cr);
        hdrs[nh++] = range;
    }
    hdrs[nh++] = "Content-Type: application/octet-stream";
    hdrs[nh] = NULL;
    struct tsr_client_req req = {
        .method = p->method,
        .url = p->url,
        .headers = hdrs,
        .read_cb = push_read,
        .read_arg = p,
        .body_size = (int64_t)p->len,
        .timeout_ms = -1,
    };
    int rc = tsr_client_request(p->dsp->client, &req, push_done, p, &p->xfer, &d);
    if (rc != 0)
        tsr_log_warn(TSR_LC_DATA, "transfer %s: cannot push: %s", p->id, tsr_diag_msg(&d));
    return rc;
}

static void push_retry(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_dsp_push *p = arg;

    (void)fd;
    (void)what;
    event_free(p->retry);
    p->retry = NULL;
    push_attempt(p);
}

/* End the push's transfer with why (a refusal or too many failures). */
static void push_fail(struct tsr_dsp_push *p, const char *why)
{
    struct tsr_dsp *dsp = p->dsp;
    struct tsr_store_tp *t = NULL;

    tsr_log_warn(TSR_LC_DATA, "transfer %s: push failed: %s", p->id, why);
    if (tsr_store_tp_get(dsp->st, p->id, &t, NULL) == 0 && strcmp(t->state, "STARTED") == 0) {
        struct tsr_store_tp_update upd = {.error = why};
        (void)tsr_dsp__tp_end(dsp, t, "TERMINATED", &upd, why, NULL);
    }
    tsr_store_tp_free(t);
    push_free(p);
}

/* Try again later (backoff), or give up after PUSH_ATTEMPTS. */
static void push_later(struct tsr_dsp_push *p, const char *why)
{
    if (++p->attempts >= PUSH_ATTEMPTS) {
        push_fail(p, why);
        return;
    }
    tsr_log_info(TSR_LC_DATA, "transfer %s: push failed (%s); retrying", p->id, why);
    p->retry = evtimer_new(p->dsp->base, push_retry, p);
    if (p->retry == NULL) {
        push_fail(p, "out of memory");
        return;
    }
    long ms = 500L << (p->attempts - 1 < 4 ? p->attempts - 1 : 4);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(p->retry, &tv);
}

static void push_complete(struct tsr_dsp_push *p)
{
    struct tsr_dsp *dsp = p->dsp;
    struct tsr_store_tp *t = NULL;
    struct tsr_diag d = {0};

    if (tsr_store_tp_get(dsp->st, p->id, &t, NULL) == 0 && strcmp(t->state, "STARTED") == 0) {
        struct tsr_store_tp_update upd = {.sha256 = p->sha[0] != '\0' ? p->sha : NULL,
                                          .set_bytes = true, .bytes = (int64_t)p->total,
                                          .error = ""};
        if (tsr_dsp__tp_end(dsp, t, "COMPLETED", &upd, NULL, &d) != 0)
            tsr_log_error(TSR_LC_DATA, "transfer %s: %s", p->id, tsr_diag_msg(&d));
        else
            tsr_log_info(TSR_LC_DATA, "transfer %s: %llu bytes pushed to %s", p->id,
                         (unsigned long long)p->total, p->url);
    }
    tsr_store_tp_free(t);
    push_free(p);
}

static void push_done(void *arg, struct tsr_client_resp *resp)
{
    struct tsr_dsp_push *p = arg;
    char why[600];

    p->xfer = NULL;
    if (resp->rc == 0 && resp->status >= 200 && resp->status < 300) {
        p->done = p->off + p->len;
        p->attempts = 0;
        p->resyncs = 0;
        if (p->done >= p->total) {
            push_complete(p);
            return;
        }
        p->off = p->done;
        if (push_request(p) != 0)
            push_later(p, "cannot send the next piece");
        return;
    }
    if (resp->rc == 0 && resp->status == 409 && p->seg != 0) {
        /* The receiver holds another amount (a restart at either end): go on from there. */
        json_t *j = NULL;
        (void)tsr_json_parse(resp->body.data, resp->body.len, NULL, &j, NULL);
        json_t *r = json_object_get(j, "received");
        bool ok = json_is_integer(r) && json_integer_value(r) >= 0 &&
                  (uint64_t)json_integer_value(r) <= p->total && ++p->resyncs <= 3;
        if (ok) {
            p->off = (uint64_t)json_integer_value(r);
            p->done = p->off;
            tsr_log_info(TSR_LC_DATA, "transfer %s: the receiver holds %llu bytes: going on "
                         "from there", p->id, (unsigned long long)p->off);
        }
        json_decref(j);
        if (ok && push_request(p) == 0)
            return;
    }
    if (resp->rc != 0)
        snprintf(why, sizeof(why), "%s", tsr_diag_msg(&resp->diag));
    else
        snprintf(why, sizeof(why), "the receiver answered HTTP %d: %.300s", resp->status,
                 tsr_buf_str(&resp->body));
    /* A refusal is final; a busy or broken receiver is asked again. */
    if (resp->rc == 0 && resp->status >= 400 && resp->status < 500 && resp->status != 408 &&
        resp->status != 429) {
        push_fail(p, why);
        return;
    }
    p->off = p->seg != 0 ? p->done : 0;
    push_later(p, why);
}

/*
 * One attempt: the transfer must still be STARTED and the agreement must
 * permit the use now (counted, as each pull request is); then the file is
 * opened again (it may have been replaced) and the next piece goes.
 */
static void push_attempt(struct tsr_dsp_push *p)
{
    struct tsr_dsp *dsp = p->dsp;
    struct tsr_store_tp *t = NULL;
    struct tsr_store_agreement *a = NULL;
    struct tsr_store_asset *as = NULL;
    struct tsr_diag d = {0};
    char why[600];
    struct stat sb;

    if (tsr_store_tp_get(dsp->st, p->id, &t, NULL) != 0 || strcmp(t->state, "STARTED") != 0) {
        push_free(p);
        goto out;
    }
    if (tsr_store_agreement_get(dsp->st, t->agreement_id, &a, NULL) != 0 ||
        tsr_store_asset_get(dsp->st, a->asset_id, &as, NULL) != 0) {
        push_fail(p, "the agreed asset no longer exists");
        goto out;
    }
    if (dsp->policy != NULL) {
        int rc = tsr_policy_use(dsp->policy, a, t->counterparty_did, tsr_time_now_ms(), true, &d);
        if (rc != 0) {
            snprintf(why, sizeof(why), "%s", tsr_diag_msg(&d));
            tsr_log_info(TSR_LC_POLICY, "transfer %s: push refused: %s", p->id, why);
            push_fail(p, why);
            if (rc == TSR_EPOLICY)
                tsr_dsp__monitor_watch(dsp, t->id);
            goto out;
        }
    }
    if (strcmp(as->source_kind, "file") != 0) {
        push_fail(p, "only file assets can be pushed by this version");
        goto out;
    }
    if (p->fd >= 0)
        close(p->fd);
    p->fd = open(as->source, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0 || fstat(p->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        tsr_log_error(TSR_LC_DATA, "transfer %s: cannot read %s: %s", p->id, as->source,
                      strerror(errno));
        push_later(p, "the asset cannot be read");
        goto out;
    }
    if (as->size >= 0 && (int64_t)sb.st_size != as->size) {
        push_fail(p, "the asset changed since it was offered");
        goto out;
    }
    p->total = (uint64_t)sb.st_size;
    uint8_t md[TSR_SHA256_LEN];
    size_t mdlen = 0;
    char value[TSR_HTTP_REPR_DIGEST_MAX];
    if (as->sha256 != NULL &&
        tsr_hex_decode(as->sha256, strlen(as->sha256), md, sizeof(md), &mdlen) == 0 &&
        mdlen == sizeof(md) && tsr_http_repr_digest_format(md, value, sizeof(value)) == 0) {
        snprintf(p->digest, sizeof(p->digest), "Repr-Digest: %s", value);
        snprintf(p->sha, sizeof(p->sha), "%s", as->sha256);
    } else {
        push_fail(p, "the asset has no digest to announce");
        goto out;
    }
    if (p->off > p->total)
        p->off = p->done = 0;
    if (push_request(p) != 0)
        push_later(p, "cannot send");
out:
    tsr_store_tp_free(t);
    tsr_store_agreement_free(a);
    tsr_store_asset_free(as);
}

void tsr_dsp__push_start(struct tsr_dsp *dsp, const struct tsr_store_tp *t)
{
    json_t *addr = NULL;
    struct tsr_dsp_push *p;
    uint64_t seg = 0;

    if (push_find(dsp, t->id) != NULL || t->data_address_json == NULL)
        return;
    p = tsr_calloc(1, sizeof(*p));
    if (p == NULL)
        return;
    p->dsp = dsp;
    p->fd = -1;
    p->next = dsp->pushes;
    if (dsp->pushes != NULL)
        dsp->pushes->prev = p;
    dsp->pushes = p;
    p->id = tsr_strdup(t->id);
    addr = json_loads(t->data_address_json, 0, NULL);
    bool edc = false;
    const char *endpoint = tsr_dsp__push_url(addr, &edc);
    const char *token = prop(addr, "authorization");
    const char *type = prop(addr, "authType");
    const char *segs = tsr_dsp_endpoint_property(addr, TSR_DSP_PUSH_SEGMENT_PROP);
    const char *method = prop(addr, "method");
    /* EDC's HttpDataAddress names its own header: authKey: authCode. */
    const char *key = prop(addr, "authKey"), *code = prop(addr, "authCode");
    static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-";
    if (token == NULL && key != NULL && code != NULL && strspn(key, name_chars) == strlen(key))
        token = code;
    else
        key = NULL;
    bool post = method != NULL ? strcmp(method, "POST") == 0 : edc;
    p->method = post ? "POST" : "PUT";
    if (p->id == NULL || endpoint == NULL || (token != NULL && strlen(token) > 8192) ||
        (key != NULL && strlen(key) > 64)) {
        if (p->id != NULL)
            push_fail(p, "the push destination is unusable");
        else
            push_free(p);
        goto out;
    }
    p->url = tsr_strdup(endpoint);
    if (token != NULL) {
        /* authType "bearer" (ours, EDC's) puts the scheme in front; else the value as is. */
        bool bearer = type != NULL && strcasecmp(type, "bearer") == 0;
        size_t n = strlen(token) + 96;
        p->authz = tsr_malloc(n);
        if (p->authz != NULL)
            snprintf(p->authz, n, "%s: %s%s", key != NULL ? key : "Authorization",
                     bearer ? "Bearer " : "", token);
    }
    if (segs != NULL && tsr_parse_u64(segs, UINT64_MAX, &seg) == 0 && seg > 0)
        p->seg = seg;
    if (p->url == NULL || (token != NULL && p->authz == NULL)) {
        push_fail(p, "out of memory");
        goto out;
    }
    tsr_log_info(TSR_LC_DATA, "transfer %s: pushing to %s%s (%s)", p->id, p->url,
                 p->seg != 0 ? " in pieces" : "", p->method);
    push_attempt(p);
out:
    json_decref(addr);
}

/* ------------------------------------------------------------ consumer */

/* An object being received on our push endpoint, between its pieces. */
struct tsr_dsp_pushin {
    struct tsr_dsp_pushin *prev, *next;
    struct tsr_dsp *dsp;
    char *id;
    struct tsr_vault_writer *w;
    uint64_t bytes;
    uint64_t total;
    char digest[TSR_SHA256_HEX_SIZE]; /* announced by the first piece */
    struct tsr_dsp_rate rate;
};

static void pushin_free(struct tsr_dsp_pushin *in)
{
    struct tsr_dsp *dsp = in->dsp;

    if (in->prev != NULL)
        in->prev->next = in->next;
    else
        dsp->pushins = in->next;
    if (in->next != NULL)
        in->next->prev = in->prev;
    tsr_vault_writer_free(in->w);
    tsr_free(in->id);
    tsr_free(in);
}

static struct tsr_dsp_pushin *pushin_find(struct tsr_dsp *dsp, const char *id)
{
    for (struct tsr_dsp_pushin *in = dsp->pushins; in != NULL; in = in->next) {
        if (strcmp(in->id, id) == 0)
            return in;
    }
    return NULL;
}

static void push_reply(struct tsr_http_req *req, int status, const char *error, uint64_t received)
{
    json_t *j = error != NULL ? json_pack("{s:s, s:I}", "error", error, "received",
                                          (json_int_t)received)
                              : json_pack("{s:I}", "received", (json_int_t)received);
    tsr_dsp__reply(req, status, j);
}

/* Start the object of t over (a new writer). */
static int pushin_reset(struct tsr_dsp_pushin *in, const struct tsr_store_tp *t,
                        struct tsr_diag *d)
{
    tsr_vault_writer_free(in->w);
    in->w = NULL;
    in->bytes = 0;
    in->rate.t0_ms = 0;
    return tsr_vault_writer_new(tsr_usage_vault(in->dsp->usage), t->agreement_id, t->id, NULL,
                                &in->w, d);
}

/* The receiver for t: in memory, taken up from the vault after a restart, or new. */
static struct tsr_dsp_pushin *pushin_get(struct tsr_dsp *dsp, const struct tsr_store_tp *t,
                                         struct tsr_diag *d)
{
    struct tsr_dsp_pushin *in = pushin_find(dsp, t->id);

    if (in != NULL)
        return in;
    in = tsr_calloc(1, sizeof(*in));
    if (in == NULL)
        return NULL;
    in->dsp = dsp;
    in->next = dsp->pushins;
    if (dsp->pushins != NULL)
        dsp->pushins->prev = in;
    dsp->pushins = in;
    in->id = tsr_strdup(t->id);
    if (in->id == NULL) {
        pushin_free(in);
        return NULL;
    }
    if (tsr_vault_writer_resume(tsr_usage_vault(dsp->usage), t->id, &in->w, NULL) == 0) {
        in->bytes = tsr_vault_writer_bytes(in->w);
        tsr_log_info(TSR_LC_DATA, "transfer %s: %llu pushed bytes were stored before the restart",
                     t->id, (unsigned long long)in->bytes);
    } else if (pushin_reset(in, t, d) != 0) {
        pushin_free(in);
        return NULL;
    }
    return in;
}

/* The whole object is in: seal it if its digest matches, record it. */
static void pushin_finish(struct tsr_dsp_pushin *in, struct tsr_http_req *req,
                          const struct tsr_store_tp *t)
{
    struct tsr_dsp *dsp = in->dsp;
    struct tsr_diag d = {0};
    char hex[TSR_SHA256_HEX_SIZE], why[600];
    char *obj = NULL;
    uint64_t bytes = in->bytes;

    int rc = tsr_vault_writer_finish(in->w, in->digest, &obj, hex, &d);
    if (rc != 0) {
        snprintf(why, sizeof(why), "%s", tsr_diag_msg(&d));
        tsr_log_warn(TSR_LC_DATA, "transfer %s: the pushed data is not kept: %s", t->id, why);
        pushin_free(in); /* the unfinished object goes with its writer */
        push_reply(req, rc == TSR_ECRYPTO ? 422 : 500, why, 0);
        return;
    }
    tsr_log_info(TSR_LC_DATA, "transfer %s: %llu pushed bytes received into the vault as %s "
                 "(sha-256 %s)", t->id, (unsigned long long)bytes, obj, hex);
    tsr_usage_received(dsp->usage, t->agreement_id, t->id, obj, bytes, hex);
    struct tsr_store_tp_update upd = {.sha256 = hex, .set_bytes = true, .bytes = (int64_t)bytes};
    if (tsr_store_tp_transition(dsp->st, t->id, t->state, t->state, &upd, NULL, &d) != 0)
        tsr_log_warn(TSR_LC_DATA, "transfer %s: %s", t->id, tsr_diag_msg(&d));
    pushin_free(in);
    push_reply(req, 201, NULL, bytes);
    tsr_free(obj);
}

void tsr_dsp__push_in(struct tsr_http_req *req, void *arg)
{
    struct tsr_dsp *dsp = arg;
    const char *pid = tsr_http_req_param(req, "pid");
    const char *auth = tsr_http_req_header(req, "authorization");
    const struct tsr_buf *body = tsr_http_req_body(req);
    struct tsr_store_tp *t = NULL;
    struct tsr_vault_obj *o = NULL;
    json_t *claims = NULL;
    struct tsr_diag d = {0};
    char msg[600], hex[TSR_SHA256_HEX_SIZE];
    uint8_t md[TSR_SHA256_LEN];
    uint64_t first = 0, last = 0, size = body->len;

    if (auth == NULL) {
        push_reply(req, 401, "a token is required", 0);
        return;
    }
    if (strncasecmp(auth, "Bearer ", 7) == 0)
        auth += 7;
    struct tsr_jwt_expect exp = {.iss = dsp->did, .sub = pid, .leeway = 30, .require_jti = true};
    if (tsr_jwt_verify(dsp->key, auth, &exp, &claims, &d) != 0) {
        snprintf(msg, sizeof(msg), "token refused: %s", tsr_diag_msg(&d));
        push_reply(req, 401, msg, 0);
        return;
    }
    if (tsr_store_tp_get(dsp->st, pid, &t, NULL) != 0 ||
        strcmp(t->role, TSR_STORE_ROLE_CONSUMER) != 0 || t->transfer_type == NULL ||
        strcmp(t->transfer_type, TSR_DSP_FORMAT_PUSH) != 0 || dsp->usage == NULL) {
        push_reply(req, 404, "no such push transfer", 0);
        goto out;
    }
    /* Ours for this transfer's provider and agreement (not a pull token we handed out). */
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    const char *agr = json_string_value(json_object_get(claims, "agreement"));
    if (aud == NULL || t->counterparty_did == NULL || strcmp(aud, t->counterparty_did) != 0 ||
        agr == NULL || strcmp(agr, t->agreement_id) != 0) {
        push_reply(req, 401, "token refused: not one for this transfer", 0);
        goto out;
    }
    /* The data may arrive before the start message does. */
    if (strcmp(t->state, "REQUESTED") != 0 && strcmp(t->state, "STARTED") != 0) {
        snprintf(msg, sizeof(msg), "transfer %s is %s", t->id, t->state);
        push_reply(req, 403, msg, 0);
        goto out;
    }
    if (tsr_vault_find_transfer(tsr_usage_vault(dsp->usage), t->id, &o, NULL) == 0) {
        /* All of it arrived already (the answer was lost): say so again. */
        push_reply(req, 201, NULL, (uint64_t)o->size);
        goto out;
    }
    if (tsr_http_repr_digest_parse(tsr_http_req_header(req, "repr-digest"), md) != 0) {
        push_reply(req, 400, "a Repr-Digest with sha-256 is required", 0);
        goto out;
    }
    tsr_hex_encode(md, sizeof(md), hex);
    const char *cr = tsr_http_req_header(req, "content-range");
    if (cr != NULL && (tsr_http_content_range_parse(cr, &first, &last, &size) != 0 ||
                       last - first + 1 != body->len)) {
        push_reply(req, 400, "the Content-Range does not describe the body", 0);
        goto out;
    }
    struct tsr_dsp_pushin *in = pushin_get(dsp, t, &d);
    if (in == NULL) {
        snprintf(msg, sizeof(msg), "cannot store into the vault: %s", tsr_diag_msg(&d));
        push_reply(req, 500, msg, 0);
        goto out;
    }
    /*
     * The whole body at once, or a piece of another representation than
     * the one begun, starts the object over; a piece of the same one must
     * continue it (409 says where).
     */
    bool other = in->digest[0] != '\0' && (strcmp(in->digest, hex) != 0 || in->total != size);
    if ((cr == NULL || other) && in->bytes > 0 && pushin_reset(in, t, &d) != 0) {
        pushin_free(in);
        push_reply(req, 500, "cannot store into the vault", 0);
        goto out;
    }
    if (in->digest[0] == '\0' || other || cr == NULL) {
        snprintf(in->digest, sizeof(in->digest), "%s", hex);
        in->total = size;
    }
    if (first != in->bytes) {
        push_reply(req, 409, "the piece does not continue the data", in->bytes);
        goto out;
    }
    if (body->len > 0 && tsr_vault_writer_write(in->w, body->data, body->len, &d) != 0) {
        snprintf(msg, sizeof(msg), "cannot store into the vault: %s", tsr_diag_msg(&d));
        pushin_free(in);
        push_reply(req, 500, msg, 0);
        goto out;
    }
    in->bytes += body->len;
    tsr_dsp__rate_add(dsp, &in->rate, in->bytes, body->len);
    if (in->bytes >= in->total)
        pushin_finish(in, req, t);
    else
        push_reply(req, 200, NULL, in->bytes);
out:
    json_decref(claims);
    tsr_vault_obj_free(o);
    tsr_store_tp_free(t);
}

/* ------------------------------------------------------------ both */

void tsr_dsp__push_state(struct tsr_dsp *dsp, const char *id, const char *state)
{
    struct tsr_dsp_push *p = push_find(dsp, id);
    struct tsr_dsp_pushin *in = pushin_find(dsp, id);

    if (p != NULL && strcmp(state, "STARTED") != 0) {
        tsr_log_info(TSR_LC_DATA, "transfer %s: %s: the push stops", id, state);
        push_free(p);
    }
    /* A suspended receiver keeps what it has for the resumption; an ended one drops it. */
    if (in != NULL && (strcmp(state, "TERMINATED") == 0 || strcmp(state, "COMPLETED") == 0))
        pushin_free(in);
}

int tsr_dsp__push_progress(struct tsr_dsp *dsp, const char *id, struct tsr_dsp_progress *out)
{
    const struct tsr_dsp_push *p = push_find(dsp, id);
    const struct tsr_dsp_pushin *in = pushin_find(dsp, id);
    const struct tsr_dsp_rate *r;
    uint64_t bytes;

    if (p != NULL) {
        out->bytes = bytes = p->done + p->sent;
        out->total = p->total;
        r = &p->rate;
    } else if (in != NULL) {
        out->bytes = bytes = in->bytes;
        out->total = in->total;
        r = &in->rate;
    } else {
        return TSR_ENOTFOUND;
    }
    int64_t el = tsr_time_now_ms() - r->t0_ms;
    if (r->t0_ms == 0 || el > 5000)
        out->rate_bps = 0; /* nothing moved for a while */
    else if (r->bps != 0)
        out->rate_bps = r->bps;
    else
        out->rate_bps = el > 0 && bytes >= r->b0 ? (bytes - r->b0) * 1000 / (uint64_t)el : 0;
    return 0;
}

uint64_t tsr_dsp__push_count(const struct tsr_dsp *dsp)
{
    uint64_t n = 0;

    for (const struct tsr_dsp_push *p = dsp->pushes; p != NULL; p = p->next)
        n++;
    for (const struct tsr_dsp_pushin *in = dsp->pushins; in != NULL; in = in->next)
        n++;
    return n;
}

void tsr_dsp__pushes_free(struct tsr_dsp *dsp)
{
    while (dsp->pushes != NULL)
        push_free(dsp->pushes);
    while (dsp->pushins != NULL)
        pushin_free(dsp->pushins);
}
