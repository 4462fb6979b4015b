/*
 * connector/policy.c: the daemon's policy context: the registry, the
 * agreement cache, the provider's use counter and the provider-side
 * decisions (see policy.h and tessera-policy(7)).
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "connector/metrics.h"
#include "connector/policy.h"
#include "connector/store.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

struct tsr_policy {
    struct tsr_store *st;
    struct tsr_odrl_registry *reg;
    struct tsr_odrl_cache *cache;
    struct tsr_odrl_decision dec; /* large: one, reused */
};

/*
 * The provider's counter of permitted data requests per agreement.  No
 * foreign key: the connector module owns conn_agreement and may reshape
 * it; agreements are never deleted anyway.
 */
static const struct tsr_db_migration migrations[] = {
    {1,
     "CREATE TABLE pol_use("
     " agreement_id TEXT PRIMARY KEY NOT NULL,"
     " count INTEGER NOT NULL,"
     " first_ms INTEGER NOT NULL,"
     " last_ms INTEGER NOT NULL) WITHOUT ROWID;"},
};

struct tsr_policy *tsr_policy_new(struct tsr_store *st)
{
    struct tsr_policy *pc = NULL;
    struct tsr_diag d = {0};

    if (st == NULL)
        return NULL;
    pc = tsr_calloc(1, sizeof(*pc));
    if (pc == NULL)
        return NULL;
    pc->st = st;
    pc->reg = tsr_odrl_registry_new();
    pc->cache = tsr_odrl_cache_new(TSR_POLICY_CACHE_MAX);
    if (pc->reg == NULL || pc->cache == NULL || tsr_odrl_registry_add_catenax(pc->reg) != 0)
        goto fail;
    if (tsr_db_migrate(tsr_store_db(st), "policy", migrations, TSR_ARRAY_SIZE(migrations), &d) !=
        0) {
        tsr_log_error(TSR_LC_POLICY, "policy store: %s", tsr_diag_msg(&d));
        goto fail;
    }
    return pc;
fail:
    tsr_policy_free(pc);
    return NULL;
}

void tsr_policy_free(struct tsr_policy *pc)
{
    if (pc == NULL)
        return;
    tsr_odrl_cache_free(pc->cache);
    tsr_odrl_registry_free(pc->reg);
    tsr_free(pc);
}

const struct tsr_odrl_registry *tsr_policy_registry(struct tsr_policy *pc)
{
    return pc->reg;
}

int tsr_policy_compile(struct tsr_policy *pc, const char *json_text, size_t len,
                       struct tsr_odrl_policy **out, struct tsr_diag *d)
{
    struct tsr_odrl_options o = {.registry = pc->reg};

    return tsr_odrl_parse(json_text, len, &o, out, d);
}

int tsr_policy_validate(struct tsr_policy *pc, const char *json_text, struct tsr_diag *d)
{
    struct tsr_odrl_policy *p = NULL;
    int rc;

    rc = tsr_policy_compile(pc, json_text, strlen(json_text), &p, d);
    tsr_odrl_policy_free(p);
    if (rc == TSR_EPOLICY || rc == TSR_EINVAL) {
        tsr_diag_prefix(d, "policy refused");
        rc = TSR_EINVAL;
        if (d != NULL)
            d->code = rc;
    }
    return rc;
}

/* a's compiled policy, from the cache or compiled now (borrowed until the next put). */
static int compiled(struct tsr_policy *pc, const struct tsr_store_agreement *a,
                    const struct tsr_odrl_policy **out, struct tsr_diag *d)
{
    struct tsr_odrl_policy *p = NULL;
    int rc;

    *out = tsr_odrl_cache_get(pc->cache, a->id);
    if (*out != NULL)
        return 0;
    rc = tsr_policy_compile(pc, a->policy_json, strlen(a->policy_json), &p, d);
    if (rc != 0) {
        tsr_log_warn(TSR_LC_POLICY, "agreement %s does not compile: %s", a->id, tsr_diag_msg(d));
        return rc == TSR_ENOMEM ? rc : TSR_EINVAL;
    }
    rc = tsr_odrl_cache_put(pc->cache, a->id, p);
    if (rc != 0)
        return tsr_diag_set(d, rc, "out of memory");
    *out = tsr_odrl_cache_get(pc->cache, a->id);
    return *out != NULL ? 0 : tsr_diag_set(d, TSR_EINTERNAL, "cache lost agreement %s", a->id);
}

