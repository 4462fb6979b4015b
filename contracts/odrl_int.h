/*
 * contracts/odrl_int.h: what the ODRL compiler (odrl_parse.c), the
 * evaluator (odrl_eval.c) and the shared tables (odrl.c) know about each
 * other: the compiled policy's layout, the vocabulary tables and the value
 * helpers.  Not for use outside contracts/odrl*.c.
 *
 * A compiled policy lives in one arena of chunks that never move, so the
 * structures below point at each other directly; nothing is freed until
 * the whole policy is.  Once tsr_odrl_compile returns, nothing in it is
 * written again, which is what makes concurrent evaluation safe.
 */
#ifndef TSR_CONTRACTS_ODRL_INT_H
#define TSR_CONTRACTS_ODRL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contracts/odrl.h"

/* Hard cap on a compiled policy's memory, whatever the options say. */
#define TSR_ODRL__ARENA_MAX ((size_t)16 << 20)

/* Fixed-point scale of decimals: 6 fraction digits. */
#define TSR_ODRL__DEC_SCALE 1000000LL

/* Most values of one named operand a request may carry for one constraint. */
#define TSR_ODRL__MAX_ACTUAL 16

struct tsr_odrl__chunk {
    struct tsr_odrl__chunk *next;
    size_t used;
    size_t size;
    max_align_t data[];
};

/* A typed scalar: a right operand item, or an actual value during evaluation. */
struct tsr_odrl__val {
    uint8_t type;    /* enum tsr_odrl_vtype, never T_ANY once compiled */
    bool relative;   /* inForceDate "contractAgreement + N": i is the offset in ms */
    int32_t months;  /* durations: calendar months */
    int64_t i;       /* integer; decimal * DEC_SCALE; ms since epoch; duration ms; bool */
    const char *s;   /* strings and IRIs (prefixes expanded); text of other types */
};

/* A constraint, atomic or logical. */
struct tsr_odrl__cons {
    uint8_t logic;   /* enum tsr_odrl_logic */
    uint8_t operand; /* enum tsr_odrl_operand */
    uint8_t op;      /* enum tsr_odrl_operator */
    uint8_t type;    /* enum tsr_odrl_vtype the comparison uses */
    uint8_t src;     /* enum tsr_odrl_source (profile operands) */
    const char *id;
    const char *text;  /* left operand as written, or the logical operator's name */
    const char *name;  /* key of the request's named values */
    const char *iri;   /* full IRI of the left operand */
    const char *right; /* right operand as written */
    const char *unit;  /* odrl:unit (expanded IRI), or NULL */
    const struct tsr_odrl__val *vals;
    uint32_t n_vals;
    struct tsr_odrl__cons **kids; /* logical: operands, in order */
    uint32_t n_kids;
};

/* An action, a target or a party of a rule. */
struct tsr_odrl__ent {
    const char *iri;    /* expanded IRI (actions: full ODRL IRI) */
    const char *source; /* collections: odrl:source, or NULL */
    int16_t act;        /* actions: enum tsr_odrl_action */
    int16_t parent;     /* custom actions: the built-in parent, or -1 */
    struct tsr_odrl__cons **refine; /* refinements (an implicit and) */
    uint32_t n_refine;
};

struct tsr_odrl__param {
    const char *name;
    const char *value;
};

/* Every rule is compiled into this, duties included (the public name is the duty's). */
struct tsr_odrl_duty {
    uint8_t kind;   /* enum tsr_odrl_rule_kind */
    uint8_t timing; /* duties: PRE or POST, resolved at compile time */
    const char *id;
    struct tsr_odrl__ent *actions;
    uint32_t n_actions;
    struct tsr_odrl__ent *targets;
    uint32_t n_targets;
    struct tsr_odrl__ent *assignees;
    uint32_t n_assignees;
    struct tsr_odrl__cons **cons; /* an implicit and */
    uint32_t n_cons;
    /* permission: duties; prohibition: remedies; duty/obligation: consequences */
    struct tsr_odrl_duty *duties;
    uint32_t n_duties;
    struct tsr_odrl__param *params; /* party functions, refinement values */
    uint32_t n_params;
};

