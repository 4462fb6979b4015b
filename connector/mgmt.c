/*
 * connector/mgmt.c: the management API (connector/mgmt.h): one table of
 * routes, one gate for the API key, JSON in and out, and the few
 * asynchronous operations (hashing an asset file, a catalog request or a
 * negotiation through the DSP engine) that hold a request until they end.
 *
 * The route table below is the reference for doc/openapi.yaml: the
 * end-to-end test greps it, so a route added here without its
 * documentation fails `make check`.
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
#include <jansson.h>

#include "connector/dsp.h"
#include "connector/metrics.h"
#include "connector/mgmt.h"
#include "connector/policy.h"
#include "connector/sd.h"
#include "connector/store.h"
#include "connector/usage.h"
#include "connector/usage_mgmt.h"
#include "contracts/vault.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "transports/http.h"

/* The largest answer serialised; a list past it is refused with a hint to page. */
#define RESP_MAX ((size_t)64 << 20)
/* Asset files are hashed in slices of HASH_SLICE_READS reads of HASH_BUF bytes per loop turn. */
#define HASH_BUF ((size_t)256 << 10)
#define HASH_SLICE_READS 8
/* Keywords of one asset, and the length of one. */
#define KEYWORDS_MAX 64
#define KEYWORD_LEN_MAX 200
/* Longest "reason" accepted for terminate and suspend. */
#define REASON_MAX 1000
/* Longest provider URL. */
#define URL_MAX 2048
/* Longest state name in a ?state= filter. */
#define STATE_NAME_MAX 32
/* What an operator's terminate or suspend says when no reason is given. */
#define DEFAULT_REASON "by the operator of the connector"

struct tsr_mgmt;

/* A collection of stored objects that the generic handlers list, show and delete. */
struct resource {
    enum tsr_store_kind kind;
    const char *what; /* for the log */
    bool procs;       /* negotiations and transfers: lists take ?role&state */
    /* Put obj's members in o; full: the large ones too (a list leaves them out). */
    void (*fields)(json_t *o, const void *obj, bool full, bool *ok);
};

typedef void (*handler_fn)(struct tsr_mgmt *m, struct tsr_http_req *req);
typedef void (*res_handler_fn)(struct tsr_mgmt *m, struct tsr_http_req *req,
                               const struct resource *res);

/* A route runs fn, or rfn on res (one of the two). */
struct route {
    const char *method;
    const char *pattern; /* below TSR_MGMT_BASE_PATH */
    handler_fn fn;
    res_handler_fn rfn;
    const struct resource *res;
};

/* A route registered on the server: the API and what to run after the key check. */
struct binding {
    struct tsr_mgmt *m;
    const struct route *route; /* NULL: h_unknown */
};

enum pending_kind { PENDING_HASH, PENDING_CATALOG, PENDING_NEGOTIATE };

/* A request waiting for something: an asset file being hashed, or the DSP engine. */
struct pending {
    struct pending *prev, *next;
    struct tsr_mgmt *m;
    struct tsr_http_req *req; /* NULL once the client went away (DSP operations only) */
    enum pending_kind kind;
    /* PENDING_HASH */
    int fd;
    struct event *ev;
    struct tsr_sha256 sha;
    int64_t done;
    struct tsr_store_asset asset; /* fields owned */
};

static const struct resource assets, policies, offers, negotiations, agreements, transfers;

