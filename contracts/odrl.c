/*
 * contracts/odrl.c: the ODRL engine's shared pieces: vocabulary tables
 * (actions and their includedIn hierarchy, left operands, operators),
 * the profile registry, typed values (parse, compare helpers, format
 * without printf), decision output as text and JSON, and the policy
 * cache.  The compiler is odrl_parse.c, the evaluator odrl_eval.c.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "contracts/odrl.h"
#include "contracts/odrl_int.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"

/* ------------------------------------------------------------ actions */

struct action_info {
    const char *term;
    int8_t parent;
    uint8_t timing;
};

#define U TSR_ODRL_ACT_USE
#define PRE TSR_ODRL_TIMING_PRE
#define POST TSR_ODRL_TIMING_POST

/* In enum order.  Parents from the ODRL 2.2 vocabulary's includedIn. */
static const struct action_info actions[] = {
    [TSR_ODRL_ACT_USE] = {"use", -1, POST},
    [TSR_ODRL_ACT_TRANSFER] = {"transfer", -1, POST},
    [TSR_ODRL_ACT_ACCEPT_TRACKING] = {"acceptTracking", U, PRE},
    [TSR_ODRL_ACT_AGGREGATE] = {"aggregate", U, POST},
    [TSR_ODRL_ACT_ANNOTATE] = {"annotate", U, POST},
    [TSR_ODRL_ACT_ANONYMIZE] = {"anonymize", U, POST},
    [TSR_ODRL_ACT_ARCHIVE] = {"archive", U, POST},
    [TSR_ODRL_ACT_ATTRIBUTE] = {"attribute", U, PRE},
    [TSR_ODRL_ACT_COMPENSATE] = {"compensate", U, PRE},
    [TSR_ODRL_ACT_CONCURRENT_USE] = {"concurrentUse", U, POST},
    [TSR_ODRL_ACT_DELETE] = {"delete", U, POST},
    [TSR_ODRL_ACT_DERIVE] = {"derive", U, POST},
    [TSR_ODRL_ACT_DIGITIZE] = {"digitize", U, POST},
    [TSR_ODRL_ACT_DISPLAY] = {"display", TSR_ODRL_ACT_PLAY, POST},
    [TSR_ODRL_ACT_DISTRIBUTE] = {"distribute", U, POST},
    [TSR_ODRL_ACT_ENSURE_EXCLUSIVITY] = {"ensureExclusivity", U, POST},
    [TSR_ODRL_ACT_EXECUTE] = {"execute", U, POST},
    [TSR_ODRL_ACT_EXTRACT] = {"extract", TSR_ODRL_ACT_REPRODUCE, POST},
    [TSR_ODRL_ACT_GIVE] = {"give", TSR_ODRL_ACT_TRANSFER, POST},
    [TSR_ODRL_ACT_GRANT_USE] = {"grantUse", U, POST},
    [TSR_ODRL_ACT_INCLUDE] = {"include", U, POST},
    [TSR_ODRL_ACT_INDEX] = {"index", U, POST},
    [TSR_ODRL_ACT_INFORM] = {"inform", U, POST},
    [TSR_ODRL_ACT_INSTALL] = {"install", U, POST},
    [TSR_ODRL_ACT_MODIFY] = {"modify", U, POST},
    [TSR_ODRL_ACT_MOVE] = {"move", U, POST},
    [TSR_ODRL_ACT_NEXT_POLICY] = {"nextPolicy", U, PRE},
    [TSR_ODRL_ACT_OBTAIN_CONSENT] = {"obtainConsent", U, PRE},
    [TSR_ODRL_ACT_PLAY] = {"play", U, POST},
    [TSR_ODRL_ACT_PRESENT] = {"present", U, POST},
    [TSR_ODRL_ACT_PRINT] = {"print", U, POST},
    [TSR_ODRL_ACT_READ] = {"read", U, POST},
    [TSR_ODRL_ACT_REPRODUCE] = {"reproduce", U, POST},
    [TSR_ODRL_ACT_REVIEW_POLICY] = {"reviewPolicy", U, PRE},
    [TSR_ODRL_ACT_SELL] = {"sell", TSR_ODRL_ACT_TRANSFER, POST},
    [TSR_ODRL_ACT_STREAM] = {"stream", U, POST},
    [TSR_ODRL_ACT_SYNCHRONIZE] = {"synchronize", U, POST},
    [TSR_ODRL_ACT_TEXT_TO_SPEECH] = {"textToSpeech", U, POST},
    [TSR_ODRL_ACT_TRANSFORM] = {"transform", U, POST},
    [TSR_ODRL_ACT_TRANSLATE] = {"translate", U, POST},
    [TSR_ODRL_ACT_UNINSTALL] = {"uninstall", U, POST},
    [TSR_ODRL_ACT_WATERMARK] = {"watermark", U, POST},
    [TSR_ODRL_ACT_LEASE] = {"lease", -1, POST},
    [TSR_ODRL_ACT_LEND] = {"lend", -1, POST},
    [TSR_ODRL_ACT_PREVIEW] = {"preview", -1, POST},
    [TSR_ODRL_ACT_SECONDARY_USE] = {"secondaryUse", -1, POST},
    [TSR_ODRL_ACT_AD_HOC_SHARE] = {"adHocShare", -1, POST},
    [TSR_ODRL_ACT_EXTRACT_CHAR] = {"extractChar", -1, POST},
    [TSR_ODRL_ACT_EXTRACT_PAGE] = {"extractPage", -1, POST},
    [TSR_ODRL_ACT_EXTRACT_WORD] = {"extractWord", -1, POST},
    [TSR_ODRL_ACT_CUSTOM] = {"custom", -1, POST},
};

#undef U
#undef PRE
#undef POST

struct term_id {
    const char *term;
    int id;
};

/*
 * Every accepted action term, sorted by strcmp for a binary search; the
 * deprecated terms that have an exact match point at it.  The unit test
 * checks the order.
 */
