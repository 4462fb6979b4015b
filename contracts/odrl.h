/*
 * contracts/odrl.h: the ODRL 2.2 policy engine: a parser that compiles the
 * policy shapes dataspace peers send into an immutable form, and a pure
 * evaluator (no I/O, no allocation, no clock) that decides one request
 * against it and says why.  tessera-policy(7) documents the supported
 * profile for users; this comment is the contract for callers.
 *
 * INPUT SHAPES.  Compacted JSON-LD as DSP 2025-1 and 2024-1 send it, read
 * as plain JSON with a known-context normalizer (no remote contexts are
 * fetched): every key may be a term ("permission"), an "odrl:" prefixed
 * term or a full IRI ("http://www.w3.org/ns/odrl/2/permission"); every
 * IRI value may be a string or {"@id": x}; literals may be a JSON scalar
 * or {"@value": v, "@type": xsd:T}; a single value may stand where an
 * array is allowed.  Prefixes declared as strings in an inline @context
 * object are honoured ("cx-policy": "https://w3id.org/catenax/policy/"),
 * besides the built-in odrl, dspace, edc, cx-policy, xsd, rdf prefixes.
 * Rules, constraints and duties may be written inline or as {"@id": x}
 * references to a node elsewhere in the document (or in "@graph").
 *
 * MUST UNDERSTAND.  An unknown action, left operand, operator, logical
 * operator, conflict term, policy type or rule member that changes the
 * meaning (inheritFrom, unknown keys in a constraint) makes the whole
 * policy REFUSED (TSR_EPOLICY, the term and its JSON path in the diag).
 * Nothing is silently dropped, so a typo never grants access.  Members
 * that do not change a decision (dct:*, assigner, profile, @context,
 * uid, unit) are read or ignored.  Hostile input is bounded (bytes,
 * nesting depth, rules, constraints, list items, string length): over a
 * limit the policy is refused with TSR_ELIMIT.
 *
 * SEMANTICS (closed world, default deny).  Summary; details in
 * tessera-policy(7):
 *  - A rule applies to a request when its action equals the request's
 *    action or includes it (the ODRL includedIn hierarchy: use includes
 *    read, print, display...; transfer includes give and sell; deprecated
 *    terms map to their exact match), every action refinement holds, the
 *    target equals the request target or the target is a collection the
 *    request target is partOf, the assignee likewise (no target/assignee
 *    in the rule: any), and every constraint holds.
 *  - PERMIT when at least one permission applies and none of its
 *    pre-duties is unfulfilled and none of its duties is violated, and no
 *    prohibition applies.  A prohibition that applies overrides (DENY)
 *    unless the policy says "conflict": "perm"; "conflict": "invalid"
 *    makes a request that both a permission and a prohibition apply to a
 *    DENY with "policy void".  Otherwise DENY (NOT_APPLICABLE when no rule
 *    at all matched the action, target and party: also a refusal).
 *  - Duties of a permission are PRE (must be fulfilled before use: the
 *    request's duty facts must say FULFILLED) or POST (obligations that
 *    follow the use: the decision lists them as pending, with their time
 *    window, for the enforcement layer to schedule; a POST duty reported
 *    VIOLATED deactivates the permission).  Keys "preDuty"/"postDuty" set
 *    it explicitly; plain "duty" takes the option's default, which by
 *    default is per action: compensate, obtainConsent, acceptTracking,
 *    attribute, nextPolicy, reviewPolicy are PRE; delete, inform,
 *    anonymize, watermark, archive and all others are POST.  A duty whose
 *    own constraints do not hold is not in force.  For POST duties,
 *    dateTime/elapsedTime/delayPeriod/inForceDate constraints are not
 *    conditions but the window: not_before_ms/deadline_ms.
 *  - Policy-level obligations are listed as pending in every decision
 *    while not fulfilled; they do not change it.  A violated duty's
 *    consequences are listed with it; an applying prohibition's remedies
 *    are listed with the refusal (what an infringement would oblige to).
 *  - Set operators (L = the request's value or values, R = the right
 *    operand list; "~" = equal or related by a partOf/isA fact):
 *      isAnyOf  L and R share a value          isNoneOf  they share none
 *      isAllOf  every r in R is in L           isPartOf  every l is ~ some r
 *      hasPart  every r is ~ part of some l    isA       every l is ~ a some r
 *    eq/neq/lt/lteq/gt/gteq need exactly one value on each side, typed by
 *    the left operand (dateTime, duration, integer, decimal, string, IRI).
 *    An absent value makes every operator unsatisfied, isNoneOf included.
 *  - Logical constraints: and (all), or (at least one), xone (exactly
 *    one), andSequence (all, in order, stopping at the first that fails);
 *    nestable; several constraints on one rule are an implicit and.
 *  - Operands read from the request (see struct tsr_odrl_request): count
 *    is the ordinal of this use (use_count + 1, so "count lteq 3" refuses
 *    the 4th); elapsedTime runs from the first use (else the agreement)
 *    and its eq reads as lteq (a period of use); delayPeriod runs from the
 *    agreement and its eq reads as gteq; timeInterval allows one use per
 *    interval since last_use_ms; P1M is a calendar month.
 *  - A CONTRACTUAL profile term never makes the connector refuse: it holds
 *    in permissions and duties, does not in prohibitions, and is reported
 *    as TSR_ODRL_CONTRACTUAL.
 *  - No conflict term: prohibitions override permissions (ODRL's default,
 *    "invalid", would void the policy for that request: a refusal too,
 *    but a less useful reason).
 *
 * Thread safety: a compiled policy is immutable and may be evaluated from
 * any number of threads at once.  Registries and caches are not locked.
 */
