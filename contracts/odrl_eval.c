/*
 * contracts/odrl_eval.c: decide one request against a compiled ODRL
 * policy.  Pure: no I/O, no allocation, no clock, no global state; the
 * caller supplies the state of the world in the request and gets the
 * decision and every reason in a caller-owned struct.
 *
 * The semantics are written down in contracts/odrl.h and
 * tessera-policy(7); comments here explain the less obvious choices.
 */
#include "lib/tsr.h"

#include <string.h>

#include "contracts/odrl.h"
#include "contracts/odrl_int.h"

/* Depth of partOf/isA chains followed through the request's facts. */
#define MAX_FACT_HOPS 4

/* Average Gregorian month, only to order durations mixing months and days. */
#define MONTH_MS 2629746000LL

struct ev {
    const struct tsr_odrl_policy *p;
    const struct tsr_odrl_request *req;
    struct tsr_odrl_decision *out;
    int act;            /* the request's action: built-in id or CUSTOM */
    const char *act_iri;
    int act_parent;     /* custom actions: the built-in parent, or -1 */
    unsigned rule;      /* report index of the rule being evaluated */
    enum tsr_odrl_scope scope;
    /*
     * What a contractual (unchecked) term counts as: it never makes the
     * connector refuse, so it holds in permissions and duties and does
     * not in prohibitions.
     */
    bool contractual_holds;
    /* "now" as text, formatted once per evaluation for every time constraint */
    bool now_fmt_ok;
    char now_fmt[TSR_ODRL_ACTUAL_MAX];
    int owner[TSR_ODRL_MAX_PENDING]; /* rule report index each pending duty hangs on */
};

/* ------------------------------------------------------------ facts */

static bool fact_chain(const struct ev *e, enum tsr_odrl_rel rel, const char *subj,
                       const char *obj, int hops)
{
    const struct tsr_odrl_request *rq = e->req;

    for (size_t i = 0; i < rq->n_facts; i++) {
        const struct tsr_odrl_fact *f = &rq->facts[i];
        if (f->rel != rel || f->subject == NULL || f->object == NULL)
            continue;
        if (!tsr_odrl__same_term(e->p, f->subject, subj))
            continue;
        if (tsr_odrl__same_term(e->p, f->object, obj))
            return true;
        if (hops + 1 < MAX_FACT_HOPS && fact_chain(e, rel, f->object, obj, hops + 1))
            return true;
    }
    return false;
}

/* Is subj REL obj, by the request's facts or the caller's callback? */
static bool related(const struct ev *e, enum tsr_odrl_rel rel, const char *subj, const char *obj)
{
    if (subj == NULL || obj == NULL)
        return false;
    if (fact_chain(e, rel, subj, obj, 0))
        return true;
    return e->req->related != NULL && e->req->related(e->req->related_arg, rel, subj, obj);
}

/* ------------------------------------------------------------ reports */

static struct tsr_odrl_constraint_report *report(struct ev *e, const struct tsr_odrl__cons *k,
                                                 unsigned depth)
{
    struct tsr_odrl_decision *d = e->out;
    struct tsr_odrl_constraint_report *r;

    if (d->n_constraints == TSR_ODRL_MAX_CONSTRAINT_REPORTS) {
        d->truncated = true;
        return NULL;
    }
    r = &d->constraints[d->n_constraints++];
    r->rule = e->rule;
    r->scope = e->scope;
    r->depth = depth;
    r->id = k->id;
    r->logic = (enum tsr_odrl_logic)k->logic;
    r->operand = k->text;
    r->op = (enum tsr_odrl_operator)k->op;
    r->right = k->right;
    r->actual[0] = '\0';
    r->sat = TSR_ODRL_UNSATISFIED;
    r->note = NULL;
    return r;
}

static void set_note(struct tsr_odrl_constraint_report *r, const char *note)
{
    if (r != NULL)
        r->note = note;
}

static void set_actual(struct tsr_odrl_constraint_report *r, const struct tsr_odrl__val *v,
                       size_t n)
{
    if (r == NULL || n == 0)
        return;
    tsr_odrl__format_value(&v[0], r->actual, sizeof(r->actual));
    /* Several values: the first ones, comma-separated, as far as they fit. */
    for (size_t i = 1; i < n; i++) {
        size_t len = strlen(r->actual);
        if (len + 3 >= sizeof(r->actual))
            break;
        r->actual[len] = ',';
        r->actual[len + 1] = ' ';
        tsr_odrl__format_value(&v[i], r->actual + len + 2, sizeof(r->actual) - len - 2);
    }
}

/* ------------------------------------------------------------ comparisons */

static bool is_numeric(uint8_t t)
{
    return t == TSR_ODRL_T_INTEGER || t == TSR_ODRL_T_DECIMAL;
}

static bool is_text(uint8_t t)
{
    return t == TSR_ODRL_T_STRING || t == TSR_ODRL_T_IRI;
}

static int cmp64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

