/*
 * connector/store.c: the connector's tables in SQLite and the
 * transactions that keep a state change and its outbox message together.
 *
 * Each entity is described once, as a table of columns (name, type, offset
 * in its struct, size limit): binding a struct for an INSERT, reading a
 * row back and freeing a struct all walk that table, so the SQL column
 * lists below must name the columns in the same order as the tables.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "connector/store.h"
#include "lib/db.h"
#include "lib/json.h"
#include "lib/mem.h"
#include "lib/time.h"

/* Enough for every statement below, so none is ever prepared twice. */
#define STORE_STMT_CACHE 128

struct tsr_store {
    struct tsr_db *db;
};

/* ---------------------------------------------------------------- schema */

/*
 * Every commit writes each B-tree page it touches to the WAL, so indexes
 * are kept to what lookups and foreign keys need: lists come in rowid
 * (insertion) order, and the outbox and the replay cache, which stay
 * small or are purged rarely, are scanned rather than indexed by time.
 */

static const struct tsr_db_migration migrations[] = {
    {1,
     "CREATE TABLE conn_asset("
     " id TEXT PRIMARY KEY NOT NULL,"
     " title TEXT, description TEXT, keywords TEXT, media_type TEXT,"
     " source_kind TEXT NOT NULL CHECK(source_kind IN ('file', 'url')),"
     " source TEXT NOT NULL,"
     " size INTEGER NOT NULL DEFAULT -1,"
     " sha256 TEXT,"
     " created_ms INTEGER NOT NULL);"
     "CREATE TABLE conn_policy("
     " id TEXT PRIMARY KEY NOT NULL,"
     " body TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL);"
     "CREATE TABLE conn_offer("
     " id TEXT PRIMARY KEY NOT NULL,"
     " asset_id TEXT NOT NULL REFERENCES conn_asset(id),"
     " policy_id TEXT NOT NULL REFERENCES conn_policy(id),"
     " created_ms INTEGER NOT NULL);"
     "CREATE INDEX conn_offer_asset ON conn_offer(asset_id);"
     "CREATE INDEX conn_offer_policy ON conn_offer(policy_id);"
     "CREATE TABLE conn_negotiation("
     " id TEXT PRIMARY KEY NOT NULL,"
     " role TEXT NOT NULL CHECK(role IN ('provider', 'consumer')),"
     " state TEXT NOT NULL,"
     " consumer_pid TEXT, provider_pid TEXT,"
     " counterparty_did TEXT, counterparty_url TEXT,"
     " offer_id TEXT, asset_id TEXT, offer_json TEXT,"
     " agreement_id TEXT, error TEXT,"
     " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
     "CREATE UNIQUE INDEX conn_negotiation_cpid ON conn_negotiation(role, consumer_pid);"
     "CREATE UNIQUE INDEX conn_negotiation_ppid ON conn_negotiation(role, provider_pid);"
     "CREATE TABLE conn_agreement("
     " id TEXT PRIMARY KEY NOT NULL,"
     " negotiation_id TEXT NOT NULL REFERENCES conn_negotiation(id),"
     " asset_id TEXT, provider_did TEXT, consumer_did TEXT,"
     " policy_json TEXT NOT NULL,"
     " signed_ms INTEGER NOT NULL);"
     "CREATE INDEX conn_agreement_neg ON conn_agreement(negotiation_id);"
     "CREATE TABLE conn_transfer("
     " id TEXT PRIMARY KEY NOT NULL,"
     " role TEXT NOT NULL CHECK(role IN ('provider', 'consumer')),"
     " state TEXT NOT NULL,"
     " consumer_pid TEXT, provider_pid TEXT,"
     " agreement_id TEXT NOT NULL REFERENCES conn_agreement(id),"
     " counterparty_did TEXT, counterparty_url TEXT,"
     " transfer_type TEXT, data_address_json TEXT, dest_path TEXT,"
     " bytes INTEGER NOT NULL DEFAULT 0, sha256 TEXT, error TEXT,"
     " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
     "CREATE UNIQUE INDEX conn_transfer_cpid ON conn_transfer(role, consumer_pid);"
     "CREATE UNIQUE INDEX conn_transfer_ppid ON conn_transfer(role, provider_pid);"
     "CREATE INDEX conn_transfer_agreement ON conn_transfer(agreement_id);"
     "CREATE TABLE conn_outbox("
     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
     " entity TEXT NOT NULL CHECK(entity IN ('negotiation', 'transfer')),"
     " entity_id TEXT NOT NULL,"
     " method TEXT NOT NULL, url TEXT NOT NULL, body TEXT, on_ack TEXT,"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " next_ms INTEGER NOT NULL,"
     " last_error TEXT,"
     " created_ms INTEGER NOT NULL);"
     "CREATE INDEX conn_outbox_entity ON conn_outbox(entity, entity_id, id);"
     "CREATE TABLE conn_jti("
     " issuer TEXT NOT NULL, jti TEXT NOT NULL, exp_ms INTEGER NOT NULL,"
     " PRIMARY KEY(issuer, jti)) WITHOUT ROWID;"},
};

/* ---------------------------------------------------------------- column tables */

enum coltype { COL_TEXT, COL_I64, COL_INT };

struct col {
    enum coltype type;
    size_t off;    /* offset of the field in its struct */
    size_t max;    /* COL_TEXT: longest value in bytes */
    bool required; /* COL_TEXT: NULL or "" refused */
    bool secret;   /* COL_TEXT: may hold a bearer token, wiped when freed */
    const char *name;
};

struct ent {
    const char *what; /* for messages */
    const struct col *cols;
    size_t ncols;
    size_t size; /* of the struct */
};

#define T(s, f, mx, req) {COL_TEXT, offsetof(s, f), mx, req, false, #f}
#define SECRET(s, f, mx) {COL_TEXT, offsetof(s, f), mx, false, true, #f}
#define I64(s, f) {COL_I64, offsetof(s, f), 0, false, false, #f}
#define INT(s, f) {COL_INT, offsetof(s, f), 0, false, false, #f}

#define IDM TSR_STORE_ID_MAX
#define TXM TSR_STORE_TEXT_MAX
#define JSM TSR_STORE_JSON_MAX

static const struct col asset_cols[] = {
    T(struct tsr_store_asset, id, IDM, true),
    T(struct tsr_store_asset, title, TXM, false),
    T(struct tsr_store_asset, description, JSM, false),
    T(struct tsr_store_asset, keywords, TXM, false),
    T(struct tsr_store_asset, media_type, TXM, false),
    T(struct tsr_store_asset, source_kind, TXM, true),
    T(struct tsr_store_asset, source, TXM, true),
    I64(struct tsr_store_asset, size),
    T(struct tsr_store_asset, sha256, TXM, false),
    I64(struct tsr_store_asset, created_ms),
};
#define ASSET_COLS                                                                                \
    "id, title, description, keywords, media_type, source_kind, source, size, sha256, created_ms"
#define ASSET_VALS "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10"

static const struct col policy_cols[] = {
    T(struct tsr_store_policy, id, IDM, true),
    T(struct tsr_store_policy, body, JSM, true),
    I64(struct tsr_store_policy, created_ms),
};
#define POLICY_COLS "id, body, created_ms"

static const struct col offer_cols[] = {
    T(struct tsr_store_offer, id, IDM, true),
    T(struct tsr_store_offer, asset_id, IDM, true),
    T(struct tsr_store_offer, policy_id, IDM, true),
    I64(struct tsr_store_offer, created_ms),
};
#define OFFER_COLS "id, asset_id, policy_id, created_ms"

static const struct col neg_cols[] = {
    T(struct tsr_store_neg, id, IDM, true),
    T(struct tsr_store_neg, role, TXM, true),
    T(struct tsr_store_neg, state, TXM, true),
    T(struct tsr_store_neg, consumer_pid, IDM, false),
    T(struct tsr_store_neg, provider_pid, IDM, false),
    T(struct tsr_store_neg, counterparty_did, TXM, false),
    T(struct tsr_store_neg, counterparty_url, TXM, false),
    T(struct tsr_store_neg, offer_id, TXM, false),
    T(struct tsr_store_neg, asset_id, TXM, false),
    T(struct tsr_store_neg, offer_json, JSM, false),
    T(struct tsr_store_neg, agreement_id, IDM, false),
    T(struct tsr_store_neg, error, TXM, false),
    I64(struct tsr_store_neg, created_ms),
    I64(struct tsr_store_neg, updated_ms),
};
#define NEG_COLS                                                                                  \
    "id, role, state, consumer_pid, provider_pid, counterparty_did, counterparty_url, "          \
    "offer_id, asset_id, offer_json, agreement_id, error, created_ms, updated_ms"
#define NEG_VALS "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14"

