/*
 * contracts/dsp.h: Dataspace Protocol 2025-1 messages as jansson values:
 * checking what a peer sent and building what we send.  No I/O.
 *
 * Messages are compacted JSON-LD with the DSP 2025-1 context, handled as
 * plain JSON with known terms (no JSON-LD processing).  tsr_dsp_parse
 * enforces what the spec's JSON schemas require of each type (required
 * properties and their JSON types, the @context, the @type), tolerates
 * every unknown extra property, and lends the caller pointers to the
 * common fields.  Every builder's output validates against the schema of
 * its type (tests/contracts/dsp_schema.sh checks it with the spec's own
 * schemas).
 */
#ifndef TSR_CONTRACTS_DSP_H
#define TSR_CONTRACTS_DSP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "contracts/neg.h"
#include "contracts/tp.h"
#include "lib/err.h"

/* The DSP 2025-1 JSON-LD context, required in every message's @context. */
#define TSR_DSP_CONTEXT "https://w3id.org/dspace/2025/1/context.jsonld"
/* The namespace the context maps "dspace:" to. */
#define TSR_DSP_NS "https://w3id.org/dspace/2025/1/"
/* The endpointType of an HTTP data address (the spec's examples use it). */
#define TSR_DSP_ENDPOINT_TYPE_HTTP "https://w3id.org/idsa/v4.1/HTTP"
/* The version string in the version document. */
#define TSR_DSP_VERSION_2025_1 "2025-1"

enum tsr_dsp_type {
    /* catalog protocol */
    TSR_DSP_CATALOG_REQUEST = 0,     /* CatalogRequestMessage */
    TSR_DSP_DATASET_REQUEST,         /* DatasetRequestMessage */
    TSR_DSP_CATALOG,                 /* Catalog (root) */
    TSR_DSP_DATASET,                 /* Dataset (root) */
    TSR_DSP_CATALOG_ERROR,           /* CatalogError */
    /* contract negotiation */
    TSR_DSP_CONTRACT_REQUEST,        /* ContractRequestMessage */
    TSR_DSP_CONTRACT_OFFER,          /* ContractOfferMessage */
    TSR_DSP_CONTRACT_AGREEMENT,      /* ContractAgreementMessage */
    TSR_DSP_AGREEMENT_VERIFICATION,  /* ContractAgreementVerificationMessage */
    TSR_DSP_NEGOTIATION_EVENT,       /* ContractNegotiationEventMessage */
    TSR_DSP_NEGOTIATION_TERMINATION, /* ContractNegotiationTerminationMessage */
    TSR_DSP_NEGOTIATION,             /* ContractNegotiation (the ACK body) */
    TSR_DSP_NEGOTIATION_ERROR,       /* ContractNegotiationError */
    /* transfer process */
    TSR_DSP_TRANSFER_REQUEST,        /* TransferRequestMessage */
    TSR_DSP_TRANSFER_START,          /* TransferStartMessage */
    TSR_DSP_TRANSFER_COMPLETION,     /* TransferCompletionMessage */
    TSR_DSP_TRANSFER_SUSPENSION,     /* TransferSuspensionMessage */
    TSR_DSP_TRANSFER_TERMINATION,    /* TransferTerminationMessage */
    TSR_DSP_TRANSFER_PROCESS,        /* TransferProcess (the ACK body) */
    TSR_DSP_TRANSFER_ERROR,          /* TransferError */
    /* common */
    TSR_DSP_VERSION,                 /* /.well-known/dspace-version document */
    TSR_DSP_ANY,                     /* for tsr_dsp_parse: whatever @type says */
};
#define TSR_DSP_TYPE_COUNT TSR_DSP_ANY

/*
 * The compacted term of a type ("ContractRequestMessage"; "Catalog";
 * "VersionResponse" for the version document, which has no @type; "any"
 * for TSR_DSP_ANY).  Static; "?" outside the enum.
 */
const char *tsr_dsp_type_name(enum tsr_dsp_type t);

/*
 * Map an @type value to a type.  Accepted: the compacted term
 * ("ContractRequestMessage"), the prefixed form the context defines
 * ("dspace:ContractRequestMessage"; "dcat:Catalog", "dcat:Dataset" for
 * the two DCAT classes) and the full IRI
 * ("https://w3id.org/dspace/2025/1/ContractRequestMessage",
 * "http://www.w3.org/ns/dcat#Catalog").  Returns 0 or TSR_EINVAL.
 */
int tsr_dsp_type_parse(const char *s, enum tsr_dsp_type *out);

/*
 * What a parsed message lends the caller.  Every pointer is borrowed from
 * the json_t given to tsr_dsp_parse (valid while it is) and NULL when the
 * message does not carry that property.
 */
