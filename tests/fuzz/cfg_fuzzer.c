/*
 * tests/fuzz/cfg_fuzzer.c: libFuzzer target for lib/cfg.c, the
 * tessera.conf(5) loader (line splitting, sections, quoting and escapes,
 * inline comments, every value type and its bounds, lists, relative
 * paths, "did you mean" suggestions, validate callbacks), and
 * tsr_cfg_dump.
 *
 * The input is the configuration file.  tsr_cfg_load takes a path, so
 * the bytes are written into a memfd once per run and loaded through
 * /proc/self/fd/N: nothing is left on disk, even after a crash.  Each
 * input is loaded twice: with tesserad's own table (connector/conf.c,
 * tsr_conf_keys) and with a small table below that has every type, a
 * section-less key, a secret and a validate callback.
 *
 * Property checked (abort on failure): with the small table, what
 * tsr_cfg_dump prints for a loaded configuration loads again, and dumps
 * to the same text (unless the dump has a line over TSR_CFG_LINE_MAX:
 * see run_every).
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "connector/conf.h"
#include "lib/cfg.h"
#include "lib/mem.h"

/* A little over TSR_CFG_LINE_MAX, so the line limit is reached. */
#define MAX_INPUT (64 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern char **environ;

struct every {
    char *top;
    char *str;
    long long num;
    bool flag;
    uint64_t size;
    uint64_t dur;
    int mode;
    char *path;
    struct tsr_cfg_list list;
    struct tsr_cfg_list words;
    char *secret;
    char *checked;
};

static const char *const modes[] = {"one", "two", "three", NULL};

static int check_not_bad(const void *value, struct tsr_diag *d)
{
    const char *const *s = value;

    if (*s != NULL && strcmp(*s, "bad") == 0)
        return tsr_diag_set(d, TSR_EINVAL, "\"bad\" is refused");
    return 0;
}

#define F(field) offsetof(struct every, field)
static const struct tsr_cfg_key every_keys[] = {
    {.section = "", .name = "top", .type = TSR_CFG_STRING, .offset = F(top), .def = NULL},
    {.section = "a", .name = "str", .type = TSR_CFG_STRING, .offset = F(str), .def = "x",
     .min = 0, .max = 64},
    {.section = "a", .name = "num", .type = TSR_CFG_INT, .offset = F(num), .def = "5",
     .min = -100, .max = 100},
    {.section = "a", .name = "flag", .type = TSR_CFG_BOOL, .offset = F(flag), .def = "no",
     .flags = TSR_CFG_RELOADABLE},
    {.section = "a", .name = "size", .type = TSR_CFG_SIZE, .offset = F(size), .def = "1k",
     .min = 0, .max = 1LL << 40},
    {.section = "a", .name = "dur", .type = TSR_CFG_DURATION, .offset = F(dur), .def = "30s",
     .min = 1, .max = 86400000},
    {.section = "a", .name = "mode", .type = TSR_CFG_ENUM, .offset = F(mode), .def = "one",
     .enum_values = modes},
    {.section = "b.c", .name = "path", .type = TSR_CFG_PATH, .offset = F(path), .def = "x/y",
     .min = 0, .max = 512},
    {.section = "b.c", .name = "list", .type = TSR_CFG_LIST, .offset = F(list), .def = "a, b",
     .min = 0, .max = 8},
    {.section = "b.c", .name = "words", .type = TSR_CFG_LIST, .offset = F(words), .def = NULL},
    {.section = "b.c", .name = "secret", .type = TSR_CFG_STRING, .offset = F(secret),
     .def = NULL, .flags = TSR_CFG_SECRET},
    {.section = "a", .name = "checked", .type = TSR_CFG_STRING, .offset = F(checked),
     .def = "ok", .validate = check_not_bad},
};
#undef F

