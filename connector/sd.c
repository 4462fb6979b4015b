/*
 * connector/sd.c: self-descriptions (builder and publisher, connector/sd.h).
 *
 * The credentials follow the layout in ../shared/notes/gaiax.md section
 * 5.1 and the synthetic vectors: a compacted VCDM 2.0 document whose
 * @context is the credentials v2 context, the gx namespace and a map of
 * the schema/dcat/dct prefixes.  tsr_vc_check_shapes (lib/vc.h) is the
 * test of what is built here.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "connector/conf.h"
#include "connector/dsp.h"
#include "connector/sd.h"
#include "connector/store.h"
#include "lib/crypto.h"
#include "lib/did.h"
#include "lib/jose.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/uuid.h"
#include "lib/vc.h"
#include "transports/client.h"

#define IANA_MEDIA "https://www.iana.org/assignments/media-types/"
#define DSP_STANDARD "https://w3id.org/dspace/2025/1"
/* Longest URL built from the settings. */
#define URL_MAX 4096
/* Retry delays of a failed publication, and the debounce of offer changes. */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS (5 * 60 * 1000)
#define CHANGE_DELAY_MS 200
/* Answers of catalogs are short: keep at most this much of an error body. */
#define ERROR_BODY_MAX 400

/* ------------------------------------------------------------ builder */

static int time_str(int64_t sec, char *buf, size_t size)
{
    struct tsr_time t = {sec, 0};
    return tsr_time_format(&t, false, buf, size);
}

static json_t *context(const struct tsr_sd_conf *c)
{
    return json_pack("[s, s, {s:s, s:s, s:s}]", TSR_VC_CONTEXT_V2,
                     c->ns != NULL && c->ns[0] != '\0' ? c->ns : TSR_VC_GX_2511, "schema",
                     "https://schema.org/", "dcat", "http://www.w3.org/ns/dcat#", "dct",
                     "http://purl.org/dc/terms/");
}

/* The VCDM envelope around subj (stolen): id, type, issuer, validity. */
static int envelope(const struct tsr_sd_conf *c, const char *cls, json_t *subj, int64_t now,
                    json_t **out, struct tsr_diag *d)
{
    char from[TSR_TIME_STR_MAX], until[TSR_TIME_STR_MAX], id[TSR_UUID_URN_SIZE];

    *out = NULL;
    if (subj == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "cannot build the credential subject");
    if (c->validity_s <= 0 || time_str(now, from, sizeof(from)) != 0 ||
        time_str(now + c->validity_s, until, sizeof(until)) != 0 || tsr_uuid_v4_urn(id) != 0) {
        json_decref(subj);
        return tsr_diag_set(d, TSR_EINVAL, "cannot compute the validity window");
    }
    *out = json_pack("{s:o, s:s, s:[s, s], s:s, s:s, s:s, s:o}", "@context", context(c), "id", id,
                     "type", "VerifiableCredential", cls, "issuer", c->did, "validFrom", from,
                     "validUntil", until, "credentialSubject", subj);
    if (*out == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "cannot build the credential");
    return 0;
}

static bool country_ok(const char *cc)
{
    return cc != NULL && strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' &&
           cc[1] <= 'Z';
}

/* The gx:registrationNumber node: self-asserted, or a reference to a notary's credential. */
static json_t *registration(const struct tsr_sd_conf *c, int *rc, struct tsr_diag *d)
{
    const char *t = c->reg_type, *n = c->reg_number;

    *rc = TSR_ENOMEM;
    if (n == NULL || n[0] == '\0') {
        *rc = tsr_diag_set(d, TSR_EINVAL, "[participant] registration_number is not set (gx:"
                     "LegalPerson requires gx:registrationNumber)");
        return NULL;
    }
    if (t == NULL || strcmp(t, "vat_id") == 0)
        return json_pack("{s:s, s:s, s:s}", "type", "gx:VatID", "gx:vatID", n, "gx:countryCode",
                         c->legal_country);
    if (strcmp(t, "lei_code") == 0)
        return json_pack("{s:s, s:s}", "type", "gx:LeiCode", "schema:leiCode", n);
    if (strcmp(t, "eori") == 0)
        return json_pack("{s:s, s:s}", "type", "gx:EORI", "gx:eori", n);
    if (strcmp(t, "tax_id") == 0)
        return json_pack("{s:s, s:s}", "type", "gx:TaxID", "schema:taxID", n);
    if (strcmp(t, "local") == 0)
        return json_pack("{s:s, s:s}", "type", "gx:LocalRegistrationNumber", "gx:local", n);
    if (strcmp(t, "url") == 0)
        return json_pack("{s:s}", "id", n);
    *rc = tsr_diag_set(d, TSR_EINVAL, "[participant] registration_type %s is unknown", t);
    return NULL;
}

