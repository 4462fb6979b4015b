/*
 * contracts/dsp.c: checking and building Dataspace Protocol 2025-1
 * messages (see dsp.h).
 *
 * What each type requires comes from the spec's JSON schemas
 * (tests/data/dsp/): a table gives the top-level properties with their
 * JSON types and the struct tsr_dsp_msg field each one fills; a switch
 * adds what a table cannot say (nested policies, enumerated values, "one
 * of these two").
 */
#include "lib/tsr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "contracts/dsp.h"
#include "contracts/neg.h"
#include "contracts/tp.h"
#include "lib/err.h"

#define ODRL_NS "http://www.w3.org/ns/odrl/2/"
#define DCAT_NS "http://www.w3.org/ns/dcat#"

/* Nested catalogs are followed this deep; a hostile document gets no further. */
#define MAX_CATALOG_DEPTH 8

/* ---------------------------------------------------------------- types */

enum kind {
    K_STR,
    K_OBJ,
    K_ARR,
    K_ARR_OR_OBJ,
};

#define NO_FIELD ((size_t)-1)
#define FIELD(f) offsetof(struct tsr_dsp_msg, f)

struct prop {
    const char *name;
    enum kind kind;
    bool required;
    size_t field; /* where to lend the value: a const char * or json_t * member */
};

struct type_desc {
    const char *term;   /* the compacted term, also the schema's @type const */
    const char *prefix; /* "dspace:" or "dcat:" */
    const char *ns;     /* the IRI the prefix stands for */
    bool bare;          /* the version document: no @context, no @type */
    bool type_optional; /* @type may be absent (Dataset) */
    struct prop props[8];
};

#define DSPACE "dspace:", TSR_DSP_NS
#define DCAT "dcat:", DCAT_NS

/* clang-format off */
#define PIDS {"providerPid", K_STR, true, FIELD(provider_pid)}, \
             {"consumerPid", K_STR, true, FIELD(consumer_pid)}
#define CODE_REASON {"code", K_STR, false, FIELD(code)}, {"reason", K_ARR, false, FIELD(reason)}
/* clang-format on */

static const struct type_desc types[TSR_DSP_TYPE_COUNT] = {
    /*
     * The schema says filter is an array; EDC puts one QuerySpec object
     * there, which JSON-LD reads as the same one-element set.
     */
    [TSR_DSP_CATALOG_REQUEST] = {"CatalogRequestMessage", DSPACE, false, false,
                                 {{"filter", K_ARR_OR_OBJ, false, FIELD(filter)}}},
    [TSR_DSP_DATASET_REQUEST] = {"DatasetRequestMessage", DSPACE, false, false,
                                 {{"dataset", K_STR, true, FIELD(dataset_id)}}},
    [TSR_DSP_CATALOG] = {"Catalog",
                         DCAT,
                         false,
                         false,
                         {{"@id", K_STR, true, FIELD(id)},
                          {"participantId", K_STR, true, FIELD(participant_id)},
                          {"dataset", K_ARR, false, FIELD(datasets)},
                          {"catalog", K_ARR, false, FIELD(catalogs)},
                          {"service", K_ARR, false, FIELD(services)},
                          {"distribution", K_ARR, false, FIELD(distributions)}}},
    [TSR_DSP_DATASET] = {"Dataset",
                         DCAT,
                         false,
                         true,
                         {{"@id", K_STR, true, FIELD(id)},
                          {"hasPolicy", K_ARR, true, FIELD(has_policy)},
                          {"distribution", K_ARR, true, FIELD(distributions)}}},
    [TSR_DSP_CATALOG_ERROR] = {"CatalogError", DSPACE, false, false, {CODE_REASON}},
    [TSR_DSP_CONTRACT_REQUEST] = {"ContractRequestMessage",
                                  DSPACE,
                                  false,
                                  false,
                                  {{"consumerPid", K_STR, true, FIELD(consumer_pid)},
                                   {"providerPid", K_STR, false, FIELD(provider_pid)},
                                   {"offer", K_OBJ, true, FIELD(offer)},
                                   {"callbackAddress", K_STR, false, FIELD(callback_address)}}},
    [TSR_DSP_CONTRACT_OFFER] = {"ContractOfferMessage",
                                DSPACE,
                                false,
                                false,
                                {{"providerPid", K_STR, true, FIELD(provider_pid)},
                                 {"consumerPid", K_STR, false, FIELD(consumer_pid)},
                                 {"offer", K_OBJ, true, FIELD(offer)},
                                 {"callbackAddress", K_STR, false, FIELD(callback_address)}}},
    [TSR_DSP_CONTRACT_AGREEMENT] = {"ContractAgreementMessage",
                                    DSPACE,
                                    false,
                                    false,
                                    {PIDS, {"agreement", K_OBJ, true, FIELD(agreement)}}},
    [TSR_DSP_AGREEMENT_VERIFICATION] = {"ContractAgreementVerificationMessage", DSPACE, false,
                                        false, {PIDS}},
    [TSR_DSP_NEGOTIATION_EVENT] = {"ContractNegotiationEventMessage",
                                   DSPACE,
                                   false,
                                   false,
                                   {PIDS, {"eventType", K_STR, true, FIELD(event_type)}}},
    [TSR_DSP_NEGOTIATION_TERMINATION] = {"ContractNegotiationTerminationMessage", DSPACE, false,
                                         false, {PIDS, CODE_REASON}},
    [TSR_DSP_NEGOTIATION] = {"ContractNegotiation", DSPACE, false, false,
                             {PIDS, {"state", K_STR, true, FIELD(state)}}},
    [TSR_DSP_NEGOTIATION_ERROR] = {"ContractNegotiationError", DSPACE, false, false,
                                   {PIDS, CODE_REASON}},
    [TSR_DSP_TRANSFER_REQUEST] = {"TransferRequestMessage",
                                  DSPACE,
                                  false,
                                  false,
                                  {{"consumerPid", K_STR, true, FIELD(consumer_pid)},
                                   {"agreementId", K_STR, true, FIELD(agreement_id)},
                                   {"format", K_STR, true, FIELD(format)},
                                   {"callbackAddress", K_STR, true, FIELD(callback_address)},
                                   {"dataAddress", K_OBJ, false, FIELD(data_address)}}},
    [TSR_DSP_TRANSFER_START] = {"TransferStartMessage", DSPACE, false, false,
                                {PIDS, {"dataAddress", K_OBJ, false, FIELD(data_address)}}},
    [TSR_DSP_TRANSFER_COMPLETION] = {"TransferCompletionMessage", DSPACE, false, false, {PIDS}},
    [TSR_DSP_TRANSFER_SUSPENSION] = {"TransferSuspensionMessage", DSPACE, false, false,
                                     {PIDS, CODE_REASON}},
    [TSR_DSP_TRANSFER_TERMINATION] = {"TransferTerminationMessage", DSPACE, false, false,
                                      {PIDS, CODE_REASON}},
    [TSR_DSP_TRANSFER_PROCESS] = {"TransferProcess", DSPACE, false, false,
                                  {PIDS, {"state", K_STR, true, FIELD(state)}}},
    [TSR_DSP_TRANSFER_ERROR] = {"TransferError", DSPACE, false, false, {PIDS, CODE_REASON}},
    [TSR_DSP_VERSION] = {"VersionResponse", "", "", true, true,
                         {{"protocolVersions", K_ARR, true, FIELD(versions)}}},
};