#ifndef TSR_CONTRACTS_ODRL_H
#define TSR_CONTRACTS_ODRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/buf.h"
#include "lib/err.h"

/* "No time": unset times in requests and in pending duty windows. */
#define TSR_ODRL_TIME_UNSET INT64_MIN

/* The ODRL 2.2 namespace. */
#define TSR_ODRL_NS "http://www.w3.org/ns/odrl/2/"

enum tsr_odrl_policy_type {
    TSR_ODRL_SET = 0,  /* also "Policy" */
    TSR_ODRL_OFFER,
    TSR_ODRL_AGREEMENT,
    TSR_ODRL_REQUEST,  /* accepted for test input; evaluated like a Set */
};

enum tsr_odrl_rule_kind {
    TSR_ODRL_PERMISSION = 0,
    TSR_ODRL_PROHIBITION,
    TSR_ODRL_OBLIGATION, /* policy-level duty */
    TSR_ODRL_DUTY,       /* a permission's duty */
    TSR_ODRL_CONSEQUENCE,
    TSR_ODRL_REMEDY,
};

enum tsr_odrl_conflict {
    TSR_ODRL_CONFLICT_DEFAULT = 0, /* none stated: prohibitions override */
    TSR_ODRL_CONFLICT_PERM,
    TSR_ODRL_CONFLICT_PROHIBIT,
    TSR_ODRL_CONFLICT_INVALID,
};

enum tsr_odrl_operator {
    TSR_ODRL_EQ = 0,
    TSR_ODRL_NEQ,
    TSR_ODRL_LT,
    TSR_ODRL_LTEQ,
    TSR_ODRL_GT,
    TSR_ODRL_GTEQ,
    TSR_ODRL_IS_A,
    TSR_ODRL_HAS_PART,
    TSR_ODRL_IS_PART_OF,
    TSR_ODRL_IS_ALL_OF,
    TSR_ODRL_IS_ANY_OF,
    TSR_ODRL_IS_NONE_OF,
};
#define TSR_ODRL_OPERATOR_COUNT 12

enum tsr_odrl_logic {
    TSR_ODRL_LOGIC_NONE = 0, /* an atomic constraint */
    TSR_ODRL_LOGIC_AND,
    TSR_ODRL_LOGIC_OR,
    TSR_ODRL_LOGIC_XONE,
    TSR_ODRL_LOGIC_AND_SEQUENCE,
};

/* Duty timing (see the top comment). */
enum tsr_odrl_timing {
    TSR_ODRL_TIMING_AUTO = 0, /* per action (option default) */
    TSR_ODRL_TIMING_PRE,
    TSR_ODRL_TIMING_POST,
};