int tsr_policy_agreement(struct tsr_policy *pc, const char *agreement_id,
                         const struct tsr_odrl_policy **out, struct tsr_store_agreement **a,
                         struct tsr_diag *d)
{
    struct tsr_store_agreement *row = NULL;
    int rc;

    *out = NULL;
    if (a != NULL)
        *a = NULL;
    if (a == NULL && (*out = tsr_odrl_cache_get(pc->cache, agreement_id)) != NULL)
        return 0;
    rc = tsr_store_agreement_get(pc->st, agreement_id, &row, d);
    if (rc == 0)
        rc = compiled(pc, row, out, d);
    if (rc == 0 && a != NULL) {
        *a = row;
        row = NULL;
    }
    tsr_store_agreement_free(row);
    return rc;
}

void tsr_policy_forget(struct tsr_policy *pc, const char *agreement_id)
{
    tsr_odrl_cache_remove(pc->cache, agreement_id);
}

const struct tsr_odrl_decision *tsr_policy_last_decision(const struct tsr_policy *pc)
{
    return &pc->dec;
}

/* ------------------------------------------------------------ reasons */

void tsr_policy_reason(const struct tsr_odrl_decision *dec, char *buf, size_t len)
{
    const struct tsr_odrl_constraint_report *c = NULL;
    int rule = dec->decided_by;

    /* The refusing prohibition's constraints, else the first failing atomic one. */
    for (size_t i = 0; i < dec->n_constraints && c == NULL; i++) {
        const struct tsr_odrl_constraint_report *r = &dec->constraints[i];
        if (r->logic == TSR_ODRL_LOGIC_NONE && r->sat == TSR_ODRL_UNSATISFIED &&
            (rule < 0 || (int)r->rule == rule))
            c = r;
    }
    if (dec->effect != TSR_ODRL_PERMIT && c == NULL) {
        /* Refused for a duty: name the first one that blocks. */
        for (size_t i = 0; i < dec->n_pending; i++) {
            const struct tsr_odrl_pending *p = &dec->pending[i];
            if ((p->timing == TSR_ODRL_TIMING_PRE && p->state != TSR_ODRL_DUTY_FULFILLED) ||
                p->state == TSR_ODRL_DUTY_VIOLATED) {
                snprintf(buf, len, "%s: %s %s", dec->why,
                         p->state == TSR_ODRL_DUTY_VIOLATED ? "violated duty" : "pre-duty",
                         p->action_iri != NULL ? p->action_iri : "?");
                return;
            }
        }
    }
    if (c == NULL || dec->effect == TSR_ODRL_PERMIT) {
        snprintf(buf, len, "%s", dec->why != NULL ? dec->why : "refused");
        return;
    }
    snprintf(buf, len, "%s: %s %s %s unsatisfied (%s%s%s)", dec->why, c->operand,
             tsr_odrl_operator_name(c->op), c->right != NULL ? c->right : "",
             c->actual[0] != '\0' ? "actual " : "", c->actual[0] != '\0' ? c->actual : "",
             c->actual[0] == '\0' ? (c->note != NULL ? c->note : "no value") : "");
}

/* ------------------------------------------------------------ catalog-time decisions */

enum tv { TV_FALSE = 0, TV_TRUE, TV_UNKNOWN };

/* The last segment of a term as written: after '/', '#' or a prefix's ':'. */
static const char *local_name(const char *s)
{
    const char *p = s, *q;

    if (s == NULL)
        return "";
    for (q = s; *q != '\0'; q++)
        if (*q == '/' || *q == '#' || *q == ':')
            p = q + 1;
    return p;
}

/*
 * Left operands that describe a use rather than the party (ODRL 2.2
 * common vocabulary, plus purpose terms of profiles): their value is not
 * known before the use, so failing now proves nothing.
 */
