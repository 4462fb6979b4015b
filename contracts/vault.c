/*
 * contracts/vault.c: the consumer's encrypted vault (contracts/vault.h):
 * key wrapping, the segmented AES-256-GCM file format, the sink that
 * writes objects and the stream that reads them back, and the tables.
 */
#include "lib/tsr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sqlite3.h>

#include "contracts/vault.h"
#include "lib/crypto.h"
#include "lib/db.h"
#include "lib/filew.h"
#include "lib/jose.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/uuid.h"

#define MAGIC "TSRVAULT"
#define FORMAT_VERSION 1
#define TAG_LEN 16
#define NONCE_LEN 12
#define SALT_LEN 32
#define SEALED_SEG (TSR_VAULT_SEGMENT + TAG_LEN)
/* A wrapped agreement key: nonce, ciphertext, tag. */
#define WRAPPED_LEN (NONCE_LEN + TSR_VAULT_KEY_LEN + TAG_LEN)
#define FILE_SUFFIX ".tv"
#define TMP_PREFIX ".tmp-"
#define LIST_MAX 1000

static const struct tsr_db_migration migrations[] = {
    {1, "CREATE TABLE vault_keys ("
        " agreement_id TEXT PRIMARY KEY,"
        " wrapped BLOB NOT NULL,"
        " created_ms INTEGER NOT NULL);"
        "CREATE TABLE vault_objects ("
        " id TEXT PRIMARY KEY,"
        " agreement_id TEXT NOT NULL,"
        " transfer_id TEXT,"
        " media_type TEXT,"
        " size INTEGER NOT NULL,"
        " sha256 TEXT NOT NULL,"
        " created_ms INTEGER NOT NULL);"
        "CREATE INDEX vault_objects_agreement ON vault_objects(agreement_id);"},
    /* An object being written for a transfer, so a restart can resume it. */
    {2, "CREATE TABLE vault_partials ("
        " transfer_id TEXT PRIMARY KEY,"
        " object_id TEXT NOT NULL,"
        " agreement_id TEXT NOT NULL,"
        " created_ms INTEGER NOT NULL);"},
};

struct tsr_vault {
    struct tsr_db *db;
    char *dir;
    char *real_dir; /* dir with links resolved, for tsr_vault_path_inside */
    unsigned char master[TSR_VAULT_KEY_LEN];
    unsigned writers; /* open writers: their write blocks share a memory budget */
};

struct tsr_vault_writer {
    struct tsr_vault *v;
    char id[TSR_UUID_STR_SIZE];
    char *agreement_id, *transfer_id, *media_type;
    char *tmp_path;
    struct tsr_filew fw;  /* the sealed stream goes to disk in whole aligned blocks */
    bool counted;         /* in v->writers */
    bool failed, finished;
    unsigned char header[TSR_VAULT_HEADER];
    unsigned char key[TSR_VAULT_KEY_LEN]; /* the object's segment key */
    EVP_CIPHER_CTX *ctx;
    uint64_t seg;        /* next segment number */
    unsigned char *buf;  /* plaintext waiting: up to one segment */
    size_t buf_len;
    unsigned char *out;  /* one sealed segment */
    uint64_t bytes;
    struct tsr_sha256 sha;
};

struct tsr_vault_reader {
    int fd;
    unsigned char header[TSR_VAULT_HEADER];
    unsigned char key[TSR_VAULT_KEY_LEN];
    EVP_CIPHER_CTX *ctx;
    uint64_t nseg, seg;  /* segments in the file, next one to open */
    size_t last_len;     /* plaintext bytes of the last segment */
    int64_t size;
    unsigned char *in;   /* one sealed segment */
    unsigned char *plain;
    size_t plain_len, plain_off;
    bool failed;
};

/* ------------------------------------------------------------ primitives */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* HKDF-SHA256 (RFC 5869) of ikm with salt and info into out. */
static int hkdf(const unsigned char *ikm, size_t ikm_len, const void *salt, size_t salt_len,
                const void *info, size_t info_len, unsigned char *out, size_t out_len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5];
    int rc = TSR_ECRYPTO;

    if (kctx == NULL)
        goto out;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[4] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, out, out_len, params) == 1)
        rc = 0;
out:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return rc;
}

/*
 * One AES-256-GCM operation: seal (enc) or open in to out (same length),
 * the tag written to / checked against tag.
 */
static int gcm(EVP_CIPHER_CTX *ctx, bool enc, const unsigned char *key,
               const unsigned char nonce[NONCE_LEN], const void *aad, size_t aad_len,
               const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag)
{
    int n = 0;

    if (len > INT_MAX || aad_len > INT_MAX)
        return TSR_EINVAL;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, enc ? 1 : 0) != 1)
        return TSR_ECRYPTO;
    if (aad_len > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        return TSR_ECRYPTO;
    if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        return TSR_ECRYPTO;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
        return TSR_ECRYPTO;
    if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1)
        return TSR_ECRYPTO; /* opening: the tag did not match */
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        return TSR_ECRYPTO;
    return 0;
}

/* The nonce of segment seg: its number and whether it is the last one. */
static void seg_nonce(uint64_t seg, bool last, unsigned char nonce[NONCE_LEN])
{
    put_be32(nonce, (uint32_t)(seg >> 32));
    put_be32(nonce + 4, (uint32_t)seg);
    put_be32(nonce + 8, last ? 1 : 0);
}

