/*
 * lib/vc.c: VC-JWT / VP-JWT signing, decoding, verification, and the
 * Gaia-X 2511 shape rules for the classes tessera handles (lib/vc.h).
 *
 * The shape tables below were written from xfsc/gx-2511-shapes.ttl (the
 * NodeShapes of LegalPerson, Address, ServiceOffering, TermsAndConditions,
 * AccessUsagePolicy, Endpoint, StandardConformity, DataAccountExport and
 * VirtualResource): their sh:minCount >= 1 paths, their closed property
 * lists and the short sh:in lists.  Long sh:in lists (media types, SPDX
 * licence ids, country codes) are checked by form only.
 */
#include "lib/tsr.h"

#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/did.h"
#include "lib/jose.h"
#include "lib/json.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/vc.h"

/* The claims a payload may carry are bounded like any other document. */
static const struct tsr_json_limits payload_limits = {TSR_VP_JWT_MAX, 32, 10000, 64 << 10};

/* ------------------------------------------------------------ small helpers */

/* Append a printf-style reason to reasons (may be NULL); always returns rc. */
static int TSR_PRINTF(3, 4) add_reason(json_t *reasons, int rc, const char *fmt, ...)
{
    char msg[TSR_DIAG_MAX];
    va_list ap;

    if (reasons == NULL)
        return rc;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(reasons, json_string(msg));
    return rc;
}

/* A member that is a string, or an object's "id" / "@id", or NULL. */
static const char *id_of(const json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_object(v)) {
        const json_t *id = json_object_get(v, "id");
        if (id == NULL)
            id = json_object_get(v, "@id");
        return json_string_value(id);
    }
    return NULL;
}

/* True when the type member (string or array) holds name. */
static bool has_type(const json_t *type, const char *name)
{
    size_t i;
    const json_t *t;

    if (json_is_string(type))
        return strcmp(json_string_value(type), name) == 0;
    json_array_foreach(type, i, t) {
        if (json_is_string(t) && strcmp(json_string_value(t), name) == 0)
            return true;
    }
    return false;
}

static const json_t *type_of(const json_t *obj)
{
    const json_t *t = json_object_get(obj, "type");
    return t != NULL ? t : json_object_get(obj, "@type");
}

/* gx:NAME in compact form or as a full IRI of an accepted namespace. */
static bool has_gx_type(const json_t *type, const char *name)
{
    char buf[128];

    snprintf(buf, sizeof(buf), "gx:%s", name);
    if (has_type(type, buf))
        return true;
    snprintf(buf, sizeof(buf), "%s%s", TSR_VC_GX_2511, name);
    if (has_type(type, buf))
        return true;
    snprintf(buf, sizeof(buf), "%s%s", TSR_VC_GX_DEV, name);
    return has_type(type, buf);
}

enum tsr_vc_class tsr_vc_class_of(const json_t *type)
{
    if (has_gx_type(type, "LegalPerson"))
        return TSR_VC_CLASS_LEGAL_PERSON;
    if (has_gx_type(type, "ServiceOffering"))
        return TSR_VC_CLASS_SERVICE_OFFERING;
    return TSR_VC_CLASS_OTHER;
}

/* Seconds from an RFC 3339 member, or -1 (with a reason) when malformed. */
static int64_t time_member(const json_t *obj, const char *key, json_t *reasons)
{
    const char *s = json_string_value(json_object_get(obj, key));
    struct tsr_time t;

    if (s == NULL) {
        add_reason(reasons, TSR_EINVAL, "%s: missing or not a string", key);
        return -1;
    }
    if (tsr_time_parse(s, &t, NULL) != 0) {
        add_reason(reasons, TSR_EINVAL, "%s: \"%.40s\" is not an RFC 3339 date-time", key, s);
        return -1;
    }
    return t.sec;
}

/* ------------------------------------------------------------ shapes */

/* A property of a shape: its name, whether required, and its kind of value. */
enum pkind { P_ANY, P_STRING, P_NODE, P_REF };

struct prop {
    const char *name;
    bool required;
    enum pkind kind;
    const char *const *in;        /* allowed strings, NULL: any */
    const struct shape *node;     /* for P_NODE: the nested node's shape (NULL: any) */
};

struct shape {
    const char *name;      /* for messages: "gx:Address" */
    bool closed;
    const struct prop *props;
    size_t nprops;
};

static const char *const request_types[] = {"API",
                                            "email",
                                            "webform",
                                            "unregisteredLetter",
                                            "registeredLetter",
                                            "supportCenter",
                                            NULL};
static const char *const access_types[] = {"digital", "physical", NULL};
static const char *const protection_regimes[] = {"GDPR2016", "LGPD2019", "PDPA2012", "CCPA2018",
                                                 "VCDPA2021", NULL};

static const struct prop address_props[] = {
    {"gx:countryCode", true, P_STRING, NULL, NULL},
    {"gx:countryName", false, P_STRING, NULL, NULL},
    {"gx:gps", false, P_ANY, NULL, NULL},
    {"vcard:locality", false, P_STRING, NULL, NULL},
    {"vcard:postal-code", false, P_STRING, NULL, NULL},
    {"vcard:region", false, P_STRING, NULL, NULL},
    {"vcard:street-address", false, P_STRING, NULL, NULL},
};
static const struct shape address_shape = {"gx:Address", true, address_props,
                                           TSR_ARRAY_SIZE(address_props)};

