/*
 * contracts/ledger.c: the signed, hash-chained usage ledger
 * (contracts/ledger.h): appending, verifying, listing, and the extract a
 * provider can check on its own.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "contracts/ledger.h"
#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/jose.h"
#include "lib/json.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"

#define LOG_NAME "ledger.log"
#define HEAD_NAME "ledger.head"
#define JWS_TYP "tessera-ledger"
#define HEAD_MAX 8192
#define LIST_MAX 1000
#define HASH_HEX 65
static const char zero_hash[HASH_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* Where one agreement's own chain stands. */
struct agr {
    char *id;
    uint64_t aseq;
    char hash[HASH_HEX];
};

/* Where the whole chain stands after the lines read so far. */
struct chain {
    uint64_t seq;
    char hash[HASH_HEX];      /* of the last entry */
    char prev_hash[HASH_HEX]; /* of the one before */
    struct agr *agrs;
    size_t nagrs, cap;
    uint64_t lines;  /* lines read */
    off_t good_end;  /* file offset after the last good line */
};

struct tsr_ledger {
    char *dir;
    char *log_path, *head_path;
    char *kid;
    const struct tsr_key *key;
    struct chain c;
};

/* Called for each line that passed; payload is borrowed. */
typedef int (*entry_fn)(void *arg, const char *line, json_t *payload, const char *hash);

static void chain_init(struct chain *c)
{
    memset(c, 0, sizeof(*c));
    memcpy(c->hash, zero_hash, HASH_HEX);
    memcpy(c->prev_hash, zero_hash, HASH_HEX);
}

static void chain_cleanup(struct chain *c)
{
    for (size_t i = 0; i < c->nagrs; i++)
        tsr_free(c->agrs[i].id);
    tsr_free(c->agrs);
    c->agrs = NULL;
    c->nagrs = c->cap = 0;
}

/* The chain state of agreement id; added (at aseq 0) when create is set. */
static struct agr *chain_agr(struct chain *c, const char *id, bool create)
{
    for (size_t i = 0; i < c->nagrs; i++) {
        if (strcmp(c->agrs[i].id, id) == 0)
            return &c->agrs[i];
    }
    if (!create)
        return NULL;
    if (c->nagrs == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct agr *n = tsr_realloc(c->agrs, cap * sizeof(*n));
        if (n == NULL)
            return NULL;
        c->agrs = n;
        c->cap = cap;
    }
    struct agr *a = &c->agrs[c->nagrs];
    a->id = tsr_strdup(id);
    if (a->id == NULL)
        return NULL;
    a->aseq = 0;
    memcpy(a->hash, zero_hash, HASH_HEX);
    c->nagrs++;
    return a;
}