int tsr_vault_master_key(const struct tsr_key *key, unsigned char out[TSR_VAULT_KEY_LEN],
                         struct tsr_diag *d)
{
    static const char info[] = "tessera vault master key v1";
    EVP_PKEY *pk = key != NULL ? tsr_key_pkey(key) : NULL;
    unsigned char priv[64];
    size_t len = sizeof(priv);
    BIGNUM *bn = NULL;
    int rc;

    if (pk == NULL || !tsr_key_has_private(key))
        return tsr_diag_set(d, TSR_EINVAL, "the vault needs the participant's private key");
    if (EVP_PKEY_get_raw_private_key(pk, priv, &len) != 1) {
        /* EC keys have no raw form: take the private scalar, fixed width. */
        if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1 ||
            BN_bn2binpad(bn, priv, 32) != 32) {
            BN_clear_free(bn);
            return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot read the participant key");
        }
        BN_clear_free(bn);
        len = 32;
    }
    rc = hkdf(priv, len, "tessera", 7, info, sizeof(info) - 1, out, TSR_VAULT_KEY_LEN);
    tsr_wipe(priv, sizeof(priv));
    return rc != 0 ? tsr_crypto_diag_openssl(d, rc, "cannot derive the vault key") : 0;
}

/* ------------------------------------------------------------ agreement keys */

static int wrap_aad(const char *agreement_id, char *buf, size_t size)
{
    int n = snprintf(buf, size, "tessera vault key v1|%s", agreement_id);
    return n < 0 || (size_t)n >= size ? TSR_ELIMIT : n;
}

/* The key of agreement_id into key; created (and stored) when create is set. */
static int agreement_key(struct tsr_vault *v, const char *agreement_id, bool create,
                         unsigned char key[TSR_VAULT_KEY_LEN], struct tsr_diag *d)
{
    unsigned char wrapped[WRAPPED_LEN];
    char aad[600];
    sqlite3_stmt *st = NULL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int rc, aad_len = wrap_aad(agreement_id, aad, sizeof(aad));

    if (ctx == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    if (aad_len < 0) {
        rc = tsr_diag_set(d, TSR_EINVAL, "agreement id too long");
        goto out;
    }
    rc = tsr_db_prepare(v->db, "SELECT wrapped FROM vault_keys WHERE agreement_id = ?1", &st, d);
    if (rc != 0)
        goto out;
    sqlite3_bind_text(st, 1, agreement_id, -1, SQLITE_STATIC);
    rc = tsr_db_step(v->db, st, d);
    if (rc == 1) {
        const void *blob = sqlite3_column_blob(st, 0);
        if (blob == NULL || sqlite3_column_bytes(st, 0) != WRAPPED_LEN) {
            rc = tsr_diag_set(d, TSR_ECRYPTO, "agreement %s: the stored key is malformed",
                              agreement_id);
            goto out;
        }
        memcpy(wrapped, blob, WRAPPED_LEN);
        tsr_db_reset(st);
        st = NULL;
        rc = gcm(ctx, false, v->master, wrapped, aad, (size_t)aad_len, wrapped + NONCE_LEN,
                 TSR_VAULT_KEY_LEN, key, wrapped + NONCE_LEN + TSR_VAULT_KEY_LEN);
        if (rc != 0)
            rc = tsr_diag_set(d, TSR_ECRYPTO, "agreement %s: the key does not unwrap "
                              "(another participant key?)", agreement_id);
        goto out;
    }
    if (rc < 0)
        goto out;
    tsr_db_reset(st);
    st = NULL;
    if (!create) {
        rc = tsr_diag_set(d, TSR_ECRYPTO, "agreement %s has no key (its data was destroyed)",
                          agreement_id);
        goto out;
    }
    if (tsr_random_bytes(key, TSR_VAULT_KEY_LEN) != 0 ||
        tsr_random_bytes(wrapped, NONCE_LEN) != 0 ||
        gcm(ctx, true, v->master, wrapped, aad, (size_t)aad_len, key, TSR_VAULT_KEY_LEN,
            wrapped + NONCE_LEN, wrapped + NONCE_LEN + TSR_VAULT_KEY_LEN) != 0) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot create a key");
        goto out;
    }
    rc = tsr_db_prepare(v->db, "INSERT INTO vault_keys (agreement_id, wrapped, created_ms) "
                               "VALUES (?1, ?2, ?3)", &st, d);
    if (rc != 0)
        goto out;
    sqlite3_bind_text(st, 1, agreement_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, wrapped, WRAPPED_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, tsr_time_now_ms());
    rc = tsr_db_step(v->db, st, d);
    if (rc > 0)
        rc = 0;
out:
    tsr_db_reset(st);
    EVP_CIPHER_CTX_free(ctx);
    tsr_wipe(wrapped, sizeof(wrapped));
    if (rc != 0)
        tsr_wipe(key, TSR_VAULT_KEY_LEN);
    return rc;
}

/* The segment key of one object: bound to its salt and its id. */
static int object_key(const unsigned char agreement_key[TSR_VAULT_KEY_LEN],
                      const unsigned char *salt, const char *id,
                      unsigned char out[TSR_VAULT_KEY_LEN])
{
    char info[80];
    int n = snprintf(info, sizeof(info), "tessera vault object v1|%s", id);

    if (n < 0 || (size_t)n >= sizeof(info))
        return TSR_EINVAL;
    return hkdf(agreement_key, TSR_VAULT_KEY_LEN, salt, SALT_LEN, info, (size_t)n, out,
                TSR_VAULT_KEY_LEN);
}

/* ------------------------------------------------------------ paths */

