/*
 * tests/unit/contracts/test_ledger.c: the usage ledger verifies as
 * written, and every kind of edit (a byte anywhere, a removed, moved or
 * added entry, a cut end, a lost head, another key) is found; a crash
 * between the two writes of an append is repaired on open; extracts
 * verify for their agreement and fail when altered.
 */
#include "lib/tsr.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "contracts/ledger.h"
#include "lib/crypto.h"
#include "lib/jose.h"
#include "lib/mem.h"

#define KID "did:web:example.com#key-1"
#define NENTRIES 6

struct fx {
    char dir[64];
    char log[128], head[128];
    struct tsr_key *key;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct tsr_ledger *l = NULL;

    snprintf(f->dir, sizeof(f->dir), "/tmp/tsr-ledger-XXXXXX");
    if (mkdtemp(f->dir) == NULL || tsr_key_generate(TSR_KEY_ES256, &f->key, NULL) != 0)
        return -1;
    snprintf(f->log, sizeof(f->log), "%s/ledger.log", f->dir);
    snprintf(f->head, sizeof(f->head), "%s/ledger.head", f->dir);
    if (tsr_ledger_open(f->dir, f->key, KID, &l, NULL) != 0)
        return -1;
    for (int i = 0; i < NENTRIES; i++) {
        struct tsr_ledger_event e = {
            .agreement_id = i % 2 == 0 ? "urn:uuid:a" : "urn:uuid:b",
            .object_id = i == 0 ? NULL : "obj-1",
            .event = i == 0 ? TSR_LEDGER_EV_RECEIVE : TSR_LEDGER_EV_USE,
            .decision = "permit: use count 1",
        };
        uint64_t seq = 0;
        if (tsr_ledger_append(l, &e, &seq, NULL) != 0 || seq != (uint64_t)i + 1)
            return -1;
    }
    tsr_ledger_close(l);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    tsr_key_free(f->key);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    unsigned char *p = NULL;

    assert_int_equal(tsr_crypto_read_file(path, 1 << 20, &p, len, NULL), 0);
    return (char *)p;
}

static void spit(const char *path, const char *data, size_t len)
{
    assert_int_equal(tsr_crypto_write_file(path, data, len, 0600, NULL), 0);
}

/* Offsets of the starts of each line, and the count. */
static size_t lines(const char *s, size_t len, size_t *starts, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n < max; i++) {
        if (i == 0 || s[i - 1] == '\n')
            starts[n++] = i;
    }
    return n;
}

static int verify(struct fx *f, uint64_t *bad)
{
    struct tsr_ledger_report rep;
    struct tsr_diag d = {0};
    int rc = tsr_ledger_verify(f->dir, f->key, &rep, &d);

    if (bad != NULL)
        *bad = rep.bad_line;
    return rc;
}

static void test_valid(void **state)
{
    struct fx *f = *state;
    struct tsr_ledger_report rep;
    json_t *list = NULL;

    assert_int_equal(tsr_ledger_verify(f->dir, f->key, &rep, NULL), 0);
    assert_int_equal(rep.entries, NENTRIES);
    assert_int_equal(rep.bad_line, 0);
    assert_int_equal(strlen(rep.head), 64);
    assert_int_equal(tsr_ledger_list(f->dir, "urn:uuid:b", 0, 0, &list, NULL), 0);
    assert_int_equal(json_array_size(list), NENTRIES / 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "seq")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 1), "aseq")), 2);
    json_decref(list);
    /* Reopening and appending continues the same chain. */
    struct tsr_ledger *l = NULL;
    struct tsr_ledger_event e = {.agreement_id = "urn:uuid:a", .event = "duty:log"};
    uint64_t seq = 0;
    assert_int_equal(tsr_ledger_open(f->dir, f->key, KID, &l, NULL), 0);
    assert_int_equal(tsr_ledger_append(l, &e, &seq, NULL), 0);
    assert_int_equal(seq, NENTRIES + 1);
    tsr_ledger_close(l);
    assert_int_equal(verify(f, NULL), 0);
}

static void test_every_byte_edit_detected(void **state)
{
    struct fx *f = *state;
    size_t len = 0;
    char *orig = slurp(f->log, &len);
    char *copy = malloc(len);

    /* Every byte of the log, each changed on its own (a stride keeps it quick). */
    for (size_t i = 0; i < len; i += (i < 400 ? 1 : 37)) {
        uint64_t bad = 0;
        memcpy(copy, orig, len);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        spit(f->log, copy, len);
        assert_int_equal(verify(f, &bad), TSR_ECRYPTO);
        assert_true(bad >= 1);
    }
    /* And the last byte, the last entry's newline. */
    memcpy(copy, orig, len);
    copy[len - 1] = 'x';
    spit(f->log, copy, len);
    assert_int_equal(verify(f, NULL), TSR_ECRYPTO);
    spit(f->log, orig, len);
    assert_int_equal(verify(f, NULL), 0);
    free(copy);
    tsr_free(orig);
}