static const struct prop legal_person_props[] = {
    {"gx:registrationNumber", true, P_ANY, NULL, NULL},
    {"gx:legalAddress", true, P_NODE, NULL, &address_shape},
    {"gx:headquartersAddress", true, P_NODE, NULL, &address_shape},
    {"gx:parentOrganizationOf", false, P_ANY, NULL, NULL},
    {"gx:subOrganisationOf", false, P_ANY, NULL, NULL},
    {"schema:name", false, P_STRING, NULL, NULL},
    {"schema:description", false, P_STRING, NULL, NULL},
};
static const struct shape legal_person_shape = {"gx:LegalPerson", true, legal_person_props,
                                                TSR_ARRAY_SIZE(legal_person_props)};

static const struct prop terms_props[] = {
    {"gx:url", true, P_STRING, NULL, NULL},
    {"gx:hash", true, P_STRING, NULL, NULL},
};
static const struct shape terms_shape = {"gx:TermsAndConditions", true, terms_props,
                                         TSR_ARRAY_SIZE(terms_props)};

static const struct prop policy_props[] = {
    {"gx:policyLanguage", true, P_STRING, NULL, NULL},
    {"gx:policyDocument", true, P_STRING, NULL, NULL},
};
static const struct shape policy_shape = {"gx:AccessUsagePolicy", true, policy_props,
                                          TSR_ARRAY_SIZE(policy_props)};

static const struct prop conformity_props[] = {
    {"dct:title", true, P_STRING, NULL, NULL},
    {"gx:standardReference", true, P_STRING, NULL, NULL},
    {"gx:publisher", false, P_STRING, NULL, NULL},
};
static const struct shape conformity_shape = {"gx:StandardConformity", true, conformity_props,
                                              TSR_ARRAY_SIZE(conformity_props)};

static const struct prop endpoint_props[] = {
    {"gx:standardConformity", true, P_NODE, NULL, &conformity_shape},
    {"gx:endpointURL", false, P_STRING, NULL, NULL},
    {"gx:formalDescription", false, P_STRING, NULL, NULL},
};
static const struct shape endpoint_shape = {"gx:Endpoint", true, endpoint_props,
                                            TSR_ARRAY_SIZE(endpoint_props)};

static const struct prop export_props[] = {
    {"gx:requestType", true, P_STRING, request_types, NULL},
    {"gx:accessType", true, P_STRING, access_types, NULL},
    {"gx:formatType", true, P_STRING, NULL, NULL},
};
static const struct shape export_shape = {"gx:DataAccountExport", true, export_props,
                                          TSR_ARRAY_SIZE(export_props)};

/* Not closed in 2511: the dcat:Dataset terms ride on the same node. */
static const struct prop resource_props[] = {
    {"gx:copyrightOwnedBy", true, P_ANY, NULL, NULL},
    {"gx:license", true, P_ANY, NULL, NULL},
    {"gx:resourcePolicy", true, P_ANY, NULL, NULL},
};
static const struct shape resource_shape = {"gx:VirtualResource", false, resource_props,
                                            TSR_ARRAY_SIZE(resource_props)};

static const struct prop offering_props[] = {
    {"gx:providedBy", true, P_REF, NULL, NULL},
    {"gx:serviceOfferingTermsAndConditions", true, P_NODE, NULL, &terms_shape},
    {"gx:servicePolicy", false, P_NODE, NULL, &policy_shape},
    {"gx:endpoint", false, P_NODE, NULL, &endpoint_shape},
    {"gx:dataAccountExport", false, P_NODE, NULL, &export_shape},
    {"gx:dataProtectionRegime", false, P_STRING, protection_regimes, NULL},
    {"gx:aggregationOfResources", false, P_NODE, NULL, &resource_shape},
    {"gx:keyword", false, P_STRING, NULL, NULL},
    {"schema:name", false, P_STRING, NULL, NULL},
    {"schema:description", false, P_STRING, NULL, NULL},
    {"gx:cryptographicSecurityStandards", false, P_ANY, NULL, NULL},
    {"gx:customerInstructions", false, P_ANY, NULL, NULL},
    {"gx:dataPortability", false, P_ANY, NULL, NULL},
    {"gx:dependsOn", false, P_ANY, NULL, NULL},
    {"gx:hostedOn", false, P_ANY, NULL, NULL},
    {"gx:legalDocuments", false, P_ANY, NULL, NULL},
    {"gx:possiblePersonalDataTransfers", false, P_ANY, NULL, NULL},
    {"gx:providerContactInformation", false, P_ANY, NULL, NULL},
    {"gx:provisionType", false, P_ANY, NULL, NULL},
    {"gx:requiredMeasures", false, P_ANY, NULL, NULL},
    {"gx:serviceScope", false, P_ANY, NULL, NULL},
    {"gx:subContractors", false, P_ANY, NULL, NULL},
};
static const struct shape offering_shape = {"gx:ServiceOffering", true, offering_props,
                                            TSR_ARRAY_SIZE(offering_props)};

/* JSON-LD keywords and the id/type aliases every node may carry. */
static bool is_node_keyword(const char *k)
{
    return strcmp(k, "id") == 0 || strcmp(k, "type") == 0 || k[0] == '@';
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(s, list[i]) == 0)
            return true;
    }
    return false;
}

static int check_node(const json_t *node, const struct shape *sh, const char *where,
                      json_t *reasons);

