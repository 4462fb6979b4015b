/*
 * connector/usage.c: consumer-side usage control (connector/usage.h): the
 * decision at each use, the use counter, the ledger entries, the duties
 * scheduler, and the usage extension's protocol routes (ledger extracts
 * for providers, inform notifications from consumers).
 */
#include "lib/tsr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

#include "connector/identity.h"
#include "connector/metrics.h"
#include "connector/policy.h"
#include "connector/store.h"
#include "connector/usage.h"
#include "contracts/ledger.h"
#include "contracts/odrl.h"
#include "contracts/vault.h"
#include "lib/db.h"
#include "lib/did.h"
#include "lib/jose.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "transports/client.h"
#include "transports/did_resolve.h"
#include "transports/http.h"

/* Duties run per timer turn, so a backlog never stalls the loop for long. */
#define DUTY_BATCH 32
/* The timer is never armed further ahead than this (a clock step is then noticed). */
#define TIMER_MAX_MS (10 * 60 * 1000)
/* Longest notify body, and longest extract answer, accepted. */
#define NOTIFY_MAX (64 * 1024)
#define EXTRACT_MAX ((size_t)32 << 20)
#define URL_MAX 4096

static const struct tsr_db_migration migrations[] = {
    {1, "CREATE TABLE usage_counts ("
        " agreement_id TEXT PRIMARY KEY,"
        " use_count INTEGER NOT NULL,"
        " first_ms INTEGER NOT NULL,"
        " last_ms INTEGER NOT NULL);"
        "CREATE TABLE usage_duties ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " agreement_id TEXT NOT NULL,"
        " object_id TEXT,"
        " kind TEXT NOT NULL,"      /* delete | inform | log */
        " action TEXT NOT NULL,"    /* the ODRL action as written */
        " duty_key TEXT NOT NULL,"  /* which duty of the agreement, for de-duplication */
        " target TEXT,"             /* inform: the party informed */
        " due_ms INTEGER NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " state TEXT NOT NULL DEFAULT 'pending'," /* pending | done | failed */
        " last_error TEXT,"
        " created_ms INTEGER NOT NULL,"
        " UNIQUE (agreement_id, duty_key));"
        "CREATE INDEX usage_duties_due ON usage_duties(state, due_ms);"},
};

struct inreq;
struct fetch;
struct inform;

struct tsr_usage {
    struct event_base *base;
    struct tsr_store *st;
    struct tsr_db *db;
    struct tsr_policy *policy;
    struct tsr_identity *id;
    struct tsr_client *client;
    struct tsr_did_resolver *resolver;
    const struct tsr_key *key;
    char *did;
    struct tsr_vault *vault;
    struct tsr_ledger *ledger;     /* NULL when it did not verify at start */
    char *ledger_dir;
    char ledger_error[TSR_DIAG_MAX];
    struct event *timer;
    struct inreq *ins;
    struct fetch *fetches;
    struct inform *informs;
    struct tsr_odrl_decision dec;  /* large: one, reused */
};

/* ------------------------------------------------------------ helpers */

static void reply_json(struct tsr_http_req *req, int status, json_t *j)
{
    static const struct tsr_http_header h[] = {{"content-type", "application/json"}};
    char *text = NULL;
    size_t len = 0;

    if (j == NULL || tsr_json_dumps(j, JSON_COMPACT, EXTRACT_MAX, &text, &len) != 0) {
        json_decref(j);
        tsr_http_respond_text(req, 500, "application/json", "{\"error\":\"internal\"}");
        return;
    }
    json_decref(j);
    tsr_http_respond(req, status, h, 1, text, len);
    tsr_free(text);
}

static void reply_err(struct tsr_http_req *req, int status, const char *msg)
{
    reply_json(req, status, json_pack("{s:s}", "error", msg));
}

/* "scheme://authority" of url, new; NULL when url is not http(s). */
static char *url_root(const char *url)
{
    const char *p = NULL;

    if (tsr_str_startswith(url, "https://"))
        p = url + 8;
    else if (tsr_str_startswith(url, "http://"))
        p = url + 7;
    if (p == NULL)
        return NULL;
    return tsr_strndup(url, (size_t)(p - url) + strcspn(p, "/?#"));
}

/* root + TSR_USAGE_BASE_PATH + "/" + id (percent-encoded) + "/" + what, new. */
static char *usage_url(const char *root, const char *id, const char *what)
{
    struct tsr_buf b;
    static const char hex[] = "0123456789ABCDEF";

    tsr_buf_init(&b, URL_MAX);
    if (tsr_buf_addf(&b, "%s%s/", root, TSR_USAGE_BASE_PATH) != 0)
        goto fail;
    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++) {
        char c[3] = {(char)*p, 0, 0};
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~:@", *p) != NULL;
        if (!plain) {
            c[0] = '%';
            c[1] = hex[*p >> 4];
            c[2] = hex[*p & 15];
        }
        if (tsr_buf_add(&b, c, plain ? 1 : 3) != 0)
            goto fail;
    }
    if (tsr_buf_addf(&b, "/%s", what) != 0)
        goto fail;
    return tsr_buf_steal(&b, NULL);
fail:
    tsr_buf_cleanup(&b);
    return NULL;
}

/*
 * Append to the ledger.  A failure is logged (callers recording what
 * already happened have nothing else to do) and returned (a use waiting
 * for its record is refused).
 */
static int note(struct tsr_usage *u, const char *agreement_id, const char *object_id,
                const char *event, const char *text, struct tsr_diag *d)
{
    struct tsr_ledger_event e = {0, agreement_id, object_id, event, text};
    struct tsr_diag dd = {0};
    int rc;

    if (strcmp(event, TSR_LEDGER_EV_USE) == 0 || strcmp(event, TSR_LEDGER_EV_REFUSE) == 0)
        tsr_metrics_decision("use", strcmp(event, TSR_LEDGER_EV_USE) == 0);

    if (u->ledger == NULL) {
        tsr_log_warn(TSR_LC_POLICY, "usage ledger unusable, not recorded: %s %s: %s", event,
                     agreement_id, text);
        return tsr_diag_set(d, TSR_ECRYPTO, "the usage ledger is unusable: %s", u->ledger_error);
    }
    rc = tsr_ledger_append(u->ledger, &e, NULL, &dd);
    if (rc != 0) {
        tsr_log_error(TSR_LC_POLICY, "usage ledger: cannot append (%s %s): %s", event,
                      agreement_id, tsr_diag_msg(&dd));
        return tsr_diag_set(d, rc, "cannot record in the usage ledger: %s", tsr_diag_msg(&dd));
    }
    return 0;
}

