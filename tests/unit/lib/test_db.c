/*
 * tests/unit/lib/test_db.c: connections come up in WAL mode with foreign
 * keys, the statement cache hands back clean statements, and migrations
 * are idempotent, per module, atomic and refuse newer schemas.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "lib/db.h"
#include "lib/mem.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = tsr_calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/tsr_db_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[160];
    static const char *const suffixes[] = {"", "-wal", "-shm"};

    for (size_t i = 0; i < TSR_ARRAY_SIZE(suffixes); i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    tsr_free(f);
    return 0;
}

static struct tsr_db *open_ok(const char *path)
{
    struct tsr_db *db = NULL;
    struct tsr_diag d;

    tsr_diag_clear(&d);
    if (tsr_db_open(path, &db, &d) != 0)
        fail_msg("open %s: %s", path, d.msg);
    assert_non_null(db);
    return db;
}

/* The single text value of a query. */
static void query_text(struct tsr_db *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *st;

    assert_int_equal(tsr_db_prepare(db, sql, &st, NULL), 0);
    assert_int_equal(tsr_db_step(db, st, NULL), 1);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    tsr_db_reset(st);
}

static long long query_int(struct tsr_db *db, const char *sql)
{
    sqlite3_stmt *st;

    assert_int_equal(tsr_db_prepare(db, sql, &st, NULL), 0);
    assert_int_equal(tsr_db_step(db, st, NULL), 1);
    long long v = sqlite3_column_int64(st, 0);
    tsr_db_reset(st);
    return v;
}