static const struct col agreement_cols[] = {
    T(struct tsr_store_agreement, id, IDM, true),
    T(struct tsr_store_agreement, negotiation_id, IDM, true),
    T(struct tsr_store_agreement, asset_id, TXM, false),
    T(struct tsr_store_agreement, provider_did, TXM, false),
    T(struct tsr_store_agreement, consumer_did, TXM, false),
    T(struct tsr_store_agreement, policy_json, JSM, true),
    I64(struct tsr_store_agreement, signed_ms),
};
#define AGREEMENT_COLS                                                                            \
    "id, negotiation_id, asset_id, provider_did, consumer_did, policy_json, signed_ms"

static const struct col tp_cols[] = {
    T(struct tsr_store_tp, id, IDM, true),
    T(struct tsr_store_tp, role, TXM, true),
    T(struct tsr_store_tp, state, TXM, true),
    T(struct tsr_store_tp, consumer_pid, IDM, false),
    T(struct tsr_store_tp, provider_pid, IDM, false),
    T(struct tsr_store_tp, agreement_id, IDM, true),
    T(struct tsr_store_tp, counterparty_did, TXM, false),
    T(struct tsr_store_tp, counterparty_url, TXM, false),
    T(struct tsr_store_tp, transfer_type, TXM, false),
    SECRET(struct tsr_store_tp, data_address_json, JSM),
    T(struct tsr_store_tp, dest_path, TXM, false),
    I64(struct tsr_store_tp, bytes),
    T(struct tsr_store_tp, sha256, TXM, false),
    T(struct tsr_store_tp, error, TXM, false),
    I64(struct tsr_store_tp, created_ms),
    I64(struct tsr_store_tp, updated_ms),
};
#define TP_COLS                                                                                   \
    "id, role, state, consumer_pid, provider_pid, agreement_id, counterparty_did, "              \
    "counterparty_url, transfer_type, data_address_json, dest_path, bytes, sha256, error, "      \
    "created_ms, updated_ms"
#define TP_VALS "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16"

static const struct col outbox_cols[] = {
    I64(struct tsr_store_outbox_msg, id),
    T(struct tsr_store_outbox_msg, entity, TXM, true),
    T(struct tsr_store_outbox_msg, entity_id, IDM, true),
    T(struct tsr_store_outbox_msg, method, 16, true),
    T(struct tsr_store_outbox_msg, url, TXM, true),
    T(struct tsr_store_outbox_msg, body, JSM, false),
    T(struct tsr_store_outbox_msg, on_ack, TXM, false),
    INT(struct tsr_store_outbox_msg, attempts),
    I64(struct tsr_store_outbox_msg, next_ms),
    T(struct tsr_store_outbox_msg, last_error, TXM, false),
    I64(struct tsr_store_outbox_msg, created_ms),
};
#define OUTBOX_COLS                                                                               \
    "id, entity, entity_id, method, url, body, on_ack, attempts, next_ms, last_error, created_ms"

#define ENT(name, type, cols) {name, cols, TSR_ARRAY_SIZE(cols), sizeof(type)}

static const struct ent asset_ent = ENT("asset", struct tsr_store_asset, asset_cols);
static const struct ent policy_ent = ENT("policy", struct tsr_store_policy, policy_cols);
static const struct ent offer_ent = ENT("offer", struct tsr_store_offer, offer_cols);
static const struct ent neg_ent = ENT("negotiation", struct tsr_store_neg, neg_cols);
static const struct ent agreement_ent =
    ENT("agreement", struct tsr_store_agreement, agreement_cols);
static const struct ent tp_ent = ENT("transfer", struct tsr_store_tp, tp_cols);
static const struct ent outbox_ent = ENT("outbox message", struct tsr_store_outbox_msg,
                                         outbox_cols);

static char **text_at(void *obj, const struct col *c)
{
    return (char **)((char *)obj + c->off);
}

static const char *ctext_at(const void *obj, const struct col *c)
{
    return *(char *const *)((const char *)obj + c->off);
}

static int64_t *i64_at(void *obj, const struct col *c)
{
    return (int64_t *)((char *)obj + c->off);
}

static int64_t ci64_at(const void *obj, const struct col *c)
{
    return *(const int64_t *)((const char *)obj + c->off);
}

static int *int_at(void *obj, const struct col *c)
{
    return (int *)((char *)obj + c->off);
}

static int cint_at(const void *obj, const struct col *c)
{
    return *(const int *)((const char *)obj + c->off);
}

/* Free the text fields of obj and zero it. */
static void ent_cleanup(const struct ent *e, void *obj)
{
    if (obj == NULL)
        return;
    for (size_t i = 0; i < e->ncols; i++) {
        const struct col *c = &e->cols[i];

        if (c->type == COL_TEXT && c->secret)
            tsr_free_secret(*text_at(obj, c));
        else if (c->type == COL_TEXT)
            tsr_free(*text_at(obj, c));
    }
    memset(obj, 0, e->size);
}

static void ent_array_free(const struct ent *e, void *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        ent_cleanup(e, (char *)v + i * e->size);
    tsr_free(v);
}

/* Check the required fields are present and every text within its limit. */
static int ent_check(const struct ent *e, const void *obj, struct tsr_diag *d)
{
    for (size_t i = 0; i < e->ncols; i++) {
        const struct col *c = &e->cols[i];
        if (c->type != COL_TEXT)
            continue;
        const char *s = ctext_at(obj, c);
        if (s == NULL || s[0] == '\0') {
            if (c->required)
                return tsr_diag_set(d, TSR_EINVAL, "%s: %s is required", e->what, c->name);
            continue;
        }
        if (strnlen(s, c->max + 1) > c->max)
            return tsr_diag_set(d, TSR_ELIMIT, "%s: %s longer than %zu bytes", e->what,
                                c->name, c->max);
    }
    return 0;
}

/* Bind the text of s as parameter i (NULL and "" become SQL NULL). */
static void bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
    if (s == NULL || s[0] == '\0')
        sqlite3_bind_null(stmt, i);
    else
        sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
}

/*
 * Bind every column of obj, column k as parameter k + 1.  The strings are
 * bound SQLITE_STATIC: obj must outlive the step.
 */
static void ent_bind(const struct ent *e, sqlite3_stmt *stmt, const void *obj)
{
    for (size_t i = 0; i < e->ncols; i++) {
        const struct col *c = &e->cols[i];
        int k = (int)i + 1;

        switch (c->type) {
        case COL_TEXT: bind_text(stmt, k, ctext_at(obj, c)); break;
        case COL_I64: sqlite3_bind_int64(stmt, k, ci64_at(obj, c)); break;
        case COL_INT: sqlite3_bind_int(stmt, k, cint_at(obj, c)); break;
        }
    }
}

/* Read the current row into obj (zeroed by the caller). */
static int ent_read(const struct ent *e, sqlite3_stmt *stmt, void *obj, struct tsr_diag *d)
{
    for (size_t i = 0; i < e->ncols; i++) {
        const struct col *c = &e->cols[i];
        int k = (int)i;

        switch (c->type) {
        case COL_TEXT: {
            if (sqlite3_column_type(stmt, k) == SQLITE_NULL)
                break;
            const unsigned char *t = sqlite3_column_text(stmt, k);
            if (t == NULL)
                return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            char *s = tsr_strndup((const char *)t, (size_t)sqlite3_column_bytes(stmt, k));
            if (s == NULL)
                return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            *text_at(obj, c) = s;
            break;
        }
        case COL_I64: *i64_at(obj, c) = sqlite3_column_int64(stmt, k); break;
        case COL_INT: *int_at(obj, c) = sqlite3_column_int(stmt, k); break;
        }
    }
    return 0;
}

/*
 * Step stmt (already bound) to the end, reading up to max rows of e into
 * a new array *out of *n elements (NULL when none).  Resets stmt.
 */
static int ent_fetch(struct tsr_store *st, const struct ent *e, sqlite3_stmt *stmt, size_t max,
                     void **out, size_t *n, struct tsr_diag *d)
{
    char *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    for (;;) {
        rc = tsr_db_step(st->db, stmt, d);
        if (rc < 0)
            goto out;
        if (rc == 0 || cnt == max)
            break;
        if (cnt == cap) {
            size_t ncap = cap == 0 ? 8 : cap * 2;
            char *p = tsr_realloc(arr, ncap * e->size);
            if (p == NULL) {
                rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
                goto out;
            }
            arr = p;
            cap = ncap;
        }
        void *obj = arr + cnt * e->size;
        memset(obj, 0, e->size);
        cnt++;
        rc = ent_read(e, stmt, obj, d);
        if (rc != 0)
            goto out;
    }
    *out = arr;
    *n = cnt;
    arr = NULL;
    rc = 0;
out:
    tsr_db_reset(stmt);
    if (arr != NULL)
        ent_array_free(e, arr, cnt);
    return rc;
}

/* Fetch exactly one row as a new object; TSR_ENOTFOUND naming what/id when none. */
static int ent_fetch_one(struct tsr_store *st, const struct ent *e, sqlite3_stmt *stmt,
                         const char *id, void **out, struct tsr_diag *d)
{
    size_t n = 0;
    int rc = ent_fetch(st, e, stmt, 1, out, &n, d);

    if (rc != 0)
        return rc;
    if (n == 0)
        return tsr_diag_set(d, TSR_ENOTFOUND, "no %s \"%s\"", e->what, id);
    return 0;
}