const char *tsr_dsp_type_name(enum tsr_dsp_type t)
{
    if (t == TSR_DSP_ANY)
        return "any";
    return (unsigned)t < TSR_DSP_TYPE_COUNT ? types[t].term : "?";
}

/* s is term, prefix+term or ns+term. */
static bool name_matches(const char *term, const char *prefix, const char *ns, const char *s)
{
    size_t n;

    if (strcmp(s, term) == 0)
        return true;
    n = strlen(prefix);
    if (n > 0 && strncmp(s, prefix, n) == 0 && strcmp(s + n, term) == 0)
        return true;
    n = strlen(ns);
    return n > 0 && strncmp(s, ns, n) == 0 && strcmp(s + n, term) == 0;
}

static bool term_matches(const struct type_desc *td, const char *s)
{
    return name_matches(td->term, td->prefix, td->ns, s);
}

int tsr_dsp_type_parse(const char *s, enum tsr_dsp_type *out)
{
    if (s == NULL)
        return TSR_EINVAL;
    for (int i = 0; i < TSR_DSP_TYPE_COUNT; i++) {
        if (!types[i].bare && term_matches(&types[i], s)) {
            *out = (enum tsr_dsp_type)i;
            return 0;
        }
    }
    return TSR_EINVAL;
}

/* ---------------------------------------------------------------- checking */

/* "a string", "an integer", ... for messages about wrong JSON types. */
static const char *kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static const char *kind_name(enum kind k)
{
    switch (k) {
    case K_STR:
        return "a string";
    case K_OBJ:
        return "an object";
    case K_ARR:
        return "an array";
    case K_ARR_OR_OBJ:
        return "an array or an object";
    }
    return "?";
}

static bool has_kind(const json_t *v, enum kind k)
{
    switch (k) {
    case K_STR:
        return json_is_string(v);
    case K_OBJ:
        return json_is_object(v);
    case K_ARR:
        return json_is_array(v);
    case K_ARR_OR_OBJ:
        return json_is_array(v) || json_is_object(v);
    }
    return false;
}

/*
 * Property paths for messages ("dataset[2].hasPolicy[0].@id"); a path
 * longer than PATH_LEN is cut short, which only shortens the message.
 */
#define PATH_LEN 128

static void pathf(char *dst, size_t size, const char *fmt, ...) TSR_PRINTF(3, 4);

static void pathf(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

/* Record "Type: <message>" as TSR_EINVAL. */
static int fail(struct tsr_diag *d, enum tsr_dsp_type t, const char *fmt, ...)
    TSR_PRINTF(3, 4);

static int fail(struct tsr_diag *d, enum tsr_dsp_type t, const char *fmt, ...)
{
    char msg[TSR_DIAG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return tsr_diag_set(d, TSR_EINVAL, "%s: %s", tsr_dsp_type_name(t), msg);
}

#ifdef __clang_analyzer__
/* The analyzer does not follow variadic calls; tell it that fail() always fails. */
#define fail(d, t, ...) ((void)(fail)((d), (t), __VA_ARGS__), TSR_EINVAL)
#endif

/*
 * Member `name` of obj (a JSON null counts as absent, as in lib/json.h),
 * checked against kind.  path names obj in messages ("" at the top,
 * "offer." inside).  Returns 0 with *out NULL when absent and optional.
 */
static int member(const json_t *obj, const char *path, const char *name, enum kind k,
                  bool required, const json_t **out, enum tsr_dsp_type t, struct tsr_diag *d)
{
    const json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required)
            return fail(d, t, "%s%s is required", path, name);
        return 0;
    }
    if (!has_kind(v, k))
        return fail(d, t, "%s%s must be %s, not %s", path, name, kind_name(k), kind_of(v));
    *out = v;
    return 0;
}

static int member_str(const json_t *obj, const char *path, const char *name, bool required,
                      const char **out, enum tsr_dsp_type t, struct tsr_diag *d)
{
    const json_t *v;
    int rc = member(obj, path, name, K_STR, required, &v, t, d);

    *out = v != NULL ? json_string_value(v) : NULL;
    return rc;
}

static bool context_ok(const json_t *ctx)
{
    size_t i;
    const json_t *v;

    if (json_is_string(ctx))
        return strcmp(json_string_value(ctx), TSR_DSP_CONTEXT) == 0;
    json_array_foreach(ctx, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), TSR_DSP_CONTEXT) == 0)
            return true;
    }
    return false;
}

/* The type an @type value names (first known one of an array); TSR_EINVAL if none. */
static int type_of_value(const json_t *v, enum tsr_dsp_type *out)
{
    size_t i;
    const json_t *e;

    if (json_is_string(v))
        return tsr_dsp_type_parse(json_string_value(v), out);
    json_array_foreach(v, i, e)
    {
        if (json_is_string(e) && tsr_dsp_type_parse(json_string_value(e), out) == 0)
            return 0;
    }
    return TSR_EINVAL;
}

/* The vocabularies nested objects' classes come from. */
struct vocab {
    const char *prefix;
    const char *ns;
};
static const struct vocab v_odrl = {"odrl:", ODRL_NS};
static const struct vocab v_dspace = {"dspace:", TSR_DSP_NS};
static const struct vocab v_dcat = {"dcat:", DCAT_NS};

/* Does @type value v (a string or an array of strings) name term of vocabulary voc? */
static bool class_is(const json_t *v, const char *term, const struct vocab *voc)
{
    size_t i;
    const json_t *e;

    if (json_is_string(v))
        return name_matches(term, voc->prefix, voc->ns, json_string_value(v));
    json_array_foreach(v, i, e)
    {
        if (json_is_string(e) && name_matches(term, voc->prefix, voc->ns, json_string_value(e)))
            return true;
    }
    return false;
}

/* A nested "@type": when present (or required), it must name `want`. */
static int nested_type(const json_t *obj, const char *path, const char *want,
                       const struct vocab *voc, bool required, enum tsr_dsp_type t,
                       struct tsr_diag *d)
{
    const json_t *v = json_object_get(obj, "@type");

    if (v == NULL || json_is_null(v)) {
        if (required)
            return fail(d, t, "%s@type is required", path);
        return 0;
    }
    if (!class_is(v, want, voc))
        return fail(d, t, "%s@type must be %s", path, want);
    return 0;
}

/* Does @type value v name the type described by td? */
static bool type_value_is(const json_t *v, const struct type_desc *td)
{
    struct vocab voc = {td->prefix, td->ns};

    return class_is(v, td->term, &voc);
}