int tsr_sd_legal_person(const struct tsr_sd_conf *c, int64_t now, json_t **out,
                        struct tsr_diag *d)
{
    const char *hq = c->hq_country != NULL && c->hq_country[0] != '\0' ? c->hq_country
                                                                        : c->legal_country;
    json_t *reg, *subj;
    int rc;

    *out = NULL;
    if (!country_ok(c->legal_country) || !country_ok(hq))
        return tsr_diag_set(d, TSR_EINVAL, "[participant] legal_country and "
                            "headquarters_country must be ISO 3166-1 alpha-2 codes (\"DE\")");
    reg = registration(c, &rc, d);
    if (reg == NULL)
        return rc == TSR_ENOMEM ? tsr_diag_set(d, rc, "out of memory") : rc;
    subj = json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:s}, s:{s:s, s:s}}", "id", c->did, "type",
                     "gx:LegalPerson", "schema:name", c->name, "gx:registrationNumber", reg,
                     "gx:legalAddress", "type", "gx:Address", "gx:countryCode", c->legal_country,
                     "gx:headquartersAddress", "type", "gx:Address", "gx:countryCode", hq);
    return envelope(c, "gx:LegalPerson", subj, now, out, d);
}

char *tsr_sd_offer_subject(const struct tsr_sd_conf *c, const char *offer_id)
{
    char buf[URL_MAX];

    if (snprintf(buf, sizeof(buf), "%s/offers/%s", c->public_url, offer_id) >= (int)sizeof(buf))
        return NULL;
    return tsr_strdup(buf);
}

/* The asset's keywords (a JSON array text in the store) as a new array of strings. */
static json_t *keywords_of(const struct tsr_store_asset *a)
{
    json_t *kw = a->keywords != NULL ? json_loads(a->keywords, 0, NULL) : NULL;
    json_t *out = json_array();
    size_t i;
    json_t *v;

    json_array_foreach(kw, i, v) {
        if (json_is_string(v) && json_string_length(v) > 0 && i < TSR_VC_MAX_KEYWORDS)
            json_array_append(out, v);
    }
    json_decref(kw);
    return out;
}

/* The gx:VirtualResource + dcat:Dataset node of the offered asset. */
static json_t *dataset_node(const struct tsr_sd_conf *c, const struct tsr_store_asset *a,
                            const char *title, const char *policy, const char *license)
{
    char id[URL_MAX], media[URL_MAX];
    json_t *ds, *dist;

    snprintf(id, sizeof(id), "%s/catalog/datasets/%s", c->dsp_url, a->id);
    ds = json_pack("{s:s, s:[s, s], s:s, s:s, s:s, s:s, s:o, s:s, s:{s:s}}", "id", id, "type",
                   "gx:VirtualResource", "dcat:Dataset", "gx:copyrightOwnedBy", c->name,
                   "gx:license", license, "gx:resourcePolicy", policy, "dct:title", title,
                   "dcat:keyword", keywords_of(a), "dct:identifier", a->id, "dct:publisher",
                   "id", c->did);
    dist = json_pack("{s:s, s:{s:s, s:{s:s}}}", "type", "dcat:Distribution",
                     "dcat:accessService", "type", "dcat:DataService", "dcat:endpointURL", "id",
                     c->dsp_url);
    if (ds == NULL || dist == NULL) {
        json_decref(ds);
        json_decref(dist);
        return NULL;
    }
    if (a->description != NULL && a->description[0] != '\0')
        json_object_set_new(ds, "dct:description", json_string(a->description));
    if (a->media_type != NULL && a->media_type[0] != '\0') {
        snprintf(media, sizeof(media), "%s%s", IANA_MEDIA, a->media_type);
        json_object_set_new(dist, "dcat:mediaType", json_pack("{s:s}", "id", media));
    }
    if (a->size >= 0)
        json_object_set_new(dist, "dcat:byteSize", json_integer(a->size));
    json_object_set_new(ds, "dcat:distribution", dist);
    return ds;
}