struct tsr_dsp_msg {
    enum tsr_dsp_type type;
    const char *id;               /* "@id" of a Catalog or Dataset */
    const char *consumer_pid;     /* "consumerPid" */
    const char *provider_pid;     /* "providerPid" */
    const char *callback_address; /* "callbackAddress" */
    json_t *offer;                /* "offer" object (request and offer messages) */
    const char *offer_id;         /* offer's "@id" */
    const char *offer_target;     /* offer's "target" */
    json_t *agreement;            /* "agreement" object (agreement message) */
    /* agreement's "@id" (agreement message) or "agreementId" (transfer request) */
    const char *agreement_id;
    const char *event_type;       /* "eventType" as written */
    enum tsr_neg_state event;     /* eventType: TSR_NEG_ACCEPTED or TSR_NEG_FINALIZED */
    const char *state;            /* "state" as written (negotiation or transfer process) */
    enum tsr_neg_state neg_state; /* "state" of a ContractNegotiation, else INITIAL */
    enum tsr_tp_state tp_state;   /* "state" of a TransferProcess, else INITIAL */
    const char *code;             /* "code" (errors, termination, suspension) */
    json_t *reason;               /* "reason" array */
    const char *format;           /* "format" of a TransferRequestMessage */
    json_t *data_address;         /* "dataAddress" object (transfer request / start) */
    const char *dataset_id;       /* "dataset" of a DatasetRequestMessage */
    json_t *filter;               /* "filter" of a CatalogRequestMessage: array (or EDC's object) */
    const char *participant_id;   /* "participantId" of a Catalog */
    json_t *datasets;             /* "dataset" array of a Catalog */
    json_t *catalogs;             /* "catalog" array of a Catalog */
    json_t *services;             /* "service" array of a Catalog */
    json_t *distributions;        /* "distribution" array of a Dataset or Catalog */
    json_t *has_policy;           /* "hasPolicy" array of a Dataset */
    json_t *versions;             /* "protocolVersions" array of the version document */
};

/*
 * Check msg as a DSP message of type `expected` (TSR_DSP_ANY: the type its
 * @type names) and fill *out (cleared first; borrowed pointers into msg).
 *
 * Checked: msg is an object; "@context" is a string or an array containing
 * TSR_DSP_CONTEXT (other contexts beside it are fine); "@type" is a string
 * (or an array of strings) naming the type as tsr_dsp_type_parse accepts
 * it; every property the type's JSON schema requires is present with its
 * JSON type, and optional known properties that are present have their
 * type; state and eventType values are ones the schema allows (prefixed
 * and IRI forms accepted).  Policies inside (offer, agreement, hasPolicy)
 * are checked for the properties the schema requires of them (@id, and
 * target/assigner/assignee for an agreement) and that their rules are
 * arrays; the rules themselves are left to the policy engine.  The
 * version document has neither @context nor @type, and a Dataset's
 * @type is optional, as in the schemas.
 *
 * Deliberately lenient where peers differ from the schema harmlessly: a
 * ContractRequestMessage needs callbackAddress or providerPid (the schema
 * says exactly one), a ContractOfferMessage callbackAddress or
 * consumerPid; an offer's @type may be absent (the conformance kit plans
 * to drop it) but if present must be Offer; a CatalogRequestMessage's
 * filter may be one object instead of an array (EDC sends its QuerySpec
 * so, and JSON-LD reads both alike).
 *
 * Returns 0, or TSR_EINVAL with d saying what is wrong, naming the type
 * and the property: "ContractRequestMessage: consumerPid is required",
 * "TransferRequestMessage: format must be a string",
 * "expected @type ContractRequestMessage, got TransferRequestMessage".
 * Never crashes on any JSON value; msg is not modified.
 */
int tsr_dsp_parse(const json_t *msg, enum tsr_dsp_type expected, struct tsr_dsp_msg *out,
                  struct tsr_diag *d);

/*
 * The negotiation state machine message a parsed message stands for
 * (ContractRequestMessage -> TSR_NEG_MSG_CONTRACT_REQUEST, an event by its
 * eventType, ...).  0, or TSR_EINVAL for a type that is not a negotiation
 * message.
 */
int tsr_dsp_neg_msg(const struct tsr_dsp_msg *m, enum tsr_neg_msg *out);

/* Likewise for the transfer process machine. */
int tsr_dsp_tp_msg(const struct tsr_dsp_msg *m, enum tsr_tp_msg *out);

/*
 * The value of the endpoint property `name` ("authorization", "authType")
 * in a data address's endpointProperties, borrowed; NULL when absent or
 * not a string.  data_address may be NULL.
 */
