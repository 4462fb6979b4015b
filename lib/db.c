/*
 * lib/db.c: SQLite connection set-up, a small LRU cache of prepared
 * statements, transactions and per-module schema migrations.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/db.h"
#include "lib/str.h"
#include "lib/mem.h"

struct stmt_ent {
    char *sql;           /* our copy of the key */
    size_t len;          /* strlen(sql) */
    uint64_t hash;       /* of sql, to skip most string compares */
    uint64_t last_used;  /* db->tick when last handed out */
    sqlite3_stmt *stmt;
};

struct tsr_db {
    sqlite3 *h;
    struct stmt_ent *cache;
    size_t ncache;
    size_t max_cache;
    uint64_t tick;
};

int tsr_db_errcode(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE: return 0;
    case SQLITE_CONSTRAINT: return TSR_ECONFLICT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return TSR_EUNAVAIL;
    case SQLITE_NOMEM: return TSR_ENOMEM;
    case SQLITE_TOOBIG: return TSR_ELIMIT;
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL: return TSR_EIO;
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH: return TSR_EINVAL;
    default: return TSR_EINTERNAL;
    }
}

/* Record SQLite's current error for rc in d and return the TSR code. */
static int db_fail(struct tsr_db *db, int rc, struct tsr_diag *d, const char *what)
{
    return tsr_diag_set(d, tsr_db_errcode(rc), "%s: %s", what, sqlite3_errmsg(db->h));
}

sqlite3 *tsr_db_handle(struct tsr_db *db)
{
    return db->h;
}

int tsr_db_exec(struct tsr_db *db, const char *sql, struct tsr_diag *d)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        rc = tsr_diag_set(d, tsr_db_errcode(rc), "%s",
                          msg != NULL ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

/* Run a statement that returns one text or integer row, giving it as text. */
static int pragma_text(struct tsr_db *db, const char *sql, char *out, size_t size,
                       struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);

    if (rc != SQLITE_OK) {
        rc = db_fail(db, rc, d, sql);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? tsr_diag_set(d, TSR_EINTERNAL, "%s: no result", sql)
                               : db_fail(db, rc, d, sql);
        goto out;
    }
    const unsigned char *t = sqlite3_column_text(st, 0);
    if (t == NULL) {
        rc = tsr_diag_set(d, TSR_EINTERNAL, "%s: no result", sql);
        goto out;
    }
    snprintf(out, size, "%s", (const char *)t);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int configure(struct tsr_db *db, const struct tsr_db_options *o, struct tsr_diag *d)
{
    char val[32];
    int rc;

    sqlite3_busy_timeout(db->h, o->busy_timeout_ms != 0 ? (int)o->busy_timeout_ms
                                                         : TSR_DB_BUSY_TIMEOUT_DEFAULT);
    /*
     * Defensive mode forbids writes to the schema table and other ways a
     * crafted statement could corrupt the file; untrusted schema
     * functions are refused.
     */
    sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(db->h, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);

    rc = tsr_db_exec(db, "PRAGMA foreign_keys=ON", d);
    if (rc != 0)
        return rc;
    /* The pragma is silently ignored by builds without FK support: check. */
    rc = pragma_text(db, "PRAGMA foreign_keys", val, sizeof(val), d);
    if (rc != 0)
        return rc;
    if (strcmp(val, "1") != 0)
        return tsr_diag_set(d, TSR_EINTERNAL, "foreign keys cannot be enabled");

    const char *file = sqlite3_db_filename(db->h, "main");
    bool in_memory = file == NULL || file[0] == '\0';
    if (!in_memory && !o->read_only) {
        rc = pragma_text(db, "PRAGMA journal_mode=WAL", val, sizeof(val), d);
        if (rc != 0)
            return rc;
        if (strcmp(val, "wal") != 0)
            return tsr_diag_set(d, TSR_EIO, "WAL journal mode refused (got \"%s\")", val);
    }
    return tsr_db_exec(db, o->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                       d);
}

int tsr_db_open_opts(const char *path, const struct tsr_db_options *opts, struct tsr_db **out,
                     struct tsr_diag *d)
{
    struct tsr_db_options o = {0};
    struct tsr_db *db = NULL;
    int flags, rc;

    *out = NULL;
    if (opts != NULL)
        o = *opts;
    db = tsr_calloc(1, sizeof(*db));
    if (db == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    db->max_cache = o.stmt_cache_max != 0 ? o.stmt_cache_max : TSR_DB_STMT_CACHE_DEFAULT;
    flags = (o.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
            SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    rc = sqlite3_open_v2(path, &db->h, flags, NULL);
    if (rc != SQLITE_OK) {
        if (db->h == NULL) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "%s: out of memory", path);
        } else {
            rc = tsr_diag_set(d, tsr_db_errcode(rc) == TSR_ENOMEM ? TSR_ENOMEM : TSR_EIO,
                              "%s: %s", path, sqlite3_errmsg(db->h));
        }
        goto out;
    }
    rc = configure(db, &o, d);
    if (rc != 0) {
        /* Whatever went wrong at set-up (not a database, locked, ...) is about the file. */
        if (rc != TSR_ENOMEM)
            rc = TSR_EIO;
        tsr_diag_prefix(d, "%s", path);
        if (d != NULL)
            d->code = rc;
        goto out;
    }
    *out = db;
    db = NULL;
    rc = 0;
out:
    tsr_db_close(db);
    return rc;
}

int tsr_db_open(const char *path, struct tsr_db **out, struct tsr_diag *d)
{
    return tsr_db_open_opts(path, NULL, out, d);
}

void tsr_db_close(struct tsr_db *db)
{
    if (db == NULL)
        return;
    for (size_t i = 0; i < db->ncache; i++) {
        sqlite3_finalize(db->cache[i].stmt);
        tsr_free(db->cache[i].sql);
    }
    tsr_free(db->cache);
    if (db->h != NULL) {
        if (!sqlite3_get_autocommit(db->h))
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        /* _v2: statements a caller prepared by itself do not make this fail. */
        sqlite3_close_v2(db->h);
    }
    tsr_free(db);
}

/* Free a cache slot for a new statement: the least recently used idle one. */
static int make_room(struct tsr_db *db, struct tsr_diag *d)
{
    size_t victim = SIZE_MAX;

    if (db->cache == NULL) {
        db->cache = tsr_calloc(db->max_cache, sizeof(*db->cache));
        if (db->cache == NULL)
            return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    if (db->ncache < db->max_cache)
        return 0;
    for (size_t i = 0; i < db->ncache; i++) {
        if (sqlite3_stmt_busy(db->cache[i].stmt))
            continue;
        if (victim == SIZE_MAX || db->cache[i].last_used < db->cache[victim].last_used)
            victim = i;
    }
    if (victim == SIZE_MAX)
        return tsr_diag_set(d, TSR_ELIMIT, "all %zu cached statements are in use",
                            db->max_cache);
    sqlite3_finalize(db->cache[victim].stmt);
    tsr_free(db->cache[victim].sql);
    db->cache[victim] = db->cache[--db->ncache];
    return 0;
}

static bool only_space(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != ';')
            return false;
    }
    return true;
}