/* Order a and b into *c (-1, 0, 1); false when they cannot be compared. */
static bool val_cmp(const struct ev *e, const struct tsr_odrl__val *a,
                    const struct tsr_odrl__val *b, int *c)
{
    if (is_numeric(a->type) && is_numeric(b->type)) {
        int64_t x = a->i, y = b->i;
        /* Integers beyond the decimal range cannot equal a decimal: compare unscaled. */
        if (a->type != b->type) {
            const int64_t lim = INT64_MAX / TSR_ODRL__DEC_SCALE;
            int64_t *iv = a->type == TSR_ODRL_T_INTEGER ? &x : &y;
            if (*iv > lim || *iv < -lim) {
                *c = a->type == TSR_ODRL_T_INTEGER ? (x > 0 ? 1 : -1) : (y > 0 ? -1 : 1);
                return true;
            }
            *iv *= TSR_ODRL__DEC_SCALE;
        }
        *c = cmp64(x, y);
        return true;
    }
    if (a->type != b->type) {
        if (is_text(a->type) && is_text(b->type)) {
            *c = tsr_odrl__same_term(e->p, a->s, b->s) ? 0 : strcmp(a->s, b->s) < 0 ? -1 : 1;
            return true;
        }
        return false;
    }
    switch (a->type) {
    case TSR_ODRL_T_DATE_TIME:
    case TSR_ODRL_T_BOOLEAN:
        *c = cmp64(a->i, b->i);
        return true;
    case TSR_ODRL_T_DURATION:
        if (a->months == b->months)
            *c = cmp64(a->i, b->i);
        else
            *c = cmp64(a->months * MONTH_MS + a->i, b->months * MONTH_MS + b->i);
        return true;
    case TSR_ODRL_T_STRING:
    case TSR_ODRL_T_IRI:
        *c = tsr_odrl__same_term(e->p, a->s, b->s) ? 0 : strcmp(a->s, b->s) < 0 ? -1 : 1;
        return true;
    default:
        return false;
    }
}

static bool val_eq(const struct ev *e, const struct tsr_odrl__val *a, const struct tsr_odrl__val *b)
{
    int c;
    return val_cmp(e, a, b, &c) && c == 0;
}

/* The scalar operators over one comparison result. */
static bool holds(enum tsr_odrl_operator op, int c)
{
    switch (op) {
    case TSR_ODRL_EQ:
        return c == 0;
    case TSR_ODRL_NEQ:
        return c != 0;
    case TSR_ODRL_LT:
        return c < 0;
    case TSR_ODRL_LTEQ:
        return c <= 0;
    case TSR_ODRL_GT:
        return c > 0;
    case TSR_ODRL_GTEQ:
        return c >= 0;
    default:
        return false;
    }
}

/* a related to r for the taxonomic operators: equal, or a partOf/isA fact. */
static bool taxo(const struct ev *e, enum tsr_odrl_rel rel, const struct tsr_odrl__val *sub,
                 const struct tsr_odrl__val *obj)
{
    if (val_eq(e, sub, obj))
        return true;
    return is_text(sub->type) && is_text(obj->type) && related(e, rel, sub->s, obj->s);
}

/*
 * Apply k's operator to the actual values A (n of them) and the right
 * operand list R.  The set semantics are those in contracts/odrl.h.
 */
static bool apply(const struct ev *e, const struct tsr_odrl__cons *k, const struct tsr_odrl__val *A,
                  size_t n, struct tsr_odrl_constraint_report *r)
{
    const struct tsr_odrl__val *R = k->vals;
    size_t m = k->n_vals;
    int c;

    if (n == 0) {
        set_note(r, "no value supplied");
        return false;
    }
    switch ((enum tsr_odrl_operator)k->op) {
    case TSR_ODRL_EQ:
    case TSR_ODRL_NEQ:
    case TSR_ODRL_LT:
    case TSR_ODRL_LTEQ:
    case TSR_ODRL_GT:
    case TSR_ODRL_GTEQ:
        if (n != 1) {
            set_note(r, "several values for a single-valued operator");
            return false;
        }
        if (!val_cmp(e, &A[0], &R[0], &c)) {
            set_note(r, "value of another type");
            return false;
        }
        return holds((enum tsr_odrl_operator)k->op, c);
    case TSR_ODRL_IS_ANY_OF:
    case TSR_ODRL_IS_NONE_OF: {
        bool any = false;
        for (size_t i = 0; i < n && !any; i++)
            for (size_t j = 0; j < m && !any; j++)
                any = val_eq(e, &A[i], &R[j]);
        return k->op == TSR_ODRL_IS_ANY_OF ? any : !any;
    }
    case TSR_ODRL_IS_ALL_OF:
        for (size_t j = 0; j < m; j++) {
            bool found = false;
            for (size_t i = 0; i < n && !found; i++)
                found = val_eq(e, &A[i], &R[j]);
            if (!found)
                return false;
        }
        return true;
    case TSR_ODRL_IS_PART_OF:
    case TSR_ODRL_IS_A: {
        enum tsr_odrl_rel rel = k->op == TSR_ODRL_IS_A ? TSR_ODRL_REL_IS_A : TSR_ODRL_REL_PART_OF;
        for (size_t i = 0; i < n; i++) {
            bool found = false;
            for (size_t j = 0; j < m && !found; j++)
                found = taxo(e, rel, &A[i], &R[j]);
            if (!found)
                return false;
        }
        return true;
    }
    case TSR_ODRL_HAS_PART:
        for (size_t j = 0; j < m; j++) {
            bool found = false;
            for (size_t i = 0; i < n && !found; i++)
                found = taxo(e, TSR_ODRL_REL_PART_OF, &R[j], &A[i]);
            if (!found)
                return false;
        }
        return true;
    }
    return false;
}

/* ------------------------------------------------------------ actual values */