int tsr_sd_offering(const struct tsr_sd_conf *c, const struct tsr_store_offer *o,
                    const struct tsr_store_asset *a, const struct tsr_store_policy *p,
                    int64_t now, json_t **out, struct tsr_diag *d)
{
    char terms[URL_MAX], hash[2 * TSR_SHA256_LEN + 1];
    unsigned char digest[TSR_SHA256_LEN];
    const char *title = a->title != NULL && a->title[0] != '\0' ? a->title : a->id;
    const char *license;
    const char *format = a->media_type != NULL && a->media_type[0] != '\0'
                             ? a->media_type
                             : "application/octet-stream";
    char *subject = tsr_sd_offer_subject(c, o->id);
    json_t *subj = NULL, *ds;

    *out = NULL;
    if (subject == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    if (c->terms_url != NULL && c->terms_url[0] != '\0') {
        snprintf(terms, sizeof(terms), "%s", c->terms_url);
        snprintf(hash, sizeof(hash), "%s", c->terms_hash != NULL ? c->terms_hash : "");
    } else {
        /* In a data space the contract terms are the offer's ODRL policy,
         * served with the dataset by the DSP catalog endpoint. */
        snprintf(terms, sizeof(terms), "%s/catalog/datasets/%s", c->dsp_url, a->id);
        hash[0] = '\0';
    }
    if (hash[0] == '\0') {
        tsr_sha256(p->body, strlen(p->body), digest);
        tsr_hex_encode(digest, sizeof(digest), hash);
    }
    license = c->license != NULL && c->license[0] != '\0' ? c->license : terms;
    ds = dataset_node(c, a, title, p->body, license);
    subj = json_pack("{s:s, s:s, s:s, s:o, s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, "
                     "s:{s:s, s:s, s:{s:s, s:s, s:s}}, s:{s:s, s:s, s:s, s:s}, s:s, s:o}",
                     "id", subject, "type", "gx:ServiceOffering", "schema:name", title,
                     "gx:keyword", keywords_of(a), "gx:providedBy", "id", c->did,
                     "gx:serviceOfferingTermsAndConditions", "type", "gx:TermsAndConditions",
                     "gx:url", terms, "gx:hash", hash, "gx:servicePolicy", "type",
                     "gx:AccessUsagePolicy", "gx:policyLanguage", "ODRL", "gx:policyDocument",
                     p->body, "gx:endpoint", "type", "gx:Endpoint", "gx:endpointURL", c->dsp_url,
                     "gx:standardConformity", "type", "gx:StandardConformity", "dct:title",
                     "Dataspace Protocol 2025-1", "gx:standardReference", DSP_STANDARD,
                     "gx:dataAccountExport", "type", "gx:DataAccountExport", "gx:requestType",
                     "API", "gx:accessType", "digital", "gx:formatType", format,
                     "gx:dataProtectionRegime", "GDPR2016", "gx:aggregationOfResources", ds);
    tsr_free(subject);
    if (subj != NULL && a->description != NULL && a->description[0] != '\0')
        json_object_set_new(subj, "schema:description", json_string(a->description));
    return envelope(c, "gx:ServiceOffering", subj, now, out, d);
}

void tsr_sd_set_free(struct tsr_sd_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; s->creds != NULL && i < s->n; i++) {
        tsr_free(s->creds[i].offer_id);
        tsr_free(s->creds[i].subject);
        tsr_free(s->creds[i].jwt);
        json_decref(s->creds[i].payload);
    }
    tsr_free(s->creds);
    tsr_free(s->vp);
    tsr_free(s);
}