/*
 * The built-in left operands.  Profile operands from a registry are
 * TSR_ODRL_LO_PROFILE; generic common-vocabulary operands without a
 * dedicated request field (resolution, fileFormat, language, event, ...)
 * are TSR_ODRL_LO_NAMED and read from the request's named values.
 */
enum tsr_odrl_operand {
    TSR_ODRL_LO_DATE_TIME = 0, /* request now_ms */
    TSR_ODRL_LO_ELAPSED_TIME,  /* now - (first_use_ms, else agreement_ms), a duration */
    TSR_ODRL_LO_DELAY_PERIOD,  /* now - agreement_ms, a duration; eq means "at least" */
    TSR_ODRL_LO_TIME_INTERVAL, /* now - last_use_ms: at most one use per interval */
    TSR_ODRL_LO_COUNT,         /* use_count + 1: the ordinal of the requested use */
    TSR_ODRL_LO_PURPOSE,       /* request purpose */
    TSR_ODRL_LO_RECIPIENT,     /* request recipient */
    TSR_ODRL_LO_SPATIAL,       /* request spatial */
    TSR_ODRL_LO_VIRTUAL_LOCATION, /* named "virtualLocation" */
    TSR_ODRL_LO_SYSTEM_DEVICE,    /* named "systemDevice" */
    TSR_ODRL_LO_PAY_AMOUNT,       /* named "payAmount", decimal */
    TSR_ODRL_LO_IN_FORCE_DATE,    /* edc:inForceDate: now vs a date or agreement + N */
    TSR_ODRL_LO_NAMED,            /* another ODRL common operand, named value */
    TSR_ODRL_LO_PROFILE,          /* from the registry */
};

/*
 * Value types of operands.  Dates are milliseconds since the epoch (UTC;
 * a dateTime without an offset is read as UTC, except for inForceDate
 * where it is refused); durations are xsd:duration (calendar months and
 * milliseconds kept apart, P1M added to a date is one calendar month);
 * decimals are fixed point with 6 fraction digits.
 */
enum tsr_odrl_vtype {
    TSR_ODRL_T_ANY = 0, /* typed by the right operand as written */
    TSR_ODRL_T_STRING,
    TSR_ODRL_T_IRI,     /* compared after prefix expansion */
    TSR_ODRL_T_INTEGER,
    TSR_ODRL_T_DECIMAL,
    TSR_ODRL_T_BOOLEAN,
    TSR_ODRL_T_DATE_TIME,
    TSR_ODRL_T_DURATION,
};

/* Where a profile operand's actual value comes from. */
enum tsr_odrl_source {
    TSR_ODRL_SRC_NAMED = 0,   /* request named values under the operand's name */
    TSR_ODRL_SRC_ASSIGNEE,    /* request assignee */
    TSR_ODRL_SRC_PURPOSE,     /* request purpose */
    TSR_ODRL_SRC_RECIPIENT,   /* request recipient */
    TSR_ODRL_SRC_SPATIAL,     /* request spatial */
    TSR_ODRL_SRC_NOW,         /* request now_ms */
    /*
     * A legally binding term the connector cannot check (Catena-X
     * ContractReference, Warranty, ...): accepted at compile time, always
     * satisfied at run time, and reported as CONTRACTUAL.
     */
    TSR_ODRL_SRC_CONTRACTUAL,
};

/*
 * The actions the engine knows: ODRL 2.2 core and common vocabulary plus
 * the deprecated terms (accepted, mapped to their exact match where the
 * vocabulary gives one).  Registry actions are TSR_ODRL_ACT_CUSTOM.
 */
