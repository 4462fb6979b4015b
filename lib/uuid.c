/*
 * lib/uuid.c: version 4 UUIDs from the OpenSSL random generator.
 */
#include "lib/tsr.h"

#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "lib/uuid.h"

#define URN_PREFIX "urn:uuid:"
#define URN_PREFIX_LEN (sizeof(URN_PREFIX) - 1)

int tsr_uuid_v4(char out[TSR_UUID_STR_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    size_t o = 0;

    out[0] = '\0';
    if (RAND_bytes(b, sizeof(b)) != 1)
        return TSR_ECRYPTO;
    /* RFC 9562 section 5.4: version 4 in the high nibble of octet 6, variant 10 in octet 8. */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (size_t i = 0; i < sizeof(b); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
    return 0;
}

int tsr_uuid_v4_urn(char out[TSR_UUID_URN_SIZE])
{
    memcpy(out, URN_PREFIX, URN_PREFIX_LEN);
    int rc = tsr_uuid_v4(out + URN_PREFIX_LEN);
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool tsr_uuid_valid(const char *s)
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i < TSR_UUID_STR_SIZE - 1; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        /* The NUL of a short string fails both tests, so we never read past it. */
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return s[TSR_UUID_STR_SIZE - 1] == '\0';
}

bool tsr_uuid_urn_valid(const char *s)
{
    if (s == NULL || strncasecmp(s, URN_PREFIX, URN_PREFIX_LEN) != 0)
        return false;
    return tsr_uuid_valid(s + URN_PREFIX_LEN);
}
