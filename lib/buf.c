/*
 * lib/buf.c: bounded growable byte buffers.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"

void tsr_buf_init(struct tsr_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void tsr_buf_cleanup(struct tsr_buf *b)
{
    tsr_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void tsr_buf_cleanup_secret(struct tsr_buf *b)
{
    tsr_wipe(b->data, b->cap);
    tsr_buf_cleanup(b);
}

void tsr_buf_reset(struct tsr_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

int tsr_buf_reserve(struct tsr_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return TSR_ELIMIT;
    size_t need = b->len + n + 1; /* room for the trailing NUL */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    /* Never allocate far beyond what the maximum can use. */
    if (cap > b->max + 1)
        cap = b->max + 1;
    if (cap < need)
        cap = need;
    char *p = tsr_realloc(b->data, cap);
    if (p == NULL)
        return TSR_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int tsr_buf_add(struct tsr_buf *b, const void *p, size_t n)
{
    int rc = tsr_buf_reserve(b, n);
    if (rc != 0)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int tsr_buf_adds(struct tsr_buf *b, const char *s)
{
    return tsr_buf_add(b, s, strlen(s));
}

int tsr_buf_vaddf(struct tsr_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    char small[256];

    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return TSR_EINVAL;
    if ((size_t)n < sizeof(small))
        return tsr_buf_add(b, small, (size_t)n);
    int rc = tsr_buf_reserve(b, (size_t)n);
    if (rc != 0)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int tsr_buf_addf(struct tsr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tsr_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void tsr_buf_consume(struct tsr_buf *b, size_t n)
{
    if (n >= b->len) {
        tsr_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *tsr_buf_steal(struct tsr_buf *b, size_t *len)
{
    char *p = b->data;

    if (p == NULL) {
        p = tsr_strdup("");
        if (p == NULL)
            return NULL;
    }
    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

const char *tsr_buf_str(const struct tsr_buf *b)
{
    return b->data != NULL ? b->data : "";
}

int tsr_buf_add_pct(struct tsr_buf *b, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = b->len;
    int rc = 0;

    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p) != NULL || (keep != NULL && strchr(keep, *p) != NULL)) {
            rc = tsr_buf_add(b, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = tsr_buf_add(b, e, 3);
        }
    }
    /* All or nothing, as the other appenders. */
    if (rc != 0 && b->data != NULL) {
        b->len = start;
        b->data[start] = '\0';
    }
    return rc;
}
