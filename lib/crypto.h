/*
 * lib/crypto.h: the small cryptographic primitives the rest of tessera
 * needs (random bytes, SHA-256, hex, constant-time comparison) and the
 * atomic file writer used for keys and certificates.
 *
 * Everything goes through OpenSSL 3's EVP and RAND interfaces; callers
 * never include an OpenSSL header for these.  Signatures and keys are in
 * lib/jose.h, certificates in lib/pki.h.
 */
#ifndef TSR_LIB_CRYPTO_H
#define TSR_LIB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tsr_diag;

#define TSR_SHA256_LEN 32
/* Hex form of a SHA-256 digest plus its NUL. */
#define TSR_SHA256_HEX_SIZE (2 * TSR_SHA256_LEN + 1)

/*
 * Fill buf with n bytes from OpenSSL's CSPRNG.  Returns 0 or TSR_ECRYPTO
 * (the generator could not be seeded); buf is then wiped.
 */
int tsr_random_bytes(void *buf, size_t n);

/* SHA-256 of len bytes at data into out.  Returns 0 or TSR_ECRYPTO. */
int tsr_sha256(const void *data, size_t len, unsigned char out[TSR_SHA256_LEN]);

struct evp_md_ctx_st; /* OpenSSL's EVP_MD_CTX, kept opaque here */

/* An incremental SHA-256; embed it by value. */
struct tsr_sha256 {
    struct evp_md_ctx_st *ctx; /* NULL before init and after cleanup */
};

/*
 * Start a digest.  Returns 0, TSR_ENOMEM or TSR_ECRYPTO; on failure s
 * holds nothing and tsr_sha256_cleanup is still safe.
 */
int tsr_sha256_init(struct tsr_sha256 *s);

/* Hash len more bytes.  Returns 0 or TSR_ECRYPTO (also when not initialised). */
int tsr_sha256_update(struct tsr_sha256 *s, const void *data, size_t len);

/*
 * Finish into out.  Returns 0 or TSR_ECRYPTO.  The context is then spent:
 * call tsr_sha256_init again to reuse it, or tsr_sha256_cleanup.
 */
int tsr_sha256_final(struct tsr_sha256 *s, unsigned char out[TSR_SHA256_LEN]);

/* Release the context.  s may be NULL; safe twice. */
void tsr_sha256_cleanup(struct tsr_sha256 *s);

/*
 * Lower-case hex of n bytes into out, which must have room for 2n+1
 * bytes (the NUL is written).
 */
void tsr_hex_encode(const void *in, size_t n, char *out);

/*
 * Decode hexlen hex digits (either case) into out of outsize bytes;
 * *outlen (may be NULL) gets the byte count.  Returns 0, TSR_EINVAL (odd
 * length, non-hex character) or TSR_ELIMIT (does not fit).
 */
int tsr_hex_decode(const char *hex, size_t hexlen, void *out, size_t outsize, size_t *outlen);

/*
 * True when the n bytes at a and b are equal, in time that depends on n
 * only (for MACs, tokens, API keys).
 */
bool tsr_ct_equal(const void *a, const void *b, size_t n);

/*
 * True when the strings a and b are equal; the time depends on their
 * lengths only, never on where they differ.  NULL equals nothing.
 */
bool tsr_ct_streq(const char *a, const char *b);

/*
 * Write len bytes to path atomically: into a temporary file in the same
 * folder created with the given mode (0600 for private keys), flushed to
 * disk, then renamed over path.  A crash leaves either the old file or
 * the complete new one, never a partial file.  Returns 0 or TSR_EIO with
 * the detail in d (may be NULL); the temporary file is removed on failure.
 */
int tsr_crypto_write_file(const char *path, const void *data, size_t len, mode_t mode,
                          struct tsr_diag *d);

/*
 * Write all len bytes at data to fd, going on after short writes and
 * EINTR.  Returns 0, or TSR_EIO with errno telling why (0 after a write
 * that wrote nothing).
 */
int tsr_write_all(int fd, const void *data, size_t len);

/*
 * Read the whole regular file at path, at most max bytes, into a new
 * allocation *out (free with tsr_free, after tsr_wipe for secrets) of
 * *outlen bytes plus a NUL not counted.  The bound applies to what is
 * actually read, so a file growing meanwhile cannot pass it.  Returns 0,
 * TSR_EIO (cannot open or read, not a regular file), TSR_ELIMIT (larger
 * than max), TSR_ENOMEM; *out is NULL on failure.  On failure the
 * partial buffer is wiped before it is freed.
 */
int tsr_crypto_read_file(const char *path, size_t max, unsigned char **out, size_t *outlen,
                         struct tsr_diag *d);

/*
 * Record code in d (may be NULL) with the printf-style message followed by
 * ": " and the reason of the oldest error in OpenSSL's error queue (if
 * any), then empty the queue so later calls start clean.  Returns code.
 */
int tsr_crypto_diag_openssl(struct tsr_diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* TSR_LIB_CRYPTO_H */