static bool use_operand(const char *name)
{
    static const char *const use[] = {
        "count", "purpose", "UsagePurpose", "elapsedTime", "delayPeriod", "timeInterval",
        "spatial", "spatialCoordinates", "recipient", "virtualLocation", "systemDevice",
        "payAmount", "deliveryChannel", "device", "event", "fileFormat", "industry",
        "language", "media", "meteredTime", "percentage", "product", "resolution",
        "absolutePosition", "absoluteSpatialPosition", "absoluteTemporalPosition",
        "absoluteSize", "relativePosition", "relativeSpatialPosition",
        "relativeTemporalPosition", "relativeSize", "unitOfCount", "version",
    };

    for (size_t i = 0; i < TSR_ARRAY_SIZE(use); i++)
        if (strcmp(name, use[i]) == 0)
            return true;
    return false;
}

/*
 * Of those, the ones the provider never learns, even at a data request:
 * they describe what the consumer does with the data (why, where, on what,
 * for whom), which the consumer's connector checks at each use.  Counts
 * and times are not among them: the provider counts and dates its own
 * data requests.
 */
static bool consumer_operand(const char *name)
{
    static const char *const mine[] = {
        "count", "elapsedTime", "delayPeriod", "timeInterval", "meteredTime",
    };

    for (size_t i = 0; i < TSR_ARRAY_SIZE(mine); i++)
        if (strcmp(name, mine[i]) == 0)
            return false;
    return use_operand(name);
}

typedef enum tv (*atom_fn)(const struct tsr_odrl_constraint_report *r);

/* At a data request: what the provider cannot know is the consumer's to check. */
static enum tv provider_tv(const struct tsr_odrl_constraint_report *r)
{
    if (r->sat == TSR_ODRL_SATISFIED || r->sat == TSR_ODRL_CONTRACTUAL)
        return TV_TRUE;
    if (r->sat == TSR_ODRL_NOT_EVALUATED || consumer_operand(local_name(r->operand)))
        return TV_UNKNOWN;
    return TV_FALSE;
}

static enum tv atomic_tv(const struct tsr_odrl_constraint_report *r)
{
    const char *name = local_name(r->operand);

    if (r->sat == TSR_ODRL_SATISFIED || r->sat == TSR_ODRL_CONTRACTUAL)
        return TV_TRUE;
    if (r->sat == TSR_ODRL_NOT_EVALUATED)
        return TV_UNKNOWN;
    if (strcmp(name, "dateTime") == 0 || strcmp(name, "inForceDate") == 0) {
        /* Time only moves on: a past upper bound never holds again, a future
         * lower bound (or one relative to an agreement not made yet) may. */
        if ((r->op == TSR_ODRL_LT || r->op == TSR_ODRL_LTEQ) && r->actual[0] != '\0')
            return TV_FALSE;
        return TV_UNKNOWN;
    }
    if (use_operand(name))
        return TV_UNKNOWN;
    /* A fact about the party: the provider knows now what it will know later. */
    return TV_FALSE;
}

/*
 * The three-valued reading of the constraint report at *i (and its
 * operands, which follow it one level deeper); advances *i past them.
 */
static enum tv report_tv(const struct tsr_odrl_decision *dec, size_t *i, atom_fn atom)
{
    const struct tsr_odrl_constraint_report *r = &dec->constraints[*i];
    enum tv v;
    size_t yes = 0, no = 0, unknown = 0;

    (*i)++;
    if (r->logic == TSR_ODRL_LOGIC_NONE)
        return atom(r);
    while (*i < dec->n_constraints && dec->constraints[*i].rule == r->rule &&
           dec->constraints[*i].scope == r->scope && dec->constraints[*i].depth == r->depth + 1) {
        v = report_tv(dec, i, atom);
        if (v == TV_TRUE)
            yes++;
        else if (v == TV_FALSE)
            no++;
        else
            unknown++;
    }
    switch (r->logic) {
    case TSR_ODRL_LOGIC_OR:
        return yes > 0 ? TV_TRUE : unknown > 0 ? TV_UNKNOWN : TV_FALSE;
    case TSR_ODRL_LOGIC_XONE:
        if (yes > 1)
            return TV_FALSE;
        if (yes == 1)
            return unknown > 0 ? TV_UNKNOWN : TV_TRUE;
        return unknown > 0 ? TV_UNKNOWN : TV_FALSE;
    default: /* and, andSequence (a skipped member is unknown) */
        return no > 0 ? TV_FALSE : unknown > 0 ? TV_UNKNOWN : TV_TRUE;
    }
}