enum tsr_odrl_action {
    TSR_ODRL_ACT_USE = 0,
    TSR_ODRL_ACT_TRANSFER,
    TSR_ODRL_ACT_ACCEPT_TRACKING,
    TSR_ODRL_ACT_AGGREGATE,
    TSR_ODRL_ACT_ANNOTATE,
    TSR_ODRL_ACT_ANONYMIZE,
    TSR_ODRL_ACT_ARCHIVE,
    TSR_ODRL_ACT_ATTRIBUTE,
    TSR_ODRL_ACT_COMPENSATE,
    TSR_ODRL_ACT_CONCURRENT_USE,
    TSR_ODRL_ACT_DELETE,
    TSR_ODRL_ACT_DERIVE,
    TSR_ODRL_ACT_DIGITIZE,
    TSR_ODRL_ACT_DISPLAY,
    TSR_ODRL_ACT_DISTRIBUTE,
    TSR_ODRL_ACT_ENSURE_EXCLUSIVITY,
    TSR_ODRL_ACT_EXECUTE,
    TSR_ODRL_ACT_EXTRACT,
    TSR_ODRL_ACT_GIVE,
    TSR_ODRL_ACT_GRANT_USE,
    TSR_ODRL_ACT_INCLUDE,
    TSR_ODRL_ACT_INDEX,
    TSR_ODRL_ACT_INFORM,
    TSR_ODRL_ACT_INSTALL,
    TSR_ODRL_ACT_MODIFY,
    TSR_ODRL_ACT_MOVE,
    TSR_ODRL_ACT_NEXT_POLICY,
    TSR_ODRL_ACT_OBTAIN_CONSENT,
    TSR_ODRL_ACT_PLAY,
    TSR_ODRL_ACT_PRESENT,
    TSR_ODRL_ACT_PRINT,
    TSR_ODRL_ACT_READ,
    TSR_ODRL_ACT_REPRODUCE,
    TSR_ODRL_ACT_REVIEW_POLICY,
    TSR_ODRL_ACT_SELL,
    TSR_ODRL_ACT_STREAM,
    TSR_ODRL_ACT_SYNCHRONIZE,
    TSR_ODRL_ACT_TEXT_TO_SPEECH,
    TSR_ODRL_ACT_TRANSFORM,
    TSR_ODRL_ACT_TRANSLATE,
    TSR_ODRL_ACT_UNINSTALL,
    TSR_ODRL_ACT_WATERMARK,
    /* deprecated without an exact match: roots of their own */
    TSR_ODRL_ACT_LEASE,
    TSR_ODRL_ACT_LEND,
    TSR_ODRL_ACT_PREVIEW,
    TSR_ODRL_ACT_SECONDARY_USE,
    TSR_ODRL_ACT_AD_HOC_SHARE,
    TSR_ODRL_ACT_EXTRACT_CHAR,
    TSR_ODRL_ACT_EXTRACT_PAGE,
    TSR_ODRL_ACT_EXTRACT_WORD,
    TSR_ODRL_ACT_CUSTOM, /* registered by a profile; see the rule's action IRI */
};

/* ------------------------------------------------------------ registry */

/* Profile terms (left operands and actions) beyond ODRL's vocabulary. */
struct tsr_odrl_registry;

/* New empty registry, or NULL when memory runs out. */
struct tsr_odrl_registry *tsr_odrl_registry_new(void);

/* Free r and everything it holds.  r may be NULL. */
void tsr_odrl_registry_free(struct tsr_odrl_registry *r);

/*
 * Register a left operand: iri is its full IRI; name is the key the
 * request's named values use for it (and the short term accepted in
 * policies, e.g. "Membership"; NULL: the IRI's last segment); type types
 * the right operand (and is checked at compile time); src says where the
 * actual value comes from.  Strings are copied.  Several IRIs may share a
 * name (one operand in two profile versions): a bare term takes the first
 * registered.  Returns 0, TSR_EEXIST (iri already registered), TSR_EINVAL
 * or TSR_ENOMEM.
 */
int tsr_odrl_registry_add_operand(struct tsr_odrl_registry *r, const char *iri, const char *name,
                                  enum tsr_odrl_vtype type, enum tsr_odrl_source src);

/*
 * Register an action iri (short term name, NULL: the IRI's last segment)
 * included in the built-in action parent (TSR_ODRL_ACT_CUSTOM: a root of
 * its own) with the duty timing used when it appears as a plain duty.
 * Returns 0, TSR_EEXIST, TSR_EINVAL or TSR_ENOMEM.
 */
int tsr_odrl_registry_add_action(struct tsr_odrl_registry *r, const char *iri, const char *name,
                                 enum tsr_odrl_action parent, enum tsr_odrl_timing timing);

