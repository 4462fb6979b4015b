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
#include "lib/crypto.h"
#include "lib/jose.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/uuid.h"
#include "transports/client.h"
#include "transports/http.h"

#define FORMAT_PULL "HttpData-PULL"
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

/* A data-access token: bound to the transfer, the agreement and the consumer. */
static char *data_token(struct tsr_dsp *dsp, const struct tsr_store_tp *t)
{
    char kid[600], jti[TSR_UUID_URN_SIZE];
    char *out = NULL;
    int64_t now = tsr_time_now_ms() / 1000;

    snprintf(kid, sizeof(kid), "%s#key-1", dsp->did);
    tsr_uuid_v4_urn(jti);
    json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "iss", dsp->did, "sub", t->id,
                               "aud", t->counterparty_did, "agreement", t->agreement_id, "jti", jti,
                               "iat", (json_int_t)now, "exp",
                               (json_int_t)(now + (int64_t)(dsp->token_lifetime_ms / 1000)));
    if (claims != NULL)
        (void)tsr_jwt_sign(dsp->key, kid, "JWT", claims, &out, NULL);
    json_decref(claims);
    return out;
}

/* Provider: start t (REQUESTED or SUSPENDED) with a fresh data address. */
static int provider_start(struct tsr_dsp *dsp, const struct tsr_store_tp *t, struct tsr_diag *d)
{
    char *token = data_token(dsp, t);
    char *endpoint = NULL, *body = NULL, *url = NULL, *addr_text = NULL;
    json_t *addr = NULL;
    char path[600];
    int rc;

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
    if (m.format == NULL || strcmp(m.format, FORMAT_PULL) != 0) {
        tsr_dsp__error(x, 400, "400", cpid, NULL, "transfer format %s is not offered (use %s)",
                       m.format ? m.format : "(none)", FORMAT_PULL);
        goto out;
    }
    if (m.callback_address == NULL) {
        tsr_dsp__error(x, 400, "400", cpid, NULL, "callbackAddress is required");
        goto out;
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
        .transfer_type = (char *)FORMAT_PULL,
    };
    int rc = tsr_store_tp_create(dsp->st, &nt, NULL, &d);
    if (rc != 0) {
        tsr_dsp__error(x, 500, "500", cpid, NULL, "%s", tsr_diag_msg(&d));
        goto out;
    }
    tsr_log_info(TSR_LC_DSP, "transfer %s: %s requests agreement %s", ppid, x->caller, a->id);
    tsr_dsp__send(x->dsp, x->req, 201, tsr_dsp_transfer_process(cpid, ppid, TSR_TP_REQUESTED));
    tsr_store_tp_free(t);
    t = NULL;
    if (tsr_store_tp_get(dsp->st, ppid, &t, NULL) == 0 && provider_start(dsp, t, &d) != 0)
        tsr_log_warn(TSR_LC_DSP, "transfer %s: cannot start yet: %s", ppid, tsr_diag_msg(&d));
out:
    tsr_store_tp_free(t);
    tsr_store_agreement_free(a);
    tsr_store_neg_free(n);
}

/* ------------------------------------------------------------ data endpoint */

struct file_src {
    int fd;
    uint64_t off, end;
};

