/*
 * tests/unit/connector/test_sd.c: self-descriptions (connector/sd.h) and
 * their verification (lib/vc.h): the credentials built from a store pass
 * the 2511 shape rules, carry the DCAT-AP fields, sign and verify as
 * VC-JWTs inside a VP-JWT; the synthetic Loire vectors (tests/data/gaiax,
 * ours) verify against their did.json while the tampered copy does not;
 * and each shape rule refuses a credential that breaks it.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "connector/sd.h"
#include "connector/store.h"
#include "lib/crypto.h"
#include "lib/did.h"
#include "lib/jose.h"
#include "lib/json.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "lib/vc.h"

#define S(lit) ((char *)(lit))
#define DID "did:web:127.0.0.1%3A8443"
#define KID DID "#key-1"
/* 2026-06-01T00:00:00Z: inside the synthetic vectors' validity (2026-01-01 .. 2027-01-01). */
#define VECTOR_NOW 1780272000

static const struct tsr_sd_conf conf = {
    .did = DID,
    .kid = KID,
    .name = "Example Provider GmbH",
    .public_url = "https://127.0.0.1:8443",
    .dsp_url = "https://127.0.0.1:8443/dsp/2025-1",
    .reg_type = "vat_id",
    .reg_number = "DE123456789",
    .legal_country = "DE",
    .validity_s = 7 * 86400,
};

static const struct tsr_store_asset asset = {
    .id = S("line3-2025"),
    .title = S("Line sensor data 2025"),
    .description = S("Hourly readings from production line 3."),
    .keywords = S("[\"sensor\",\"manufacturing\"]"),
    .media_type = S("text/csv"),
    .source_kind = S("file"),
    .source = S("/tmp/x.csv"),
    .size = 1048576,
};
static const struct tsr_store_policy policy = {
    .id = S("p1"),
    .body = S("{\"@type\":\"Offer\",\"permission\":[{\"action\":\"use\"}]}"),
};
static const struct tsr_store_offer offer = {.id = S("o1"), .asset_id = S("line3-2025"),
                                             .policy_id = S("p1")};

static char *read_data(const char *name)
{
    const char *top = getenv("top_srcdir");
    char path[1024];
    unsigned char *buf = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s/tests/data/gaiax/%s", top != NULL ? top : ".", name);
    if (tsr_crypto_read_file(path, 1 << 20, &buf, &len, NULL) != 0)
        fail_msg("cannot read %s (is top_srcdir set?)", path);
    /* JWT files may end with a newline. */
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    char *s = tsr_strndup((const char *)buf, len);
    tsr_free(buf);
    return s;
}

static json_t *read_json(const char *name)
{
    char *text = read_data(name);
    json_t *j = NULL;

    assert_int_equal(tsr_json_parse(text, strlen(text), NULL, &j, NULL), 0);
    tsr_free(text);
    return j;
}

/* A key and its DID document, as tesserad builds them. */
static void make_identity(struct tsr_key **key, json_t **doc)
{
    json_t *jwk = NULL;

    assert_int_equal(tsr_key_generate(TSR_KEY_ES256, key, NULL), 0);
    assert_int_equal(tsr_key_to_jwk(*key, false, &jwk, NULL), 0);
    assert_int_equal(tsr_did_doc_build(DID, jwk, NULL, 0, doc, NULL), 0);
    json_decref(jwk);
}

