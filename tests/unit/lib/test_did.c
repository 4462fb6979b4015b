/*
 * tests/unit/lib/test_did.c: did:web <-> URL mapping (the examples of the
 * did:web method specification), malformed DIDs, DID document building,
 * strict parsing and key lookup.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/did.h"
#include "lib/mem.h"

/* The public part of the P-256 example key of RFC 7517, appendix A.1. */
static const char example_jwk[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\","
    "\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
    "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\",\"use\":\"sig\",\"kid\":\"1\"}";

static void expect_url(const char *did, const char *want)
{
    char *url = NULL;
    struct tsr_diag d;

    tsr_diag_clear(&d);
    int rc = tsr_did_web_to_url(did, &url, &d);
    if (rc != 0)
        fail_msg("%s: %s", did, d.msg);
    assert_string_equal(url, want);
    tsr_free(url);
}

static void test_web_to_url_spec_examples(void **state)
{
    (void)state;
    /* did:web method specification, section 3.2 (Read/Resolve) examples. */
    expect_url("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json");
    expect_url("did:web:w3c-ccg.github.io:user:alice",
               "https://w3c-ccg.github.io/user/alice/did.json");
    expect_url("did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json");
    expect_url("did:web:example.com%3A3000:user:alice",
               "https://example.com:3000/user/alice/did.json");
    /* Ours: loopback for tests, lower-case escape, escapes kept in the path. */
    expect_url("did:web:127.0.0.1%3A8443", "https://127.0.0.1:8443/.well-known/did.json");
    expect_url("did:web:localhost%3a8443", "https://localhost:8443/.well-known/did.json");
    expect_url("did:web:example.com:a_b.c-d:x%20y", "https://example.com/a_b.c-d/x%20y/did.json");
}

static void test_web_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "did:web:",
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "DID:web:example.com",
        "did:WEB:example.com",
        "did:web:example.com:",
        "did:web:example.com::alice",
        "did:web:exa mple.com",
        "did:web:example.com#key-1",
        "did:web:example.com/path",
        "did:web:example.com?service=x",
        "did:web:-bad.example.com",
        "did:web:bad-.example.com",
        "did:web:a..b",
        "did:web:.example.com",
        "did:web:example.com.",
        "did:web:10.0.0.1",
        "did:web:192.168.1.1%3A8443",
        "did:web:127.0.0.256",
        "did:web:127.0.0.01",
        "did:web:example.123",
        "did:web:example.com%3A",
        "did:web:example.com%3A0",
        "did:web:example.com%3A65536",
        "did:web:example.com%3A08443",
        "did:web:example.com%3A80x",
        "did:web:example.com%3A80%3A81",
        "did:web:exa%41mple.com",
        "did:web:example.com:..",
        "did:web:example.com:.",
        "did:web:example.com:a%2Fb",
        "did:web:example.com:a%2e%2e",
        "did:web:example.com:a%zz",
        "did:web:example.com:a%2",
        "did:web:example.com:a@b",
        "did:web:[::1]",
        "did:web:xn--bcher-kva.example%C3%A9",
    };
    char *url = (char *)"untouched";
    struct tsr_diag d;

    (void)state;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(bad); i++) {
        tsr_diag_clear(&d);
        int rc = tsr_did_web_to_url(bad[i], &url, &d);
        if (rc != TSR_EINVAL)
            fail_msg("accepted or wrong code %d: \"%s\"", rc, bad[i]);
        assert_null(url);
        assert_true(strlen(d.msg) > 0);
    }
    assert_int_equal(tsr_did_web_to_url(NULL, &url, NULL), TSR_EINVAL);

    /* A 64-character label, and a DID over the length limit. */
    char label[128] = "did:web:";
    memset(label + 8, 'a', 64);
    memcpy(label + 72, ".com", 5);
    assert_int_equal(tsr_did_web_to_url(label, &url, NULL), TSR_EINVAL);
    char *huge = tsr_malloc(TSR_DID_MAX_LEN + 100);
    assert_non_null(huge);
    memcpy(huge, "did:web:example.com", 19);
    for (size_t i = 19; i + 2 < TSR_DID_MAX_LEN + 50; i += 2)
        memcpy(huge + i, ":a", 2);
    huge[TSR_DID_MAX_LEN + 50] = '\0';
    assert_int_equal(tsr_did_web_to_url(huge, &url, NULL), TSR_ELIMIT);
    tsr_free(huge);
}