/* Named values for k from the request, parsed per k's type. */
static size_t named_values(const struct ev *e, const struct tsr_odrl__cons *k,
                           struct tsr_odrl__val *A, struct tsr_odrl_constraint_report *r,
                           bool *bad)
{
    const struct tsr_odrl_request *rq = e->req;
    size_t n = 0;

    for (size_t i = 0; i < rq->n_named && n < TSR_ODRL__MAX_ACTUAL; i++) {
        const struct tsr_odrl_named *nv = &rq->named[i];
        if (nv->name == NULL || nv->value == NULL)
            continue;
        if (strcmp(nv->name, k->name) != 0 && (k->iri == NULL ||
                                               !tsr_odrl__same_term(e->p, nv->name, k->iri)))
            continue;
        if (tsr_odrl__parse_value(nv->value, (enum tsr_odrl_vtype)k->type, &A[n], NULL) != 0) {
            set_note(r, "a supplied value has the wrong type");
            if (r != NULL) {
                size_t len = strlen(nv->value);
                if (len >= sizeof(r->actual))
                    len = sizeof(r->actual) - 1;
                memcpy(r->actual, nv->value, len);
                r->actual[len] = '\0';
            }
            *bad = true;
            return 0;
        }
        n++;
    }
    return n;
}

/* One text value from a request field, else from the named values. */
static size_t text_value(const struct ev *e, const struct tsr_odrl__cons *k, const char *field,
                         struct tsr_odrl__val *A, struct tsr_odrl_constraint_report *r, bool *bad)
{
    if (field != NULL) {
        A[0].type = TSR_ODRL_T_STRING;
        A[0].s = field;
        A[0].i = 0;
        A[0].months = 0;
        A[0].relative = false;
        return 1;
    }
    return named_values(e, k, A, r, bad);
}

/* The time the elapsed-time window starts at: first use, else the agreement. */
static int64_t elapsed_start(const struct tsr_odrl_request *rq)
{
    return rq->first_use_ms != TSR_ODRL_TIME_UNSET ? rq->first_use_ms : rq->agreement_ms;
}

static void duration_actual(struct tsr_odrl_constraint_report *r, int64_t from, int64_t to)
{
    struct tsr_odrl__val v = {TSR_ODRL_T_DURATION, false, 0, to - from, NULL};

    if (r != NULL)
        tsr_odrl__format_value(&v, r->actual, sizeof(r->actual));
}

/*
 * The time-relative operands compare "now" with a point derived from a
 * start time and the right operand, so calendar months stay exact.
 */
static enum tsr_odrl_sat eval_period(const struct ev *e, const struct tsr_odrl__cons *k,
                                     struct tsr_odrl_constraint_report *r)
{
    const struct tsr_odrl_request *rq = e->req;
    const struct tsr_odrl__val *d = &k->vals[0];
    enum tsr_odrl_operator op = (enum tsr_odrl_operator)k->op;
    int64_t start;

    if (rq->now_ms == TSR_ODRL_TIME_UNSET) {
        set_note(r, "no current time");
        return TSR_ODRL_UNSATISFIED;
    }
    switch (k->operand) {
    case TSR_ODRL_LO_ELAPSED_TIME:
        start = elapsed_start(rq);
        /* "elapsedTime eq P30D" grants a period of use: read eq as "at most". */
        if (op == TSR_ODRL_EQ)
            op = TSR_ODRL_LTEQ;
        break;
    case TSR_ODRL_LO_DELAY_PERIOD:
        start = rq->agreement_ms;
        /* "delayPeriod eq PT1H" asks for a delay: read eq as "at least". */
        if (op == TSR_ODRL_EQ)
            op = TSR_ODRL_GTEQ;
        break;
    default: /* TIME_INTERVAL: at most one use per interval */
        if (rq->last_use_ms == TSR_ODRL_TIME_UNSET) {
            set_note(r, "no previous use");
            return TSR_ODRL_SATISFIED;
        }
        start = rq->last_use_ms;
        if (op == TSR_ODRL_EQ)
            op = TSR_ODRL_GTEQ;
        break;
    }
    if (start == TSR_ODRL_TIME_UNSET) {
        set_note(r, k->operand == TSR_ODRL_LO_ELAPSED_TIME ? "no first use or agreement time"
                                                            : "no agreement time");
        return TSR_ODRL_UNSATISFIED;
    }
    duration_actual(r, start, rq->now_ms);
    int64_t end = tsr_odrl__add_duration(start, d->months, d->i);
    return holds(op, cmp64(rq->now_ms, end)) ? TSR_ODRL_SATISFIED : TSR_ODRL_UNSATISFIED;
}

static enum tsr_odrl_sat eval_atomic(struct ev *e, const struct tsr_odrl__cons *k,
                                     struct tsr_odrl_constraint_report *r)
{
    const struct tsr_odrl_request *rq = e->req;
    struct tsr_odrl__val A[TSR_ODRL__MAX_ACTUAL];
    size_t n = 0;
    bool bad = false;

