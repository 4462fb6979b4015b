/*
 * tests/fuzz/json_fuzzer.c: libFuzzer target for lib/json.c, the bounded
 * JSON front end every network and file document goes through:
 * tsr_json_parse (the pre-scan of size, depth, member and string limits,
 * duplicate keys, then jansson), the typed getters with member names and
 * RFC 6901 JSON Pointers, and tsr_json_dumps.
 *
 * Input: when it starts with '/', the first line (up to '\n', at most
 * 256 bytes) is a JSON Pointer used with every getter and the rest is the
 * document; otherwise the whole input is the document.
 *
 * Besides "no crash, no leak" it checks three properties and aborts when
 * one fails, so libFuzzer reports it as a crash:
 *   - a document accepted under tight limits is accepted under the
 *     defaults, and parses to the same value;
 *   - a document accepted under the defaults, serialised by
 *     tsr_json_dumps and parsed again, is accepted and equal (the
 *     serialiser never writes something the parser refuses);
 *   - a getter that returns 0 for a required member has set *out.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/json.h"
#include "lib/mem.h"

/* Larger inputs only repeat what smaller ones reach, more slowly. */
#define MAX_INPUT (64 * 1024)
#define MAX_POINTER 256
/* Members of the top-level object (and array elements) probed by name. */
#define MAX_PROBES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "json_fuzzer: property violated: %s\n", what);
    abort();
}

/* Call every getter on key, both optional and required. */
static void probe(const json_t *obj, const char *key)
{
    struct tsr_diag d;

    for (int req = 0; req < 2; req++) {
        const char *s = NULL;
        int64_t i = 0;
        bool b = false;
        json_t *o = NULL;
        json_t *a = NULL;

        if (tsr_json_get_str(obj, key, req, &s, &d) == 0 && req && s == NULL)
            fail("get_str returned 0 without a value");
        if (s != NULL)
            (void)strlen(s);
        (void)tsr_json_get_int(obj, key, req, &i, &d);
        (void)tsr_json_get_int_range(obj, key, req, -1000, 1000, &i, &d);
        (void)tsr_json_get_int_range(obj, key, req, INT64_MIN, INT64_MAX, &i, &d);
        (void)tsr_json_get_bool(obj, key, req, &b, &d);
        if (tsr_json_get_obj(obj, key, req, &o, &d) == 0 && req && !json_is_object(o))
            fail("get_obj returned 0 without an object");
        if (tsr_json_get_array(obj, key, req, &a, &d) == 0 && req && !json_is_array(a))
            fail("get_array returned 0 without an array");
    }
}

/* "/" + key with '~' and '/' escaped (RFC 6901 section 3), into a new string. */
static char *pointer_to(const char *key, const char *suffix)
{
    size_t n = strlen(key), m = strlen(suffix);
    char *p = tsr_malloc(2 * n + m + 2);
    size_t k = 0;

    if (p == NULL)
        return NULL;
    p[k++] = '/';
    for (size_t i = 0; i < n; i++) {
        if (key[i] == '~' || key[i] == '/') {
            p[k++] = '~';
            p[k++] = key[i] == '~' ? '0' : '1';
        } else {
            p[k++] = key[i];
        }
    }
    memcpy(p + k, suffix, m + 1);
    return p;
}

static void probe_members(const json_t *j)
{
    static const char *const fixed[] = {
        "id", "@id", "/", "/0", "/a/0/b", "/~0/~1", "/a~", "/-", "/00", "/1/",
        "/99999999999999999999", "//",
    };
    const char *key;
    json_t *v;
    size_t n = 0;

    for (size_t i = 0; i < TSR_ARRAY_SIZE(fixed); i++)
        probe(j, fixed[i]);
    if (!json_is_object(j))
        return;
    json_object_foreach((json_t *)j, key, v) {
        if (n++ >= MAX_PROBES)
            break;
        if (key[0] != '/')
            probe(j, key);
        char *ptr = pointer_to(key, "");
        char *deep = pointer_to(key, "/0");
        if (ptr != NULL)
            probe(j, ptr);
        if (deep != NULL)
            probe(j, deep);
        tsr_free(ptr);
        tsr_free(deep);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct tsr_json_limits tight = {256, 4, 8, 16};
    const char *doc = (const char *)data;
    size_t len = size;
    char *ptr = NULL;
    json_t *j = NULL, *jt = NULL, *again = NULL;
    char *text = NULL;
    size_t tlen = 0;
    struct tsr_diag d;

    if (size > MAX_INPUT)
        return -1;
    if (size > 0 && data[0] == '/') {
        const uint8_t *nl = memchr(data, '\n', TSR_MIN(size, (size_t)MAX_POINTER));
        if (nl != NULL) {
            ptr = tsr_strndup(doc, (size_t)(nl - data));
            doc = (const char *)nl + 1;
            len = size - (size_t)(nl - data) - 1;
        }
    }

    int rc = tsr_json_parse(doc, len, NULL, &j, &d);
    if ((rc == 0) != (j != NULL))
        fail("tsr_json_parse: return code and *out disagree");
    int rct = tsr_json_parse(doc, len, &tight, &jt, &d);
    if (rct == 0 && rc != 0)
        fail("accepted under tight limits, refused under the defaults");
    if (rct == 0 && !json_equal(j, jt))
        fail("tight and default limits parse to different values");
    if (rc != 0)
        goto out;

    probe_members(j);
    if (ptr != NULL)
        probe(j, ptr);

    rc = tsr_json_dumps(j, 0, 8 * len + 1024, &text, &tlen);
    if (rc == 0) {
        if (strlen(text) != tlen)
            fail("tsr_json_dumps: length disagrees with the text");
        if (tsr_json_parse(text, tlen, NULL, &again, &d) != 0)
            fail("the serialisation of an accepted document is refused");
        if (!json_equal(j, again))
            fail("serialise + parse changed the value");
    }
    tsr_free(text);
    text = NULL;
    /* Indented output takes the other branch of the flag handling. */
    if (tsr_json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS, 16 * len + 1024, &text, NULL) == 0)
        (void)strlen(text);

out:
    tsr_free(text);
    tsr_free(ptr);
    json_decref(again);
    json_decref(jt);
    json_decref(j);
    return 0;
}
