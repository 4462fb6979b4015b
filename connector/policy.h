/*
 * connector/policy.h: tesserad's link between the ODRL engine
 * (contracts/odrl.h) and its store: one registry with the Catena-X
 * profile for every policy the daemon compiles, a cache of the compiled
 * ODRL Agreements by agreement id, the provider's per-agreement use
 * counter (its own SQLite table, module "policy"), and the provider-side
 * decisions built on them: may this caller see or negotiate an offer,
 * may it use an agreement now.  tessera-policy(7) documents the rules.
 *
 * One struct tsr_policy per daemon, used from the event loop's thread
 * only (nothing is locked).
 */
#ifndef TSR_CONNECTOR_POLICY_H
#define TSR_CONNECTOR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contracts/odrl.h"
#include "lib/err.h"

struct tsr_store;
struct tsr_store_agreement;

struct tsr_policy;

/* Compiled agreements kept in the cache. */
#define TSR_POLICY_CACHE_MAX 1024
/* The action the provider evaluates for a transfer and each data request. */
#define TSR_POLICY_ACTION_USE "use"

/*
 * New policy context on st (borrowed; must outlive it): creates the
 * registry (with the Catena-X profile), the cache, and brings the use
 * counter's table (module "policy") up to date.  NULL when memory runs out
 * or the table cannot be created (logged).
 */
struct tsr_policy *tsr_policy_new(struct tsr_store *st);

/* Free pc and every compiled policy it holds.  pc may be NULL. */
void tsr_policy_free(struct tsr_policy *pc);

/* The registry every daemon policy is compiled with.  Borrowed from pc. */
const struct tsr_odrl_registry *tsr_policy_registry(struct tsr_policy *pc);

/*
 * Compile len bytes of ODRL JSON with the daemon's registry.  *out is new
 * (tsr_odrl_policy_free).  Returns 0; TSR_EPOLICY (an unknown operand,
 * action, operator or other term: the policy is refused), TSR_EINVAL
 * (malformed), TSR_ELIMIT, TSR_ENOMEM; d gets the reason with its JSON
 * path.
 */
int tsr_policy_compile(struct tsr_policy *pc, const char *json_text, size_t len,
                       struct tsr_odrl_policy **out, struct tsr_diag *d);

/*
 * Check that json_text (NUL-terminated) compiles, for the management API:
 * 0, or TSR_EINVAL ("policy refused: " and the reason: an unknown term,
 * a malformed policy, a value of the wrong type), TSR_ELIMIT, TSR_ENOMEM.
 */
int tsr_policy_validate(struct tsr_policy *pc, const char *json_text, struct tsr_diag *d);

/*
 * The compiled ODRL Agreement of the stored agreement agreement_id
 * (either role), compiled once and cached by id.  *out is borrowed until
 * the next call on pc.  When a is not NULL, *a gets the agreement row
 * (new; tsr_store_agreement_free).  Returns 0, TSR_ENOTFOUND (no such
 * agreement), TSR_EINVAL (its policy does not compile: the
 * agreement cannot be used), TSR_EIO, TSR_ENOMEM.
 */
int tsr_policy_agreement(struct tsr_policy *pc, const char *agreement_id,
                         const struct tsr_odrl_policy **out, struct tsr_store_agreement **a,
                         struct tsr_diag *d);

/* Drop agreement_id's compiled policy from the cache (it is compiled again when asked). */
void tsr_policy_forget(struct tsr_policy *pc, const char *agreement_id);