/* permission / prohibition / obligation: arrays of objects when present. */
static int policy_rules(const json_t *pol, const char *path, enum tsr_dsp_type t,
                        struct tsr_diag *d)
{
    static const char *const names[] = {"permission", "prohibition", "obligation"};

    for (size_t i = 0; i < TSR_ARRAY_SIZE(names); i++) {
        const json_t *arr, *r;
        size_t j;
        int rc = member(pol, path, names[i], K_ARR, false, &arr, t, d);

        if (rc != 0)
            return rc;
        json_array_foreach(arr, j, r)
        {
            if (!json_is_object(r))
                return fail(d, t, "%s%s[%zu] must be an object, not %s", path, names[i], j,
                            kind_of(r));
        }
    }
    return 0;
}

/* An ODRL Offer: @id required, @type Offer when present, target as `target_required`. */
static int check_offer(const json_t *offer, const char *path, bool target_required,
                       const char **id, const char **target, enum tsr_dsp_type t,
                       struct tsr_diag *d)
{
    const char *dummy_id, *dummy_target;
    int rc;

    if (id == NULL)
        id = &dummy_id;
    if (target == NULL)
        target = &dummy_target;
    if (!json_is_object(offer))
        return fail(d, t, "%s must be an object, not %s", path, kind_of(offer));
    {
        char p[PATH_LEN];

        pathf(p, sizeof(p), "%s.", path);
        if ((rc = member_str(offer, p, "@id", true, id, t, d)) != 0 ||
            (rc = nested_type(offer, p, "Offer", &v_odrl, false, t, d)) != 0 ||
            (rc = member_str(offer, p, "target", target_required, target, t, d)) != 0 ||
            (rc = policy_rules(offer, p, t, d)) != 0)
            return rc;
    }
    return 0;
}

static int check_agreement(const json_t *ag, struct tsr_dsp_msg *out, enum tsr_dsp_type t,
                           struct tsr_diag *d)
{
    static const char *const strs[] = {"target", "assigner", "assignee"};
    const char *s;
    int rc;

    if ((rc = member_str(ag, "agreement.", "@id", true, &out->agreement_id, t, d)) != 0 ||
        (rc = nested_type(ag, "agreement.", "Agreement", &v_odrl, true, t, d)) != 0)
        return rc;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(strs); i++) {
        if ((rc = member_str(ag, "agreement.", strs[i], true, &s, t, d)) != 0)
            return rc;
    }
    if ((rc = member_str(ag, "agreement.", "timestamp", false, &s, t, d)) != 0)
        return rc;
    return policy_rules(ag, "agreement.", t, d);
}

static int check_data_address(const json_t *da, enum tsr_dsp_type t, struct tsr_diag *d)
{
    const json_t *props, *p;
    const char *s;
    size_t i;
    int rc;

    if ((rc = nested_type(da, "dataAddress.", "DataAddress", &v_dspace, false, t, d)) != 0 ||
        (rc = member_str(da, "dataAddress.", "endpointType", true, &s, t, d)) != 0 ||
        (rc = member_str(da, "dataAddress.", "endpoint", false, &s, t, d)) != 0 ||
        (rc = member(da, "dataAddress.", "endpointProperties", K_ARR, false, &props, t, d)) != 0)
        return rc;
    json_array_foreach(props, i, p)
    {
        char path[PATH_LEN];

        pathf(path, sizeof(path), "dataAddress.endpointProperties[%zu].", i);
        if (!json_is_object(p))
            return fail(d, t, "dataAddress.endpointProperties[%zu] must be an object, not %s", i,
                        kind_of(p));
        if ((rc = nested_type(p, path, "EndpointProperty", &v_dspace, false, t, d)) != 0 ||
            (rc = member_str(p, path, "name", true, &s, t, d)) != 0 ||
            (rc = member_str(p, path, "value", true, &s, t, d)) != 0)
            return rc;
    }
    return 0;
}

static int check_service(const json_t *svc, const char *path, enum tsr_dsp_type t,
                         struct tsr_diag *d)
{
    const char *s;
    int rc;

    if (!json_is_object(svc))
        return fail(d, t, "%s must be an object, not %s", path, kind_of(svc));
    {
        char p[PATH_LEN];

        pathf(p, sizeof(p), "%s.", path);
        if ((rc = member_str(svc, p, "@id", true, &s, t, d)) != 0 ||
            (rc = nested_type(svc, p, "DataService", &v_dcat, true, t, d)) != 0 ||
            (rc = member_str(svc, p, "endpointURL", true, &s, t, d)) != 0)
            return rc;
    }
    return 0;
}

static int check_distributions(const json_t *arr, const char *path, enum tsr_dsp_type t,
                               struct tsr_diag *d)
{
    const json_t *dist;
    size_t i;
    int rc;

    json_array_foreach(arr, i, dist)
    {
        char p[PATH_LEN];
        const char *s;
        const json_t *as;

        pathf(p, sizeof(p), "%sdistribution[%zu]", path, i);
        if (!json_is_object(dist))
            return fail(d, t, "%s must be an object, not %s", p, kind_of(dist));
        as = json_object_get(dist, "accessService");
        {
            char pd[PATH_LEN];

            pathf(pd, sizeof(pd), "%s.", p);
            if ((rc = member_str(dist, pd, "format", true, &s, t, d)) != 0)
                return rc;
            if (as == NULL || json_is_null(as))
                return fail(d, t, "%saccessService is required", pd);
        }
        if (json_is_object(as)) {
            char ps[PATH_LEN];

            pathf(ps, sizeof(ps), "%s.accessService", p);
            if ((rc = check_service(as, ps, t, d)) != 0)
                return rc;
        } else if (!json_is_string(as)) {
            return fail(d, t, "%s.accessService must be a string or an object, not %s", p,
                        kind_of(as));
        }
    }
    return 0;
}

/* A Dataset's own properties (inside a Catalog, or the root one after the table check). */
static int check_dataset(const json_t *ds, const char *path, enum tsr_dsp_type t,
                         struct tsr_diag *d)
{
    const json_t *pols, *dists, *pol;
    const char *s;
    size_t i;
    int rc;

    if (!json_is_object(ds))
        return fail(d, t, "%s must be an object, not %s", path, kind_of(ds));
    {
        char p[PATH_LEN];

        pathf(p, sizeof(p), "%s%s", path, path[0] != '\0' ? "." : "");
        if ((rc = member_str(ds, p, "@id", true, &s, t, d)) != 0 ||
            (rc = member(ds, p, "hasPolicy", K_ARR, true, &pols, t, d)) != 0 ||
            (rc = member(ds, p, "distribution", K_ARR, true, &dists, t, d)) != 0)
            return rc;
        json_array_foreach(pols, i, pol)
        {
            char pp[PATH_LEN];

            pathf(pp, sizeof(pp), "%shasPolicy[%zu]", p, i);
            if ((rc = check_offer(pol, pp, false, NULL, NULL, t, d)) != 0)
                return rc;
        }
        return check_distributions(dists, p, t, d);
    }
}

