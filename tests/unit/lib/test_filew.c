/*
 * tests/unit/lib/test_filew.c: the block writer gives back exactly what it
 * was given, whatever the chunking, on a file system that takes O_DIRECT
 * and one where the writer must fall back; resuming at any offset keeps
 * the bytes before it; a non-regular file is refused.
 */
#include "lib/tsr.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/err.h"
#include "lib/filew.h"

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;

    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

static void assert_file(const char *path, const unsigned char *want, size_t n)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, n);
    unsigned char *got = malloc(n ? n : 1);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < n) {
        ssize_t k = read(fd, got + off, n - off);
        assert_true(k > 0);
        off += (size_t)k;
    }
    close(fd);
    assert_memory_equal(got, want, n);
    free(got);
}

static void roundtrip(const char *dir, size_t n, size_t chunk, size_t block)
{
    char path[256];
    struct tsr_filew w;
    uint64_t off = 0;
    unsigned char *data = pattern(n, (unsigned)(n + chunk));

    snprintf(path, sizeof(path), "%s/tsr-filew-%ld", dir, (long)getpid());
    assert_int_equal(tsr_filew_open(&w, path, 0600, block, &off, NULL), 0);
    assert_int_equal(off, 0);
    for (size_t i = 0; i < n; i += chunk)
        assert_int_equal(tsr_filew_write(&w, data + i, TSR_MIN(chunk, n - i)), 0);
    assert_int_equal(tsr_filew_size(&w), n);
    assert_int_equal(tsr_filew_finish(&w, true), 0);
    tsr_filew_close(&w);
    tsr_filew_close(&w); /* idempotent */
    assert_file(path, data, n);
    unlink(path);
    free(data);
}

static void run_sizes(const char *dir)
{
    static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 65535, 65536, 65537, 300000, 1 << 20,
                                   (1 << 20) + 12345};
    static const size_t chunks[] = {1000, 4096, 16375, 65536, 1 << 20};

    for (size_t i = 0; i < TSR_ARRAY_SIZE(sizes); i++)
        for (size_t j = 0; j < TSR_ARRAY_SIZE(chunks); j++) {
            if (sizes[i] > 70000 && chunks[j] < 4096)
                continue; /* slow and adds nothing */
            roundtrip(dir, sizes[i], chunks[j], 64 << 10);
        }
    roundtrip(dir, 3 << 20, 16384, 1 << 20);
    roundtrip(dir, 3 << 20, 5 << 20, 1 << 20); /* one write larger than a block */
}

static void test_disk(void **state)
{
    (void)state;
    run_sizes(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
}

static void test_shm(void **state)
{
    (void)state;
    struct stat st;
    if (stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode) || access("/dev/shm", W_OK) != 0)
        skip();
    run_sizes("/dev/shm");
}

static void test_resume(void **state)
{
    char path[256];
    struct tsr_filew w;
    uint64_t off = 0;
    size_t n = 100000;
    unsigned char *data = pattern(n, 99);

    (void)state;
    snprintf(path, sizeof(path), "/tmp/tsr-filew-resume-%ld", (long)getpid());
    assert_int_equal(tsr_filew_open(&w, path, 0600, 0, &off, NULL), 0);
    assert_int_equal(tsr_filew_write(&w, data, 10000), 0);
    assert_int_equal(tsr_filew_finish(&w, false), 0);
    tsr_filew_close(&w);

    /* Resume at 9000, inside a block: the bytes before it survive. */
    off = 9000;
    assert_int_equal(tsr_filew_open(&w, path, 0600, 0, &off, NULL), 0);
    assert_int_equal(off, 9000);
    assert_int_equal(tsr_filew_size(&w), 9000);
    assert_int_equal(tsr_filew_write(&w, data + off, n - off), 0);
    assert_int_equal(tsr_filew_finish(&w, true), 0);
    tsr_filew_close(&w);
    assert_file(path, data, n);

    /* At a block boundary, and with a tail that is not one. */
    off = 65536;
    assert_int_equal(tsr_filew_open(&w, path, 0600, 0, &off, NULL), 0);
    assert_int_equal(off, 65536);
    assert_int_equal(tsr_filew_write(&w, data + off, n - off), 0);
    assert_int_equal(tsr_filew_finish(&w, false), 0);
    tsr_filew_close(&w);
    assert_file(path, data, n);

    /* An offset past the end is lowered to what the file holds. */
    off = 1 << 30;
    assert_int_equal(tsr_filew_open(&w, path, 0600, 0, &off, NULL), 0);
    assert_int_equal(off, n);
    tsr_filew_close(&w);
    assert_file(path, data, n);
    unlink(path);
    free(data);
}

/* Several writers interleaved: the shared I/O thread keeps each one's blocks in order. */
static void test_interleaved(void **state)
{
    enum { N = 6 };
    struct tsr_filew w[N];
    char path[N][256];
    size_t n = (3 << 20) + 777;
    unsigned char *data[N];

    (void)state;
    for (int i = 0; i < N; i++) {
        uint64_t off = 0;
        data[i] = pattern(n, 1000u + (unsigned)i);
        snprintf(path[i], sizeof(path[i]), "/tmp/tsr-filew-%ld-%d", (long)getpid(), i);
        assert_int_equal(tsr_filew_open(&w[i], path[i], 0600, 64 << 10, &off, NULL), 0);
    }
    for (size_t at = 0; at < n; at += 20000)
        for (int i = 0; i < N; i++)
            assert_int_equal(tsr_filew_write(&w[i], data[i] + at, TSR_MIN(20000, n - at)), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(tsr_filew_finish(&w[i], i % 2 == 0), 0);
        tsr_filew_close(&w[i]);
        assert_file(path[i], data[i], n);
        unlink(path[i]);
        free(data[i]);
    }
}

/* A writer closed with a block in flight waits for it and leaks nothing. */
static void test_close_unfinished(void **state)
{
    struct tsr_filew w;
    uint64_t off = 0;
    char path[256];
    unsigned char *data = pattern(1 << 20, 5);

    (void)state;
    snprintf(path, sizeof(path), "/tmp/tsr-filew-close-%ld", (long)getpid());
    assert_int_equal(tsr_filew_open(&w, path, 0600, 64 << 10, &off, NULL), 0);
    assert_int_equal(tsr_filew_write(&w, data, 1 << 20), 0);
    tsr_filew_close(&w);
    unlink(path);
    free(data);
}

static void test_refused(void **state)
{
    struct tsr_filew w;
    uint64_t off = 0;

    (void)state;
    assert_int_equal(tsr_filew_open(&w, "/dev/null", 0600, 0, &off, NULL), TSR_EIO);
    assert_int_equal(tsr_filew_open(&w, "/nonexistent-dir/x", 0600, 0, &off, NULL), TSR_EIO);
    tsr_filew_close(&w);
    assert_int_equal(tsr_filew_write(&w, "x", 1), TSR_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk),
        cmocka_unit_test(test_shm),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_close_unfinished),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
