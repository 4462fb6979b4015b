/*
 * transports/fields.h: the HTTP field values the data plane speaks beside
 * the body: Range and Content-Range (RFC 9110 §14) to resume a transfer
 * where it stopped, and Repr-Digest (RFC 9530) to verify what arrived.
 *
 * Parsers are strict and bounded: they read untrusted peer input and
 * never accept a value they would have to guess about.  Only the subset a
 * resumable single-object transfer needs is supported: one byte range per
 * request (a multi-range request is ignored, which RFC 9110 §14.2 allows,
 * and the whole representation is sent), and sha-256 digests.
 */
#ifndef TSR_TRANSPORTS_FIELDS_H
#define TSR_TRANSPORTS_FIELDS_H

#include <stddef.h>
#include <stdint.h>

/* "sha-256=:" + 44 base64 characters + ":" and the terminating NUL. */
#define TSR_HTTP_REPR_DIGEST_MAX 64
/* "bytes " + 3 decimal uint64 values + "-" and "/" and the NUL. */
#define TSR_HTTP_CONTENT_RANGE_MAX 72

/*
 * Decide a Range request header against a representation of size bytes.
 * value NULL or empty: no range.  Returns 0 with [*first, *last] (both
 * inclusive) for one satisfiable byte range ("bytes=a-b", "bytes=a-",
 * "bytes=-n"); TSR_ENOTFOUND when the header is to be ignored and the
 * whole representation sent (no header, another unit, several ranges, a
 * malformed value: RFC 9110 §14.2 lets a server ignore those);
 * TSR_ERANGE when the single range is unsatisfiable (416, with
 * "Content-Range: bytes * /size").
 */
int tsr_http_range_parse(const char *value, uint64_t size, uint64_t *first, uint64_t *last);

/*
 * Write "bytes first-last/size" into buf (cap bytes, NUL-terminated).
 * first > last means an unsatisfied range: "bytes * /size" (416).
 * Returns 0, or TSR_ELIMIT when buf is too small.
 */
int tsr_http_content_range_format(char *buf, size_t cap, uint64_t first, uint64_t last,
                                  uint64_t size);

/*
 * Parse a 206 response's "Content-Range: bytes first-last/size"; the
 * complete length must be known (not "*"), first <= last < size.
 * Returns 0 or TSR_EINVAL.
 */
int tsr_http_content_range_parse(const char *value, uint64_t *first, uint64_t *last,
                                 uint64_t *size);

/*
 * Write the Repr-Digest value "sha-256=:BASE64:" for a SHA-256 digest into
 * buf (cap bytes, NUL-terminated).  Returns 0 or TSR_ELIMIT.
 */
int tsr_http_repr_digest_format(const uint8_t sha256[32], char *buf, size_t cap);

/*
 * Find the sha-256 member of a Repr-Digest (or Content-Digest) field value,
 * a structured-field dictionary (RFC 8941) such as
 * "sha-512=:...:, sha-256=:...:".  Members with other algorithms are
 * skipped.  Returns 0 with the 32 bytes in out, TSR_ENOTFOUND when no
 * sha-256 member is present, TSR_EINVAL when the value is malformed or the
 * sha-256 member is not a 32-byte byte sequence.
 */
int tsr_http_repr_digest_parse(const char *value, uint8_t out[32]);

#endif