static int check_catalog(const json_t *cat, const char *path, int depth, enum tsr_dsp_type t,
                         struct tsr_diag *d)
{
    const json_t *arr, *v;
    const char *s;
    size_t i;
    int rc;
    char p[PATH_LEN];

    if (depth > MAX_CATALOG_DEPTH)
        return fail(d, t, "catalogs nested deeper than %d", MAX_CATALOG_DEPTH);
    if (!json_is_object(cat))
        return fail(d, t, "%s must be an object, not %s", path, kind_of(cat));
    pathf(p, sizeof(p), "%s%s", path, path[0] != '\0' ? "." : "");
    if ((rc = member_str(cat, p, "@id", true, &s, t, d)) != 0)
        return rc;
    if (depth > 0 && (rc = nested_type(cat, p, "Catalog", &v_dcat, true, t, d)) != 0)
        return rc;
    if (json_object_get(cat, "hasPolicy") != NULL)
        return fail(d, t, "%shasPolicy is not allowed on a catalog", p);
    if ((rc = member(cat, p, "dataset", K_ARR, false, &arr, t, d)) != 0)
        return rc;
    json_array_foreach(arr, i, v)
    {
        char pd[PATH_LEN];

        pathf(pd, sizeof(pd), "%sdataset[%zu]", p, i);
        if ((rc = check_dataset(v, pd, t, d)) != 0)
            return rc;
    }
    if ((rc = member(cat, p, "service", K_ARR, false, &arr, t, d)) != 0)
        return rc;
    json_array_foreach(arr, i, v)
    {
        char ps[PATH_LEN];

        pathf(ps, sizeof(ps), "%sservice[%zu]", p, i);
        if ((rc = check_service(v, ps, t, d)) != 0)
            return rc;
    }
    if ((rc = member(cat, p, "distribution", K_ARR, false, &arr, t, d)) != 0 ||
        (rc = check_distributions(arr, p, t, d)) != 0)
        return rc;
    if ((rc = member(cat, p, "catalog", K_ARR, false, &arr, t, d)) != 0)
        return rc;
    json_array_foreach(arr, i, v)
    {
        char pc[PATH_LEN];

        pathf(pc, sizeof(pc), "%scatalog[%zu]", p, i);
        if ((rc = check_catalog(v, pc, depth + 1, t, d)) != 0)
            return rc;
    }
    return 0;
}

static int check_versions(const json_t *arr, enum tsr_dsp_type t, struct tsr_diag *d)
{
    const json_t *v;
    size_t i;
    int rc;

    if (json_array_size(arr) == 0)
        return fail(d, t, "protocolVersions must not be empty");
    json_array_foreach(arr, i, v)
    {
        char p[PATH_LEN];
        const char *s;
        const json_t *auth;

        pathf(p, sizeof(p), "protocolVersions[%zu].", i);
        if (!json_is_object(v))
            return fail(d, t, "protocolVersions[%zu] must be an object, not %s", i, kind_of(v));
        if ((rc = member_str(v, p, "version", true, &s, t, d)) != 0 ||
            (rc = member_str(v, p, "path", true, &s, t, d)) != 0 ||
            (rc = member_str(v, p, "binding", true, &s, t, d)) != 0)
            return rc;
        if (strcmp(s, "HTTPS") != 0)
            return fail(d, t, "%sbinding must be HTTPS", p);
        if ((rc = member_str(v, p, "identifierType", false, &s, t, d)) != 0 ||
            (rc = member_str(v, p, "serviceId", false, &s, t, d)) != 0 ||
            (rc = member(v, p, "auth", K_OBJ, false, &auth, t, d)) != 0)
            return rc;
        if (auth != NULL) {
            char pa[PATH_LEN];

            pathf(pa, sizeof(pa), "%sauth.", p);
            if ((rc = member_str(auth, pa, "protocol", true, &s, t, d)) != 0 ||
                (rc = member_str(auth, pa, "version", true, &s, t, d)) != 0)
                return rc;
        }
    }
    return 0;
}

/* What the table cannot say. */
static int check_extra(const json_t *msg, struct tsr_dsp_msg *out, struct tsr_diag *d)
{
    enum tsr_dsp_type t = out->type;

    switch (t) {
    case TSR_DSP_CONTRACT_REQUEST:
        if (out->callback_address == NULL && out->provider_pid == NULL)
            return fail(d, t, "providerPid or callbackAddress is required");
        return check_offer(out->offer, "offer", false, &out->offer_id, &out->offer_target, t,
                           d);
    case TSR_DSP_CONTRACT_OFFER:
        if (out->callback_address == NULL && out->consumer_pid == NULL)
            return fail(d, t, "consumerPid or callbackAddress is required");
        return check_offer(out->offer, "offer", true, &out->offer_id, &out->offer_target, t, d);
    case TSR_DSP_CONTRACT_AGREEMENT:
        return check_agreement(out->agreement, out, t, d);
    case TSR_DSP_NEGOTIATION_EVENT:
        if (tsr_neg_state_parse(out->event_type, &out->event) != 0 ||
            (out->event != TSR_NEG_ACCEPTED && out->event != TSR_NEG_FINALIZED)) {
            out->event = TSR_NEG_INITIAL;
            return fail(d, t, "eventType must be ACCEPTED or FINALIZED");
        }
        return 0;
    case TSR_DSP_NEGOTIATION:
        if (tsr_neg_state_parse(out->state, &out->neg_state) != 0)
            return fail(d, t, "state \"%.64s\" is not a contract negotiation state", out->state);
        return 0;
    case TSR_DSP_TRANSFER_PROCESS:
        if (tsr_tp_state_parse(out->state, &out->tp_state) != 0)
            return fail(d, t, "state \"%.64s\" is not a transfer process state", out->state);
        return 0;
    case TSR_DSP_TRANSFER_REQUEST:
    case TSR_DSP_TRANSFER_START:
        return out->data_address != NULL ? check_data_address(out->data_address, t, d) : 0;
    case TSR_DSP_CATALOG:
        return check_catalog(msg, "", 0, t, d);
    case TSR_DSP_DATASET:
        return check_dataset(msg, "", t, d);
    case TSR_DSP_VERSION:
        return check_versions(out->versions, t, d);
    default:
        return 0;
    }
}

int tsr_dsp_parse(const json_t *msg, enum tsr_dsp_type expected, struct tsr_dsp_msg *out,
                  struct tsr_diag *d)
{
    enum tsr_dsp_type t = expected;
    const struct type_desc *td;
    const json_t *tv;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((unsigned)expected > TSR_DSP_ANY)
        return tsr_diag_set(d, TSR_EINVAL, "unknown DSP message type %d", (int)expected);
    if (!json_is_object(msg))
        return tsr_diag_set(d, TSR_EINVAL, "%s: the message must be a JSON object, not %s",
                            tsr_dsp_type_name(expected), msg != NULL ? kind_of(msg) : "nothing");

