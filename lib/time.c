/*
 * lib/time.c: strict RFC 3339 parsing and UTC formatting, and clocks.
 *
 * The calendar arithmetic is done here rather than with mktime/timegm so
 * that parsing never depends on the TZ environment or on libc quirks.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/time.h"

#define SECS_PER_DAY 86400

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && is_leap(y))
        return 29;
    return days[m - 1];
}

/* Leap years in [0, y) counting year 0 as one (proleptic Gregorian, y >= 0). */
static int64_t leaps_before(int64_t y)
{
    if (y <= 0)
        return 0;
    return (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;
}

/* Days from 1970-01-01 to y-m-d; valid for years 0..9999. */
static int64_t days_since_epoch(int y, int m, int d)
{
    static const int before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t days = 365 * (int64_t)y + leaps_before(y);

    days += before_month[m - 1] + (m > 2 && is_leap(y) ? 1 : 0) + (d - 1);
    return days - (365 * (int64_t)1970 + leaps_before(1970));
}

/* Read exactly n decimal digits at s. */
static bool get_digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int bad(struct tsr_diag *d, size_t pos, const char *why)
{
    return tsr_diag_set(d, TSR_EINVAL, "invalid RFC 3339 time at character %zu: %s", pos + 1,
                        why);
}

int tsr_time_parse(const char *s, struct tsr_time *out, struct tsr_diag *d)
{
    int year, mon, day, hour, min, sec, oh = 0, om = 0;
    int32_t nsec = 0;
    int offset_min = 0;
    size_t p;

    if (s == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "invalid RFC 3339 time: none given");
    /* Bound the scan: nothing valid is longer than TSR_TIME_INPUT_MAX. */
    if (strnlen(s, TSR_TIME_INPUT_MAX + 1) > TSR_TIME_INPUT_MAX)
        return tsr_diag_set(d, TSR_EINVAL, "invalid RFC 3339 time: too long");

    if (!get_digits(s, 4, &year))
        return bad(d, 0, "expected a 4-digit year");
    if (s[4] != '-')
        return bad(d, 4, "expected '-'");
    if (!get_digits(s + 5, 2, &mon))
        return bad(d, 5, "expected a 2-digit month");
    if (s[7] != '-')
        return bad(d, 7, "expected '-'");
    if (!get_digits(s + 8, 2, &day))
        return bad(d, 8, "expected a 2-digit day");
    if (s[10] != 'T' && s[10] != 't')
        return bad(d, 10, "expected 'T'");
    if (!get_digits(s + 11, 2, &hour))
        return bad(d, 11, "expected a 2-digit hour");
    if (s[13] != ':')
        return bad(d, 13, "expected ':'");
    if (!get_digits(s + 14, 2, &min))
        return bad(d, 14, "expected 2-digit minutes");
    if (s[16] != ':')
        return bad(d, 16, "expected ':'");
    if (!get_digits(s + 17, 2, &sec))
        return bad(d, 17, "expected 2-digit seconds");
    p = 19;
    if (s[p] == '.') {
        int ndig = 0;

        p++;
        while (s[p] >= '0' && s[p] <= '9') {
            if (++ndig > 9)
                return bad(d, p, "more than 9 fraction digits");
            nsec = nsec * 10 + (s[p] - '0');
            p++;
        }
        if (ndig == 0)
            return bad(d, p, "expected fraction digits after '.'");
        for (; ndig < 9; ndig++)
            nsec *= 10;
    }
    if (s[p] == 'Z' || s[p] == 'z') {
        p++;
    } else if (s[p] == '+' || s[p] == '-') {
        int sign = s[p] == '-' ? -1 : 1;

        if (!get_digits(s + p + 1, 2, &oh))
            return bad(d, p + 1, "expected 2-digit offset hours");
        if (s[p + 3] != ':')
            return bad(d, p + 3, "expected ':' in the offset");
        if (!get_digits(s + p + 4, 2, &om))
            return bad(d, p + 4, "expected 2-digit offset minutes");
        if (oh > 23 || om > 59)
            return bad(d, p, "offset out of range");
        offset_min = sign * (oh * 60 + om);
        p += 6;
    } else {
        return bad(d, p, "expected 'Z' or a numeric offset");
    }
    if (s[p] != '\0')
        return bad(d, p, "unexpected text after the time");

    if (mon < 1 || mon > 12)
        return bad(d, 5, "month out of range");
    if (day < 1 || day > month_days(year, mon))
        return bad(d, 8, "no such day in that month");
    if (hour > 23)
        return bad(d, 11, "hour out of range");
    if (min > 59)
        return bad(d, 14, "minutes out of range");
    if (sec > 60)
        return bad(d, 17, "seconds out of range");
    if (sec == 60) {
        /* A leap second is only ever inserted as the last second of a UTC day. */
        int utc_min = ((hour * 60 + min - offset_min) % 1440 + 1440) % 1440;
        if (utc_min != 23 * 60 + 59)
            return bad(d, 17, "leap second not at 23:59:60 UTC");
    }

    out->sec = days_since_epoch(year, mon, day) * SECS_PER_DAY + hour * 3600 + min * 60 + sec -
               (int64_t)offset_min * 60;
    out->nsec = nsec;
    return 0;
}

int tsr_time_parse_ms(const char *s, int64_t *out_ms, struct tsr_diag *d)
{
    struct tsr_time t;
    int rc = tsr_time_parse(s, &t, d);

    if (rc != 0)
        return rc;
    *out_ms = t.sec * 1000 + t.nsec / 1000000;
    return 0;
}

int tsr_time_format(const struct tsr_time *t, bool millis, char *buf, size_t size)
{
    /* Seconds of 0000-01-01T00:00:00Z and of 10000-01-01T00:00:00Z. */
    const int64_t lo = days_since_epoch(0, 1, 1) * SECS_PER_DAY;
    const int64_t hi = (days_since_epoch(9999, 12, 31) + 1) * SECS_PER_DAY;
    struct tm tm;
    int n;

    if (t->sec < lo || t->sec >= hi || t->nsec < 0 || t->nsec > 999999999)
        return TSR_ERANGE;
    time_t tt = (time_t)t->sec;
    if (gmtime_r(&tt, &tm) == NULL)
        return TSR_ERANGE;
    if (millis) {
        n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(t->nsec / 1000000));
    } else {
        n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    if (n < 0 || (size_t)n >= size)
        return TSR_ELIMIT;
    return 0;
}

int tsr_time_format_ms(int64_t ms, char *buf, size_t size)
{
    struct tsr_time t;

    /* Floor division, so that -1 ms is 1969-12-31T23:59:59.999Z. */
    t.sec = ms / 1000;
    int64_t rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        t.sec--;
    }
    t.nsec = (int32_t)(rem * 1000000);
    return tsr_time_format(&t, true, buf, size);
}

int64_t tsr_time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tsr_time_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
