/*
 * tests/unit/contracts/test_dsp.c: DSP 2025-1 messages.  Every example of
 * the spec parses as its type; each loses a required property and is
 * refused naming it; wrong @type, @context and JSON types are refused;
 * unknown extras are accepted; random damage never crashes the parser.
 * Every builder's output parses back (and, with TSR_DSP_OUT=DIR, is
 * written there for tests/contracts/dsp_schema.sh to check against the
 * spec's schemas); policy equality ignores what JSON-LD ignores.
 *
 * The examples are read from $top_srcdir/tests/data/dsp.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "contracts/dsp.h"
#include "lib/err.h"
#include "lib/json.h"

#define MAX_REQ 8

/*
 * Each example, the type it belongs to, and the properties it cannot lose
 * (what the type's schema requires; for the "one of two" rules, the one
 * this example carries).
 */
static const struct example {
    const char *file;
    enum tsr_dsp_type type;
    const char *required[MAX_REQ];
} examples[] = {
    {"catalog/example/catalog-error.json", TSR_DSP_CATALOG_ERROR, {"@context", "@type"}},
    {"catalog/example/catalog-request-message.json", TSR_DSP_CATALOG_REQUEST,
     {"@context", "@type"}},
    {"catalog/example/catalog.json", TSR_DSP_CATALOG,
     {"@context", "@type", "@id", "participantId"}},
    {"catalog/example/nested-catalog.json", TSR_DSP_CATALOG,
     {"@context", "@type", "@id", "participantId"}},
    {"catalog/example/dataset-request-message.json", TSR_DSP_DATASET_REQUEST,
     {"@context", "@type", "dataset"}},
    {"catalog/example/dataset.json", TSR_DSP_DATASET,
     {"@context", "@id", "hasPolicy", "distribution"}},
    {"common/example/protocol-version.json", TSR_DSP_VERSION, {"protocolVersions"}},
    {"negotiation/example/contract-agreement-message.json", TSR_DSP_CONTRACT_AGREEMENT,
     {"@context", "@type", "providerPid", "consumerPid", "agreement"}},
    {"negotiation/example/contract-agreement-message-full.json", TSR_DSP_CONTRACT_AGREEMENT,
     {"@context", "@type", "providerPid", "consumerPid", "agreement"}},
    {"negotiation/example/contract-agreement-verification-message.json",
     TSR_DSP_AGREEMENT_VERIFICATION, {"@context", "@type", "providerPid", "consumerPid"}},
    {"negotiation/example/contract-negotiation-error.json", TSR_DSP_NEGOTIATION_ERROR,
     {"@context", "@type", "providerPid", "consumerPid"}},
    {"negotiation/example/contract-negotiation-event-message.json", TSR_DSP_NEGOTIATION_EVENT,
     {"@context", "@type", "providerPid", "consumerPid", "eventType"}},
    {"negotiation/example/contract-negotiation-termination-message.json",
     TSR_DSP_NEGOTIATION_TERMINATION, {"@context", "@type", "providerPid", "consumerPid"}},
    {"negotiation/example/contract-negotiation.json", TSR_DSP_NEGOTIATION,
     {"@context", "@type", "providerPid", "consumerPid", "state"}},
    {"negotiation/example/contract-offer-message.json", TSR_DSP_CONTRACT_OFFER,
     {"@context", "@type", "providerPid", "offer", "consumerPid"}},
    {"negotiation/example/contract-offer-message_initial.json", TSR_DSP_CONTRACT_OFFER,
     {"@context", "@type", "providerPid", "offer", "callbackAddress"}},
    {"negotiation/example/contract-request-message.json", TSR_DSP_CONTRACT_REQUEST,
     {"@context", "@type", "consumerPid", "offer", "providerPid"}},
    {"negotiation/example/contract-request-message_initial.json", TSR_DSP_CONTRACT_REQUEST,
     {"@context", "@type", "consumerPid", "offer", "callbackAddress"}},
    {"transfer/example/transfer-completion-message.json", TSR_DSP_TRANSFER_COMPLETION,
     {"@context", "@type", "providerPid", "consumerPid"}},
    {"transfer/example/transfer-error.json", TSR_DSP_TRANSFER_ERROR,
     {"@context", "@type", "providerPid", "consumerPid"}},
    {"transfer/example/transfer-process.json", TSR_DSP_TRANSFER_PROCESS,
     {"@context", "@type", "providerPid", "consumerPid", "state"}},
    {"transfer/example/transfer-request-message.json", TSR_DSP_TRANSFER_REQUEST,
     {"@context", "@type", "consumerPid", "agreementId", "format", "callbackAddress"}},
    {"transfer/example/transfer-start-message.json", TSR_DSP_TRANSFER_START,
     {"@context", "@type", "providerPid", "consumerPid"}},
    {"transfer/example/transfer-suspension-message.json", TSR_DSP_TRANSFER_SUSPENSION,
     {"@context", "@type", "providerPid", "consumerPid"}},
    {"transfer/example/transfer-termination-message.json", TSR_DSP_TRANSFER_TERMINATION,
     {"@context", "@type", "providerPid", "consumerPid"}},
};

/* The schema file of each type, to cross-check the lists above. */
static const char *const schema_of[TSR_DSP_TYPE_COUNT] = {
    [TSR_DSP_CATALOG_REQUEST] = "catalog/catalog-request-message-schema.json",
    [TSR_DSP_DATASET_REQUEST] = "catalog/dataset-request-message-schema.json",
    [TSR_DSP_CATALOG] = "catalog/catalog-schema.json",
    [TSR_DSP_DATASET] = "catalog/dataset-schema.json",
    [TSR_DSP_CATALOG_ERROR] = "catalog/catalog-error-schema.json",
    [TSR_DSP_CONTRACT_REQUEST] = "negotiation/contract-request-message-schema.json",
    [TSR_DSP_CONTRACT_OFFER] = "negotiation/contract-offer-message-schema.json",
    [TSR_DSP_CONTRACT_AGREEMENT] = "negotiation/contract-agreement-message-schema.json",
    [TSR_DSP_AGREEMENT_VERIFICATION] =
        "negotiation/contract-agreement-verification-message-schema.json",
    [TSR_DSP_NEGOTIATION_EVENT] = "negotiation/contract-negotiation-event-message-schema.json",
    [TSR_DSP_NEGOTIATION_TERMINATION] =
        "negotiation/contract-negotiation-termination-message-schema.json",
    [TSR_DSP_NEGOTIATION] = "negotiation/contract-negotiation-schema.json",
    [TSR_DSP_NEGOTIATION_ERROR] = "negotiation/contract-negotiation-error-schema.json",
    [TSR_DSP_TRANSFER_REQUEST] = "transfer/transfer-request-message-schema.json",
    [TSR_DSP_TRANSFER_START] = "transfer/transfer-start-message-schema.json",
    [TSR_DSP_TRANSFER_COMPLETION] = "transfer/transfer-completion-message-schema.json",
    [TSR_DSP_TRANSFER_SUSPENSION] = "transfer/transfer-suspension-message-schema.json",
    [TSR_DSP_TRANSFER_TERMINATION] = "transfer/transfer-termination-message-schema.json",
    [TSR_DSP_TRANSFER_PROCESS] = "transfer/transfer-process-schema.json",
    [TSR_DSP_TRANSFER_ERROR] = "transfer/transfer-error-schema.json",
    [TSR_DSP_VERSION] = "common/protocol-version-schema.json",
};