static void expect_did(const char *host, unsigned port, const char *path, const char *want)
{
    char *did = NULL;
    char *url = NULL;

    assert_int_equal(tsr_did_web_from_host(host, port, path, &did, NULL), 0);
    assert_string_equal(did, want);
    /* Whatever we produce must resolve. */
    assert_int_equal(tsr_did_web_to_url(did, &url, NULL), 0);
    tsr_free(url);
    tsr_free(did);
}

static void test_web_from_host(void **state)
{
    char *did = NULL;

    (void)state;
    expect_did("w3c-ccg.github.io", 0, NULL, "did:web:w3c-ccg.github.io");
    expect_did("w3c-ccg.github.io", 443, "user/alice", "did:web:w3c-ccg.github.io:user:alice");
    expect_did("example.com", 3000, "/user/alice/", "did:web:example.com%3A3000:user:alice");
    expect_did("127.0.0.1", 8443, "", "did:web:127.0.0.1%3A8443");
    expect_did("localhost", 8443, "/", "did:web:localhost%3A8443");

    assert_int_equal(tsr_did_web_from_host("exa mple.com", 0, NULL, &did, NULL), TSR_EINVAL);
    assert_int_equal(tsr_did_web_from_host("10.1.2.3", 0, NULL, &did, NULL), TSR_EINVAL);
    assert_int_equal(tsr_did_web_from_host("::1", 0, NULL, &did, NULL), TSR_EINVAL);
    assert_int_equal(tsr_did_web_from_host("example.com", 70000, NULL, &did, NULL), TSR_EINVAL);
    assert_int_equal(tsr_did_web_from_host("example.com", 0, "a:b", &did, NULL), TSR_EINVAL);
    assert_int_equal(tsr_did_web_from_host("example.com", 0, "a//b", &did, NULL), TSR_EINVAL);
    assert_int_equal(tsr_did_web_from_host("example.com", 0, "a/../b", &did, NULL), TSR_EINVAL);
    assert_int_equal(tsr_did_web_from_host(NULL, 0, NULL, &did, NULL), TSR_EINVAL);
    assert_null(did);
}

static void test_url_split(void **state)
{
    char *did = NULL;
    const char *frag = NULL;

    (void)state;
    assert_int_equal(tsr_did_url_split("did:web:example.com%3A3000#key-1", &did, &frag, NULL), 0);
    assert_string_equal(did, "did:web:example.com%3A3000");
    assert_string_equal(frag, "key-1");
    tsr_free(did);
    assert_int_equal(tsr_did_url_split("did:web:example.com", &did, &frag, NULL), 0);
    assert_string_equal(did, "did:web:example.com");
    assert_null(frag);
    tsr_free(did);
    assert_int_equal(tsr_did_url_split("did:web:example.com#", &did, &frag, NULL), TSR_EINVAL);
    assert_int_equal(tsr_did_url_split("key-1", &did, &frag, NULL), TSR_EINVAL);
    assert_int_equal(tsr_did_url_split("did:web:example.com/p#k", &did, &frag, NULL),
                     TSR_EINVAL);
    assert_int_equal(tsr_did_url_split("did:web:example.com#a b", &did, &frag, NULL),
                     TSR_EINVAL);
    assert_int_equal(tsr_did_url_split("did::x#k", &did, &frag, NULL), TSR_EINVAL);
    assert_null(did);
}

/* Compact JSON text of j in buf (the tests' documents are small). */
static const char *dump(const json_t *j, char *buf, size_t size)
{
    size_t n = json_dumpb(j, buf, size - 1, JSON_COMPACT);
    assert_true(n > 0 && n < size);
    buf[n] = '\0';
    return buf;
}

static json_t *load(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (j == NULL)
        fail_msg("test JSON: %s", err.text);
    return j;
}