static ssize_t file_read(void *arg, uint8_t *buf, size_t len, bool *eof)
{
    struct file_src *f = arg;
    size_t want = (size_t)TSR_MIN((uint64_t)len, f->end - f->off);
    ssize_t n;

    if (want == 0) {
        *eof = true;
        return 0;
    }
    do {
        n = pread(f->fd, buf, want, (off_t)f->off);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return TSR_EIO; /* shrunk or unreadable: the answer must not look whole */
    f->off += (uint64_t)n;
    *eof = f->off == f->end;
    return n;
}

static void file_close(void *arg)
{
    struct file_src *f = arg;

    close(f->fd);
    tsr_free(f);
}

static void data_error(struct tsr_http_req *req, int status, const char *msg)
{
    json_t *j = json_pack("{s:s}", "error", msg);
    tsr_dsp__reply(req, status, j);
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
    struct file_src *f = tsr_calloc(1, sizeof(*f));
    if (f == NULL) {
        close(fd);
        data_error(req, 503, "out of memory");
        goto out;
    }
    f->fd = fd;
    f->end = (uint64_t)sb.st_size;
    struct tsr_http_source src = {file_read, file_close, f};
    struct tsr_http_header h[] = {
        {"content-type", as->media_type != NULL ? as->media_type : "application/octet-stream"}};
    tsr_http_respond_stream(req, 200, h, 1, (int64_t)sb.st_size, &src);
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
    char *dest;
    int fd;
    struct tsr_sha256 sha;
    uint64_t bytes;
    int attempts;
    struct tsr_client_xfer *xfer;
    struct event *retry;
};

static void pull_start(struct tsr_dsp *dsp, const struct tsr_store_tp *t, int attempts);

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
    if (p->fd >= 0)
        close(p->fd);
    tsr_sha256_cleanup(&p->sha);
    tsr_free(p->id);
    tsr_free(p->part);
    tsr_free(p->dest);
    tsr_free(p);
}

void tsr_dsp__pulls_free(struct tsr_dsp *dsp)
{
    while (dsp->pulls != NULL)
        pull_free(dsp->pulls);
}

