/*
 * catalog/store.c: the catalog's SQLite index (catalog/store.h).
 *
 * Query plans: a text query starts from the FTS5 index (which holds only
 * active entries).  Its field conditions are in the index too, as facet
 * tokens (a prefix letter and 64 bits of the value's SHA-256), so that
 * FTS5 intersects them with the words instead of SQLite checking each
 * match's row.  Relevance is computed over the newest TEXT_RANK_WINDOW
 * matches only, by tsr_rank below rather than FTS5's bm25: bm25 counts
 * every phrase's documents over the whole index on each query (its IDF),
 * which for a common word costs milliseconds at a million entries.  The
 * rows are then checked once more against the exact values.
 * A query without text walks one of the (status, column, id) indexes, or
 * the keyword index, from the newest entry down, so LIMIT stops it early.
 * None of them scans the table.
 */
#include "lib/tsr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "catalog/store.h"
#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/db.h"
#include "lib/mem.h"
#include "lib/vc.h"

/* The most text matches ranked by relevance (the newest ones). */
#define TEXT_RANK_WINDOW 500

struct tsr_cat_store {
    struct tsr_db *db;
};

static const struct tsr_db_migration migrations[] = {
    {1, "CREATE TABLE cat_entry ("
        " id INTEGER PRIMARY KEY,"
        " sha256 TEXT NOT NULL UNIQUE,"
        " cred_id TEXT NOT NULL,"
        " cls TEXT NOT NULL,"
        " issuer TEXT NOT NULL,"
        " subject TEXT NOT NULL,"
        " participant TEXT,"
        " title TEXT, description TEXT, keywords TEXT, media_type TEXT,"
        " endpoint TEXT, dataset_id TEXT,"
        " valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL, iat INTEGER NOT NULL,"
        " status TEXT NOT NULL,"
        " received_ms INTEGER NOT NULL,"
        " jwt TEXT NOT NULL);"
        "CREATE INDEX cat_entry_subject ON cat_entry(issuer, subject, status);"
        "CREATE INDEX cat_entry_cls ON cat_entry(status, cls, id);"
        "CREATE INDEX cat_entry_participant ON cat_entry(status, participant, id);"
        "CREATE INDEX cat_entry_media ON cat_entry(status, media_type, id);"
        "CREATE TABLE cat_keyword (keyword TEXT NOT NULL, entry INTEGER NOT NULL,"
        " PRIMARY KEY (keyword, entry)) WITHOUT ROWID;"
        "CREATE VIRTUAL TABLE cat_fts USING fts5(title, description, keywords, facets,"
        " tokenize = 'unicode61 remove_diacritics 2');"
        "CREATE TABLE cat_withdrawal (issuer TEXT NOT NULL, subject TEXT NOT NULL,"
        " iat INTEGER NOT NULL, sha256 TEXT NOT NULL UNIQUE, jwt TEXT NOT NULL);"
        "CREATE INDEX cat_withdrawal_subject ON cat_withdrawal(issuer, subject, iat);"
        "CREATE TABLE cat_event (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
        " ref TEXT, jwt TEXT, at_ms INTEGER NOT NULL);"
        "CREATE TABLE cat_peer (url TEXT PRIMARY KEY, after INTEGER NOT NULL);"},
    /* A published event names its entry rather than holding a second copy of the JWT
     * (the largest column: written twice, the ingest rate halved its WAL traffic). */
    {2, "ALTER TABLE cat_event ADD COLUMN entry INTEGER;"},
};

/*
 * The rank of a match (smaller is better, as bm25): each hit of a query
 * word counts by its column (a title hit most, a keyword next, the
 * description least), and hits in a short title count more than in a
 * long one.  It reads only the row's own position lists.
 */