static void test_offering_shapes_and_dcat(void **state)
{
    json_t *cred = NULL, *reasons = json_array();
    struct tsr_diag d = {0};

    (void)state;
    assert_int_equal(tsr_sd_offering(&conf, &offer, &asset, &policy, VECTOR_NOW, &cred, &d), 0);
    assert_int_equal(tsr_vc_check_shapes(cred, reasons), 0);
    assert_int_equal(json_array_size(reasons), 0);
    json_t *subj = json_object_get(cred, "credentialSubject");
    assert_string_equal(json_string_value(json_object_get(subj, "type")), "gx:ServiceOffering");
    assert_string_equal(json_string_value(json_object_get(json_object_get(subj, "gx:providedBy"),
                                                          "id")),
                        DID);
    assert_string_equal(json_string_value(json_object_get(json_object_get(subj, "gx:endpoint"),
                                                          "gx:endpointURL")),
                        conf.dsp_url);
    /* The offer's ODRL policy travels as the service policy document. */
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(subj, "gx:servicePolicy"), "gx:policyDocument")),
                        policy.body);
    json_t *ds = json_object_get(subj, "gx:aggregationOfResources");
    json_t *types = json_object_get(ds, "type");
    assert_string_equal(json_string_value(json_array_get(types, 0)), "gx:VirtualResource");
    assert_string_equal(json_string_value(json_array_get(types, 1)), "dcat:Dataset");
    assert_string_equal(json_string_value(json_object_get(ds, "dct:title")), asset.title);
    assert_string_equal(json_string_value(json_object_get(ds, "dct:description")),
                        asset.description);
    assert_string_equal(json_string_value(json_object_get(ds, "dct:identifier")), asset.id);
    assert_string_equal(json_string_value(json_array_get(json_object_get(ds, "dcat:keyword"), 1)),
                        "manufacturing");
    json_t *dist = json_object_get(ds, "dcat:distribution");
    assert_string_equal(json_string_value(json_object_get(json_object_get(dist, "dcat:mediaType"),
                                                          "id")),
                        "https://www.iana.org/assignments/media-types/text/csv");
    assert_int_equal(json_integer_value(json_object_get(dist, "dcat:byteSize")), 1048576);
    /* The terms hash is the SHA-256 of the policy when no terms URL is configured. */
    unsigned char dg[TSR_SHA256_LEN];
    char hex[2 * TSR_SHA256_LEN + 1];
    tsr_sha256(policy.body, strlen(policy.body), dg);
    tsr_hex_encode(dg, sizeof(dg), hex);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(subj, "gx:serviceOfferingTermsAndConditions"),
                            "gx:hash")),
                        hex);
    json_decref(cred);
    json_decref(reasons);
}

static void test_legal_person(void **state)
{
    json_t *cred = NULL, *reasons = json_array();
    struct tsr_sd_conf c = conf;

    (void)state;
    assert_int_equal(tsr_sd_legal_person(&c, VECTOR_NOW, &cred, NULL), 0);
    assert_int_equal(tsr_vc_check_shapes(cred, reasons), 0);
    json_t *subj = json_object_get(cred, "credentialSubject");
    assert_string_equal(json_string_value(json_object_get(subj, "id")), DID);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(subj, "gx:headquartersAddress"), "gx:countryCode")),
                        "DE");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(subj, "gx:registrationNumber"), "gx:vatID")),
                        "DE123456789");
    json_decref(cred);
    /* Without a registration number or with a bad country there is no LegalPerson. */
    c.reg_number = "";
    assert_int_equal(tsr_sd_legal_person(&c, VECTOR_NOW, &cred, NULL), TSR_EINVAL);
    c.reg_number = "x";
    c.legal_country = "Germany";
    assert_int_equal(tsr_sd_legal_person(&c, VECTOR_NOW, &cred, NULL), TSR_EINVAL);
    assert_null(cred);
    json_decref(reasons);
}

