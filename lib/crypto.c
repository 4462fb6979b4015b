/*
 * lib/crypto.c: random bytes, SHA-256, hex, constant-time comparison and
 * the atomic writer for key and certificate files, on OpenSSL 3 EVP/RAND.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/crypto.h"
#include "lib/mem.h"

int tsr_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    size_t left = n;

    /* RAND_bytes takes an int; feed it in slices so any size_t works. */
    while (left > 0) {
        int chunk = left > INT_MAX ? INT_MAX : (int)left;

        if (RAND_bytes(p, chunk) != 1) {
            /* Never hand out a half-random buffer that a caller might still use. */
            tsr_wipe(buf, n);
            return TSR_ECRYPTO;
        }
        p += chunk;
        left -= (size_t)chunk;
    }
    return 0;
}

int tsr_sha256(const void *data, size_t len, unsigned char out[TSR_SHA256_LEN])
{
    unsigned int n = 0;

    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != TSR_SHA256_LEN)
        return TSR_ECRYPTO;
    return 0;
}

int tsr_sha256_init(struct tsr_sha256 *s)
{
    s->ctx = EVP_MD_CTX_new();
    if (s->ctx == NULL)
        return TSR_ENOMEM;
    if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(s->ctx);
        s->ctx = NULL;
        return TSR_ECRYPTO;
    }
    return 0;
}

int tsr_sha256_update(struct tsr_sha256 *s, const void *data, size_t len)
{
    if (s->ctx == NULL)
        return TSR_ECRYPTO;
    if (len == 0)
        return 0;
    if (EVP_DigestUpdate(s->ctx, data, len) != 1)
        return TSR_ECRYPTO;
    return 0;
}

int tsr_sha256_final(struct tsr_sha256 *s, unsigned char out[TSR_SHA256_LEN])
{
    unsigned int n = 0;

    if (s->ctx == NULL)
        return TSR_ECRYPTO;
    if (EVP_DigestFinal_ex(s->ctx, out, &n) != 1 || n != TSR_SHA256_LEN)
        return TSR_ECRYPTO;
    return 0;
}

void tsr_sha256_cleanup(struct tsr_sha256 *s)
{
    if (s == NULL)
        return;
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
}

void tsr_hex_encode(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int tsr_hex_decode(const char *hex, size_t hexlen, void *out, size_t outsize, size_t *outlen)
{
    unsigned char *o = out;
    size_t i;

    if (outlen != NULL)
        *outlen = 0;
    if (hexlen % 2 != 0)
        return TSR_EINVAL;
    if (hexlen / 2 > outsize)
        return TSR_ELIMIT;
    for (i = 0; i < hexlen; i += 2) {
        int hi = hexval((unsigned char)hex[i]);
        int lo = hexval((unsigned char)hex[i + 1]);

        if (hi < 0 || lo < 0)
            return TSR_EINVAL;
        o[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    if (outlen != NULL)
        *outlen = hexlen / 2;
    return 0;
}

bool tsr_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

bool tsr_ct_streq(const char *a, const char *b)
{
    size_t la, lb, i;
    unsigned char diff;

    if (a == NULL || b == NULL)
        return false;
    la = strlen(a);
    lb = strlen(b);
    /*
     * Walk the whole of b whatever a holds, so the time reveals the
     * length of the secret at most, not the position of a mismatch.
     */
    diff = la != lb;
    for (i = 0; i < lb; i++)
        diff |= (unsigned char)(b[i] ^ (la == 0 ? 0 : a[i % la]));
    return diff == 0;
}

int tsr_write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;

    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = 0;
            return TSR_EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int tsr_crypto_write_file(const char *path, const void *data, size_t len, mode_t mode,
                          struct tsr_diag *d)
{
    const unsigned char *p = data;
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    const char *slash;
    int fd = -1, dfd = -1, rc = TSR_EIO, n;
    bool created = false;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        rc = tsr_diag_set(d, TSR_EIO, "%s: path too long", path);
        goto out;
    }
    /* mkstemp creates with 0600; fchmod below widens to mode (never beyond it). */
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = tsr_diag_set(d, TSR_EIO, "%s: cannot create temporary file: %s", path,
                          strerror(errno));
        goto out;
    }
    created = true;
    if (fchmod(fd, mode) != 0) {
        rc = tsr_diag_set(d, TSR_EIO, "%s: chmod: %s", tmp, strerror(errno));
        goto out;
    }
    if (tsr_write_all(fd, p, len) != 0) {
        rc = tsr_diag_set(d, TSR_EIO, "%s: write: %s", tmp, errno != 0 ? strerror(errno) : "short");
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = tsr_diag_set(d, TSR_EIO, "%s: fsync: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = tsr_diag_set(d, TSR_EIO, "%s: close: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = tsr_diag_set(d, TSR_EIO, "%s: rename: %s", path, strerror(errno));
        goto out;
    }
    created = false;
    /* Make the rename itself durable; failing to open the folder is not fatal. */
    slash = strrchr(path, '/');
    if (slash == NULL) {
        dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else if ((size_t)(slash - path) < sizeof(dir)) {
        size_t dl = slash == path ? 1 : (size_t)(slash - path);

        memcpy(dir, path, dl);
        dir[dl] = '\0';
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (dfd >= 0)
        (void)fsync(dfd);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    if (created)
        unlink(tmp);
    return rc;
}

int tsr_crypto_read_file(const char *path, size_t max, unsigned char **out, size_t *outlen,
                         struct tsr_diag *d)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    struct stat st;
    int fd, rc;

    *out = NULL;
    if (outlen != NULL)
        *outlen = 0;
    if (max >= SIZE_MAX - 1)
        max = SIZE_MAX - 2;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return tsr_diag_set(d, TSR_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = tsr_diag_set(d, TSR_EIO, "%s: not a regular file", path);
        goto out;
    }
    if ((uintmax_t)st.st_size > max) {
        rc = tsr_diag_set(d, TSR_ELIMIT, "%s: larger than %zu bytes", path, max);
        goto out;
    }
    /* One byte of slack tells "exactly max" from "more than max". */
    buf = tsr_malloc((size_t)st.st_size + 2);
    if (buf == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, (size_t)st.st_size + 1 - len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tsr_diag_set(d, TSR_EIO, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > (size_t)st.st_size) {
            /* The file grew while we read it: a concurrent writer, not a key file. */
            rc = tsr_diag_set(d, TSR_EIO, "%s: changed while being read", path);
            goto out;
        }
    }
    buf[len] = '\0';
    *out = buf;
    buf = NULL;
    if (outlen != NULL)
        *outlen = len;
    rc = 0;
out:
    if (buf != NULL) {
        tsr_wipe(buf, (size_t)st.st_size + 2);
        tsr_free(buf);
    }
    close(fd);
    return rc;
}

int tsr_crypto_diag_openssl(struct tsr_diag *d, int code, const char *fmt, ...)
{
    char what[TSR_DIAG_MAX];
    char reason[256];
    const char *r;
    unsigned long e;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (n < 0)
        what[0] = '\0';
    e = ERR_peek_error();
    ERR_clear_error();
    if (e == 0)
        return tsr_diag_set(d, code, "%s", what);
    /* The bare reason ("no start line") reads better than the full error line. */
    r = ERR_reason_error_string(e);
    if (r == NULL) {
        ERR_error_string_n(e, reason, sizeof(reason));
        r = reason;
    }
    return tsr_diag_set(d, code, "%s: %s", what, r);
}
