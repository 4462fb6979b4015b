/*
 * transports/fields.c: Range, Content-Range and Repr-Digest field values.
 */
#include "lib/tsr.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/b64.h"
#include "lib/err.h"
#include "transports/fields.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Decimal digits at *p into *out, advancing *p; at least one, no overflow. */
static bool take_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    if (!is_digit(*s))
        return false;
    for (; is_digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return true;
}

int tsr_http_range_parse(const char *value, uint64_t size, uint64_t *first, uint64_t *last)
{
    const char *p = value;
    uint64_t a = 0, b = UINT64_MAX;
    bool suffix = false;

    if (p == NULL)
        return TSR_ENOTFOUND;
    while (is_ows(*p))
        p++;
    if (strncasecmp(p, "bytes=", 6) != 0)
        return TSR_ENOTFOUND;
    p += 6;
    while (is_ows(*p))
        p++;
    if (*p == '-') {
        p++;
        suffix = true;
        if (!take_u64(&p, &b))
            return TSR_ENOTFOUND;
    } else {
        if (!take_u64(&p, &a) || *p++ != '-')
            return TSR_ENOTFOUND;
        if (is_digit(*p) && !take_u64(&p, &b))
            return TSR_ENOTFOUND;
        if (b < a)
            return TSR_ENOTFOUND; /* invalid, not unsatisfiable (RFC 9110 §14.1.1) */
    }
    while (is_ows(*p))
        p++;
    if (*p != '\0')
        return TSR_ENOTFOUND; /* several ranges or trailing junk: send it all */

    if (suffix) {
        if (b == 0 || size == 0)
            return TSR_ERANGE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 0;
    }
    if (a >= size)
        return TSR_ERANGE;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 0;
}

int tsr_http_content_range_format(char *buf, size_t cap, uint64_t first, uint64_t last,
                                  uint64_t size)
{
    int n;

    if (first > last)
        n = snprintf(buf, cap, "bytes */%llu", (unsigned long long)size);
    else
        n = snprintf(buf, cap, "bytes %llu-%llu/%llu", (unsigned long long)first,
                     (unsigned long long)last, (unsigned long long)size);
    return n < 0 || (size_t)n >= cap ? TSR_ELIMIT : 0;
}

int tsr_http_content_range_parse(const char *value, uint64_t *first, uint64_t *last,
                                 uint64_t *size)
{
    const char *p = value;
    uint64_t a, b, n;

    if (p == NULL || strncasecmp(p, "bytes ", 6) != 0)
        return TSR_EINVAL;
    p += 6;
    if (!take_u64(&p, &a) || *p++ != '-' || !take_u64(&p, &b) || *p++ != '/' ||
        !take_u64(&p, &n))
        return TSR_EINVAL;
    while (is_ows(*p))
        p++;
    if (*p != '\0' || a > b || b >= n)
        return TSR_EINVAL;
    *first = a;
    *last = b;
    *size = n;
    return 0;
}

int tsr_http_repr_digest_format(const uint8_t sha256[32], char *buf, size_t cap)
{
    char b64[48];

    if (tsr_b64_encode_buf(sha256, 32, b64, sizeof(b64)) != 0)
        return TSR_ELIMIT;
    int n = snprintf(buf, cap, "sha-256=:%s:", b64);
    return n < 0 || (size_t)n >= cap ? TSR_ELIMIT : 0;
}

/* ------------------------------------------------------------ RFC 8941 */