    switch ((enum tsr_odrl_operand)k->operand) {
    case TSR_ODRL_LO_DATE_TIME:
    case TSR_ODRL_LO_IN_FORCE_DATE: {
        if (rq->now_ms == TSR_ODRL_TIME_UNSET) {
            set_note(r, "no current time");
            return TSR_ODRL_UNSATISFIED;
        }
        struct tsr_odrl__val now = {TSR_ODRL_T_DATE_TIME, false, 0, rq->now_ms, NULL};
        /* A relative bound (a duration) counts from the agreement. */
        int64_t bound = k->vals[0].i;
        if (k->vals[0].relative) {
            if (rq->agreement_ms == TSR_ODRL_TIME_UNSET) {
                set_note(r, "no agreement time");
                return TSR_ODRL_UNSATISFIED;
            }
            bound = tsr_odrl__add_duration(rq->agreement_ms, 0, bound);
        }
        if (r != NULL) {
            if (!e->now_fmt_ok) {
                tsr_odrl__format_value(&now, e->now_fmt, sizeof(e->now_fmt));
                e->now_fmt_ok = true;
            }
            memcpy(r->actual, e->now_fmt, sizeof(r->actual));
        }
        return holds((enum tsr_odrl_operator)k->op, cmp64(now.i, bound)) ? TSR_ODRL_SATISFIED
                                                                          : TSR_ODRL_UNSATISFIED;
    }
    case TSR_ODRL_LO_ELAPSED_TIME:
    case TSR_ODRL_LO_DELAY_PERIOD:
    case TSR_ODRL_LO_TIME_INTERVAL:
        return eval_period(e, k, r);
    case TSR_ODRL_LO_COUNT:
        A[0].type = TSR_ODRL_T_INTEGER;
        A[0].i = rq->use_count >= (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)rq->use_count + 1;
        A[0].s = NULL;
        A[0].months = 0;
        A[0].relative = false;
        n = 1;
        break;
    case TSR_ODRL_LO_PURPOSE:
        n = text_value(e, k, rq->purpose, A, r, &bad);
        break;
    case TSR_ODRL_LO_RECIPIENT:
        n = text_value(e, k, rq->recipient, A, r, &bad);
        break;
    case TSR_ODRL_LO_SPATIAL:
        n = text_value(e, k, rq->spatial, A, r, &bad);
        break;
    case TSR_ODRL_LO_VIRTUAL_LOCATION:
    case TSR_ODRL_LO_SYSTEM_DEVICE:
    case TSR_ODRL_LO_PAY_AMOUNT:
    case TSR_ODRL_LO_NAMED:
        n = named_values(e, k, A, r, &bad);
        break;
    case TSR_ODRL_LO_PROFILE:
        switch ((enum tsr_odrl_source)k->src) {
        case TSR_ODRL_SRC_CONTRACTUAL:
            set_note(r, "contractual term: binding by agreement, not checked by the connector");
            return TSR_ODRL_CONTRACTUAL;
        case TSR_ODRL_SRC_ASSIGNEE:
            n = text_value(e, k, rq->assignee, A, r, &bad);
            break;
        case TSR_ODRL_SRC_PURPOSE:
            n = text_value(e, k, rq->purpose, A, r, &bad);
            break;
        case TSR_ODRL_SRC_RECIPIENT:
            n = text_value(e, k, rq->recipient, A, r, &bad);
            break;
        case TSR_ODRL_SRC_SPATIAL:
            n = text_value(e, k, rq->spatial, A, r, &bad);
            break;
        case TSR_ODRL_SRC_NOW:
            if (rq->now_ms == TSR_ODRL_TIME_UNSET)
                break;
            A[0].type = TSR_ODRL_T_DATE_TIME;
            A[0].i = rq->now_ms;
            A[0].s = NULL;
            A[0].months = 0;
            A[0].relative = false;
            n = 1;
            break;
        case TSR_ODRL_SRC_NAMED:
            n = named_values(e, k, A, r, &bad);
            break;
        }
        break;
    }
    if (bad)
        return TSR_ODRL_UNSATISFIED;
    /* Text fields are compared as the constraint's type (numbers given as text). */
    if (!is_text(k->type)) {
        for (size_t i = 0; i < n; i++) {
            if (is_text(A[i].type) &&
                tsr_odrl__parse_value(A[i].s, (enum tsr_odrl_vtype)k->type, &A[i], NULL) != 0) {
                set_note(r, "a supplied value has the wrong type");
                return TSR_ODRL_UNSATISFIED;
            }
        }
    }
    set_actual(r, A, n);
    return apply(e, k, A, n, r) ? TSR_ODRL_SATISFIED : TSR_ODRL_UNSATISFIED;
}

static void report_skipped(struct ev *e, const struct tsr_odrl__cons *k, unsigned depth)
{
    struct tsr_odrl_constraint_report *r = report(e, k, depth);

    if (r != NULL) {
        r->sat = TSR_ODRL_NOT_EVALUATED;
        r->note = "after a failed andSequence member";
    }
}

static bool truthy(const struct ev *e, enum tsr_odrl_sat s)
{
    return s == TSR_ODRL_SATISFIED || (s == TSR_ODRL_CONTRACTUAL && e->contractual_holds);
}

static enum tsr_odrl_sat eval_cons(struct ev *e, const struct tsr_odrl__cons *k, unsigned depth)
{
    struct tsr_odrl_constraint_report *r = report(e, k, depth);
    enum tsr_odrl_sat s;

    if (k->logic == TSR_ODRL_LOGIC_NONE) {
        s = eval_atomic(e, k, r);
        if (r != NULL)
            r->sat = s;
        return s;
    }
    unsigned yes = 0;
    bool all = true;
    for (uint32_t i = 0; i < k->n_kids; i++) {
        enum tsr_odrl_sat ks = eval_cons(e, k->kids[i], depth + 1);
        if (!truthy(e, ks)) {
            all = false;
            /* andSequence: order matters, so nothing after a failure is looked at. */
            if (k->logic == TSR_ODRL_LOGIC_AND_SEQUENCE) {
                for (uint32_t j = i + 1; j < k->n_kids; j++)
                    report_skipped(e, k->kids[j], depth + 1);
                break;
            }
        } else {
            yes++;
        }
    }
    switch (k->logic) {
    case TSR_ODRL_LOGIC_OR:
        s = yes > 0 ? TSR_ODRL_SATISFIED : TSR_ODRL_UNSATISFIED;
        break;
    case TSR_ODRL_LOGIC_XONE:
        s = yes == 1 ? TSR_ODRL_SATISFIED : TSR_ODRL_UNSATISFIED;
        if (r != NULL && yes > 1)
            r->note = "more than one operand is satisfied";
        break;
    default: /* and, andSequence */
        s = all ? TSR_ODRL_SATISFIED : TSR_ODRL_UNSATISFIED;
        break;
    }
    if (r != NULL)
        r->sat = s;
    return s;
}

