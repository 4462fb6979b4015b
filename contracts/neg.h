/*
 * contracts/neg.h: the contract negotiation state machine of the Dataspace
 * Protocol 2025-1 (contract.negotiation.protocol), for both roles, as a
 * pure function: no I/O, no storage, no clock.
 *
 * Both parties hold the same state; a message moves it when the receiver
 * acknowledges it.  The table (who may send what in which state):
 *
 *   message                  sender    allowed in           leads to
 *   CONTRACT_REQUEST         consumer  INITIAL, OFFERED     REQUESTED
 *   CONTRACT_OFFER           provider  INITIAL, REQUESTED   OFFERED
 *   EVENT_ACCEPTED           consumer  OFFERED              ACCEPTED
 *   AGREEMENT                provider  REQUESTED, ACCEPTED  AGREED
 *   AGREEMENT_VERIFICATION   consumer  AGREED               VERIFIED
 *   EVENT_FINALIZED          provider  VERIFIED             FINALIZED
 *   TERMINATION              either    REQUESTED .. VERIFIED TERMINATED
 *
 * INITIAL stands for "no negotiation yet": only a request or an offer can
 * create one, and a termination of nothing is refused (the connector
 * answers 404 for an unknown pid before it gets here).  FINALIZED and
 * TERMINATED are terminal: nothing leaves them.
 */
#ifndef TSR_CONTRACTS_NEG_H
#define TSR_CONTRACTS_NEG_H

#include <stdbool.h>

#include "lib/err.h"

enum tsr_neg_state {
    TSR_NEG_INITIAL = 0, /* none yet; never on the wire */
    TSR_NEG_REQUESTED,
    TSR_NEG_OFFERED,
    TSR_NEG_ACCEPTED,
    TSR_NEG_AGREED,
    TSR_NEG_VERIFIED,
    TSR_NEG_FINALIZED,
    TSR_NEG_TERMINATED,
};
#define TSR_NEG_STATE_COUNT 8

enum tsr_neg_role {
    TSR_NEG_CONSUMER = 0,
    TSR_NEG_PROVIDER,
};
#define TSR_NEG_ROLE_COUNT 2

enum tsr_neg_msg {
    TSR_NEG_MSG_CONTRACT_REQUEST = 0,   /* ContractRequestMessage */
    TSR_NEG_MSG_CONTRACT_OFFER,         /* ContractOfferMessage */
    TSR_NEG_MSG_EVENT_ACCEPTED,         /* ContractNegotiationEventMessage, ACCEPTED */
    TSR_NEG_MSG_AGREEMENT,              /* ContractAgreementMessage */
    TSR_NEG_MSG_AGREEMENT_VERIFICATION, /* ContractAgreementVerificationMessage */
    TSR_NEG_MSG_EVENT_FINALIZED,        /* ContractNegotiationEventMessage, FINALIZED */
    TSR_NEG_MSG_TERMINATION,            /* ContractNegotiationTerminationMessage */
};
#define TSR_NEG_MSG_COUNT 7

/*
 * The wire name of a state ("REQUESTED"; "INITIAL" for TSR_NEG_INITIAL),
 * static; "?" for a value outside the enum.
 */
const char *tsr_neg_state_name(enum tsr_neg_state s);

/*
 * Parse a state as written on the wire: the term "REQUESTED", the prefixed
 * form "dspace:REQUESTED", or the full IRI under the 2025-1 namespace
 * "https://w3id.org/dspace/2025/1/", or the older 2024-1 and v0.8 ones
 * ("https://w3id.org/dspace/v0.8/REQUESTED").  Case-sensitive.  "INITIAL"
 * is not a wire state and is refused.  Returns 0 or TSR_EINVAL (s NULL or
 * unknown; *out untouched).
 */
int tsr_neg_state_parse(const char *s, enum tsr_neg_state *out);

/* "consumer" or "provider", static; "?" outside the enum. */
const char *tsr_neg_role_name(enum tsr_neg_role r);

/*
 * A readable name for a message, for logs and error reasons:
 * "ContractRequestMessage", "ContractNegotiationEventMessage ACCEPTED", ...
 * Static; "?" outside the enum.
 */
const char *tsr_neg_msg_name(enum tsr_neg_msg m);

/*
 * The one checked transition: may `sender` send `msg` while the
 * negotiation is in `cur`?  If so, *next gets the resulting state and 0 is
 * returned; otherwise TSR_ESTATE and *next is untouched.  Values outside
 * the enums are refused with TSR_ESTATE.  Pure: same answer for the same
 * arguments, no side effects.  (The HTTPS binding answers an invalid
 * transition with 400 and a ContractNegotiationError body; mapping the
 * code to that status is the caller's business.)
 */
int tsr_neg_next(enum tsr_neg_state cur, enum tsr_neg_msg msg, enum tsr_neg_role sender,
                 enum tsr_neg_state *next);

/*
 * As tsr_neg_next, and on refusal also writes a reason into d (may be
 * NULL) such as "ContractAgreementMessage from the consumer is not allowed
 * in state REQUESTED", suitable for the error body.
 */
int tsr_neg_check(enum tsr_neg_state cur, enum tsr_neg_msg msg, enum tsr_neg_role sender,
                  enum tsr_neg_state *next, struct tsr_diag *d);

/* True for FINALIZED and TERMINATED. */
bool tsr_neg_is_terminal(enum tsr_neg_state s);

/*
 * Idempotency: true when `msg` from `sender` is the message that put the
 * negotiation into `cur` (cur is the state it leads to, from some state
 * where it is allowed), so a retry whose acknowledgement was lost may be
 * acknowledged again without any change.  The caller must still check
 * that the retry is the same message (same pids, same agreement).
 *
 * Deliberately false for CONTRACT_REQUEST and CONTRACT_OFFER: each carries
 * an offer, and a second one in REQUESTED/OFFERED is a new counter-offer
 * that the state machine does not allow (the DSP conformance kit's
 * CN:03-04 expects a repeated counter-request to be refused).  A retried
 * initial request (no providerPid) is recognised by the connector from its
 * consumerPid, not here.  True for AGREEMENT in AGREED, EVENT_ACCEPTED in
 * ACCEPTED, AGREEMENT_VERIFICATION in VERIFIED, EVENT_FINALIZED in
 * FINALIZED (the provider did not see our ACK and retries) and TERMINATION
 * in TERMINATED from either side (the spec lets a terminating party ignore
 * errors anyway).  Never true when the sender could not have sent msg.
 */
bool tsr_neg_is_repeat(enum tsr_neg_state cur, enum tsr_neg_msg msg, enum tsr_neg_role sender);

#endif /* TSR_CONTRACTS_NEG_H */