static const struct term_id action_terms[] = {
    {"acceptTracking", TSR_ODRL_ACT_ACCEPT_TRACKING},
    {"adHocShare", TSR_ODRL_ACT_AD_HOC_SHARE},
    {"aggregate", TSR_ODRL_ACT_AGGREGATE},
    {"annotate", TSR_ODRL_ACT_ANNOTATE},
    {"anonymize", TSR_ODRL_ACT_ANONYMIZE},
    {"append", TSR_ODRL_ACT_MODIFY},
    {"appendTo", TSR_ODRL_ACT_MODIFY},
    {"archive", TSR_ODRL_ACT_ARCHIVE},
    {"attribute", TSR_ODRL_ACT_ATTRIBUTE},
    {"compensate", TSR_ODRL_ACT_COMPENSATE},
    {"concurrentUse", TSR_ODRL_ACT_CONCURRENT_USE},
    {"copy", TSR_ODRL_ACT_REPRODUCE},
    {"delete", TSR_ODRL_ACT_DELETE},
    {"derive", TSR_ODRL_ACT_DERIVE},
    {"digitize", TSR_ODRL_ACT_DIGITIZE},
    {"display", TSR_ODRL_ACT_DISPLAY},
    {"distribute", TSR_ODRL_ACT_DISTRIBUTE},
    {"ensureExclusivity", TSR_ODRL_ACT_ENSURE_EXCLUSIVITY},
    {"execute", TSR_ODRL_ACT_EXECUTE},
    {"export", TSR_ODRL_ACT_TRANSFORM},
    {"extract", TSR_ODRL_ACT_EXTRACT},
    {"extractChar", TSR_ODRL_ACT_EXTRACT_CHAR},
    {"extractPage", TSR_ODRL_ACT_EXTRACT_PAGE},
    {"extractWord", TSR_ODRL_ACT_EXTRACT_WORD},
    {"give", TSR_ODRL_ACT_GIVE},
    {"grantUse", TSR_ODRL_ACT_GRANT_USE},
    {"include", TSR_ODRL_ACT_INCLUDE},
    {"index", TSR_ODRL_ACT_INDEX},
    {"inform", TSR_ODRL_ACT_INFORM},
    {"install", TSR_ODRL_ACT_INSTALL},
    {"lease", TSR_ODRL_ACT_LEASE},
    {"lend", TSR_ODRL_ACT_LEND},
    {"license", TSR_ODRL_ACT_GRANT_USE},
    {"modify", TSR_ODRL_ACT_MODIFY},
    {"move", TSR_ODRL_ACT_MOVE},
    {"nextPolicy", TSR_ODRL_ACT_NEXT_POLICY},
    {"obtainConsent", TSR_ODRL_ACT_OBTAIN_CONSENT},
    {"pay", TSR_ODRL_ACT_COMPENSATE},
    {"play", TSR_ODRL_ACT_PLAY},
    {"present", TSR_ODRL_ACT_PRESENT},
    {"preview", TSR_ODRL_ACT_PREVIEW},
    {"print", TSR_ODRL_ACT_PRINT},
    {"read", TSR_ODRL_ACT_READ},
    {"reproduce", TSR_ODRL_ACT_REPRODUCE},
    {"reviewPolicy", TSR_ODRL_ACT_REVIEW_POLICY},
    {"secondaryUse", TSR_ODRL_ACT_SECONDARY_USE},
    {"sell", TSR_ODRL_ACT_SELL},
    {"stream", TSR_ODRL_ACT_STREAM},
    {"synchronize", TSR_ODRL_ACT_SYNCHRONIZE},
    {"textToSpeech", TSR_ODRL_ACT_TEXT_TO_SPEECH},
    {"transfer", TSR_ODRL_ACT_TRANSFER},
    {"transform", TSR_ODRL_ACT_TRANSFORM},
    {"translate", TSR_ODRL_ACT_TRANSLATE},
    {"uninstall", TSR_ODRL_ACT_UNINSTALL},
    {"use", TSR_ODRL_ACT_USE},
    {"watermark", TSR_ODRL_ACT_WATERMARK},
    {"write", TSR_ODRL_ACT_MODIFY},
    {"writeTo", TSR_ODRL_ACT_MODIFY},
};

/* For the unit test: the table above must stay sorted. */
bool tsr_odrl__action_table_sorted(void);
bool tsr_odrl__action_table_sorted(void)
{
    for (size_t i = 1; i < TSR_ARRAY_SIZE(action_terms); i++)
        if (strcmp(action_terms[i - 1].term, action_terms[i].term) >= 0)
            return false;
    return true;
}