/* Sign cred (stolen) into the next slot of s. */
static int add_cred(struct tsr_sd_set *s, const struct tsr_sd_conf *c, const struct tsr_key *key,
                    const char *offer_id, json_t *cred, struct tsr_diag *d)
{
    struct tsr_sd_cred *e = &s->creds[s->n];
    int rc;

    e->payload = cred;
    e->subject = tsr_strdup(json_string_value(
        json_object_get(json_object_get(cred, "credentialSubject"), "id")));
    e->offer_id = offer_id != NULL ? tsr_strdup(offer_id) : NULL;
    s->n++;
    if (e->subject == NULL || (offer_id != NULL && e->offer_id == NULL))
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    rc = tsr_vc_sign(key, c->kid, false, cred, &e->jwt, d);
    return rc;
}

static int build_vp(struct tsr_sd_set *s, const struct tsr_sd_conf *c, const struct tsr_key *key,
                    struct tsr_diag *d)
{
    char id[TSR_UUID_URN_SIZE];
    json_t *list = json_array(), *vp;
    struct tsr_buf b;
    int rc = 0;

    tsr_buf_init(&b, TSR_VC_JWT_MAX + 64);
    for (size_t i = 0; list != NULL && i < s->n; i++) {
        tsr_buf_reset(&b);
        if (tsr_buf_addf(&b, "%s%s", TSR_VC_DATA_PREFIX, s->creds[i].jwt) != 0 ||
            json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "@context",
                                                  TSR_VC_CONTEXT_V2, "type",
                                                  "EnvelopedVerifiableCredential", "id",
                                                  tsr_buf_str(&b))) != 0)
            rc = TSR_ENOMEM;
    }
    tsr_buf_cleanup(&b);
    if (tsr_uuid_v4_urn(id) != 0)
        rc = TSR_EINTERNAL;
    vp = json_pack("{s:[s], s:s, s:[s], s:s, s:o}", "@context", TSR_VC_CONTEXT_V2, "id", id,
                   "type", "VerifiablePresentation", "holder", c->did, "verifiableCredential",
                   list);
    if (vp == NULL || rc != 0) {
        json_decref(vp);
        return tsr_diag_set(d, rc != 0 ? rc : TSR_ENOMEM, "cannot build the presentation");
    }
    rc = tsr_vc_sign(key, c->kid, true, vp, &s->vp, d);
    json_decref(vp);
    return rc;
}