static void rank_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
                    int nval, sqlite3_value **vals)
{
    static const double weight[] = {8.0, 1.0, 4.0, 0.0}; /* title, description, keywords, facets */
    int n = 0, title_len = 0;
    double score = 0;

    (void)nval;
    (void)vals;
    if (api->xInstCount(fts, &n) != SQLITE_OK) {
        sqlite3_result_error(ctx, "tsr_rank: no instances", -1);
        return;
    }
    for (int i = 0; i < n; i++) {
        int phrase, col, off;
        if (api->xInst(fts, i, &phrase, &col, &off) == SQLITE_OK && col >= 0 && col < 4)
            score += weight[col];
    }
    if (api->xColumnSize(fts, 0, &title_len) == SQLITE_OK && title_len > 0)
        score *= 1.0 + 4.0 / (double)(title_len + 4);
    sqlite3_result_double(ctx, -score);
}

/* Register tsr_rank with the connection's FTS5 module. */
static int register_rank(struct tsr_cat_store *cs, struct tsr_diag *d)
{
    sqlite3 *db = tsr_db_handle(cs->db);
    sqlite3_stmt *st = NULL;
    fts5_api *api = NULL;

    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return tsr_diag_set(d, TSR_EINTERNAL, "SQLite has no FTS5: %s", sqlite3_errmsg(db));
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (api == NULL || api->xCreateFunction(api, "tsr_rank", NULL, rank_fn, NULL) != SQLITE_OK)
        return tsr_diag_set(d, TSR_EINTERNAL, "cannot register the FTS5 rank function");
    return 0;
}