/* One value of a property. */
static int check_value(const json_t *v, const struct prop *p, const char *where, json_t *reasons)
{
    char sub[256];

    switch (p->kind) {
    case P_STRING:
        /* A literal may come as {"@value": ...}. */
        if (json_is_object(v) && json_is_string(json_object_get(v, "@value")))
            v = json_object_get(v, "@value");
        if (!json_is_string(v) || json_string_length(v) == 0)
            return add_reason(reasons, TSR_EINVAL, "%s %s: expected a non-empty string", where,
                              p->name);
        if (json_string_length(v) > TSR_VC_TEXT_MAX)
            return add_reason(reasons, TSR_EINVAL, "%s %s: longer than %d bytes", where, p->name,
                              TSR_VC_TEXT_MAX);
        if (p->in != NULL && !in_list(json_string_value(v), p->in))
            return add_reason(reasons, TSR_EINVAL, "%s %s: \"%.60s\" is not an allowed value",
                              where, p->name, json_string_value(v));
        return 0;
    case P_REF:
        if (id_of(v) == NULL)
            return add_reason(reasons, TSR_EINVAL, "%s %s: expected a reference with an id",
                              where, p->name);
        return 0;
    case P_NODE:
        if (!json_is_object(v))
            return add_reason(reasons, TSR_EINVAL, "%s %s: expected a node (an object)", where,
                              p->name);
        /* A bare reference {"id": ...} points at a node described elsewhere. */
        if (json_object_size(v) == 1 && id_of(v) != NULL)
            return 0;
        if (p->node == NULL)
            return 0;
        snprintf(sub, sizeof(sub), "%s %s", where, p->name);
        return check_node(v, p->node, sub, reasons);
    case P_ANY:
        if (json_is_null(v))
            return add_reason(reasons, TSR_EINVAL, "%s %s: null", where, p->name);
        return 0;
    }
    return 0;
}

static int check_node(const json_t *node, const struct shape *sh, const char *where,
                      json_t *reasons)
{
    const char *key;
    const json_t *v;
    int rc = 0;

    for (size_t i = 0; i < sh->nprops; i++) {
        const struct prop *p = &sh->props[i];
        v = json_object_get(node, p->name);
        if (v == NULL || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0)) {
            if (p->required)
                rc = add_reason(reasons, TSR_EINVAL, "%s: required property %s is missing",
                                where, p->name);
            continue;
        }
        if (json_is_array(v)) {
            size_t k;
            const json_t *e;
            json_array_foreach(v, k, e) {
                if (check_value(e, p, where, reasons) != 0)
                    rc = TSR_EINVAL;
            }
        } else if (check_value(v, p, where, reasons) != 0) {
            rc = TSR_EINVAL;
        }
    }
    if (!sh->closed)
        return rc;
    json_object_foreach((json_t *)node, key, v) {
        size_t i;
        if (is_node_keyword(key))
            continue;
        for (i = 0; i < sh->nprops; i++) {
            if (strcmp(sh->props[i].name, key) == 0)
                break;
        }
        if (i == sh->nprops)
            rc = add_reason(reasons, TSR_EINVAL, "%s: property %.80s is not allowed by the "
                            "closed shape %s", where, key, sh->name);
    }
    return rc;
}

