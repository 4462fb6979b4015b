/*
 * lib/buf.h: bounded growable byte buffers (curl's dynbuf with a
 * mandatory maximum).
 *
 * Every buffer declares the largest size it may reach; appending past it
 * fails with TSR_ELIMIT and leaves the buffer as it was.  The contents are
 * always NUL-terminated (the NUL is not counted in len), so text built in
 * a buffer can be used as a C string.
 */
#ifndef TSR_LIB_BUF_H
#define TSR_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct tsr_buf {
    char *data; /* NULL until the first append */
    size_t len; /* bytes used, not counting the trailing NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the largest len allowed */
};

/* Set up an empty buffer that may grow to max bytes. Allocates nothing. */
void tsr_buf_init(struct tsr_buf *b, size_t max);

/* Free the memory and reset b to empty (keeping max).  Safe twice. */
void tsr_buf_cleanup(struct tsr_buf *b);

/* As tsr_buf_cleanup, but wipe the bytes first (keys, tokens). */
void tsr_buf_cleanup_secret(struct tsr_buf *b);

/* Forget the contents but keep the allocation. */
void tsr_buf_reset(struct tsr_buf *b);

/*
 * Append n bytes.  Returns 0, TSR_ELIMIT when len would pass max, or
 * TSR_ENOMEM; on failure b is unchanged.
 */
int tsr_buf_add(struct tsr_buf *b, const void *p, size_t n);

/* Append a NUL-terminated string; as tsr_buf_add. */
int tsr_buf_adds(struct tsr_buf *b, const char *s);

/* Append printf-style text; as tsr_buf_add. */
int tsr_buf_addf(struct tsr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tsr_buf_vaddf(struct tsr_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * Append s percent-encoded (RFC 3986 section 2.1): the unreserved
 * characters (A-Z a-z 0-9 - . _ ~) and those in keep (may be NULL) as
 * they are, every other byte as %XX.  As tsr_buf_add.
 */
int tsr_buf_add_pct(struct tsr_buf *b, const char *s, const char *keep);

/* Make room for at least n more bytes; as tsr_buf_add. */
int tsr_buf_reserve(struct tsr_buf *b, size_t n);

/* Drop the first n bytes (all of them when n >= len). */
void tsr_buf_consume(struct tsr_buf *b, size_t n);

/*
 * Hand the contents to the caller (a new allocation, free with tsr_free;
 * an empty buffer yields "") and reset b to empty.  *len (optional) gets
 * the length.  Returns NULL only when memory runs out.
 */
char *tsr_buf_steal(struct tsr_buf *b, size_t *len);

/* The contents as a C string (borrowed; "" when empty). */
const char *tsr_buf_str(const struct tsr_buf *b);

#endif /* TSR_LIB_BUF_H */