/*
 * Rule k's constraints and refinements in three values; first_false (may
 * be NULL) gets the first top-level one that cannot hold.
 */
static enum tv rule_tv(const struct tsr_odrl_decision *dec, unsigned k, atom_fn atom,
                       const struct tsr_odrl_constraint_report **first_false)
{
    enum tv all = TV_TRUE;
    size_t i = 0;

    while (i < dec->n_constraints) {
        const struct tsr_odrl_constraint_report *r = &dec->constraints[i];
        if (r->rule != k || r->depth != 0 ||
            (r->scope != TSR_ODRL_IN_RULE && r->scope != TSR_ODRL_IN_REFINEMENT)) {
            i++;
            continue;
        }
        enum tv v = report_tv(dec, &i, atom);
        if (v == TV_FALSE) {
            if (first_false != NULL && all != TV_FALSE)
                *first_false = r;
            all = TV_FALSE;
        } else if (v == TV_UNKNOWN && all == TV_TRUE) {
            all = TV_UNKNOWN;
        }
    }
    return all;
}

int tsr_policy_offer_check(struct tsr_policy *pc, const struct tsr_odrl_policy *offer,
                           const char *caller, int64_t now_ms, struct tsr_diag *d)
{
    struct tsr_odrl_request rq;
    struct tsr_odrl_decision *dec = &pc->dec;
    const struct tsr_odrl_constraint_report *why = NULL;
    bool may = false, prohibited = false;

    tsr_odrl_request_init(&rq);
    rq.action = TSR_POLICY_ACTION_USE;
    rq.assignee = caller;
    rq.now_ms = now_ms;
    if (tsr_odrl_eval(offer, &rq, dec) != 0)
        return tsr_diag_set(d, TSR_EPOLICY, "%s", dec->why);
    if (tsr_odrl_permitted(dec))
        return 0;
    if (dec->truncated) {
        /* Not every constraint was reported: keep the engine's exact refusal. */
        char reason[400];
        tsr_policy_reason(dec, reason, sizeof(reason));
        return tsr_diag_set(d, TSR_EPOLICY, "%s", reason);
    }
    for (size_t k = 0; k < dec->n_rules; k++) {
        const struct tsr_odrl_rule_report *rr = &dec->rules[k];
        if (!rr->action_match || !rr->target_match || !rr->party_match)
            continue;
        const struct tsr_odrl_constraint_report *ff = NULL;
        enum tv v = rule_tv(dec, (unsigned)k, atomic_tv, &ff);
        if (rr->kind == TSR_ODRL_PERMISSION && v != TV_FALSE)
            may = true;
        else if (rr->kind == TSR_ODRL_PERMISSION && why == NULL)
            why = ff;
        if (rr->kind == TSR_ODRL_PROHIBITION && v == TV_TRUE)
            prohibited = true;
    }
    if (prohibited && tsr_odrl_policy_conflict(offer) != TSR_ODRL_CONFLICT_PERM)
        return tsr_diag_set(d, TSR_EPOLICY, "a prohibition applies to %s", caller);
    if (may)
        return 0;
    if (why != NULL)
        return tsr_diag_set(d, TSR_EPOLICY, "%s %s %s does not hold for %s%s%s", why->operand,
                            tsr_odrl_operator_name(why->op), why->right ? why->right : "",
                            caller, why->actual[0] != '\0' ? " at " : "", why->actual);
    return tsr_diag_set(d, TSR_EPOLICY, "no permission to use is granted to %s", caller);
}

