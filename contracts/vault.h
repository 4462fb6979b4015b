/*
 * contracts/vault.h: the consumer's vault: data received under an
 * agreement, encrypted at rest with a key of that agreement.
 *
 * Each agreement gets a random 256-bit key, stored in the state database
 * wrapped (AES-256-GCM) by a master key derived with HKDF-SHA256 from the
 * participant's private key, so the database alone does not reveal data.
 * Each object is one file dir/<id>.tv: a 48-byte header (magic, version,
 * segment size, a random salt) and the plaintext cut in segments of
 * TSR_VAULT_SEGMENT bytes, each sealed with AES-256-GCM under a key
 * derived from the agreement key, the salt and the object id, with the
 * segment number and a "last segment" flag in the nonce and the header as
 * associated data.  Reordered, edited, truncated, extended or swapped
 * files all fail to decrypt.  Reading and writing use constant memory
 * whatever the size.
 *
 * An object appears (in the database and under its final name) only when
 * its writer finishes with a matching SHA-256; until then it is a
 * temporary file that tsr_vault_open sweeps away after a crash.
 * Destroying an agreement's data deletes its key first, then its files.
 *
 * This file knows nothing of policies or sockets: deciding whether a use
 * is allowed is connector/usage.c's job.  One thread; the database
 * connection is borrowed.
 *
 * Errors: 0 or TSR_EINVAL (bad argument), TSR_ENOTFOUND (no such object),
 * TSR_EIO (file system), TSR_ECRYPTO (authentication failed: tampered,
 * truncated, wrong key; or a digest mismatch), TSR_ENOMEM, or a database
 * error; detail in d.
 */
#ifndef TSR_CONTRACTS_VAULT_H
#define TSR_CONTRACTS_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

struct tsr_db;
struct tsr_key;
struct tsr_vault;
struct tsr_vault_writer;
struct tsr_vault_reader;

/* Plaintext bytes per sealed segment (each adds a 16-byte tag on disk). */
#define TSR_VAULT_SEGMENT 65536
/* Size of the per-file header. */
#define TSR_VAULT_HEADER 48
/* Length of a vault master key and of an agreement key. */
#define TSR_VAULT_KEY_LEN 32

/* One stored object, as listed. */
struct tsr_vault_obj {
    char *id;           /* a UUID */
    char *agreement_id; /* the agreement it is bound to */
    char *transfer_id;  /* the transfer it came with, or NULL */
    char *media_type;   /* or NULL */
    int64_t size;       /* plaintext bytes */
    char *sha256;       /* hex of the plaintext */
    int64_t created_ms;
};

/*
 * Derive the vault master key from a participant key (needs its private
 * half) into out.  Returns 0, TSR_EINVAL (public key only), TSR_ECRYPTO.
 */
int tsr_vault_master_key(const struct tsr_key *key, unsigned char out[TSR_VAULT_KEY_LEN],
                         struct tsr_diag *d);

/*
 * Open the vault kept in dir (created 0700 when missing) with its tables
 * in db (borrowed; module "vault" migrated here), using master (copied,
 * wiped on close).  Leftovers of a crash (temporary files, files without
 * a row) are removed.  *out is new (tsr_vault_close).  Returns 0,
 * TSR_EIO, TSR_ENOMEM or a database error.
 */
int tsr_vault_open(struct tsr_db *db, const char *dir,
                   const unsigned char master[TSR_VAULT_KEY_LEN], struct tsr_vault **out,
                   struct tsr_diag *d);

/* Close v (open writers and readers must be freed first).  v may be NULL. */
void tsr_vault_close(struct tsr_vault *v);

/* The vault's folder, borrowed. */
const char *tsr_vault_dir(const struct tsr_vault *v);

/*
 * True when path names something inside the vault's folder (after
 * resolving symbolic links and "..", of path or, when it does not exist,
 * of its parent folder).
 */
bool tsr_vault_path_inside(const struct tsr_vault *v, const char *path);

/*
 * Start a new object bound to agreement_id (its key is created on first
 * use).  transfer_id and media_type may be NULL; with transfer_id the
 * unfinished object survives a crash for tsr_vault_writer_resume.  *out is new: finish it
 * or free it (which discards what was written).  Returns 0, TSR_EINVAL,
 * TSR_EIO, TSR_ECRYPTO, TSR_ENOMEM or a database error.
 */
int tsr_vault_writer_new(struct tsr_vault *v, const char *agreement_id, const char *transfer_id,
                         const char *media_type, struct tsr_vault_writer **out,
                         struct tsr_diag *d);

