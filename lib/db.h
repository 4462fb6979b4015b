/*
 * lib/db.h: the SQLite store helpers every tessera program uses for its
 * state (negotiations, agreements, transfers, vault, catalog index).
 *
 * A struct tsr_db is one connection, opened in WAL mode with foreign keys
 * on, a busy timeout, defensive mode, and a cache of prepared statements.
 * Each module keeps its own schema version in the shared table
 * tsr_schema(module, version) and upgrades it with tsr_db_migrate.
 *
 * A connection is used from one thread (the event loop); it is not
 * shared.  This file does not hide SQLite: callers bind and read columns
 * with the sqlite3_* API on the statements they get here.
 */
#ifndef TSR_LIB_DB_H
#define TSR_LIB_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "lib/err.h"

struct tsr_db;

struct tsr_db_options {
    bool sync_full;           /* synchronous=FULL instead of NORMAL (survive power loss
                                 with the last transactions, at a cost per commit) */
    unsigned busy_timeout_ms; /* wait this long for another process's lock; 0: 5000 */
    size_t stmt_cache_max;    /* prepared statements kept; 0: TSR_DB_STMT_CACHE_DEFAULT */
    bool read_only;           /* open an existing database read-only */
};

#define TSR_DB_BUSY_TIMEOUT_DEFAULT 5000
#define TSR_DB_STMT_CACHE_DEFAULT 64

/*
 * Open (creating when missing, unless read_only) the database at path
 * with the default options: WAL journal, synchronous=NORMAL,
 * foreign_keys=ON, a 5 s busy timeout.  ":memory:" works (without WAL).
 * On success *out is new (tsr_db_close it).  Returns 0, TSR_EIO (cannot
 * open, not a database, WAL refused), TSR_ENOMEM; *out is NULL on failure.
 */
int tsr_db_open(const char *path, struct tsr_db **out, struct tsr_diag *d);

/* As tsr_db_open with options (NULL: the defaults). */
int tsr_db_open_opts(const char *path, const struct tsr_db_options *opts, struct tsr_db **out,
                     struct tsr_diag *d);

/*
 * Finalise the cached statements and close the connection.  An open
 * transaction is rolled back.  db may be NULL.
 */
void tsr_db_close(struct tsr_db *db);

/* The underlying connection, borrowed, for sqlite3_changes() and the like. */
sqlite3 *tsr_db_handle(struct tsr_db *db);

/*
 * Run one or more SQL statements that return no rows of interest (DDL,
 * PRAGMAs, fixed updates).  Never build sql from untrusted data: bind
 * parameters through tsr_db_prepare instead.  Returns 0 or an error
 * (tsr_db_errcode) with SQLite's message in d.
 */
int tsr_db_exec(struct tsr_db *db, const char *sql, struct tsr_diag *d);

/*
 * Get a prepared statement for sql (one statement) from the cache, or
 * prepare and cache it.  It comes back reset with its bindings cleared.
 * The cache is keyed by the text, so a caller may pass a string it
 * built, and free it afterwards.  *out is borrowed: it stays valid until
 * tsr_db_close, or until stmt_cache_max other statements have been
 * prepared since it was last used (least recently used ones are
 * finalised first; a statement that is being stepped is never evicted).
 * Call tsr_db_reset when done with it so that its read snapshot ends.
 * Returns 0, TSR_EINVAL (SQL error or more than one statement, message in
 * d), TSR_ELIMIT (every cached statement is being stepped), TSR_ENOMEM.
 */
int tsr_db_prepare(struct tsr_db *db, const char *sql, sqlite3_stmt **out, struct tsr_diag *d);

/*
 * Step stmt: returns 1 when a row is available, 0 when done, or a
 * negative error (tsr_db_errcode) with SQLite's message in d.
 */
int tsr_db_step(struct tsr_db *db, sqlite3_stmt *stmt, struct tsr_diag *d);

/* Reset stmt and clear its bindings (ends its read).  stmt may be NULL. */
void tsr_db_reset(sqlite3_stmt *stmt);

/*
 * Transactions.  tsr_db_begin starts BEGIN IMMEDIATE, so the write lock
 * is taken (or the busy timeout reported) up front rather than failing
 * half-way.  Transactions do not nest.  tsr_db_rollback does nothing when
 * no transaction is open, so it is safe on every error path.  Each
 * returns 0 or an error (tsr_db_errcode) with the message in d.
 */
int tsr_db_begin(struct tsr_db *db, struct tsr_diag *d);
int tsr_db_commit(struct tsr_db *db, struct tsr_diag *d);
int tsr_db_rollback(struct tsr_db *db, struct tsr_diag *d);

/* True when a transaction is open on db. */
bool tsr_db_in_transaction(struct tsr_db *db);

/* One schema step: bring a module from version - 1 to version. */
struct tsr_db_migration {
    int version;     /* 1, 2, 3, ... strictly increasing in the array */
    const char *sql; /* one or more statements; no BEGIN/COMMIT, no PRAGMA foreign_keys */
};

/*
 * Bring module's schema up to the last version in migrations[0..n-1]:
 * each missing step runs in its own IMMEDIATE transaction together with
 * the update of tsr_schema, so a failing step changes nothing and leaves
 * the version at the previous step.  Running it again is harmless.
 * Returns 0; TSR_ESTATE when the database has a newer version than the
 * program knows (it must not be touched by an older program); TSR_EINVAL
 * when the versions are not 1.. strictly increasing (a bug); or the
 * error of the failing step, with "module vN: message" in d.
 */
int tsr_db_migrate(struct tsr_db *db, const char *module,
                   const struct tsr_db_migration *migrations, size_t n, struct tsr_diag *d);

/* The schema version recorded for module (0 if none).  0 or an error. */
int tsr_db_schema_version(struct tsr_db *db, const char *module, int *out, struct tsr_diag *d);

/*
 * Map an SQLite result code to a TSR_E* code: constraint violations are
 * TSR_ECONFLICT, busy/locked TSR_EUNAVAIL, no memory TSR_ENOMEM, I/O and
 * corruption TSR_EIO, SQL errors TSR_EINVAL, the rest TSR_EINTERNAL.
 */
int tsr_db_errcode(int sqlite_rc);

#endif /* TSR_LIB_DB_H */