static void h_list(struct tsr_mgmt *m, struct tsr_http_req *req, const struct resource *res);
static void h_get(struct tsr_mgmt *m, struct tsr_http_req *req, const struct resource *res);
static void h_delete(struct tsr_mgmt *m, struct tsr_http_req *req, const struct resource *res);
static void h_status(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_asset_add(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_policy_add(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_offer_add(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_catalog_request(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_neg_start(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_neg_terminate(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_tp_start(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_tp_suspend(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_tp_resume(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_tp_terminate(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_unknown(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_sd_show(struct tsr_mgmt *m, struct tsr_http_req *req);
static void h_sd_publish(struct tsr_mgmt *m, struct tsr_http_req *req);

/* Every route of the API; doc/openapi.yaml documents each line (checked by tests/e2e/mgmt.sh). */
static const struct route routes[] = {
    {"GET", "/status", h_status, NULL, NULL},
    {"GET", "/assets", NULL, h_list, &assets},
    {"POST", "/assets", h_asset_add, NULL, NULL},
    {"GET", "/assets/:id", NULL, h_get, &assets},
    {"DELETE", "/assets/:id", NULL, h_delete, &assets},
    {"GET", "/policies", NULL, h_list, &policies},
    {"POST", "/policies", h_policy_add, NULL, NULL},
    {"GET", "/policies/:id", NULL, h_get, &policies},
    {"DELETE", "/policies/:id", NULL, h_delete, &policies},
    {"GET", "/offers", NULL, h_list, &offers},
    {"POST", "/offers", h_offer_add, NULL, NULL},
    {"GET", "/offers/:id", NULL, h_get, &offers},
    {"DELETE", "/offers/:id", NULL, h_delete, &offers},
    {"POST", "/catalog/request", h_catalog_request, NULL, NULL},
    {"GET", "/negotiations", NULL, h_list, &negotiations},
    {"POST", "/negotiations", h_neg_start, NULL, NULL},
    {"GET", "/negotiations/:id", NULL, h_get, &negotiations},
    {"POST", "/negotiations/:id/terminate", h_neg_terminate, NULL, NULL},
    {"GET", "/agreements", NULL, h_list, &agreements},
    {"GET", "/agreements/:id", NULL, h_get, &agreements},
    {"GET", "/transfers", NULL, h_list, &transfers},
    {"POST", "/transfers", h_tp_start, NULL, NULL},
    {"GET", "/transfers/:id", NULL, h_get, &transfers},
    {"POST", "/transfers/:id/suspend", h_tp_suspend, NULL, NULL},
    {"POST", "/transfers/:id/resume", h_tp_resume, NULL, NULL},
    {"POST", "/transfers/:id/terminate", h_tp_terminate, NULL, NULL},
    {"GET", "/sd", h_sd_show, NULL, NULL},
    {"POST", "/sd/publish", h_sd_publish, NULL, NULL},
    {"GET", "/agreements/:id/ledger", tsr_usage_mgmt_agreement_ledger, NULL, NULL},
    {"GET", "/vault", tsr_usage_mgmt_vault_list, NULL, NULL},
    {"GET", "/vault/:id", tsr_usage_mgmt_vault_get, NULL, NULL},
    {"GET", "/vault/:id/content", tsr_usage_mgmt_vault_content, NULL, NULL},
    {"DELETE", "/vault/:id", tsr_usage_mgmt_vault_delete, NULL, NULL},
    {"GET", "/ledger", tsr_usage_mgmt_ledger, NULL, NULL},
    {"GET", "/ledger/verify", tsr_usage_mgmt_ledger_verify, NULL, NULL},
};

/* Anything else under the base path gets a JSON 404 or 405 rather than the server's text. */
static const char *const catchall_methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

#define NBINDINGS (TSR_ARRAY_SIZE(routes) + TSR_ARRAY_SIZE(catchall_methods))

struct tsr_mgmt {
    struct event_base *base;
    struct tsr_store *store;
    struct tsr_dsp *dsp;
    struct tsr_sd_publisher *sd; /* borrowed; self-descriptions (connector/sd.h), or NULL */
    struct tsr_policy *policy; /* borrowed; compiles the policies added */
    struct tsr_usage *usage;   /* borrowed; the vault and the ledger (connector/usage_mgmt.c) */
    char *api_key;
    char *name, *did, *protocol_url;
    const struct tsr_http_server *proto;
    int64_t started_ms; /* monotonic */
    struct binding bind[NBINDINGS];
    struct pending *pending;
    unsigned char *hashbuf; /* shared by the hash jobs: they run one slice at a time */
};

/* ------------------------------------------------------------ answers */

/* A JSON string of s (null for NULL); bytes that are not UTF-8 become '?' rather than failing. */
static json_t *jstr(const char *s)
{
    json_t *j;
    char *copy;

    if (s == NULL)
        return json_null();
    j = json_string(s);
    if (j != NULL)
        return j;
    copy = tsr_strdup(s);
    if (copy == NULL)
        return NULL;
    for (char *p = copy; *p != '\0'; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    j = json_string(copy);
    tsr_free(copy);
    return j;
}

/* RFC 3339 with milliseconds, or null for 0 (unknown). */
static json_t *jtime(int64_t ms)
{
    char buf[TSR_TIME_STR_MAX];

    if (ms <= 0 || tsr_time_format_ms(ms, buf, sizeof(buf)) != 0)
        return json_null();
    return json_string(buf);
}

/* Stored JSON text as a value; text the store holds that does not parse is shown as a string. */
static json_t *jparsed(const char *text)
{
    struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;
    json_t *j = NULL;

    if (text == NULL)
        return json_null();
    lim.max_bytes = TSR_STORE_JSON_MAX;
    if (tsr_json_parse(text, strlen(text), &lim, &j, NULL) == 0)
        return j;
    return jstr(text);
}

/* Set member k of o to v (stolen); clears *ok on failure so the builder can give up once. */
static void put(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (v == NULL || json_object_set_new(o, k, v) != 0)
        *ok = false;
}

/* The end of a builder: o, or NULL (and o released) if any member failed. */
static json_t *built(json_t *o, bool ok)
{
    if (ok)
        return o;
    json_decref(o);
    return NULL;
}

/* The short machine-readable code of an error, stable for scripts. */
static const char *err_code(int rc)
{
    switch (rc) {
    case TSR_EINVAL:
    case TSR_EPROTO:
    case TSR_ERANGE:
    case TSR_ECRYPTO: return "invalid";
    case TSR_ELIMIT: return "too_large";
    case TSR_ENOTFOUND: return "not_found";
    case TSR_ECONFLICT: return "conflict";
    case TSR_EEXIST: return "exists";
    case TSR_ESTATE: return "state";
    case TSR_EAUTH: return "unauthorized";
    case TSR_EPOLICY:
    case TSR_EFORBIDDEN: return "forbidden";
    case TSR_EUNAVAIL:
    case TSR_ETLS: return "unavailable";
    case TSR_ETIMEOUT: return "timeout";
    case TSR_ENOMEM: return "no_memory";
    default: return "internal";
    }
}

/* Answer {"error": msg, "code": code} with status, whatever memory is left. */
static void reply_error_status(struct tsr_http_req *req, int status, const char *code,
                               const char *msg)
{
    static const struct tsr_http_header h[] = {{"content-type", "application/json"}};
    static const char fallback[] = "{\"error\":\"out of memory\",\"code\":\"no_memory\"}\n";
    json_t *j = json_object();
    char *text = NULL;
    size_t len = 0;
    bool ok = j != NULL;

    if (ok) {
        put(j, "error", jstr(msg), &ok);
        put(j, "code", json_string(code), &ok);
    }
    j = built(j, ok);
    if (j == NULL || tsr_json_dumps(j, JSON_COMPACT, TSR_DIAG_MAX * 8, &text, &len) != 0) {
        json_decref(j);
        tsr_http_respond(req, 503, h, 1, fallback, sizeof(fallback) - 1);
        return;
    }
    json_decref(j);
    if (status >= 500)
        tsr_log_warn(TSR_LC_MAIN, "management API: %s %s: %d %s", tsr_http_req_method(req),
                     tsr_http_req_path(req), status, msg);
    tsr_http_respond(req, status, h, 1, text, len);
    tsr_free(text);
}

static void reply_error(struct tsr_http_req *req, int rc, const char *msg)
{
    reply_error_status(req, tsr_err_http_status(rc), err_code(rc), msg);
}

/* The error rc with d's detail (or rc's description). */
static void reply_diag(struct tsr_http_req *req, int rc, const struct tsr_diag *d)
{
    reply_error(req, rc, d != NULL && d->msg[0] != '\0' ? d->msg : tsr_strerror(rc));
}

/* Answer j (stolen; NULL means out of memory) as JSON with status. */
static void reply(struct tsr_http_req *req, int status, json_t *j)
{
    static const struct tsr_http_header h[] = {{"content-type", "application/json"}};
    char *text = NULL, *t;
    size_t len = 0;
    int rc;

    if (j == NULL) {
        reply_error(req, TSR_ENOMEM, "out of memory");
        return;
    }
    rc = tsr_json_dumps(j, JSON_COMPACT, RESP_MAX, &text, &len);
    json_decref(j);
    if (rc != 0) {
        reply_error(req, rc, rc == TSR_ELIMIT ? "the answer is too large: ask for fewer items "
                                                "with ?limit="
                                              : "cannot encode the answer");
        return;
    }
    /* A final newline, for people reading answers with curl. */
    t = tsr_realloc(text, len + 2);
    if (t != NULL) {
        text = t;
        text[len++] = '\n';
        text[len] = '\0';
    }
    tsr_http_respond(req, status, h, 1, text, len);
    tsr_free(text);
}

static void reply_no_content(struct tsr_http_req *req)
{
    tsr_http_respond(req, 204, NULL, 0, NULL, 0);
}

/* The routes that go through the DSP engine answer this until it is set. */
static bool have_dsp(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    if (m->dsp != NULL)
        return true;
    reply_error_status(req, 503, "unavailable", "the Dataspace Protocol engine is not running");
    return false;
}

/* ------------------------------------------------------------ objects */

static void asset_fields(json_t *o, const void *obj, bool full, bool *ok)
{
    const struct tsr_store_asset *a = obj;
    json_t *kw = NULL;
    bool file = a->source_kind != NULL && strcmp(a->source_kind, "file") == 0;

    (void)full;
    if (a->keywords != NULL)
        kw = jparsed(a->keywords);
    if (!json_is_array(kw)) {
        json_decref(kw);
        kw = json_array();
    }
    put(o, "id", jstr(a->id), ok);
    put(o, "title", jstr(a->title), ok);
    put(o, "description", jstr(a->description), ok);
    put(o, "keywords", kw, ok);
    put(o, "media_type", jstr(a->media_type), ok);
    put(o, "file", jstr(file ? a->source : NULL), ok);
    put(o, "url", jstr(file ? NULL : a->source), ok);
    put(o, "size", a->size >= 0 ? json_integer(a->size) : json_null(), ok);
    put(o, "sha256", jstr(a->sha256), ok);
    put(o, "created_at", jtime(a->created_ms), ok);
}

static void policy_fields(json_t *o, const void *obj, bool full, bool *ok)
{
    const struct tsr_store_policy *p = obj;

    (void)full;
    put(o, "id", jstr(p->id), ok);
    put(o, "policy", jparsed(p->body), ok);
    put(o, "created_at", jtime(p->created_ms), ok);
}

static void offer_fields(json_t *o, const void *obj, bool full, bool *ok)
{
    const struct tsr_store_offer *of = obj;

    (void)full;
    put(o, "id", jstr(of->id), ok);
    put(o, "asset_id", jstr(of->asset_id), ok);
    put(o, "policy_id", jstr(of->policy_id), ok);
    put(o, "created_at", jtime(of->created_ms), ok);
}

/* full: with the last offer (a list leaves it out: it may be large). */
static void neg_fields(json_t *o, const void *obj, bool full, bool *ok)
{
    const struct tsr_store_neg *n = obj;

    put(o, "id", jstr(n->id), ok);
    put(o, "role", jstr(n->role), ok);
    put(o, "state", jstr(n->state), ok);
    put(o, "consumer_pid", jstr(n->consumer_pid), ok);
    put(o, "provider_pid", jstr(n->provider_pid), ok);
    put(o, "counterparty_did", jstr(n->counterparty_did), ok);
    put(o, "counterparty_url", jstr(n->counterparty_url), ok);
    put(o, "offer_id", jstr(n->offer_id), ok);
    put(o, "asset_id", jstr(n->asset_id), ok);
    put(o, "agreement_id", jstr(n->agreement_id), ok);
    put(o, "error", jstr(n->error), ok);
    put(o, "created_at", jtime(n->created_ms), ok);
    put(o, "updated_at", jtime(n->updated_ms), ok);
    if (full)
        put(o, "offer", jparsed(n->offer_json), ok);
}

/* full: with the ODRL agreement itself. */
static void agreement_fields(json_t *o, const void *obj, bool full, bool *ok)
{
    const struct tsr_store_agreement *a = obj;

    put(o, "id", jstr(a->id), ok);
    put(o, "negotiation_id", jstr(a->negotiation_id), ok);
    put(o, "asset_id", jstr(a->asset_id), ok);
    put(o, "provider_did", jstr(a->provider_did), ok);
    put(o, "consumer_did", jstr(a->consumer_did), ok);
    put(o, "signed_at", jtime(a->signed_ms), ok);
    if (full)
        put(o, "policy", jparsed(a->policy_json), ok);
}

/* The data address is left out on purpose: it may carry an access token. */
static void tp_fields(json_t *o, const void *obj, bool full, bool *ok)
{
    const struct tsr_store_tp *t = obj;

    (void)full;
    put(o, "id", jstr(t->id), ok);
    put(o, "role", jstr(t->role), ok);
    put(o, "state", jstr(t->state), ok);
    put(o, "consumer_pid", jstr(t->consumer_pid), ok);
    put(o, "provider_pid", jstr(t->provider_pid), ok);
    put(o, "agreement_id", jstr(t->agreement_id), ok);
    put(o, "counterparty_did", jstr(t->counterparty_did), ok);
    put(o, "counterparty_url", jstr(t->counterparty_url), ok);
    put(o, "transfer_type", jstr(t->transfer_type), ok);
    put(o, "out", jstr(t->dest_path), ok);
    put(o, "bytes", json_integer(t->bytes), ok);
    put(o, "sha256", jstr(t->sha256), ok);
    put(o, "error", jstr(t->error), ok);
    put(o, "created_at", jtime(t->created_ms), ok);
    put(o, "updated_at", jtime(t->updated_ms), ok);
}

static const struct resource assets = {TSR_STORE_KIND_ASSET, "asset", false, asset_fields};
static const struct resource policies = {TSR_STORE_KIND_POLICY, "policy", false, policy_fields};
static const struct resource offers = {TSR_STORE_KIND_OFFER, "offer", false, offer_fields};
static const struct resource negotiations = {TSR_STORE_KIND_NEG, "negotiation", true,
                                             neg_fields};
static const struct resource agreements = {TSR_STORE_KIND_AGREEMENT, "agreement", false,
                                           agreement_fields};
static const struct resource transfers = {TSR_STORE_KIND_TP, "transfer", true, tp_fields};

/* obj, of res's kind, as a JSON object (NULL: out of memory). */
static json_t *obj_json(const struct resource *res, const void *obj, bool full)
{
    json_t *o = json_object();
    bool ok = o != NULL;

    if (o != NULL)
        res->fields(o, obj, full, &ok);
    return built(o, ok);
}

/* {"items": items (stolen), "offset": ..., "limit": ...} */
static json_t *list_json(json_t *items, const struct tsr_store_filter *f)
{
    json_t *o = json_object();
    bool ok = o != NULL;

    if (o == NULL) {
        json_decref(items);
        return NULL;
    }
    put(o, "items", items, &ok);
    put(o, "offset", json_integer((json_int_t)f->offset), &ok);
    put(o, "limit", json_integer((json_int_t)(f->limit == 0 ? TSR_STORE_LIST_DEFAULT
                                                            : TSR_MIN(f->limit,
                                                                      TSR_STORE_LIST_MAX))),
        &ok);
    return built(o, ok);
}

/* ------------------------------------------------------------ request input */

/* The body as a JSON object; an empty body gives *out NULL unless required. */
static int body_object(struct tsr_http_req *req, bool required, json_t **out, struct tsr_diag *d)
{
    const struct tsr_buf *b = tsr_http_req_body(req);
    int rc;

    *out = NULL;
    if (b == NULL || b->len == 0) {
        if (required)
            return tsr_diag_set(d, TSR_EINVAL, "a JSON object is required as the request body");
        return 0;
    }
    rc = tsr_json_parse(b->data, b->len, NULL, out, d);
    if (rc != 0)
        return tsr_diag_prefix(d, "request body");
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return tsr_diag_set(d, TSR_EINVAL, "the request body must be a JSON object");
    }
    return 0;
}

/* Refuse members other than those named: a misspelt optional member would be lost silently. */
static int check_members(const json_t *obj, const char *const *allowed, struct tsr_diag *d)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v) {
        size_t i;

        for (i = 0; allowed[i] != NULL; i++) {
            if (strcmp(allowed[i], key) == 0)
                break;
        }
        if (allowed[i] == NULL)
            return tsr_diag_set(d, TSR_EINVAL, "unknown member \"%.100s\"", key);
    }
    return 0;
}

/* A body that is an object with only these members (or, when optional, no body at all). */
static int read_body(struct tsr_http_req *req, bool required, const char *const *allowed,
                     json_t **out, struct tsr_diag *d)
{
    int rc = body_object(req, required, out, d);

    if (rc == 0 && *out != NULL) {
        rc = check_members(*out, allowed, d);
        if (rc != 0) {
            json_decref(*out);
            *out = NULL;
        }
    }
    return rc;
}

/* An optional string member bounded to max bytes (0: no bound here). */
static int get_text(const json_t *obj, const char *key, bool required, size_t max,
                    const char **out, struct tsr_diag *d)
{
    int rc = tsr_json_get_str(obj, key, required, out, d);

    if (rc != 0)
        return rc;
    if (*out != NULL && max > 0 && strlen(*out) > max)
        return tsr_diag_set(d, TSR_EINVAL, "member %s: longer than %zu bytes", key, max);
    return 0;
}

static bool is_http_url(const char *s)
{
    if (!tsr_str_startswith(s, "http://") && !tsr_str_startswith(s, "https://"))
        return false;
    return strlen(s) <= URL_MAX && tsr_str_is_printable(s, strlen(s)) && strchr(s, ' ') == NULL;
}

static int get_url(const json_t *obj, const char *key, const char **out, struct tsr_diag *d)
{
    int rc = tsr_json_get_str(obj, key, true, out, d);

    if (rc != 0)
        return rc;
    if (!is_http_url(*out))
        return tsr_diag_set(d, TSR_EINVAL, "member %s: not an http:// or https:// URL", key);
    return 0;
}

/* True when query parameter name appears at all (with or without a value). */
static bool query_has(const struct tsr_http_req *req, const char *name)
{
    const char *q = tsr_http_req_query(req);
    size_t n = strlen(name);

    while (q != NULL && *q != '\0') {
        size_t seg = strcspn(q, "&");

        if (seg >= n && memcmp(q, name, n) == 0 && (seg == n || q[n] == '='))
            return true;
        q += seg;
        if (*q == '&')
            q++;
    }
    return false;
}

/* A query parameter (*out new, NULL when absent); a malformed escape is an error. */
static int query_param(struct tsr_http_req *req, const char *name, char **out,
                       struct tsr_diag *d)
{
    *out = tsr_http_req_query_param(req, name);
    if (*out == NULL && query_has(req, name))
        return tsr_diag_set(d, TSR_EINVAL, "query parameter %s: malformed", name);
    return 0;
}

static int query_number(struct tsr_http_req *req, const char *name, long long min, long long max,
                        size_t *out, struct tsr_diag *d)
{
    char *s = NULL;
    long long v;
    int rc = query_param(req, name, &s, d);

    if (rc != 0 || s == NULL)
        return rc;
    rc = tsr_parse_ll(s, min, max, &v);
    if (rc != 0)
        rc = tsr_diag_set(d, TSR_EINVAL, "query parameter %s: %.40s is not a number in %lld..%lld",
                          name, s, min, max);
    else
        *out = (size_t)v;
    tsr_free(s);
    return rc;
}

/*
 * ?limit&offset, and for negotiations and transfers ?role&state.  *role
 * and *state are new strings (or NULL) that f points to.
 */
static int read_filter(struct tsr_http_req *req, bool procs, struct tsr_store_filter *f,
                       char **role, char **state, struct tsr_diag *d)
{
    int rc;

    memset(f, 0, sizeof(*f));
    *role = *state = NULL;
    rc = query_number(req, "limit", 1, TSR_STORE_LIST_MAX, &f->limit, d);
    if (rc == 0)
        rc = query_number(req, "offset", 0, 1000000000LL, &f->offset, d);
    if (rc != 0 || !procs)
        return rc;
    rc = query_param(req, "role", role, d);
    if (rc == 0 && *role != NULL && strcmp(*role, TSR_STORE_ROLE_PROVIDER) != 0 &&
        strcmp(*role, TSR_STORE_ROLE_CONSUMER) != 0)
        rc = tsr_diag_set(d, TSR_EINVAL, "query parameter role: \"provider\" or \"consumer\"");
    if (rc == 0)
        rc = query_param(req, "state", state, d);
    if (rc == 0 && *state != NULL) {
        size_t n = strlen(*state);

        if (n == 0 || n > STATE_NAME_MAX || strspn(*state, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != n)
            rc = tsr_diag_set(d, TSR_EINVAL, "query parameter state: a state name such as "
                                             "FINALIZED");
    }
    if (rc != 0) {
        tsr_free(*role);
        tsr_free(*state);
        *role = *state = NULL;
        return rc;
    }
    f->role = *role;
    f->state = *state;
    return 0;
}

/* ------------------------------------------------------------ pending requests */

static struct pending *pending_new(struct tsr_mgmt *m, struct tsr_http_req *req,
                                   enum pending_kind kind)
{
    struct pending *p = tsr_calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->m = m;
    p->req = req;
    p->kind = kind;
    p->fd = -1;
    p->next = m->pending;
    if (m->pending != NULL)
        m->pending->prev = p;
    m->pending = p;
    return p;
}

static void asset_fields_free(struct tsr_store_asset *a)
{
    tsr_free(a->id);
    tsr_free(a->title);
    tsr_free(a->description);
    tsr_free(a->keywords);
    tsr_free(a->media_type);
    tsr_free(a->source_kind);
    tsr_free(a->source);
    tsr_free(a->sha256);
    memset(a, 0, sizeof(*a));
}

static void pending_free(struct pending *p)
{
    if (p == NULL)
        return;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else if (p->m->pending == p)
        p->m->pending = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    if (p->ev != NULL)
        event_free(p->ev);
    if (p->fd >= 0)
        close(p->fd);
    tsr_sha256_cleanup(&p->sha);
    asset_fields_free(&p->asset);
    tsr_free(p);
}

/*
 * The request p waits for, to be answered now (NULL if its client went
 * away).  Its abort callback is removed first: once answered, the request
 * may be freed at any moment, and one left unanswered (no memory to answer)
 * must not call back into p.
 */
static struct tsr_http_req *pending_take(struct pending *p)
{
    struct tsr_http_req *req = p->req;

    if (req != NULL)
        tsr_http_req_on_abort(req, NULL, NULL);
    p->req = NULL;
    return req;
}

/* A hash job's client went away: nothing else refers to the job, so it ends now. */
static void on_hash_abort(struct tsr_http_req *req, void *arg)
{
    struct pending *p = arg;

    (void)req;
    tsr_log_info(TSR_LC_MAIN, "asset %s: the client went away; hashing %s abandoned",
                 p->asset.id, p->asset.source);
    p->req = NULL;
    pending_free(p);
}

/* A DSP operation's client went away: the engine still holds the context until it calls back. */
static void on_dsp_abort(struct tsr_http_req *req, void *arg)
{
    struct pending *p = arg;

    (void)req;
    p->req = NULL;
}

/* ------------------------------------------------------------ the key gate */

/* The management API's one gate: the key, compared in constant time. */
static bool authorised(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    const char *key = tsr_http_req_header(req, "x-api-key");

    if (m->api_key != NULL && m->api_key[0] != '\0' && key != NULL &&
        tsr_ct_streq(key, m->api_key))
        return true;
    reply_error(req, TSR_EAUTH, key == NULL ? "missing X-Api-Key header" : "wrong API key");
    return false;
}

static void serve(struct tsr_http_req *req, void *arg)
{
    struct binding *b = arg;

    if (!authorised(b->m, req))
        return;
    if (b->route == NULL)
        h_unknown(b->m, req);
    else if (b->route->rfn != NULL)
        b->route->rfn(b->m, req, b->route->res);
    else
        b->route->fn(b->m, req);
}

/* ------------------------------------------------------------ status */

static void h_status(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    json_t *o = json_object();
    bool ok = o != NULL;

    if (o != NULL) {
        put(o, "name", jstr(m->name), &ok);
        put(o, "did", jstr(m->did), &ok);
        put(o, "version", json_string(PACKAGE_VERSION), &ok);
        put(o, "protocol_url", jstr(m->protocol_url), &ok);
        put(o, "uptime_s", json_integer((tsr_time_mono_ms() - m->started_ms) / 1000), &ok);
        put(o, "connections",
            json_integer(m->proto != NULL ? (json_int_t)tsr_http_server_connections(m->proto)
                                          : 0),
            &ok);
        put(o, "dsp", json_boolean(m->dsp != NULL), &ok);
    }
    reply(req, 200, built(o, ok));
}

/* ------------------------------------------------------------ any collection */

static void h_list(struct tsr_mgmt *m, struct tsr_http_req *req, const struct resource *res)
{
    size_t size = tsr_store_obj_size(res->kind);
    struct tsr_store_filter f;
    struct tsr_diag d = {0};
    char *role = NULL, *state = NULL;
    json_t *items = NULL;
    void *v = NULL;
    size_t n = 0;
    int rc;

    rc = read_filter(req, res->procs, &f, &role, &state, &d);
    if (rc == 0)
        rc = tsr_store_obj_list(m->store, res->kind, &f, &v, &n, &d);
    if (rc != 0) {
        reply_diag(req, rc, &d);
        goto out;
    }
    items = json_array();
    for (size_t i = 0; items != NULL && i < n; i++) {
        if (json_array_append_new(items, obj_json(res, (char *)v + i * size, false)) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    reply(req, 200, items != NULL ? list_json(items, &f) : NULL);
out:
    tsr_store_obj_array_free(res->kind, v, n);
    tsr_free(role);
    tsr_free(state);
}

/* Answer with object id of res as stored, with status. */
static void reply_obj(struct tsr_mgmt *m, struct tsr_http_req *req, const struct resource *res,
                      int status, const char *id)
{
    struct tsr_diag d = {0};
    void *obj = NULL;
    int rc = tsr_store_obj_get(m->store, res->kind, id, &obj, &d);

    if (rc != 0) {
        reply_diag(req, rc, &d);
    } else {
        json_t *j = obj_json(res, obj, true);
        struct tsr_dsp_progress pg;
        /* A transfer whose data is moving: live bytes and rate from the pull or push. */
        if (j != NULL && res == &transfers && m->dsp != NULL &&
            tsr_dsp_transfer_progress(m->dsp, id, &pg) == 0) {
            json_object_set_new(j, "bytes", json_integer((json_int_t)pg.bytes));
            json_object_set_new(j, "rate_bps", json_integer((json_int_t)pg.rate_bps));
            if (pg.total != 0)
                json_object_set_new(j, "total_bytes", json_integer((json_int_t)pg.total));
        }
        reply(req, status, j);
    }
    tsr_store_obj_free(res->kind, obj);
}

static void h_get(struct tsr_mgmt *m, struct tsr_http_req *req, const struct resource *res)
{
    reply_obj(m, req, res, 200, tsr_http_req_param(req, "id"));
}

static void h_delete(struct tsr_mgmt *m, struct tsr_http_req *req, const struct resource *res)
{
    struct tsr_diag d = {0};
    const char *id = tsr_http_req_param(req, "id");
    int rc = tsr_store_obj_delete(m->store, res->kind, id, &d);

    if (rc != 0) {
        reply_diag(req, rc, &d);
        return;
    }
    tsr_log_info(TSR_LC_MAIN, "%s %s removed", res->what, id);
    if (res == &offers)
        tsr_sd_publisher_changed(m->sd);
    reply_no_content(req);
}

/* ------------------------------------------------------------ assets */

/* The asset as stored, 201; the store's copy is the one that says what was recorded. */
static void reply_asset_created(struct tsr_mgmt *m, struct tsr_http_req *req, const char *id)
{
    struct tsr_store_asset *a = NULL;
    struct tsr_diag d = {0};
    int rc = tsr_store_asset_get(m->store, id, &a, &d);

    if (rc != 0) {
        reply_diag(req, rc, &d);
        return;
    }
    tsr_log_info(TSR_LC_MAIN, "asset %s added (%s)", a->id, a->source);
    reply(req, 201, obj_json(&assets, a, true));
    tsr_store_asset_free(a);
}

static void hash_finish(struct pending *p)
{
    struct tsr_http_req *req = pending_take(p);
    struct tsr_store_asset *a = &p->asset;
    unsigned char md[TSR_SHA256_LEN];
    char hex[TSR_SHA256_HEX_SIZE];
    struct tsr_diag d = {0};
    int rc;

    if (p->done != a->size) {
        reply_error(req, TSR_ECONFLICT, "the file changed while it was read; try again");
        goto out;
    }
    if (tsr_sha256_final(&p->sha, md) != 0) {
        reply_error(req, TSR_EINTERNAL, "SHA-256 failed");
        goto out;
    }
    tsr_hex_encode(md, sizeof(md), hex);
    a->sha256 = tsr_strdup(hex);
    if (a->sha256 == NULL) {
        reply_error(req, TSR_ENOMEM, "out of memory");
        goto out;
    }
    rc = tsr_store_asset_put(p->m->store, a, &d);
    if (rc != 0)
        reply_diag(req, rc, &d);
    else
        reply_asset_created(p->m, req, a->id);
out:
    pending_free(p);
}

/* One slice of a file's hash; the next slice waits for the loop to serve others first. */
static void hash_step(evutil_socket_t fd, short what, void *arg)
{
    static const struct timeval now = {0, 0};
    struct pending *p = arg;
    unsigned char *buf = p->m->hashbuf;

    (void)fd;
    (void)what;
    for (int i = 0; i < HASH_SLICE_READS; i++) {
        ssize_t n = read(p->fd, buf, HASH_BUF);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            char msg[TSR_DIAG_MAX];

            snprintf(msg, sizeof(msg), "cannot read %.300s: %s", p->asset.source,
                     strerror(errno));
            reply_error(pending_take(p), TSR_EINVAL, msg);
            pending_free(p);
            return;
        }
        if (n == 0) {
            hash_finish(p);
            return;
        }
        p->done += n;
        if (p->done > p->asset.size) {
            /* Grown since fstat: finish reports it without reading on forever. */
            hash_finish(p);
            return;
        }
        if (tsr_sha256_update(&p->sha, buf, (size_t)n) != 0) {
            reply_error(pending_take(p), TSR_EINTERNAL, "SHA-256 failed");
            pending_free(p);
            return;
        }
    }
    evtimer_add(p->ev, &now);
}

/* Open a file asset's source: an absolute path to a readable regular file. */
static int open_source(const char *path, int *fd_out, int64_t *size, struct tsr_diag *d)
{
    struct stat st;
    int fd;

    *fd_out = -1;
    if (path[0] != '/')
        return tsr_diag_set(d, TSR_EINVAL, "file %.300s: the path must be absolute", path);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return tsr_diag_set(d, TSR_EINVAL, "file %.300s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tsr_diag_set(d, TSR_EINVAL, "file %.300s: not a regular file", path);
    }
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    *fd_out = fd;
    *size = (int64_t)st.st_size;
    return 0;
}

/* keywords: an array of short non-empty strings, stored as JSON text in *out (new). */
static int keywords_text(const json_t *body, char **out, struct tsr_diag *d)
{
    json_t *kw = NULL;
    size_t i;
    json_t *v;
    int rc;

    *out = NULL;
    rc = tsr_json_get_array(body, "keywords", false, &kw, d);
    if (rc != 0 || kw == NULL)
        return rc;
    if (json_array_size(kw) > KEYWORDS_MAX)
        return tsr_diag_set(d, TSR_EINVAL, "member keywords: more than %d", KEYWORDS_MAX);
    json_array_foreach(kw, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > KEYWORD_LEN_MAX)
            return tsr_diag_set(d, TSR_EINVAL, "member keywords: item %zu is not a string of "
                                               "1..%d bytes", i, KEYWORD_LEN_MAX);
    }
    rc = tsr_json_dumps(kw, JSON_COMPACT, TSR_STORE_TEXT_MAX, out, NULL);
    if (rc != 0)
        return tsr_diag_set(d, rc, "member keywords: too long");
    return 0;
}

static void h_asset_add(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    static const char *const members[] = {"id", "title", "description", "keywords",
                                          "media_type", "file", "url", NULL};
    static const struct timeval now = {0, 0};
    struct tsr_store_asset a = {.size = -1};
    struct tsr_store_asset *old = NULL;
    const char *id = NULL, *title = NULL, *desc = NULL, *media = NULL, *file = NULL,
               *url = NULL;
    struct tsr_diag d = {0};
    struct pending *p = NULL;
    json_t *body = NULL;
    char *kw = NULL;
    int64_t size = -1;
    int fd = -1, rc;

    rc = read_body(req, true, members, &body, &d);
    if (rc == 0)
        rc = tsr_json_get_str(body, "id", true, &id, &d);
    if (rc == 0)
        rc = get_text(body, "title", false, TSR_STORE_TEXT_MAX, &title, &d);
    if (rc == 0)
        rc = get_text(body, "description", false, TSR_STORE_TEXT_MAX, &desc, &d);
    if (rc == 0)
        rc = get_text(body, "media_type", false, 255, &media, &d);
    if (rc == 0)
        rc = get_text(body, "file", false, TSR_STORE_TEXT_MAX, &file, &d);
    if (rc == 0)
        rc = get_text(body, "url", false, TSR_STORE_TEXT_MAX, &url, &d);
    if (rc == 0)
        rc = keywords_text(body, &kw, &d);
    if (rc != 0)
        goto fail;
    if (!tsr_store_id_valid(id)) {
        rc = tsr_diag_set(&d, TSR_EINVAL, "id: 1..%d characters of A-Z a-z 0-9 . _ : -",
                          TSR_STORE_ID_MAX);
        goto fail;
    }
    /* Received data is bound to its agreement: it is never offered onwards. */
    if (file != NULL && m->usage != NULL &&
        tsr_vault_path_inside(tsr_usage_vault(m->usage), file)) {
        rc = tsr_diag_set(&d, TSR_EFORBIDDEN, "file: inside the vault; received data cannot "
                                              "be offered as an asset");
        goto fail;
    }
    if ((file == NULL) == (url == NULL)) {
        rc = tsr_diag_set(&d, TSR_EINVAL, "give exactly one of file and url");
        goto fail;
    }
    if (url != NULL && !is_http_url(url)) {
        rc = tsr_diag_set(&d, TSR_EINVAL, "url: not an http:// or https:// URL");
        goto fail;
    }
    /* Refuse a taken id before hashing what may be gigabytes; the put still checks. */
    rc = tsr_store_asset_get(m->store, id, &old, &d);
    if (rc == 0) {
        rc = tsr_diag_set(&d, TSR_EEXIST, "asset %s already exists", id);
        goto fail;
    }
    if (rc != TSR_ENOTFOUND)
        goto fail;
    tsr_diag_clear(&d);
    if (file != NULL) {
        rc = open_source(file, &fd, &size, &d);
        if (rc != 0)
            goto fail;
    }
    a.id = (char *)id;
    a.title = (char *)title;
    a.description = (char *)desc;
    a.keywords = kw;
    a.media_type = (char *)media;
    a.source_kind = (char *)(file != NULL ? "file" : "url");
    a.source = (char *)(file != NULL ? file : url);
    a.size = size;
    if (url != NULL) {
        rc = tsr_store_asset_put(m->store, &a, &d);
        if (rc != 0)
            goto fail;
        reply_asset_created(m, req, id);
        goto out;
    }

    /* A file: hash it on the loop, a slice per turn, then store and answer. */
    rc = TSR_ENOMEM;
    if (m->hashbuf == NULL && (m->hashbuf = tsr_malloc(HASH_BUF)) == NULL)
        goto nomem;
    p = pending_new(m, req, PENDING_HASH);
    if (p == NULL)
        goto nomem;
    p->fd = fd;
    fd = -1;
    p->asset.id = tsr_strdup(id);
    p->asset.title = title != NULL ? tsr_strdup(title) : NULL;
    p->asset.description = desc != NULL ? tsr_strdup(desc) : NULL;
    p->asset.keywords = kw;
    kw = NULL;
    p->asset.media_type = media != NULL ? tsr_strdup(media) : NULL;
    p->asset.source_kind = tsr_strdup("file");
    p->asset.source = tsr_strdup(file);
    p->asset.size = size;
    p->ev = evtimer_new(m->base, hash_step, p);
    if (p->asset.id == NULL || (title != NULL && p->asset.title == NULL) ||
        (desc != NULL && p->asset.description == NULL) ||
        (media != NULL && p->asset.media_type == NULL) || p->asset.source_kind == NULL ||
        p->asset.source == NULL || p->ev == NULL)
        goto nomem;
    rc = tsr_sha256_init(&p->sha);
    if (rc != 0) {
        tsr_diag_set(&d, rc, "cannot start SHA-256");
        goto fail;
    }
    tsr_http_req_on_abort(req, on_hash_abort, p);
    evtimer_add(p->ev, &now);
    p = NULL;
    goto out;
nomem:
    tsr_diag_set(&d, TSR_ENOMEM, "out of memory");
fail:
    reply_diag(req, rc, &d);
out:
    pending_free(p);
    if (fd >= 0)
        close(fd);
    tsr_store_asset_free(old);
    tsr_free(kw);
    json_decref(body);
}

/* ------------------------------------------------------------ policies */

static void h_policy_add(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    static const char *const members[] = {"id", "policy", NULL};
    struct tsr_store_policy p = {0}, *got = NULL;
    const char *id = NULL;
    struct tsr_diag d = {0};
    json_t *body = NULL, *pol = NULL;
    char *text = NULL;
    int rc;

    rc = read_body(req, true, members, &body, &d);
    if (rc == 0)
        rc = tsr_json_get_str(body, "id", true, &id, &d);
    if (rc == 0)
        rc = tsr_json_get_obj(body, "policy", true, &pol, &d);
    if (rc != 0)
        goto fail;
    if (!tsr_store_id_valid(id)) {
        rc = tsr_diag_set(&d, TSR_EINVAL, "id: 1..%d characters of A-Z a-z 0-9 . _ : -",
                          TSR_STORE_ID_MAX);
        goto fail;
    }
    rc = tsr_json_dumps(pol, JSON_COMPACT, TSR_STORE_JSON_MAX, &text, NULL);
    if (rc != 0) {
        tsr_diag_set(&d, rc, "member policy: larger than %d bytes", TSR_STORE_JSON_MAX);
        goto fail;
    }
    p.id = (char *)id;
    p.body = text;
    /* Never store what cannot be enforced: an unknown term is refused here. */
    if (m->policy != NULL && (rc = tsr_policy_validate(m->policy, text, &d)) != 0)
        goto fail;
    rc = tsr_store_policy_put(m->store, &p, &d);
    if (rc == 0)
        rc = tsr_store_policy_get(m->store, id, &got, &d);
    if (rc != 0)
        goto fail;
    tsr_log_info(TSR_LC_MAIN, "policy %s added", id);
    reply(req, 201, obj_json(&policies, got, true));
    goto out;
fail:
    reply_diag(req, rc, &d);
out:
    tsr_store_policy_free(got);
    tsr_free(text);
    json_decref(body);
}

/* ------------------------------------------------------------ offers */

static void h_offer_add(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    static const char *const members[] = {"id", "asset_id", "policy_id", NULL};
    struct tsr_store_offer o = {0}, *got = NULL;
    struct tsr_store_policy *pol = NULL;
    const char *id = NULL, *asset = NULL, *policy = NULL;
    struct tsr_diag d = {0};
    json_t *body = NULL;
    int rc;

    rc = read_body(req, true, members, &body, &d);
    if (rc == 0)
        rc = tsr_json_get_str(body, "id", true, &id, &d);
    if (rc == 0)
        rc = tsr_json_get_str(body, "asset_id", true, &asset, &d);
    if (rc == 0)
        rc = tsr_json_get_str(body, "policy_id", true, &policy, &d);
    if (rc != 0)
        goto fail;
    if (!tsr_store_id_valid(id)) {
        rc = tsr_diag_set(&d, TSR_EINVAL, "id: 1..%d characters of A-Z a-z 0-9 . _ : -",
                          TSR_STORE_ID_MAX);
        goto fail;
    }
    o.id = (char *)id;
    o.asset_id = (char *)asset;
    o.policy_id = (char *)policy;
    /* A policy stored before it was compiled on entry (an older version) may not compile. */
    if (m->policy != NULL && tsr_store_policy_get(m->store, policy, &pol, NULL) == 0 &&
        (rc = tsr_policy_validate(m->policy, pol->body, &d)) != 0)
        goto fail;
    rc = tsr_store_offer_put(m->store, &o, &d);
    /* A missing asset or policy is a fault of this body, not an unknown URL. */
    if (rc == TSR_ENOTFOUND)
        rc = TSR_EINVAL;
    if (rc == 0)
        rc = tsr_store_offer_get(m->store, id, &got, &d);
    if (rc != 0)
        goto fail;
    tsr_log_info(TSR_LC_MAIN, "offer %s added: asset %s, policy %s", id, asset, policy);
    tsr_sd_publisher_changed(m->sd);
    reply(req, 201, obj_json(&offers, got, true));
    goto out;
fail:
    reply_diag(req, rc, &d);
out:
    tsr_store_offer_free(got);
    tsr_store_policy_free(pol);
    json_decref(body);
}

/* ------------------------------------------------------------ catalog request */

static void on_catalog(void *arg, int rc, json_t *result, const struct tsr_diag *d)
{
    struct pending *p = arg;
    struct tsr_http_req *req = pending_take(p);

    if (req != NULL) {
        if (rc != 0)
            reply_diag(req, rc, d);
        else if (result == NULL)
            reply_error(req, TSR_EINTERNAL, "the DSP engine returned no catalog");
        else
            reply(req, 200, json_incref(result));
    }
    pending_free(p);
}

static void h_catalog_request(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    static const char *const members[] = {"provider_url", NULL};
    const char *url = NULL;
    struct tsr_diag d = {0};
    struct pending *p;
    json_t *body = NULL;
    int rc;

    rc = read_body(req, true, members, &body, &d);
    if (rc == 0)
        rc = get_url(body, "provider_url", &url, &d);
    if (rc != 0) {
        reply_diag(req, rc, &d);
        goto out;
    }
    if (!have_dsp(m, req))
        goto out;
    p = pending_new(m, req, PENDING_CATALOG);
    if (p == NULL) {
        reply_error(req, TSR_ENOMEM, "out of memory");
        goto out;
    }
    /* Before the call: a completion may come at any later turn of the loop. */
    tsr_http_req_on_abort(req, on_dsp_abort, p);
    rc = tsr_dsp_catalog_fetch(m->dsp, url, on_catalog, p, &d);
    if (rc != 0) {
        pending_take(p);
        pending_free(p);
        reply_diag(req, rc, &d);
    }
out:
    json_decref(body);
}

/* ------------------------------------------------------------ negotiations */

/* Answer with negotiation id as stored (status), or fallback (borrowed) if it cannot be read. */
static void reply_neg(struct tsr_mgmt *m, struct tsr_http_req *req, int status, const char *id,
                      json_t *fallback)
{
    struct tsr_store_neg *n = NULL;
    struct tsr_diag d = {0};
    int rc = id != NULL ? tsr_store_neg_get(m->store, id, &n, &d) : TSR_ENOTFOUND;

    if (rc == 0)
        reply(req, status, obj_json(&negotiations, n, true));
    else if (fallback != NULL)
        reply(req, status, json_incref(fallback));
    else
        reply_diag(req, rc, &d);
    tsr_store_neg_free(n);
}

static void on_negotiate(void *arg, int rc, json_t *result, const struct tsr_diag *d)
{
    struct pending *p = arg;
    struct tsr_http_req *req = pending_take(p);
    const char *id = NULL;

    if (req != NULL) {
        if (rc != 0) {
            reply_diag(req, rc, d);
        } else {
            (void)tsr_json_get_str(result, "id", false, &id, NULL);
            reply_neg(p->m, req, 201, id, result);
        }
    }
    pending_free(p);
}

static void h_neg_start(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    static const char *const members[] = {"provider_url", "offer_id", NULL};
    const char *url = NULL, *offer = NULL;
    struct tsr_diag d = {0};
    struct pending *p;
    json_t *body = NULL;
    int rc;

    rc = read_body(req, true, members, &body, &d);
    if (rc == 0)
        rc = get_url(body, "provider_url", &url, &d);
    if (rc == 0)
        rc = tsr_json_get_str(body, "offer_id", true, &offer, &d);
    if (rc == 0 && !tsr_store_pid_valid(offer))
        rc = tsr_diag_set(&d, TSR_EINVAL, "offer_id: 1..%d printable characters without spaces",
                          TSR_STORE_ID_MAX);
    if (rc != 0) {
        reply_diag(req, rc, &d);
        goto out;
    }
    if (!have_dsp(m, req))
        goto out;
    p = pending_new(m, req, PENDING_NEGOTIATE);
    if (p == NULL) {
        reply_error(req, TSR_ENOMEM, "out of memory");
        goto out;
    }
    tsr_http_req_on_abort(req, on_dsp_abort, p);
    rc = tsr_dsp_negotiate(m->dsp, url, offer, on_negotiate, p, &d);
    if (rc != 0) {
        pending_take(p);
        pending_free(p);
        reply_diag(req, rc, &d);
    }
out:
    json_decref(body);
}

/* An optional {"reason": "..."} body; *reason borrowed from *body (NULL: none given). */
static int read_reason(struct tsr_http_req *req, json_t **body, const char **reason,
                       struct tsr_diag *d)
{
    static const char *const members[] = {"reason", NULL};
    int rc;

    *reason = NULL;
    rc = read_body(req, false, members, body, d);
    if (rc == 0 && *body != NULL)
        rc = get_text(*body, "reason", false, REASON_MAX, reason, d);
    return rc;
}

static void h_neg_terminate(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    const char *id = tsr_http_req_param(req, "id"), *reason = NULL;
    struct tsr_diag d = {0};
    json_t *body = NULL;
    int rc;

    rc = read_reason(req, &body, &reason, &d);
    if (rc != 0) {
        reply_diag(req, rc, &d);
        goto out;
    }
    if (!have_dsp(m, req))
        goto out;
    rc = tsr_dsp_negotiation_terminate(m->dsp, id, reason != NULL ? reason : DEFAULT_REASON, &d);
    if (rc != 0) {
        reply_diag(req, rc, &d);
        goto out;
    }
    tsr_log_info(TSR_LC_MAIN, "negotiation %s terminated by the management API", id);
    reply_neg(m, req, 200, id, NULL);
out:
    json_decref(body);
}

/* ------------------------------------------------------------ agreements */

/* ------------------------------------------------------------ transfers */

static void h_tp_start(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    static const char *const members[] = {"agreement_id", "out", "push", NULL};
    const char *agreement = NULL, *out_path = NULL, *push = NULL;
    struct tsr_diag d = {0};
    json_t *body = NULL;
    char *id = NULL;
    int rc;

    rc = read_body(req, true, members, &body, &d);
    if (rc == 0)
        rc = tsr_json_get_str(body, "agreement_id", true, &agreement, &d);
    if (rc == 0)
        rc = get_text(body, "out", false, TSR_STORE_TEXT_MAX, &out_path, &d);
    if (rc == 0 && out_path != NULL && out_path[0] != '/')
        rc = tsr_diag_set(&d, TSR_EINVAL, "out: the path must be absolute");
    /* push: a URL the provider PUTs the data to, or "self" (our vault, through our endpoint). */
    if (rc == 0)
        rc = get_text(body, "push", false, TSR_STORE_TEXT_MAX, &push, &d);
    if (rc == 0 && push != NULL && out_path != NULL)
        rc = tsr_diag_set(&d, TSR_EINVAL, "out and push exclude each other");
    if (rc != 0) {
        reply_diag(req, rc, &d);
        goto out;
    }
    if (!have_dsp(m, req))
        goto out;
    if (push != NULL)
        rc = tsr_dsp_transfer_push(m->dsp, agreement, strcmp(push, "self") == 0 ? NULL : push,
                                   &id, &d);
    else
        rc = tsr_dsp_transfer_begin(m->dsp, agreement, out_path, &id, &d);
    /* An unknown agreement is a fault of this body, not an unknown URL. */
    if (rc == TSR_ENOTFOUND)
        rc = TSR_EINVAL;
    if (rc != 0) {
        reply_diag(req, rc, &d);
        goto out;
    }
    tsr_log_info(TSR_LC_MAIN, "transfer %s started under agreement %s", id, agreement);
    reply_obj(m, req, &transfers, 201, id);
out:
    tsr_free(id);
    json_decref(body);
}

enum tp_op { TP_SUSPEND, TP_RESUME, TP_TERMINATE };

static void tp_change(struct tsr_mgmt *m, struct tsr_http_req *req, enum tp_op op)
{
    const char *id = tsr_http_req_param(req, "id"), *reason = NULL;
    struct tsr_diag d = {0};
    json_t *body = NULL;
    int rc;

    rc = read_reason(req, &body, &reason, &d);
    if (rc == 0 && op == TP_RESUME && reason != NULL)
        rc = tsr_diag_set(&d, TSR_EINVAL, "resume takes no reason");
    if (rc != 0) {
        reply_diag(req, rc, &d);
        goto out;
    }
    if (!have_dsp(m, req))
        goto out;
    if (reason == NULL)
        reason = DEFAULT_REASON;
    switch (op) {
    case TP_SUSPEND: rc = tsr_dsp_transfer_suspend(m->dsp, id, reason, &d); break;
    case TP_RESUME: rc = tsr_dsp_transfer_resume(m->dsp, id, &d); break;
    case TP_TERMINATE: rc = tsr_dsp_transfer_terminate(m->dsp, id, reason, &d); break;
    }
    if (rc != 0) {
        reply_diag(req, rc, &d);
        goto out;
    }
    reply_obj(m, req, &transfers, 200, id);
out:
    json_decref(body);
}

static void h_tp_suspend(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    tp_change(m, req, TP_SUSPEND);
}

static void h_tp_resume(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    tp_change(m, req, TP_RESUME);
}

static void h_tp_terminate(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    tp_change(m, req, TP_TERMINATE);
}

/* ------------------------------------------------------------ unknown routes */

/* Does path (below the base) fit pattern, ":x" standing for one non-empty segment? */
static bool pattern_fits(const char *pattern, const char *path)
{
    while (*pattern != '\0' && *path != '\0') {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++;
        path++;
        size_t pn = strcspn(pattern, "/"), n = strcspn(path, "/");
        if (pattern[0] == ':') {
            if (n == 0)
                return false;
        } else if (pn != n || memcmp(pattern, path, n) != 0) {
            return false;
        }
        pattern += pn;
        path += n;
    }
    return *pattern == '\0' && *path == '\0';
}

static void h_unknown(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    const char *path = tsr_http_req_path(req) + strlen(TSR_MGMT_BASE_PATH);
    char allow[64] = "", msg[TSR_DIAG_MAX];
    size_t used = 0;

    (void)m;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(routes); i++) {
        if (!pattern_fits(routes[i].pattern, path))
            continue;
        int w = snprintf(allow + used, sizeof(allow) - used, "%s%s", used > 0 ? ", " : "",
                         routes[i].method);
        if (w > 0 && (size_t)w < sizeof(allow) - used)
            used += (size_t)w;
    }
    if (used == 0) {
        snprintf(msg, sizeof(msg), "no such endpoint: %.16s %.300s", tsr_http_req_method(req),
                 tsr_http_req_path(req));
        reply_error(req, TSR_ENOTFOUND, msg);
        return;
    }
    snprintf(msg, sizeof(msg), "method %.16s not allowed here; allowed: %s",
             tsr_http_req_method(req), allow);
    reply_error_status(req, 405, "method_not_allowed", msg);
}

/* ------------------------------------------------------------ life cycle */

static char *dup_or_null(const char *s, bool *ok)
{
    char *c;

    if (s == NULL)
        return NULL;
    c = tsr_strdup(s);
    if (c == NULL)
        *ok = false;
    return c;
}

int tsr_mgmt_set_api_key(struct tsr_mgmt *m, const char *api_key)
{
    bool ok = true;
    char *k = dup_or_null(api_key, &ok);

    if (!ok)
        return TSR_ENOMEM;
    tsr_free_secret(m->api_key);
    m->api_key = k;
    return 0;
}

int tsr_mgmt_set_info(struct tsr_mgmt *m, const struct tsr_mgmt_info *info)
{
    bool ok = true;
    char *name = dup_or_null(info != NULL ? info->name : NULL, &ok);
    char *did = dup_or_null(info != NULL ? info->did : NULL, &ok);
    char *url = dup_or_null(info != NULL ? info->protocol_url : NULL, &ok);

    if (!ok) {
        tsr_free(name);
        tsr_free(did);
        tsr_free(url);
        return TSR_ENOMEM;
    }
    tsr_free(m->name);
    tsr_free(m->did);
    tsr_free(m->protocol_url);
    m->name = name;
    m->did = did;
    m->protocol_url = url;
    m->proto = info != NULL ? info->proto : NULL;
    return 0;
}

void tsr_mgmt_set_usage(struct tsr_mgmt *m, struct tsr_usage *u)
{
    m->usage = u;
}

struct tsr_usage *tsr_mgmt_usage(struct tsr_mgmt *m)
{
    return m->usage;
}

bool tsr_mgmt_key_ok(const struct tsr_mgmt *m, const char *key)
{
    return m->api_key != NULL && m->api_key[0] != '\0' && key != NULL &&
           tsr_ct_streq(key, m->api_key);
}

struct tsr_store *tsr_mgmt_store(struct tsr_mgmt *m)
{
    return m->store;
}

struct tsr_dsp *tsr_mgmt_dsp(struct tsr_mgmt *m)
{
    return m->dsp;
}

const struct tsr_http_server *tsr_mgmt_proto(struct tsr_mgmt *m)
{
    return m->proto;
}

void tsr_mgmt_reply(struct tsr_http_req *req, int status, json_t *j)
{
    reply(req, status, j);
}

void tsr_mgmt_reply_diag(struct tsr_http_req *req, int rc, const struct tsr_diag *d)
{
    reply_diag(req, rc, d);
}

void tsr_mgmt_set_policy(struct tsr_mgmt *m, struct tsr_policy *pc)
{
    m->policy = pc;
}

/* ------------------------------------------------------------ self-descriptions */

static void h_sd_show(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    struct tsr_diag d = {0};
    json_t *j = NULL;
    int rc;

    if (m->sd == NULL) {
        reply_error(req, TSR_EUNAVAIL, "self-descriptions are not set up");
        return;
    }
    rc = tsr_sd_publisher_show(m->sd, &j, &d);
    if (rc != 0)
        reply_diag(req, rc, &d);
    else
        reply(req, 200, j);
}

static void h_sd_publish(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    static const char *const members[] = {"catalog", NULL};
    const char *catalog = NULL;
    struct tsr_diag d = {0};
    json_t *body = NULL;
    int rc;

    if (m->sd == NULL) {
        reply_error(req, TSR_EUNAVAIL, "self-descriptions are not set up");
        return;
    }
    rc = read_body(req, false, members, &body, &d);
    if (rc == 0)
        rc = tsr_json_get_str(body, "catalog", false, &catalog, &d);
    if (rc == 0)
        rc = tsr_sd_publisher_publish(m->sd, catalog, &d);
    if (rc != 0)
        reply_diag(req, rc, &d);
    else
        reply(req, 202, json_pack("{s:b}", "started", 1));
    json_decref(body);
}

void tsr_mgmt_set_sd(struct tsr_mgmt *m, struct tsr_sd_publisher *sd)
{
    m->sd = sd;
}

void tsr_mgmt_set_dsp(struct tsr_mgmt *m, struct tsr_dsp *dsp)
{
    m->dsp = dsp;
}

int tsr_mgmt_new(struct event_base *base, struct tsr_http_server *srv, struct tsr_store *store,
                 struct tsr_dsp *dsp, const char *api_key, const struct tsr_mgmt_info *info,
                 struct tsr_mgmt **out, struct tsr_diag *d)
{
    struct tsr_mgmt *m = NULL;
    char pattern[128];
    size_t nb = 0;
    int rc;

    *out = NULL;
    if (base == NULL || srv == NULL || store == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "management API: no event loop, server or store");
    m = tsr_calloc(1, sizeof(*m));
    if (m == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    m->base = base;
    m->store = store;
    m->dsp = dsp;
    m->started_ms = tsr_time_mono_ms();
    rc = tsr_mgmt_set_api_key(m, api_key);
    if (rc == 0)
        rc = tsr_mgmt_set_info(m, info);
    if (rc != 0) {
        tsr_diag_set(d, rc, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < TSR_ARRAY_SIZE(routes); i++, nb++) {
        snprintf(pattern, sizeof(pattern), "%s%s", TSR_MGMT_BASE_PATH, routes[i].pattern);
        m->bind[nb] = (struct binding){m, &routes[i]};
        rc = tsr_http_server_route(srv, routes[i].method, pattern, serve, &m->bind[nb]);
        if (rc != 0) {
            tsr_diag_set(d, rc, "management API: cannot add route %s %s", routes[i].method,
                         pattern);
            goto fail;
        }
    }
    /* Last, so that they only catch what no route above took. */
    for (size_t i = 0; i < TSR_ARRAY_SIZE(catchall_methods); i++, nb++) {
        m->bind[nb] = (struct binding){m, NULL};
        rc = tsr_http_server_route(srv, catchall_methods[i], TSR_MGMT_BASE_PATH "/*", serve,
                                   &m->bind[nb]);
        if (rc != 0) {
            tsr_diag_set(d, rc, "management API: cannot add the fallback routes");
            goto fail;
        }
    }
    rc = tsr_metrics_mount(srv, m, d);
    if (rc != 0)
        goto fail;
    *out = m;
    return 0;
fail:
    /* Routes already added point at m: a failed start frees the server too. */
    tsr_mgmt_free(m);
    return rc;
}

void tsr_mgmt_free(struct tsr_mgmt *m)
{
    if (m == NULL)
        return;
    /* The server is gone or stopped: its requests are not to be touched. */
    for (struct pending *p = m->pending; p != NULL; p = p->next)
        p->req = NULL;
    while (m->pending != NULL)
        pending_free(m->pending);
    tsr_free_secret(m->api_key);
    tsr_free(m->name);
    tsr_free(m->did);
    tsr_free(m->protocol_url);
    tsr_free(m->hashbuf);
    tsr_free(m);
}