static void test_build_parse_round_trip(void **state)
{
    const char *did = "did:web:127.0.0.1%3A8443";
    const struct tsr_did_service svc[] = {
        {.fragment = "dsp", .type = "DataService", .endpoint = "https://127.0.0.1:8443/dsp"},
    };
    json_t *jwk = load(example_jwk);
    json_t *doc = NULL, *back = NULL;
    const json_t *found = NULL;
    struct tsr_diag d;

    (void)state;
    assert_int_equal(tsr_did_doc_build(did, jwk, svc, 1, &doc, &d), 0);

    /* The shape other implementations expect. */
    json_t *ctx = json_object_get(doc, "@context");
    assert_int_equal(json_array_size(ctx), 2);
    assert_string_equal(json_string_value(json_array_get(ctx, 0)),
                        "https://www.w3.org/ns/did/v1");
    assert_string_equal(json_string_value(json_array_get(ctx, 1)),
                        "https://w3id.org/security/suites/jws-2020/v1");
    assert_string_equal(json_string_value(json_object_get(doc, "id")), did);
    json_t *vm = json_array_get(json_object_get(doc, "verificationMethod"), 0);
    assert_string_equal(json_string_value(json_object_get(vm, "id")),
                        "did:web:127.0.0.1%3A8443#key-1");
    assert_string_equal(json_string_value(json_object_get(vm, "type")), "JsonWebKey2020");
    assert_string_equal(json_string_value(json_object_get(vm, "controller")), did);
    assert_true(json_equal(json_object_get(vm, "publicKeyJwk"), jwk));
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(doc, "authentication"), 0)),
        "did:web:127.0.0.1%3A8443#key-1");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(doc, "assertionMethod"), 0)),
        "did:web:127.0.0.1%3A8443#key-1");
    json_t *s = json_array_get(json_object_get(doc, "service"), 0);
    assert_string_equal(json_string_value(json_object_get(s, "id")),
                        "did:web:127.0.0.1%3A8443#dsp");
    assert_string_equal(json_string_value(json_object_get(s, "type")), "DataService");
    assert_string_equal(json_string_value(json_object_get(s, "serviceEndpoint")),
                        "https://127.0.0.1:8443/dsp");

    /* Serialised and parsed back it passes the strict check. */
    char buf[8192];
    const char *text = dump(doc, buf, sizeof(buf));
    assert_int_equal(tsr_did_doc_parse(did, text, strlen(text), &back, &d), 0);
    assert_true(json_equal(doc, back));

    /* Every way of naming the key finds it. */
    assert_int_equal(tsr_did_doc_find_jwk(back, "did:web:127.0.0.1%3A8443#key-1", NULL, &found,
                                          &d),
                     0);
    assert_true(json_equal(found, jwk));
    found = NULL;
    assert_int_equal(tsr_did_doc_find_jwk(back, "key-1", "assertionMethod", &found, &d), 0);
    assert_true(json_equal(found, jwk));
    found = NULL;
    assert_int_equal(tsr_did_doc_find_jwk(back, "#key-1", "authentication", &found, &d), 0);
    assert_true(json_equal(found, jwk));

    /* Without services there is no service member. */
    json_t *bare = NULL;
    assert_int_equal(tsr_did_doc_build(did, jwk, NULL, 0, &bare, &d), 0);
    assert_null(json_object_get(bare, "service"));
    json_decref(bare);

    json_decref(back);
    json_decref(doc);
    json_decref(jwk);
}

static void test_build_refuses(void **state)
{
    const char *did = "did:web:example.com";
    json_t *jwk = load(example_jwk);
    json_t *priv = json_deep_copy(jwk);
    json_t *doc = NULL;
    struct tsr_diag d;
    struct tsr_did_service svc = {.fragment = "dsp", .type = "DataService",
                                  .endpoint = "ftp://example.com/"};

    (void)state;
    /* A private key must never end up in a published document. */
    json_object_set_new(priv, "d", json_string("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"));
    assert_int_equal(tsr_did_doc_build(did, priv, NULL, 0, &doc, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "private"));
    assert_int_equal(tsr_did_doc_build("example.com", jwk, NULL, 0, &doc, &d), TSR_EINVAL);
    json_t *notjwk = json_string("x");
    assert_int_equal(tsr_did_doc_build(did, notjwk, NULL, 0, &doc, &d), TSR_EINVAL);
    json_decref(notjwk);
    assert_int_equal(tsr_did_doc_build(did, jwk, &svc, 1, &doc, &d), TSR_EINVAL);
    svc.endpoint = "https://example.com/dsp";
    svc.fragment = "d s p";
    assert_int_equal(tsr_did_doc_build(did, jwk, &svc, 1, &doc, &d), TSR_EINVAL);
    assert_null(doc);
    json_decref(priv);
    json_decref(jwk);
}