int tsr_odrl__action_by_term(const char *term)
{
    size_t lo = 0, hi = TSR_ARRAY_SIZE(action_terms);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(term, action_terms[mid].term);
        if (c == 0)
            return action_terms[mid].id;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

int tsr_odrl__action_parent(int act)
{
    if (act < 0 || act >= (int)TSR_ARRAY_SIZE(actions))
        return -1;
    return actions[act].parent;
}

enum tsr_odrl_timing tsr_odrl__action_timing(int act)
{
    if (act < 0 || act >= (int)TSR_ARRAY_SIZE(actions))
        return TSR_ODRL_TIMING_POST;
    return (enum tsr_odrl_timing)actions[act].timing;
}

const char *tsr_odrl_action_name(enum tsr_odrl_action a)
{
    if ((int)a < 0 || (size_t)a >= TSR_ARRAY_SIZE(actions))
        return "?";
    return actions[a].term;
}

/* The local name of an ODRL term: strips "odrl:" or the namespace IRI. */
static const char *odrl_local(const char *term)
{
    if (strncmp(term, "odrl:", 5) == 0)
        return term + 5;
    if (strncmp(term, TSR_ODRL_NS, sizeof(TSR_ODRL_NS) - 1) == 0)
        return term + sizeof(TSR_ODRL_NS) - 1;
    return term;
}

int tsr_odrl_action_lookup(const char *term)
{
    if (term == NULL)
        return -1;
    return tsr_odrl__action_by_term(odrl_local(term));
}

bool tsr_odrl_action_includes(enum tsr_odrl_action b, enum tsr_odrl_action a)
{
    int x = (int)a;

    /* The hierarchy is at most three deep; the bound guards a bad table. */
    for (int hops = 0; x >= 0 && hops < 8; hops++) {
        if (x == (int)b)
            return true;
        x = tsr_odrl__action_parent(x);
    }
    return false;
}

/* ------------------------------------------------------------ operands, operators */

#define T(x) TSR_ODRL_T_##x
#define LO(x) TSR_ODRL_LO_##x

/* Sorted by term (binary search; checked by the unit test). */
static const struct tsr_odrl__opdef operands[] = {
    {"absolutePosition", LO(NAMED), T(ANY)},
    {"absoluteSize", LO(NAMED), T(ANY)},
    {"absoluteSpatialPosition", LO(NAMED), T(ANY)},
    {"absoluteTemporalPosition", LO(NAMED), T(ANY)},
    {"count", LO(COUNT), T(INTEGER)},
    {"dateTime", LO(DATE_TIME), T(DATE_TIME)},
    {"delayPeriod", LO(DELAY_PERIOD), T(DURATION)},
    {"deliveryChannel", LO(NAMED), T(ANY)},
    {"device", LO(NAMED), T(ANY)},
    {"elapsedTime", LO(ELAPSED_TIME), T(DURATION)},
    {"event", LO(NAMED), T(ANY)},
    {"fileFormat", LO(NAMED), T(ANY)},
    {"inForceDate", LO(IN_FORCE_DATE), T(DATE_TIME)},
    {"industry", LO(NAMED), T(ANY)},
    {"language", LO(NAMED), T(ANY)},
    {"media", LO(NAMED), T(ANY)},
    {"meteredTime", LO(NAMED), T(DURATION)},
    {"payAmount", LO(PAY_AMOUNT), T(DECIMAL)},
    {"percentage", LO(NAMED), T(DECIMAL)},
    {"product", LO(NAMED), T(ANY)},
    {"purpose", LO(PURPOSE), T(IRI)},
    {"recipient", LO(RECIPIENT), T(IRI)},
    {"relativePosition", LO(NAMED), T(ANY)},
    {"relativeSize", LO(NAMED), T(ANY)},
    {"relativeSpatialPosition", LO(NAMED), T(ANY)},
    {"relativeTemporalPosition", LO(NAMED), T(ANY)},
    {"resolution", LO(NAMED), T(ANY)},
    {"spatial", LO(SPATIAL), T(IRI)},
    {"spatialCoordinates", LO(NAMED), T(ANY)},
    {"system", LO(NAMED), T(ANY)},
    {"systemDevice", LO(SYSTEM_DEVICE), T(IRI)},
    {"timeInterval", LO(TIME_INTERVAL), T(DURATION)},
    {"unitOfCount", LO(NAMED), T(ANY)},
    {"version", LO(NAMED), T(ANY)},
    {"virtualLocation", LO(VIRTUAL_LOCATION), T(IRI)},
};

#undef T
#undef LO

bool tsr_odrl__operand_table_sorted(void);
bool tsr_odrl__operand_table_sorted(void)
{
    for (size_t i = 1; i < TSR_ARRAY_SIZE(operands); i++)
        if (strcmp(operands[i - 1].term, operands[i].term) >= 0)
            return false;
    return true;
}

const struct tsr_odrl__opdef *tsr_odrl__operand_lookup(const char *term)
{
    size_t lo = 0, hi = TSR_ARRAY_SIZE(operands);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(term, operands[mid].term);
        if (c == 0)
            return &operands[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static const char *const operator_names[TSR_ODRL_OPERATOR_COUNT] = {
    [TSR_ODRL_EQ] = "eq",
    [TSR_ODRL_NEQ] = "neq",
    [TSR_ODRL_LT] = "lt",
    [TSR_ODRL_LTEQ] = "lteq",
    [TSR_ODRL_GT] = "gt",
    [TSR_ODRL_GTEQ] = "gteq",
    [TSR_ODRL_IS_A] = "isA",
    [TSR_ODRL_HAS_PART] = "hasPart",
    [TSR_ODRL_IS_PART_OF] = "isPartOf",
    [TSR_ODRL_IS_ALL_OF] = "isAllOf",
    [TSR_ODRL_IS_ANY_OF] = "isAnyOf",
    [TSR_ODRL_IS_NONE_OF] = "isNoneOf",
};

const char *tsr_odrl_operator_name(enum tsr_odrl_operator op)
{
    if ((int)op < 0 || op >= TSR_ODRL_OPERATOR_COUNT)
        return "?";
    return operator_names[op];
}

int tsr_odrl__operator_by_term(const char *term)
{
    for (int i = 0; i < TSR_ODRL_OPERATOR_COUNT; i++)
        if (strcmp(term, operator_names[i]) == 0)
            return i;
    /* The DSP 2025-1 contract schema lists this spelling (a schema bug). */
    if (strcmp(term, "term-lteq") == 0)
        return TSR_ODRL_LTEQ;
    return -1;
}

const char *tsr_odrl_effect_name(enum tsr_odrl_effect e)
{
    switch (e) {
    case TSR_ODRL_PERMIT:
        return "permit";
    case TSR_ODRL_NOT_APPLICABLE:
        return "not_applicable";
    case TSR_ODRL_DENY:
        break;
    }
    return "deny";
}

const char *tsr_odrl_sat_name(enum tsr_odrl_sat s)
{
    switch (s) {
    case TSR_ODRL_SATISFIED:
        return "satisfied";
    case TSR_ODRL_NOT_EVALUATED:
        return "not_evaluated";
    case TSR_ODRL_CONTRACTUAL:
        return "contractual";
    case TSR_ODRL_UNSATISFIED:
        break;
    }
    return "unsatisfied";
}

static const char *logic_name(enum tsr_odrl_logic l)
{
    switch (l) {
    case TSR_ODRL_LOGIC_AND:
        return "and";
    case TSR_ODRL_LOGIC_OR:
        return "or";
    case TSR_ODRL_LOGIC_XONE:
        return "xone";
    case TSR_ODRL_LOGIC_AND_SEQUENCE:
        return "andSequence";
    case TSR_ODRL_LOGIC_NONE:
        break;
    }
    return "";
}

static const char *kind_name(enum tsr_odrl_rule_kind k)
{
    switch (k) {
    case TSR_ODRL_PERMISSION:
        return "permission";
    case TSR_ODRL_PROHIBITION:
        return "prohibition";
    case TSR_ODRL_OBLIGATION:
        return "obligation";
    case TSR_ODRL_DUTY:
        return "duty";
    case TSR_ODRL_CONSEQUENCE:
        return "consequence";
    case TSR_ODRL_REMEDY:
        return "remedy";
    }
    return "?";
}

static const char *scope_name(enum tsr_odrl_scope s)
{
    switch (s) {
    case TSR_ODRL_IN_REFINEMENT:
        return "refinement";
    case TSR_ODRL_IN_TARGET:
        return "target";
    case TSR_ODRL_IN_PARTY:
        return "party";
    case TSR_ODRL_IN_DUTY:
        return "duty";
    case TSR_ODRL_IN_RULE:
        break;
    }
    return "constraint";
}

/* ------------------------------------------------------------ prefixes */

const struct tsr_odrl__prefix tsr_odrl__builtin_prefixes[] = {
    {"odrl", 4, TSR_ODRL_NS},
    {"dspace", 6, "https://w3id.org/dspace/v0.8/"},
    {"edc", 3, "https://w3id.org/edc/v0.0.1/ns/"},
    {"cx-policy", 9, "https://w3id.org/catenax/policy/"},
    {"tx", 2, "https://w3id.org/tractusx/v0.0.1/ns/"},
    {"xsd", 3, "http://www.w3.org/2001/XMLSchema#"},
    {"rdf", 3, "http://www.w3.org/1999/02/22-rdf-syntax-ns#"},
    {"rdfs", 4, "http://www.w3.org/2000/01/rdf-schema#"},
    {"dct", 3, "http://purl.org/dc/terms/"},
    {"dcat", 4, "http://www.w3.org/ns/dcat#"},
    {"skos", 4, "http://www.w3.org/2004/02/skos/core#"},
};
const size_t tsr_odrl__n_builtin_prefixes = TSR_ARRAY_SIZE(tsr_odrl__builtin_prefixes);

/* Split s into namespace + local part when it starts with a known "prefix:". */
static void split_term(const struct tsr_odrl__prefix *px, size_t n, const char *s, const char **ns,
                       const char **local)
{
    const char *colon = strchr(s, ':');

    *ns = "";
    *local = s;
    if (colon == NULL || colon[1] == '/')
        return;
    size_t len = (size_t)(colon - s);
    for (size_t i = 0; i < n; i++) {
        if (px[i].len == len && memcmp(px[i].pfx, s, len) == 0) {
            *ns = px[i].ns;
            *local = colon + 1;
            return;
        }
    }
}

/* Compare a1+a2 with b1+b2 without building either. */
static bool cat_equal(const char *a1, const char *a2, const char *b1, const char *b2)
{
    const char *a = a1, *b = b1;
    bool a_second = false, b_second = false;

    for (;;) {
        if (*a == '\0' && !a_second) {
            a = a2;
            a_second = true;
            continue;
        }
        if (*b == '\0' && !b_second) {
            b = b2;
            b_second = true;
            continue;
        }
        if (*a != *b)
            return false;
        if (*a == '\0')
            return true;
        a++;
        b++;
    }
}

bool tsr_odrl__same_term(const struct tsr_odrl_policy *p, const char *a, const char *b)
{
    const struct tsr_odrl__prefix *px = tsr_odrl__builtin_prefixes;
    size_t n = tsr_odrl__n_builtin_prefixes;
    const char *ans, *al, *bns, *bl;

    if (strcmp(a, b) == 0)
        return true;
    /* Only a prefixed name can equal something spelled differently. */
    if (strchr(a, ':') == NULL && strchr(b, ':') == NULL)
        return false;
    if (p != NULL) {
        px = p->prefixes;
        n = p->n_prefixes;
    }
    split_term(px, n, a, &ans, &al);
    split_term(px, n, b, &bns, &bl);
    if (*ans == '\0' && *bns == '\0')
        return false;
    return cat_equal(ans, al, bns, bl);
}

/* ------------------------------------------------------------ values */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Digits at *s into *out (at most 18 of them); advances *s. */
static int take_digits(const char **s, int64_t *out, int *ndigits)
{
    int64_t v = 0;
    int n = 0;

    while (is_digit(**s)) {
        if (n == 18)
            return TSR_EINVAL;
        v = v * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    *out = v;
    *ndigits = n;
    return n > 0 ? 0 : TSR_EINVAL;
}

static int parse_integer(const char *s, int64_t *out)
{
    bool neg = false;
    int64_t v;
    int n;

    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (take_digits(&s, &v, &n) != 0 || *s != '\0')
        return TSR_EINVAL;
    *out = neg ? -v : v;
    return 0;
}

static int parse_decimal(const char *s, int64_t *out)
{
    bool neg = false;
    int64_t ip = 0, fp = 0;
    int n = 0, nf = 0;

    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (is_digit(*s)) {
        if (take_digits(&s, &ip, &n) != 0 || n > 12)
            return TSR_EINVAL;
    }
    if (*s == '.') {
        s++;
        while (is_digit(*s)) {
            if (nf < 6) {
                fp = fp * 10 + (*s - '0');
                nf++;
            } else if (*s != '0') {
                return TSR_EINVAL; /* more precision than we keep: refuse, never round */
            }
            s++;
            n++;
        }
    }
    if (n == 0 || *s != '\0')
        return TSR_EINVAL;
    for (int k = nf; k < 6; k++)
        fp *= 10;
    int64_t v = ip * TSR_ODRL__DEC_SCALE + fp;
    *out = neg ? -v : v;
    return 0;
}

/*
 * xsd:duration without a sign: PnYnMnWnDTnHnMn[.fff]S.  Years and months
 * stay calendar months; the rest becomes milliseconds.
 */
static int parse_duration(const char *s, int32_t *months, int64_t *ms)
{
    static const int64_t day = 86400000LL;
    int64_t mo = 0, total = 0;
    bool in_time = false, any = false;
    int n;

    if (*s++ != 'P')
        return TSR_EINVAL;
    while (*s != '\0') {
        int64_t v;
        int64_t frac_ms = 0;

        if (*s == 'T') {
            if (in_time)
                return TSR_EINVAL;
            in_time = true;
            s++;
            if (*s == '\0')
                return TSR_EINVAL;
            continue;
        }
        if (take_digits(&s, &v, &n) != 0 || v > 100000000LL)
            return TSR_EINVAL;
        if (*s == '.') {
            int nf = 0;
            s++;
            while (is_digit(*s)) {
                if (nf < 3) {
                    frac_ms = frac_ms * 10 + (*s - '0');
                    nf++;
                }
                s++;
            }
            if (nf == 0)
                return TSR_EINVAL;
            for (; nf < 3; nf++)
                frac_ms *= 10;
            if (*s != 'S' || !in_time)
                return TSR_EINVAL;
        }
        switch (*s) {
        case 'Y':
            if (in_time)
                return TSR_EINVAL;
            mo += v * 12;
            break;
        case 'M':
            if (in_time)
                total += v * 60000LL;
            else
                mo += v;
            break;
        case 'W':
            if (in_time)
                return TSR_EINVAL;
            total += v * 7 * day;
            break;
        case 'D':
            if (in_time)
                return TSR_EINVAL;
            total += v * day;
            break;
        case 'H':
            if (!in_time)
                return TSR_EINVAL;
            total += v * 3600000LL;
            break;
        case 'S':
            if (!in_time)
                return TSR_EINVAL;
            total += v * 1000LL + frac_ms;
            break;
        default:
            return TSR_EINVAL;
        }
        s++;
        any = true;
        /* Components are bounded by 1e8, so the sums stay far from overflow. */
        if (mo > 12LL * 100000 || total > 1000LL * 365 * day)
            return TSR_EINVAL;
    }
    if (!any)
        return TSR_EINVAL;
    *months = (int32_t)mo;
    *ms = total;
    return 0;
}

/*
 * xsd:dateTime with or without offset, or xsd:date (midnight UTC).  A
 * missing offset is read as UTC and reported through *no_tz.
 */
static int parse_datetime(const char *s, int64_t *ms, bool *no_tz)
{
    char tmp[TSR_TIME_INPUT_MAX + 16];
    size_t n = strlen(s);

    *no_tz = false;
    if (n < 10 || n > TSR_TIME_INPUT_MAX)
        return TSR_EINVAL;
    if (n == 10 || (n == 11 && (s[10] == 'Z' || s[10] == 'z'))) {
        /* A plain date: the first millisecond of that day, UTC. */
        memcpy(tmp, s, 10);
        memcpy(tmp + 10, "T00:00:00Z", 11);
        *no_tz = n == 10;
        return tsr_time_parse_ms(tmp, ms, NULL);
    }
    if (tsr_time_parse_ms(s, ms, NULL) == 0)
        return 0;
    /* No offset: YYYY-MM-DDTHH:MM:SS[.frac] then nothing. */
    const char *t = s + 19;
    if (n < 19)
        return TSR_EINVAL;
    if (*t == '.') {
        t++;
        while (is_digit(*t))
            t++;
    }
    if (*t != '\0' || n + 2 > sizeof(tmp))
        return TSR_EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = 'Z';
    tmp[n + 1] = '\0';
    if (tsr_time_parse_ms(tmp, ms, NULL) != 0)
        return TSR_EINVAL;
    *no_tz = true;
    return 0;
}

int tsr_odrl__parse_value(const char *text, enum tsr_odrl_vtype type, struct tsr_odrl__val *out,
                          bool *no_tz)
{
    bool ntz = false;
    int rc = 0;

    out->type = (uint8_t)type;
    out->relative = false;
    out->months = 0;
    out->i = 0;
    out->s = text;
    switch (type) {
    case TSR_ODRL_T_INTEGER:
        rc = parse_integer(text, &out->i);
        break;
    case TSR_ODRL_T_DECIMAL:
        rc = parse_decimal(text, &out->i);
        break;
    case TSR_ODRL_T_BOOLEAN:
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
            out->i = 1;
        else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
            out->i = 0;
        else
            rc = TSR_EINVAL;
        break;
    case TSR_ODRL_T_DATE_TIME:
        rc = parse_datetime(text, &out->i, &ntz);
        break;
    case TSR_ODRL_T_DURATION:
        rc = parse_duration(text, &out->months, &out->i);
        break;
    case TSR_ODRL_T_ANY:
        out->type = TSR_ODRL_T_STRING;
        break;
    case TSR_ODRL_T_STRING:
    case TSR_ODRL_T_IRI:
        break;
    }
    if (no_tz != NULL)
        *no_tz = ntz;
    return rc;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t tsr_odrl__add_duration(int64_t ms, int32_t months, int64_t dur_ms)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (ms == TSR_ODRL_TIME_UNSET)
        return TSR_ODRL_TIME_UNSET;
    if (months != 0) {
        int64_t day = floor_div(ms, 86400000LL);
        int64_t tod = ms - day * 86400000LL;
        int64_t y, m, d;
        civil_from_days(day, &y, &m, &d);
        int64_t mi = (m - 1) + months;
        y += floor_div(mi, 12);
        m = mi - floor_div(mi, 12) * 12 + 1;
        int64_t last = mdays[m - 1];
        if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
            last = 29;
        if (d > last)
            d = last;
        ms = days_from_civil(y, m, d) * 86400000LL + tod;
    }
    if (dur_ms > 0 && ms > INT64_MAX - dur_ms)
        return INT64_MAX;
    return ms + dur_ms;
}

/* Appends into a bounded buffer, always NUL-terminated, never overflowing. */
struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void out_c(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len++] = c;
    o->buf[o->len] = '\0';
}

static void out_s(struct out *o, const char *s)
{
    while (*s != '\0' && o->len + 1 < o->size)
        o->buf[o->len++] = *s++;
    o->buf[o->len] = '\0';
}

/* Decimal digits of v, zero-padded to width (<= 20), written in one copy. */
static void out_u(struct out *o, uint64_t v, int width)
{
    char tmp[24];
    size_t n = sizeof(tmp);
    size_t w = width > 0 ? (size_t)width : 0;

    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0 && sizeof(tmp) - n < w)
        tmp[--n] = '0';
    size_t len = sizeof(tmp) - n;
    if (o->len + len >= o->size)
        len = o->size - o->len - 1;
    memcpy(o->buf + o->len, tmp + n, len);
    o->len += len;
    o->buf[o->len] = '\0';
}

static void out_i(struct out *o, int64_t v)
{
    if (v < 0) {
        out_c(o, '-');
        out_u(o, v == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-v, 0);
    } else {
        out_u(o, (uint64_t)v, 0);
    }
}

static void out_date(struct out *o, int64_t ms)
{
    int64_t day = floor_div(ms, 86400000LL);
    int64_t tod = ms - day * 86400000LL;
    int64_t y, m, d;

    civil_from_days(day, &y, &m, &d);
    if (y < 0 || y > 9999) {
        out_i(o, ms);
        out_s(o, "ms");
        return;
    }
    out_u(o, (uint64_t)y, 4);
    out_c(o, '-');
    out_u(o, (uint64_t)m, 2);
    out_c(o, '-');
    out_u(o, (uint64_t)d, 2);
    out_c(o, 'T');
    out_u(o, (uint64_t)(tod / 3600000), 2);
    out_c(o, ':');
    out_u(o, (uint64_t)(tod / 60000 % 60), 2);
    out_c(o, ':');
    out_u(o, (uint64_t)(tod / 1000 % 60), 2);
    if (tod % 1000 != 0) {
        out_c(o, '.');
        out_u(o, (uint64_t)(tod % 1000), 3);
    }
    out_c(o, 'Z');
}

static void out_duration(struct out *o, int32_t months, int64_t ms)
{
    if (ms < 0) {
        out_c(o, '-');
        ms = -ms;
    }
    out_c(o, 'P');
    if (months != 0) {
        out_u(o, (uint64_t)months, 0);
        out_c(o, 'M');
    }
    if (ms / 86400000 != 0) {
        out_u(o, (uint64_t)(ms / 86400000), 0);
        out_c(o, 'D');
    }
    ms %= 86400000;
    if (ms != 0 || (months == 0 && o->buf[o->len - 1] == 'P')) {
        out_c(o, 'T');
        out_u(o, (uint64_t)(ms / 1000), 0);
        if (ms % 1000 != 0) {
            out_c(o, '.');
            out_u(o, (uint64_t)(ms % 1000), 3);
        }
        out_c(o, 'S');
    }
}

char *tsr_odrl__format_value(const struct tsr_odrl__val *v, char *buf, size_t size)
{
    struct out o = {buf, size, 0};

    buf[0] = '\0';
    switch (v->type) {
    case TSR_ODRL_T_INTEGER:
        out_i(&o, v->i);
        break;
    case TSR_ODRL_T_DECIMAL: {
        int64_t a = v->i < 0 ? -v->i : v->i;
        if (v->i < 0)
            out_c(&o, '-');
        out_u(&o, (uint64_t)(a / TSR_ODRL__DEC_SCALE), 0);
        int64_t f = a % TSR_ODRL__DEC_SCALE;
        if (f != 0) {
            int w = 6;
            while (f % 10 == 0) {
                f /= 10;
                w--;
            }
            out_c(&o, '.');
            out_u(&o, (uint64_t)f, w);
        }
        break;
    }
    case TSR_ODRL_T_BOOLEAN:
        out_s(&o, v->i ? "true" : "false");
        break;
    case TSR_ODRL_T_DATE_TIME:
        out_date(&o, v->i);
        break;
    case TSR_ODRL_T_DURATION:
        out_duration(&o, v->months, v->i);
        break;
    default:
        out_s(&o, v->s != NULL ? v->s : "");
        break;
    }
    return buf;
}

/* ------------------------------------------------------------ registry */

struct tsr_odrl_registry *tsr_odrl_registry_new(void)
{
    return tsr_calloc(1, sizeof(struct tsr_odrl_registry));
}

void tsr_odrl_registry_free(struct tsr_odrl_registry *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_ops; i++) {
        tsr_free(r->ops[i].iri);
        tsr_free(r->ops[i].name);
    }
    for (size_t i = 0; i < r->n_acts; i++) {
        tsr_free(r->acts[i].iri);
        tsr_free(r->acts[i].name);
    }
    tsr_free(r->ops);
    tsr_free(r->acts);
    tsr_free(r);
}

/* The last segment of an IRI (after '/', '#' or ':'). */
static const char *iri_tail(const char *iri)
{
    const char *t = iri;

    for (const char *s = iri; *s != '\0'; s++)
        if (*s == '/' || *s == '#' || *s == ':')
            t = s + 1;
    return t;
}

static bool valid_iri(const char *iri)
{
    return iri != NULL && strchr(iri, ':') != NULL && *iri_tail(iri) != '\0' &&
           strlen(iri) <= TSR_ODRL_DEFAULT_MAX_STRING;
}

const struct tsr_odrl__regop *tsr_odrl__reg_operand(const struct tsr_odrl_registry *r,
                                                    const char *iri, const char *term)
{
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i < r->n_ops; i++) {
        if (iri != NULL && strcmp(r->ops[i].iri, iri) == 0)
            return &r->ops[i];
        if (term != NULL && strcmp(r->ops[i].name, term) == 0)
            return &r->ops[i];
    }
    return NULL;
}