/* An implicit and over a constraint list. */
static bool eval_all(struct ev *e, struct tsr_odrl__cons *const *list, uint32_t n,
                     enum tsr_odrl_scope scope)
{
    bool ok = true;

    e->scope = scope;
    for (uint32_t i = 0; i < n; i++)
        if (!truthy(e, eval_cons(e, list[i], 0)))
            ok = false;
    return ok;
}

/* ------------------------------------------------------------ premises */

static bool action_matches(const struct ev *e, const struct tsr_odrl__ent *a)
{
    if (a->act == TSR_ODRL_ACT_CUSTOM)
        return e->act == TSR_ODRL_ACT_CUSTOM && strcmp(a->iri, e->act_iri) == 0;
    if (e->act == TSR_ODRL_ACT_CUSTOM)
        return e->act_parent >= 0 && tsr_odrl_action_includes((enum tsr_odrl_action)a->act,
                                                               (enum tsr_odrl_action)e->act_parent);
    return tsr_odrl_action_includes((enum tsr_odrl_action)a->act, (enum tsr_odrl_action)e->act);
}

static bool entity_matches(struct ev *e, const struct tsr_odrl__ent *x, const char *want,
                           enum tsr_odrl_scope scope)
{
    bool in = (x->iri != NULL && (tsr_odrl__same_term(e->p, want, x->iri) ||
                                  related(e, TSR_ODRL_REL_PART_OF, want, x->iri))) ||
              (x->source != NULL && related(e, TSR_ODRL_REL_PART_OF, want, x->source));

    if (!in)
        return false;
    return eval_all(e, x->refine, x->n_refine, scope);
}

/* ------------------------------------------------------------ duties */

static enum tsr_odrl_duty_state duty_state(const struct ev *e, const struct tsr_odrl_duty *d)
{
    const struct tsr_odrl_request *rq = e->req;
    const char *act_iri = d->n_actions > 0 ? d->actions[0].iri : NULL;
    enum tsr_odrl_duty_state by_action = TSR_ODRL_DUTY_UNKNOWN;

    for (size_t i = 0; i < rq->n_duties; i++) {
        const char *name = rq->duties[i].duty;
        if (name == NULL)
            continue;
        if (d->id != NULL && tsr_odrl__same_term(e->p, name, d->id))
            return rq->duties[i].state;
        if (act_iri != NULL && by_action == TSR_ODRL_DUTY_UNKNOWN) {
            int a = tsr_odrl_action_lookup(name);
            if ((a >= 0 && a == d->actions[0].act && a != TSR_ODRL_ACT_CUSTOM) ||
                tsr_odrl__same_term(e->p, name, act_iri))
                by_action = rq->duties[i].state;
        }
    }
    return by_action;
}

static bool is_window(const struct tsr_odrl__cons *k)
{
    return k->logic == TSR_ODRL_LOGIC_NONE &&
           (k->operand == TSR_ODRL_LO_DATE_TIME || k->operand == TSR_ODRL_LO_IN_FORCE_DATE ||
            k->operand == TSR_ODRL_LO_ELAPSED_TIME || k->operand == TSR_ODRL_LO_DELAY_PERIOD);
}

/* Narrow [*nb, *dl] by one time constraint of a post-duty. */
static void window(const struct ev *e, const struct tsr_odrl__cons *k, int64_t *nb, int64_t *dl)
{
    const struct tsr_odrl_request *rq = e->req;
    const struct tsr_odrl__val *v = &k->vals[0];
    int64_t t;

    switch (k->operand) {
    case TSR_ODRL_LO_ELAPSED_TIME:
        t = tsr_odrl__add_duration(elapsed_start(rq), v->months, v->i);
        break;
    case TSR_ODRL_LO_DELAY_PERIOD:
        t = tsr_odrl__add_duration(rq->agreement_ms, v->months, v->i);
        break;
    default:
        t = v->relative ? tsr_odrl__add_duration(rq->agreement_ms, 0, v->i) : v->i;
        break;
    }
    if (t == TSR_ODRL_TIME_UNSET)
        return;
    switch (k->op) {
    case TSR_ODRL_LT:
    case TSR_ODRL_LTEQ:
        /* "before T" ends one millisecond earlier than "at the latest T" */
        if (k->op == TSR_ODRL_LT)
            t--;
        if (*dl == TSR_ODRL_TIME_UNSET || t < *dl)
            *dl = t;
        break;
    case TSR_ODRL_GT:
    case TSR_ODRL_GTEQ:
        if (k->op == TSR_ODRL_GT)
            t++;
        if (*nb == TSR_ODRL_TIME_UNSET || t > *nb)
            *nb = t;
        break;
    case TSR_ODRL_EQ:
        if (k->operand == TSR_ODRL_LO_DELAY_PERIOD) {
            if (*nb == TSR_ODRL_TIME_UNSET || t > *nb)
                *nb = t;
        } else if (k->operand == TSR_ODRL_LO_ELAPSED_TIME) {
            if (*dl == TSR_ODRL_TIME_UNSET || t < *dl)
                *dl = t;
        } else {
            *nb = t;
            *dl = t;
        }
        break;
    default:
        break;
    }
}

