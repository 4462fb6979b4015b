/*
 * lib/uuid.h: random (version 4) UUIDs for message, process and agreement
 * identifiers, and checks of UUIDs received from peers.
 *
 * DSP and ODRL identifiers are often "urn:uuid:<uuid>"; the generator
 * writes lower-case hex, the validators accept either case as RFC 9562
 * (formerly RFC 4122) requires.
 */
#ifndef TSR_LIB_UUID_H
#define TSR_LIB_UUID_H

#include <stdbool.h>

/* Sizes of the buffers the generators fill, NUL included. */
#define TSR_UUID_STR_SIZE 37 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define TSR_UUID_URN_SIZE 46 /* "urn:uuid:" + the above */

/*
 * Write a new random version 4 UUID ("8-4-4-4-12" lower-case hex) into
 * out, using the OpenSSL CSPRNG.  Returns 0, or TSR_ECRYPTO when the
 * random generator fails (out is then "").
 */
int tsr_uuid_v4(char out[TSR_UUID_STR_SIZE]);

/* As tsr_uuid_v4, prefixed with "urn:uuid:". */
int tsr_uuid_v4_urn(char out[TSR_UUID_URN_SIZE]);

/*
 * True when s is exactly a UUID in the 8-4-4-4-12 hex form (any version,
 * either case).  Nothing before or after is allowed.  s may be NULL.
 */
bool tsr_uuid_valid(const char *s);

/* True when s is "urn:uuid:" (prefix in any case) followed by a valid UUID. */
bool tsr_uuid_urn_valid(const char *s);

#endif /* TSR_LIB_UUID_H */