/*
 * Could offer (an Offer or Set) hold for caller, as far as the provider
 * can know before any use?  Used for catalog visibility and for a
 * contract request.  The offer is evaluated for action "use" with the
 * caller as assignee at now_ms; then each constraint is read in three
 * values: satisfied, cannot hold (a fact about the caller the provider
 * knows and that fails: assignee, party collections, profile operands
 * about the participant such as Catena-X Membership or
 * BusinessPartnerNumber, for which the provider holds no value; or a
 * dateTime/inForceDate upper bound already past), or not known yet (count,
 * purpose, elapsedTime and the other ODRL operands that describe a use;
 * future time windows; pre-duties).  The offer may hold when some
 * permission for "use" has no constraint that cannot hold and no
 * prohibition certainly applies.  Returns 0 (may hold) or TSR_EPOLICY
 * with the reason in d (cannot; also when caller's request is not even
 * evaluable).  The engine's decision: tsr_policy_last_decision.
 */
int tsr_policy_offer_check(struct tsr_policy *pc, const struct tsr_odrl_policy *offer,
                           const char *caller, int64_t now_ms, struct tsr_diag *d);

/*
 * As tsr_policy_offer_check on the policy text of an offer (compiled for
 * the call): 0, or TSR_EPOLICY with why (also when it does not compile).
 */
int tsr_policy_offer_allows(struct tsr_policy *pc, const char *policy_text, const char *caller,
                            int64_t now_ms, struct tsr_diag *d);

/* What the provider knows about the uses of one agreement. */
struct tsr_policy_uses {
    uint64_t count;   /* data requests permitted so far */
    int64_t first_ms; /* TSR_ODRL_TIME_UNSET when none */
    int64_t last_ms;  /* TSR_ODRL_TIME_UNSET when none */
};

/* The counter of agreement_id (zero and UNSET when never used).  0, TSR_EIO... */
int tsr_policy_uses_get(struct tsr_policy *pc, const char *agreement_id,
                        struct tsr_policy_uses *out, struct tsr_diag *d);

/*
 * May caller use agreement a (borrowed; its compiled policy is cached by
 * a->id) at now_ms?  Evaluates action "use" with the caller as assignee,
 * the agreement's signing time and the use counter.  When count is true
 * and the decision permits, the counter is incremented in the same
 * transaction as it was read, so two requests never get the same
 * ordinal.  Returns 0 (permit), TSR_EPOLICY (deny; a one-line reason in
 * d, the full decision through tsr_policy_last_decision), TSR_EINVAL (the
 * agreement does not compile), TSR_EIO, TSR_EUNAVAIL, TSR_ENOMEM.
 */
int tsr_policy_use(struct tsr_policy *pc, const struct tsr_store_agreement *a, const char *caller,
                   int64_t now_ms, bool count, struct tsr_diag *d);

/*
 * Does agreement a still hold for caller at now_ms: as tsr_policy_use
 * without counting, and without the pacing of timeInterval (a use too
 * soon after the previous one is a pause, not an end).  What a transfer
 * start and the policy monitor ask.  Same returns as tsr_policy_use.
 */
int tsr_policy_holds(struct tsr_policy *pc, const struct tsr_store_agreement *a,
                     const char *caller, int64_t now_ms, struct tsr_diag *d);

/*
 * The decision behind the last tsr_policy_use, _holds or _offer_check
 * (borrowed from pc until the next call).
 */
const struct tsr_odrl_decision *tsr_policy_last_decision(const struct tsr_policy *pc);

/*
 * When, after now_ms, the outcome of tsr_policy_holds for caller and a may
 * change because of time (TSR_ODRL_TIME_UNSET: never, or a cannot be
 * compiled).
 */
int64_t tsr_policy_next_boundary(struct tsr_policy *pc, const struct tsr_store_agreement *a,
                                 const char *caller, int64_t now_ms);

/*
 * One line saying why dec refused: its reason, then the first constraint
 * that failed ("dateTime lteq 2026-01-01T00:00:00Z unsatisfied (actual
 * 2026-02-01T...)").  Writes at most len bytes (len > 0), NUL-terminated.
 */
void tsr_policy_reason(const struct tsr_odrl_decision *dec, char *buf, size_t len);

#endif /* TSR_CONNECTOR_POLICY_H */