static void add_pending(struct ev *e, const struct tsr_odrl_duty *d, const char *rule_id,
                        int owner, enum tsr_odrl_duty_state st, int64_t nb, int64_t dl)
{
    struct tsr_odrl_decision *out = e->out;
    struct tsr_odrl_pending *p;

    if (out->n_pending == TSR_ODRL_MAX_PENDING) {
        out->truncated = true;
        return;
    }
    e->owner[out->n_pending] = owner;
    p = &out->pending[out->n_pending++];
    p->role = (enum tsr_odrl_rule_kind)d->kind;
    p->timing = (enum tsr_odrl_timing)d->timing;
    p->id = d->id;
    p->rule_id = rule_id;
    p->action = d->n_actions > 0 ? (enum tsr_odrl_action)d->actions[0].act : TSR_ODRL_ACT_USE;
    p->action_iri = d->n_actions > 0 ? d->actions[0].iri : TSR_ODRL_NS "use";
    p->not_before_ms = nb;
    p->deadline_ms = dl;
    p->state = st;
    p->duty = d;
}

/*
 * Evaluate the duties hanging on one rule (or the policy's obligations):
 * returns false when one blocks the use (a pre-duty not fulfilled, or
 * any duty violated).  Pending ones are listed under owner.
 */
static bool eval_duties(struct ev *e, const struct tsr_odrl_duty *list, uint32_t n,
                        const char *rule_id, int owner)
{
    bool ok = true;

    e->contractual_holds = true;
    for (uint32_t i = 0; i < n; i++) {
        const struct tsr_odrl_duty *d = &list[i];
        int64_t nb = TSR_ODRL_TIME_UNSET, dl = TSR_ODRL_TIME_UNSET;
        bool in_force = true;

        e->scope = TSR_ODRL_IN_DUTY;
        for (uint32_t j = 0; j < d->n_cons; j++) {
            /* A post-duty's time constraints say when to perform it, not whether. */
            if (d->timing == TSR_ODRL_TIMING_POST && is_window(d->cons[j])) {
                window(e, d->cons[j], &nb, &dl);
                continue;
            }
            if (!truthy(e, eval_cons(e, d->cons[j], 0)))
                in_force = false;
        }
        /* Refinements of the duty's action describe it; time ones give its window. */
        for (uint32_t a = 0; a < d->n_actions; a++)
            for (uint32_t j = 0; j < d->actions[a].n_refine; j++)
                if (is_window(d->actions[a].refine[j]))
                    window(e, d->actions[a].refine[j], &nb, &dl);
        if (!in_force)
            continue;
        enum tsr_odrl_duty_state st = duty_state(e, d);
        if (st == TSR_ODRL_DUTY_FULFILLED)
            continue;
        if (st == TSR_ODRL_DUTY_VIOLATED) {
            ok = false;
            add_pending(e, d, rule_id, owner, st, nb, dl);
            /* Consequences add to the violated duty; they do not replace it. */
            for (uint32_t j = 0; j < d->n_duties; j++)
                add_pending(e, &d->duties[j], rule_id, owner, duty_state(e, &d->duties[j]),
                            TSR_ODRL_TIME_UNSET, TSR_ODRL_TIME_UNSET);
            continue;
        }
        if (d->timing == TSR_ODRL_TIMING_PRE)
            ok = false;
        add_pending(e, d, rule_id, owner, st, nb, dl);
    }
    return ok;
}

/* ------------------------------------------------------------ rules */

static struct tsr_odrl_rule_report *rule_report(struct ev *e, struct tsr_odrl_rule_report *spare,
                                                const struct tsr_odrl_duty *r, unsigned index)
{
    struct tsr_odrl_decision *d = e->out;
    struct tsr_odrl_rule_report *rr;

    if (d->n_rules < TSR_ODRL_MAX_RULE_REPORTS) {
        e->rule = (unsigned)d->n_rules;
        rr = &d->rules[d->n_rules++];
    } else {
        /* Out of report slots: decide anyway, report nothing more. */
        d->truncated = true;
        e->rule = TSR_ODRL_MAX_RULE_REPORTS;
        rr = spare;
    }
    rr->kind = (enum tsr_odrl_rule_kind)r->kind;
    rr->id = r->id;
    rr->index = index;
    rr->action_match = false;
    rr->refinements_ok = false;
    rr->target_match = false;
    rr->party_match = false;
    rr->constraints_ok = false;
    rr->duties_ok = true;
    rr->active = false;
    return rr;
}

/* Evaluate one permission or prohibition; returns its report (maybe the spare). */
static struct tsr_odrl_rule_report *eval_rule(struct ev *e, const struct tsr_odrl_duty *r,
                                              unsigned index, struct tsr_odrl_rule_report *spare)
{
    const struct tsr_odrl_request *rq = e->req;
    struct tsr_odrl_rule_report *rr = rule_report(e, spare, r, index);

    e->contractual_holds = r->kind != TSR_ODRL_PROHIBITION;
    if (r->n_actions == 0) {
        rr->action_match = true;
        rr->refinements_ok = true;
    }
    for (uint32_t i = 0; i < r->n_actions && !rr->refinements_ok; i++) {
        if (!action_matches(e, &r->actions[i]))
            continue;
        rr->action_match = true;
        rr->refinements_ok = eval_all(e, r->actions[i].refine, r->actions[i].n_refine,
                                      TSR_ODRL_IN_REFINEMENT);
    }
    if (rq->target == NULL || r->n_targets == 0)
        rr->target_match = true;
    for (uint32_t i = 0; i < r->n_targets && !rr->target_match; i++)
        rr->target_match = entity_matches(e, &r->targets[i], rq->target, TSR_ODRL_IN_TARGET);
    if (r->n_assignees == 0)
        rr->party_match = true;
    for (uint32_t i = 0; i < r->n_assignees && !rr->party_match && rq->assignee != NULL; i++)
        rr->party_match = entity_matches(e, &r->assignees[i], rq->assignee, TSR_ODRL_IN_PARTY);
    rr->constraints_ok = eval_all(e, r->cons, r->n_cons, TSR_ODRL_IN_RULE);

    bool premises = rr->action_match && rr->target_match && rr->party_match;
    if (premises && rr->refinements_ok && rr->constraints_ok) {
        int owner = e->rule < TSR_ODRL_MAX_RULE_REPORTS ? (int)e->rule : -2;
        if (r->kind == TSR_ODRL_PERMISSION)
            rr->duties_ok = eval_duties(e, r->duties, r->n_duties, r->id, owner);
    }
    rr->active = premises && rr->refinements_ok && rr->constraints_ok && rr->duties_ok;
    return rr;
}

