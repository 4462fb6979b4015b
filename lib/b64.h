/*
 * lib/b64.h: base64 in the two alphabets of RFC 4648.
 *
 * base64url without padding (RFC 4648 section 5) is what JOSE uses for
 * every JWS/JWK field; standard base64 with padding (section 4) is for
 * Repr-Digest (RFC 9530) and other HTTP fields.  The decoders are strict:
 * they refuse characters outside the alphabet, white space, wrong or
 * missing padding and non-zero trailing bits, so that every byte string
 * has exactly one accepted encoding.  They never write past the output
 * size they are given.  This file knows nothing of PEM (OpenSSL does that).
 */
#ifndef TSR_LIB_B64_H
#define TSR_LIB_B64_H

#include <stddef.h>

/*
 * Length of the encoding of n bytes, not counting a NUL: unpadded
 * base64url / padded base64.  Returns 0 when the result would not fit in
 * a size_t (n close to SIZE_MAX), which the encoders report as TSR_ELIMIT.
 */
size_t tsr_b64url_encoded_len(size_t n);
size_t tsr_b64_encoded_len(size_t n);

/*
 * The most bytes an encoding of inlen characters can decode to (an upper
 * bound, for sizing an output buffer).
 */
size_t tsr_b64_decoded_max(size_t inlen);

/*
 * Encode n bytes at in into out, which has room for outsize bytes
 * (encoded length + 1 for the NUL).  Returns 0, or TSR_ELIMIT when out is
 * too small (out is then untouched).
 */
int tsr_b64url_encode_buf(const void *in, size_t n, char *out, size_t outsize);
int tsr_b64_encode_buf(const void *in, size_t n, char *out, size_t outsize);

/*
 * Encode n bytes into a new NUL-terminated string *out (free with
 * tsr_free).  Returns 0, TSR_ENOMEM or TSR_ELIMIT (n absurdly large).
 */
int tsr_b64url_encode(const void *in, size_t n, char **out);
int tsr_b64_encode(const void *in, size_t n, char **out);

/*
 * Decode inlen characters at in (no NUL needed) into out, which has room
 * for outsize bytes; *outlen (may be NULL) gets the number of bytes
 * written.  Returns 0, TSR_EINVAL (a character outside the alphabet, bad
 * length, bad padding, non-zero trailing bits; for base64url any '='), or
 * TSR_ELIMIT (the result does not fit in outsize).  On failure the
 * contents of out are unspecified but nothing past outsize is written.
 */
int tsr_b64url_decode(const char *in, size_t inlen, void *out, size_t outsize, size_t *outlen);
int tsr_b64_decode(const char *in, size_t inlen, void *out, size_t outsize, size_t *outlen);

/*
 * As the decoders above, into a new allocation *out (free with tsr_free)
 * of at most max decoded bytes; the result is followed by a NUL that is
 * not counted in *outlen, so decoded JSON text can be parsed directly.
 * Returns 0, TSR_EINVAL, TSR_ELIMIT (the decoded size would pass max) or
 * TSR_ENOMEM.  *out is NULL on failure.
 */
int tsr_b64url_decode_alloc(const char *in, size_t inlen, size_t max, unsigned char **out,
                            size_t *outlen);
int tsr_b64_decode_alloc(const char *in, size_t inlen, size_t max, unsigned char **out,
                         size_t *outlen);

#endif /* TSR_LIB_B64_H */