/* ---------------------------------------------------------------- helpers */

static int64_t now_or(int64_t ms)
{
    return ms != 0 ? ms : tsr_time_now_ms();
}

static size_t list_limit(const struct tsr_store_filter *f)
{
    if (f == NULL || f->limit == 0)
        return TSR_STORE_LIST_DEFAULT;
    return TSR_MIN(f->limit, (size_t)TSR_STORE_LIST_MAX);
}

static int64_t list_offset(const struct tsr_store_filter *f)
{
    if (f == NULL)
        return 0;
    return f->offset > (size_t)INT64_MAX ? INT64_MAX : (int64_t)f->offset;
}

static bool valid_role(const char *role)
{
    return role != NULL && (strcmp(role, TSR_STORE_ROLE_PROVIDER) == 0 ||
                            strcmp(role, TSR_STORE_ROLE_CONSUMER) == 0);
}

bool tsr_store_id_valid(const char *id)
{
    size_t n = 0;

    if (id == NULL)
        return false;
    for (; id[n] != '\0'; n++) {
        char c = id[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok || n >= TSR_STORE_ID_MAX)
            return false;
    }
    return n > 0;
}

bool tsr_store_pid_valid(const char *pid)
{
    size_t n = 0;

    if (pid == NULL)
        return false;
    for (; pid[n] != '\0'; n++) {
        unsigned char c = (unsigned char)pid[n];
        if (c <= 0x20 || c >= 0x7f || n >= TSR_STORE_ID_MAX)
            return false;
    }
    return n > 0;
}

static int check_pid(const char *what, const char *field, const char *pid, bool required,
                     struct tsr_diag *d)
{
    if (pid == NULL || pid[0] == '\0') {
        if (required)
            return tsr_diag_set(d, TSR_EINVAL, "%s: %s is required", what, field);
        return 0;
    }
    if (!tsr_store_pid_valid(pid))
        return tsr_diag_set(d, TSR_EINVAL,
                            "%s: %s must be 1 to %d printable ASCII characters without spaces",
                            what, field, TSR_STORE_ID_MAX);
    return 0;
}

static int check_id(const char *what, const char *id, struct tsr_diag *d)
{
    if (!tsr_store_id_valid(id))
        return tsr_diag_set(d, TSR_EINVAL,
                            "%s: id must be 1 to %d characters of A-Z a-z 0-9 . _ : -", what,
                            TSR_STORE_ID_MAX);
    return 0;
}

/* Check that s (not NULL) is JSON of the given jansson type. */
static int check_json(const char *what, const char *field, const char *s, json_type type,
                      struct tsr_diag *d)
{
    json_t *j = NULL;
    int rc = tsr_json_parse(s, strlen(s), NULL, &j, d);

    if (rc != 0)
        return tsr_diag_prefix(d, "%s: %s", what, field);
    if (json_typeof(j) != type)
        rc = tsr_diag_set(d, TSR_EINVAL, "%s: %s must be a JSON %s", what, field,
                          type == JSON_ARRAY ? "array" : "object");
    json_decref(j);
    return rc;
}

static int check_len(const char *what, const char *field, const char *s, size_t max,
                     struct tsr_diag *d)
{
    if (s != NULL && strnlen(s, max + 1) > max)
        return tsr_diag_set(d, TSR_ELIMIT, "%s: %s longer than %zu bytes", what, field, max);
    return 0;
}

/*
 * Explain a failed write: a constraint violation becomes TSR_EEXIST
 * (primary key or unique pid), TSR_ENOTFOUND (an INSERT referring to a
 * missing row) or TSR_ECONFLICT (a DELETE of a referenced row); other
 * errors keep their code.  rc is tsr_db_step's result.
 */
static int write_fail(struct tsr_store *st, int rc, const char *what, const char *id,
                      struct tsr_diag *d)
{
    sqlite3 *h = tsr_db_handle(st->db);

    if (rc != TSR_ECONFLICT)
        return tsr_diag_prefix(d, "%s \"%s\"", what, id);
    switch (sqlite3_extended_errcode(h)) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return tsr_diag_set(d, TSR_EEXIST, "%s \"%s\" already exists", what, id);
    case SQLITE_CONSTRAINT_UNIQUE:
        return tsr_diag_set(d, TSR_EEXIST, "%s \"%s\": %s", what, id, sqlite3_errmsg(h));
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return tsr_diag_set(d, TSR_ECONFLICT, "%s \"%s\" refers to or is referred to by "
                            "another object", what, id);
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return tsr_diag_set(d, TSR_EINVAL, "%s \"%s\": %s", what, id, sqlite3_errmsg(h));
    default:
        return tsr_diag_set(d, TSR_ECONFLICT, "%s \"%s\": %s", what, id, sqlite3_errmsg(h));
    }
}

/* Run a bound write statement; on failure explain it.  Resets stmt. */
static int run_write(struct tsr_store *st, sqlite3_stmt *stmt, const char *what, const char *id,
                     struct tsr_diag *d)
{
    int rc = tsr_db_step(st->db, stmt, d);

    tsr_db_reset(stmt);
    if (rc < 0)
        return write_fail(st, rc, what, id, d);
    return 0;
}

/* Run sql, an INSERT of e's columns as ?1..?n, with obj's fields; explain a failure. */
static int ent_insert(struct tsr_store *st, const struct ent *e, const char *sql, const void *obj,
                      const char *id, struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc = tsr_db_prepare(st->db, sql, &stmt, d);

    if (rc != 0)
        return rc;
    ent_bind(e, stmt, obj);
    return run_write(st, stmt, e->what, id, d);
}

/*
 * How many bytes of s to keep so that it fits max: all of it, or a prefix
 * cut before a UTF-8 continuation byte.  Failure text from peers can be
 * long; keeping its start beats refusing the state change it explains.
 */
static size_t prefix_len(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);

    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

/* Bind error text (NULL stays NULL), cut to TSR_STORE_TEXT_MAX bytes. */
static void bind_error(sqlite3_stmt *stmt, int i, const char *s)
{
    if (s == NULL)
        sqlite3_bind_null(stmt, i);
    else
        sqlite3_bind_text(stmt, i, s, (int)prefix_len(s, TSR_STORE_TEXT_MAX), SQLITE_STATIC);
}

static int changes(struct tsr_store *st)
{
    return sqlite3_changes(tsr_db_handle(st->db));
}

/* Does `SELECT 1 ... WHERE key = ?1` find a row?  *found gets the answer. */
static int exists(struct tsr_store *st, const char *sql, const char *key, bool *found,
                  struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc = tsr_db_prepare(st->db, sql, &stmt, d);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    rc = tsr_db_step(st->db, stmt, d);
    tsr_db_reset(stmt);
    if (rc < 0)
        return rc;
    *found = rc == 1;
    return 0;
}

/* The first text column of `SELECT x ... WHERE key = ?1`, new, or NULL when no row. */
static int select_text(struct tsr_store *st, const char *sql, const char *key, char **out,
                       struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc = tsr_db_prepare(st->db, sql, &stmt, d);

    *out = NULL;
    if (rc != 0)
        return rc;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    rc = tsr_db_step(st->db, stmt, d);
    if (rc == 1) {
        const unsigned char *t = sqlite3_column_text(stmt, 0);
        *out = tsr_strdup(t != NULL ? (const char *)t : "");
        rc = *out == NULL ? tsr_diag_set(d, TSR_ENOMEM, "out of memory") : 0;
    }
    tsr_db_reset(stmt);
    return rc < 0 ? rc : 0;
}

/* Get one object by its id with sql (`SELECT cols FROM t WHERE id = ?1`). */
static int get_by_id(struct tsr_store *st, const struct ent *e, const char *sql, const char *id,
                     void **out, struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc;

    *out = NULL;
    if (id == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "%s: no id", e->what);
    rc = tsr_db_prepare(st->db, sql, &stmt, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    return ent_fetch_one(st, e, stmt, id, out, d);
}

/*
 * List with sql taking ?1 limit, ?2 offset and, when with_filter, ?3 role
 * and ?4 state (NULL: any).
 */
static int list_rows(struct tsr_store *st, const struct ent *e, const char *sql,
                     const struct tsr_store_filter *f, bool with_filter, void **out, size_t *n,
                     struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    size_t limit = list_limit(f);
    int rc;

    *out = NULL;
    *n = 0;
    rc = tsr_db_prepare(st->db, sql, &stmt, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, (int64_t)limit);
    sqlite3_bind_int64(stmt, 2, list_offset(f));
    if (with_filter && f != NULL) {
        bind_text(stmt, 3, f->role);
        bind_text(stmt, 4, f->state);
    }
    return ent_fetch(st, e, stmt, limit, out, n, d);
}

/* Delete by id with sql (`DELETE FROM t WHERE id = ?1`); TSR_ENOTFOUND when no row. */
static int delete_by_id(struct tsr_store *st, const char *what, const char *sql, const char *id,
                        struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc = tsr_db_prepare(st->db, sql, &stmt, d);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    rc = run_write(st, stmt, what, id, d);
    if (rc != 0)
        return rc;
    if (changes(st) == 0)
        return tsr_diag_set(d, TSR_ENOTFOUND, "no %s \"%s\"", what, id);
    return 0;
}

static int begin(struct tsr_store *st, struct tsr_diag *d)
{
    return tsr_db_begin(st->db, d);
}

/* Commit when rc is 0, otherwise roll back; returns the final result. */
static int finish(struct tsr_store *st, int rc, struct tsr_diag *d)
{
    if (rc == 0)
        return tsr_db_commit(st->db, d);
    tsr_db_rollback(st->db, NULL);
    return rc;
}

/* ---------------------------------------------------------------- store */

/*
 * Create a missing database file as 0600 before SQLite does (0644): it
 * holds data addresses with bearer tokens, and SQLite gives the -wal and
 * -shm files the main file's mode.  An empty file is a valid new database.
 */
static int create_private(const char *path, struct tsr_diag *d)
{
    int fd;

    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return 0;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return 0;
        return tsr_diag_set(d, TSR_EIO, "%s: %s", path, strerror(errno));
    }
    close(fd);
    return 0;
}