static int pull_write(void *arg, const void *data, size_t len)
{
    struct tsr_dsp_pull *p = arg;
    const char *q = data;

    while (len > 0) {
        ssize_t n = write(p->fd, q, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return TSR_EIO;
        tsr_sha256_update(&p->sha, q, (size_t)n);
        p->bytes += (uint64_t)n;
        q += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Consumer: end a transfer of ours with a message to the provider. */
static int tp_end(struct tsr_dsp *dsp, const struct tsr_store_tp *t, const char *state,
                  const struct tsr_store_tp_update *upd, const char *reason, struct tsr_diag *d)
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

static void pull_retry(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_dsp_pull *p = arg;
    struct tsr_dsp *dsp = p->dsp;
    struct tsr_store_tp *t = NULL;
    int attempts = p->attempts;

    (void)fd;
    (void)what;
    if (tsr_store_tp_get(dsp->st, p->id, &t, NULL) == 0 && strcmp(t->state, "STARTED") == 0) {
        pull_free(p);
        pull_start(dsp, t, attempts);
    } else {
        pull_free(p);
    }
    tsr_store_tp_free(t);
}

static void pull_done(void *arg, struct tsr_client_resp *resp)
{
    struct tsr_dsp_pull *p = arg;
    struct tsr_dsp *dsp = p->dsp;
    struct tsr_store_tp *t = NULL;
    struct tsr_diag d = {0};
    char why[600];

    p->xfer = NULL;
    if (tsr_store_tp_get(dsp->st, p->id, &t, NULL) != 0 || strcmp(t->state, "STARTED") != 0) {
        /* Suspended or terminated meanwhile: the partial file goes. */
        unlink(p->part);
        goto out;
    }
    if (resp->rc == 0 && resp->status == 200) {
        unsigned char md[TSR_SHA256_LEN];
        char hex[2 * TSR_SHA256_LEN + 1];
        if (fsync(p->fd) != 0 || tsr_sha256_final(&p->sha, md) != 0) {
            snprintf(why, sizeof(why), "cannot write %s: %s", p->part, strerror(errno));
        } else if (rename(p->part, p->dest) != 0) {
            snprintf(why, sizeof(why), "cannot move the data to %s: %s", p->dest, strerror(errno));
        } else {
            tsr_hex_encode(md, sizeof(md), hex);
            struct tsr_store_tp_update upd = {.sha256 = hex, .set_bytes = true,
                                              .bytes = (int64_t)p->bytes, .error = ""};
            if (tp_end(dsp, t, "COMPLETED", &upd, NULL, &d) != 0)
                tsr_log_error(TSR_LC_DATA, "transfer %s: %s", t->id, tsr_diag_msg(&d));
            else
                tsr_log_info(TSR_LC_DATA, "transfer %s: %llu bytes received into %s (sha-256 %s)",
                             t->id, (unsigned long long)p->bytes, p->dest, hex);
            goto out;
        }
    } else if (resp->rc != 0) {
        snprintf(why, sizeof(why), "%s", tsr_diag_msg(&resp->diag));
    } else {
        snprintf(why, sizeof(why), "HTTP %d: %.300s", resp->status, tsr_buf_str(&resp->body));
    }
    unlink(p->part);
    if (p->attempts + 1 >= PULL_ATTEMPTS || (resp->rc == 0 && resp->status >= 400 &&
                                             resp->status < 500 && resp->status != 408)) {
        struct tsr_store_tp_update upd = {.error = why};
        tsr_log_warn(TSR_LC_DATA, "transfer %s: pull failed: %s", t->id, why);
        tp_end(dsp, t, "TERMINATED", &upd, why, NULL);
        goto out;
    }
    tsr_log_info(TSR_LC_DATA, "transfer %s: pull failed (%s); retrying", t->id, why);
    p->attempts++;
    close(p->fd);
    p->fd = -1;
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

static void pull_start(struct tsr_dsp *dsp, const struct tsr_store_tp *t, int attempts)
{
    struct tsr_diag d = {0};
    json_t *addr = NULL;
    struct tsr_dsp_pull *p = NULL;
    char authz[8300];

    if (t->data_address_json == NULL || t->dest_path == NULL)
        return;
    addr = json_loads(t->data_address_json, 0, NULL);
    const char *endpoint = json_string_value(json_object_get(addr, "endpoint"));
    const char *token = tsr_dsp_endpoint_property(addr, "authorization");
    if (endpoint == NULL || token == NULL || strlen(token) > 8192) {
        struct tsr_store_tp_update upd = {.error = "the provider's data address is unusable"};
        tp_end(dsp, t, "TERMINATED", &upd, "unusable data address", NULL);
        goto out;
    }
    p = tsr_calloc(1, sizeof(*p));
    if (p == NULL)
        goto out;
    p->dsp = dsp;
    p->fd = -1;
    p->attempts = attempts;
    p->id = tsr_strdup(t->id);
    p->dest = tsr_strdup(t->dest_path);
    size_t plen = strlen(t->dest_path) + 8;
    p->part = tsr_malloc(plen);
    p->next = dsp->pulls;
    if (dsp->pulls != NULL)
        dsp->pulls->prev = p;
    dsp->pulls = p;
    if (p->id == NULL || p->dest == NULL || p->part == NULL ||
        tsr_sha256_init(&p->sha) != 0) {
        pull_free(p);
        goto out;
    }
    snprintf(p->part, plen, "%s.part", t->dest_path);
    p->fd = open(p->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (p->fd < 0) {
        char why[600];
        snprintf(why, sizeof(why), "cannot create %s: %s", p->part, strerror(errno));
        struct tsr_store_tp_update upd = {.error = why};
        tp_end(dsp, t, "TERMINATED", &upd, "the consumer cannot store the data", NULL);
        pull_free(p);
        goto out;
    }
    snprintf(authz, sizeof(authz), "Authorization: Bearer %s", token);
    const char *hdrs[] = {authz, NULL};
    struct tsr_client_req req = {
        .method = "GET",
        .url = endpoint,
        .headers = hdrs,
        .write_cb = pull_write,
        .write_arg = p,
        .timeout_ms = -1,
        .max_body = UINT64_MAX,
    };
    if (tsr_client_request(dsp->client, &req, pull_done, p, &p->xfer, &d) != 0) {
        tsr_log_warn(TSR_LC_DATA, "transfer %s: %s", t->id, tsr_diag_msg(&d));
        unlink(p->part);
        pull_free(p);
    }
out:
    tsr_wipe(authz, sizeof(authz));
    json_decref(addr);
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
        tsr_dsp__error(x, rc == TSR_ESTATE ? 409 : 500, rc == TSR_ESTATE ? "409" : "500",
                       t->consumer_pid, t->provider_pid, "%s", tsr_diag_msg(&d));
        goto out;
    }
    tsr_log_info(TSR_LC_DSP, "transfer %s: %s (from %s)", t->id, tsr_tp_state_name(next),
                 x->caller);
    tsr_dsp__send(x->dsp, x->req, 200, tsr_dsp_transfer_process(t->consumer_pid,
                                                          t->provider_pid ? t->provider_pid
                                                                          : (theirs ? theirs : ""),
                                                          next));
    if (msg == TSR_TP_MSG_START && !provider) {
        struct tsr_store_tp *now = NULL;
        if (tsr_store_tp_get(dsp->st, t->id, &now, NULL) == 0)
            pull_start(dsp, now, 0);
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
        tsr_store_tp_transition(dsp->st, t->id, t->state, "TERMINATED", &upd, NULL, NULL);
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
            if (provider_start(dsp, &v[i], &d) != 0)
                tsr_log_warn(TSR_LC_DSP, "transfer %s: %s", v[i].id, tsr_diag_msg(&d));
        }
        tsr_store_tp_array_free(v, n);
    }
    /* Consumer pulls cut short by the stop start again. */
    f.role = TSR_STORE_ROLE_CONSUMER;
    f.state = "STARTED";
    v = NULL;
    n = 0;
    if (tsr_store_tp_list(dsp->st, &f, &v, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++)
            pull_start(dsp, &v[i], 0);
        tsr_store_tp_array_free(v, n);
    }
}

/* ------------------------------------------------------------ management */

int tsr_dsp_transfer_begin(struct tsr_dsp *dsp, const char *agreement_id, const char *dest_path,
                           char **id_out, struct tsr_diag *d)
{
    struct tsr_store_agreement *a = NULL;
    struct tsr_store_neg *n = NULL;
    char *body = NULL, *url = NULL, *dest = NULL;
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
    char cpid[TSR_UUID_URN_SIZE];
    tsr_uuid_v4_urn(cpid);
    if (dest_path != NULL && dest_path[0] != '\0') {
        dest = tsr_strdup(dest_path);
    } else {
        /* A file name from the pid without the "urn:uuid:" prefix. */
        dest = tsr_dsp__url(dsp->data_dir, cpid + 9);
    }
    body = tsr_dsp__dump(tsr_dsp_transfer_request(cpid, agreement_id, FORMAT_PULL,
                                                  dsp->callback_url, NULL));
    url = tsr_dsp__url(n->counterparty_url, "transfers/request");
    if (dest == NULL || body == NULL || url == NULL) {
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
        .transfer_type = (char *)FORMAT_PULL,
        .dest_path = dest,
    };
    struct tsr_store_outbox_msg o;
    tsr_dsp__outbox_msg(&o, TSR_STORE_ENTITY_TP, cpid, url, body, TSR_DSP_ACK_TP_INIT);
    rc = tsr_store_tp_create(dsp->st, &t, &o, d);
    if (rc != 0)
        goto out;
    tsr_log_info(TSR_LC_DSP, "transfer %s: requesting agreement %s into %s", cpid, a->id, dest);
    tsr_dsp__kick(dsp);
    if (id_out != NULL)
        *id_out = tsr_strdup(cpid);
out:
    tsr_store_agreement_free(a);
    tsr_store_neg_free(n);
    free(body);
    tsr_free(url);
    tsr_free(dest);
    return rc;
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
    if (msg == TSR_TP_MSG_TERMINATION) {
        struct tsr_store_tp_update upd = {.error = reason != NULL ? reason : "terminated by us"};
        rc = tp_end(dsp, t, "TERMINATED", &upd, reason != NULL ? reason : "terminated", d);
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

int tsr_dsp_transfer_terminate(struct tsr_dsp *dsp, const char *id, const char *reason,
                               struct tsr_diag *d)
{
    return tp_control(dsp, id, TSR_TP_MSG_TERMINATION, reason, d);
}