const struct tsr_odrl__regact *tsr_odrl__reg_action(const struct tsr_odrl_registry *r,
                                                    const char *iri, const char *term)
{
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i < r->n_acts; i++) {
        if (iri != NULL && strcmp(r->acts[i].iri, iri) == 0)
            return &r->acts[i];
        if (term != NULL && strcmp(r->acts[i].name, term) == 0)
            return &r->acts[i];
    }
    return NULL;
}

int tsr_odrl_registry_add_operand(struct tsr_odrl_registry *r, const char *iri, const char *name,
                                  enum tsr_odrl_vtype type, enum tsr_odrl_source src)
{
    if (r == NULL || !valid_iri(iri) || (int)type < 0 || type > TSR_ODRL_T_DURATION ||
        (int)src < 0 || src > TSR_ODRL_SRC_CONTRACTUAL)
        return TSR_EINVAL;
    if (name == NULL)
        name = iri_tail(iri);
    if (*name == '\0' || strlen(name) > 256)
        return TSR_EINVAL;
    for (size_t i = 0; i < r->n_ops; i++)
        if (strcmp(r->ops[i].iri, iri) == 0)
            return TSR_EEXIST;
    if (r->n_ops == r->cap_ops) {
        size_t cap = r->cap_ops ? r->cap_ops * 2 : 16;
        struct tsr_odrl__regop *n = tsr_realloc(r->ops, cap * sizeof(*n));
        if (n == NULL)
            return TSR_ENOMEM;
        r->ops = n;
        r->cap_ops = cap;
    }
    struct tsr_odrl__regop *op = &r->ops[r->n_ops];
    op->iri = tsr_strdup(iri);
    op->name = tsr_strdup(name);
    if (op->iri == NULL || op->name == NULL) {
        tsr_free(op->iri);
        tsr_free(op->name);
        return TSR_ENOMEM;
    }
    op->type = (uint8_t)type;
    op->src = (uint8_t)src;
    r->n_ops++;
    return 0;
}