static json_t *load(const char *rel)
{
    const char *top = getenv("top_srcdir");
    char path[1024];
    struct tsr_diag d;
    json_t *j = NULL;

    snprintf(path, sizeof(path), "%s/tests/data/dsp/%s", top != NULL ? top : ".", rel);
    if (tsr_json_read_file(path, NULL, &j, &d) != 0)
        fail_msg("%s: %s", path, tsr_diag_msg(&d));
    return j;
}

static bool has_required(const struct example *ex, const char *name)
{
    for (int i = 0; i < MAX_REQ && ex->required[i] != NULL; i++) {
        if (strcmp(ex->required[i], name) == 0)
            return true;
    }
    return false;
}

static void test_examples_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(examples); i++) {
        const struct example *ex = &examples[i];
        json_t *j = load(ex->file);
        struct tsr_dsp_msg m;
        struct tsr_diag d;

        tsr_diag_clear(&d);
        if (tsr_dsp_parse(j, ex->type, &m, &d) != 0)
            fail_msg("%s: %s", ex->file, tsr_diag_msg(&d));
        assert_int_equal(m.type, ex->type);
        if (ex->type != TSR_DSP_VERSION && ex->type != TSR_DSP_DATASET) {
            /* and @type alone names the type */
            assert_int_equal(tsr_dsp_parse(j, TSR_DSP_ANY, &m, &d), 0);
            assert_int_equal(m.type, ex->type);
        }
        json_decref(j);
    }
}