/* ------------------------------------------------------------ use counter */

struct uses {
    uint64_t count;
    int64_t first_ms, last_ms;
};

static int uses_get(struct tsr_usage *u, const char *agreement_id, struct uses *out,
                    struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    int rc;

    out->count = 0;
    out->first_ms = out->last_ms = TSR_ODRL_TIME_UNSET;
    rc = tsr_db_prepare(u->db, "SELECT use_count, first_ms, last_ms FROM usage_counts "
                               "WHERE agreement_id = ?1", &st, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, agreement_id, -1, SQLITE_STATIC);
    rc = tsr_db_step(u->db, st, d);
    if (rc == 1) {
        out->count = (uint64_t)sqlite3_column_int64(st, 0);
        out->first_ms = sqlite3_column_int64(st, 1);
        out->last_ms = sqlite3_column_int64(st, 2);
        rc = 0;
    }
    tsr_db_reset(st);
    return rc;
}

static int uses_add(struct tsr_usage *u, const char *agreement_id, int64_t now,
                    struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = tsr_db_prepare(u->db,
                        "INSERT INTO usage_counts (agreement_id, use_count, first_ms, last_ms) "
                        "VALUES (?1, 1, ?2, ?2) ON CONFLICT (agreement_id) DO UPDATE SET "
                        "use_count = use_count + 1, last_ms = ?2",
                        &st, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, agreement_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    rc = tsr_db_step(u->db, st, d);
    tsr_db_reset(st);
    return rc > 0 ? 0 : rc;
}

/*
 * Evaluate agreement_id for one use now into u->dec.  *a (may be NULL)
 * gets the agreement row (new).  0 with a decision, or an error (the
 * agreement is unknown or does not compile).
 */
static int evaluate(struct tsr_usage *u, const char *agreement_id, const char *action,
                    const char *purpose, int64_t now, const struct uses *n,
                    struct tsr_store_agreement **a_out, struct tsr_diag *d)
{
    const struct tsr_odrl_policy *pol = NULL;
    struct tsr_store_agreement *a = NULL;
    struct tsr_odrl_request req;
    int rc;

    rc = tsr_policy_agreement(u->policy, agreement_id, &pol, &a, d);
    if (rc != 0)
        return rc;
    tsr_odrl_request_init(&req);
    req.action = action;
    req.assignee = u->did;
    req.purpose = purpose;
    req.now_ms = now;
    req.agreement_ms = a->signed_ms;
    req.first_use_ms = n->first_ms;
    req.last_use_ms = n->last_ms;
    req.use_count = n->count;
    (void)tsr_odrl_eval(pol, &req, &u->dec);
    if (a_out != NULL)
        *a_out = a;
    else
        tsr_store_agreement_free(a);
    return 0;
}

/* ------------------------------------------------------------ uses */

int tsr_usage_open(struct tsr_usage *u, const char *id, const char *purpose,
                   struct tsr_vault_reader **r, struct tsr_vault_obj **obj, struct tsr_diag *d)
{
    struct tsr_vault_obj *o = NULL;
    struct tsr_vault_reader *rd = NULL;
    struct tsr_diag ed = {0};
    struct uses n;
    char reason[600], text[900];
    int64_t now = tsr_time_now_ms();
    int rc;

    *r = NULL;
    if (obj != NULL)
        *obj = NULL;
    rc = tsr_vault_get(u->vault, id, &o, d);
    if (rc != 0)
        return rc;
    if (u->ledger == NULL) {
        /* No use goes unrecorded. */
        rc = tsr_diag_set(d, TSR_ECRYPTO, "uses are refused: the usage ledger does not verify: %s",
                          u->ledger_error);
        goto out;
    }
    rc = uses_get(u, o->agreement_id, &n, d);
    if (rc != 0)
        goto out;
    rc = evaluate(u, o->agreement_id, TSR_USAGE_ACTION, purpose, now, &n, NULL, &ed);
    if (rc != 0) {
        /* No agreement that compiles: nothing permits the use. */
        snprintf(text, sizeof(text), "deny: agreement %s: %s", o->agreement_id,
                 tsr_diag_msg(&ed));
        note(u, o->agreement_id, o->id, TSR_LEDGER_EV_REFUSE, text, NULL);
        rc = tsr_diag_set(d, TSR_EPOLICY, "refused: agreement %s: %s", o->agreement_id,
                          tsr_diag_msg(&ed));
        goto out;
    }
    if (!tsr_odrl_permitted(&u->dec)) {
        tsr_policy_reason(&u->dec, reason, sizeof(reason));
        snprintf(text, sizeof(text), "deny %s%s%s: %s", TSR_USAGE_ACTION,
                 purpose != NULL ? " for purpose " : "", purpose != NULL ? purpose : "", reason);
        note(u, o->agreement_id, o->id, TSR_LEDGER_EV_REFUSE, text, NULL);
        tsr_log_info(TSR_LC_POLICY, "vault %s: use refused: %s", o->id, reason);
        rc = tsr_diag_set(d, TSR_EPOLICY, "refused by agreement %s: %s", o->agreement_id, reason);
        goto out;
    }
    rc = tsr_vault_reader_open(u->vault, o->id, &rd, d);
    if (rc != 0)
        goto out;
    rc = uses_add(u, o->agreement_id, now, d);
    if (rc != 0)
        goto out;
    snprintf(text, sizeof(text), "permit %s%s%s: use %llu (%s)", TSR_USAGE_ACTION,
             purpose != NULL ? " for purpose " : "", purpose != NULL ? purpose : "",
             (unsigned long long)n.count + 1, u->dec.why != NULL ? u->dec.why : "permitted");
    rc = note(u, o->agreement_id, o->id, TSR_LEDGER_EV_USE, text, d);
    if (rc != 0)
        goto out;
    tsr_log_info(TSR_LC_POLICY, "vault %s: use %llu of agreement %s", o->id,
                 (unsigned long long)n.count + 1, o->agreement_id);
    *r = rd;
    rd = NULL;
    if (obj != NULL) {
        *obj = o;
        o = NULL;
    }
out:
    tsr_vault_reader_free(rd);
    tsr_vault_obj_free(o);
    return rc;
}

static json_t *obj_json(const struct tsr_vault_obj *o)
{
    char ts[TSR_TIME_STR_MAX] = "";

    tsr_time_format_ms(o->created_ms, ts, sizeof(ts));
    return json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:s, s:s}", "id", o->id, "agreement_id",
                     o->agreement_id, "transfer_id", o->transfer_id, "media_type", o->media_type,
                     "size", (json_int_t)o->size, "sha256", o->sha256, "created_at", ts);
}

