/*
 * lib/mem.c: allocation shim with an optional failure injector for tests.
 */
#include "lib/tsr.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/mem.h"

/* <0: no injection; otherwise the number of allocations still allowed. */
static long fail_after = -1;

void tsr_mem_fail_after(long n)
{
    fail_after = n;
}

static bool may_alloc(void)
{
    if (fail_after < 0)
        return true;
    if (fail_after == 0)
        return false;
    fail_after--;
    return true;
}

void *tsr_malloc(size_t n)
{
    if (!may_alloc())
        return NULL;
    return malloc(n == 0 ? 1 : n);
}

void *tsr_calloc(size_t nmemb, size_t size)
{
    if (!may_alloc())
        return NULL;
    if (nmemb == 0 || size == 0)
        return calloc(1, 1);
    return calloc(nmemb, size);
}

void *tsr_realloc(void *p, size_t n)
{
    if (!may_alloc())
        return NULL;
    return realloc(p, n == 0 ? 1 : n);
}

void tsr_free(void *p)
{
    free(p);
}

char *tsr_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = tsr_malloc(len + 1);

    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *tsr_strdup(const char *s)
{
    return tsr_strndup(s, strlen(s));
}

void tsr_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

void tsr_free_secret(char *s)
{
    if (s == NULL)
        return;
    tsr_wipe(s, strlen(s));
    free(s);
}