/* Keep the pending duties that belong to the outcome. */
static void filter_pending(struct ev *e, int keep_owner, bool keep_pre)
{
    struct tsr_odrl_decision *d = e->out;
    size_t w = 0;

    for (size_t i = 0; i < d->n_pending; i++) {
        const struct tsr_odrl_pending *p = &d->pending[i];
        bool keep = e->owner[i] == -1 || e->owner[i] == keep_owner ||
                    (keep_pre && (p->timing == TSR_ODRL_TIMING_PRE ||
                                  p->state == TSR_ODRL_DUTY_VIOLATED ||
                                  p->role == TSR_ODRL_CONSEQUENCE));
        if (keep) {
            e->owner[w] = e->owner[i];
            d->pending[w++] = *p;
        }
    }
    d->n_pending = w;
}

/* Resolve the request's action against the built-ins and the policy's profile actions. */
static bool resolve_request_action(struct ev *e, const char *a)
{
    const struct tsr_odrl_policy *p = e->p;
    int id = tsr_odrl_action_lookup(a);

    if (id < 0) {
        /* A prefix the policy maps to the ODRL namespace. */
        const char *colon = strchr(a, ':');
        if (colon != NULL && colon[1] != '/') {
            for (uint32_t i = 0; i < p->n_prefixes && id < 0; i++)
                if (p->prefixes[i].len == (size_t)(colon - a) &&
                    memcmp(p->prefixes[i].pfx, a, p->prefixes[i].len) == 0 &&
                    strcmp(p->prefixes[i].ns, TSR_ODRL_NS) == 0)
                    id = tsr_odrl__action_by_term(colon + 1);
        }
    }
    if (id >= 0 && id != TSR_ODRL_ACT_CUSTOM) {
        e->act = id;
        e->act_iri = NULL;
        e->act_parent = tsr_odrl__action_parent(id);
        return true;
    }
    for (uint32_t i = 0; i < p->n_cacts; i++) {
        if (strcmp(a, p->cacts[i].name) == 0 || tsr_odrl__same_term(p, a, p->cacts[i].iri)) {
            e->act = TSR_ODRL_ACT_CUSTOM;
            e->act_iri = p->cacts[i].iri;
            e->act_parent = p->cacts[i].parent;
            return true;
        }
    }
    return false;
}

static const char *deny_reason(const struct tsr_odrl_decision *d)
{
    const struct tsr_odrl_rule_report *best = NULL;

    /* The first permission that matched action, target and party explains the refusal. */
    for (size_t i = 0; i < d->n_rules && best == NULL; i++) {
        const struct tsr_odrl_rule_report *r = &d->rules[i];
        if (r->kind == TSR_ODRL_PERMISSION && r->action_match && r->target_match &&
            r->party_match)
            best = r;
    }
    if (best == NULL)
        return "no permission applies to this action, target and party";
    if (!best->refinements_ok)
        return "an action refinement is not satisfied";
    if (!best->constraints_ok)
        return "a constraint is not satisfied";
    if (!best->duties_ok)
        return "a duty is not fulfilled (pre-duty pending or duty violated)";
    return "no permission applies";
}

int tsr_odrl_eval(const struct tsr_odrl_policy *p, const struct tsr_odrl_request *req,
                  struct tsr_odrl_decision *out)
{
    struct tsr_odrl_rule_report spare;
    struct ev e;
    int perm = -1, proh = -1;
    bool any_match = false;

    out->effect = TSR_ODRL_DENY;
    out->decided_by = -1;
    out->n_rules = 0;
    out->n_constraints = 0;
    out->n_pending = 0;
    out->truncated = false;
    if (p == NULL || req == NULL || req->action == NULL) {
        out->why = "the request names no action";
        return TSR_EINVAL;
    }
    e.p = p;
    e.req = req;
    e.out = out;
    e.rule = 0;
    e.scope = TSR_ODRL_IN_RULE;
    e.contractual_holds = true;
    e.now_fmt_ok = false;
    if (!resolve_request_action(&e, req->action)) {
        out->why = "the requested action is unknown to ODRL and to the policy's profile";
        return TSR_EINVAL;
    }