/* Build from a store, sign, unwrap the VP and verify every credential. */
static void test_build_sign_verify(void **state)
{
    struct tsr_store *st = NULL;
    struct tsr_key *key = NULL;
    json_t *doc = NULL, *jwts = NULL;
    struct tsr_sd_set *set = NULL;
    struct tsr_vc *vp = NULL;
    struct tsr_diag d = {0};
    int64_t now = tsr_time_now_ms() / 1000;

    (void)state;
    make_identity(&key, &doc);
    assert_int_equal(tsr_store_open(":memory:", &st, NULL), 0);
    assert_int_equal(tsr_store_asset_put(st, &asset, NULL), 0);
    assert_int_equal(tsr_store_policy_put(st, &policy, NULL), 0);
    assert_int_equal(tsr_store_offer_put(st, &offer, NULL), 0);
    assert_int_equal(tsr_sd_build(&conf, key, st, now, &set, &d), 0);
    assert_int_equal(set->n, 2);
    assert_null(set->creds[0].offer_id);
    assert_string_equal(set->creds[1].offer_id, "o1");
    assert_string_equal(set->creds[1].subject, "https://127.0.0.1:8443/offers/o1");

    assert_int_equal(tsr_vc_decode(set->vp, &vp, &d), 0);
    assert_true(vp->presentation);
    assert_string_equal(vp->did, DID);
    assert_int_equal(tsr_vc_verify(vp, doc, &d), 0);
    assert_int_equal(tsr_vc_unwrap(vp, &jwts, &d), 0);
    assert_int_equal(json_array_size(jwts), 2);
    for (size_t i = 0; i < 2; i++) {
        struct tsr_vc *vc = NULL;
        struct tsr_vc_info info;
        json_t *reasons = json_array();
        assert_int_equal(tsr_vc_decode(json_string_value(json_array_get(jwts, i)), &vc, &d), 0);
        assert_string_equal(json_string_value(json_object_get(vc->header, "typ")), "vc+jwt");
        assert_string_equal(json_string_value(json_object_get(vc->header, "cty")), "vc");
        assert_string_equal(json_string_value(json_object_get(vc->header, "kid")), KID);
        assert_int_equal(tsr_vc_verify(vc, doc, &d), 0);
        /* The payload is the credential itself, with matching JOSE claims. */
        assert_null(json_object_get(vc->payload, "vc"));
        assert_string_equal(json_string_value(json_object_get(vc->payload, "iss")), DID);
        assert_int_equal(tsr_vc_check(vc, now, NULL, reasons, &info), 0);
        assert_int_equal(info.cls, i == 0 ? TSR_VC_CLASS_LEGAL_PERSON
                                          : TSR_VC_CLASS_SERVICE_OFFERING);
        assert_string_equal(info.participant, DID);
        if (i == 1) {
            assert_string_equal(info.title, asset.title);
            assert_string_equal(info.media_type, "text/csv");
            assert_string_equal(info.dataset_id, asset.id);
            assert_string_equal(info.endpoint, conf.dsp_url);
        }
        /* Expired a week later: refused with TSR_EAUTH and a reason. */
        assert_int_equal(tsr_vc_check(vc, now + conf.validity_s, NULL, reasons, NULL), TSR_EAUTH);
        assert_non_null(strstr(json_string_value(json_array_get(reasons, 0)), "expired"));
        json_decref(reasons);
        tsr_vc_free(vc);
    }
    /* A different key (a forger with the same kid) does not verify. */
    {
        struct tsr_key *k2 = NULL;
        json_t *doc2 = NULL;
        struct tsr_vc *vc = NULL;
        make_identity(&k2, &doc2);
        assert_int_equal(tsr_vc_decode(set->creds[1].jwt, &vc, NULL), 0);
        assert_int_equal(tsr_vc_verify(vc, doc2, NULL), TSR_ECRYPTO);
        assert_null(vc->payload);
        /* The key cache: a hit for the right document, never a stale key for another one
         * with the same kid (a rotated or a forged key). */
        struct tsr_vc_keycache *kc = NULL;
        assert_int_equal(tsr_vc_keycache_new(2, &kc), 0);
        assert_int_equal(tsr_vc_verify_cached(vc, doc, kc, NULL), 0);
        assert_int_equal(tsr_vc_verify_cached(vc, doc, kc, NULL), 0);
        assert_int_equal(tsr_vc_verify_cached(vc, doc2, kc, NULL), TSR_ECRYPTO);
        assert_int_equal(tsr_vc_verify_cached(vc, doc, kc, NULL), 0);
        tsr_vc_keycache_free(kc);
        tsr_vc_free(vc);
        tsr_key_free(k2);
        json_decref(doc2);
    }
    json_decref(jwts);
    tsr_vc_free(vp);
    tsr_sd_set_free(set);
    tsr_store_close(st);
    tsr_key_free(key);
    json_decref(doc);
}