/* The values lent for a few examples are the ones in the file. */
static void test_fields(void **state)
{
    struct tsr_dsp_msg m;
    enum tsr_neg_msg nm;
    enum tsr_tp_msg tm;
    json_t *j;

    (void)state;
    j = load("negotiation/example/contract-request-message_initial.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, NULL), 0);
    assert_string_equal(m.consumer_pid, "urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833");
    assert_null(m.provider_pid);
    assert_string_equal(m.callback_address, "https://example.com/callback");
    assert_string_equal(m.offer_id, "urn:uuid:2828282:3dd1add8-4d2d-569e-d634-8394a8836a89");
    assert_string_equal(m.offer_target, "urn:uuid:3dd1add8-4d2d-569e-d634-8394a8836a88");
    assert_ptr_equal(m.offer, json_object_get(j, "offer"));
    assert_int_equal(tsr_dsp_neg_msg(&m, &nm), 0);
    assert_int_equal(nm, TSR_NEG_MSG_CONTRACT_REQUEST);
    assert_int_equal(tsr_dsp_tp_msg(&m, &tm), TSR_EINVAL);
    json_decref(j);

    j = load("negotiation/example/contract-agreement-message.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_AGREEMENT, &m, NULL), 0);
    assert_string_equal(m.agreement_id, "urn:uuid:e8dc8655-44c2-46ef-b701-4cffdc2faa44");
    assert_string_equal(m.provider_pid, "urn:uuid:a343fcbf-99fc-4ce8-8e9b-148c97605aab");
    assert_ptr_equal(m.agreement, json_object_get(j, "agreement"));
    assert_int_equal(tsr_dsp_neg_msg(&m, &nm), 0);
    assert_int_equal(nm, TSR_NEG_MSG_AGREEMENT);
    json_decref(j);

    j = load("negotiation/example/contract-negotiation-event-message.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_NEGOTIATION_EVENT, &m, NULL), 0);
    assert_int_equal(m.event, TSR_NEG_ACCEPTED);
    assert_int_equal(tsr_dsp_neg_msg(&m, &nm), 0);
    assert_int_equal(nm, TSR_NEG_MSG_EVENT_ACCEPTED);
    json_object_set_new(j, "eventType", json_string("dspace:FINALIZED"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_NEGOTIATION_EVENT, &m, NULL), 0);
    assert_int_equal(tsr_dsp_neg_msg(&m, &nm), 0);
    assert_int_equal(nm, TSR_NEG_MSG_EVENT_FINALIZED);
    json_object_set_new(j, "eventType", json_string("AGREED"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_NEGOTIATION_EVENT, &m, NULL), TSR_EINVAL);
    json_decref(j);

    j = load("negotiation/example/contract-negotiation.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_NEGOTIATION, &m, NULL), 0);
    assert_int_equal(m.neg_state, TSR_NEG_REQUESTED);
    assert_string_equal(m.state, "REQUESTED");
    json_object_set_new(j, "state", json_string("STARTED"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_NEGOTIATION, &m, NULL), TSR_EINVAL);
    json_decref(j);

    j = load("transfer/example/transfer-request-message.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_REQUEST, &m, NULL), 0);
    assert_string_equal(m.format, "example:HTTP_PUSH");
    assert_string_equal(m.agreement_id, "urn:uuid:e8dc8655-44c2-46ef-b701-4cffdc2faa44");
    assert_non_null(m.data_address);
    assert_string_equal(tsr_dsp_endpoint_property(m.data_address, "authorization"),
                        "TOKEN-ABCDEFG");
    assert_string_equal(tsr_dsp_endpoint_property(m.data_address, "authType"), "bearer");
    assert_null(tsr_dsp_endpoint_property(m.data_address, "other"));
    assert_null(tsr_dsp_endpoint_property(NULL, "authType"));
    assert_int_equal(tsr_dsp_tp_msg(&m, &tm), 0);
    assert_int_equal(tm, TSR_TP_MSG_TRANSFER_REQUEST);
    json_decref(j);

    j = load("transfer/example/transfer-process.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_PROCESS, &m, NULL), 0);
    assert_int_equal(m.tp_state, TSR_TP_REQUESTED);
    json_decref(j);

    j = load("transfer/example/transfer-termination-message.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_TERMINATION, &m, NULL), 0);
    assert_string_equal(m.code, "99");
    assert_int_equal(json_array_size(m.reason), 1);
    assert_int_equal(tsr_dsp_tp_msg(&m, &tm), 0);
    assert_int_equal(tm, TSR_TP_MSG_TERMINATION);
    json_decref(j);

    j = load("catalog/example/catalog.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CATALOG, &m, NULL), 0);
    assert_string_equal(m.participant_id, "urn:example:DataProviderA");
    assert_int_equal(json_array_size(m.datasets), 1);
    assert_int_equal(json_array_size(m.services), 1);
    json_decref(j);

    j = load("catalog/example/dataset-request-message.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_DATASET_REQUEST, &m, NULL), 0);
    assert_string_equal(m.dataset_id, "urn:uuid:3afeadd8-ed2d-569e-d634-8394a8836d57");
    json_decref(j);

    j = load("common/example/protocol-version.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_VERSION, &m, NULL), 0);
    assert_int_equal(json_array_size(m.versions), 3);
    json_decref(j);
}

/* The lists in examples[] include everything the schemas' own "required" lists name. */
static void test_required_lists_match_schemas(void **state)
{
    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(examples); i++) {
        const struct example *ex = &examples[i];
        json_t *schema = load(schema_of[ex->type]);
        json_t *defs = json_object_get(schema, "definitions");
        const char *name;
        json_t *def;
        int seen = 0;

        json_object_foreach(defs, name, def)
        {
            const char *term = tsr_dsp_type_name(ex->type);
            json_t *req = json_object_get(def, "required");
            size_t k;
            json_t *r;

            if (strcmp(name, term) != 0 &&
                !(strncmp(name, "Root", 4) == 0 && strcmp(name + 4, term) == 0))
                continue;
            json_array_foreach(req, k, r)
            {
                seen++;
                if (!has_required(ex, json_string_value(r)))
                    fail_msg("%s: schema requires %s", ex->file, json_string_value(r));
            }
        }
        /* the transfer termination schema's definition has no list of its own */
        if (ex->type != TSR_DSP_TRANSFER_TERMINATION)
            assert_true(seen > 0);
        json_decref(schema);
    }
}

static void test_missing_required(void **state)
{
    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(examples); i++) {
        const struct example *ex = &examples[i];

        for (int r = 0; r < MAX_REQ && ex->required[r] != NULL; r++) {
            json_t *j = load(ex->file);
            struct tsr_dsp_msg m;
            struct tsr_diag d;
            int rc;

            assert_int_equal(json_object_del(j, ex->required[r]), 0);
            tsr_diag_clear(&d);
            rc = tsr_dsp_parse(j, ex->type, &m, &d);
            if (rc != TSR_EINVAL || strstr(d.msg, ex->required[r]) == NULL ||
                strstr(d.msg, "required") == NULL)
                fail_msg("%s without %s: rc %d, \"%s\"", ex->file, ex->required[r], rc, d.msg);
            /* nothing is lent from a refused message */
            assert_null(m.consumer_pid);
            assert_null(m.offer);
            json_decref(j);
        }
    }
}

/* Required members of nested objects: the message names the path. */
static void test_missing_nested(void **state)
{
    static const struct {
        const char *file;
        enum tsr_dsp_type type;
        const char *object; /* JSON pointer to the object losing a member */
        const char *member;
        const char *says;
    } cases[] = {
        {"negotiation/example/contract-offer-message.json", TSR_DSP_CONTRACT_OFFER, "/offer",
         "target", "ContractOfferMessage: offer.target is required"},
        {"negotiation/example/contract-request-message.json", TSR_DSP_CONTRACT_REQUEST,
         "/offer", "@id", "ContractRequestMessage: offer.@id is required"},
        {"negotiation/example/contract-agreement-message.json", TSR_DSP_CONTRACT_AGREEMENT,
         "/agreement", "assignee", "ContractAgreementMessage: agreement.assignee is required"},
        {"negotiation/example/contract-agreement-message.json", TSR_DSP_CONTRACT_AGREEMENT,
         "/agreement", "@type", "ContractAgreementMessage: agreement.@type is required"},
        {"transfer/example/transfer-start-message.json", TSR_DSP_TRANSFER_START,
         "/dataAddress", "endpointType",
         "TransferStartMessage: dataAddress.endpointType is required"},
        {"transfer/example/transfer-request-message.json", TSR_DSP_TRANSFER_REQUEST,
         "/dataAddress/endpointProperties/1", "value",
         "TransferRequestMessage: dataAddress.endpointProperties[1].value is required"},
        {"catalog/example/catalog.json", TSR_DSP_CATALOG, "/dataset/0", "hasPolicy",
         "Catalog: dataset[0].hasPolicy is required"},
        {"catalog/example/catalog.json", TSR_DSP_CATALOG, "/service/0", "endpointURL",
         "Catalog: service[0].endpointURL is required"},
        {"catalog/example/catalog.json", TSR_DSP_CATALOG, "/dataset/0/hasPolicy/0", "@id",
         "Catalog: dataset[0].hasPolicy[0].@id is required"},
        {"catalog/example/nested-catalog.json", TSR_DSP_CATALOG, "/catalog/0", "@type",
         "Catalog: catalog[0].@type is required"},
        {"catalog/example/dataset.json", TSR_DSP_DATASET, "/distribution/0", "format",
         "Dataset: distribution[0].format is required"},
        {"catalog/example/dataset.json", TSR_DSP_DATASET, "/distribution/0/accessService",
         "endpointURL", "Dataset: distribution[0].accessService.endpointURL is required"},
        {"common/example/protocol-version.json", TSR_DSP_VERSION, "/protocolVersions/2", "path",
         "VersionResponse: protocolVersions[2].path is required"},
    };

    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(cases); i++) {
        json_t *j = load(cases[i].file);
        json_t *o = j;
        struct tsr_dsp_msg m;
        struct tsr_diag d;
        const char *p = cases[i].object;

        /* follow the pointer: "/a/0/b" */
        while (*p == '/') {
            char tok[64];
            size_t n = strcspn(p + 1, "/");

            assert_true(n < sizeof(tok));
            memcpy(tok, p + 1, n);
            tok[n] = '\0';
            o = json_is_array(o) ? json_array_get(o, strtoul(tok, NULL, 10))
                                 : json_object_get(o, tok);
            p += 1 + n;
        }
        assert_non_null(o);
        assert_int_equal(tsr_dsp_parse(j, cases[i].type, &m, NULL), 0);
        assert_int_equal(json_object_del(o, cases[i].member), 0);
        tsr_diag_clear(&d);
        assert_int_equal(tsr_dsp_parse(j, cases[i].type, &m, &d), TSR_EINVAL);
        assert_string_equal(d.msg, cases[i].says);
        json_decref(j);
    }
}

static void test_wrong_type(void **state)
{
    struct tsr_dsp_msg m;
    struct tsr_diag d;
    json_t *j;

    (void)state;
    j = load("negotiation/example/contract-request-message.json");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_REQUEST, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "expected @type TransferRequestMessage, got ContractRequestMessage");
    json_object_set_new(j, "@type", json_string("ContractRequest"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "expected @type ContractRequestMessage, got an unknown type");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_ANY, &m, &d), TSR_EINVAL);
    json_object_set_new(j, "@type", json_integer(3));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "expected @type ContractRequestMessage, got an integer");
    /* other spellings of the right type */
    json_object_set_new(j, "@type", json_string("dspace:ContractRequestMessage"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, &d), 0);
    json_object_set_new(j, "@type",
                        json_string("https://w3id.org/dspace/2025/1/ContractRequestMessage"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, &d), 0);
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_ANY, &m, &d), 0);
    assert_int_equal(m.type, TSR_DSP_CONTRACT_REQUEST);
    json_object_set_new(j, "@type", json_pack("[ss]", "x:Other", "ContractRequestMessage"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, &d), 0);
    /* an older namespace or another vocabulary is not the 2025-1 type */
    json_object_set_new(j, "@type",
                        json_string("https://w3id.org/dspace/v0.8/ContractRequestMessage"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, &d), TSR_EINVAL);
    json_object_set_new(j, "@type", json_string("odrl:ContractRequestMessage"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, &d), TSR_EINVAL);
    json_decref(j);

    j = load("catalog/example/catalog.json");
    json_object_set_new(j, "@type", json_string("dcat:Catalog"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CATALOG, &m, &d), 0);
    json_object_set_new(j, "@type", json_string("http://www.w3.org/ns/dcat#Catalog"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CATALOG, &m, &d), 0);
    json_object_set_new(j, "@type", json_string("dspace:Catalog"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CATALOG, &m, &d), TSR_EINVAL);
    json_decref(j);

    /* a nested @type that is there must be right */
    j = load("negotiation/example/contract-offer-message.json");
    json_object_set_new(json_object_get(j, "offer"), "@type", json_string("Agreement"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_OFFER, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "ContractOfferMessage: offer.@type must be Offer");
    json_object_set_new(json_object_get(j, "offer"), "@type", json_string("odrl:Offer"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_OFFER, &m, &d), 0);
    json_object_del(json_object_get(j, "offer"), "@type");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_OFFER, &m, &d), 0);
    json_decref(j);

    for (int t = 0; t < TSR_DSP_TYPE_COUNT; t++) {
        enum tsr_dsp_type back;

        if (t == TSR_DSP_VERSION) {
            assert_int_equal(tsr_dsp_type_parse(tsr_dsp_type_name(TSR_DSP_VERSION), &back),
                             TSR_EINVAL);
            continue;
        }
        assert_int_equal(tsr_dsp_type_parse(tsr_dsp_type_name((enum tsr_dsp_type)t), &back), 0);
        assert_int_equal(back, t);
    }
    assert_string_equal(tsr_dsp_type_name(TSR_DSP_ANY), "any");
    assert_string_equal(tsr_dsp_type_name((enum tsr_dsp_type)99), "?");
}

static void test_context(void **state)
{
    struct tsr_dsp_msg m;
    struct tsr_diag d;
    json_t *j = load("transfer/example/transfer-completion-message.json");

    (void)state;
    json_object_set_new(j, "@context", json_string(TSR_DSP_CONTEXT));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_COMPLETION, &m, &d), 0);
    json_object_set_new(j, "@context",
                        json_pack("[s{ss}s]", "https://example.com/ctx.jsonld", "ex",
                                  "https://example.com/", TSR_DSP_CONTEXT));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_COMPLETION, &m, &d), 0);
    json_object_set_new(j, "@context",
                        json_pack("[s]", "https://w3id.org/dspace/2024/1/context.jsonld"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_COMPLETION, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "TransferCompletionMessage: @context must include "
                               "https://w3id.org/dspace/2025/1/context.jsonld");
    json_object_set_new(j, "@context", json_object());
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_COMPLETION, &m, &d), TSR_EINVAL);
    json_object_set_new(j, "@context", json_array());
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_COMPLETION, &m, &d), TSR_EINVAL);
    json_decref(j);
}

