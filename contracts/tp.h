/*
 * contracts/tp.h: the transfer process state machine of the Dataspace
 * Protocol 2025-1 (transfer.process.protocol and its HTTPS binding), for
 * both roles, as a pure function: no I/O, no storage, no clock.
 *
 *   message           sender    allowed in                    leads to
 *   TRANSFER_REQUEST  consumer  INITIAL                       REQUESTED
 *   START             provider  REQUESTED, SUSPENDED          STARTED
 *   START             consumer  SUSPENDED                     STARTED
 *   SUSPENSION        either    STARTED                       SUSPENDED
 *   COMPLETION        either    STARTED                       COMPLETED
 *   TERMINATION       either    REQUESTED, STARTED, SUSPENDED TERMINATED
 *
 * The consumer's START is the binding's "attempt to start a Transfer
 * Process after it has been suspended" (POST /transfers/:pid/start on the
 * provider); the first start of a transfer is always the provider's.  A
 * suspended transfer must be started again before it can complete, and a
 * transfer that never started cannot be suspended or completed (the DSP
 * conformance kit's TP:03-01..03 and TP_C:03-01..03 expect errors there).
 * COMPLETED and TERMINATED are terminal.
 */
#ifndef TSR_CONTRACTS_TP_H
#define TSR_CONTRACTS_TP_H

#include <stdbool.h>

#include "lib/err.h"

enum tsr_tp_state {
    TSR_TP_INITIAL = 0, /* none yet; never on the wire */
    TSR_TP_REQUESTED,
    TSR_TP_STARTED,
    TSR_TP_SUSPENDED,
    TSR_TP_COMPLETED,
    TSR_TP_TERMINATED,
};
#define TSR_TP_STATE_COUNT 6

/* Same values as enum tsr_neg_role. */
enum tsr_tp_role {
    TSR_TP_CONSUMER = 0,
    TSR_TP_PROVIDER,
};
#define TSR_TP_ROLE_COUNT 2

enum tsr_tp_msg {
    TSR_TP_MSG_TRANSFER_REQUEST = 0, /* TransferRequestMessage */
    TSR_TP_MSG_START,                /* TransferStartMessage */
    TSR_TP_MSG_SUSPENSION,           /* TransferSuspensionMessage */
    TSR_TP_MSG_COMPLETION,           /* TransferCompletionMessage */
    TSR_TP_MSG_TERMINATION,          /* TransferTerminationMessage */
};
#define TSR_TP_MSG_COUNT 5

/* "REQUESTED", ... ("INITIAL" for TSR_TP_INITIAL), static; "?" outside the enum. */
const char *tsr_tp_state_name(enum tsr_tp_state s);

/*
 * Parse a wire state: "STARTED", "dspace:STARTED", or the IRI under the
 * 2025-1, 2024-1 or v0.8 DSP namespace.  "INITIAL" is refused.  Returns 0
 * or TSR_EINVAL (*out untouched).
 */
int tsr_tp_state_parse(const char *s, enum tsr_tp_state *out);

/* "consumer" or "provider", static; "?" outside the enum. */
const char *tsr_tp_role_name(enum tsr_tp_role r);

/* "TransferRequestMessage", "TransferStartMessage", ...; static; "?" outside. */
const char *tsr_tp_msg_name(enum tsr_tp_msg m);

/*
 * The one checked transition: 0 and *next set when `sender` may send `msg`
 * in `cur`; TSR_ESTATE otherwise (*next untouched).  Pure.
 */
int tsr_tp_next(enum tsr_tp_state cur, enum tsr_tp_msg msg, enum tsr_tp_role sender,
                enum tsr_tp_state *next);

/* As tsr_tp_next, with a reason for the TransferError body in d (may be NULL). */
int tsr_tp_check(enum tsr_tp_state cur, enum tsr_tp_msg msg, enum tsr_tp_role sender,
                 enum tsr_tp_state *next, struct tsr_diag *d);

/* True for COMPLETED and TERMINATED. */
bool tsr_tp_is_terminal(enum tsr_tp_state s);

/*
 * Idempotency: true when `msg` from `sender` is a message that leads to
 * `cur` from a state where it is allowed, i.e. a retry whose
 * acknowledgement was lost, to be acknowledged again without a change:
 * TRANSFER_REQUEST in REQUESTED (the spec asks providers to be idempotent
 * on consumerPid; once the transfer has moved on, the connector answers a
 * retried request from its consumerPid lookup, e.g. with a new start
 * message), START in STARTED (provider; consumer too, a retried resume),
 * SUSPENSION in SUSPENDED, COMPLETION in COMPLETED and TERMINATION in
 * TERMINATED from either side.  The caller still checks the pids.
 */
bool tsr_tp_is_repeat(enum tsr_tp_state cur, enum tsr_tp_msg msg, enum tsr_tp_role sender);

#endif /* TSR_CONTRACTS_TP_H */