/*
 * Add the Catena-X profile (both https://w3id.org/catenax/policy/ and the
 * 2025-09 namespace): Membership, FrameworkAgreement, BusinessPartnerNumber,
 * BusinessPartnerGroup (named values), UsagePurpose (request purpose), the
 * other cx-policy usage operands as CONTRACTUAL, and the action "access"
 * (a root).  Returns 0 or TSR_ENOMEM.
 */
int tsr_odrl_registry_add_catenax(struct tsr_odrl_registry *r);

/* ------------------------------------------------------------ compiling */

/* Limits and choices for one compilation.  Zero fields take the defaults. */
struct tsr_odrl_options {
    const struct tsr_odrl_registry *registry; /* borrowed, only during compile; NULL: none */
    enum tsr_odrl_timing default_timing;      /* for plain "duty"; AUTO: per action */
    bool allow_no_action; /* a rule without action applies to every action (test suites) */
    size_t max_bytes;       /* whole document (tsr_odrl_parse only); default 256 KiB */
    size_t max_depth;       /* nesting of logical constraints; default 8 */
    size_t max_rules;       /* rules, duties included; default 64 */
    size_t max_constraints; /* atomic + logical, whole policy; default 512 */
    size_t max_list;        /* items in one list (right operand, or, rules); default 256 */
    size_t max_string;      /* one IRI or literal; default 2048 */
};

#define TSR_ODRL_DEFAULT_MAX_BYTES ((size_t)256 << 10)
#define TSR_ODRL_DEFAULT_MAX_DEPTH 8
#define TSR_ODRL_DEFAULT_MAX_RULES 64
#define TSR_ODRL_DEFAULT_MAX_CONSTRAINTS 512
#define TSR_ODRL_DEFAULT_MAX_LIST 256
#define TSR_ODRL_DEFAULT_MAX_STRING 2048

/* A compiled, immutable policy. */
struct tsr_odrl_policy;

/*
 * Compile the policy object doc (borrowed; a Set/Offer/Agreement/Policy
 * object, or a DSP message/dataset whose "policy", "offer", "agreement"
 * or "hasPolicy" member holds one, or a document with a "@graph").
 * opts may be NULL.  On success *out is new (tsr_odrl_policy_free).
 * Returns 0; TSR_EPOLICY for an unknown or unsupported term (the policy
 * is refused); TSR_EINVAL for a malformed policy or a value of the wrong
 * type; TSR_ELIMIT over a limit; TSR_ENOMEM.  d gets the reason with the
 * JSON path ("permission[0].constraint[1].leftOperand: unknown left
 * operand 'foo'").  *out is NULL on failure.
 */
int tsr_odrl_compile(const json_t *doc, const struct tsr_odrl_options *opts,
                     struct tsr_odrl_policy **out, struct tsr_diag *d);

/* As tsr_odrl_compile, from len bytes of JSON text (bounded parse first). */
int tsr_odrl_parse(const char *buf, size_t len, const struct tsr_odrl_options *opts,
                   struct tsr_odrl_policy **out, struct tsr_diag *d);

/* Free p.  p may be NULL. */
void tsr_odrl_policy_free(struct tsr_odrl_policy *p);

/* The policy's @id (or uid); NULL when it has none.  Borrowed from p. */
const char *tsr_odrl_policy_id(const struct tsr_odrl_policy *p);

/* The policy-level target, assigner, assignee (first of each), or NULL.  Borrowed. */
const char *tsr_odrl_policy_target(const struct tsr_odrl_policy *p);
const char *tsr_odrl_policy_assigner(const struct tsr_odrl_policy *p);
const char *tsr_odrl_policy_assignee(const struct tsr_odrl_policy *p);

enum tsr_odrl_policy_type tsr_odrl_policy_type(const struct tsr_odrl_policy *p);
enum tsr_odrl_conflict tsr_odrl_policy_conflict(const struct tsr_odrl_policy *p);

/* Number of rules of one kind (permission, prohibition or obligation). */
size_t tsr_odrl_policy_rule_count(const struct tsr_odrl_policy *p, enum tsr_odrl_rule_kind kind);