static void test_open_pragmas(void **state)
{
    struct fixture *f = *state;
    struct tsr_db *db = open_ok(f->path);
    char mode[16];

    query_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal");
    assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(query_int(db, "PRAGMA synchronous"), 1); /* NORMAL */
    assert_int_equal(query_int(db, "PRAGMA busy_timeout"), TSR_DB_BUSY_TIMEOUT_DEFAULT);
    tsr_db_close(db);

    struct tsr_db_options o = {.sync_full = true, .busy_timeout_ms = 250};
    assert_int_equal(tsr_db_open_opts(f->path, &o, &db, NULL), 0);
    assert_int_equal(query_int(db, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(query_int(db, "PRAGMA busy_timeout"), 250);
    tsr_db_close(db);
    tsr_db_close(NULL);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    struct tsr_db *db = (struct tsr_db *)1;
    struct tsr_diag d;
    char p[160];

    snprintf(p, sizeof(p), "%s/missing/dir/x.db", f->dir);
    assert_int_equal(tsr_db_open(p, &db, &d), TSR_EIO);
    assert_null(db);
    assert_non_null(strstr(d.msg, p));

    /* A file that is not a database. */
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database at all. ", fp);
    fclose(fp);
    assert_int_equal(tsr_db_open(f->path, &db, &d), TSR_EIO);
    assert_null(db);
    unlink(f->path);
}

static void test_foreign_keys_enforced(void **state)
{
    struct fixture *f = *state;
    struct tsr_db *db = open_ok(f->path);
    struct tsr_diag d;

    assert_int_equal(tsr_db_exec(db,
                                 "CREATE TABLE p(id INTEGER PRIMARY KEY);"
                                 "CREATE TABLE c(id INTEGER PRIMARY KEY, "
                                 "p INTEGER NOT NULL REFERENCES p(id));",
                                 &d),
                     0);
    assert_int_equal(tsr_db_exec(db, "INSERT INTO c(p) VALUES (42)", &d), TSR_ECONFLICT);
    assert_non_null(strstr(d.msg, "FOREIGN KEY"));
    assert_int_equal(tsr_db_exec(db, "SELEKT 1", &d), TSR_EINVAL);
    tsr_db_close(db);
}

static void test_statement_cache(void **state)
{
    struct fixture *f = *state;
    struct tsr_db_options o = {.stmt_cache_max = 2};
    struct tsr_db *db = NULL;
    sqlite3_stmt *a, *a2, *b, *c;
    struct tsr_diag d;
    char sql[64];

    assert_int_equal(tsr_db_open_opts(f->path, &o, &db, &d), 0);
    assert_int_equal(tsr_db_exec(db, "CREATE TABLE t(k TEXT PRIMARY KEY, v INT)", &d), 0);

    /* Same text from a different buffer gives the same statement, reset and unbound. */
    assert_int_equal(tsr_db_prepare(db, "SELECT ?1", &a, &d), 0);
    assert_int_equal(sqlite3_bind_int(a, 1, 5), SQLITE_OK);
    assert_int_equal(tsr_db_step(db, a, &d), 1);
    assert_int_equal(sqlite3_column_int(a, 0), 5);
    snprintf(sql, sizeof(sql), "SELECT %s", "?1");
    assert_int_equal(tsr_db_prepare(db, sql, &a2, &d), 0);
    assert_ptr_equal(a, a2);
    assert_false(sqlite3_stmt_busy(a2));
    assert_int_equal(tsr_db_step(db, a2, &d), 1);
    assert_int_equal(sqlite3_column_type(a2, 0), SQLITE_NULL); /* bindings cleared */
    tsr_db_reset(a2);

    /* Only one statement per prepare. */
    assert_int_equal(tsr_db_prepare(db, "SELECT 1; SELECT 2", &b, &d), TSR_EINVAL);
    assert_int_equal(tsr_db_prepare(db, "SELECT nope FROM nowhere", &b, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "nowhere"));

    /* A full cache evicts an idle statement but never one being stepped. */
    assert_int_equal(tsr_db_prepare(db, "SELECT 1 UNION ALL SELECT 2", &b, &d), 0);
    assert_int_equal(tsr_db_step(db, b, &d), 1); /* b busy, a idle */
    assert_int_equal(tsr_db_prepare(db, "SELECT 3", &c, &d), 0);
    assert_true(sqlite3_stmt_busy(b));
    assert_int_equal(tsr_db_step(db, b, &d), 1);
    assert_int_equal(sqlite3_column_int(b, 0), 2);
    assert_int_equal(tsr_db_step(db, c, &d), 1); /* c busy too */
    assert_int_equal(tsr_db_prepare(db, "SELECT 4", &a, &d), TSR_ELIMIT);
    tsr_db_reset(b);
    tsr_db_reset(c);
    assert_int_equal(tsr_db_prepare(db, "SELECT 4", &a, &d), 0);

    /* Constraint errors map to TSR_ECONFLICT with SQLite's message. */
    sqlite3_stmt *ins;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tsr_db_prepare(db, "INSERT INTO t(k, v) VALUES (?1, ?2)", &ins, &d), 0);
        sqlite3_bind_text(ins, 1, "key", -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 2, i);
        assert_int_equal(tsr_db_step(db, ins, &d), i == 0 ? 0 : TSR_ECONFLICT);
    }
    assert_non_null(strstr(d.msg, "UNIQUE"));
    tsr_db_close(db);
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    struct tsr_db *db = open_ok(f->path);
    struct tsr_diag d;

    assert_int_equal(tsr_db_exec(db, "CREATE TABLE t(v INT)", &d), 0);
    assert_false(tsr_db_in_transaction(db));
    assert_int_equal(tsr_db_rollback(db, &d), 0); /* harmless without a transaction */
    assert_int_equal(tsr_db_begin(db, &d), 0);
    assert_true(tsr_db_in_transaction(db));
    assert_int_equal(tsr_db_begin(db, &d), TSR_ESTATE);
    assert_int_equal(tsr_db_exec(db, "INSERT INTO t VALUES (1)", &d), 0);
    assert_int_equal(tsr_db_rollback(db, &d), 0);
    assert_false(tsr_db_in_transaction(db));
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 0);
    assert_int_equal(tsr_db_begin(db, &d), 0);
    assert_int_equal(tsr_db_exec(db, "INSERT INTO t VALUES (2)", &d), 0);
    assert_int_equal(tsr_db_commit(db, &d), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 1);

    /* BEGIN IMMEDIATE takes the write lock: a second connection is told it is busy. */
    struct tsr_db_options o = {.busy_timeout_ms = 1};
    struct tsr_db *db2 = NULL;
    assert_int_equal(tsr_db_open_opts(f->path, &o, &db2, &d), 0);
    assert_int_equal(tsr_db_begin(db, &d), 0);
    assert_int_equal(tsr_db_begin(db2, &d), TSR_EUNAVAIL);
    assert_false(tsr_db_in_transaction(db2));
    /* Readers are not blocked in WAL mode. */
    assert_int_equal(query_int(db2, "SELECT count(*) FROM t"), 1);
    assert_int_equal(tsr_db_commit(db, &d), 0);
    tsr_db_close(db2);

    /* Closing with an open transaction rolls it back. */
    assert_int_equal(tsr_db_begin(db, &d), 0);
    assert_int_equal(tsr_db_exec(db, "INSERT INTO t VALUES (3)", &d), 0);
    tsr_db_close(db);
    db = open_ok(f->path);
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 1);
    tsr_db_close(db);
}

static const struct tsr_db_migration m_agree[] = {
    {1, "CREATE TABLE agreement(id TEXT PRIMARY KEY, body TEXT NOT NULL);"},
    {2, "ALTER TABLE agreement ADD COLUMN signed_at INT;"
        "CREATE INDEX agreement_signed ON agreement(signed_at);"},
};

static const struct tsr_db_migration m_vault[] = {
    {1, "CREATE TABLE vault(id TEXT PRIMARY KEY, agreement TEXT NOT NULL);"},
};