/* Each top-level member given a value of another JSON type is refused, naming it. */
static void test_wrong_json_types(void **state)
{
    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(examples); i++) {
        const struct example *ex = &examples[i];
        json_t *orig = load(ex->file);
        const char *key;
        json_t *val;

        json_object_foreach(orig, key, val)
        {
            json_t *j = json_deep_copy(orig);
            /* filter may be an object (dsp.h says why), so it gets a string */
            json_t *bad = json_is_string(val) ? json_integer(42)
                          : json_is_array(val) && strcmp(key, "filter") != 0
                              ? json_pack("{si}", "a", 1)
                              : json_string("x");
            struct tsr_dsp_msg m;
            struct tsr_diag d;

            json_object_set_new(j, key, bad);
            tsr_diag_clear(&d);
            if (tsr_dsp_parse(j, ex->type, &m, &d) != TSR_EINVAL || strstr(d.msg, key) == NULL)
                fail_msg("%s with %s of the wrong type: \"%s\"", ex->file, key, d.msg);
            json_decref(j);
        }
        json_decref(orig);
    }
}

static void test_wrong_type_messages(void **state)
{
    struct tsr_dsp_msg m;
    struct tsr_diag d;
    json_t *j = load("transfer/example/transfer-request-message.json");

    (void)state;
    json_object_set_new(j, "format", json_true());
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_REQUEST, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "TransferRequestMessage: format must be a string, not a boolean");
    json_object_set_new(j, "format", json_null()); /* null is absence */
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_TRANSFER_REQUEST, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "TransferRequestMessage: format is required");
    json_decref(j);

    j = load("negotiation/example/contract-negotiation-termination-message.json");
    json_object_set_new(j, "reason", json_string("a sentence, not an array"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_NEGOTIATION_TERMINATION, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg,
                        "ContractNegotiationTerminationMessage: reason must be an array, not a "
                        "string");
    json_decref(j);

    j = load("negotiation/example/contract-agreement-message.json");
    json_object_set_new(json_object_get(j, "agreement"), "permission", json_object());
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_AGREEMENT, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "ContractAgreementMessage: agreement.permission must be an "
                               "array, not an object");
    json_decref(j);

    j = load("catalog/example/catalog-request-message.json");
    json_object_set_new(j, "filter", json_pack("{si}", "limit", 10));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CATALOG_REQUEST, &m, &d), 0);
    assert_true(json_is_object(m.filter));
    json_object_set_new(j, "filter", json_integer(3));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CATALOG_REQUEST, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "CatalogRequestMessage: filter must be an array or an object, "
                               "not an integer");
    json_decref(j);

    assert_int_equal(tsr_dsp_parse(NULL, TSR_DSP_CATALOG, &m, &d), TSR_EINVAL);
    j = json_pack("[s]", "ContractRequestMessage");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_ANY, &m, &d), TSR_EINVAL);
    assert_int_equal(tsr_dsp_parse(j, (enum tsr_dsp_type)77, &m, &d), TSR_EINVAL);
    json_decref(j);
}

