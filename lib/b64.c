/*
 * lib/b64.c: strict base64 and base64url (RFC 4648 sections 4 and 5).
 *
 * One encoder and one decoder serve both alphabets; the decoder is table
 * driven and refuses anything that is not the single canonical encoding,
 * because JOSE compares and hashes encoded forms and a lenient decoder
 * would let two different strings carry the same signature.
 */
#include "lib/tsr.h"

#include <stdint.h>
#include <string.h>

#include "lib/b64.h"
#include "lib/mem.h"

static const char std_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct alphabet {
    const char *chars;
    bool pad; /* '=' padding to a multiple of 4 is required (std) or forbidden (url) */
};

static const struct alphabet std_alpha = {std_chars, true};
static const struct alphabet url_alpha = {url_chars, false};

size_t tsr_b64url_encoded_len(size_t n)
{
    /* 4 characters per full group of 3, 2 or 3 for a trailing partial group. */
    if (n / 3 > (SIZE_MAX - 4) / 4)
        return 0;
    return (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t tsr_b64_encoded_len(size_t n)
{
    if (n / 3 > (SIZE_MAX - 4) / 4)
        return 0;
    return (n / 3 + (n % 3 != 0)) * 4;
}

size_t tsr_b64_decoded_max(size_t inlen)
{
    return inlen / 4 * 3 + (inlen % 4 == 0 ? 0 : 2);
}

static int encode(const struct alphabet *a, const void *in, size_t n, char *out, size_t outsize)
{
    const unsigned char *p = in;
    size_t need = a->pad ? tsr_b64_encoded_len(n) : tsr_b64url_encoded_len(n);
    size_t i, o = 0;

    if ((need == 0 && n != 0) || need >= outsize)
        return TSR_ELIMIT;
    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = a->chars[v >> 18];
        out[o++] = a->chars[(v >> 12) & 63];
        out[o++] = a->chars[(v >> 6) & 63];
        out[o++] = a->chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = a->chars[v >> 18];
        out[o++] = a->chars[(v >> 12) & 63];
        if (a->pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = a->chars[v >> 18];
        out[o++] = a->chars[(v >> 12) & 63];
        out[o++] = a->chars[(v >> 6) & 63];
        if (a->pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return 0;
}

int tsr_b64url_encode_buf(const void *in, size_t n, char *out, size_t outsize)
{
    return encode(&url_alpha, in, n, out, outsize);
}

int tsr_b64_encode_buf(const void *in, size_t n, char *out, size_t outsize)
{
    return encode(&std_alpha, in, n, out, outsize);
}

static int encode_alloc(const struct alphabet *a, const void *in, size_t n, char **out)
{
    size_t need = a->pad ? tsr_b64_encoded_len(n) : tsr_b64url_encoded_len(n);
    char *s;
    int rc;

    *out = NULL;
    if ((need == 0 && n != 0) || need == SIZE_MAX)
        return TSR_ELIMIT;
    s = tsr_malloc(need + 1);
    if (s == NULL)
        return TSR_ENOMEM;
    rc = encode(a, in, n, s, need + 1);
    if (rc < 0) {
        tsr_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int tsr_b64url_encode(const void *in, size_t n, char **out)
{
    return encode_alloc(&url_alpha, in, n, out);
}

int tsr_b64_encode(const void *in, size_t n, char **out)
{
    return encode_alloc(&std_alpha, in, n, out);
}

/* Value of c in the alphabet, or -1. */
static int sextet(const struct alphabet *a, unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (unsigned char)a->chars[62])
        return 62;
    if (c == (unsigned char)a->chars[63])
        return 63;
    return -1;
}

static int decode(const struct alphabet *a, const char *in, size_t inlen, unsigned char *out,
                  size_t outsize, size_t *outlen)
{
    size_t i, o = 0, body = inlen, rem;
    uint32_t acc = 0;
    int bits = 0;

    if (outlen != NULL)
        *outlen = 0;
    if (a->pad) {
        /* Padded form: whole quads, at most two '=' and only at the very end. */
        if (inlen % 4 != 0)
            return TSR_EINVAL;
        if (body > 0 && in[body - 1] == '=')
            body--;
        if (body > 0 && in[body - 1] == '=')
            body--;
    }
    rem = body % 4;
    /* One leftover character carries only 6 bits: never a valid encoding. */
    if (rem == 1)
        return TSR_EINVAL;
    if (a->pad && inlen - body != (rem == 0 ? 0 : 4 - rem))
        return TSR_EINVAL;
    if (body / 4 * 3 + (rem == 0 ? 0 : rem - 1) > outsize)
        return TSR_ELIMIT;
    for (i = 0; i < body; i++) {
        int v = sextet(a, (unsigned char)in[i]);

        if (v < 0)
            return TSR_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Bits left over must be zero, or a second encoding of the same bytes would exist. */
    if (acc != 0)
        return TSR_EINVAL;
    if (outlen != NULL)
        *outlen = o;
    return 0;
}

int tsr_b64url_decode(const char *in, size_t inlen, void *out, size_t outsize, size_t *outlen)
{
    return decode(&url_alpha, in, inlen, out, outsize, outlen);
}

int tsr_b64_decode(const char *in, size_t inlen, void *out, size_t outsize, size_t *outlen)
{
    return decode(&std_alpha, in, inlen, out, outsize, outlen);
}

static int decode_alloc(const struct alphabet *a, const char *in, size_t inlen, size_t max,
                        unsigned char **out, size_t *outlen)
{
    size_t cap = tsr_b64_decoded_max(inlen), n = 0;
    unsigned char *p;
    int rc;

    *out = NULL;
    if (outlen != NULL)
        *outlen = 0;
    /* Decide on the limit before allocating, from the exact decoded size. */
    if (cap > max) {
        size_t body = inlen;

        if (a->pad) {
            while (body > 0 && inlen - body < 2 && in[body - 1] == '=')
                body--;
        }
        if (body / 4 * 3 + (body % 4 == 0 ? 0 : body % 4 - 1) > max)
            return TSR_ELIMIT;
        cap = max;
    }
    p = tsr_malloc(cap + 1);
    if (p == NULL)
        return TSR_ENOMEM;
    rc = decode(a, in, inlen, p, cap, &n);
    if (rc < 0) {
        tsr_wipe(p, cap + 1);
        tsr_free(p);
        return rc;
    }
    p[n] = '\0';
    *out = p;
    if (outlen != NULL)
        *outlen = n;
    return 0;
}

int tsr_b64url_decode_alloc(const char *in, size_t inlen, size_t max, unsigned char **out,
                            size_t *outlen)
{
    return decode_alloc(&url_alpha, in, inlen, max, out, outlen);
}

int tsr_b64_decode_alloc(const char *in, size_t inlen, size_t max, unsigned char **out,
                         size_t *outlen)
{
    return decode_alloc(&std_alpha, in, inlen, max, out, outlen);
}
