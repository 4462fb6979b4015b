/*
 * tests/fuzz/vc_fuzzer.c: libFuzzer target for lib/vc.c, the checks a
 * catalog node runs on credentials anyone can post: VC-JWT / VP-JWT
 * header decoding, and everything after the signature (envelope, validity,
 * issuer rule, the 2511 shape rules, presentation unwrapping, withdrawal
 * claims), reached here without a signature by setting the payload
 * directly.
 *
 * The first byte picks a mode, the rest is its input:
 *   0  a compact token: tsr_vc_decode;
 *   1  a JSON credential: tsr_vc_check_shapes and tsr_vc_check as if a
 *      VC-JWT of did:web:provider.example carried it;
 *   2  a JSON presentation: tsr_vc_unwrap, and each unwrapped token
 *      through tsr_vc_decode;
 *   3  JSON withdrawal claims: tsr_vc_withdrawal_check.
 *
 * Properties checked (abort on failure): a check that passes fills the
 * info's class and subject; an unwrap that passes returns only strings.
 */
#include "lib/tsr.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/json.h"
#include "lib/mem.h"
#include "lib/vc.h"

#define NOW 1780272000 /* 2026-06-01T00:00:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded token whose payload is p (stolen), as if its signature had verified. */
static struct tsr_vc *fake(json_t *p, bool presentation, bool withdrawal)
{
    struct tsr_vc *vc = tsr_calloc(1, sizeof(*vc));

    if (vc == NULL) {
        json_decref(p);
        return NULL;
    }
    vc->kid = tsr_strdup("did:web:provider.example#key-1");
    vc->did = tsr_strdup("did:web:provider.example");
    vc->payload = p;
    vc->presentation = presentation;
    vc->withdrawal = withdrawal;
    if (vc->kid == NULL || vc->did == NULL) {
        tsr_vc_free(vc);
        return NULL;
    }
    return vc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tsr_vc *vc = NULL;
    json_t *j = NULL, *reasons = NULL, *jwts = NULL;
    char *text;

    if (size < 1)
        return 0;
    text = tsr_strndup((const char *)data + 1, size - 1);
    if (text == NULL)
        return 0;
    switch (data[0] % 4) {
    case 0:
        if (tsr_vc_decode(text, &vc, NULL) == 0 && (vc->did == NULL || vc->kid == NULL))
            abort();
        break;
    case 1: {
        struct tsr_vc_info info;
        if (tsr_json_parse(text, strlen(text), NULL, &j, NULL) != 0)
            break;
        reasons = json_array();
        tsr_vc_check_shapes(j, reasons);
        vc = fake(json_incref(j), false, false);
        if (vc != NULL && tsr_vc_check(vc, NOW, NULL, reasons, &info) == 0 &&
            (info.cls == TSR_VC_CLASS_OTHER || info.subject == NULL))
            abort();
        break;
    }
    case 2:
        if (tsr_json_parse(text, strlen(text), NULL, &j, NULL) != 0)
            break;
        vc = fake(json_incref(j), true, false);
        if (vc != NULL && tsr_vc_unwrap(vc, &jwts, NULL) == 0) {
            size_t i;
            json_t *t;
            json_array_foreach(jwts, i, t) {
                struct tsr_vc *inner = NULL;
                if (!json_is_string(t))
                    abort();
                tsr_vc_decode(json_string_value(t), &inner, NULL);
                tsr_vc_free(inner);
            }
        }
        break;
    case 3: {
        const char *sub = NULL;
        int64_t iat = 0;
        if (tsr_json_parse(text, strlen(text), NULL, &j, NULL) != 0)
            break;
        vc = fake(json_incref(j), false, true);
        if (vc != NULL && tsr_vc_withdrawal_check(vc, NOW, &sub, &iat, NULL) == 0 &&
            sub == NULL)
            abort();
        break;
    }
    }
    tsr_vc_free(vc);
    json_decref(j);
    json_decref(reasons);
    json_decref(jwts);
    tsr_free(text);
    return 0;
}