static void test_id_mismatch(void **state)
{
    const char *did = "did:web:example.com";
    json_t *jwk = load(example_jwk);
    json_t *doc = NULL, *back = NULL;
    struct tsr_diag d;

    (void)state;
    assert_int_equal(tsr_did_doc_build(did, jwk, NULL, 0, &doc, &d), 0);
    char buf[8192];
    const char *text = dump(doc, buf, sizeof(buf));
    /* A server answering for some other DID is refused. */
    assert_int_equal(tsr_did_doc_parse("did:web:evil.example", text, strlen(text), &back, &d),
                     TSR_EPROTO);
    assert_non_null(strstr(d.msg, "did:web:evil.example"));
    assert_null(back);
    /* Exact comparison: no case folding, no trailing additions. */
    assert_int_equal(tsr_did_doc_check("did:web:EXAMPLE.com", doc, &d), TSR_EPROTO);
    assert_int_equal(tsr_did_doc_check("did:web:example.com:x", doc, &d), TSR_EPROTO);
    assert_int_equal(tsr_did_doc_check(did, doc, &d), 0);
    json_decref(doc);
    json_decref(jwk);
}

static void test_missing_key(void **state)
{
    const char *did = "did:web:example.com";
    json_t *jwk = load(example_jwk);
    json_t *doc = NULL;
    const json_t *found = NULL;
    struct tsr_diag d;

    (void)state;
    assert_int_equal(tsr_did_doc_build(did, jwk, NULL, 0, &doc, &d), 0);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "key-2", NULL, &found, &d), TSR_ENOTFOUND);
    assert_non_null(strstr(d.msg, "key-2"));
    /* The same fragment under another DID is another key. */
    assert_int_equal(tsr_did_doc_find_jwk(doc, "did:web:other.example#key-1", NULL, &found, &d),
                     TSR_ENOTFOUND);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "key-1", "keyAgreement", &found, &d),
                     TSR_ENOTFOUND);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "key-1", "bogus", &found, &d), TSR_EINVAL);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "", NULL, &found, &d), TSR_EINVAL);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "#", NULL, &found, &d), TSR_EINVAL);
    assert_null(found);
    json_decref(doc);

    /* A method with only a multibase key has no JWK to give. */
    doc = load("{\"id\":\"did:web:example.com\",\"verificationMethod\":[{\"id\":\"#k\","
               "\"type\":\"Multikey\",\"controller\":\"did:web:example.com\","
               "\"publicKeyMultibase\":\"zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv\"}]}");
    assert_int_equal(tsr_did_doc_check(did, doc, &d), 0);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "k", NULL, &found, &d), TSR_ENOTFOUND);
    assert_non_null(strstr(d.msg, "publicKeyJwk"));
    json_decref(doc);
    json_decref(jwk);
}

static void expect_parse(const char *text, int want)
{
    json_t *doc = NULL;
    struct tsr_diag d;

    tsr_diag_clear(&d);
    int rc = tsr_did_doc_parse("did:web:example.com", text, strlen(text), &doc, &d);
    if (rc != want)
        fail_msg("got %d, want %d (%s) for %s", rc, want, d.msg, text);
    if (want == 0)
        assert_non_null(doc);
    else
        assert_null(doc);
    json_decref(doc);
}

#define VM(id) "{\"id\":\"" id "\",\"type\":\"JsonWebKey2020\",\"controller\":\"did:web:" \
               "example.com\",\"publicKeyJwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"1\"}}"

