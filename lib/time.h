/*
 * lib/time.h: RFC 3339 timestamps and the two clocks tessera uses.
 *
 * Timestamps arrive in protocol messages, credentials (validFrom,
 * validUntil) and policies, so the parser is strict: only the RFC 3339
 * section 5.6 grammar (date-time) is accepted, with real calendar checks.
 * Output is always UTC with a "Z".
 *
 * Leap seconds: a time whose second is 60 is accepted only where a leap
 * second can exist (23:59:60 UTC, after applying the offset).  Since POSIX
 * time has no leap seconds, it is mapped to the NEXT second: 23:59:60.5Z
 * on 1990-12-31 becomes 1991-01-01T00:00:00.5Z.  This keeps the order of
 * events (the leap second is after 23:59:59.999999999), at the price of
 * sharing its value with the first second of the next day.
 */
#ifndef TSR_LIB_TIME_H
#define TSR_LIB_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* A point in time: seconds since 1970-01-01T00:00:00Z, plus nanoseconds. */
struct tsr_time {
    int64_t sec;  /* may be negative (dates before 1970) */
    int32_t nsec; /* 0 .. 999999999 */
};

/* Room for the longest string tsr_time_format writes, with its NUL. */
#define TSR_TIME_STR_MAX 32

/* The longest input tsr_time_parse looks at ("...T..:..:..." with 9 digits and an offset). */
#define TSR_TIME_INPUT_MAX 35

/*
 * Parse an RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)",
 * 'T' and 'Z' in either case, 1 to 9 fraction digits, years 0000..9999.
 * The whole string must match: no spaces, no missing offset, no 24:00:00,
 * no 2026-02-30.  Returns 0, or TSR_EINVAL with the reason in d.
 */
int tsr_time_parse(const char *s, struct tsr_time *out, struct tsr_diag *d);

/* As tsr_time_parse, giving milliseconds since the epoch (fraction truncated). */
int tsr_time_parse_ms(const char *s, int64_t *out_ms, struct tsr_diag *d);

/*
 * Write t as "YYYY-MM-DDTHH:MM:SSZ", or with millis "YYYY-MM-DDTHH:MM:SS.mmmZ"
 * (truncated, not rounded), into buf of size size (TSR_TIME_STR_MAX is
 * enough).  Returns 0, TSR_ERANGE when the year is outside 0000..9999 or
 * nsec is outside 0..999999999, or TSR_ELIMIT when buf is too small.
 */
int tsr_time_format(const struct tsr_time *t, bool millis, char *buf, size_t size);

/* As tsr_time_format for milliseconds since the epoch (with millis shown). */
int tsr_time_format_ms(int64_t ms, char *buf, size_t size);

/* Wall-clock time in milliseconds since the epoch (CLOCK_REALTIME). */
int64_t tsr_time_now_ms(void);

/* A monotonic clock in milliseconds, for timeouts and intervals; its zero is arbitrary. */
int64_t tsr_time_mono_ms(void);

#endif /* TSR_LIB_TIME_H */
