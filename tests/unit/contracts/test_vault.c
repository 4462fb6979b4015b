/*
 * tests/unit/contracts/test_vault.c: the vault gives back exactly what was
 * stored, for sizes around the segment boundaries and several MB, and
 * refuses tampered, truncated, swapped or wrongly keyed files; objects
 * appear only after a matching digest; destroying an agreement removes
 * its key and files.
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

#include "contracts/vault.h"
#include "lib/crypto.h"
#include "lib/db.h"
#include "lib/jose.h"
#include "lib/mem.h"

struct fx {
    char dir[64];
    char vdir[96];
    struct tsr_db *db;
    struct tsr_vault *v;
    unsigned char master[TSR_VAULT_KEY_LEN];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct tsr_key *key = NULL;

    snprintf(f->dir, sizeof(f->dir), "/tmp/tsr-vault-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->vdir, sizeof(f->vdir), "%s/vault", f->dir);
    if (tsr_db_open(":memory:", &f->db, NULL) != 0 ||
        tsr_key_generate(TSR_KEY_ES256, &key, NULL) != 0 ||
        tsr_vault_master_key(key, f->master, NULL) != 0 ||
        tsr_vault_open(f->db, f->vdir, f->master, &f->v, NULL) != 0)
        return -1;
    tsr_key_free(key);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[200];

    tsr_vault_close(f->v);
    tsr_db_close(f->db);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 9)) & 0xff);
}

/* Store n bytes in pieces of step bytes; the object id (new) is returned. */
static char *store(struct fx *f, const char *agreement, const unsigned char *data, size_t n,
                   size_t step)
{
    struct tsr_vault_writer *w = NULL;
    unsigned char md[TSR_SHA256_LEN];
    char hex[TSR_SHA256_HEX_SIZE], got[TSR_SHA256_HEX_SIZE];
    char *id = NULL;

    assert_int_equal(tsr_sha256(data, n, md), 0);
    tsr_hex_encode(md, sizeof(md), hex);
    assert_int_equal(tsr_vault_writer_new(f->v, agreement, "tp-1", NULL, &w, NULL), 0);
    for (size_t off = 0; off < n; off += step)
        assert_int_equal(tsr_vault_writer_write(w, data + off, TSR_MIN(step, n - off), NULL), 0);
    assert_int_equal(tsr_vault_writer_bytes(w), n);
    assert_int_equal(tsr_vault_writer_finish(w, hex, &id, got, NULL), 0);
    assert_string_equal(got, hex);
    tsr_vault_writer_free(w);
    assert_non_null(id);
    return id;
}

/* Read object id whole in pieces of step bytes; returns 0 or the read error. */
static int load(struct fx *f, const char *id, unsigned char *out, size_t max, size_t *n,
                size_t step)
{
    struct tsr_vault_reader *r = NULL;
    struct tsr_diag d = {0};
    bool eof = false;
    int rc;

    *n = 0;
    rc = tsr_vault_reader_open(f->v, id, &r, &d);
    if (rc != 0)
        return rc;
    while (!eof) {
        ssize_t got = tsr_vault_reader_read(r, out + *n, TSR_MIN(step, max - *n), &eof, &d);
        if (got < 0) {
            tsr_vault_reader_free(r);
            return (int)got;
        }
        *n += (size_t)got;
        if (*n == max && !eof) {
            tsr_vault_reader_free(r);
            return TSR_ELIMIT;
        }
    }
    tsr_vault_reader_free(r);
    return 0;
}

static void round_trip(struct fx *f, size_t size, size_t wstep, size_t rstep)
{
    unsigned char *data = malloc(size + 1), *back = malloc(size + 1);
    size_t n = 0;
    char *id;

    fill(data, size, (unsigned)size);
    id = store(f, "urn:uuid:agreement-1", data, size, wstep);
    assert_int_equal(load(f, id, back, size + 1, &n, rstep), 0);
    assert_int_equal(n, size);
    assert_memory_equal(back, data, size);
    tsr_free(id);
    free(data);
    free(back);
}

static void test_round_trip_sizes(void **state)
{
    static const size_t sizes[] = {0, 1, TSR_VAULT_SEGMENT - 1, TSR_VAULT_SEGMENT,
                                   TSR_VAULT_SEGMENT + 1, 2 * TSR_VAULT_SEGMENT,
                                   3 * 1024 * 1024 + 17};
    struct fx *f = *state;

    for (size_t i = 0; i < TSR_ARRAY_SIZE(sizes); i++) {
        round_trip(f, sizes[i], 4096, 1000);
        round_trip(f, sizes[i], sizes[i] + 1, TSR_VAULT_SEGMENT * 2);
    }
}

