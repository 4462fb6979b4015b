/*
 * contracts/neg.c: the contract negotiation state machine (see neg.h for
 * the table it encodes).
 */
#include "lib/tsr.h"

#include <string.h>

#include "contracts/neg.h"
#include "lib/err.h"

/* A message may be sent by this role from these states (a bit per state). */
struct rule {
    enum tsr_neg_role sender;
    unsigned from; /* 1u << state, OR'ed */
    enum tsr_neg_state to;
    bool repeatable; /* see tsr_neg_is_repeat */
};

#define S(x) (1u << TSR_NEG_##x)
#define NONTERMINAL (S(REQUESTED) | S(OFFERED) | S(ACCEPTED) | S(AGREED) | S(VERIFIED))

/*
 * TERMINATION is the one message either side may send; it has two rows,
 * one per sender.  Indexed by message; the second termination row lives
 * in term_provider below.
 */
static const struct rule rules[TSR_NEG_MSG_COUNT] = {
    [TSR_NEG_MSG_CONTRACT_REQUEST] = {TSR_NEG_CONSUMER, S(INITIAL) | S(OFFERED), TSR_NEG_REQUESTED,
                                      false},
    [TSR_NEG_MSG_CONTRACT_OFFER] = {TSR_NEG_PROVIDER, S(INITIAL) | S(REQUESTED), TSR_NEG_OFFERED,
                                    false},
    [TSR_NEG_MSG_EVENT_ACCEPTED] = {TSR_NEG_CONSUMER, S(OFFERED), TSR_NEG_ACCEPTED, true},
    [TSR_NEG_MSG_AGREEMENT] = {TSR_NEG_PROVIDER, S(REQUESTED) | S(ACCEPTED), TSR_NEG_AGREED, true},
    [TSR_NEG_MSG_AGREEMENT_VERIFICATION] = {TSR_NEG_CONSUMER, S(AGREED), TSR_NEG_VERIFIED, true},
    [TSR_NEG_MSG_EVENT_FINALIZED] = {TSR_NEG_PROVIDER, S(VERIFIED), TSR_NEG_FINALIZED, true},
    [TSR_NEG_MSG_TERMINATION] = {TSR_NEG_CONSUMER, NONTERMINAL, TSR_NEG_TERMINATED, true},
};

static const struct rule term_provider = {TSR_NEG_PROVIDER, NONTERMINAL, TSR_NEG_TERMINATED, true};

static const char *const state_names[TSR_NEG_STATE_COUNT] = {
    [TSR_NEG_INITIAL] = "INITIAL",       [TSR_NEG_REQUESTED] = "REQUESTED",
    [TSR_NEG_OFFERED] = "OFFERED",       [TSR_NEG_ACCEPTED] = "ACCEPTED",
    [TSR_NEG_AGREED] = "AGREED",         [TSR_NEG_VERIFIED] = "VERIFIED",
    [TSR_NEG_FINALIZED] = "FINALIZED",   [TSR_NEG_TERMINATED] = "TERMINATED",
};

static const char *const msg_names[TSR_NEG_MSG_COUNT] = {
    [TSR_NEG_MSG_CONTRACT_REQUEST] = "ContractRequestMessage",
    [TSR_NEG_MSG_CONTRACT_OFFER] = "ContractOfferMessage",
    [TSR_NEG_MSG_EVENT_ACCEPTED] = "ContractNegotiationEventMessage ACCEPTED",
    [TSR_NEG_MSG_AGREEMENT] = "ContractAgreementMessage",
    [TSR_NEG_MSG_AGREEMENT_VERIFICATION] = "ContractAgreementVerificationMessage",
    [TSR_NEG_MSG_EVENT_FINALIZED] = "ContractNegotiationEventMessage FINALIZED",
    [TSR_NEG_MSG_TERMINATION] = "ContractNegotiationTerminationMessage",
};

/*
 * The namespaces a state IRI may be written under: 2025-1 is what the
 * context maps "dspace:" to; peers still speaking 2024-1 or v0.8 use the
 * older ones.
 */
static const char *const state_prefixes[] = {
    "dspace:",
    "https://w3id.org/dspace/2025/1/",
    "https://w3id.org/dspace/2024/1/",
    "https://w3id.org/dspace/v0.8/",
};

static bool valid_state(enum tsr_neg_state s)
{
    return (unsigned)s < TSR_NEG_STATE_COUNT;
}

static const struct rule *find_rule(enum tsr_neg_msg msg, enum tsr_neg_role sender)
{
    if ((unsigned)msg >= TSR_NEG_MSG_COUNT || (unsigned)sender >= TSR_NEG_ROLE_COUNT)
        return NULL;
    if (msg == TSR_NEG_MSG_TERMINATION && sender == TSR_NEG_PROVIDER)
        return &term_provider;
    if (rules[msg].sender != sender)
        return NULL;
    return &rules[msg];
}

const char *tsr_neg_state_name(enum tsr_neg_state s)
{
    return valid_state(s) ? state_names[s] : "?";
}

int tsr_neg_state_parse(const char *s, enum tsr_neg_state *out)
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
    /* Start at 1: INITIAL is ours, not the protocol's. */
    for (int i = 1; i < TSR_NEG_STATE_COUNT; i++) {
        if (strcmp(s, state_names[i]) == 0) {
            *out = (enum tsr_neg_state)i;
            return 0;
        }
    }
    return TSR_EINVAL;
}

const char *tsr_neg_role_name(enum tsr_neg_role r)
{
    switch (r) {
    case TSR_NEG_CONSUMER:
        return "consumer";
    case TSR_NEG_PROVIDER:
        return "provider";
    }
    return "?";
}

const char *tsr_neg_msg_name(enum tsr_neg_msg m)
{
    return (unsigned)m < TSR_NEG_MSG_COUNT ? msg_names[m] : "?";
}

int tsr_neg_next(enum tsr_neg_state cur, enum tsr_neg_msg msg, enum tsr_neg_role sender,
                 enum tsr_neg_state *next)
{
    const struct rule *r = find_rule(msg, sender);

    if (r == NULL || !valid_state(cur) || !(r->from & (1u << cur)))
        return TSR_ESTATE;
    *next = r->to;
    return 0;
}

int tsr_neg_check(enum tsr_neg_state cur, enum tsr_neg_msg msg, enum tsr_neg_role sender,
                  enum tsr_neg_state *next, struct tsr_diag *d)
{
    if (tsr_neg_next(cur, msg, sender, next) == 0)
        return 0;
    if (find_rule(msg, sender) == NULL)
        return tsr_diag_set(d, TSR_ESTATE, "%s is never sent by the %s", tsr_neg_msg_name(msg),
                            tsr_neg_role_name(sender));
    if (cur == TSR_NEG_INITIAL)
        return tsr_diag_set(d, TSR_ESTATE, "%s cannot start a contract negotiation",
                            tsr_neg_msg_name(msg));
    return tsr_diag_set(d, TSR_ESTATE, "%s from the %s is not allowed in state %s",
                        tsr_neg_msg_name(msg), tsr_neg_role_name(sender),
                        tsr_neg_state_name(cur));
}

bool tsr_neg_is_terminal(enum tsr_neg_state s)
{
    return s == TSR_NEG_FINALIZED || s == TSR_NEG_TERMINATED;
}

bool tsr_neg_is_repeat(enum tsr_neg_state cur, enum tsr_neg_msg msg, enum tsr_neg_role sender)
{
    const struct rule *r = find_rule(msg, sender);

    return r != NULL && r->repeatable && valid_state(cur) && cur == r->to;
}