    tv = json_object_get(msg, "@type");
    if (expected == TSR_DSP_ANY) {
        if (tv == NULL)
            return tsr_diag_set(d, TSR_EINVAL, "@type is required");
        if (type_of_value(tv, &t) != 0)
            return tsr_diag_set(d, TSR_EINVAL, "@type does not name a DSP 2025-1 message type");
    }
    td = &types[t];
    out->type = t;

    if (!td->bare) {
        const json_t *ctx = json_object_get(msg, "@context");

        if (ctx == NULL)
            return fail(d, t, "@context is required");
        if (!context_ok(ctx))
            return fail(d, t, "@context must include %s", TSR_DSP_CONTEXT);
        if (tv == NULL || json_is_null(tv)) {
            if (!td->type_optional)
                return fail(d, t, "@type is required");
        } else if (!type_value_is(tv, td)) {
            enum tsr_dsp_type got;

            if (type_of_value(tv, &got) == 0)
                return tsr_diag_set(d, TSR_EINVAL, "expected @type %s, got %s", td->term,
                                    types[got].term);
            return tsr_diag_set(d, TSR_EINVAL, "expected @type %s, got %s", td->term,
                                json_is_string(tv) ? "an unknown type" : kind_of(tv));
        }
    }

    for (size_t i = 0; i < TSR_ARRAY_SIZE(td->props) && td->props[i].name != NULL; i++) {
        const struct prop *p = &td->props[i];
        const json_t *v;

        if ((rc = member(msg, "", p->name, p->kind, p->required, &v, t, d)) != 0)
            goto fail;
        if (v == NULL || p->field == NO_FIELD)
            continue;
        if (p->kind == K_STR)
            *(const char **)(void *)((char *)out + p->field) = json_string_value(v);
        else
            *(json_t **)(void *)((char *)out + p->field) = (json_t *)v;
    }
    if ((rc = check_extra(msg, out, d)) != 0)
        goto fail;
    return 0;

fail:
    memset(out, 0, sizeof(*out));
    out->type = t;
    return rc;
}

int tsr_dsp_neg_msg(const struct tsr_dsp_msg *m, enum tsr_neg_msg *out)
{
    switch (m->type) {
    case TSR_DSP_CONTRACT_REQUEST:
        *out = TSR_NEG_MSG_CONTRACT_REQUEST;
        return 0;
    case TSR_DSP_CONTRACT_OFFER:
        *out = TSR_NEG_MSG_CONTRACT_OFFER;
        return 0;
    case TSR_DSP_CONTRACT_AGREEMENT:
        *out = TSR_NEG_MSG_AGREEMENT;
        return 0;
    case TSR_DSP_AGREEMENT_VERIFICATION:
        *out = TSR_NEG_MSG_AGREEMENT_VERIFICATION;
        return 0;
    case TSR_DSP_NEGOTIATION_EVENT:
        if (m->event == TSR_NEG_ACCEPTED) {
            *out = TSR_NEG_MSG_EVENT_ACCEPTED;
            return 0;
        }
        if (m->event == TSR_NEG_FINALIZED) {
            *out = TSR_NEG_MSG_EVENT_FINALIZED;
            return 0;
        }
        return TSR_EINVAL;
    case TSR_DSP_NEGOTIATION_TERMINATION:
        *out = TSR_NEG_MSG_TERMINATION;
        return 0;
    default:
        return TSR_EINVAL;
    }
}

int tsr_dsp_tp_msg(const struct tsr_dsp_msg *m, enum tsr_tp_msg *out)
{
    switch (m->type) {
    case TSR_DSP_TRANSFER_REQUEST:
        *out = TSR_TP_MSG_TRANSFER_REQUEST;
        return 0;
    case TSR_DSP_TRANSFER_START:
        *out = TSR_TP_MSG_START;
        return 0;
    case TSR_DSP_TRANSFER_SUSPENSION:
        *out = TSR_TP_MSG_SUSPENSION;
        return 0;
    case TSR_DSP_TRANSFER_COMPLETION:
        *out = TSR_TP_MSG_COMPLETION;
        return 0;
    case TSR_DSP_TRANSFER_TERMINATION:
        *out = TSR_TP_MSG_TERMINATION;
        return 0;
    default:
        return TSR_EINVAL;
    }
}

const char *tsr_dsp_endpoint_property(const json_t *data_address, const char *name)
{
    const json_t *props = json_object_get(data_address, "endpointProperties");
    const json_t *p;
    size_t i;

    if (name == NULL)
        return NULL;
    json_array_foreach(props, i, p)
    {
        const char *n = json_string_value(json_object_get(p, "name"));

        if (n != NULL && strcmp(n, name) == 0)
            return json_string_value(json_object_get(p, "value"));
    }
    return NULL;
}

/* ---------------------------------------------------------------- building */

/*
 * The builders collect failures in a flag rather than testing every call:
 * jansson's _new setters steal their value even when they fail, so there
 * is nothing to undo but the object being built.
 */
static void put_new(json_t *o, const char *key, json_t *v, bool *bad)
{
    if (v == NULL || json_object_set_new(o, key, v) != 0)
        *bad = true;
}

static void put_str(json_t *o, const char *key, const char *s, bool *bad)
{
    if (s == NULL) {
        *bad = true;
        return;
    }
    put_new(o, key, json_string(s), bad);
}

static void put_opt_str(json_t *o, const char *key, const char *s, bool *bad)
{
    if (s != NULL)
        put_str(o, key, s, bad);
}