int tsr_odrl_registry_add_action(struct tsr_odrl_registry *r, const char *iri, const char *name,
                                 enum tsr_odrl_action parent, enum tsr_odrl_timing timing)
{
    if (r == NULL || !valid_iri(iri) || (int)parent < 0 || parent > TSR_ODRL_ACT_CUSTOM ||
        (int)timing < 0 || timing > TSR_ODRL_TIMING_POST)
        return TSR_EINVAL;
    if (name == NULL)
        name = iri_tail(iri);
    if (*name == '\0' || strlen(name) > 256)
        return TSR_EINVAL;
    for (size_t i = 0; i < r->n_acts; i++)
        if (strcmp(r->acts[i].iri, iri) == 0)
            return TSR_EEXIST;
    if (r->n_acts == r->cap_acts) {
        size_t cap = r->cap_acts ? r->cap_acts * 2 : 8;
        struct tsr_odrl__regact *n = tsr_realloc(r->acts, cap * sizeof(*n));
        if (n == NULL)
            return TSR_ENOMEM;
        r->acts = n;
        r->cap_acts = cap;
    }
    struct tsr_odrl__regact *a = &r->acts[r->n_acts];
    a->iri = tsr_strdup(iri);
    a->name = tsr_strdup(name);
    if (a->iri == NULL || a->name == NULL) {
        tsr_free(a->iri);
        tsr_free(a->name);
        return TSR_ENOMEM;
    }
    a->parent = (int16_t)(parent == TSR_ODRL_ACT_CUSTOM ? -1 : (int)parent);
    a->timing = (uint8_t)(timing == TSR_ODRL_TIMING_AUTO ? TSR_ODRL_TIMING_POST : timing);
    r->n_acts++;
    return 0;
}