    for (uint32_t i = 0; i < p->n_rules[TSR_ODRL_PERMISSION]; i++) {
        struct tsr_odrl_rule_report *rr =
            eval_rule(&e, &p->rules[TSR_ODRL_PERMISSION][i], i, &spare);
        any_match |= rr->action_match && rr->target_match && rr->party_match;
        if (rr->active && perm < 0)
            perm = rr == &spare ? TSR_ODRL_MAX_RULE_REPORTS : (int)(rr - out->rules);
    }
    for (uint32_t i = 0; i < p->n_rules[TSR_ODRL_PROHIBITION]; i++) {
        const struct tsr_odrl_duty *r = &p->rules[TSR_ODRL_PROHIBITION][i];
        struct tsr_odrl_rule_report *rr = eval_rule(&e, r, i, &spare);
        any_match |= rr->action_match && rr->target_match && rr->party_match;
        if (rr->active) {
            int ix = rr == &spare ? TSR_ODRL_MAX_RULE_REPORTS : (int)(rr - out->rules);
            if (proh < 0)
                proh = ix;
            /* Remedies are what an infringement would cost: list them with the refusal. */
            for (uint32_t j = 0; j < r->n_duties; j++)
                add_pending(&e, &r->duties[j], r->id, ix, duty_state(&e, &r->duties[j]),
                            TSR_ODRL_TIME_UNSET, TSR_ODRL_TIME_UNSET);
        }
    }
    /* Policy-level obligations hold whatever is asked; list those not yet fulfilled. */
    (void)eval_duties(&e, p->rules[TSR_ODRL_OBLIGATION], p->n_rules[TSR_ODRL_OBLIGATION], NULL,
                      -1);

    if (perm >= 0 && proh >= 0) {
        switch ((enum tsr_odrl_conflict)p->conflict) {
        case TSR_ODRL_CONFLICT_PERM:
            out->effect = TSR_ODRL_PERMIT;
            out->decided_by = perm;
            out->why = "permitted: the policy lets permissions override prohibitions";
            filter_pending(&e, perm, false);
            break;
        case TSR_ODRL_CONFLICT_INVALID:
            out->decided_by = proh;
            out->why = "policy void: a permission and a prohibition conflict (conflict invalid)";
            filter_pending(&e, proh, false);
            break;
        default:
            out->decided_by = proh;
            out->why = "prohibited: a prohibition overrides the permission";
            filter_pending(&e, proh, false);
            break;
        }
    } else if (proh >= 0) {
        out->decided_by = proh;
        out->why = "prohibited by a prohibition";
        filter_pending(&e, proh, false);
    } else if (perm >= 0) {
        out->effect = TSR_ODRL_PERMIT;
        out->decided_by = perm;
        out->why = "permitted by a permission";
        filter_pending(&e, perm, false);
    } else {
        out->effect = any_match ? TSR_ODRL_DENY : TSR_ODRL_NOT_APPLICABLE;
        out->why = any_match ? deny_reason(out)
                             : "no rule applies to this action, target and party";
        filter_pending(&e, -3, true);
    }
    if (out->decided_by >= TSR_ODRL_MAX_RULE_REPORTS)
        out->decided_by = -1;
    return 0;
}

/* ------------------------------------------------------------ time boundaries */

static void consider(int64_t t, int64_t now, int64_t *best)
{
    /* Truth can flip at t (gteq, lt) or just after it (gt, lteq): look at both. */
    for (int k = 0; k < 2; k++, t++) {
        if (t == TSR_ODRL_TIME_UNSET || t <= now)
            continue;
        if (*best == TSR_ODRL_TIME_UNSET || t < *best)
            *best = t;
    }
}

static void boundaries(const struct tsr_odrl_request *rq, const struct tsr_odrl__cons *k,
                       int64_t *best, unsigned depth)
{
    if (depth > 64)
        return;
    if (k->logic != TSR_ODRL_LOGIC_NONE) {
        for (uint32_t i = 0; i < k->n_kids; i++)
            boundaries(rq, k->kids[i], best, depth + 1);
        return;
    }
    const struct tsr_odrl__val *v = &k->vals[0];
    switch (k->operand) {
    case TSR_ODRL_LO_DATE_TIME:
    case TSR_ODRL_LO_IN_FORCE_DATE:
        if (!v->relative)
            consider(v->i, rq->now_ms, best);
        else if (rq->agreement_ms != TSR_ODRL_TIME_UNSET)
            consider(tsr_odrl__add_duration(rq->agreement_ms, 0, v->i), rq->now_ms, best);
        break;
    case TSR_ODRL_LO_ELAPSED_TIME:
        consider(tsr_odrl__add_duration(elapsed_start(rq), v->months, v->i), rq->now_ms, best);
        break;
    case TSR_ODRL_LO_DELAY_PERIOD:
        consider(tsr_odrl__add_duration(rq->agreement_ms, v->months, v->i), rq->now_ms, best);
        break;
    case TSR_ODRL_LO_TIME_INTERVAL:
        consider(tsr_odrl__add_duration(rq->last_use_ms, v->months, v->i), rq->now_ms, best);
        break;
    default:
        break;
    }
}

int64_t tsr_odrl_next_boundary(const struct tsr_odrl_policy *p,
                               const struct tsr_odrl_request *req)
{
    int64_t best = TSR_ODRL_TIME_UNSET;

    if (p == NULL || req == NULL || req->now_ms == TSR_ODRL_TIME_UNSET)
        return TSR_ODRL_TIME_UNSET;
    for (int kind = TSR_ODRL_PERMISSION; kind <= TSR_ODRL_PROHIBITION; kind++) {
        for (uint32_t i = 0; i < p->n_rules[kind]; i++) {
            const struct tsr_odrl_duty *r = &p->rules[kind][i];
            for (uint32_t j = 0; j < r->n_cons; j++)
                boundaries(req, r->cons[j], &best, 0);
            for (uint32_t a = 0; a < r->n_actions; a++)
                for (uint32_t j = 0; j < r->actions[a].n_refine; j++)
                    boundaries(req, r->actions[a].refine[j], &best, 0);
        }
    }
    return best;
}