/* ------------------------------------------------------------ requests */

/* A NAME=VALUE pair: a value for a named or profile operand. */
struct tsr_odrl_named {
    const char *name;  /* the operand's registered name, its term or its full IRI */
    const char *value; /* text; parsed per the constraint's type at evaluation */
};

/* A relation fact of the state of the world. */
enum tsr_odrl_rel {
    TSR_ODRL_REL_PART_OF = 0, /* subject odrl:partOf object (collections, regions) */
    TSR_ODRL_REL_IS_A,        /* subject rdf:type / skos:broader* object */
};

struct tsr_odrl_fact {
    enum tsr_odrl_rel rel;
    const char *subject;
    const char *object;
};

/*
 * The caller's answer to "is subject REL object?" for facts not in the
 * request's list (a store lookup).  Must be pure and fast.
 */
typedef bool (*tsr_odrl_related_fn)(void *arg, enum tsr_odrl_rel rel, const char *subject,
                                    const char *object);

enum tsr_odrl_duty_state {
    TSR_ODRL_DUTY_UNKNOWN = 0, /* not performed yet, or not known */
    TSR_ODRL_DUTY_FULFILLED,
    TSR_ODRL_DUTY_VIOLATED,
};

/* What is known about one duty. */
struct tsr_odrl_duty_fact {
    /*
     * The duty's @id, or an action (term, prefixed or IRI: "compensate")
     * standing for every duty with that action that has no fact of its own.
     */
    const char *duty;
    enum tsr_odrl_duty_state state;
};

/*
 * One request and its state of the world.  All pointers are borrowed for
 * the call.  Strings are IRIs, prefixed names ("odrl:read", prefixes of
 * the policy apply) or plain identifiers compared byte for byte.
 */
struct tsr_odrl_request {
    const char *action;    /* required */
    /*
     * The asset.  NULL: the caller vouches that the request is about this
     * policy's asset (it looked the agreement up for it), so targets are
     * not compared.
     */
    const char *target;
    const char *assignee;  /* the requesting party (DID or participant id); NULL: unknown */
    const char *purpose;   /* declared purpose; NULL: none */
    const char *recipient; /* where the data is going; NULL: none */
    const char *spatial;   /* where the use takes place (e.g. ISO 3166 code); NULL: unknown */
    int64_t now_ms;        /* evaluation time, ms since the epoch */
    int64_t agreement_ms;  /* agreement time (inForceDate, delayPeriod, elapsedTime); UNSET */
    int64_t first_use_ms;  /* first use (elapsedTime); UNSET: count from agreement_ms */
    int64_t last_use_ms;   /* previous use (timeInterval); UNSET: none */
    uint64_t use_count;    /* uses already made, not counting this one */
    const struct tsr_odrl_named *named;
    size_t n_named;
    const struct tsr_odrl_fact *facts; /* partOf/isA facts */
    size_t n_facts;
    tsr_odrl_related_fn related; /* NULL: only the facts list */
    void *related_arg;
    const struct tsr_odrl_duty_fact *duties;
    size_t n_duties;
};

/* A request with every time UNSET and everything else empty. */
void tsr_odrl_request_init(struct tsr_odrl_request *req);

/* ------------------------------------------------------------ decisions */

enum tsr_odrl_effect {
    TSR_ODRL_DENY = 0,
    TSR_ODRL_PERMIT,
    TSR_ODRL_NOT_APPLICABLE, /* no rule matched action, target and party: a refusal too */
};

enum tsr_odrl_sat {
    TSR_ODRL_UNSATISFIED = 0,
    TSR_ODRL_SATISFIED,
    TSR_ODRL_NOT_EVALUATED, /* after a failing andSequence member; a rule that did not match */
    TSR_ODRL_CONTRACTUAL,   /* a contractual profile term: holds by agreement, not checked */
};

/* Where a constraint sits. */
enum tsr_odrl_scope {
    TSR_ODRL_IN_RULE = 0,   /* a rule's constraint */
    TSR_ODRL_IN_REFINEMENT, /* an action refinement */
    TSR_ODRL_IN_TARGET,     /* an asset collection's refinement */
    TSR_ODRL_IN_PARTY,      /* a party collection's refinement */
    TSR_ODRL_IN_DUTY,       /* a duty's constraint */
};

