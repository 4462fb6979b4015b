/*
 * contracts/tp.c: the transfer process state machine (see tp.h for the
 * table it encodes).
 */
#include "lib/tsr.h"

#include <string.h>

#include "contracts/tp.h"
#include "lib/err.h"

#define S(x) (1u << TSR_TP_##x)

/*
 * allowed[msg][sender]: the states (a bit each) in which sender may send
 * msg.  Every message leads to one state whoever sends it (to[msg]).
 */
static const unsigned allowed[TSR_TP_MSG_COUNT][TSR_TP_ROLE_COUNT] = {
    [TSR_TP_MSG_TRANSFER_REQUEST] = {[TSR_TP_CONSUMER] = S(INITIAL), [TSR_TP_PROVIDER] = 0},
    [TSR_TP_MSG_START] = {[TSR_TP_CONSUMER] = S(SUSPENDED),
                          [TSR_TP_PROVIDER] = S(REQUESTED) | S(SUSPENDED)},
    [TSR_TP_MSG_SUSPENSION] = {[TSR_TP_CONSUMER] = S(STARTED), [TSR_TP_PROVIDER] = S(STARTED)},
    [TSR_TP_MSG_COMPLETION] = {[TSR_TP_CONSUMER] = S(STARTED), [TSR_TP_PROVIDER] = S(STARTED)},
    [TSR_TP_MSG_TERMINATION] = {[TSR_TP_CONSUMER] = S(REQUESTED) | S(STARTED) | S(SUSPENDED),
                                [TSR_TP_PROVIDER] = S(REQUESTED) | S(STARTED) | S(SUSPENDED)},
};

static const enum tsr_tp_state to[TSR_TP_MSG_COUNT] = {
    [TSR_TP_MSG_TRANSFER_REQUEST] = TSR_TP_REQUESTED,
    [TSR_TP_MSG_START] = TSR_TP_STARTED,
    [TSR_TP_MSG_SUSPENSION] = TSR_TP_SUSPENDED,
    [TSR_TP_MSG_COMPLETION] = TSR_TP_COMPLETED,
    [TSR_TP_MSG_TERMINATION] = TSR_TP_TERMINATED,
};

static const char *const state_names[TSR_TP_STATE_COUNT] = {
    [TSR_TP_INITIAL] = "INITIAL",     [TSR_TP_REQUESTED] = "REQUESTED",
    [TSR_TP_STARTED] = "STARTED",     [TSR_TP_SUSPENDED] = "SUSPENDED",
    [TSR_TP_COMPLETED] = "COMPLETED", [TSR_TP_TERMINATED] = "TERMINATED",
};

static const char *const msg_names[TSR_TP_MSG_COUNT] = {
    [TSR_TP_MSG_TRANSFER_REQUEST] = "TransferRequestMessage",
    [TSR_TP_MSG_START] = "TransferStartMessage",
    [TSR_TP_MSG_SUSPENSION] = "TransferSuspensionMessage",
    [TSR_TP_MSG_COMPLETION] = "TransferCompletionMessage",
    [TSR_TP_MSG_TERMINATION] = "TransferTerminationMessage",
};

/* As in neg.c: the 2025-1 namespace and the older ones peers may still use. */
static const char *const state_prefixes[] = {
    "dspace:",
    "https://w3id.org/dspace/2025/1/",
    "https://w3id.org/dspace/2024/1/",
    "https://w3id.org/dspace/v0.8/",
};

static bool valid_args(enum tsr_tp_state cur, enum tsr_tp_msg msg, enum tsr_tp_role sender)
{
    return (unsigned)cur < TSR_TP_STATE_COUNT && (unsigned)msg < TSR_TP_MSG_COUNT &&
           (unsigned)sender < TSR_TP_ROLE_COUNT;
}

const char *tsr_tp_state_name(enum tsr_tp_state s)
{
    return (unsigned)s < TSR_TP_STATE_COUNT ? state_names[s] : "?";
}

int tsr_tp_state_parse(const char *s, enum tsr_tp_state *out)
{
    if (s == NULL)
        return TSR_EINVAL;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(state_prefixes); i++) {
        size_t n = strlen(state_prefixes[i]);
        if (strncmp(s, state_prefixes[i], n) == 0) {
            s += n;
            break;
        }
    }
    for (int i = 1; i < TSR_TP_STATE_COUNT; i++) {
        if (strcmp(s, state_names[i]) == 0) {
            *out = (enum tsr_tp_state)i;
            return 0;
        }
    }
    return TSR_EINVAL;
}

const char *tsr_tp_role_name(enum tsr_tp_role r)
{
    switch (r) {
    case TSR_TP_CONSUMER:
        return "consumer";
    case TSR_TP_PROVIDER:
        return "provider";
    }
    return "?";
}

const char *tsr_tp_msg_name(enum tsr_tp_msg m)
{
    return (unsigned)m < TSR_TP_MSG_COUNT ? msg_names[m] : "?";
}

int tsr_tp_next(enum tsr_tp_state cur, enum tsr_tp_msg msg, enum tsr_tp_role sender,
                enum tsr_tp_state *next)
{
    if (!valid_args(cur, msg, sender) || !(allowed[msg][sender] & (1u << cur)))
        return TSR_ESTATE;
    *next = to[msg];
    return 0;
}

int tsr_tp_check(enum tsr_tp_state cur, enum tsr_tp_msg msg, enum tsr_tp_role sender,
                 enum tsr_tp_state *next, struct tsr_diag *d)
{
    if (tsr_tp_next(cur, msg, sender, next) == 0)
        return 0;
    if (valid_args(TSR_TP_INITIAL, msg, sender) && allowed[msg][sender] == 0)
        return tsr_diag_set(d, TSR_ESTATE, "%s is never sent by the %s", tsr_tp_msg_name(msg),
                            tsr_tp_role_name(sender));
    if (cur == TSR_TP_INITIAL)
        return tsr_diag_set(d, TSR_ESTATE, "%s cannot start a transfer process",
                            tsr_tp_msg_name(msg));
    return tsr_diag_set(d, TSR_ESTATE, "%s from the %s is not allowed in state %s",
                        tsr_tp_msg_name(msg), tsr_tp_role_name(sender), tsr_tp_state_name(cur));
}

bool tsr_tp_is_terminal(enum tsr_tp_state s)
{
    return s == TSR_TP_COMPLETED || s == TSR_TP_TERMINATED;
}

bool tsr_tp_is_repeat(enum tsr_tp_state cur, enum tsr_tp_msg msg, enum tsr_tp_role sender)
{
    /* Every message may be repeated once it had its effect (tp.h says why). */
    return valid_args(cur, msg, sender) && allowed[msg][sender] != 0 && cur == to[msg];
}