int tsr_odrl_registry_add_catenax(struct tsr_odrl_registry *r)
{
    static const char *const ns[] = {
        "https://w3id.org/catenax/policy/",
        "https://w3id.org/catenax/2025/9/policy/",
    };
    /* Checked against the participant's verified credentials / claims. */
    static const char *const named[] = {
        "Membership", "FrameworkAgreement", "BusinessPartnerNumber", "BusinessPartnerGroup",
    };
    /*
     * Legally binding terms (Catena-X "Standardized Usage Policies"): the
     * connector records them, it cannot check them.
     */
    static const char *const contractual[] = {
        "ContractReference", "AffiliatesRegion", "AffiliatesBpnl", "ManagedLegalEntityRegion",
        "ManagedLegalEntityBpnl", "DataFrequency", "VersionChanges", "ContractTermination",
        "ConfidentialInformationMeasures", "ConfidentialInformationSharing", "ExclusiveUsage",
        "Warranty", "WarrantyDefinition", "WarrantyDurationMonths", "Liability",
        "JurisdictionLocation", "JurisdictionLocationReference", "Precedence",
        "DataUsageEndDate", "DataUsageEndDurationDays", "DataUsageEndDefinition",
        "UsageRestriction", "DataProvisioningEndDate", "DataProvisioningEndDurationDays",
    };
    char iri[128];
    int rc;

    for (size_t k = 0; k < TSR_ARRAY_SIZE(ns); k++) {
        for (size_t i = 0; i < TSR_ARRAY_SIZE(named); i++) {
            snprintf(iri, sizeof(iri), "%s%s", ns[k], named[i]);
            rc = tsr_odrl_registry_add_operand(r, iri, named[i], TSR_ODRL_T_STRING,
                                               TSR_ODRL_SRC_NAMED);
            if (rc != 0 && rc != TSR_EEXIST)
                return rc;
        }
        snprintf(iri, sizeof(iri), "%sUsagePurpose", ns[k]);
        rc = tsr_odrl_registry_add_operand(r, iri, "UsagePurpose", TSR_ODRL_T_STRING,
                                           TSR_ODRL_SRC_PURPOSE);
        if (rc != 0 && rc != TSR_EEXIST)
            return rc;
        for (size_t i = 0; i < TSR_ARRAY_SIZE(contractual); i++) {
            snprintf(iri, sizeof(iri), "%s%s", ns[k], contractual[i]);
            rc = tsr_odrl_registry_add_operand(r, iri, contractual[i], TSR_ODRL_T_ANY,
                                               TSR_ODRL_SRC_CONTRACTUAL);
            if (rc != 0 && rc != TSR_EEXIST)
                return rc;
        }
        snprintf(iri, sizeof(iri), "%saccess", ns[k]);
        rc = tsr_odrl_registry_add_action(r, iri, "access", TSR_ODRL_ACT_CUSTOM,
                                          TSR_ODRL_TIMING_POST);
        if (rc != 0 && rc != TSR_EEXIST)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ policy accessors */

void tsr_odrl_policy_free(struct tsr_odrl_policy *p)
{
    if (p == NULL)
        return;
    struct tsr_odrl__chunk *c = p->chunks;
    while (c != NULL) {
        struct tsr_odrl__chunk *next = c->next;
        tsr_free(c);
        c = next;
    }
    /* The policy struct itself lives in its first chunk. */
}

const char *tsr_odrl_policy_id(const struct tsr_odrl_policy *p)
{
    return p != NULL ? p->id : NULL;
}

const char *tsr_odrl_policy_target(const struct tsr_odrl_policy *p)
{
    return p != NULL ? p->target : NULL;
}

const char *tsr_odrl_policy_assigner(const struct tsr_odrl_policy *p)
{
    return p != NULL ? p->assigner : NULL;
}

const char *tsr_odrl_policy_assignee(const struct tsr_odrl_policy *p)
{
    return p != NULL ? p->assignee : NULL;
}

enum tsr_odrl_policy_type tsr_odrl_policy_type(const struct tsr_odrl_policy *p)
{
    return p != NULL ? (enum tsr_odrl_policy_type)p->type : TSR_ODRL_SET;
}

enum tsr_odrl_conflict tsr_odrl_policy_conflict(const struct tsr_odrl_policy *p)
{
    return p != NULL ? (enum tsr_odrl_conflict)p->conflict : TSR_ODRL_CONFLICT_DEFAULT;
}

size_t tsr_odrl_policy_rule_count(const struct tsr_odrl_policy *p, enum tsr_odrl_rule_kind kind)
{
    if (p == NULL || (int)kind < 0 || kind > TSR_ODRL_OBLIGATION)
        return 0;
    return p->n_rules[kind];
}

const char *tsr_odrl_duty_param(const struct tsr_odrl_duty *duty, const char *name)
{
    if (duty == NULL || name == NULL)
        return NULL;
    for (uint32_t i = 0; i < duty->n_params; i++)
        if (strcmp(duty->params[i].name, name) == 0)
            return duty->params[i].value;
    return NULL;
}

void tsr_odrl_request_init(struct tsr_odrl_request *req)
{
    memset(req, 0, sizeof(*req));
    req->now_ms = TSR_ODRL_TIME_UNSET;
    req->agreement_ms = TSR_ODRL_TIME_UNSET;
    req->first_use_ms = TSR_ODRL_TIME_UNSET;
    req->last_use_ms = TSR_ODRL_TIME_UNSET;
}

bool tsr_odrl_permitted(const struct tsr_odrl_decision *dec)
{
    return dec != NULL && dec->effect == TSR_ODRL_PERMIT;
}

/* ------------------------------------------------------------ decision output */

static void fmt_time(int64_t ms, char *buf, size_t size)
{
    struct out o = {buf, size, 0};

    buf[0] = '\0';
    if (ms == TSR_ODRL_TIME_UNSET)
        out_s(&o, "-");
    else
        out_date(&o, ms);
}

int tsr_odrl_decision_text(const struct tsr_odrl_decision *dec, struct tsr_buf *out)
{
    int rc;

    rc = tsr_buf_addf(out, "%s: %s\n", tsr_odrl_effect_name(dec->effect),
                      dec->why != NULL ? dec->why : "");
    for (size_t i = 0; rc == 0 && i < dec->n_rules; i++) {
        const struct tsr_odrl_rule_report *r = &dec->rules[i];
        rc = tsr_buf_addf(out,
                          "  %s %u%s%s%s: %s (action %s, refinements %s, target %s, party %s, "
                          "constraints %s, duties %s)\n",
                          kind_name(r->kind), r->index, r->id ? " <" : "", r->id ? r->id : "",
                          r->id ? ">" : "", r->active ? "active" : "inactive",
                          r->action_match ? "ok" : "no", r->refinements_ok ? "ok" : "no",
                          r->target_match ? "ok" : "no", r->party_match ? "ok" : "no",
                          r->constraints_ok ? "ok" : "no", r->duties_ok ? "ok" : "no");
    }
    for (size_t i = 0; rc == 0 && i < dec->n_constraints; i++) {
        const struct tsr_odrl_constraint_report *c = &dec->constraints[i];
        unsigned ind = 4 + 2 * (c->depth > 16 ? 16 : c->depth);
        if (c->logic != TSR_ODRL_LOGIC_NONE)
            rc = tsr_buf_addf(out, "%*s%s of rule %u: %s: %s\n", (int)ind, "", scope_name(c->scope),
                              c->rule, c->operand, tsr_odrl_sat_name(c->sat));
        else
            rc = tsr_buf_addf(out, "%*s%s of rule %u: %s %s %s (actual %s): %s%s%s\n", (int)ind,
                              "", scope_name(c->scope), c->rule, c->operand,
                              tsr_odrl_operator_name(c->op), c->right,
                              c->actual[0] ? c->actual : "none", tsr_odrl_sat_name(c->sat),
                              c->note ? ", " : "", c->note ? c->note : "");
    }
    for (size_t i = 0; rc == 0 && i < dec->n_pending; i++) {
        const struct tsr_odrl_pending *p = &dec->pending[i];
        char nb[40], dl[40];
        fmt_time(p->not_before_ms, nb, sizeof(nb));
        fmt_time(p->deadline_ms, dl, sizeof(dl));
        rc = tsr_buf_addf(out, "  %s %s (%s)%s%s%s: not before %s, deadline %s\n",
                          p->timing == TSR_ODRL_TIMING_PRE ? "pre-duty" : kind_name(p->role),
                          p->action_iri,
                          p->state == TSR_ODRL_DUTY_VIOLATED ? "violated" : "pending",
                          p->id ? " <" : "", p->id ? p->id : "", p->id ? ">" : "", nb, dl);
    }
    if (rc == 0 && dec->truncated)
        rc = tsr_buf_adds(out, "  (some reports did not fit)\n");
    return rc;
}

/* json_object_set_new that remembers a failure instead of returning it at once. */
static void jset(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (v == NULL || json_object_set_new(o, k, v) != 0)
        *ok = false;
}

static json_t *jstr_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *tsr_odrl_decision_json(const struct tsr_odrl_decision *dec)
{
    json_t *j = json_object();
    json_t *rules = json_array(), *cons = json_array(), *pend = json_array();
    bool ok = j != NULL && rules != NULL && cons != NULL && pend != NULL;

    if (!ok) {
        json_decref(j);
        json_decref(rules);
        json_decref(cons);
        json_decref(pend);
        return NULL;
    }
    jset(j, "decision", json_string(tsr_odrl_effect_name(dec->effect)), &ok);
    jset(j, "reason", json_string(dec->why != NULL ? dec->why : ""), &ok);
    for (size_t i = 0; ok && i < dec->n_rules; i++) {
        const struct tsr_odrl_rule_report *r = &dec->rules[i];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(rules, o) != 0) {
            ok = false;
            break;
        }
        jset(o, "kind", json_string(kind_name(r->kind)), &ok);
        jset(o, "index", json_integer(r->index), &ok);
        jset(o, "id", jstr_or_null(r->id), &ok);
        jset(o, "active", json_boolean(r->active), &ok);
        jset(o, "action", json_boolean(r->action_match), &ok);
        jset(o, "refinements", json_boolean(r->refinements_ok), &ok);
        jset(o, "target", json_boolean(r->target_match), &ok);
        jset(o, "party", json_boolean(r->party_match), &ok);
        jset(o, "constraints", json_boolean(r->constraints_ok), &ok);
        jset(o, "duties", json_boolean(r->duties_ok), &ok);
    }
    for (size_t i = 0; ok && i < dec->n_constraints; i++) {
        const struct tsr_odrl_constraint_report *c = &dec->constraints[i];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(cons, o) != 0) {
            ok = false;
            break;
        }
        jset(o, "rule", json_integer(c->rule), &ok);
        jset(o, "scope", json_string(scope_name(c->scope)), &ok);
        jset(o, "depth", json_integer(c->depth), &ok);
        jset(o, "id", jstr_or_null(c->id), &ok);
        if (c->logic != TSR_ODRL_LOGIC_NONE) {
            jset(o, "logic", json_string(logic_name(c->logic)), &ok);
        } else {
            jset(o, "leftOperand", json_string(c->operand), &ok);
            jset(o, "operator", json_string(tsr_odrl_operator_name(c->op)), &ok);
            jset(o, "rightOperand", json_string(c->right), &ok);
            jset(o, "actual", c->actual[0] ? json_string(c->actual) : json_null(), &ok);
        }
        jset(o, "state", json_string(tsr_odrl_sat_name(c->sat)), &ok);
        if (c->note != NULL)
            jset(o, "note", json_string(c->note), &ok);
    }
    for (size_t i = 0; ok && i < dec->n_pending; i++) {
        const struct tsr_odrl_pending *p = &dec->pending[i];
        char nb[40], dl[40];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(pend, o) != 0) {
            ok = false;
            break;
        }
        fmt_time(p->not_before_ms, nb, sizeof(nb));
        fmt_time(p->deadline_ms, dl, sizeof(dl));
        jset(o, "role", json_string(kind_name(p->role)), &ok);
        jset(o, "timing", json_string(p->timing == TSR_ODRL_TIMING_PRE ? "pre" : "post"), &ok);
        jset(o, "id", jstr_or_null(p->id), &ok);
        jset(o, "rule", jstr_or_null(p->rule_id), &ok);
        jset(o, "action", json_string(p->action_iri), &ok);
        bool has_nb = p->not_before_ms != TSR_ODRL_TIME_UNSET;
        bool has_dl = p->deadline_ms != TSR_ODRL_TIME_UNSET;
        jset(o, "notBefore", has_nb ? json_string(nb) : json_null(), &ok);
        jset(o, "deadline", has_dl ? json_string(dl) : json_null(), &ok);
        jset(o, "state", json_string(p->state == TSR_ODRL_DUTY_VIOLATED ? "violated"
                                     : p->state == TSR_ODRL_DUTY_FULFILLED ? "fulfilled"
                                                                           : "pending"), &ok);
    }
    jset(j, "rules", rules, &ok);
    jset(j, "constraints", cons, &ok);
    jset(j, "pending", pend, &ok);
    if (dec->truncated)
        jset(j, "truncated", json_true(), &ok);
    if (!ok) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------ cache */