const char *tsr_dsp_endpoint_property(const json_t *data_address, const char *name);

/*
 * Builders.  Each returns a new reference (json_decref it), with
 * "@context": [TSR_DSP_CONTEXT] and the compacted "@type", or NULL when
 * memory runs out, an argument documented as required is NULL, or a
 * string is not valid UTF-8 (jansson refuses it).  String
 * arguments are copied; json_t arguments are deep-copied (never stolen).
 * Optional arguments may be NULL and are then left out.
 */

/* ContractNegotiation (the ACK body): both pids and the state (not INITIAL). */
json_t *tsr_dsp_negotiation(const char *consumer_pid, const char *provider_pid,
                            enum tsr_neg_state state);

/* TransferProcess (the ACK body): both pids and the state (not INITIAL). */
json_t *tsr_dsp_transfer_process(const char *consumer_pid, const char *provider_pid,
                                 enum tsr_tp_state state);

enum tsr_dsp_error_kind {
    TSR_DSP_ERR_NEGOTIATION = 0, /* ContractNegotiationError */
    TSR_DSP_ERR_TRANSFER,        /* TransferError */
    TSR_DSP_ERR_CATALOG,         /* CatalogError (has no pids) */
};

/*
 * An error body.  code (e.g. "400"), reason (a sentence, sent as the
 * one-element "reason" array) are optional.  The negotiation and transfer
 * schemas require both pids: a NULL pid (unknown, e.g. the request was
 * malformed) is sent as "".  The pids are ignored for a CatalogError.
 */
json_t *tsr_dsp_error(enum tsr_dsp_error_kind kind, const char *consumer_pid,
                      const char *provider_pid, const char *code, const char *reason);

/*
 * ContractRequestMessage.  consumer_pid and offer (an ODRL Offer with @id
 * and target) required.  provider_pid NULL: the initial request, then
 * callback_address is required; otherwise a counter-request for that
 * negotiation, and callback_address is left out (the schema allows
 * exactly one of the two).
 */
json_t *tsr_dsp_contract_request(const char *consumer_pid, const char *provider_pid,
                                 const json_t *offer, const char *callback_address);

/*
 * ContractOfferMessage.  provider_pid and offer (with @id and target)
 * required.  consumer_pid NULL: a provider-initiated negotiation, then
 * callback_address is required; otherwise callback_address is left out.
 */
json_t *tsr_dsp_contract_offer(const char *provider_pid, const char *consumer_pid,
                               const json_t *offer, const char *callback_address);

/*
 * The Agreement policy object: @type Agreement, @id agreement_id, target,
 * assigner, assignee, timestamp (XSD dateTime, "2025-01-01T00:00:00Z"),
 * and the rules (permission, prohibition, obligation, profile) copied from
 * offer, whose @id, @type, target, assigner and assignee are replaced.
 * All arguments required.
 */
json_t *tsr_dsp_agreement(const char *agreement_id, const char *assigner, const char *assignee,
                          const char *target, const char *timestamp, const json_t *offer);

/* ContractAgreementMessage around an Agreement object (from tsr_dsp_agreement). All required. */
json_t *tsr_dsp_contract_agreement(const char *provider_pid, const char *consumer_pid,
                                   const json_t *agreement);

/* ContractAgreementVerificationMessage.  Both pids required. */
json_t *tsr_dsp_agreement_verification(const char *provider_pid, const char *consumer_pid);

/*
 * ContractNegotiationEventMessage with eventType ACCEPTED or FINALIZED
 * (event must be TSR_NEG_ACCEPTED or TSR_NEG_FINALIZED, else NULL).
 */
json_t *tsr_dsp_negotiation_event(const char *provider_pid, const char *consumer_pid,
                                  enum tsr_neg_state event);

/* ContractNegotiationTerminationMessage; code and reason optional. */
json_t *tsr_dsp_negotiation_termination(const char *provider_pid, const char *consumer_pid,
                                        const char *code, const char *reason);

/* EDC's namespace, for the names EDC gives data address properties. */
#define TSR_DSP_EDC_NS "https://w3id.org/edc/v0.0.1/ns/"

/*
 * A DataAddress: endpointType TSR_DSP_ENDPOINT_TYPE_HTTP, endpoint
 * (required), and the endpointProperties "authorization" and "authType"
 * when given (e.g. a token and "bearer"), then endpoint, authorization and
 * authType once more as properties named TSR_DSP_EDC_NS "endpoint"... (for
 * EDC consumers).  Note the token ends up in the returned value: wipe what
 * you serialise it into when done.
 */
json_t *tsr_dsp_data_address(const char *endpoint, const char *authorization,
                             const char *auth_type);

