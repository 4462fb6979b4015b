/*
 * contracts/odrl_parse.c: compile an ODRL policy, as dataspace peers send
 * it in compacted JSON-LD, into the immutable form odrl_eval.c walks.
 *
 * This is a known-context normalizer, not a JSON-LD processor: keys and
 * vocabulary values are recognised as ODRL terms whether written bare,
 * "odrl:"-prefixed (or under any prefix the inline @context maps to the
 * ODRL namespace) or as full IRIs; other prefixes declared inline are
 * expanded in IRI values.  Remote contexts are never fetched: their
 * names are only accepted.
 *
 * Everything that would change a decision must be understood, or the
 * policy is refused: that is the whole point of doing it ourselves
 * (EDC drops unknown constraints silently).  Every count, size and depth
 * is bounded before memory is committed to it.
 */
#include "lib/tsr.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "contracts/odrl.h"
#include "contracts/odrl_int.h"
#include "lib/json.h"
#include "lib/mem.h"

/* How deep the reference index walks a document (policies are shallow). */
#define INDEX_MAX_DEPTH 64
/* Nodes with an @id the index keeps; more are refused. */
#define INDEX_MAX_NODES 8192
/* Prefixes an inline @context may declare. */
#define MAX_PREFIXES 32
/* The longest "[a, b, ...]" text kept for a list right operand. */
#define MAX_RIGHT_TEXT 512

#define EDC_NS "https://w3id.org/edc/v0.0.1/ns/"
#define RDF_VALUE "http://www.w3.org/1999/02/22-rdf-syntax-ns#value"
#define XSD_NS "http://www.w3.org/2001/XMLSchema#"

struct node {
    const char *id;
    json_t *j;
};

struct cc {
    struct tsr_odrl_policy *p;
    struct tsr_odrl_options o;
    struct tsr_diag *d;
    struct node *nodes;
    size_t n_nodes, cap_nodes;
    size_t n_rules, n_cons;
    unsigned ref_depth;
    int rc; /* the code of the last failure recorded */
    char path[200];
    size_t plen;
};

/* ------------------------------------------------------------ errors and paths */

static int fail(struct cc *c, int code, const char *fmt, ...) TSR_PRINTF(3, 4);
static int fail(struct cc *c, int code, const char *fmt, ...)
{
    char msg[TSR_DIAG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->rc = code;
    if (c->plen > 0)
        return tsr_diag_set(c->d, code, "%s: %s", c->path, msg);
    return tsr_diag_set(c->d, code, "%s", msg);
}

#ifdef __clang_analyzer__
/* The analyzer does not follow variadic calls; tell it that fail() returns its code. */
#define fail(c, code, ...)                                                                         \
    __extension__({                                                                                \
        int tsr__fail_code = (code);                                                               \
        (void)(fail)((c), tsr__fail_code, __VA_ARGS__);                                            \
        tsr__fail_code;                                                                            \
    })
#endif

static size_t path_push(struct cc *c, const char *seg, long idx)
{
    size_t mark = c->plen;
    int n;

    if (idx >= 0)
        n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s[%ld]",
                     c->plen ? "." : "", seg, idx);
    else
        n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s", c->plen ? "." : "",
                     seg);
    if (n < 0 || (size_t)n >= sizeof(c->path) - c->plen)
        c->plen = sizeof(c->path) - 1; /* truncated: the start of the path is what helps */
    else
        c->plen += (size_t)n;
    return mark;
}

static void path_pop(struct cc *c, size_t mark)
{
    c->plen = mark;
    c->path[mark] = '\0';
}

/*
 * Record the value of a member in *slot, refusing a second member that
 * means the same ("permission" and "odrl:permission"): which one wins
 * would be a guess.
 */
static int set_once(struct cc *c, json_t **slot, json_t *x, const char *term)
{
    if (*slot != NULL)
        return fail(c, TSR_EINVAL, "duplicate member '%s' (written twice, e.g. with and "
                                   "without a prefix)", term);
    *slot = x;
    return 0;
}

/* ------------------------------------------------------------ arena */

static void *arena_alloc(struct cc *c, size_t n)
{
    struct tsr_odrl_policy *p = c->p;
    struct tsr_odrl__chunk *ch = p->chunks;
    const size_t align = sizeof(max_align_t);

    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    if (ch == NULL || ch->size - ch->used < n) {
        size_t size = n > 8192 ? n : 8192;
        if (p->bytes + size > TSR_ODRL__ARENA_MAX) {
            fail(c, TSR_ELIMIT, "the compiled policy would exceed %zu bytes",
                 (size_t)TSR_ODRL__ARENA_MAX);
            return NULL;
        }
        ch = tsr_malloc(sizeof(*ch) + size);
        if (ch == NULL) {
            fail(c, TSR_ENOMEM, "out of memory");
            return NULL;
        }
        ch->next = p->chunks;
        ch->used = 0;
        ch->size = size;
        p->chunks = ch;
        p->bytes += size;
    }
    void *r = (char *)ch->data + ch->used;
    ch->used += n;
    memset(r, 0, n);
    return r;
}

static void *arena_array(struct cc *c, size_t n, size_t size)
{
    if (n != 0 && size > TSR_ODRL__ARENA_MAX / n) {
        fail(c, TSR_ELIMIT, "too many items");
        return NULL;
    }
    return arena_alloc(c, n * size);
}