/* The synthetic Loire set: valid signatures, a tampered copy that fails. */
static void test_vectors(void **state)
{
    json_t *doc = read_json("did.json"), *jwts = NULL;
    static const char *const good[] = {"legal-person.vc.jwt", "service-offering.vc.jwt"};
    struct tsr_diag d = {0};
    json_t *parsed = NULL;

    (void)state;
    assert_int_equal(tsr_did_doc_check("did:web:provider.example", doc, &d), 0);
    for (size_t i = 0; i < TSR_ARRAY_SIZE(good); i++) {
        char *jwt = read_data(good[i]);
        struct tsr_vc *vc = NULL;
        json_t *reasons = json_array();
        assert_int_equal(tsr_vc_decode(jwt, &vc, &d), 0);
        assert_int_equal(tsr_vc_verify(vc, doc, &d), 0);
        assert_int_equal(tsr_vc_check(vc, VECTOR_NOW, NULL, reasons, NULL), 0);
        assert_int_equal(json_array_size(reasons), 0);
        tsr_vc_free(vc);
        tsr_free(jwt);
        json_decref(reasons);
    }
    /* The tampered copy: one byte of the payload changed, the signature fails. */
    char *bad = read_data("service-offering.tampered.vc.jwt");
    struct tsr_vc *vc = NULL;
    assert_int_equal(tsr_vc_decode(bad, &vc, &d), 0);
    assert_int_equal(tsr_vc_verify(vc, doc, &d), TSR_ECRYPTO);
    tsr_vc_free(vc);
    tsr_free(bad);
    /* The presentation holds both as enveloped credentials. */
    char *vpjwt = read_data("presentation.vp.jwt");
    assert_int_equal(tsr_vc_decode(vpjwt, &vc, &d), 0);
    assert_int_equal(tsr_vc_verify(vc, doc, &d), 0);
    assert_int_equal(tsr_vc_unwrap(vc, &jwts, &d), 0);
    assert_int_equal(json_array_size(jwts), 2);
    tsr_vc_free(vc);
    tsr_free(vpjwt);
    json_decref(jwts);
    /* The decoded payloads pass the shape rules on their own. */
    parsed = read_json("service-offering.payload.json");
    assert_int_equal(tsr_vc_check_shapes(parsed, NULL), 0);
    json_decref(parsed);
    parsed = read_json("legal-person.payload.json");
    assert_int_equal(tsr_vc_check_shapes(parsed, NULL), 0);
    json_decref(parsed);
    json_decref(doc);
}

/* Each rule of the shapes, broken once: refused with a reason naming it. */
static void test_shape_violations(void **state)
{
    static const struct {
        const char *pointer; /* member of credentialSubject removed or replaced */
        const char *value;   /* JSON to put there; NULL: remove */
        const char *expect;  /* in the reason */
    } cases[] = {
        {"gx:providedBy", NULL, "gx:providedBy is missing"},
        {"gx:serviceOfferingTermsAndConditions", NULL, "TermsAndConditions is missing"},
        {"gx:unknownThing", "\"x\"", "not allowed by the closed shape gx:ServiceOffering"},
        {"gx:dataProtectionRegime", "\"GDPR2099\"", "not an allowed value"},
        {"gx:dataAccountExport", "{\"gx:requestType\":\"API\",\"gx:accessType\":\"digital\"}",
         "gx:formatType is missing"},
        {"gx:endpoint", "{\"gx:endpointURL\":\"https://x\"}", "gx:standardConformity is missing"},
        {"gx:aggregationOfResources", "{\"type\":\"dcat:Dataset\",\"gx:license\":\"MIT\"}",
         "gx:copyrightOwnedBy is missing"},
    };
    struct tsr_diag d = {0};

    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(cases); i++) {
        json_t *cred = read_json("service-offering.payload.json"), *reasons = json_array();
        json_t *subj = json_object_get(cred, "credentialSubject");
        if (cases[i].value == NULL) {
            json_object_del(subj, cases[i].pointer);
        } else {
            json_t *v = NULL;
            assert_int_equal(tsr_json_parse(cases[i].value, strlen(cases[i].value), NULL, &v, &d),
                             0);
            json_object_set_new(subj, cases[i].pointer, v);
        }
        assert_int_equal(tsr_vc_check_shapes(cred, reasons), TSR_EINVAL);
        assert_true(json_array_size(reasons) >= 1);
        bool found = false;
        for (size_t k = 0; k < json_array_size(reasons); k++)
            found = found || strstr(json_string_value(json_array_get(reasons, k)),
                                    cases[i].expect) != NULL;
        if (!found)
            fail_msg("case %zu: no reason with \"%s\" (first: %s)", i, cases[i].expect,
                     json_string_value(json_array_get(reasons, 0)));
        json_decref(reasons);
        json_decref(cred);
    }
    /* A LegalPerson without addresses: both reported at once. */
    json_t *lp = read_json("legal-person.payload.json"), *reasons = json_array();
    json_object_del(json_object_get(lp, "credentialSubject"), "gx:legalAddress");
    json_object_del(json_object_get(lp, "credentialSubject"), "gx:headquartersAddress");
    assert_int_equal(tsr_vc_check_shapes(lp, reasons), TSR_EINVAL);
    assert_int_equal(json_array_size(reasons), 2);
    json_decref(reasons);
    json_decref(lp);
}

