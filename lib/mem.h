/*
 * lib/mem.h: the allocation functions every tessera module uses.
 *
 * They behave like their libc namesakes but go through one place, so a
 * test can count or fail allocations, and they add the secret-wiping
 * helpers the rest of the code relies on.
 */
#ifndef TSR_LIB_MEM_H
#define TSR_LIB_MEM_H

#include <stddef.h>

/* Like malloc/calloc/realloc/free; return NULL on failure (n==0 allowed). */
void *tsr_malloc(size_t n);
void *tsr_calloc(size_t nmemb, size_t size);
void *tsr_realloc(void *p, size_t n);
void tsr_free(void *p);

/* New copy of s (or of its first n bytes plus a NUL); NULL on failure. */
char *tsr_strdup(const char *s);
char *tsr_strndup(const char *s, size_t n);

/* Overwrite n bytes at p with zeros in a way the compiler cannot elide. */
void tsr_wipe(void *p, size_t n);

/* Wipe then free a NUL-terminated secret string.  s may be NULL. */
void tsr_free_secret(char *s);

/*
 * Fail every allocation after the next n successful ones (n < 0: never).
 * For tests of the out-of-memory paths only.
 */
void tsr_mem_fail_after(long n);

#endif /* TSR_LIB_MEM_H */