int tsr_store_open(const char *path, struct tsr_store **out, struct tsr_diag *d)
{
    struct tsr_db_options opts = {.stmt_cache_max = STORE_STMT_CACHE};
    struct tsr_store *st = NULL;
    int rc;

    *out = NULL;
    if (path == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "store: no path");
    rc = create_private(path, d);
    if (rc != 0)
        return rc;
    st = tsr_calloc(1, sizeof(*st));
    if (st == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    rc = tsr_db_open_opts(path, &opts, &st->db, d);
    if (rc != 0)
        goto out;
    rc = tsr_db_migrate(st->db, "connector", migrations, TSR_ARRAY_SIZE(migrations), d);
    if (rc != 0) {
        tsr_diag_prefix(d, "%s", path);
        goto out;
    }
    *out = st;
    st = NULL;
out:
    tsr_store_close(st);
    return rc;
}

void tsr_store_close(struct tsr_store *st)
{
    if (st == NULL)
        return;
    tsr_db_close(st->db);
    tsr_free(st);
}

struct tsr_db *tsr_store_db(struct tsr_store *st)
{
    return st->db;
}

/* ---------------------------------------------------------------- assets */

int tsr_store_asset_put(struct tsr_store *st, const struct tsr_store_asset *a,
                        struct tsr_diag *d)
{
    struct tsr_store_asset c = *a;
    int rc;

    if ((rc = check_id("asset", a->id, d)) != 0 || (rc = ent_check(&asset_ent, a, d)) != 0)
        return rc;
    if (strcmp(a->source_kind, "file") != 0 && strcmp(a->source_kind, "url") != 0)
        return tsr_diag_set(d, TSR_EINVAL, "asset: source_kind must be \"file\" or \"url\"");
    if (a->size < -1)
        return tsr_diag_set(d, TSR_EINVAL, "asset: size must be -1 (unknown) or more");
    if (a->keywords != NULL && a->keywords[0] != '\0' &&
        (rc = check_json("asset", "keywords", a->keywords, JSON_ARRAY, d)) != 0)
        return rc;
    c.created_ms = now_or(a->created_ms);
    return ent_insert(st, &asset_ent,
                      "INSERT INTO conn_asset(" ASSET_COLS ") VALUES(" ASSET_VALS ")", &c,
                      a->id, d);
}

int tsr_store_asset_get(struct tsr_store *st, const char *id, struct tsr_store_asset **out,
                        struct tsr_diag *d)
{
    return tsr_store_obj_get(st, TSR_STORE_KIND_ASSET, id, (void **)out, d);
}

int tsr_store_asset_list(struct tsr_store *st, const struct tsr_store_filter *f,
                         struct tsr_store_asset **out, size_t *n, struct tsr_diag *d)
{
    return tsr_store_obj_list(st, TSR_STORE_KIND_ASSET, f, (void **)out, n, d);
}

int tsr_store_asset_delete(struct tsr_store *st, const char *id, struct tsr_diag *d)
{
    return tsr_store_obj_delete(st, TSR_STORE_KIND_ASSET, id, d);
}

void tsr_store_asset_free(struct tsr_store_asset *a)
{
    tsr_store_obj_free(TSR_STORE_KIND_ASSET, a);
}

void tsr_store_asset_array_free(struct tsr_store_asset *v, size_t n)
{
    tsr_store_obj_array_free(TSR_STORE_KIND_ASSET, v, n);
}

/* ---------------------------------------------------------------- policies */

int tsr_store_policy_put(struct tsr_store *st, const struct tsr_store_policy *p,
                         struct tsr_diag *d)
{
    struct tsr_store_policy c = *p;
    int rc;

    if ((rc = check_id("policy", p->id, d)) != 0 || (rc = ent_check(&policy_ent, p, d)) != 0 ||
        (rc = check_json("policy", "body", p->body, JSON_OBJECT, d)) != 0)
        return rc;
    c.created_ms = now_or(p->created_ms);
    return ent_insert(st, &policy_ent,
                      "INSERT INTO conn_policy(" POLICY_COLS ") VALUES(?1, ?2, ?3)", &c, p->id,
                      d);
}

int tsr_store_policy_get(struct tsr_store *st, const char *id, struct tsr_store_policy **out,
                         struct tsr_diag *d)
{
    return tsr_store_obj_get(st, TSR_STORE_KIND_POLICY, id, (void **)out, d);
}

int tsr_store_policy_list(struct tsr_store *st, const struct tsr_store_filter *f,
                          struct tsr_store_policy **out, size_t *n, struct tsr_diag *d)
{
    return tsr_store_obj_list(st, TSR_STORE_KIND_POLICY, f, (void **)out, n, d);
}

int tsr_store_policy_delete(struct tsr_store *st, const char *id, struct tsr_diag *d)
{
    return tsr_store_obj_delete(st, TSR_STORE_KIND_POLICY, id, d);
}

void tsr_store_policy_free(struct tsr_store_policy *p)
{
    tsr_store_obj_free(TSR_STORE_KIND_POLICY, p);
}

void tsr_store_policy_array_free(struct tsr_store_policy *v, size_t n)
{
    tsr_store_obj_array_free(TSR_STORE_KIND_POLICY, v, n);
}

/* ---------------------------------------------------------------- offers */

int tsr_store_offer_put(struct tsr_store *st, const struct tsr_store_offer *o,
                        struct tsr_diag *d)
{
    struct tsr_store_offer c = *o;
    bool found = false;
    int rc;

    if ((rc = check_id("offer", o->id, d)) != 0 || (rc = ent_check(&offer_ent, o, d)) != 0)
        return rc;
    c.created_ms = now_or(o->created_ms);
    rc = begin(st, d);
    if (rc != 0)
        return rc;
    rc = exists(st, "SELECT 1 FROM conn_asset WHERE id = ?1", o->asset_id, &found, d);
    if (rc == 0 && !found)
        rc = tsr_diag_set(d, TSR_ENOTFOUND, "offer \"%s\": no asset \"%s\"", o->id, o->asset_id);
    if (rc == 0)
        rc = exists(st, "SELECT 1 FROM conn_policy WHERE id = ?1", o->policy_id, &found, d);
    if (rc == 0 && !found)
        rc = tsr_diag_set(d, TSR_ENOTFOUND, "offer \"%s\": no policy \"%s\"", o->id,
                          o->policy_id);
    if (rc == 0)
        rc = ent_insert(st, &offer_ent,
                        "INSERT INTO conn_offer(" OFFER_COLS ") VALUES(?1, ?2, ?3, ?4)", &c,
                        o->id, d);
    return finish(st, rc, d);
}

int tsr_store_offer_get(struct tsr_store *st, const char *id, struct tsr_store_offer **out,
                        struct tsr_diag *d)
{
    return tsr_store_obj_get(st, TSR_STORE_KIND_OFFER, id, (void **)out, d);
}

int tsr_store_offer_list(struct tsr_store *st, const struct tsr_store_filter *f,
                         struct tsr_store_offer **out, size_t *n, struct tsr_diag *d)
{
    return tsr_store_obj_list(st, TSR_STORE_KIND_OFFER, f, (void **)out, n, d);
}

int tsr_store_offer_list_by_asset(struct tsr_store *st, const char *asset_id,
                                  struct tsr_store_offer **out, size_t *n, struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc;

    *out = NULL;
    *n = 0;
    if (asset_id == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "offer: no asset id");
    rc = tsr_db_prepare(st->db,
                        "SELECT " OFFER_COLS " FROM conn_offer WHERE asset_id = ?1 "
                        "ORDER BY rowid LIMIT ?2",
                        &stmt, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(stmt, 1, asset_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, TSR_STORE_LIST_MAX);
    return ent_fetch(st, &offer_ent, stmt, TSR_STORE_LIST_MAX, (void **)out, n, d);
}

int tsr_store_offer_delete(struct tsr_store *st, const char *id, struct tsr_diag *d)
{
    return tsr_store_obj_delete(st, TSR_STORE_KIND_OFFER, id, d);
}

void tsr_store_offer_free(struct tsr_store_offer *o)
{
    tsr_store_obj_free(TSR_STORE_KIND_OFFER, o);
}

void tsr_store_offer_array_free(struct tsr_store_offer *v, size_t n)
{
    tsr_store_obj_array_free(TSR_STORE_KIND_OFFER, v, n);
}

/* ---------------------------------------------------------------- outbox */

/*
 * Insert m for entity/entity_id (which override m's own when not NULL)
 * with the times resolved against now.  *id_out (may be NULL) gets the id.
 */
static int outbox_insert(struct tsr_store *st, const struct tsr_store_outbox_msg *m,
                         const char *entity, const char *entity_id, int64_t now,
                         int64_t *id_out, struct tsr_diag *d)
{
    struct tsr_store_outbox_msg c = *m;
    sqlite3_stmt *stmt;
    int rc;

    if (entity != NULL)
        c.entity = (char *)entity;
    if (entity_id != NULL)
        c.entity_id = (char *)entity_id;
    c.id = 0;
    c.attempts = 0;
    c.last_error = NULL;
    c.next_ms = m->next_ms != 0 ? m->next_ms : now;
    c.created_ms = m->created_ms != 0 ? m->created_ms : now;
    rc = ent_check(&outbox_ent, &c, d);
    if (rc != 0)
        return rc;
    if (strcmp(c.entity, TSR_STORE_ENTITY_NEG) != 0 && strcmp(c.entity, TSR_STORE_ENTITY_TP) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "outbox message: entity must be \"%s\" or \"%s\"",
                            TSR_STORE_ENTITY_NEG, TSR_STORE_ENTITY_TP);
    /* ?1 (the id) stays unbound: the row id is chosen by SQLite. */
    rc = tsr_db_prepare(st->db,
                        "INSERT INTO conn_outbox(entity, entity_id, method, url, body, on_ack, "
                        "attempts, next_ms, last_error, created_ms) "
                        "VALUES(?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        &stmt, d);
    if (rc != 0)
        return rc;
    ent_bind(&outbox_ent, stmt, &c);
    rc = run_write(st, stmt, "outbox message for", c.entity_id, d);
    if (rc != 0)
        return rc;
    if (id_out != NULL)
        *id_out = sqlite3_last_insert_rowid(tsr_db_handle(st->db));
    return 0;
}

int tsr_store_outbox_put(struct tsr_store *st, const struct tsr_store_outbox_msg *m,
                         int64_t *id_out, struct tsr_diag *d)
{
    return outbox_insert(st, m, NULL, NULL, tsr_time_now_ms(), id_out, d);
}

/* An outbox row is the head of its entity's queue when no older row of that entity exists. */
#define OUTBOX_HEAD                                                                               \
    "NOT EXISTS (SELECT 1 FROM conn_outbox p WHERE p.entity = o.entity AND "                     \
    "p.entity_id = o.entity_id AND p.id < o.id)"

int tsr_store_outbox_due(struct tsr_store *st, int64_t now_ms, size_t max,
                         struct tsr_store_outbox_msg **out, size_t *n, struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc;

    *out = NULL;
    *n = 0;
    if (max == 0 || max > TSR_STORE_LIST_MAX)
        max = TSR_STORE_LIST_MAX;
    rc = tsr_db_prepare(st->db,
                        "SELECT o.id, o.entity, o.entity_id, o.method, o.url, o.body, o.on_ack, "
                        "o.attempts, o.next_ms, o.last_error, o.created_ms FROM conn_outbox o "
                        "WHERE o.next_ms <= ?1 AND " OUTBOX_HEAD " ORDER BY o.next_ms, o.id "
                        "LIMIT ?2",
                        &stmt, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, now_ms);
    sqlite3_bind_int64(stmt, 2, (int64_t)max);
    return ent_fetch(st, &outbox_ent, stmt, max, (void **)out, n, d);
}

int tsr_store_outbox_done(struct tsr_store *st, int64_t id, struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc = tsr_db_prepare(st->db, "DELETE FROM conn_outbox WHERE id = ?1", &stmt, d);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    rc = tsr_db_step(st->db, stmt, d);
    tsr_db_reset(stmt);
    if (rc < 0)
        return rc;
    if (changes(st) == 0)
        return tsr_diag_set(d, TSR_ENOTFOUND, "no outbox message %lld", (long long)id);
    return 0;
}

int tsr_store_outbox_retry(struct tsr_store *st, int64_t id, int64_t next_ms, const char *error,
                           struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc;

    rc = tsr_db_prepare(st->db,
                        "UPDATE conn_outbox SET attempts = attempts + 1, next_ms = ?2, "
                        "last_error = ?3 WHERE id = ?1",
                        &stmt, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, next_ms);
    bind_error(stmt, 3, error != NULL && error[0] != '\0' ? error : NULL);
    rc = tsr_db_step(st->db, stmt, d);
    tsr_db_reset(stmt);
    if (rc < 0)
        return rc;
    if (changes(st) == 0)
        return tsr_diag_set(d, TSR_ENOTFOUND, "no outbox message %lld", (long long)id);
    return 0;
}

int tsr_store_outbox_next_ms(struct tsr_store *st, int64_t *out_ms, struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc = tsr_db_prepare(st->db, "SELECT MIN(o.next_ms) FROM conn_outbox o WHERE " OUTBOX_HEAD,
                            &stmt, d);

    *out_ms = -1;
    if (rc != 0)
        return rc;
    rc = tsr_db_step(st->db, stmt, d);
    if (rc == 1 && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
        *out_ms = sqlite3_column_int64(stmt, 0);
    tsr_db_reset(stmt);
    return rc < 0 ? rc : 0;
}

int tsr_store_outbox_get(struct tsr_store *st, int64_t id, struct tsr_store_outbox_msg **out,
                         struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    size_t n = 0;
    int rc;

    *out = NULL;
    rc = tsr_db_prepare(st->db, "SELECT " OUTBOX_COLS " FROM conn_outbox WHERE id = ?1", &stmt,
                        d);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    rc = ent_fetch(st, &outbox_ent, stmt, 1, (void **)out, &n, d);
    if (rc == 0 && n == 0)
        rc = tsr_diag_set(d, TSR_ENOTFOUND, "no outbox message %lld", (long long)id);
    return rc;
}

int tsr_store_outbox_list_entity(struct tsr_store *st, const char *entity, const char *entity_id,
                                 struct tsr_store_outbox_msg **out, size_t *n,
                                 struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc;

    *out = NULL;
    *n = 0;
    if (entity == NULL || entity_id == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "outbox: no entity");
    rc = tsr_db_prepare(st->db,
                        "SELECT " OUTBOX_COLS " FROM conn_outbox WHERE entity = ?1 AND "
                        "entity_id = ?2 ORDER BY id LIMIT ?3",
                        &stmt, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(stmt, 1, entity, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, entity_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, TSR_STORE_LIST_MAX);
    return ent_fetch(st, &outbox_ent, stmt, TSR_STORE_LIST_MAX, (void **)out, n, d);
}

void tsr_store_outbox_free(struct tsr_store_outbox_msg *m)
{
    ent_cleanup(&outbox_ent, m);
    tsr_free(m);
}

void tsr_store_outbox_array_free(struct tsr_store_outbox_msg *v, size_t n)
{
    ent_array_free(&outbox_ent, v, n);
}

/* Delete outbox row id if it belongs to entity/entity_id; TSR_ENOTFOUND otherwise. */
static int outbox_done_for(struct tsr_store *st, int64_t id, const char *entity,
                           const char *entity_id, struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc = tsr_db_prepare(st->db,
                            "DELETE FROM conn_outbox WHERE id = ?1 AND entity = ?2 AND "
                            "entity_id = ?3",
                            &stmt, d);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, entity, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, entity_id, -1, SQLITE_STATIC);
    rc = tsr_db_step(st->db, stmt, d);
    tsr_db_reset(stmt);
    if (rc < 0)
        return rc;
    if (changes(st) == 0)
        return tsr_diag_set(d, TSR_ENOTFOUND, "no outbox message %lld for %s \"%s\"",
                            (long long)id, entity, entity_id);
    return 0;
}

/* Delete every outbox row of one entity. */
static int outbox_delete_entity(struct tsr_store *st, const char *entity, const char *entity_id,
                                struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc = tsr_db_prepare(st->db, "DELETE FROM conn_outbox WHERE entity = ?1 AND entity_id = ?2",
                            &stmt, d);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(stmt, 1, entity, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, entity_id, -1, SQLITE_STATIC);
    rc = tsr_db_step(st->db, stmt, d);
    tsr_db_reset(stmt);
    return rc < 0 ? rc : 0;
}

/*
 * After a compare-and-set UPDATE changed nothing: TSR_ENOTFOUND when the
 * row is missing, TSR_ESTATE naming its current state otherwise.
 */
static int explain_cas(struct tsr_store *st, const char *what, const char *sql, const char *id,
                       const char *expected, struct tsr_diag *d)
{
    char *cur = NULL;
    int rc = select_text(st, sql, id, &cur, d);

    if (rc != 0)
        return rc;
    if (cur == NULL)
        return tsr_diag_set(d, TSR_ENOTFOUND, "no %s \"%s\"", what, id);
    rc = tsr_diag_set(d, TSR_ESTATE, "%s \"%s\" is %s, not %s", what, id, cur,
                      expected != NULL ? expected : "(any)");
    tsr_free(cur);
    return rc;
}

/* ---------------------------------------------------------------- negotiations */

/* Validate a negotiation or transfer's role and pids, given our id. */
static int check_process(const char *what, const char *id, const char *role, const char *cpid,
                         const char *ppid, struct tsr_diag *d)
{
    int rc;

    if ((rc = check_pid(what, "id", id, true, d)) != 0 ||
        (rc = check_pid(what, "consumer_pid", cpid, false, d)) != 0 ||
        (rc = check_pid(what, "provider_pid", ppid, false, d)) != 0)
        return rc;
    if (!valid_role(role))
        return tsr_diag_set(d, TSR_EINVAL, "%s: role must be \"%s\" or \"%s\"", what,
                            TSR_STORE_ROLE_PROVIDER, TSR_STORE_ROLE_CONSUMER);
    /* Our own pid is the id: a different value would make the find functions lie. */
    const char *own = strcmp(role, TSR_STORE_ROLE_CONSUMER) == 0 ? cpid : ppid;
    if (own != NULL && own[0] != '\0' && strcmp(own, id) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "%s \"%s\": as %s, its %s_pid must equal its id",
                            what, id, role, role);
    return 0;
}

int tsr_store_neg_create(struct tsr_store *st, const struct tsr_store_neg *n,
                         const struct tsr_store_outbox_msg *enqueue, struct tsr_diag *d)
{
    struct tsr_store_neg c = *n;
    int rc;

    if ((rc = ent_check(&neg_ent, n, d)) != 0 ||
        (rc = check_process("negotiation", n->id, n->role, n->consumer_pid, n->provider_pid,
                            d)) != 0)
        return rc;
    if (strcmp(n->role, TSR_STORE_ROLE_CONSUMER) == 0)
        c.consumer_pid = n->id;
    else
        c.provider_pid = n->id;
    c.created_ms = now_or(n->created_ms);
    c.updated_ms = c.created_ms;
    rc = begin(st, d);
    if (rc != 0)
        return rc;
    rc = ent_insert(st, &neg_ent,
                    "INSERT INTO conn_negotiation(" NEG_COLS ") VALUES(" NEG_VALS ")", &c,
                    n->id, d);
    if (rc == 0 && enqueue != NULL)
        rc = outbox_insert(st, enqueue, TSR_STORE_ENTITY_NEG, n->id, c.created_ms, NULL, d);
    return finish(st, rc, d);
}

int tsr_store_neg_get(struct tsr_store *st, const char *id, struct tsr_store_neg **out,
                      struct tsr_diag *d)
{
    return tsr_store_obj_get(st, TSR_STORE_KIND_NEG, id, (void **)out, d);
}

/* Find by (role, pid) with sql taking ?1 role and ?2 pid. */
static int find_pid(struct tsr_store *st, const struct ent *e, const char *sql, const char *role,
                    const char *pid, void **out, struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc;

    *out = NULL;
    if (role == NULL || pid == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "%s: no role or pid", e->what);
    rc = tsr_db_prepare(st->db, sql, &stmt, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(stmt, 1, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, pid, -1, SQLITE_STATIC);
    return ent_fetch_one(st, e, stmt, pid, out, d);
}

int tsr_store_neg_find_consumer_pid(struct tsr_store *st, const char *role,
                                    const char *consumer_pid, struct tsr_store_neg **out,
                                    struct tsr_diag *d)
{
    return find_pid(st, &neg_ent,
                    "SELECT " NEG_COLS " FROM conn_negotiation WHERE role = ?1 AND "
                    "consumer_pid = ?2",
                    role, consumer_pid, (void **)out, d);
}

int tsr_store_neg_find_provider_pid(struct tsr_store *st, const char *role,
                                    const char *provider_pid, struct tsr_store_neg **out,
                                    struct tsr_diag *d)
{
    return find_pid(st, &neg_ent,
                    "SELECT " NEG_COLS " FROM conn_negotiation WHERE role = ?1 AND "
                    "provider_pid = ?2",
                    role, provider_pid, (void **)out, d);
}

int tsr_store_neg_list(struct tsr_store *st, const struct tsr_store_filter *f,
                       struct tsr_store_neg **out, size_t *n, struct tsr_diag *d)
{
    return tsr_store_obj_list(st, TSR_STORE_KIND_NEG, f, (void **)out, n, d);
}

int tsr_store_neg_delete(struct tsr_store *st, const char *id, struct tsr_diag *d)
{
    return tsr_store_obj_delete(st, TSR_STORE_KIND_NEG, id, d);
}

void tsr_store_neg_free(struct tsr_store_neg *n)
{
    tsr_store_obj_free(TSR_STORE_KIND_NEG, n);
}

void tsr_store_neg_array_free(struct tsr_store_neg *v, size_t n)
{
    tsr_store_obj_array_free(TSR_STORE_KIND_NEG, v, n);
}

static int check_neg_update(const struct tsr_store_neg_update *u, struct tsr_diag *d)
{
    int rc;

    if ((rc = check_pid("negotiation", "provider_pid", u->provider_pid, false, d)) != 0 ||
        (rc = check_pid("negotiation", "agreement_id", u->agreement_id, false, d)) != 0 ||
        (rc = check_len("negotiation", "counterparty_did", u->counterparty_did, TXM, d)) != 0 ||
        (rc = check_len("negotiation", "counterparty_url", u->counterparty_url, TXM, d)) != 0 ||
        (rc = check_len("negotiation", "offer_json", u->offer_json, JSM, d)) != 0)
        return rc;
    return 0;
}

/* Bind a value that NULL leaves unchanged ("" too, except where the SQL says otherwise). */
static void bind_opt(sqlite3_stmt *stmt, int i, const char *s)
{
    if (s == NULL)
        sqlite3_bind_null(stmt, i);
    else
        sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
}

/* The compare-and-set UPDATE of a negotiation; then explain a miss. */
static int neg_cas(struct tsr_store *st, const char *id, const char *expected,
                   const char *new_state, const struct tsr_store_neg_update *u, int64_t now,
                   struct tsr_diag *d)
{
    static const struct tsr_store_neg_update none = {0};
    sqlite3_stmt *stmt;
    int rc;

    if (u == NULL)
        u = &none;
    rc = tsr_db_prepare(st->db,
                        "UPDATE conn_negotiation SET state = COALESCE(?3, state), "
                        "provider_pid = COALESCE(?4, provider_pid), "
                        "counterparty_did = COALESCE(?5, counterparty_did), "
                        "counterparty_url = COALESCE(?6, counterparty_url), "
                        "offer_json = COALESCE(?7, offer_json), "
                        "agreement_id = COALESCE(?8, agreement_id), "
                        "error = CASE WHEN ?9 IS NULL THEN error WHEN ?9 = '' THEN NULL "
                        "ELSE ?9 END, updated_ms = ?10 "
                        "WHERE id = ?1 AND (?2 IS NULL OR state = ?2)",
                        &stmt, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    bind_opt(stmt, 2, expected);
    bind_opt(stmt, 3, new_state);
    bind_text(stmt, 4, u->provider_pid);
    bind_text(stmt, 5, u->counterparty_did);
    bind_text(stmt, 6, u->counterparty_url);
    bind_text(stmt, 7, u->offer_json);
    bind_text(stmt, 8, u->agreement_id);
    bind_error(stmt, 9, u->error);
    sqlite3_bind_int64(stmt, 10, now);
    rc = run_write(st, stmt, "negotiation", id, d);
    if (rc != 0)
        return rc;
    if (changes(st) == 0)
        return explain_cas(st, "negotiation", "SELECT state FROM conn_negotiation WHERE id = ?1",
                           id, expected, d);
    return 0;
}

static int check_state(const char *what, const char *state, struct tsr_diag *d)
{
    if (state == NULL)
        return 0;
    if (state[0] == '\0')
        return tsr_diag_set(d, TSR_EINVAL, "%s: empty state", what);
    return check_len(what, "state", state, TXM, d);
}

int tsr_store_neg_transition(struct tsr_store *st, const char *id, const char *expected_state,
                             const char *new_state, const struct tsr_store_neg_update *upd,
                             const struct tsr_store_outbox_msg *enqueue, struct tsr_diag *d)
{
    int64_t now = tsr_time_now_ms();
    int rc;

    if (id == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "negotiation: no id");
    if ((rc = check_state("negotiation", new_state, d)) != 0 ||
        (upd != NULL && (rc = check_neg_update(upd, d)) != 0))
        return rc;
    rc = begin(st, d);
    if (rc != 0)
        return rc;
    rc = neg_cas(st, id, expected_state, new_state, upd, now, d);
    if (rc == 0 && upd != NULL && upd->outbox_done_id > 0)
        rc = outbox_done_for(st, upd->outbox_done_id, TSR_STORE_ENTITY_NEG, id, d);
    if (rc == 0 && enqueue != NULL)
        rc = outbox_insert(st, enqueue, TSR_STORE_ENTITY_NEG, id, now, NULL, d);
    return finish(st, rc, d);
}

/* ---------------------------------------------------------------- agreements */

int tsr_store_neg_agree(struct tsr_store *st, const char *neg_id, const char *expected_state,
                        const char *new_state, const struct tsr_store_agreement *a,
                        const struct tsr_store_outbox_msg *enqueue, struct tsr_diag *d)
{
    struct tsr_store_agreement c = *a;
    struct tsr_store_neg_update u = {0};
    int64_t now = tsr_time_now_ms();
    int rc;

    if (neg_id == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "negotiation: no id");
    if (c.negotiation_id == NULL)
        c.negotiation_id = (char *)neg_id;
    else if (strcmp(c.negotiation_id, neg_id) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "agreement: negotiation_id is not \"%s\"", neg_id);
    if ((rc = ent_check(&agreement_ent, &c, d)) != 0 ||
        (rc = check_pid("agreement", "id", c.id, true, d)) != 0 ||
        (rc = check_state("negotiation", new_state, d)) != 0)
        return rc;
    c.signed_ms = a->signed_ms != 0 ? a->signed_ms : now;
    u.agreement_id = c.id;
    rc = begin(st, d);
    if (rc != 0)
        return rc;
    rc = neg_cas(st, neg_id, expected_state, new_state, &u, now, d);
    if (rc == 0)
        rc = ent_insert(st, &agreement_ent,
                        "INSERT INTO conn_agreement(" AGREEMENT_COLS ") "
                        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        &c, c.id, d);
    if (rc == 0 && enqueue != NULL)
        rc = outbox_insert(st, enqueue, TSR_STORE_ENTITY_NEG, neg_id, now, NULL, d);
    return finish(st, rc, d);
}

int tsr_store_agreement_get(struct tsr_store *st, const char *id,
                            struct tsr_store_agreement **out, struct tsr_diag *d)
{
    return tsr_store_obj_get(st, TSR_STORE_KIND_AGREEMENT, id, (void **)out, d);
}

int tsr_store_agreement_list(struct tsr_store *st, const struct tsr_store_filter *f,
                             struct tsr_store_agreement **out, size_t *n, struct tsr_diag *d)
{
    return tsr_store_obj_list(st, TSR_STORE_KIND_AGREEMENT, f, (void **)out, n, d);
}

void tsr_store_agreement_free(struct tsr_store_agreement *a)
{
    tsr_store_obj_free(TSR_STORE_KIND_AGREEMENT, a);
}

void tsr_store_agreement_array_free(struct tsr_store_agreement *v, size_t n)
{
    tsr_store_obj_array_free(TSR_STORE_KIND_AGREEMENT, v, n);
}

/* ---------------------------------------------------------------- transfers */

int tsr_store_tp_create(struct tsr_store *st, const struct tsr_store_tp *t,
                        const struct tsr_store_outbox_msg *enqueue, struct tsr_diag *d)
{
    struct tsr_store_tp c = *t;
    bool found = false;
    int rc;

    if ((rc = ent_check(&tp_ent, t, d)) != 0 ||
        (rc = check_process("transfer", t->id, t->role, t->consumer_pid, t->provider_pid, d)) !=
            0)
        return rc;
    if (t->bytes < 0)
        return tsr_diag_set(d, TSR_EINVAL, "transfer: bytes must not be negative");
    if (strcmp(t->role, TSR_STORE_ROLE_CONSUMER) == 0)
        c.consumer_pid = t->id;
    else
        c.provider_pid = t->id;
    c.created_ms = now_or(t->created_ms);
    c.updated_ms = c.created_ms;
    rc = begin(st, d);
    if (rc != 0)
        return rc;
    rc = exists(st, "SELECT 1 FROM conn_agreement WHERE id = ?1", t->agreement_id, &found, d);
    if (rc == 0 && !found)
        rc = tsr_diag_set(d, TSR_ENOTFOUND, "transfer \"%s\": no agreement \"%s\"", t->id,
                          t->agreement_id);
    if (rc == 0)
        rc = ent_insert(st, &tp_ent,
                        "INSERT INTO conn_transfer(" TP_COLS ") VALUES(" TP_VALS ")", &c,
                        t->id, d);
    if (rc == 0 && enqueue != NULL)
        rc = outbox_insert(st, enqueue, TSR_STORE_ENTITY_TP, t->id, c.created_ms, NULL, d);
    return finish(st, rc, d);
}

int tsr_store_tp_get(struct tsr_store *st, const char *id, struct tsr_store_tp **out,
                     struct tsr_diag *d)
{
    return tsr_store_obj_get(st, TSR_STORE_KIND_TP, id, (void **)out, d);
}

int tsr_store_tp_find_consumer_pid(struct tsr_store *st, const char *role,
                                   const char *consumer_pid, struct tsr_store_tp **out,
                                   struct tsr_diag *d)
{
    return find_pid(st, &tp_ent,
                    "SELECT " TP_COLS " FROM conn_transfer WHERE role = ?1 AND consumer_pid = ?2",
                    role, consumer_pid, (void **)out, d);
}

int tsr_store_tp_find_provider_pid(struct tsr_store *st, const char *role,
                                   const char *provider_pid, struct tsr_store_tp **out,
                                   struct tsr_diag *d)
{
    return find_pid(st, &tp_ent,
                    "SELECT " TP_COLS " FROM conn_transfer WHERE role = ?1 AND provider_pid = ?2",
                    role, provider_pid, (void **)out, d);
}

int tsr_store_tp_list(struct tsr_store *st, const struct tsr_store_filter *f,
                      struct tsr_store_tp **out, size_t *n, struct tsr_diag *d)
{
    return tsr_store_obj_list(st, TSR_STORE_KIND_TP, f, (void **)out, n, d);
}

int tsr_store_tp_delete(struct tsr_store *st, const char *id, struct tsr_diag *d)
{
    return tsr_store_obj_delete(st, TSR_STORE_KIND_TP, id, d);
}

static int check_tp_update(const struct tsr_store_tp_update *u, struct tsr_diag *d)
{
    int rc;

    if ((rc = check_pid("transfer", "provider_pid", u->provider_pid, false, d)) != 0 ||
        (rc = check_len("transfer", "counterparty_url", u->counterparty_url, TXM, d)) != 0 ||
        (rc = check_len("transfer", "data_address_json", u->data_address_json, JSM, d)) != 0 ||
        (rc = check_len("transfer", "dest_path", u->dest_path, TXM, d)) != 0 ||
        (rc = check_len("transfer", "sha256", u->sha256, TXM, d)) != 0)
        return rc;
    if (u->set_bytes && u->bytes < 0)
        return tsr_diag_set(d, TSR_EINVAL, "transfer: bytes must not be negative");
    return 0;
}

int tsr_store_tp_transition(struct tsr_store *st, const char *id, const char *expected_state,
                            const char *new_state, const struct tsr_store_tp_update *upd,
                            const struct tsr_store_outbox_msg *enqueue, struct tsr_diag *d)
{
    static const struct tsr_store_tp_update none = {0};
    int64_t now = tsr_time_now_ms();
    sqlite3_stmt *stmt;
    int rc;

    if (id == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "transfer: no id");
    if (upd == NULL)
        upd = &none;
    if ((rc = check_state("transfer", new_state, d)) != 0 || (rc = check_tp_update(upd, d)) != 0)
        return rc;
    rc = begin(st, d);
    if (rc != 0)
        return rc;
    rc = tsr_db_prepare(st->db,
                        "UPDATE conn_transfer SET state = COALESCE(?3, state), "
                        "provider_pid = COALESCE(?4, provider_pid), "
                        "counterparty_url = COALESCE(?5, counterparty_url), "
                        "data_address_json = CASE WHEN ?6 IS NULL THEN data_address_json "
                        "WHEN ?6 = '' THEN NULL ELSE ?6 END, "
                        "dest_path = COALESCE(?7, dest_path), "
                        "sha256 = COALESCE(?8, sha256), "
                        "error = CASE WHEN ?9 IS NULL THEN error WHEN ?9 = '' THEN NULL "
                        "ELSE ?9 END, "
                        "bytes = CASE WHEN ?10 THEN ?11 ELSE bytes END, updated_ms = ?12 "
                        "WHERE id = ?1 AND (?2 IS NULL OR state = ?2)",
                        &stmt, d);
    if (rc == 0) {
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        bind_opt(stmt, 2, expected_state);
        bind_opt(stmt, 3, new_state);
        bind_text(stmt, 4, upd->provider_pid);
        bind_text(stmt, 5, upd->counterparty_url);
        bind_opt(stmt, 6, upd->data_address_json);
        bind_text(stmt, 7, upd->dest_path);
        bind_text(stmt, 8, upd->sha256);
        bind_error(stmt, 9, upd->error);
        sqlite3_bind_int(stmt, 10, upd->set_bytes ? 1 : 0);
        sqlite3_bind_int64(stmt, 11, upd->bytes);
        sqlite3_bind_int64(stmt, 12, now);
        rc = run_write(st, stmt, "transfer", id, d);
    }
    if (rc == 0 && changes(st) == 0)
        rc = explain_cas(st, "transfer", "SELECT state FROM conn_transfer WHERE id = ?1", id,
                         expected_state, d);
    if (rc == 0 && upd->outbox_done_id > 0)
        rc = outbox_done_for(st, upd->outbox_done_id, TSR_STORE_ENTITY_TP, id, d);
    if (rc == 0 && enqueue != NULL)
        rc = outbox_insert(st, enqueue, TSR_STORE_ENTITY_TP, id, now, NULL, d);
    return finish(st, rc, d);
}

void tsr_store_tp_free(struct tsr_store_tp *t)
{
    tsr_store_obj_free(TSR_STORE_KIND_TP, t);
}

void tsr_store_tp_array_free(struct tsr_store_tp *v, size_t n)
{
    tsr_store_obj_array_free(TSR_STORE_KIND_TP, v, n);
}

/* ---------------------------------------------------------------- any kind */

#define GET_SQL(cols, table) "SELECT " cols " FROM " table " WHERE id = ?1"
#define LIST_SQL(cols, table) "SELECT " cols " FROM " table " ORDER BY rowid LIMIT ?1 OFFSET ?2"
#define FILTERED_LIST_SQL(cols, table)                                                            \
    "SELECT " cols " FROM " table " WHERE (?3 IS NULL OR role = ?3) AND "                        \
    "(?4 IS NULL OR state = ?4) ORDER BY rowid LIMIT ?1 OFFSET ?2"
#define DELETE_SQL(table) "DELETE FROM " table " WHERE id = ?1"

/* How each kind is read, listed and deleted. */
struct kind {
    const struct ent *e;
    const char *get_sql;
    const char *list_sql; /* ?1 limit, ?2 offset; when filtered, ?3 role and ?4 state */
    bool filtered;
    const char *delete_sql; /* NULL: not deleted through the generic functions */
    /* A delete is refused while ref_sql (?1 the id) finds the first referring object: */
    const char *ref_sql;    /* NULL: nothing refers to it */
    const char *ref_verb;   /* "is used by offer" */
    const char *ref_hint;   /* what to do about it, "" or "; delete the offer first" */
    const char *entity;     /* its outbox messages go with it (one transaction); NULL: none */
};

static const struct kind kinds[] = {
    [TSR_STORE_KIND_ASSET] = {&asset_ent, GET_SQL(ASSET_COLS, "conn_asset"),
                              LIST_SQL(ASSET_COLS, "conn_asset"), false,
                              DELETE_SQL("conn_asset"),
                              "SELECT id FROM conn_offer WHERE asset_id = ?1 ORDER BY id LIMIT 1",
                              "is used by offer", "; delete the offer first", NULL},
    [TSR_STORE_KIND_POLICY] = {&policy_ent, GET_SQL(POLICY_COLS, "conn_policy"),
                               LIST_SQL(POLICY_COLS, "conn_policy"), false,
                               DELETE_SQL("conn_policy"),
                               "SELECT id FROM conn_offer WHERE policy_id = ?1 ORDER BY id "
                               "LIMIT 1",
                               "is used by offer", "; delete the offer first", NULL},
    [TSR_STORE_KIND_OFFER] = {&offer_ent, GET_SQL(OFFER_COLS, "conn_offer"),
                              LIST_SQL(OFFER_COLS, "conn_offer"), false,
                              DELETE_SQL("conn_offer"), NULL, NULL, NULL, NULL},
    [TSR_STORE_KIND_NEG] = {&neg_ent, GET_SQL(NEG_COLS, "conn_negotiation"),
                            FILTERED_LIST_SQL(NEG_COLS, "conn_negotiation"), true,
                            DELETE_SQL("conn_negotiation"),
                            "SELECT id FROM conn_agreement WHERE negotiation_id = ?1 ORDER BY id "
                            "LIMIT 1",
                            "has agreement", "", TSR_STORE_ENTITY_NEG},
    [TSR_STORE_KIND_AGREEMENT] = {&agreement_ent, GET_SQL(AGREEMENT_COLS, "conn_agreement"),
                                  LIST_SQL(AGREEMENT_COLS, "conn_agreement"), false, NULL, NULL,
                                  NULL, NULL, NULL},
    [TSR_STORE_KIND_TP] = {&tp_ent, GET_SQL(TP_COLS, "conn_transfer"),
                           FILTERED_LIST_SQL(TP_COLS, "conn_transfer"), true,
                           DELETE_SQL("conn_transfer"), NULL, NULL, NULL, TSR_STORE_ENTITY_TP},
};

size_t tsr_store_obj_size(enum tsr_store_kind kind)
{
    return kinds[kind].e->size;
}

int tsr_store_obj_get(struct tsr_store *st, enum tsr_store_kind kind, const char *id, void **out,
                      struct tsr_diag *d)
{
    return get_by_id(st, kinds[kind].e, kinds[kind].get_sql, id, out, d);
}

int tsr_store_obj_list(struct tsr_store *st, enum tsr_store_kind kind,
                       const struct tsr_store_filter *f, void **out, size_t *n,
                       struct tsr_diag *d)
{
    return list_rows(st, kinds[kind].e, kinds[kind].list_sql, f, kinds[kind].filtered, out, n,
                     d);
}

int tsr_store_obj_delete(struct tsr_store *st, enum tsr_store_kind kind, const char *id,
                         struct tsr_diag *d)
{
    const struct kind *k = &kinds[kind];
    const char *what = k->e->what;
    char *user = NULL;
    int rc = 0;

    if (k->delete_sql == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "%s: cannot be deleted", what);
    if (id == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "%s: no id", what);
    if (k->entity != NULL && (rc = begin(st, d)) != 0)
        return rc;
    if (k->ref_sql != NULL)
        rc = select_text(st, k->ref_sql, id, &user, d);
    if (rc == 0 && user != NULL)
        rc = tsr_diag_set(d, TSR_ECONFLICT, "%s \"%s\" %s \"%s\"%s", what, id, k->ref_verb, user,
                          k->ref_hint);
    if (rc == 0 && k->entity != NULL)
        rc = outbox_delete_entity(st, k->entity, id, d);
    if (rc == 0)
        rc = delete_by_id(st, what, k->delete_sql, id, d);
    tsr_free(user);
    return k->entity != NULL ? finish(st, rc, d) : rc;
}

void tsr_store_obj_free(enum tsr_store_kind kind, void *obj)
{
    ent_cleanup(kinds[kind].e, obj);
    tsr_free(obj);
}

void tsr_store_obj_array_free(enum tsr_store_kind kind, void *v, size_t n)
{
    ent_array_free(kinds[kind].e, v, n);
}

/* ---------------------------------------------------------------- token replay cache */

int tsr_store_jti_add(struct tsr_store *st, const char *issuer, const char *jti, int64_t exp_ms,
                      struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc;

    if (issuer == NULL || issuer[0] == '\0' || jti == NULL || jti[0] == '\0')
        return tsr_diag_set(d, TSR_EINVAL, "token: empty issuer or jti");
    if (strnlen(issuer, TXM + 1) > TXM || strnlen(jti, TXM + 1) > TXM)
        return tsr_diag_set(d, TSR_EINVAL, "token: issuer or jti longer than %d bytes", TXM);
    rc = tsr_db_prepare(st->db, "INSERT INTO conn_jti(issuer, jti, exp_ms) VALUES(?1, ?2, ?3)",
                        &stmt, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(stmt, 1, issuer, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, jti, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, exp_ms);
    rc = tsr_db_step(st->db, stmt, d);
    tsr_db_reset(stmt);
    if (rc == TSR_ECONFLICT)
        return tsr_diag_set(d, TSR_EEXIST, "token %s from %s was already used (replay)", jti,
                            issuer);
    return rc < 0 ? rc : 0;
}

int tsr_store_jti_purge(struct tsr_store *st, int64_t now_ms, size_t *removed,
                        struct tsr_diag *d)
{
    sqlite3_stmt *stmt;
    int rc = tsr_db_prepare(st->db, "DELETE FROM conn_jti WHERE exp_ms < ?1", &stmt, d);

    if (removed != NULL)
        *removed = 0;
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, now_ms);
    rc = tsr_db_step(st->db, stmt, d);
    tsr_db_reset(stmt);
    if (rc < 0)
        return rc;
    if (removed != NULL)
        *removed = (size_t)changes(st);
    return 0;
}