/* The issuer rule: an offer provided by someone else is refused. */
static void test_issuer_rule(void **state)
{
    struct tsr_key *key = NULL;
    json_t *doc = NULL, *cred = NULL, *reasons = json_array();
    char *jwt = NULL;
    struct tsr_vc *vc = NULL;
    int64_t now = tsr_time_now_ms() / 1000;

    (void)state;
    make_identity(&key, &doc);
    assert_int_equal(tsr_sd_offering(&conf, &offer, &asset, &policy, now, &cred, NULL), 0);
    json_object_set_new(json_object_get(json_object_get(cred, "credentialSubject"),
                                        "gx:providedBy"),
                        "id", json_string("did:web:victim.example"));
    assert_int_equal(tsr_vc_sign(key, KID, false, cred, &jwt, NULL), 0);
    assert_int_equal(tsr_vc_decode(jwt, &vc, NULL), 0);
    assert_int_equal(tsr_vc_verify(vc, doc, NULL), 0);
    assert_int_equal(tsr_vc_check(vc, now, NULL, reasons, NULL), TSR_EAUTH);
    assert_non_null(strstr(json_string_value(json_array_get(reasons, 0)), "may not describe"));
    /* ...unless the issuer is a trusted one. */
    const char *const trusted[] = {DID, NULL};
    assert_int_equal(tsr_vc_check(vc, now, trusted, NULL, NULL), 0);
    tsr_vc_free(vc);
    tsr_free(jwt);
    /* A withdrawal verifies and names its subject. */
    assert_int_equal(tsr_vc_withdrawal_sign(key, KID, "https://x/offers/o1", &jwt, NULL), 0);
    assert_int_equal(tsr_vc_decode(jwt, &vc, NULL), 0);
    assert_true(vc->withdrawal);
    assert_int_equal(tsr_vc_verify(vc, doc, NULL), 0);
    const char *sub = NULL;
    int64_t iat = 0;
    assert_int_equal(tsr_vc_withdrawal_check(vc, now, &sub, &iat, NULL), 0);
    assert_string_equal(sub, "https://x/offers/o1");
    assert_true(iat >= now && iat <= now + 5);
    tsr_vc_free(vc);
    tsr_free(jwt);
    json_decref(cred);
    json_decref(reasons);
    json_decref(doc);
    tsr_key_free(key);
}

/* Headers that are not a VC-JWT's are refused before any key is looked at. */
static void test_decode_refusals(void **state)
{
    struct tsr_key *key = NULL;
    json_t *doc = NULL, *claims = json_pack("{s:s}", "a", "b");
    char *jwt = NULL;
    struct tsr_vc *vc = NULL;
    struct tsr_diag d = {0};

    (void)state;
    make_identity(&key, &doc);
    assert_int_equal(tsr_jwt_sign(key, KID, "JWT", claims, &jwt, NULL), 0);
    assert_int_equal(tsr_vc_decode(jwt, &vc, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "typ"));
    tsr_free(jwt);
    assert_int_equal(tsr_jwt_sign(key, "did:web:x.example", "vc+jwt", claims, &jwt, NULL), 0);
    assert_int_equal(tsr_vc_decode(jwt, &vc, &d), TSR_EINVAL);
    tsr_free(jwt);
    assert_int_equal(tsr_vc_decode("not.a.jwt", &vc, &d), TSR_EINVAL);
    assert_int_equal(tsr_vc_decode("", &vc, &d), TSR_EINVAL);
    json_decref(claims);
    json_decref(doc);
    tsr_key_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offering_shapes_and_dcat),
        cmocka_unit_test(test_legal_person),
        cmocka_unit_test(test_build_sign_verify),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_shape_violations),
        cmocka_unit_test(test_issuer_rule),
        cmocka_unit_test(test_decode_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