struct tsr_odrl__prefix {
    const char *pfx;
    size_t len;
    const char *ns;
};

/* A profile action the policy uses, kept so requests can name it. */
struct tsr_odrl__cact {
    const char *iri;
    const char *name;
    int16_t parent;
};

struct tsr_odrl_policy {
    struct tsr_odrl__chunk *chunks;
    size_t bytes;
    uint8_t type;     /* enum tsr_odrl_policy_type */
    uint8_t conflict; /* enum tsr_odrl_conflict */
    const char *id;
    const char *target;
    const char *assigner;
    const char *assignee;
    struct tsr_odrl_duty *rules[3]; /* by kind: permission, prohibition, obligation */
    uint32_t n_rules[3];
    struct tsr_odrl__prefix *prefixes; /* declared first, then built-in */
    uint32_t n_prefixes;
    struct tsr_odrl__cact *cacts;
    uint32_t n_cacts;
};

/* ---- vocabulary (odrl.c) ---- */

struct tsr_odrl__opdef {
    const char *term;
    uint8_t operand; /* enum tsr_odrl_operand */
    uint8_t type;    /* enum tsr_odrl_vtype; T_ANY: from the right operand */
};

/* The built-in left operand for an ODRL term (local name), or NULL. */
const struct tsr_odrl__opdef *tsr_odrl__operand_lookup(const char *term);

/* Built-in action by local name (ODRL term, deprecated aliases included), or -1. */
int tsr_odrl__action_by_term(const char *term);

/* The parent of a built-in action, or -1 for a root. */
int tsr_odrl__action_parent(int act);

/* The timing of a plain duty with this built-in action. */
enum tsr_odrl_timing tsr_odrl__action_timing(int act);

/* Operator by local name ("term-lteq" included), or -1. */
int tsr_odrl__operator_by_term(const char *term);

/* ---- registry (odrl.c) ---- */

struct tsr_odrl__regop {
    char *iri;
    char *name;
    uint8_t type;
    uint8_t src;
};

struct tsr_odrl__regact {
    char *iri;
    char *name;
    int16_t parent;
    uint8_t timing;
};

struct tsr_odrl_registry {
    struct tsr_odrl__regop *ops;
    size_t n_ops, cap_ops;
    struct tsr_odrl__regact *acts;
    size_t n_acts, cap_acts;
};

const struct tsr_odrl__regop *tsr_odrl__reg_operand(const struct tsr_odrl_registry *r,
                                                    const char *iri, const char *term);
const struct tsr_odrl__regact *tsr_odrl__reg_action(const struct tsr_odrl_registry *r,
                                                    const char *iri, const char *term);

/* ---- values (odrl.c) ---- */

/*
 * Parse text as a value of type (INTEGER, DECIMAL, BOOLEAN, DATE_TIME,
 * DURATION; STRING and IRI just point at text).  Allocation-free; out->s
 * is text.  Returns 0 or TSR_EINVAL.  *no_tz (optional) is set when a
 * dateTime had no offset (read as UTC).
 */
int tsr_odrl__parse_value(const char *text, enum tsr_odrl_vtype type, struct tsr_odrl__val *out,
                          bool *no_tz);

/* ms + a duration (months added on the calendar, day clamped to the month's end). */
int64_t tsr_odrl__add_duration(int64_t ms, int32_t months, int64_t dur_ms);

/*
 * Format a value into buf (size >= 2) without printf, truncating; returns
 * buf.  Dates as RFC 3339 UTC, durations as xsd:duration, decimals with
 * their fraction.
 */
char *tsr_odrl__format_value(const struct tsr_odrl__val *v, char *buf, size_t size);

/*
 * True when a and b name the same thing: equal bytes, or equal once a
 * known prefix of p (declared or built-in) is expanded on either side.
 */
bool tsr_odrl__same_term(const struct tsr_odrl_policy *p, const char *a, const char *b);

/* The built-in prefixes (odrl, dspace, edc, cx-policy, xsd, rdf, dct, ...). */
extern const struct tsr_odrl__prefix tsr_odrl__builtin_prefixes[];
extern const size_t tsr_odrl__n_builtin_prefixes;

#endif /* TSR_CONTRACTS_ODRL_INT_H */
