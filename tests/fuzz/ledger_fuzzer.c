/*
 * tests/fuzz/ledger_fuzzer.c: libFuzzer target for contracts/ledger.c, the
 * two ways a usage ledger arrives from outside our control: a provider
 * checks a consumer's extract (JSON from the network), and a connector
 * reads ledger.log and ledger.head back from disk (a file anyone with
 * access to the state folder may have edited).
 *
 * Input: byte 0 even: the rest is an extract document, checked with
 * tsr_ledger_extract_verify.  Byte 0 odd: the rest is ledger.log up to
 * the first 0x00 byte and ledger.head after it (no 0x00: no head), read
 * by tsr_ledger_verify, tsr_ledger_list and tsr_ledger_open.
 *
 * Besides "no crash, no leak" it checks, aborting when one fails:
 *   - nothing the fuzzer writes ever verifies when it holds an entry or a
 *     head: every signature must be made with the key, which the input
 *     cannot know (an empty ledger, no head, is the only valid one);
 *   - a failed check leaves no output behind;
 *   - open refuses whatever verify refuses (except the crash repairs:
 *     a partial last line, a head one entry behind).
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "contracts/ledger.h"
#include "lib/crypto.h"
#include "lib/jose.h"
#include "lib/mem.h"

/* Larger inputs only repeat what smaller ones reach, more slowly. */
#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tsr_key *key;
static char dir[64];

static void fail(const char *what)
{
    fprintf(stderr, "ledger_fuzzer: property violated: %s\n", what);
    abort();
}

static void setup(void)
{
    if (key != NULL)
        return;
    if (tsr_key_generate(TSR_KEY_ES256, &key, NULL) != 0)
        fail("cannot make a key");
    snprintf(dir, sizeof(dir), "/tmp/tsr-ledger-fuzz-XXXXXX");
    if (mkdtemp(dir) == NULL)
        fail("cannot make a folder");
}

static void put(const char *name, const uint8_t *p, size_t n)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (p == NULL) {
        unlink(path);
        return;
    }
    if (tsr_crypto_write_file(path, p, n, 0600, NULL) != 0)
        fail("cannot write the input");
}

static void extract(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, 0, NULL), *entries = NULL;
    struct tsr_diag d = {0};

    if (doc == NULL)
        return;
    int rc = tsr_ledger_extract_verify(doc, key, "urn:uuid:a", &entries, &d);
    if (rc == 0)
        fail("an extract nobody signed verifies");
    if (entries != NULL)
        fail("a refused extract left entries");
    if (d.msg[0] == '\0')
        fail("a refusal without a reason");
    json_decref(doc);
}

static void files(const uint8_t *data, size_t size)
{
    const uint8_t *zero = memchr(data, 0, size);
    size_t log_len = zero != NULL ? (size_t)(zero - data) : size;
    struct tsr_ledger_report rep;
    struct tsr_ledger *l = NULL;
    json_t *list = NULL;

    put("ledger.log", data, log_len);
    put("ledger.head", zero != NULL ? zero + 1 : NULL, zero != NULL ? size - log_len - 1 : 0);
    int rc = tsr_ledger_verify(dir, key, &rep, NULL);
    if (rc == 0 && (log_len > 0 || zero != NULL))
        fail("a ledger nobody signed verifies");
    if (tsr_ledger_list(dir, NULL, 0, 10, &list, NULL) == 0 && !json_is_array(list))
        fail("a list that is not an array");
    json_decref(list);
    if (tsr_ledger_open(dir, key, "did:web:x#key-1", &l, NULL) == 0) {
        /* Only what verifies, or what a crash repair makes of an empty log, opens. */
        if (rc != 0 && zero != NULL)
            fail("open accepted a head verify refused");
        tsr_ledger_close(l);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1 || size > MAX_INPUT)
        return 0;
    if (data[0] % 2 == 0)
        extract(data + 1, size - 1);
    else
        files(data + 1, size - 1);
    return 0;
}
