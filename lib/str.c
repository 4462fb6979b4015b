/*
 * lib/str.c: strict number, size, duration and boolean parsers.
 */
#include "lib/tsr.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/str.h"

int tsr_parse_ll(const char *s, long long min, long long max, long long *out)
{
    char *end;

    if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
        return TSR_EINVAL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0')
        return TSR_EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return TSR_ERANGE;
    *out = v;
    return 0;
}

/* Parse leading decimal digits of s into *v; *end is set past them. */
static int parse_digits(const char *s, const char **end, uint64_t *v)
{
    uint64_t n = 0;
    const char *p = s;

    if (!isdigit((unsigned char)*p))
        return TSR_EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return TSR_ERANGE;
        n = n * 10 + d;
    }
    *end = p;
    *v = n;
    return 0;
}

int tsr_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    const char *end;
    uint64_t v;

    if (s == NULL)
        return TSR_EINVAL;
    int rc = parse_digits(s, &end, &v);
    if (rc != 0)
        return rc;
    if (*end != '\0')
        return TSR_EINVAL;
    if (v > max)
        return TSR_ERANGE;
    *out = v;
    return 0;
}

int tsr_parse_size(const char *s, uint64_t max, uint64_t *out)
{
    const char *end;
    uint64_t v, mul = 1;

    if (s == NULL)
        return TSR_EINVAL;
    int rc = parse_digits(s, &end, &v);
    if (rc != 0)
        return rc;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mul = 1ULL << 10; end++; break;
    case 'm': case 'M': mul = 1ULL << 20; end++; break;
    case 'g': case 'G': mul = 1ULL << 30; end++; break;
    case 't': case 'T': mul = 1ULL << 40; end++; break;
    default: return TSR_EINVAL;
    }
    /* Accept "64k", "64kB", "64KiB" but nothing else after the unit. */
    if (mul > 1 && (*end == 'i' || *end == 'I'))
        end++;
    if (mul > 1 && (*end == 'b' || *end == 'B'))
        end++;
    if (*end != '\0')
        return TSR_EINVAL;
    if (v > UINT64_MAX / mul)
        return TSR_ERANGE;
    v *= mul;
    if (v > max)
        return TSR_ERANGE;
    *out = v;
    return 0;
}

int tsr_parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *out)
{
    const char *end;
    uint64_t v, mul;

    if (s == NULL)
        return TSR_EINVAL;
    int rc = parse_digits(s, &end, &v);
    if (rc != 0)
        return rc;
    if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (*end == '\0' || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "m") == 0)
        mul = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        mul = 3600 * 1000;
    else if (strcmp(end, "d") == 0)
        mul = 86400 * 1000;
    else
        return TSR_EINVAL;
    if (v > UINT64_MAX / mul)
        return TSR_ERANGE;
    v *= mul;
    if (v > max_ms)
        return TSR_ERANGE;
    *out = v;
    return 0;
}

int tsr_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    if (s == NULL)
        return TSR_EINVAL;
    for (size_t i = 0; i < TSR_ARRAY_SIZE(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return TSR_EINVAL;
}

int tsr_strlcpy(char *dst, const char *src, size_t dstsize)
{
    size_t len = strlen(src);

    if (dstsize == 0)
        return TSR_ELIMIT;
    if (len >= dstsize) {
        memcpy(dst, src, dstsize - 1);
        dst[dstsize - 1] = '\0';
        return TSR_ELIMIT;
    }
    memcpy(dst, src, len + 1);
    return 0;
}

bool tsr_str_startswith(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool tsr_str_endswith(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

bool tsr_str_is_printable(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

uint64_t tsr_str_hash(const char *s, size_t *len)
{
    uint64_t h = 14695981039346656037ULL; /* the 64-bit FNV offset basis */
    const char *p = s;

    for (; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    if (len != NULL)
        *len = (size_t)(p - s);
    return h;
}

char *tsr_str_trim(char *s)
{
    size_t len = strlen(s);
    size_t start = 0;

    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    while (start < len && isspace((unsigned char)s[start]))
        start++;
    memmove(s, s + start, len - start);
    s[len - start] = '\0';
    return s;
}
