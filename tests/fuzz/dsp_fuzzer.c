/*
 * tests/fuzz/dsp_fuzzer.c: libFuzzer target for the DSP message parser
 * (contracts/dsp.c): every message type a peer can send us, and the
 * acknowledgements and errors we read back from peers.
 *
 * Input: byte 0 picks the type the caller expects (one of the types, or
 * "any"); the rest is the JSON body as it arrives on the wire, parsed
 * with the connector's JSON limits.
 *
 * Besides "no crash, no leak" it checks, aborting when one fails:
 *   - a refusal comes with a message, a success without;
 *   - a message accepted as "any" is accepted again when its own type is
 *     expected, with the same fields, and (when its @type is one string)
 *     refused when another type is;
 *   - parsing is deterministic and leaves the document unchanged;
 *   - the state-machine mappings answer for every accepted message of
 *     their protocol and refuse the others;
 *   - an accepted offer or agreement equals itself (policy comparison).
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "contracts/dsp.h"
#include "lib/err.h"
#include "lib/json.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "dsp_fuzzer: property violated: %s\n", what);
    abort();
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool is_neg(enum tsr_dsp_type t)
{
    return t >= TSR_DSP_CONTRACT_REQUEST && t <= TSR_DSP_NEGOTIATION_TERMINATION;
}

static bool is_tp(enum tsr_dsp_type t)
{
    return t >= TSR_DSP_TRANSFER_REQUEST && t <= TSR_DSP_TRANSFER_TERMINATION;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tsr_dsp_msg m, m2;
    struct tsr_diag d;
    json_t *doc = NULL;

    if (size < 1 || size > MAX_INPUT)
        return 0;
    enum tsr_dsp_type want = (enum tsr_dsp_type)(data[0] % (TSR_DSP_TYPE_COUNT + 1));
    if (tsr_json_parse((const char *)data + 1, size - 1, NULL, &doc, NULL) != 0)
        return 0;
    char *before = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

    tsr_diag_clear(&d);
    int rc = tsr_dsp_parse(doc, want, &m, &d);
    if ((rc != 0) != (d.msg[0] != '\0'))
        fail("a refusal without a message or a success with one");
    if (rc != 0 && rc != TSR_EINVAL)
        fail("an error other than TSR_EINVAL");
    if (tsr_dsp_parse(doc, want, &m2, NULL) != rc)
        fail("not deterministic");
    if (rc == 0) {
        if (want != TSR_DSP_ANY && m.type != want)
            fail("accepted as another type than expected");
        if (tsr_dsp_parse(doc, m.type, &m2, NULL) != 0)
            fail("accepted as any, refused as its own type");
        if (!same_str(m.consumer_pid, m2.consumer_pid) ||
            !same_str(m.provider_pid, m2.provider_pid) || !same_str(m.state, m2.state) ||
            !same_str(m.agreement_id, m2.agreement_id) || m.offer != m2.offer)
            fail("different fields when parsed as its own type");
        enum tsr_dsp_type other = (enum tsr_dsp_type)((m.type + 1) % TSR_DSP_TYPE_COUNT);
        /* One @type string names one type (an array or none may fit several). */
        if (json_is_string(json_object_get(doc, "@type")) && other != TSR_DSP_VERSION &&
            tsr_dsp_parse(doc, other, &m2, NULL) == 0)
            fail("accepted as two different types");

        enum tsr_neg_msg nm;
        enum tsr_tp_msg tm;
        if ((tsr_dsp_neg_msg(&m, &nm) == 0) != is_neg(m.type))
            fail("negotiation mapping disagrees with the type");
        if ((tsr_dsp_tp_msg(&m, &tm) == 0) != is_tp(m.type))
            fail("transfer mapping disagrees with the type");
        if (m.offer != NULL && tsr_dsp_policy_equal(m.offer, m.offer) != 1)
            fail("an offer differs from itself");
        if (m.offer != NULL && tsr_dsp_policy_rules_equal(m.offer, m.offer) != 1)
            fail("an offer's rules differ from themselves");
        if (m.agreement != NULL && tsr_dsp_policy_equal(m.agreement, m.agreement) != 1)
            fail("an agreement differs from itself");
        if (m.data_address != NULL) {
            (void)tsr_dsp_endpoint_property(m.data_address, "authorization");
            (void)tsr_dsp_endpoint_property(m.data_address, "");
        }
    }
    char *after = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (before != NULL && after != NULL && strcmp(before, after) != 0)
        fail("the parser changed the document");
    free(before);
    free(after);
    json_decref(doc);
    return 0;
}