static void test_files_are_encrypted(void **state)
{
    struct fx *f = *state;
    unsigned char data[5000];
    char path[200], *id;
    unsigned char *disk = NULL;
    size_t len = 0;

    memset(data, 'A', sizeof(data));
    id = store(f, "ag", data, sizeof(data), sizeof(data));
    snprintf(path, sizeof(path), "%s/%s.tv", f->vdir, id);
    assert_int_equal(tsr_crypto_read_file(path, 1 << 20, &disk, &len, NULL), 0);
    assert_int_equal(len, TSR_VAULT_HEADER + sizeof(data) + 16);
    /* No run of plaintext survives in the file. */
    assert_null(memmem(disk, len, "AAAAAAAA", 8));
    tsr_free(disk);
    tsr_free(id);
}

static char *path_of(struct fx *f, const char *id)
{
    static char path[200];

    snprintf(path, sizeof(path), "%s/%s.tv", f->vdir, id);
    return path;
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x01;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void test_tampering_detected(void **state)
{
    struct fx *f = *state;
    size_t size = 3 * TSR_VAULT_SEGMENT + 100;
    unsigned char *data = malloc(size), *back = malloc(size + 1);
    const off_t offs[] = {0, 20, TSR_VAULT_HEADER, TSR_VAULT_HEADER + TSR_VAULT_SEGMENT + 3,
                          (off_t)(TSR_VAULT_HEADER + 3 * (TSR_VAULT_SEGMENT + 16) + 50)};
    size_t n;

    fill(data, size, 9);
    for (size_t i = 0; i < TSR_ARRAY_SIZE(offs); i++) {
        char *id = store(f, "ag-t", data, size, 10000);
        flip_byte(path_of(f, id), offs[i]);
        assert_int_equal(load(f, id, back, size + 1, &n, 8192), TSR_ECRYPTO);
        tsr_free(id);
    }
    free(data);
    free(back);
}

static void test_truncation_and_reorder_detected(void **state)
{
    struct fx *f = *state;
    size_t size = 3 * TSR_VAULT_SEGMENT;
    unsigned char *data = malloc(size), *back = malloc(size + 1);
    unsigned char *seg = malloc(TSR_VAULT_SEGMENT + 16);
    const size_t sealed = TSR_VAULT_SEGMENT + 16;
    size_t n;
    char *id;
    int fd;

    fill(data, size, 3);
    /* Cut at a segment boundary. */
    id = store(f, "ag-x", data, size, size);
    assert_int_equal(truncate(path_of(f, id), (off_t)(TSR_VAULT_HEADER + 2 * sealed)), 0);
    assert_int_equal(load(f, id, back, size + 1, &n, 8192), TSR_ECRYPTO);
    tsr_free(id);
    /* Cut inside the last segment. */
    id = store(f, "ag-x", data, size, size);
    assert_int_equal(truncate(path_of(f, id), (off_t)(TSR_VAULT_HEADER + 3 * sealed - 1)), 0);
    assert_int_equal(load(f, id, back, size + 1, &n, 8192), TSR_ECRYPTO);
    tsr_free(id);
    /* Swap the first two segments. */
    id = store(f, "ag-x", data, size, size);
    fd = open(path_of(f, id), O_RDWR);
    assert_true(fd >= 0);
    unsigned char *seg2 = malloc(sealed);
    assert_int_equal(pread(fd, seg, sealed, TSR_VAULT_HEADER), (ssize_t)sealed);
    assert_int_equal(pread(fd, seg2, sealed, (off_t)(TSR_VAULT_HEADER + sealed)), (ssize_t)sealed);
    assert_int_equal(pwrite(fd, seg2, sealed, TSR_VAULT_HEADER), (ssize_t)sealed);
    assert_int_equal(pwrite(fd, seg, sealed, (off_t)(TSR_VAULT_HEADER + sealed)), (ssize_t)sealed);
    close(fd);
    assert_int_equal(load(f, id, back, size + 1, &n, 8192), TSR_ECRYPTO);
    tsr_free(id);
    free(seg2);
    free(seg);
    free(data);
    free(back);
}

static void test_swapped_files_detected(void **state)
{
    struct fx *f = *state;
    unsigned char a[100], b[100], back[101];
    char *ida, *idb, pa[200];
    size_t n;

    fill(a, sizeof(a), 1);
    fill(b, sizeof(b), 2);
    ida = store(f, "ag-s", a, sizeof(a), sizeof(a));
    idb = store(f, "ag-s", b, sizeof(b), sizeof(b));
    snprintf(pa, sizeof(pa), "%s", path_of(f, ida));
    /* b's file under a's name: same agreement key, but bound to its own id. */
    assert_int_equal(rename(path_of(f, idb), pa), 0);
    assert_int_equal(load(f, ida, back, sizeof(back), &n, 64), TSR_ECRYPTO);
    tsr_free(ida);
    tsr_free(idb);
}

static void test_wrong_master_key(void **state)
{
    struct fx *f = *state;
    unsigned char data[300], back[301];
    unsigned char other[TSR_VAULT_KEY_LEN];
    struct tsr_vault *v2 = NULL;
    struct tsr_vault_reader *r = NULL;
    struct tsr_key *key = NULL;
    char *id;

    fill(data, sizeof(data), 5);
    id = store(f, "ag-k", data, sizeof(data), 7);
    assert_int_equal(tsr_key_generate(TSR_KEY_ES256, &key, NULL), 0);
    assert_int_equal(tsr_vault_master_key(key, other, NULL), 0);
    assert_memory_not_equal(other, f->master, sizeof(other));
    tsr_key_free(key);
    assert_int_equal(tsr_vault_open(f->db, f->vdir, other, &v2, NULL), 0);
    assert_int_equal(tsr_vault_reader_open(v2, id, &r, NULL), TSR_ECRYPTO);
    assert_null(r);
    tsr_vault_close(v2);
    (void)back;
    tsr_free(id);
}

static void test_digest_mismatch_keeps_nothing(void **state)
{
    struct fx *f = *state;
    struct tsr_vault_writer *w = NULL;
    struct tsr_vault_obj *objs = NULL;
    size_t n = 0;
    char *id = NULL;

    assert_int_equal(tsr_vault_writer_new(f->v, "ag-m", NULL, NULL, &w, NULL), 0);
    assert_int_equal(tsr_vault_writer_write(w, "hello", 5, NULL), 0);
    assert_int_equal(tsr_vault_writer_finish(w, "00112233445566778899aabbccddeeff00112233445566"
                                                "778899aabbccddeeff", &id, NULL, NULL),
                     TSR_ECRYPTO);
    assert_null(id);
    tsr_vault_writer_free(w);
    assert_int_equal(tsr_vault_list(f->v, "ag-m", 0, 0, &objs, &n, NULL), 0);
    assert_int_equal(n, 0);
    /* Nothing but the vault's own files is left in the folder. */
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", f->vdir);
    assert_int_equal(system(cmd), 0);
}

static void test_destroy_agreement(void **state)
{
    struct fx *f = *state;
    unsigned char data[1000], back[1001];
    struct tsr_vault_reader *r = NULL;
    struct tsr_vault_obj *objs = NULL;
    size_t n = 0, removed = 0;
    char *id1, *id2, *keep;
    struct stat sb;

    fill(data, sizeof(data), 8);
    id1 = store(f, "ag-d", data, sizeof(data), 100);
    id2 = store(f, "ag-d", data, sizeof(data), 100);
    keep = store(f, "ag-other", data, sizeof(data), 100);
    assert_int_equal(tsr_vault_list(f->v, "ag-d", 0, 0, &objs, &n, NULL), 0);
    assert_int_equal(n, 2);
    tsr_vault_obj_array_free(objs, n);
    assert_int_equal(tsr_vault_destroy_agreement(f->v, "ag-d", &removed, NULL), 0);
    assert_int_equal(removed, 2);
    assert_int_not_equal(stat(path_of(f, id1), &sb), 0);
    assert_int_not_equal(stat(path_of(f, id2), &sb), 0);
    assert_int_equal(tsr_vault_reader_open(f->v, id1, &r, NULL), TSR_ENOTFOUND);
    /* The other agreement is untouched. */
    assert_int_equal(load(f, keep, back, sizeof(back), &n, 333), 0);
    assert_int_equal(n, sizeof(data));
    /* Single removal. */
    assert_int_equal(tsr_vault_remove(f->v, keep, NULL), 0);
    assert_int_equal(tsr_vault_remove(f->v, keep, NULL), TSR_ENOTFOUND);
    tsr_free(id1);
    tsr_free(id2);
    tsr_free(keep);
}

static void test_sweep_and_path_inside(void **state)
{
    struct fx *f = *state;
    struct tsr_vault *v2 = NULL;
    char p[300];
    struct stat sb;
    int fd;

    snprintf(p, sizeof(p), "%s/.tmp-leftover", f->vdir);
    fd = open(p, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(tsr_vault_open(f->db, f->vdir, f->master, &v2, NULL), 0);
    assert_int_not_equal(stat(p, &sb), 0);
    assert_true(tsr_vault_path_inside(v2, p));
    snprintf(p, sizeof(p), "%s/vault/../vault/x", f->dir);
    assert_true(tsr_vault_path_inside(v2, p));
    snprintf(p, sizeof(p), "%s/vaultx", f->dir);
    assert_false(tsr_vault_path_inside(v2, p));
    assert_false(tsr_vault_path_inside(v2, f->dir));
    assert_true(tsr_vault_path_inside(v2, f->vdir));
    tsr_vault_close(v2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_are_encrypted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampering_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_and_reorder_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapped_files_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_master_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_mismatch_keeps_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_agreement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_and_path_inside, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