static void test_first_bad_entry_named(void **state)
{
    struct fx *f = *state;
    size_t len = 0, starts[16];
    char *s = slurp(f->log, &len);
    uint64_t bad = 0;
    size_t n = lines(s, len, starts, 16);

    assert_int_equal(n, NENTRIES);
    s[starts[3] + 30] ^= 1; /* inside the 4th entry's signed header or payload */
    spit(f->log, s, len);
    assert_int_equal(verify(f, &bad), TSR_ECRYPTO);
    assert_int_equal(bad, 4);
    tsr_free(s);
}

static void test_removed_moved_truncated(void **state)
{
    struct fx *f = *state;
    size_t len = 0, starts[16];
    char *s = slurp(f->log, &len);
    size_t n = lines(s, len, starts, 16);
    char *buf = malloc(len);
    size_t l1 = starts[2] - starts[1], l2 = starts[3] - starts[2];
    uint64_t bad = 0;

    /* Remove the 2nd entry. */
    memcpy(buf, s, starts[1]);
    memcpy(buf + starts[1], s + starts[2], len - starts[2]);
    spit(f->log, buf, len - l1);
    assert_int_equal(verify(f, &bad), TSR_ECRYPTO);
    assert_int_equal(bad, 2);
    /* Swap the 2nd and 3rd. */
    memcpy(buf, s, len);
    memcpy(buf + starts[1], s + starts[2], l2);
    memcpy(buf + starts[1] + l2, s + starts[1], l1);
    spit(f->log, buf, len);
    assert_int_equal(verify(f, NULL), TSR_ECRYPTO);
    /* Cut the last entry off: the head still names it. */
    spit(f->log, s, starts[n - 1]);
    assert_int_equal(verify(f, NULL), TSR_ECRYPTO);
    /* A repeated last entry. */
    memcpy(buf, s, len);
    spit(f->log, s, len);
    int fd = open(f->log, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, s + starts[n - 1], len - starts[n - 1]),
                     (ssize_t)(len - starts[n - 1]));
    close(fd);
    assert_int_equal(verify(f, NULL), TSR_ECRYPTO);
    /* Cut everything, keeping the head. */
    spit(f->log, "", 0);
    assert_int_equal(verify(f, NULL), TSR_ECRYPTO);
    /* Back to the original: valid. */
    spit(f->log, s, len);
    assert_int_equal(verify(f, NULL), 0);
    /* No head at all. */
    assert_int_equal(unlink(f->head), 0);
    assert_int_equal(verify(f, NULL), TSR_ECRYPTO);
    free(buf);
    tsr_free(s);
}

static void test_other_key_fails(void **state)
{
    struct fx *f = *state;
    struct tsr_key *other = NULL;

    assert_int_equal(tsr_key_generate(TSR_KEY_ES256, &other, NULL), 0);
    assert_int_equal(tsr_ledger_verify(f->dir, other, NULL, NULL), TSR_ECRYPTO);
    tsr_key_free(other);
}

static void test_open_refuses_damaged_and_repairs_crash(void **state)
{
    struct fx *f = *state;
    struct tsr_ledger *l = NULL;
    size_t len = 0, hlen = 0, starts[16];
    char *s = slurp(f->log, &len);
    char *head = slurp(f->head, &hlen);

    assert_int_equal(lines(s, len, starts, 16), NENTRIES);
    /* An append that wrote half a line: cut on open. */
    spit(f->log, s, len);
    int fd = open(f->log, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "eyJhbGciOi", 10), 10);
    close(fd);
    assert_int_equal(tsr_ledger_open(f->dir, f->key, KID, &l, NULL), 0);
    tsr_ledger_close(l);
    assert_int_equal(verify(f, NULL), 0);
    /* An append whose head was not written yet: adopted on open. */
    struct tsr_ledger_event e = {.agreement_id = "urn:uuid:a", .event = "duty:log"};
    assert_int_equal(tsr_ledger_open(f->dir, f->key, KID, &l, NULL), 0);
    assert_int_equal(tsr_ledger_append(l, &e, NULL, NULL), 0);
    tsr_ledger_close(l);
    spit(f->head, head, hlen); /* the head of before the append */
    assert_int_equal(verify(f, NULL), TSR_ECRYPTO);
    assert_int_equal(tsr_ledger_open(f->dir, f->key, KID, &l, NULL), 0);
    tsr_ledger_close(l);
    assert_int_equal(verify(f, NULL), 0);
    spit(f->log, s, len);
    spit(f->head, head, hlen);
    assert_int_equal(verify(f, NULL), 0);
    /* A real edit: refused. */
    s[starts[1] + 5] ^= 1;
    spit(f->log, s, len);
    assert_int_equal(tsr_ledger_open(f->dir, f->key, KID, &l, NULL), TSR_ECRYPTO);
    assert_null(l);
    tsr_free(s);
    tsr_free(head);
}

