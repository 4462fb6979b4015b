/*
 * tests/fuzz/fields_fuzzer.c: libFuzzer target for the data plane's HTTP
 * field values (transports/fields.c): Range against a representation
 * size, Content-Range, and Repr-Digest structured-field dictionaries, all
 * of which come from peers.
 *
 * Input: bytes 0-7 are a representation size (little endian; the top
 * bits cleared now and then to reach small sizes); the rest is one field
 * value, tried as each of the three fields.
 *
 * Besides "no crash", it checks, aborting when one fails:
 *   - an accepted range lies inside the representation;
 *   - an accepted Content-Range formats back to text that parses to the
 *     same numbers, and a formatted range always parses;
 *   - an accepted Repr-Digest's sha-256 formats to a value that parses to
 *     the same 32 bytes.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "transports/fields.h"

#define MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fields_fuzzer: property violated: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t rep = 0, a, b, n, a2, b2, n2;
    char buf[TSR_HTTP_CONTENT_RANGE_MAX], dbuf[TSR_HTTP_REPR_DIGEST_MAX];
    uint8_t md[32], md2[32];

    if (size < 8 || size > MAX_INPUT)
        return 0;
    for (int i = 7; i >= 0; i--)
        rep = rep << 8 | data[i];
    if (data[0] & 1)
        rep &= 0xffff;
    char *v = malloc(size - 8 + 1);
    if (v == NULL)
        return 0;
    memcpy(v, data + 8, size - 8);
    v[size - 8] = '\0';

    int rc = tsr_http_range_parse(v, rep, &a, &b);
    if (rc == 0 && (a > b || b >= rep))
        fail("a range outside the representation");
    if (rc != 0 && rc != TSR_ENOTFOUND && rc != TSR_ERANGE)
        fail("an unexpected Range result");
    if (rc == 0) {
        if (tsr_http_content_range_format(buf, sizeof(buf), a, b, rep) != 0 ||
            tsr_http_content_range_parse(buf, &a2, &b2, &n2) != 0 || a2 != a || b2 != b ||
            n2 != rep)
            fail("a served range does not round-trip through Content-Range");
    }

    if (tsr_http_content_range_parse(v, &a, &b, &n) == 0) {
        if (a > b || b >= n)
            fail("an accepted Content-Range is inconsistent");
        if (tsr_http_content_range_format(buf, sizeof(buf), a, b, n) != 0 ||
            tsr_http_content_range_parse(buf, &a2, &b2, &n2) != 0 || a2 != a || b2 != b ||
            n2 != n)
            fail("Content-Range does not round-trip");
    }

    rc = tsr_http_repr_digest_parse(v, md);
    if (rc != 0 && rc != TSR_ENOTFOUND && rc != TSR_EINVAL)
        fail("an unexpected Repr-Digest result");
    if (rc == 0) {
        if (tsr_http_repr_digest_format(md, dbuf, sizeof(dbuf)) != 0 ||
            tsr_http_repr_digest_parse(dbuf, md2) != 0 || memcmp(md, md2, 32) != 0)
            fail("Repr-Digest does not round-trip");
    }
    free(v);
    return 0;
}