/* Both halves of the "one of two" rules, and the leniency dsp.h documents. */
static void test_one_of_two(void **state)
{
    struct tsr_dsp_msg m;
    struct tsr_diag d;
    json_t *j = load("negotiation/example/contract-request-message.json");

    (void)state;
    json_object_set_new(j, "callbackAddress", json_string("https://c.example/cb"));
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, &d), 0);
    json_object_del(j, "providerPid");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, &d), 0);
    json_object_del(j, "callbackAddress");
    assert_int_equal(tsr_dsp_parse(j, TSR_DSP_CONTRACT_REQUEST, &m, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "ContractRequestMessage: providerPid or callbackAddress is "
                               "required");
    json_decref(j);
}

static void test_extras_tolerated(void **state)
{
    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(examples); i++) {
        json_t *j = load(examples[i].file);
        struct tsr_dsp_msg m;
        struct tsr_diag d;

        json_object_set_new(j, "extra", json_pack("{s[ii]}", "x", 1, 2));
        json_object_set_new(j, "dspace:futureProperty", json_string("y"));
        json_object_set_new(j, "https://example.com/vocab#z", json_null());
        if (tsr_dsp_parse(j, examples[i].type, &m, &d) != 0)
            fail_msg("%s with extras: %s", examples[i].file, d.msg);
        json_decref(j);
    }
}

/* ---- random damage */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    /* xorshift64: reproducible, no libc state */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Collect every object and array in v (up to max) into out. */
static size_t containers(json_t *v, json_t **out, size_t n, size_t max)
{
    const char *k;
    json_t *c;
    size_t i;

    if (n >= max || !(json_is_object(v) || json_is_array(v)))
        return n;
    out[n++] = v;
    if (json_is_object(v)) {
        json_object_foreach(v, k, c)
            n = containers(c, out, n, max);
    } else {
        json_array_foreach(v, i, c)
            n = containers(c, out, n, max);
    }
    return n;
}

static json_t *random_value(void)
{
    switch (next_rand() % 7) {
    case 0:
        return json_integer((json_int_t)(next_rand() % 1000));
    case 1:
        return json_string("urn:x");
    case 2:
        return json_null();
    case 3:
        return json_true();
    case 4:
        return json_array();
    case 5:
        return json_object();
    default:
        return json_real(0.5);
    }
}

static void damage(json_t *root)
{
    json_t *all[256];
    size_t n = containers(root, all, 0, TSR_ARRAY_SIZE(all));
    json_t *c = all[next_rand() % n];
    size_t size = json_is_object(c) ? json_object_size(c) : json_array_size(c);
    size_t pick;

    if (size == 0)
        return;
    pick = next_rand() % size;
    if (json_is_array(c)) {
        if (next_rand() % 2)
            json_array_remove(c, pick);
        else
            json_array_set_new(c, pick, random_value());
        return;
    }
    {
        void *it = json_object_iter(c);
        const char *key;

        for (size_t i = 0; i < pick; i++)
            it = json_object_iter_next(c, it);
        key = json_object_iter_key(it);
        if (next_rand() % 2) {
            json_object_del(c, key);
        } else {
            char copy[128];

            snprintf(copy, sizeof(copy), "%s", key);
            json_object_set_new(c, copy, random_value());
        }
    }
}

/* Touch every lent pointer so ASan sees a dangling one. */
static size_t touch(const struct tsr_dsp_msg *m)
{
    const char *const strs[] = {m->id,         m->consumer_pid, m->provider_pid,
                                m->callback_address, m->offer_id, m->offer_target,
                                m->agreement_id, m->event_type, m->state,
                                m->code,       m->format,       m->dataset_id,
                                m->participant_id};
    size_t n = 0;

    for (size_t i = 0; i < TSR_ARRAY_SIZE(strs); i++)
        n += strs[i] != NULL ? strlen(strs[i]) : 0;
    return n;
}

static void test_random_damage(void **state)
{
    size_t accepted = 0, refused = 0;

    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(examples); i++) {
        json_t *orig = load(examples[i].file);

        for (int round = 0; round < 300; round++) {
            json_t *j = json_deep_copy(orig);
            int hits = 1 + (int)(next_rand() % 4);
            struct tsr_dsp_msg m;
            struct tsr_diag d;
            int rc;

            for (int h = 0; h < hits; h++)
                damage(j);
            rc = tsr_dsp_parse(j, examples[i].type, &m, &d);
            assert_true(rc == 0 || rc == TSR_EINVAL);
            if (rc == 0) {
                accepted++;
                touch(&m);
            } else {
                refused++;
                assert_true(strlen(d.msg) > 0);
            }
            rc = tsr_dsp_parse(j, TSR_DSP_ANY, &m, &d);
            assert_true(rc == 0 || rc == TSR_EINVAL);
            json_decref(j);
        }
        json_decref(orig);
    }
    /* the damage both breaks messages and leaves some intact (optional parts) */
    assert_true(accepted > 0);
    assert_true(refused > 0);
}

/* ---- builders */

static const char *out_dir;
static char tmp_dir[256];
static char written[64][64]; /* names written into tmp_dir, to remove them */
static size_t n_written;

/* Parse a built message back as its type, write it out, and release it. */
static void emit(const char *name, json_t *msg, enum tsr_dsp_type type)
{
    struct tsr_dsp_msg m;
    struct tsr_diag d;
    char path[512];

    if (msg == NULL)
        fail_msg("%s: builder returned NULL", name);
    if (tsr_dsp_parse(msg, type, &m, &d) != 0)
        fail_msg("%s: %s", name, d.msg);
    snprintf(path, sizeof(path), "%s/%s.json", out_dir, name);
    if (tsr_json_write_file(path, msg, &d) != 0)
        fail_msg("%s: %s", path, d.msg);
    if (n_written < TSR_ARRAY_SIZE(written))
        snprintf(written[n_written++], sizeof(written[0]), "%s.json", name);
    json_decref(msg);
}

static json_t *sample_offer(void)
{
    return json_pack("{ss ss ss ss s[{ss s[{ss ss ss}]}]}", "@context", TSR_DSP_CONTEXT, "@id",
                     "urn:uuid:offer-1", "@type", "Offer", "target", "urn:uuid:asset-1",
                     "permission", "action", "use", "constraint", "leftOperand", "dateTime",
                     "operator", "lteq", "rightOperand", "2030-01-01T00:00:00Z");
}

static int setup_out(void **state)
{
    (void)state;
    out_dir = getenv("TSR_DSP_OUT");
    if (out_dir != NULL && out_dir[0] != '\0')
        return 0;
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tsr-dsp.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmp_dir) == NULL)
        return -1;
    out_dir = tmp_dir;
    return 0;
}