static bool is_lcalpha(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_alpha(char c)
{
    return is_lcalpha(c) || (c >= 'A' && c <= 'Z');
}

static bool is_tchar(char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_b64char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '+' || c == '/' || c == '=';
}

/* A key (§3.1.2) at *p: its extent in *k and *klen. */
static bool sf_key(const char **p, const char **k, size_t *klen)
{
    const char *s = *p;

    if (!is_lcalpha(*s) && *s != '*')
        return false;
    while (is_lcalpha(*s) || is_digit(*s) || *s == '_' || *s == '-' || *s == '.' || *s == '*')
        s++;
    *k = *p;
    *klen = (size_t)(s - *p);
    *p = s;
    return true;
}

/*
 * A bare item (§3.3) at *p.  When it is a byte sequence its base64 text
 * is returned in *b64 and *blen (else *b64 stays NULL).
 */
static bool sf_bare_item(const char **p, const char **b64, size_t *blen)
{
    const char *s = *p;

    *b64 = NULL;
    if (*s == '-' || is_digit(*s)) { /* integer or decimal */
        if (*s == '-')
            s++;
        if (!is_digit(*s))
            return false;
        int digits = 0;
        while (is_digit(*s) && digits < 16)
            s++, digits++;
        if (*s == '.') {
            s++;
            int frac = 0;
            while (is_digit(*s) && frac < 4)
                s++, frac++;
            if (frac == 0)
                return false;
        }
        if (is_digit(*s))
            return false;
    } else if (*s == '"') {
        for (s++; *s != '"'; s++) {
            if (*s == '\\') {
                s++;
                if (*s != '"' && *s != '\\')
                    return false;
            } else if (*s < 0x20 || *s > 0x7e) {
                return false;
            }
        }
        s++;
    } else if (*s == ':') {
        const char *start = ++s;
        while (is_b64char(*s))
            s++;
        if (*s != ':')
            return false;
        *b64 = start;
        *blen = (size_t)(s - start);
        s++;
    } else if (*s == '?') {
        s++;
        if (*s != '0' && *s != '1')
            return false;
        s++;
    } else if (is_alpha(*s) || *s == '*') {
        while (is_tchar(*s) || *s == ':' || *s == '/')
            s++;
    } else {
        return false;
    }
    *p = s;
    return true;
}

/* Parameters (§3.1.2) at *p, skipped. */
static bool sf_params(const char **p)
{
    const char *s = *p, *k, *b;
    size_t klen, blen;

    while (*s == ';') {
        s++;
        while (*s == ' ')
            s++;
        if (!sf_key(&s, &k, &klen))
            return false;
        if (*s == '=') {
            s++;
            if (!sf_bare_item(&s, &b, &blen))
                return false;
        }
    }
    *p = s;
    return true;
}

/* An item or an inner list (§3.1.1) at *p; a byte sequence item as in sf_bare_item. */
static bool sf_member_value(const char **p, const char **b64, size_t *blen)
{
    const char *s = *p;

    *b64 = NULL;
    if (*s == '(') {
        const char *b;
        size_t bl;
        s++;
        for (;;) {
            while (*s == ' ')
                s++;
            if (*s == ')')
                break;
            if (!sf_bare_item(&s, &b, &bl) || !sf_params(&s))
                return false;
            if (*s != ' ' && *s != ')')
                return false;
        }
        s++;
    } else if (!sf_bare_item(&s, b64, blen)) {
        return false;
    }
    if (!sf_params(&s))
        return false;
    *p = s;
    return true;
}

int tsr_http_repr_digest_parse(const char *value, uint8_t out[32])
{
    const char *p = value;
    bool found = false;

    if (p == NULL)
        return TSR_EINVAL;
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return TSR_EINVAL;
    for (;;) {
        const char *k, *b64 = NULL;
        size_t klen, blen = 0;

        if (!sf_key(&p, &k, &klen))
            return TSR_EINVAL;
        if (*p == '=') {
            p++;
            if (!sf_member_value(&p, &b64, &blen))
                return TSR_EINVAL;
        } else if (!sf_params(&p)) { /* a bare key is boolean true */
            return TSR_EINVAL;
        }
        /* The last occurrence of a key wins (RFC 8941 §4.2.2). */
        if (klen == 7 && memcmp(k, "sha-256", 7) == 0) {
            size_t n = 0;
            if (b64 == NULL || blen != 44 || tsr_b64_decode(b64, blen, out, 32, &n) != 0 ||
                n != 32)
                return TSR_EINVAL;
            found = true;
        }
        while (is_ows(*p))
            p++;
        if (*p == '\0')
            break;
        if (*p++ != ',')
            return TSR_EINVAL;
        while (is_ows(*p))
            p++;
        if (*p == '\0')
            return TSR_EINVAL; /* a trailing comma */
    }
    return found ? 0 : TSR_ENOTFOUND;
}