int tsr_sd_build(const struct tsr_sd_conf *c, const struct tsr_key *key, struct tsr_store *st,
                 int64_t now, struct tsr_sd_set **out, struct tsr_diag *d)
{
    struct tsr_store_filter f = {.limit = TSR_STORE_LIST_MAX};
    struct tsr_store_offer *offers = NULL;
    struct tsr_sd_set *s = NULL;
    size_t noffers = 0;
    json_t *cred = NULL;
    int rc;

    *out = NULL;
    rc = tsr_store_offer_list(st, &f, &offers, &noffers, d);
    if (rc != 0)
        return rc;
    s = tsr_calloc(1, sizeof(*s));
    if (s != NULL)
        s->creds = tsr_calloc(noffers + 1, sizeof(*s->creds));
    if (s == NULL || s->creds == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    s->issued = now;
    s->valid_until = now + c->validity_s;
    rc = tsr_sd_legal_person(c, now, &cred, d);
    if (rc == 0)
        rc = add_cred(s, c, key, NULL, cred, d);
    for (size_t i = 0; rc == 0 && i < noffers; i++) {
        struct tsr_store_asset *a = NULL;
        struct tsr_store_policy *p = NULL;
        if (tsr_store_asset_get(st, offers[i].asset_id, &a, NULL) == 0 &&
            tsr_store_policy_get(st, offers[i].policy_id, &p, NULL) == 0) {
            rc = tsr_sd_offering(c, &offers[i], a, p, now, &cred, d);
            if (rc == 0)
                rc = add_cred(s, c, key, offers[i].id, cred, d);
        }
        tsr_store_asset_free(a);
        tsr_store_policy_free(p);
    }
    if (rc == 0)
        rc = build_vp(s, c, key, d);
out:
    tsr_store_offer_array_free(offers, noffers);
    if (rc != 0) {
        tsr_sd_set_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ------------------------------------------------------------ publisher */

enum tstate { T_PENDING, T_PUBLISHED, T_FAILED };

struct target {
    struct tsr_sd_publisher *p;
    struct target *next;
    char *url;
    bool configured;      /* false: a one-off asked for by tsr_sd_publisher_publish */
    bool dirty;           /* the set changed since it was last delivered here */
    enum tstate state;
    char *error;
    int64_t published_ms;
    int attempts;
    json_t *withdrawals;  /* withdrawal JWTs still to deliver */
    struct tsr_client_xfer *xfer;
    bool xfer_withdrawal; /* what is in flight */
    struct event *timer;
};

struct tsr_sd_publisher {
    struct event_base *base;
    struct tsr_client *client;
    struct tsr_store *st;
    struct tsr_key *key;
    struct tsr_sd_conf c;
    char *strs[15];         /* the copied strings of c */
    char *state_file;
    struct tsr_sd_set *set;
    json_t *subjects;       /* offer subjects published last (for withdrawals) */
    struct target *targets;
    struct event *rebuild_ev; /* debounced rebuild after a change, and the refresh */
};

static void target_kick(struct target *t, long delay_ms)
{
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};

    evtimer_add(t->timer, &tv);
}

static void target_fail(struct target *t, const char *msg)
{
    long delay = RETRY_MIN_MS;

    tsr_free(t->error);
    t->error = tsr_strdup(msg);
    t->state = T_FAILED;
    for (int i = 0; i < t->attempts && delay < RETRY_MAX_MS; i++)
        delay *= 2;
    t->attempts++;
    tsr_log_warn(TSR_LC_CATALOG, "self-descriptions to %s: %s (retry in %ld s)", t->url, msg,
                 TSR_MIN(delay, RETRY_MAX_MS) / 1000);
    if (t->configured || t->dirty)
        target_kick(t, TSR_MIN(delay, RETRY_MAX_MS));
}

static void on_sent(void *arg, struct tsr_client_resp *resp)
{
    struct target *t = arg;
    char msg[ERROR_BODY_MAX + 64];

    t->xfer = NULL;
    if (resp->rc != 0) {
        target_fail(t, tsr_diag_msg(&resp->diag));
        return;
    }
    if (resp->status / 100 != 2) {
        snprintf(msg, sizeof(msg), "HTTP %d: %.*s", resp->status,
                 (int)TSR_MIN(resp->body.len, (size_t)ERROR_BODY_MAX), tsr_buf_str(&resp->body));
        if (t->xfer_withdrawal && resp->status / 100 == 4) {
            /* A refused withdrawal would be refused forever: drop it. */
            json_array_remove(t->withdrawals, 0);
        }
        target_fail(t, msg);
        return;
    }
    t->attempts = 0;
    if (t->xfer_withdrawal) {
        json_array_remove(t->withdrawals, 0);
        tsr_log_info(TSR_LC_CATALOG, "withdrawal delivered to %s", t->url);
    } else {
        t->dirty = false;
        t->state = T_PUBLISHED;
        t->published_ms = tsr_time_now_ms();
        tsr_free(t->error);
        t->error = NULL;
        tsr_log_info(TSR_LC_CATALOG, "self-descriptions published to %s (%zu credentials)",
                     t->url, t->p->set != NULL ? t->p->set->n : 0);
    }
    target_kick(t, 0);
}

static int post(struct target *t, const char *path, const char *ctype, const char *body,
                struct tsr_diag *d)
{
    char url[URL_MAX], hdr[128];
    const char *const headers[] = {hdr, NULL};
    size_t n = strlen(t->url);

    while (n > 0 && t->url[n - 1] == '/')
        n--;
    snprintf(url, sizeof(url), "%.*s%s", (int)n, t->url, path);
    snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
    struct tsr_client_req req = {
        .method = "POST", .url = url, .headers = headers, .body = body, .body_len = strlen(body),
    };
    return tsr_client_request(t->p->client, &req, on_sent, t, &t->xfer, d);
}

static void on_target_timer(evutil_socket_t fd, short what, void *arg)
{
    struct target *t = arg;
    struct tsr_diag d = {0};
    int rc = 0;

    (void)fd;
    (void)what;
    if (t->xfer != NULL || t->p->set == NULL)
        return;
    if (t->dirty) {
        t->state = T_PENDING;
        t->xfer_withdrawal = false;
        rc = post(t, "/credentials", "application/vp+jwt", t->p->set->vp, &d);
    } else if (json_array_size(t->withdrawals) > 0) {
        t->xfer_withdrawal = true;
        rc = post(t, "/withdrawals", "application/jwt",
                  json_string_value(json_array_get(t->withdrawals, 0)), &d);
    }
    if (rc != 0)
        target_fail(t, tsr_diag_msg(&d));
}

static struct target *target_add(struct tsr_sd_publisher *p, const char *url, bool configured)
{
    struct target *t = tsr_calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->p = p;
    t->url = tsr_strdup(url);
    t->configured = configured;
    t->withdrawals = json_array();
    t->timer = evtimer_new(p->base, on_target_timer, t);
    if (t->url == NULL || t->withdrawals == NULL || t->timer == NULL) {
        tsr_free(t->url);
        json_decref(t->withdrawals);
        if (t->timer != NULL)
            event_free(t->timer);
        tsr_free(t);
        return NULL;
    }
    t->next = p->targets;
    p->targets = t;
    return t;
}

static void save_state(struct tsr_sd_publisher *p)
{
    json_t *j;
    struct tsr_diag d = {0};

    if (p->state_file == NULL)
        return;
    j = json_pack("{s:O}", "offer_subjects", p->subjects);
    if (j == NULL || tsr_json_write_file(p->state_file, j, &d) != 0)
        tsr_log_warn(TSR_LC_CATALOG, "cannot save %s: %s", p->state_file, tsr_diag_msg(&d));
    json_decref(j);
}

static bool set_has_subject(const struct tsr_sd_set *s, const char *subject)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->creds[i].subject, subject) == 0)
            return true;
    }
    return false;
}