struct cache_ent {
    char *id;
    struct tsr_odrl_policy *p;
    struct cache_ent *hnext;       /* hash chain */
    struct cache_ent *prev, *next; /* LRU list, most recent first */
};

struct tsr_odrl_cache {
    struct cache_ent **tab;
    size_t nbuckets;
    size_t n;
    size_t max;
    struct cache_ent *head, *tail;
};

struct tsr_odrl_cache *tsr_odrl_cache_new(size_t max)
{
    struct tsr_odrl_cache *c;
    size_t nb = 16;

    if (max == 0 || max > ((size_t)1 << 24))
        return NULL;
    while (nb < max)
        nb *= 2;
    c = tsr_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, so pointer-sized */
    c->tab = tsr_calloc(nb, sizeof(*c->tab));
    if (c->tab == NULL) {
        tsr_free(c);
        return NULL;
    }
    c->nbuckets = nb;
    c->max = max;
    return c;
}

static void lru_unlink(struct tsr_odrl_cache *c, struct cache_ent *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(struct tsr_odrl_cache *c, struct cache_ent *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

static struct cache_ent **find_slot(struct tsr_odrl_cache *c, const char *id)
{
    struct cache_ent **pp = &c->tab[(size_t)tsr_str_hash(id, NULL) & (c->nbuckets - 1)];

    while (*pp != NULL && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->hnext;
    return pp;
}

static void drop(struct tsr_odrl_cache *c, struct cache_ent **slot)
{
    struct cache_ent *e = *slot;

    *slot = e->hnext;
    lru_unlink(c, e);
    tsr_odrl_policy_free(e->p);
    tsr_free(e->id);
    tsr_free(e);
    c->n--;
}

void tsr_odrl_cache_free(struct tsr_odrl_cache *c)
{
    if (c == NULL)
        return;
    while (c->head != NULL)
        drop(c, find_slot(c, c->head->id));
    tsr_free(c->tab);
    tsr_free(c);
}

int tsr_odrl_cache_put(struct tsr_odrl_cache *c, const char *id, struct tsr_odrl_policy *p)
{
    struct cache_ent **slot;
    struct cache_ent *e;

    if (c == NULL || id == NULL || p == NULL) {
        tsr_odrl_policy_free(p);
        return TSR_EINVAL;
    }
    slot = find_slot(c, id);
    if (*slot != NULL) {
        tsr_odrl_policy_free((*slot)->p);
        (*slot)->p = p;
        lru_unlink(c, *slot);
        lru_push_front(c, *slot);
        return 0;
    }
    e = tsr_calloc(1, sizeof(*e));
    if (e != NULL)
        e->id = tsr_strdup(id);
    if (e == NULL || e->id == NULL) {
        tsr_free(e);
        tsr_odrl_policy_free(p);
        return TSR_ENOMEM;
    }
    if (c->n == c->max)
        drop(c, find_slot(c, c->tail->id));
    e->p = p;
    slot = find_slot(c, id);
    *slot = e;
    lru_push_front(c, e);
    c->n++;
    return 0;
}

const struct tsr_odrl_policy *tsr_odrl_cache_get(struct tsr_odrl_cache *c, const char *id)
{
    struct cache_ent *e;

    if (c == NULL || id == NULL)
        return NULL;
    e = *find_slot(c, id);
    if (e == NULL)
        return NULL;
    lru_unlink(c, e);
    lru_push_front(c, e);
    return e->p;
}

void tsr_odrl_cache_remove(struct tsr_odrl_cache *c, const char *id)
{
    struct cache_ent **slot;

    if (c == NULL || id == NULL)
        return;
    slot = find_slot(c, id);
    if (*slot != NULL)
        drop(c, slot);
}