int tsr_cat_store_open(const char *path, struct tsr_cat_store **out, struct tsr_diag *d)
{
    struct tsr_cat_store *cs = tsr_calloc(1, sizeof(*cs));
    int rc;

    *out = NULL;
    if (cs == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    rc = tsr_db_open(path, &cs->db, d);
    /*
     * Bulk ingest (profiled with perf at a million entries): SQLite's
     * default 2 MiB page cache fills with a transaction's dirty pages and
     * spills them mid-transaction, and the default WAL checkpoint every
     * 4 MiB copies the same hot index pages back again and again (a fifth
     * of the ingest time).  16 MiB of cache and a checkpoint every 32 MiB
     * of WAL take most of both away.
     */
    if (rc == 0)
        rc = tsr_db_exec(cs->db, "PRAGMA cache_size = -16384", d);
    if (rc == 0)
        rc = tsr_db_exec(cs->db, "PRAGMA wal_autocheckpoint = 8192", d);
    if (rc == 0)
        rc = register_rank(cs, d);
    if (rc == 0)
        rc = tsr_db_migrate(cs->db, "catalog", migrations, TSR_ARRAY_SIZE(migrations), d);
    if (rc != 0) {
        tsr_cat_store_close(cs);
        return rc;
    }
    *out = cs;
    return 0;
}

void tsr_cat_store_close(struct tsr_cat_store *cs)
{
    if (cs == NULL)
        return;
    tsr_db_close(cs->db);
    tsr_free(cs);
}

int tsr_cat_store_begin(struct tsr_cat_store *cs, struct tsr_diag *d)
{
    return tsr_db_begin(cs->db, d);
}

int tsr_cat_store_commit(struct tsr_cat_store *cs, struct tsr_diag *d)
{
    return tsr_db_commit(cs->db, d);
}

void tsr_cat_store_rollback(struct tsr_cat_store *cs)
{
    tsr_db_rollback(cs->db, NULL);
}

/* Run a prepared statement with the text/int bindings given by fmt ('s', 'i'). */
static int run(struct tsr_cat_store *cs, const char *sql, const char *fmt, struct tsr_diag *d,
               ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc;

    rc = tsr_db_prepare(cs->db, sql, &st, d);
    if (rc != 0)
        return rc;
    va_start(ap, d);
    for (int i = 0; fmt[i] != '\0'; i++) {
        if (fmt[i] == 's') {
            const char *s = va_arg(ap, const char *);
            if (s != NULL)
                sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
        } else {
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        }
    }
    va_end(ap);
    rc = tsr_db_step(cs->db, st, d);
    tsr_db_reset(st);
    return rc < 0 ? rc : 0;
}

static int log_event(struct tsr_cat_store *cs, const char *kind, const char *ref, const char *jwt,
                     int64_t now_ms, struct tsr_diag *d)
{
    return run(cs, "INSERT INTO cat_event (kind, ref, jwt, at_ms) VALUES (?, ?, ?, ?)", "sssi", d,
               kind, ref, jwt, now_ms);
}

/* Take an entry out of the full-text and keyword indexes. */
static int unindex(struct tsr_cat_store *cs, int64_t id, struct tsr_diag *d)
{
    int rc = run(cs, "DELETE FROM cat_fts WHERE rowid = ?", "i", d, id);
    if (rc == 0)
        rc = run(cs, "DELETE FROM cat_keyword WHERE keyword IN (SELECT value FROM "
                     "json_each((SELECT keywords FROM cat_entry WHERE id = ?1))) AND entry = ?1",
                 "i", d, id);
    return rc;
}

/* Append the facet token of a field value: tag letter + 16 hex digits of its SHA-256. */
static int add_facet(struct tsr_buf *b, char tag, const char *value)
{
    unsigned char dg[TSR_SHA256_LEN];
    char hex[2 * TSR_SHA256_LEN + 1];

    if (value == NULL || value[0] == '\0')
        return 0;
    tsr_sha256(value, strlen(value), dg);
    tsr_hex_encode(dg, 8, hex);
    return tsr_buf_addf(b, "%s%c%s", b->len > 0 ? " " : "", tag, hex);
}

static void sha_hex(const char *s, char out[2 * TSR_SHA256_LEN + 1])
{
    unsigned char dg[TSR_SHA256_LEN];

    tsr_sha256(s, strlen(s), dg);
    tsr_hex_encode(dg, sizeof(dg), out);
}

/* One integer from a query with one text or integer parameter; -1 when no row. */
static int64_t scalar(struct tsr_cat_store *cs, const char *sql, const char *a, const char *b,
                      struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    if (tsr_db_prepare(cs->db, sql, &st, d) != 0)
        return -2;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
    if (b != NULL)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
    int rc = tsr_db_step(cs->db, st, d);
    if (rc == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    else if (rc < 0)
        v = -2;
    tsr_db_reset(st);
    return v;
}

/*
 * Take every active entry that sel selects (one id per step; its
 * parameters ?1 issuer, ?2 subject, ?3 iat) out of the indexes and give
 * it status, logging event (NULL: nothing) for each.  *count (may be NULL)
 * gets how many.  Returns 0 or an error.
 */
static int relabel(struct tsr_cat_store *cs, const char *sel, const char *issuer,
                   const char *subject, int64_t iat, const char *status, const char *event,
                   int64_t now_ms, size_t *count, struct tsr_diag *d)
{
    size_t n = 0;
    int rc;

    for (;;) {
        sqlite3_stmt *st = NULL;
        int64_t id;
        rc = tsr_db_prepare(cs->db, sel, &st, d);
        if (rc != 0)
            return rc;
        sqlite3_bind_text(st, 1, issuer, -1, SQLITE_TRANSIENT);
        if (subject != NULL)
            sqlite3_bind_text(st, 2, subject, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, iat);
        rc = tsr_db_step(cs->db, st, d);
        id = rc == 1 ? sqlite3_column_int64(st, 0) : -1;
        tsr_db_reset(st);
        if (rc < 0)
            return rc;
        if (id < 0)
            break;
        rc = unindex(cs, id, d);
        if (rc == 0)
            rc = run(cs, "UPDATE cat_entry SET status = ? WHERE id = ?", "si", d, status, id);
        if (rc == 0 && event != NULL)
            rc = log_event(cs, event, subject, NULL, now_ms, d);
        if (rc != 0)
            return rc;
        n++;
    }
    if (count != NULL)
        *count = n;
    return 0;
}

int tsr_cat_store_known(struct tsr_cat_store *cs, const char *jwt, bool *known,
                        struct tsr_diag *d)
{
    char hex[2 * TSR_SHA256_LEN + 1];
    int64_t v;

    *known = false;
    sha_hex(jwt, hex);
    v = scalar(cs, "SELECT 1 FROM cat_entry WHERE sha256 = ?1 UNION ALL "
                   "SELECT 1 FROM cat_withdrawal WHERE sha256 = ?1 LIMIT 1",
               hex, NULL, d);
    if (v == -2)
        return TSR_EIO;
    *known = v == 1;
    return 0;
}

int tsr_cat_store_add(struct tsr_cat_store *cs, const char *jwt, const struct tsr_vc_info *info,
                      int64_t now_ms, bool log, enum tsr_cat_outcome *outcome,
                      struct tsr_diag *d)
{
    char hex[2 * TSR_SHA256_LEN + 1];
    char *kw = NULL;
    int64_t v, id;
    sqlite3_stmt *st = NULL;
    int rc;

    *outcome = TSR_CAT_DUPLICATE;
    if (info->id == NULL || info->issuer == NULL || info->subject == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "credential without id, issuer or subject");
    sha_hex(jwt, hex);
    v = scalar(cs, "SELECT id FROM cat_entry WHERE sha256 = ?", hex, NULL, d);
    if (v == -2)
        return TSR_EIO;
    if (v >= 0)
        return 0;
    v = scalar(cs, "SELECT max(iat) FROM cat_withdrawal WHERE issuer = ? AND subject = ?",
               info->issuer, info->subject, d);
    if (v == -2)
        return TSR_EIO;
    if (v >= 0 && v >= info->iat) {
        *outcome = TSR_CAT_WITHDRAWN;
        return 0;
    }
    /* INT64_MIN: no active entry of the subject (then nothing to supersede). */
    v = scalar(cs, "SELECT coalesce(max(iat), -9223372036854775807 - 1) FROM cat_entry "
                   "WHERE issuer = ? AND subject = ? AND status = 'active'",
               info->issuer, info->subject, d);
    if (v == -2)
        return TSR_EIO;
    if (v > info->iat) {
        *outcome = TSR_CAT_STALE;
        return 0;
    }
    /* Supersede the active one(s): out of the indexes first, then relabelled. */
    if (v != INT64_MIN)
        rc = relabel(cs, "SELECT id FROM cat_entry WHERE issuer = ?1 AND subject = ?2 AND "
                         "status = 'active' AND iat <= ?3 LIMIT 1",
                     info->issuer, info->subject, info->iat, "superseded",
                     log ? "superseded" : NULL, now_ms, NULL, d);
    else
        rc = 0;
    if (rc != 0)
        return rc;
    if (info->keywords != NULL) {
        kw = json_dumps(info->keywords, JSON_COMPACT);
        if (kw == NULL)
            return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    rc = tsr_db_prepare(cs->db,
                        "INSERT INTO cat_entry (sha256, cred_id, cls, issuer, subject, "
                        "participant, title, description, keywords, media_type, endpoint, "
                        "dataset_id, valid_from, valid_until, iat, status, received_ms, jwt) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'active',?,?)",
                        &st, d);
    if (rc != 0)
        goto out;
    const char *texts[] = {hex, info->id, info->cls_name, info->issuer, info->subject,
                           info->participant, info->title, info->description, kw,
                           info->media_type, info->endpoint, info->dataset_id};
    for (size_t i = 0; i < TSR_ARRAY_SIZE(texts); i++) {
        if (texts[i] != NULL)
            sqlite3_bind_text(st, (int)i + 1, texts[i], -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(st, 13, info->valid_from);
    sqlite3_bind_int64(st, 14, info->valid_until);
    sqlite3_bind_int64(st, 15, info->iat);
    sqlite3_bind_int64(st, 16, now_ms);
    sqlite3_bind_text(st, 17, jwt, -1, SQLITE_TRANSIENT);
    rc = tsr_db_step(cs->db, st, d);
    tsr_db_reset(st);
    if (rc < 0)
        goto out;
    id = sqlite3_last_insert_rowid(tsr_db_handle(cs->db));
    /* The keywords as one space-separated text for the full-text index. */
    struct tsr_buf words;
    tsr_buf_init(&words, (size_t)TSR_VC_MAX_KEYWORDS * (TSR_VC_TEXT_MAX + 1));
    for (size_t i = 0; i < json_array_size(info->keywords) && i < TSR_VC_MAX_KEYWORDS; i++) {
        const char *k = json_string_value(json_array_get(info->keywords, i));
        if (k == NULL)
            continue;
        tsr_buf_addf(&words, "%s%s", words.len > 0 ? " " : "", k);
        rc = run(cs, "INSERT OR IGNORE INTO cat_keyword (keyword, entry) VALUES (?, ?)", "si",
                 d, k, id);
        if (rc != 0)
            break;
    }
    struct tsr_buf facets;
    tsr_buf_init(&facets, (size_t)(TSR_VC_MAX_KEYWORDS + 4) * 24);
    add_facet(&facets, 't', info->cls_name);
    add_facet(&facets, 'p', info->participant);
    add_facet(&facets, 'm', info->media_type);
    for (size_t i = 0; i < json_array_size(info->keywords) && i < TSR_VC_MAX_KEYWORDS; i++)
        add_facet(&facets, 'k', json_string_value(json_array_get(info->keywords, i)));
    if (rc == 0)
        rc = run(cs, "INSERT INTO cat_fts (rowid, title, description, keywords, facets) "
                     "VALUES (?, ?, ?, ?, ?)",
                 "issss", d, id, info->title, info->description, tsr_buf_str(&words),
                 tsr_buf_str(&facets));
    tsr_buf_cleanup(&words);
    tsr_buf_cleanup(&facets);
    if (rc == 0 && log)
        rc = run(cs, "INSERT INTO cat_event (kind, ref, entry, at_ms) "
                     "VALUES ('published', ?, ?, ?)",
                 "sii", d, info->id, id, now_ms);
    if (rc == 0)
        *outcome = TSR_CAT_ADDED;
out:
    free(kw);
    return rc < 0 ? rc : 0;
}

int tsr_cat_store_withdraw(struct tsr_cat_store *cs, const char *jwt, const char *issuer,
                           const char *subject, int64_t iat, int64_t now_ms, size_t *count,
                           bool *known, struct tsr_diag *d)
{
    char hex[2 * TSR_SHA256_LEN + 1];
    int64_t v;
    int rc;

    *known = false;
    if (count != NULL)
        *count = 0;
    sha_hex(jwt, hex);
    v = scalar(cs, "SELECT 1 FROM cat_withdrawal WHERE sha256 = ?", hex, NULL, d);
    if (v == -2)
        return TSR_EIO;
    if (v >= 0) {
        *known = true;
        return 0;
    }
    rc = run(cs, "INSERT INTO cat_withdrawal (issuer, subject, iat, sha256, jwt) "
                 "VALUES (?, ?, ?, ?, ?)",
             "ssiss", d, issuer, subject, iat, hex, jwt);
    if (rc == 0)
        rc = relabel(cs, "SELECT id FROM cat_entry WHERE issuer = ?1 AND subject = ?2 AND "
                         "status = 'active' AND iat <= ?3 LIMIT 1",
                     issuer, subject, iat, "withdrawn", NULL, now_ms, count, d);
    if (rc != 0)
        return rc;
    return log_event(cs, "withdrawn", subject, jwt, now_ms, d);
}

int tsr_cat_store_retire(struct tsr_cat_store *cs, const char *issuer, int64_t before_iat,
                         size_t *count, struct tsr_diag *d)
{
    return relabel(cs, "SELECT id FROM cat_entry WHERE issuer = ?1 AND status = 'active' AND "
                       "iat < ?3 LIMIT 1",
                   issuer, NULL, before_iat, "withdrawn", NULL, 0, count, d);
}

/* The words of text as an FTS5 query: each a quoted string, all required. */
static int fts_query(const char *text, struct tsr_buf *q, struct tsr_diag *d)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t words = 0;

    while (*p != '\0') {
        while (*p != '\0' && !isalnum(*p) && *p < 0x80)
            p++;
        if (*p == '\0')
            break;
        if (tsr_buf_adds(q, words > 0 ? " \"" : "\"") != 0)
            return tsr_diag_set(d, TSR_ELIMIT, "query text too long");
        while (*p != '\0' && (isalnum(*p) || *p >= 0x80)) {
            if (tsr_buf_add(q, p, 1) != 0)
                return tsr_diag_set(d, TSR_ELIMIT, "query text too long");
            p++;
        }
        if (tsr_buf_adds(q, "\"") != 0)
            return tsr_diag_set(d, TSR_ELIMIT, "query text too long");
        words++;
    }
    if (words == 0)
        return tsr_diag_set(d, TSR_EINVAL, "the query text has no words");
    return 0;
}

/* The field conditions of q as facet terms ANDed to the text query m. */
static int fts_facets(const struct tsr_cat_query *q, struct tsr_buf *m)
{
    struct tsr_buf f;
    int rc;

    tsr_buf_init(&f, 256);
    /* Nearly every entry is a ServiceOffering: that facet's doclist is as
     * long as the index and costs more than it saves, so that class is
     * checked on the rows; the rare one (LegalPerson) is a facet. */
    if (q->cls != NULL && strcmp(q->cls, "ServiceOffering") != 0)
        add_facet(&f, 't', q->cls);
    add_facet(&f, 'p', q->participant);
    add_facet(&f, 'm', q->media_type);
    add_facet(&f, 'k', q->keyword);
    rc = f.len > 0 ? tsr_buf_addf(m, " AND facets : (%s)", tsr_buf_str(&f)) : 0;
    tsr_buf_cleanup(&f);
    return rc;
}

static json_t *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s != NULL ? json_string((const char *)s) : json_null();
}

/* The columns of ENTRY_COLUMNS as a query item. */
#define ENTRY_COLUMNS                                                                             \
    "e.cred_id, e.cls, e.issuer, e.subject, e.participant, e.title, e.description, "           \
    "e.keywords, e.media_type, e.endpoint, e.dataset_id, e.valid_until, e.jwt, e.status"

static json_t *row_json(sqlite3_stmt *st)
{
    json_t *kw = NULL;
    const char *kwt = (const char *)sqlite3_column_text(st, 7);

    if (kwt != NULL)
        kw = json_loads(kwt, 0, NULL);
    const char *cls = (const char *)sqlite3_column_text(st, 1);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o, "
                     "s:b}",
                     "id", col_text(st, 0), "type", col_text(st, 1), "issuer", col_text(st, 2),
                     "subject", col_text(st, 3), "participant", col_text(st, 4), "title",
                     col_text(st, 5), "description", col_text(st, 6), "keywords",
                     kw != NULL ? kw : json_array(), "media_type", col_text(st, 8), "endpoint",
                     col_text(st, 9), "dataset_id", col_text(st, 10), "valid_until",
                     (json_int_t)sqlite3_column_int64(st, 11), "jwt", col_text(st, 12),
                     "status", col_text(st, 13), "signed",
                     cls == NULL || strcmp(cls, "ExternalDataset") != 0);
}

int tsr_cat_store_get(struct tsr_cat_store *cs, const char *cred_id, json_t **out,
                      struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *out = NULL;
    rc = tsr_db_prepare(cs->db, "SELECT " ENTRY_COLUMNS " FROM cat_entry e WHERE e.cred_id = ? "
                                "ORDER BY e.id DESC LIMIT 1", &st, d);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, cred_id, -1, SQLITE_TRANSIENT);
    rc = tsr_db_step(cs->db, st, d);
    if (rc == 1) {
        *out = row_json(st);
        rc = *out != NULL ? 0 : tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    } else if (rc == 0) {
        rc = tsr_diag_set(d, TSR_ENOTFOUND, "no credential %.200s", cred_id);
    }
    tsr_db_reset(st);
    return rc;
}

int tsr_cat_store_query(struct tsr_cat_store *cs, const struct tsr_cat_query *q, json_t **out,
                        struct tsr_diag *d)
{
    struct tsr_buf sql, match;
    sqlite3_stmt *st = NULL;
    json_t *list = NULL;
    size_t limit = q->limit == 0 ? TSR_CAT_QUERY_DEFAULT : TSR_MIN(q->limit, TSR_CAT_QUERY_MAX);
    const char *vals[5];
    int nv = 0, rc;
    bool text = q->text != NULL && q->text[0] != '\0';

    *out = NULL;
    tsr_buf_init(&sql, 4096);
    tsr_buf_init(&match, TSR_CAT_TEXT_MAX * 4 + 512);
    const char *fields[] = {q->text, q->cls, q->participant, q->keyword, q->media_type};
    for (size_t i = 0; i < TSR_ARRAY_SIZE(fields); i++) {
        if (fields[i] != NULL && strlen(fields[i]) > TSR_CAT_TEXT_MAX) {
            rc = tsr_diag_set(d, TSR_EINVAL, "a query value is longer than %d bytes",
                              TSR_CAT_TEXT_MAX);
            goto out;
        }
    }
    tsr_buf_adds(&sql, "SELECT " ENTRY_COLUMNS " FROM ");
    bool by_keyword = !text && q->keyword != NULL && q->keyword[0] != '\0';
    if (text) {
        tsr_buf_adds(&match, "{title description keywords} : (");
        rc = fts_query(q->text, &match, d);
        if (rc == 0)
            rc = tsr_buf_adds(&match, ")");
        if (rc == 0)
            rc = fts_facets(q, &match);
        if (rc != 0)
            goto out;
        tsr_buf_addf(&sql, "(SELECT rowid AS rid, tsr_rank(cat_fts) AS r "
                           "FROM cat_fts WHERE cat_fts MATCH ? ORDER BY rowid DESC LIMIT %d) m "
                           "JOIN cat_entry e ON e.id = m.rid WHERE e.status = 'active'",
                     TEXT_RANK_WINDOW);
        vals[nv++] = tsr_buf_str(&match);
    } else if (by_keyword) {
        /* The keyword index holds active entries only, newest last per keyword. */
        tsr_buf_adds(&sql, "cat_keyword k JOIN cat_entry e ON e.id = k.entry "
                           "WHERE k.keyword = ?");
        vals[nv++] = q->keyword;
    } else {
        tsr_buf_adds(&sql, "cat_entry e WHERE e.status = 'active'");
    }
    if (q->cls != NULL && q->cls[0] != '\0') {
        tsr_buf_adds(&sql, " AND e.cls = ?");
        vals[nv++] = q->cls;
    }
    if (q->participant != NULL && q->participant[0] != '\0') {
        tsr_buf_adds(&sql, " AND e.participant = ?");
        vals[nv++] = q->participant;
    }
    if (q->media_type != NULL && q->media_type[0] != '\0') {
        tsr_buf_adds(&sql, " AND e.media_type = ?");
        vals[nv++] = q->media_type;
    }
    if (!by_keyword && q->keyword != NULL && q->keyword[0] != '\0') {
        tsr_buf_adds(&sql, " AND e.id IN (SELECT entry FROM cat_keyword WHERE keyword = ?)");
        vals[nv++] = q->keyword;
    }
    if (q->offset > TSR_CAT_OFFSET_MAX) {
        rc = tsr_diag_set(d, TSR_EINVAL, "cursor: at most %d results can be skipped",
                          TSR_CAT_OFFSET_MAX);
        goto out;
    }
    rc = tsr_buf_addf(&sql, " AND e.valid_until > ? ORDER BY %s LIMIT ? OFFSET ?",
                      text ? "m.r, e.id DESC" : by_keyword ? "k.entry DESC"
                                                                     : "e.id DESC");
    if (rc != 0)
        goto out;
    rc = tsr_db_prepare(cs->db, tsr_buf_str(&sql), &st, d);
    if (rc != 0)
        goto out;
    for (int i = 0; i < nv; i++)
        sqlite3_bind_text(st, i + 1, vals[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, nv + 1, q->now);
    sqlite3_bind_int64(st, nv + 2, (sqlite3_int64)limit);
    sqlite3_bind_int64(st, nv + 3, (sqlite3_int64)q->offset);
    list = json_array();
    if (list == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    while ((rc = tsr_db_step(cs->db, st, d)) == 1) {
        json_t *o = row_json(st);
        if (o == NULL || json_array_append_new(list, o) != 0) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            break;
        }
    }
    tsr_db_reset(st);
    if (rc == 0) {
        *out = list;
        list = NULL;
    }
out:
    json_decref(list);
    tsr_buf_cleanup(&sql);
    tsr_buf_cleanup(&match);
    return rc < 0 ? rc : 0;
}

int tsr_cat_store_events(struct tsr_cat_store *cs, int64_t after, size_t limit, json_t **out,
                         int64_t *last, struct tsr_diag *d)
{
    sqlite3_stmt *st = NULL;
    json_t *list = json_array();
    int rc;

    *out = NULL;
    if (list == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    rc = tsr_db_prepare(cs->db, "SELECT ev.seq, ev.kind, ev.ref, coalesce(ev.jwt, e.jwt), "
                                "ev.at_ms FROM cat_event ev LEFT JOIN cat_entry e "
                                "ON e.id = ev.entry WHERE ev.seq > ? ORDER BY ev.seq LIMIT ?",
                        &st, d);
    if (rc != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)TSR_MAX(1, TSR_MIN(limit, TSR_CAT_EVENTS_MAX)));
    while ((rc = tsr_db_step(cs->db, st, d)) == 1) {
        json_array_append_new(list, json_pack("{s:I, s:o, s:o, s:o, s:I}", "seq",
                                              (json_int_t)sqlite3_column_int64(st, 0), "kind",
                                              col_text(st, 1), "ref", col_text(st, 2), "jwt",
                                              col_text(st, 3), "at",
                                              (json_int_t)sqlite3_column_int64(st, 4)));
    }
    tsr_db_reset(st);
    if (rc < 0)
        goto fail;
    *last = scalar(cs, "SELECT coalesce(max(seq), 0) FROM cat_event WHERE ? IS NOT NULL", "x",
                   NULL, d);
    if (*last < 0) {
        rc = TSR_EIO;
        goto fail;
    }
    *out = list;
    return 0;
fail:
    json_decref(list);
    return rc;
}

int tsr_cat_store_peer_get(struct tsr_cat_store *cs, const char *url, int64_t *after,
                           struct tsr_diag *d)
{
    int64_t v = scalar(cs, "SELECT after FROM cat_peer WHERE url = ?", url, NULL, d);

    if (v == -2)
        return TSR_EIO;
    *after = v < 0 ? 0 : v;
    return 0;
}

int tsr_cat_store_peer_set(struct tsr_cat_store *cs, const char *url, int64_t after,
                           struct tsr_diag *d)
{
    return run(cs, "INSERT INTO cat_peer (url, after) VALUES (?, ?) ON CONFLICT (url) DO "
                   "UPDATE SET after = excluded.after",
               "si", d, url, after);
}

int tsr_cat_store_stats(struct tsr_cat_store *cs, json_t **out, struct tsr_diag *d)
{
    static const char *const states[] = {"active", "superseded", "withdrawn"};
    json_t *j = json_object();

    *out = NULL;
    if (j == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    for (size_t i = 0; i < TSR_ARRAY_SIZE(states); i++) {
        int64_t n = scalar(cs, "SELECT count(*) FROM cat_entry WHERE status = ?", states[i],
                           NULL, d);
        json_object_set_new(j, states[i], json_integer(n < 0 ? 0 : n));
    }
    int64_t n = scalar(cs, "SELECT coalesce(max(seq), 0) FROM cat_event WHERE ? IS NOT NULL",
                       "x", NULL, d);
    json_object_set_new(j, "events", json_integer(n < 0 ? 0 : n));
    *out = j;
    return 0;
}

int tsr_cat_store_optimize(struct tsr_cat_store *cs, struct tsr_diag *d)
{
    int rc = tsr_db_exec(cs->db, "INSERT INTO cat_fts (cat_fts) VALUES ('optimize')", d);
    if (rc == 0)
        rc = tsr_db_exec(cs->db, "ANALYZE", d);
    return rc;
}

int tsr_cat_store_merge_step(struct tsr_cat_store *cs, struct tsr_diag *d)
{
    /* 200 pages per step: a few milliseconds of work. */
    return tsr_db_exec(cs->db, "INSERT INTO cat_fts (cat_fts, rank) VALUES ('merge', 200)", d);
}