static int version_of(struct tsr_db *db, const char *module)
{
    int v = -1;

    assert_int_equal(tsr_db_schema_version(db, module, &v, NULL), 0);
    return v;
}

static void test_migrate(void **state)
{
    struct fixture *f = *state;
    struct tsr_db *db = open_ok(f->path);
    struct tsr_diag d;

    assert_int_equal(version_of(db, "agreements"), 0); /* before tsr_schema exists */
    assert_int_equal(tsr_db_migrate(db, "agreements", m_agree, 1, &d), 0);
    assert_int_equal(version_of(db, "agreements"), 1);
    assert_int_equal(tsr_db_migrate(db, "agreements", m_agree, 2, &d), 0);
    assert_int_equal(version_of(db, "agreements"), 2);
    /* Twice: nothing to do (the ALTER TABLE would fail if it ran again). */
    assert_int_equal(tsr_db_migrate(db, "agreements", m_agree, 2, &d), 0);
    assert_int_equal(version_of(db, "agreements"), 2);

    /* Modules are independent. */
    assert_int_equal(version_of(db, "vault"), 0);
    assert_int_equal(tsr_db_migrate(db, "vault", m_vault, 1, &d), 0);
    assert_int_equal(version_of(db, "vault"), 1);
    assert_int_equal(version_of(db, "agreements"), 2);

    assert_int_equal(tsr_db_exec(db,
                                 "INSERT INTO agreement(id, body, signed_at) "
                                 "VALUES ('urn:uuid:a', '{}', 17)",
                                 &d),
                     0);
    tsr_db_close(db);

    /* Reopen: data and versions are kept, migrating again is a no-op. */
    db = open_ok(f->path);
    assert_int_equal(tsr_db_migrate(db, "agreements", m_agree, 2, &d), 0);
    assert_int_equal(version_of(db, "agreements"), 2);
    assert_int_equal(query_int(db, "SELECT signed_at FROM agreement WHERE id = 'urn:uuid:a'"), 17);

    /* An older program (knows only v1) refuses the newer database and changes nothing. */
    assert_int_equal(tsr_db_migrate(db, "agreements", m_agree, 1, &d), TSR_ESTATE);
    assert_non_null(strstr(d.msg, "version 2"));
    assert_false(tsr_db_in_transaction(db));
    assert_int_equal(version_of(db, "agreements"), 2);
    tsr_db_close(db);
}

static void test_migrate_failure_rolls_back(void **state)
{
    struct fixture *f = *state;
    struct tsr_db *db = open_ok(f->path);
    struct tsr_diag d;
    static const struct tsr_db_migration bad[] = {
        {1, "CREATE TABLE a(x INT);"},
        /* The first statement succeeds, the second fails: neither may stay. */
        {2, "CREATE TABLE b(y INT); INSERT INTO a VALUES (1); INSERT INTO nosuch VALUES (1);"},
        {3, "CREATE TABLE c(z INT);"},
    };

    assert_int_equal(tsr_db_migrate(db, "m", bad, 3, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "m v2"));
    assert_non_null(strstr(d.msg, "nosuch"));
    assert_false(tsr_db_in_transaction(db));
    assert_int_equal(version_of(db, "m"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'b'"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'c'"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 0);

    /* Bad tables are refused before anything runs. */
    static const struct tsr_db_migration unordered[] = {{2, "SELECT 1;"}, {1, "SELECT 1;"}};
    static const struct tsr_db_migration zero[] = {{0, "SELECT 1;"}};
    assert_int_equal(tsr_db_migrate(db, "u", unordered, 2, &d), TSR_EINVAL);
    assert_int_equal(tsr_db_migrate(db, "z", zero, 1, &d), TSR_EINVAL);
    assert_int_equal(tsr_db_migrate(db, "", m_vault, 1, &d), TSR_EINVAL);
    assert_int_equal(version_of(db, "u"), 0);

    /* Not inside a caller's transaction. */
    assert_int_equal(tsr_db_begin(db, &d), 0);
    assert_int_equal(tsr_db_migrate(db, "vault", m_vault, 1, &d), TSR_ESTATE);
    assert_int_equal(tsr_db_rollback(db, &d), 0);
    tsr_db_close(db);
}

static void test_memory_db(void **state)
{
    struct tsr_db *db = open_ok(":memory:");
    char mode[16];

    (void)state;
    query_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "memory");
    assert_int_equal(tsr_db_migrate(db, "vault", m_vault, 1, NULL), 0);
    assert_int_equal(version_of(db, "vault"), 1);
    assert_non_null(tsr_db_handle(db));
    tsr_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_keys_enforced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statement_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_failure_rolls_back, setup, teardown),
        cmocka_unit_test(test_memory_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