/* Append len bytes.  Returns 0, TSR_EIO, TSR_ECRYPTO, TSR_ESTATE (finished or failed). */
int tsr_vault_writer_write(struct tsr_vault_writer *w, const void *data, size_t len,
                           struct tsr_diag *d);

/*
 * Take up again the object a writer was writing for transfer_id when the
 * process stopped: every whole segment that still opens is kept (and hashed
 * again, so the final digest covers all the data), the rest is cut off,
 * and *out continues after it (tsr_vault_writer_bytes says where).
 * Returns 0, TSR_ENOTFOUND (nothing usable: start a new object; the stale
 * record is dropped), TSR_ENOMEM, TSR_EIO.
 */
int tsr_vault_writer_resume(struct tsr_vault *v, const char *transfer_id,
                            struct tsr_vault_writer **out, struct tsr_diag *d);

/* Plaintext bytes written so far. */
uint64_t tsr_vault_writer_bytes(const struct tsr_vault_writer *w);

/*
 * Seal the last segment, check the plaintext's SHA-256 against
 * expect_sha256 (hex, either case; NULL: no check), flush to disk, give
 * the file its final name and record the object.  *id_out (may be NULL)
 * gets the object id (new string, tsr_free) and sha_out (may be NULL, 65
 * bytes) the hex digest.  On a mismatch nothing is kept (TSR_ECRYPTO).
 * The writer must still be freed.  Returns 0, TSR_ECRYPTO, TSR_EIO,
 * TSR_ESTATE, or a database error.
 */
int tsr_vault_writer_finish(struct tsr_vault_writer *w, const char *expect_sha256, char **id_out,
                            char *sha_out, struct tsr_diag *d);

/* Free w; an unfinished object is discarded (its file removed).  w may be NULL. */
void tsr_vault_writer_free(struct tsr_vault_writer *w);

/*
 * Open object id for reading.  The file's size is checked against the
 * recorded one before anything is decrypted.  *out is new
 * (tsr_vault_reader_free).  Returns 0, TSR_ENOTFOUND, TSR_EIO,
 * TSR_ECRYPTO (bad header, wrong size, no key), TSR_ENOMEM.
 */
int tsr_vault_reader_open(struct tsr_vault *v, const char *id, struct tsr_vault_reader **out,
                          struct tsr_diag *d);

/*
 * Copy up to len decrypted bytes into buf.  Returns the count (> 0), or 0
 * with *eof set at the end, or a negative code: TSR_ECRYPTO when a segment
 * fails authentication (the bytes already returned came from authentic
 * segments, but the whole is not intact), TSR_EIO.
 */
ssize_t tsr_vault_reader_read(struct tsr_vault_reader *r, void *buf, size_t len, bool *eof,
                              struct tsr_diag *d);

/* The object's plaintext size. */
int64_t tsr_vault_reader_size(const struct tsr_vault_reader *r);

/* Free r.  r may be NULL. */
void tsr_vault_reader_free(struct tsr_vault_reader *r);

/* Object id.  *out is new (tsr_vault_obj_free).  0, TSR_ENOTFOUND... */
int tsr_vault_get(struct tsr_vault *v, const char *id, struct tsr_vault_obj **out,
                  struct tsr_diag *d);

/* The newest object transfer_id stored.  *out is new.  0, TSR_ENOTFOUND... */
int tsr_vault_find_transfer(struct tsr_vault *v, const char *transfer_id,
                            struct tsr_vault_obj **out, struct tsr_diag *d);

/*
 * The objects (of agreement_id only, when not NULL), oldest first,
 * skipping offset, at most limit (0: 1000).  *out is a new array of *n
 * (tsr_vault_obj_array_free).
 */
int tsr_vault_list(struct tsr_vault *v, const char *agreement_id, size_t offset, size_t limit,
                   struct tsr_vault_obj **out, size_t *n, struct tsr_diag *d);

/* Delete object id (row, then file).  0, TSR_ENOTFOUND, TSR_EIO... */
int tsr_vault_remove(struct tsr_vault *v, const char *id, struct tsr_diag *d);

/*
 * Destroy everything held for agreement_id: its key (overwritten, then
 * deleted) and its objects' rows in one transaction, then the files.
 * *removed (may be NULL) gets the number of objects.  Destroying an
 * agreement with nothing stored is not an error.  0, TSR_EIO...
 */
int tsr_vault_destroy_agreement(struct tsr_vault *v, const char *agreement_id, size_t *removed,
                                struct tsr_diag *d);

void tsr_vault_obj_free(struct tsr_vault_obj *o);
void tsr_vault_obj_array_free(struct tsr_vault_obj *v, size_t n);

#endif /* TSR_CONTRACTS_VAULT_H */