static int teardown_out(void **state)
{
    int dfd, rc = 0;

    (void)state;
    if (out_dir != tmp_dir)
        return 0;
    if ((dfd = open(tmp_dir, O_RDONLY | O_DIRECTORY)) < 0)
        return -1;
    for (size_t i = 0; i < n_written; i++) {
        if (unlinkat(dfd, written[i], 0) != 0 && errno != ENOENT)
            rc = -1;
    }
    close(dfd);
    return rc == 0 ? rmdir(tmp_dir) : rc;
}

static void test_build_negotiation(void **state)
{
    json_t *offer = sample_offer();
    json_t *ag, *msg;
    struct tsr_dsp_msg m;

    (void)state;
    emit("contract-negotiation", tsr_dsp_negotiation("urn:c:1", "urn:p:1", TSR_NEG_VERIFIED),
         TSR_DSP_NEGOTIATION);
    assert_null(tsr_dsp_negotiation("urn:c:1", "urn:p:1", TSR_NEG_INITIAL));
    assert_null(tsr_dsp_negotiation(NULL, "urn:p:1", TSR_NEG_REQUESTED));

    msg = tsr_dsp_contract_request("urn:c:1", NULL, offer, "https://c.example/cb");
    assert_int_equal(tsr_dsp_parse(msg, TSR_DSP_CONTRACT_REQUEST, &m, NULL), 0);
    assert_null(m.provider_pid);
    assert_string_equal(m.callback_address, "https://c.example/cb");
    assert_string_equal(m.offer_id, "urn:uuid:offer-1");
    emit("contract-request-initial", msg, TSR_DSP_CONTRACT_REQUEST);
    msg = tsr_dsp_contract_request("urn:c:1", "urn:p:1", offer, "https://c.example/cb");
    assert_int_equal(tsr_dsp_parse(msg, TSR_DSP_CONTRACT_REQUEST, &m, NULL), 0);
    assert_null(m.callback_address); /* the schema wants exactly one of the two */
    emit("contract-request-counter", msg, TSR_DSP_CONTRACT_REQUEST);
    assert_null(tsr_dsp_contract_request("urn:c:1", NULL, offer, NULL));
    assert_null(tsr_dsp_contract_request("urn:c:1", NULL, NULL, "https://c.example/cb"));

    emit("contract-offer-initial",
         tsr_dsp_contract_offer("urn:p:1", NULL, offer, "https://p.example/cb"),
         TSR_DSP_CONTRACT_OFFER);
    emit("contract-offer", tsr_dsp_contract_offer("urn:p:1", "urn:c:1", offer, NULL),
         TSR_DSP_CONTRACT_OFFER);
    assert_null(tsr_dsp_contract_offer("urn:p:1", NULL, offer, NULL));

    ag = tsr_dsp_agreement("urn:uuid:agreement-1", "did:web:p.example", "did:web:c.example",
                           "urn:uuid:asset-1", "2025-06-01T12:00:00Z", offer);
    assert_non_null(ag);
    assert_string_equal(json_string_value(json_object_get(ag, "@type")), "Agreement");
    assert_string_equal(json_string_value(json_object_get(ag, "@id")), "urn:uuid:agreement-1");
    assert_null(json_object_get(ag, "@context"));
    assert_int_equal(tsr_dsp_policy_rules_equal(ag, offer), 1);
    msg = tsr_dsp_contract_agreement("urn:p:1", "urn:c:1", ag);
    assert_int_equal(tsr_dsp_parse(msg, TSR_DSP_CONTRACT_AGREEMENT, &m, NULL), 0);
    assert_string_equal(m.agreement_id, "urn:uuid:agreement-1");
    emit("contract-agreement", msg, TSR_DSP_CONTRACT_AGREEMENT);
    assert_null(tsr_dsp_agreement("urn:uuid:a", "x", "y", "z", NULL, offer));
    assert_null(tsr_dsp_contract_agreement("urn:p:1", "urn:c:1", NULL));
    json_decref(ag);

    emit("contract-agreement-verification", tsr_dsp_agreement_verification("urn:p:1", "urn:c:1"),
         TSR_DSP_AGREEMENT_VERIFICATION);
    msg = tsr_dsp_negotiation_event("urn:p:1", "urn:c:1", TSR_NEG_ACCEPTED);
    assert_int_equal(tsr_dsp_parse(msg, TSR_DSP_NEGOTIATION_EVENT, &m, NULL), 0);
    assert_int_equal(m.event, TSR_NEG_ACCEPTED);
    emit("contract-negotiation-event-accepted", msg, TSR_DSP_NEGOTIATION_EVENT);
    emit("contract-negotiation-event-finalized",
         tsr_dsp_negotiation_event("urn:p:1", "urn:c:1", TSR_NEG_FINALIZED),
         TSR_DSP_NEGOTIATION_EVENT);
    assert_null(tsr_dsp_negotiation_event("urn:p:1", "urn:c:1", TSR_NEG_AGREED));
    emit("contract-negotiation-termination",
         tsr_dsp_negotiation_termination("urn:p:1", "urn:c:1", "409", "no longer wanted"),
         TSR_DSP_NEGOTIATION_TERMINATION);
    emit("contract-negotiation-termination-bare",
         tsr_dsp_negotiation_termination("urn:p:1", "urn:c:1", NULL, NULL),
         TSR_DSP_NEGOTIATION_TERMINATION);
    json_decref(offer);
}

static void test_build_errors(void **state)
{
    json_t *e;

    (void)state;
    emit("contract-negotiation-error",
         tsr_dsp_error(TSR_DSP_ERR_NEGOTIATION, "urn:c:1", "urn:p:1", "400",
                       "ContractAgreementMessage is not allowed in state REQUESTED"),
         TSR_DSP_NEGOTIATION_ERROR);
    e = tsr_dsp_error(TSR_DSP_ERR_NEGOTIATION, NULL, NULL, "400", "malformed");
    assert_string_equal(json_string_value(json_object_get(e, "providerPid")), "");
    emit("contract-negotiation-error-nopids", e, TSR_DSP_NEGOTIATION_ERROR);
    emit("transfer-error", tsr_dsp_error(TSR_DSP_ERR_TRANSFER, "urn:c:1", "urn:p:1", NULL, NULL),
         TSR_DSP_TRANSFER_ERROR);
    e = tsr_dsp_error(TSR_DSP_ERR_CATALOG, "urn:c:1", "urn:p:1", "403", "not for you");
    assert_null(json_object_get(e, "consumerPid"));
    emit("catalog-error", e, TSR_DSP_CATALOG_ERROR);
    assert_null(tsr_dsp_error((enum tsr_dsp_error_kind)9, NULL, NULL, NULL, NULL));
}