/*
 * TransferRequestMessage.  consumer_pid, agreement_id, format (e.g.
 * "HttpData-PULL") and callback_address required; data_address (a push
 * destination) optional.
 */
json_t *tsr_dsp_transfer_request(const char *consumer_pid, const char *agreement_id,
                                 const char *format, const char *callback_address,
                                 const json_t *data_address);

/* TransferStartMessage; data_address (the pull endpoint) optional. */
json_t *tsr_dsp_transfer_start(const char *provider_pid, const char *consumer_pid,
                               const json_t *data_address);

/* TransferCompletionMessage. */
json_t *tsr_dsp_transfer_completion(const char *provider_pid, const char *consumer_pid);

/* TransferSuspensionMessage; code and reason optional. */
json_t *tsr_dsp_transfer_suspension(const char *provider_pid, const char *consumer_pid,
                                    const char *code, const char *reason);

/* TransferTerminationMessage; code and reason optional. */
json_t *tsr_dsp_transfer_termination(const char *provider_pid, const char *consumer_pid,
                                     const char *code, const char *reason);

/* CatalogRequestMessage; filter (an array) optional. */
json_t *tsr_dsp_catalog_request(const json_t *filter);

/* DatasetRequestMessage for dataset_id (required). */
json_t *tsr_dsp_dataset_request(const char *dataset_id);

/* One dataset, from plain inputs, for tsr_dsp_dataset and tsr_dsp_catalog. */
struct tsr_dsp_dataset_in {
    const char *id;                 /* "@id", required */
    const char *title;              /* "dct:title", optional */
    const char *description;        /* "dct:description", optional */
    const char *const *keywords;    /* "dcat:keyword" values, n_keywords of them */
    size_t n_keywords;
    /*
     * The offers ("hasPolicy"), at least one, each an ODRL policy with an
     * @id; copied with "@type": "Offer" and without "target" (the schema
     * forbids a target on an offer inside a dataset) or "@context".
     */
    const json_t *const *offers;
    size_t n_offers;
    const char *const *formats;     /* one distribution per format, at least one */
    size_t n_formats;
};

/* The data service datasets are served through (the connector's DSP endpoint). */
struct tsr_dsp_service_in {
    const char *id;           /* "@id", required */
    const char *endpoint_url; /* "endpointURL", required: the DSP base URL */
};

/*
 * A root Dataset (the answer to a DatasetRequestMessage): with @context,
 * and each distribution's accessService the DataService object.  NULL
 * also when ds has no offer or no format (the schema needs one of each).
 */
json_t *tsr_dsp_dataset(const struct tsr_dsp_dataset_in *ds, const struct tsr_dsp_service_in *svc);

/*
 * A root Catalog: @id catalog_id, participantId, "service" [svc], and
 * "dataset" with the n datasets (left out when n is 0: the schema wants at
 * least one if present), whose distributions reference the service by id.
 * catalog_id, participant_id and svc required.
 */
json_t *tsr_dsp_catalog(const char *catalog_id, const char *participant_id,
                        const struct tsr_dsp_service_in *svc,
                        const struct tsr_dsp_dataset_in *datasets, size_t n);

/*
 * The version document for GET /.well-known/dspace-version: one entry,
 * version 2025-1, binding HTTPS, path (required, e.g. "/2025-1"), and
 * identifierType (e.g. "did:web") when given.
 */
json_t *tsr_dsp_version_doc(const char *path, const char *identifier_type);

/*
 * Canonical equality of two ODRL policies, as JSON-LD would see them with
 * the DSP and ODRL contexts: "@context" ignored at every level; object key
 * order ignored; a single value equals a one-element array holding it;
 * arrays compared as unordered (JSON-LD sets); the prefixes "odrl:" and
 * "http://www.w3.org/ns/odrl/2/" ignored in keys and string values
 * ("odrl:use" == "use"); {"@id": X} and {"@value": X} equal X; numbers
 * compared by value (1 == 1.0).
 *
 * Returns 1 when equal, 0 when not, or TSR_ELIMIT when the comparison
 * would take too long (hostile nesting; treat as "not equal").  Either may
 * be NULL (equal only to NULL).
 */
int tsr_dsp_policy_equal(const json_t *a, const json_t *b);

/*
 * As tsr_dsp_policy_equal, but looking only at the rules ("permission",
 * "prohibition", "obligation"; absent equals an empty array): for "the
 * request's offer is the published offer" (the request adds target and
 * assigner) and "the agreement grants what was offered" (it changes @id,
 * @type and adds assigner, assignee, timestamp).
 */
int tsr_dsp_policy_rules_equal(const json_t *a, const json_t *b);

#endif /* TSR_CONTRACTS_DSP_H */