int tsr_db_prepare(struct tsr_db *db, const char *sql, sqlite3_stmt **out, struct tsr_diag *d)
{
    struct stmt_ent e = {0};
    const char *tail = NULL;
    int rc;

    *out = NULL;
    e.hash = tsr_str_hash(sql, &e.len);
    for (size_t i = 0; i < db->ncache; i++) {
        struct stmt_ent *c = &db->cache[i];
        if (c->hash == e.hash && c->len == e.len && memcmp(c->sql, sql, e.len) == 0) {
            sqlite3_reset(c->stmt);
            sqlite3_clear_bindings(c->stmt);
            c->last_used = ++db->tick;
            *out = c->stmt;
            return 0;
        }
    }
    rc = make_room(db, d);
    if (rc != 0)
        return rc;
    /* The length passed to SQLite includes the NUL, so it too must fit in an int. */
    if (e.len >= INT32_MAX)
        return tsr_diag_set(d, TSR_ELIMIT, "SQL text too long");
    rc = sqlite3_prepare_v3(db->h, sql, (int)e.len + 1, SQLITE_PREPARE_PERSISTENT, &e.stmt,
                            &tail);
    if (rc != SQLITE_OK) {
        rc = db_fail(db, rc, d, "prepare");
        goto out;
    }
    if (e.stmt == NULL || (tail != NULL && !only_space(tail))) {
        rc = tsr_diag_set(d, TSR_EINVAL, "prepare: expected exactly one SQL statement");
        goto out;
    }
    e.sql = tsr_strndup(sql, e.len);
    if (e.sql == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    e.last_used = ++db->tick;
    db->cache[db->ncache++] = e;
    *out = e.stmt;
    e.stmt = NULL;
    rc = 0;
out:
    sqlite3_finalize(e.stmt);
    return rc;
}

int tsr_db_step(struct tsr_db *db, sqlite3_stmt *stmt, struct tsr_diag *d)
{
    int rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    rc = db_fail(db, rc, d, "step");
    /* Do not leave a failed statement holding its snapshot or lock. */
    sqlite3_reset(stmt);
    return rc;
}

void tsr_db_reset(sqlite3_stmt *stmt)
{
    if (stmt == NULL)
        return;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

bool tsr_db_in_transaction(struct tsr_db *db)
{
    return !sqlite3_get_autocommit(db->h);
}

int tsr_db_begin(struct tsr_db *db, struct tsr_diag *d)
{
    if (tsr_db_in_transaction(db))
        return tsr_diag_set(d, TSR_ESTATE, "a transaction is already open");
    return tsr_db_exec(db, "BEGIN IMMEDIATE", d);
}

int tsr_db_commit(struct tsr_db *db, struct tsr_diag *d)
{
    int rc = tsr_db_exec(db, "COMMIT", d);

    /* A commit that failed but left the transaction open is undone, so callers end clean. */
    if (rc != 0 && tsr_db_in_transaction(db))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int tsr_db_rollback(struct tsr_db *db, struct tsr_diag *d)
{
    if (!tsr_db_in_transaction(db))
        return 0;
    return tsr_db_exec(db, "ROLLBACK", d);
}

/* ------------------------------------------------------------ migrations */

static const char schema_ddl[] = "CREATE TABLE IF NOT EXISTS tsr_schema("
                                 "module TEXT PRIMARY KEY, version INT NOT NULL)";

static int read_version(struct tsr_db *db, const char *module, int *out, struct tsr_diag *d)
{
    sqlite3_stmt *st;
    int rc = tsr_db_prepare(db, "SELECT version FROM tsr_schema WHERE module = ?1", &st, d);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
    rc = tsr_db_step(db, st, d);
    if (rc >= 0) {
        *out = rc == 1 ? sqlite3_column_int(st, 0) : 0;
        rc = 0;
    }
    tsr_db_reset(st);
    return rc;
}

static int write_version(struct tsr_db *db, const char *module, int version, struct tsr_diag *d)
{
    sqlite3_stmt *st;
    int rc = tsr_db_prepare(db,
                            "INSERT INTO tsr_schema(module, version) VALUES(?1, ?2) "
                            "ON CONFLICT(module) DO UPDATE SET version = excluded.version",
                            &st, d);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, version);
    rc = tsr_db_step(db, st, d);
    tsr_db_reset(st);
    return rc < 0 ? rc : 0;
}

int tsr_db_schema_version(struct tsr_db *db, const char *module, int *out, struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *out = 0;
    /* Without the table nothing was ever migrated; do not create it from a reader. */
    rc = sqlite3_prepare_v2(db->h,
                            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
                            "name = 'tsr_schema'",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_fail(db, rc, d, "schema version");
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_fail(db, rc, d, "schema version");
    return read_version(db, module, out, d);
}

int tsr_db_migrate(struct tsr_db *db, const char *module,
                   const struct tsr_db_migration *migrations, size_t n, struct tsr_diag *d)
{
    int rc, cur = 0;

    if (module == NULL || module[0] == '\0' || (n > 0 && migrations == NULL))
        return tsr_diag_set(d, TSR_EINVAL, "migrate: no module name or migrations");
    for (size_t i = 0; i < n; i++) {
        if (migrations[i].version < 1 || migrations[i].sql == NULL ||
            (i > 0 && migrations[i].version <= migrations[i - 1].version)) {
            return tsr_diag_set(d, TSR_EINVAL,
                                "%s: migration %zu: versions must be >= 1 and increasing",
                                module, i);
        }
    }
    if (tsr_db_in_transaction(db))
        return tsr_diag_set(d, TSR_ESTATE, "%s: cannot migrate inside a transaction", module);
    rc = tsr_db_exec(db, schema_ddl, d);
    if (rc != 0) {
        tsr_diag_prefix(d, "%s: creating tsr_schema", module);
        return rc;
    }
    int latest = n > 0 ? migrations[n - 1].version : 0;

    /*
     * One step per transaction, re-reading the version inside it: another
     * process migrating at the same time then finds the step done.
     */
    for (;;) {
        size_t i;

        rc = tsr_db_begin(db, d);
        if (rc != 0) {
            tsr_diag_prefix(d, "%s", module);
            return rc;
        }
        rc = read_version(db, module, &cur, d);
        if (rc != 0) {
            tsr_diag_prefix(d, "%s", module);
            goto out;
        }
        if (cur > latest) {
            rc = tsr_diag_set(d, TSR_ESTATE,
                              "%s: database schema is version %d, newer than this program "
                              "knows (%d); use a newer version of the program",
                              module, cur, latest);
            goto out;
        }
        for (i = 0; i < n && migrations[i].version <= cur; i++)
            ;
        if (i == n)
            break;
        rc = tsr_db_exec(db, migrations[i].sql, d);
        if (rc == 0)
            rc = write_version(db, module, migrations[i].version, d);
        if (rc == 0)
            rc = tsr_db_commit(db, d);
        if (rc != 0) {
            tsr_diag_prefix(d, "%s v%d", module, migrations[i].version);
            goto out;
        }
    }
    rc = tsr_db_commit(db, d);
out:
    /* Nothing of a failed step may stay; a failed commit has rolled back already. */
    if (rc != 0)
        tsr_db_rollback(db, NULL);
    return rc;
}