static void test_extract(void **state)
{
    struct fx *f = *state;
    struct tsr_ledger *l = NULL;
    json_t *ext = NULL, *entries = NULL;
    struct tsr_key *other = NULL;

    assert_int_equal(tsr_ledger_open(f->dir, f->key, KID, &l, NULL), 0);
    assert_int_equal(tsr_ledger_extract(l, "urn:uuid:a", "did:web:provider", &ext, NULL), 0);
    tsr_ledger_close(l);
    assert_int_equal(json_array_size(json_object_get(ext, "entries")), NENTRIES / 2);
    assert_int_equal(tsr_ledger_extract_verify(ext, f->key, "urn:uuid:a", &entries, NULL), 0);
    assert_int_equal(json_array_size(entries), NENTRIES / 2);
    json_decref(entries);
    /* For another agreement, or with another key: refused. */
    assert_int_not_equal(tsr_ledger_extract_verify(ext, f->key, "urn:uuid:b", NULL, NULL), 0);
    assert_int_equal(tsr_key_generate(TSR_KEY_ES256, &other, NULL), 0);
    assert_int_equal(tsr_ledger_extract_verify(ext, other, "urn:uuid:a", NULL, NULL),
                     TSR_ECRYPTO);
    tsr_key_free(other);
    /* Dropping the last entry: the head names it. */
    json_t *cut = json_deep_copy(ext);
    json_array_remove(json_object_get(cut, "entries"), NENTRIES / 2 - 1);
    assert_int_equal(tsr_ledger_extract_verify(cut, f->key, "urn:uuid:a", NULL, NULL),
                     TSR_ECRYPTO);
    json_decref(cut);
    /* Dropping the first: the chain starts wrong. */
    cut = json_deep_copy(ext);
    json_array_remove(json_object_get(cut, "entries"), 0);
    assert_int_equal(tsr_ledger_extract_verify(cut, f->key, "urn:uuid:a", NULL, NULL),
                     TSR_ECRYPTO);
    json_decref(cut);
    /* Malformed. */
    json_t *bad = json_pack("{s:s, s:i}", "head", "x", "entries", 3);
    assert_int_equal(tsr_ledger_extract_verify(bad, f->key, "urn:uuid:a", NULL, NULL),
                     TSR_EINVAL);
    json_decref(bad);
    json_decref(ext);
}

/* Extracts are untrusted input from a peer: wrong shapes are refused, never crash. */
static void test_hostile_extracts(void **state)
{
    struct fx *f = *state;
    static const char *const docs[] = {
        "{}",
        "{\"entries\": [], \"head\": 5}",
        "{\"entries\": [1, 2], \"head\": \"a.b.c\"}",
        "{\"entries\": [\"a.b\"], \"head\": \"a.b.c\"}",
        "{\"entries\": [\"...\"], \"head\": \"...\"}",
        "{\"entries\": [\"eyJhbGciOiJFUzI1NiJ9.e30.AAAA\"], \"head\": \"x\"}",
        "{\"entries\": [], \"head\": \"eyJhbGciOiJub25lIn0.e30.\"}",
        "{\"agreement\": \"other\", \"entries\": [], \"head\": \"a.b.c\"}",
    };

    for (size_t i = 0; i < TSR_ARRAY_SIZE(docs); i++) {
        json_t *j = json_loads(docs[i], 0, NULL), *entries = NULL;
        assert_non_null(j);
        assert_int_not_equal(tsr_ledger_extract_verify(j, f->key, "urn:uuid:a", &entries, NULL),
                             0);
        assert_null(entries);
        json_decref(j);
    }
    /* Too many entries: refused before any signature work. */
    json_t *big = json_pack("{s:[], s:s}", "entries", "head", "a.b.c");
    for (int i = 0; i <= TSR_LEDGER_EXTRACT_MAX; i++)
        json_array_append_new(json_object_get(big, "entries"), json_string("a.b.c"));
    assert_int_equal(tsr_ledger_extract_verify(big, f->key, "urn:uuid:a", NULL, NULL),
                     TSR_ELIMIT);
    json_decref(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_edit_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_bad_entry_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_moved_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_key_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_damaged_and_repairs_crash, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_extracts, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
