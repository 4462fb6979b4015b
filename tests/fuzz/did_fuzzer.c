/*
 * tests/fuzz/did_fuzzer.c: libFuzzer target for lib/did.c: did:web
 * syntax (tsr_did_web_to_url, tsr_did_url_split, tsr_did_web_from_host),
 * the strict checks on a resolved DID document (tsr_did_doc_parse,
 * tsr_did_doc_check), key lookup (tsr_did_doc_find_jwk) and, for keys
 * found, lib/jose.c's tsr_key_from_jwk, as a verifier would chain them.
 *
 * The first byte picks a mode, the rest is its input:
 *   0  a DID or DID URL (text): to_url and url_split;
 *   1  a DID document fetched for a fixed DID (bit 2 of the first byte
 *      picks one of two: without and with port and path);
 *   2  host, port and path for tsr_did_web_from_host: two bytes of port,
 *      then host and path separated by '\n';
 *   3  one service (fragment, type, endpoint separated by '\n') for
 *      tsr_did_doc_build with a fixed public key.
 *
 * Properties checked (abort on failure): a DID that has a URL splits into
 * itself with no fragment; what tsr_did_web_from_host builds has a URL
 * (its contract); a document tsr_did_doc_build makes passes
 * tsr_did_doc_check, also after a JSON round trip, and its key is found
 * under assertionMethod.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/did.h"
#include "lib/jose.h"
#include "lib/mem.h"

/* Just over the document limit, so TSR_DID_DOC_MAX itself is reached. */
#define MAX_INPUT (TSR_DID_DOC_MAX + 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed_dids[] = {
    "did:web:example.com",
    "did:web:localhost%3A8443:user:alice",
};

/* The public half of a throwaway P-256 test key (same as jose_fuzzer.c). */
static const char jwk_x[] = "61nCZanhSqtWwuTvwGya3LKLPrvjOc7aybWsoZRaTL4";
static const char jwk_y[] = "0b6GruGMUawF-xJmFOuTtrigbIQL_6QyqSaQ9iZ8rXI";

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "did_fuzzer: property violated: %s\n%s\n", what,
            detail != NULL ? detail : "");
    abort();
}

static void run_did(const uint8_t *data, size_t size)
{
    char *s = tsr_strndup((const char *)data, size);
    char *url = NULL, *did = NULL;
    const char *frag = NULL;
    struct tsr_diag d;

    if (s == NULL)
        return;
    int ru = tsr_did_web_to_url(s, &url, &d);
    if (ru == 0 && (url == NULL || strncmp(url, "https://", 8) != 0))
        fail("to_url returned 0 without an https URL", s);
    int rs = tsr_did_url_split(s, &did, &frag, &d);
    if (ru == 0 && (rs != 0 || frag != NULL || strcmp(did, s) != 0))
        fail("a did:web DID with a URL does not split into itself", s);
    if (rs == 0 && frag != NULL && (frag < s || frag > s + strlen(s)))
        fail("url_split's fragment points outside its input", s);
    tsr_free(did);
    tsr_free(url);
    tsr_free(s);
}

/* Look up every method the document names, as a verifier with a "kid" would. */
static void lookup_all(const json_t *doc, const char *did)
{
    static const char *const rels[] = {NULL, "assertionMethod", "authentication", "keyAgreement",
                                       "bogus"};
    static const char *const kids[] = {"#key-1", "key-1", "#", "did:web:other.example#key-1"};
    const json_t *vms = json_object_get(doc, "verificationMethod");
    const json_t *vm;
    size_t i;
    struct tsr_diag d;
    char full[TSR_DID_MAX_LEN + 16];

    snprintf(full, sizeof(full), "%s#key-1", did);
    for (size_t r = 0; r < TSR_ARRAY_SIZE(rels); r++) {
        const json_t *jwk = NULL;
        for (size_t k = 0; k < TSR_ARRAY_SIZE(kids); k++)
            (void)tsr_did_doc_find_jwk(doc, kids[k], rels[r], &jwk, &d);
        (void)tsr_did_doc_find_jwk(doc, full, rels[r], &jwk, &d);
    }
    json_array_foreach(vms, i, vm) {
        const char *id = json_string_value(json_object_get(vm, "id"));
        const json_t *jwk = NULL;
        struct tsr_key *key = NULL;

        if (i >= 8 || id == NULL)
            break;
        for (size_t r = 0; r < 3; r++) {
            if (tsr_did_doc_find_jwk(doc, id, rels[r], &jwk, &d) != 0)
                continue;
            if (!json_is_object(jwk))
                fail("find_jwk returned 0 without an object", id);
            if (tsr_key_from_jwk(jwk, &key, &d) == 0)
                tsr_key_free(key);
            key = NULL;
        }
    }
}