static void test_build_transfer(void **state)
{
    json_t *da = tsr_dsp_data_address("https://p.example/data/1", "TOKEN", "bearer");
    json_t *bare = tsr_dsp_data_address("https://c.example/in", NULL, NULL);
    json_t *msg;
    struct tsr_dsp_msg m;

    (void)state;
    assert_string_equal(tsr_dsp_endpoint_property(da, "authorization"), "TOKEN");
    assert_string_equal(tsr_dsp_endpoint_property(da, "authType"), "bearer");
    /* The EDC-named copies (contracts/dsp.h), and none for what was not given. */
    assert_string_equal(tsr_dsp_endpoint_property(da, TSR_DSP_EDC_NS "endpoint"),
                        "https://p.example/data/1");
    assert_string_equal(tsr_dsp_endpoint_property(da, TSR_DSP_EDC_NS "authorization"), "TOKEN");
    assert_string_equal(tsr_dsp_endpoint_property(da, TSR_DSP_EDC_NS "authType"), "bearer");
    assert_string_equal(tsr_dsp_endpoint_property(bare, TSR_DSP_EDC_NS "endpoint"),
                        "https://c.example/in");
    assert_null(tsr_dsp_endpoint_property(bare, "authorization"));
    assert_int_equal(json_array_size(json_object_get(bare, "endpointProperties")), 1);
    emit("transfer-process", tsr_dsp_transfer_process("urn:c:2", "urn:p:2", TSR_TP_SUSPENDED),
         TSR_DSP_TRANSFER_PROCESS);
    assert_null(tsr_dsp_transfer_process("urn:c:2", "urn:p:2", TSR_TP_INITIAL));
    emit("transfer-request", tsr_dsp_transfer_request("urn:c:2", "urn:uuid:agreement-1",
                                                      "HttpData-PULL", "https://c.example/cb",
                                                      NULL),
         TSR_DSP_TRANSFER_REQUEST);
    msg = tsr_dsp_transfer_request("urn:c:2", "urn:uuid:agreement-1", "HttpData-PUSH",
                                   "https://c.example/cb", bare);
    assert_int_equal(tsr_dsp_parse(msg, TSR_DSP_TRANSFER_REQUEST, &m, NULL), 0);
    assert_string_equal(m.format, "HttpData-PUSH");
    assert_non_null(m.data_address);
    emit("transfer-request-push", msg, TSR_DSP_TRANSFER_REQUEST);
    msg = tsr_dsp_transfer_start("urn:p:2", "urn:c:2", da);
    assert_int_equal(tsr_dsp_parse(msg, TSR_DSP_TRANSFER_START, &m, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(m.data_address, "endpoint")),
                        "https://p.example/data/1");
    emit("transfer-start", msg, TSR_DSP_TRANSFER_START);
    emit("transfer-start-resume", tsr_dsp_transfer_start("urn:p:2", "urn:c:2", NULL),
         TSR_DSP_TRANSFER_START);
    emit("transfer-completion", tsr_dsp_transfer_completion("urn:p:2", "urn:c:2"),
         TSR_DSP_TRANSFER_COMPLETION);
    emit("transfer-suspension", tsr_dsp_transfer_suspension("urn:p:2", "urn:c:2", "1", "pause"),
         TSR_DSP_TRANSFER_SUSPENSION);
    emit("transfer-termination",
         tsr_dsp_transfer_termination("urn:p:2", "urn:c:2", NULL, "agreement expired"),
         TSR_DSP_TRANSFER_TERMINATION);
    assert_null(tsr_dsp_transfer_completion("urn:p:2", NULL));
    assert_null(tsr_dsp_data_address(NULL, NULL, NULL));
    json_decref(da);
    json_decref(bare);
}

static void test_build_catalog(void **state)
{
    json_t *offer = sample_offer();
    json_t *offer2 = json_pack("{ss s[{ss}]}", "@id", "urn:uuid:offer-2", "prohibition",
                               "action", "distribute");
    const json_t *offers[] = {offer, offer2};
    const char *const kw[] = {"weather", "open"};
    const char *const formats[] = {"HttpData-PULL", "HttpData-PUSH"};
    struct tsr_dsp_dataset_in ds[2] = {
        {"urn:uuid:asset-1", "Weather", "Hourly readings", kw, 2, offers, 2, formats, 2},
        {"urn:uuid:asset-2", NULL, NULL, NULL, 0, offers, 1, formats, 1},
    };
    struct tsr_dsp_service_in svc = {"urn:uuid:service-1", "https://p.example/dsp/2025-1"};
    struct tsr_dsp_msg m;
    json_t *cat, *root, *first;
    json_t *filter = json_array();

    (void)state;
    emit("catalog-request", tsr_dsp_catalog_request(NULL), TSR_DSP_CATALOG_REQUEST);
    emit("catalog-request-filter", tsr_dsp_catalog_request(filter), TSR_DSP_CATALOG_REQUEST);
    emit("dataset-request", tsr_dsp_dataset_request("urn:uuid:asset-1"),
         TSR_DSP_DATASET_REQUEST);

    cat = tsr_dsp_catalog("urn:uuid:catalog-1", "did:web:p.example", &svc, ds, 2);
    assert_int_equal(tsr_dsp_parse(cat, TSR_DSP_CATALOG, &m, NULL), 0);
    assert_int_equal(json_array_size(m.datasets), 2);
    first = json_array_get(m.datasets, 0);
    /* offers inside a dataset lose target and @context, gain @type Offer */
    assert_null(json_object_get(json_array_get(json_object_get(first, "hasPolicy"), 0),
                                "target"));
    assert_null(json_object_get(json_array_get(json_object_get(first, "hasPolicy"), 0),
                                "@context"));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(first, "hasPolicy"), 1), "@type")),
                        "Offer");
    assert_int_equal(tsr_dsp_policy_rules_equal(
                         json_array_get(json_object_get(first, "hasPolicy"), 0), offer),
                     1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(first, "distribution"), 1),
                            "accessService")),
                        "urn:uuid:service-1");
    assert_int_equal(json_array_size(json_object_get(first, "dcat:keyword")), 2);
    emit("catalog", cat, TSR_DSP_CATALOG);
    cat = tsr_dsp_catalog("urn:uuid:catalog-2", "did:web:p.example", &svc, NULL, 0);
    assert_null(json_object_get(cat, "dataset"));
    emit("catalog-empty", cat, TSR_DSP_CATALOG);

    root = tsr_dsp_dataset(&ds[0], &svc);
    assert_int_equal(tsr_dsp_parse(root, TSR_DSP_DATASET, &m, NULL), 0);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_array_get(m.distributions, 0), "accessService"), "endpointURL")),
        "https://p.example/dsp/2025-1");
    emit("dataset", root, TSR_DSP_DATASET);
    ds[1].n_offers = 0;
    assert_null(tsr_dsp_dataset(&ds[1], &svc));
    assert_null(tsr_dsp_catalog("urn:uuid:catalog-3", "did:web:p.example", &svc, ds, 2));

    emit("protocol-version", tsr_dsp_version_doc("/2025-1", "did:web"), TSR_DSP_VERSION);
    assert_null(tsr_dsp_version_doc(NULL, NULL));
    json_decref(filter);
    json_decref(offer);
    json_decref(offer2);
}