#define TSR_ODRL_MAX_RULE_REPORTS 32
#define TSR_ODRL_MAX_CONSTRAINT_REPORTS 64
#define TSR_ODRL_MAX_PENDING 16
#define TSR_ODRL_ACTUAL_MAX 48

/* How one permission or prohibition fared. */
struct tsr_odrl_rule_report {
    enum tsr_odrl_rule_kind kind; /* PERMISSION or PROHIBITION */
    const char *id;               /* the rule's @id or NULL; borrowed from the policy */
    unsigned index;               /* position among the policy's rules of this kind */
    bool action_match;            /* equal or included (refinements not counted) */
    bool refinements_ok;          /* every action refinement holds */
    bool target_match;
    bool party_match;
    bool constraints_ok;
    bool duties_ok;               /* permission: no pre-duty unfulfilled, no duty violated */
    bool active;                  /* all of the above: the rule applies */
};

/* One constraint (atomic or logical) that was evaluated. */
struct tsr_odrl_constraint_report {
    unsigned rule;              /* index into decision.rules */
    enum tsr_odrl_scope scope;
    unsigned depth;             /* 0 = top level of its rule */
    const char *id;             /* the constraint's @id or NULL; borrowed */
    enum tsr_odrl_logic logic;  /* NONE for an atomic constraint */
    const char *operand;        /* left operand as written (logical: "and" ...); borrowed */
    enum tsr_odrl_operator op;  /* atomic only */
    const char *right;          /* right operand as written (lists "[a, b]"); borrowed */
    char actual[TSR_ODRL_ACTUAL_MAX]; /* the value used, "" when none; truncated */
    enum tsr_odrl_sat sat;
    const char *note;           /* static detail ("no value supplied"), or NULL */
};

/* A duty the enforcement layer must run, or that blocks the request. */
struct tsr_odrl_pending {
    enum tsr_odrl_rule_kind role;   /* DUTY, OBLIGATION, CONSEQUENCE or REMEDY */
    enum tsr_odrl_timing timing;    /* PRE (blocking: perform then ask again) or POST */
    const char *id;                 /* the duty's @id or NULL; borrowed */
    const char *rule_id;            /* the permission/prohibition it hangs on, or NULL */
    enum tsr_odrl_action action;
    const char *action_iri;         /* full IRI; borrowed */
    int64_t not_before_ms;          /* UNSET when none */
    int64_t deadline_ms;            /* UNSET when none */
    enum tsr_odrl_duty_state state; /* from the request's facts */
    const struct tsr_odrl_duty *duty; /* details: tsr_odrl_duty_param */
};

/*
 * The outcome of one evaluation.  Large (about 10 KiB): keep one per
 * thread and reuse it.  Every pointer inside is borrowed from the policy
 * (or static) and lives as long as the policy.
 */
struct tsr_odrl_decision {
    enum tsr_odrl_effect effect;
    const char *why;   /* static one-line reason ("no permission applies", ...) */
    int decided_by;    /* index into rules of the deciding rule, -1 for none */
    struct tsr_odrl_rule_report rules[TSR_ODRL_MAX_RULE_REPORTS];
    size_t n_rules;
    struct tsr_odrl_constraint_report constraints[TSR_ODRL_MAX_CONSTRAINT_REPORTS];
    size_t n_constraints;
    struct tsr_odrl_pending pending[TSR_ODRL_MAX_PENDING];
    size_t n_pending;
    bool truncated;    /* some reports did not fit (the decision itself is complete) */
};

/*
 * Decide req against p into *out (fully overwritten).  Pure: no I/O, no
 * allocation, no clock; the same input gives the same output.  Returns 0
 * when out holds a decision (PERMIT, DENY or NOT_APPLICABLE), or
 * TSR_EINVAL when req has no action or an action unknown to the policy's
 * vocabulary (out then says DENY with that reason).  Evaluating an Offer
 * is allowed (negotiation-time checks of the requester); run-time
 * enforcement should evaluate the Agreement.
 */
int tsr_odrl_eval(const struct tsr_odrl_policy *p, const struct tsr_odrl_request *req,
                  struct tsr_odrl_decision *out);