static void run_doc(const char *did, const uint8_t *data, size_t size)
{
    json_t *doc = NULL;
    struct tsr_diag d;

    if (tsr_did_doc_parse(did, (const char *)data, size, &doc, &d) != 0)
        return;
    if (!json_is_object(doc))
        fail("doc_parse returned 0 without an object", did);
    lookup_all(doc, did);
    json_decref(doc);
}

/* Up to the next '\n' (or the end) as a new string; advances *p. */
static char *field(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    const uint8_t *stop = nl != NULL ? nl : end;
    char *s = tsr_strndup((const char *)*p, (size_t)(stop - *p));

    *p = nl != NULL ? nl + 1 : end;
    return s;
}

static void run_from_host(const uint8_t *data, size_t size)
{
    const uint8_t *p = data + 2, *end = data + size;
    char *host, *path, *did = NULL, *url = NULL;
    struct tsr_diag d;

    if (size < 2)
        return;
    unsigned port = (unsigned)data[0] << 8 | data[1];
    host = field(&p, end);
    path = p < end ? field(&p, end) : NULL;
    if (host == NULL)
        goto out;
    if (tsr_did_web_from_host(host, port, path, &did, &d) == 0) {
        if (tsr_did_web_to_url(did, &url, &d) != 0)
            fail("from_host made a DID that has no URL", did);
    }
    /* The empty path and NULL are the same request. */
    tsr_free(did);
    did = NULL;
    (void)tsr_did_web_from_host(host, 0, "", &did, &d);
out:
    tsr_free(url);
    tsr_free(did);
    tsr_free(path);
    tsr_free(host);
}

static void run_build(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    struct tsr_did_service svc;
    json_t *jwk = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", jwk_x, "y",
                            jwk_y);
    json_t *doc = NULL, *again = NULL;
    char *text = NULL;
    char *frag = field(&p, end), *type = field(&p, end), *ep = field(&p, end);
    const json_t *found = NULL;
    struct tsr_diag d;

    if (jwk == NULL || frag == NULL || type == NULL || ep == NULL)
        goto out;
    svc.fragment = frag;
    svc.type = type;
    svc.endpoint = ep;
    if (tsr_did_doc_build(fixed_dids[size & 1], jwk, &svc, 1, &doc, &d) != 0)
        goto out;
    if (tsr_did_doc_check(fixed_dids[size & 1], doc, &d) != 0)
        fail("a built document fails the check", tsr_diag_msg(&d));
    text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL)
        goto out;
    if (tsr_did_doc_parse(fixed_dids[size & 1], text, strlen(text), &again, &d) != 0)
        fail("a built document does not parse back", tsr_diag_msg(&d));
    if (tsr_did_doc_find_jwk(again, "#" TSR_DID_KEY_FRAGMENT, "assertionMethod", &found, &d) != 0 ||
        !json_equal(found, jwk))
        fail("the key of a built document is not found", tsr_diag_msg(&d));
out:
    free(text);
    json_decref(again);
    json_decref(doc);
    json_decref(jwk);
    tsr_free(frag);
    tsr_free(type);
    tsr_free(ep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return -1;
    switch (data[0] & 3) {
    case 0:
        run_did(data + 1, size - 1);
        break;
    case 1:
        run_doc(fixed_dids[(data[0] >> 2) & 1], data + 1, size - 1);
        break;
    case 2:
        run_from_host(data + 1, size - 1);
        break;
    default:
        run_build(data + 1, size - 1);
        break;
    }
    return 0;
}