/* Build a new set; sign a withdrawal for each offer subject that went away. */
static int rebuild(struct tsr_sd_publisher *p, struct tsr_diag *d)
{
    struct tsr_sd_set *s = NULL;
    json_t *subjects = json_array();
    size_t i;
    json_t *v;
    int64_t now = tsr_time_now_ms() / 1000;
    int rc;

    if (subjects == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    rc = tsr_sd_build(&p->c, p->key, p->st, now, &s, d);
    if (rc != 0) {
        json_decref(subjects);
        tsr_log_error(TSR_LC_CATALOG, "cannot build the self-descriptions: %s", tsr_diag_msg(d));
        return rc;
    }
    json_array_foreach(p->subjects, i, v) {
        char *w = NULL;
        if (set_has_subject(s, json_string_value(v)))
            continue;
        if (tsr_vc_withdrawal_sign(p->key, p->c.kid, json_string_value(v), &w, d) != 0)
            continue;
        tsr_log_info(TSR_LC_CATALOG, "offer %s removed: withdrawing it", json_string_value(v));
        for (struct target *t = p->targets; t != NULL; t = t->next) {
            if (t->configured)
                json_array_append_new(t->withdrawals, json_string(w));
        }
        tsr_free(w);
    }
    for (size_t k = 1; k < s->n; k++)
        json_array_append_new(subjects, json_string(s->creds[k].subject));
    tsr_sd_set_free(p->set);
    p->set = s;
    json_decref(p->subjects);
    p->subjects = subjects;
    save_state(p);
    for (struct target *t = p->targets; t != NULL; t = t->next) {
        if (t->configured) {
            t->dirty = true;
            t->attempts = 0;
            target_kick(t, 0);
        }
    }
    /* Re-issue when a quarter of the validity is left. */
    int64_t refresh = (s->valid_until - s->issued) * 3 / 4;
    struct timeval tv = {(time_t)TSR_MAX(refresh, 1), 0};
    evtimer_add(p->rebuild_ev, &tv);
    return 0;
}

static void on_rebuild(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_sd_publisher *p = arg;
    struct tsr_diag d = {0};

    (void)fd;
    (void)what;
    if (rebuild(p, &d) != 0) {
        struct timeval tv = {RETRY_MAX_MS / 1000, 0};
        evtimer_add(p->rebuild_ev, &tv);
    }
}

static bool has_configured(const struct tsr_sd_publisher *p)
{
    for (const struct target *t = p->targets; t != NULL; t = t->next) {
        if (t->configured)
            return true;
    }
    return false;
}

void tsr_sd_publisher_changed(struct tsr_sd_publisher *p)
{
    struct timeval tv = {0, CHANGE_DELAY_MS * 1000};

    if (p == NULL)
        return;
    /* Without catalogs to publish to, build only when asked (sd show), so that
     * a connector that does not use catalogs is not told what it lacks. */
    if (!has_configured(p)) {
        tsr_sd_set_free(p->set);
        p->set = NULL;
        return;
    }
    evtimer_add(p->rebuild_ev, &tv);
}

static void load_state(struct tsr_sd_publisher *p)
{
    json_t *j = NULL, *subj;

    if (p->state_file == NULL || tsr_json_read_file(p->state_file, NULL, &j, NULL) != 0)
        return;
    subj = json_object_get(j, "offer_subjects");
    if (json_is_array(subj)) {
        json_decref(p->subjects);
        p->subjects = json_incref(subj);
    }
    json_decref(j);
}

int tsr_sd_publisher_new(struct event_base *base, struct tsr_client *client,
                         const struct tsr_sd_conf *c, const struct tsr_key *key,
                         struct tsr_store *st, const char *const *catalogs,
                         const char *state_file, struct tsr_sd_publisher **out,
                         struct tsr_diag *d)
{
    struct tsr_sd_publisher *p = tsr_calloc(1, sizeof(*p));
    const char *const src[] = {c->did, c->kid, c->name, c->public_url, c->dsp_url, c->ns,
                               c->reg_type, c->reg_number, c->legal_country, c->hq_country,
                               c->terms_url, c->terms_hash, c->license, state_file};
    const char **dst[] = {&p->c.did, &p->c.kid, &p->c.name, &p->c.public_url, &p->c.dsp_url,
                          &p->c.ns, &p->c.reg_type, &p->c.reg_number, &p->c.legal_country,
                          &p->c.hq_country, &p->c.terms_url, &p->c.terms_hash, &p->c.license,
                          (const char **)&p->state_file};
    int rc = TSR_ENOMEM;

    *out = NULL;
    if (p == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    p->base = base;
    p->client = client;
    p->st = st;
    p->c.validity_s = c->validity_s;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(src); i++) {
        if (src[i] == NULL)
            continue;
        p->strs[i] = tsr_strdup(src[i]);
        if (p->strs[i] == NULL)
            goto fail;
        *dst[i] = p->strs[i];
    }
    p->state_file = NULL; /* owned through strs[] */
    if (state_file != NULL)
        p->state_file = p->strs[TSR_ARRAY_SIZE(src) - 1];
    p->subjects = json_array();
    p->rebuild_ev = evtimer_new(base, on_rebuild, p);
    if (p->subjects == NULL || p->rebuild_ev == NULL)
        goto fail;
    rc = tsr_key_dup(key, &p->key, d);
    if (rc != 0)
        goto fail;
    for (size_t i = 0; catalogs != NULL && catalogs[i] != NULL; i++) {
        if (target_add(p, catalogs[i], true) == NULL) {
            rc = TSR_ENOMEM;
            goto fail;
        }
    }
    load_state(p);
    tsr_sd_publisher_changed(p);
    *out = p;
    return 0;
fail:
    tsr_sd_publisher_free(p);
    return rc == TSR_ENOMEM ? tsr_diag_set(d, rc, "out of memory") : rc;
}

int tsr_sd_publisher_publish(struct tsr_sd_publisher *p, const char *catalog,
                             struct tsr_diag *d)
{
    struct target *t = NULL;
    int rc;

    if (catalog != NULL && !tsr_str_startswith(catalog, "http://") &&
        !tsr_str_startswith(catalog, "https://"))
        return tsr_diag_set(d, TSR_EINVAL, "%s is not an http:// or https:// URL", catalog);
    rc = rebuild(p, d);
    if (rc != 0)
        return rc;
    if (catalog == NULL)
        return 0;
    for (t = p->targets; t != NULL; t = t->next) {
        if (strcmp(t->url, catalog) == 0)
            break;
    }
    if (t == NULL) {
        t = target_add(p, catalog, false);
        if (t == NULL)
            return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    t->dirty = true;
    t->attempts = 0;
    target_kick(t, 0);
    return 0;
}

int tsr_sd_publisher_show(struct tsr_sd_publisher *p, json_t **out, struct tsr_diag *d)
{
    char until[TSR_TIME_STR_MAX], at[TSR_TIME_STR_MAX];
    static const char *const states[] = {"pending", "published", "failed"};
    json_t *creds, *cats, *j;
    int rc;

    *out = NULL;
    if (p->set == NULL) {
        rc = rebuild(p, d);
        if (rc != 0)
            return rc;
    }
    creds = json_array();
    cats = json_array();
    for (size_t i = 0; creds != NULL && i < p->set->n; i++) {
        const struct tsr_sd_cred *e = &p->set->creds[i];
        json_array_append_new(creds, json_pack("{s:s?, s:s, s:s, s:O}", "offer_id", e->offer_id,
                                               "subject", e->subject, "jwt", e->jwt,
                                               "credential", e->payload));
    }
    for (struct target *t = p->targets; cats != NULL && t != NULL; t = t->next) {
        bool busy = t->xfer != NULL || t->dirty;
        if (t->published_ms <= 0 || tsr_time_format_ms(t->published_ms, at, sizeof(at)) != 0)
            at[0] = '\0';
        json_array_append_new(cats, json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:i}", "url", t->url,
                                              "state", busy && t->state != T_FAILED
                                                           ? "pending"
                                                           : states[t->state],
                                              "error", t->error, "published_at",
                                              at[0] != '\0' ? at : NULL, "configured",
                                              t->configured, "withdrawals_pending",
                                              (int)json_array_size(t->withdrawals)));
    }
    time_str(p->set->valid_until, until, sizeof(until));
    j = json_pack("{s:s, s:s, s:o, s:o}", "presentation", p->set->vp, "valid_until", until,
                  "credentials", creds, "catalogs", cats);
    if (j == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    *out = j;
    return 0;
}

void tsr_sd_publisher_free(struct tsr_sd_publisher *p)
{
    struct target *t, *next;

    if (p == NULL)
        return;
    for (t = p->targets; t != NULL; t = next) {
        next = t->next;
        tsr_client_cancel(t->xfer);
        if (t->timer != NULL)
            event_free(t->timer);
        tsr_free(t->url);
        tsr_free(t->error);
        json_decref(t->withdrawals);
        tsr_free(t);
    }
    if (p->rebuild_ev != NULL)
        event_free(p->rebuild_ev);
    for (size_t i = 0; i < TSR_ARRAY_SIZE(p->strs); i++)
        tsr_free(p->strs[i]);
    tsr_sd_set_free(p->set);
    json_decref(p->subjects);
    tsr_key_free(p->key);
    tsr_free(p);
}

int tsr_sd_publisher_from_conf(struct event_base *base, struct tsr_client *client,
                               const struct tsr_conf *conf, const char *public_url,
                               const struct tsr_key *key, struct tsr_store *st,
                               struct tsr_sd_publisher **out, struct tsr_diag *d)
{
    static const char *const reg_types[] = TSR_SD_REG_TYPES;
    char kid[2200], dsp[URL_MAX], state[URL_MAX];
    struct tsr_sd_conf c = {
        .did = conf->did,
        .kid = kid,
        .name = conf->name,
        .public_url = public_url,
        .dsp_url = dsp,
        .ns = conf->catalog_namespace,
        .reg_number = conf->registration_number,
        .legal_country = conf->legal_country,
        .hq_country = conf->headquarters_country,
        .terms_url = conf->catalog_terms_url,
        .terms_hash = conf->catalog_terms_hash,
        .license = conf->catalog_license,
        .validity_s = (int64_t)(conf->catalog_validity / 1000),
    };

    if (conf->registration_type >= 0 &&
        (size_t)conf->registration_type < TSR_ARRAY_SIZE(reg_types) - 1)
        c.reg_type = reg_types[conf->registration_type];
    snprintf(kid, sizeof(kid), "%s#%s", conf->did, TSR_DID_KEY_FRAGMENT);
    snprintf(dsp, sizeof(dsp), "%s%s", public_url, TSR_DSP_BASE_PATH);
    snprintf(state, sizeof(state), "%s/sd-published.json", conf->state_dir);
    return tsr_sd_publisher_new(base, client, &c, key, st,
                                (const char *const *)conf->catalog_urls.items, state, out, d);
}