static void hash_hex(const char *s, size_t len, char out[HASH_HEX])
{
    unsigned char md[TSR_SHA256_LEN];

    if (tsr_sha256(s, len, md) != 0)
        memset(md, 0xff, sizeof(md)); /* never matches a real chain */
    tsr_hex_encode(md, sizeof(md), out);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = tsr_malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/*
 * The payload of a compact JWS: verified with key, or (key NULL) only
 * decoded, for listing.  *out is a new JSON object.
 */
static int jws_payload(const struct tsr_key *key, const char *jws, json_t **out,
                       struct tsr_diag *d)
{
    struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;
    unsigned char *payload = NULL;
    size_t plen = 0;
    int rc;

    *out = NULL;
    if (key != NULL) {
        json_t *hdr = NULL;
        rc = tsr_jws_verify(key, jws, TSR_LEDGER_LINE_MAX, &hdr, &payload, &plen, d);
        if (rc == 0 && !json_is_string(json_object_get(hdr, "typ"))) {
            rc = tsr_diag_set(d, TSR_ECRYPTO, "not a ledger signature");
        } else if (rc == 0 &&
                   strcmp(json_string_value(json_object_get(hdr, "typ")), JWS_TYP) != 0) {
            rc = tsr_diag_set(d, TSR_ECRYPTO, "not a ledger signature");
        }
        json_decref(hdr);
        if (rc != 0) {
            tsr_free(payload);
            return rc == TSR_ENOMEM ? rc : TSR_ECRYPTO;
        }
    } else {
        const char *a = strchr(jws, '.');
        const char *b = a != NULL ? strchr(a + 1, '.') : NULL;
        if (b == NULL)
            return tsr_diag_set(d, TSR_ECRYPTO, "not a compact JWS");
        rc = tsr_b64url_decode_alloc(a + 1, (size_t)(b - a - 1), TSR_LEDGER_LINE_MAX, &payload,
                                     &plen);
        if (rc != 0)
            return tsr_diag_set(d, TSR_ECRYPTO, "payload is not base64url");
    }
    lim.max_bytes = TSR_LEDGER_LINE_MAX;
    lim.max_depth = 4;
    rc = tsr_json_parse((const char *)payload, plen, &lim, out, d);
    tsr_free(payload);
    if (rc == 0 && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = TSR_EINVAL;
    }
    return rc != 0 ? tsr_diag_set(d, TSR_ECRYPTO, "the signed payload is not a JSON object") : 0;
}

static const char *jget_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool jget_u64(const json_t *o, const char *k, uint64_t *out)
{
    json_t *v = json_object_get(o, k);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/*
 * Check one entry's payload p against the chain c (when check is set) and
 * advance c with the line's hash.
 */
static int chain_step(struct chain *c, const json_t *p, const char *line, size_t len, bool check,
                      char hash[HASH_HEX], struct tsr_diag *d)
{
    uint64_t seq = 0, aseq = 0;
    const char *agreement = jget_str(p, "agreement");
    const char *kind = jget_str(p, "kind");
    struct agr *a;

    if (kind == NULL || strcmp(kind, "entry") != 0 || agreement == NULL ||
        agreement[0] == '\0' || jget_str(p, "event") == NULL || !jget_u64(p, "seq", &seq) ||
        !jget_u64(p, "aseq", &aseq) || jget_str(p, "prev") == NULL ||
        jget_str(p, "aprev") == NULL || jget_str(p, "ts") == NULL)
        return tsr_diag_set(d, TSR_ECRYPTO, "not a ledger entry");
    a = chain_agr(c, agreement, true);
    if (a == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    if (check) {
        if (seq != c->seq + 1)
            return tsr_diag_set(d, TSR_ECRYPTO, "sequence %llu where %llu was expected "
                                "(an entry was removed or moved)", (unsigned long long)seq,
                                (unsigned long long)(c->seq + 1));
        if (strcmp(jget_str(p, "prev"), c->hash) != 0)
            return tsr_diag_set(d, TSR_ECRYPTO, "entry %llu does not follow the previous "
                                "entry (hash chain broken)", (unsigned long long)seq);
        if (aseq != a->aseq + 1 || strcmp(jget_str(p, "aprev"), a->hash) != 0)
            return tsr_diag_set(d, TSR_ECRYPTO, "entry %llu breaks the chain of agreement %s",
                                (unsigned long long)seq, agreement);
    }
    hash_hex(line, len, hash);
    memcpy(c->prev_hash, c->hash, HASH_HEX);
    memcpy(c->hash, hash, HASH_HEX);
    c->seq = seq;
    a->aseq = aseq;
    memcpy(a->hash, hash, HASH_HEX);
    return 0;
}

/*
 * Read the log at path line by line: verify each (key not NULL) or only
 * decode it, check the chain when key is set, call fn for each.  A
 * missing file is an empty ledger.  *partial is set when the last line
 * has no newline (a crash while appending).  Errors name the line.
 */
static int scan(const char *path, const struct tsr_key *key, struct chain *c, entry_fn fn,
                void *arg, bool *partial, struct tsr_diag *d)
{
    FILE *fp = fopen(path, "re");
    char *line = NULL;
    int rc = 0;

    *partial = false;
    if (fp == NULL) {
        if (errno == ENOENT)
            return 0;
        return tsr_diag_set(d, TSR_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    line = tsr_malloc(TSR_LEDGER_LINE_MAX + 2);
    if (line == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    while (fgets(line, TSR_LEDGER_LINE_MAX + 2, fp) != NULL) {
        size_t len = strlen(line);
        json_t *p = NULL;
        char hash[HASH_HEX];
        c->lines++;
        if (len == 0 || line[len - 1] != '\n') {
            if (feof(fp) && len > 0) {
                *partial = true;
                rc = tsr_diag_set(d, TSR_ECRYPTO, "line %llu: incomplete (no newline)",
                                  (unsigned long long)c->lines);
            } else {
                rc = tsr_diag_set(d, TSR_ECRYPTO, "line %llu: too long or not text",
                                  (unsigned long long)c->lines);
            }
            goto out;
        }
        line[--len] = '\0';
        rc = jws_payload(key, line, &p, d);
        if (rc == 0)
            rc = chain_step(c, p, line, len, key != NULL, hash, d);
        if (rc == 0 && fn != NULL)
            rc = fn(arg, line, p, hash);
        json_decref(p);
        if (rc != 0) {
            tsr_diag_prefix(d, "line %llu", (unsigned long long)c->lines);
            goto out;
        }
        c->good_end += (off_t)len + 1;
    }
    if (ferror(fp))
        rc = tsr_diag_set(d, TSR_EIO, "cannot read %s", path);
out:
    tsr_free(line);
    (void)fclose(fp);
    return rc;
}

/* The head file: its seq and hash, verified with key.  *exists false when absent. */
static int read_head(const char *path, const struct tsr_key *key, bool *exists, uint64_t *seq,
                     char hash[HASH_HEX], struct tsr_diag *d)
{
    unsigned char *text = NULL;
    size_t len = 0;
    json_t *p = NULL;
    struct stat sb;
    int rc;

    *exists = false;
    if (stat(path, &sb) != 0 && errno == ENOENT)
        return 0;
    *exists = true;
    rc = tsr_crypto_read_file(path, HEAD_MAX, &text, &len, d);
    if (rc != 0)
        return rc == TSR_ELIMIT ? tsr_diag_set(d, TSR_ECRYPTO, "the head is malformed") : rc;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    rc = jws_payload(key, (const char *)text, &p, d);
    if (rc == 0) {
        const char *h = jget_str(p, "hash");
        const char *kind = jget_str(p, "kind");
        if (kind == NULL || strcmp(kind, "head") != 0 || !jget_u64(p, "seq", seq) ||
            h == NULL || strlen(h) != HASH_HEX - 1)
            rc = tsr_diag_set(d, TSR_ECRYPTO, "the head is not a ledger head");
        else
            memcpy(hash, h, HASH_HEX);
    } else {
        tsr_diag_prefix(d, "the head");
    }
    json_decref(p);
    tsr_free(text);
    return rc;
}

static char *sign(const struct tsr_key *key, const char *kid, const json_t *payload,
                  struct tsr_diag *d)
{
    char *text = NULL, *jws = NULL;
    size_t len = 0;
    json_t *hdr = json_pack("{s:s, s:s}", "kid", kid, "typ", JWS_TYP);

    if (hdr != NULL &&
        tsr_json_dumps(payload, JSON_COMPACT, TSR_LEDGER_LINE_MAX, &text, &len) == 0)
        (void)tsr_jws_sign(key, hdr, text, len, &jws, d);
    else
        tsr_diag_set(d, TSR_ELIMIT, "the entry cannot be encoded");
    json_decref(hdr);
    tsr_free(text);
    return jws;
}

static int write_head(struct tsr_ledger *l, struct tsr_diag *d)
{
    char ts[TSR_TIME_STR_MAX];
    char *jws = NULL;
    int rc;

    tsr_time_format_ms(tsr_time_now_ms(), ts, sizeof(ts));
    json_t *p = json_pack("{s:s, s:I, s:s, s:s}", "kind", "head", "seq", (json_int_t)l->c.seq,
                          "hash", l->c.hash, "ts", ts);
    if (p == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    jws = sign(l->key, l->kid, p, d);
    json_decref(p);
    if (jws == NULL)
        return d != NULL && d->code != 0 ? d->code : TSR_ECRYPTO;
    rc = tsr_crypto_write_file(l->head_path, jws, strlen(jws), 0600, d);
    tsr_free(jws);
    return rc;
}

/* ------------------------------------------------------------ ledger */

int tsr_ledger_open(const char *dir, const struct tsr_key *key, const char *kid,
                    struct tsr_ledger **out, struct tsr_diag *d)
{
    struct tsr_ledger *l = NULL;
    bool partial = false, head_exists = false;
    uint64_t head_seq = 0;
    char head_hash[HASH_HEX] = "";
    int rc;

    *out = NULL;
    if (dir == NULL || key == NULL || kid == NULL || !tsr_key_has_private(key))
        return tsr_diag_set(d, TSR_EINVAL, "ledger: a folder and a signing key are required");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return tsr_diag_set(d, TSR_EIO, "cannot create the ledger folder %s: %s", dir,
                            strerror(errno));
    l = tsr_calloc(1, sizeof(*l));
    if (l == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    chain_init(&l->c);
    l->key = key;
    l->dir = tsr_strdup(dir);
    l->kid = tsr_strdup(kid);
    l->log_path = join(dir, LOG_NAME);
    l->head_path = join(dir, HEAD_NAME);
    if (l->dir == NULL || l->kid == NULL || l->log_path == NULL || l->head_path == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto fail;
    }
    rc = scan(l->log_path, key, &l->c, NULL, NULL, &partial, d);
    if (rc != 0 && partial) {
        /* A crash in the middle of an append: that entry never counted. */
        if (truncate(l->log_path, l->c.good_end) != 0) {
            rc = tsr_diag_set(d, TSR_EIO, "cannot cut %s: %s", l->log_path, strerror(errno));
            goto fail;
        }
        rc = 0;
    }
    if (rc != 0)
        goto fail;
    rc = read_head(l->head_path, key, &head_exists, &head_seq, head_hash, d);
    if (rc != 0)
        goto fail;
    if (!head_exists && l->c.seq > 0) {
        rc = tsr_diag_set(d, TSR_ECRYPTO, "the ledger has %llu entries but no head",
                          (unsigned long long)l->c.seq);
        goto fail;
    }
    if (head_exists && !(head_seq == l->c.seq && strcmp(head_hash, l->c.hash) == 0) &&
        !(head_seq + 1 == l->c.seq && strcmp(head_hash, l->c.prev_hash) == 0)) {
        rc = tsr_diag_set(d, TSR_ECRYPTO, "the head names entry %llu, the ledger ends at %llu "
                          "(entries were removed or changed)", (unsigned long long)head_seq,
                          (unsigned long long)l->c.seq);
        goto fail;
    }
    /* The one-entry lag of a crash between the two writes: name the entry now. */
    if (head_exists && head_seq != l->c.seq) {
        rc = write_head(l, d);
        if (rc != 0)
            goto fail;
    }
    *out = l;
    return 0;
fail:
    tsr_ledger_close(l);
    return rc;
}

void tsr_ledger_close(struct tsr_ledger *l)
{
    if (l == NULL)
        return;
    chain_cleanup(&l->c);
    tsr_free(l->dir);
    tsr_free(l->kid);
    tsr_free(l->log_path);
    tsr_free(l->head_path);
    tsr_free(l);
}

const char *tsr_ledger_dir(const struct tsr_ledger *l)
{
    return l->dir;
}

static int append_line(const char *path, const char *line, size_t len, struct tsr_diag *d)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    int rc = 0;

    if (fd < 0)
        return tsr_diag_set(d, TSR_EIO, "cannot open %s: %s", path, strerror(errno));
    if (tsr_write_all(fd, line, len) != 0)
        rc = tsr_diag_set(d, TSR_EIO, "cannot write %s: %s", path, strerror(errno));
    if (rc == 0 && fsync(fd) != 0)
        rc = tsr_diag_set(d, TSR_EIO, "cannot write %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

int tsr_ledger_append(struct tsr_ledger *l, const struct tsr_ledger_event *e, uint64_t *seq_out,
                      struct tsr_diag *d)
{
    char ts[TSR_TIME_STR_MAX], hash[HASH_HEX];
    char decision[TSR_LEDGER_DECISION_MAX + 1];
    struct tsr_buf line;
    json_t *p = NULL;
    char *jws = NULL;
    struct agr *a;
    int rc;

    if (e == NULL || e->agreement_id == NULL || e->agreement_id[0] == '\0' || e->event == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "ledger: an agreement and an event are required");
    a = chain_agr(&l->c, e->agreement_id, true);
    if (a == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    tsr_strlcpy(decision, e->decision != NULL ? e->decision : "", sizeof(decision));
    /* A decision quotes policy values: never let a cut or foreign byte lose the entry. */
    json_t *dj = json_string(decision);
    if (dj == NULL) {
        for (char *c = decision; *c != '\0'; c++) {
            if ((unsigned char)*c >= 0x80)
                *c = '?';
        }
        dj = json_string(decision);
    }
    if (tsr_time_format_ms(e->ts_ms != 0 ? e->ts_ms : tsr_time_now_ms(), ts, sizeof(ts)) != 0) {
        json_decref(dj);
        return tsr_diag_set(d, TSR_EINVAL, "ledger: bad time");
    }
    p = json_pack("{s:s, s:I, s:s, s:s, s:s?, s:s, s:o, s:s, s:I, s:s}", "kind", "entry", "seq",
                  (json_int_t)l->c.seq + 1, "ts", ts, "agreement", e->agreement_id, "object",
                  e->object_id, "event", e->event, "decision", dj, "prev", l->c.hash,
                  "aseq", (json_int_t)a->aseq + 1, "aprev", a->hash);
    if (p == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "ledger: an entry must be UTF-8 text");
    jws = sign(l->key, l->kid, p, d);
    if (jws == NULL) {
        rc = d != NULL && d->code != 0 ? d->code : TSR_ECRYPTO;
        goto out;
    }
    tsr_buf_init(&line, TSR_LEDGER_LINE_MAX + 1);
    rc = tsr_buf_adds(&line, jws);
    if (rc == 0)
        rc = tsr_buf_add(&line, "\n", 1);
    if (rc != 0) {
        tsr_buf_cleanup(&line);
        rc = tsr_diag_set(d, TSR_ELIMIT, "ledger: the entry is too large");
        goto out;
    }
    rc = append_line(l->log_path, line.data, line.len, d);
    if (rc != 0) {
        /* A half-written line would break every entry after it: take it back. */
        (void)truncate(l->log_path, l->c.good_end);
    } else {
        /* The same bookkeeping as a reader does, so both agree on the hashes. */
        rc = chain_step(&l->c, p, line.data, line.len - 1, false, hash, d);
        l->c.good_end += (off_t)line.len;
    }
    tsr_buf_cleanup(&line);
    if (rc == 0)
        rc = write_head(l, d);
    if (rc == 0 && seq_out != NULL)
        *seq_out = l->c.seq;
out:
    json_decref(p);
    tsr_free(jws);
    return rc;
}

/* ------------------------------------------------------------ verify, list */

int tsr_ledger_verify(const char *dir, const struct tsr_key *key, struct tsr_ledger_report *rep,
                      struct tsr_diag *d)
{
    struct chain c;
    bool partial = false, head_exists = false;
    uint64_t head_seq = 0;
    char head_hash[HASH_HEX] = "";
    char *log_path = join(dir, LOG_NAME), *head_path = join(dir, HEAD_NAME);
    int rc;

    chain_init(&c);
    if (rep != NULL)
        memset(rep, 0, sizeof(*rep));
    if (log_path == NULL || head_path == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    rc = scan(log_path, key, &c, NULL, NULL, &partial, d);
    if (rc != 0) {
        if (rep != NULL)
            rep->bad_line = c.lines;
        goto out;
    }
    rc = read_head(head_path, key, &head_exists, &head_seq, head_hash, d);
    if (rc == 0 && !head_exists && c.seq > 0)
        rc = tsr_diag_set(d, TSR_ECRYPTO, "the ledger has %llu entries but no head",
                          (unsigned long long)c.seq);
    if (rc == 0 && head_exists && (head_seq != c.seq || strcmp(head_hash, c.hash) != 0)) {
        rc = tsr_diag_set(d, TSR_ECRYPTO,
                          head_seq > c.seq ? "the head names entry %llu but the ledger ends at "
                                             "%llu (entries were removed)"
                                           : "the head names entry %llu, the ledger ends at %llu "
                                             "(the last entry was changed or added)",
                          (unsigned long long)head_seq, (unsigned long long)c.seq);
    }
    if (rc != 0 && rep != NULL)
        rep->bad_line = c.seq + 1;
out:
    if (rep != NULL) {
        rep->entries = c.seq;
        memcpy(rep->head, c.seq > 0 ? c.hash : "", c.seq > 0 ? HASH_HEX : 1);
    }
    chain_cleanup(&c);
    tsr_free(log_path);
    tsr_free(head_path);
    return rc;
}

struct list_ctx {
    const char *agreement_id;
    size_t skip, limit;
    json_t *arr;
};

static int list_one(void *arg, const char *line, json_t *payload, const char *hash)
{
    struct list_ctx *x = arg;
    const char *a = jget_str(payload, "agreement");

    (void)line;
    if (x->agreement_id != NULL && (a == NULL || strcmp(a, x->agreement_id) != 0))
        return 0;
    if (x->skip > 0) {
        x->skip--;
        return 0;
    }
    if (json_array_size(x->arr) >= x->limit)
        return 0;
    json_t *e = json_deep_copy(payload);
    if (e == NULL || json_object_set_new(e, "hash", json_string(hash)) != 0 ||
        json_array_append_new(x->arr, e) != 0)
        return TSR_ENOMEM;
    return 0;
}

int tsr_ledger_list(const char *dir, const char *agreement_id, size_t offset, size_t limit,
                    json_t **out, struct tsr_diag *d)
{
    struct list_ctx x = {agreement_id, offset, limit == 0 || limit > LIST_MAX ? LIST_MAX : limit,
                         json_array()};
    struct chain c;
    bool partial;
    char *path = join(dir, LOG_NAME);
    int rc;

    *out = NULL;
    chain_init(&c);
    if (x.arr == NULL || path == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    rc = scan(path, NULL, &c, list_one, &x, &partial, d);
    if (rc == TSR_ECRYPTO && partial)
        rc = 0; /* a half-written last line: show what is complete */
    if (rc == 0) {
        *out = x.arr;
        x.arr = NULL;
    }
out:
    json_decref(x.arr);
    chain_cleanup(&c);
    tsr_free(path);
    return rc;
}

/* ------------------------------------------------------------ extracts */

struct extract_ctx {
    const char *agreement_id;
    json_t *entries;
    char hash[HASH_HEX];
    uint64_t aseq;
};

static int extract_one(void *arg, const char *line, json_t *payload, const char *hash)
{
    struct extract_ctx *x = arg;
    const char *a = jget_str(payload, "agreement");

    if (a == NULL || strcmp(a, x->agreement_id) != 0)
        return 0;
    if (json_array_size(x->entries) >= TSR_LEDGER_EXTRACT_MAX)
        return TSR_ELIMIT;
    if (json_array_append_new(x->entries, json_string(line)) != 0)
        return TSR_ENOMEM;
    memcpy(x->hash, hash, HASH_HEX);
    (void)jget_u64(payload, "aseq", &x->aseq);
    return 0;
}

int tsr_ledger_extract(struct tsr_ledger *l, const char *agreement_id, const char *audience,
                       json_t **out, struct tsr_diag *d)
{
    struct extract_ctx x = {agreement_id, json_array(), "", 0};
    char ts[TSR_TIME_STR_MAX];
    struct chain c;
    bool partial;
    char *head = NULL;
    json_t *p = NULL;
    int rc;

    *out = NULL;
    chain_init(&c);
    memcpy(x.hash, zero_hash, HASH_HEX);
    if (x.entries == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    /* Re-verified on the way: an extract is never signed over a broken ledger. */
    rc = scan(l->log_path, l->key, &c, extract_one, &x, &partial, d);
    if (rc != 0)
        goto out;
    tsr_time_format_ms(tsr_time_now_ms(), ts, sizeof(ts));
    p = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s?}", "kind", "extract", "agreement",
                  agreement_id, "aseq", (json_int_t)x.aseq, "hash", x.hash, "ts", ts, "aud",
                  audience);
    if (p == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    head = sign(l->key, l->kid, p, d);
    if (head == NULL) {
        rc = d != NULL && d->code != 0 ? d->code : TSR_ECRYPTO;
        goto out;
    }
    *out = json_pack("{s:s, s:O, s:s}", "agreement", agreement_id, "entries", x.entries, "head",
                     head);
    if (*out == NULL)
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
out:
    json_decref(x.entries);
    json_decref(p);
    tsr_free(head);
    chain_cleanup(&c);
    return rc;
}

int tsr_ledger_extract_verify(const json_t *ext, const struct tsr_key *pub,
                              const char *agreement_id, json_t **entries, struct tsr_diag *d)
{
    const json_t *arr = json_object_get(ext, "entries");
    const char *head = jget_str(ext, "head");
    char hash[HASH_HEX];
    json_t *out = json_array(), *p = NULL;
    uint64_t aseq = 0;
    int rc = 0;

    if (entries != NULL)
        *entries = NULL;
    memcpy(hash, zero_hash, HASH_HEX);
    if (out == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    if (!json_is_array(arr) || head == NULL ||
        (jget_str(ext, "agreement") != NULL &&
         strcmp(jget_str(ext, "agreement"), agreement_id) != 0)) {
        rc = tsr_diag_set(d, TSR_EINVAL, "not a ledger extract for agreement %s", agreement_id);
        goto out;
    }
    if (json_array_size(arr) > TSR_LEDGER_EXTRACT_MAX) {
        rc = tsr_diag_set(d, TSR_ELIMIT, "the extract has too many entries");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *jws = json_string_value(json_array_get(arr, i));
        uint64_t v = 0;
        const char *a;
        if (jws == NULL || strlen(jws) > TSR_LEDGER_LINE_MAX) {
            rc = tsr_diag_set(d, TSR_EINVAL, "entry %zu is not a compact JWS", i + 1);
            goto out;
        }
        rc = jws_payload(pub, jws, &p, d);
        if (rc != 0) {
            tsr_diag_prefix(d, "entry %zu", i + 1);
            goto out;
        }
        a = jget_str(p, "agreement");
        if (a == NULL || strcmp(a, agreement_id) != 0 || !jget_u64(p, "aseq", &v) ||
            v != aseq + 1 || jget_str(p, "aprev") == NULL ||
            strcmp(jget_str(p, "aprev"), hash) != 0) {
            rc = tsr_diag_set(d, TSR_ECRYPTO, "entry %zu breaks the agreement's chain", i + 1);
            goto out;
        }
        aseq = v;
        hash_hex(jws, strlen(jws), hash);
        if (json_object_set_new(p, "hash", json_string(hash)) != 0 ||
            json_array_append(out, p) != 0) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            goto out;
        }
        json_decref(p);
        p = NULL;
    }
    rc = jws_payload(pub, head, &p, d);
    if (rc != 0) {
        tsr_diag_prefix(d, "the extract's head");
        goto out;
    }
    uint64_t hseq = 0;
    const char *kind = jget_str(p, "kind"), *ha = jget_str(p, "agreement");
    const char *hh = jget_str(p, "hash");
    if (kind == NULL || strcmp(kind, "extract") != 0 || ha == NULL ||
        strcmp(ha, agreement_id) != 0 || !jget_u64(p, "aseq", &hseq) || hseq != aseq ||
        hh == NULL || strcmp(hh, hash) != 0) {
        rc = tsr_diag_set(d, TSR_ECRYPTO, "the extract's head does not name its last entry "
                          "(entries were removed)");
        goto out;
    }
    if (entries != NULL) {
        *entries = out;
        out = NULL;
    }
out:
    json_decref(p);
    json_decref(out);
    return rc;
}