/* True when dec permits. */
bool tsr_odrl_permitted(const struct tsr_odrl_decision *dec);

/*
 * Append a human-readable account of dec to out: the effect and why, one
 * line per rule, per constraint and per pending duty.  Returns 0,
 * TSR_ELIMIT or TSR_ENOMEM (as tsr_buf_add).
 */
int tsr_odrl_decision_text(const struct tsr_odrl_decision *dec, struct tsr_buf *out);

/*
 * dec as a JSON object {"decision": "permit"|"deny"|"not_applicable", "reason",
 * "rules": [...], "constraints": [...], "pending": [...]} for logs and error
 * bodies.  Returns a new reference, or NULL when memory runs out.
 */
json_t *tsr_odrl_decision_json(const struct tsr_odrl_decision *dec);

/*
 * The earliest time after req->now_ms at which the outcome of a time
 * constraint of p may change for this request (a dateTime or inForceDate
 * bound, the end of an elapsedTime or delayPeriod), so a policy monitor
 * knows when to evaluate again; TSR_ODRL_TIME_UNSET when none.
 */
int64_t tsr_odrl_next_boundary(const struct tsr_odrl_policy *p,
                               const struct tsr_odrl_request *req);

/* ------------------------------------------------------------ duties */

/* A compiled duty (opaque; reached through struct tsr_odrl_pending). */
struct tsr_odrl_duty;

/*
 * A parameter of a duty, by name: the right operand (as written) of its
 * action refinement or constraint on that left operand ("payAmount",
 * "systemDevice"), or a party function ("informedParty",
 * "compensatedParty"), or "unit" of the payAmount refinement.  NULL when
 * absent.  Borrowed from the policy.
 */
const char *tsr_odrl_duty_param(const struct tsr_odrl_duty *duty, const char *name);

/* ------------------------------------------------------------ names */

/* "eq", "isAnyOf", ...; "?" for an out-of-range value.  Static. */
const char *tsr_odrl_operator_name(enum tsr_odrl_operator op);

/* Term of a built-in action ("read"); "custom" for TSR_ODRL_ACT_CUSTOM.  Static. */
const char *tsr_odrl_action_name(enum tsr_odrl_action a);

/*
 * The built-in action for a term, "odrl:" name or full IRI (deprecated
 * terms give their exact match: "write" gives MODIFY); -1 when unknown.
 */
int tsr_odrl_action_lookup(const char *term);

/* True when action a is b or included (transitively) in b. */
bool tsr_odrl_action_includes(enum tsr_odrl_action b, enum tsr_odrl_action a);

/* "permit", "deny", "not_applicable".  Static. */
const char *tsr_odrl_effect_name(enum tsr_odrl_effect e);

/* "satisfied", "unsatisfied", "not_evaluated", "contractual".  Static. */
const char *tsr_odrl_sat_name(enum tsr_odrl_sat s);

/* ------------------------------------------------------------ cache */

/*
 * Compiled policies by id, for the connector (agreement id -> policy).
 * Not locked: use from one thread.
 */
struct tsr_odrl_cache;

/* New cache holding at most max policies (least recently used evicted); NULL on ENOMEM. */
struct tsr_odrl_cache *tsr_odrl_cache_new(size_t max);

/* Free c and every policy in it.  c may be NULL. */
void tsr_odrl_cache_free(struct tsr_odrl_cache *c);

/*
 * Store p under id (copied), STEALING p (freed on failure too); an earlier
 * policy under id is freed.  Returns 0 or TSR_ENOMEM.
 */
int tsr_odrl_cache_put(struct tsr_odrl_cache *c, const char *id, struct tsr_odrl_policy *p);

/*
 * The policy stored under id, or NULL.  Borrowed: valid until the next
 * put or remove on c.
 */
const struct tsr_odrl_policy *tsr_odrl_cache_get(struct tsr_odrl_cache *c, const char *id);

/* Forget and free the policy under id; no-op when absent. */
void tsr_odrl_cache_remove(struct tsr_odrl_cache *c, const char *id);

#endif /* TSR_CONTRACTS_ODRL_H */