int tsr_usage_vault_list(struct tsr_usage *u, size_t offset, size_t limit, json_t **out,
                         struct tsr_diag *d)
{
    struct tsr_vault_obj *v = NULL;
    size_t n = 0;
    json_t *items;
    int rc;

    *out = NULL;
    rc = tsr_vault_list(u->vault, NULL, offset, limit, &v, &n, d);
    if (rc != 0)
        return rc;
    items = json_array();
    for (size_t i = 0; items != NULL && i < n; i++) {
        if (json_array_append_new(items, obj_json(&v[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    tsr_vault_obj_array_free(v, n);
    *out = items != NULL ? json_pack("{s:o}", "items", items) : NULL;
    return *out != NULL ? 0 : tsr_diag_set(d, TSR_ENOMEM, "out of memory");
}

int tsr_usage_vault_get(struct tsr_usage *u, const char *id, json_t **out, struct tsr_diag *d)
{
    struct tsr_vault_obj *o = NULL;
    struct uses n;
    int rc;

    *out = NULL;
    rc = tsr_vault_get(u->vault, id, &o, d);
    if (rc == 0)
        rc = uses_get(u, o->agreement_id, &n, d);
    if (rc == 0) {
        char first[TSR_TIME_STR_MAX] = "", last[TSR_TIME_STR_MAX] = "";
        bool used = n.count > 0;
        if (used) {
            tsr_time_format_ms(n.first_ms, first, sizeof(first));
            tsr_time_format_ms(n.last_ms, last, sizeof(last));
        }
        *out = obj_json(o);
        if (*out == NULL ||
            json_object_set_new(*out, "uses", json_integer((json_int_t)n.count)) != 0 ||
            json_object_set_new(*out, "first_use", used ? json_string(first) : json_null()) ||
            json_object_set_new(*out, "last_use", used ? json_string(last) : json_null())) {
            json_decref(*out);
            *out = NULL;
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        }
    }
    tsr_vault_obj_free(o);
    return rc;
}

int tsr_usage_vault_remove(struct tsr_usage *u, const char *id, struct tsr_diag *d)
{
    struct tsr_vault_obj *o = NULL;
    int rc;

    rc = tsr_vault_get(u->vault, id, &o, d);
    if (rc == 0)
        rc = tsr_vault_remove(u->vault, id, d);
    if (rc == 0) {
        tsr_log_info(TSR_LC_POLICY, "vault %s: removed by the operator", id);
        note(u, o->agreement_id, o->id, TSR_LEDGER_EV_REMOVE, "removed by the operator", NULL);
    }
    tsr_vault_obj_free(o);
    return rc;
}

int tsr_usage_ledger_list(struct tsr_usage *u, const char *agreement_id, size_t offset,
                          size_t limit, json_t **out, struct tsr_diag *d)
{
    json_t *items = NULL;
    int rc = tsr_ledger_list(u->ledger_dir, agreement_id, offset, limit, &items, d);

    *out = rc == 0 ? json_pack("{s:o}", "items", items) : NULL;
    if (rc == 0 && *out == NULL)
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    return rc;
}

int tsr_usage_ledger_verify(struct tsr_usage *u, json_t **out, struct tsr_diag *d)
{
    struct tsr_ledger_report rep;
    struct tsr_diag vd = {0};
    int rc = tsr_ledger_verify(u->ledger_dir, u->key, &rep, &vd);

    *out = json_pack("{s:b, s:I, s:s?, s:o, s:s?}", "valid", rc == 0, "entries",
                     (json_int_t)rep.entries, "head", rep.head[0] != '\0' ? rep.head : NULL,
                     "bad_line", rc != 0 && rep.bad_line > 0
                                     ? json_integer((json_int_t)rep.bad_line) : json_null(),
                     "error", rc != 0 ? tsr_diag_msg(&vd) : NULL);
    return *out != NULL ? 0 : tsr_diag_set(d, TSR_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------ duties */

static void schedule(struct tsr_usage *u);

/* The duty's kind: what the scheduler does about its action. */
static const char *duty_kind(enum tsr_odrl_action a)
{
    switch (a) {
    case TSR_ODRL_ACT_DELETE: return "delete";
    case TSR_ODRL_ACT_INFORM: return "inform";
    default: return "log";
    }
}

static void record_duties(struct tsr_usage *u, const struct tsr_store_agreement *a,
                          const char *object_id, int64_t now)
{
    for (size_t i = 0; i < u->dec.n_pending; i++) {
        const struct tsr_odrl_pending *p = &u->dec.pending[i];
        const char *kind = duty_kind(p->action);
        const char *target = NULL;
        int64_t due = p->deadline_ms != TSR_ODRL_TIME_UNSET ? p->deadline_ms : p->not_before_ms;
        char key[600];
        sqlite3_stmt *st = NULL;

        if (p->timing != TSR_ODRL_TIMING_POST || p->state == TSR_ODRL_DUTY_FULFILLED ||
            (p->role != TSR_ODRL_DUTY && p->role != TSR_ODRL_OBLIGATION))
            continue;
        if (due == TSR_ODRL_TIME_UNSET) {
            if (strcmp(kind, "delete") == 0) {
                /* Deleting at once would make the data useless: the agreement says when. */
                tsr_log_warn(TSR_LC_POLICY, "agreement %s: a delete duty without a time is "
                             "not scheduled", a->id);
                continue;
            }
            due = now;
        }
        if (strcmp(kind, "inform") == 0 && p->duty != NULL)
            target = tsr_odrl_duty_param(p->duty, "informedParty");
        if (target == NULL && strcmp(kind, "inform") == 0)
            target = a->provider_did;
        snprintf(key, sizeof(key), "%s|%s|%lld", p->id != NULL ? p->id : "", p->action_iri,
                 (long long)due);
        /* Data arriving again under the agreement re-arms a duty already performed
         * (a delete then removes the new data too); a pending one stays as it is. */
        if (tsr_db_prepare(u->db,
                           "INSERT INTO usage_duties (agreement_id, object_id, kind, action, "
                           "duty_key, target, due_ms, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, "
                           "?6, ?7, ?8) ON CONFLICT (agreement_id, duty_key) DO UPDATE SET "
                           "state = 'pending', attempts = 0, last_error = NULL, "
                           "object_id = excluded.object_id WHERE usage_duties.state != 'pending'",
                           &st, NULL) != 0)
            continue;
        sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, object_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, p->action_iri, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, target, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, due);
        sqlite3_bind_int64(st, 8, now);
        if (tsr_db_step(u->db, st, NULL) >= 0 && sqlite3_changes(tsr_db_handle(u->db)) > 0) {
            char ts[TSR_TIME_STR_MAX] = "";
            tsr_time_format_ms(due, ts, sizeof(ts));
            tsr_log_info(TSR_LC_POLICY, "agreement %s: %s duty due at %s", a->id, kind, ts);
        }
        tsr_db_reset(st);
    }
}

void tsr_usage_received(struct tsr_usage *u, const char *agreement_id, const char *transfer_id,
                        const char *object_id, uint64_t bytes, const char *sha256)
{
    struct tsr_store_agreement *a = NULL;
    struct tsr_diag d = {0};
    struct uses n;
    char text[300];
    int64_t now = tsr_time_now_ms();

    snprintf(text, sizeof(text), "received %llu bytes (sha-256 %s) with transfer %s",
             (unsigned long long)bytes, sha256 != NULL ? sha256 : "?",
             transfer_id != NULL ? transfer_id : "?");
    note(u, agreement_id, object_id, TSR_LEDGER_EV_RECEIVE, text, NULL);
    if (uses_get(u, agreement_id, &n, &d) != 0 ||
        evaluate(u, agreement_id, "use", NULL, now, &n, &a, &d) != 0) {
        tsr_log_warn(TSR_LC_POLICY, "agreement %s: duties not read: %s", agreement_id,
                     tsr_diag_msg(&d));
        return;
    }
    record_duties(u, a, object_id, now);
    tsr_store_agreement_free(a);
    schedule(u);
}

struct duty {
    int64_t id;
    char *agreement_id, *object_id, *kind, *action, *target;
    int64_t due_ms;
    int attempts;
};

static void duty_cleanup(struct duty *t)
{
    tsr_free(t->agreement_id);
    tsr_free(t->object_id);
    tsr_free(t->kind);
    tsr_free(t->action);
    tsr_free(t->target);
}

static char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t != NULL ? tsr_strdup((const char *)t) : NULL;
}

static void duty_set(struct tsr_usage *u, int64_t id, const char *state, int64_t due,
                     int attempts, const char *error)
{
    sqlite3_stmt *st = NULL;

    if (tsr_db_prepare(u->db, "UPDATE usage_duties SET state = ?2, due_ms = ?3, attempts = ?4, "
                              "last_error = ?5 WHERE id = ?1", &st, NULL) != 0)
        return;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, due);
    sqlite3_bind_int(st, 4, attempts);
    sqlite3_bind_text(st, 5, error, -1, SQLITE_STATIC);
    (void)tsr_db_step(u->db, st, NULL);
    tsr_db_reset(st);
}

/* An inform duty's POST in flight. */
struct inform {
    struct inform *prev, *next;
    struct tsr_usage *u;
    struct duty t;
    struct tsr_client_xfer *xfer;
};

static void inform_free(struct inform *f)
{
    struct tsr_usage *u = f->u;

    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        u->informs = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    if (f->xfer != NULL)
        tsr_client_cancel(f->xfer);
    duty_cleanup(&f->t);
    tsr_free(f);
}

static bool inform_in_flight(struct tsr_usage *u, int64_t id)
{
    for (struct inform *f = u->informs; f != NULL; f = f->next) {
        if (f->t.id == id)
            return true;
    }
    return false;
}

/* An inform that could not be delivered: retry with backoff, or give up. */
static void inform_failed(struct tsr_usage *u, struct duty *t, const char *why)
{
    int attempts = t->attempts + 1;

    if (attempts >= TSR_USAGE_INFORM_ATTEMPTS) {
        char text[800];
        snprintf(text, sizeof(text), "inform %s failed after %d attempts: %s",
                 t->target != NULL ? t->target : "the provider", attempts, why);
        tsr_log_warn(TSR_LC_POLICY, "agreement %s: %s", t->agreement_id, text);
        duty_set(u, t->id, "failed", t->due_ms, attempts, why);
        note(u, t->agreement_id, t->object_id, TSR_LEDGER_EV_DUTY_FAILED, text, NULL);
        return;
    }
    /* attempts < TSR_USAGE_INFORM_ATTEMPTS here: 1 s, 2 s, 4 s ... */
    int64_t backoff = 500LL << attempts;
    tsr_log_info(TSR_LC_POLICY, "agreement %s: inform failed (%s); retry in %lld ms",
                 t->agreement_id, why, (long long)backoff);
    duty_set(u, t->id, "pending", tsr_time_now_ms() + backoff, attempts, why);
}

static void inform_done(void *arg, struct tsr_client_resp *resp)
{
    struct inform *f = arg;
    struct tsr_usage *u = f->u;
    char why[600];

    f->xfer = NULL;
    if (resp->rc == 0 && resp->status >= 200 && resp->status < 300) {
        snprintf(why, sizeof(why), "informed %s", f->t.target != NULL ? f->t.target : "?");
        duty_set(u, f->t.id, "done", f->t.due_ms, f->t.attempts + 1, NULL);
        note(u, f->t.agreement_id, f->t.object_id, TSR_LEDGER_EV_DUTY_INFORM, why, NULL);
        tsr_log_info(TSR_LC_POLICY, "agreement %s: %s", f->t.agreement_id, why);
    } else {
        if (resp->rc != 0)
            snprintf(why, sizeof(why), "%s", tsr_diag_msg(&resp->diag));
        else
            snprintf(why, sizeof(why), "HTTP %d", resp->status);
        inform_failed(u, &f->t, why);
    }
    inform_free(f);
    schedule(u);
}

/* Start the POST of an inform duty; takes t's fields. */
static void inform_start(struct tsr_usage *u, struct duty *t)
{
    struct tsr_store_agreement *a = NULL;
    struct tsr_store_neg *n = NULL;
    struct inform *f = NULL;
    struct tsr_diag d = {0};
    char *root = NULL, *url = NULL, *auth = NULL, *body = NULL;
    char authz[8300], ts[TSR_TIME_STR_MAX];

    if (u->client == NULL || u->id == NULL) {
        inform_failed(u, t, "no client to reach peers");
        duty_cleanup(t);
        return;
    }
    if (tsr_store_agreement_get(u->st, t->agreement_id, &a, &d) != 0 ||
        tsr_store_neg_get(u->st, a->negotiation_id, &n, &d) != 0 ||
        (root = url_root(n->counterparty_url)) == NULL ||
        (url = usage_url(root, t->agreement_id, "notify")) == NULL) {
        inform_failed(u, t, d.msg[0] != '\0' ? d.msg : "the provider's address is unknown");
        duty_cleanup(t);
        goto out;
    }
    if (tsr_identity_token(u->id, a->provider_did, &auth, &d) != 0) {
        inform_failed(u, t, tsr_diag_msg(&d));
        duty_cleanup(t);
        goto out;
    }
    tsr_time_format_ms(tsr_time_now_ms(), ts, sizeof(ts));
    json_t *j = json_pack("{s:s, s:s?, s:s, s:s, s:s}", "agreement", t->agreement_id, "object",
                          t->object_id, "action", t->action, "informedParty",
                          t->target != NULL ? t->target : a->provider_did, "ts", ts);
    if (j == NULL || tsr_json_dumps(j, JSON_COMPACT, NOTIFY_MAX, &body, NULL) != 0)
        body = NULL;
    json_decref(j);
    f = tsr_calloc(1, sizeof(*f));
    if (body == NULL || f == NULL) {
        tsr_free(f);
        inform_failed(u, t, "out of memory");
        duty_cleanup(t);
        goto out;
    }
    f->u = u;
    f->t = *t;
    memset(t, 0, sizeof(*t));
    f->next = u->informs;
    if (u->informs != NULL)
        u->informs->prev = f;
    u->informs = f;
    snprintf(authz, sizeof(authz), "Authorization: %s", auth);
    const char *hdrs[] = {authz, "Content-Type: application/json", NULL};
    struct tsr_client_req req = {.method = "POST", .url = url, .headers = hdrs, .body = body,
                                 .body_len = strlen(body)};
    if (tsr_client_request(u->client, &req, inform_done, f, &f->xfer, &d) != 0) {
        inform_failed(u, &f->t, tsr_diag_msg(&d));
        inform_free(f);
    }
out:
    tsr_wipe(authz, sizeof(authz));
    tsr_free_secret(auth);
    tsr_free(body);
    tsr_free(root);
    tsr_free(url);
    tsr_store_agreement_free(a);
    tsr_store_neg_free(n);
}

static void run_duty(struct tsr_usage *u, struct duty *t)
{
    struct tsr_diag d = {0};
    char text[800], ts[TSR_TIME_STR_MAX] = "";

    tsr_time_format_ms(t->due_ms, ts, sizeof(ts));
    if (strcmp(t->kind, "inform") == 0) {
        inform_start(u, t);
        return;
    }
    if (strcmp(t->kind, "delete") == 0) {
        size_t removed = 0;
        if (tsr_vault_destroy_agreement(u->vault, t->agreement_id, &removed, &d) != 0) {
            tsr_log_error(TSR_LC_POLICY, "agreement %s: delete duty failed: %s",
                          t->agreement_id, tsr_diag_msg(&d));
            duty_set(u, t->id, "pending", tsr_time_now_ms() + 60000, t->attempts + 1,
                     tsr_diag_msg(&d));
            duty_cleanup(t);
            return;
        }
        snprintf(text, sizeof(text), "deleted %zu object(s) and the agreement's key (due %s)",
                 removed, ts);
        note(u, t->agreement_id, NULL, TSR_LEDGER_EV_DUTY_DELETE, text, NULL);
    } else {
        snprintf(text, sizeof(text), "duty %s noted (due %s)", t->action, ts);
        note(u, t->agreement_id, t->object_id, TSR_LEDGER_EV_DUTY_LOG, text, NULL);
    }
    tsr_log_info(TSR_LC_POLICY, "agreement %s: %s", t->agreement_id, text);
    duty_set(u, t->id, "done", t->due_ms, t->attempts + 1, NULL);
    duty_cleanup(t);
}

static void run_due(struct tsr_usage *u)
{
    struct duty due[DUTY_BATCH];
    size_t n = 0;
    sqlite3_stmt *st = NULL;

    if (tsr_db_prepare(u->db, "SELECT id, agreement_id, object_id, kind, action, target, "
                              "due_ms, attempts FROM usage_duties WHERE state = 'pending' AND "
                              "due_ms <= ?1 ORDER BY due_ms, id LIMIT ?2", &st, NULL) != 0)
        return;
    sqlite3_bind_int64(st, 1, tsr_time_now_ms());
    sqlite3_bind_int(st, 2, DUTY_BATCH);
    while (n < DUTY_BATCH && tsr_db_step(u->db, st, NULL) == 1) {
        struct duty *t = &due[n];
        t->id = sqlite3_column_int64(st, 0);
        if (inform_in_flight(u, t->id))
            continue;
        t->agreement_id = col(st, 1);
        t->object_id = col(st, 2);
        t->kind = col(st, 3);
        t->action = col(st, 4);
        t->target = col(st, 5);
        t->due_ms = sqlite3_column_int64(st, 6);
        t->attempts = sqlite3_column_int(st, 7);
        n++;
    }
    tsr_db_reset(st);
    for (size_t i = 0; i < n; i++) {
        if (due[i].agreement_id == NULL || due[i].kind == NULL || due[i].action == NULL) {
            duty_cleanup(&due[i]);
            continue;
        }
        run_duty(u, &due[i]);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_usage *u = arg;

    (void)fd;
    (void)what;
    run_due(u);
    schedule(u);
}

/* Arm the timer for the earliest pending duty not in flight. */
static void schedule(struct tsr_usage *u)
{
    sqlite3_stmt *st = NULL;
    int64_t next = -1;

    if (u->timer == NULL)
        return;
    if (tsr_db_prepare(u->db, "SELECT id, due_ms FROM usage_duties WHERE state = 'pending' "
                              "ORDER BY due_ms, id LIMIT 64", &st, NULL) != 0)
        return;
    while (tsr_db_step(u->db, st, NULL) == 1) {
        if (inform_in_flight(u, sqlite3_column_int64(st, 0)))
            continue;
        next = sqlite3_column_int64(st, 1);
        break;
    }
    tsr_db_reset(st);
    if (next < 0) {
        evtimer_del(u->timer);
        return;
    }
    int64_t wait = next - tsr_time_now_ms();
    if (wait < 0)
        wait = 0;
    if (wait > TIMER_MAX_MS)
        wait = TIMER_MAX_MS;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(u->timer, &tv);
}

/* ------------------------------------------------------------ protocol routes */

enum in_kind { IN_LEDGER, IN_NOTIFY };

struct inreq {
    struct inreq *prev, *next;
    struct tsr_usage *u;
    struct tsr_http_req *req;
    struct tsr_identity_check *chk;
    enum in_kind kind;
};

static void in_unlink(struct inreq *in)
{
    struct tsr_usage *u = in->u;

    if (in->prev != NULL)
        in->prev->next = in->next;
    else
        u->ins = in->next;
    if (in->next != NULL)
        in->next->prev = in->prev;
}

static void in_abort(struct tsr_http_req *req, void *arg)
{
    struct inreq *in = arg;

    (void)req;
    if (in->chk != NULL)
        tsr_identity_cancel(in->chk);
    in_unlink(in);
    tsr_free(in);
}

/* Consumer: a provider asks for its agreement's extract. */
static void serve_extract(struct tsr_usage *u, struct tsr_http_req *req, const char *caller,
                          const struct tsr_store_agreement *a)
{
    struct tsr_diag d = {0};
    json_t *ext = NULL;

    if (strcmp(a->provider_did, caller) != 0 || strcmp(a->consumer_did, u->did) != 0) {
        reply_err(req, 404, "no such agreement");
        return;
    }
    if (u->ledger == NULL) {
        reply_err(req, 503, "the usage ledger is unusable");
        return;
    }
    if (tsr_ledger_extract(u->ledger, a->id, caller, &ext, &d) != 0) {
        tsr_log_warn(TSR_LC_POLICY, "agreement %s: no extract for %s: %s", a->id, caller,
                     tsr_diag_msg(&d));
        reply_err(req, d.code == TSR_ELIMIT ? 413 : 500, "the extract cannot be made");
        return;
    }
    tsr_log_info(TSR_LC_POLICY, "agreement %s: ledger extract (%zu entries) for %s", a->id,
                 json_array_size(json_object_get(ext, "entries")), caller);
    reply_json(req, 200, ext);
}

/* Provider: a consumer performs an inform duty. */
static void serve_notify(struct tsr_usage *u, struct tsr_http_req *req, const char *caller,
                         const struct tsr_store_agreement *a)
{
    const struct tsr_buf *b = tsr_http_req_body(req);
    struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;
    json_t *j = NULL;

    if (strcmp(a->consumer_did, caller) != 0 || strcmp(a->provider_did, u->did) != 0) {
        reply_err(req, 404, "no such agreement");
        return;
    }
    lim.max_bytes = NOTIFY_MAX;
    lim.max_depth = 4;
    if (b->len == 0 || tsr_json_parse(b->data, b->len, &lim, &j, NULL) != 0 ||
        !json_is_object(j)) {
        json_decref(j);
        reply_err(req, 400, "the body must be a JSON object");
        return;
    }
    const char *action = json_string_value(json_object_get(j, "action"));
    const char *object = json_string_value(json_object_get(j, "object"));
    char safe[200];
    snprintf(safe, sizeof(safe), "%s", action != NULL ? action : "?");
    for (char *p = safe; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    }
    tsr_log_info(TSR_LC_POLICY, "agreement %s: informed by %s (duty %s%s%s)", a->id, caller,
                 safe, object != NULL && tsr_str_is_printable(object, strlen(object)) ? ", object "
                                                                                    : "",
                 object != NULL && tsr_str_is_printable(object, strlen(object)) ? object : "");
    json_decref(j);
    reply_json(req, 200, json_pack("{s:b}", "received", 1));
}

static void in_authed(void *arg, int rc, const char *caller, const struct tsr_diag *diag)
{
    struct inreq *in = arg;
    struct tsr_usage *u = in->u;
    struct tsr_http_req *req = in->req;
    enum in_kind kind = in->kind;
    struct tsr_store_agreement *a = NULL;

    in->chk = NULL;
    in_unlink(in);
    tsr_free(in);
    tsr_http_req_on_abort(req, NULL, NULL);
    if (rc != 0) {
        reply_err(req, rc == TSR_EFORBIDDEN ? 403 : rc == TSR_EUNAVAIL ? 503 : 401,
                  tsr_diag_msg(diag));
        return;
    }
    const char *id = tsr_http_req_param(req, "id");
    /* Someone else's agreement looks like no agreement at all. */
    if (id == NULL || tsr_store_agreement_get(u->st, id, &a, NULL) != 0) {
        reply_err(req, 404, "no such agreement");
        return;
    }
    if (kind == IN_LEDGER)
        serve_extract(u, req, caller, a);
    else
        serve_notify(u, req, caller, a);
    tsr_store_agreement_free(a);
}

static void on_request(struct tsr_http_req *req, struct tsr_usage *u, enum in_kind kind)
{
    struct inreq *in;
    struct tsr_diag d = {0};
    const char *auth = tsr_http_req_header(req, "authorization");

    if (u->id == NULL) {
        reply_err(req, 503, "no identity");
        return;
    }
    in = tsr_calloc(1, sizeof(*in));
    if (in == NULL) {
        reply_err(req, 503, "out of memory");
        return;
    }
    in->u = u;
    in->req = req;
    in->kind = kind;
    in->next = u->ins;
    if (u->ins != NULL)
        u->ins->prev = in;
    u->ins = in;
    tsr_http_req_on_abort(req, in_abort, in);
    int rc = tsr_identity_verify(u->id, auth != NULL ? auth : "", in_authed, in, &in->chk, &d);
    if (rc != 0) {
        in_unlink(in);
        tsr_free(in);
        tsr_http_req_on_abort(req, NULL, NULL);
        reply_err(req, rc == TSR_EFORBIDDEN ? 403 : rc == TSR_EUNAVAIL ? 503 : 401,
                  tsr_diag_msg(&d));
    }
}

static void on_ledger(struct tsr_http_req *req, void *arg)
{
    on_request(req, arg, IN_LEDGER);
}

static void on_notify(struct tsr_http_req *req, void *arg)
{
    on_request(req, arg, IN_NOTIFY);
}

int tsr_usage_mount(struct tsr_usage *u, struct tsr_http_server *srv, struct tsr_diag *d)
{
    int rc = tsr_http_server_route(srv, "GET", TSR_USAGE_BASE_PATH "/:id/ledger", on_ledger, u);

    if (rc == 0)
        rc = tsr_http_server_route(srv, "POST", TSR_USAGE_BASE_PATH "/:id/notify", on_notify, u);
    return rc != 0 ? tsr_diag_set(d, rc, "cannot add the usage routes") : 0;
}

/* ------------------------------------------------------------ extract fetch */

struct fetch {
    struct fetch *prev, *next;
    struct tsr_usage *u;
    char *agreement_id, *consumer;
    tsr_usage_done_fn cb;
    void *arg;
    struct tsr_client_xfer *xfer;
    struct tsr_did_lookup *lookup;
    json_t *ext;
};

static void fetch_free(struct fetch *f)
{
    struct tsr_usage *u = f->u;

    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        u->fetches = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    if (f->xfer != NULL)
        tsr_client_cancel(f->xfer);
    if (f->lookup != NULL)
        tsr_did_resolve_cancel(f->lookup);
    json_decref(f->ext);
    tsr_free(f->agreement_id);
    tsr_free(f->consumer);
    tsr_free(f);
}

static void fetch_finish(struct fetch *f, int rc, json_t *result, const struct tsr_diag *d)
{
    f->cb(f->arg, rc, result, d);
    fetch_free(f);
}

static void fetch_fail(struct fetch *f, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fetch_fail(struct fetch *f, int rc, const char *fmt, ...)
{
    struct tsr_diag d = {0};
    va_list ap;

    va_start(ap, fmt);
    tsr_diag_vset(&d, rc, fmt, ap);
    va_end(ap);
    fetch_finish(f, rc, NULL, &d);
}

static void on_consumer_doc(void *arg, int rc, const json_t *doc, const struct tsr_diag *diag)
{
    struct fetch *f = arg;
    struct tsr_diag d = {0};
    const json_t *jwk = NULL;
    struct tsr_key *pub = NULL;
    json_t *hdr = NULL, *entries = NULL, *out = NULL;

    f->lookup = NULL;
    if (rc != 0) {
        fetch_fail(f, TSR_EUNAVAIL, "the consumer's DID document: %s", tsr_diag_msg(diag));
        return;
    }
    const char *head = json_string_value(json_object_get(f->ext, "head"));
    if (head == NULL || tsr_jws_peek_header(head, &hdr, &d) != 0) {
        fetch_fail(f, TSR_EPROTO, "the consumer's answer is not a ledger extract");
        goto out;
    }
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    if (kid == NULL || !tsr_str_startswith(kid, f->consumer) || kid[strlen(f->consumer)] != '#' ||
        tsr_did_doc_find_jwk(doc, kid, "assertionMethod", &jwk, &d) != 0 ||
        tsr_key_from_jwk(jwk, &pub, &d) != 0) {
        fetch_fail(f, TSR_ECRYPTO, "the extract is not signed with a key of %s", f->consumer);
        goto out;
    }
    rc = tsr_ledger_extract_verify(f->ext, pub, f->agreement_id, &entries, &d);
    if (rc != 0) {
        fetch_fail(f, rc, "the extract does not verify: %s", tsr_diag_msg(&d));
        goto out;
    }
    out = json_pack("{s:s, s:s, s:b, s:I, s:o, s:O}", "agreement", f->agreement_id, "consumer",
                    f->consumer, "verified", 1, "count", (json_int_t)json_array_size(entries),
                    "entries", entries, "extract", f->ext);
    if (out == NULL) {
        fetch_fail(f, TSR_ENOMEM, "out of memory");
        goto out;
    }
    tsr_log_info(TSR_LC_POLICY, "agreement %s: the ledger extract of %s verifies (%zu entries)",
                 f->agreement_id, f->consumer, json_array_size(json_object_get(out, "entries")));
    fetch_finish(f, 0, out, NULL);
out:
    json_decref(out);
    json_decref(hdr);
    tsr_key_free(pub);
}

static void on_extract(void *arg, struct tsr_client_resp *resp)
{
    struct fetch *f = arg;
    struct tsr_usage *u = f->u;
    struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;
    struct tsr_diag d = {0};

    f->xfer = NULL;
    if (resp->rc != 0) {
        fetch_fail(f, TSR_EUNAVAIL, "%s", tsr_diag_msg(&resp->diag));
        return;
    }
    if (resp->status != 200) {
        fetch_fail(f, resp->status == 404 || resp->status == 403 ? TSR_EFORBIDDEN : TSR_EUNAVAIL,
                   "the consumer answered HTTP %d: %.300s", resp->status,
                   tsr_buf_str(&resp->body));
        return;
    }
    lim.max_bytes = EXTRACT_MAX;
    lim.max_members = TSR_LEDGER_EXTRACT_MAX + 8;
    if (tsr_json_parse(resp->body.data, resp->body.len, &lim, &f->ext, &d) != 0 ||
        !json_is_object(f->ext)) {
        fetch_fail(f, TSR_EPROTO, "the consumer's answer is not JSON: %s", tsr_diag_msg(&d));
        return;
    }
    if (u->resolver == NULL) {
        fetch_fail(f, TSR_EUNAVAIL, "no DID resolver");
        return;
    }
    if (tsr_did_resolve(u->resolver, f->consumer, on_consumer_doc, f, &f->lookup, &d) != 0)
        fetch_fail(f, TSR_EUNAVAIL, "%s", tsr_diag_msg(&d));
}

int tsr_usage_fetch_extract(struct tsr_usage *u, const char *agreement_id, tsr_usage_done_fn cb,
                            void *arg, void **handle, struct tsr_diag *d)
{
    struct tsr_store_agreement *a = NULL;
    struct tsr_store_neg *n = NULL;
    struct fetch *f = NULL;
    char *root = NULL, *url = NULL, *auth = NULL;
    char authz[8300];
    int rc;

    if (handle != NULL)
        *handle = NULL;
    if (u->client == NULL || u->id == NULL)
        return tsr_diag_set(d, TSR_EUNAVAIL, "no client to reach peers");
    rc = tsr_store_agreement_get(u->st, agreement_id, &a, d);
    if (rc != 0)
        return rc;
    if (strcmp(a->provider_did, u->did) != 0) {
        rc = tsr_diag_set(d, TSR_EINVAL, "agreement %s is not one where we are the provider",
                          agreement_id);
        goto out;
    }
    rc = tsr_store_neg_get(u->st, a->negotiation_id, &n, d);
    if (rc != 0)
        goto out;
    root = url_root(n->counterparty_url);
    url = root != NULL ? usage_url(root, agreement_id, "ledger") : NULL;
    if (url == NULL) {
        rc = tsr_diag_set(d, TSR_EINVAL, "the consumer's address is unknown");
        goto out;
    }
    rc = tsr_identity_token(u->id, a->consumer_did, &auth, d);
    if (rc != 0)
        goto out;
    f = tsr_calloc(1, sizeof(*f));
    if (f == NULL || (f->agreement_id = tsr_strdup(agreement_id)) == NULL ||
        (f->consumer = tsr_strdup(a->consumer_did)) == NULL) {
        if (f != NULL) {
            tsr_free(f->agreement_id);
            tsr_free(f);
        }
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    f->u = u;
    f->cb = cb;
    f->arg = arg;
    f->next = u->fetches;
    if (u->fetches != NULL)
        u->fetches->prev = f;
    u->fetches = f;
    snprintf(authz, sizeof(authz), "Authorization: %s", auth);
    const char *hdrs[] = {authz, "Accept: application/json", NULL};
    struct tsr_client_req req = {.method = "GET", .url = url, .headers = hdrs,
                                 .max_body = EXTRACT_MAX};
    rc = tsr_client_request(u->client, &req, on_extract, f, &f->xfer, d);
    tsr_wipe(authz, sizeof(authz));
    if (rc != 0) {
        fetch_free(f);
        goto out;
    }
    if (handle != NULL)
        *handle = f;
out:
    tsr_free_secret(auth);
    tsr_free(root);
    tsr_free(url);
    tsr_store_agreement_free(a);
    tsr_store_neg_free(n);
    return rc;
}

void tsr_usage_cancel(struct tsr_usage *u, void *handle)
{
    for (struct fetch *f = u->fetches; f != NULL; f = f->next) {
        if (f == handle) {
            tsr_free(f->arg);
            fetch_free(f);
            return;
        }
    }
}

/* ------------------------------------------------------------ life cycle */

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = tsr_malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int tsr_usage_new(const struct tsr_usage_opts *o, struct tsr_usage **out, struct tsr_diag *d)
{
    unsigned char master[TSR_VAULT_KEY_LEN];
    struct tsr_usage *u = NULL;
    char *vault_dir = NULL, kid[2200];
    struct tsr_diag ld = {0};
    int rc;

    *out = NULL;
    if (o == NULL || o->store == NULL || o->policy == NULL || o->key == NULL ||
        o->did == NULL || o->state_dir == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "usage control: missing store, policy, key or DID");
    u = tsr_calloc(1, sizeof(*u));
    if (u == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    u->base = o->base;
    u->st = o->store;
    u->db = tsr_store_db(o->store);
    u->policy = o->policy;
    u->id = o->identity;
    u->client = o->client;
    u->resolver = o->resolver;
    u->key = o->key;
    u->did = tsr_strdup(o->did);
    vault_dir = join(o->state_dir, "vault");
    u->ledger_dir = join(o->state_dir, "ledger");
    if (u->did == NULL || vault_dir == NULL || u->ledger_dir == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto fail;
    }
    rc = tsr_db_migrate(u->db, "usage", migrations, TSR_ARRAY_SIZE(migrations), d);
    if (rc != 0)
        goto fail;
    rc = tsr_vault_master_key(o->key, master, d);
    if (rc == 0)
        rc = tsr_vault_open(u->db, vault_dir, master, &u->vault, d);
    tsr_wipe(master, sizeof(master));
    if (rc != 0)
        goto fail;
    snprintf(kid, sizeof(kid), "%s#%s", o->did, TSR_DID_KEY_FRAGMENT);
    if (tsr_ledger_open(u->ledger_dir, o->key, kid, &u->ledger, &ld) != 0) {
        /* Fail closed for uses, but keep the daemon (and the evidence) running. */
        snprintf(u->ledger_error, sizeof(u->ledger_error), "%s", tsr_diag_msg(&ld));
        tsr_log_error(TSR_LC_POLICY, "usage ledger %s does not verify: %s; every use of the "
                      "vault is refused", u->ledger_dir, u->ledger_error);
    }
    if (o->base != NULL) {
        u->timer = evtimer_new(o->base, on_timer, u);
        if (u->timer == NULL) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            goto fail;
        }
        /* Duties that fell due while we were down run at the first turn of the loop. */
        schedule(u);
    }
    tsr_free(vault_dir);
    *out = u;
    return 0;
fail:
    tsr_free(vault_dir);
    tsr_usage_free(u);
    return rc;
}

void tsr_usage_free(struct tsr_usage *u)
{
    if (u == NULL)
        return;
    while (u->ins != NULL) {
        struct inreq *in = u->ins;
        /* The server, and its requests, are gone already. */
        if (in->chk != NULL)
            tsr_identity_cancel(in->chk);
        in_unlink(in);
        tsr_free(in);
    }
    while (u->fetches != NULL) {
        tsr_free(u->fetches->arg);
        fetch_free(u->fetches);
    }
    while (u->informs != NULL)
        inform_free(u->informs);
    if (u->timer != NULL)
        event_free(u->timer);
    tsr_vault_close(u->vault);
    tsr_ledger_close(u->ledger);
    tsr_free(u->ledger_dir);
    tsr_free(u->did);
    tsr_free(u);
}

struct tsr_vault *tsr_usage_vault(struct tsr_usage *u)
{
    return u->vault;
}