/* ---- policy equality */

static json_t *js(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);

    if (j == NULL)
        fail_msg("bad test JSON: %s: %s", text, err.text);
    return j;
}

static int peq(const char *a, const char *b)
{
    json_t *ja = js(a), *jb = js(b);
    int r = tsr_dsp_policy_equal(ja, jb);

    /* symmetric */
    assert_int_equal(tsr_dsp_policy_equal(jb, ja), r);
    json_decref(ja);
    json_decref(jb);
    return r;
}

static void test_policy_equal(void **state)
{
    const char *base = "{\"@id\":\"o1\",\"@type\":\"Offer\",\"target\":\"a\",\"permission\":"
                       "[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"count\","
                       "\"operator\":\"lteq\",\"rightOperand\":5},{\"leftOperand\":\"purpose\","
                       "\"operator\":\"eq\",\"rightOperand\":\"research\"}]}]}";

    (void)state;
    assert_int_equal(peq(base, base), 1);
    /* key order, @context, single value, odrl prefixes, IRI, array order, 5 == 5.0 */
    assert_int_equal(
        peq(base, "{\"@context\":[\"x\"],\"permission\":{\"odrl:action\":\"odrl:use\","
                  "\"constraint\":[{\"operator\":\"eq\",\"rightOperand\":\"research\","
                  "\"leftOperand\":\"purpose\"},{\"leftOperand\":"
                  "\"http://www.w3.org/ns/odrl/2/count\",\"operator\":\"lteq\",\"rightOperand\":"
                  "5.0}]},\"target\":[\"a\"],\"@type\":\"odrl:Offer\",\"@id\":\"o1\"}"),
        1);
    assert_int_equal(peq("{\"action\":{\"@id\":\"odrl:use\"}}", "{\"action\":\"use\"}"), 1);
    assert_int_equal(peq("{\"v\":{\"@value\":\"x\"}}", "{\"v\":\"x\"}"), 1);
    /* real differences */
    assert_int_equal(peq(base, "{\"@id\":\"o2\",\"@type\":\"Offer\",\"target\":\"a\","
                               "\"permission\":[{\"action\":\"use\",\"constraint\":[{"
                               "\"leftOperand\":\"count\",\"operator\":\"lteq\","
                               "\"rightOperand\":5},{\"leftOperand\":\"purpose\",\"operator\":"
                               "\"eq\",\"rightOperand\":\"research\"}]}]}"),
                     0);
    assert_int_equal(peq(base, "{\"@id\":\"o1\",\"@type\":\"Offer\",\"target\":\"a\","
                               "\"permission\":[{\"action\":\"use\",\"constraint\":[{"
                               "\"leftOperand\":\"count\",\"operator\":\"lteq\","
                               "\"rightOperand\":6},{\"leftOperand\":\"purpose\",\"operator\":"
                               "\"eq\",\"rightOperand\":\"research\"}]}]}"),
                     0);
    assert_int_equal(peq("{\"a\":[1,1,2]}", "{\"a\":[1,2,2]}"), 0);
    assert_int_equal(peq("{\"a\":[1,2]}", "{\"a\":[2,1]}"), 1);
    assert_int_equal(peq("{\"a\":1}", "{\"a\":1,\"b\":2}"), 0);
    assert_int_equal(peq("{\"a\":\"1\"}", "{\"a\":1}"), 0);
    assert_int_equal(peq("{\"a\":true}", "{\"a\":false}"), 0);
    assert_int_equal(peq("{\"a\":[]}", "{\"a\":{}}"), 0);
    assert_int_equal(peq("{\"action\":\"use\"}", "{\"action\":\"ex:use\"}"), 0);
    assert_int_equal(tsr_dsp_policy_equal(NULL, NULL), 1);
    {
        json_t *j = js(base);

        assert_int_equal(tsr_dsp_policy_equal(j, NULL), 0);
        json_decref(j);
    }
}

static void test_policy_rules_equal(void **state)
{
    json_t *offer = js("{\"@id\":\"o1\",\"@type\":\"Offer\",\"permission\":[{\"action\":"
                       "\"use\"}]}");
    json_t *req = js("{\"@id\":\"o1\",\"@type\":\"Offer\",\"target\":\"a\",\"assigner\":\"p\","
                     "\"permission\":[{\"action\":\"odrl:use\"}],\"prohibition\":[]}");
    json_t *more = js("{\"@id\":\"o1\",\"permission\":[{\"action\":\"use\"}],\"obligation\":"
                      "[{\"action\":\"delete\"}]}");

    (void)state;
    assert_int_equal(tsr_dsp_policy_rules_equal(offer, req), 1);
    assert_int_equal(tsr_dsp_policy_equal(offer, req), 0);
    assert_int_equal(tsr_dsp_policy_rules_equal(offer, more), 0);
    assert_int_equal(tsr_dsp_policy_rules_equal(offer, NULL), 0);
    json_decref(offer);
    json_decref(req);
    json_decref(more);
}

/* A hostile comparison is cut off instead of running for minutes. */
static void test_policy_equal_bounded(void **state)
{
    json_t *a = json_array(), *b = json_array();

    (void)state;
    for (int i = 0; i < 3000; i++) {
        json_array_append_new(a, json_pack("{s[ii]}", "x", 1, 2));
        json_array_append_new(b, json_pack("{s[ii]}", "x", 2, 1));
    }
    assert_int_equal(tsr_dsp_policy_equal(a, b), TSR_ELIMIT);
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_parse),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_required_lists_match_schemas),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_missing_nested),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_context),
        cmocka_unit_test(test_wrong_json_types),
        cmocka_unit_test(test_wrong_type_messages),
        cmocka_unit_test(test_one_of_two),
        cmocka_unit_test(test_extras_tolerated),
        cmocka_unit_test(test_random_damage),
        cmocka_unit_test(test_build_negotiation),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_build_transfer),
        cmocka_unit_test(test_build_catalog),
        cmocka_unit_test(test_policy_equal),
        cmocka_unit_test(test_policy_rules_equal),
        cmocka_unit_test(test_policy_equal_bounded),
    };
    return cmocka_run_group_tests(tests, setup_out, teardown_out);
}