/* A one-element array holding s. */
static json_t *str_array(const char *s)
{
    json_t *a = json_array();

    if (a == NULL)
        return NULL;
    if (json_array_append_new(a, json_string(s)) != 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* A new object with the DSP @context and @type term. */
static json_t *base(enum tsr_dsp_type t, bool *bad)
{
    json_t *o = json_object();

    *bad = false;
    if (o == NULL) {
        *bad = true;
        return NULL;
    }
    put_new(o, "@context", str_array(TSR_DSP_CONTEXT), bad);
    put_str(o, "@type", types[t].term, bad);
    return o;
}

static json_t *finish(json_t *o, bool bad)
{
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Both pids in the schemas' order: providerPid, consumerPid. */
static void put_pids(json_t *o, const char *provider_pid, const char *consumer_pid, bool *bad)
{
    put_str(o, "providerPid", provider_pid, bad);
    put_str(o, "consumerPid", consumer_pid, bad);
}

static void put_code_reason(json_t *o, const char *code, const char *reason, bool *bad)
{
    put_opt_str(o, "code", code, bad);
    if (reason != NULL)
        put_new(o, "reason", str_array(reason), bad);
}

json_t *tsr_dsp_negotiation(const char *consumer_pid, const char *provider_pid,
                            enum tsr_neg_state state)
{
    bool bad;
    json_t *o;

    if (state == TSR_NEG_INITIAL || (unsigned)state >= TSR_NEG_STATE_COUNT)
        return NULL;
    if ((o = base(TSR_DSP_NEGOTIATION, &bad)) == NULL)
        return NULL;
    put_pids(o, provider_pid, consumer_pid, &bad);
    put_str(o, "state", tsr_neg_state_name(state), &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_transfer_process(const char *consumer_pid, const char *provider_pid,
                                 enum tsr_tp_state state)
{
    bool bad;
    json_t *o;

    if (state == TSR_TP_INITIAL || (unsigned)state >= TSR_TP_STATE_COUNT)
        return NULL;
    if ((o = base(TSR_DSP_TRANSFER_PROCESS, &bad)) == NULL)
        return NULL;
    put_pids(o, provider_pid, consumer_pid, &bad);
    put_str(o, "state", tsr_tp_state_name(state), &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_error(enum tsr_dsp_error_kind kind, const char *consumer_pid,
                      const char *provider_pid, const char *code, const char *reason)
{
    enum tsr_dsp_type t;
    bool bad;
    json_t *o;

    switch (kind) {
    case TSR_DSP_ERR_NEGOTIATION:
        t = TSR_DSP_NEGOTIATION_ERROR;
        break;
    case TSR_DSP_ERR_TRANSFER:
        t = TSR_DSP_TRANSFER_ERROR;
        break;
    case TSR_DSP_ERR_CATALOG:
        t = TSR_DSP_CATALOG_ERROR;
        break;
    default:
        return NULL;
    }
    if ((o = base(t, &bad)) == NULL)
        return NULL;
    if (kind != TSR_DSP_ERR_CATALOG)
        put_pids(o, provider_pid != NULL ? provider_pid : "",
                 consumer_pid != NULL ? consumer_pid : "", &bad);
    put_code_reason(o, code, reason, &bad);
    return finish(o, bad);
}

static void put_copy(json_t *o, const char *key, const json_t *v, bool *bad)
{
    if (v == NULL) {
        *bad = true;
        return;
    }
    put_new(o, key, json_deep_copy(v), bad);
}

json_t *tsr_dsp_contract_request(const char *consumer_pid, const char *provider_pid,
                                 const json_t *offer, const char *callback_address)
{
    bool bad;
    json_t *o;

    if (provider_pid == NULL && callback_address == NULL)
        return NULL;
    if ((o = base(TSR_DSP_CONTRACT_REQUEST, &bad)) == NULL)
        return NULL;
    put_opt_str(o, "providerPid", provider_pid, &bad);
    put_str(o, "consumerPid", consumer_pid, &bad);
    put_copy(o, "offer", offer, &bad);
    if (provider_pid == NULL)
        put_str(o, "callbackAddress", callback_address, &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_contract_offer(const char *provider_pid, const char *consumer_pid,
                               const json_t *offer, const char *callback_address)
{
    bool bad;
    json_t *o;

    if (consumer_pid == NULL && callback_address == NULL)
        return NULL;
    if ((o = base(TSR_DSP_CONTRACT_OFFER, &bad)) == NULL)
        return NULL;
    put_str(o, "providerPid", provider_pid, &bad);
    put_opt_str(o, "consumerPid", consumer_pid, &bad);
    put_copy(o, "offer", offer, &bad);
    if (consumer_pid == NULL)
        put_str(o, "callbackAddress", callback_address, &bad);
    return finish(o, bad);
}

/*
 * Copy every member of src into dst except @context and the keys in skip
 * (which the caller sets itself).
 */
static void copy_except(json_t *dst, const json_t *src, const char *const *skip, size_t nskip,
                        bool *bad)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)src, k, v)
    {
        bool skipped = strcmp(k, "@context") == 0;

        for (size_t i = 0; i < nskip && !skipped; i++)
            skipped = strcmp(k, skip[i]) == 0;
        if (!skipped)
            put_new(dst, k, json_deep_copy(v), bad);
    }
}

json_t *tsr_dsp_agreement(const char *agreement_id, const char *assigner, const char *assignee,
                          const char *target, const char *timestamp, const json_t *offer)
{
    static const char *const skip[] = {"@id", "@type", "target", "assigner", "assignee",
                                       "timestamp"};
    bool bad = false;
    json_t *o;

    if (!json_is_object(offer) || (o = json_object()) == NULL)
        return NULL;
    put_str(o, "@id", agreement_id, &bad);
    put_str(o, "@type", "Agreement", &bad);
    put_str(o, "target", target, &bad);
    put_str(o, "assigner", assigner, &bad);
    put_str(o, "assignee", assignee, &bad);
    put_str(o, "timestamp", timestamp, &bad);
    copy_except(o, offer, skip, TSR_ARRAY_SIZE(skip), &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_contract_agreement(const char *provider_pid, const char *consumer_pid,
                                   const json_t *agreement)
{
    bool bad;
    json_t *o;

    if ((o = base(TSR_DSP_CONTRACT_AGREEMENT, &bad)) == NULL)
        return NULL;
    put_pids(o, provider_pid, consumer_pid, &bad);
    put_copy(o, "agreement", agreement, &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_agreement_verification(const char *provider_pid, const char *consumer_pid)
{
    bool bad;
    json_t *o;

    if ((o = base(TSR_DSP_AGREEMENT_VERIFICATION, &bad)) == NULL)
        return NULL;
    put_pids(o, provider_pid, consumer_pid, &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_negotiation_event(const char *provider_pid, const char *consumer_pid,
                                  enum tsr_neg_state event)
{
    bool bad;
    json_t *o;

    if (event != TSR_NEG_ACCEPTED && event != TSR_NEG_FINALIZED)
        return NULL;
    if ((o = base(TSR_DSP_NEGOTIATION_EVENT, &bad)) == NULL)
        return NULL;
    put_pids(o, provider_pid, consumer_pid, &bad);
    put_str(o, "eventType", tsr_neg_state_name(event), &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_negotiation_termination(const char *provider_pid, const char *consumer_pid,
                                        const char *code, const char *reason)
{
    bool bad;
    json_t *o;

    if ((o = base(TSR_DSP_NEGOTIATION_TERMINATION, &bad)) == NULL)
        return NULL;
    put_pids(o, provider_pid, consumer_pid, &bad);
    put_code_reason(o, code, reason, &bad);
    return finish(o, bad);
}

static json_t *endpoint_property(const char *name, const char *value)
{
    bool bad = false;
    json_t *p = json_object();

    if (p == NULL)
        return NULL;
    put_str(p, "@type", "EndpointProperty", &bad);
    put_str(p, "name", name, &bad);
    put_str(p, "value", value, &bad);
    return finish(p, bad);
}

json_t *tsr_dsp_data_address(const char *endpoint, const char *authorization,
                             const char *auth_type)
{
    bool bad = false;
    json_t *o, *props = NULL;

    if ((o = json_object()) == NULL)
        return NULL;
    put_str(o, "@type", "DataAddress", &bad);
    put_str(o, "endpointType", TSR_DSP_ENDPOINT_TYPE_HTTP, &bad);
    put_str(o, "endpoint", endpoint, &bad);
    if ((props = json_array()) == NULL) {
        bad = true;
    } else {
        if (authorization != NULL &&
            json_array_append_new(props, endpoint_property("authorization", authorization)))
            bad = true;
        if (auth_type != NULL &&
            json_array_append_new(props, endpoint_property("authType", auth_type)))
            bad = true;
        /*
         * The same again under EDC's names: EDC (0.14) reads a data address
         * from endpointProperties alone, ignores the top-level endpoint,
         * and drops property names that are not IRIs.  The spec leaves
         * endpointProperties open, so both readings get what they need.
         */
        if (json_array_append_new(props, endpoint_property(TSR_DSP_EDC_NS "endpoint", endpoint)))
            bad = true;
        if (authorization != NULL &&
            json_array_append_new(props, endpoint_property(TSR_DSP_EDC_NS "authorization",
                                                           authorization)))
            bad = true;
        if (auth_type != NULL &&
            json_array_append_new(props, endpoint_property(TSR_DSP_EDC_NS "authType", auth_type)))
            bad = true;
        put_new(o, "endpointProperties", props, &bad);
    }
    return finish(o, bad);
}

json_t *tsr_dsp_transfer_request(const char *consumer_pid, const char *agreement_id,
                                 const char *format, const char *callback_address,
                                 const json_t *data_address)
{
    bool bad;
    json_t *o;

    if ((o = base(TSR_DSP_TRANSFER_REQUEST, &bad)) == NULL)
        return NULL;
    put_str(o, "consumerPid", consumer_pid, &bad);
    put_str(o, "agreementId", agreement_id, &bad);
    put_str(o, "format", format, &bad);
    if (data_address != NULL)
        put_copy(o, "dataAddress", data_address, &bad);
    put_str(o, "callbackAddress", callback_address, &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_transfer_start(const char *provider_pid, const char *consumer_pid,
                               const json_t *data_address)
{
    bool bad;
    json_t *o;

    if ((o = base(TSR_DSP_TRANSFER_START, &bad)) == NULL)
        return NULL;
    put_pids(o, provider_pid, consumer_pid, &bad);
    if (data_address != NULL)
        put_copy(o, "dataAddress", data_address, &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_transfer_completion(const char *provider_pid, const char *consumer_pid)
{
    bool bad;
    json_t *o;

    if ((o = base(TSR_DSP_TRANSFER_COMPLETION, &bad)) == NULL)
        return NULL;
    put_pids(o, provider_pid, consumer_pid, &bad);
    return finish(o, bad);
}

static json_t *transfer_code_msg(enum tsr_dsp_type t, const char *provider_pid,
                                 const char *consumer_pid, const char *code, const char *reason)
{
    bool bad;
    json_t *o;

    if ((o = base(t, &bad)) == NULL)
        return NULL;
    put_pids(o, provider_pid, consumer_pid, &bad);
    put_code_reason(o, code, reason, &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_transfer_suspension(const char *provider_pid, const char *consumer_pid,
                                    const char *code, const char *reason)
{
    return transfer_code_msg(TSR_DSP_TRANSFER_SUSPENSION, provider_pid, consumer_pid, code,
                             reason);
}

json_t *tsr_dsp_transfer_termination(const char *provider_pid, const char *consumer_pid,
                                     const char *code, const char *reason)
{
    return transfer_code_msg(TSR_DSP_TRANSFER_TERMINATION, provider_pid, consumer_pid, code,
                             reason);
}

json_t *tsr_dsp_catalog_request(const json_t *filter)
{
    bool bad;
    json_t *o;

    if (filter != NULL && !json_is_array(filter))
        return NULL;
    if ((o = base(TSR_DSP_CATALOG_REQUEST, &bad)) == NULL)
        return NULL;
    if (filter != NULL)
        put_copy(o, "filter", filter, &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_dataset_request(const char *dataset_id)
{
    bool bad;
    json_t *o;

    if ((o = base(TSR_DSP_DATASET_REQUEST, &bad)) == NULL)
        return NULL;
    put_str(o, "dataset", dataset_id, &bad);
    return finish(o, bad);
}

static json_t *service_obj(const struct tsr_dsp_service_in *svc)
{
    bool bad = false;
    json_t *o;

    if (svc == NULL || (o = json_object()) == NULL)
        return NULL;
    put_str(o, "@id", svc->id, &bad);
    put_str(o, "@type", "DataService", &bad);
    put_str(o, "endpointURL", svc->endpoint_url, &bad);
    return finish(o, bad);
}

/* An offer as it appears in a dataset: @id first, @type Offer, no target or @context. */
static json_t *dataset_offer(const json_t *offer)
{
    static const char *const skip[] = {"@id", "@type", "target"};
    bool bad = false;
    json_t *o;

    if (!json_is_string(json_object_get(offer, "@id")) || (o = json_object()) == NULL)
        return NULL;
    put_copy(o, "@id", json_object_get(offer, "@id"), &bad);
    put_str(o, "@type", "Offer", &bad);
    copy_except(o, offer, skip, TSR_ARRAY_SIZE(skip), &bad);
    return finish(o, bad);
}

/* An array built by appending; marks bad when an element is NULL or the append fails. */
static void append(json_t *arr, json_t *v, bool *bad)
{
    if (v == NULL || json_array_append_new(arr, v) != 0)
        *bad = true;
}

/*
 * A dataset object; root adds @context, embed_service puts the DataService
 * object in each distribution instead of a reference to its id.
 */
static json_t *dataset_obj(const struct tsr_dsp_dataset_in *ds,
                           const struct tsr_dsp_service_in *svc, bool root)
{
    bool bad = false;
    json_t *o, *arr;

    if (ds == NULL || svc == NULL || svc->id == NULL || ds->n_offers == 0 ||
        ds->n_formats == 0 || ds->offers == NULL || ds->formats == NULL ||
        (ds->n_keywords > 0 && ds->keywords == NULL))
        return NULL;
    if ((o = json_object()) == NULL)
        return NULL;
    if (root)
        put_new(o, "@context", str_array(TSR_DSP_CONTEXT), &bad);
    put_str(o, "@id", ds->id, &bad);
    put_str(o, "@type", "Dataset", &bad);
    put_opt_str(o, "dct:title", ds->title, &bad);
    put_opt_str(o, "dct:description", ds->description, &bad);
    if (ds->n_keywords > 0) {
        if ((arr = json_array()) == NULL)
            bad = true;
        for (size_t i = 0; arr != NULL && i < ds->n_keywords; i++)
            append(arr, ds->keywords[i] != NULL ? json_string(ds->keywords[i]) : NULL, &bad);
        put_new(o, "dcat:keyword", arr, &bad);
    }
    if ((arr = json_array()) == NULL)
        bad = true;
    for (size_t i = 0; arr != NULL && i < ds->n_offers; i++)
        append(arr, dataset_offer(ds->offers[i]), &bad);
    put_new(o, "hasPolicy", arr, &bad);
    if ((arr = json_array()) == NULL)
        bad = true;
    for (size_t i = 0; arr != NULL && i < ds->n_formats; i++) {
        json_t *dist = json_object();

        if (dist == NULL) {
            bad = true;
            break;
        }
        put_str(dist, "@type", "Distribution", &bad);
        put_str(dist, "format", ds->formats[i], &bad);
        put_new(dist, "accessService", root ? service_obj(svc) : json_string(svc->id), &bad);
        append(arr, dist, &bad);
    }
    put_new(o, "distribution", arr, &bad);
    return finish(o, bad);
}

json_t *tsr_dsp_dataset(const struct tsr_dsp_dataset_in *ds, const struct tsr_dsp_service_in *svc)
{
    return dataset_obj(ds, svc, true);
}

json_t *tsr_dsp_catalog(const char *catalog_id, const char *participant_id,
                        const struct tsr_dsp_service_in *svc,
                        const struct tsr_dsp_dataset_in *datasets, size_t n)
{
    bool bad;
    json_t *o, *arr;

    if (svc == NULL || (n > 0 && datasets == NULL))
        return NULL;
    if ((o = base(TSR_DSP_CATALOG, &bad)) == NULL)
        return NULL;
    put_str(o, "@id", catalog_id, &bad);
    put_str(o, "participantId", participant_id, &bad);
    if ((arr = json_array()) == NULL)
        bad = true;
    else
        append(arr, service_obj(svc), &bad);
    put_new(o, "service", arr, &bad);
    if (n > 0) {
        if ((arr = json_array()) == NULL)
            bad = true;
        for (size_t i = 0; arr != NULL && i < n; i++)
            append(arr, dataset_obj(&datasets[i], svc, false), &bad);
        put_new(o, "dataset", arr, &bad);
    }
    return finish(o, bad);
}

json_t *tsr_dsp_version_doc(const char *path, const char *identifier_type)
{
    bool bad = false;
    json_t *o, *arr = NULL, *v;

    if ((o = json_object()) == NULL)
        return NULL;
    if ((v = json_object()) == NULL || (arr = json_array()) == NULL) {
        json_decref(v);
        json_decref(o);
        return NULL;
    }
    put_str(v, "version", TSR_DSP_VERSION_2025_1, &bad);
    put_str(v, "path", path, &bad);
    put_str(v, "binding", "HTTPS", &bad);
    put_opt_str(v, "identifierType", identifier_type, &bad);
    append(arr, v, &bad);
    put_new(o, "protocolVersions", arr, &bad);
    return finish(o, bad);
}

/* ---------------------------------------------------------------- policy equality */

/*
 * Work and depth bounds: equality of unordered arrays is quadratic per
 * level, so a hostile policy could otherwise make one comparison run for
 * minutes.  Real policies use a few hundred steps.
 */
#define EQ_BUDGET (1L << 20)
#define EQ_MAX_DEPTH 64

struct eq {
    long budget;
    bool over;
};

/* s without an ODRL prefix ("odrl:use", "http://www.w3.org/ns/odrl/2/use" -> "use"). */
static const char *odrl_local(const char *s)
{
    if (strncmp(s, "odrl:", 5) == 0)
        return s + 5;
    if (strncmp(s, ODRL_NS, sizeof(ODRL_NS) - 1) == 0)
        return s + sizeof(ODRL_NS) - 1;
    return s;
}

/* Members other than @context. */
static size_t members(const json_t *o)
{
    size_t n = json_object_size(o);

    return json_object_get(o, "@context") != NULL ? n - 1 : n;
}

/* Peel one-element arrays and {"@id": x} / {"@value": x} wrappers. */
static const json_t *unwrap(const json_t *v)
{
    for (int i = 0; i < EQ_MAX_DEPTH; i++) {
        if (json_is_array(v) && json_array_size(v) == 1) {
            v = json_array_get(v, 0);
        } else if (json_is_object(v) && members(v) == 1 &&
                   (json_object_get(v, "@id") != NULL || json_object_get(v, "@value") != NULL)) {
            const json_t *inner = json_object_get(v, "@id");

            v = inner != NULL ? inner : json_object_get(v, "@value");
        } else {
            break;
        }
    }
    return v;
}

/* The member of o whose key, without an ODRL prefix, is name. */
static const json_t *get_local(const json_t *o, const char *name)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)o, k, v)
    {
        if (strcmp(odrl_local(k), name) == 0)
            return v;
    }
    return NULL;
}

static bool veq(struct eq *e, const json_t *a, const json_t *b, int depth);

/* Elements of arr equal to x. */
static size_t count_eq(struct eq *e, const json_t *arr, const json_t *x, int depth)
{
    size_t n = 0, i;
    const json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (e->over)
            return 0;
        if (veq(e, v, x, depth))
            n++;
    }
    return n;
}

static bool veq(struct eq *e, const json_t *a, const json_t *b, int depth)
{
    if (--e->budget < 0 || depth > EQ_MAX_DEPTH) {
        e->over = true;
        return false;
    }
    a = unwrap(a);
    b = unwrap(b);
    if (a == NULL || b == NULL)
        return a == b;

    if (json_is_array(a) || json_is_array(b)) {
        size_t i;
        const json_t *v;

        if (!json_is_array(a) || !json_is_array(b) || json_array_size(a) != json_array_size(b))
            return false;
        /*
         * Equality is an equivalence, so the two multisets match when
         * every element of a occurs as often in a as in b (and the sizes
         * agree).
         */
        json_array_foreach(a, i, v)
        {
            if (count_eq(e, a, v, depth + 1) != count_eq(e, b, v, depth + 1) || e->over)
                return false;
        }
        return true;
    }
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return strcmp(odrl_local(json_string_value(a)), odrl_local(json_string_value(b))) == 0;
    case JSON_OBJECT: {
        const char *k;
        json_t *v;

        if (members(a) != members(b))
            return false;
        json_object_foreach((json_t *)a, k, v)
        {
            const json_t *w;

            if (strcmp(k, "@context") == 0)
                continue;
            /* the same key first, so {"use", "odrl:use"} pairs match themselves */
            w = json_object_get(b, k);
            if (w == NULL)
                w = get_local(b, odrl_local(k));
            if (w == NULL || !veq(e, v, w, depth + 1))
                return false;
        }
        return true;
    }
    default:
        return true; /* true, false, null: same type is enough */
    }
}

int tsr_dsp_policy_equal(const json_t *a, const json_t *b)
{
    struct eq e = {EQ_BUDGET, false};
    bool r = veq(&e, a, b, 0);

    return e.over ? TSR_ELIMIT : r ? 1 : 0;
}

/* A rule list, with absent and empty alike. */
static bool empty_rules(const json_t *v)
{
    return v == NULL || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0);
}

int tsr_dsp_policy_rules_equal(const json_t *a, const json_t *b)
{
    static const char *const names[] = {"permission", "prohibition", "obligation"};
    struct eq e = {EQ_BUDGET, false};

    if (!json_is_object(a) || !json_is_object(b))
        return a == b ? 1 : 0;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(names); i++) {
        const json_t *ra = get_local(a, names[i]), *rb = get_local(b, names[i]);

        if (empty_rules(ra) && empty_rules(rb))
            continue;
        if (!veq(&e, ra, rb, 0))
            return e.over ? TSR_ELIMIT : 0;
    }
    return 1;
}