int tsr_policy_offer_allows(struct tsr_policy *pc, const char *policy_text, const char *caller,
                            int64_t now_ms, struct tsr_diag *d)
{
    struct tsr_odrl_policy *p = NULL;
    int rc;

    rc = tsr_policy_compile(pc, policy_text, strlen(policy_text), &p, d);
    if (rc == 0)
        rc = tsr_policy_offer_check(pc, p, caller, now_ms, d);
    else
        tsr_diag_prefix(d, "the offer's policy cannot be enforced");
    tsr_odrl_policy_free(p);
    tsr_metrics_decision("offer", rc == 0);
    return rc != 0 ? TSR_EPOLICY : 0;
}

/* ------------------------------------------------------------ use counter */

static int uses_read(struct tsr_policy *pc, const char *agreement_id, struct tsr_policy_uses *u,
                     struct tsr_diag *d)
{
    struct tsr_db *db = tsr_store_db(pc->st);
    sqlite3_stmt *s;
    int rc;

    u->count = 0;
    u->first_ms = TSR_ODRL_TIME_UNSET;
    u->last_ms = TSR_ODRL_TIME_UNSET;
    rc = tsr_db_prepare(db, "SELECT count, first_ms, last_ms FROM pol_use WHERE agreement_id = ?",
                        &s, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(s, 1, agreement_id, -1, SQLITE_STATIC);
    rc = tsr_db_step(db, s, d);
    if (rc == 1) {
        sqlite3_int64 c = sqlite3_column_int64(s, 0);
        u->count = c > 0 ? (uint64_t)c : 0;
        u->first_ms = sqlite3_column_int64(s, 1);
        u->last_ms = sqlite3_column_int64(s, 2);
        rc = 0;
    }
    tsr_db_reset(s);
    return rc;
}

int tsr_policy_uses_get(struct tsr_policy *pc, const char *agreement_id,
                        struct tsr_policy_uses *out, struct tsr_diag *d)
{
    return uses_read(pc, agreement_id, out, d);
}

static int uses_add(struct tsr_policy *pc, const char *agreement_id, int64_t now_ms,
                    struct tsr_diag *d)
{
    struct tsr_db *db = tsr_store_db(pc->st);
    sqlite3_stmt *s;
    int rc;