static void test_parse_strict(void **state)
{
    (void)state;
    expect_parse("{\"id\":\"did:web:example.com\"}", 0);
    expect_parse("{\"id\":\"did:web:example.com\",\"verificationMethod\":[" VM("#a") "," VM(
                     "did:web:example.com#b") "]}",
                 0);
    expect_parse("", TSR_EPROTO);
    expect_parse("not json", TSR_EPROTO);
    expect_parse("[]", TSR_EPROTO);
    expect_parse("{}", TSR_EPROTO);
    expect_parse("{\"id\":42}", TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"id\":\"did:web:example.com\"}", TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"@context\":\"https://example.org/x\"}",
                 TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"@context\":[]}", TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"@context\":[\"https://www.w3.org/ns/did/v1\","
                 "42]}",
                 TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"verificationMethod\":{}}", TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"verificationMethod\":[42]}", TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"verificationMethod\":[{\"id\":\"#a\"}]}",
                 TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"verificationMethod\":[" VM("#a") "," VM(
                     "did:web:example.com#a") "]}",
                 TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"verificationMethod\":[" VM("no-hash") "]}",
                 TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"verificationMethod\":[{\"id\":\"#a\","
                 "\"type\":\"JsonWebKey2020\",\"controller\":\"did:web:example.com\","
                 "\"publicKeyJwk\":{\"kty\":\"EC\",\"d\":\"secret\"}}]}",
                 TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"authentication\":[\"not a ref\"]}",
                 TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"authentication\":\"#a\"}", TSR_EPROTO);
    expect_parse("{\"id\":\"did:web:example.com\",\"service\":[{\"id\":\"#s\"}]}", TSR_EPROTO);

    /* Bounded: 33 methods, and a document over the size limit. */
    char *big = tsr_malloc(TSR_DID_DOC_MAX + 64);
    assert_non_null(big);
    int n = snprintf(big, TSR_DID_DOC_MAX, "{\"id\":\"did:web:example.com\","
                                           "\"verificationMethod\":[");
    for (int i = 0; i < TSR_DID_MAX_METHODS + 1; i++)
        n += snprintf(big + n, (size_t)(TSR_DID_DOC_MAX - n), "%s" VM("#k%d"), i ? "," : "", i);
    snprintf(big + n, (size_t)(TSR_DID_DOC_MAX - n), "]}");
    expect_parse(big, TSR_ELIMIT);
    memset(big, ' ', TSR_DID_DOC_MAX + 1);
    big[0] = '{';
    memcpy(big + TSR_DID_DOC_MAX - 30, "\"id\":\"did:web:example.com\"}", 27);
    big[TSR_DID_DOC_MAX + 1] = '\0';
    expect_parse(big, TSR_ELIMIT);
    tsr_free(big);
}

static void test_embedded_method(void **state)
{
    /* A method embedded in a relationship is found there, and only there. */
    json_t *doc = load("{\"id\":\"did:web:example.com\",\"authentication\":[" VM("#emb") "],"
                       "\"verificationMethod\":[" VM("#plain") "],"
                       "\"assertionMethod\":[\"#plain\"]}");
    const json_t *jwk = NULL;

    (void)state;
    assert_int_equal(tsr_did_doc_check("did:web:example.com", doc, NULL), 0);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "emb", "authentication", &jwk, NULL), 0);
    assert_non_null(jwk);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "emb", NULL, &jwk, NULL), 0);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "emb", "assertionMethod", &jwk, NULL),
                     TSR_ENOTFOUND);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "plain", "assertionMethod", &jwk, NULL), 0);
    assert_int_equal(tsr_did_doc_find_jwk(doc, "plain", "authentication", &jwk, NULL),
                     TSR_ENOTFOUND);
    json_decref(doc);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    /* Each allocation failing in turn gives TSR_ENOMEM, never a crash or a leak. */
    for (long n = 0;; n++) {
        char *url = NULL, *did = NULL, *d2 = NULL;
        const char *frag = NULL;
        tsr_mem_fail_after(n);
        int rc1 = tsr_did_web_to_url("did:web:example.com%3A3000:user:alice", &url, NULL);
        int rc2 = tsr_did_web_from_host("example.com", 3000, "user/alice", &did, NULL);
        int rc3 = tsr_did_url_split("did:web:example.com#key-1", &d2, &frag, NULL);
        tsr_mem_fail_after(-1);
        assert_true(rc1 == 0 || rc1 == TSR_ENOMEM);
        assert_true(rc2 == 0 || rc2 == TSR_ENOMEM);
        assert_true(rc3 == 0 || rc3 == TSR_ENOMEM);
        assert_true((rc1 == 0) == (url != NULL));
        assert_true((rc2 == 0) == (did != NULL));
        tsr_free(url);
        tsr_free(did);
        tsr_free(d2);
        if (rc1 == 0 && rc2 == 0 && rc3 == 0)
            break;
        assert_true(n < 100);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_web_to_url_spec_examples),
        cmocka_unit_test(test_web_malformed),
        cmocka_unit_test(test_web_from_host),
        cmocka_unit_test(test_url_split),
        cmocka_unit_test(test_build_parse_round_trip),
        cmocka_unit_test(test_build_refuses),
        cmocka_unit_test(test_id_mismatch),
        cmocka_unit_test(test_missing_key),
        cmocka_unit_test(test_parse_strict),
        cmocka_unit_test(test_embedded_method),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