static char *obj_path(const struct tsr_vault *v, const char *prefix, const char *id,
                      const char *suffix)
{
    size_t n = strlen(v->dir) + strlen(prefix) + strlen(id) + strlen(suffix) + 2;
    char *p = tsr_malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/%s%s%s", v->dir, prefix, id, suffix);
    return p;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static bool id_known(struct tsr_vault *v, const char *id)
{
    sqlite3_stmt *st = NULL;
    bool known = true; /* when in doubt, keep the file */

    if (tsr_db_prepare(v->db, "SELECT 1 FROM vault_objects WHERE id = ?1", &st, NULL) == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        known = tsr_db_step(v->db, st, NULL) != 0;
    }
    tsr_db_reset(st);
    return known;
}

static bool partial_known(struct tsr_vault *v, const char *id)
{
    sqlite3_stmt *st = NULL;
    bool known = false;

    if (tsr_db_prepare(v->db, "SELECT 1 FROM vault_partials WHERE object_id = ?1", &st,
                       NULL) == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        known = tsr_db_step(v->db, st, NULL) == 1;
    }
    tsr_db_reset(st);
    return known;
}

/*
 * Record the object being written for a transfer (agreement_id set), or
 * forget it (agreement_id NULL: only if it is still that object).
 */
static int set_partial(struct tsr_vault *v, const char *transfer_id, const char *object_id,
                       const char *agreement_id, struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    int rc = tsr_db_prepare(v->db,
                            agreement_id != NULL
                                ? "INSERT OR REPLACE INTO vault_partials (transfer_id, "
                                  "object_id, agreement_id, created_ms) VALUES (?1, ?2, ?3, ?4)"
                                : "DELETE FROM vault_partials WHERE transfer_id = ?1 AND "
                                  "object_id = ?2",
                            &st, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, transfer_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, object_id, -1, SQLITE_STATIC);
    if (agreement_id != NULL) {
        sqlite3_bind_text(st, 3, agreement_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, tsr_time_now_ms());
    }
    rc = tsr_db_step(v->db, st, d);
    tsr_db_reset(st);
    return rc < 0 ? rc : 0;
}

/* Remove what a crash left: temporary files and files without a row. */
static void sweep(struct tsr_vault *v)
{
    DIR *dh = opendir(v->dir);
    struct dirent *e;
    char name[TSR_UUID_STR_SIZE];

    if (dh == NULL)
        return;
    while ((e = readdir(dh)) != NULL) {
        bool drop = false;
        if (tsr_str_startswith(e->d_name, TMP_PREFIX)) {
            /* Kept while a transfer may resume it (tsr_vault_writer_resume). */
            drop = !partial_known(v, e->d_name + strlen(TMP_PREFIX));
        } else if (tsr_str_endswith(e->d_name, FILE_SUFFIX) &&
                   strlen(e->d_name) == TSR_UUID_STR_SIZE - 1 + strlen(FILE_SUFFIX)) {
            memcpy(name, e->d_name, TSR_UUID_STR_SIZE - 1);
            name[TSR_UUID_STR_SIZE - 1] = '\0';
            drop = tsr_uuid_valid(name) && !id_known(v, name);
        }
        if (drop)
            (void)unlinkat(dirfd(dh), e->d_name, 0);
    }
    closedir(dh);
}

/* ------------------------------------------------------------ vault */

int tsr_vault_open(struct tsr_db *db, const char *dir,
                   const unsigned char master[TSR_VAULT_KEY_LEN], struct tsr_vault **out,
                   struct tsr_diag *d)
{
    struct tsr_vault *v = NULL;
    char real[PATH_MAX];
    int rc;

    *out = NULL;
    if (db == NULL || dir == NULL || dir[0] == '\0')
        return tsr_diag_set(d, TSR_EINVAL, "vault: no database or folder");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return tsr_diag_set(d, TSR_EIO, "cannot create the vault folder %s: %s", dir,
                            strerror(errno));
    if (realpath(dir, real) == NULL)
        return tsr_diag_set(d, TSR_EIO, "vault folder %s: %s", dir, strerror(errno));
    rc = tsr_db_migrate(db, "vault", migrations, TSR_ARRAY_SIZE(migrations), d);
    if (rc != 0)
        return rc;
    /* Deleted keys should not linger in free pages of the database file. */
    (void)tsr_db_exec(db, "PRAGMA secure_delete = ON", NULL);
    v = tsr_calloc(1, sizeof(*v));
    if (v == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    v->db = db;
    v->dir = tsr_strdup(dir);
    v->real_dir = tsr_strdup(real);
    memcpy(v->master, master, TSR_VAULT_KEY_LEN);
    if (v->dir == NULL || v->real_dir == NULL) {
        tsr_vault_close(v);
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    sweep(v);
    *out = v;
    return 0;
}

void tsr_vault_close(struct tsr_vault *v)
{
    if (v == NULL)
        return;
    tsr_wipe(v->master, sizeof(v->master));
    tsr_free(v->dir);
    tsr_free(v->real_dir);
    tsr_free(v);
}

const char *tsr_vault_dir(const struct tsr_vault *v)
{
    return v->dir;
}

bool tsr_vault_path_inside(const struct tsr_vault *v, const char *path)
{
    char real[PATH_MAX];
    size_t n = strlen(v->real_dir);

    if (realpath(path, real) == NULL) {
        /* Not there (yet): judge by the folder it would be in. */
        char *copy = tsr_strdup(path);
        char *slash = copy != NULL ? strrchr(copy, '/') : NULL;
        bool r;
        if (copy == NULL)
            return true; /* refuse rather than guess */
        if (slash == NULL)
            r = realpath(".", real) != NULL;
        else if (slash == copy)
            r = realpath("/", real) != NULL;
        else {
            *slash = '\0';
            r = realpath(copy, real) != NULL;
        }
        tsr_free(copy);
        if (!r)
            return false;
    }
    return strncmp(real, v->real_dir, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

/* ------------------------------------------------------------ writing */

/*
 * The write block of a new writer: large while few transfers run (fewer,
 * larger direct writes), smaller as more run at once, so that their
 * buffers (two blocks each) stay within a few MB together.
 */
static size_t write_block(const struct tsr_vault *v)
{
    if (v->writers < 4)
        return (size_t)1 << 20;
    if (v->writers < 32)
        return (size_t)256 << 10;
    return TSR_FILEW_MIN_BLOCK;
}

int tsr_vault_writer_new(struct tsr_vault *v, const char *agreement_id, const char *transfer_id,
                         const char *media_type, struct tsr_vault_writer **out,
                         struct tsr_diag *d)
{
    struct tsr_vault_writer *w = NULL;
    unsigned char akey[TSR_VAULT_KEY_LEN];
    int rc;

    *out = NULL;
    if (agreement_id == NULL || agreement_id[0] == '\0' || strlen(agreement_id) > 256)
        return tsr_diag_set(d, TSR_EINVAL, "vault: an agreement id is required");
    w = tsr_calloc(1, sizeof(*w));
    if (w == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    w->v = v;
    w->fw.fd = -1;
    rc = tsr_uuid_v4(w->id);
    if (rc != 0) {
        rc = tsr_diag_set(d, rc, "cannot make an object id");
        goto fail;
    }
    w->agreement_id = tsr_strdup(agreement_id);
    w->transfer_id = transfer_id != NULL ? tsr_strdup(transfer_id) : NULL;
    w->media_type = media_type != NULL ? tsr_strdup(media_type) : NULL;
    w->tmp_path = obj_path(v, TMP_PREFIX, w->id, "");
    w->buf = tsr_malloc(TSR_VAULT_SEGMENT);
    w->out = tsr_malloc(SEALED_SEG);
    w->ctx = EVP_CIPHER_CTX_new();
    if (w->agreement_id == NULL || (transfer_id != NULL && w->transfer_id == NULL) ||
        (media_type != NULL && w->media_type == NULL) || w->tmp_path == NULL ||
        w->buf == NULL || w->out == NULL || w->ctx == NULL ||
        tsr_sha256_init(&w->sha) != 0) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto fail;
    }
    rc = agreement_key(v, agreement_id, true, akey, d);
    if (rc != 0)
        goto fail;
    memcpy(w->header, MAGIC, 8);
    put_be32(w->header + 8, FORMAT_VERSION);
    put_be32(w->header + 12, TSR_VAULT_SEGMENT);
    rc = tsr_random_bytes(w->header + 16, SALT_LEN);
    if (rc == 0)
        rc = object_key(akey, w->header + 16, w->id, w->key);
    tsr_wipe(akey, sizeof(akey));
    if (rc != 0) {
        rc = tsr_diag_set(d, TSR_ECRYPTO, "cannot derive the object key");
        goto fail;
    }
    /* Made with O_EXCL first: a fresh name, never someone else's file. */
    int fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = tsr_diag_set(d, TSR_EIO, "cannot create %s: %s", w->tmp_path, strerror(errno));
        goto fail;
    }
    close(fd);
    uint64_t off = 0;
    rc = tsr_filew_open(&w->fw, w->tmp_path, 0600, write_block(v), &off, d);
    if (rc != 0)
        goto fail;
    v->writers++;
    w->counted = true;
    if (tsr_filew_write(&w->fw, w->header, TSR_VAULT_HEADER) != 0) {
        rc = tsr_diag_set(d, TSR_EIO, "cannot write %s: %s", w->tmp_path, strerror(errno));
        goto fail;
    }
    if (transfer_id != NULL) {
        rc = set_partial(v, transfer_id, w->id, agreement_id, d);
        if (rc != 0)
            goto fail;
    }
    *out = w;
    return 0;
fail:
    tsr_vault_writer_free(w);
    return rc;
}

/* Read up to n bytes (fewer only at the end of the file or on an error). */
static size_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

int tsr_vault_writer_resume(struct tsr_vault *v, const char *transfer_id,
                            struct tsr_vault_writer **out, struct tsr_diag *d)
{
    struct tsr_vault_writer *w = NULL;
    sqlite3_stmt *st = NULL;
    unsigned char akey[TSR_VAULT_KEY_LEN];
    int fd = -1, rc;

    *out = NULL;
    rc = tsr_db_prepare(v->db, "SELECT object_id, agreement_id FROM vault_partials "
                               "WHERE transfer_id = ?1", &st, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, transfer_id, -1, SQLITE_STATIC);
    rc = tsr_db_step(v->db, st, d);
    const char *oid = rc == 1 ? (const char *)sqlite3_column_text(st, 0) : NULL;
    const char *aid = rc == 1 ? (const char *)sqlite3_column_text(st, 1) : NULL;
    if (oid == NULL || aid == NULL || !tsr_uuid_valid(oid)) {
        tsr_db_reset(st);
        return rc < 0 ? rc : tsr_diag_set(d, TSR_ENOTFOUND, "nothing to resume");
    }
    w = tsr_calloc(1, sizeof(*w));
    if (w != NULL) {
        w->v = v;
        w->fw.fd = -1;
        snprintf(w->id, sizeof(w->id), "%s", oid);
        w->agreement_id = tsr_strdup(aid);
        w->transfer_id = tsr_strdup(transfer_id);
        w->tmp_path = obj_path(v, TMP_PREFIX, w->id, "");
        w->buf = tsr_malloc(TSR_VAULT_SEGMENT);
        w->out = tsr_malloc(SEALED_SEG);
        w->ctx = EVP_CIPHER_CTX_new();
    }
    tsr_db_reset(st);
    if (w == NULL || w->agreement_id == NULL || w->transfer_id == NULL || w->tmp_path == NULL ||
        w->buf == NULL || w->out == NULL || w->ctx == NULL || tsr_sha256_init(&w->sha) != 0) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto fail;
    }
    rc = agreement_key(v, w->agreement_id, false, akey, d);
    if (rc != 0)
        goto fail;
    fd = open(w->tmp_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read_full(fd, w->header, TSR_VAULT_HEADER) != TSR_VAULT_HEADER ||
        memcmp(w->header, MAGIC, 8) != 0 || get_be32(w->header + 8) != FORMAT_VERSION ||
        get_be32(w->header + 12) != TSR_VAULT_SEGMENT ||
        object_key(akey, w->header + 16, w->id, w->key) != 0) {
        tsr_wipe(akey, sizeof(akey));
        rc = tsr_diag_set(d, TSR_ENOTFOUND, "no usable partial object for %s", transfer_id);
        goto fail;
    }
    tsr_wipe(akey, sizeof(akey));
    /*
     * Every whole segment that opens is kept and hashed again (the digest
     * covers all the data); the first one that is short or does not open
     * (the crash cut it) and what follows are written again.
     */
    for (;;) {
        unsigned char nonce[NONCE_LEN];
        if (read_full(fd, w->out, SEALED_SEG) != SEALED_SEG)
            break;
        seg_nonce(w->seg, false, nonce);
        if (gcm(w->ctx, false, w->key, nonce, w->header, TSR_VAULT_HEADER, w->out,
                TSR_VAULT_SEGMENT, w->buf, w->out + TSR_VAULT_SEGMENT) != 0 ||
            tsr_sha256_update(&w->sha, w->buf, TSR_VAULT_SEGMENT) != 0)
            break;
        w->seg++;
    }
    close(fd);
    fd = -1;
    tsr_wipe(w->buf, TSR_VAULT_SEGMENT);
    uint64_t off = TSR_VAULT_HEADER + w->seg * (uint64_t)SEALED_SEG, want = off;
    rc = tsr_filew_open(&w->fw, w->tmp_path, 0600, write_block(v), &off, d);
    if (rc != 0)
        goto fail;
    if (off != want) {
        rc = tsr_diag_set(d, TSR_EIO, "%s is shorter than it was read", w->tmp_path);
        goto fail;
    }
    v->writers++;
    w->counted = true;
    w->bytes = w->seg * (uint64_t)TSR_VAULT_SEGMENT;
    *out = w;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    if (rc == TSR_ENOTFOUND && w != NULL && w->transfer_id != NULL)
        (void)set_partial(v, w->transfer_id, w->id, NULL, NULL);
    tsr_vault_writer_free(w);
    return rc;
}

/* Seal the buffered plaintext as segment w->seg and append it. */
static int flush_segment(struct tsr_vault_writer *w, bool last, struct tsr_diag *d)
{
    unsigned char nonce[NONCE_LEN];

    seg_nonce(w->seg, last, nonce);
    if (gcm(w->ctx, true, w->key, nonce, w->header, TSR_VAULT_HEADER, w->buf, w->buf_len, w->out,
            w->out + w->buf_len) != 0) {
        w->failed = true;
        return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot encrypt");
    }
    if (tsr_filew_write(&w->fw, w->out, w->buf_len + TAG_LEN) != 0) {
        w->failed = true;
        return tsr_diag_set(d, TSR_EIO, "cannot write %s: %s", w->tmp_path, strerror(errno));
    }
    w->seg++;
    w->buf_len = 0;
    return 0;
}

int tsr_vault_writer_write(struct tsr_vault_writer *w, const void *data, size_t len,
                           struct tsr_diag *d)
{
    const unsigned char *p = data;

    if (w->failed || w->finished)
        return tsr_diag_set(d, TSR_ESTATE, "vault: the object is already finished or failed");
    if (tsr_sha256_update(&w->sha, data, len) != 0) {
        w->failed = true;
        return tsr_diag_set(d, TSR_ECRYPTO, "cannot hash");
    }
    while (len > 0) {
        /* A full buffer is sealed only when more data follows, so the
         * last segment is always known when it is sealed. */
        if (w->buf_len == TSR_VAULT_SEGMENT) {
            int rc = flush_segment(w, false, d);
            if (rc != 0)
                return rc;
        }
        size_t take = TSR_MIN(len, (size_t)TSR_VAULT_SEGMENT - w->buf_len);
        memcpy(w->buf + w->buf_len, p, take);
        w->buf_len += take;
        w->bytes += take;
        p += take;
        len -= take;
    }
    return 0;
}

uint64_t tsr_vault_writer_bytes(const struct tsr_vault_writer *w)
{
    return w->bytes;
}

int tsr_vault_writer_finish(struct tsr_vault_writer *w, const char *expect_sha256, char **id_out,
                            char *sha_out, struct tsr_diag *d)
{
    unsigned char md[TSR_SHA256_LEN];
    char hex[TSR_SHA256_HEX_SIZE];
    char *final_path = NULL;
    sqlite3_stmt *st = NULL;
    int rc;

    if (id_out != NULL)
        *id_out = NULL;
    if (w->failed || w->finished)
        return tsr_diag_set(d, TSR_ESTATE, "vault: the object is already finished or failed");
    rc = flush_segment(w, true, d);
    if (rc != 0)
        return rc;
    w->failed = true; /* until the end proves otherwise */
    if (tsr_sha256_final(&w->sha, md) != 0)
        return tsr_diag_set(d, TSR_ECRYPTO, "cannot hash");
    tsr_hex_encode(md, sizeof(md), hex);
    if (expect_sha256 != NULL && strcasecmp(expect_sha256, hex) != 0)
        return tsr_diag_set(d, TSR_ECRYPTO, "the data's SHA-256 is %s, not the announced %s",
                            hex, expect_sha256);
    if (tsr_filew_finish(&w->fw, true) != 0)
        return tsr_diag_set(d, TSR_EIO, "cannot write %s: %s", w->tmp_path, strerror(errno));
    final_path = obj_path(w->v, "", w->id, FILE_SUFFIX);
    if (final_path == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    if (rename(w->tmp_path, final_path) != 0) {
        rc = tsr_diag_set(d, TSR_EIO, "cannot move %s into place: %s", w->tmp_path,
                          strerror(errno));
        goto out;
    }
    sync_dir(w->v->dir);
    rc = tsr_db_prepare(w->v->db,
                        "INSERT INTO vault_objects (id, agreement_id, transfer_id, media_type, "
                        "size, sha256, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        &st, d);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, w->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, w->agreement_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, w->transfer_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, w->media_type, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)w->bytes);
        sqlite3_bind_text(st, 6, hex, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, tsr_time_now_ms());
        rc = tsr_db_step(w->v->db, st, d);
        if (rc > 0)
            rc = 0;
    }
    tsr_db_reset(st);
    if (rc != 0) {
        unlink(final_path);
        goto out;
    }
    w->failed = false;
    w->finished = true;
    if (w->transfer_id != NULL)
        (void)set_partial(w->v, w->transfer_id, w->id, NULL, NULL);
    if (sha_out != NULL)
        memcpy(sha_out, hex, sizeof(hex));
    if (id_out != NULL) {
        *id_out = tsr_strdup(w->id);
        if (*id_out == NULL)
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
out:
    tsr_free(final_path);
    return rc;
}

void tsr_vault_writer_free(struct tsr_vault_writer *w)
{
    if (w == NULL)
        return;
    tsr_filew_close(&w->fw);
    if (w->counted)
        w->v->writers--;
    if (!w->finished && w->tmp_path != NULL) {
        unlink(w->tmp_path);
        if (w->transfer_id != NULL && w->counted)
            (void)set_partial(w->v, w->transfer_id, w->id, NULL, NULL);
    }
    EVP_CIPHER_CTX_free(w->ctx);
    tsr_sha256_cleanup(&w->sha);
    tsr_wipe(w->key, sizeof(w->key));
    if (w->buf != NULL)
        tsr_wipe(w->buf, TSR_VAULT_SEGMENT);
    tsr_free(w->buf);
    tsr_free(w->out);
    tsr_free(w->agreement_id);
    tsr_free(w->transfer_id);
    tsr_free(w->media_type);
    tsr_free(w->tmp_path);
    tsr_free(w);
}

/* ------------------------------------------------------------ objects */

static char *col_dup(sqlite3_stmt *st, int i, bool *ok)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    char *s;

    if (t == NULL)
        return NULL;
    s = tsr_strdup((const char *)t);
    if (s == NULL)
        *ok = false;
    return s;
}

static bool row_obj(sqlite3_stmt *st, struct tsr_vault_obj *o)
{
    bool ok = true;

    o->id = col_dup(st, 0, &ok);
    o->agreement_id = col_dup(st, 1, &ok);
    o->transfer_id = col_dup(st, 2, &ok);
    o->media_type = col_dup(st, 3, &ok);
    o->size = sqlite3_column_int64(st, 4);
    o->sha256 = col_dup(st, 5, &ok);
    o->created_ms = sqlite3_column_int64(st, 6);
    return ok;
}

#define OBJ_COLS "id, agreement_id, transfer_id, media_type, size, sha256, created_ms"

static void obj_fields_free(struct tsr_vault_obj *o)
{
    tsr_free(o->id);
    tsr_free(o->agreement_id);
    tsr_free(o->transfer_id);
    tsr_free(o->media_type);
    tsr_free(o->sha256);
}

void tsr_vault_obj_free(struct tsr_vault_obj *o)
{
    if (o == NULL)
        return;
    obj_fields_free(o);
    tsr_free(o);
}

void tsr_vault_obj_array_free(struct tsr_vault_obj *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        obj_fields_free(&v[i]);
    tsr_free(v);
}

/* The first row of sql (one text parameter, what names the object) as a new object. */
static int get_one(struct tsr_vault *v, const char *sql, const char *arg,
                   struct tsr_vault_obj **out, struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    struct tsr_vault_obj *o = NULL;
    int rc;

    *out = NULL;
    rc = tsr_db_prepare(v->db, sql, &st, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    rc = tsr_db_step(v->db, st, d);
    if (rc == 0) {
        rc = tsr_diag_set(d, TSR_ENOTFOUND, "no vault object %s", arg);
    } else if (rc == 1) {
        o = tsr_calloc(1, sizeof(*o));
        if (o == NULL || !row_obj(st, o)) {
            tsr_vault_obj_free(o);
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        } else {
            *out = o;
            rc = 0;
        }
    }
    tsr_db_reset(st);
    return rc;
}

int tsr_vault_get(struct tsr_vault *v, const char *id, struct tsr_vault_obj **out,
                  struct tsr_diag *d)
{
    return get_one(v, "SELECT " OBJ_COLS " FROM vault_objects WHERE id = ?1", id, out, d);
}

int tsr_vault_find_transfer(struct tsr_vault *v, const char *transfer_id,
                            struct tsr_vault_obj **out, struct tsr_diag *d)
{
    return get_one(v, "SELECT " OBJ_COLS " FROM vault_objects WHERE transfer_id = ?1 "
                      "ORDER BY created_ms DESC, rowid DESC LIMIT 1", transfer_id, out, d);
}

int tsr_vault_list(struct tsr_vault *v, const char *agreement_id, size_t offset, size_t limit,
                   struct tsr_vault_obj **out, size_t *n, struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    struct tsr_vault_obj *arr = NULL;
    size_t cnt = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > LIST_MAX)
        limit = LIST_MAX;
    rc = tsr_db_prepare(v->db,
                        "SELECT " OBJ_COLS " FROM vault_objects WHERE ?1 IS NULL OR "
                        "agreement_id = ?1 ORDER BY created_ms, rowid LIMIT ?2 OFFSET ?3",
                        &st, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, agreement_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    sqlite3_bind_int64(st, 3, offset > INT64_MAX ? INT64_MAX : (sqlite3_int64)offset);
    arr = tsr_calloc(limit, sizeof(*arr));
    if (arr == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    while ((rc = tsr_db_step(v->db, st, d)) == 1 && cnt < limit) {
        if (!row_obj(st, &arr[cnt++])) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            break;
        }
    }
    if (rc == 0 || rc == 1) {
        rc = 0;
        *out = cnt > 0 ? arr : NULL;
        *n = cnt;
        if (cnt == 0)
            tsr_free(arr);
        arr = NULL;
    }
out:
    tsr_db_reset(st);
    tsr_vault_obj_array_free(arr, cnt);
    return rc;
}

int tsr_vault_remove(struct tsr_vault *v, const char *id, struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    char *path;
    int rc;

    if (!tsr_uuid_valid(id))
        return tsr_diag_set(d, TSR_ENOTFOUND, "no vault object %s", id);
    rc = tsr_db_prepare(v->db, "DELETE FROM vault_objects WHERE id = ?1", &st, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = tsr_db_step(v->db, st, d);
    tsr_db_reset(st);
    if (rc < 0)
        return rc;
    if (sqlite3_changes(tsr_db_handle(v->db)) == 0)
        return tsr_diag_set(d, TSR_ENOTFOUND, "no vault object %s", id);
    path = obj_path(v, "", id, FILE_SUFFIX);
    if (path == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    rc = 0;
    if (unlink(path) != 0 && errno != ENOENT)
        rc = tsr_diag_set(d, TSR_EIO, "cannot remove %s: %s", path, strerror(errno));
    tsr_free(path);
    return rc;
}

int tsr_vault_destroy_agreement(struct tsr_vault *v, const char *agreement_id, size_t *removed,
                                struct tsr_diag *d)
{
    static const char *const steps[] = {
        "UPDATE vault_keys SET wrapped = zeroblob(length(wrapped)) WHERE agreement_id = ?1",
        "DELETE FROM vault_keys WHERE agreement_id = ?1",
        "DELETE FROM vault_objects WHERE agreement_id = ?1",
    };
    struct tsr_vault_obj *objs = NULL;
    size_t n = 0;
    int rc;

    if (removed != NULL)
        *removed = 0;
    rc = tsr_vault_list(v, agreement_id, 0, LIST_MAX, &objs, &n, d);
    if (rc != 0)
        return rc;
    rc = tsr_db_begin(v->db, d);
    for (size_t i = 0; rc == 0 && i < TSR_ARRAY_SIZE(steps); i++) {
        sqlite3_stmt *st = NULL;
        rc = tsr_db_prepare(v->db, steps[i], &st, d);
        if (rc == 0) {
            sqlite3_bind_text(st, 1, agreement_id, -1, SQLITE_STATIC);
            rc = tsr_db_step(v->db, st, d);
            if (rc > 0)
                rc = 0;
        }
        tsr_db_reset(st);
    }
    if (rc == 0)
        rc = tsr_db_commit(v->db, d);
    if (rc != 0) {
        tsr_db_rollback(v->db, NULL);
        goto out;
    }
    /* The key is gone: the files are unreadable from here on; remove them too. */
    for (size_t i = 0; i < n; i++) {
        char *path = obj_path(v, "", objs[i].id, FILE_SUFFIX);
        if (path != NULL && unlink(path) != 0 && errno != ENOENT && rc == 0)
            rc = tsr_diag_set(d, TSR_EIO, "cannot remove %s: %s", path, strerror(errno));
        tsr_free(path);
    }
    sync_dir(v->dir);
    if (removed != NULL)
        *removed = n;
out:
    tsr_vault_obj_array_free(objs, n);
    return rc;
}

/* ------------------------------------------------------------ reading */

int tsr_vault_reader_open(struct tsr_vault *v, const char *id, struct tsr_vault_reader **out,
                          struct tsr_diag *d)
{
    struct tsr_vault_obj *o = NULL;
    struct tsr_vault_reader *r = NULL;
    unsigned char akey[TSR_VAULT_KEY_LEN];
    char *path = NULL;
    struct stat sb;
    int rc;

    *out = NULL;
    if (!tsr_uuid_valid(id))
        return tsr_diag_set(d, TSR_ENOTFOUND, "no vault object %s", id);
    rc = tsr_vault_get(v, id, &o, d);
    if (rc != 0)
        return rc;
    r = tsr_calloc(1, sizeof(*r));
    path = obj_path(v, "", id, FILE_SUFFIX);
    if (r == NULL || path == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    r->fd = -1;
    r->size = o->size;
    r->in = tsr_malloc(SEALED_SEG);
    r->plain = tsr_malloc(TSR_VAULT_SEGMENT);
    r->ctx = EVP_CIPHER_CTX_new();
    if (r->in == NULL || r->plain == NULL || r->ctx == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0 || fstat(r->fd, &sb) != 0) {
        rc = tsr_diag_set(d, TSR_EIO, "vault object %s: %s", id, strerror(errno));
        goto out;
    }
    /* The expected layout follows from the recorded size: check it first. */
    uint64_t size = (uint64_t)o->size;
    uint64_t nseg = size / TSR_VAULT_SEGMENT + 1;
    size_t last = (size_t)(size % TSR_VAULT_SEGMENT);
    if (size > 0 && last == 0) {
        nseg--;
        last = TSR_VAULT_SEGMENT;
    }
    uint64_t want = TSR_VAULT_HEADER + (nseg - 1) * (uint64_t)SEALED_SEG + last + TAG_LEN;
    if (o->size < 0 || (uint64_t)sb.st_size != want) {
        rc = tsr_diag_set(d, TSR_ECRYPTO, "vault object %s is %lld bytes on disk, not %llu: "
                          "truncated or extended", id, (long long)sb.st_size,
                          (unsigned long long)want);
        goto out;
    }
    if (pread(r->fd, r->header, TSR_VAULT_HEADER, 0) != TSR_VAULT_HEADER ||
        memcmp(r->header, MAGIC, 8) != 0 || get_be32(r->header + 8) != FORMAT_VERSION ||
        get_be32(r->header + 12) != TSR_VAULT_SEGMENT) {
        rc = tsr_diag_set(d, TSR_ECRYPTO, "vault object %s: not a vault file of this version", id);
        goto out;
    }
    r->nseg = nseg;
    r->last_len = last;
    rc = agreement_key(v, o->agreement_id, false, akey, d);
    if (rc != 0)
        goto out;
    rc = object_key(akey, r->header + 16, id, r->key);
    tsr_wipe(akey, sizeof(akey));
    if (rc != 0) {
        rc = tsr_diag_set(d, TSR_ECRYPTO, "cannot derive the object key");
        goto out;
    }
    *out = r;
    r = NULL;
out:
    tsr_vault_reader_free(r);
    tsr_vault_obj_free(o);
    tsr_free(path);
    return rc;
}

/* Read and open the next segment into r->plain. */
static int next_segment(struct tsr_vault_reader *r, struct tsr_diag *d)
{
    bool last = r->seg + 1 == r->nseg;
    size_t plen = last ? r->last_len : TSR_VAULT_SEGMENT;
    size_t clen = plen + TAG_LEN;
    off_t off = (off_t)(TSR_VAULT_HEADER + r->seg * (uint64_t)SEALED_SEG);
    unsigned char nonce[NONCE_LEN];
    size_t got = 0;

    while (got < clen) {
        ssize_t n = pread(r->fd, r->in + got, clen - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return tsr_diag_set(d, TSR_EIO, "cannot read segment %llu",
                                (unsigned long long)r->seg);
        got += (size_t)n;
    }
    seg_nonce(r->seg, last, nonce);
    if (gcm(r->ctx, false, r->key, nonce, r->header, TSR_VAULT_HEADER, r->in, plen, r->plain,
            r->in + plen) != 0) {
        tsr_wipe(r->plain, TSR_VAULT_SEGMENT);
        return tsr_diag_set(d, TSR_ECRYPTO, "segment %llu does not authenticate: the file was "
                            "altered or the key is wrong", (unsigned long long)r->seg);
    }
    r->seg++;
    r->plain_len = plen;
    r->plain_off = 0;
    return 0;
}

ssize_t tsr_vault_reader_read(struct tsr_vault_reader *r, void *buf, size_t len, bool *eof,
                              struct tsr_diag *d)
{
    *eof = false;
    if (r->failed)
        return tsr_diag_set(d, TSR_ECRYPTO, "the object failed to decrypt");
    while (r->plain_off == r->plain_len) {
        if (r->seg == r->nseg) {
            *eof = true;
            return 0;
        }
        int rc = next_segment(r, d);
        if (rc != 0) {
            r->failed = true;
            return rc;
        }
    }
    size_t n = TSR_MIN(len, r->plain_len - r->plain_off);
    memcpy(buf, r->plain + r->plain_off, n);
    r->plain_off += n;
    *eof = r->plain_off == r->plain_len && r->seg == r->nseg;
    return (ssize_t)n;
}

int64_t tsr_vault_reader_size(const struct tsr_vault_reader *r)
{
    return r->size;
}

void tsr_vault_reader_free(struct tsr_vault_reader *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    EVP_CIPHER_CTX_free(r->ctx);
    tsr_wipe(r->key, sizeof(r->key));
    if (r->plain != NULL)
        tsr_wipe(r->plain, TSR_VAULT_SEGMENT);
    tsr_free(r->plain);
    tsr_free(r->in);
    tsr_free(r);
}