    rc = tsr_db_prepare(db,
                        "INSERT INTO pol_use(agreement_id, count, first_ms, last_ms)"
                        " VALUES(?1, 1, ?2, ?2) ON CONFLICT(agreement_id) DO UPDATE"
                        " SET count = count + 1, last_ms = ?2",
                        &s, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(s, 1, agreement_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    rc = tsr_db_step(db, s, d);
    tsr_db_reset(s);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------ run-time decisions */

/* pacing: false leaves out the previous use, so that timeInterval never refuses. */
static void use_request(struct tsr_odrl_request *rq, const struct tsr_store_agreement *a,
                        const char *caller, int64_t now_ms, const struct tsr_policy_uses *u,
                        bool pacing)
{
    tsr_odrl_request_init(rq);
    rq->action = TSR_POLICY_ACTION_USE;
    rq->assignee = caller;
    rq->now_ms = now_ms;
    rq->agreement_ms = a->signed_ms;
    rq->use_count = u->count;
    rq->first_use_ms = u->first_ms;
    rq->last_use_ms = pacing ? u->last_ms : TSR_ODRL_TIME_UNSET;
}

/*
 * After the engine refused a data request: would it permit, if every
 * constraint the provider cannot know (purpose, place, device, recipient:
 * consumer_operand) held?  Those are enforced by the consumer's connector
 * at each use of the data; refusing here would make any purpose-bound
 * offer impossible to deliver.  A prohibition counts only when it
 * certainly applies; a report the engine truncated keeps the refusal.
 */
static bool consumer_checks(struct tsr_policy *pc, const struct tsr_odrl_policy *p,
                            const struct tsr_odrl_constraint_report **why)
{
    const struct tsr_odrl_decision *dec = &pc->dec;
    bool may = false;

    if (dec->truncated)
        return false;
    for (size_t i = 0; i < dec->n_pending; i++)
        if (dec->pending[i].timing == TSR_ODRL_TIMING_PRE)
            return false; /* a duty to perform first is no consumer-side check */
    for (size_t k = 0; k < dec->n_rules; k++) {
        const struct tsr_odrl_rule_report *rr = &dec->rules[k];
        if (!rr->action_match || !rr->target_match || !rr->party_match)
            continue;
        const struct tsr_odrl_constraint_report *ff = NULL;
        enum tv v = rule_tv(dec, (unsigned)k, provider_tv, &ff);
        if (rr->kind == TSR_ODRL_PERMISSION && v != TV_FALSE)
            may = true;
        else if (rr->kind == TSR_ODRL_PERMISSION && *why == NULL)
            *why = ff; /* what the provider itself found not to hold */
        if (rr->kind == TSR_ODRL_PROHIBITION && v == TV_TRUE &&
            tsr_odrl_policy_conflict(p) != TSR_ODRL_CONFLICT_PERM)
            return false;
    }
    if (may)
        tsr_log_debug(TSR_LC_POLICY, "permitted: the rest is the consumer's to check");
    return may;
}

/* tsr_policy_use and tsr_policy_holds. */
static int decide(struct tsr_policy *pc, const struct tsr_store_agreement *a, const char *caller,
                  int64_t now_ms, bool count, bool pacing, struct tsr_diag *d)
{
    struct tsr_db *db = tsr_store_db(pc->st);
    const struct tsr_odrl_policy *p;
    struct tsr_odrl_request rq;
    struct tsr_policy_uses u;
    char reason[400];
    int rc;

    rc = compiled(pc, a, &p, d);
    if (rc != 0)
        return rc;
    /* Read, decide and count in one write transaction: the ordinal is ours alone. */
    if (count) {
        rc = tsr_db_begin(db, d);
        if (rc != 0)
            return rc;
    }
    rc = uses_read(pc, a->id, &u, d);
    if (rc != 0)
        goto out;
    use_request(&rq, a, caller, now_ms, &u, pacing);
    const struct tsr_odrl_constraint_report *why = NULL;
    if (tsr_odrl_eval(p, &rq, &pc->dec) != 0 ||
        (!tsr_odrl_permitted(&pc->dec) && !consumer_checks(pc, p, &why))) {
        if (why != NULL) {
            char actual[TSR_ODRL_ACTUAL_MAX + 16] = "";
            if (why->actual[0] != '\0')
                snprintf(actual, sizeof(actual), " (actual %s)", why->actual);
            rc = tsr_diag_set(d, TSR_EPOLICY, "agreement %s: %s %s %s does not hold%s", a->id,
                              why->operand, tsr_odrl_operator_name(why->op),
                              why->right != NULL ? why->right : "", actual);
        } else {
            tsr_policy_reason(&pc->dec, reason, sizeof(reason));
            rc = tsr_diag_set(d, TSR_EPOLICY, "agreement %s: %s", a->id, reason);
        }
        goto out;
    }
    if (count) {
        rc = uses_add(pc, a->id, now_ms, d);
        if (rc == 0)
            rc = tsr_db_commit(db, d);
    }
out:
    if (count && rc != 0)
        tsr_db_rollback(db, NULL);
    return rc;
}

int tsr_policy_use(struct tsr_policy *pc, const struct tsr_store_agreement *a, const char *caller,
                   int64_t now_ms, bool count, struct tsr_diag *d)
{
    int rc = decide(pc, a, caller, now_ms, count, true, d);

    if (rc == 0 || rc == TSR_EPOLICY)
        tsr_metrics_decision("request", rc == 0);
    return rc;
}

int tsr_policy_holds(struct tsr_policy *pc, const struct tsr_store_agreement *a,
                     const char *caller, int64_t now_ms, struct tsr_diag *d)
{
    return decide(pc, a, caller, now_ms, false, false, d);
}

int64_t tsr_policy_next_boundary(struct tsr_policy *pc, const struct tsr_store_agreement *a,
                                 const char *caller, int64_t now_ms)
{
    const struct tsr_odrl_policy *p;
    struct tsr_odrl_request rq;
    struct tsr_policy_uses u;

    if (compiled(pc, a, &p, NULL) != 0 || uses_read(pc, a->id, &u, NULL) != 0)
        return TSR_ODRL_TIME_UNSET;
    use_request(&rq, a, caller, now_ms, &u, false);
    return tsr_odrl_next_boundary(p, &rq);
}