static int memfd = -1;
static char memfd_path[64];

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "cfg_fuzzer: property violated: %s\n%s\n", what, text != NULL ? text : "");
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The loader reads TESSERA_* variables; a fuzzing run must not depend on them. */
    for (size_t i = 0; environ[i] != NULL;) {
        if (strncmp(environ[i], TSR_CFG_ENV_PREFIX, strlen(TSR_CFG_ENV_PREFIX)) == 0) {
            char name[256];
            size_t n = strcspn(environ[i], "=");
            snprintf(name, sizeof(name), "%.*s", (int)n, environ[i]);
            unsetenv(name);
            i = 0;
            continue;
        }
        i++;
    }
    memfd = memfd_create("cfg_fuzzer", MFD_CLOEXEC);
    if (memfd < 0) {
        perror("cfg_fuzzer: memfd_create");
        exit(1);
    }
    snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
    return 0;
}

/* Replace the memfd's contents with n bytes at p. */
static void set_file(const void *p, size_t n)
{
    if (ftruncate(memfd, 0) != 0 || (n > 0 && pwrite(memfd, p, n, 0) != (ssize_t)n)) {
        perror("cfg_fuzzer: memfd write");
        abort();
    }
}

/* tsr_cfg_dump into a new string (tsr-independent: freed with free()). */
static char *dump(const struct tsr_cfg_key *t, size_t n, const void *cfg, size_t *len)
{
    char *text = NULL;
    FILE *fp = open_memstream(&text, len);

    if (fp == NULL)
        abort();
    if (tsr_cfg_dump(t, n, cfg, fp) != 0)
        fail("tsr_cfg_dump failed on a memory stream", NULL);
    fclose(fp);
    return text;
}

static size_t longest_line(const char *s, size_t len)
{
    size_t longest = 0;

    while (len > 0) {
        const char *nl = memchr(s, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - s) : len;
        longest = TSR_MAX(longest, n);
        s += n;
        len -= n;
        if (len > 0) {
            s++;
            len--;
        }
    }
    return longest;
}

static void run_conf(void)
{
    struct tsr_conf c;
    struct tsr_diag d;
    size_t len = 0;

    memset(&c, 0, sizeof(c));
    if (tsr_cfg_load(tsr_conf_keys, tsr_conf_nkeys, memfd_path, &c, &d) == 0)
        free(dump(tsr_conf_keys, tsr_conf_nkeys, &c, &len));
    tsr_cfg_free(tsr_conf_keys, tsr_conf_nkeys, &c);
}

static void run_every(void)
{
    const size_t n = TSR_ARRAY_SIZE(every_keys);
    struct every e, e2;
    struct tsr_diag d;
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;

    memset(&e, 0, sizeof(e));
    memset(&e2, 0, sizeof(e2));
    if (tsr_cfg_load(every_keys, n, memfd_path, &e, &d) != 0)
        goto out;
    t1 = dump(every_keys, n, &e, &l1);
    set_file(t1, l1);
    int rc = tsr_cfg_load(every_keys, n, memfd_path, &e2, &d);
    /*
     * Known limit, not checked here: dump quotes and escapes every
     * string, so an unquoted value full of quotes or backslashes can come
     * out longer than TSR_CFG_LINE_MAX, which the loader then refuses.
     */
    if (rc == TSR_ELIMIT && longest_line(t1, l1) > TSR_CFG_LINE_MAX)
        goto out;
    if (rc != 0) {
        fprintf(stderr, "reload: %s\n", tsr_diag_msg(&d));
        fail("the dump of a loaded configuration does not load", t1);
    }
    t2 = dump(every_keys, n, &e2, &l2);
    if (l1 != l2 || memcmp(t1, t2, l1) != 0)
        fail("dump, load, dump changed the text", t2);
out:
    free(t1);
    free(t2);
    tsr_cfg_free(every_keys, n, &e);
    tsr_cfg_free(every_keys, n, &e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return -1;
    set_file(data, size);
    run_conf();
    set_file(data, size);
    run_every();
    return 0;
}