static char *arena_strndup(struct cc *c, const char *s, size_t n)
{
    char *r = arena_alloc(c, n + 1);

    if (r != NULL) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

static char *arena_strdup(struct cc *c, const char *s)
{
    return arena_strndup(c, s, strlen(s));
}

/* ------------------------------------------------------------ terms */

enum keyclass {
    K_KEYWORD, /* "@id", "@type", ... */
    K_ODRL,    /* an ODRL term, *term is its local name (or "rdf:value") */
    K_FOREIGN, /* another vocabulary: metadata, ignored */
};

/*
 * Unprefixed keys that are not ODRL terms but appear in the shapes we
 * accept (DSP agreement timestamp, Dublin Core terms some contexts map).
 */
static const char *const foreign_terms[] = {
    "timestamp", "title", "description", "created", "modified", "creator", "comment", "label",
};

/* The namespace a declared or built-in prefix maps to, or NULL. */
static const char *prefix_ns(const struct tsr_odrl_policy *p, const char *s, size_t len)
{
    for (uint32_t i = 0; i < p->n_prefixes; i++)
        if (p->prefixes[i].len == len && memcmp(p->prefixes[i].pfx, s, len) == 0)
            return p->prefixes[i].ns;
    return NULL;
}

/*
 * If s names an ODRL vocabulary term (bare, prefixed or full IRI), its
 * local name; else NULL.
 */
static const char *odrl_term(const struct tsr_odrl_policy *p, const char *s)
{
    const char *colon;

    if (strncmp(s, TSR_ODRL_NS, sizeof(TSR_ODRL_NS) - 1) == 0)
        return s + sizeof(TSR_ODRL_NS) - 1;
    colon = strchr(s, ':');
    if (colon == NULL)
        return s;
    const char *ns = prefix_ns(p, s, (size_t)(colon - s));
    if (ns != NULL && strcmp(ns, TSR_ODRL_NS) == 0)
        return colon + 1;
    return NULL;
}

static enum keyclass key_class(const struct tsr_odrl_policy *p, const char *key, const char **term)
{
    *term = key;
    if (key[0] == '@')
        return K_KEYWORD;
    if (strcmp(key, "rdf:value") == 0 || strcmp(key, RDF_VALUE) == 0) {
        *term = "rdf:value";
        return K_ODRL;
    }
    if (strchr(key, ':') == NULL) {
        for (size_t i = 0; i < TSR_ARRAY_SIZE(foreign_terms); i++)
            if (strcmp(key, foreign_terms[i]) == 0)
                return K_FOREIGN;
    }
    const char *t = odrl_term(p, key);
    if (t == NULL)
        return K_FOREIGN;
    *term = t;
    return K_ODRL;
}

/* s with a declared or built-in prefix expanded, as a new arena string. */
static const char *expand(struct cc *c, const char *s)
{
    const char *colon = strchr(s, ':');

    if (colon != NULL && colon[1] != '/') {
        const char *ns = prefix_ns(c->p, s, (size_t)(colon - s));
        if (ns != NULL) {
            size_t a = strlen(ns), b = strlen(colon + 1);
            char *r = arena_alloc(c, a + b + 1);
            if (r != NULL) {
                memcpy(r, ns, a);
                memcpy(r + a, colon + 1, b);
                r[a + b] = '\0';
            }
            return r;
        }
    }
    return arena_strdup(c, s);
}

static int check_string(struct cc *c, const char *what, const char *s)
{
    size_t n = strlen(s);

    if (n > c->o.max_string)
        return fail(c, TSR_ELIMIT, "%s is %zu bytes long (at most %zu)", what, n,
                    c->o.max_string);
    if (n == 0)
        return fail(c, TSR_EINVAL, "%s is empty", what);
    return 0;
}

/*
 * The IRI (or term) a JSON value names: a string, or an object with "@id"
 * (and nothing that would be lost).  *out is borrowed from v.
 */
static int iri_value(struct cc *c, const char *what, json_t *v, const char **out)
{
    if (json_is_string(v)) {
        *out = json_string_value(v);
    } else if (json_is_object(v) && json_is_string(json_object_get(v, "@id"))) {
        *out = json_string_value(json_object_get(v, "@id"));
    } else {
        return fail(c, TSR_EINVAL, "%s must be an IRI (a string or {\"@id\": ...})", what);
    }
    return check_string(c, what, *out);
}

/* A JSON-LD value seen as a list. */
struct jlist {
    json_t *arr; /* the array, or NULL for a single value */
    json_t *one; /* the single value */
    size_t n;
};

/*
 * Arrays and {"@list": [...]} / {"@set": [...]} give their items, anything
 * else is a list of one.  Borrowed from v.
 */
static int as_list(struct cc *c, const char *what, json_t *v, struct jlist *l)
{
    if (json_is_object(v)) {
        json_t *inner = json_object_get(v, "@list");
        if (inner == NULL)
            inner = json_object_get(v, "@set");
        if (inner != NULL) {
            if (json_object_size(v) != 1)
                return fail(c, TSR_EINVAL, "%s: @list with other members", what);
            v = inner;
        }
    }
    l->one = v;
    if (json_is_array(v)) {
        l->arr = v;
        l->n = json_array_size(v);
    } else {
        l->arr = NULL;
        l->n = 1;
    }
    if (l->n > c->o.max_list)
        return fail(c, TSR_ELIMIT, "%s has %zu items (at most %zu)", what, l->n, c->o.max_list);
    return 0;
}

static json_t *list_item(const struct jlist *l, size_t i)
{
    return l->arr != NULL ? json_array_get(l->arr, i) : l->one;
}

/* ------------------------------------------------------------ reference index */

static int index_nodes(struct cc *c, json_t *v, unsigned depth)
{
    if (depth > INDEX_MAX_DEPTH)
        return fail(c, TSR_ELIMIT, "the document nests deeper than %d", INDEX_MAX_DEPTH);
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            int rc = index_nodes(c, x, depth + 1);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (!json_is_object(v))
        return 0;
    json_t *id = json_object_get(v, "@id");
    size_t members = json_object_size(v) - (json_object_get(v, "@context") != NULL);
    /* {"@id": x} alone is a reference, not a definition. */
    if (json_is_string(id) && members > 1) {
        if (c->n_nodes == INDEX_MAX_NODES)
            return fail(c, TSR_ELIMIT, "more than %d identified nodes", INDEX_MAX_NODES);
        if (c->n_nodes == c->cap_nodes) {
            size_t cap = c->cap_nodes ? c->cap_nodes * 2 : 32;
            struct node *n = tsr_realloc(c->nodes, cap * sizeof(*n));
            if (n == NULL)
                return fail(c, TSR_ENOMEM, "out of memory");
            c->nodes = n;
            c->cap_nodes = cap;
        }
        c->nodes[c->n_nodes].id = json_string_value(id);
        c->nodes[c->n_nodes].j = v;
        c->n_nodes++;
    }
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (strcmp(k, "@context") == 0)
            continue;
        int rc = index_nodes(c, x, depth + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The node a reference (a string, or {"@id": x} alone) points at, or NULL. */
static json_t *lookup_ref(struct cc *c, json_t *v)
{
    const char *id = NULL;

    if (json_is_string(v))
        id = json_string_value(v);
    else if (json_is_object(v) && json_object_size(v) == 1 &&
             json_is_string(json_object_get(v, "@id")))
        id = json_string_value(json_object_get(v, "@id"));
    if (id == NULL)
        return NULL;
    for (size_t i = 0; i < c->n_nodes; i++)
        if (tsr_odrl__same_term(c->p, c->nodes[i].id, id))
            return c->nodes[i].j;
    return NULL;
}

/* v, or the node it refers to; refuses an unresolved reference where a node is needed. */
static int deref_node(struct cc *c, const char *what, json_t *v, json_t **out)
{
    json_t *n = lookup_ref(c, v);

    if (n != NULL)
        v = n;
    if (!json_is_object(v) || (json_object_size(v) == 1 && json_object_get(v, "@id") != NULL)) {
        if (json_is_string(v) || json_is_object(v))
            return fail(c, TSR_EINVAL, "%s: reference to a node that is not in the document",
                        what);
        return fail(c, TSR_EINVAL, "%s must be an object", what);
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------ right operands */

/* The vtype an xsd datatype IRI (expanded) stands for, or -1. */
static int xsd_type(const char *iri)
{
    static const struct {
        const char *local;
        enum tsr_odrl_vtype t;
    } map[] = {
        {"string", TSR_ODRL_T_STRING},          {"normalizedString", TSR_ODRL_T_STRING},
        {"token", TSR_ODRL_T_STRING},           {"language", TSR_ODRL_T_STRING},
        {"integer", TSR_ODRL_T_INTEGER},        {"int", TSR_ODRL_T_INTEGER},
        {"long", TSR_ODRL_T_INTEGER},           {"short", TSR_ODRL_T_INTEGER},
        {"nonNegativeInteger", TSR_ODRL_T_INTEGER},
        {"positiveInteger", TSR_ODRL_T_INTEGER}, {"decimal", TSR_ODRL_T_DECIMAL},
        {"double", TSR_ODRL_T_DECIMAL},         {"float", TSR_ODRL_T_DECIMAL},
        {"boolean", TSR_ODRL_T_BOOLEAN},        {"dateTime", TSR_ODRL_T_DATE_TIME},
        {"dateTimeStamp", TSR_ODRL_T_DATE_TIME}, {"date", TSR_ODRL_T_DATE_TIME},
        {"duration", TSR_ODRL_T_DURATION},      {"dayTimeDuration", TSR_ODRL_T_DURATION},
        {"yearMonthDuration", TSR_ODRL_T_DURATION}, {"anyURI", TSR_ODRL_T_IRI},
    };

    if (strncmp(iri, XSD_NS, sizeof(XSD_NS) - 1) != 0)
        return -1;
    iri += sizeof(XSD_NS) - 1;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(map); i++)
        if (strcmp(iri, map[i].local) == 0)
            return (int)map[i].t;
    return -1;
}

static const char *type_name(enum tsr_odrl_vtype t)
{
    switch (t) {
    case TSR_ODRL_T_STRING:
        return "a string";
    case TSR_ODRL_T_IRI:
        return "an IRI";
    case TSR_ODRL_T_INTEGER:
        return "an integer";
    case TSR_ODRL_T_DECIMAL:
        return "a decimal";
    case TSR_ODRL_T_BOOLEAN:
        return "a boolean";
    case TSR_ODRL_T_DATE_TIME:
        return "an xsd:dateTime";
    case TSR_ODRL_T_DURATION:
        return "an xsd:duration";
    case TSR_ODRL_T_ANY:
        break;
    }
    return "a value";
}

/* EDC's "contractAgreement + 30d" (units ms, s, m, h, d); *ms the offset. */
static bool parse_relative(const char *s, int64_t *ms)
{
    static const char kw[] = "contractAgreement";
    int64_t v = 0;
    int n = 0;

    if (strncmp(s, kw, sizeof(kw) - 1) != 0)
        return false;
    s += sizeof(kw) - 1;
    while (*s == ' ')
        s++;
    if (*s == '\0') {
        *ms = 0;
        return true;
    }
    if (*s != '+')
        return false;
    s++;
    while (*s == ' ')
        s++;
    while (*s >= '0' && *s <= '9') {
        if (n == 9)
            return false;
        v = v * 10 + (*s++ - '0');
        n++;
    }
    if (n == 0)
        return false;
    if (strcmp(s, "ms") == 0)
        *ms = v;
    else if (strcmp(s, "s") == 0)
        *ms = v * 1000;
    else if (strcmp(s, "m") == 0)
        *ms = v * 60000;
    else if (strcmp(s, "h") == 0)
        *ms = v * 3600000;
    else if (strcmp(s, "d") == 0)
        *ms = v * 86400000;
    else
        return false;
    return true;
}

/*
 * One right operand item into *out, typed by want (T_ANY: by the item).
 * dtype is the constraint's dataType (-1 none).
 */
static int right_item(struct cc *c, const struct tsr_odrl__cons *k, json_t *item,
                      enum tsr_odrl_vtype want, int dtype, struct tsr_odrl__val *out,
                      const char **text)
{
    char numbuf[64];
    const char *s = NULL;
    int have = dtype; /* the item's own type, -1 unknown */
    bool is_iri = false;

    if (json_is_object(item)) {
        json_t *val = json_object_get(item, "@value");
        json_t *id = json_object_get(item, "@id");
        json_t *ty = json_object_get(item, "@type");
        if (id != NULL && val == NULL && json_is_string(id) && json_object_size(item) <= 2) {
            s = json_string_value(id);
            is_iri = true;
            have = TSR_ODRL_T_IRI;
        } else if (val != NULL) {
            const char *k2;
            json_t *x;
            json_object_foreach(item, k2, x) {
                if (strcmp(k2, "@value") != 0 && strcmp(k2, "@type") != 0 &&
                    strcmp(k2, "@language") != 0)
                    return fail(c, TSR_EINVAL, "rightOperand: unexpected member '%s'", k2);
            }
            if (ty != NULL) {
                if (!json_is_string(ty))
                    return fail(c, TSR_EINVAL, "rightOperand: @type must be a string");
                const char *tiri = expand(c, json_string_value(ty));
                if (tiri == NULL)
                    return c->rc;
                have = xsd_type(tiri);
                if (have < 0)
                    return fail(c, TSR_EPOLICY, "rightOperand: unsupported datatype '%s'",
                                json_string_value(ty));
            }
            item = val;
        } else {
            return fail(c, TSR_EINVAL, "rightOperand: an object needs @value or @id");
        }
    }
    if (s == NULL) {
        if (json_is_string(item)) {
            s = json_string_value(item);
            if (have < 0)
                have = TSR_ODRL_T_STRING;
        } else if (json_is_integer(item)) {
            snprintf(numbuf, sizeof(numbuf), "%" JSON_INTEGER_FORMAT, json_integer_value(item));
            s = numbuf;
            if (have < 0)
                have = TSR_ODRL_T_INTEGER;
        } else if (json_is_real(item)) {
            double dv = json_real_value(item);
            if (!isfinite(dv) || fabs(dv) > 1e12)
                return fail(c, TSR_EINVAL, "rightOperand: number out of range");
            snprintf(numbuf, sizeof(numbuf), "%.6f", dv);
            s = numbuf;
            if (have < 0)
                have = TSR_ODRL_T_DECIMAL;
        } else if (json_is_boolean(item)) {
            s = json_is_true(item) ? "true" : "false";
            if (have < 0)
                have = TSR_ODRL_T_BOOLEAN;
        } else {
            return fail(c, TSR_EINVAL, "rightOperand must be a string, number, boolean, "
                                       "{\"@value\": ...} or {\"@id\": ...}");
        }
    }
    int rc = check_string(c, "rightOperand", s);
    if (rc != 0)
        return rc;
    *text = arena_strdup(c, s);
    if (*text == NULL)
        return c->rc;

    enum tsr_odrl_vtype t = want == TSR_ODRL_T_ANY ? (enum tsr_odrl_vtype)have : want;
    /* Numbers given as JSON strings for numeric operands are fine; the rest must agree. */
    if (k->operand == TSR_ODRL_LO_IN_FORCE_DATE) {
        if (parse_relative(s, &out->i)) {
            out->type = TSR_ODRL_T_DATE_TIME;
            out->relative = true;
            out->s = *text;
            return 0;
        }
    }
    if (is_iri && t != TSR_ODRL_T_IRI && t != TSR_ODRL_T_STRING)
        return fail(c, TSR_EINVAL, "rightOperand: expected %s, got the IRI '%s'", type_name(t), s);
    if (t == TSR_ODRL_T_IRI || (t == TSR_ODRL_T_STRING && is_iri)) {
        out->type = TSR_ODRL_T_IRI;
        out->s = expand(c, s);
        return out->s != NULL ? 0 : (c->rc);
    }
    bool no_tz = false;
    if (tsr_odrl__parse_value(*text, t, out, &no_tz) != 0)
        return fail(c, TSR_EINVAL, "rightOperand: expected %s, got '%s'", type_name(t), s);
    if (no_tz && k->operand == TSR_ODRL_LO_IN_FORCE_DATE)
        return fail(c, TSR_EINVAL, "rightOperand: inForceDate '%s' has no time zone", s);
    if (t == TSR_ODRL_T_STRING) {
        /* Strings may still be prefixed names ("ex:alice"): keep them comparable. */
        out->s = expand(c, s);
        if (out->s == NULL)
            return c->rc;
    }
    if (k->operand == TSR_ODRL_LO_COUNT && out->i < 0)
        return fail(c, TSR_EINVAL, "rightOperand: a count cannot be negative");
    if (t == TSR_ODRL_T_DURATION && (out->months < 0 || out->i < 0))
        return fail(c, TSR_EINVAL, "rightOperand: negative duration");
    return 0;
}

static bool is_ordering(enum tsr_odrl_operator op)
{
    return op == TSR_ODRL_LT || op == TSR_ODRL_LTEQ || op == TSR_ODRL_GT || op == TSR_ODRL_GTEQ;
}

static bool is_set_op(enum tsr_odrl_operator op)
{
    return op >= TSR_ODRL_IS_A;
}

/* Operator and type checks: what the engine cannot evaluate faithfully is refused. */
static int check_operator(struct cc *c, const struct tsr_odrl__cons *k)
{
    enum tsr_odrl_operator op = k->op;
    enum tsr_odrl_vtype t = k->type;
    const char *opn = tsr_odrl_operator_name(op);

    if (k->src == TSR_ODRL_SRC_CONTRACTUAL && k->operand == TSR_ODRL_LO_PROFILE)
        return 0;
    if (!is_set_op(op) && k->n_vals != 1)
        return fail(c, TSR_EINVAL, "operator %s needs exactly one right operand, got %u", opn,
                    k->n_vals);
    switch (k->operand) {
    case TSR_ODRL_LO_TIME_INTERVAL:
        if (op != TSR_ODRL_EQ && op != TSR_ODRL_GTEQ && op != TSR_ODRL_GT)
            return fail(c, TSR_EPOLICY, "operator %s is not supported with timeInterval "
                                        "(eq, gteq, gt)", opn);
        return 0;
    case TSR_ODRL_LO_DATE_TIME:
    case TSR_ODRL_LO_ELAPSED_TIME:
    case TSR_ODRL_LO_DELAY_PERIOD:
    case TSR_ODRL_LO_IN_FORCE_DATE:
        if (is_set_op(op))
            return fail(c, TSR_EPOLICY, "operator %s is not supported with %s", opn, k->text);
        return 0;
    default:
        break;
    }
    if (is_ordering(op) && t != TSR_ODRL_T_INTEGER && t != TSR_ODRL_T_DECIMAL &&
        t != TSR_ODRL_T_DATE_TIME && t != TSR_ODRL_T_DURATION)
        return fail(c, TSR_EPOLICY, "operator %s needs an ordered value (number, date or "
                                    "duration), not %s", opn, type_name(t));
    if ((op == TSR_ODRL_IS_A || op == TSR_ODRL_HAS_PART || op == TSR_ODRL_IS_PART_OF) &&
        t != TSR_ODRL_T_STRING && t != TSR_ODRL_T_IRI)
        return fail(c, TSR_EPOLICY, "operator %s needs IRIs or strings, not %s", opn,
                    type_name(t));
    if (t == TSR_ODRL_T_BOOLEAN && op != TSR_ODRL_EQ && op != TSR_ODRL_NEQ)
        return fail(c, TSR_EPOLICY, "operator %s is not defined for booleans", opn);
    return 0;
}

/* ------------------------------------------------------------ constraints */

static int compile_constraint(struct cc *c, json_t *v, unsigned depth, struct tsr_odrl__cons **out);

static const char *const logic_terms[] = {"", "and", "or", "xone", "andSequence"};

static int compile_logical(struct cc *c, struct tsr_odrl__cons *k, json_t *list, unsigned depth)
{
    struct jlist l;
    int rc;

    if (depth >= c->o.max_depth)
        return fail(c, TSR_ELIMIT, "logical constraints nest deeper than %zu", c->o.max_depth);
    rc = as_list(c, logic_terms[k->logic], list, &l);
    if (rc != 0)
        return rc;
    if (l.n == 0)
        return fail(c, TSR_EINVAL, "%s has no constraints", logic_terms[k->logic]);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, so pointer-sized */
    k->kids = arena_array(c, l.n, sizeof(*k->kids));
    if (k->kids == NULL)
        return c->rc;
    for (size_t i = 0; i < l.n; i++) {
        size_t mark = path_push(c, logic_terms[k->logic], (long)i);
        rc = compile_constraint(c, list_item(&l, i), depth + 1, &k->kids[i]);
        path_pop(c, mark);
        if (rc != 0)
            return rc;
        k->n_kids++;
    }
    return 0;
}

static int resolve_operand(struct cc *c, struct tsr_odrl__cons *k,
                           const struct tsr_odrl_registry *reg)
{
    const char *local = odrl_term(c->p, k->text);
    const struct tsr_odrl__opdef *def = local != NULL ? tsr_odrl__operand_lookup(local) : NULL;
    const char *iri = expand(c, k->text);

    if (iri == NULL)
        return c->rc;
    /* EDC's inForceDate lives in its own namespace. */
    if (def == NULL && strcmp(iri, EDC_NS "inForceDate") == 0)
        def = tsr_odrl__operand_lookup("inForceDate");
    if (def != NULL) {
        k->operand = def->operand;
        k->type = def->type;
        k->name = def->term;
        k->iri = def->operand == TSR_ODRL_LO_IN_FORCE_DATE ? EDC_NS "inForceDate" : NULL;
        if (k->iri == NULL) {
            char *full = arena_alloc(c, sizeof(TSR_ODRL_NS) + strlen(def->term));
            if (full == NULL)
                return c->rc;
            memcpy(full, TSR_ODRL_NS, sizeof(TSR_ODRL_NS) - 1);
            memcpy(full + sizeof(TSR_ODRL_NS) - 1, def->term, strlen(def->term) + 1);
            k->iri = full;
        }
        return 0;
    }
    /* A bare term can name a profile operand when the profile's context maps it. */
    const struct tsr_odrl__regop *r =
        tsr_odrl__reg_operand(reg, iri, strchr(k->text, ':') == NULL ? k->text : NULL);
    if (r != NULL) {
        k->operand = TSR_ODRL_LO_PROFILE;
        k->type = r->type;
        k->src = r->src;
        k->name = arena_strdup(c, r->name);
        k->iri = arena_strdup(c, r->iri);
        if (k->name == NULL || k->iri == NULL)
            return c->rc;
        return 0;
    }
    return fail(c, TSR_EPOLICY, "unknown left operand '%s' (not in ODRL 2.2 or a registered "
                                "profile): the policy is refused", k->text);
}

static int compile_atomic(struct cc *c, struct tsr_odrl__cons *k, json_t *lo, json_t *op,
                          json_t *ro, json_t *dt)
{
    int rc, dtype = -1;
    const char *s;

    if (lo == NULL || op == NULL || ro == NULL)
        return fail(c, TSR_EINVAL, "a constraint needs leftOperand, operator and rightOperand%s",
                    lo == NULL && op == NULL && ro == NULL ? " (or and/or/xone/andSequence)" : "");
    rc = iri_value(c, "leftOperand", lo, &s);
    if (rc != 0)
        return rc;
    k->text = arena_strdup(c, s);
    if (k->text == NULL)
        return c->rc;
    rc = resolve_operand(c, k, c->o.registry);
    if (rc != 0)
        return rc;

    rc = iri_value(c, "operator", op, &s);
    if (rc != 0)
        return rc;
    const char *local = odrl_term(c->p, s);
    int opi = local != NULL ? tsr_odrl__operator_by_term(local) : -1;
    if (opi < 0)
        return fail(c, TSR_EPOLICY, "unknown operator '%s': the policy is refused", s);
    k->op = (uint8_t)opi;

    if (dt != NULL) {
        const char *dts;
        rc = iri_value(c, "dataType", dt, &dts);
        if (rc != 0)
            return rc;
        const char *e = expand(c, dts);
        if (e == NULL)
            return c->rc;
        dtype = xsd_type(e);
        if (dtype < 0)
            return fail(c, TSR_EPOLICY, "unsupported dataType '%s'", dts);
    }

    struct jlist l;
    rc = as_list(c, "rightOperand", ro, &l);
    if (rc != 0)
        return rc;
    if (l.n == 0)
        return fail(c, TSR_EINVAL, "rightOperand is an empty list");
    struct tsr_odrl__val *vals = arena_array(c, l.n, sizeof(*vals));
    if (vals == NULL)
        return c->rc;
    char rtext[MAX_RIGHT_TEXT];
    size_t rlen = 0;
    rtext[0] = '\0';
    enum tsr_odrl_vtype want = k->type;
    for (size_t i = 0; i < l.n; i++) {
        const char *text = NULL;
        json_t *item = list_item(&l, i);
        if (json_is_array(item))
            return fail(c, TSR_EINVAL, "rightOperand: nested lists are not allowed");
        rc = right_item(c, k, item, want, dtype, &vals[i], &text);
        if (rc != 0)
            return rc;
        /* A list takes the type of its first item; the others must agree. */
        if (want == TSR_ODRL_T_ANY) {
            want = vals[i].type;
            k->type = (uint8_t)want;
        } else if (vals[i].type != want && !(want == TSR_ODRL_T_STRING &&
                                             vals[i].type == TSR_ODRL_T_IRI)) {
            return fail(c, TSR_EINVAL, "rightOperand: item %zu is %s, expected %s", i,
                        type_name(vals[i].type), type_name(want));
        }
        if (l.n > 1 || l.arr != NULL) {
            int w = snprintf(rtext + rlen, sizeof(rtext) - rlen, "%s%s", i ? ", " : "[", text);
            if (w < 0 || (size_t)w >= sizeof(rtext) - rlen)
                rlen = sizeof(rtext) - 1;
            else
                rlen += (size_t)w;
        } else {
            k->right = text;
        }
    }
    if (k->right == NULL) {
        if (rlen + 2 < sizeof(rtext)) {
            rtext[rlen++] = ']';
            rtext[rlen] = '\0';
        } else {
            memcpy(rtext + sizeof(rtext) - 5, "...]", 5);
        }
        k->right = arena_strdup(c, rtext);
        if (k->right == NULL)
            return c->rc;
    }
    k->vals = vals;
    k->n_vals = (uint32_t)l.n;
    return check_operator(c, k);
}

static int compile_constraint(struct cc *c, json_t *v, unsigned depth, struct tsr_odrl__cons **out)
{
    json_t *lo = NULL, *op = NULL, *ro = NULL, *dt = NULL, *logic = NULL;
    struct tsr_odrl__cons *k;
    const char *key, *term;
    json_t *x;
    int rc;

    if (++c->n_cons > c->o.max_constraints)
        return fail(c, TSR_ELIMIT, "more than %zu constraints", c->o.max_constraints);
    if (c->ref_depth > c->o.max_depth * 4 + 8)
        return fail(c, TSR_ELIMIT, "references nest too deep");
    rc = deref_node(c, "constraint", v, &v);
    if (rc != 0)
        return rc;
    k = arena_alloc(c, sizeof(*k));
    if (k == NULL)
        return c->rc;
    json_object_foreach(v, key, x) {
        switch (key_class(c->p, key, &term)) {
        case K_KEYWORD:
            if (strcmp(term, "@id") == 0) {
                if (!json_is_string(x))
                    return fail(c, TSR_EINVAL, "@id must be a string");
                k->id = arena_strdup(c, json_string_value(x));
                if (k->id == NULL)
                    return c->rc;
            } else if (strcmp(term, "@type") != 0 && strcmp(term, "@context") != 0) {
                return fail(c, TSR_EINVAL, "unexpected %s in a constraint", term);
            }
            continue;
        case K_FOREIGN:
            continue;
        case K_ODRL:
            break;
        }
        if (strcmp(term, "leftOperand") == 0) {
            rc = set_once(c, &lo, x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "operator") == 0) {
            rc = set_once(c, &op, x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "rightOperand") == 0) {
            rc = set_once(c, &ro, x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "dataType") == 0) {
            rc = set_once(c, &dt, x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "unit") == 0) {
            /* not a condition: recorded so a duty's amount keeps its currency */
            const char *u;
            rc = iri_value(c, "unit", x, &u);
            if (rc != 0)
                return rc;
            k->unit = expand(c, u);
            if (k->unit == NULL)
                return c->rc;
        } else if (strcmp(term, "status") == 0 || strcmp(term, "uid") == 0) {
            /* status is a value reported by an evaluator, not a condition */
            continue;
        } else if (strcmp(term, "rightOperandReference") == 0) {
            return fail(c, TSR_EPOLICY, "rightOperandReference is not supported (values "
                                        "must be in the policy): the policy is refused");
        } else {
            int l = 0;
            for (int i = 1; i < (int)TSR_ARRAY_SIZE(logic_terms); i++)
                if (strcmp(term, logic_terms[i]) == 0)
                    l = i;
            if (l == 0)
                return fail(c, TSR_EPOLICY, "unknown member '%s' in a constraint: the policy "
                                            "is refused", key);
            if (logic != NULL)
                return fail(c, TSR_EINVAL, "a logical constraint has exactly one of and, or, "
                                           "xone, andSequence");
            logic = x;
            k->logic = (uint8_t)l;
        }
    }
    if (logic != NULL) {
        if (lo != NULL || op != NULL || ro != NULL)
            return fail(c, TSR_EINVAL, "a constraint is either logical or atomic, not both");
        k->text = logic_terms[k->logic];
        k->right = "";
        c->ref_depth++;
        rc = compile_logical(c, k, logic, depth);
        c->ref_depth--;
    } else {
        rc = compile_atomic(c, k, lo, op, ro, dt);
    }
    if (rc != 0)
        return rc;
    *out = k;
    return 0;
}

/* A list of constraints (a single one, an array, or @list) into arena pointers. */
static int compile_constraints(struct cc *c, const char *what, json_t *v,
                               struct tsr_odrl__cons ***out, uint32_t *n_out)
{
    struct jlist l;
    int rc = as_list(c, what, v, &l);

    if (rc != 0)
        return rc;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, so pointer-sized */
    *out = arena_array(c, l.n, sizeof(**out));
    if (*out == NULL && l.n > 0)
        return c->rc;
    for (size_t i = 0; i < l.n; i++) {
        size_t mark = path_push(c, what, (long)i);
        rc = compile_constraint(c, list_item(&l, i), 0, &(*out)[i]);
        path_pop(c, mark);
        if (rc != 0)
            return rc;
    }
    *n_out = (uint32_t)l.n;
    return 0;
}

/* ------------------------------------------------------------ actions, assets, parties */

static int resolve_action(struct cc *c, const char *s, struct tsr_odrl__ent *e)
{
    const char *local = odrl_term(c->p, s);
    int a = local != NULL ? tsr_odrl__action_by_term(local) : -1;

    if (a >= 0) {
        const char *term = tsr_odrl_action_name((enum tsr_odrl_action)a);
        char *full = arena_alloc(c, sizeof(TSR_ODRL_NS) + strlen(term));
        if (full == NULL)
            return c->rc;
        memcpy(full, TSR_ODRL_NS, sizeof(TSR_ODRL_NS) - 1);
        memcpy(full + sizeof(TSR_ODRL_NS) - 1, term, strlen(term) + 1);
        e->iri = full;
        e->act = (int16_t)a;
        e->parent = (int16_t)tsr_odrl__action_parent(a);
        return 0;
    }
    const char *iri = expand(c, s);
    if (iri == NULL)
        return c->rc;
    const struct tsr_odrl__regact *r =
        tsr_odrl__reg_action(c->o.registry, iri, strchr(s, ':') == NULL ? s : NULL);
    if (r == NULL)
        return fail(c, TSR_EPOLICY, "unknown action '%s' (not in ODRL 2.2 or a registered "
                                    "profile): the policy is refused", s);
    e->iri = arena_strdup(c, r->iri);
    if (e->iri == NULL)
        return c->rc;
    e->act = TSR_ODRL_ACT_CUSTOM;
    e->parent = r->parent;
    /* Remember it so a request can name the action by its term. */
    struct tsr_odrl_policy *p = c->p;
    for (uint32_t i = 0; i < p->n_cacts; i++)
        if (strcmp(p->cacts[i].iri, r->iri) == 0)
            return 0;
    if (p->n_cacts < 16) {
        p->cacts[p->n_cacts].iri = e->iri;
        p->cacts[p->n_cacts].name = arena_strdup(c, r->name);
        p->cacts[p->n_cacts].parent = r->parent;
        if (p->cacts[p->n_cacts].name == NULL)
            return c->rc;
        p->n_cacts++;
        return 0;
    }
    return fail(c, TSR_ELIMIT, "more than 16 profile actions");
}

/* One action value: a term/IRI, or {"@id"|"rdf:value": ..., "refinement": ...}. */
static int compile_action(struct cc *c, json_t *v, struct tsr_odrl__ent *e)
{
    const char *s = NULL;
    json_t *refine = NULL;
    int rc;

    if (json_is_object(v)) {
        const char *key, *term;
        json_t *x, *name = NULL;
        json_object_foreach(v, key, x) {
            enum keyclass kc = key_class(c->p, key, &term);
            if (kc == K_FOREIGN || (kc == K_KEYWORD && strcmp(term, "@type") == 0))
                continue;
            if (kc == K_KEYWORD && strcmp(term, "@id") == 0) {
                if (name == NULL)
                    name = x;
            } else if (kc == K_ODRL && strcmp(term, "rdf:value") == 0) {
                name = x; /* the action itself; @id then names this action node */
            } else if (kc == K_ODRL && strcmp(term, "refinement") == 0) {
                refine = x;
            } else {
                return fail(c, TSR_EPOLICY, "unknown member '%s' in an action: the policy is "
                                            "refused", key);
            }
        }
        if (name == NULL)
            return fail(c, TSR_EINVAL, "an action object needs rdf:value or @id");
        rc = iri_value(c, "action", name, &s);
    } else {
        rc = iri_value(c, "action", v, &s);
    }
    if (rc != 0)
        return rc;
    rc = resolve_action(c, s, e);
    if (rc != 0)
        return rc;
    if (refine != NULL)
        rc = compile_constraints(c, "refinement", refine, &e->refine, &e->n_refine);
    return rc;
}

static bool describes_collection(struct cc *c, json_t *v)
{
    const char *key, *term;
    json_t *x;

    json_object_foreach(v, key, x) {
        if (key_class(c->p, key, &term) == K_ODRL &&
            (strcmp(term, "source") == 0 || strcmp(term, "refinement") == 0))
            return true;
    }
    return false;
}

/* A target or party: an IRI, or a (collection) object with source and refinement. */
static int compile_entity(struct cc *c, const char *what, json_t *v, struct tsr_odrl__ent *e)
{
    const char *s = NULL;
    json_t *node = lookup_ref(c, v);
    int rc;

    e->act = -1;
    e->parent = -1;
    /*
     * A bare IRI stays an IRI unless the document describes that node as a
     * collection (source or refinement), as graph-shaped policies do.
     */
    if (node != NULL && describes_collection(c, node))
        v = node;
    if (!json_is_object(v) || json_object_size(v) == 1) {
        rc = iri_value(c, what, v, &s);
        if (rc != 0)
            return rc;
        e->iri = expand(c, s);
        return e->iri != NULL ? 0 : (c->rc);
    }
    const char *key, *term;
    json_t *x, *id = NULL, *source = NULL, *refine = NULL;
    json_object_foreach(v, key, x) {
        enum keyclass kc = key_class(c->p, key, &term);
        if (kc == K_FOREIGN || (kc == K_KEYWORD && strcmp(term, "@type") == 0) ||
            (kc == K_KEYWORD && strcmp(term, "@context") == 0))
            continue;
        /* @id wins over uid whichever comes first; a uid after it is not "unknown". */
        bool is_id = kc == K_KEYWORD && strcmp(term, "@id") == 0;
        bool is_uid = kc == K_ODRL && strcmp(term, "uid") == 0;
        /* partOf: membership is a fact of the world, supplied with the request. */
        bool ignored = is_uid || (kc == K_ODRL && strcmp(term, "partOf") == 0);
        if (is_id || (is_uid && id == NULL))
            id = x;
        else if (kc == K_ODRL && strcmp(term, "source") == 0)
            source = x;
        else if (kc == K_ODRL && strcmp(term, "refinement") == 0)
            refine = x;
        else if (!ignored)
            return fail(c, TSR_EPOLICY, "unknown member '%s' in %s: the policy is refused", key,
                        what);
    }
    if (id == NULL && source == NULL)
        return fail(c, TSR_EINVAL, "%s needs @id or source", what);
    if (id != NULL) {
        rc = iri_value(c, what, id, &s);
        if (rc != 0)
            return rc;
        e->iri = expand(c, s);
        if (e->iri == NULL)
            return c->rc;
    }
    if (source != NULL) {
        rc = iri_value(c, "source", source, &s);
        if (rc != 0)
            return rc;
        e->source = expand(c, s);
        if (e->source == NULL)
            return c->rc;
        if (e->iri == NULL)
            e->iri = e->source;
    }
    if (refine != NULL)
        return compile_constraints(c, "refinement", refine, &e->refine, &e->n_refine);
    return 0;
}

static int compile_ents(struct cc *c, const char *what, json_t *v, bool action,
                        struct tsr_odrl__ent **out, uint32_t *n_out)
{
    struct jlist l;
    int rc = as_list(c, what, v, &l);

    if (rc != 0)
        return rc;
    if (l.n == 0)
        return fail(c, TSR_EINVAL, "%s is an empty list", what);
    *out = arena_array(c, l.n, sizeof(**out));
    if (*out == NULL)
        return c->rc;
    for (size_t i = 0; i < l.n; i++) {
        size_t mark = path_push(c, what, l.arr != NULL ? (long)i : -1);
        json_t *item = list_item(&l, i);
        if (action)
            rc = compile_action(c, item, &(*out)[i]);
        else
            rc = compile_entity(c, what, item, &(*out)[i]);
        path_pop(c, mark);
        if (rc != 0)
            return rc;
    }
    *n_out = (uint32_t)l.n;
    return 0;
}

/* ------------------------------------------------------------ rules */

struct defaults {
    json_t *target, *assignee, *action;
};

static const char *const party_functions[] = {
    "attributedParty", "attributingParty", "compensatedParty", "compensatingParty",
    "consentingParty", "consentedParty",   "contractingParty", "contractedParty",
    "informedParty",   "informingParty",   "trackingParty",    "trackedParty",
};

static bool is_party_function(const char *term)
{
    for (size_t i = 0; i < TSR_ARRAY_SIZE(party_functions); i++)
        if (strcmp(term, party_functions[i]) == 0)
            return true;
    return false;
}

static int compile_rule(struct cc *c, json_t *v, enum tsr_odrl_rule_kind kind, int timing,
                        const struct defaults *def, struct tsr_odrl_duty *r);

static int compile_rules(struct cc *c, const char *what, json_t *v, enum tsr_odrl_rule_kind kind,
                         int timing, const struct defaults *def, struct tsr_odrl_duty **out,
                         uint32_t *n_out)
{
    struct jlist l;
    int rc = as_list(c, what, v, &l);

    if (rc != 0)
        return rc;
    if (*n_out + l.n > c->o.max_rules || c->n_rules + l.n > c->o.max_rules)
        return fail(c, TSR_ELIMIT, "more than %zu rules", c->o.max_rules);
    c->n_rules += l.n;
    /* Several lists (duty, preDuty, postDuty) append to one array. */
    struct tsr_odrl_duty *all = arena_array(c, *n_out + l.n, sizeof(*all));
    if (all == NULL && (*n_out > 0 || l.n > 0))
        return c->rc;
    if (*n_out > 0)
        memcpy(all, *out, *n_out * sizeof(*all));
    for (size_t i = 0; i < l.n; i++) {
        size_t mark = path_push(c, what, l.arr != NULL ? (long)i : -1);
        rc = compile_rule(c, list_item(&l, i), kind, timing, def, &all[*n_out + i]);
        path_pop(c, mark);
        if (rc != 0)
            return rc;
    }
    *out = all;
    *n_out += (uint32_t)l.n;
    return 0;
}

/* Parameters beyond cap are dropped: they only describe the duty, never decide. */
static void add_param(struct tsr_odrl_duty *r, const char *name, const char *value, size_t cap)
{
    if (r->n_params >= cap)
        return;
    r->params[r->n_params].name = name;
    r->params[r->n_params].value = value;
    r->n_params++;
}

static int compile_rule(struct cc *c, json_t *v, enum tsr_odrl_rule_kind kind, int timing,
                        const struct defaults *def, struct tsr_odrl_duty *r)
{
    json_t *action = NULL, *target = NULL, *assignee = NULL, *cons = NULL;
    json_t *duty = NULL, *pre = NULL, *post = NULL, *remedy = NULL, *consequence = NULL;
    json_t *parties[TSR_ARRAY_SIZE(party_functions)] = {0};
    const char *key, *term;
    json_t *x;
    int rc;
    bool is_duty = kind == TSR_ODRL_DUTY || kind == TSR_ODRL_OBLIGATION ||
                   kind == TSR_ODRL_CONSEQUENCE || kind == TSR_ODRL_REMEDY;

    /*
     * {"@id": x} with no node x in the document is a rule that says
     * nothing else (graph-shaped policies write empty rules this way).
     */
    json_t *node = lookup_ref(c, v);
    if (node != NULL)
        v = node;
    if (!json_is_object(v))
        return fail(c, TSR_EINVAL, "a rule must be an object");
    r->kind = (uint8_t)kind;
    json_object_foreach(v, key, x) {
        switch (key_class(c->p, key, &term)) {
        case K_KEYWORD:
            if (strcmp(term, "@id") == 0) {
                if (!json_is_string(x))
                    return fail(c, TSR_EINVAL, "@id must be a string");
                r->id = arena_strdup(c, json_string_value(x));
                if (r->id == NULL)
                    return c->rc;
            } else if (strcmp(term, "@type") != 0 && strcmp(term, "@context") != 0) {
                return fail(c, TSR_EINVAL, "unexpected %s in a rule", term);
            }
            continue;
        case K_FOREIGN:
            continue;
        case K_ODRL:
            break;
        }
        if (strcmp(term, "action") == 0) {
            rc = set_once(c, &action, x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "target") == 0) {
            rc = set_once(c, &target, x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "assignee") == 0) {
            rc = set_once(c, &assignee, x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "assigner") == 0 || strcmp(term, "output") == 0) {
            continue; /* the assigner is us (or the peer); output names a derived asset */
        } else if (strcmp(term, "uid") == 0) {
            if (r->id == NULL && json_is_string(x)) {
                r->id = arena_strdup(c, json_string_value(x));
                if (r->id == NULL)
                    return c->rc;
            }
        } else if (strcmp(term, "constraint") == 0) {
            rc = set_once(c, &cons, x, term);
            if (rc != 0)
                return rc;
        } else if (kind == TSR_ODRL_PERMISSION && strcmp(term, "duty") == 0) {
            rc = set_once(c, &duty, x, term);
            if (rc != 0)
                return rc;
        } else if (kind == TSR_ODRL_PERMISSION && strcmp(term, "preDuty") == 0) {
            rc = set_once(c, &pre, x, term);
            if (rc != 0)
                return rc;
        } else if (kind == TSR_ODRL_PERMISSION && strcmp(term, "postDuty") == 0) {
            rc = set_once(c, &post, x, term);
            if (rc != 0)
                return rc;
        } else if (kind == TSR_ODRL_PROHIBITION && strcmp(term, "remedy") == 0) {
            rc = set_once(c, &remedy, x, term);
            if (rc != 0)
                return rc;
        } else if ((kind == TSR_ODRL_DUTY || kind == TSR_ODRL_OBLIGATION) &&
                   strcmp(term, "consequence") == 0) {
            rc = set_once(c, &consequence, x, term);
            if (rc != 0)
                return rc;
        } else if (is_duty && is_party_function(term)) {
            for (size_t i = 0; i < TSR_ARRAY_SIZE(party_functions); i++)
                if (strcmp(term, party_functions[i]) == 0)
                    parties[i] = x;
        } else if (strcmp(term, "consequence") == 0) {
            return fail(c, TSR_EINVAL, "a %s cannot have a consequence",
                        kind == TSR_ODRL_CONSEQUENCE ? "consequence" : "rule of this kind");
        } else if (strcmp(term, "inheritFrom") == 0) {
            return fail(c, TSR_EPOLICY, "inheritFrom is not supported: the policy is refused");
        } else {
            return fail(c, TSR_EPOLICY, "unknown member '%s' in a %s: the policy is refused",
                        key, kind == TSR_ODRL_PERMISSION    ? "permission"
                             : kind == TSR_ODRL_PROHIBITION ? "prohibition"
                                                            : "duty");
        }
    }

    /* Policy-level target, assignee and action apply to rules that name none. */
    if (!is_duty) {
        if (target == NULL)
            target = def->target;
        if (assignee == NULL)
            assignee = def->assignee;
        if (action == NULL)
            action = def->action;
    }
    if (action == NULL) {
        if (!c->o.allow_no_action || is_duty)
            return fail(c, TSR_EINVAL, "the rule has no action");
    } else {
        rc = compile_ents(c, "action", action, true, &r->actions, &r->n_actions);
        if (rc != 0)
            return rc;
    }
    if (target != NULL && !is_duty) {
        rc = compile_ents(c, "target", target, false, &r->targets, &r->n_targets);
        if (rc != 0)
            return rc;
    }
    if (assignee != NULL && !is_duty) {
        rc = compile_ents(c, "assignee", assignee, false, &r->assignees, &r->n_assignees);
        if (rc != 0)
            return rc;
    }
    if (cons != NULL) {
        rc = compile_constraints(c, "constraint", cons, &r->cons, &r->n_cons);
        if (rc != 0)
            return rc;
    }

    if (is_duty) {
        /* Timing: explicit key, else the option, else the duty's action. */
        int act = r->n_actions > 0 ? r->actions[0].act : TSR_ODRL_ACT_USE;
        if (timing == TSR_ODRL_TIMING_AUTO) {
            if (act == TSR_ODRL_ACT_CUSTOM) {
                const struct tsr_odrl__regact *ra =
                    tsr_odrl__reg_action(c->o.registry, r->actions[0].iri, NULL);
                timing = ra != NULL ? ra->timing : TSR_ODRL_TIMING_POST;
            } else {
                timing = (int)tsr_odrl__action_timing(act);
            }
        }
        r->timing = (uint8_t)timing;
        /* Parameters for the enforcement layer: party functions and refinement values. */
        size_t cap = TSR_ARRAY_SIZE(party_functions) + 8;
        r->params = arena_array(c, cap, sizeof(*r->params));
        if (r->params == NULL)
            return c->rc;
        for (size_t i = 0; i < TSR_ARRAY_SIZE(party_functions); i++) {
            const char *s;
            if (parties[i] == NULL)
                continue;
            struct jlist l;
            rc = as_list(c, party_functions[i], parties[i], &l);
            if (rc != 0)
                return rc;
            if (l.n == 0)
                continue;
            rc = iri_value(c, party_functions[i], list_item(&l, 0), &s);
            if (rc != 0)
                return rc;
            const char *e = expand(c, s);
            if (e == NULL)
                return c->rc;
            add_param(r, party_functions[i], e, cap);
        }
        for (uint32_t a = 0; a < r->n_actions; a++) {
            for (uint32_t i = 0; i < r->actions[a].n_refine; i++) {
                const struct tsr_odrl__cons *k = r->actions[a].refine[i];
                if (k->logic != TSR_ODRL_LOGIC_NONE)
                    continue;
                add_param(r, k->name, k->right, cap);
                if (k->unit != NULL)
                    add_param(r, "unit", k->unit, cap);
            }
        }
    }

    if (duty != NULL || pre != NULL || post != NULL) {
        int dt = (int)c->o.default_timing;
        if (duty != NULL)
            rc = compile_rules(c, "duty", duty, TSR_ODRL_DUTY, dt, def, &r->duties, &r->n_duties);
        if (rc == 0 && pre != NULL)
            rc = compile_rules(c, "preDuty", pre, TSR_ODRL_DUTY, TSR_ODRL_TIMING_PRE, def,
                               &r->duties, &r->n_duties);
        if (rc == 0 && post != NULL)
            rc = compile_rules(c, "postDuty", post, TSR_ODRL_DUTY, TSR_ODRL_TIMING_POST, def,
                               &r->duties, &r->n_duties);
        if (rc != 0)
            return rc;
    }
    if (remedy != NULL) {
        rc = compile_rules(c, "remedy", remedy, TSR_ODRL_REMEDY, TSR_ODRL_TIMING_POST, def,
                           &r->duties, &r->n_duties);
        if (rc != 0)
            return rc;
    }
    if (consequence != NULL) {
        rc = compile_rules(c, "consequence", consequence, TSR_ODRL_CONSEQUENCE,
                           TSR_ODRL_TIMING_POST, def, &r->duties, &r->n_duties);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ policies */

/* The ODRL policy type an @type value names, or -1 (-2: an ODRL type we refuse). */
static int policy_type_of(struct cc *c, json_t *t)
{
    struct jlist l;
    int found = -1;

    if (t == NULL)
        return -1;
    if (as_list(c, "@type", t, &l) != 0)
        return -1;
    for (size_t i = 0; i < l.n; i++) {
        json_t *x = list_item(&l, i);
        if (!json_is_string(x))
            continue;
        const char *local = odrl_term(c->p, json_string_value(x));
        if (local == NULL)
            continue;
        if (strcmp(local, "Set") == 0 || strcmp(local, "Policy") == 0)
            found = TSR_ODRL_SET;
        else if (strcmp(local, "Offer") == 0)
            found = TSR_ODRL_OFFER;
        else if (strcmp(local, "Agreement") == 0)
            found = TSR_ODRL_AGREEMENT;
        else if (strcmp(local, "Request") == 0)
            found = TSR_ODRL_REQUEST;
        else if (strcmp(local, "Ticket") == 0 || strcmp(local, "Assertion") == 0 ||
                 strcmp(local, "Privacy") == 0)
            found = -2;
    }
    return found;
}

static int add_prefixes_from(struct cc *c, json_t *ctx, unsigned depth)
{
    struct tsr_odrl_policy *p = c->p;

    if (depth > 2)
        return 0;
    if (json_is_array(ctx)) {
        size_t i;
        json_t *x;
        json_array_foreach(ctx, i, x) {
            int rc = add_prefixes_from(c, x, depth + 1);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (!json_is_object(ctx))
        return 0; /* a remote context by name: known contexts only use known prefixes */
    const char *k;
    json_t *x;
    json_object_foreach(ctx, k, x) {
        const char *ns;
        if (k[0] == '@' || strchr(k, ':') != NULL)
            continue;
        if (json_is_string(x))
            ns = json_string_value(x);
        else if (json_is_object(x) && json_is_string(json_object_get(x, "@id")) &&
                 json_object_get(x, "@prefix") != NULL)
            ns = json_string_value(json_object_get(x, "@id"));
        else
            continue;
        size_t nl = strlen(ns);
        /* Skipping it would change how prefixed names read: refuse instead. */
        if (nl > c->o.max_string || strlen(k) > c->o.max_string)
            return fail(c, TSR_ELIMIT, "@context: the definition of '%.32s' is too long", k);
        /* A prefix maps to a namespace IRI; "odrl": "http://www.w3.org/ns/odrl.jsonld"
         * (a context URL, seen in the W3C examples) is not one. */
        if (nl == 0 || strchr(ns, ':') == NULL ||
            (ns[nl - 1] != '/' && ns[nl - 1] != '#' && ns[nl - 1] != ':'))
            continue;
        if (p->n_prefixes >= MAX_PREFIXES)
            return fail(c, TSR_ELIMIT, "@context declares more than %d prefixes", MAX_PREFIXES);
        struct tsr_odrl__prefix *px = &p->prefixes[p->n_prefixes];
        px->pfx = arena_strdup(c, k);
        px->ns = arena_strdup(c, ns);
        if (px->pfx == NULL || px->ns == NULL)
            return c->rc;
        px->len = strlen(k);
        p->n_prefixes++;
    }
    return 0;
}

/* Find the policy object in doc: the doc itself, a DSP wrapper member, or a @graph node. */
static json_t *find_policy(struct cc *c, json_t *doc, unsigned depth)
{
    static const char *const wrappers[] = {"policy", "offer", "agreement", "hasPolicy"};

    if (depth > 3 || !json_is_object(doc))
        return NULL;
    if (policy_type_of(c, json_object_get(doc, "@type")) != -1)
        return doc;
    const char *k;
    json_t *x;
    json_object_foreach(doc, k, x) {
        const char *tail = k;
        for (const char *s = k; *s != '\0'; s++)
            if (*s == ':' || *s == '/' || *s == '#')
                tail = s + 1;
        bool wrap = false;
        for (size_t i = 0; i < TSR_ARRAY_SIZE(wrappers); i++)
            if (strcmp(tail, wrappers[i]) == 0)
                wrap = true;
        if (strcmp(k, "@graph") == 0) {
            size_t i;
            json_t *y;
            if (!json_is_array(x))
                x = json_pack("[O]", x);
            else
                json_incref(x);
            json_array_foreach(x, i, y) {
                if (policy_type_of(c, json_object_get(y, "@type")) != -1) {
                    json_decref(x);
                    return y;
                }
            }
            json_decref(x);
        } else if (wrap) {
            if (json_is_array(x) && json_array_size(x) == 1)
                x = json_array_get(x, 0);
            json_t *r = find_policy(c, x, depth + 1);
            if (r == NULL && json_is_object(x) && depth == 0 &&
                json_object_get(x, "@type") == NULL)
                r = x; /* an untyped policy in a typed slot: read it as a Set */
            if (r != NULL)
                return r;
        }
    }
    return NULL;
}

static void options_defaults(struct tsr_odrl_options *o, const struct tsr_odrl_options *in)
{
    if (in != NULL)
        *o = *in;
    else
        memset(o, 0, sizeof(*o));
    if (o->max_bytes == 0)
        o->max_bytes = TSR_ODRL_DEFAULT_MAX_BYTES;
    if (o->max_depth == 0)
        o->max_depth = TSR_ODRL_DEFAULT_MAX_DEPTH;
    if (o->max_rules == 0)
        o->max_rules = TSR_ODRL_DEFAULT_MAX_RULES;
    if (o->max_constraints == 0)
        o->max_constraints = TSR_ODRL_DEFAULT_MAX_CONSTRAINTS;
    if (o->max_list == 0)
        o->max_list = TSR_ODRL_DEFAULT_MAX_LIST;
    if (o->max_string == 0)
        o->max_string = TSR_ODRL_DEFAULT_MAX_STRING;
}

static int compile_policy(struct cc *c, json_t *doc)
{
    struct tsr_odrl_policy *p = c->p;
    json_t *lists[3] = {NULL, NULL, NULL};
    struct defaults def = {NULL, NULL, NULL};
    json_t *pol, *x;
    const char *key, *term;
    int rc;

    if (!json_is_object(doc))
        return fail(c, TSR_EINVAL, "a policy must be a JSON object");
    /* Prefixes first: they decide how every key below is read. */
    p->prefixes = arena_array(c, MAX_PREFIXES + tsr_odrl__n_builtin_prefixes, sizeof(*p->prefixes));
    p->cacts = arena_array(c, 16, sizeof(*p->cacts));
    if (p->prefixes == NULL || p->cacts == NULL)
        return c->rc;
    rc = add_prefixes_from(c, json_object_get(doc, "@context"), 0);
    if (rc != 0)
        return rc;
    /* Declared prefixes come first so they win; the built-in ones follow. */
    uint32_t declared = p->n_prefixes;
    for (size_t i = 0; i < tsr_odrl__n_builtin_prefixes; i++)
        p->prefixes[p->n_prefixes++] = tsr_odrl__builtin_prefixes[i];
    pol = find_policy(c, doc, 0);
    if (pol == NULL) {
        /* An untyped object with rules is read as a Set (ODRL's default type). */
        pol = doc;
    }
    if (pol != doc && json_object_get(pol, "@context") != NULL) {
        p->n_prefixes = declared;
        rc = add_prefixes_from(c, json_object_get(pol, "@context"), 0);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < tsr_odrl__n_builtin_prefixes; i++)
            p->prefixes[p->n_prefixes++] = tsr_odrl__builtin_prefixes[i];
    }
    rc = index_nodes(c, doc, 0);
    if (rc != 0)
        return rc;

    int type = policy_type_of(c, json_object_get(pol, "@type"));
    if (type == -2)
        return fail(c, TSR_EPOLICY, "policy type %s is not supported (Set, Offer, Agreement)",
                    json_is_string(json_object_get(pol, "@type"))
                        ? json_string_value(json_object_get(pol, "@type"))
                        : "(list)");
    if (type < 0 && json_object_get(pol, "@type") != NULL) {
        json_t *t = json_object_get(pol, "@type");
        return fail(c, TSR_EPOLICY, "@type %s is not an ODRL policy type",
                    json_is_string(t) ? json_string_value(t) : "(not a string)");
    }
    p->type = (uint8_t)(type < 0 ? TSR_ODRL_SET : type);

    json_object_foreach(pol, key, x) {
        switch (key_class(p, key, &term)) {
        case K_KEYWORD:
            if (strcmp(term, "@id") == 0) {
                if (!json_is_string(x))
                    return fail(c, TSR_EINVAL, "@id must be a string");
                rc = check_string(c, "@id", json_string_value(x));
                if (rc != 0)
                    return rc;
                p->id = arena_strdup(c, json_string_value(x));
                if (p->id == NULL)
                    return c->rc;
            }
            continue;
        case K_FOREIGN:
            continue;
        case K_ODRL:
            break;
        }
        if (strcmp(term, "permission") == 0) {
            rc = set_once(c, &lists[TSR_ODRL_PERMISSION], x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "prohibition") == 0) {
            rc = set_once(c, &lists[TSR_ODRL_PROHIBITION], x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "obligation") == 0) {
            rc = set_once(c, &lists[TSR_ODRL_OBLIGATION], x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "target") == 0) {
            rc = set_once(c, &def.target, x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "assignee") == 0) {
            rc = set_once(c, &def.assignee, x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "action") == 0) {
            rc = set_once(c, &def.action, x, term);
            if (rc != 0)
                return rc;
        } else if (strcmp(term, "assigner") == 0) {
            const char *s;
            struct jlist l;
            rc = as_list(c, "assigner", x, &l);
            if (rc == 0 && l.n > 0)
                rc = iri_value(c, "assigner", list_item(&l, 0), &s);
            if (rc != 0)
                return rc;
            if (l.n > 0) {
                p->assigner = expand(c, s);
                if (p->assigner == NULL)
                    return c->rc;
            }
        } else if (strcmp(term, "uid") == 0) {
            if (p->id == NULL && json_is_string(x)) {
                p->id = arena_strdup(c, json_string_value(x));
                if (p->id == NULL)
                    return c->rc;
            }
        } else if (strcmp(term, "profile") == 0) {
            continue; /* accepted; the terms themselves are checked one by one */
        } else if (strcmp(term, "conflict") == 0) {
            const char *s;
            rc = iri_value(c, "conflict", x, &s);
            if (rc != 0)
                return rc;
            const char *l = odrl_term(p, s);
            if (l != NULL && strcmp(l, "perm") == 0)
                p->conflict = TSR_ODRL_CONFLICT_PERM;
            else if (l != NULL && strcmp(l, "prohibit") == 0)
                p->conflict = TSR_ODRL_CONFLICT_PROHIBIT;
            else if (l != NULL && strcmp(l, "invalid") == 0)
                p->conflict = TSR_ODRL_CONFLICT_INVALID;
            else
                return fail(c, TSR_EPOLICY, "unknown conflict strategy '%s'", s);
        } else if (strcmp(term, "inheritFrom") == 0) {
            return fail(c, TSR_EPOLICY, "inheritFrom is not supported: the policy is refused");
        } else {
            return fail(c, TSR_EPOLICY, "unknown member '%s' in the policy: the policy is "
                                        "refused", key);
        }
    }
    /* The first policy-level target and assignee, for callers that list agreements. */
    if (def.target != NULL) {
        struct tsr_odrl__ent e;
        json_t *t0 = json_is_array(def.target) ? json_array_get(def.target, 0) : def.target;
        memset(&e, 0, sizeof(e));
        if (t0 != NULL) {
            size_t mark = path_push(c, "target", -1);
            rc = compile_entity(c, "target", t0, &e);
            path_pop(c, mark);
            if (rc != 0)
                return rc;
            p->target = e.iri;
        }
    }
    if (def.assignee != NULL) {
        struct tsr_odrl__ent e;
        json_t *a0 = json_is_array(def.assignee) ? json_array_get(def.assignee, 0) : def.assignee;
        memset(&e, 0, sizeof(e));
        if (a0 != NULL) {
            size_t mark = path_push(c, "assignee", -1);
            rc = compile_entity(c, "assignee", a0, &e);
            path_pop(c, mark);
            if (rc != 0)
                return rc;
            p->assignee = e.iri;
        }
    }
    static const char *const names[3] = {"permission", "prohibition", "obligation"};
    for (int k = 0; k < 3; k++) {
        if (lists[k] == NULL)
            continue;
        rc = compile_rules(c, names[k], lists[k], (enum tsr_odrl_rule_kind)k,
                           k == TSR_ODRL_OBLIGATION ? TSR_ODRL_TIMING_POST : TSR_ODRL_TIMING_AUTO,
                           &def, &p->rules[k], &p->n_rules[k]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int tsr_odrl_compile(const json_t *doc, const struct tsr_odrl_options *opts,
                     struct tsr_odrl_policy **out, struct tsr_diag *d)
{
    struct tsr_odrl_policy boot;
    struct cc c;
    int rc;

    *out = NULL;
    memset(&c, 0, sizeof(c));
    memset(&boot, 0, sizeof(boot));
    options_defaults(&c.o, opts);
    c.d = d;
    /* The policy lives in its own arena: bootstrap it through a stack copy. */
    c.p = &boot;
    struct tsr_odrl_policy *p = arena_alloc(&c, sizeof(*p));
    if (p == NULL) {
        rc = TSR_ENOMEM;
        goto out;
    }
    p->chunks = boot.chunks;
    p->bytes = boot.bytes;
    c.p = p;
    if (doc == NULL) {
        rc = fail(&c, TSR_EINVAL, "no policy");
        goto out;
    }
    rc = compile_policy(&c, (json_t *)doc);
out:
    tsr_free(c.nodes);
    if (rc != 0) {
        if (c.p != &boot)
            tsr_odrl_policy_free(c.p);
        else
            tsr_odrl_policy_free(&boot);
        if (d != NULL && d->code == 0)
            tsr_diag_set(d, rc, "policy refused");
        return rc;
    }
    *out = c.p;
    return 0;
}

int tsr_odrl_parse(const char *buf, size_t len, const struct tsr_odrl_options *opts,
                   struct tsr_odrl_policy **out, struct tsr_diag *d)
{
    struct tsr_odrl_options o;
    struct tsr_json_limits lim;
    json_t *doc = NULL;
    int rc;

    *out = NULL;
    options_defaults(&o, opts);
    lim.max_bytes = o.max_bytes;
    /* Logical nesting plus the few levels of rules and wrappers around it. */
    lim.max_depth = o.max_depth * 2 + 12;
    lim.max_members = o.max_list > 64 ? o.max_list : 64;
    lim.max_string = o.max_string + 64;
    rc = tsr_json_parse(buf, len, &lim, &doc, d);
    if (rc != 0)
        return rc;
    rc = tsr_odrl_compile(doc, &o, out, d);
    json_decref(doc);
    return rc;
}
