/*
 * lib/str.h: safe parsing of numbers, sizes, durations and booleans, and
 * bounded string copies.  Nothing here accepts trailing garbage or
 * silently wraps.
 */
#ifndef TSR_LIB_STR_H
#define TSR_LIB_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse a whole decimal integer in [min, max] (strtonum style).  Returns
 * 0, TSR_EINVAL (empty, not a number, trailing characters) or TSR_ERANGE.
 */
int tsr_parse_ll(const char *s, long long min, long long max, long long *out);

/* Like tsr_parse_ll for unsigned 64-bit values (no sign allowed). */
int tsr_parse_u64(const char *s, uint64_t max, uint64_t *out);

/*
 * Parse a size with an optional binary suffix (k, M, G, T; "64k" = 65536,
 * "1M", "0").  Returns 0, TSR_EINVAL or TSR_ERANGE (over max).
 */
int tsr_parse_size(const char *s, uint64_t max, uint64_t *out);

/*
 * Parse a duration into milliseconds: a number with a unit ms, s, m, h
 * or d ("250ms", "30s", "5m"); a bare number means seconds.  Returns 0,
 * TSR_EINVAL or TSR_ERANGE (over max_ms).
 */
int tsr_parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *out);

/* Parse yes/no, true/false, on/off, 1/0 (any case).  0 or TSR_EINVAL. */
int tsr_parse_bool(const char *s, bool *out);

/*
 * Copy src into dst of size dstsize, always NUL-terminating (dstsize>0).
 * Returns 0, or TSR_ELIMIT when src did not fit (dst then holds a prefix).
 */
int tsr_strlcpy(char *dst, const char *src, size_t dstsize);

/* True when s starts with prefix / ends with suffix. */
bool tsr_str_startswith(const char *s, const char *prefix);
bool tsr_str_endswith(const char *s, const char *suffix);

/* True when the n bytes at p are all printable ASCII (0x20..0x7e). */
bool tsr_str_is_printable(const char *p, size_t n);

/*
 * FNV-1a hash of a NUL-terminated string (*len, when not NULL, gets its
 * length).  For hash tables and skipping compares only: not for security.
 */
uint64_t tsr_str_hash(const char *s, size_t *len);

/* Remove leading and trailing ASCII white space in place; returns s. */
char *tsr_str_trim(char *s);

#endif /* TSR_LIB_STR_H */