/* Country codes are ISO 3166-1 alpha-2 (the shape's sh:in list): checked by form. */
static int check_country(const json_t *addr, const char *where, json_t *reasons)
{
    const char *cc = json_string_value(json_object_get(addr, "gx:countryCode"));

    if (cc == NULL)
        return 0; /* reported by the shape, or a reference */
    if (strlen(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z')
        return add_reason(reasons, TSR_EINVAL, "%s gx:countryCode: \"%.20s\" is not an ISO "
                          "3166-1 alpha-2 code", where, cc);
    return 0;
}

/* The subject of one class, with the checks the table cannot express. */
static int check_subject(const json_t *subj, enum tsr_vc_class cls, json_t *reasons)
{
    int rc = 0;

    if (id_of(subj) == NULL)
        rc = add_reason(reasons, TSR_EINVAL, "credentialSubject: id is missing");
    if (cls == TSR_VC_CLASS_LEGAL_PERSON) {
        if (check_node(subj, &legal_person_shape, "gx:LegalPerson", reasons) != 0)
            rc = TSR_EINVAL;
        if (check_country(json_object_get(subj, "gx:legalAddress"), "gx:legalAddress",
                          reasons) != 0 ||
            check_country(json_object_get(subj, "gx:headquartersAddress"),
                          "gx:headquartersAddress", reasons) != 0)
            rc = TSR_EINVAL;
        return rc;
    }
    if (check_node(subj, &offering_shape, "gx:ServiceOffering", reasons) != 0)
        rc = TSR_EINVAL;
    /* tessera's catalog indexes the aggregated dataset: it must be a VirtualResource. */
    const json_t *res = json_object_get(subj, "gx:aggregationOfResources");
    if (json_is_array(res))
        res = json_array_get(res, 0);
    if (json_is_object(res) && json_object_size(res) > 1 &&
        !has_gx_type(type_of(res), "VirtualResource"))
        rc = add_reason(reasons, TSR_EINVAL, "gx:aggregationOfResources: not typed "
                        "gx:VirtualResource");
    return rc;
}

int tsr_vc_check_shapes(const json_t *cred, json_t *reasons)
{
    const json_t *subj = json_object_get(cred, "credentialSubject");
    enum tsr_vc_class cls;

    if (!json_is_object(subj))
        return add_reason(reasons, TSR_EINVAL, "credentialSubject: missing or not one object");
    cls = tsr_vc_class_of(type_of(subj));
    if (cls == TSR_VC_CLASS_OTHER)
        cls = tsr_vc_class_of(type_of(cred));
    if (cls == TSR_VC_CLASS_OTHER)
        return add_reason(reasons, TSR_EINVAL, "credentialSubject: the type is neither "
                          "gx:LegalPerson nor gx:ServiceOffering");
    return check_subject(subj, cls, reasons);
}

/* ------------------------------------------------------------ sign */

int tsr_vc_sign(const struct tsr_key *key, const char *kid, bool presentation,
                const json_t *payload, char **out, struct tsr_diag *d)
{
    json_t *hdr = NULL, *body = NULL;
    char *did = NULL, *text = NULL;
    const char *frag = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = tsr_did_url_split(kid, &did, &frag, d);
    if (rc != 0)
        goto out;
    if (frag == NULL) {
        rc = tsr_diag_set(d, TSR_EINVAL, "kid %s has no fragment", kid);
        goto out;
    }
    hdr = json_pack("{s:s, s:s, s:s, s:s}", "typ", presentation ? "vp+jwt" : "vc+jwt", "cty",
                    presentation ? "vp" : "vc", "kid", kid, "iss", did);
    body = json_deep_copy(payload);
    if (hdr == NULL || !json_is_object(body)) {
        rc = tsr_diag_set(d, body == NULL ? TSR_ENOMEM : TSR_EINVAL, "cannot copy the payload");
        goto out;
    }
    json_object_set_new(body, "iss", json_string(did));
    json_object_set_new(body, "iat", json_integer((json_int_t)(tsr_time_now_ms() / 1000)));
    const char *until = json_string_value(json_object_get(payload, "validUntil"));
    if (until != NULL) {
        struct tsr_time t;
        rc = tsr_time_parse(until, &t, d);
        if (rc != 0)
            goto out;
        json_object_set_new(body, "exp", json_integer((json_int_t)t.sec));
    }
    rc = tsr_json_dumps(body, JSON_COMPACT, presentation ? TSR_VP_JWT_MAX : TSR_VC_JWT_MAX, &text,
                        &len);
    if (rc != 0) {
        rc = tsr_diag_set(d, rc, "credential too large or not serialisable");
        goto out;
    }
    rc = tsr_jws_sign(key, hdr, text, len, out, d);
out:
    tsr_free(text);
    tsr_free(did);
    json_decref(hdr);
    json_decref(body);
    return rc;
}

/* ------------------------------------------------------------ decode, verify */

void tsr_vc_free(struct tsr_vc *vc)
{
    if (vc == NULL)
        return;
    tsr_free(vc->jwt);
    json_decref(vc->header);
    tsr_free(vc->kid);
    tsr_free(vc->did);
    json_decref(vc->payload);
    tsr_free(vc);
}

static bool typ_is(const char *typ, const char *a, const char *b)
{
    if (typ == NULL)
        return false;
    if (strncmp(typ, "application/", 12) == 0)
        typ += 12;
    return strcmp(typ, a) == 0 || strcmp(typ, b) == 0;
}

int tsr_vc_decode(const char *jwt, struct tsr_vc **out, struct tsr_diag *d)
{
    struct tsr_vc *vc = NULL;
    const char *typ, *cty, *kid, *alg, *frag = NULL;
    size_t len = strnlen(jwt, TSR_VP_JWT_MAX + 1);
    int rc;

    *out = NULL;
    if (len > TSR_VP_JWT_MAX)
        return tsr_diag_set(d, TSR_ELIMIT, "token longer than %zu bytes", TSR_VP_JWT_MAX);
    vc = tsr_calloc(1, sizeof(*vc));
    if (vc == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    /* tsr_jws_peek_header bounds at TSR_JWS_MAX_LEN; a VP may be longer, so
     * decode the header part ourselves then. */
    const char *dot = memchr(jwt, '.', len);
    if (dot == NULL) {
        rc = tsr_diag_set(d, TSR_EINVAL, "not a compact JWS");
        goto fail;
    }
    {
        unsigned char *raw = NULL;
        size_t rawlen = 0;
        if (tsr_b64url_decode_alloc(jwt, (size_t)(dot - jwt), 8192, &raw, &rawlen) != 0) {
            rc = tsr_diag_set(d, TSR_EINVAL, "JWS header: not base64url (or too long)");
            goto fail;
        }
        rc = tsr_json_parse((const char *)raw, rawlen, NULL, &vc->header, d);
        tsr_free(raw);
        if (rc != 0 || !json_is_object(vc->header)) {
            rc = tsr_diag_set(d, TSR_EINVAL, "JWS header: not a JSON object");
            goto fail;
        }
    }
    alg = json_string_value(json_object_get(vc->header, "alg"));
    typ = json_string_value(json_object_get(vc->header, "typ"));
    cty = json_string_value(json_object_get(vc->header, "cty"));
    kid = json_string_value(json_object_get(vc->header, "kid"));
    if (alg == NULL || (strcmp(alg, "ES256") != 0 && strcmp(alg, "EdDSA") != 0)) {
        rc = tsr_diag_set(d, TSR_EINVAL, "JWS header: alg %s is not ES256 or EdDSA",
                          alg != NULL ? alg : "(missing)");
        goto fail;
    }
    if (typ_is(typ, "vp+jwt", "vp+ld+json+jwt")) {
        vc->presentation = true;
        if (cty != NULL && !typ_is(cty, "vp", "vp+ld+json")) {
            rc = tsr_diag_set(d, TSR_EINVAL, "JWS header: cty %s does not fit typ %s", cty, typ);
            goto fail;
        }
    } else if (typ_is(typ, "vc+jwt", "vc+ld+json+jwt")) {
        if (cty != NULL && !typ_is(cty, "vc", "vc+ld+json")) {
            rc = tsr_diag_set(d, TSR_EINVAL, "JWS header: cty %s does not fit typ %s", cty, typ);
            goto fail;
        }
        if (len > TSR_VC_JWT_MAX) {
            rc = tsr_diag_set(d, TSR_ELIMIT, "VC-JWT longer than %zu bytes", TSR_VC_JWT_MAX);
            goto fail;
        }
    } else if (typ_is(typ, "withdrawal+jwt", "withdrawal+jwt")) {
        vc->withdrawal = true;
        if (len > TSR_VC_JWT_MAX) {
            rc = tsr_diag_set(d, TSR_ELIMIT, "withdrawal longer than %zu bytes", TSR_VC_JWT_MAX);
            goto fail;
        }
    } else {
        rc = tsr_diag_set(d, TSR_EINVAL, "JWS header: typ %s is not vc+jwt or vp+jwt",
                          typ != NULL ? typ : "(missing)");
        goto fail;
    }
    if (kid == NULL) {
        rc = tsr_diag_set(d, TSR_EINVAL, "JWS header: kid is missing");
        goto fail;
    }
    if (kid[0] == '#') {
        const char *iss = json_string_value(json_object_get(vc->header, "iss"));
        char full[TSR_DID_MAX_LEN + 1];
        if (iss == NULL || snprintf(full, sizeof(full), "%s%s", iss, kid) >= (int)sizeof(full)) {
            rc = tsr_diag_set(d, TSR_EINVAL, "JWS header: relative kid without iss");
            goto fail;
        }
        vc->kid = tsr_strdup(full);
    } else {
        vc->kid = tsr_strdup(kid);
    }
    if (vc->kid == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto fail;
    }
    rc = tsr_did_url_split(vc->kid, &vc->did, &frag, d);
    if (rc != 0)
        goto fail;
    if (frag == NULL || strncmp(vc->did, "did:web:", 8) != 0) {
        rc = tsr_diag_set(d, TSR_EINVAL, "JWS header: kid %.100s is not a did:web key id",
                          vc->kid);
        goto fail;
    }
    vc->jwt = tsr_strndup(jwt, len);
    if (vc->jwt == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto fail;
    }
    *out = vc;
    return 0;
fail:
    tsr_vc_free(vc);
    return rc;
}

struct kc_entry {
    uint64_t hash;
    char *id;            /* kid "\n" compact JWK */
    struct tsr_key *key;
};

struct tsr_vc_keycache {
    struct kc_entry *e;
    size_t n, max, next; /* next: the slot replaced when full (round robin) */
};

int tsr_vc_keycache_new(size_t max, struct tsr_vc_keycache **out)
{
    struct tsr_vc_keycache *kc = tsr_calloc(1, sizeof(*kc));

    *out = NULL;
    if (kc == NULL)
        return TSR_ENOMEM;
    kc->max = max > 0 ? max : 256;
    kc->e = tsr_calloc(kc->max, sizeof(*kc->e));
    if (kc->e == NULL) {
        tsr_free(kc);
        return TSR_ENOMEM;
    }
    *out = kc;
    return 0;
}

void tsr_vc_keycache_free(struct tsr_vc_keycache *kc)
{
    if (kc == NULL)
        return;
    for (size_t i = 0; i < kc->n; i++) {
        tsr_free(kc->e[i].id);
        tsr_key_free(kc->e[i].key);
    }
    tsr_free(kc->e);
    tsr_free(kc);
}

/* The key of jwk for kid: from the cache, or built (and cached).  *key is borrowed or new. */
static int cached_key(struct tsr_vc_keycache *kc, const char *kid, const json_t *jwk,
                      struct tsr_key **key, bool *owned, struct tsr_diag *d)
{
    char *text = NULL, *id = NULL;
    size_t len = 0;
    uint64_t h;
    int rc;

    *owned = true;
    if (kc == NULL)
        return tsr_key_from_jwk(jwk, key, d);
    /* JSON_SORT_KEYS: the same key written in another member order is the same entry. */
    if (tsr_json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS, 8192, &text, &len) != 0)
        return tsr_key_from_jwk(jwk, key, d);
    size_t idlen = strlen(kid) + 1 + len + 1;
    id = tsr_malloc(idlen);
    if (id == NULL) {
        tsr_free(text);
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    snprintf(id, idlen, "%s\n%s", kid, text);
    tsr_free(text);
    h = tsr_str_hash(id, NULL);
    for (size_t i = 0; i < kc->n; i++) {
        if (kc->e[i].hash == h && strcmp(kc->e[i].id, id) == 0) {
            tsr_free(id);
            *key = kc->e[i].key;
            *owned = false;
            return 0;
        }
    }
    rc = tsr_key_from_jwk(jwk, key, d);
    if (rc != 0) {
        tsr_free(id);
        return rc;
    }
    size_t slot = kc->n < kc->max ? kc->n++ : kc->next++ % kc->max;
    if (slot < kc->n && kc->e[slot].id != NULL) {
        tsr_free(kc->e[slot].id);
        tsr_key_free(kc->e[slot].key);
    }
    kc->e[slot] = (struct kc_entry){h, id, *key};
    *owned = false;
    return 0;
}

int tsr_vc_verify(struct tsr_vc *vc, const json_t *did_doc, struct tsr_diag *d)
{
    return tsr_vc_verify_cached(vc, did_doc, NULL, d);
}

int tsr_vc_verify_cached(struct tsr_vc *vc, const json_t *did_doc, struct tsr_vc_keycache *kc,
                         struct tsr_diag *d)
{
    const json_t *jwk = NULL;
    struct tsr_key *key = NULL;
    bool owned = true;
    unsigned char *payload = NULL;
    size_t len = 0;
    int rc;

    rc = tsr_did_doc_find_jwk(did_doc, vc->kid, "assertionMethod", &jwk, d);
    if (rc == TSR_ENOTFOUND && vc->presentation)
        rc = tsr_did_doc_find_jwk(did_doc, vc->kid, "authentication", &jwk, d);
    if (rc != 0)
        goto out;
    rc = cached_key(kc, vc->kid, jwk, &key, &owned, d);
    if (rc != 0)
        goto out;
    rc = tsr_jws_verify(key, vc->jwt, vc->presentation ? TSR_VP_JWT_MAX : TSR_VC_JWT_MAX, NULL,
                        &payload, &len, d);
    if (rc != 0)
        goto out;
    json_decref(vc->payload);
    vc->payload = NULL;
    rc = tsr_json_parse((const char *)payload, len, &payload_limits, &vc->payload, d);
    if (rc == 0 && !json_is_object(vc->payload)) {
        json_decref(vc->payload);
        vc->payload = NULL;
        rc = tsr_diag_set(d, TSR_EINVAL, "the JWT payload is not a JSON object");
    }
out:
    tsr_free(payload);
    if (owned)
        tsr_key_free(key);
    return rc;
}

/* ------------------------------------------------------------ check */

/* @context: the v2 context first, and (for credentials) an accepted gx namespace. */
static int check_context(const json_t *p, bool need_gx, json_t *reasons)
{
    const json_t *ctx = json_object_get(p, "@context"), *c;
    bool gx = false;
    size_t i;

    if (json_is_string(ctx) && !need_gx && strcmp(json_string_value(ctx), TSR_VC_CONTEXT_V2) == 0)
        return 0;
    if (!json_is_array(ctx) || !json_is_string(json_array_get(ctx, 0)) ||
        strcmp(json_string_value(json_array_get(ctx, 0)), TSR_VC_CONTEXT_V2) != 0)
        return add_reason(reasons, TSR_EINVAL, "@context: the first entry must be %s",
                          TSR_VC_CONTEXT_V2);
    json_array_foreach(ctx, i, c) {
        const char *s = json_string_value(c);
        if (s != NULL && (strcmp(s, TSR_VC_GX_2511) == 0 || strcmp(s, TSR_VC_GX_DEV) == 0))
            gx = true;
        if (json_is_object(c)) {
            const char *ns = json_string_value(json_object_get(c, "gx"));
            if (ns != NULL && (strcmp(ns, TSR_VC_GX_2511) == 0 || strcmp(ns, TSR_VC_GX_DEV) == 0))
                gx = true;
        }
    }
    if (need_gx && !gx)
        return add_reason(reasons, TSR_EINVAL, "@context: no Gaia-X namespace (%s or %s)",
                          TSR_VC_GX_2511, TSR_VC_GX_DEV);
    return 0;
}

/* The dataset node's media type as "type/subtype" (an IANA URL or a plain string). */
static const char *media_type_of(const json_t *ds)
{
    const json_t *dist = json_object_get(ds, "dcat:distribution");
    const char *mt;
    static const char iana[] = "https://www.iana.org/assignments/media-types/";

    if (json_is_array(dist))
        dist = json_array_get(dist, 0);
    mt = id_of(json_object_get(dist, "dcat:mediaType"));
    if (mt != NULL && strncmp(mt, iana, sizeof(iana) - 1) == 0)
        mt += sizeof(iana) - 1;
    return mt;
}

static void fill_info(const json_t *p, const json_t *subj, enum tsr_vc_class cls,
                      struct tsr_vc_info *info)
{
    const json_t *ds = json_object_get(subj, "gx:aggregationOfResources");

    if (json_is_array(ds))
        ds = json_array_get(ds, 0);
    info->cls = cls;
    info->cls_name = cls == TSR_VC_CLASS_LEGAL_PERSON ? "LegalPerson" : "ServiceOffering";
    info->id = json_string_value(json_object_get(p, "id"));
    info->issuer = id_of(json_object_get(p, "issuer"));
    info->subject = id_of(subj);
    info->participant = cls == TSR_VC_CLASS_LEGAL_PERSON
                            ? info->subject
                            : id_of(json_object_get(subj, "gx:providedBy"));
    info->title = json_string_value(json_object_get(subj, "schema:name"));
    if (info->title == NULL)
        info->title = json_string_value(json_object_get(ds, "dct:title"));
    info->description = json_string_value(json_object_get(subj, "schema:description"));
    if (info->description == NULL)
        info->description = json_string_value(json_object_get(ds, "dct:description"));
    info->keywords = json_object_get(subj, "gx:keyword");
    if (info->keywords == NULL)
        info->keywords = json_object_get(ds, "dcat:keyword");
    info->media_type = media_type_of(ds);
    info->endpoint =
        json_string_value(json_object_get(json_object_get(subj, "gx:endpoint"), "gx:endpointURL"));
    info->dataset_id = json_string_value(json_object_get(ds, "dct:identifier"));
    info->license = json_string_value(json_object_get(ds, "gx:license"));
}

int tsr_vc_check(const struct tsr_vc *vc, int64_t now, const char *const *trusted,
                 json_t *reasons, struct tsr_vc_info *info)
{
    const json_t *p = vc->payload, *subj;
    const char *issuer, *iss;
    bool bad = false, unauth = false;
    enum tsr_vc_class cls = TSR_VC_CLASS_OTHER;
    int64_t from, until;

    if (info != NULL)
        memset(info, 0, sizeof(*info));
    if (!json_is_object(p))
        return add_reason(reasons, TSR_EINVAL, "the credential has not been verified");
    if (vc->presentation)
        return add_reason(reasons, TSR_EINVAL, "a presentation is not a credential");
    if (json_object_get(p, "vc") != NULL || json_object_get(p, "vp") != NULL)
        bad |= add_reason(reasons, TSR_EINVAL, "the payload must be the credential itself, "
                          "without a vc or vp claim") != 0;
    if (check_context(p, true, reasons) != 0)
        bad = true;
    if (!has_type(type_of(p), "VerifiableCredential"))
        bad |= add_reason(reasons, TSR_EINVAL, "type: VerifiableCredential is missing") != 0;
    if (!json_is_string(json_object_get(p, "id")))
        bad |= add_reason(reasons, TSR_EINVAL, "id: missing or not a string") != 0;
    issuer = id_of(json_object_get(p, "issuer"));
    iss = json_string_value(json_object_get(p, "iss"));
    if (issuer == NULL) {
        bad |= add_reason(reasons, TSR_EINVAL, "issuer: missing") != 0;
    } else if (strcmp(issuer, vc->did) != 0) {
        unauth |= add_reason(reasons, TSR_EAUTH, "issuer %.100s is not the signer %.100s",
                             issuer, vc->did) != 0;
    }
    if (iss != NULL && issuer != NULL && strcmp(iss, issuer) != 0)
        unauth |= add_reason(reasons, TSR_EAUTH, "iss %.100s differs from issuer", iss) != 0;
    from = time_member(p, "validFrom", reasons);
    until = time_member(p, "validUntil", reasons);
    if (from < 0 || until < 0) {
        bad = true;
    } else {
        if (now < from)
            unauth |= add_reason(reasons, TSR_EAUTH, "not valid yet (validFrom %s)",
                                 json_string_value(json_object_get(p, "validFrom"))) != 0;
        if (now >= until)
            unauth |= add_reason(reasons, TSR_EAUTH, "expired (validUntil %s)",
                                 json_string_value(json_object_get(p, "validUntil"))) != 0;
        if (until <= from)
            bad |= add_reason(reasons, TSR_EINVAL, "validUntil is not after validFrom") != 0;
        json_int_t exp = json_integer_value(json_object_get(p, "exp"));
        if (json_object_get(p, "exp") != NULL && (int64_t)exp != until)
            bad |= add_reason(reasons, TSR_EINVAL, "exp differs from validUntil") != 0;
        json_int_t nbf = json_integer_value(json_object_get(p, "nbf"));
        if (json_object_get(p, "nbf") != NULL && (int64_t)nbf != from)
            bad |= add_reason(reasons, TSR_EINVAL, "nbf differs from validFrom") != 0;
    }
    subj = json_object_get(p, "credentialSubject");
    if (!json_is_object(subj)) {
        bad |= add_reason(reasons, TSR_EINVAL, "credentialSubject: missing or not one object") != 0;
    } else {
        cls = tsr_vc_class_of(type_of(subj));
        if (cls == TSR_VC_CLASS_OTHER)
            cls = tsr_vc_class_of(type_of(p));
        if (cls == TSR_VC_CLASS_OTHER) {
            bad |= add_reason(reasons, TSR_EINVAL, "credentialSubject: this catalog takes "
                              "gx:LegalPerson and gx:ServiceOffering only") != 0;
        } else {
            if (check_subject(subj, cls, reasons) != 0)
                bad = true;
            /* Who may describe whom: a participant itself, its offers its own. */
            const char *owner = cls == TSR_VC_CLASS_LEGAL_PERSON
                                    ? id_of(subj)
                                    : id_of(json_object_get(subj, "gx:providedBy"));
            bool trusted_issuer = false;
            for (size_t i = 0; trusted != NULL && trusted[i] != NULL && issuer != NULL; i++)
                trusted_issuer = trusted_issuer || strcmp(trusted[i], issuer) == 0;
            if (owner != NULL && issuer != NULL && strcmp(owner, issuer) != 0 && !trusted_issuer)
                unauth |= add_reason(reasons, TSR_EAUTH, "issuer %.100s may not describe "
                                     "%.100s (%s)", issuer, owner,
                                     cls == TSR_VC_CLASS_LEGAL_PERSON
                                         ? "a LegalPerson must be issued by itself"
                                         : "gx:providedBy must be the issuer") != 0;
        }
    }
    if (bad)
        return TSR_EINVAL;
    if (unauth)
        return TSR_EAUTH;
    if (info != NULL) {
        fill_info(p, subj, cls, info);
        info->valid_from = from;
        info->valid_until = until;
        json_int_t iat = json_integer_value(json_object_get(p, "iat"));
        info->iat = iat > 0 ? (int64_t)iat : from;
    }
    return 0;
}

/* ------------------------------------------------------------ presentations */

int tsr_vc_unwrap(const struct tsr_vc *vp, json_t **jwts, struct tsr_diag *d)
{
    const json_t *p = vp->payload, *list, *e;
    const char *holder;
    json_t *out = NULL;
    size_t i;
    int rc;

    *jwts = NULL;
    if (!vp->presentation || !json_is_object(p))
        return tsr_diag_set(d, TSR_EINVAL, "not a verified presentation");
    if (check_context(p, false, NULL) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "presentation @context: the first entry must be %s",
                            TSR_VC_CONTEXT_V2);
    if (!has_type(type_of(p), "VerifiablePresentation"))
        return tsr_diag_set(d, TSR_EINVAL, "presentation type: VerifiablePresentation missing");
    holder = id_of(json_object_get(p, "holder"));
    if (holder != NULL && strcmp(holder, vp->did) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "presentation holder %.100s is not the signer",
                            holder);
    list = json_object_get(p, "verifiableCredential");
    if (!json_is_array(list) || json_array_size(list) == 0)
        return tsr_diag_set(d, TSR_EINVAL, "verifiableCredential: missing or empty");
    if (json_array_size(list) > TSR_VP_MAX_CREDENTIALS)
        return tsr_diag_set(d, TSR_ELIMIT, "more than %d credentials in one presentation",
                            TSR_VP_MAX_CREDENTIALS);
    out = json_array();
    if (out == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    json_array_foreach(list, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *jwt = NULL;
        if (!has_type(type_of(e), "EnvelopedVerifiableCredential") || id == NULL) {
            rc = tsr_diag_set(d, TSR_EINVAL, "verifiableCredential[%zu]: not an "
                              "EnvelopedVerifiableCredential with an id", i);
            goto fail;
        }
        if (tsr_str_startswith(id, TSR_VC_DATA_PREFIX))
            jwt = id + strlen(TSR_VC_DATA_PREFIX);
        else if (tsr_str_startswith(id, TSR_VC_DATA_PREFIX_LD))
            jwt = id + strlen(TSR_VC_DATA_PREFIX_LD);
        if (jwt == NULL) {
            rc = tsr_diag_set(d, TSR_EINVAL, "verifiableCredential[%zu]: id is not a "
                              "data:application/vc+jwt URL", i);
            goto fail;
        }
        if (json_array_append_new(out, json_string(jwt)) != 0) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            goto fail;
        }
    }
    *jwts = out;
    return 0;
fail:
    json_decref(out);
    return rc;
}

/* ------------------------------------------------------------ withdrawals */

int tsr_vc_withdrawal_sign(const struct tsr_key *key, const char *kid, const char *subject,
                           char **out, struct tsr_diag *d)
{
    json_t *hdr = NULL, *claims = NULL;
    char *did = NULL, *text = NULL;
    const char *frag = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = tsr_did_url_split(kid, &did, &frag, d);
    if (rc != 0)
        return rc;
    hdr = json_pack("{s:s, s:s, s:s}", "typ", "withdrawal+jwt", "kid", kid, "iss", did);
    claims = json_pack("{s:s, s:s, s:I}", "iss", did, "sub", subject, "iat",
                       (json_int_t)(tsr_time_now_ms() / 1000));
    if (hdr == NULL || claims == NULL) {
        rc = tsr_diag_set(d, TSR_EINVAL, "cannot build the withdrawal (bad subject?)");
        goto out;
    }
    rc = tsr_json_dumps(claims, JSON_COMPACT, TSR_VC_JWT_MAX, &text, &len);
    if (rc == 0)
        rc = tsr_jws_sign(key, hdr, text, len, out, d);
    else
        rc = tsr_diag_set(d, rc, "withdrawal too large");
out:
    tsr_free(text);
    tsr_free(did);
    json_decref(hdr);
    json_decref(claims);
    return rc;
}

int tsr_vc_withdrawal_check(const struct tsr_vc *w, int64_t now, const char **subject,
                            int64_t *iat, struct tsr_diag *d)
{
    const json_t *p = w->payload;
    const char *iss = json_string_value(json_object_get(p, "iss"));
    const char *sub = json_string_value(json_object_get(p, "sub"));
    const json_t *t = json_object_get(p, "iat");

    if (!w->withdrawal || !json_is_object(p))
        return tsr_diag_set(d, TSR_EINVAL, "not a verified withdrawal");
    if (sub == NULL || sub[0] == '\0' || !json_is_integer(t))
        return tsr_diag_set(d, TSR_EINVAL, "withdrawal: sub and iat are required");
    if (iss == NULL || strcmp(iss, w->did) != 0)
        return tsr_diag_set(d, TSR_EAUTH, "withdrawal: iss is not the signer %.100s", w->did);
    if ((int64_t)json_integer_value(t) > now + 60)
        return tsr_diag_set(d, TSR_EAUTH, "withdrawal: issued in the future");
    *subject = sub;
    *iat = (int64_t)json_integer_value(t);
    return 0;
}
